import type pg from 'pg';
import { loadPg } from './pg-driver.js';
import { PgbranchError } from '../errors.js';
import { log } from '../util/index.js';
import type { ConnectionTarget } from './types.js';

export type Client = pg.Client;

/**
 * A node-postgres client over the instance's private unix socket (trust auth, no password). The
 * client is connected; the caller ends it (or use withClient).
 */
export async function connect(target: ConnectionTarget, options: { connectTimeoutMs?: number; applicationName?: string } = {}): Promise<pg.Client> {
  const { Client } = await loadPg();
  const client = new Client({
    host: target.socketDir,
    port: target.port,
    user: target.user,
    database: target.database,
    application_name: options.applicationName ?? 'pgbranch',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
  });
  // A server shutting down under an idle client emits 'error'; unhandled it would crash us.
  client.on('error', (err) => log.debug({ err: err.message, socketDir: target.socketDir }, 'postgres client error'));
  try {
    await client.connect();
  } catch (cause) {
    await client.end().catch(() => undefined);
    throw new PgbranchError(
      'POSTGRES_ERROR',
      `cannot connect to database ${target.database} as ${target.user} via ${target.socketDir} port ${target.port}: ${(cause as Error).message}`,
      { cause },
    );
  }
  return client;
}

/** Runs `fn` with a connected client and always closes it. */
export async function withClient<T>(target: ConnectionTarget, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(target);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
