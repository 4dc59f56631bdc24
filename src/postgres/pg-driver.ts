import type pg from 'pg';

let loaded: Promise<typeof pg> | undefined;

/**
 * node-postgres, loaded on first use: many CLI commands (list, status, stop) never open a
 * database connection, and loading the driver costs ~50 ms of every CLI start.
 */
export function loadPg(): Promise<typeof pg> {
  loaded ??= import('pg').then((m) => m.default);
  return loaded;
}
