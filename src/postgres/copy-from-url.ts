import type pg from 'pg';
import { loadPg } from './pg-driver.js';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PgbranchError } from '../errors.js';
import { clientEnv } from './child-env.js';
import { clientTools } from './client-tools.js';
import { redactUrl, scrubSecret } from './redact-url.js';
import { importFailure, isRestoreItemLine, PG_RESTORE_OPTIONS, socketConnectionArgs } from './restore-dump.js';
import { runTool } from './tool-process.js';
import type { CopyFromUrlOptions } from './types.js';

export interface SourceUrl {
  /** The URL without any password: safe for argv and messages. */
  readonly url: string;
  readonly password: string | undefined;
}

/** Splits the password out of a postgres:// URL (userinfo or `password=` parameter). */
export function splitSourceUrl(sourceUrl: string): SourceUrl {
  let parsed: URL;
  try {
    parsed = new URL(sourceUrl);
  } catch {
    // Not `cause`: URL errors carry the whole input, password included.
    throw new PgbranchError('INVALID_ARGUMENT', `not a valid connection URL: ${redactUrl(sourceUrl)}`, { cause: new Error('invalid URL') });
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new PgbranchError('INVALID_ARGUMENT', `a source URL must start with postgres:// or postgresql://, got ${redactUrl(sourceUrl)}`, {
      cause: new Error(`protocol ${parsed.protocol}`),
    });
  }
  let password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  parsed.password = '';
  const fromQuery = parsed.searchParams.get('password');
  if (fromQuery !== null) {
    password ??= fromQuery;
    parsed.searchParams.delete('password');
  }
  return { url: parsed.toString(), password };
}

/**
 * The URL node-postgres gets for the version check, made to behave like libpq (what pg_dump
 * uses): `uselibpqcompat=true` gives sslmode its libpq meaning (require = encrypted, unverified).
 */
export function versionCheckUrl(sourceUrl: string, sslmode?: string): string {
  const url = new URL(sourceUrl);
  if (!url.searchParams.has('uselibpqcompat')) url.searchParams.set('uselibpqcompat', 'true');
  if (sslmode) url.searchParams.set('sslmode', sslmode);
  return url.toString();
}

async function askServerVersion(connectionString: string): Promise<number> {
  const { Client } = await loadPg();
  const client = new Client({ connectionString, application_name: 'pgbranch', connectionTimeoutMillis: 15_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version_num: string }>('SHOW server_version_num');
    return Number(rows[0]!.server_version_num);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Major version of the source, asked with node-postgres (the password stays in-process). */
async function sourceMajor(sourceUrl: string, password: string | undefined): Promise<number> {
  try {
    let versionNum: number;
    try {
      versionNum = await askServerVersion(versionCheckUrl(sourceUrl));
    } catch (first) {
      // libpq's default sslmode is "prefer" (tries TLS); node-postgres's is no TLS. A source that
      // only accepts TLS would fail here yet work for pg_dump, so try TLS before giving up.
      if (new URL(sourceUrl).searchParams.has('sslmode')) throw first;
      versionNum = await askServerVersion(versionCheckUrl(sourceUrl, 'require')).catch(() => {
        throw first;
      });
    }
    return Math.floor(versionNum / 10000);
  } catch (cause) {
    const message = scrubSecret((cause as Error).message, password);
    throw new PgbranchError('IMPORT_FAILED', `cannot reach the source ${redactUrl(sourceUrl)}: ${message}`, { cause: new Error(message) });
  }
}

/**
 * Logical copy of a live database into the target: pg_dump -Fc from the source streamed into
 * pg_restore (no temp file). The password travels in PGPASSWORD, never in argv; messages carry
 * the redacted URL only.
 */
export async function copyFromUrl(opts: CopyFromUrlOptions): Promise<void> {
  const { target, onProgress } = opts;
  const source = splitSourceUrl(opts.sourceUrl);
  const shown = redactUrl(opts.sourceUrl);
  const scrub = (text: string) => scrubSecret(text, source.password);

  const tools = await clientTools();
  const major = await sourceMajor(opts.sourceUrl, source.password);
  if (major > tools.major) {
    throw new PgbranchError(
      'CLIENT_TOOL_UNSUITABLE',
      `the source ${shown} runs PostgreSQL ${major} but the newest pg_dump here is ${tools.major} (${tools.pgDump}); ` +
        `pg_dump ${major} or newer is needed (install postgresql-client-${major})`,
      { cause: new Error(`pg_dump ${tools.major} < server ${major}`), details: { sourceMajor: major, pgDumpMajor: tools.major } },
    );
  }

  // Uncompressed: the archive only crosses a local pipe.
  const dump = runTool(tools.pgDump, ['--format=custom', '--compress=0', '--no-password', '--dbname', source.url], {
    env: clientEnv(source.password === undefined ? {} : { PGPASSWORD: source.password }),
    stdout: 'pipe',
  });
  let items = 0;
  const restore = runTool(tools.pgRestore, [...PG_RESTORE_OPTIONS, ...socketConnectionArgs(target)], {
    env: clientEnv(),
    stdin: 'pipe',
    onStderrLine: (line) => {
      if (!isRestoreItemLine(line)) return;
      items++;
      onProgress?.({ phase: 'restore', done: items, unit: 'items' });
    },
  });
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      bytes += chunk.length;
      onProgress?.({ phase: 'copy', done: bytes, unit: 'bytes' });
      callback(null, chunk);
    },
  });
  const piping = pipeline(dump.stdout!, counter, restore.stdin!).catch((err: unknown) => err);
  // Whichever side fails first, stop the other so neither waits forever.
  void dump.done.then((r) => r.exitCode !== 0 && restore.kill());
  void restore.done.then((r) => r.exitCode !== 0 && dump.kill());
  const [dumpResult, restoreResult, pipeError] = await Promise.all([dump.done, restore.done, piping]);

  if (dumpResult.exitCode !== 0) {
    const cause = new Error(scrub(dumpResult.spawnError?.message ?? `pg_dump exit ${dumpResult.exitCode}`));
    throw importFailure(`pg_dump could not read ${shown} (exit code ${dumpResult.exitCode})`, scrub(dumpResult.stderrTail), cause);
  }
  if (restoreResult.exitCode !== 0) {
    const cause = new Error(restoreResult.spawnError?.message ?? `pg_restore exit ${restoreResult.exitCode}`);
    throw importFailure(`pg_restore could not restore the copy of ${shown} (exit code ${restoreResult.exitCode})`, scrub(restoreResult.stderrTail), cause, tools);
  }
  if (pipeError) throw importFailure(`copying ${shown} failed`, scrub(String((pipeError as Error).message ?? pipeError)), pipeError);
}
