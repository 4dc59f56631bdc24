import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgbranchError } from '../errors.js';
import { waitFor } from '../util/index.js';
import { ensureCertificate } from './certificate.js';
import { createProxyServer, type BranchRouter, type ProxyServer } from './index.js';
import { bytes, gssEncRequest, sslRequest, startupMessage } from './test-support/bytes.js';

/** Routes to nothing: records what it was asked and answers like the domain would. */
class RecordingRouter implements BranchRouter {
  readonly asked: string[] = [];
  released = 0;
  readonly ports: Record<string, number> = {};
  async openSession(branch: string) {
    this.asked.push(branch);
    if (branch === 'stopped') throw new PgbranchError('BRANCH_STOPPED', 'stopped');
    if (branch === 'broken') throw new PgbranchError('POSTGRES_START_FAILED', 'could not start /secret/path');
    const port = this.ports[branch];
    if (port === undefined) throw new PgbranchError('BRANCH_NOT_FOUND', `no branch named "${branch}"`);
    return { port, release: () => void this.released++ };
  }
}

interface Received {
  readonly data: Buffer;
  readonly closed: Promise<void>;
}

function collect(socket: Socket): Received {
  const chunks: Buffer[] = [];
  const received = {
    get data() {
      return Buffer.concat(chunks);
    },
    closed: new Promise<void>((resolve) => socket.on('close', () => resolve())),
  };
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => undefined);
  return received;
}

/** ErrorResponse fields of the first message in `data`. */
function errorFields(data: Buffer): Record<string, string> {
  expect(String.fromCharCode(data[0]!)).toBe('E');
  const length = data.readInt32BE(1);
  const fields: Record<string, string> = {};
  let pos = 5;
  while (pos < length && data[pos] !== 0) {
    const type = String.fromCharCode(data[pos]!);
    const end = data.indexOf(0, pos + 1);
    fields[type] = data.toString('utf8', pos + 1, end);
    pos = end + 1;
  }
  return fields;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the endpoint speaking the startup protocol (real sockets, no PostgreSQL)', () => {
  let dir: string;
  let proxy: ProxyServer;
  let tlsProxy: ProxyServer;
  let port: number;
  let tlsPort: number;
  let cert: Buffer;
  const router = new RecordingRouter();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgbranch-proxy-'));
    const pair = await ensureCertificate({ certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), hostNames: ['db.test', '*.db.test', 'localhost'], ips: ['127.0.0.1'] });
    cert = pair.cert;
    const unreachable = await freePort();
    router.ports.gone = unreachable;
    proxy = createProxyServer({ router, publicHost: 'localhost', drainTimeoutMs: 1000, startupTimeoutMs: 300 });
    port = await proxy.listen('127.0.0.1', 0);
    // Three labels: Node (unlike libpq) refuses a wildcard over a two-label name like *.localhost.
    tlsProxy = createProxyServer({ router, publicHost: 'db.test', drainTimeoutMs: 1000, tls: pair });
    tlsPort = await tlsProxy.listen('127.0.0.1', 0);
  });
  afterAll(async () => {
    await proxy?.close();
    await tlsProxy?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function exchange(send: Buffer, to = port): Promise<Buffer> {
    const socket = connect({ host: '127.0.0.1', port: to });
    const r = collect(socket);
    socket.write(send);
    await r.closed;
    return r.data;
  }

  it('refuses a user name without a branch with 28000 and a hint, then closes', async () => {
    const fields = errorFields(await exchange(startupMessage({ user: 'postgres', database: 'app' })));
    expect(fields).toMatchObject({ S: 'FATAL', V: 'FATAL', C: '28000', M: 'no branch in user name "postgres"' });
    expect(fields.H).toContain('postgres.main');
  });

  it('maps the router\'s answers: unknown branch 3D000, stopped 57P03 with a hint, wake failure 57P03 without internals, unreachable 08006', async () => {
    expect(errorFields(await exchange(startupMessage({ user: 'postgres.nope' })))).toMatchObject({ C: '3D000', M: 'branch "nope" does not exist' });
    const stopped = errorFields(await exchange(startupMessage({ user: 'postgres.stopped' })));
    expect(stopped).toMatchObject({ C: '57P03', M: 'branch "stopped" is stopped' });
    expect(stopped.H).toContain('pgbranch branch start stopped');
    const broken = errorFields(await exchange(startupMessage({ user: 'postgres.broken' })));
    expect(broken).toMatchObject({ C: '57P03', M: 'branch "broken" could not be woken', D: 'POSTGRES_START_FAILED' });
    expect(JSON.stringify(broken)).not.toContain('/secret/path');
    const released = router.released;
    expect(errorFields(await exchange(startupMessage({ user: 'postgres.gone' })))).toMatchObject({ C: '08006', M: 'could not connect to branch "gone"' });
    await waitFor(() => (router.released === released + 1 ? true : undefined), { timeoutMs: 2000, what: 'the session to be released' });
  });

  it('answers SSLRequest with N and GSSENCRequest with N when TLS is not configured, then reads the StartupMessage', async () => {
    const socket = connect({ host: '127.0.0.1', port });
    const r = collect(socket);
    socket.write(gssEncRequest());
    await waitFor(() => (r.data.length >= 1 ? true : undefined), { timeoutMs: 2000, what: 'the GSS answer' });
    socket.write(sslRequest());
    await waitFor(() => (r.data.length >= 2 ? true : undefined), { timeoutMs: 2000, what: 'the SSL answer' });
    expect(r.data.subarray(0, 2).toString()).toBe('NN');
    socket.write(startupMessage({ user: 'postgres.nope' }));
    await r.closed;
    expect(errorFields(r.data.subarray(2))).toMatchObject({ C: '3D000' });
  });

  it('refuses malformed packets with 08P01 and a second SSLRequest too', async () => {
    expect(errorFields(await exchange(bytes().int32(3).build()))).toMatchObject({ C: '08P01', M: 'invalid length of startup packet' });
    const twice = await exchange(Buffer.concat([sslRequest(), sslRequest()]));
    expect(twice.subarray(0, 1).toString()).toBe('N');
    expect(errorFields(twice.subarray(1))).toMatchObject({ C: '08P01', M: 'unexpected SSL request' });
  });

  it('closes a connection that sends no startup packet in time, with an error', async () => {
    const started = Date.now();
    const socket = connect({ host: '127.0.0.1', port });
    const r = collect(socket);
    await r.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(errorFields(r.data)).toMatchObject({ C: '08P01', M: 'no startup packet received within 300 ms' });
  });

  it('closes a direct-TLS attempt when no certificate is configured', async () => {
    const data = await exchange(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]));
    expect(data).toHaveLength(0);
  });

  it('with TLS: answers S, routes by the server name <branch>.<publicHost> and reports errors inside TLS', async () => {
    const socket = connect({ host: '127.0.0.1', port: tlsPort });
    socket.write(sslRequest());
    const answer = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
    expect(answer.toString()).toBe('S');
    const secure = tlsConnect({ socket, servername: 'feature-x.db.test', ca: cert });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    expect(secure.authorized).toBe(true); // the generated certificate verifies for its SAN names
    const r = collect(secure);
    secure.write(startupMessage({ user: 'postgres' }));
    await r.closed;
    expect(errorFields(r.data)).toMatchObject({ C: '3D000', M: 'branch "feature-x" does not exist' });
    expect(router.asked.at(-1)).toBe('feature-x');
  });

  it('with TLS: refuses plaintext bytes pipelined behind the SSLRequest', async () => {
    const data = await exchange(Buffer.concat([sslRequest(), startupMessage({ user: 'postgres.nope' })]), tlsPort);
    expect(errorFields(data)).toMatchObject({ C: '08P01', M: 'received unencrypted data after SSL request' });
  });

  it('with TLS: accepts direct TLS (PostgreSQL 17+ clients) with ALPN "postgresql", and refuses it without', async () => {
    const direct = tlsConnect({ host: '127.0.0.1', port: tlsPort, servername: 'pr-9.db.test', ALPNProtocols: ['postgresql'], rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => direct.once('secureConnect', resolve).once('error', reject));
    const r = collect(direct);
    direct.write(startupMessage({ user: 'postgres' }));
    await r.closed;
    expect(errorFields(r.data)).toMatchObject({ C: '3D000', M: 'branch "pr-9" does not exist' });

    const noAlpn: TLSSocket = tlsConnect({ host: '127.0.0.1', port: tlsPort, servername: 'pr-9.db.test', rejectUnauthorized: false });
    const closed = collect(noAlpn);
    await closed.closed;
    expect(closed.data).toHaveLength(0);
  });

  it('releases the session when the client hangs up while its branch is being woken, or the backend drops it', async () => {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    let released = 0;
    const dropper = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
    const dropperPort = (dropper.address() as AddressInfo).port;
    const slow: BranchRouter = {
      async openSession(branch) {
        if (branch === 'slow') await woken;
        return { port: dropperPort, release: () => void released++ };
      },
    };
    const p = createProxyServer({ router: slow, publicHost: 'localhost', drainTimeoutMs: 1000 });
    const proxyPort = await p.listen('127.0.0.1', 0);
    try {
      const impatient = connect({ host: '127.0.0.1', port: proxyPort });
      const r = collect(impatient);
      impatient.write(startupMessage({ user: 'postgres.slow' }));
      await waitFor(() => (p.connections() === 1 ? true : undefined), { timeoutMs: 2000, what: 'the connection' });
      impatient.destroy();
      await r.closed;
      await waitFor(() => (p.connections() === 0 ? true : undefined), { timeoutMs: 2000, what: 'the connection to be gone' });
      wake();
      await waitFor(() => (released === 1 ? true : undefined), { timeoutMs: 2000, what: 'the late session to be released' });

      const dropped = await exchange(startupMessage({ user: 'postgres.any' }), proxyPort);
      expect(dropped).toHaveLength(0); // what the backend said: nothing
      await waitFor(() => (released === 2 && p.connections() === 0 ? true : undefined), { timeoutMs: 2000, what: 'the dropped session to be released' });
    } finally {
      await p.close();
      await new Promise<void>((resolve) => dropper.close(() => resolve()));
    }
  });

  it('close() stops accepting, waits for open connections, then cuts them after the drain timeout', async () => {
    const draining = createProxyServer({ router, publicHost: 'localhost', drainTimeoutMs: 200, startupTimeoutMs: 60_000 });
    const p = await draining.listen('127.0.0.1', 0);
    const idle = connect({ host: '127.0.0.1', port: p });
    const r = collect(idle);
    await waitFor(() => (draining.connections() === 1 ? true : undefined), { timeoutMs: 2000, what: 'the connection to be counted' });
    const started = Date.now();
    await draining.close();
    await r.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(draining.connections()).toBe(0);
    await expect(new Promise((resolve, reject) => connect({ host: '127.0.0.1', port: p }).on('connect', resolve).on('error', reject))).rejects.toThrow(/ECONNREFUSED/);
  });
});
