import type { MiddlewareHandler } from 'hono';
import { serverTimingHeader, withStepTimings } from '../util/index.js';
import type { ApiEnv } from './auth.js';

/**
 * Answers where a request's time went in a `Server-Timing` header: the steps the domain timed
 * (waiting for the host lock, the room check, the snapshot, the instance's start, …) and the
 * total. Browsers' developer tools show it; `bench:density` reads it to tell which step of a
 * create grows with the number of branches. Durations only: nothing about the data.
 */
export function serverTiming(): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const started = performance.now();
    const { steps } = await withStepTimings(() => next());
    const all = new Map([...steps, ['total', performance.now() - started]]);
    try {
      c.res.headers.set('Server-Timing', serverTimingHeader(all));
    } catch {
      // A response with immutable headers (a proxied one) goes out without the timings.
    }
  };
}
