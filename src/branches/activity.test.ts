import { describe, expect, it } from 'vitest';
import { ActivityTracker } from './activity.js';

describe('ActivityTracker', () => {
  it('counts connections; release is idempotent and stamps the last activity', () => {
    const tracker = new ActivityTracker();
    const a = tracker.acquire('b1');
    const b = tracker.acquire('b1');
    expect(tracker.connections('b1')).toBe(2);
    a();
    a();
    expect(tracker.connections('b1')).toBe(1);
    b();
    expect(tracker.connections('b1')).toBe(0);
    expect(tracker.lastActiveAt('b1', 0)).toBeGreaterThan(0);
  });

  it('starts the idle clock when first asked', () => {
    const tracker = new ActivityTracker();
    expect(tracker.lastActiveAt('b2', 1000)).toBe(1000);
    expect(tracker.lastActiveAt('b2', 5000)).toBe(1000);
    tracker.touch('b2', 7000);
    expect(tracker.lastActiveAt('b2', 9000)).toBe(7000);
  });
});
