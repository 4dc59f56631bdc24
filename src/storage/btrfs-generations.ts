import { posix } from 'node:path';

/**
 * Change marks of a pool's volumes from `btrfs subvolume list -g`: a subvolume's generation is the
 * transaction that last changed anything in it, so it moves with every committed write and
 * stands still while nothing writes (an idle running instance writes nothing). A volume's mark
 * covers its nested subvolumes too (a capped volume keeps pg_wal in one, exempt from the cap:
 * WAL written there moves that subvolume's generation, not the volume's).
 *
 * The listing names subvolumes by path from the filesystem's top level (`volumes/br-…`,
 * `volumes/br-…/pgdata/pg_wal`); where the pool sits in those paths is read off the listing
 * itself: the directory that holds the pool's known volumes.
 */
export function parseSubvolumeMarks(listing: string, volumes: ReadonlySet<string>): Map<string, string> {
  const entries: { id: string; gen: string; path: string }[] = [];
  for (const line of listing.split('\n')) {
    const m = /^ID (\d+) gen (\d+) .*? path (.+)$/.exec(line.trim());
    if (m) entries.push({ id: m[1]!, gen: m[2]!, path: m[3]! });
  }
  // The pool's place in the listing: the most common directory of entries named like a volume.
  const counts = new Map<string, number>();
  for (const { path } of entries) {
    if (volumes.has(posix.basename(path))) counts.set(posix.dirname(path), (counts.get(posix.dirname(path)) ?? 0) + 1);
  }
  const prefix = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (prefix === undefined) return new Map();
  const parts = new Map<string, string[]>();
  for (const { id, gen, path } of entries) {
    const rel = prefix === '.' ? path : path.startsWith(`${prefix}/`) ? path.slice(prefix.length + 1) : undefined;
    const volume = rel?.split('/')[0];
    if (volume === undefined || !volumes.has(volume)) continue;
    if (!parts.has(volume)) parts.set(volume, []);
    parts.get(volume)!.push(`${id}:${gen}`);
  }
  return new Map([...parts].map(([volume, p]) => [volume, p.sort().join(',')]));
}
