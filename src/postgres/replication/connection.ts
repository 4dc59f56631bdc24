import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { checkServerIdentity, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { PgbranchError } from '../../errors.js';
import { log } from '../../util/index.js';
import { createScramClient, md5PasswordResponse, SCRAM_SHA_256 } from './scram-client.js';
import type { ReplicationSource } from './types.js';
import {
  AUTH_CLEARTEXT_PASSWORD,
  AUTH_MD5_PASSWORD,
  AUTH_OK,
  AUTH_SASL,
  AUTH_SASL_CONTINUE,
  AUTH_SASL_FINAL,
  BodyReader,
  encodePassword,
  encodeQuery,
  encodeSaslInitialResponse,
  encodeSaslResponse,
  encodeSslRequest,
  encodeStartup,
  encodeTerminate,
  MessageSplitter,
  MSG_AUTHENTICATION,
  MSG_BACKEND_KEY_DATA,
  MSG_COMMAND_COMPLETE,
  MSG_COPY_BOTH_RESPONSE,
  MSG_COPY_IN_RESPONSE,
  MSG_COPY_OUT_RESPONSE,
  MSG_DATA_ROW,
  MSG_EMPTY_QUERY,
  MSG_ERROR_RESPONSE,
  MSG_NEGOTIATE_PROTOCOL_VERSION,
  MSG_NOTICE_RESPONSE,
  MSG_PARAMETER_STATUS,
  MSG_READY_FOR_QUERY,
  MSG_ROW_DESCRIPTION,
  parseDataRow,
  parseErrorFields,
  parseRowDescription,
  PgServerError,
  ProtocolError,
  type BackendMessage,
  type FieldDescription,
} from './wire.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
/** Stop reading from the socket when this much is queued and not consumed (disk slower than network). */
const HIGH_WATER_BYTES = 8 * 1024 * 1024;
const LOW_WATER_BYTES = 2 * 1024 * 1024;

/** Why a connection could not be opened, before any SQLSTATE: the caller classifies. */
export class ConnectError extends Error {
  constructor(
    readonly kind: 'network' | 'tls' | 'auth' | 'protocol',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'ConnectError';
  }
}

export function abortError(signal: AbortSignal | undefined): PgbranchError {
  const reason = signal?.reason as unknown;
  return new PgbranchError('OPERATION_ABORTED', `aborted${reason instanceof Error && reason.message ? `: ${reason.message}` : ''}`, {
    cause: reason ?? new Error('aborted'),
  });
}

export interface OpenOptions {
  /** true = physical replication (default); false = an ordinary session on `database`. */
  readonly replication?: boolean;
  /** Database for an ordinary session (default "postgres"). */
  readonly database?: string;
  readonly signal?: AbortSignal;
}

export interface QueryResult {
  readonly fields: readonly FieldDescription[];
  readonly rows: readonly (Buffer | null)[][];
  readonly command: string;
}

/** Rows of a result as objects of text values (null for SQL NULL). */
export function textRows(result: QueryResult): Record<string, string | null>[] {
  return result.rows.map((row) => Object.fromEntries(result.fields.map((f, i) => [f.name, row[i] === null ? null : row[i]!.toString('utf8')])));
}

function tlsOptions(source: ReplicationSource): { ca?: Buffer; rejectUnauthorized: boolean; verifyHost: boolean } {
  // libpq: sslmode=require with a root certificate file behaves like verify-ca.
  const verify = source.sslmode === 'verify-ca' || source.sslmode === 'verify-full' || (source.sslmode === 'require' && source.sslrootcert !== undefined);
  let ca: Buffer | undefined;
  if (verify && source.sslrootcert) {
    try {
      ca = readFileSync(source.sslrootcert);
    } catch (cause) {
      throw new ConnectError('tls', `cannot read sslrootcert ${source.sslrootcert}: ${(cause as Error).message}`, { cause });
    }
  }
  return { ...(ca ? { ca } : {}), rejectUnauthorized: verify, verifyHost: source.sslmode === 'verify-full' };
}

/**
 * One connection to a PostgreSQL server speaking the frontend protocol by hand (replication
 * connections need commands and COPY BOTH that ordinary drivers do not offer). Messages are
 * pulled with next(); the socket is paused while the consumer lags, so a slow disk slows the
 * server instead of filling memory.
 */
export class ReplicationConnection {
  readonly parameters = new Map<string, string>();
  private readonly splitter = new MessageSplitter();
  private readonly queue: BackendMessage[] = [];
  private queuedBytes = 0;
  private paused = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly removeAbortListener: () => void;

  private constructor(
    private readonly stream: Socket | TLSSocket,
    readonly source: ReplicationSource,
    private readonly signal: AbortSignal | undefined,
  ) {
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err) => this.fail(err));
    stream.on('close', () => this.fail(new ConnectError('network', 'the server closed the connection')));
    const onAbort = (): void => this.destroy(abortError(signal));
    signal?.addEventListener('abort', onAbort, { once: true });
    this.removeAbortListener = () => signal?.removeEventListener('abort', onAbort);
  }

  /** Opens, negotiates TLS as sslmode says, authenticates and waits for ReadyForQuery. */
  static async open(source: ReplicationSource, options: OpenOptions = {}): Promise<ReplicationConnection> {
    const { signal } = options;
    if (signal?.aborted) throw abortError(signal);
    const timeoutMs = source.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    let stream: Socket | TLSSocket | undefined;
    let conn: ReplicationConnection | undefined;
    const timer = setTimeout(() => {
      const err = new ConnectError('network', `no answer within ${timeoutMs} ms`);
      if (conn) conn.destroy(err);
      else stream?.destroy(err);
    }, timeoutMs);
    const onAbort = (): void => {
      if (!conn) stream?.destroy(abortError(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      stream = await openSocket(source);
      if (source.sslmode !== 'disable') stream = await negotiateTls(stream, source);
      conn = new ReplicationConnection(stream, source, signal);
      await conn.startup(options);
      return conn;
    } catch (err) {
      conn?.destroy();
      stream?.destroy();
      if (signal?.aborted) throw abortError(signal);
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  get serverVersionNum(): number {
    return Number(this.parameters.get('server_version_num') ?? 0);
  }

  send(data: Buffer): void {
    if (this.failure) throw this.failure;
    this.stream.write(data);
  }

  /** The next backend message (notices and parameter changes are consumed here). */
  async next(): Promise<BackendMessage> {
    for (;;) {
      const msg = this.queue.shift();
      if (msg) {
        this.queuedBytes -= msg.body.length;
        if (this.paused && this.queuedBytes < LOW_WATER_BYTES) {
          this.paused = false;
          this.stream.resume();
        }
        if (msg.type === MSG_NOTICE_RESPONSE) {
          const fields = parseErrorFields(msg.body);
          log.debug({ severity: fields.severity, sqlstate: fields.sqlstate, message: fields.message }, 'replication source notice');
          continue;
        }
        if (msg.type === MSG_PARAMETER_STATUS) {
          this.onParameterStatus(msg.body);
          continue;
        }
        return msg;
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }

  /**
   * Runs a simple query and collects every result set up to ReadyForQuery. For commands that
   * answer with COPY, use send(encodeQuery(…)) and next() instead.
   */
  async query(sql: string): Promise<QueryResult[]> {
    this.send(encodeQuery(sql));
    const results: QueryResult[] = [];
    let fields: FieldDescription[] = [];
    let rows: (Buffer | null)[][] = [];
    let error: PgServerError | undefined;
    for (;;) {
      const msg = await this.next();
      switch (msg.type) {
        case MSG_ROW_DESCRIPTION:
          fields = parseRowDescription(msg.body);
          rows = [];
          break;
        case MSG_DATA_ROW:
          rows.push(parseDataRow(msg.body));
          break;
        case MSG_COMMAND_COMPLETE:
          results.push({ fields, rows, command: new BodyReader(msg.body).cstring() });
          fields = [];
          rows = [];
          break;
        case MSG_EMPTY_QUERY:
          break;
        case MSG_ERROR_RESPONSE:
          error = new PgServerError(parseErrorFields(msg.body));
          break;
        case MSG_READY_FOR_QUERY:
          if (error) throw error;
          return results;
        case MSG_COPY_OUT_RESPONSE:
        case MSG_COPY_BOTH_RESPONSE:
        case MSG_COPY_IN_RESPONSE:
          this.destroy(new ProtocolError(`unexpected COPY response to ${sql.split(' ')[0]}`));
          throw new ProtocolError(`query() cannot run ${sql.split(' ')[0]}: it answers with COPY`);
        default:
          throw new ProtocolError(`unexpected message ${JSON.stringify(String.fromCharCode(msg.type))} during a query`);
      }
    }
  }

  /** Orderly close: Terminate, then end the stream. */
  async close(): Promise<void> {
    this.removeAbortListener();
    if (this.failure || this.stream.destroyed) return;
    await new Promise<void>((resolve) => {
      this.stream.once('close', () => resolve());
      this.stream.end(encodeTerminate());
      setTimeout(() => {
        this.stream.destroy();
        resolve();
      }, 2_000).unref();
    });
  }

  /** Drops the connection at once; pending and future next() calls fail with `err`. */
  destroy(err?: Error): void {
    this.removeAbortListener();
    this.fail(err ?? new ConnectError('network', 'connection closed by this client'));
    this.stream.destroy();
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  private onData(chunk: Buffer): void {
    let messages: BackendMessage[];
    try {
      messages = this.splitter.push(chunk);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    for (const m of messages) {
      this.queue.push(m);
      this.queuedBytes += m.body.length;
    }
    if (!this.paused && this.queuedBytes + this.splitter.buffered > HIGH_WATER_BYTES) {
      this.paused = true;
      this.stream.pause();
    }
    if (messages.length > 0) this.wake?.();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake?.();
  }

  private onParameterStatus(body: Buffer): void {
    const r = new BodyReader(body);
    this.parameters.set(r.cstring(), r.cstring());
  }

  private async startup(options: OpenOptions): Promise<void> {
    const { source } = this;
    const params: Record<string, string> = {
      user: source.user,
      application_name: source.applicationName ?? 'pgbranch',
      client_encoding: 'UTF8',
    };
    if (options.replication ?? true) params.replication = 'true';
    else params.database = options.database ?? 'postgres';
    this.send(encodeStartup(params));

    let scram: ReturnType<typeof createScramClient> | undefined;
    const needPassword = (): string => {
      if (source.password === undefined) {
        throw new ConnectError('auth', `the server asks for a password for role ${source.user} but the source URL has none`);
      }
      return source.password;
    };
    for (;;) {
      const msg = await this.next();
      switch (msg.type) {
        case MSG_AUTHENTICATION: {
          const r = new BodyReader(msg.body);
          const code = r.int32();
          if (code === AUTH_OK) break;
          if (code === AUTH_CLEARTEXT_PASSWORD) {
            this.send(encodePassword(needPassword()));
          } else if (code === AUTH_MD5_PASSWORD) {
            this.send(encodePassword(md5PasswordResponse(source.user, needPassword(), r.bytes(4))));
          } else if (code === AUTH_SASL) {
            const mechanisms: string[] = [];
            for (let m = r.cstring(); m !== ''; m = r.cstring()) mechanisms.push(m);
            if (!mechanisms.includes(SCRAM_SHA_256)) {
              throw new ConnectError('auth', `the server offers only SASL mechanisms ${mechanisms.join(', ')}, this client speaks ${SCRAM_SHA_256}`);
            }
            scram = createScramClient(needPassword());
            this.send(encodeSaslInitialResponse(SCRAM_SHA_256, scram.clientFirst));
          } else if (code === AUTH_SASL_CONTINUE) {
            if (!scram) throw new ProtocolError('SASL continue without SASL start');
            try {
              this.send(encodeSaslResponse(scram.final(r.rest())));
            } catch (cause) {
              throw new ConnectError('auth', (cause as Error).message, { cause });
            }
          } else if (code === AUTH_SASL_FINAL) {
            if (!scram) throw new ProtocolError('SASL final without SASL start');
            try {
              scram.verify(r.rest());
            } catch (cause) {
              throw new ConnectError('auth', (cause as Error).message, { cause });
            }
          } else {
            throw new ConnectError('auth', `the server asks for an authentication method this client does not support (code ${code}; GSSAPI/SSPI/Kerberos are not supported)`);
          }
          break;
        }
        case MSG_ERROR_RESPONSE:
          throw new PgServerError(parseErrorFields(msg.body));
        case MSG_BACKEND_KEY_DATA:
        case MSG_NEGOTIATE_PROTOCOL_VERSION:
          break;
        case MSG_READY_FOR_QUERY:
          return;
        default:
          throw new ProtocolError(`unexpected message ${JSON.stringify(String.fromCharCode(msg.type))} during startup`);
      }
    }
  }
}

function openSocket(source: ReplicationSource): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = source.host.startsWith('/')
      ? netConnect({ path: join(source.host, `.s.PGSQL.${source.port}`) })
      : netConnect({ host: source.host, port: source.port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const onError = (err: Error): void => {
      socket.destroy();
      reject(new ConnectError('network', err.message, { cause: err }));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
    socket.once('close', () => reject(new ConnectError('network', 'connection closed while connecting')));
  });
}

/** SSLRequest; on 'S' upgrade to TLS, on 'N' continue in plaintext if sslmode allows it. */
async function negotiateTls(socket: Socket, source: ReplicationSource): Promise<Socket | TLSSocket> {
  const answer = await new Promise<Buffer>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      cleanup();
      resolve(chunk);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new ConnectError('network', err.message, { cause: err }));
    };
    const onClose = (): void => {
      cleanup();
      reject(new ConnectError('network', 'the server closed the connection after SSLRequest'));
    };
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(encodeSslRequest());
  });
  // More than the one-byte answer before the handshake would be injected plaintext (CVE-2021-23222).
  if (answer.length !== 1) {
    socket.destroy();
    throw new ConnectError('protocol', 'unexpected data after the answer to SSLRequest');
  }
  const mustEncrypt = source.sslmode === 'require' || source.sslmode === 'verify-ca' || source.sslmode === 'verify-full';
  if (answer[0] === 0x4e /* N */) {
    if (mustEncrypt) {
      socket.destroy();
      throw new ConnectError('tls', `the server does not accept TLS connections but sslmode is ${source.sslmode}`);
    }
    return socket;
  }
  if (answer[0] !== 0x53 /* S */) {
    socket.destroy();
    throw new ConnectError('protocol', `unexpected answer ${JSON.stringify(String.fromCharCode(answer[0]!))} to SSLRequest`);
  }
  const { ca, rejectUnauthorized, verifyHost } = tlsOptions(source);
  const servername = isIP(source.host) === 0 && !source.host.startsWith('/') ? source.host : undefined;
  return new Promise((resolve, reject) => {
    const tlsSocket = tlsConnect({
      socket,
      ...(ca ? { ca } : {}),
      ...(servername ? { servername } : {}),
      rejectUnauthorized,
      checkServerIdentity: (_host, cert) => (verifyHost ? checkServerIdentity(source.host, cert) : undefined),
    });
    const onError = (err: Error): void => {
      tlsSocket.destroy();
      reject(new ConnectError('tls', `TLS handshake failed: ${err.message}`, { cause: err }));
    };
    tlsSocket.once('error', onError);
    tlsSocket.once('secureConnect', () => {
      tlsSocket.off('error', onError);
      resolve(tlsSocket);
    });
  });
}
