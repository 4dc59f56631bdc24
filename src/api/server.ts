import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { Logger } from 'pino';
import { PgbranchError, toPgbranchError } from '../errors.js';
import { createApiApp } from './app.js';
import { createApiMetrics } from './metrics.js';
import type { ApiHost } from './branch-service.js';

export interface ApiServerOptions {
  readonly host: ApiHost;
  /** Where to listen; port 0 picks a free port (see `port` of the result). */
  readonly listen: { readonly host: string; readonly port: number };
  readonly logger?: Logger;
}

export interface ApiServer {
  /** The port actually bound. */
  readonly port: number;
  /** Base URL of the API, e.g. http://127.0.0.1:5480 (for clients and tests). */
  readonly url: string;
  /** Stops accepting connections, lets requests in flight finish, then resolves. */
  close(): Promise<void>;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const metrics = createApiMetrics(options.host);
  const app = createApiApp({ host: options.host, logger: options.logger, metrics });
  // overrideGlobalObjects: false — the server shares its process with other code (the endpoint,
  // tests) that must keep Node's own Request/Response.
  const server = createAdaptorServer({ fetch: app.fetch, overrideGlobalObjects: false }) as Server;
  const { host, port } = options.listen;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new PgbranchError('PORT_IN_USE', `cannot listen on ${host}:${port}: the port is in use`, { cause: err, details: { host, port } }));
      } else {
        reject(toPgbranchError(err, 'INTERNAL', `cannot listen on ${host}:${port}: ${err.message}`));
      }
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    port: bound,
    url: `http://${urlHost}:${bound}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        metrics.close();
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive connections with no request in flight would hold close() open.
        server.closeIdleConnections();
      }),
  };
}
