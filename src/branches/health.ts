import { statSync } from 'node:fs';
import { instanceStatus, pingInstance } from '../postgres/index.js';
import type { BranchRecord, InstanceReadyRecord } from '../state/index.js';
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
 * health beat pings every running instance anyway (every 10 s by default), so a list right after
 * it, in serve or in another process (the CLI), need not ping them all again. Anything else (no
 * postmaster, a new pid, a refusal) is looked at afresh.
 */
export const READY_MEMORY_MS = 15_000;

/**
 * Ready answers as kept in state.db, for one list or one health beat: read once at the start,
 * and what the call learned is saved at its end in one transaction. A cache: a save that fails
 * (the database busy past its timeout) costs pings on the next list, nothing else.
 */
export class ReadyMemory {
  private readonly kept: ReadonlyMap<string, InstanceReadyRecord>;
  private readonly learned = new Map<string, InstanceReadyRecord>();
  private readonly forgotten = new Set<string>();

  constructor(private readonly rt: Runtime, options: { load?: boolean } = {}) {
    this.kept = options.load === false ? new Map() : rt.store.listInstanceReady();
  }

  believes(volume: string, pid: number | undefined, nowMs = Date.now()): boolean {
    const seen = this.kept.get(volume);
    return seen !== undefined && seen.pid === pid && nowMs - seen.seenAtMs < READY_MEMORY_MS && nowMs >= seen.seenAtMs;
  }

  saw(volume: string, health: InstanceHealth, pid: number | undefined): void {
    if (health.kind === 'ready' && pid !== undefined) {
      this.learned.set(volume, { pid, seenAtMs: Date.now() });
      this.forgotten.delete(volume);
    } else if (this.kept.has(volume) || this.learned.has(volume)) {
      this.learned.delete(volume);
      this.forgotten.add(volume);
    }
  }

  /** `replace`: this call looked at every instance that should run (the health beat). */
  save(options: { replace?: boolean } = {}): void {
    if (!options.replace && this.learned.size === 0 && this.forgotten.size === 0) return;
    try {
      this.rt.store.keepInstanceReady(this.learned, this.forgotten, options);
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'could not keep instances\' ready answers');
    }
  }
}

/**
 * The health of one instance. With a memory, a ready answer it holds for the same postmaster is
 * believed, and whatever is asked is recorded in it (a list loads the kept answers; the health
 * beat starts empty and only records). With `quiet` (the health beat's own evidence), an instance
 * whose log stayed quiet since its last ping is ready without a ping. Without either (a branch
 * asked for by name, a result), the instance is pinged.
 */
export async function instanceHealth(
  rt: Runtime,
  branch: Pick<BranchRecord, 'id' | 'volume' | 'port' | 'dbUser' | 'dbName'>,
  options: { memory?: ReadyMemory; quiet?: QuietInstances } = {},
): Promise<InstanceHealth> {
  const { memory, quiet } = options;
  const status = await instanceStatus(rt.dataDir(branch.volume));
  if (!status.running) {
    memory?.saw(branch.volume, { kind: 'down' }, undefined);
    quiet?.forget(branch.volume);
    return { kind: 'down' };
  }
  if (memory?.believes(branch.volume, status.pid)) return { kind: 'ready' };
  if (status.pmStatus === 'ready' && quiet?.vouches(branch.volume, status.pid, rt.logFile(branch.id))) {
    memory?.saw(branch.volume, { kind: 'ready' }, status.pid);
    return { kind: 'ready' };
  }
  const health = await pingHealth(branch, status.pid);
  memory?.saw(branch.volume, health, status.pid);
  quiet?.saw(branch.volume, health, status.pid, rt.logFile(branch.id));
  return health;
}

/**
 * The health beat's evidence between pings. An instance whose postmaster is the one the beat last
 * found accepting connections, and whose server log has not grown since, is taken as still ready
 * for up to `pingEveryBeats` beats: a crash, a restart cycle, recovery, a refusal or a PANIC is
 * always logged (the log lives outside the pool, so a full pool cannot silence it), and a ping
 * itself logs nothing. Pinging every running instance on every beat forks a backend per instance:
 * at 200 instances and a 10 s beat, 20 forks a second for nothing. What no log line shows (a
 * frozen postmaster) is found by the next full ping.
 */
export class QuietInstances {
  private readonly pinged = new Map<string, { pid: number; logBytes: number; beat: number }>();
  private beat = 0;

  constructor(private readonly pingEveryBeats: number) {}

  /** Called once per beat, before it looks at the instances. */
  nextBeat(): void {
    this.beat++;
  }

  vouches(volume: string, pid: number | undefined, logFile: string): boolean {
    const last = this.pinged.get(volume);
    if (last === undefined || last.pid !== pid || this.beat - last.beat >= this.pingEveryBeats) return false;
    return logBytes(logFile) === last.logBytes;
  }

  saw(volume: string, health: InstanceHealth, pid: number | undefined, logFile: string): void {
    const bytes = health.kind === 'ready' && pid !== undefined ? logBytes(logFile) : undefined;
    if (bytes === undefined) this.pinged.delete(volume);
    else this.pinged.set(volume, { pid: pid!, logBytes: bytes, beat: this.beat });
  }

  forget(volume: string): void {
    this.pinged.delete(volume);
  }

  /** Drops what is known of volumes no longer looked at (deleted, stopped, replaced). */
  keepOnly(volumes: ReadonlySet<string>): void {
    for (const volume of this.pinged.keys()) if (!volumes.has(volume)) this.pinged.delete(volume);
  }
}

function logBytes(logFile: string): number | undefined {
  try {
    return statSync(logFile).size;
  } catch {
    return undefined;
  }
}

/** The health beat pings each quiet instance at least once in this many beats (60 s at the default 10 s). */
export const PING_EVERY_BEATS = 6;

async function pingHealth(branch: Pick<BranchRecord, 'port' | 'dbUser' | 'dbName'>, pid: number | undefined): Promise<InstanceHealth> {
  const answer = await pingInstance({ port: branch.port, user: branch.dbUser, database: branch.dbName, timeoutMs: PING_TIMEOUT_MS });
  if (answer.kind === 'accepting') return { kind: 'ready' };
  if (answer.kind === 'rejecting') return { kind: 'unhealthy', reason: `${answer.message} (${answer.sqlstate})` };
  return { kind: 'unhealthy', reason: `postmaster ${pid} is alive but not accepting connections: ${answer.reason}` };
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
  private readonly quiet = new QuietInstances(PING_EVERY_BEATS);

  constructor(private readonly graceMs: number) {}

  async check(core: HostCore, nowMs = Date.now()): Promise<string[]> {
    const restarted: string[] = [];
    const seen = new Set<string>();
    // What this beat sees is kept for lists in every process (see READY_MEMORY_MS). Not loaded:
    // the beat believes no list; it pings every instance that should run, except those its own
    // recent pings and their quiet logs vouch for (QuietInstances).
    const memory = new ReadyMemory(core.rt, { load: false });
    const volumes = new Set<string>();
    this.quiet.nextBeat();
    try {
      await this.beat(core, nowMs, memory, seen, restarted, volumes);
    } finally {
      memory.save({ replace: true });
      this.quiet.keepOnly(volumes);
    }
    for (const id of this.troubles.keys()) if (!seen.has(id)) this.troubles.delete(id);
    return restarted;
  }

  private async beat(core: HostCore, nowMs: number, memory: ReadyMemory, seen: Set<string>, restarted: string[], volumes: Set<string>): Promise<void> {
    for (const candidate of core.rt.store.listBranches()) {
      if (candidate.desiredState !== 'running') continue;
      seen.add(candidate.id);
      volumes.add(candidate.volume);
      const health = await instanceHealth(core.rt, candidate, { memory, quiet: this.quiet });
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
        const now = await instanceHealth(core.rt, branch);
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
  }
}
