import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSourcePrimary, type SourcePrimary } from '../postgres/replication/test-support/source-primary.js';
import { waitFor } from '../util/index.js';
import { sql } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';
import { startApiServer, type ApiServer } from './index.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`metrics tests skipped: ${skip}`);

const MIB = 1024 * 1024;

/** Reads one sample value from Prometheus text, e.g. `pgbranch_branches{state="running"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Divergence (own vs shared bytes) and the Prometheus /metrics endpoint, on a real btrfs host. */
describe.skipIf(skip !== undefined)('divergence and /metrics', () => {
  let t: TestHost;
  let api: ApiServer;
  let token: string;

  beforeAll(async () => {
    t = await createTestHost('btrfs');
    api = await startApiServer({ host: t.host, listen: { host: '127.0.0.1', port: 0 } });
    token = (await t.host.createToken({ name: 'prometheus', role: 'read' })).token;
    const main = (await t.host.connectionInfo('main')).url;
    // Shared data every branch starts with.
    await sql(main, "CREATE TABLE base AS SELECT g AS id, repeat('x', 500) AS pad FROM generate_series(1, 40000) g; CHECKPOINT");
    await t.host.createBranch('writer', { origin: { kind: 'parent', parent: 'main' } });
    await t.host.createBranch('untouched', { origin: { kind: 'parent', parent: 'main' } });
  });
  afterAll(async () => {
    await api?.close();
    await t?.cleanup();
  });

  it('own bytes grow with writes to a branch and stay near zero for an untouched one', async () => {
    const before = await t.host.getBranch('writer');
    expect(before.ownBytes).toBeLessThan(MIB);
    const url = (await t.host.connectionInfo('writer')).url;
    await sql(url, "CREATE TABLE fresh AS SELECT g AS id, md5(g::text) || repeat('y', 400) AS pad FROM generate_series(1, 60000) g; CHECKPOINT");
    const after = await t.host.getBranch('writer');
    const untouched = await t.host.getBranch('untouched');
    expect(after.ownBytes! - before.ownBytes!).toBeGreaterThan(20 * MIB);
    expect(untouched.ownBytes).toBeLessThan(MIB);
    expect(untouched.sharedBytes).toBeGreaterThan(15 * MIB);
    expect(untouched.sharedBytes! + untouched.ownBytes!).toBe(untouched.totalBytes);
  });

  it('serves Prometheus metrics to a token only: branch states, operation latencies, own bytes, pool, API requests', async () => {
    expect((await fetch(`${api.url}/metrics`)).status).toBe(401);
    await t.host.stopBranch('untouched');
    const res = await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(sample(text, 'pgbranch_branches{state="running"}')).toBe(2);
    expect(sample(text, 'pgbranch_branches{state="stopped"}')).toBe(1);
    expect(sample(text, 'pgbranch_operation_duration_seconds_count{operation="create",result="ok"}')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'pgbranch_operation_duration_seconds_count{operation="stop",result="ok"}')).toBe(1);
    expect(sample(text, 'pgbranch_branch_own_bytes{branch="writer"}')).toBeGreaterThan(20 * MIB);
    expect(sample(text, 'pgbranch_branch_shared_bytes{branch="untouched"}')).toBeGreaterThan(15 * MIB);
    expect(sample(text, 'pgbranch_pool_bytes{kind="free"}')).toBeGreaterThan(0);
    expect(sample(text, 'pgbranch_api_requests_total{method="GET",route="/metrics",code="401"}')).toBe(1);
    expect(text).not.toContain(token);
  });
});

/** What a following root's source looks like to Prometheus: connected, lag, the history window's cost. */
describe.skipIf(skip !== undefined)('/metrics of a root that follows its source', () => {
  let t: TestHost;
  let api: ApiServer;
  let primary: SourcePrimary;

  beforeAll(async () => {
    primary = await createSourcePrimary(18);
    t = await createTestHost('btrfs');
    api = await startApiServer({ host: t.host, listen: { host: '127.0.0.1', port: 0 } });
    await t.host.createBranch('prod', { origin: { kind: 'source', source: { kind: 'follow', url: primary.url() } } });
  });
  afterAll(async () => {
    await api?.close();
    await t?.cleanup();
    await primary?.destroy();
  });

  it('shows connected, lag and the history window (snapshots, archived WAL, start), never the source password', async () => {
    // The archive starts with the base backup's WAL; a write, a segment switch and a write after
    // it make the standby complete (and archive) one more.
    await primary.sql("INSERT INTO t (id, pad) VALUES (1, 'before the switch')");
    await primary.sql('SELECT pg_switch_wal()');
    await primary.sql("INSERT INTO t (id, pad) VALUES (2, 'after the switch')");
    await waitFor(async () => ((await t.host.sourceStatus('prod')).follow?.history.archiveBytes ?? 0) > 0 || undefined, {
      timeoutMs: 30_000,
      what: 'a WAL segment in the archive',
    });
    const token = (await t.host.createToken({ name: 'prometheus', role: 'read' })).token;
    const text = await (await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(sample(text, 'pgbranch_source_connected{branch="prod"}')).toBe(1);
    expect(sample(text, 'pgbranch_source_lag_bytes{branch="prod"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'pgbranch_source_history_bytes{branch="prod",kind="wal"}')).toBeGreaterThan(0);
    expect(sample(text, 'pgbranch_source_history_bytes{branch="prod",kind="snapshots"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'pgbranch_source_history_start_seconds{branch="prod"}')).toBeGreaterThan(Date.now() / 1000 - 3600);
    expect(text).not.toContain(primary.replPassword);
  });
});
