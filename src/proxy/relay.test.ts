import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../util/index.js';
import { adoptAccepted, connectReading, sinkTo } from './relay.js';

/** Every socket of a test, destroyed after it (a failing test leaves none open). */
const open: Socket[] = [];
const track = <S extends Socket>(socket: S): S => (open.push(socket), socket);

/** A loopback server whose accepted sockets are handed to `onAccept`. */
async function listen(options: { pauseOnConnect: boolean }, onAccept: (socket: Socket, server: Server) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ pauseOnConnect: options.pauseOnConnect }, (socket) => {
    open.push(socket);
    onAccept(socket, server);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

const connections = (server: Server): Promise<number> => new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('relay (real loopback sockets)', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const socket of open.splice(0)) socket.destroy();
    for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  it('reads an accepted socket into a reused buffer (a new Socket on the same handle) and settles the server count when it closes', async () => {
    const chunks: Buffer[] = [];
    let adopted: Socket | undefined;
    let accepted: Socket | undefined;
    const { server, port } = await listen({ pauseOnConnect: true }, (socket) => {
      accepted = socket;
      const echo = (chunk: Buffer): boolean => {
        // The chunk is a view of the read buffer: keep a copy, as callers must.
        chunks.push(Buffer.from(chunk));
        adopted!.write(chunk);
        return true;
      };
      adopted = track(adoptAccepted(socket, echo, 64));
    });
    servers.push(server);
    const client = track(connect({ host: '127.0.0.1', port }));
    const echoed: Buffer[] = [];
    client.on('data', (d: Buffer) => echoed.push(d));
    const payload = randomBytes(1000);
    client.write(payload);
    await waitFor(() => (Buffer.concat(echoed).length === payload.length ? true : undefined), { timeoutMs: 5000, what: 'the echo' });
    // This Node's sockets took the fast path: a second Socket owns the handle.
    expect(adopted).not.toBe(accepted);
    expect(Buffer.concat(chunks)).toEqual(payload);
    expect(Buffer.concat(echoed)).toEqual(payload);
    // 1000 bytes through a 64-byte buffer: many reads, each at most the buffer's size.
    expect(chunks.length).toBeGreaterThanOrEqual(16);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(64);
    expect(await connections(server)).toBe(1);
    client.end();
    await waitFor(async () => ((await connections(server)) === 0 ? true : undefined), { timeoutMs: 5000, what: 'the server to count the connection as gone' });
    expect(accepted!.destroyed).toBe(true);
  });

  it('falls back to data events for a socket that has already buffered bytes, delivering those first', async () => {
    let adopted: Socket | undefined;
    let accepted: Socket | undefined;
    const got: Buffer[] = [];
    let hold!: (socket: Socket) => void;
    const held = new Promise<Socket>((resolve) => (hold = resolve));
    const { server, port } = await listen({ pauseOnConnect: false }, (socket) => {
      accepted = socket;
      socket.pause();
      hold(socket);
    });
    servers.push(server);
    const client = track(connect({ host: '127.0.0.1', port }));
    client.write('first');
    const socket = await held;
    await waitFor(() => (socket.readableLength > 0 ? true : undefined), { timeoutMs: 5000, what: 'bytes buffered in the accepted socket' });
    adopted = adoptAccepted(socket, (chunk) => {
      got.push(Buffer.from(chunk));
      return true;
    });
    expect(adopted).toBe(accepted);
    client.end('second');
    await waitFor(() => (Buffer.concat(got).toString() === 'firstsecond' ? true : undefined), { timeoutMs: 5000, what: 'both writes' });
  });

  it('stops reading while the destination holds a chunk, and resumes once it is flushed: 32 MB arrive intact through a slow reader', async () => {
    // sender → [accepted, adopted] → sinkTo → [relay client] → receiver (paused at first)
    let resolveReceiver!: (s: Socket) => void;
    const receiverSocket = new Promise<Socket>((resolve) => (resolveReceiver = resolve));
    const receiverServer = await listen({ pauseOnConnect: true }, (s) => resolveReceiver(s));
    servers.push(receiverServer.server);

    let stops = 0;
    const relayServer = await listen({ pauseOnConnect: true }, (accepted) => {
      let toReceiver: ((chunk: Buffer) => boolean) | undefined;
      const source = track(
        adoptAccepted(accepted, (chunk) => {
          const more = toReceiver!(chunk);
          if (!more) stops++;
          return more;
        }),
      );
      source.pause();
      const out = track(connectReading({ host: '127.0.0.1', port: receiverServer.port }, () => true));
      toReceiver = sinkTo(out, () => source.resume(), { copy: false });
      out.once('connect', () => source.resume());
      source.on('end', () => out.end());
    });
    servers.push(relayServer.server);

    const payload = randomBytes(32 * 1024 * 1024);
    const sender = track(connect({ host: '127.0.0.1', port: relayServer.port }));
    sender.end(payload);
    const receiver = await receiverSocket;
    // Not reading until the relay had to stop: every buffer on the way is full.
    await waitFor(() => (stops > 0 && sender.writableLength > 0 ? true : undefined), { timeoutMs: 20_000, what: 'the relay to stop reading' });
    const received: Buffer[] = [];
    receiver.on('data', (d: Buffer) => received.push(d));
    const ended = new Promise<void>((resolve) => receiver.on('end', () => resolve()));
    receiver.resume();
    await ended;
    const all = Buffer.concat(received);
    expect(all.length).toBe(payload.length);
    expect(sha256(all)).toBe(sha256(payload));
  });
});
