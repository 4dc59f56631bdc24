import { access, constants, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError } from '../errors.js';
import { run, which } from '../util/index.js';
import { parsePostgresVersion } from './binaries.js';
import type { ClientTools } from './types.js';

const DEBIAN_ROOT = '/usr/lib/postgresql';

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function toolsIn(binDir: string): Promise<{ psql: string; pgDump: string; pgRestore: string } | undefined> {
  const tools = { psql: join(binDir, 'psql'), pgDump: join(binDir, 'pg_dump'), pgRestore: join(binDir, 'pg_restore') };
  for (const path of Object.values(tools)) if (!(await executable(path))) return undefined;
  return tools;
}

async function findClientTools(): Promise<ClientTools> {
  let majors: number[] = [];
  try {
    majors = (await readdir(DEBIAN_ROOT)).filter((d) => /^\d+$/.test(d)).map(Number);
  } catch {
    // no Debian-style installation
  }
  // The highest major dumps the most server versions (pg_dump refuses newer servers).
  for (const major of majors.sort((a, b) => b - a)) {
    const tools = await toolsIn(join(DEBIAN_ROOT, String(major), 'bin'));
    if (tools) return { ...tools, major };
  }
  const [psql, pgDump, pgRestore] = await Promise.all([which('psql'), which('pg_dump'), which('pg_restore')]);
  if (psql && pgDump && pgRestore) {
    const { stdout } = await run(pgDump, ['--version'], { errorCode: 'CLIENT_TOOL_UNSUITABLE', timeoutMs: 10_000 });
    const parsed = parsePostgresVersion(stdout);
    if (parsed) return { psql, pgDump, pgRestore, major: parsed.major };
  }
  throw new PgbranchError('CLIENT_TOOL_UNSUITABLE', `psql, pg_dump and pg_restore not found (looked in ${DEBIAN_ROOT}/<major>/bin and on PATH); install postgresql-client`, {
    cause: new Error('client tools not found'),
  });
}

let cached: Promise<ClientTools> | undefined;

/** psql / pg_dump / pg_restore from the newest Debian installation, else from PATH (memoised). */
export function clientTools(): Promise<ClientTools> {
  cached ??= findClientTools().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}
