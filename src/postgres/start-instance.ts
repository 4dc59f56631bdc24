import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, statSync, watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError, type ErrorCode } from '../errors.js';
import { log, recordStep, waitFor } from '../util/index.js';
import { serverEnv } from './child-env.js';
import { readLogTail } from './log-tail.js';
import { prepareDirectory } from './os-user.js';
import { readPostmasterPid } from './postmaster-pid.js';
import { isGone, isPostmasterOf, signalProcess } from './process-info.js';
import type { StartOptions } from './types.js';

const DEFAULT_START_TIMEOUT_MS = 60_000;
const GUC_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/** A socket directory value for unix_socket_directories (a list: quote paths with separators). */
function socketDirValue(dir: string): string {
  return /[\s,"]/.test(dir) ? `"${dir.replace(/"/g, '""')}"` : dir;
}

export function postgresArgs(opts: StartOptions): string[] {
  const args = ['-D', opts.dataDir, '-p', String(opts.port)];
  args.push('-c', `listen_addresses=${opts.listenTcp === false ? '' : '127.0.0.1'}`);
  args.push('-c', `unix_socket_directories=${socketDirValue(opts.socketDir)}`);
  for (const [name, value] of Object.entries(opts.settings ?? {})) {
    if (!GUC_NAME.test(name) || /[\r\n\0]/.test(value)) {
      throw new PgbranchError('INVALID_ARGUMENT', `invalid server setting ${JSON.stringify(name)}`, { cause: new Error('bad GUC') });
    }
    args.push('-c', `${name}=${value}`);
  }
  return args;
}

/** Turns the server's last words into the most specific error we can. */
export function classifyStartFailure(logTail: string, opts: { port: number; dataDir: string }): { code: ErrorCode; message: string } {
  if (/could not bind|Address already in use/i.test(logTail)) {
    return { code: 'PORT_IN_USE', message: `port ${opts.port} is already in use on 127.0.0.1` };
  }
  const lock = /lock file "([^"]+)" already exists/.exec(logTail);
  if (lock) {
    if (lock[1]!.includes('.s.PGSQL.')) {
      return { code: 'PORT_IN_USE', message: `another postmaster already uses port ${opts.port} in this socket directory (${lock[1]})` };
    }
    const pid = /postmaster \(PID (\d+)\)/.exec(logTail)?.[1];
    return {
      code: 'POSTGRES_START_FAILED',
      message:
        `${opts.dataDir}/postmaster.pid names a live process${pid ? ` (pid ${pid})` : ''}: either an instance already runs on ` +
        `this data directory, or the directory is a copy of a running one and its postmaster.pid must be removed first`,
    };
  }
  return { code: 'POSTGRES_START_FAILED', message: `PostgreSQL failed to start on ${opts.dataDir}` };
}

/**
 * How long ago the postmaster wrote its lock file (its last line, the status, is what made it
 * ready): the delay in seeing readiness, as a timed step.
 */
function readyLagMs(dataDir: string): number {
  try {
    return Math.max(0, Date.now() - statSync(join(dataDir, 'postmaster.pid')).mtimeMs);
  } catch {
    return 0;
  }
}

/**
 * Starts a postmaster that outlives this process (own session, no pipes to us, output appended
 * to `logFile`) and resolves once postmaster.pid says "ready" (or "standby"). Readiness comes only
 * from postmaster.pid: a directory watch wakes us, a short interval re-checks in case a watch
 * event is missed.
 */
export async function startInstance(opts: StartOptions): Promise<{ pid: number }> {
  const entered = performance.now();
  const { dataDir, osUser, logFile, binaries } = opts;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const args = postgresArgs(opts);

  try {
    if (!(await stat(dataDir)).isDirectory()) throw new Error('not a directory');
  } catch (cause) {
    throw new PgbranchError('POSTGRES_START_FAILED', `data directory ${dataDir} does not exist`, { cause });
  }
  const existing = await readPostmasterPid(dataDir);
  if (existing && (await isPostmasterOf(existing.pid, dataDir))) {
    throw new PgbranchError('POSTGRES_START_FAILED', `an instance is already running on ${dataDir} (pid ${existing.pid})`, {
      cause: new Error('already running'),
      details: { pid: existing.pid, port: existing.port },
    });
  }
  try {
    await stat(opts.socketDir);
  } catch {
    await prepareDirectory(opts.socketDir, osUser, 0o700);
  }

  let logFd: number;
  try {
    logFd = openSync(logFile, 'a', 0o600);
  } catch (cause) {
    throw new PgbranchError('POSTGRES_START_FAILED', `cannot open log file ${logFile}: ${(cause as Error).message}`, { cause });
  }
  const logOffset = fstatSync(logFd).size;
  const asOther = process.getuid?.() !== osUser.uid;
  const startedAt = performance.now();
  recordStep('start-prep', startedAt - entered);
  let child;
  try {
    child = spawn(join(binaries.binDir, 'postgres'), args, {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: serverEnv(),
      cwd: '/',
      ...(asOther ? { uid: osUser.uid, gid: osUser.gid } : {}),
    });
  } finally {
    closeSync(logFd); // the child holds its own copy
    // The fork happens on the event loop, which waits until the child has exec'd.
    recordStep('start-spawn', performance.now() - startedAt);
  }

  let ended: { code: number | null; signal: NodeJS.Signals | null } | Error | undefined;
  let wakeOnExit: (() => void) | undefined;
  child.once('error', (err) => {
    ended ??= err;
    wakeOnExit?.();
  });
  child.once('exit', (code, signal) => {
    ended ??= { code, signal };
    wakeOnExit?.();
  });

  const failure = async (why: string, cause: unknown): Promise<PgbranchError> => {
    const tail = await readLogTail(logFile, logOffset, 15);
    const { code, message } = classifyStartFailure(tail, opts);
    return new PgbranchError(code, `${message} (${why})${tail ? `; server log:\n${tail}` : ''}`, {
      cause,
      details: { dataDir, port: opts.port, logFile },
    });
  };

  try {
    await waitFor(
      async () => {
        if (ended) {
          const cause = ended instanceof Error ? ended : new Error(`postgres exited with code ${ended.code} signal ${ended.signal}`);
          throw await failure(ended instanceof Error ? `cannot run postgres: ${ended.message}` : `postgres exited before becoming ready`, cause);
        }
        const pm = await readPostmasterPid(dataDir);
        if (pm && pm.pid === child.pid && (pm.pmStatus === 'ready' || pm.pmStatus === 'standby')) {
          recordStep('start-seen', readyLagMs(dataDir));
          return pm;
        }
        return undefined;
      },
      {
        timeoutMs,
        intervalMs: 25,
        what: `PostgreSQL on ${dataDir} to become ready`,
        subscribe: (wake) => {
          wakeOnExit = wake;
          let watcher: FSWatcher | undefined;
          try {
            watcher = watch(dataDir, { persistent: false }, () => wake());
            watcher.on('error', () => undefined);
          } catch {
            // the interval re-check still finds readiness
          }
          return () => {
            wakeOnExit = undefined;
            watcher?.close();
          };
        },
      },
    );
  } catch (err) {
    if (err instanceof PgbranchError) throw err;
    // Timed out: do not leave a half-started postmaster behind.
    if (child.pid !== undefined && !ended) {
      signalProcess(child.pid, 'SIGQUIT');
      await waitFor(async () => ((await isGone(child.pid!)) ? true : undefined), { timeoutMs: 5_000, what: 'postgres to exit' }).catch(() => {
        signalProcess(child.pid!, 'SIGKILL');
      });
    }
    throw await failure(`not ready after ${timeoutMs} ms`, err);
  }
  child.unref();
  log.debug({ dataDir, port: opts.port, pid: child.pid, readyMs: Math.round(performance.now() - startedAt) }, 'postgres ready');
  return { pid: child.pid! };
}
