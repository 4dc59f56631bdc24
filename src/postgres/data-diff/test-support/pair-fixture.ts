import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../../util/index.js';
import {
  findFreePort,
  instanceStatus,
  killInstance,
  prepareDirectory,
  relationFiles,
  startInstance,
  stopInstance,
  withClient,
  type ChangedBlocks,
  type ConnectionTarget,
  type RelationFiles,
} from '../../index.js';
import { createTestCluster, traversableTempDir, type TestCluster } from '../../test-support/instance-fixture.js';

/**
 * A base cluster and "branches" of it made the plainest way: stop the base cleanly, copy its data
 * directory with `cp -a`, start the copy. Which blocks a branch changed is then found by comparing
 * the two relation files page by page — the reference the data diff's block mode is held to.
 */

export const DATABASE = 'app';

export interface Head {
  readonly dataDir: string;
  readonly target: ConnectionTarget;
  destroy(): Promise<void>;
}

export interface Pair {
  readonly base: TestCluster;
  readonly baseTarget: ConnectionTarget;
  /** Stops the base, copies it into a new head and starts that (the base stays stopped). */
  branch(): Promise<Head>;
  /** Relation files of the base, recorded while it ran last (it is stopped when heads are made). */
  baseFiles(): RelationFiles;
  startBase(): Promise<void>;
  stopBase(): Promise<void>;
  destroy(): Promise<void>;
}

/** A base cluster with autovacuum off (it would rewrite pages behind the tests' backs), loaded by `load`. */
export async function createPair(load: (target: ConnectionTarget) => Promise<void>): Promise<Pair> {
  const base = await createTestCluster({ database: DATABASE });
  const heads = new Set<Head>();
  let files: RelationFiles | undefined;
  const baseTarget = base.target(DATABASE);
  const recordFiles = async (): Promise<void> => {
    files = await withClient(baseTarget, (client) => relationFiles(client));
  };
  try {
    await base.start({ listenTcp: false });
    await withClient(base.target('postgres'), async (client) => {
      await client.query('ALTER SYSTEM SET autovacuum = off');
      await client.query('SELECT pg_reload_conf()');
    });
    await load(baseTarget);
    await recordFiles();
  } catch (err) {
    await base.destroy();
    throw err;
  }
  let running = true;
  const stopBase = async (): Promise<void> => {
    if (!running) return;
    await recordFiles();
    await base.stop();
    running = false;
  };
  return {
    base,
    baseTarget,
    baseFiles: () => files!,
    stopBase,
    async startBase() {
      if (running) return;
      await base.start({ listenTcp: false });
      running = true;
    },
    async branch() {
      await stopBase();
      const root = await traversableTempDir('pgbranch-datadiff-head-');
      const dataDir = join(root, 'pgdata');
      const socketDir = join(root, 'sock');
      await run('cp', ['-a', base.dataDir, dataDir]);
      await prepareDirectory(socketDir, base.osUser, 0o700);
      const port = await findFreePort();
      await startInstance({ binaries: base.binaries, dataDir, osUser: base.osUser, logFile: join(root, 'postgres.log'), socketDir, port, listenTcp: false });
      const head: Head = {
        dataDir,
        target: { socketDir, port, user: base.superuser, database: DATABASE },
        async destroy() {
          heads.delete(head);
          if ((await instanceStatus(dataDir)).running) await stopInstance(dataDir, { mode: 'immediate', timeoutMs: 10_000 }).catch(() => killInstance(dataDir));
          await rm(root, { recursive: true, force: true });
        },
      };
      heads.add(head);
      return head;
    },
    async destroy() {
      for (const head of [...heads]) await head.destroy();
      await base.destroy();
    },
  };
}

/** All segments of a relation's main fork, concatenated (tests use small tables). */
async function readRelation(dataDir: string, path: string, segmentBlocks: number, blockSize: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let segment = 0; ; segment++) {
    try {
      const part = await readFile(join(dataDir, segment === 0 ? path : `${path}.${segment}`));
      parts.push(part);
      if (part.length < segmentBlocks * blockSize) break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
      throw err;
    }
  }
  return Buffer.concat(parts);
}

/**
 * The reference answer to "which blocks changed": every block whose 8 KiB differ between the
 * stopped base's file and the head's (after a CHECKPOINT on the head), or that exists on one side
 * only. Undefined for a table whose relation was rewritten (or that is missing on a side).
 */
export async function pageDiffBlocks(baseDataDir: string, baseFiles: RelationFiles, head: Head): Promise<Map<string, ChangedBlocks>> {
  const headFiles = await withClient(head.target, async (client) => {
    await client.query('CHECKPOINT');
    return relationFiles(client);
  });
  const { blockSize, segmentBlocks } = headFiles;
  const byName = new Map(baseFiles.tables.map((t) => [`${t.schema}.${t.name}`, t]));
  const result = new Map<string, ChangedBlocks>();
  for (const table of headFiles.tables) {
    const base = byName.get(`${table.schema}.${table.name}`);
    if (!base || base.relfilenode !== table.relfilenode) continue;
    const [a, b] = await Promise.all([
      readRelation(baseDataDir, base.path, segmentBlocks, blockSize),
      readRelation(head.dataDir, table.path, segmentBlocks, blockSize),
    ]);
    const blocks: number[] = [];
    const count = Math.max(a.length, b.length) / blockSize;
    for (let block = 0; block < count; block++) {
      const from = block * blockSize;
      const pageA = a.subarray(from, from + blockSize);
      const pageB = b.subarray(from, from + blockSize);
      if (!pageA.equals(pageB)) blocks.push(block);
    }
    result.set(`${table.schema}.${table.name}`, { base: blocks, head: blocks });
  }
  return result;
}
