import type pg from 'pg';
import { loadPg } from './pg-driver.js';
import { PgbranchError } from '../errors.js';
import { waitFor } from '../util/index.js';
import { scrubSecret } from './redact-url.js';

export interface TcpLogin {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string;
}

/** One password login over TCP; resolves with the error if it fails. */
async function tryLogin(login: TcpLogin, connectTimeoutMs: number): Promise<Error | undefined> {
  const { Client } = await loadPg();
  const client = new Client({ ...login, application_name: 'pgbranch', connectionTimeoutMillis: connectTimeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return err as Error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Waits until a real password login over TCP succeeds. pg_hba.conf reloads (SIGHUP) are
 * asynchronous, so after rewriting it and rotating a password this is how a caller knows the
 * branch accepts exactly the new credentials.
 */
export async function waitForLogin(login: TcpLogin, options: { timeoutMs: number }): Promise<void> {
  let last: Error | undefined;
  try {
    await waitFor(
      async () => {
        last = await tryLogin(login, Math.min(5_000, options.timeoutMs));
        return last === undefined ? true : undefined;
      },
      { timeoutMs: options.timeoutMs, intervalMs: 25, what: `a login as ${login.user} on ${login.host}:${login.port}` },
    );
  } catch (cause) {
    const why = scrubSecret(last?.message ?? (cause as Error).message, login.password);
    throw new PgbranchError('POSTGRES_ERROR', `cannot log in as ${login.user} to ${login.database} on ${login.host}:${login.port} within ${options.timeoutMs} ms: ${why}`, {
      cause: new Error(why),
    });
  }
}
