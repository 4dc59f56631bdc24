import pg from 'pg';

/** One pool per process, on the DATABASE_URL CI (or `pgbranch env --write .env`) provides. */
export function createPool(connectionString = process.env.DATABASE_URL) {
  if (!connectionString) throw new Error('DATABASE_URL is not set (in CI the pgbranch step sets it; locally: pgbranch env <branch> --write .env)');
  return new pg.Pool({ connectionString, max: 4 });
}
