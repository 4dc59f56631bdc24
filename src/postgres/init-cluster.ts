import { chown, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgbranchError } from '../errors.js';
import { run } from '../util/index.js';
import { serverEnv } from './child-env.js';
import { withClient } from './client.js';
import { writeDefaultSettings } from './config-defaults.js';
import { writeHba } from './hba.js';
import { assertReachable, prepareDirectory } from './os-user.js';
import { quoteIdent } from './quote.js';
import { startInstance } from './start-instance.js';
import { stopInstance } from './stop-instance.js';
import type { InitClusterOptions, OsUser } from './types.js';

/** A private directory owned by the OS user, removed by the caller. */
async function privateTempDir(prefix: string, osUser: OsUser): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await prepareDirectory(dir, osUser, 0o700);
  return dir;
}

/**
 * Creates a new cluster: initdb as the OS user (checksums on, SCRAM for TCP, trust on the private
 * socket), pgbranch's postgresql.conf defaults, pgbranch's pg_hba.conf, and `database` if asked.
 * The superuser password reaches initdb through a file only that user can read, deleted after.
 */
export async function initCluster(opts: InitClusterOptions): Promise<void> {
  const { binaries, dataDir, osUser } = opts;
  const superuser = opts.superuser ?? 'postgres';
  if (opts.superuserPassword.length === 0 || /[\r\n]/.test(opts.superuserPassword)) {
    throw new PgbranchError('INVALID_ARGUMENT', 'the superuser password must be non-empty and on one line', { cause: new Error('bad password') });
  }
  await assertReachable(dataDir, osUser);
  const existing = await readdir(dataDir).catch(() => []);
  if (existing.length > 0) {
    throw new PgbranchError('INVALID_ARGUMENT', `cannot initialise ${dataDir}: directory is not empty`, { cause: new Error('not empty') });
  }
  await prepareDirectory(dataDir, osUser, 0o700);

  const work = await privateTempDir('pgbranch-init-', osUser);
  try {
    const pwfile = join(work, 'pwfile');
    await writeFile(pwfile, `${opts.superuserPassword}\n`, { mode: 0o600 });
    await chown(pwfile, osUser.uid, osUser.gid);
    const args = [
      '-D', dataDir,
      '-U', superuser,
      `--pwfile=${pwfile}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
      '--data-checksums',
    ];
    if (opts.noSync) args.push('--no-sync');
    const asOther = process.getuid?.() !== osUser.uid;
    try {
      await run(join(binaries.binDir, 'initdb'), args, {
        env: serverEnv(),
        cwd: '/',
        errorCode: 'POSTGRES_ERROR',
        timeoutMs: 300_000,
        ...(asOther ? { uid: osUser.uid, gid: osUser.gid } : {}),
      });
    } catch (cause) {
      throw new PgbranchError('POSTGRES_ERROR', `initdb failed for ${dataDir}: ${(cause as Error).message}`, { cause });
    }
    await rm(pwfile, { force: true });

    await writeDefaultSettings(dataDir, binaries.major);
    await writeHba(dataDir, { allowTcp: opts.allowTcp ?? true });

    if (opts.database !== undefined && opts.database !== 'postgres') {
      // Socket-only start in a private directory: nothing can connect meanwhile, and no TCP
      // port is needed (5432 only names the socket file inside that directory).
      const socketDir = join(work, 'sock');
      await prepareDirectory(socketDir, osUser, 0o700);
      const endpoint = { socketDir, port: 5432 };
      await startInstance({
        binaries,
        dataDir,
        osUser,
        ...endpoint,
        listenTcp: false,
        logFile: join(work, 'postgres.log'),
        timeoutMs: opts.timeoutMs ?? 30_000,
      });
      try {
        await withClient({ ...endpoint, user: superuser, database: 'postgres' }, async (client) => {
          await client.query(`CREATE DATABASE ${quoteIdent(opts.database!)}`);
        });
      } catch (cause) {
        throw new PgbranchError('POSTGRES_ERROR', `cannot create database ${opts.database}: ${(cause as Error).message}`, { cause });
      } finally {
        await stopInstance(dataDir, { mode: 'fast', timeoutMs: opts.timeoutMs ?? 30_000 });
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
