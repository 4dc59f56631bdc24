import { BACKEND_KEY_DATA, READY_FOR_QUERY, encodeBackendKeyData, type BackendKey } from './protocol.js';

const EMPTY = Buffer.alloc(0);
const HEADER_LENGTH = 5; // type byte + int32 length

/**
 * Reads the backend's stream up to and including the first ReadyForQuery ('Z') and swaps the
 * BackendKeyData ('K') for the key the endpoint issues, so a CancelRequest comes back to the
 * endpoint instead of needing the branch's port. Everything else passes unchanged; once `done`,
 * the caller relays raw bytes and never calls `transform` again.
 */
export class BackendKeyRewriter {
  private pending: Buffer = EMPTY;
  private finished = false;

  constructor(private readonly issue: (backendKey: BackendKey) => BackendKey) {}

  /** True once ReadyForQuery went through: the rest of the stream is not parsed. */
  get done(): boolean {
    return this.finished;
  }

  /** The bytes to send to the client for this chunk (possibly empty while a message is incomplete). */
  transform(chunk: Buffer): Buffer {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = EMPTY;
    let out: Buffer[] | undefined;
    let start = 0; // first byte not yet emitted
    let pos = 0;
    while (!this.finished && buf.length - pos >= HEADER_LENGTH) {
      const type = buf[pos];
      const length = buf.readInt32BE(pos + 1);
      if (length < 4) {
        // Not a protocol stream we understand: stop interpreting, relay as is.
        this.finished = true;
        break;
      }
      const end = pos + 1 + length;
      if (end > buf.length) break;
      if (type === BACKEND_KEY_DATA && length >= 8) {
        const key: BackendKey = { processId: buf.readInt32BE(pos + 5), secretKey: Buffer.from(buf.subarray(pos + 9, end)) };
        (out ??= []).push(buf.subarray(start, pos), encodeBackendKeyData(this.issue(key)));
        start = end;
      }
      pos = end;
      if (type === READY_FOR_QUERY) this.finished = true;
    }
    if (this.finished) {
      if (!out) return start === 0 ? buf : buf.subarray(start);
      out.push(buf.subarray(start));
      return Buffer.concat(out);
    }
    // Keep the incomplete tail (copied: the chunk's memory is not ours to hold).
    if (pos < buf.length) this.pending = Buffer.from(buf.subarray(pos));
    if (!out) return buf.subarray(start, pos);
    out.push(buf.subarray(start, pos));
    return Buffer.concat(out);
  }
}
