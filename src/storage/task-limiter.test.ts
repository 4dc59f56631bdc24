import { describe, expect, it } from 'vitest';
import { createTaskLimiter } from './task-limiter.js';

/** A task that finishes only when the test says so. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('createTaskLimiter', () => {
  it('never runs more than `concurrency` tasks at once', async () => {
    const limiter = createTaskLimiter(3);
    let running = 0;
    let peak = 0;
    const gates = Array.from({ length: 10 }, gate);
    const done = gates.map((g) =>
      limiter.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await g.promise;
        running--;
      }),
    );
    await Promise.resolve();
    expect(running).toBe(3);
    for (const g of gates) g.open();
    await Promise.all(done);
    expect(peak).toBe(3);
  });

  it('after abort, rejects queued tasks without running them and lets running ones finish', async () => {
    const limiter = createTaskLimiter(1);
    const first = gate();
    let ranQueued = false;
    const running = limiter.run(() => first.promise.then(() => 'finished'));
    const queued = limiter.run(async () => {
      ranQueued = true;
    });
    const reason = new Error('stop');
    limiter.abort(reason);
    await expect(queued).rejects.toBe(reason);
    first.open();
    await expect(running).resolves.toBe('finished');
    expect(ranQueued).toBe(false);
    expect(limiter.aborted).toBe(true);
  });
});
