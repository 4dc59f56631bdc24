import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killInstance } from '../postgres/index.js';
import { isMountPoint, unmountLoopPool } from '../storage/index.js';
import { createTestPool, testPoolSkipReason, type TestPool } from '../storage/test-support/loop-pools.js';
import { Host } from './index.js';
import { sql } from '../test-support/host-invariants.js';

const REPO = resolve(import.meta.dirname, '../..');


async function killAll(poolPath: string): Promise<void> {
  for (const volume of existsSync(poolPath) ? readdirSync(poolPath) : []) {
    const dataDir = join(poolPath, volume, 'pgdata');
    if (existsSync(join(dataDir, 'postmaster.pid'))) await killInstance(dataDir);
  }
}

const tempHome = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'pgbranch-init-'));
  chmodSync(dir, 0o755);
  return dir;
};

const btrfsSkip = await testPoolSkipReason('btrfs');
const xfsSkip = await testPoolSkipReason('xfs');
const isRoot = process.getuid?.() === 0;

describe('init chooses the pool', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  it.skipIf(btrfsSkip !== undefined)('on ext4 as root: a sparse loop btrfs image, re-mounted and restarted after a "reboot"', async () => {
    const home = tempHome();
    const poolPath = join(home, 'pool');
    cleanups.push(async () => {
      await killAll(poolPath);
      await unmountLoopPool(poolPath);
      rmSync(home, { recursive: true, force: true });
    });
    const { host, root, created } = await Host.init({ home, poolSizeBytes: 1024 ** 3 });
    expect(created).toBe(true);
    expect(root.name).toBe('main');
    const status = await host.status();
    expect(status).toMatchObject({ driver: 'btrfs', loopImage: join(home, 'pool.img'), poolPath });
    expect(status.pool.totalBytes).toBeGreaterThan(0.9 * 1024 ** 3);
    expect(status.pool.totalBytes).toBeLessThan(1.1 * 1024 ** 3);
    const mainUrl = (await host.connectionInfo('main')).url;
    await sql(mainUrl, "CREATE TABLE survives (x text); INSERT INTO survives VALUES ('yes')");
    await host.createBranch('pr-1', { origin: { kind: 'parent', parent: 'main' } });
    await host.stopBranch('pr-1');
    host.close();

    // A reboot: every process gone, the loop mount gone.
    await killAll(poolPath);
    await unmountLoopPool(poolPath);
    expect(await isMountPoint(poolPath)).toBe(false);

    const again = await Host.open({ home });
    expect(await isMountPoint(poolPath)).toBe(true);
    const branches = await again.listBranches({ withUsage: false });
    expect(branches.map((b) => [b.name, b.state])).toEqual([
      ['main', 'running'],
      ['pr-1', 'stopped'],
    ]);
    expect(await sql(mainUrl, 'SELECT x FROM survives')).toEqual([{ x: 'yes' }]);
    again.close();

    // A second init is refused, or a no-op with --if-not-exists.
    await expect(Host.init({ home })).rejects.toMatchObject({ code: 'HOST_ALREADY_INITIALIZED' });
    const idempotent = await Host.init({ home, ifNotExists: true });
    expect(idempotent.created).toBe(false);
    idempotent.host.close();
  });

  it.skipIf(xfsSkip !== undefined)('on XFS with reflink=1: the reflink driver, no loop image', async () => {
    const pool = await createTestPool('xfs', { sizeMb: 512 });
    const home = tempHome();
    cleanups.push(async () => {
      await killAll(pool.poolPath);
      await pool.cleanup();
      rmSync(home, { recursive: true, force: true });
    });
    const { host } = await Host.init({ home, poolPath: pool.poolPath });
    expect(await host.status()).toMatchObject({ driver: 'reflink', loopImage: null });
    host.close();
  });

  it.skipIf(btrfsSkip !== undefined)('on btrfs: the btrfs driver, no loop image', async () => {
    const pool: TestPool = await createTestPool('btrfs', { sizeMb: 512 });
    const home = tempHome();
    cleanups.push(async () => {
      await killAll(pool.poolPath);
      await pool.cleanup();
      rmSync(home, { recursive: true, force: true });
    });
    const { host } = await Host.init({ home, poolPath: pool.poolPath });
    expect(await host.status()).toMatchObject({ driver: 'btrfs', loopImage: null });
    host.close();
  });

  it.skipIf(!isRoot || !existsSync(join(REPO, 'dist', 'cli', 'index.js')))(
    'as an unprivileged user on ext4: the copy driver with a warning that branching is O(size)',
    async () => {
      const dir = tempHome();
      chownSync(dir, 65534, 65534);
      const home = join(dir, 'home');
      cleanups.push(async () => {
        await killAll(join(home, 'pool'));
        rmSync(dir, { recursive: true, force: true });
      });
      const cli = (...args: string[]) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((done, fail) => {
          const child = spawn(process.execPath, [join(REPO, 'bin', 'pgbranch.js'), '--home', home, ...args], { uid: 65534, gid: 65534, cwd: dir });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d) => (stdout += String(d)));
          child.stderr.on('data', (d) => (stderr += String(d)));
          child.on('error', fail);
          child.on('close', (code) => done({ code, stdout, stderr }));
        });
      const init = await cli('init', '-o', 'json');
      expect(init.code, init.stderr).toBe(0);
      expect(init.stderr).toMatch(/warning: .*copy driver, branching is O\(size\)/);
      const out = JSON.parse(init.stdout);
      expect(out.host).toMatchObject({ driver: 'copy', loop_image: null });
      expect(out.host.postgres.os_user).not.toBe('pgbranch');
      expect((await cli('branch', 'create', 'pr-1')).code).toBe(0);
      const url = (await cli('branch', 'url', 'pr-1')).stdout.trim();
      expect(await sql(url, 'SELECT current_setting($$data_directory$$) LIKE $$%pgdata$$ AS ok')).toEqual([{ ok: true }]);
    },
  );
});
