import { createServer } from 'node:net';

/**
 * A loopback TCP port that was free a moment ago (the kernel picked it for a listen on port 0).
 * Another process may take it before the caller binds it; startInstance reports PORT_IN_USE
 * then, and callers retry with a new port.
 */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
