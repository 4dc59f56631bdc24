import { once } from 'node:events';
import { chown, mkdir, open, stat } from 'node:fs/promises';
import { isAbsolute, join, posix } from 'node:path';
import { createRequire } from 'node:module';
import { PgbranchError } from '../../errors.js';
import type { OsUser } from '../types.js';

// Loaded on first use: only a following root's base backup extracts tar, and loading it is a
// measurable part of every short CLI call that opens a host.
const require = createRequire(import.meta.url);

/** Two zero blocks end a tar archive; PostgreSQL's old BASE_BACKUP format omits them. */
const END_OF_ARCHIVE = Buffer.alloc(1024);

export interface TarExtractor {
  /** Feeds archive bytes; resolves when the extractor can take more. */
  write(chunk: Buffer): Promise<void>;
  /** Ends the archive and waits until every file is written and closed. */
  end(): Promise<void>;
  /** Stops at once and waits for open files to close; never throws. */
  destroy(err: Error): Promise<void>;
}

/** A tar member name as a safe path relative to the root, or an error (absolute, "..", empty). */
export function safeMemberPath(name: string): string {
  const normalized = posix.normalize(name.replace(/^(\.\/)+/, '')).replace(/\/+$/, '');
  if (normalized === '' || normalized === '.' || isAbsolute(normalized) || normalized.split('/').includes('..') || normalized.includes('\0')) {
    throw new PgbranchError('REPLICATION_FAILED', `refusing tar member ${JSON.stringify(name)}: it would land outside the data directory`, {
      cause: new Error('unsafe tar path'),
    });
  }
  return normalized;
}

/**
 * Extracts one tar stream under `root` as `osUser`: directories 0700, files 0600 (what a data
 * directory wants regardless of the source's modes). Only regular files and directories are
 * accepted: tablespace links are refused earlier, and anything else has no place in a backup.
 */
export function createTarExtractor(root: string, osUser: OsUser): TarExtractor {
  const tarStream = require('tar-stream') as typeof import('tar-stream');
  const extract = tarStream.extract();
  const knownDirs = new Set<string>();

  const ensureDir = async (relative: string): Promise<void> => {
    if (relative === '' || knownDirs.has(relative)) return;
    await ensureDir(posix.dirname(relative) === '.' ? '' : posix.dirname(relative));
    const path = join(root, relative);
    try {
      await mkdir(path, { mode: 0o700 });
      await chown(path, osUser.uid, osUser.gid);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !(await stat(path)).isDirectory()) throw err;
    }
    knownDirs.add(relative);
  };

  const consumer = (async () => {
    for await (const entry of extract) {
      const { header } = entry;
      const relative = safeMemberPath(header.name);
      if (header.type === 'directory') {
        await ensureDir(relative);
        entry.resume();
        continue;
      }
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        entry.resume();
        throw new PgbranchError('REPLICATION_FAILED', `unexpected ${header.type ?? 'unknown'} entry ${JSON.stringify(header.name)} in the base backup`, {
          cause: new Error(`tar ${header.type}`),
        });
      }
      await ensureDir(posix.dirname(relative) === '.' ? '' : posix.dirname(relative));
      const handle = await open(join(root, relative), 'wx', 0o600);
      try {
        await handle.chown(osUser.uid, osUser.gid);
        for await (const chunk of entry as AsyncIterable<Buffer>) await handle.write(chunk);
      } finally {
        await handle.close();
      }
    }
  })();
  let consumerError: unknown;
  const consumed = consumer.then(
    () => undefined,
    (err: unknown) => {
      consumerError = err;
      extract.destroy(err as Error);
    },
  );

  return {
    async write(chunk) {
      if (consumerError) throw consumerError;
      if (!extract.write(chunk)) {
        await Promise.race([once(extract, 'drain'), consumed]);
        if (consumerError) throw consumerError;
      }
    },
    async end() {
      if (consumerError) throw consumerError;
      extract.end(END_OF_ARCHIVE);
      await consumed;
      if (consumerError) throw consumerError;
    },
    async destroy(err) {
      extract.destroy(err);
      await consumed;
    },
  };
}
