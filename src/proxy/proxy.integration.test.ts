import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';
import { waitFor } from '../util/index.js';
import { createProxyServer, ensureCertificate, type ProxyServer } from './index.js';
import { RawClient, errorText, sendRawCancel } from './test-support/raw-client.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`endpoint integration tests skipped: ${skip}`);

const PSQL = '/usr/bin/psql';
const PGBENCH = '/usr/bin/pgbench';
const JDBC_JAR = '/usr/share/java/postgresql.jar';
/** Debian's python (apt's python3-psycopg), not whatever python3 comes first on PATH. */
const PYTHON = '/usr/bin/python3';
const hasPsycopg = spawnSync(PYTHON, ['-c', 'import psycopg'], { stdio: 'ignore' }).status === 0;
const hasJdbc = existsSync(JDBC_JAR) && spawnSync('java', ['-version'], { stdio: 'ignore' }).status === 0;
if (!hasPsycopg) console.warn('psycopg client test skipped: python3-psycopg is not installed');
if (!hasJdbc) console.warn('JDBC client test skipped: java or libpostgresql-jdbc-java is not installed');

/** Two branches with different data, used by every client at once. */
const BRANCHES = ['pr-1', 'feature/x.y'] as const;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** libpq tools see none of the caller's PG* variables. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return { ...env, ...extra };
}

function runTool(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; onSpawn?: (kill: (s: NodeJS.Signals) => void) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: cleanEnv(options.env), cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    options.onSpawn?.((s) => child.kill(s));
  });
}

describe.skipIf(skip !== undefined)('the Postgres endpoint with real clients (btrfs host)', () => {
  let t: TestHost;
  let proxy: ProxyServer;
  let port: number;
  let dir: string;
  let certFile: string;
  const passwords = new Map<string, string>();

  const password = (branch: string): string => passwords.get(branch)!;
  const url = (branch: string, query = '', pw = password(branch)): string =>
    `postgresql://${encodeURIComponent(`postgres.${branch}`)}:${encodeURIComponent(pw)}@127.0.0.1:${port}/app${query}`;
  const psql = (target: string, ...args: string[]): Promise<Run> => runTool(PSQL, ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', target, ...args]);
  const client = (branch: string, extra: Partial<pg.ClientConfig> = {}): pg.Client => {
    const c = new pg.Client({ connectionString: url(branch), connectionTimeoutMillis: 20_000, ...extra });
    c.on('error', () => undefined);
    return c;
  };
  const queryOnce = async <T extends pg.QueryResultRow>(branch: string, text: string, extra: Partial<pg.ClientConfig> = {}): Promise<T[]> => {
    const c = client(branch, extra);
    await c.connect();
    try {
      return (await c.query<T>(text)).rows;
    } finally {
      await c.end();
    }
  };
  const connectError = async (config: pg.ClientConfig): Promise<{ code?: string; message: string }> => {
    const c = new pg.Client({ connectionTimeoutMillis: 20_000, ...config });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.end();
    } catch (err) {
      return err as { code?: string; message: string };
    }
    throw new Error('connected, but an error was expected');
  };

  beforeAll(async () => {
    t = await createTestHost('btrfs', { serve: { proxy: { host: '127.0.0.1', port: 0 } } });
    await sql((await t.host.connectionInfo('main')).url, "CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items VALUES (1, 'main')");
    for (const name of [...BRANCHES, 'pr-2', 'halted', 'sleepy']) {
      await t.host.createBranch(name, { origin: { kind: 'parent', parent: 'main' } });
      const info = await t.host.connectionInfo(name);
      passwords.set(name, info.password);
      await sql(info.url, 'UPDATE items SET label = $1', [`only in ${name}`]);
    }
    dir = mkdtempSync(join(tmpdir(), 'pgbranch-endpoint-'));
    const cert = await ensureCertificate({
      certFile: join(dir, 'server.crt'),
      keyFile: join(dir, 'server.key'),
      hostNames: ['localhost', '*.localhost'],
      ips: ['127.0.0.1'],
    });
    certFile = cert.certFile;
    proxy = createProxyServer({ router: t.host, tls: cert, publicHost: 'localhost', drainTimeoutMs: 5_000 });
    port = await proxy.listen('127.0.0.1', 0);
    t.host.setBoundEndpoint(port);
  });

  afterAll(async () => {
    await proxy?.close();
    await t?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('connectionInfo gives the endpoint URL with the routing user name', async () => {
    const info = await t.host.connectionInfo('pr-1');
    expect(info.endpoint).toEqual({ host: 'localhost', port, user: 'postgres.pr-1', url: `postgresql://postgres.pr-1:${info.password}@localhost:${port}/app` });
  });

  describe('psql (libpq 15)', () => {
    it('queries both branches at once, in plain text and in TLS (sslmode=require)', async () => {
      const runs = await Promise.all(
        BRANCHES.flatMap((b) => [
          psql(url(b, '?sslmode=disable'), '-c', 'SELECT label, current_user, current_database() FROM items WHERE id = 1'),
          psql(url(b, '?sslmode=require'), '-c', 'SELECT label FROM items WHERE id = 1', '-c', '\\conninfo'),
        ]),
      );
      for (const [i, b] of BRANCHES.entries()) {
        const plain = runs[2 * i]!;
        const secure = runs[2 * i + 1]!;
        expect(plain.code, plain.stderr).toBe(0);
        expect(plain.stdout.trim()).toBe(`only in ${b}|postgres|app`);
        expect(secure.code, secure.stderr).toBe(0);
        expect(secure.stdout).toContain(`only in ${b}`);
        expect(secure.stdout).toMatch(/SSL connection \(protocol: TLSv1\.3/);
      }
    });

    it('\\copy in and out through the endpoint, both branches at once', async () => {
      await Promise.all(
        BRANCHES.map(async (b, i) => {
          const inFile = join(dir, `in-${i}.csv`);
          const outFile = join(dir, `out-${i}.csv`);
          const rows = Array.from({ length: 5000 }, (_, n) => `${n + 100},${b} row ${n}`);
          writeFileSync(inFile, `${rows.join('\n')}\n`);
          const r = await psql(url(b), '-c', `\\copy items (id, label) FROM '${inFile}' CSV`, '-c', `\\copy (SELECT id, label FROM items WHERE id >= 100 ORDER BY id) TO '${outFile}' CSV`);
          expect(r.code, r.stderr).toBe(0);
          expect(r.stdout).toContain('COPY 5000');
          expect(readFileSync(outFile, 'utf8')).toBe(`${rows.join('\n')}\n`);
        }),
      );
    });

    it('routes by TLS server name with a plain role, verifying the certificate (sslmode=verify-full)', async () => {
      const target = `host=pr-1.localhost hostaddr=127.0.0.1 port=${port} user=postgres dbname=app sslmode=verify-full sslrootcert=${certFile}`;
      const r = await runTool(PSQL, ['-X', '-A', '-t', '-d', target, '-c', 'SELECT label FROM items WHERE id = 1'], { env: { PGPASSWORD: password('pr-1') } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('only in pr-1');
    });

    it('psql\'s Ctrl-C cancel (libpq PQcancel) reaches the right backend, and only it', async () => {
      const sleepers = async (b: string): Promise<number> =>
        (await queryOnce<{ n: number }>(b, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"))[0]!.n;
      const kills = new Map<string, (s: NodeJS.Signals) => void>();
      const started = Date.now();
      const runs = ['pr-1', 'pr-2'].map((b) => runTool(PSQL, ['-X', '-d', url(b), '-c', 'SELECT pg_sleep(30)'], { onSpawn: (k) => kills.set(b, k) }));
      await waitFor(async () => ((await sleepers('pr-1')) === 1 && (await sleepers('pr-2')) === 1 ? true : undefined), {
        timeoutMs: 20_000,
        intervalMs: 100,
        what: 'pg_sleep to run on both branches',
      });
      kills.get('pr-2')!('SIGINT');
      const cancelled = await runs[1]!;
      expect(cancelled.code).toBe(1);
      expect(cancelled.stderr).toContain('canceling statement due to user request');
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(await sleepers('pr-1')).toBe(1);
      kills.get('pr-1')!('SIGINT');
      expect((await runs[0]!).stderr).toContain('canceling statement due to user request');
    });

    it('reports an unknown branch as FATAL 3D000 and a user name without branch as 28000, in plain text and in TLS', async () => {
      for (const mode of ['disable', 'require']) {
        const r = await psql(`postgresql://postgres.nope:x@127.0.0.1:${port}/app?sslmode=${mode}`, '-c', 'SELECT 1');
        expect(r.code).toBe(2);
        expect(r.stderr).toContain('FATAL:  branch "nope" does not exist');
        const noBranch = await psql(`postgresql://postgres:x@127.0.0.1:${port}/app?sslmode=${mode}`, '-c', 'SELECT 1');
        expect(noBranch.stderr).toContain('FATAL:  no branch in user name "postgres"');
        expect(noBranch.stderr).toContain('HINT:  connect as "<role>.<branch>"');
      }
    });
  });

  describe('node-postgres', () => {
    it('prepared statements on both branches at once', async () => {
      await Promise.all(
        BRANCHES.map(async (b) => {
          const c = client(b);
          await c.connect();
          try {
            for (let i = 0; i < 50; i++) {
              const { rows } = await c.query<{ label: string; n: number }>({ name: 'by-id', text: 'SELECT label, $1::int + 1 AS n FROM items WHERE id = $2', values: [i, 1] });
              expect(rows).toEqual([{ label: `only in ${b}`, n: i + 1 }]);
            }
            const { rows } = await c.query<{ pid: number; n: string }>('SELECT pg_backend_pid() AS pid, count(*) AS n FROM pg_prepared_statements');
            expect(rows[0]!.n).toBe('1');
            // The endpoint passes the backend's real pid (only the cancel secret is its own).
            expect((c as unknown as { processID: number }).processID).toBe(rows[0]!.pid);
          } finally {
            await c.end();
          }
        }),
      );
    });

    it('keeps every byte of large transfers both ways, also while the client stops reading (plain and TLS)', async () => {
      const direct = (await t.host.connectionInfo('pr-2')).url;
      for (const ssl of [false, { rejectUnauthorized: false }] as const) {
        const c = client('pr-2', { ssl });
        await c.connect();
        try {
          // Client to backend: a 6 MB parameter arrives whole.
          const big = randomBytes(3 * 1024 * 1024).toString('hex');
          const [sent] = (await c.query<{ h: string; n: number }>('SELECT md5($1) AS h, length($1) AS n', [big])).rows;
          expect(sent).toEqual({ h: createHash('md5').update(big).digest('hex'), n: big.length });

          // Backend to client, with the client not reading until the backend is blocked writing:
          // every buffer on the way is full, the relay has had to stop and resume.
          const stream = (c as unknown as { connection: { stream: Socket } }).connection.stream;
          const pid = (c as unknown as { processID: number }).processID;
          stream.pause();
          const rows = c.query<{ i: number; h: string }>('SELECT i, repeat(md5(i::text), 8) AS h FROM generate_series(1, 200000) i');
          await waitFor(async () => ((await sql<{ w: string | null }>(direct, 'SELECT wait_event AS w FROM pg_stat_activity WHERE pid = $1', [pid]))[0]?.w === 'ClientWrite' ? true : undefined), {
            timeoutMs: 30_000,
            intervalMs: 100,
            what: 'the backend to block writing to the endpoint',
          });
          stream.resume();
          const received = (await rows).rows;
          expect(received).toHaveLength(200_000);
          const wrong = received.filter((r, k) => r.i !== k + 1 || r.h !== createHash('md5').update(String(k + 1)).digest('hex').repeat(8));
          expect(wrong).toEqual([]);
        } finally {
          await c.end();
        }
      }
    });

    it('LISTEN/NOTIFY between two endpoint connections, with the notifier\'s real pid', async () => {
      const listener = client('pr-1');
      const notifier = client('pr-1');
      const elsewhere = client('pr-2');
      await Promise.all([listener.connect(), notifier.connect(), elsewhere.connect()]);
      try {
        await listener.query('LISTEN pgbranch_events');
        const received = new Promise<pg.Notification>((resolve) => listener.once('notification', resolve));
        await elsewhere.query("NOTIFY pgbranch_events, 'from another branch'");
        const { rows } = await notifier.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await notifier.query("NOTIFY pgbranch_events, 'hello pr-1'");
        const msg = await received;
        expect(msg.payload).toBe('hello pr-1');
        expect(msg.processId).toBe(rows[0]!.pid);
      } finally {
        await Promise.all([listener.end(), notifier.end(), elsewhere.end()]);
      }
    });

    it('TLS with SNI routing and a plain role name', async () => {
      const rows = await queryOnce<{ label: string }>('pr-2', 'SELECT label FROM items WHERE id = 1', {
        connectionString: undefined,
        host: '127.0.0.1',
        port,
        user: 'postgres',
        password: password('pr-2'),
        database: 'app',
        ssl: { rejectUnauthorized: false, servername: 'pr-2.localhost' },
      });
      expect(rows).toEqual([{ label: 'only in pr-2' }]);
    });

    it('errors carry SQLSTATEs: unknown branch 3D000, wrong password 28P01 (from the branch itself), no branch 28000, stopped 57P03', async () => {
      const base = { host: '127.0.0.1', port, database: 'app' };
      expect(await connectError({ ...base, user: 'postgres.nope', password: 'x' })).toMatchObject({ code: '3D000', message: 'branch "nope" does not exist' });
      expect(await connectError({ ...base, user: 'postgres.pr-1', password: 'wrong' })).toMatchObject({ code: '28P01', message: 'password authentication failed for user "postgres"' });
      expect(await connectError({ ...base, user: 'postgres', password: 'x' })).toMatchObject({ code: '28000' });
      expect(await connectError({ ...base, user: 'postgres.Bad Name', password: 'x' })).toMatchObject({ code: '3D000' });
      await t.host.stopBranch('halted');
      expect(await connectError({ ...base, user: 'postgres.halted', password: password('halted') })).toMatchObject({ code: '57P03', message: 'branch "halted" is stopped' });
      const r = await psql(url('halted'), '-c', 'SELECT 1');
      expect(r.stderr).toContain('FATAL:  branch "halted" is stopped');
      expect(r.stderr).toContain('pgbranch branch start halted');
    });
  });

  describe('postgres.js', () => {
    const open = (branch: string, options: postgres.Options<Record<string, postgres.PostgresType>> = {}) =>
      postgres({ host: '127.0.0.1', port, user: 'postgres', password: password(branch), database: 'app', max: 1, onnotice: () => undefined, ...options });

    it('TLS with SNI routing on both branches at once, and direct TLS (sslnegotiation=direct)', async () => {
      const labels = await Promise.all(
        ['pr-1', 'pr-2'].flatMap((b) => [
          (async () => {
            const db = open(b, { ssl: { rejectUnauthorized: false, servername: `${b}.localhost` } });
            try {
              return (await db<{ label: string }[]>`SELECT label FROM items WHERE id = 1`)[0]!.label;
            } finally {
              await db.end();
            }
          })(),
          (async () => {
            const db = open(b, { ssl: { rejectUnauthorized: false, servername: `${b}.localhost` }, sslnegotiation: 'direct' } as postgres.Options<Record<string, postgres.PostgresType>>);
            try {
              return (await db<{ label: string }[]>`SELECT label FROM items WHERE id = 1`)[0]!.label;
            } finally {
              await db.end();
            }
          })(),
        ]),
      );
      expect(labels).toEqual(['only in pr-1', 'only in pr-1', 'only in pr-2', 'only in pr-2']);
    });

    it('query.cancel() sends a CancelRequest that the endpoint delivers: 57014, quickly', async () => {
      const db = open('pr-1', { ssl: { rejectUnauthorized: false, servername: 'pr-1.localhost' } });
      const watcher = open('pr-1', { user: 'postgres.pr-1' });
      try {
        const started = Date.now();
        const query = db`SELECT pg_sleep(30)`;
        const outcome = query.then(
          () => undefined,
          (err: { code?: string }) => err,
        );
        await waitFor(
          async () => ((await watcher<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'`)[0]!.n === 1 ? true : undefined),
          { timeoutMs: 20_000, intervalMs: 50, what: 'pg_sleep to run' },
        );
        query.cancel();
        const err = await outcome;
        expect(err).toMatchObject({ code: '57014' });
        expect(Date.now() - started).toBeLessThan(10_000);
        // The connection is still good afterwards.
        expect((await db<{ one: number }[]>`SELECT 1 AS one`)[0]!.one).toBe(1);
      } finally {
        await Promise.all([db.end(), watcher.end()]);
      }
    });
  });

  it('protocol 3.2 (PostgreSQL 18): passes the version through, rewrites the 32-byte cancel key and cancels with it', async () => {
    const raw = await RawClient.connect(port);
    const login = await raw.login({ user: 'postgres.pr-1', database: 'app', password: password('pr-1'), protocolVersion: 196610 });
    const negotiated = login.find((m) => m.type === 'v');
    const secretLength = raw.backendKey!.secretKey.length;
    const version = (await raw.query("SELECT current_setting('server_version_num')::int AS v")).find((m) => m.type === 'D')!;
    const major = Math.floor(Number(version.body.subarray(6).toString()) / 10000);
    if (major >= 18) {
      expect(negotiated).toBeUndefined();
      expect(secretLength).toBe(32);
    } else {
      expect(negotiated).toBeDefined();
      expect(secretLength).toBe(4);
    }
    const pid = (await raw.query('SELECT pg_backend_pid()')).find((m) => m.type === 'D')!;
    expect(Number(pid.body.subarray(6).toString())).toBe(raw.backendKey!.processId);
    const sleeping = raw.query('SELECT pg_sleep(30)');
    await waitFor(
      async () => ((await queryOnce<{ n: number }>('pr-1', "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"))[0]!.n === 1 ? true : undefined),
      { timeoutMs: 20_000, intervalMs: 50, what: 'pg_sleep to run' },
    );
    await sendRawCancel(port, raw.backendKey!);
    const error = (await sleeping).find((m) => m.type === 'E')!;
    expect(errorText(error.body)).toBe('57014: canceling statement due to user request');
    raw.close();
  });

  it('pgbench: initialise and run through the endpoint on both branches at once', async () => {
    const bench = (b: string, ...args: string[]) =>
      runTool(PGBENCH, ['-h', '127.0.0.1', '-p', String(port), '-U', `postgres.${b}`, ...args, 'app'], { env: { PGPASSWORD: password(b) } });
    const inits = await Promise.all(BRANCHES.map((b) => bench(b, '-i', '-s', '1', '-q')));
    for (const r of inits) expect(r.code, r.stderr).toBe(0);
    const runs = await Promise.all(BRANCHES.map((b) => bench(b, '-T', '3', '-c', '2', '-n')));
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expect(Number(/tps = ([\d.]+)/.exec(r.stdout)?.[1])).toBeGreaterThan(10);
      expect(r.stdout).toMatch(/number of failed transactions: 0 /);
    }
  });

  it('scale to zero: a connection through the endpoint wakes a suspended branch and its first query succeeds', async () => {
    expect((await t.host.suspendBranch('sleepy')).state).toBe('suspended');
    const started = Date.now();
    const rows = await queryOnce<{ label: string }>('sleepy', 'SELECT label FROM items WHERE id = 1');
    expect(rows).toEqual([{ label: 'only in sleepy' }]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await t.host.getBranch('sleepy')).state).toBe('running');
  });

  it.skipIf(!hasPsycopg)('psycopg 3 (libpq URI, server-side prepared statement, TLS)', async () => {
    const script = [
      'import sys, psycopg',
      'with psycopg.connect(sys.argv[1], prepare_threshold=0) as conn:',
      '    for _ in range(3): row = conn.execute("SELECT label FROM items WHERE id = %s", (1,)).fetchone()',
      '    print(row[0], conn.pgconn.ssl_in_use)',
    ].join('\n');
    const runs = await Promise.all(
      BRANCHES.flatMap((b) => [runTool(PYTHON, ['-c', script, url(b, '?sslmode=disable')]), runTool(PYTHON, ['-c', script, url(b, '?sslmode=require')])]),
    );
    for (const [i, b] of BRANCHES.entries()) {
      expect(runs[2 * i]!.stderr).toBe('');
      expect(runs[2 * i]!.stdout.trim()).toBe(`only in ${b} False`);
      expect(runs[2 * i + 1]!.stdout.trim()).toBe(`only in ${b} True`);
    }
  });

  it.skipIf(!hasJdbc)('JDBC (pgjdbc, server-side prepared statements, sslmode disable and require)', async () => {
    const source = join(dir, 'Probe.java');
    writeFileSync(
      source,
      `import java.sql.*;
public class Probe {
  public static void main(String[] args) throws Exception {
    try (Connection c = DriverManager.getConnection(args[0])) {
      String label = null;
      try (PreparedStatement ps = c.prepareStatement("SELECT label FROM items WHERE id = ?")) {
        for (int i = 0; i < 8; i++) { ps.setInt(1, 1); try (ResultSet rs = ps.executeQuery()) { rs.next(); label = rs.getString(1); } }
      }
      try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_prepared_statements")) { rs.next(); System.out.println(label + "|" + rs.getInt(1)); }
    }
  }
}
`,
    );
    const jdbcUrl = (b: string, sslmode: string) =>
      `jdbc:postgresql://127.0.0.1:${port}/app?user=${encodeURIComponent(`postgres.${b}`)}&password=${encodeURIComponent(password(b))}&sslmode=${sslmode}`;
    const runs = await Promise.all(
      BRANCHES.map((b, i) => runTool('java', ['-cp', JDBC_JAR, source, jdbcUrl(b, i === 0 ? 'disable' : 'require')], { cwd: dir })),
    );
    for (const [i, b] of BRANCHES.entries()) {
      expect(runs[i]!.code, runs[i]!.stderr).toBe(0);
      expect(runs[i]!.stdout.trim()).toBe(`only in ${b}|1`);
    }
  });

  it('counts connections while open and none once every client is gone', async () => {
    const c = client('pr-1');
    await c.connect();
    expect(proxy.connections()).toBeGreaterThanOrEqual(1);
    await c.end();
    await waitFor(() => (proxy.connections() === 0 ? true : undefined), { timeoutMs: 10_000, what: 'all endpoint connections to close' });
  });
});
