import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Host } from '../branches/index.js';
import { instanceStatus } from '../postgres/index.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';
import { waitFor } from '../util/index.js';

const REPO = resolve(import.meta.dirname, '../..');
const MIB = 1024 * 1024;
const built = existsSync(join(REPO, 'dist', 'cli', 'index.js'));
const skip = (await testPoolSkipReason('btrfs')) ?? (built ? undefined : 'dist/ missing: run `npm run build` (npm test does)');
if (skip) console.warn(`reliability tests skipped: ${skip}`);

const IDLE_TIMEOUT_MS = 3_000;

/** `pgbranch serve` as a real process on `t`'s home; resolves once it printed its addresses. */
async function startServe(t: TestHost): Promise<{ server: ChildProcessWithoutNullStreams; log: () => string; endpointPort: number }> {
  const server = spawn(process.execPath, [join(REPO, 'bin', 'pgbranch.js'), '--home', t.home, 'serve', '-o', 'json'], {
    env: { ...process.env, PGBRANCH_LOG_LEVEL: 'debug' },
  });
  let stdout = '';
  let log = '';
  server.stdout.on('data', (d) => (stdout += String(d)));
  server.stderr.on('data', (d) => (log += String(d)));
  await waitFor(() => (stdout.includes('}') ? true : undefined), { timeoutMs: 30_000, intervalMs: 50, what: 'pgbranch serve to print its addresses' });
  const { endpoint } = JSON.parse(stdout) as { endpoint: string };
  return { server, log: () => log, endpointPort: Number(endpoint.split(':').pop()) };
}

async function stopServe(server: ChildProcessWithoutNullStreams | undefined): Promise<void> {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000).unref())]);
  if (server.exitCode === null) server.kill('SIGKILL');
}

async function urlOf(t: TestHost, name: string): Promise<{ url: string; user: string; password: string; database: string }> {
  const r = await t.cli('branch', 'url', name, '-o', 'json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

async function query(url: string, text = 'SELECT 1 AS one'): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Health, idle and disk pressure with a real `serve`: a killed or frozen instance is reported
 * unhealthy and restarted; a branch in use (direct or through the endpoint) is never suspended
 * and a start counts as use; a nearly full pool refuses what would fill it, and once space is
 * back every branch that should run runs again without a hand.
 */
describe.skipIf(skip !== undefined)('reliability under serve', () => {
  let t: TestHost;
  let served: Awaited<ReturnType<typeof startServe>> | undefined;

  beforeAll(async () => {
    // A small pool: the default floor is its minimum (64 MiB), an instance start needs 16 MiB.
    t = await createTestHost(
      'btrfs',
      {
        serve: {
          api: { host: '127.0.0.1', port: 0 },
          proxy: { host: '127.0.0.1', port: 0 },
          // Sweeps every second; branches that must stay up say so (--idle-timeout 0).
          idleTimeoutMs: IDLE_TIMEOUT_MS,
          healthIntervalMs: 300,
          unhealthyGraceMs: 2_000,
          sizeRefreshIntervalMs: 1_000,
        },
      },
      512,
    );
    for (const name of ['h-1', 'idle-direct', 'idle-endpoint', 'cold']) {
      const r = await t.cli('branch', 'create', name, '--from', 'main');
      expect(r.code, r.stderr).toBe(0);
    }
    for (const name of ['main', 'h-1', 'cold']) {
      const r = await t.cli('branch', 'set', name, '--idle-timeout', '0');
      expect(r.code, r.stderr).toBe(0);
    }
    expect((await t.cli('branch', 'stop', 'cold')).code).toBe(0);
    t.host.close();
    served = await startServe(t);
    t.host = await Host.open({ home: t.home });
  });

  afterAll(async () => {
    await stopServe(served?.server);
    await t?.cleanup();
  });

  it('a killed postmaster is shown unhealthy with its reason, and serve starts it again', async () => {
    const before = await instanceStatus(join(t.pool.poolPath, (await volumeOf('h-1')), 'pgdata'));
    expect(before.running).toBe(true);
    process.kill(before.pid!, 'SIGKILL');
    // Seen before serve's next beat or after: either way the branch comes back on its own.
    const seen = await t.host.getBranch('h-1');
    if (seen.state !== 'running') {
      expect(seen.state).toBe('unhealthy');
      expect(seen.unhealthyReason).toMatch(/not running|not accepting|recovery|starting/);
    }
    await waitFor(async () => ((await t.host.getBranch('h-1')).state === 'running' ? true : undefined), { timeoutMs: 30_000, intervalMs: 100, what: 'serve to restart h-1' });
    expect(await query((await urlOf(t, 'h-1')).url)).toEqual([{ one: 1 }]);
    const after = await instanceStatus(join(t.pool.poolPath, await volumeOf('h-1'), 'pgdata'));
    expect(after.pid).not.toBe(before.pid);
  });

  it('a frozen instance (alive, answering nothing) is unhealthy, then killed and restarted after the grace period', async () => {
    const before = await instanceStatus(join(t.pool.poolPath, await volumeOf('h-1'), 'pgdata'));
    process.kill(before.pid!, 'SIGSTOP');
    try {
      const seen = await waitFor(
        async () => {
          const b = await t.host.getBranch('h-1');
          return b.state === 'unhealthy' ? b : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 100, what: 'h-1 to be reported unhealthy' },
      );
      // The first report may come while the frozen postmaster's last answer was still "starting up".
      expect(seen.unhealthyReason).toMatch(/not accepting connections|starting up/);
      await waitFor(
        async () => {
          const now = await instanceStatus(join(t.pool.poolPath, await volumeOf('h-1'), 'pgdata'));
          return now.running && now.pid !== before.pid && (await t.host.getBranch('h-1')).state === 'running' ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200, what: 'serve to replace the frozen instance of h-1' },
      );
    } finally {
      try {
        process.kill(before.pid!, 'SIGCONT');
      } catch {
        // killed by serve, as it should be
      }
    }
    expect(await query((await urlOf(t, 'h-1')).url)).toEqual([{ one: 1 }]);
    const restarts = (await t.host.listAudit({ branch: 'h-1' })).filter((e) => e.operation === 'restart' && e.result === 'ok');
    expect(restarts.length).toBeGreaterThanOrEqual(2);
  });

  it('a branch used through short direct connections, or held by an idle endpoint connection, is never suspended; a start counts as use', async () => {
    const direct = await urlOf(t, 'idle-direct');
    const endpoint = await urlOf(t, 'idle-endpoint');
    const held = new pg.Client({ host: '127.0.0.1', port: served!.endpointPort, user: `${endpoint.user}.idle-endpoint`, password: endpoint.password, database: endpoint.database });
    await held.connect();
    const from = new Date().toISOString();
    // Three idle timeouts of use: a fresh direct connection every second, one open endpoint connection doing nothing.
    const until = Date.now() + 3 * IDLE_TIMEOUT_MS;
    while (Date.now() < until) {
      expect(await query(direct.url)).toEqual([{ one: 1 }]);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const suspends = async (name: string, since: string) =>
      (await t.host.listAudit({ branch: name, since })).filter((e) => e.operation === 'suspend');
    expect(await suspends('idle-direct', from)).toEqual([]);
    expect(await suspends('idle-endpoint', from)).toEqual([]);
    expect(await held.query('SELECT 2 AS two')).toMatchObject({ rows: [{ two: 2 }] });
    await held.end();

    // Unused, both are suspended; started again, one is not suspended before a full timeout has passed since the start.
    for (const name of ['idle-direct', 'idle-endpoint']) {
      await waitFor(async () => ((await t.host.getBranch(name)).state === 'suspended' ? true : undefined), { timeoutMs: 30_000, intervalMs: 200, what: `${name} to be suspended once unused` });
    }
    const started = Date.now();
    const r = await t.cli('branch', 'start', 'idle-direct');
    expect(r.code, r.stderr).toBe(0);
    await waitFor(async () => ((await t.host.getBranch('idle-direct')).state === 'suspended' ? true : undefined), { timeoutMs: 30_000, intervalMs: 200, what: 'idle-direct to be suspended again' });
    const [suspend] = await suspends('idle-direct', new Date(started).toISOString());
    expect(Date.parse(suspend!.at) - started).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 100);
  });

  it('a nearly full pool refuses what would write to it (POOL_FULL), and once space is back every branch that should run runs again', async () => {
    const status = await t.host.status();
    const ballast = join(t.pool.mountPoint, 'ballast');
    // Leave 8 MiB: below the floor (64 MiB) and below what an instance start needs (16 MiB).
    execFileSync('fallocate', ['-l', String(status.pool.freeBytes - 8 * MIB), ballast]);
    try {
      const start = await t.cli('branch', 'start', 'cold');
      expect(start.code, start.stderr).toBe(14);
      expect(start.stderr).toContain('[POOL_FULL]');
      expect(start.stderr).toContain('an instance start needs');
      const reset = await t.cli('branch', 'reset', 'h-1');
      expect(reset.code, reset.stderr).toBe(14);
      expect((await t.cli('branch', 'create', 'more', '--from', 'main')).code).toBe(14);
      // Running branches were left alone.
      expect((await t.host.getBranch('main')).state).toBe('running');
      expect(await query((await urlOf(t, 'main')).url)).toEqual([{ one: 1 }]);
      // A branch that should run goes down (a crash) while the pool is full: serve cannot start it yet.
      const pid = (await instanceStatus(join(t.pool.poolPath, await volumeOf('h-1'), 'pgdata'))).pid!;
      process.kill(pid, 'SIGKILL');
      await waitFor(async () => ((await t.host.listAudit({ branch: 'h-1' })).some((e) => e.operation === 'restart' && e.errorCode === 'POOL_FULL') ? true : undefined), {
        timeoutMs: 20_000,
        intervalMs: 100,
        what: "serve's restart of h-1 to be refused for want of room",
      });
      const down = await t.host.getBranch('h-1');
      expect(down.state).toBe('unhealthy');
    } finally {
      rmSync(ballast, { force: true });
      execFileSync('sync', ['-f', t.pool.mountPoint]);
    }
    // Nobody touches it: serve's backoff brings it back.
    await waitFor(async () => ((await t.host.getBranch('h-1')).state === 'running' ? true : undefined), { timeoutMs: 90_000, intervalMs: 200, what: 'h-1 back once space returned' });
    expect(await query((await urlOf(t, 'h-1')).url)).toEqual([{ one: 1 }]);
    expect((await t.host.getBranch('cold')).state).toBe('stopped');
  });

  it('serve records itself as the host\'s serve, so that lists in other processes leave sizes to it', async () => {
    const db = new Database(join(t.home, 'state.db'), { readonly: true });
    try {
      expect((db.prepare('SELECT pid FROM serving').get() as { pid: number } | undefined)?.pid).toBe(served!.server.pid);
    } finally {
      db.close();
    }
  });

  it('lists read sizes serve measured in the background', async () => {
    await waitFor(() => (served!.log().includes('volume sizes refreshed') ? true : undefined), { timeoutMs: 20_000, intervalMs: 100, what: 'a background size refresh' });
    const listed = await t.host.listBranches();
    expect(listed.every((b) => b.ownBytes !== null && b.totalBytes !== null)).toBe(true);
    expect(listed.find((b) => b.name === 'main')!.totalBytes).toBeGreaterThan(0);
  });

  async function volumeOf(name: string): Promise<string> {
    const { readStoredState } = await import('../test-support/host-invariants.js');
    return readStoredState(t.home).branches.find((b) => b.name === name)!.volume;
  }
});
