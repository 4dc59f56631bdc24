import { describe, expect, it } from 'vitest';
import { waitFor } from './wait.js';

describe('waitFor', () => {
  it('returns the first defined value of the check', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls === 4 ? 'done' : undefined), { timeoutMs: 1000, what: 'four calls' });
    expect(value).toBe('done');
    expect(calls).toBe(4);
  });

  it('fails with the condition named once the deadline passes', async () => {
    await expect(waitFor(() => undefined, { timeoutMs: 30, what: 'nothing' })).rejects.toThrow(/timed out after 30 ms waiting for nothing/);
  });

  it('propagates an error thrown by the check', async () => {
    await expect(waitFor(() => Promise.reject(new Error('broken')), { timeoutMs: 1000, what: 'x' })).rejects.toThrow('broken');
  });
});
