import { PgbranchError, isPgbranchError } from '../../errors.js';
import { ConnectError, ReplicationConnection, textRows, type OpenOptions } from './connection.js';
import { describeSource, scrubPassword } from './source.js';
import type { ReplicationSource } from './types.js';
import { PgServerError, ProtocolError } from './wire.js';

/** The message of a cause, stripped of the password wherever a server or library may have echoed it. */
function reason(err: unknown, source: ReplicationSource): string {
  const text = err instanceof Error ? err.message : String(err);
  return scrubPassword(text, source);
}

/** A cause safe to keep on an error: same message, scrubbed, original class name in the text. */
function safeCause(err: unknown, source: ReplicationSource): Error {
  if (err instanceof PgServerError) {
    const copy = new PgServerError({
      severity: err.severity,
      sqlstate: err.sqlstate,
      message: scrubPassword(err.message, source),
      ...(err.detail ? { detail: scrubPassword(err.detail, source) } : {}),
      ...(err.hint ? { hint: scrubPassword(err.hint, source) } : {}),
    });
    return copy;
  }
  return new Error(reason(err, source));
}

/**
 * When max_wal_senders = 0 the server refuses every replication connection before we can ask
 * anything; an ordinary session (if pg_hba allows one) tells whether wal_level is the reason.
 */
async function walLevelViaSession(source: ReplicationSource, signal: AbortSignal | undefined): Promise<string | undefined> {
  try {
    const conn = await ReplicationConnection.open(source, { replication: false, database: 'postgres', ...(signal ? { signal } : {}) });
    try {
      const [result] = await conn.query('SHOW wal_level');
      return result ? (textRows(result)[0]?.wal_level ?? undefined) : undefined;
    } finally {
      await conn.close();
    }
  } catch {
    return undefined;
  }
}

export function walLevelError(source: ReplicationSource, walLevel: string): PgbranchError {
  return new PgbranchError(
    'SOURCE_WAL_LEVEL',
    `the source ${describeSource(source)} runs with wal_level = ${walLevel}, which cannot feed a standby: ` +
      `set wal_level = replica and max_wal_senders = 10 in its postgresql.conf and restart it`,
    { cause: new Error(`wal_level ${walLevel}`), details: { walLevel } },
  );
}

/** Turns anything thrown while opening a connection into the most specific catalogue error. */
export async function classifyOpenFailure(err: unknown, source: ReplicationSource, signal?: AbortSignal): Promise<PgbranchError> {
  if (isPgbranchError(err)) return err;
  const who = describeSource(source);
  const cause = safeCause(err, source);
  const why = reason(err, source);
  if (err instanceof ConnectError) {
    switch (err.kind) {
      case 'network':
        return new PgbranchError(
          'SOURCE_UNREACHABLE',
          `cannot reach the source ${who}: ${why}. Check the host and port, that PostgreSQL listens there (listen_addresses) and that no firewall blocks the way`,
          { cause },
        );
      case 'tls':
        return new PgbranchError(
          'SOURCE_TLS_FAILED',
          `TLS with the source ${who} failed: ${why}. Check sslmode and sslrootcert in the source URL (verify-full also checks the host name against the certificate)`,
          { cause },
        );
      case 'auth':
        return new PgbranchError('SOURCE_AUTH_FAILED', `cannot authenticate to the source ${who}: ${why}`, { cause });
      default:
        return new PgbranchError('REPLICATION_FAILED', `talking to the source ${who} failed: ${why}`, { cause });
    }
  }
  if (err instanceof PgServerError) {
    const { sqlstate } = err;
    const details = { sqlstate };
    if (sqlstate === '28P01') {
      return new PgbranchError(
        'SOURCE_AUTH_FAILED',
        `the source ${who} refused the password of role ${source.user} (${why}). Check the password in the source URL`,
        { cause, details },
      );
    }
    if (sqlstate === '28000' && /replication connection/i.test(err.message)) {
      return new PgbranchError(
        'SOURCE_REPLICATION_DENIED',
        `the source ${who} has no pg_hba.conf line allowing replication connections for role ${source.user} (${why}). ` +
          `Add "host replication ${source.user} <this host's address>/32 scram-sha-256" to its pg_hba.conf and reload it (SELECT pg_reload_conf())`,
        { cause, details: { ...details, reason: 'hba' } },
      );
    }
    if (sqlstate === '28000' || sqlstate.startsWith('28')) {
      return new PgbranchError('SOURCE_AUTH_FAILED', `the source ${who} refused role ${source.user}: ${why}`, { cause, details });
    }
    if (sqlstate === '42501') {
      return new PgbranchError(
        'SOURCE_REPLICATION_DENIED',
        `role ${source.user} may not replicate from the source ${who} (${why}). Run ALTER ROLE ${source.user} REPLICATION on the source`,
        { cause, details: { ...details, reason: 'privilege' } },
      );
    }
    if (sqlstate === '53300' && /max_wal_senders/.test(err.message)) {
      if (/currently 0\b/.test(err.message)) {
        const walLevel = await walLevelViaSession(source, signal);
        if (walLevel === 'minimal') return walLevelError(source, walLevel);
      }
      return new PgbranchError(
        'SOURCE_NO_WAL_SENDERS',
        `the source ${who} has no free WAL sender (${why}). Raise max_wal_senders on the source (a base backup needs 2 free, ` +
          `a following standby 1; changing it needs a restart), or end other replication connections`,
        { cause, details },
      );
    }
    if (sqlstate === '57P03' || sqlstate.startsWith('08')) {
      return new PgbranchError('SOURCE_UNREACHABLE', `the source ${who} cannot accept connections now: ${why}`, { cause, details });
    }
    return new PgbranchError('REPLICATION_FAILED', `the source ${who} answered with an error: ${why} (SQLSTATE ${sqlstate})`, { cause, details });
  }
  if (err instanceof ProtocolError) {
    return new PgbranchError('REPLICATION_FAILED', `the source ${who} broke the protocol: ${why}`, { cause });
  }
  return new PgbranchError('REPLICATION_FAILED', `connecting to the source ${who} failed: ${why}`, { cause });
}

/** Opens a replication connection, reporting failures with stable codes and no password. */
export async function connectSource(source: ReplicationSource, options: OpenOptions = {}): Promise<ReplicationConnection> {
  try {
    return await ReplicationConnection.open(source, options);
  } catch (err) {
    throw await classifyOpenFailure(err, source, options.signal);
  }
}

/** Wraps an error raised on an open connection (a command failed, the stream broke). */
export function replicationFailure(what: string, err: unknown, source: ReplicationSource): PgbranchError {
  if (isPgbranchError(err)) return err;
  const why = reason(err, source);
  const sqlstate = err instanceof PgServerError ? err.sqlstate : undefined;
  return new PgbranchError('REPLICATION_FAILED', `${what} on the source ${describeSource(source)} failed: ${why}${sqlstate ? ` (SQLSTATE ${sqlstate})` : ''}`, {
    cause: safeCause(err, source),
    ...(sqlstate ? { details: { sqlstate } } : {}),
  });
}
