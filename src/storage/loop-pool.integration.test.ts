import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { run } from '../util/index.js';
import { createLoopPool, isMountPoint, mountLoopPool, unmountLoopPool } from './index.js';
import { testPoolSkipReason } from './test-support/loop-pools.js';

const skipReason = await testPoolSkipReason('xfs');
if (skipReason) console.warn(`loop pool: skipping: ${skipReason}`);

/** Loop devices whose backing file is `imagePath` (losetup -j). */
async function loopDevicesFor(imagePath: string): Promise<string> {
  return (await run('losetup', ['-j', imagePath])).stdout.trim();
}

describe.skipIf(skipReason !== undefined)('loop pools', () => {
  let dir: string;
  afterAll(async () => {
    if (dir) {
      await unmountLoopPool(join(dir, 'mnt'));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('creates, survives an unmount (as after a reboot) and mounts idempotently', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgbranch-loop-test-'));
    await chmod(dir, 0o755);
    const imagePath = join(dir, 'pool.img');
    const mountPoint = join(dir, 'mnt');

    await createLoopPool({ imagePath, mountPoint, sizeBytes: 320 * 1024 * 1024, fsType: 'xfs' });
    expect(await isMountPoint(mountPoint)).toBe(true);
    expect(await loopDevicesFor(imagePath)).toMatch(/^\/dev\/loop\d+:/);
    await writeFile(join(mountPoint, 'kept'), 'across mounts');

    // Sparse: the image's allocated size is far below its apparent 320 MiB.
    const { stdout } = await run('du', ['-k', imagePath]);
    expect(Number(stdout.split('\t')[0])).toBeLessThan(100 * 1024);

    expect(await mountLoopPool({ imagePath, mountPoint, fsType: 'xfs' })).toBe(false);
    await unmountLoopPool(mountPoint);
    expect(await isMountPoint(mountPoint)).toBe(false);
    expect(await loopDevicesFor(imagePath)).toBe('');
    await unmountLoopPool(mountPoint);

    expect(await mountLoopPool({ imagePath, mountPoint, fsType: 'xfs' })).toBe(true);
    expect(await readFile(join(mountPoint, 'kept'), 'utf8')).toBe('across mounts');
  });

  it('refuses to overwrite an image, to mount over another filesystem, or a size mkfs would reject', async () => {
    const imagePath = join(dir, 'pool.img');
    const code = (p: Promise<unknown>) => p.then(() => 'ok', (err: unknown) => (isPgbranchError(err) ? err.code : err));

    expect(await code(createLoopPool({ imagePath, mountPoint: join(dir, 'other'), sizeBytes: 320 * 1024 * 1024, fsType: 'xfs' }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(existsSync(join(dir, 'other'))).toBe(false);

    expect(await code(mountLoopPool({ imagePath: join(dir, 'missing.img'), mountPoint: join(dir, 'mnt'), fsType: 'xfs' }))).toBe(
      'STORAGE_UNAVAILABLE',
    );
    await writeFile(join(dir, 'second.img'), '');
    expect(await code(mountLoopPool({ imagePath: join(dir, 'second.img'), mountPoint: join(dir, 'mnt'), fsType: 'xfs' }))).toBe('STORAGE_ERROR');

    expect(await code(createLoopPool({ imagePath: join(dir, 'tiny.img'), mountPoint: join(dir, 'tiny'), sizeBytes: 64 * 1024 * 1024, fsType: 'xfs' }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect((await readdir(dir)).sort()).toEqual(['mnt', 'pool.img', 'second.img']);
  });
});
