import type { VolumeSizeRecord } from '../state/index.js';
import { log } from '../util/index.js';
import { branchPointVolume } from './branch-point.js';
import type { Runtime } from './runtime.js';

/**
 * Sizes of volumes as last measured. Measuring one volume on a CoW pool means a filesystem
 * commit and a walk of its extents (tens of milliseconds); a list of hundreds of branches cannot
 * do that per call. So lists read the sizes kept in state.db, `serve` refreshes them in the
 * background, and a single branch's view (`branch get`) measures it live and keeps the result.
 */

export type Usage = { readonly ownBytes: number; readonly totalBytes: number };

/**
 * Measures one volume now and keeps the result; undefined if it cannot be measured (gone).
 * `mark`: the volume's change mark read before this measurement, kept with it.
 */
export async function measureVolume(rt: Runtime, volume: string, options: { committed?: boolean; mark?: string; background?: boolean } = {}): Promise<Usage | undefined> {
  try {
    const usage = await rt.storage.usage(volume, options);
    rt.store.putVolumeSize(volume, usage, options.mark ?? null);
    return usage;
  } catch {
    return undefined;
  }
}

/** Sizes as kept, and how many never-measured volumes one call may still measure itself. */
export interface SizeCache {
  readonly cached: ReadonlyMap<string, VolumeSizeRecord>;
  /** `first`: the first measurement of this call, which commits for all the others. */
  readonly budget: { left: number; first?: Promise<unknown> };
}

/** How many never-measured volumes one list measures (the rest wait for serve's refresh): a list stays bounded. */
export const LIST_MEASURE_BUDGET = 10;

export function sizeCache(rt: Runtime, budget = LIST_MEASURE_BUDGET): SizeCache {
  return { cached: rt.store.listVolumeSizes(), budget: { left: budget } };
}

/**
 * A kept size older than this is measured again by a list that has budget left: without `serve`
 * (the CLI alone) nothing refreshes sizes in the background, and lists must not show the size a
 * branch had when it was first listed forever. Well above serve's refresh interval (60 s by
 * default), so that with serve running a CLI list finds every size fresh and measures nothing.
 */
export const SIZE_FRESH_MS = 5 * 60_000;

/**
 * The kept size of a volume. One never measured, or measured longer than SIZE_FRESH_MS ago, is
 * measured now (and kept) while the budget lasts — the never measured first in effect, since a
 * stale size is still shown once the budget is spent. Past the budget (a serving process asks for
 * a budget of 0) a never-measured volume is measured in the background, one volume at a time,
 * and the next list has it; a stale one waits for serve's refresh.
 */
export async function cachedUsage(rt: Runtime, cache: SizeCache, volume: string): Promise<Usage | undefined> {
  const kept = cache.cached.get(volume);
  if (kept && (Date.now() - Date.parse(kept.measuredAt) < SIZE_FRESH_MS || cache.budget.left <= 0)) return kept;
  if (!kept && cache.budget.left <= 0) {
    measureLater(rt, volume);
    return undefined;
  }
  cache.budget.left--;
  if (!cache.budget.first) {
    const first = measureVolume(rt, volume);
    cache.budget.first = first;
    return first;
  }
  await cache.budget.first;
  return measureVolume(rt, volume, { committed: true });
}

/**
 * Background measurements stand aside for operations (see ForegroundActivity): one waits until no
 * operation has run for UPKEEP_QUIET_MS, UPKEEP_MAX_WAIT_MS at most. In a burst of creates sizes
 * lag behind by a few measurements; measuring beside each create made it twice as slow at a few
 * hundred clones.
 */
export const UPKEEP_QUIET_MS = 500;
export const UPKEEP_MAX_WAIT_MS = 10_000;

const standAside = (rt: Runtime): Promise<boolean> => rt.foreground.quiet(UPKEEP_QUIET_MS, UPKEEP_MAX_WAIT_MS);

/**
 * Volumes waiting to be measured in the background, and the drain measuring them, one at a time.
 * A list in serve may queue hundreds of new volumes at once; a pool commit for each would stall
 * every running branch's writes hundreds of times and keep serve busy for minutes. So the drain's
 * first measurement commits and the next ones rely on that commit for DRAIN_COMMIT_MS (what was
 * written since shows at the next refresh, which the change marks trigger).
 */
interface Backlog {
  readonly queued: Set<string>;
  draining?: Promise<void>;
}
/** One backlog per open host (a process may open several, and each measures through its own). */
const backlogs = new WeakMap<Runtime, Backlog>();
const DRAIN_COMMIT_MS = 5_000;

function measureLater(rt: Runtime, volume: string): void {
  let backlog = backlogs.get(rt);
  if (!backlog) backlogs.set(rt, (backlog = { queued: new Set() }));
  const { queued } = backlog;
  queued.add(volume);
  backlog.draining ??= (async () => {
    let committedAt: number | undefined;
    try {
      // A Set's iteration also visits what is added to it meanwhile.
      for (const next of queued) {
        await standAside(rt);
        const committed = committedAt !== undefined && performance.now() - committedAt < DRAIN_COMMIT_MS;
        const started = performance.now();
        if ((await measureVolume(rt, next, { committed, background: true })) && !committed) committedAt = started;
        queued.delete(next);
      }
    } finally {
      backlog.draining = undefined;
    }
  })();
}

/** Resolves once the background measurements queued so far for this host are done (for tests). */
export async function backgroundMeasurements(rt: Runtime): Promise<void> {
  const backlog = backlogs.get(rt);
  while (backlog?.draining) await backlog.draining;
}

/**
 * A kept size of a volume nothing writes to (a suspended or stopped branch, an idle running one,
 * a kept branch point) is measured again after this long. Its own bytes still drift while
 * relatives write (a parent's extents become its own as a child rewrites them; a branch point's,
 * as its branch does), so it is not kept forever.
 */
export const IDLE_SIZE_FRESH_MS = 10 * 60_000;

/**
 * At most this many sizes are measured again per refresh for their age alone (the oldest first):
 * at 2,000 volumes a 10-minute horizon would otherwise mean 200 walks a minute, a core of
 * serve's, competing with every create. An old size stays shown meanwhile.
 */
export const STALE_SIZES_PER_REFRESH = 50;

/**
 * Measures, one at a time (it competes with the branches for I/O, not for latency), every volume
 * whose size may have moved since it was kept, then forgets volumes that are gone:
 * - never measured ones;
 * - branches whose record changed since (a suspend, a stop, a reset);
 * - branches that should run and wrote since (their change mark moved; without marks, every
 *   running branch), with their branch points, whose own bytes grow as the branch rewrites what
 *   they share;
 * - and, STALE_SIZES_PER_REFRESH at most, those older than IDLE_SIZE_FRESH_MS.
 * Returns how many were measured. Run periodically by serve.
 */
export async function refreshSizes(rt: Runtime, nowMs = Date.now()): Promise<number> {
  const started = performance.now();
  const kept = rt.store.listVolumeSizes();
  const present = new Set(await rt.storage.listVolumes());
  // Which volumes were written since measured, without walking them (an idle running instance
  // writes nothing). Marks come with a commit, which every measurement below then relies on.
  await standAside(rt);
  const marks = await rt.storage.changeMarks?.().catch((err: unknown) => {
    log.debug({ err: (err as Error).message }, 'no change marks: every running branch is measured');
    return undefined;
  });
  const wrote = (volume: string): boolean => {
    const mark = marks?.get(volume);
    return mark === undefined || kept.get(volume)?.mark !== mark;
  };
  const due = new Set<string>();
  const old: string[] = [];
  const keep = new Set<string>();
  const consider = (volume: string, moved: boolean): void => {
    keep.add(volume);
    const size = kept.get(volume);
    if (size === undefined || moved) due.add(volume);
    else if (nowMs - Date.parse(size.measuredAt) >= IDLE_SIZE_FRESH_MS) old.push(volume);
  };
  for (const branch of rt.store.listBranches()) {
    const size = kept.get(branch.volume);
    const changed = size !== undefined && Date.parse(branch.updatedAt) >= Date.parse(size.measuredAt);
    const written = branch.desiredState === 'running' && wrote(branch.volume);
    consider(branch.volume, changed || written);
    const bp = branchPointVolume(branch.volume);
    if (present.has(bp)) consider(bp, written);
  }
  const byAge = old.sort((a, b) => Date.parse(kept.get(a)!.measuredAt) - Date.parse(kept.get(b)!.measuredAt));
  for (const volume of byAge.slice(0, STALE_SIZES_PER_REFRESH)) due.add(volume);
  // One commit for the whole batch (the marks' or the first measurement's): a commit per volume
  // would stall every branch's writes hundreds of times a minute on a busy host.
  let measured = 0;
  for (const volume of due) {
    await standAside(rt);
    if (await measureVolume(rt, volume, { committed: marks !== undefined || measured > 0, mark: marks?.get(volume), background: true })) measured++;
  }
  rt.store.pruneVolumeSizes(keep);
  log.debug({ measured, of: present.size, ms: Math.round(performance.now() - started) }, 'volume sizes refreshed');
  return measured;
}
