import { connect, type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { BackendKeyRewriter } from './backend-key.js';
import type { CancelKeys, CancelTarget } from './cancel-keys.js';
import {
  ALPN_POSTGRESQL,
  ENCRYPTION_ACCEPTED,
  ENCRYPTION_REFUSED,
  SQLSTATE,
  encodeCancelRequest,
  encodeErrorResponse,
  encodeStartupMessage,
  type BackendKey,
  type ErrorFields,
  type StartupParameters,
} from './protocol.js';
import { adoptAccepted, connectReading, readEvents, sinkTo, type ChunkHandler } from './relay.js';
import { resolveRoute, rewriteStartupParameters, startupParameter, type Route } from './routing.js';
import { backendUnreachable, sessionError } from './session-errors.js';
import { StartupReader } from './startup.js';

/** What the endpoint needs from the domain: a running branch's port, counted while in use. */
export interface BranchRouter {
  /** Wakes a suspended branch; throws BRANCH_NOT_FOUND / BRANCH_STOPPED / INVALID_BRANCH_NAME. */
  openSession(branch: string): Promise<BranchSession>;
}

export interface BranchSession {
  /** Loopback port of the branch's instance. */
  readonly port: number;
  /** Called exactly once, when the client connection is over. */
  release(): void;
}

export type ProxyLog = Pick<Logger, 'debug' | 'warn'>;

export interface ConnectionContext {
  readonly router: BranchRouter;
  readonly secureContext: SecureContext | undefined;
  readonly publicHost: string;
  readonly startupTimeoutMs: number;
  readonly backendHost: string;
  readonly keepAliveInitialDelayMs: number;
  readonly cancelKeys: CancelKeys;
  readonly log: ProxyLog;
}

/** How long a socket may take to flush and close once its peer is gone. */
const LINGER_MS = 30_000;
/** How long a forwarded cancel may take before we give up on it. */
const CANCEL_TIMEOUT_MS = 5_000;
/** How much a client may send while its branch is being opened before we stop reading it. */
const HELD_BYTES_LIMIT = 64 * 1024;

type Phase = 'startup' | 'tls' | 'routing' | 'authenticating' | 'relaying' | 'cancel' | 'closed';

/**
 * One client connection: startup negotiation (SSL/GSS requests, direct TLS, cancel requests,
 * the StartupMessage), routing to a branch, then a byte relay. The proxy never reads passwords:
 * authentication (SCRAM) runs between the client and the branch's instance.
 *
 * Per packet, once relaying: one read into the socket's reused buffer, one synchronous write to
 * the other side, nothing parsed (relay.ts says how and why). Until the backend's first
 * ReadyForQuery its bytes go through BackendKeyRewriter (the cancel key is swapped); the
 * handlers `onClientChunk`/`onBackendChunk` are swapped per phase rather than re-checked per
 * packet.
 */
export class ClientConnection {
  /** Settles when the client side is closed and the backend side (if any) too. */
  readonly closed: Promise<void>;

  /** The socket the client's bytes are read from and written to (TLS once negotiated). */
  private client: Socket;
  /** The client's TCP socket (reading into a reused buffer: see adoptAccepted). */
  private readonly plain: Socket;
  private readonly clientAddress: string | undefined;
  private backend: Socket | undefined;
  /** What the client's bytes are for in the current phase. */
  private onClientChunk: ChunkHandler;
  private readonly reader = new StartupReader();
  private phase: Phase = 'startup';
  private encryptionNegotiated = { ssl: false, gss: false };
  private tls = false;
  private serverName: string | undefined;
  private route: Route | undefined;
  private session: BranchSession | undefined;
  private revokeCancelKey: (() => void) | undefined;
  private clientClosed = false;
  private backendClosed = false;
  private finished = false;
  private readonly startedAt = performance.now();
  private readonly startupTimer: NodeJS.Timeout;
  private resolveClosed!: () => void;
  /** Startup bytes are copied: the chunk may be a view of the socket's read buffer. */
  private readonly onStartupChunk: ChunkHandler = (chunk) => {
    this.reader.push(Buffer.from(chunk));
    this.readStartup();
    return true;
  };
  /**
   * While the branch is being opened: kept (copied) for the backend. Reading goes on up to a
   * limit, so that a client hanging up meanwhile is seen (and its session released).
   */
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  private readonly onHeldChunk: ChunkHandler = (chunk) => {
    this.held.push(Buffer.from(chunk));
    this.heldBytes += chunk.length;
    return this.heldBytes < HELD_BYTES_LIMIT;
  };
  /** Once the connection is answered and closing: read only to see the client hang up. */
  private readonly onDroppedChunk: ChunkHandler = () => true;
  /** While TLS takes over the plain socket, which then reads nothing itself. */
  private readonly onUnexpectedChunk: ChunkHandler = () => false;

  /** `raw` comes from a server listening with `pauseOnConnect`. */
  constructor(
    raw: Socket,
    private readonly ctx: ConnectionContext,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.clientAddress = raw.remoteAddress;
    this.onClientChunk = this.onStartupChunk;
    const plain = adoptAccepted(raw, (chunk) => this.onClientChunk(chunk));
    this.plain = plain;
    this.client = plain;
    plain.setNoDelay(true);
    plain.setKeepAlive(true, ctx.keepAliveInitialDelayMs);
    plain.on('error', (err) => this.onSocketError('client', err));
    plain.on('close', (hadError) => this.onClientClose(hadError));
    this.startupTimer = setTimeout(() => this.onStartupTimeout(), ctx.startupTimeoutMs);
    this.startupTimer.unref();
  }

  /** Ends the connection now (shutdown after the drain timeout). */
  destroy(): void {
    this.client.destroy();
    this.plain.destroy();
    this.backend?.destroy();
  }

  // --- startup phase ---

  private readStartup(): void {
    while (this.phase === 'startup') {
      const packet = this.reader.next();
      if (!packet) return;
      switch (packet.type) {
        case 'sslRequest':
          if (this.encryptionNegotiated.ssl || this.tls) return this.fail({ code: SQLSTATE.PROTOCOL_VIOLATION, message: 'unexpected SSL request' });
          this.encryptionNegotiated.ssl = true;
          if (!this.ctx.secureContext) {
            this.client.write(ENCRYPTION_REFUSED);
            continue;
          }
          // Bytes pipelined behind the request would be read as if encrypted (CVE-2021-23222).
          if (this.reader.bufferedLength > 0) {
            return this.fail({ code: SQLSTATE.PROTOCOL_VIOLATION, message: 'received unencrypted data after SSL request' });
          }
          this.client.write(ENCRYPTION_ACCEPTED);
          return this.startTls(false);
        case 'gssEncRequest':
          if (this.encryptionNegotiated.gss || this.tls) return this.fail({ code: SQLSTATE.PROTOCOL_VIOLATION, message: 'unexpected GSSAPI request' });
          this.encryptionNegotiated.gss = true;
          this.client.write(ENCRYPTION_REFUSED);
          continue;
        case 'tlsClientHello':
          if (!this.ctx.secureContext) {
            // Nothing a TLS client could read: close, as the server does without TLS.
            this.ctx.log.debug({ client: this.clientAddress }, 'endpoint: direct TLS without a certificate configured');
            return this.destroy();
          }
          return this.startTls(true);
        case 'cancelRequest':
          return void this.cancel(packet.key);
        case 'startup':
          return void this.open(packet.protocolVersion, packet.parameters);
        case 'invalid':
          return this.fail({ code: packet.code, message: packet.message });
      }
    }
  }

  /** TLS on the same socket: after an 'S' answer, or at once for direct TLS (the ClientHello is already read). */
  private startTls(direct: boolean): void {
    this.phase = 'tls';
    const plain = this.plain;
    this.onClientChunk = this.onUnexpectedChunk;
    plain.pause();
    // The TLS socket replays what the plain socket still holds into the handshake.
    if (direct) plain.unshift(this.reader.takeBuffered());
    const secure = new TLSSocket(plain, { isServer: true, secureContext: this.ctx.secureContext, ALPNProtocols: [ALPN_POSTGRESQL] });
    this.client = secure;
    secure.on('error', (err) => this.onSocketError('client', err));
    secure.on('close', (hadError) => this.onClientClose(hadError));
    secure.once('secure', () => {
      if (direct && secure.alpnProtocol !== ALPN_POSTGRESQL) {
        this.ctx.log.debug({ client: this.clientAddress }, 'endpoint: direct TLS without ALPN "postgresql"');
        return this.destroy();
      }
      this.tls = true;
      this.serverName = typeof secure.servername === 'string' ? secure.servername : undefined;
      this.phase = 'startup';
      this.onClientChunk = this.onStartupChunk;
      readEvents(secure, (chunk) => this.onClientChunk(chunk));
      this.readStartup();
    });
  }

  private onStartupTimeout(): void {
    if (this.phase === 'tls') return this.destroy();
    if (this.phase !== 'startup') return;
    this.fail({ code: SQLSTATE.PROTOCOL_VIOLATION, message: `no startup packet received within ${this.ctx.startupTimeoutMs} ms` });
  }

  // --- a session: route, open, relay ---

  private async open(protocolVersion: number, parameters: StartupParameters): Promise<void> {
    this.phase = 'routing';
    clearTimeout(this.startupTimer);
    this.onClientChunk = this.onHeldChunk;
    // Whatever followed the StartupMessage belongs to the backend.
    const early = this.reader.takeBuffered();

    const routed = resolveRoute({ user: startupParameter(parameters, 'user'), serverName: this.serverName, publicHost: this.ctx.publicHost });
    if (!routed.ok) return this.fail(routed.error);
    const route = routed.route;
    this.route = route;

    let session: BranchSession;
    try {
      session = await this.ctx.router.openSession(route.branch);
    } catch (err) {
      const fields = sessionError(err, route.branch);
      const log = fields.code === SQLSTATE.INVALID_CATALOG_NAME ? this.ctx.log.debug.bind(this.ctx.log) : this.ctx.log.warn.bind(this.ctx.log);
      log({ branch: route.branch, err: err instanceof Error ? err.message : String(err) }, 'endpoint: no session for the branch');
      return this.fail(fields);
    }
    if (this.clientClosed) return session.release();
    this.session = session;

    let onBackendChunk: ChunkHandler = this.onUnexpectedChunk; // nothing comes before our StartupMessage
    const backend = connectReading(
      { host: this.ctx.backendHost, port: session.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: this.ctx.keepAliveInitialDelayMs },
      (chunk) => onBackendChunk(chunk),
    );
    this.backend = backend;
    backend.on('error', (err) => this.onSocketError('backend', err));
    backend.on('close', (hadError) => this.onBackendClose(hadError));
    const failure = await new Promise<Error | undefined>((resolve) => {
      backend.once('connect', () => resolve(undefined));
      backend.once('error', resolve);
      backend.once('close', () => resolve(new Error('closed before connecting')));
    });
    if (this.clientClosed) return void backend.destroy();
    if (failure) {
      this.ctx.log.warn({ branch: route.branch, port: session.port, err: failure.message }, 'endpoint: branch instance unreachable');
      return this.fail(backendUnreachable(route.branch, failure));
    }
    this.ctx.log.debug({ branch: route.branch, routedBy: route.via, tls: this.tls }, 'endpoint: connection routed');

    this.phase = 'authenticating';
    const rewriter = new BackendKeyRewriter((backendKey) => this.issueCancelKey(session.port, backendKey));
    const client = this.client;
    const toClient = sinkTo(client, () => backend.resume(), { copy: this.tls });
    const toBackend = sinkTo(backend, () => client.resume(), { copy: false });
    onBackendChunk = (chunk) => {
      const out = rewriter.transform(chunk);
      if (rewriter.done) {
        this.phase = 'relaying';
        onBackendChunk = toClient;
      }
      return out.length === 0 || toClient(out);
    };
    backend.write(encodeStartupMessage(protocolVersion, rewriteStartupParameters(parameters, route)));
    if (early.length > 0) backend.write(early);
    for (const chunk of this.held.splice(0)) backend.write(chunk);
    this.onClientChunk = toBackend;
    client.resume();
  }

  private issueCancelKey(port: number, backendKey: BackendKey): BackendKey {
    this.revokeCancelKey?.();
    const issued = this.ctx.cancelKeys.issue({ port, backendKey });
    this.revokeCancelKey = issued.revoke;
    return issued.key;
  }

  /** A CancelRequest: forwarded with the real key when it is one we issued; the client learns nothing either way. */
  private async cancel(key: BackendKey): Promise<void> {
    this.phase = 'cancel';
    clearTimeout(this.startupTimer);
    this.onClientChunk = this.onDroppedChunk;
    const target = this.ctx.cancelKeys.lookup(key);
    if (target) {
      await sendCancel(this.ctx.backendHost, target).catch((err: unknown) =>
        this.ctx.log.debug({ port: target.port, err: (err as Error).message }, 'endpoint: forwarding a cancel request failed'),
      );
    } else {
      this.ctx.log.debug({ client: this.clientAddress }, 'endpoint: cancel request with an unknown key');
    }
    // Closing tells the client the request was dealt with (as the server does).
    this.client.end();
    this.linger(this.client);
  }

  // --- ending ---

  /** Refuses the connection the PostgreSQL way: an ErrorResponse, then close. */
  private fail(fields: ErrorFields): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    clearTimeout(this.startupTimer);
    this.backend?.destroy();
    if (!this.client.destroyed) {
      // Keep reading (and dropping) so that the client's hang-up is seen and the socket closes.
      this.onClientChunk = this.onDroppedChunk;
      this.client.resume();
      this.client.end(encodeErrorResponse(fields));
      this.linger(this.client);
    }
  }

  private onSocketError(side: 'client' | 'backend', err: Error): void {
    // A client going away mid-stream is normal; the close handlers do the rest.
    this.ctx.log.debug({ side, branch: this.route?.branch, err: err.message }, 'endpoint: socket error');
  }

  private onClientClose(hadError: boolean): void {
    if (this.clientClosed) return;
    this.clientClosed = true;
    clearTimeout(this.startupTimer);
    const backend = this.backend;
    if (backend && !backend.destroyed) {
      // Mid-session a clean hang-up is passed on (a Terminate may still be in flight); before
      // that, or after an error, there is nothing to finish.
      if (hadError || (this.phase !== 'authenticating' && this.phase !== 'relaying')) backend.destroy();
      else {
        backend.end();
        this.linger(backend);
      }
    }
    this.maybeFinish();
  }

  private onBackendClose(hadError: boolean): void {
    if (this.backendClosed) return;
    this.backendClosed = true;
    const client = this.client;
    // While connecting, open() reports the failure to the client itself.
    if (this.phase === 'authenticating' || this.phase === 'relaying') {
      if (hadError) client.destroy();
      else if (!client.destroyed) {
        client.end();
        this.linger(client);
      }
    }
    this.maybeFinish();
  }

  private linger(socket: Socket): void {
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  }

  private maybeFinish(): void {
    if (this.finished || !this.clientClosed || (this.backend !== undefined && !this.backendClosed)) return;
    this.finished = true;
    this.phase = 'closed';
    this.revokeCancelKey?.();
    this.session?.release();
    if (this.route) {
      this.ctx.log.debug(
        {
          branch: this.route.branch,
          role: this.route.role,
          routedBy: this.route.via,
          tls: this.tls,
          durationMs: Math.round(performance.now() - this.startedAt),
          bytesFromClient: this.client.bytesRead,
          bytesToClient: this.client.bytesWritten,
        },
        'endpoint: connection closed',
      );
    }
    this.resolveClosed();
  }
}

/** Delivers a CancelRequest with the real key to the branch's postmaster, waiting until it hangs up. */
function sendCancel(host: string, target: CancelTarget): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: target.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${CANCEL_TIMEOUT_MS} ms`));
    }, CANCEL_TIMEOUT_MS);
    socket.on('connect', () => socket.end(encodeCancelRequest(target.backendKey)));
    socket.on('data', () => undefined);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
