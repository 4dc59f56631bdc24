import { describe, expect, it } from 'vitest';
import { ForegroundActivity } from './foreground.js';

/** A clock the test moves by hand; `quiet` is checked with deadlines it cannot miss. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('ForegroundActivity', () => {
  it('is quiet with nothing run, busy while an operation runs and for quietMs after it', async () => {
    const clock = manualClock();
    const fg = new ForegroundActivity(clock.now);
    expect(fg.isQuiet(500)).toBe(true);
    let release!: () => void;
    const op = fg.run(() => new Promise<void>((r) => (release = r)));
    expect(fg.isQuiet(500), 'an operation runs').toBe(false);
    clock.advance(10_000);
    expect(fg.isQuiet(500), 'however long it runs').toBe(false);
    release();
    await op;
    expect(fg.isQuiet(500), 'it just ended').toBe(false);
    clock.advance(499);
    expect(fg.isQuiet(500)).toBe(false);
    clock.advance(1);
    expect(fg.isQuiet(500)).toBe(true);
  });

  it('counts an operation that failed as ended', async () => {
    const clock = manualClock();
    const fg = new ForegroundActivity(clock.now);
    await expect(fg.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    clock.advance(100);
    expect(fg.isQuiet(100)).toBe(true);
  });

  it('quiet() answers true at once when quiet, false once maxWaitMs passed while busy', async () => {
    const clock = manualClock();
    const fg = new ForegroundActivity(clock.now);
    expect(await fg.quiet(50, 0)).toBe(true);
    let release!: () => void;
    const op = fg.run(() => new Promise<void>((r) => (release = r)));
    // Real timers pace the checks; the manual clock decides. Move it past the deadline meanwhile.
    const waiting = fg.quiet(1, 5_000);
    clock.advance(5_000);
    expect(await waiting, 'gave up at the deadline').toBe(false);
    release();
    await op;
    const after = fg.quiet(1, 60_000);
    clock.advance(1);
    expect(await after, 'quiet once the operation ended').toBe(true);
  });
});
