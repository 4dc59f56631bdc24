import { PgbranchError, isPgbranchError, toPgbranchError } from '../errors.js';
import { log, recordStep, waitFor, withMutex } from '../util/index.js';
import { isAlive } from './process-alive.js';
import { reconcile } from './reconcile.js';
import type { Runtime } from './runtime.js';


/**
 * Runs `fn` holding the host lock: first an in-process mutex (concurrent API requests queue
 * there), then the lock row in SQLite that records our pid, so that two CLI processes never
 * interleave steps and a lock held by a dead process is taken over. A failed operation is undone
 * at once by the same settle functions that undo a crashed one, so a failure leaves nothing
 * half-made either.
 */
export function withHostLock<T>(rt: Runtime, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const asked = performance.now();
  return rt.foreground.run(() => withMutex(rt.paths.home, async () => {
    const { store } = rt;
    try {
      await waitFor(() => (store.tryLock(process.pid, isAlive) ? true : undefined), { timeoutMs, intervalMs: 25, what: 'the host lock' });
    } catch (cause) {
      throw new PgbranchError('HOST_BUSY', `another pgbranch process is changing this host; gave up after ${timeoutMs} ms`, { cause });
    }
    recordStep('lock', performance.now() - asked);
    try {
      return await fn();
    } catch (err) {
      if (store.listOperations().length > 0) {
        await reconcile(rt).catch((cleanupErr: unknown) => log.warn({ err: (cleanupErr as Error).message }, 'cleanup after a failed operation failed'));
      }
      throw isPgbranchError(err) ? err : toPgbranchError(err);
    } finally {
      store.unlock(process.pid);
    }
  }));
}
