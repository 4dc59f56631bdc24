import { setPriority } from 'node:os';
import { spawn, type SpawnOptions } from 'node:child_process';
import { PgbranchError, type ErrorCode } from '../errors.js';

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Run as this OS user (requires root). */
  readonly uid?: number;
  readonly gid?: number;
  /** Data written to the child's stdin. */
  readonly input?: string | Buffer;
  /** Error code thrown when the command fails (default INTERNAL). */
  readonly errorCode?: ErrorCode;
  /** Kill the command after this long. */
  readonly timeoutMs?: number;
  /** Exit codes treated as success (default [0]). */
  readonly okExitCodes?: readonly number[];
  /**
   * Background work: the command runs at the lowest CPU priority (nice 19), so that the kernel
   * work it causes (a btrfs extent walk, say) yields to the operations users wait for.
   */
  readonly lowPriority?: boolean;
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/**
 * Runs a program (no shell: arguments are never re-parsed) and collects its output. A non-zero
 * exit becomes a PgbranchError whose message carries the program's stderr, so callers do not
 * each re-implement "what went wrong".
 */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const spawnOptions: SpawnOptions = {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: options.timeoutMs,
  };
  if (options.uid !== undefined) spawnOptions.uid = options.uid;
  if (options.gid !== undefined) spawnOptions.gid = options.gid;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, spawnOptions);
    if (options.lowPriority && child.pid !== undefined) {
      try {
        setPriority(child.pid, 19);
      } catch {
        // Gone already, or not ours to renice: it runs at our priority.
      }
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    child.on('error', (cause) => {
      reject(new PgbranchError(options.errorCode ?? 'INTERNAL', `cannot run ${command}: ${cause.message}`, { cause }));
    });
    child.on('close', (code, signal) => {
      const result = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        exitCode: code ?? -1,
      };
      const ok = options.okExitCodes ?? [0];
      if (code !== null && ok.includes(code)) return resolve(result);
      const why = signal ? `killed by ${signal}` : `exit code ${code}`;
      const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
      reject(
        new PgbranchError(options.errorCode ?? 'INTERNAL', `${command} ${args.join(' ')} failed (${why})${detail ? `: ${detail}` : ''}`, {
          details: { command, exitCode: code, signal },
        }),
      );
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Absolute path of a program on PATH, or undefined. */
export async function which(program: string): Promise<string | undefined> {
  const { access, constants } = await import('node:fs/promises');
  const { delimiter, join } = await import('node:path');
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, program);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  for (const dir of ['/usr/sbin', '/sbin']) {
    const candidate = join(dir, program);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there either
    }
  }
  return undefined;
}
