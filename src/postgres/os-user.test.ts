import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { assertReachable, prepareDirectory } from './os-user.js';
import { isPostmasterOf, processState } from './process-info.js';

// A user that owns nothing here: permission checks are evaluated for it without creating it.
const stranger = { name: 'nobody-in-particular', uid: 65_432, gid: 65_432 };

describe('assertReachable', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgbranch-reach-'));
    await chmod(dir, 0o755);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes through traversable directories, including parts that do not exist yet', async () => {
    await mkdir(join(dir, 'open'), { mode: 0o755 });
    await expect(assertReachable(join(dir, 'open', 'not', 'yet'), stranger)).resolves.toBeUndefined();
  });

  it('names the ancestor that blocks the OS user', async () => {
    await mkdir(join(dir, 'closed'));
    await chmod(join(dir, 'closed'), 0o700);
    const err = await assertReachable(join(dir, 'closed', 'pool', 'pgdata'), stranger).catch((e: unknown) => e);
    expect(isPgbranchError(err, 'PERMISSION_DENIED')).toBe(true);
    expect((err as Error).message).toContain(join(dir, 'closed'));
    expect((err as Error).message).toContain('0700');
  });

  it('honours owner and group bits', async () => {
    const mine = { name: 'me', uid: process.getuid!(), gid: process.getgid!() };
    await expect(assertReachable(join(dir, 'closed', 'x'), mine)).resolves.toBeUndefined();
  });

  it('prepareDirectory creates with the wanted mode', async () => {
    const me = { name: 'me', uid: process.getuid!(), gid: process.getgid!() };
    await prepareDirectory(join(dir, 'a', 'b'), me, 0o700);
    expect((await stat(join(dir, 'a', 'b'))).mode & 0o777).toBe(0o700);
  });
});

describe('process inspection', () => {
  it('sees this process as alive but not as a postmaster', async () => {
    expect(await processState(process.pid)).toBe('alive');
    expect(await isPostmasterOf(process.pid, process.cwd())).toBe(false);
    expect(await processState(0)).toBe('absent');
    expect(await processState(2 ** 22 + 12345)).toBe('absent');
  });
});
