/**
 * Storage is the CoW mechanism under branches. It knows volumes (directories in a pool) and how to
 * clone them; it knows nothing about PostgreSQL. Call sites read `capabilities` instead of
 * sniffing the filesystem.
 */

export type DriverName = 'btrfs' | 'reflink' | 'copy';

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
  /** Bytes of data the volume does not share with any other volume. */
  readonly ownBytes: number;
  /** Apparent size of all files in the volume. */
  readonly totalBytes: number;
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

  /** Absolute path of a volume (whether or not it exists). */
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
   * replacing what is there. Used to take a second, later pass over part of a volume.
   */
  clonePath(source: string, target: string, relativePath: string): Promise<void>;
  /** Removes a volume and everything in it. Idempotent: a missing volume is not an error. */
  deleteVolume(volume: string): Promise<void>;
  exists(volume: string): Promise<boolean>;
  /** Names of all volumes in the pool (including half-made ones left by a crash). */
  listVolumes(): Promise<string[]>;
  usage(volume: string): Promise<VolumeUsage>;
  poolUsage(): Promise<PoolUsage>;
}

export interface StorageConfig {
  readonly driver: DriverName;
  /** Directory holding the volumes; must be on a filesystem that supports the driver. */
  readonly poolPath: string;
}
