import type { MiddlewareHandler } from 'hono';
import { httpProblem, problemResponse } from './problem.js';

/**
 * Refuses request bodies over `maxBytes` with 413. A declared Content-Length is checked up front
 * (Node's parser holds the client to it); a body without one is read up to the limit and handed
 * on through Hono's body cache. Hono's own bodyLimit re-wraps the request in a new `Request`,
 * which fails for the request objects of @hono/node-server (e.g. any DELETE).
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = () => problemResponse(httpProblem(413, `request body over ${maxBytes} bytes`));
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return next();
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      return Number(length) > maxBytes ? tooLarge() : next();
    }
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        return tooLarge();
      }
      chunks.push(value);
    }
    const bytes = Buffer.concat(chunks);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    // Hono keeps promises in its body cache (typed as methods); json()/text() derive from it.
    (c.req.bodyCache as Record<string, unknown>).arrayBuffer = Promise.resolve(buffer);
    return next();
  };
}
