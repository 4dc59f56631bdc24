import { mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTarExtractor, safeMemberPath } from './tar-extract.js';

const me = { name: userInfo().username, uid: userInfo().uid, gid: userInfo().gid };

/** A real tar archive built with tar-stream's packer, without the closing zero blocks (like PostgreSQL < 15). */
async function archive(entries: { name: string; type?: 'file' | 'directory' | 'symlink'; body?: string; linkname?: string }[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    if (e.type === 'directory' || e.type === 'symlink') pack.entry({ name: e.name, type: e.type, ...(e.linkname ? { linkname: e.linkname } : {}), mode: 0o755 });
    else pack.entry({ name: e.name, mode: 0o644 }, e.body ?? '');
  }
  pack.finalize();
  await ended;
  const all = Buffer.concat(chunks);
  let end = all.length;
  while (end >= 512 && all.subarray(end - 512, end).every((b) => b === 0)) end -= 512;
  return all.subarray(0, end);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgbranch-replication-tar-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tar extraction', () => {
  it('writes files and directories with data-directory modes, fed in small pieces', async () => {
    const root = join(dir, 'ok');
    await mkdir(root);
    const data = await archive([
      { name: 'base/', type: 'directory' },
      { name: 'base/1/1259', body: 'x'.repeat(3000) },
      { name: 'global/pg_control', body: 'control' },
    ]);
    const ex = createTarExtractor(root, me);
    for (let i = 0; i < data.length; i += 700) await ex.write(data.subarray(i, i + 700));
    await ex.end();
    expect((await readdir(root)).sort()).toEqual(['base', 'global']);
    expect(await readFile(join(root, 'base/1/1259'), 'utf8')).toBe('x'.repeat(3000));
    expect((await stat(join(root, 'global/pg_control'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, 'base/1'))).mode & 0o777).toBe(0o700);
  });

  it('refuses paths outside the root and links', async () => {
    expect(() => safeMemberPath('../etc/passwd')).toThrow(/outside/);
    expect(() => safeMemberPath('/etc/passwd')).toThrow(/outside/);
    expect(() => safeMemberPath('base/../../x')).toThrow(/outside/);
    expect(safeMemberPath('./base/1/')).toBe('base/1');
    await mkdir(join(dir, 'link'));
    const ex = createTarExtractor(join(dir, 'link'), me);
    const data = await archive([{ name: 'pg_tblspc/16384', type: 'symlink', linkname: '/elsewhere' }]);
    await expect(
      (async () => {
        await ex.write(data);
        await ex.end();
      })(),
    ).rejects.toThrow(/unexpected symlink/);
  });
});
