import { open } from 'node:fs/promises';
import { Cron } from 'croner';
import { PgbranchError } from '../errors.js';
import { lsnDiff, parseReplicationSource, sourceStatus, standbyStatus, withClient } from '../postgres/index.js';
import type { BranchRecord, SourceRecord } from '../state/index.js';
import { log } from '../util/index.js';
import { HOST_ACTOR, audited, branchTarget } from './audit.js';
import type { HostCore } from './core.js';
import { historySnapshots, historyWindow, pruneHistory, refreshRoot, takeHistorySnapshot } from './operations/index.js';
import type { Runtime } from './runtime.js';
import { loadSourceUrl } from './source-secrets.js';

/**
 * What a root's source looks like: how a following root keeps up (state, lag, history window and
 * its cost) or when a refreshed root was last imported and will be next; and the background
 * upkeep the serving process runs (history snapshots and pruning, scheduled refreshes).
 */

export interface FollowStatus {
  /** streaming: connected and replaying; disconnected: the walreceiver is retrying; stopped: the root is not running. */
  readonly state: 'streaming' | 'disconnected' | 'stopped';
  /** When the connection to the source was lost, from the root's server log; null while connected. */
  readonly disconnectedSince: string | null;
  /** The walreceiver's last complaint (the server's words, without credentials). */
  readonly lastError: string | null;
  readonly receiveLsn: string | null;
  readonly replayLsn: string | null;
  /** The source's current WAL position (asked over a replication connection); null if unreachable. */
  readonly sourceLsn: string | null;
  readonly lagBytes: number | null;
  readonly lagSeconds: number | null;
  readonly lastReplayedCommitAt: string | null;
  readonly slot: string | null;
  /** Run on each branch made of the root (and each reset of one) before it opens. */
  readonly afterRefresh: readonly string[];
  readonly history: {
    readonly windowMs: number;
    readonly snapshotIntervalMs: number;
    /** The earliest time a branch can be made at; null until the first snapshot. */
    readonly from: string | null;
    readonly fromLsn: string | null;
    readonly snapshots: number;
    /** Bytes the history snapshots own (not shared with the root) plus the archived WAL. */
    readonly snapshotBytes: number | null;
    readonly archiveBytes: number | null;
  };
}

export interface RefreshStatus {
  readonly generation: number;
  readonly lastRefreshAt: string | null;
  readonly cron: string | null;
  readonly nextRefreshAt: string | null;
  /** A refresh is under way now. */
  readonly running: boolean;
  readonly afterRefresh: readonly string[];
}

export interface SourceView {
  readonly branch: string;
  readonly mode: SourceRecord['mode'];
  /** The source's URL without its password. */
  readonly url: string;
  readonly follow: FollowStatus | null;
  readonly refresh: RefreshStatus | null;
}

/** Settings of a root's source that can be changed later; absent = unchanged. */
export interface SourceChange {
  readonly historyWindowMs?: number;
  readonly snapshotIntervalMs?: number;
  /** Cron expression (host time zone), or null to refresh on request only. */
  readonly refreshCron?: string | null;
  /**
   * Shell commands run on each new generation before it is switched in (refresh), or on each
   * branch of a following root before anyone can connect to it (follow). Replaces the list.
   */
  readonly afterRefresh?: readonly string[];
}

/** Changes a root's source settings (checked first: nothing changes when one is bad). */
export function updateSource(rt: Runtime, branch: BranchRecord, change: SourceChange): void {
  const source = sourceOf(rt, branch);
  const followOnly = change.historyWindowMs !== undefined || change.snapshotIntervalMs !== undefined;
  const refreshOnly = change.refreshCron !== undefined;
  if (followOnly && source.mode !== 'follow') throw new PgbranchError('INVALID_ARGUMENT', `"${branch.name}" does not follow its source: it has no history window`);
  if (refreshOnly && source.mode !== 'refresh') throw new PgbranchError('INVALID_ARGUMENT', `"${branch.name}" follows its source continuously: it has no refresh schedule`);
  for (const [key, value] of [['history window', change.historyWindowMs], ['snapshot interval', change.snapshotIntervalMs]] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0)) throw new PgbranchError('INVALID_ARGUMENT', `the ${key} must be a positive number of milliseconds`);
  }
  if (change.refreshCron) assertCron(change.refreshCron);
  rt.store.updateSource(branch.id, {
    historyWindowMs: change.historyWindowMs,
    snapshotIntervalMs: change.snapshotIntervalMs,
    refreshCron: change.refreshCron,
    afterRefresh: change.afterRefresh === undefined ? undefined : [...change.afterRefresh],
  });
}

export function sourceOf(rt: Runtime, branch: BranchRecord): SourceRecord {
  const source = rt.store.getSource(branch.id);
  if (!source) {
    throw new PgbranchError('NOT_A_SOURCE_ROOT', `"${branch.name}" has no source: it was not made with --from-url (--follow)`, { details: { branch: branch.name } });
  }
  return source;
}

export function nextRun(cron: string, afterMs: number): string | null {
  return new Cron(cron, { paused: true }).nextRun(new Date(afterMs))?.toISOString() ?? null;
}

/** Validates a cron expression (five or six fields) with a clear error. */
export function assertCron(cron: string): void {
  try {
    new Cron(cron, { paused: true });
  } catch (cause) {
    throw new PgbranchError('INVALID_ARGUMENT', `not a cron expression: ${JSON.stringify(cron)} (${(cause as Error).message}); e.g. "0 3 * * *" for 03:00 every day`, { cause });
  }
}

export async function sourceView(rt: Runtime, branch: BranchRecord): Promise<SourceView> {
  const source = sourceOf(rt, branch);
  const base = { branch: branch.name, mode: source.mode, url: source.displayUrl };
  if (source.mode === 'refresh') {
    const running = rt.store.listOperations().some((o) => o.kind === 'refresh' && o.branchId === branch.id);
    const after = Date.parse(source.lastRefreshAt ?? source.createdAt);
    return {
      ...base,
      follow: null,
      refresh: { generation: source.generation, lastRefreshAt: source.lastRefreshAt, cron: source.refreshCron, nextRefreshAt: source.refreshCron ? nextRun(source.refreshCron, after) : null, running, afterRefresh: source.afterRefresh },
    };
  }
  return { ...base, follow: await followStatus(rt, branch, source), refresh: null };
}

async function followStatus(rt: Runtime, branch: BranchRecord, source: SourceRecord): Promise<FollowStatus> {
  const running = await rt.isRunning(branch.volume);
  const standby = running ? await withClient(rt.adminTarget(branch), (client) => standbyStatus(client)).catch(() => null) : null;
  const sourceLsn = await loadSourceUrl(rt, branch.id, branch.name)
    .then((url) => sourceStatus(parseReplicationSource(url)))
    .then((s) => s.walLsn)
    .catch(() => null);
  const logged = await walreceiverLog(rt.logFile(branch.id));
  const connected = standby?.walReceiver.connected ?? false;
  const window = historyWindow(rt, branch.id);
  const history = historySnapshots(rt, branch.id);
  const own = await Promise.all(history.map((s) => rt.storage.usage(s.volume).then((u) => u.ownBytes).catch(() => null)));
  const archive = source.archiveVolume ? await rt.storage.usage(source.archiveVolume).then((u) => u.totalBytes).catch(() => null) : null;
  const replayLsn = standby?.replayLsn ?? null;
  return {
    state: !running ? 'stopped' : connected ? 'streaming' : 'disconnected',
    disconnectedSince: running && !connected ? logged.disconnectedSince : null,
    lastError: running && !connected ? logged.lastError : null,
    receiveLsn: standby?.receiveLsn ?? null,
    replayLsn,
    sourceLsn,
    lagBytes: sourceLsn && replayLsn ? Math.max(0, lsnDiff(sourceLsn, replayLsn)) : (standby?.lagBytes ?? null),
    lagSeconds: standby?.lagSeconds ?? null,
    lastReplayedCommitAt: standby?.lastReplayedTransactionAt?.toISOString() ?? null,
    slot: source.slotName,
    afterRefresh: source.afterRefresh,
    history: {
      windowMs: source.historyWindowMs ?? rt.config.sources.historyWindowMs,
      snapshotIntervalMs: source.snapshotIntervalMs ?? rt.config.sources.snapshotIntervalMs,
      from: window.from,
      fromLsn: window.fromLsn,
      snapshots: window.snapshots,
      snapshotBytes: own.every((b) => b !== null) ? own.reduce<number>((a, b) => a + b!, 0) : null,
      archiveBytes: archive,
    },
  };
}

/** How much of the server log's end is read for the walreceiver's story. */
const LOG_TAIL_BYTES = 256 * 1024;
const LOG_LINE = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (\S+) \[\d+\] (?:\S+:\s+)?(.*)$/;
const STREAMING = /started streaming WAL from primary/;
const RECEIVER_FAILURE = /could not connect to the primary server|replication terminated by primary server|could not receive data from WAL stream|terminating walreceiver/;

/**
 * Since when the walreceiver has failed to stay connected, and its last complaint: the first
 * failure after the last "started streaming", from the root's own server log.
 */
async function walreceiverLog(file: string): Promise<{ disconnectedSince: string | null; lastError: string | null }> {
  let text = '';
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const start = Math.max(0, size - LOG_TAIL_BYTES);
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      text = buffer.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return { disconnectedSince: null, lastError: null };
  }
  let since: string | null = null;
  let last: string | null = null;
  for (const line of text.split('\n')) {
    const m = LOG_LINE.exec(line);
    if (!m) continue;
    const [, at, zone, message] = m;
    if (STREAMING.test(message!)) {
      since = null;
      last = null;
    } else if (RECEIVER_FAILURE.test(message!)) {
      const when = new Date(`${at!.replace(' ', 'T')}${zone === 'UTC' || zone === 'GMT' ? 'Z' : ''}`).toISOString();
      since ??= when;
      // libpq's messages name host and port, never the password (it comes from the passfile).
      last = message!.replace(/^FATAL:\s+/, '');
    }
  }
  return { disconnectedSince: since, lastError: last };
}

/**
 * The serving process's upkeep of sources, run periodically: a following root gets a history
 * snapshot when its last one is older than its interval, and loses what fell out of its window;
 * a refreshed root with a schedule is refreshed when due. One source failing never stops the others.
 */
export async function maintainSources(core: HostCore, nowMs: number): Promise<string[]> {
  const { rt } = core;
  const done: string[] = [];
  for (const source of rt.store.listSources()) {
    const root = rt.store.getBranchById(source.branchId);
    if (!root) continue;
    try {
      if (source.mode === 'follow') {
        if (root.desiredState !== 'running' || !(await rt.isRunning(root.volume))) continue;
        const latest = historySnapshots(rt, root.id).at(-1);
        const interval = source.snapshotIntervalMs ?? rt.config.sources.snapshotIntervalMs;
        if (!latest || nowMs - Date.parse(latest.createdAt) >= interval) {
          await core.locked(() => takeHistorySnapshot(rt, root, nowMs));
          done.push(`${root.name}: history snapshot`);
        }
        const pruned = await core.locked(() => pruneHistory(rt, root, source, nowMs));
        if (pruned.snapshots.length + pruned.segments > 0) done.push(`${root.name}: pruned ${pruned.snapshots.length} snapshots, ${pruned.segments} WAL segments`);
      } else if (source.refreshCron) {
        const due = nextRun(source.refreshCron, Date.parse(source.lastRefreshAt ?? source.createdAt));
        if (due !== null && Date.parse(due) <= nowMs && !rt.store.listOperations().some((o) => o.kind === 'refresh' && o.branchId === root.id)) {
          const { remasked } = await audited(rt.store, HOST_ACTOR, 'source-refresh', branchTarget(root.name, { scheduled: source.refreshCron }), () =>
            refreshRoot(core, root.name, { hooks: source.afterRefresh }),
          );
          done.push(`${root.name}: refreshed`, ...remasked.map((r) => (r.remasked ? `${r.branch}: re-masked` : `${r.branch}: not re-masked (${r.code})`)));
        }
      }
    } catch (err) {
      log.warn({ branch: root.name, err: (err as Error).message }, 'source upkeep failed');
    }
  }
  return done;
}
