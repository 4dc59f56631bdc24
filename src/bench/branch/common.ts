import { join } from 'node:path';
import pg from 'pg';
import type { ConnectionInfo } from '../../branches/index.js';
import { run } from '../../util/index.js';
import { libpqEnv, median, type BenchHost } from '../bench-support.js';

/** Measuring and printing helpers of the branch benchmark. */

export const GIB = 1024 ** 3;
export const MIB = 1024 ** 2;
/** The parents' database, pgbench tables and all. */
export const FIRST_QUERY = 'SELECT count(*) FROM pgbench_branches';

export interface Stats {
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly runs: number;
  readonly samplesMs: readonly number[];
}

export function stats(samples: readonly number[]): Stats {
  return {
    medianMs: round1(median(samples)),
    minMs: round1(Math.min(...samples)),
    maxMs: round1(Math.max(...samples)),
    runs: samples.length,
    samplesMs: samples.map(round1),
  };
}

export const round1 = (n: number): number => Math.round(n * 10) / 10;
export const round2 = (n: number): number => Math.round(n * 100) / 100;

export function fmtMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 100_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 1000).toFixed(0)} s`;
}

export function fmtBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < MIB) return `${(bytes / 1024).toFixed(0)} KiB`;
  if (bytes < GIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  return `${(bytes / GIB).toFixed(2)} GiB`;
}

export function fmtRatio(r: number): string {
  return r >= 100 ? `${Math.round(r)}×` : `${r.toFixed(r >= 10 ? 1 : 2)}×`;
}

export const sizeLabel = (gib: number): string => `${gib} GiB`;
export const branchSafe = (gib: number): string => `${gib}g`.replace(/[^a-z0-9.]/g, '');

/** Environment for libpq tools: nothing of the caller's PG* variables, credentials of `info`. */
export function branchEnv(info: ConnectionInfo): NodeJS.ProcessEnv {
  return libpqEnv({ PGHOST: info.host, PGPORT: String(info.port), PGUSER: info.user, PGPASSWORD: info.password, PGAPPNAME: 'pgbranch-bench' });
}

function tcpClient(info: ConnectionInfo, database = info.database): pg.Client {
  const client = new pg.Client({
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    database,
    connectionTimeoutMillis: 10_000,
    application_name: 'pgbranch-bench',
  });
  client.on('error', () => undefined);
  return client;
}

export async function withTcp<T>(info: ConnectionInfo, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = tcpClient(info, database);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A new TCP connection (password login) answering FIRST_QUERY, retried until it does; returns the
 * number of failed attempts (expected 0: pgbranch only reports a branch once a login works) and
 * when the answer came (performance.now()): closing the connection afterwards is not the user's
 * wait (it takes a round trip and the backend's exit, ~2 ms here).
 */
export async function firstQuery(url: string, deadlineMs = 30_000): Promise<{ failures: number; answeredAt: number }> {
  const deadline = Date.now() + deadlineMs;
  let failures = 0;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'pgbranch-bench' });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query(FIRST_QUERY);
      return { failures, answeredAt: performance.now() };
    } catch (err) {
      failures++;
      if (Date.now() > deadline) throw new Error(`no answer to "${FIRST_QUERY}" on the new database: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 2));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

export function urlFor(info: ConnectionInfo, database: string): string {
  return `postgresql://${encodeURIComponent(info.user)}:${encodeURIComponent(info.password)}@${info.host}:${info.port}/${encodeURIComponent(database)}`;
}

/**
 * Waits until what building a parent wrote is on the disk (a btrfs commit, then `sync FILE`, an
 * fsync of the pool's image file), so that no writeback left over from the build runs beside the
 * first creates. The callers print how long it took: 38–47 ms after a 1 GiB parent here, so
 * little was left; a 20 GiB run's creates had slowed as if it were not.
 */
export async function settleWriteback(bench: BenchHost): Promise<void> {
  await settlePool(bench);
  await run('sync', [join(bench.dir, 'pool.img')], { timeoutMs: 30 * 60_000 });
}

/** Waits until btrfs has really removed deleted subvolumes, so one run's delete does not slow the next create. */
export async function settlePool(bench: BenchHost): Promise<void> {
  // The cleaner only runs after a transaction commit (every 30 s by default): commit now.
  await run('btrfs', ['filesystem', 'sync', bench.mountPoint], { timeoutMs: 120_000 }).catch(() => undefined);
  await run('btrfs', ['subvolume', 'sync', bench.mountPoint], { timeoutMs: 120_000 }).catch(() => undefined);
}
