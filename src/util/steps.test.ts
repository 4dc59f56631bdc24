import { describe, expect, it } from 'vitest';
import { parseServerTiming, serverTimingHeader, timed, withStepTimings } from './steps.js';

describe('step timings', () => {
  it('adds up the time of each named step of the operation under way, across awaits and nested calls', async () => {
    const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    const { result, steps } = await withStepTimings(async () => {
      await timed('clone', () => wait(5));
      await Promise.all([timed('start', () => wait(5)), timed('start', () => wait(5))]);
      await timed('outer', () => timed('inner', () => wait(5)));
      return 42;
    });
    expect(result).toBe(42);
    expect([...steps.keys()]).toEqual(['clone', 'start', 'inner', 'outer']);
    // Timers fire no earlier than asked: each step took at least its wait.
    expect(steps.get('clone')).toBeGreaterThanOrEqual(4);
    expect(steps.get('start')).toBeGreaterThanOrEqual(8);
    expect(steps.get('outer')).toBeGreaterThanOrEqual(steps.get('inner')!);
  });

  it('outside an operation only runs the function; two operations do not mix', async () => {
    expect(await timed('x', async () => 'ran')).toBe('ran');
    const [a, b] = await Promise.all([withStepTimings(() => timed('a', async () => 1)), withStepTimings(() => timed('b', async () => 2))]);
    expect([...a.steps.keys()]).toEqual(['a']);
    expect([...b.steps.keys()]).toEqual(['b']);
  });

  it('writes and reads a Server-Timing header', () => {
    const header = serverTimingHeader(new Map([['clone', 12.345], ['start', 80]]));
    expect(header).toBe('clone;dur=12.3, start;dur=80.0');
    expect(parseServerTiming(`${header}, cache;desc="hit", total;dur=99.5`)).toEqual(new Map([['clone', 12.3], ['start', 80], ['total', 99.5]]));
    expect(parseServerTiming(null)).toEqual(new Map());
  });
});
