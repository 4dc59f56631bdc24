import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveCommand, pruneWalArchive, restoreCommand } from './archive-command.js';
import { gucString, readAutoConf, updateAutoConf } from './auto-conf.js';
import { baseBackupCommand } from './base-backup.js';
import { passfileLine } from './passfile.js';
import { parseReplicationSource } from './source.js';
import { primaryConninfo } from './standby-config.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgbranch-replication-unit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs an archive/restore command the way PostgreSQL does: %p/%f/%% expanded, then sh -c in the data directory. */
function runLikePostgres(command: string, cwd: string, p: string, f: string): number {
  const expanded = command.replace(/%([pf%])/g, (_, c: string) => (c === 'p' ? p : c === 'f' ? f : '%'));
  return spawnSync('/bin/sh', ['-c', expanded], { cwd }).status ?? -1;
}

describe('archive and restore commands', () => {
  it('archive atomically, accept an identical re-archive, refuse to overwrite, restore back', async () => {
    const data = join(dir, 'data');
    const archive = join(dir, "arch ive's %d");
    await mkdir(join(data, 'pg_wal'), { recursive: true });
    await mkdir(archive);
    const seg = '000000010000000000000003';
    await writeFile(join(data, 'pg_wal', seg), 'segment one');
    const archiveCmd = archiveCommand(archive);
    expect(runLikePostgres(archiveCmd, data, `pg_wal/${seg}`, seg)).toBe(0);
    expect(await readFile(join(archive, seg), 'utf8')).toBe('segment one');
    expect(runLikePostgres(archiveCmd, data, `pg_wal/${seg}`, seg)).toBe(0);

    await writeFile(join(data, 'pg_wal', seg), 'something else');
    expect(runLikePostgres(archiveCmd, data, `pg_wal/${seg}`, seg)).not.toBe(0);
    expect(await readFile(join(archive, seg), 'utf8')).toBe('segment one');
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(archive)).toEqual([seg]);

    expect(runLikePostgres(restoreCommand(archive), data, 'pg_wal/RECOVERYXLOG', seg)).toBe(0);
    expect(await readFile(join(data, 'pg_wal', 'RECOVERYXLOG'), 'utf8')).toBe('segment one');
    expect(runLikePostgres(restoreCommand(archive), data, 'pg_wal/RECOVERYXLOG', '000000010000000000000004')).not.toBe(0);
    expect(runLikePostgres(archiveCmd, data, 'pg_wal/missing', '000000010000000000000009')).not.toBe(0);
  });

  it('prunes segments older than a cutoff, whatever their timeline, keeping history files', async () => {
    const archive = join(dir, 'prune');
    await mkdir(archive);
    const names = ['000000010000000000000001', '000000010000000000000002', '000000020000000000000002.partial', '000000020000000000000003', '00000002.history'];
    for (const n of names) await writeFile(join(archive, n), '');
    expect(await pruneWalArchive(archive, '000000020000000000000003')).toEqual(names.slice(0, 3));
  });
});

describe('postgresql.auto.conf', () => {
  it('replaces owned settings case-insensitively and keeps the rest', async () => {
    const data = join(dir, 'autoconf');
    await mkdir(data);
    await writeFile(join(data, 'postgresql.auto.conf'), "# Do not edit\nwork_mem = '8MB'\nPrimary_Conninfo = 'host=old password=x'\nrecovery_target_time = '2020-01-01'\n");
    await updateAutoConf(data, { primary_conninfo: gucString("host=new user='a\\b'"), recovery_target_time: null, hot_standby: 'on' });
    const text = await readFile(join(data, 'postgresql.auto.conf'), 'utf8');
    expect(text).toBe("# Do not edit\nwork_mem = '8MB'\nprimary_conninfo = 'host=new user=''a\\\\b'''\nhot_standby = on\n");
    const conf = await readAutoConf(data);
    expect(conf.get('work_mem')).toBe("'8MB'");
    expect(conf.has('recovery_target_time')).toBe(false);
    await expect(updateAutoConf(data, { 'bad name': '1' })).rejects.toThrow(/invalid server setting/);
  });

  it('refuses values that would break out of their line', () => {
    expect(() => gucString('a\nrestore_command = evil')).toThrow();
  });
});

describe('standby connection settings', () => {
  const source = parseReplicationSource("postgres://re'pl:pa:ss\\word@db.example.com:5433/x?sslmode=verify-full&sslrootcert=/etc/ca.pem");

  it('primary_conninfo has a passfile and never the password', () => {
    const conninfo = primaryConninfo(source, '/var/lib/pgbranch/root.pgpass');
    expect(conninfo).toBe(
      "host='db.example.com' port='5433' user='re\\'pl' passfile='/var/lib/pgbranch/root.pgpass' sslmode='verify-full' application_name='pgbranch' sslrootcert='/etc/ca.pem'",
    );
    expect(conninfo).not.toContain('pa:ss');
  });

  it('passfile lines escape colons and backslashes', () => {
    expect(passfileLine(source)).toBe("db.example.com:5433:*:re'pl:pa\\:ss\\\\word\n");
  });

  it('BASE_BACKUP uses the option list from 15 on and the old keywords on 14', () => {
    expect(baseBackupCommand(180004, { label: "it's", fastCheckpoint: true })).toBe(
      "BASE_BACKUP (LABEL 'it''s', PROGRESS, CHECKPOINT 'fast', WAIT false, MANIFEST 'no', TARGET 'client')",
    );
    expect(baseBackupCommand(140020, { label: 'x', fastCheckpoint: false })).toBe("BASE_BACKUP LABEL 'x' PROGRESS NOWAIT MANIFEST 'no'");
  });
});
