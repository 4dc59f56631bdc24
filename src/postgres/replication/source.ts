import { PgbranchError } from '../../errors.js';
import { redactUrl } from '../redact-url.js';
import type { ReplicationSource, SslMode } from './types.js';

const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

function invalid(message: string): PgbranchError {
  return new PgbranchError('INVALID_ARGUMENT', message, { cause: new Error('invalid source URL') });
}

/**
 * Parses `postgres://user:password@host:port/db?sslmode=…&sslrootcert=…&application_name=…&connect_timeout=…`
 * into a ReplicationSource. `host=` as a query parameter (libpq style) may name a unix socket
 * directory. The database part is ignored: physical replication is per cluster.
 */
export function parseReplicationSource(url: string): ReplicationSource {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not `cause`: URL errors carry the whole input, password included.
    throw invalid(`not a valid connection URL: ${redactUrl(url)}`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw invalid(`a source URL must start with postgres:// or postgresql://, got ${redactUrl(url)}`);
  }
  const q = parsed.searchParams;
  const host = q.get('host') ?? decodeURIComponent(parsed.hostname).replace(/^\[(.*)\]$/, '$1');
  if (!host) throw invalid(`the source URL names no host: ${redactUrl(url)}`);
  const portText = q.get('port') ?? parsed.port;
  const port = portText ? Number(portText) : 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`invalid port in ${redactUrl(url)}`);
  const user = q.get('user') ?? decodeURIComponent(parsed.username);
  if (!user) throw invalid(`the source URL names no user (postgres://USER@host/…): ${redactUrl(url)}`);
  const password = parsed.password ? decodeURIComponent(parsed.password) : (q.get('password') ?? undefined);
  const sslmode = (q.get('sslmode') ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(sslmode)) throw invalid(`sslmode must be one of ${SSL_MODES.join(', ')}; got ${JSON.stringify(sslmode)}`);
  const sslrootcert = q.get('sslrootcert') ?? undefined;
  const timeout = q.get('connect_timeout');
  const connectTimeoutMs = timeout ? Number(timeout) * 1000 : undefined;
  if (connectTimeoutMs !== undefined && !(connectTimeoutMs > 0)) throw invalid(`invalid connect_timeout in ${redactUrl(url)}`);
  return {
    host,
    port,
    user,
    ...(password ? { password } : {}),
    sslmode,
    ...(sslrootcert ? { sslrootcert } : {}),
    ...(q.get('application_name') ? { applicationName: q.get('application_name')! } : {}),
    ...(connectTimeoutMs ? { connectTimeoutMs } : {}),
  };
}

/** "user@host:port" for messages and logs (never the password). */
export function describeSource(source: ReplicationSource): string {
  const host = source.host.includes(':') && !source.host.startsWith('/') ? `[${source.host}]` : source.host;
  return `${source.user}@${host}:${source.port}`;
}

/** Replaces the source's password (and its URL-encoded form) wherever it appears in `text`. */
export function scrubPassword(text: string, source: ReplicationSource): string {
  const secret = source.password;
  if (!secret) return text;
  let out = text.split(secret).join('****');
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret) out = out.split(encoded).join('****');
  return out;
}
