import { afterEach, describe, expect, it, vi } from 'vitest';
import { expiryCountdown, formatBytes, formatDuration, pullRequestNumber, pullRequestUrl, syncSummary } from './app/format.js';
import { startPoller, type Visibility } from './app/poller.js';
import { branchTree, parentSuggestions } from './app/tree.js';
import type { Branch } from './app/wire.js';

const b = (name: string, parent: string | null, extra: Partial<Branch> = {}): Branch => ({ name, parent, parent_deleted: false, id: name, ...extra }) as Branch;

describe('the branch tree', () => {
  it('puts each branch under its parent, oldest first, depth-first', () => {
    const rows = branchTree([b('main', null), b('a', 'main'), b('b', 'main'), b('a1', 'a'), b('b1', 'b'), b('a2', 'a')]);
    expect(rows.map((r) => `${'  '.repeat(r.depth)}${r.branch.name}`)).toEqual(['main', '  a', '    a1', '    a2', '  b', '    b1']);
  });

  it('draws at the top, and says why, a branch whose parent is deleted or hidden by the token', () => {
    const rows = branchTree([b('pr-1', 'main'), b('pr-1-x', 'pr-1'), b('orphan', 'gone', { parent_deleted: true })]);
    expect(rows.map((r) => [r.branch.name, r.depth, r.detached])).toEqual([
      ['pr-1', 0, 'parent-hidden'],
      ['pr-1-x', 1, null],
      ['orphan', 0, 'parent-deleted'],
    ]);
    expect(parentSuggestions([b('pr-1', 'main'), b('pr-1-x', 'pr-1')])).toEqual(['main', 'pr-1', 'pr-1-x']);
    expect(parentSuggestions([b('x', 'main'), b('main', null)])).toEqual(['main', 'x']);
  });
});

describe('texts', () => {
  it('formats sizes, durations and countdowns', () => {
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(396 * 1024)).toBe('396 KiB');
    expect(formatBytes(46.1 * 1024 * 1024)).toBe('46.1 MiB');
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000 + 5_000)).toBe('3d 4h');
    expect(formatDuration(5 * 60_000 + 10_000)).toBe('5m 10s');
    expect(formatDuration(2 * 3_600_000 + 30_000)).toBe('2h');
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(expiryCountdown(null, now)).toBeNull();
    expect(expiryCountdown('2026-01-01T02:03:00Z', now)).toBe('in 2h 3m');
    expect(expiryCountdown('2025-12-31T23:59:00Z', now)).toBe('due now');
  });

  it('finds the pull request in the name, and links it only when the host names a repository', () => {
    expect(pullRequestNumber('pr-123')).toBe(123);
    expect(pullRequestNumber('pr-123-fix')).toBe(123);
    expect(pullRequestNumber('pr-abc')).toBeNull();
    expect(pullRequestNumber('xpr-1')).toBeNull();
    expect(pullRequestUrl(123, undefined)).toBeNull();
    expect(pullRequestUrl(123, 'acme/shop')).toBe('https://github.com/acme/shop/pull/123');
    expect(pullRequestUrl(123, 'javascript:alert(1)')).toBeNull();
  });

  it("shows a root's source: replication state and lag (follow), generations (refresh), nothing otherwise", () => {
    expect(syncSummary(undefined)).toBeNull();
    expect(syncSummary(null)).toBeNull();
    const history = { window_ms: 86_400_000, snapshot_interval_ms: 900_000, from: null, from_lsn: null, snapshots: 0, snapshot_bytes: null, archive_bytes: null };
    const follow = {
      state: 'streaming' as const,
      disconnected_since: null,
      last_error: null,
      receive_lsn: '0/30',
      replay_lsn: '0/30',
      source_lsn: '0/30',
      lag_bytes: 0,
      lag_seconds: 0,
      last_replayed_commit_at: null,
      slot: null,
      after_refresh: [],
      history,
    };
    const base = { branch: 'main', mode: 'follow' as const, url: 'postgres://repl@prod/app', refresh: null };
    expect(syncSummary({ ...base, follow })).toBe('streaming, caught up');
    expect(syncSummary({ ...base, follow: { ...follow, lag_bytes: 3 * 1024 * 1024, lag_seconds: 4 } })).toBe('streaming, 3.0 MiB behind, 4s lag');
    const down = syncSummary({ ...base, follow: { ...follow, state: 'disconnected', disconnected_since: '2026-12-01T09:14:02Z', last_error: 'could not connect to the primary server', lag_bytes: null } });
    expect(down).toMatch(/^disconnected since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: could not connect to the primary server$/);
    const refresh = { generation: 3, last_refresh_at: '2026-12-01T07:00:00Z', cron: null, next_refresh_at: null, running: false, after_refresh: [] };
    expect(syncSummary({ ...base, mode: 'refresh', follow: null, refresh }, Date.parse('2026-12-01T09:00:00Z'))).toBe('generation 3, refreshed 2h ago');
  });
});

describe('polling', () => {
  afterEach(() => vi.useRealTimers());

  function fakeVisibility() {
    let hidden = false;
    const listeners = new Set<() => void>();
    const visibility: Visibility = { hidden: () => hidden, onChange: (l) => (listeners.add(l), () => listeners.delete(l)) };
    return { visibility, set: (h: boolean) => ((hidden = h), listeners.forEach((l) => l())) };
  }

  it('runs each task at its own interval, pauses while hidden, catches up on what is due when shown', async () => {
    vi.useFakeTimers();
    const runs: string[] = [];
    const task = (name: string, everyMs: number) => ({ name, everyMs, run: async () => void runs.push(name) });
    const { visibility, set } = fakeVisibility();
    const poller = startPoller([task('list', 5_000), task('sizes', 30_000)], visibility);
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toEqual(['list', 'sizes']);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(runs.filter((r) => r === 'list')).toHaveLength(7);
    expect(runs.filter((r) => r === 'sizes')).toHaveLength(2);

    runs.length = 0;
    set(true);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(runs).toEqual([]);
    set(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(runs.sort()).toEqual(['list', 'sizes']);

    runs.length = 0;
    await poller.refresh('list');
    expect(runs).toEqual(['list']);
    poller.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runs).toEqual(['list']);
  });

  it('never overlaps a task with itself, and a refresh waits for a run that started before it', async () => {
    vi.useFakeTimers();
    let active = 0;
    let most = 0;
    let runs = 0;
    const { visibility } = fakeVisibility();
    const poller = startPoller(
      [
        {
          name: 'slow',
          everyMs: 1_000,
          run: async () => {
            active++;
            runs++;
            most = Math.max(most, active);
            await new Promise((done) => setTimeout(done, 3_000));
            active--;
          },
        },
      ],
      visibility,
    );
    const startedAt = Date.now();
    await vi.advanceTimersByTimeAsync(500);
    let refreshedAfterMs = -1;
    void poller.refresh('slow').then(() => (refreshedAfterMs = Date.now() - startedAt));
    // The first run ends at 3 s; the refresh asked at 0.5 s must see data read after it was asked.
    await vi.advanceTimersByTimeAsync(2_700);
    expect(refreshedAfterMs).toBe(-1);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(refreshedAfterMs).toBe(6_000);
    expect(runs).toBe(2);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(most).toBe(1);
    poller.stop();
  });
});
