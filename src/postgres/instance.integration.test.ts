import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { run, waitFor } from '../util/index.js';
import {
  checkpoint,
  clientTools,
  connect,
  currentWalLsn,
  ensureOsUser,
  findFreePort,
  initCluster,
  instanceStatus,
  killInstance,
  parseReplicationSource,
  quoteLiteral,
  readPostmasterPid,
  ReplicationConnection,
  reloadConfig,
  resolveBinaries,
  setRolePassword,
  startBackup,
  startInstance,
  stopBackup,
  stopInstance,
  waitForLogin,
  withClient,
  writeHba,
} from './index.js';
import { createTestCluster, traversableTempDir, type TestCluster } from './test-support/instance-fixture.js';

async function tcpLogin(port: number, user: string, password: string, database = 'app'): Promise<string | undefined> {
  const client = new pg.Client({ host: '127.0.0.1', port, user, password, database });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('binaries', () => {
  it('finds PostgreSQL 18 in the npm package and 15 on the system', async () => {
    const pg18 = await resolveBinaries();
    expect(pg18).toMatchObject({ major: 18, source: 'npm' });
    expect(pg18.version).toMatch(/^18\.\d+$/);
    const pg15 = await resolveBinaries({ major: 15 });
    expect(pg15).toMatchObject({ major: 15, source: 'system', binDir: '/usr/lib/postgresql/15/bin' });
    expect(await resolveBinaries({ binDir: pg18.binDir })).toMatchObject({ major: 18, source: 'configured' });
  });

  it('says what it tried when nothing fits', async () => {
    const err = await resolveBinaries({ major: 9 }).catch((e: unknown) => e);
    expect(isPgbranchError(err, 'POSTGRES_BINARIES_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toMatch(/linux-x64 \(is PostgreSQL 18.*\/usr\/lib\/postgresql\/9\/bin/);
    await expect(resolveBinaries({ binDir: '/nonexistent/bin' })).rejects.toSatisfy((e: unknown) => isPgbranchError(e, 'POSTGRES_BINARIES_NOT_FOUND'));
  });
});

describe('PostgreSQL 18 instance lifecycle', () => {
  let c: TestCluster;
  let pid: number;

  beforeAll(async () => {
    c = await createTestCluster({ database: 'app' });
  });
  afterAll(async () => {
    await c?.destroy();
  });

  it('initialises a private cluster with pgbranch defaults', async () => {
    const st = await stat(c.dataDir);
    expect(st.mode & 0o777).toBe(0o700);
    expect(st.uid).toBe(c.osUser.uid);
    const conf = await readFile(join(c.dataDir, 'postgresql.conf'), 'utf8');
    expect(conf).toContain('wal_recycle = off');
    const hba = await readFile(join(c.dataDir, 'pg_hba.conf'), 'utf8');
    expect(hba).toMatch(/^host\s+all\s+all\s+127\.0\.0\.1\/32\s+scram-sha-256$/m);
    expect(hba).not.toMatch(/^host.*trust/m);
    // initdb's password file is gone and the password is nowhere in the data directory's config.
    expect(conf).not.toContain(c.password);
  });

  it('starts detached and is ready when postmaster.pid says so', async () => {
    const started = await c.start();
    pid = started.pid;
    console.log(`PostgreSQL 18 spawn → ready: ${started.readyMs.toFixed(0)} ms`);
    const pm = await readPostmasterPid(c.dataDir);
    expect(pm).toMatchObject({ pid, port: c.port, pmStatus: 'ready', socketDir: c.socketDir, listenAddress: '127.0.0.1' });
    expect(await instanceStatus(c.dataDir)).toEqual({ running: true, pid, port: c.port, pmStatus: 'ready' });
    // Its own session: it does not die with our process group.
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3])).toBe(pid);
  });

  it('answers over the unix socket with the configured settings', async () => {
    const rows = await withClient(c.target('app'), async (client) => {
      const r = await client.query<{ db: string; checksums: string; recycle: string; io: string; sb: string }>(
        "SELECT current_database() AS db, current_setting('data_checksums') AS checksums, current_setting('wal_recycle') AS recycle, " +
          "current_setting('io_method') AS io, current_setting('shared_buffers') AS sb",
      );
      return r.rows[0];
    });
    expect(rows).toEqual({ db: 'app', checksums: 'on', recycle: 'off', io: 'sync', sb: '32MB' });
  });

  it('accepts the password over TCP and rejects a wrong one', async () => {
    expect(await tcpLogin(c.port, c.superuser, c.password)).toBeUndefined();
    expect(await tcpLogin(c.port, c.superuser, 'wrong')).toBe('28P01');
  });

  it('sets a SCRAM verifier computed in Node that the server accepts', async () => {
    await withClient(c.target('postgres'), async (client) => {
      await client.query('CREATE ROLE "App User" LOGIN');
      await setRolePassword(client, 'App User', 'n3w-pass w0rd');
      const { rows } = await client.query<{ rolpassword: string }>("SELECT rolpassword FROM pg_authid WHERE rolname = 'App User'");
      expect(rows[0]!.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    });
    expect(await tcpLogin(c.port, 'App User', 'n3w-pass w0rd')).toBeUndefined();
    expect(await tcpLogin(c.port, 'App User', 'n3w-pass word')).toBe('28P01');
    await waitForLogin({ host: '127.0.0.1', port: c.port, user: 'App User', database: 'app', password: 'n3w-pass w0rd' }, { timeoutMs: 5_000 });
    const err = await waitForLogin({ host: '127.0.0.1', port: c.port, user: 'App User', database: 'app', password: 'not-it-123' }, { timeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect(isPgbranchError(err, 'POSTGRES_ERROR')).toBe(true);
    expect((err as Error).message).not.toContain('not-it-123');
  });

  it('branch passwords (generated) are ASCII; the verifier of one lets psql log in', async () => {
    const tools = await clientTools();
    const psqlLogin = (password: string) =>
      run(tools.psql, ['-X', '-At', '-h', '127.0.0.1', '-p', String(c.port), '-U', 'App User', '-d', 'app', '-c', 'SELECT 42'], {
        env: { PATH: process.env.PATH, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' },
      }).then((r) => r.stdout.trim(), (e: Error) => e.message);
    await withClient(c.target('postgres'), (client) => setRolePassword(client, 'App User', 'Zm9v_YmFy-cGFzcw'));
    expect(await psqlLogin('Zm9v_YmFy-cGFzcw')).toBe('42');
    await expect(withClient(c.target('postgres'), (client) => setRolePassword(client, 'App User', 'p\u00e4ss'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it("the replication client's SCRAM logs in with a non-ASCII password PostgreSQL stored (SASLprep, as libpq)", async () => {
    const login = async (password: string): Promise<string> => {
      const source = parseReplicationSource(`postgresql://${encodeURIComponent('App User')}:${encodeURIComponent(password)}@127.0.0.1:${c.port}/app?sslmode=disable`);
      try {
        const conn = await ReplicationConnection.open(source, { replication: false, database: 'app' });
        await conn.close();
        return 'ok';
      } catch (err) {
        return (err as Error).message;
      }
    };
    // The server computes the verifier from the plaintext, with its own SASLprep.
    for (const password of ['\u2168-\uFB01x pass', '\u00e9\u0007raw', 'plain-ascii']) {
      await withClient(c.target('postgres'), (client) => client.query(`SET password_encryption = 'scram-sha-256'; ALTER ROLE "App User" PASSWORD ${quoteLiteral(password)}`));
      expect(await login(password), JSON.stringify(password)).toBe('ok');
    }
    // NFKC: the Roman numeral nine and "IX" are the same password to PostgreSQL.
    await withClient(c.target('postgres'), (client) => client.query(`ALTER ROLE "App User" PASSWORD ${quoteLiteral('\u2168-\uFB01x pass')}`));
    expect(await login('IX-fix pass')).toBe('ok');
    expect(await login('IX-fix-pass')).not.toBe('ok');
  });

  it('closes and reopens TCP by rewriting pg_hba.conf and reloading', async () => {
    await writeHba(c.dataDir, { allowTcp: false });
    await reloadConfig(c.dataDir);
    await waitFor(async () => ((await tcpLogin(c.port, c.superuser, c.password)) === '28000' ? true : undefined), {
      timeoutMs: 5_000,
      what: 'TCP logins to be refused',
    });
    await writeHba(c.dataDir, { allowTcp: true });
    await reloadConfig(c.dataDir);
    await waitForLogin({ host: '127.0.0.1', port: c.port, user: c.superuser, database: 'app', password: c.password }, { timeoutMs: 5_000 });
  });

  it('runs a non-exclusive backup in one session and returns the label', async () => {
    const client = await connect(c.target('app'));
    try {
      await checkpoint(client);
      expect(await currentWalLsn(client)).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      const startLsn = await startBackup(client, 'pgbranch test', c.binaries.major);
      await client.query('CREATE TABLE during_backup AS SELECT 1 AS x');
      const label = await stopBackup(client, c.binaries.major);
      expect(label.labelFile).toContain(`START WAL LOCATION: ${startLsn}`);
      expect(label.labelFile).toContain('LABEL: pgbranch test');
      expect(label.stopLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(label.tablespaceMap).toBe('');
    } finally {
      await client.end();
    }
  });

  it('refuses a second start on the same data directory', async () => {
    const err = await startInstance({ ...c, binaries: c.binaries, port: await findFreePort() }).catch((e: unknown) => e);
    expect(isPgbranchError(err, 'POSTGRES_START_FAILED')).toBe(true);
    expect((err as Error).message).toContain('already running');
  });

  it('does not count a copied or foreign postmaster.pid as running', async () => {
    const copy = join(c.root, 'copy');
    await mkdir(copy);
    await cp(join(c.dataDir, 'postmaster.pid'), join(copy, 'postmaster.pid'));
    expect(await instanceStatus(copy)).toMatchObject({ running: false, pid });
    const text = await readFile(join(c.dataDir, 'postmaster.pid'), 'utf8');
    await writeFile(join(copy, 'postmaster.pid'), text.replace(/^\d+/, String(process.pid)));
    expect((await instanceStatus(copy)).running).toBe(false);
    expect(await instanceStatus(join(c.root, 'nothing-here'))).toEqual({ running: false });
  });

  it('fails a smart stop while a client stays connected, then stops fast, idempotently', async () => {
    const client = await connect(c.target('app'));
    try {
      const err = await stopInstance(c.dataDir, { mode: 'smart', timeoutMs: 300 }).catch((e: unknown) => e);
      expect(isPgbranchError(err, 'POSTGRES_STOP_FAILED')).toBe(true);
      await stopInstance(c.dataDir, { mode: 'fast', timeoutMs: 10_000 });
    } finally {
      await client.end().catch(() => undefined);
    }
    expect(await instanceStatus(c.dataDir)).toEqual({ running: false });
    await stopInstance(c.dataDir, { mode: 'fast' });
    await stopInstance(c.dataDir, { mode: 'immediate' });
  });

  it('reports PORT_IN_USE when the port is taken, and leaves nothing running', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const err = await startInstance({ ...c, binaries: c.binaries, port }).catch((e: unknown) => e);
      expect(isPgbranchError(err, 'PORT_IN_USE')).toBe(true);
      expect((err as Error).message).toContain(String(port));
      expect((await instanceStatus(c.dataDir)).running).toBe(false);
    } finally {
      blocker.close();
    }
  });

  it('sees a SIGKILLed postmaster as not running, and recovers on the next start', async () => {
    const { pid: victim } = await c.start();
    process.kill(victim, 'SIGKILL');
    await waitFor(async () => ((await instanceStatus(c.dataDir)).running ? undefined : true), { timeoutMs: 5_000, what: 'status to flip' });
    expect(await instanceStatus(c.dataDir)).toMatchObject({ running: false, pid: victim });
    await killInstance(c.dataDir); // nothing left to kill: a no-op
    // Backends notice their postmaster died and exit; make it immediate for the test.
    try {
      process.kill(-victim, 'SIGKILL');
    } catch {
      // already gone
    }
    const { pid: again } = await c.start();
    expect(again).not.toBe(victim);
    expect(await withClient(c.target('app'), async (cl) => (await cl.query('SELECT count(*)::int AS n FROM during_backup')).rows[0].n)).toBe(1);
    await stopInstance(c.dataDir, { mode: 'immediate', timeoutMs: 10_000 });
    expect((await instanceStatus(c.dataDir)).running).toBe(false);
  });

  it('kills an orphan with killInstance', async () => {
    await c.start();
    await killInstance(c.dataDir);
    expect((await instanceStatus(c.dataDir)).running).toBe(false);
  });

  it('explains a postmaster.pid that names another live process (e.g. copied from a running parent)', async () => {
    // A live process of the instance user: PostgreSQL itself then refuses the lock file.
    const holder = spawn('/bin/cat', [], { uid: c.osUser.uid, gid: c.osUser.gid, stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      await waitFor(() => holder.pid, { timeoutMs: 5_000, what: 'cat to start' });
      const pidFile = join(c.dataDir, 'postmaster.pid');
      await writeFile(pidFile, `${holder.pid}\n${c.dataDir}\n1700000000\n${c.port}\n${c.socketDir}\n127.0.0.1\n  0 0\nready   \n`);
      expect((await instanceStatus(c.dataDir)).running).toBe(false);
      const err = await startInstance({ ...c, binaries: c.binaries, port: await findFreePort() }).catch((e: unknown) => e);
      expect(isPgbranchError(err, 'POSTGRES_START_FAILED')).toBe(true);
      expect((err as Error).message).toMatch(new RegExp(`pid ${holder.pid}.*must be removed`));
      await rm(pidFile);
    } finally {
      holder.kill();
    }
  });

  it('reports a start on a missing data directory', async () => {
    const err = await startInstance({ ...c, binaries: c.binaries, dataDir: join(c.root, 'missing') }).catch((e: unknown) => e);
    expect(isPgbranchError(err, 'POSTGRES_START_FAILED')).toBe(true);
  });

  it('explains a data directory the OS user cannot reach', async () => {
    if (process.getuid?.() !== 0) return;
    const root = await traversableTempDir('pgbranch-private-');
    try {
      const closed = join(root, 'closed');
      await mkdir(closed, { mode: 0o700 });
      const err = await initCluster({
        binaries: c.binaries,
        osUser: await ensureOsUser(),
        dataDir: join(closed, 'pgdata'),
        superuserPassword: 'x',
      }).catch((e: unknown) => e);
      expect(isPgbranchError(err, 'PERMISSION_DENIED')).toBe(true);
      expect((err as Error).message).toContain(closed);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
