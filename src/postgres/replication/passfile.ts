import { chown, rename, writeFile } from 'node:fs/promises';
import { PgbranchError } from '../../errors.js';
import type { OsUser } from '../types.js';
import type { ReplicationSource } from './types.js';

/** A pgpass field: backslash and colon escaped. */
const field = (text: string): string => text.replaceAll('\\', '\\\\').replaceAll(':', '\\:');

export function passfileLine(source: ReplicationSource): string {
  if (source.password === undefined) {
    throw new PgbranchError('INVALID_ARGUMENT', 'the source has no password to put in a passfile', { cause: new Error('no password') });
  }
  if (/[\r\n]/.test(source.password)) {
    throw new PgbranchError('INVALID_ARGUMENT', 'a password with a line break cannot go into a passfile', { cause: new Error('bad password') });
  }
  // Database "*": a physical walreceiver asks for the pseudo-database "replication".
  return `${field(source.host)}:${source.port}:*:${field(source.user)}:${field(source.password)}\n`;
}

/**
 * Writes the pgpass file the standby's primary_conninfo points at (passfile=…): mode 0600, owned
 * by the instance user (libpq ignores a group/world-readable passfile), replaced atomically.
 * Put it outside the data directory, so clones and base backups of the standby do not carry it.
 */
export async function writePassfile(path: string, source: ReplicationSource, osUser: OsUser): Promise<void> {
  const tmp = `${path}.pgbranch-tmp`;
  await writeFile(tmp, passfileLine(source), { mode: 0o600 });
  await chown(tmp, osUser.uid, osUser.gid);
  await rename(tmp, path);
}
