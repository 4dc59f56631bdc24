import { setTimeout as delay } from 'node:timers/promises';

export interface WaitOptions {
  readonly timeoutMs: number;
  /**
   * Longest re-check interval when no event wakes us earlier. Re-checks start at 1 ms and double
   * up to this, so a condition that turns true quickly is seen quickly without busy polling.
   */
  readonly intervalMs?: number;
  /** Describes the condition in the timeout error. */
  readonly what: string;
  /** Optional wake-up source (e.g. fs.watch): calling `wake` re-checks at once. */
  readonly subscribe?: (wake: () => void) => () => void;
}

/**
 * Waits until `check` returns a value other than undefined, or throws after the deadline.
 * This is the only way pgbranch waits for something: a condition with a deadline, never a
 * bare sleep.
 */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const maxInterval = options.intervalMs ?? 10;
  let interval = 1;
  let wakeUp: (() => void) | undefined;
  const unsubscribe = options.subscribe?.(() => wakeUp?.());
  try {
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
      const ac = new AbortController();
      await Promise.race([
        delay(Math.min(interval, maxInterval, left), undefined, { signal: ac.signal }).catch(() => undefined),
        new Promise<void>((resolve) => {
          wakeUp = resolve;
        }),
      ]);
      ac.abort();
      wakeUp = undefined;
      interval *= 2;
    }
  } finally {
    unsubscribe?.();
  }
}
