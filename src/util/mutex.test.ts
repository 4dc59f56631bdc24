import { describe, expect, it } from 'vitest';
import { withMutex } from './mutex.js';

describe('withMutex', () => {
  it('runs critical sections for one key one at a time, in call order, even when one fails', async () => {
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = withMutex('k', async () => {
      events.push('a:start');
      await gate;
      events.push('a:end');
      throw new Error('boom');
    });
    const second = withMutex('k', async () => {
      events.push('b');
      return 2;
    });
    const other = withMutex('other', async () => {
      events.push('other');
    });
    await other;
    expect(events).toEqual(['a:start', 'other']);
    release();
    await expect(first).rejects.toThrow('boom');
    expect(await second).toBe(2);
    expect(events).toEqual(['a:start', 'other', 'a:end', 'b']);
  });
});
