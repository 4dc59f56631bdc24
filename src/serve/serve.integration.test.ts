import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceStatus } from '../postgres/index.js';
import { createTestHost, testPoolSkipReason, type CliResult, type TestHost } from '../test-support/test-host.js';
import { waitFor } from '../util/index.js';

const REPO = resolve(import.meta.dirname, '../..');
const built = existsSync(join(REPO, 'dist', 'cli', 'index.js'));
const skip = (await testPoolSkipReason('btrfs')) ?? (built ? undefined : 'dist/ missing: run `npm run build` (npm test does)');
if (skip) console.warn(`serve tests skipped: ${skip}`);

/**
 * `pgbranch serve` as a real process: the CLI in remote mode against it, scale to zero through
 * the endpoint, secrets kept out of every log, graceful shutdown.
 */
describe.skipIf(skip !== undefined)('pgbranch serve', () => {
  let t: TestHost;
  let server: ChildProcessWithoutNullStreams;
  let serverLog = '';
  let apiUrl: string;
  let adminToken: string;
  const secrets = new Set<string>();

  /** The CLI in remote mode: same commands, through the API. */
  const remote = (token: string, ...args: string[]): Promise<CliResult> => t.cliWithEnv({ PGBRANCH_API_URL: apiUrl, PGBRANCH_TOKEN: token }, ...args);

  beforeAll(async () => {
    t = await createTestHost('btrfs', {
      serve: { api: { host: '127.0.0.1', port: 0 }, proxy: { host: '127.0.0.1', port: 0 }, idleTimeoutMs: 2_000 },
    });
    adminToken = (await t.host.createToken({ name: 'test-admin', role: 'admin' })).token;
    secrets.add(adminToken);
    t.host.close();
    server = spawn(process.execPath, [join(REPO, 'bin', 'pgbranch.js'), '--home', t.home, 'serve', '-o', 'json'], {
      env: { ...process.env, PGBRANCH_LOG_LEVEL: 'debug' },
    });
    let stdout = '';
    server.stdout.on('data', (d) => (stdout += String(d)));
    server.stderr.on('data', (d) => (serverLog += String(d)));
    const ready = await waitFor(() => (stdout.includes('}') ? (JSON.parse(stdout) as { api: string; endpoint: string }) : undefined), {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: 'pgbranch serve to print its addresses',
    });
    apiUrl = ready.api;
    t.host = await (await import('../branches/index.js')).Host.open({ home: t.home });
  });

  afterAll(async () => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    await t?.cleanup();
  });

  it('serves health without a token and nothing else', async () => {
    expect((await fetch(`${apiUrl}/v1/health`)).status).toBe(200);
    const denied = await fetch(`${apiUrl}/v1/branches`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('content-type')).toContain('application/problem+json');
  });

  it('the CLI gives the same output in remote mode as in-process', async () => {
    const created = await remote(adminToken, 'branch', 'create', 'pr-1', '--from', 'main', '-o', 'json');
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'pr-1', parent: 'main', state: 'running', created: true });
    const remoteList = JSON.parse((await remote(adminToken, 'branch', 'list', '--no-size', '-o', 'json')).stdout);
    const localList = JSON.parse((await t.cli('branch', 'list', '--no-size', '-o', 'json')).stdout);
    expect(remoteList).toEqual(localList);
    const missing = await remote(adminToken, 'branch', 'get', 'nope', '-o', 'json');
    expect(missing.code).toBe(3);
    expect(JSON.parse(missing.stderr).error.code).toBe('BRANCH_NOT_FOUND');
    const unauthorised = await remote('pgb_000000000000_' + 'x'.repeat(43), 'branch', 'list');
    expect(unauthorised.code).toBe(8);
  });

  it('a scoped token made through the CLI cannot see main', async () => {
    const made = await remote(adminToken, 'token', 'create', '--name', 'ci', '--role', 'write', '--branches', 'pr-*', '-o', 'json');
    expect(made.code, made.stderr).toBe(0);
    const ci = JSON.parse(made.stdout).token as string;
    secrets.add(ci);
    expect((await remote(ci, 'branch', 'get', 'main')).code).toBe(7);
    const list = JSON.parse((await remote(ci, 'branch', 'list', '--no-size', '-o', 'json')).stdout) as { name: string }[];
    expect(list.map((b) => b.name)).toEqual(['pr-1']);
  });

  it('an idle branch is suspended and a plain connection through the endpoint wakes it', async () => {
    const info = JSON.parse((await remote(adminToken, 'branch', 'url', 'pr-1', '-o', 'json')).stdout);
    secrets.add(info.password);
    expect(info.endpoint.url).toMatch(/^postgresql:\/\/postgres\.pr-1:/);
    await waitFor(async () => ((await t.host.getBranch('pr-1')).state === 'suspended' ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: 'pr-1 to be suspended for idleness',
    });
    const client = new pg.Client({ connectionString: info.endpoint.url });
    await client.connect();
    const { rows } = await client.query<{ one: number }>('SELECT 1 AS one');
    expect(rows[0]!.one).toBe(1);
    expect((await t.host.getBranch('pr-1')).state).toBe('running');
    await client.end();
  });

  it('an open endpoint connection keeps a branch awake while idle ones are suspended', async () => {
    const main = JSON.parse((await remote(adminToken, 'branch', 'url', 'main', '-o', 'json')).stdout);
    secrets.add(main.password);
    const client = new pg.Client({ connectionString: main.endpoint.url });
    await client.connect();
    expect((await remote(adminToken, 'branch', 'create', 'idle-probe', '--from', 'main')).code).toBe(0);
    // The probe being suspended proves sweeps ran past the idle timeout; main must have survived them.
    await waitFor(async () => ((await t.host.getBranch('idle-probe')).state === 'suspended' ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: 'idle-probe to be suspended',
    });
    expect((await t.host.getBranch('main')).state).toBe('running');
    await client.query('SELECT 1');
    await client.end();
  });

  it('rotate-password gives a new password; the old one stops working', async () => {
    const before = JSON.parse((await remote(adminToken, 'branch', 'url', 'pr-1', '-o', 'json')).stdout);
    const rotated = await remote(adminToken, 'branch', 'rotate-password', 'pr-1', '-o', 'json');
    expect(rotated.code, rotated.stderr).toBe(0);
    const after = JSON.parse(rotated.stdout);
    secrets.add(after.password);
    expect(after.password).not.toBe(before.password);
    const old = new pg.Client({ connectionString: before.url });
    await expect(old.connect()).rejects.toMatchObject({ code: '28P01' });
    const fresh = new pg.Client({ connectionString: after.url });
    await fresh.connect();
    await fresh.end();
  });

  it('deletes an expired branch in the background sweep, audited as the host; protected ones stay', async () => {
    for (const name of ['ttl-short', 'ttl-protected']) {
      const r = await remote(adminToken, 'branch', 'create', name, '--from', 'main', '--ttl', '1500ms');
      expect(r.code, r.stderr).toBe(0);
    }
    expect((await remote(adminToken, 'branch', 'protect', 'ttl-protected')).code).toBe(0);
    await waitFor(async () => ((await remote(adminToken, 'branch', 'get', 'ttl-short')).code === 3 ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: 'the expired branch to be deleted',
    });
    const audit = await remote(adminToken, 'audit', '--branch', 'ttl-short', '-o', 'json');
    expect(JSON.parse(audit.stdout)[0]).toMatchObject({ actor: 'host', operation: 'expire', result: 'ok' });
    expect((await remote(adminToken, 'branch', 'get', 'ttl-protected')).code).toBe(0);
    expect((await remote(adminToken, 'branch', 'unprotect', 'ttl-protected')).code).toBe(0);
    // Expired and unprotected: the sweep may get there first.
    expect([0, 3]).toContain((await remote(adminToken, 'branch', 'delete', 'ttl-protected')).code);
  });

  it('stops gracefully on SIGTERM: exit 0, every instance stopped cleanly', async () => {
    const exited = new Promise<number | null>((done) => server.once('exit', (code) => done(code)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const volume of readdirSync(t.pool.poolPath)) {
      expect((await instanceStatus(join(t.pool.poolPath, volume, 'pgdata'))).running).toBe(false);
    }
    expect(serverLog).toMatch(/pgbranch stopped/);
  });

  it('no password or token appears in any log of the host', () => {
    const logs = [serverLog, ...readdirSync(join(t.home, 'logs')).map((f) => readFileSync(join(t.home, 'logs', f), 'utf8'))].join('\n');
    expect(logs.length).toBeGreaterThan(1000);
    expect(secrets.size).toBeGreaterThanOrEqual(4);
    for (const secret of secrets) expect(logs.includes(secret), 'a secret leaked into the logs').toBe(false);
  });
});
