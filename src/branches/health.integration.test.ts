import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceStatus } from '../postgres/index.js';
import { readStoredState } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';
import { PING_EVERY_BEATS, READY_MEMORY_MS } from './health.js';
import type { Runtime } from './runtime.js';
import { IDLE_SIZE_FRESH_MS, backgroundMeasurements } from './sizes.js';
import { Host } from './index.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`ready memory tests skipped: ${skip}`);

/**
 * Lists in any process believe the "ready" answers serve's health beat (or another list) kept in
 * state.db moments ago, instead of pinging every running instance: a CLI `branch list` at
 * hundreds of running branches stays fast. The proof that nothing is pinged: a frozen postmaster
 * (SIGSTOP: alive, answering nothing) still lists as running while the kept answer is fresh, and
 * shows as unhealthy once it is not; a branch asked for by name is always pinged.
 */
describe.skipIf(skip !== undefined)('ready answers kept across processes', () => {
  let t: TestHost;

  beforeAll(async () => {
    t = await createTestHost('btrfs');
    for (const name of ['r-1', 'r-2']) expect((await t.cli('branch', 'create', name, '--from', 'main')).code).toBe(0);
  });

  afterAll(async () => {
    await t?.cleanup();
  });

  const dataDir = (volume: string): string => join(t.pool.poolPath, volume, 'pgdata');
  const volumeOf = (name: string): string => readStoredState(t.home).branches.find((b) => b.name === name)!.volume;
  const kept = (): Map<string, { pid: number; seenAtMs: number }> => {
    const db = new Database(join(t.home, 'state.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT volume, pid, seen_at_ms FROM instance_ready').all() as { volume: string; pid: number; seen_at_ms: number }[];
      return new Map(rows.map((r) => [r.volume, { pid: r.pid, seenAtMs: r.seen_at_ms }]));
    } finally {
      db.close();
    }
  };
  /** Dates the kept answers `agoMs` before now (what the beat would have written then). */
  const seenAgo = (agoMs: number, volume?: string): void => {
    const db = new Database(join(t.home, 'state.db'));
    try {
      if (volume) db.prepare('UPDATE instance_ready SET seen_at_ms = ? WHERE volume = ?').run(Date.now() - agoMs, volume);
      else db.prepare('UPDATE instance_ready SET seen_at_ms = ?').run(Date.now() - agoMs);
    } finally {
      db.close();
    }
  };

  it("the health beat keeps every running instance's answer with its postmaster pid, in one place for all processes", async () => {
    await t.host.checkHealth();
    const rows = kept();
    for (const name of ['main', 'r-1', 'r-2']) {
      const status = await instanceStatus(dataDir(volumeOf(name)));
      expect(rows.get(volumeOf(name))?.pid, name).toBe(status.pid);
    }
  });

  it('a list in another process believes a fresh kept answer (no ping), and pings once it is stale; a branch asked for by name is pinged', async () => {
    await t.host.checkHealth();
    const volume = volumeOf('r-1');
    const { pid } = await instanceStatus(dataDir(volume));
    process.kill(pid!, 'SIGSTOP');
    try {
      // The CLI is another process: it has only what state.db kept. Dated now, so that the CLI's
      // own start, however slow on a busy machine, is well within the memory.
      seenAgo(0);
      const listed = await t.cli('branch', 'list', '-o', 'json');
      expect(listed.code, listed.stderr).toBe(0);
      const states = new Map((JSON.parse(listed.stdout) as { name: string; state: string }[]).map((b) => [b.name, b.state]));
      expect(states.get('r-1')).toBe('running');
      expect(states.get('r-2')).toBe('running');

      // The name asked for: pinged now, and the frozen postmaster answers nothing.
      const got = await t.cli('branch', 'get', 'r-1', '-o', 'json');
      expect(got.code, got.stderr).toBe(0);
      expect((JSON.parse(got.stdout) as { state: string }).state).toBe('unhealthy');

      // Past the memory, a list pings and sees the freeze; it forgets the answer it no longer believes.
      seenAgo(READY_MEMORY_MS + 1_000, volume);
      const other = await Host.open({ home: t.home });
      try {
        const views = await other.listBranches({ withUsage: false });
        const r1 = views.find((b) => b.name === 'r-1')!;
        expect(r1.state).toBe('unhealthy');
        expect(r1.unhealthyReason).toMatch(/not accepting connections/);
        expect(views.find((b) => b.name === 'r-2')!.state).toBe('running');
      } finally {
        other.close();
      }
      expect(kept().has(volume)).toBe(false);
    } finally {
      process.kill(pid!, 'SIGCONT');
    }
  });

  it('a kept answer is for one postmaster: after a restart the new one is pinged, and a list keeps what it learned', async () => {
    await t.host.checkHealth();
    const volume = volumeOf('r-2');
    const before = kept().get(volume)!;
    expect((await t.cli('branch', 'stop', 'r-2')).code).toBe(0);
    expect((await t.cli('branch', 'start', 'r-2')).code).toBe(0);
    const { pid } = await instanceStatus(dataDir(volume));
    expect(pid).not.toBe(before.pid);
    const listed = await t.cli('branch', 'list', '-o', 'json');
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { name: string; state: string }[]).find((b) => b.name === 'r-2')!.state).toBe('running');
    expect(kept().get(volume)?.pid).toBe(pid);
  });

  it("while a serve runs on the host, a CLI list measures no size itself (serve's refresh does); once it is gone, the list measures", async () => {
    // Stands for a live serve: a live process recorded as the host's serve (a real serve would
    // also measure in the background, which would race the assertion).
    const stand = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      const db = new Database(join(t.home, 'state.db'));
      try {
        db.prepare("INSERT INTO serving (id, pid, started_at) VALUES (1, ?, 'now')").run(stand.pid!);
      } finally {
        db.close();
      }
      expect((await t.cli('branch', 'create', 'unmeasured', '--from', 'main')).code).toBe(0);
      const sizeOf = async (): Promise<number | null> => {
        const listed = await t.cli('branch', 'list', '-o', 'json');
        expect(listed.code, listed.stderr).toBe(0);
        return (JSON.parse(listed.stdout) as { name: string; own_bytes: number | null }[]).find((b) => b.name === 'unmeasured')!.own_bytes;
      };
      expect(await sizeOf()).toBeNull();
      stand.kill('SIGKILL');
      await new Promise((r) => stand.once('exit', r));
      expect(await sizeOf()).not.toBeNull();
    } finally {
      stand.kill('SIGKILL');
    }
  });

  it('a serving process measures the new volumes a list found in the background, in one batch with one commit', async () => {
    for (const name of ['bg-1', 'bg-2', 'bg-3']) expect((await t.cli('branch', 'create', name, '--from', 'main')).code).toBe(0);
    const volumes = ['bg-1', 'bg-2', 'bg-3'].map(volumeOf);
    const db = new Database(join(t.home, 'state.db'));
    try {
      db.prepare(`DELETE FROM volume_sizes WHERE volume IN (${volumes.map(() => '?').join(', ')})`).run(...volumes);
    } finally {
      db.close();
    }
    // The real driver, with its calls recorded on the way through.
    const storage = (t.host as unknown as { rt: Runtime }).rt.storage;
    const usage = storage.usage.bind(storage);
    const calls: { volume: string; committed: boolean }[] = [];
    storage.usage = (volume, options = {}) => {
      calls.push({ volume, committed: options.committed === true });
      return usage(volume, options);
    };
    try {
      const listed = await t.host.listBranches({ measureMissing: 0 });
      expect(listed.filter((b) => b.name.startsWith('bg-')).map((b) => b.ownBytes), 'nothing measured within the list').toEqual([null, null, null]);
      await backgroundMeasurements((t.host as unknown as { rt: Runtime }).rt);
    } finally {
      storage.usage = usage;
    }
    const measured = new Set(calls.map((c) => c.volume));
    for (const v of volumes) expect(measured.has(v), `${v} measured in the background`).toBe(true);
    expect(calls.filter((c) => !c.committed), 'one commit for the batch').toHaveLength(1);
    const sizes = await t.host.listBranches({ measureMissing: 0 });
    for (const name of ['bg-1', 'bg-2', 'bg-3']) expect(sizes.find((b) => b.name === name)!.ownBytes, `${name} has a size now`).not.toBeNull();
  });

  it("serve's size refresh measures what may have moved: a running branch once it wrote, a stopped one once after its stop, then only once its size is old", async () => {
    const measuredAt = (): Map<string, string> => {
      const db = new Database(join(t.home, 'state.db'), { readonly: true });
      try {
        return new Map((db.prepare('SELECT volume, measured_at FROM volume_sizes').all() as { volume: string; measured_at: string }[]).map((r) => [r.volume, r.measured_at]));
      } finally {
        db.close();
      }
    };
    await t.host.refreshSizes();
    expect((await t.cli('branch', 'stop', 'r-2')).code).toBe(0);
    await t.host.refreshSizes();
    const first = measuredAt();
    const [main, running, stopped] = [volumeOf('main'), volumeOf('r-1'), volumeOf('r-2')];
    // r-1 runs and writes; main runs idle (an idle instance writes nothing: its volume's mark stands).
    const client = new pg.Client({ connectionString: (await t.host.connectionInfo('r-1')).url });
    await client.connect();
    try {
      await client.query('CREATE TABLE grown AS SELECT g FROM generate_series(1, 50000) g');
    } finally {
      await client.end();
    }
    await t.host.refreshSizes();
    const second = measuredAt();
    expect(first.get(stopped)).toBeDefined();
    expect(second.get(stopped), 'a stopped branch measured after its stop is not measured again').toBe(first.get(stopped));
    expect(second.get(running)! > first.get(running)!, 'a running branch that wrote is measured again').toBe(true);
    expect(second.get(main), 'a running branch that wrote nothing is not measured again').toBe(first.get(main));
    const sizes = await t.host.listBranches();
    expect(sizes.find((b) => b.name === 'r-1')!.ownBytes!, 'what it wrote shows in its size').toBeGreaterThan(1024 * 1024);
    await t.host.refreshSizes(Date.now() + IDLE_SIZE_FRESH_MS + 1_000);
    const third = measuredAt();
    expect(third.get(stopped)! > second.get(stopped)!, 'an idle size past its horizon is measured again').toBe(true);
    expect(third.get(main)! > second.get(main)!, 'so is an idle running one').toBe(true);
  });

  it("serve's beat pings a quiet instance only every few beats: a frozen postmaster is found by that ping, and at once after a line in its log", async () => {
    const volume = volumeOf('r-1');
    const { pid } = await instanceStatus(dataDir(volume));
    // An error is a line in the server log: the next beat pings r-1 whatever it learned before.
    const failing = async (): Promise<void> => {
      const client = new pg.Client({ connectionString: (await t.host.connectionInfo('r-1')).url });
      await client.connect();
      try {
        await expect(client.query('SELECT 1/0')).rejects.toThrow(/division by zero/);
      } finally {
        await client.end();
      }
    };
    const frozen = async (during: () => Promise<void>): Promise<void> => {
      process.kill(pid!, 'SIGSTOP');
      try {
        await during();
      } finally {
        process.kill(pid!, 'SIGCONT');
      }
    };

    await failing();
    await t.host.checkHealth(); // pinged: ready, its log's size noted
    expect(kept().get(volume)?.pid).toBe(pid);
    await frozen(async () => {
      // A ping would find the freeze (and forget the answer): these beats do not ping r-1.
      for (let beat = 1; beat < PING_EVERY_BEATS; beat++) {
        await t.host.checkHealth();
        expect(kept().has(volume), `beat ${beat} after the ping`).toBe(true);
      }
      await t.host.checkHealth(); // the full ping
      expect(kept().has(volume)).toBe(false);
    });

    await t.host.checkHealth(); // thawed: pinged again, ready
    expect(kept().get(volume)?.pid).toBe(pid);
    await failing();
    await frozen(async () => {
      await t.host.checkHealth();
      expect(kept().has(volume), 'its log grew: pinged, frozen').toBe(false);
    });
    await t.host.checkHealth();
    expect(kept().get(volume)?.pid).toBe(pid);
  });
});
