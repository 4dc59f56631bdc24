import { createRequire } from 'node:module';

declare const __PGBRANCH_VERSION__: string | undefined;

/**
 * The package's version. The light client's bundle has no package.json of pgbranch beside it:
 * its build defines __PGBRANCH_VERSION__ instead.
 */
export const PGBRANCH_VERSION: string =
  typeof __PGBRANCH_VERSION__ === 'string' ? __PGBRANCH_VERSION__ : (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
