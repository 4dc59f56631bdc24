/**
 * The frontend (client) side of the PostgreSQL wire protocol, as far as a replication client
 * needs it: startup, authentication, simple query, COPY out/both.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

export const PROTOCOL_3_0 = 196608; // (3 << 16) | 0
export const SSL_REQUEST_CODE = 80877103; // (1234 << 16) | 5679

// Backend message types.
export const MSG_AUTHENTICATION = 0x52; // R
export const MSG_PARAMETER_STATUS = 0x53; // S
export const MSG_BACKEND_KEY_DATA = 0x4b; // K
export const MSG_READY_FOR_QUERY = 0x5a; // Z
export const MSG_ROW_DESCRIPTION = 0x54; // T
export const MSG_DATA_ROW = 0x44; // D
export const MSG_COMMAND_COMPLETE = 0x43; // C
export const MSG_EMPTY_QUERY = 0x49; // I
export const MSG_ERROR_RESPONSE = 0x45; // E
export const MSG_NOTICE_RESPONSE = 0x4e; // N
export const MSG_COPY_OUT_RESPONSE = 0x48; // H
export const MSG_COPY_BOTH_RESPONSE = 0x57; // W
export const MSG_COPY_IN_RESPONSE = 0x47; // G
export const MSG_COPY_DATA = 0x64; // d
export const MSG_COPY_DONE = 0x63; // c
export const MSG_NEGOTIATE_PROTOCOL_VERSION = 0x76; // v

// Frontend message types.
const MSG_QUERY = 0x51; // Q
const MSG_PASSWORD = 0x70; // p (PasswordMessage, SASLInitialResponse, SASLResponse)
const MSG_TERMINATE = 0x58; // X
const MSG_COPY_FAIL = 0x66; // f

// Authentication request codes (the Int32 after 'R').
export const AUTH_OK = 0;
export const AUTH_KERBEROS_V5 = 2;
export const AUTH_CLEARTEXT_PASSWORD = 3;
export const AUTH_MD5_PASSWORD = 5;
export const AUTH_GSS = 7;
export const AUTH_SSPI = 9;
export const AUTH_SASL = 10;
export const AUTH_SASL_CONTINUE = 11;
export const AUTH_SASL_FINAL = 12;

/** Largest backend message we accept; anything bigger means a confused stream. */
export const MAX_MESSAGE_LENGTH = 1 << 30;

export interface BackendMessage {
  readonly type: number;
  /** The message body, without type byte and length. */
  readonly body: Buffer;
}

const cstring = (s: string): Buffer => Buffer.from(`${s.replaceAll('\0', '')}\0`, 'utf8');

function typed(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type;
  out.writeInt32BE(body.length + 4, 1);
  body.copy(out, 5);
  return out;
}

/** StartupMessage (untyped): length, protocol version, name/value C strings, a final NUL. */
export function encodeStartup(parameters: Readonly<Record<string, string>>): Buffer {
  const parts = Object.entries(parameters).flatMap(([k, v]) => [cstring(k), cstring(v)]);
  const body = Buffer.concat([...parts, Buffer.from([0])]);
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(PROTOCOL_3_0, 4);
  body.copy(out, 8);
  return out;
}

export function encodeSslRequest(): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeInt32BE(8, 0);
  out.writeInt32BE(SSL_REQUEST_CODE, 4);
  return out;
}

/** 'p' PasswordMessage (cleartext or md5 hash). */
export function encodePassword(password: string): Buffer {
  return typed(MSG_PASSWORD, cstring(password));
}

/** 'p' SASLInitialResponse: mechanism name, then the length-prefixed client-first-message. */
export function encodeSaslInitialResponse(mechanism: string, data: Buffer): Buffer {
  const len = Buffer.allocUnsafe(4);
  len.writeInt32BE(data.length, 0);
  return typed(MSG_PASSWORD, Buffer.concat([cstring(mechanism), len, data]));
}

/** 'p' SASLResponse: the raw client-final-message. */
export function encodeSaslResponse(data: Buffer): Buffer {
  return typed(MSG_PASSWORD, data);
}

/** 'Q' Query (simple protocol; replication commands only accept this one). */
export function encodeQuery(sql: string): Buffer {
  return typed(MSG_QUERY, cstring(sql));
}

export function encodeCopyData(data: Buffer): Buffer {
  return typed(MSG_COPY_DATA, data);
}

export function encodeCopyDone(): Buffer {
  return typed(MSG_COPY_DONE, Buffer.alloc(0));
}

export function encodeCopyFail(reason: string): Buffer {
  return typed(MSG_COPY_FAIL, cstring(reason));
}

export function encodeTerminate(): Buffer {
  return typed(MSG_TERMINATE, Buffer.alloc(0));
}

/**
 * Splits a byte stream into backend messages. Bytes arrive in arbitrary pieces (a message may
 * span many chunks, a chunk may hold many messages); `push` returns the complete ones.
 */
export class MessageSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Total size (type byte included) of the incomplete message at the head, once its header is known. */
  private awaiting = 0;

  push(chunk: Buffer): BackendMessage[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // A big message arrives in many chunks: join them once, when it is complete.
    if (this.pendingBytes < 5 || this.pendingBytes < this.awaiting) return [];
    this.awaiting = 0;
    let buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    const out: BackendMessage[] = [];
    let pos = 0;
    while (buf.length - pos >= 5) {
      const length = buf.readInt32BE(pos + 1);
      if (length < 4 || length > MAX_MESSAGE_LENGTH) {
        throw new ProtocolError(`invalid message length ${length} for message type ${JSON.stringify(String.fromCharCode(buf[pos]!))}`);
      }
      if (buf.length - pos < 1 + length) {
        this.awaiting = 1 + length;
        break;
      }
      const body = buf.subarray(pos + 5, pos + 1 + length);
      out.push({ type: buf[pos]!, body });
      pos += 1 + length;
    }
    buf = buf.subarray(pos);
    this.pending = buf.length > 0 ? [buf] : [];
    this.pendingBytes = buf.length;
    return out;
  }

  /** Bytes received but not yet part of a complete message. */
  get buffered(): number {
    return this.pendingBytes;
  }
}

/** The peer broke the protocol (or we do not understand it). */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Reads a message body field by field. */
export class BodyReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  int8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new ProtocolError('unterminated string in message');
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  rest(): Buffer {
    const v = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return v;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new ProtocolError('message shorter than its fields');
  }
}

/** Fields of an ErrorResponse / NoticeResponse. */
export interface ServerErrorFields {
  /** Non-localised severity when the server sends it (ERROR, FATAL, PANIC, WARNING…). */
  readonly severity: string;
  /** SQLSTATE, e.g. 28P01. */
  readonly sqlstate: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

export function parseErrorFields(body: Buffer): ServerErrorFields {
  const fields = new Map<string, string>();
  const r = new BodyReader(body);
  while (r.remaining > 0) {
    const type = r.int8();
    if (type === 0) break;
    fields.set(String.fromCharCode(type), r.cstring());
  }
  return {
    severity: fields.get('V') ?? fields.get('S') ?? 'ERROR',
    sqlstate: fields.get('C') ?? 'XX000',
    message: fields.get('M') ?? 'unknown server error',
    ...(fields.has('D') ? { detail: fields.get('D')! } : {}),
    ...(fields.has('H') ? { hint: fields.get('H')! } : {}),
  };
}

/** An ErrorResponse from the server, with its SQLSTATE. */
export class PgServerError extends Error {
  readonly severity: string;
  readonly sqlstate: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;

  constructor(fields: ServerErrorFields) {
    super(fields.message);
    this.name = 'PgServerError';
    this.severity = fields.severity;
    this.sqlstate = fields.sqlstate;
    this.detail = fields.detail;
    this.hint = fields.hint;
  }
}

export interface FieldDescription {
  readonly name: string;
  readonly typeOid: number;
}

export function parseRowDescription(body: Buffer): FieldDescription[] {
  const r = new BodyReader(body);
  const count = r.int16();
  const fields: FieldDescription[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.cstring();
    r.int32(); // table oid
    r.int16(); // column number
    const typeOid = r.int32();
    r.int16(); // type size
    r.int32(); // type modifier
    r.int16(); // format code
    fields.push({ name, typeOid });
  }
  return fields;
}

/** DataRow values as raw bytes (text format), null for SQL NULL. */
export function parseDataRow(body: Buffer): (Buffer | null)[] {
  const r = new BodyReader(body);
  const count = r.int16();
  const values: (Buffer | null)[] = [];
  for (let i = 0; i < count; i++) {
    const len = r.int32();
    values.push(len < 0 ? null : r.bytes(len));
  }
  return values;
}
