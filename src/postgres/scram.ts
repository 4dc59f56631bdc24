import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
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
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
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
  const sql = `ALTER ROLE ${quoteIdent(role)} WITH PASSWORD ${quoteLiteral(scramSha256Verifier(password))}`;
  try {
    await client.query(sql);
  } catch (cause) {
    throw new PgbranchError('POSTGRES_ERROR', `cannot set the password of role ${role}: ${(cause as Error).message}`, { cause });
  }
}
