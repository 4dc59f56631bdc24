import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgbranchError } from '../../errors.js';
import { run, waitFor } from '../../util/index.js';
import {
  baseBackup,
  checkReplicationSource,
  configureRecoveryTarget,
  configureStandby,
  connect,
  createSourceSlot,
  detachFromSource,
  dropSourceSlot,
  findFreePort,
  lsnDiff,
  parseReplicationSource,
  prepareDirectory,
  promote,
  readAutoConf,
  runRecovery,
  sourceStatus,
  standbyStatus,
  startInstance,
  stopInstance,
  writePassfile,
  type BaseBackupResult,
  type Client,
  type ImportProgress,
  type StartOptions,
} from '../index.js';
import { traversableTempDir } from '../test-support/instance-fixture.js';
import { createSourcePrimary, startWriter, waitForRow, type SourcePrimary } from './test-support/source-primary.js';

/** Copies a stopped data directory keeping owners and modes (what a CoW snapshot would give). */
async function coldCopy(from: string, to: string): Promise<void> {
  await run('cp', ['-a', from, to], { timeoutMs: 60_000 });
}

/** 18 and 16 always; others (e.g. 14, 15, 17) when their binaries are installed: PGBRANCH_TEST_EXTRA_MAJORS=14,15 */
const MAJORS = [18, 16, ...(process.env.PGBRANCH_TEST_EXTRA_MAJORS ?? '').split(',').filter(Boolean).map(Number)];

describe.each(MAJORS)('following a PostgreSQL %i source', (major) => {
  let primary: SourcePrimary;
  let work: string;
  let standbyDir: string;
  let archiveDir: string;
  let snapshotDir: string;
  let standby: Omit<StartOptions, 'dataDir'> & { dataDir: string };
  let standbyClient: Client | undefined;
  let backup: BaseBackupResult;
  const extraDirs: string[] = [];

  beforeAll(async () => {
    primary = await createSourcePrimary(major);
    work = await traversableTempDir(`pgbranch-replication-${major}-`);
    standbyDir = join(work, 'standby');
    archiveDir = join(work, 'archive');
    snapshotDir = join(work, 'snapshot');
    const socketDir = join(work, 'sock');
    await prepareDirectory(socketDir, primary.cluster.osUser, 0o700);
    standby = {
      binaries: primary.cluster.binaries,
      dataDir: standbyDir,
      osUser: primary.cluster.osUser,
      logFile: join(work, 'standby.log'),
      socketDir,
      port: await findFreePort(),
    };
  });

  afterAll(async () => {
    await standbyClient?.end().catch(() => undefined);
    for (const dir of [standbyDir, ...extraDirs]) await stopInstance(dir, { mode: 'immediate', timeoutMs: 10_000 }).catch(() => undefined);
    await primary?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const source = () => parseReplicationSource(primary.url());

  it('passes the preflight', async () => {
    const check = await checkReplicationSource(source());
    expect(check.major).toBe(major);
    expect(check.systemId).toMatch(/^\d+$/);
    expect(check.timeline).toBe(1);
    expect(check.settings).toMatchObject({ walLevel: 'replica', maxWalSenders: 10, maxConnections: 60, blockSize: 8192 });
  });

  it('takes a base backup while the primary is being written to', async () => {
    const writer = startWriter(primary);
    await waitFor(() => (writer.committed() > 20 ? true : undefined), { timeoutMs: 20_000, what: 'the writer to get going' });
    const progress: ImportProgress[] = [];
    const before = writer.committed();
    backup = await baseBackup({
      source: source(),
      dataDir: standbyDir,
      osUser: primary.cluster.osUser,
      onProgress: (p) => progress.push(p),
      noSync: true,
    });
    const during = writer.committed() - before;
    const ids = await writer.stop();
    expect(during).toBeGreaterThan(0);
    expect(backup.major).toBe(major);
    expect(lsnDiff(backup.endLsn, backup.startLsn)).toBeGreaterThan(0);
    const copy = progress.filter((p) => p.phase === 'copy');
    expect(copy.length).toBeGreaterThan(0);
    expect(copy.at(-1)!.total).toBeGreaterThan(1_000_000);
    expect(backup.bytes).toBeGreaterThan(1_000_000);

    const st = await stat(standbyDir);
    expect(st.mode & 0o777).toBe(0o700);
    expect(st.uid).toBe(primary.cluster.osUser.uid);
    const files = await readdir(standbyDir);
    expect(files).toEqual(expect.arrayContaining(['PG_VERSION', 'backup_label', 'global', 'base', 'pg_wal']));
    expect((await stat(join(standbyDir, 'global', 'pg_control'))).uid).toBe(primary.cluster.osUser.uid);
    const wal = (await readdir(join(standbyDir, 'pg_wal'))).filter((f) => /^[0-9A-F]{24}$/.test(f));
    expect(wal.length).toBeGreaterThan(0);
    expect(ids.length).toBeGreaterThan(during);
  });

  it('starts the copy as a hot standby that follows the primary', async () => {
    const passfile = join(work, 'standby.pgpass');
    await writePassfile(passfile, source(), primary.cluster.osUser);
    expect((await stat(passfile)).mode & 0o777).toBe(0o600);
    // A slot keeps WAL on the source while the standby is away; a throwaway one shows the drop.
    await createSourceSlot(source(), 'pgbranch_root');
    await createSourceSlot(source(), 'pgbranch_throwaway');
    await dropSourceSlot(source(), 'pgbranch_throwaway');
    expect((await primary.sql<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots')).map((r) => r.slot_name)).toEqual(['pgbranch_root']);
    await configureStandby(standbyDir, {
      source: source(),
      passfile,
      slotName: 'pgbranch_root',
      sourceSettings: backup.settings,
      major: backup.major,
      archiveDir,
      osUser: primary.cluster.osUser,
      settings: { wal_retrieve_retry_interval: "'200ms'" },
    });
    const conf = await readAutoConf(standbyDir);
    expect(conf.get('primary_conninfo')).toContain('passfile=');
    expect(conf.get('max_connections')).toBe('60');
    for (const file of ['postgresql.auto.conf', 'postgresql.conf']) {
      expect(await readFile(join(standbyDir, file), 'utf8')).not.toContain(primary.replPassword);
    }

    await startInstance({ ...standby, dataDir: standbyDir });
    standbyClient = await connect({ socketDir: standby.socketDir, port: standby.port, user: 'postgres', database: 'postgres' });
    expect((await standbyClient.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(true);
    // The backup is consistent: every row the writer committed before the backup ended is there.
    const { rows } = await standbyClient.query<{ n: string }>('SELECT count(*) AS n FROM filler');
    expect(Number(rows[0]!.n)).toBe(20000);

    await primary.sql("INSERT INTO t (id, pad) VALUES (1, 'after the backup')");
    await waitForRow(standbyClient, 'SELECT EXISTS (SELECT 1 FROM t WHERE id = 1)', [], 'row 1 on the standby');
    const [slot] = await primary.sql<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = 'pgbranch_root'");
    expect(slot?.active).toBe(true);
    const ps = await run('ps', ['-eo', 'args'], { timeoutMs: 10_000 });
    expect(ps.stdout).not.toContain(primary.replPassword);
  });

  it('reports its lag, in bytes against the source too', async () => {
    const client = standbyClient!;
    await waitFor(async () => ((await standbyStatus(client)).walReceiver.connected ? true : undefined), { timeoutMs: 30_000, what: 'the WAL receiver' });
    await client.query('SELECT pg_wal_replay_pause()');
    await primary.sql("INSERT INTO t (id, pad) SELECT g, 'lag' FROM generate_series(2, 2000) AS g");
    const lagging = await waitFor(
      async () => {
        const s = await standbyStatus(client);
        return s.lagBytes !== null && s.lagBytes > 0 ? s : undefined;
      },
      { timeoutMs: 30_000, what: 'received but unreplayed WAL' },
    );
    expect(lagging.inRecovery).toBe(true);
    expect(lagging.walReceiver).toMatchObject({ connected: true, status: 'streaming', senderHost: '127.0.0.1', senderPort: primary.cluster.port });
    expect(lagging.lagSeconds).toBeGreaterThan(0);
    expect(lagging.lastReplayedTransactionAt).toBeInstanceOf(Date);
    const src = await sourceStatus(source());
    expect(src.systemId).toBe(backup.systemId);
    expect(lsnDiff(src.walLsn, lagging.replayLsn!)).toBeGreaterThan(0);

    await client.query('SELECT pg_wal_replay_resume()');
    await waitForRow(client, 'SELECT EXISTS (SELECT 1 FROM t WHERE id = 2000)', [], 'replay to resume');
    const caughtUp = await waitFor(
      async () => {
        const s = await standbyStatus(client);
        return s.lagBytes === 0 ? s : undefined;
      },
      { timeoutMs: 30_000, what: 'the standby to catch up' },
    );
    expect(caughtUp.lagSeconds).toBe(0);
  });

  it('keeps serving reads while the primary is down and catches up when it is back', async () => {
    const client = standbyClient!;
    await primary.kill();
    const down = await waitFor(
      async () => {
        const s = await standbyStatus(client);
        return s.walReceiver.connected ? undefined : s;
      },
      { timeoutMs: 30_000, what: 'the standby to notice' },
    );
    expect(down.walReceiver.connected).toBe(false);
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM t WHERE id BETWEEN 1 AND 2000');
    expect(Number(rows[0]!.n)).toBe(2000);

    await primary.start();
    await primary.sql("INSERT INTO t (id, pad) VALUES (3000, 'after the outage')");
    await waitForRow(client, 'SELECT EXISTS (SELECT 1 FROM t WHERE id = 3000)', [], 'row 3000 after the outage', 60_000);
    await waitFor(async () => ((await standbyStatus(client)).walReceiver.connected ? true : undefined), { timeoutMs: 30_000, what: 'reconnection' });
  });

  it('archives completed WAL segments', async () => {
    const [row] = await primary.sql<{ file: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS file');
    const file = row!.file;
    await primary.sql('SELECT pg_switch_wal()');
    await waitFor(async () => ((await readdir(archiveDir).catch(() => [] as string[])).includes(file) ? true : undefined), {
      timeoutMs: 30_000,
      what: `${file} in the archive`,
    });
    const st = await stat(join(archiveDir, file));
    expect(st.size).toBe(backup.settings.walSegmentSize);
    expect(st.uid).toBe(primary.cluster.osUser.uid);
    // The temp copy is removed right after the link (the archiver may be busy with the next segment).
    await waitFor(async () => ((await readdir(archiveDir)).some((f) => f.startsWith(`.${file}.tmp`)) ? undefined : true), {
      timeoutMs: 10_000,
      what: 'the temp copy to go',
    });
  });

  let target: string;
  let expectedIds: number[];

  it('recovers a cold snapshot to a point in time from the archive', async () => {
    // The snapshot: the standby stopped cleanly, copied, started again.
    await standbyClient!.end();
    standbyClient = undefined;
    await stopInstance(standbyDir, { mode: 'fast', timeoutMs: 30_000 });
    await coldCopy(standbyDir, snapshotDir);
    await startInstance({ ...standby, dataDir: standbyDir });
    standbyClient = await connect({ socketDir: standby.socketDir, port: standby.port, user: 'postgres', database: 'postgres' });

    // Commits after the snapshot, ~10 ms apart, with their commit times.
    const writer = await primary.client();
    try {
      await writer.query('CREATE TABLE pitr (id int PRIMARY KEY)');
      for (let id = 1; id <= 30; id++) {
        await writer.query('INSERT INTO pitr VALUES ($1)', [id]);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const { rows } = await writer.query<{ id: number; at: string }>('SELECT id, pg_xact_commit_timestamp(xmin)::text AS at FROM pitr ORDER BY id');
      const k = 17;
      const mid = await writer.query<{ t: string }>('SELECT ($1::timestamptz + ($2::timestamptz - $1::timestamptz) / 2)::text AS t', [rows[k - 1]!.at, rows[k]!.at]);
      target = mid.rows[0]!.t;
      const upToTarget = await writer.query<{ id: number }>('SELECT id FROM pitr WHERE pg_xact_commit_timestamp(xmin) <= $1 ORDER BY id', [target]);
      expectedIds = upToTarget.rows.map((r) => r.id);
      expect(expectedIds).toEqual(Array.from({ length: k }, (_, i) => i + 1));
      const { rows: seg } = await writer.query<{ file: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS file');
      await writer.query('SELECT pg_switch_wal()');
      await waitFor(async () => ((await readdir(archiveDir)).includes(seg[0]!.file) ? true : undefined), {
        timeoutMs: 30_000,
        what: 'the PITR segment in the archive',
      });
    } finally {
      await writer.end();
    }

    const pitrDir = join(work, 'pitr');
    extraDirs.push(pitrDir);
    await coldCopy(snapshotDir, pitrDir);
    await configureRecoveryTarget(pitrDir, { target: { kind: 'time', time: target }, archiveDir });
    const port = await findFreePort();
    await runRecovery({ ...standby, dataDir: pitrDir, port, logFile: join(work, 'pitr.log') });
    const client = await connect({ socketDir: standby.socketDir, port, user: 'postgres', database: 'postgres' });
    try {
      const { rows } = await client.query<{ id: number }>('SELECT id FROM pitr ORDER BY id');
      expect(rows.map((r) => r.id)).toEqual(expectedIds);
      expect((await client.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(false);
      await client.query('INSERT INTO pitr VALUES (1000)');
    } finally {
      await client.end();
    }
    const conf = await readAutoConf(pitrDir);
    expect(conf.has('recovery_target_time')).toBe(false);
    expect(conf.get('archive_mode')).toBe('off');
    // The branch's new timeline stays out of the shared archive.
    expect((await readdir(archiveDir)).filter((f) => f.endsWith('.history'))).toEqual([]);
  });

  it('says so when the archive does not reach the recovery target', async () => {
    const dir = join(work, 'pitr-late');
    extraDirs.push(dir);
    await coldCopy(snapshotDir, dir);
    const late = new Date(Date.now() + 3_600_000);
    await configureRecoveryTarget(dir, { target: { kind: 'time', time: late }, archiveDir });
    const err = await runRecovery({ ...standby, dataDir: dir, port: await findFreePort(), logFile: join(work, 'pitr-late.log') }).catch((e: unknown) => e);
    expect(isPgbranchError(err, 'RECOVERY_TARGET_NOT_REACHED')).toBe(true);
  });

  it('promotes a detached clone of the standby to a primary on a new timeline', async () => {
    const dir = join(work, 'clone');
    extraDirs.push(dir);
    await coldCopy(snapshotDir, dir);
    await detachFromSource(dir, { major });
    const port = await findFreePort();
    const logFile = join(work, 'clone.log');
    await startInstance({ ...standby, dataDir: dir, port, logFile });
    await promote({ dataDir: dir, binaries: standby.binaries, osUser: standby.osUser, logFile });
    const client = await connect({ socketDir: standby.socketDir, port, user: 'postgres', database: 'postgres' });
    try {
      expect((await client.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(false);
      const { rows } = await client.query<{ file: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS file');
      expect(rows[0]!.file.slice(0, 8)).toBe('00000002');
      await client.query("INSERT INTO t (id, pad) VALUES (-1, 'written on the branch')");
    } finally {
      await client.end();
    }
    expect((await readdir(archiveDir)).filter((f) => f.endsWith('.history'))).toEqual([]);

    // A base backup of a server on timeline 2 carries the timeline's history file.
    const again = join(work, 'backup-of-clone');
    extraDirs.push(again);
    const cloneSource = parseReplicationSource(`postgres://repl:${encodeURIComponent(primary.replPassword)}@127.0.0.1:${port}/x?sslmode=disable`);
    // Also the default path that flushes the copy to disk at the end.
    const result = await baseBackup({ source: cloneSource, dataDir: again, osUser: standby.osUser });
    expect(result.timeline).toBe(2);
    expect(result.systemId).toBe(backup.systemId);
    expect(await readdir(join(again, 'pg_wal'))).toContain('00000002.history');
    // The followed standby is untouched by its clone.
    const { rows } = await standbyClient!.query('SELECT pg_is_in_recovery() AS r, EXISTS (SELECT 1 FROM t WHERE id = -1) AS leaked');
    expect(rows[0]).toEqual({ r: true, leaked: false });
  });
});
