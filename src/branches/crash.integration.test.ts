import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureOsUser } from '../postgres/index.js';
import type { StorageCapabilities } from '../storage/index.js';
import { waitFor } from '../util/index.js';
import { CRASH_POINTS } from './index.js';
import {
  assertHostConsistent,
  branchUrl,
  processesUnderPool,
  readStoredState,
  sql,
  type StoredBranch,
  type StoredState,
} from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type PoolKind, type TestHost } from '../test-support/test-host.js';

/**
 * Acceptance: the host killed with SIGKILL at each step of create, reset and delete comes back
 * with consistent metadata, no orphans, and every completed branch intact.
 *
 * Every crash point in CRASH_POINTS is driven through the compiled CLI in a child process with
 * PGBRANCH_FAILPOINT set, so a new crash point is covered without touching this file. The next
 * CLI command (a fresh process, which reconciles when it opens the host) must leave the host in
 * the state the operation's rules define: create all-or-nothing, reset rolled back before its
 * swap and forward from it, delete always forward.
 */

type Op = keyof typeof CRASH_POINTS | 'reset (stopped)';
type Outcome = 'rolled back' | 'rolled forward' | 'committed' | 'not reached (completed)' | 'not reached (refused)';
type Row = { id: number; label: string };

const KINDS: readonly PoolKind[] = ['btrfs', 'xfs', 'ext4'];
const DRIVER_OF: Record<PoolKind, string> = { btrfs: 'btrfs', xfs: 'reflink', ext4: 'copy' };
const skipReasons = new Map<PoolKind, string | undefined>();
for (const kind of KINDS) {
  const reason = await testPoolSkipReason(kind);
  skipReasons.set(kind, reason);
  if (reason) console.warn(`crash-safety tests on ${kind} skipped: ${reason}`);
}

const matrix = new Map<string, Map<PoolKind, Outcome>>();
function record(op: Op, point: string, kind: PoolKind, outcome: Outcome): void {
  const key = `${op.padEnd(16)} ${point}`;
  if (!matrix.has(key)) matrix.set(key, new Map());
  matrix.get(key)!.set(kind, outcome);
}

afterAll(() => {
  if (matrix.size === 0) return;
  const ran = KINDS.filter((k) => [...matrix.values()].some((m) => m.has(k)));
  const width = 26;
  const lines = [
    `${'operation        crash point'.padEnd(48)}${ran.map((k) => `${k} (${DRIVER_OF[k]})`.padEnd(width)).join('')}`,
    ...[...matrix].map(([key, byKind]) => `${key.padEnd(48)}${ran.map((k) => (byKind.get(k) ?? '-').padEnd(width)).join('')}`),
  ];
  console.log(`crash-safety matrix:\n${lines.join('\n')}`);
});

const indexIn = (list: readonly string[], point: string): number => list.indexOf(point);

/**
 * Whether a crash point lies on the path a command takes. The only conditional point is the
 * backup-mode one: a per-file clone of a running parent goes through pg_backup_start/stop, an
 * atomic snapshot (btrfs) or a stopped parent does not.
 */
function reachedOn(point: string, caps: StorageCapabilities, parentRunning: boolean): boolean {
  if (point === 'clone:after-backup-stop') return parentRunning && !caps.atomicSnapshot;
  return true;
}

async function rows(url: string): Promise<Row[]> {
  return sql<Row>(url, 'SELECT id, label FROM items ORDER BY id');
}

function stored(state: StoredState, name: string): StoredBranch | undefined {
  return state.branches.find((b) => b.name === name);
}

/** The pid of a running `pgbranch <args…>` child of ours against `home`, found in /proc. */
function findCliPid(home: string, args: readonly string[]): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const h = argv.indexOf('--home');
    if (h >= 0 && argv[h + 1] === home && args.every((a) => argv.includes(a)) && argv.some((a) => a.endsWith('pgbranch.js'))) return Number(entry);
  }
  return undefined;
}

function hasOpen(pid: number, file: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

for (const kind of KINDS) {
  const skip = skipReasons.get(kind);
  describe.skipIf(skip !== undefined)(`crash safety on ${kind} (${DRIVER_OF[kind]} driver)`, () => {
    let t: TestHost;
    let caps: StorageCapabilities;
    /** URLs of the completed branches as `branch url` gave them before any crash. */
    const urls: Record<string, string> = {};
    /** Exact content each completed branch must keep. */
    const expected: Record<'main' | 'keep' | 'cold' | 'frozen', Row[]> = { main: [], keep: [], cold: [], frozen: [] };
    /** Metadata of the completed branches before any crash: id, volume, port, password never change. */
    let initial: StoredState;

    const cliUrl = async (name: string): Promise<string> => {
      const r = await t.cli('branch', 'url', name);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const cliOk = async (...args: string[]): Promise<void> => {
      const r = await t.cli(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    };

    /**
     * Runs the command with the failpoint armed. A point on the command's path must kill it;
     * one that is not (see reachedOn) must let it complete normally.
     */
    const runArmed = async (args: string[], point: string, reached: boolean): Promise<'killed' | 'completed'> => {
      const r = await t.cliProcess(args, { PGBRANCH_FAILPOINT: point });
      if (reached) {
        expect(r.signal, `${args.join(' ')} should have died at ${point}; exit ${r.code}, stderr: ${r.stderr}`).toBe('SIGKILL');
        return 'killed';
      }
      expect({ code: r.code, signal: r.signal }, `${point} is not on this path, so ${args.join(' ')} must complete: ${r.stderr}`).toEqual({
        code: 0,
        signal: null,
      });
      return 'completed';
    };

    /** The next command after a crash, in a fresh process: opening the host reconciles it. */
    const nextCommand = async (): Promise<StoredState> => {
      const r = await t.cliProcess(['branch', 'list', '-o', 'json', '--no-size']);
      expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: 0, signal: null });
      const listed = JSON.parse(r.stdout) as { name: string; state: string }[];
      try {
        const state = await assertHostConsistent(t.home, t.pool.poolPath);
        // What the CLI reports agrees with the metadata, and every branch is in its desired state.
        expect(listed.map((b) => `${b.name}:${b.state}`).sort()).toEqual(state.branches.map((b) => `${b.name}:${b.desiredState}`).sort());
        await assertCompletedBranchesIntact(state);
        return state;
      } catch (err) {
        if (err instanceof Error && r.stderr) err.message += `\n(stderr of the command that reconciled:\n${r.stderr})`;
        throw err;
      }
    };

    const assertCompletedBranchesIntact = async (state: StoredState): Promise<void> => {
      for (const name of ['main', 'keep', 'cold'] as const) {
        const before = stored(initial, name)!;
        expect(stored(state, name), `completed branch ${name}`).toEqual({ ...before });
      }
      expect(await rows(urls.main!)).toEqual(expected.main);
      expect(await rows(urls.keep!)).toEqual(expected.keep);
      // `cold` is stopped (assertHostConsistent checked no process runs on it); its data is read
      // at the end, as reading it means starting it.
    };

    beforeAll(async () => {
      t = await createTestHost(kind);
      caps = (await t.host.status()).capabilities;
      urls.main = await cliUrl('main');
      await sql(urls.main, "CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items VALUES (1, 'main')");
      expected.main = [{ id: 1, label: 'main' }];
      await cliOk('branch', 'create', 'keep', '--from', 'main');
      urls.keep = await cliUrl('keep');
      await sql(urls.keep, "INSERT INTO items VALUES (100, 'only in keep')");
      expected.keep = [...expected.main, { id: 100, label: 'only in keep' }];
      await cliOk('branch', 'create', 'cold', '--from', 'main');
      await sql(await cliUrl('cold'), "INSERT INTO items VALUES (200, 'only in cold')");
      expected.cold = [...expected.main, { id: 200, label: 'only in cold' }];
      await cliOk('branch', 'stop', 'cold');
      await cliOk('branch', 'create', 'victim', '--from', 'main');
      urls.victim = await cliUrl('victim');
      await cliOk('branch', 'create', 'frozen', '--from', 'main');
      await sql(await cliUrl('frozen'), "INSERT INTO items VALUES (400, 'only in frozen')");
      expected.frozen = [...expected.main, { id: 400, label: 'only in frozen' }];
      await cliOk('branch', 'stop', 'frozen');
      initial = await assertHostConsistent(t.home, t.pool.poolPath);
      expect(initial.branches.map((b) => `${b.name}:${b.desiredState}`)).toEqual([
        'cold:stopped',
        'frozen:stopped',
        'keep:running',
        'main:running',
        'victim:running',
      ]);
    });
    afterAll(async () => t?.cleanup());

    it.each(CRASH_POINTS.create.map((point, index) => ({ point, index })))('create killed at $point is all-or-nothing', async ({ point, index }) => {
      const name = `c-${index}`;
      const how = await runArmed(['branch', 'create', name, '--from', 'main'], point, reachedOn(point, caps, true));
      const state = await nextCommand();
      const committed = how === 'completed' || indexIn(CRASH_POINTS.create, point) >= indexIn(CRASH_POINTS.create, 'create:committed');
      const b = stored(state, name);
      if (committed) {
        // The commit happened: a whole, running branch with the parent's data.
        expect(b).toMatchObject({ desiredState: 'running', parentId: stored(state, 'main')!.id });
        expect(await rows(branchUrl(b!))).toEqual(expected.main);
        await cliOk('branch', 'delete', name);
      } else {
        expect(b, `${name} must be rolled back`).toBeUndefined();
      }
      record('create', point, kind, how === 'completed' ? 'not reached (completed)' : committed ? 'committed' : 'rolled back');
    });

    it.each(CRASH_POINTS.createMasked.map((point, index) => ({ point, index })))('masked create killed at $point is all-or-nothing: never an unmasked branch marked masked', async ({ point, index }) => {
      const name = `m-${index}`;
      const rulesFile = join(t.home, 'masking.yaml');
      writeFileSync(rulesFile, 'version: 1\ntables:\n  items:\n    label: { fake: text }\n');
      const how = await runArmed(['branch', 'create', name, '--from', 'main', '--mask', rulesFile], point, reachedOn(point, caps, true));
      const state = await nextCommand();
      const committed = how === 'completed' || indexIn(CRASH_POINTS.createMasked, point) >= indexIn(CRASH_POINTS.createMasked, 'create:committed');
      const b = stored(state, name);
      if (committed) {
        // A whole, masked, protected branch: main's rows with every label masked.
        expect(b).toMatchObject({ desiredState: 'running', parentId: stored(state, 'main')!.id });
        const masked = await rows(branchUrl(b!));
        expect(masked.map((r) => r.id)).toEqual(expected.main.map((r) => r.id));
        expect(masked.filter((r) => expected.main.some((m) => m.label === r.label))).toEqual([]);
        await cliOk('branch', 'unprotect', name);
        await cliOk('branch', 'delete', name);
      } else {
        expect(b, `${name} must be rolled back`).toBeUndefined();
      }
      record('createMasked', point, kind, how === 'completed' ? 'not reached (completed)' : committed ? 'committed' : 'rolled back');
    });

    it.each(CRASH_POINTS.createRoot.map((point, index) => ({ point, index })))('root create (--empty) killed at $point is all-or-nothing', async ({ point, index }) => {
      const name = `r-${index}`;
      const how = await runArmed(['branch', 'create', name, '--empty'], point, true);
      const state = await nextCommand();
      const committed = how === 'completed' || indexIn(CRASH_POINTS.createRoot, point) >= indexIn(CRASH_POINTS.createRoot, 'create:committed');
      const b = stored(state, name);
      if (committed) {
        expect(b).toMatchObject({ desiredState: 'running', parentId: null });
        expect(await sql(branchUrl(b!), "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).toEqual([{ n: 0 }]);
        await cliOk('branch', 'delete', name);
      } else {
        expect(b, `${name} must be rolled back`).toBeUndefined();
      }
      record('createRoot', point, kind, how === 'completed' ? 'not reached (completed)' : committed ? 'committed' : 'rolled back');
    });

    it.each(CRASH_POINTS.reset.map((point, index) => ({ point, index })))(
      'reset (parent running) killed at $point rolls back before the swap, forward from it',
      async ({ point, index }) => {
        // Make the old data and the parent's current data distinguishable.
        await sql(urls.victim!, 'INSERT INTO items VALUES ($1, $2)', [300 + index, `only in victim ${index}`]);
        const oldData = await rows(urls.victim!);
        const mainRow = { id: 10 + index, label: `main before reset ${index}` };
        await sql(urls.main!, 'INSERT INTO items VALUES ($1, $2)', [mainRow.id, mainRow.label]);
        expected.main = [...expected.main, mainRow].sort((a, b) => a.id - b.id);
        const before = stored(readStoredState(t.home), 'victim')!;

        const how = await runArmed(['branch', 'reset', 'victim'], point, reachedOn(point, caps, true));
        const state = await nextCommand();
        const forward = how === 'completed' || indexIn(CRASH_POINTS.reset, point) >= indexIn(CRASH_POINTS.reset, 'reset:swapped');
        const after = stored(state, 'victim')!;
        // Same branch, same name, port and password either way: the URL does not change.
        expect(after).toMatchObject({ id: before.id, port: before.port, password: before.password, desiredState: 'running' });
        expect(await cliUrl('victim')).toBe(urls.victim);
        if (forward) {
          expect(after.volume).not.toBe(before.volume);
          expect(await rows(urls.victim!)).toEqual(expected.main);
        } else {
          expect(after.volume).toBe(before.volume);
          expect(await rows(urls.victim!)).toEqual(oldData);
        }
        record('reset', point, kind, how === 'completed' ? 'not reached (completed)' : forward ? 'rolled forward' : 'rolled back');
      },
    );

    it.each(CRASH_POINTS.resetMasked.map((point, index) => ({ point, index })))(
      're-mask (reset --mask) killed at $point: the masked branch only ever serves masked data',
      async ({ point, index }) => {
        const rulesFile = join(t.home, 'masking.yaml');
        writeFileSync(rulesFile, 'version: 1\ntables:\n  items:\n    label: { fake: text }\n');
        if (!stored(readStoredState(t.home), 'remasked')) await cliOk('branch', 'create', 'remasked', '--from', 'main', '--mask', rulesFile);
        const url = await cliUrl('remasked');
        const oldIds = (await rows(url)).map((r) => r.id);
        const mainRow = { id: 60 + index, label: `main before re-mask ${index}` };
        await sql(urls.main!, 'INSERT INTO items VALUES ($1, $2)', [mainRow.id, mainRow.label]);
        expected.main = [...expected.main, mainRow].sort((a, b) => a.id - b.id);
        const before = stored(readStoredState(t.home), 'remasked')!;

        const how = await runArmed(['branch', 'reset', 'remasked', '--mask', rulesFile], point, reachedOn(point, caps, true));
        const state = await nextCommand();
        const forward = how === 'completed' || indexIn(CRASH_POINTS.resetMasked, point) >= indexIn(CRASH_POINTS.resetMasked, 'reset:swapped');
        const after = stored(state, 'remasked')!;
        expect(after).toMatchObject({ id: before.id, port: before.port, password: before.password, desiredState: 'running' });
        expect(await cliUrl('remasked')).toBe(url);
        const now = await rows(url);
        expect(now.map((r) => r.id)).toEqual(forward ? expected.main.map((r) => r.id) : oldIds);
        // Never a label of main: whichever generation serves, it is masked.
        expect(now.filter((r) => expected.main.some((m) => m.label === r.label))).toEqual([]);
        record('resetMasked', point, kind, how === 'completed' ? 'not reached (completed)' : forward ? 'rolled forward' : 'rolled back');
      },
    );

    it.each(CRASH_POINTS.reset.map((point, index) => ({ point, index })))(
      'reset of a stopped branch killed at $point leaves it stopped, rolled back before the swap, forward from it',
      async ({ point, index }) => {
        const before = stored(readStoredState(t.home), 'frozen')!;
        expect(before.desiredState).toBe('stopped');
        const how = await runArmed(['branch', 'reset', 'frozen'], point, reachedOn(point, caps, true));
        // assertHostConsistent (in nextCommand) fails on any process running on a stopped branch.
        const state = await nextCommand();
        const forward = how === 'completed' || indexIn(CRASH_POINTS.reset, point) >= indexIn(CRASH_POINTS.reset, 'reset:swapped');
        const after = stored(state, 'frozen')!;
        expect(after).toMatchObject({ id: before.id, port: before.port, password: before.password, desiredState: 'stopped' });
        if (forward) {
          expect(after.volume).not.toBe(before.volume);
          // Its data is read at the end (reading means starting it); now it is main's as of this reset.
          expected.frozen = [...expected.main];
        } else {
          expect(after.volume).toBe(before.volume);
        }
        record('reset (stopped)', point, kind, how === 'completed' ? 'not reached (completed)' : forward ? 'rolled forward' : 'rolled back');
      },
    );

    it.each(CRASH_POINTS.delete.map((point, index) => ({ point, index })))('delete killed at $point rolls forward', async ({ point, index }) => {
      const name = `d-${index}`;
      await cliOk('branch', 'create', name, '--from', 'main');
      const doomed = stored(readStoredState(t.home), name)!;
      const how = await runArmed(['branch', 'delete', name], point, true);
      const state = await nextCommand();
      expect(stored(state, name), `${name} must be gone`).toBeUndefined();
      await expect(sql(branchUrl(doomed), 'SELECT 1')).rejects.toThrow();
      record('delete', point, kind, how === 'completed' ? 'not reached (completed)' : 'rolled forward');
    });

    it.each(CRASH_POINTS.rotate.map((point, index) => ({ point, index })))('password rotation killed at $point rolls forward: metadata and server agree', async ({ point, index }) => {
      const name = `p-${index}`;
      await cliOk('branch', 'create', name, '--from', 'main');
      const before = stored(readStoredState(t.home), name)!;
      const how = await runArmed(['branch', 'rotate-password', name], point, true);
      const state = await nextCommand();
      const after = stored(state, name)!;
      // The new password is the one the server takes, whether or not the server had it already.
      expect(after.password).not.toBe(before.password);
      expect(await sql<{ one: number }>(branchUrl(after), 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
      await expect(sql(branchUrl(before), 'SELECT 1')).rejects.toThrow();
      await cliOk('branch', 'delete', name);
      record('rotate', point, kind, how === 'completed' ? 'not reached (completed)' : 'rolled forward');
    });

    it.each(CRASH_POINTS.limit.map((point, index) => ({ point, index })))('size cap change killed at $point rolls forward where the pool can cap', async ({ point, index }) => {
      const name = `l-${index}`;
      await cliOk('branch', 'create', name, '--from', 'main');
      if (kind !== 'btrfs') {
        // Only btrfs pools enforce caps on this machine (see the volume-limit tests): the change is
        // refused before its intent is recorded, so the crash point is never reached.
        const r = await t.cliProcess(['branch', 'set', name, '--max-own-bytes', '1G'], { PGBRANCH_FAILPOINT: point });
        expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: 14, signal: null });
        expect(r.stderr).toContain('[LIMIT_UNSUPPORTED]');
        expect(readStoredState(t.home).operations).toEqual([]);
        await cliOk('branch', 'delete', name);
        record('limit', point, kind, 'not reached (refused)');
        return;
      }
      const how = await runArmed(['branch', 'set', name, '--max-own-bytes', '1G'], point, true);
      const state = await nextCommand();
      expect(stored(state, name)).toMatchObject({ desiredState: 'running' });
      expect(readStoredState(t.home).operations).toEqual([]);
      const view = JSON.parse((await t.cli('branch', 'get', name, '-o', 'json')).stdout) as { max_own_bytes: number | null };
      expect(view.max_own_bytes).toBe(1024 ** 3);
      expect(await sql<{ one: number }>(await cliUrl(name), 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
      await cliOk('branch', 'delete', name);
      record('limit', point, kind, how === 'completed' ? 'not reached (completed)' : 'rolled forward');
    });

    it.each(CRASH_POINTS.diff.map((point, index) => ({ point, index })))(
      'diff killed at $point leaves no scratch clone or temporary instance behind, and a stopped side stopped',
      async ({ point }) => {
        // main is proven on a throwaway clone of itself (--verify), the stopped cold read on another.
        const how = await runArmed(['diff', 'main', 'cold', '--data', '--verify'], point, true);
        // nextCommand: no volume but the branches' (and their branch points), no process on the
        // stopped `cold`, no run files of temporary instances, completed branches intact.
        await nextCommand();
        const again = await t.cliProcess(['diff', 'main', 'cold', '--data', '--verify', '-o', 'json']);
        expect({ code: again.code, signal: again.signal }, again.stderr).toEqual({ code: 0, signal: null });
        expect(JSON.parse(again.stdout)).toMatchObject({ schema: { verification: { proven: true } }, data: { totals: { inserted: 1 } } });
        await assertHostConsistent(t.home, t.pool.poolPath);
        record('diff', point, kind, how === 'completed' ? 'not reached (completed)' : 'rolled back');
      },
    );

    /** A branch that is rebased again and again; made at the first rebase test. */
    const rebased = async (): Promise<string> => {
      if (!urls.rb) {
        await cliOk('branch', 'create', 'rb', '--from', 'main');
        urls.rb = await cliUrl('rb');
      }
      return urls.rb;
    };
    /** Rebase needs a kept branch point: `copy` pools keep none by default and refuse it. */
    const refusesRebase = async (args: string[], op: Op, point: string, code = 'BRANCH_POINT_UNAVAILABLE'): Promise<boolean> => {
      if (caps.constantTimeClone) return false;
      const r = await t.cliProcess(args, { PGBRANCH_FAILPOINT: point });
      expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: 4, signal: null });
      expect(r.stderr).toContain(`[${code}]`);
      await nextCommand();
      record(op, point, kind, 'not reached (refused)');
      return true;
    };

    it.each(CRASH_POINTS.rebase.map((point, index) => ({ point, index })))(
      'rebase killed at $point leaves the old state before the swap and the complete rebase from it, never a mix',
      async ({ point, index }) => {
        const url = await rebased();
        if (await refusesRebase(['branch', 'rebase', 'rb'], 'rebase', point)) return;
        await sql(url, 'INSERT INTO items VALUES ($1, $2)', [700 + index, `only in rb ${index}`]);
        const oldData = await rows(url);
        const mainRow = { id: 600 + index, label: `main before rebase ${index}` };
        await sql(urls.main!, 'INSERT INTO items VALUES ($1, $2)', [mainRow.id, mainRow.label]);
        expected.main = [...expected.main, mainRow].sort((a, b) => a.id - b.id);
        const before = stored(readStoredState(t.home), 'rb')!;

        const how = await runArmed(['branch', 'rebase', 'rb'], point, reachedOn(point, caps, true));
        const state = await nextCommand();
        const forward = how === 'completed' || indexIn(CRASH_POINTS.rebase, point) >= indexIn(CRASH_POINTS.rebase, 'rebase:swapped');
        const after = stored(state, 'rb')!;
        expect(after).toMatchObject({ id: before.id, port: before.port, password: before.password, desiredState: 'running' });
        expect(await cliUrl('rb')).toBe(url);
        if (forward) {
          expect(after.volume).not.toBe(before.volume);
          // main as it is now, plus every row rb added itself.
          const own = oldData.filter((r) => r.id >= 700);
          expect(await rows(url)).toEqual([...expected.main, ...own].sort((a, b) => a.id - b.id));
        } else {
          expect(after.volume).toBe(before.volume);
          expect(await rows(url)).toEqual(oldData);
        }
        record('rebase', point, kind, how === 'completed' ? 'not reached (completed)' : forward ? 'rolled forward' : 'rolled back');
      },
    );

    it.each(CRASH_POINTS.rebaseUndo.map((point, index) => ({ point, index })))(
      'rebase --undo killed at $point leaves the rebased state before the swap and the exact pre-rebase data from it',
      async ({ point, index }) => {
        const url = await rebased();
        // Without a rebase there is nothing to undo.
        if (await refusesRebase(['branch', 'rebase', 'rb', '--undo'], 'rebaseUndo', point, 'REBASE_UNDO_UNAVAILABLE')) return;
        await sql(url, 'INSERT INTO items VALUES ($1, $2)', [800 + index, `rb before undo ${index}`]);
        const preRebase = await rows(url);
        const mainRow = { id: 900 + index, label: `main before undo ${index}` };
        await sql(urls.main!, 'INSERT INTO items VALUES ($1, $2)', [mainRow.id, mainRow.label]);
        expected.main = [...expected.main, mainRow].sort((a, b) => a.id - b.id);
        await cliOk('branch', 'rebase', 'rb');
        const rebasedData = await rows(url);
        expect(rebasedData).toContainEqual(mainRow);

        const how = await runArmed(['branch', 'rebase', 'rb', '--undo'], point, true);
        await nextCommand();
        const forward = how === 'completed' || indexIn(CRASH_POINTS.rebaseUndo, point) >= indexIn(CRASH_POINTS.rebaseUndo, 'rebase-undo:swapped');
        expect(await rows(url)).toEqual(forward ? preRebase : rebasedData);
        record('rebaseUndo', point, kind, how === 'completed' ? 'not reached (completed)' : forward ? 'rolled forward' : 'rolled back');
      },
    );

    it('a command waiting for the host lock takes it over when the holder is killed, without hanging', async () => {
      const holder = t.cliProcess(['branch', 'create', 'lk', '--from', 'main']);
      // The intent row is written under the lock: once it is there, the creator holds the lock.
      const pid = await waitFor(() => readStoredState(t.home).operations.find((o) => o.branchName === 'lk')?.pid, {
        timeoutMs: 20_000,
        intervalMs: 5,
        what: 'the create of lk to record its intent',
      });
      // Frozen mid-create, it keeps holding the lock for as long as the test needs.
      process.kill(pid, 'SIGSTOP');
      let killed = false;
      try {
        const frozen = readStoredState(t.home);
        expect(frozen.lockPid).toBe(pid);
        expect(frozen.operations.map((o) => `${o.kind} ${o.branchName}`)).toEqual(['create lk']);

        let waiterDone = false;
        const waiter = t.cliProcess(['branch', 'list', '-o', 'json', '--no-size']).finally(() => {
          waiterDone = true;
        });
        const waiterPid = await waitFor(() => findCliPid(t.home, ['list']), { timeoutMs: 10_000, what: 'the waiting command to start' });
        // It has opened the metadata and now polls the lock, which a live process holds.
        await waitFor(() => (hasOpen(waiterPid, join(t.home, 'state.db')) ? true : undefined), {
          timeoutMs: 10_000,
          what: 'the waiting command to open the metadata',
        });
        expect(waiterDone, 'the waiting command finished while a live process held the lock').toBe(false);

        const killedAt = performance.now();
        process.kill(pid, 'SIGKILL');
        killed = true;
        expect((await holder).signal).toBe('SIGKILL');
        const w = await waiter;
        const tookMs = performance.now() - killedAt;
        expect({ code: w.code, signal: w.signal }, w.stderr).toEqual({ code: 0, signal: null });
        // A normal run is ~1 s; the lock timeout (60 s) would mean it waited for a dead holder.
        expect(tookMs).toBeLessThan(15_000);
        expect((JSON.parse(w.stdout) as { name: string }[]).map((b) => b.name)).not.toContain('lk');
      } finally {
        if (!killed) process.kill(pid, 'SIGKILL');
      }
      const state = await assertHostConsistent(t.home, t.pool.poolPath);
      expect(stored(state, 'lk')).toBeUndefined();
      await assertCompletedBranchesIntact(state);
    });

    it('after a "reboot" (every instance killed -9) the next command starts what should run and leaves stopped branches stopped', async () => {
      const before = readStoredState(t.home);
      const victimData = await rows(urls.victim!);
      const victims = processesUnderPool(t.pool.poolPath);
      const runningVolumes = before.branches.filter((b) => b.desiredState === 'running').map((b) => b.volume);
      expect([...new Set(victims.map((p) => p.volume))].sort()).toEqual(runningVolumes.sort());
      for (const p of victims) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // already gone with its postmaster
        }
      }
      await waitFor(() => (processesUnderPool(t.pool.poolPath).length === 0 ? true : undefined), {
        timeoutMs: 10_000,
        what: 'every killed postgres process to disappear',
      });
      for (const url of [urls.main!, urls.keep!]) await expect(sql(url, 'SELECT 1')).rejects.toThrow();

      // After a real reboot the pids in the lock files left behind (postmaster.pid in the data
      // directory, .s.PGSQL.<port>.lock in the socket directory) can belong to new, live
      // processes of the instances' OS user. Make that so for `main`, with a stand-in process.
      const main = stored(before, 'main')!;
      const osUser = await ensureOsUser((await t.host.status()).postgres.osUser);
      // `cat` on an open pipe: lives until killed.
      const standIn = spawn('cat', [], { uid: osUser.uid, gid: osUser.gid, stdio: ['pipe', 'ignore', 'ignore'] });
      try {
        const pidFiles = [join(t.pool.poolPath, main.volume, 'pgdata', 'postmaster.pid'), join(t.home, 'run', main.id, `.s.PGSQL.${main.port}.lock`)];
        for (const file of pidFiles) {
          const lines = readFileSync(file, 'utf8').split('\n');
          lines[0] = String(standIn.pid);
          writeFileSync(file, lines.join('\n'));
        }

        const state = await nextCommand();
        expect(state.branches).toEqual(before.branches);
        expect(await rows(urls.victim!)).toEqual(victimData);
      } finally {
        standIn.kill('SIGKILL');
      }
    });

    it('the stopped branches kept their data through every crash', async () => {
      expect(await rows(await cliUrl('cold'))).toEqual(expected.cold);
      expect(await rows(await cliUrl('frozen'))).toEqual(expected.frozen);
    });
  });
}
