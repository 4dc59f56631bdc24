import { instanceStatus, pingInstance } from '../postgres/index.js';
import type { BranchRecord } from '../state/index.js';
import { log } from '../util/index.js';
import { HOST_ACTOR, audited, branchTarget } from './audit.js';
import type { HostCore } from './core.js';
import type { Runtime } from './runtime.js';

/**
 * Health of an instance from what it answers, not from its postmaster.pid alone: a postmaster
 * that is alive but stuck in crash recovery (after a PANIC, say on a full pool) still has a pid
 * file saying "ready". `down`: no live postmaster on the volume; `ready`: it accepts connections;
 * `unhealthy`: the postmaster lives but refuses connections or does not answer.
 */
export type InstanceHealth = { readonly kind: 'ready' } | { readonly kind: 'down' } | { readonly kind: 'unhealthy'; readonly reason: string };

const PING_TIMEOUT_MS = 3_000;

/**
 * A "ready" answer is believed for this long for the same postmaster (same pid): in `serve` the
 * health beat pings every running instance anyway, so a list right after it need not ping them
 * all again. Anything else (no postmaster, a new pid, a refusal) is looked at afresh.
 */
const READY_MEMORY_MS = 15_000;

/** Ready answers seen in this process: volume → postmaster pid and when. */
const seenReady = new Map<string, { pid: number; atMs: number }>();

export async function instanceHealth(rt: Runtime, branch: Pick<BranchRecord, 'volume' | 'port' | 'dbUser' | 'dbName'>, options: { fresh?: boolean } = {}): Promise<InstanceHealth> {
  const status = await instanceStatus(rt.dataDir(branch.volume));
  if (!status.running) {
    seenReady.delete(branch.volume);
    return { kind: 'down' };
  }
  const seen = seenReady.get(branch.volume);
  if (!options.fresh && seen && seen.pid === status.pid && Date.now() - seen.atMs < READY_MEMORY_MS) return { kind: 'ready' };
  const answer = await pingInstance({ port: branch.port, user: branch.dbUser, database: branch.dbName, timeoutMs: PING_TIMEOUT_MS });
  if (answer.kind === 'accepting') {
    seenReady.set(branch.volume, { pid: status.pid!, atMs: Date.now() });
    return { kind: 'ready' };
  }
  seenReady.delete(branch.volume);
  if (answer.kind === 'rejecting') return { kind: 'unhealthy', reason: `${answer.message} (${answer.sqlstate})` };
  return { kind: 'unhealthy', reason: `postmaster ${status.pid} is alive but not accepting connections: ${answer.reason}` };
}

/** Why a branch that should run is down, as reported. */
export const NOT_RUNNING_REASON = 'the instance is not running (it crashed, was killed, or could not start); serve starts it again';

const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 60_000;

interface Trouble {
  /** When the instance was first seen unhealthy (refusing connections) in this episode. */
  readonly sinceMs: number;
  /** Restart attempts made in this episode. */
  attempts: number;
  /** No restart before this time (backoff). */
  nextAttemptMs: number;
  lastError?: string;
}

/**
 * What `serve` runs on every health beat: every branch that should run and does not (its
 * postmaster died) or refuses connections for longer than the grace period (stuck in recovery)
 * is restarted, with a backoff per branch (1 s, 2 s, 4 s … at most 60 s) while it keeps failing.
 * A start refused for want of pool room (POOL_FULL) is simply tried again later: when space
 * returns, every branch that should run runs again without a hand.
 */
export class HealthMonitor {
  private readonly troubles = new Map<string, Trouble>();

  constructor(private readonly graceMs: number) {}

  async check(core: HostCore, nowMs = Date.now()): Promise<string[]> {
    const restarted: string[] = [];
    const seen = new Set<string>();
    for (const candidate of core.rt.store.listBranches()) {
      if (candidate.desiredState !== 'running') continue;
      seen.add(candidate.id);
      const health = await instanceHealth(core.rt, candidate, { fresh: true });
      if (health.kind === 'ready') {
        this.troubles.delete(candidate.id);
        continue;
      }
      let trouble = this.troubles.get(candidate.id);
      if (!trouble) {
        trouble = { sinceMs: nowMs, attempts: 0, nextAttemptMs: health.kind === 'down' ? nowMs : nowMs + this.graceMs };
        this.troubles.set(candidate.id, trouble);
      }
      if (nowMs < trouble.nextAttemptMs) continue;
      const reason = health.kind === 'down' ? 'not running' : health.reason;
      const result = await core.locked(async () => {
        // Re-read under the lock: it may have been stopped, deleted or healed meanwhile.
        const branch = core.rt.store.getBranchById(candidate.id);
        if (!branch || branch.desiredState !== 'running') return 'skipped' as const;
        const now = await instanceHealth(core.rt, branch, { fresh: true });
        if (now.kind === 'ready') return 'healed' as const;
        await audited(core.rt.store, HOST_ACTOR, 'restart', branchTarget(branch.name, { reason }), async () => {
          if (now.kind === 'unhealthy') await core.rt.kill(branch.volume);
          await core.rt.start(branch, branch.volume);
        });
        return 'restarted' as const;
      }).catch((err: unknown) => (err as Error).message);
      if (result === 'restarted') {
        log.info({ branch: candidate.name, reason, attempt: trouble.attempts + 1 }, 'restarted an unhealthy instance');
        restarted.push(candidate.name);
        this.troubles.delete(candidate.id);
      } else if (result === 'healed' || result === 'skipped') {
        this.troubles.delete(candidate.id);
      } else {
        trouble.attempts++;
        trouble.lastError = result;
        const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (trouble.attempts - 1));
        trouble.nextAttemptMs = nowMs + backoff;
        log.warn({ branch: candidate.name, reason, err: result, retryInMs: backoff }, 'could not restart an unhealthy instance');
      }
    }
    for (const id of this.troubles.keys()) if (!seen.has(id)) this.troubles.delete(id);
    return restarted;
  }
}
