import { connect, Socket, type NetConnectOpts, type SocketConstructorOpts } from 'node:net';

/**
 * The relay's hot path, per packet, once a session is established:
 *
 *   1. The kernel has bytes on one side's socket; libuv read()s them straight into that
 *      socket's own reused read buffer (net's `onread` option: no allocation per read, no
 *      Readable stream, no 'data' event).
 *   2. Our callback gets a view of the bytes read and writes it to the other side's socket:
 *      Node first tries the write(2) synchronously, which on loopback nearly always takes all.
 *   3. If the write completed (nothing left queued), the read buffer is free again: reading
 *      goes on. If bytes stay queued, the queue still points into the read buffer, so reading
 *      from this side stops until that write is flushed (the write's callback resumes it).
 *      This is also the relay's backpressure: a slow peer stops the other side's reads.
 *
 * So a packet costs one read(2), one write(2) and one call into JavaScript; nothing is parsed
 * after the backend's first ReadyForQuery. Why: on a small machine a proxy's CPU is taken from
 * the clients and the server; Node's default path (a 64 KiB buffer allocated per read and
 * shrunk, a Readable push, a 'data' event, a Writable round trip) cost about twice the CPU per
 * transaction of this one (see src/bench/proxy-bench.ts).
 *
 * A TLS socket as the destination does not finish writes synchronously (TLSWrap reports them
 * done from a later tick), so views are copied before they are written to it; TLS sockets as a
 * source deliver fresh buffers through 'data' events.
 */

/** Size of each socket's reused read buffer: big enough for bulk transfers (COPY, large results). */
export const READ_BUFFER_BYTES = 16 * 1024;

/**
 * Receives what a socket read. The chunk may be a view of the socket's reused read buffer:
 * valid only during the call unless the call returns false. Returning false stops reading
 * from that socket until its `resume()`: the chunk (or the peer's queue) is still in use.
 */
export type ChunkHandler = (chunk: Buffer) => boolean;

function bufferReader(buffer: Buffer, onChunk: ChunkHandler): (bytes: number, buf: Uint8Array) => boolean {
  return (bytes) => onChunk(bytes === buffer.length ? buffer : buffer.subarray(0, bytes));
}

/** What net.Server hands over: a socket whose libuv handle we may re-wrap. */
interface AcceptedSocket {
  _handle: { readStart?: unknown; useUserBuffer?: unknown } | null;
}

/**
 * Takes over a socket accepted with `pauseOnConnect` (nothing read yet) so that it reads into a
 * reused buffer: net.Server offers no `onread` option, so the accepted handle is wrapped in a
 * new Socket that has one. The accepted socket keeps no handle; destroying it (once the new one
 * is closed) only settles the server's connection count. On a Node whose sockets do not look
 * as expected, the accepted socket is used as it is, with 'data' events.
 */
export function adoptAccepted(accepted: Socket, onChunk: ChunkHandler, bufferBytes = READ_BUFFER_BYTES): Socket {
  const internals = accepted as unknown as AcceptedSocket;
  const handle = internals._handle;
  const usable = handle !== null && typeof handle === 'object' && typeof handle.useUserBuffer === 'function' && typeof handle.readStart === 'function';
  if (!usable || accepted.readableLength > 0 || accepted.destroyed) {
    accepted.on('data', (chunk: Buffer) => {
      if (!onChunk(chunk)) accepted.pause();
    });
    accepted.resume();
    return accepted;
  }
  internals._handle = null;
  const buffer = Buffer.allocUnsafe(bufferBytes);
  const options = { handle, readable: true, writable: true, onread: { buffer, callback: bufferReader(buffer, onChunk) } };
  const socket = new Socket(options as SocketConstructorOpts);
  socket.once('close', () => accepted.destroy());
  return socket;
}

/** A client socket reading into its own reused buffer. */
export function connectReading(options: NetConnectOpts, onChunk: ChunkHandler, bufferBytes = READ_BUFFER_BYTES): Socket {
  const buffer = Buffer.allocUnsafe(bufferBytes);
  return connect({ ...options, onread: { buffer, callback: bufferReader(buffer, onChunk) } } as NetConnectOpts);
}

/** Wires a socket that delivers fresh buffers ('data' events, e.g. a TLS socket) to a handler. */
export function readEvents(socket: Socket, onChunk: ChunkHandler): void {
  socket.on('data', (chunk: Buffer) => {
    if (!onChunk(chunk)) socket.pause();
  });
}

/**
 * A writer to `dst` for chunks read from another socket. Returns the handler that writes one
 * chunk and says whether the source may read on; when it may not, `resumeSource` is called once
 * the chunk is flushed. `copy` is for destinations that do not finish writes synchronously (TLS).
 */
export function sinkTo(dst: Socket, resumeSource: () => void, options: { copy: boolean }): ChunkHandler {
  let waiting = false;
  const flushed = (): void => {
    // Resume once nothing of ours is queued (a later write's callback comes otherwise).
    if (!waiting || dst.writableLength > 0) return;
    waiting = false;
    resumeSource();
  };
  if (options.copy) {
    return (chunk) => {
      if (dst.write(Buffer.from(chunk))) return true;
      if (!waiting) {
        waiting = true;
        dst.once('drain', flushed);
      }
      return false;
    };
  }
  return (chunk) => {
    dst.write(chunk, flushed);
    if (dst.writableLength === 0) return true;
    // Still queued: the queue points into the source's read buffer.
    waiting = true;
    return false;
  };
}
