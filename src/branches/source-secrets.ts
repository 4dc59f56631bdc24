import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError } from '../errors.js';
import { writePassfile, type ReplicationSource } from '../postgres/index.js';
import { STATE_KEY_BYTES } from '../state/index.js';
import type { Runtime } from './runtime.js';

/**
 * A source's connection URL (with its password) lives in a file of its own under
 * <home>/secrets/, readable by the host's owner only: never in state.db, logs, a volume (clones
 * would carry it) or a command line. A following root's walreceiver reads a passfile next to
 * it, owned by the instance user (libpq refuses a passfile others can read).
 */

function paths(rt: Runtime, branchId: string) {
  return { url: join(rt.paths.secretsDir, `${branchId}.url`), passfile: join(rt.paths.secretsDir, `${branchId}.pgpass`) };
}

async function ensureDir(rt: Runtime): Promise<void> {
  await mkdir(rt.paths.secretsDir, { recursive: true, mode: 0o711 });
  // Traversable, not listable: the instance user reaches its passfile by name.
  await chmod(rt.paths.secretsDir, 0o711);
}

export async function saveSourceUrl(rt: Runtime, branchId: string, url: string): Promise<void> {
  await ensureDir(rt);
  const { url: file } = paths(rt, branchId);
  await writeFile(`${file}.tmp`, url, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

export async function loadSourceUrl(rt: Runtime, branchId: string, branchName: string): Promise<string> {
  try {
    return (await readFile(paths(rt, branchId).url, 'utf8')).trim();
  } catch (cause) {
    throw new PgbranchError('SOURCE_UNSUPPORTED', `the source of "${branchName}" is not known to this host (its secret file is missing); create the root again from its URL`, {
      cause,
      details: { branch: branchName },
    });
  }
}

/** Writes the walreceiver's passfile; returns its path (for primary_conninfo). */
export async function savePassfile(rt: Runtime, branchId: string, source: ReplicationSource): Promise<string> {
  await ensureDir(rt);
  const { passfile } = paths(rt, branchId);
  await writePassfile(passfile, source, rt.osUser);
  await chown(passfile, rt.osUser.uid, rt.osUser.gid);
  return passfile;
}

/**
 * The key that seals secrets in state.db (branch passwords): made once, exclusively (two
 * processes opening an upgraded host at once must agree on one), kept in its own file (mode
 * 0600) and never in the database. A copy of state.db without it reveals no password.
 */
export async function stateKey(file: string): Promise<Buffer> {
  try {
    await writeFile(file, randomBytes(STATE_KEY_BYTES), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const key = await readFile(file);
  if (key.length !== STATE_KEY_BYTES) {
    throw new PgbranchError('INTERNAL', `${file} is not a state key (${key.length} bytes, not ${STATE_KEY_BYTES}); restore it from a backup of the host`, { details: { file } });
  }
  return key;
}

export async function removeSourceSecrets(rt: Runtime, branchId: string): Promise<void> {
  const { url, passfile } = paths(rt, branchId);
  await rm(url, { force: true });
  await rm(passfile, { force: true });
}
