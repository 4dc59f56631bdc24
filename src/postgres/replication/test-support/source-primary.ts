import { appendFile } from 'node:fs/promises';
import type pg from 'pg';
import { waitFor } from '../../../util/index.js';
import { connect, killInstance, quoteIdent, quoteLiteral, setRolePassword, startInstance, stopInstance, withClient, type Client, type PgBinaries } from '../../index.js';
import { createTestCluster, type TestCluster } from '../../test-support/instance-fixture.js';

export interface SourcePrimary {
  readonly cluster: TestCluster;
  /** Password of the replication roles (distinctive, so tests can assert it never leaks). */
  readonly replPassword: string;
  /** postgres://repl:…@127.0.0.1:port/postgres?sslmode=disable */
  url(user?: string, password?: string): string;
  start(settings?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  client(): Promise<Client>;
  sql<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  destroy(): Promise<void>;
}

/** Settings of a "production" primary that can feed standbys. */
export const PRIMARY_SETTINGS: Record<string, string> = {
  wal_level: 'replica',
  max_wal_senders: '10',
  max_replication_slots: '10',
  track_commit_timestamp: 'on',
  // More than the copy's postgresql.conf says: the standby must read it from the source.
  max_connections: '60',
  // Small segments would be nicer, but wal_segment_size is fixed at initdb; pg_switch_wal() serves.
};

/**
 * A source primary on loopback: roles `repl` (REPLICATION, SCRAM password, host replication
 * line), `norepl` (a replication line but no REPLICATION attribute) and `nohba` (REPLICATION but
 * no replication line). `binaries` runs it from binaries pgbranch does not resolve itself.
 */
export async function createSourcePrimary(major: number, options: { binaries?: PgBinaries } = {}): Promise<SourcePrimary> {
  const cluster = await createTestCluster({ major, ...options });
  const replPassword = `Sup3r-s3cret:${Math.random().toString(36).slice(2)}`;
  await appendFile(
    `${cluster.dataDir}/pg_hba.conf`,
    [
      'host replication repl 127.0.0.1/32 scram-sha-256',
      'host replication norepl 127.0.0.1/32 scram-sha-256',
      'host replication md5user 127.0.0.1/32 md5',
      'host replication pwuser 127.0.0.1/32 password',
      'host replication trustuser 127.0.0.1/32 trust',
      '',
    ].join('\n'),
  );
  let current: Record<string, string> = PRIMARY_SETTINGS;
  const primary: SourcePrimary = {
    cluster,
    replPassword,
    url: (user = 'repl', password = replPassword) =>
      `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${cluster.port}/postgres?sslmode=disable&connect_timeout=10`,
    async start(settings = current) {
      current = settings;
      await startInstance({
        binaries: cluster.binaries,
        dataDir: cluster.dataDir,
        osUser: cluster.osUser,
        logFile: cluster.logFile,
        socketDir: cluster.socketDir,
        port: cluster.port,
        settings,
      });
    },
    stop: () => stopInstance(cluster.dataDir, { mode: 'fast', timeoutMs: 15_000 }),
    kill: () => killInstance(cluster.dataDir),
    client: () => connect(cluster.target('postgres')),
    sql: async <T extends pg.QueryResultRow>(text: string, params: unknown[] = []) =>
      withClient(cluster.target('postgres'), async (c) => (await c.query<T>(text, params)).rows),
    destroy: () => cluster.destroy(),
  };
  await primary.start();
  await withClient(cluster.target('postgres'), async (c) => {
    for (const [role, attrs] of [
      ['repl', 'LOGIN REPLICATION'],
      ['norepl', 'LOGIN'],
      ['nohba', 'LOGIN REPLICATION'],
    ] as const) {
      await c.query(`CREATE ROLE ${quoteIdent(role)} ${attrs}`);
      await setRolePassword(c, role, replPassword);
    }
    // Other authentication methods (test-only: an md5 hash needs the plaintext sent to the server).
    await c.query('CREATE ROLE pwuser LOGIN REPLICATION');
    await setRolePassword(c, 'pwuser', replPassword);
    await c.query('CREATE ROLE trustuser LOGIN REPLICATION');
    await c.query("SET password_encryption = 'md5'");
    await c.query(`CREATE ROLE md5user LOGIN REPLICATION PASSWORD ${quoteLiteral(replPassword)}`);
    await c.query('RESET password_encryption');
    await c.query('CREATE TABLE t (id bigint PRIMARY KEY, pad text, at timestamptz NOT NULL DEFAULT clock_timestamp())');
    // Some data so that the backup has something to copy while writes go on.
    await c.query("CREATE TABLE filler AS SELECT g AS id, repeat('f', 500) AS pad FROM generate_series(1, 20000) AS g");
  });
  return primary;
}

/** Inserts rows into `t` in a loop on its own connection until stopped. */
export function startWriter(primary: SourcePrimary, options: { firstId?: number } = {}): { stop(): Promise<number[]>; committed(): number } {
  let stopped = false;
  const ids: number[] = [];
  let next = options.firstId ?? 1_000_000;
  const done = (async () => {
    const client = await primary.client();
    try {
      while (!stopped) {
        const id = next++;
        await client.query("INSERT INTO t (id, pad) VALUES ($1, repeat('w', 2000))", [id]);
        ids.push(id);
      }
    } finally {
      await client.end();
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return ids;
    },
    committed: () => ids.length,
  };
}

/** Waits until `check` (a query on the given client) returns a truthy first column. */
export async function waitForRow(client: Client, sql: string, params: unknown[], what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const { rows } = await client.query<{ ok: unknown }>(sql, params);
      return rows[0] && Object.values(rows[0])[0] ? true : undefined;
    },
    { timeoutMs, intervalMs: 50, what },
  );
}
