import { createHash, createHmac, pbkdf2, pbkdf2Sync, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { Client } from 'pg';
import { PgbranchError } from '../errors.js';
import { quoteIdent, quoteLiteral } from './quote.js';

export interface ScramOptions {
  /** 16 random bytes unless given (tests pass a fixed salt). */
  readonly salt?: Buffer;
  /** PostgreSQL's default scram_iterations is 4096. */
  readonly iterations?: number;
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores in pg_authid.rolpassword (RFC 5802 / RFC 7677):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Computed here so that the plaintext
 * never reaches the server, its logs or pg_stat_statements.
 */
export function scramSha256Verifier(password: string, options: ScramOptions = {}): string {
  assertAscii(password);
  const salt = options.salt ?? randomBytes(16);
  const iterations = options.iterations ?? 4096;
  return verifierOf(pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256'), salt, iterations);
}

const pbkdf2Async = promisify(pbkdf2);

/**
 * The same verifier, with the key derivation (the only costly part, a few ms) on libuv's thread
 * pool: a create starts computing it before the new instance starts, and has it when the instance
 * is ready to take it.
 */
export async function scramSha256VerifierAsync(password: string, options: ScramOptions = {}): Promise<string> {
  assertAscii(password);
  const salt = options.salt ?? randomBytes(16);
  const iterations = options.iterations ?? 4096;
  return verifierOf(await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256'), salt, iterations);
}

function verifierOf(salted: Buffer, salt: Buffer, iterations: number): string {
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * Branch passwords are generated (base64url), never typed: ASCII, for which PostgreSQL's SASLprep
 * changes nothing, so the verifier needs no SASLprep here. A user's own password (a replication
 * source's) is only ever sent by the SCRAM client, which applies SASLprep (replication/saslprep.ts).
 */
function assertAscii(password: string): void {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(password)) {
    throw new PgbranchError('INVALID_ARGUMENT', 'a branch password must be ASCII (pgbranch generates them)', { cause: new Error('non-ASCII password') });
  }
}

/** Sets `role`'s password to a SCRAM verifier of `password` (the plaintext stays in this process). */
export async function setRolePassword(client: Client, role: string, password: string): Promise<void> {
  if (password.length === 0) {
    throw new PgbranchError('INVALID_ARGUMENT', 'a password must not be empty', { cause: new Error('empty password') });
  }
  await setRoleVerifier(client, role, scramSha256Verifier(password));
}

/** Sets `role`'s password to a verifier computed beforehand (scramSha256VerifierAsync). */
export async function setRoleVerifier(client: Client, role: string, verifier: string): Promise<void> {
  if (!verifier.startsWith('SCRAM-SHA-256$')) {
    throw new PgbranchError('INTERNAL', 'not a SCRAM-SHA-256 verifier', { cause: new Error('bad verifier') });
  }
  const sql = `ALTER ROLE ${quoteIdent(role)} WITH PASSWORD ${quoteLiteral(verifier)}`;
  try {
    await client.query(sql);
  } catch (cause) {
    throw new PgbranchError('POSTGRES_ERROR', `cannot set the password of role ${role}: ${(cause as Error).message}`, { cause });
  }
}
