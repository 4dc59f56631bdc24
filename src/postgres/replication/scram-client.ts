import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { saslprep } from './saslprep.js';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';

/**
 * Client side of SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL speaks it: the user name in
 * the SCRAM messages is empty (the server takes it from the startup packet) and no channel
 * binding is used ("n,," — this client does not support it, so a server offering
 * SCRAM-SHA-256-PLUS accepts the plain mechanism without suspecting a downgrade).
 */
export interface ScramClient {
  /** client-first-message, sent in SASLInitialResponse. */
  readonly clientFirst: Buffer;
  /** Given server-first-message, returns client-final-message (with the proof). */
  final(serverFirst: Buffer): Buffer;
  /** Checks the server signature in server-final-message; throws if it does not prove the password. */
  verify(serverFinal: Buffer): void;
}

const GS2_HEADER = 'n,,';

function parseAttributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) continue;
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text, 'utf8').digest();

export function createScramClient(password: string, options: { nonce?: string; user?: string } = {}): ScramClient {
  const clientNonce = options.nonce ?? randomBytes(18).toString('base64');
  // PostgreSQL ignores this name (it uses the startup packet's); tests pass RFC 7677's "user".
  const clientFirstBare = `n=${(options.user ?? '').replaceAll('=', '=3D').replaceAll(',', '=2C')},r=${clientNonce}`;
  let authMessage: string | undefined;
  let serverKey: Buffer | undefined;

  return {
    clientFirst: Buffer.from(GS2_HEADER + clientFirstBare, 'utf8'),
    final(serverFirstBuf) {
      const serverFirst = serverFirstBuf.toString('utf8');
      const attrs = parseAttributes(serverFirst);
      const nonce = attrs.get('r');
      const salt = attrs.get('s');
      const iterations = Number(attrs.get('i'));
      if (!nonce || !salt || !Number.isInteger(iterations) || iterations < 1) {
        throw new Error('malformed SCRAM server-first-message');
      }
      if (!nonce.startsWith(clientNonce) || nonce.length === clientNonce.length) {
        throw new Error('SCRAM server nonce does not extend the client nonce');
      }
      const salted = pbkdf2Sync(Buffer.from(saslprep(password), 'utf8'), Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
      const clientKey = hmac(salted, 'Client Key');
      const storedKey = createHash('sha256').update(clientKey).digest();
      const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${nonce}`;
      authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
      const signature = hmac(storedKey, authMessage);
      const proof = Buffer.alloc(clientKey.length);
      for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
      serverKey = hmac(salted, 'Server Key');
      return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
    },
    verify(serverFinalBuf) {
      if (!authMessage || !serverKey) throw new Error('SCRAM server-final-message before server-first-message');
      const attrs = parseAttributes(serverFinalBuf.toString('utf8'));
      const error = attrs.get('e');
      if (error) throw new Error(`SCRAM authentication failed: ${error}`);
      const got = Buffer.from(attrs.get('v') ?? '', 'base64');
      const expected = hmac(serverKey, authMessage);
      if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
        throw new Error('the server could not prove it knows the password (SCRAM server signature mismatch)');
      }
    },
  };
}

/** PostgreSQL's md5 password answer: "md5" + md5(md5(password + user) + salt). */
export function md5PasswordResponse(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user, 'utf8').digest('hex');
  return `md5${createHash('md5').update(Buffer.concat([Buffer.from(inner, 'utf8'), salt])).digest('hex')}`;
}
