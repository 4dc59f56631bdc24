/**
 * Runs async filesystem tasks with at most `concurrency` in flight. Node's fs calls queue on the
 * libuv threadpool anyway; bounding them here keeps memory flat on huge trees and lets a failure
 * stop work that has not started yet instead of racing the cleanup of a half-made clone.
 */
export interface TaskLimiter {
  run<T>(task: () => Promise<T>): Promise<T>;
  /** After this, queued tasks reject with `reason` without running; running ones finish. */
  abort(reason: unknown): void;
  readonly aborted: boolean;
}

export function createTaskLimiter(concurrency: number): TaskLimiter {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  let running = 0;
  let abortReason: { reason: unknown } | undefined;
  const queue: Array<() => void> = [];

  const startNext = (): void => {
    while (running < concurrency && queue.length > 0) queue.shift()!();
  };

  return {
    get aborted() {
      return abortReason !== undefined;
    },
    abort(reason: unknown) {
      abortReason ??= { reason };
      for (const start of queue.splice(0)) start();
    },
    run<T>(task: () => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const start = (): void => {
          if (abortReason) return reject(abortReason.reason);
          running++;
          task()
            .then(resolve, reject)
            .finally(() => {
              running--;
              startNext();
            });
        };
        queue.push(start);
        startNext();
      });
    },
  };
}
