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

  it('a start counts as activity: a later start time moves the idle clock, an earlier one does not', () => {
    const tracker = new ActivityTracker();
    tracker.touch('b3', 5000);
    tracker.touchIfLater('b3', 4000);
    expect(tracker.lastActiveAt('b3', 9000)).toBe(5000);
    tracker.touchIfLater('b3', 8000);
    expect(tracker.lastActiveAt('b3', 9000)).toBe(8000);
  });

  it('a session counter that went back (a new instance) is not compared with the old one', () => {
    const tracker = new ActivityTracker();
    expect(tracker.observeSessions('b4', 10, 1000)).toBe('unknown');
    expect(tracker.observeSessions('b4', 11, 2000)).toBe('idle');
    // Restarted: its statistics start over lower; without the rule this read as "idle".
    expect(tracker.observeSessions('b4', 2, 3000)).toBe('unknown');
    expect(tracker.observeSessions('b4', 3, 4000)).toBe('idle');
    expect(tracker.observeSessions('b4', 6, 5000)).toBe('active');
  });

  it('the idle sweep looks once after the last activity and then at the deadline, not in between', () => {
    const tracker = new ActivityTracker();
    const timeout = 10_000;
    expect(tracker.needsLook('b5', 1_000, timeout)).toBe(true); // nothing to compare with yet
    expect(tracker.observeSessions('b5', 4, 1_000)).toBe('unknown');
    expect(tracker.needsLook('b5', 2_000, timeout)).toBe(false);
    expect(tracker.needsLook('b5', 10_999, timeout)).toBe(false);
    // At the deadline: a direct session since the first look counts as use now.
    expect(tracker.needsLook('b5', 11_000, timeout)).toBe(true);
    expect(tracker.observeSessions('b5', 6, 11_000)).toBe('active');
    expect(tracker.lastActiveAt('b5', 11_500)).toBe(11_000);
    expect(tracker.needsLook('b5', 12_000, timeout)).toBe(false);
    expect(tracker.needsLook('b5', 21_000, timeout)).toBe(true);
    expect(tracker.observeSessions('b5', 7, 21_000)).toBe('idle'); // only the previous look's own session
    // Endpoint use after a look: a new look is needed to compare with.
    tracker.touch('b5', 22_000);
    expect(tracker.needsLook('b5', 23_000, timeout)).toBe(true);
  });
});
