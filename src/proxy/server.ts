import { createServer, type AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import { log as defaultLog } from '../util/index.js';
import { CancelKeys } from './cancel-keys.js';
import { ClientConnection, type BranchRouter, type ConnectionContext, type ProxyLog } from './connection.js';

export interface ProxyServerOptions {
  readonly router: BranchRouter;
  /** PEM certificate chain and key; without them SSLRequest is answered 'N' and direct TLS refused. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer } | undefined;
  /** Host name of the endpoint: a TLS server name `<branch>.<publicHost>` routes to `<branch>`. */
  readonly publicHost: string;
  /** On close, how long open connections may go on before they are cut. */
  readonly drainTimeoutMs: number;
  /** A client that has not sent its StartupMessage by then is refused (default 10 s). */
  readonly startupTimeoutMs?: number;
  /** Where the branches' instances listen (default 127.0.0.1). */
  readonly backendHost?: string;
  /** TCP keep-alive idle time on both sides (default 60 s). */
  readonly keepAliveInitialDelayMs?: number;
  readonly log?: ProxyLog;
}

export interface ProxyServer {
  /** Starts accepting; resolves with the bound port (useful with port 0). */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting, lets open connections finish for up to drainTimeoutMs, then cuts the rest. */
  close(): Promise<void>;
  /** Client connections open right now (any phase). */
  connections(): number;
}

/** The Postgres endpoint: one TCP port speaking the wire protocol, routing each connection to its branch. */
export function createProxyServer(options: ProxyServerOptions): ProxyServer {
  const log = options.log ?? defaultLog;
  const keepAliveInitialDelayMs = options.keepAliveInitialDelayMs ?? 60_000;
  const ctx: ConnectionContext = {
    router: options.router,
    secureContext: options.tls ? createSecureContext({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' }) : undefined,
    publicHost: options.publicHost,
    startupTimeoutMs: options.startupTimeoutMs ?? 10_000,
    backendHost: options.backendHost ?? '127.0.0.1',
    keepAliveInitialDelayMs,
    cancelKeys: new CancelKeys(),
    log,
  };
  const live = new Set<ClientConnection>();
  let closing: Promise<void> | undefined;

  // pauseOnConnect: a connection reads nothing until ClientConnection has set up its read buffer.
  const server = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: keepAliveInitialDelayMs, pauseOnConnect: true }, (socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    const connection = new ClientConnection(socket, ctx);
    live.add(connection);
    void connection.closed.then(() => live.delete(connection));
  });
  server.on('error', (err) => log.warn({ err: err.message }, 'endpoint: server error'));

  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },

    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        const drained = Promise.all([...live].map((c) => c.closed));
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.drainTimeoutMs)));
        await Promise.race([drained, timedOut]);
        clearTimeout(timer);
        if (live.size > 0) log.debug({ connections: live.size }, 'endpoint: drain timeout, closing the remaining connections');
        for (const connection of live) connection.destroy();
        await Promise.all([...live].map((c) => c.closed));
        await stopped;
      })();
      return closing;
    },

    connections: () => live.size,
  };
}
