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
  // A view per read length, made once: a session's packets come in few sizes, and a new view per
  // read was an allocation per packet (young-generation garbage on the hot path).
  const views = new Map<number, Buffer>();
  return (bytes) => {
    let view = views.get(bytes);
    if (!view) {
      view = bytes === buffer.length ? buffer : buffer.subarray(0, bytes);
      if (views.size < MAX_VIEWS) views.set(bytes, view);
    }
    return onChunk(view);
  };
}

/** Views kept per socket (~80 bytes each). */
const MAX_VIEWS = 256;

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
  const direct = directWriter(dst, resumeSource);
  return (chunk) => {
    const done = direct?.(chunk);
    if (done !== undefined) return done;
    dst.write(chunk, flushed);
    if (dst.writableLength === 0) return true;
    // Still queued: the queue points into the source's read buffer.
    waiting = true;
    return false;
  };
}

/** Node's stream handle write request and the state a write leaves (internal, stable since Node 12). */
interface StreamWrapBinding {
  WriteWrap: new () => { handle: unknown; oncomplete: (status: number) => void; async: boolean; bytes: number; buffer: unknown };
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}
interface StreamHandle {
  writeBuffer(req: object, chunk: Buffer): number;
}

let binding: StreamWrapBinding | null | undefined;
function streamWrap(): StreamWrapBinding | null {
  if (binding !== undefined) return binding;
  try {
    const b = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
    binding = typeof b.WriteWrap === 'function' && b.streamBaseState instanceof Int32Array && typeof b.kLastWriteWasAsync === 'number' ? (b as StreamWrapBinding) : null;
  } catch {
    binding = null;
  }
  return binding;
}

/**
 * Writes a chunk straight to the socket's libuv handle, the way net's own write does underneath,
 * without the Writable stream around it (its state machine, a callback per write and a tick to
 * run it): per relayed packet that was most of the relay's JavaScript time. Returns undefined when
 * the chunk must take the ordinary path (no handle, or bytes of an earlier ordinary write still
 * queued, which this one must not overtake); else whether the source may read on (false: libuv
 * still holds the chunk, `resumeSource` is called once it is written).
 */
function directWriter(dst: Socket, resumeSource: () => void): ((chunk: Buffer) => boolean | undefined) | undefined {
  const wrap = streamWrap();
  if (!wrap) return undefined;
  const { WriteWrap, streamBaseState, kLastWriteWasAsync } = wrap;
  const internals = dst as unknown as { _handle: Partial<StreamHandle> | null };
  const oncomplete = (status: number): void => {
    if (status < 0) dst.destroy(new Error(`write failed (${status})`));
    else resumeSource();
  };
  const newRequest = (handle: object): InstanceType<StreamWrapBinding['WriteWrap']> => {
    const req = new WriteWrap();
    req.handle = handle;
    req.oncomplete = oncomplete;
    req.async = false;
    req.bytes = 0;
    req.buffer = null;
    return req;
  };
  // A request whose write completed at once was never handed to libuv: the next write may use it.
  let spare: InstanceType<StreamWrapBinding['WriteWrap']> | undefined;
  return (chunk) => {
    const handle = internals._handle;
    if (!handle || typeof handle.writeBuffer !== 'function' || dst.writableLength > 0 || dst.writableCorked > 0 || dst.destroyed) return undefined;
    const req = spare?.handle === handle ? spare : newRequest(handle);
    spare = undefined;
    const err = handle.writeBuffer(req, chunk);
    if (err !== 0) {
      dst.destroy(new Error(`write failed (${err})`));
      return true;
    }
    if (streamBaseState[kLastWriteWasAsync] === 0) {
      spare = req;
      return true;
    }
    // Partly written: libuv holds the rest (a view of the source's read buffer) until oncomplete.
    req.async = true;
    req.buffer = chunk;
    return false;
  };
}
