import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const MARKER = '# --- pgbranch defaults ---';

/**
 * postgresql.conf settings pgbranch writes into every new cluster (clones inherit them). Sized
 * for many small, mostly idle instances per host; anything major-specific is guarded.
 */
export function defaultSettings(major: number): Record<string, string> {
  const s: Record<string, string> = {
    listen_addresses: "'127.0.0.1'",
    max_connections: '50',
    shared_buffers: '32MB',
    maintenance_work_mem: '32MB',
    huge_pages: 'off',
    max_wal_size: '256MB',
    min_wal_size: '32MB',
    password_encryption: "'scram-sha-256'",
    // The server's stderr is the log file startInstance opened; no collector process.
    logging_collector: 'off',
    log_destination: "'stderr'",
    log_line_prefix: "'%m [%p] '",
  };
  if (major >= 12) {
    // On CoW filesystems zero-filling and recycling WAL segments rewrites blocks every clone
    // would otherwise share: off keeps clones small.
    s.wal_init_zero = 'off';
    s.wal_recycle = 'off';
  }
  if (major >= 14) {
    // Every branch of a running parent starts with crash recovery, which first syncs the whole
    // data directory; one syncfs() of the pool is several times faster than an fsync per file.
    s.recovery_init_sync_method = 'syncfs';
  }
  if (major >= 18) {
    // Synchronous I/O: no io worker processes per instance; small instances gain little from AIO.
    s.io_method = "'sync'";
  }
  return s;
}

/**
 * Settings every instance starts with (command line, so they hold for clusters made before they
 * were added; the host's `postgres.settings` come after them and win). A branch is a copy of a
 * database that may subscribe to a publisher elsewhere (production's subscriptions come along
 * with an import): with apply workers a branch would connect to that publisher with the copied
 * credentials and consume the real subscriber's slot. No workers, and no launcher process either.
 */
export function startSettings(): Record<string, string> {
  return { max_logical_replication_workers: '0' };
}

export function renderSettings(settings: Readonly<Record<string, string>>): string {
  const lines = Object.entries(settings).map(([k, v]) => `${k} = ${v}`);
  return `\n${MARKER}\n${lines.join('\n')}\n`;
}

/** Appends pgbranch's defaults to postgresql.conf (later lines win); a no-op if already there. */
export async function writeDefaultSettings(dataDir: string, major: number): Promise<void> {
  const file = join(dataDir, 'postgresql.conf');
  const current = await readFile(file, 'utf8');
  if (current.includes(MARKER)) return;
  await appendFile(file, renderSettings(defaultSettings(major)));
}
