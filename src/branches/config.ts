import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import en from 'zod/v4/locales/en.js';
import * as z from 'zod/mini';
import { PgbranchError } from '../errors.js';
import { DRIVER_NAMES, POOL_IMAGE_FS_TYPES } from '../storage/index.js';

/** Where a host keeps its files. */
export interface HostPaths {
  readonly home: string;
  readonly configFile: string;
  readonly stateFile: string;
  /** Per-branch private unix socket directories. */
  readonly runDir: string;
  /** Per-branch server logs. */
  readonly logDir: string;
  /** Default pool location (a directory or the mount point of the loop image). */
  readonly defaultPoolPath: string;
  readonly defaultLoopImage: string;
  /** Default TLS certificate and key of the endpoint. */
  readonly tlsDir: string;
  /** Sources' connection URLs and passfiles (never in state.db, never in a volume). */
  readonly secretsDir: string;
  /** The key sealing branch passwords in state.db (a copy of state.db alone reveals none). */
  readonly stateKeyFile: string;
}

/**
 * PGBRANCH_HOME, else /var/lib/pgbranch for root (a home under /root would be unreachable for the
 * unprivileged user instances run as), else ~/.pgbranch.
 */
export function resolveHome(explicit?: string): string {
  if (explicit) return resolve(explicit);
  if (process.env.PGBRANCH_HOME) return resolve(process.env.PGBRANCH_HOME);
  return process.getuid?.() === 0 ? '/var/lib/pgbranch' : join(homedir(), '.pgbranch');
}

export function hostPaths(home: string): HostPaths {
  return {
    home,
    configFile: join(home, 'config.json'),
    stateFile: join(home, 'state.db'),
    runDir: join(home, 'run'),
    logDir: join(home, 'logs'),
    defaultPoolPath: join(home, 'pool'),
    defaultLoopImage: join(home, 'pool.img'),
    tlsDir: join(home, 'tls'),
    secretsDir: join(home, 'secrets'),
    stateKeyFile: join(home, 'state.key'),
  };
}

/**
 * The smallest own-bytes cap: below it a branch cannot even finish its first checkpoint and
 * switch WAL segments (16 MiB each), and it would fail in ways that look like crashes rather
 * than a clean "disk full".
 */
export const MIN_OWN_BYTES_LIMIT = 64 * 1024 * 1024;

// zod/mini: the same validation as classic zod at a small part of its load time, which every CLI
// call pays (config.json is read by each of them). Unlike classic zod it brings no messages of its
// own: English ones, for a config.json that does not validate.
z.config(en());
const text = (max?: number) => (max === undefined ? z.string().check(z.minLength(1)) : z.string().check(z.minLength(1), z.maxLength(max)));
const int = (min?: number, max?: number) => {
  const checks = [...(min === undefined ? [] : [z.minimum(min)]), ...(max === undefined ? [] : [z.maximum(max)])];
  return checks.length === 0 ? z.int() : z.int().check(...checks);
};
const positiveInt = () => z.int().check(z.positive());

const ListenSchema = z.object({
  host: text(),
  /** 0 = any free port (tests). */
  port: int(0, 65535),
});

const HostConfigSchema = z.object({
  version: z.literal(1),
  storage: z.object({
    driver: z.enum(DRIVER_NAMES),
    poolPath: text(),
    /** Present when init made a loop image: re-mounted at start after a reboot. */
    loop: z.optional(
      z.object({
        imagePath: text(),
        fsType: z.enum(POOL_IMAGE_FS_TYPES),
        sizeBytes: positiveInt(),
      }),
    ),
  }),
  postgres: z.object({
    major: int(14, 18),
    binDir: z.optional(z.string()),
    osUser: text(),
    /** Extra server settings for every instance of this host (command line, not cloned). */
    settings: z._default(z.record(z.string(), z.string()), {}),
  }),
  defaults: z.object({
    dbUser: text(),
    dbName: text(),
  }),
  /** `pgbranch serve`: where the API and the Postgres endpoint listen, and how branches idle. */
  serve: z.prefault(
    z.object({
      api: z._default(ListenSchema, { host: '127.0.0.1', port: 5480 }),
      proxy: z._default(ListenSchema, { host: '127.0.0.1', port: 6432 }),
      /** Host name clients use for the endpoint (URLs; TLS SNI is `<branch>.<publicHost>`). */
      publicHost: z._default(text(), 'localhost'),
      /** PEM files for the endpoint's TLS; default <home>/tls/server.{crt,key}, made at init. */
      tls: z.optional(z.object({ certFile: text(), keyFile: text() })),
      /** Default idle time before a branch is suspended; 0 = never. Per-branch setting wins. */
      idleTimeoutMs: z._default(int(0), 5 * 60_000),
      /** How long shutdown waits for endpoint connections to finish before closing them. */
      drainTimeoutMs: z._default(int(0), 10_000),
      /** How often serve checks that every branch that should run is up and accepting connections; 0 = never. */
      healthIntervalMs: z._default(int(0), 10_000),
      /** How long an instance may refuse connections (in recovery, starting up) before serve restarts it. */
      unhealthyGraceMs: z._default(int(0), 30_000),
      /** How often serve measures the sizes of all volumes (lists show the last measurement); 0 = never. */
      sizeRefreshIntervalMs: z._default(int(0), 60_000),
    }),
    {},
  ),
  /**
   * Default expiry by branch-name pattern (`*` any run, `?` one character), first match wins;
   * e.g. [{ "pattern": "pr-*", "ttlMs": 259200000 }] deletes PR branches 3 days after creation.
   * An explicit TTL or expiry time at create wins over these.
   */
  expiry: z._default(z.array(z.object({ pattern: text(63), ttlMs: positiveInt() })), []),
  /**
   * Defaults of roots that follow a source (each can be set per root):
   * - historyWindowMs: how far back branches can be made at a time or LSN (snapshots + WAL kept);
   * - snapshotIntervalMs: how often the following root is snapshotted (a branch at T replays at
   *   most this much WAL);
   * - replicationSlot: keep a physical slot on the source. With a slot the source keeps every WAL
   *   segment the root has not received (nothing is lost while pgbranch is down, but the source's
   *   disk fills if it stays down: set max_slot_wal_keep_size there); without one the source keeps
   *   only wal_keep_size, and a root that falls further behind must be created again.
   */
  sources: z.prefault(
    z.object({
      historyWindowMs: z._default(positiveInt(), 24 * 3_600_000),
      snapshotIntervalMs: z._default(positiveInt(), 15 * 60_000),
      replicationSlot: z._default(z.boolean(), false),
    }),
    {},
  ),
  /**
   * Diff. keepBranchPoint: keep a read-only copy of every new branch's initial data (its branch
   * point, a CoW clone of the branch right after it is made, reset or rebased), which `pgbranch
   * diff BRANCH` compares with at a cost that follows the change. Absent = on where clones cost
   * nothing (btrfs, reflink) and off on `copy` pools, where it would copy the whole branch again.
   */
  diff: z.prefault(z.strictObject({ keepBranchPoint: z.optional(z.boolean()) }), {}),
  /**
   * Clones of a running parent. checkpointAboveWalBytes: on an atomic-snapshot driver the parent
   * is checkpointed before the snapshot only when more WAL than this was written since its last
   * checkpoint; below it the clone replays that WAL in its crash recovery instead (a few ms for a
   * few MiB), and the parent is spared a CHECKPOINT per create. 0 = always checkpoint.
   */
  clone: z.prefault(z.strictObject({ checkpointAboveWalBytes: z._default(int(0), 4 * 1024 * 1024) }), {}),
  /**
   * Warm clones: for each branch named in `branches` (hot parents, e.g. "main"), `pgbranch serve`
   * keeps `size` clones made and started ahead of time, invisible until a create from that parent
   * claims one (then the create costs a password change instead of a snapshot and a start). A
   * warm clone is only handed out while the parent's WAL position is the one it was made at: any
   * write to the parent discards them, and the create takes the normal path. Refilled in the
   * background every `refillIntervalMs`, only once the parent has been quiet for one interval (a
   * parent under constant writes would make clones that are stale at once).
   */
  warm: z.prefault(
    z.strictObject({
      branches: z._default(z.array(text(63)), []),
      size: z._default(int(0, 16), 1),
      refillIntervalMs: z._default(int(100), 2_000),
    }),
    {},
  ),
  /**
   * Limits; every one is optional (absent = unlimited).
   * - maxBranches: branches on the host, roots included.
   * - maxBranchesPerToken: branches an API token may have created and not yet deleted.
   * - maxOwnBytesPerBranch: cap on the bytes a branch made from a parent or a snapshot may own
   *   (written since it was branched); the default for such branches and the most a caller may
   *   ask for. Enforced by the storage driver where it can (btrfs qgroups, XFS project quotas).
   * - minPoolFreeBytes: new branches and snapshots are refused while the pool has less free
   *   (default: 5% of the pool, at least 64 MiB, at most 10 GiB).
   */
  quotas: z.prefault(
    z.strictObject({
      maxBranches: z.optional(positiveInt()),
      maxBranchesPerToken: z.optional(positiveInt()),
      maxOwnBytesPerBranch: z.optional(int(MIN_OWN_BYTES_LIMIT)),
      minPoolFreeBytes: z.optional(int(0)),
    }),
    {},
  ),
});

export type HostConfig = z.infer<typeof HostConfigSchema>;
export type HostConfigInput = z.input<typeof HostConfigSchema>;

export function readConfig(paths: HostPaths): HostConfig {
  if (!existsSync(paths.configFile)) {
    throw new PgbranchError('HOST_NOT_INITIALIZED', `no pgbranch host at ${paths.home}: run \`pgbranch init\` first (or set PGBRANCH_HOME)`, {
      details: { home: paths.home },
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(paths.configFile, 'utf8'));
  } catch (cause) {
    throw new PgbranchError('INVALID_ARGUMENT', `cannot parse ${paths.configFile}: ${(cause as Error).message}`, { cause });
  }
  const parsed = HostConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new PgbranchError('INVALID_ARGUMENT', `invalid ${paths.configFile}: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  }
  return parsed.data;
}

/** Atomic replace: a crash leaves the old or the new file, never half of one. */
export function writeConfig(paths: HostPaths, config: HostConfigInput): void {
  const tmp = `${paths.configFile}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(HostConfigSchema.parse(config), null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, paths.configFile);
}
