/**
 * The few PostgreSQL wire-protocol pieces the endpoint reads or writes. Everything after the
 * first ReadyForQuery is relayed as opaque bytes, so only startup-phase messages appear here.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

/** Protocol 3.0: what every libpq up to 17 and all JavaScript drivers send. */
export const PROTOCOL_3_0 = 196608; // (3 << 16) | 0
/** Protocol 3.2 (PostgreSQL 18): variable-length cancel keys. */
export const PROTOCOL_3_2 = 196610; // (3 << 16) | 2

/** Special "protocol versions" of the untyped startup-phase packets. */
export const CANCEL_REQUEST_CODE = 80877102; // (1234 << 16) | 5678
export const SSL_REQUEST_CODE = 80877103; // (1234 << 16) | 5679
export const GSSENC_REQUEST_CODE = 80877104; // (1234 << 16) | 5680

/** Same limit as the server (MAX_STARTUP_PACKET_LENGTH in pqcomm.h). */
export const MAX_STARTUP_PACKET_LENGTH = 10_000;
/** A 3.2 cancel key may be up to 256 bytes; 3.0 keys are 4. */
export const MAX_CANCEL_SECRET_LENGTH = 256;
export const MIN_CANCEL_SECRET_LENGTH = 4;

/** First byte of a TLS record carrying a handshake: a PostgreSQL 17+ client doing direct TLS. */
export const TLS_HANDSHAKE_RECORD = 0x16;
/** ALPN protocol a direct-TLS client must negotiate. */
export const ALPN_POSTGRESQL = 'postgresql';

// Backend message type bytes the endpoint looks at.
export const BACKEND_KEY_DATA = 0x4b; // K
export const ERROR_RESPONSE = 0x45; // E
export const READY_FOR_QUERY = 0x5a; // Z

/** Single-byte answers to SSLRequest / GSSENCRequest. */
export const ENCRYPTION_ACCEPTED = Buffer.from('S');
export const ENCRYPTION_REFUSED = Buffer.from('N');

// ErrorResponse field type bytes.
const FIELD_SEVERITY = 0x53; // S (localised)
const FIELD_SEVERITY_NONLOCALIZED = 0x56; // V
const FIELD_CODE = 0x43; // C
const FIELD_MESSAGE = 0x4d; // M
const FIELD_DETAIL = 0x44; // D
const FIELD_HINT = 0x48; // H

/** SQLSTATEs the endpoint itself reports. */
export const SQLSTATE = {
  /** The branch in the user name / server name does not exist (or is not a valid name). */
  INVALID_CATALOG_NAME: '3D000',
  /** No branch to route to. */
  INVALID_AUTHORIZATION_SPECIFICATION: '28000',
  /** Stopped branch, wake failure, busy host. */
  CANNOT_CONNECT_NOW: '57P03',
  CONNECTION_FAILURE: '08006',
  PROTOCOL_VIOLATION: '08P01',
  FEATURE_NOT_SUPPORTED: '0A000',
} as const;

export interface ErrorFields {
  readonly severity?: 'FATAL' | 'ERROR';
  /** Five-character SQLSTATE. */
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

export interface BackendKey {
  readonly processId: number;
  /** 4 bytes in protocol 3.0, up to 256 in 3.2. */
  readonly secretKey: Buffer;
}

export type StartupParameters = readonly (readonly [name: string, value: string])[];

/** A C string may not contain NUL; the text is ours or the client's, so drop any. */
const cstring = (s: string): Buffer => Buffer.from(`${s.replaceAll('\0', '')}\0`, 'utf8');

/** 'E' ErrorResponse, the way the server reports a refused connection. */
export function encodeErrorResponse(fields: ErrorFields): Buffer {
  const severity = fields.severity ?? 'FATAL';
  const parts: Buffer[] = [];
  const add = (type: number, value: string): void => {
    parts.push(Buffer.from([type]), cstring(value));
  };
  add(FIELD_SEVERITY, severity);
  add(FIELD_SEVERITY_NONLOCALIZED, severity);
  add(FIELD_CODE, fields.code);
  add(FIELD_MESSAGE, fields.message);
  if (fields.detail !== undefined) add(FIELD_DETAIL, fields.detail);
  if (fields.hint !== undefined) add(FIELD_HINT, fields.hint);
  parts.push(Buffer.from([0]));
  const body = Buffer.concat(parts);
  const header = Buffer.allocUnsafe(5);
  header[0] = ERROR_RESPONSE;
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/** StartupMessage (untyped): length, protocol version, name/value C strings, a final NUL. */
export function encodeStartupMessage(protocolVersion: number, parameters: StartupParameters): Buffer {
  const encoded = parameters.flatMap(([name, value]) => [cstring(name), cstring(value)]);
  const length = 8 + encoded.reduce((n, b) => n + b.length, 0) + 1;
  const out = Buffer.allocUnsafe(length);
  out.writeInt32BE(length, 0);
  out.writeInt32BE(protocolVersion, 4);
  let pos = 8;
  for (const b of encoded) pos += b.copy(out, pos);
  out[pos] = 0;
  return out;
}

/** CancelRequest (untyped): its length tells the server how long the secret is. */
export function encodeCancelRequest(key: BackendKey): Buffer {
  const out = Buffer.allocUnsafe(12 + key.secretKey.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  out.writeInt32BE(key.processId, 8);
  key.secretKey.copy(out, 12);
  return out;
}

/** 'K' BackendKeyData. */
export function encodeBackendKeyData(key: BackendKey): Buffer {
  const out = Buffer.allocUnsafe(9 + key.secretKey.length);
  out[0] = BACKEND_KEY_DATA;
  out.writeInt32BE(8 + key.secretKey.length, 1);
  out.writeInt32BE(key.processId, 5);
  key.secretKey.copy(out, 9);
  return out;
}
