/**
 * Storage is the CoW mechanism under branches. It knows volumes (directories in a pool) and how to
 * clone them; it knows nothing about PostgreSQL. Call sites read `capabilities` instead of
 * sniffing the filesystem.
 */

/** Every storage driver, in the order `init --driver` lists them. */
export const DRIVER_NAMES = ['btrfs', 'reflink', 'copy'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

export interface StorageCapabilities {
  /**
   * `cloneVolume` captures the whole volume at one instant (btrfs snapshot). When false, files are
   * cloned one by one and a live writer can tear the copy; callers must bracket the clone (for
   * PostgreSQL: pg_backup_start/pg_backup_stop).
   */
  readonly atomicSnapshot: boolean;
  /** Clone cost does not grow with the data size (btrfs, reflink) — false for `copy`. */
  readonly constantTimeClone: boolean;
  /** How `usage().ownBytes` is obtained: exact extent accounting, or the full size (no sharing). */
  readonly ownBytes: 'exact' | 'full-copy';
}

export interface VolumeUsage {
  /**
   * Bytes of data the volume does not share with any other volume (on-disk extents, flushed
   * first). For `full-copy` drivers this is `totalBytes`.
   */
  readonly ownBytes: number;
  /** Apparent size of all regular files in the volume. */
  readonly totalBytes: number;
}

/**
 * What a pool can cap per volume, enforced by the filesystem itself (a write past the cap fails
 * with EDQUOT in that volume only; every other volume keeps writing):
 * - `exclusive`: bytes the volume does not share with any other volume — exactly its own bytes
 *   (btrfs qgroup exclusive limits).
 * - `growth`: blocks the volume allocates beyond what it shared when the cap was set (XFS project
 *   quotas: a reflinked file is charged in full, so the cap is set above the current charge;
 *   rewriting an already-charged shared block in place is not counted).
 * - `none`: this pool cannot enforce a cap (`reason` says why).
 */
export type VolumeLimitKind = 'exclusive' | 'growth' | 'none';

export interface VolumeLimitSupport {
  readonly kind: VolumeLimitKind;
  /** Human reason when `kind` is `none` (missing mount option, not root, driver cannot). */
  readonly reason?: string;
}

export interface PoolUsage {
  readonly totalBytes: number;
  readonly usedBytes: number;
  readonly freeBytes: number;
}

export interface CloneOptions {
  /**
   * Relative paths (POSIX, inside the volume) left out of the clone: directories are created
   * empty with the same owner and mode, files are skipped. Ignored by atomic snapshot drivers,
   * which always take everything (callers clean up afterwards).
   */
  readonly excludePaths?: readonly string[];
}

export interface StorageDriver {
  readonly name: DriverName;
  readonly capabilities: StorageCapabilities;
  /** Absolute path of the pool directory that holds the volumes. */
  readonly poolPath: string;

  /**
   * Absolute path of a volume (whether or not it exists). Every method taking a volume name
   * requires `[A-Za-z0-9][A-Za-z0-9._-]*` and throws INVALID_ARGUMENT otherwise.
   */
  volumePath(volume: string): string;
  /** Creates an empty volume. Throws VOLUME_EXISTS if present. */
  createVolume(volume: string): Promise<string>;
  /**
   * Creates `target` as a clone of `source`, preserving owner, group, mode and symlinks.
   * Throws VOLUME_NOT_FOUND / VOLUME_EXISTS. A failed clone leaves no `target` behind.
   */
  cloneVolume(source: string, target: string, options?: CloneOptions): Promise<string>;
  /**
   * Clones one relative path (file or directory tree) of `source` into the existing `target`,
   * replacing what is there. Used to take a second, later pass over part of a volume. Missing
   * parent directories are created like the source's; a path missing in `source` throws
   * VOLUME_NOT_FOUND. Every driver clones per file here (btrfs too), so it is never atomic;
   * the old content is swapped out only once the new copy is complete (a crash in between can
   * leave a `.tmp-…` entry next to `relativePath` inside `target`).
   */
  clonePath(source: string, target: string, relativePath: string): Promise<void>;
  /** Removes a volume and everything in it. Idempotent: a missing volume is not an error. */
  deleteVolume(volume: string): Promise<void>;
  exists(volume: string): Promise<boolean>;
  /**
   * Names of all volumes in the pool, sorted. A volume under its final name is always complete:
   * clones are built, and deletions torn down, under staging names (see `listStaging`).
   */
  listVolumes(): Promise<string[]>;
  /**
   * Pool entries still being built or removed (`.tmp-…`). Outside a running clone or delete they
   * are leftovers of a crash; a caller that knows nothing is in flight (e.g. at startup under the
   * host lock) removes them with `removeStaging`.
   */
  listStaging(): Promise<string[]>;
  /** Removes one entry named by `listStaging`. Idempotent. */
  removeStaging(name: string): Promise<void>;
  /**
   * `committed`: the caller made the filesystem commit just before (a batch of measurements
   * commits once, not once per volume); otherwise a driver whose accounting lags behind commits
   * (btrfs) commits first. `background`: nobody waits for the answer (a size refresh); a driver
   * whose measurement is costly does it at low priority.
   */
  usage(volume: string, options?: { readonly committed?: boolean; readonly background?: boolean }): Promise<VolumeUsage>;
  poolUsage(): Promise<PoolUsage>;
  /**
   * Waits until the space of deleted volumes is free again. btrfs cleans deleted subvolumes in
   * the background, and on a busy machine the cleaner runs seconds behind the delete: a pool that
   * looks full may only be waiting for it. Drivers that free space at once leave it out.
   */
  reclaimDeleted?(): Promise<void>;
  /**
   * A mark per volume that changes whenever anything in it is written (btrfs: the generations of
   * its subvolumes, read after a commit), so a caller can tell which volumes moved since it last
   * looked without walking them. Drivers without a cheap mark leave it out: any volume may have
   * moved. A volume made meanwhile may be missing from the answer.
   */
  changeMarks?(): Promise<Map<string, string>>;
  /** What `setVolumeLimit` can enforce on this pool; probed on first call, then cached. */
  limitSupport(): Promise<VolumeLimitSupport>;
  /**
   * Caps how many bytes of its own `volume` may hold (see VolumeLimitKind for what counts);
   * `null` lifts the cap. Idempotent. A clone never inherits its source's cap, so callers set it
   * again on every new volume. Throws STORAGE_UNAVAILABLE when `limitSupport()` is `none`,
   * VOLUME_NOT_FOUND for a missing volume.
   */
  setVolumeLimit(volume: string, bytes: number | null, options?: VolumeLimitOptions): Promise<void>;
  /**
   * Which byte ranges of `volume`'s files may differ from the same files of `baseVolume`, one of
   * its clones' ancestors (or descendants). Exact in one direction: a byte outside every reported
   * range is identical on both sides; a reported range may still hold identical bytes (a whole
   * extent rewritten, a page written back unchanged). Drivers that cannot tell answer `unknown`
   * (callers then compare whole files). See ChangedRanges for what "at the time of the call"
   * means for files still being written.
   */
  changedRanges?(baseVolume: string, volume: string, options?: ChangedRangesOptions): Promise<ChangedRanges>;
}

export interface ChangedRangesOptions {
  /** Directory inside both volumes to compare (relative, POSIX); default the whole volume. */
  readonly directory?: string;
  /**
   * Files or directories (relative to `directory`) to restrict the comparison to; default
   * everything under `directory`. Paths missing on both sides are ignored.
   */
  readonly relativePaths?: readonly string[];
}

export interface ByteRange {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

/**
 * One file that differs (paths relative to the compared directory, POSIX). Files identical on
 * both sides are not listed.
 * - `added` / `removed`: present on one side only (every byte differs).
 * - `modified`: `ranges` (sorted, disjoint, within `sizeBytes`) may differ; every other byte below
 *   `min(sizeBytes, baseSizeBytes)` is identical. Bytes past the base's end are always in
 *   `ranges`; a file that only shrank has no ranges but a smaller `sizeBytes`.
 * - `unknown`: its extents could not be compared; treat the whole file as changed.
 */
export type FileChange =
  | { readonly path: string; readonly change: 'added'; readonly sizeBytes: number }
  | { readonly path: string; readonly change: 'removed'; readonly baseSizeBytes: number }
  | {
      readonly path: string;
      readonly change: 'modified';
      readonly sizeBytes: number;
      readonly baseSizeBytes: number;
      readonly ranges: readonly ByteRange[];
    }
  | { readonly path: string; readonly change: 'unknown'; readonly sizeBytes: number; readonly baseSizeBytes: number; readonly reason: string };

/**
 * The answer of `changedRanges`. Files are flushed and mapped one by one during the call, so the
 * answer covers every write that reached a file before the call started; writes racing with it
 * may or may not be seen. `baseVolume` must not be written at all.
 * - `ranges`: per-file differences, from the physical location of each file's extents.
 * - `unknown`: the driver shares nothing it could compare (copy); `reason` says why.
 */
export type ChangedRanges =
  | {
      readonly kind: 'ranges';
      readonly files: readonly FileChange[];
      /** Files present on both sides whose extents were compared. */
      readonly comparedFiles: number;
      /** Bytes in all reported ranges plus the sizes of added and unknown files. */
      readonly changedBytes: number;
    }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface VolumeLimitOptions {
  /**
   * Directories (relative to the volume, existing) whose contents are neither counted against
   * the cap nor refused by it: data whose writes must never fail, such as a write-ahead log
   * (a database panics when its log cannot be written, but reports a clean "disk full" for its
   * tables). The caller bounds their size some other way. Kept by the volume once set.
   */
  readonly exemptPaths?: readonly string[];
}

/** Filesystems of the loop images a host makes for its pool (ext4 images exist only in tests). */
export const POOL_IMAGE_FS_TYPES = ['btrfs', 'xfs'] as const;

/** A host's pool as recorded in its config: the driver, the directory, and the loop image behind it if one was made. */
export interface PoolConfig extends StorageConfig {
  readonly loop?: { readonly imagePath: string; readonly fsType: (typeof POOL_IMAGE_FS_TYPES)[number]; readonly sizeBytes: number };
}

export interface StorageConfig {
  readonly driver: DriverName;
  /** Directory holding the volumes; must be on a filesystem that supports the driver. */
  readonly poolPath: string;
}
