import * as z from 'zod/mini';
import { PgbranchError } from '../errors.js';
import type { OperationRecord, StateStore } from '../state/index.js';

/**
 * The intent log, typed. A multi-step operation records its intent (what it is about to make or
 * remove) before its first side effect and ends it in the same transaction that commits its
 * result; an intent found at open belongs to a process that died part-way, and the operation's
 * own settle function rolls it back or forward (see reconcile). Each kind's data is validated
 * when read back, so a settle function never guesses at a shape.
 */
const Name = z.string().check(z.minLength(1));
const INTENT_DATA = {
  /**
   * `root`: a new cluster (initdb, or a base backup of a followed source with its WAL archive
   * volume and slot on the source); `parentId` / `snapshotId`: a clone of that parent / snapshot.
   */
  create: z.object({
    volume: Name,
    port: z.int(),
    root: z.optional(z.boolean()),
    parentId: z.optional(Name),
    snapshotId: z.optional(Name),
    archiveVolume: z.optional(Name),
    slot: z.optional(Name),
    /** A masked branch (see operations/mask.ts): settled like any create, its volume removed. */
    masked: z.optional(z.boolean()),
  }),
  reset: z.object({ oldVolume: Name, newVolume: Name }),
  delete: z.object({ volume: Name }),
  /** The new password: a crash after ALTER ROLE must be able to finish the change. */
  rotate: z.object({ password: Name }),
  limit: z.object({ bytes: z.nullable(z.int().check(z.positive())), firstCap: z.boolean() }),
  /** A new generation of a refreshed root, imported on a temporary port, swapped in at the end. */
  refresh: z.object({ oldVolume: Name, newVolume: Name, port: z.int() }),
  'snapshot-create': z.object({ volume: Name, sourceBranchId: Name }),
  'snapshot-delete': z.object({ volume: Name }),
  /**
   * A diff's scratch, all named before the first is made: throwaway clones (of snapshots, branch
   * points, stopped branches, or a side to prove a script on) and the temporary instances on them
   * (`owners`: their run files).
   */
  diff: z.object({ volumes: z.array(Name), owners: z.array(Name) }),
  /**
   * A rebase (or its undo): the new generation and its branch point, a throwaway clone of a
   * stopped branch to read it (`scratchVolumes`), the temporary instances' run files
   * (`owners`); the undo snapshot being used up, or the previous one being replaced.
   */
  rebase: z.object({
    mode: z.enum(['rebase', 'undo']),
    oldVolume: Name,
    newVolume: Name,
    newPointVolume: Name,
    scratchVolumes: z.array(Name),
    owners: z.array(Name),
    undoVolume: z.optional(Name),
    previousUndoVolume: z.optional(Name),
  }),
  /**
   * A warm clone of a hot parent (see warm.ts): recorded for as long as the clone exists, and
   * ended by the create that claims it (in the transaction that inserts the branch) or by its
   * discard. `parentLsn` is the parent's WAL insert position read before the snapshot, the test
   * of staleness; `branchLsn` the clone's own checkpoint after its start. Both are known once the
   * step is `ready`; only a ready clone is ever claimed.
   */
  warm: z.object({
    volume: Name,
    port: z.int(),
    parentId: Name,
    parentLsn: z.optional(Name),
    branchLsn: z.optional(Name),
    /** The password its instance runs under: the claiming branch's (intent data is sealed at rest). */
    password: z.optional(Name),
    madeAt: z.optional(Name),
  }),
};

export type IntentKind = keyof typeof INTENT_DATA;
export type IntentData<K extends IntentKind> = z.infer<(typeof INTENT_DATA)[K]>;

/** What an operation is about: a branch, or a snapshot for the snapshot operations. */
export interface IntentSubject {
  readonly id: string;
  readonly name: string;
}

interface IntentOf<K extends IntentKind> {
  readonly id: number;
  readonly kind: K;
  readonly subject: IntentSubject;
  /** The last step reached (recorded by `advance`). */
  readonly step: string;
  readonly data: IntentData<K>;
  /** The process that recorded it. */
  readonly pid: number;
  readonly startedAt: string;
}

/** A recorded intent: one variant per operation kind. */
export type Intent = { [K in IntentKind]: IntentOf<K> }[IntentKind];
export type IntentFor<K extends IntentKind> = Extract<Intent, { kind: K }>;

export interface IntentHandle {
  readonly id: number;
  /** Records that a step was reached (for settle functions that decide by step), and new data if given. */
  advance(step: string, data?: Record<string, unknown>): void;
  /** Ends the intent; call it inside the transaction that commits the operation's result. */
  finish(): void;
}

export function beginIntent<K extends IntentKind>(store: StateStore, kind: K, subject: IntentSubject, data: IntentData<K>): IntentHandle {
  const id = store.beginOperation({ kind, branchId: subject.id, branchName: subject.name, step: 'intent', data: INTENT_DATA[kind].parse(data) });
  return handle(store, id, kind);
}

/** The handle of an intent read back by reconcile, for the settle function that finishes it. */
export function resumeIntent(store: StateStore, intent: Intent): IntentHandle {
  return handle(store, intent.id, intent.kind);
}

function handle(store: StateStore, id: number, kind: IntentKind): IntentHandle {
  return {
    id,
    advance: (step, data) => store.advanceOperation(id, step, data && INTENT_DATA[kind].parse(data)),
    finish: () => store.finishOperation(id),
  };
}

/** Intents of this process whose operation runs a long step without the host lock. */
const unlocked = new Set<number>();
/** Intents of this process that stand for something it keeps between operations (a ready warm clone). */
const held = new Set<number>();

/**
 * Marks an intent as standing for something this process keeps alive between operations (a warm
 * clone and its instance): reconcile in this process leaves it alone, as it leaves those of other
 * live processes. Another process's reconcile settles it once this one is gone.
 */
export function holdIntent(id: number): void {
  held.add(id);
}

export function releaseIntent(id: number): void {
  held.delete(id);
}

/**
 * Runs a long step of an operation (an import) without the host lock, so that other operations
 * go on meanwhile. Its intent stays recorded, and reconcile leaves it alone for as long as its
 * process lives and, in this process, while the step runs; the operation takes the lock again
 * to finish or to undo itself.
 */
export async function withoutLock<T>(intent: IntentHandle, fn: () => Promise<T>): Promise<T> {
  unlocked.add(intent.id);
  try {
    return await fn();
  } finally {
    unlocked.delete(intent.id);
  }
}

/**
 * Whether reconcile (which holds the host lock) may settle `intent`: every operation holds the
 * lock but for `withoutLock` steps, so an intent of another live process, or one of this process
 * in such a step, belongs to an operation still under way.
 */
export function isAbandoned(intent: Intent, isAlive: (pid: number) => boolean): boolean {
  return intent.pid === process.pid ? !unlocked.has(intent.id) && !held.has(intent.id) : !isAlive(intent.pid);
}

/** Every intent still recorded, oldest first. */
export function pendingIntents(store: StateStore): Intent[] {
  return store.listOperations().map(parseIntent);
}

function parseIntent(op: OperationRecord): Intent {
  const schema = (INTENT_DATA as Record<string, z.ZodMiniType | undefined>)[op.kind];
  const parsed = schema?.safeParse(op.data);
  if (!schema || !parsed?.success) {
    // Written by this code or an older release of it: a row we cannot read means a bug or a
    // hand-edited database, and guessing how to settle it could lose data.
    throw new PgbranchError('INTERNAL', `cannot read the recorded intent #${op.id} (${op.kind} ${op.branchName}); state.db needs attention`, {
      cause: parsed?.error ?? new Error(`unknown operation kind ${op.kind}`),
      details: { intent: op.id, kind: op.kind },
    });
  }
  return {
    id: op.id,
    kind: op.kind as IntentKind,
    subject: { id: op.branchId, name: op.branchName },
    step: op.step,
    data: parsed.data,
    pid: op.pid,
    startedAt: op.startedAt,
  } as Intent;
}
