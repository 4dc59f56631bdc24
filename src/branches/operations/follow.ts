import {
  baseBackup,
  binariesForSource,
  checkReplicationSource,
  configureStandby,
  createSourceSlot,
  dropSourceSlot,
  parseReplicationSource,
  prepareDirectory,
  redactUrl,
  seedWalArchive,
  show,
  withClient,
  withReplicationConnection,
  writeHba,
} from '../../postgres/index.js';
import type { BranchRecord } from '../../state/index.js';
import { log } from '../../util/index.js';
import { crashPoint } from '../crash-points.js';
import { newBranchId, volumeName } from '../ids.js';
import { beginIntent } from '../intents.js';
import { applyVolumeLimit } from '../quotas.js';
import type { ProgressSink, Runtime } from '../runtime.js';
import { loadSourceUrl, removeSourceSecrets, savePassfile, saveSourceUrl } from '../source-secrets.js';
import type { NewBranchSettings } from './create.js';

/** How a root follows its source: slot or not, and its history window. */
export interface FollowSettings {
  /** Keep a physical replication slot on the source (no WAL lost while the root is down). */
  readonly slot: boolean;
  /** How far back branches can be made at a time or LSN. */
  readonly historyWindowMs: number;
  /** How often the following root is snapshotted for its history window. */
  readonly snapshotIntervalMs: number;
}

export const FOLLOW_POINTS = ['create:intent', 'follow:base-backup', 'create:initialised', 'create:committed'] as const;

/** Slot names allow [a-z0-9_]: one per root, named after its branch id. */
function slotNameFor(branchId: string): string {
  return `pgbranch_${branchId.replace(/[^a-z0-9]/g, '_')}`;
}

/** The database a branch's URL names: the URL's own, else "postgres". */
function databaseOf(url: string): string {
  try {
    const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
    return name === '' ? 'postgres' : name;
  } catch {
    return 'postgres';
  }
}

/**
 * A root that follows its source physically: a base backup over the replication protocol,
 * configured as a hot standby of the source (walreceiver with a passfile, every received segment
 * archived into the root's WAL archive volume), running the source's major. It serves reads with
 * the source's own roles and passwords; branches of it are promoted clones.
 *
 * Intent first: a crash or a failure before the commit removes the volume, the archive, the
 * slot on the source and the secrets (see settleCreate).
 */
export async function createFollowingRoot(
  rt: Runtime,
  name: string,
  url: string,
  follow: FollowSettings,
  settings: NewBranchSettings,
  onProgress?: ProgressSink,
): Promise<BranchRecord> {
  const source = parseReplicationSource(url);
  onProgress?.({ phase: 'check', message: `checking ${redactUrl(url)} for physical replication` });
  const check = await checkReplicationSource(source);
  // The standby must run the source's major: refuse before anything is made if it is missing.
  await binariesForSource(check.major);
  const id = newBranchId();
  const volume = volumeName(id);
  const archiveVolume = `${id}.wal`;
  const slot = follow.slot ? slotNameFor(id) : undefined;
  const port = await rt.allocatePort();
  const intent = beginIntent(rt.store, 'create', { id, name }, { volume, port, root: true, archiveVolume, ...(slot ? { slot } : {}) });
  crashPoint('create:intent');
  // The URL first: a crash after the slot was made must be able to reach the source to drop it.
  await saveSourceUrl(rt, id, url);
  if (slot) await createSourceSlot(source, slot);
  await rt.storage.createVolume(volume);
  await rt.storage.createVolume(archiveVolume);
  await applyVolumeLimit(rt, volume, settings.maxOwnBytes);
  const dataDir = rt.dataDir(volume);
  const archiveDir = rt.storage.volumePath(archiveVolume);
  onProgress?.({ phase: 'base backup', message: `copying ${redactUrl(url)} (PostgreSQL ${check.major}) over the replication protocol` });
  const backup = await baseBackup({
    source,
    dataDir,
    osUser: rt.osUser,
    label: `pgbranch ${name}`,
    onProgress: (p) => onProgress?.({ phase: 'base backup', done: p.done, total: p.total, unit: 'bytes' }),
  });
  crashPoint('follow:base-backup');
  await prepareDirectory(archiveDir, rt.osUser, 0o700);
  // The archive starts with the backup's own WAL (a primary ends a base backup with a segment
  // switch, so its last segment is complete; a standby source does not).
  const sourceIsPrimary = (await withReplicationConnection(source, (c) => show(c, 'in_hot_standby'))) === 'off';
  await seedWalArchive(dataDir, archiveDir, rt.osUser, { endLsn: backup.endLsn, segmentBytes: backup.settings.walSegmentSize, lastComplete: sourceIsPrimary });
  const passfile = await savePassfile(rt, id, source);
  await configureStandby(dataDir, {
    source,
    passfile,
    sourceSettings: backup.settings,
    major: backup.major,
    archiveDir,
    osUser: rt.osUser,
    ...(slot ? { slotName: slot } : {}),
  });
  // pgbranch's own rules replace the source's: trust on the private socket, SCRAM on loopback
  // (with the source's roles and passwords: the standby is read-only, none can be set here).
  await writeHba(dataDir, { allowTcp: true });
  intent.advance('initialised');
  crashPoint('create:initialised');
  const owner = { id, port, pgMajor: backup.major };
  await rt.start(owner, volume);
  // pgbranch acts on the standby (and on its clones) as the source's bootstrap superuser, over
  // the private socket; the replication role exists on the standby too.
  const dbUser = await withClient({ socketDir: rt.socketDir(id), port, user: source.user, database: 'template1' }, async (client) => {
    const { rows } = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolsuper ORDER BY oid LIMIT 1');
    return rows[0]!.rolname;
  });
  rt.store.transaction(() => {
    rt.store.insertBranch({
      id,
      name,
      volume,
      port,
      dbUser,
      dbName: databaseOf(url),
      // The standby takes no new password: connections use the source's credentials.
      password: '',
      ...settings,
      pgMajor: backup.major,
      parentId: null,
      parentName: null,
      desiredState: 'running',
      source: JSON.stringify({ kind: 'follow', url: redactUrl(url), major: backup.major, systemId: backup.systemId }),
      branchLsn: backup.endLsn,
      branchTime: new Date().toISOString(),
    });
    rt.store.insertSource({
      branchId: id,
      mode: 'follow',
      displayUrl: redactUrl(url),
      systemId: backup.systemId,
      slotName: slot ?? null,
      archiveVolume,
      historyWindowMs: follow.historyWindowMs,
      snapshotIntervalMs: follow.snapshotIntervalMs,
      refreshCron: null,
    });
    intent.finish();
  });
  crashPoint('create:committed');
  return rt.store.getBranchById(id)!;
}

/**
 * Undoes what a root's source left outside its volume: the slot on the source (best effort: an
 * unreachable source keeps it, and the log says so, since a slot holds WAL there), the archive
 * volume and the secrets.
 */
export async function releaseSource(rt: Runtime, branch: { id: string; name: string }, made: { slot?: string | null; archiveVolume?: string | null }): Promise<void> {
  if (made.slot) {
    try {
      await dropSourceSlot(parseReplicationSource(await loadSourceUrl(rt, branch.id, branch.name)), made.slot);
    } catch (err) {
      log.warn(
        { branch: branch.name, slot: made.slot, err: (err as Error).message },
        'could not drop the replication slot on the source: drop it there by hand (SELECT pg_drop_replication_slot(...)), it retains WAL',
      );
    }
  }
  if (made.archiveVolume) await rt.storage.deleteVolume(made.archiveVolume);
  await removeSourceSecrets(rt, branch.id);
}
