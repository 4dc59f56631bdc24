import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { detectDumpFormat, dumpFormatOfHeader } from './dump-format.js';

function tarHeader(): Buffer {
  const h = Buffer.alloc(512);
  h.write('toc.dat', 0, 'latin1');
  h.write('ustar\u000000', 257, 'latin1');
  return h;
}

describe('dumpFormatOfHeader', () => {
  it('recognises custom, tar, gzip and plain SQL', () => {
    expect(dumpFormatOfHeader(Buffer.from('PGDMP\u0001\u000e\u0000\u0004\u0008\u0001\u0001', 'latin1'))).toBe('custom');
    expect(dumpFormatOfHeader(tarHeader())).toBe('tar');
    expect(dumpFormatOfHeader(gzipSync('SET x = 1;'))).toBe('plain-gzip');
    expect(dumpFormatOfHeader(Buffer.from('--\n-- PostgreSQL database dump\n--\n'))).toBe('plain');
  });

  it('rejects binary data that is none of them', () => {
    expect(dumpFormatOfHeader(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00]))).toBeUndefined();
  });
});

describe('detectDumpFormat', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgbranch-dumpfmt-'));
    await chmod(dir, 0o755);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads files and directory-format dumps', async () => {
    await writeFile(join(dir, 'a.dump'), Buffer.concat([Buffer.from('PGDMP'), Buffer.alloc(100)]));
    await writeFile(join(dir, 'a.tar'), Buffer.concat([tarHeader(), Buffer.alloc(512)]));
    await writeFile(join(dir, 'a.sql'), 'CREATE TABLE t (id int);\n');
    await writeFile(join(dir, 'a.sql.gz'), gzipSync('CREATE TABLE t (id int);\n'));
    await mkdir(join(dir, 'dirdump'));
    await writeFile(join(dir, 'dirdump', 'toc.dat'), 'PGDMP');
    expect(await detectDumpFormat(join(dir, 'a.dump'))).toBe('custom');
    expect(await detectDumpFormat(join(dir, 'a.tar'))).toBe('tar');
    expect(await detectDumpFormat(join(dir, 'a.sql'))).toBe('plain');
    expect(await detectDumpFormat(join(dir, 'a.sql.gz'))).toBe('plain-gzip');
    expect(await detectDumpFormat(join(dir, 'dirdump'))).toBe('directory');
  });

  it('fails with INVALID_ARGUMENT for missing, empty, binary files and plain directories', async () => {
    await writeFile(join(dir, 'empty'), '');
    await writeFile(join(dir, 'bin'), Buffer.from([1, 2, 0, 3]));
    await mkdir(join(dir, 'plain-dir'));
    for (const f of ['missing', 'empty', 'bin', 'plain-dir']) {
      await expect(detectDumpFormat(join(dir, f))).rejects.toSatisfy((e: unknown) => isPgbranchError(e, 'INVALID_ARGUMENT'));
    }
  });
});
