/**
 * Environments for the programs we run. Server processes get a clean one so nothing from the
 * caller's shell (PGDATA, PGPORT, locale, LD_PRELOAD…) leaks into an instance; client tools
 * additionally must not pick up PGHOST/PGPASSWORD/PGSERVICE aimed at some other server.
 */
export function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };
  if (process.env.TZ) env.TZ = process.env.TZ;
  return env;
}

// Variables that choose a server or credentials; SSL and timeout settings stay (the user's to set).
const TARGET_VARS = new Set([
  'PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGPASSFILE', 'PGSERVICE',
  'PGSERVICEFILE', 'PGOPTIONS', 'PGDATA', 'PGREQUIREAUTH', 'PGTARGETSESSIONATTRS',
]);

export function clientEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (TARGET_VARS.has(k) || k === 'LD_PRELOAD') continue;
    env[k] = v;
  }
  env.LANG = 'C.UTF-8';
  env.LC_ALL = 'C.UTF-8';
  env.PGAPPNAME = 'pgbranch';
  return { ...env, ...extra };
}
