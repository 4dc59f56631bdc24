import type { Socket } from 'node:net';

/**
 * Copies everything `src` receives to `dst`, pausing `src` while `dst`'s buffer is full. The
 * chunks are handed on as Node read them (no copy, no parsing); ends and errors are the
 * connection's business, not this function's.
 */
export function forward(src: Socket, dst: Socket): void {
  src.on('data', (chunk: Buffer) => {
    if (!dst.write(chunk)) src.pause();
  });
  dst.on('drain', () => src.resume());
  src.resume();
}
