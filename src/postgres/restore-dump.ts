import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { PgbranchError } from '../errors.js';
import { log, run } from '../util/index.js';
import { clientEnv } from './child-env.js';
import { clientTools } from './client-tools.js';
import { detectDumpFormat } from './dump-format.js';
import { lastLines } from './log-tail.js';
import { PlainDumpFilter } from './plain-dump-filter.js';
import { runTool } from './tool-process.js';
import type { ClientTools, ConnectionTarget, DumpFormat, ProgressCallback, RestoreDumpOptions } from './types.js';

/** libpq arguments for the target's private socket (trust auth: no password involved). */
export function socketConnectionArgs(target: ConnectionTarget): string[] {
  return ['-h', target.socketDir, '-p', String(target.port), '-U', target.user, '-d', target.database];
}

/** pg_restore --verbose prints one of these per TOC entry it restores. */
const RESTORE_ITEM_LINE = /^pg_restore: (creating |processing data |executing |restoring )/;

export function isRestoreItemLine(line: string): boolean {
  return RESTORE_ITEM_LINE.test(line);
}

/** Options every pg_restore into a branch gets: objects belong to whoever restores, no GRANTs
 * for roles that do not exist here, and stop at the first error rather than a half-restore. */
export const PG_RESTORE_OPTIONS = ['--no-owner', '--no-privileges', '--exit-on-error', '--verbose'];

/** Counts TOC entries (pg_restore -l), the total for progress. */
async function countArchiveItems(tools: ClientTools, file: string): Promise<number | undefined> {
  try {
    const { stdout } = await run(tools.pgRestore, ['-l', file], { env: clientEnv(), errorCode: 'IMPORT_FAILED', timeoutMs: 120_000 });
    return stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';')).length;
  } catch {
    return undefined; // progress without a total; the restore itself reports real problems
  }
}

export function importFailure(what: string, stderrTail: string, cause: unknown, tools?: ClientTools): PgbranchError {
  const tail = lastLines(stderrTail, 12);
  if (tools && /unsupported version \([\d.]+\) in file header/.test(stderrTail)) {
    return new PgbranchError(
      'CLIENT_TOOL_UNSUITABLE',
      `${what}: the dump was written by a newer pg_dump than pg_restore ${tools.major} can read; install a newer postgresql-client\n${tail}`,
      { cause },
    );
  }
  return new PgbranchError('IMPORT_FAILED', `${what}${tail ? `:\n${tail}` : ''}`, { cause });
}

function countingStream(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, callback) {
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
}

async function restorePlain(file: string, gzip: boolean, target: ConnectionTarget, tools: ClientTools, onProgress?: ProgressCallback): Promise<void> {
  const total = (await stat(file)).size;
  let done = 0;
  onProgress?.({ phase: 'restore', done, total, unit: 'bytes' });
  const psql = runTool(tools.psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...socketConnectionArgs(target), '-f', '-'], {
    env: clientEnv(),
    stdin: 'pipe',
  });
  const counter = countingStream((n) => {
    done += n;
    onProgress?.({ phase: 'restore', done, total, unit: 'bytes' });
  });
  // Ownership and privilege statements name roles of the source cluster; like pg_restore
  // --no-owner --no-privileges for archives, they are left out.
  const filter = new PlainDumpFilter();
  const stages = gzip
    ? [createReadStream(file), counter, createGunzip(), filter, psql.stdin!]
    : [createReadStream(file), counter, filter, psql.stdin!];
  let feedError: unknown;
  try {
    await pipeline(stages);
  } catch (err) {
    feedError = err; // EPIPE when psql stops at an error: its exit status tells the story
    psql.kill();
  }
  const result = await psql.done;
  if (result.exitCode !== 0) {
    throw importFailure(`psql could not restore ${file} (exit code ${result.exitCode})`, result.stderrTail, result.spawnError ?? new Error(`psql exit ${result.exitCode}`));
  }
  if (feedError) throw importFailure(`cannot read ${file}`, '', feedError);
  log.debug({ file, droppedStatements: filter.dropped }, 'plain dump restored without ownership/privilege statements');
}

/**
 * Restores a pg_dump file into the target database over its unix socket, as the target user:
 * archives (custom, tar, directory) with pg_restore, SQL (optionally gzip'd) with psql.
 */
export async function restoreDump(opts: RestoreDumpOptions): Promise<{ format: DumpFormat }> {
  const { file, target, onProgress } = opts;
  const format = await detectDumpFormat(file);
  const tools = await clientTools();
  if (format === 'plain' || format === 'plain-gzip') {
    await restorePlain(file, format === 'plain-gzip', target, tools, onProgress);
    return { format };
  }
  const total = await countArchiveItems(tools, file);
  let done = 0;
  onProgress?.({ phase: 'restore', done, total, unit: 'items' });
  const jobs = opts.jobs !== undefined && opts.jobs > 1 && format !== 'tar' ? ['--jobs', String(Math.floor(opts.jobs))] : [];
  const restore = runTool(tools.pgRestore, [...PG_RESTORE_OPTIONS, ...jobs, ...socketConnectionArgs(target), file], {
    env: clientEnv(),
    onStderrLine: (line) => {
      if (!isRestoreItemLine(line)) return;
      done = total === undefined ? done + 1 : Math.min(done + 1, total);
      onProgress?.({ phase: 'restore', done, total, unit: 'items' });
    },
  });
  const result = await restore.done;
  if (result.exitCode !== 0) {
    throw importFailure(
      `pg_restore could not restore ${file} (exit code ${result.exitCode})`,
      result.stderrTail,
      result.spawnError ?? new Error(`pg_restore exit ${result.exitCode}`),
      tools,
    );
  }
  if (total !== undefined) onProgress?.({ phase: 'restore', done: total, total, unit: 'items' });
  return { format };
}
