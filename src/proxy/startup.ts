import {
  CANCEL_REQUEST_CODE,
  GSSENC_REQUEST_CODE,
  MAX_CANCEL_SECRET_LENGTH,
  MAX_STARTUP_PACKET_LENGTH,
  MIN_CANCEL_SECRET_LENGTH,
  SQLSTATE,
  SSL_REQUEST_CODE,
  TLS_HANDSHAKE_RECORD,
  type BackendKey,
  type StartupParameters,
} from './protocol.js';

/** One packet of the startup phase, as a client sends it before any typed message. */
export type StartupPacket =
  | { readonly type: 'sslRequest' }
  | { readonly type: 'gssEncRequest' }
  | { readonly type: 'cancelRequest'; readonly key: BackendKey }
  | { readonly type: 'startup'; readonly protocolVersion: number; readonly parameters: StartupParameters }
  /** The stream opens with a TLS record: direct TLS (PostgreSQL 17+). Nothing is consumed. */
  | { readonly type: 'tlsClientHello' }
  /** Malformed: answer with this error and close. */
  | { readonly type: 'invalid'; readonly code: string; readonly message: string };

const EMPTY = Buffer.alloc(0);

/**
 * Incremental reader of startup-phase packets. Bytes arrive in arbitrary pieces (a packet split
 * over many reads, or several coalesced in one); `next()` returns a packet once it is complete.
 * After an `invalid` packet the reader keeps returning it: the connection is to be closed.
 */
export class StartupReader {
  private buffer: Buffer = EMPTY;
  private offset = 0;
  private packets = 0;
  private failure: StartupPacket | undefined;

  push(chunk: Buffer): void {
    if (this.offset >= this.buffer.length) {
      this.buffer = chunk;
    } else {
      this.buffer = Buffer.concat([this.buffer.subarray(this.offset), chunk]);
    }
    this.offset = 0;
  }

  /** Bytes received but not yet returned as a packet. */
  get bufferedLength(): number {
    return this.buffer.length - this.offset;
  }

  /** Hands over the unread bytes (after the StartupMessage they belong to the backend). */
  takeBuffered(): Buffer {
    const rest = this.buffer.subarray(this.offset);
    this.buffer = EMPTY;
    this.offset = 0;
    return rest;
  }

  next(): StartupPacket | undefined {
    if (this.failure) return this.failure;
    const available = this.buffer.length - this.offset;
    if (this.packets === 0 && available > 0 && this.buffer[this.offset] === TLS_HANDSHAKE_RECORD) {
      return { type: 'tlsClientHello' };
    }
    if (available < 4) return undefined;
    const length = this.buffer.readInt32BE(this.offset);
    if (length < 8 || length > MAX_STARTUP_PACKET_LENGTH) return this.fail(SQLSTATE.PROTOCOL_VIOLATION, 'invalid length of startup packet');
    if (available < length) return undefined;
    const packet = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    this.packets++;
    return this.decode(packet);
  }

  private decode(packet: Buffer): StartupPacket {
    const code = packet.readInt32BE(4);
    switch (code) {
      case SSL_REQUEST_CODE:
        return packet.length === 8 ? { type: 'sslRequest' } : this.fail(SQLSTATE.PROTOCOL_VIOLATION, 'invalid length of SSL request packet');
      case GSSENC_REQUEST_CODE:
        return packet.length === 8 ? { type: 'gssEncRequest' } : this.fail(SQLSTATE.PROTOCOL_VIOLATION, 'invalid length of GSSAPI encryption request packet');
      case CANCEL_REQUEST_CODE: {
        const secretLength = packet.length - 12;
        if (secretLength < MIN_CANCEL_SECRET_LENGTH || secretLength > MAX_CANCEL_SECRET_LENGTH) {
          return this.fail(SQLSTATE.PROTOCOL_VIOLATION, 'invalid length of query cancel packet');
        }
        // Copied: the key outlives the read buffer.
        return { type: 'cancelRequest', key: { processId: packet.readInt32BE(8), secretKey: Buffer.from(packet.subarray(12)) } };
      }
      default:
        return this.decodeStartup(code, packet);
    }
  }

  private decodeStartup(protocolVersion: number, packet: Buffer): StartupPacket {
    const major = protocolVersion >>> 16;
    const minor = protocolVersion & 0xffff;
    // Any 3.x passes: the backend negotiates the minor version (NegotiateProtocolVersion).
    if (major !== 3) {
      return this.fail(SQLSTATE.FEATURE_NOT_SUPPORTED, `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.2`);
    }
    if (packet.length < 9 || packet[packet.length - 1] !== 0) {
      return this.fail(SQLSTATE.PROTOCOL_VIOLATION, 'invalid startup packet layout: expected terminator as last byte');
    }
    // name\0value\0 pairs, then a final \0 (the last byte, checked above). Like the server, an
    // empty name is the terminator, so it must be that last byte.
    const parameters: (readonly [string, string])[] = [];
    const end = packet.length - 1;
    let pos = 8;
    while (pos < end) {
      const nameEnd = packet.indexOf(0, pos);
      const valueEnd = nameEnd === pos || nameEnd >= end ? -1 : packet.indexOf(0, nameEnd + 1);
      if (valueEnd < 0 || valueEnd >= end) {
        return this.fail(SQLSTATE.PROTOCOL_VIOLATION, 'invalid startup packet layout: expected terminator as last byte');
      }
      parameters.push([packet.toString('utf8', pos, nameEnd), packet.toString('utf8', nameEnd + 1, valueEnd)]);
      pos = valueEnd + 1;
    }
    return { type: 'startup', protocolVersion, parameters };
  }

  private fail(code: string, message: string): StartupPacket {
    this.failure = { type: 'invalid', code, message };
    return this.failure;
  }
}
