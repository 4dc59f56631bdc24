import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertHostConsistent, processesUnderPool, readStoredState, sql } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';
import { waitFor } from '../util/index.js';
import { Host, traceSteps } from './index.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`warm clone tests skipped: ${skip}`);

const REPO = resolve(import.meta.dirname, '../..');

type Row = { id: number; label: string };

/** Points a create crossed (to tell a claim from the normal path). */
async function tracedCreate(t: TestHost, name: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const stop = traceSteps((point) => seen.add(point));
  try {
    await t.host.createBranch(name, { origin: { kind: 'parent', parent: 'main' } });
  } finally {
    stop();
  }
  return seen;
}

const warmOps = (t: TestHost) => readStoredState(t.home).operations.filter((o) => o.kind === 'warm');

/** Refills until one warm clone of main is ready (the first pass only notes main's position). */
async function fillOne(t: TestHost): Promise<void> {
  for (let pass = 0; pass < 5 && warmOps(t).filter((o) => o.step === 'ready').length === 0; pass++) await t.host.refillWarmClones();
  expect(warmOps(t).map((o) => o.step)).toEqual(['ready']);
}

/** Runs a node script against the compiled domain in a child process (to kill it mid-way). */
function runChild(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], cwd: REPO });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stderr }));
  });
}

/** Warm clones: a create from a hot parent claims a clone made ahead of time, never a stale one. */
describe.skipIf(skip !== undefined)('warm clones (btrfs)', () => {
  let t: TestHost;
  let mainUrl: string;

  beforeAll(async () => {
    t = await createTestHost('btrfs');
    const configFile = join(t.home, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    // maxBranches 3: main and two branches, whatever warm clones exist.
    writeFileSync(configFile, JSON.stringify({ ...config, warm: { branches: ['main'], size: 1 }, quotas: { ...config.quotas, maxBranches: 3 } }));
    await t.reopen();
    mainUrl = (await t.host.connectionInfo('main')).url;
    await sql(mainUrl, "CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT g, 'row ' || g FROM generate_series(1, 100) g");
    // Autovacuum would write WAL on its own schedule and make a ready clone stale at random.
    await sql(mainUrl, 'ALTER TABLE items SET (autovacuum_enabled = false)');
  });
  afterAll(async () => t?.cleanup());

  it('a warm clone is in no list, count, status or quota, and gc leaves a fresh one alone', async () => {
    await fillOne(t);
    expect((await t.host.listBranches()).map((b) => b.name)).toEqual(['main']);
    expect((await t.host.status()).branches).toBe(1);
    expect((await t.host.gc({ dryRun: true })).actions).toEqual([]);
    // It does run: one more postmaster under the pool than there are branches.
    expect(new Set(processesUnderPool(t.pool.poolPath).map((p) => p.volume)).size).toBe(2);
  });

  it('a create claims it: the branch holds exactly the parent\'s current data, under its own password', async () => {
    await sql(mainUrl, "UPDATE items SET label = 'changed before the fill' WHERE id = 1");
    // The write made the ready clone stale: the refill discards it and (main quiet again) makes a new one.
    await t.host.refillWarmClones();
    await fillOne(t);
    const seen = await tracedCreate(t, 'claimed');
    expect(seen.has('warm:claiming'), 'the create took the warm path').toBe(true);
    expect(seen.has('clone:ready'), 'no clone of the parent during the create').toBe(false);
    expect(warmOps(t)).toEqual([]);
    const url = (await t.host.connectionInfo('claimed')).url;
    const parentRows = await sql<Row>(mainUrl, 'SELECT id, label FROM items ORDER BY id');
    expect(await sql<Row>(url, 'SELECT id, label FROM items ORDER BY id')).toEqual(parentRows);
    expect(parentRows[0]!.label).toBe('changed before the fill');
    const claimed = new URL(url);
    const parent = new URL(mainUrl);
    expect(claimed.password).not.toBe(parent.password);
    claimed.password = parent.password;
    await expect(sql(claimed.toString(), 'SELECT 1')).rejects.toThrow(/password authentication failed/);
    const view = await t.host.getBranch('claimed');
    expect(view).toMatchObject({ name: 'claimed', parent: 'main', state: 'running' });
    // Writes are its own.
    await sql(url, "INSERT INTO items VALUES (1000, 'only in claimed')");
    expect(await sql(mainUrl, 'SELECT 1 FROM items WHERE id = 1000')).toEqual([]);
  });

  it('a create in another process (the CLI) claims a warm clone this process made', async () => {
    await fillOne(t);
    const r = await t.cliProcess(['branch', 'create', 'by-cli', '--from', 'main', '-o', 'json'], { PGBRANCH_API_URL: '' });
    expect(r.code, r.stderr).toBe(0);
    expect(warmOps(t), 'the CLI claimed the warm clone').toEqual([]);
    const url = (await t.host.connectionInfo('by-cli')).url;
    expect(await sql<Row>(url, 'SELECT id, label FROM items ORDER BY id')).toEqual(await sql<Row>(mainUrl, 'SELECT id, label FROM items ORDER BY id'));
    // No connection of pgbranch's stays on the new branch (one would keep it from ever idling):
    // once the CLI's own are gone, ours is the only client.
    const others = async () =>
      (await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"))[0]!.n;
    await waitFor(async () => ((await others()) === 0 ? true : undefined), { timeoutMs: 5_000, what: 'the CLI process\'s connections to close' });
    await t.host.deleteBranch('by-cli');
  });

  it('the connection kept to the warm parent is no use of it: an idle parent is still suspended', async () => {
    await fillOne(t);
    // Exactly one: the CLI process of the test before kept its own until it exited (its backend
    // may take a moment to notice), this process keeps one.
    const oneKept = () =>
      waitFor(
        async () => ((await sql<{ n: number }>(mainUrl, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pgbranch-kept'"))[0]!.n === 1 ? true : undefined),
        { timeoutMs: 10_000, what: 'exactly one kept connection to main' },
      );
    await oneKept();
    await t.host.updateBranch('main', { idleTimeoutMs: 1_000 });
    try {
      // The first look starts the idle clock; refills in between (one read each over the kept
      // connection) are no use of main either.
      expect(await t.host.suspendIdleBranches()).toEqual([]);
      await t.host.refillWarmClones();
      expect(await t.host.suspendIdleBranches(Date.now() + 10_000)).toEqual(['main']);
      // Suspended, main cannot be the parent of a fresh clone: the ready one goes at the next refill.
      expect((await t.host.refillWarmClones()).discarded).toBe(1);
      expect(warmOps(t)).toEqual([]);
    } finally {
      await t.host.updateBranch('main', { idleTimeoutMs: null });
      await t.host.startBranch('main');
    }
    // Started again, main gets a new kept connection (the old one ended with the instance).
    await fillOne(t);
    await oneKept();
  });

  it('a parent write before the claim makes the create take the normal path, and gc discards the stale clone', async () => {
    await fillOne(t);
    await sql(mainUrl, "INSERT INTO items VALUES (101, 'written after the fill')");
    const seen = await tracedCreate(t, 'normal');
    expect(seen.has('warm:claiming')).toBe(false);
    expect(seen.has('clone:ready')).toBe(true);
    const rows = await sql<Row>((await t.host.connectionInfo('normal')).url, 'SELECT id, label FROM items WHERE id = 101');
    expect(rows).toEqual([{ id: 101, label: 'written after the fill' }]);
    // The quota counted branches only: main, claimed, normal = 3 with a warm clone around.
    expect((await t.host.listBranches()).length).toBe(3);
    const gc = await t.host.gc();
    expect(gc.actions.map((a) => a.kind)).toEqual(['warm-discard']);
    expect(warmOps(t)).toEqual([]);
    await t.host.deleteBranch('claimed');
    await t.host.deleteBranch('normal');
    await assertHostConsistent(t.home, t.pool.poolPath);
  });

  it('after a crash while filling or claiming, the next open discards the warm clone', async () => {
    expect(existsSync(join(REPO, 'dist', 'branches', 'index.js')), 'dist/ missing: run `npm run build`').toBe(true);
    t.host.close();
    const script = `
      const { Host } = await import('./dist/branches/index.js');
      const host = await Host.open({ home: ${JSON.stringify(t.home)} });
      for (let i = 0; i < 4; i++) await host.refillWarmClones();
      await host.createBranch('crashed', { origin: { kind: 'parent', parent: 'main' } });
      process.exit(3);
    `;
    for (const point of ['warm:cloned', 'warm:started', 'warm:ready', 'warm:claiming', 'create:committed']) {
      const run = await runChild(script, { PGBRANCH_FAILPOINT: point });
      expect(run.signal, `${point}: ${run.stderr}`).toBe('SIGKILL');
      expect(readStoredState(t.home).operations.length, point).toBeGreaterThan(point === 'create:committed' ? -1 : 0);
      t.host = await Host.open({ home: t.home });
      const state = readStoredState(t.home);
      // Killed after the commit, the branch is there; before it, nothing of the warm clone is.
      if (point === 'create:committed') {
        expect(state.branches.map((b) => b.name).sort()).toEqual(['crashed', 'main']);
        await t.host.deleteBranch('crashed');
      } else {
        expect(state.branches.map((b) => b.name)).toEqual(['main']);
      }
      await assertHostConsistent(t.home, t.pool.poolPath);
      expect(readdirSync(t.pool.poolPath).length).toBe(readStoredState(t.home).branchPointVolumes.length + 1);
      t.host.close();
    }
    t.host = await Host.open({ home: t.home });
  });
});
