import type { ConnectionInfo } from '../../branches/index.js';
import { progress, runChild, type BenchHost } from '../bench-support.js';
import { branchEnv, firstQuery, fmtMs, settlePool, stats, urlFor, withTcp, type Stats } from './common.js';
import type { Parent } from './measure.js';

/** The two ways of copying a database inside PostgreSQL itself, run in the parent's own instance. */

async function dropDatabase(info: ConnectionInfo, db: string): Promise<void> {
  await withTcp(info, 'postgres', async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await c.query('CHECKPOINT');
  });
}

/** CREATE DATABASE … TEMPLATE <parent db> STRATEGY FILE_COPY, then a first query on the copy. */
export async function measureTemplate(bench: BenchHost, parent: Parent, runs: number, fileCopyMethod?: 'clone'): Promise<Stats> {
  const { info } = parent;
  const samples: number[] = [];
  await dropDatabase(info, 'bench_copy');
  for (let i = 1; i <= runs; i++) {
        // The template must have no other sessions: this client talks to "postgres", and nothing of
    // ours is connected to the parent's database any more.
    const t0 = performance.now();
    await withTcp(info, 'postgres', async (c) => {
      if (fileCopyMethod) await c.query(`SET file_copy_method = ${fileCopyMethod}`);
      await c.query(`CREATE DATABASE bench_copy TEMPLATE ${info.database} STRATEGY FILE_COPY`);
    });
    const ms = (await firstQuery(urlFor(info, 'bench_copy'))).answeredAt - t0;
    samples.push(ms);
    progress(`  template${fileCopyMethod ? ` (file_copy_method=${fileCopyMethod})` : ''} run ${i}/${runs}: ${fmtMs(ms)}`);
    await dropDatabase(info, 'bench_copy');
    await settlePool(bench);
  }
  return stats(samples);
}

/** pg_dump -Fc -Z0 of the parent's database streamed into pg_restore on a new empty database. */
export async function measureDump(bench: BenchHost, parent: Parent, runs: number, tools: { pgDump: string; pgRestore: string }): Promise<Stats> {
  const { info } = parent;
  const samples: number[] = [];
  const env = branchEnv(info);
  await dropDatabase(info, 'bench_restore');
  for (let i = 1; i <= runs; i++) {
        await withTcp(info, 'postgres', (c) => c.query('CREATE DATABASE bench_restore'));
    const t0 = performance.now();
    // One shell pipeline: the dump flows through a kernel pipe, no temp file, no copy through Node.
    await runChild(
      'bash',
      ['-c', 'set -o pipefail; "$1" -Fc -Z0 -d "$3" | "$2" --exit-on-error -d "$4"', 'bench-dump', tools.pgDump, tools.pgRestore, info.database, 'bench_restore'],
      env,
    );
    const ms = (await firstQuery(urlFor(info, 'bench_restore'))).answeredAt - t0;
    samples.push(ms);
    progress(`  dump | restore run ${i}/${runs}: ${fmtMs(ms)}`);
    await dropDatabase(info, 'bench_restore');
    await settlePool(bench);
  }
  return stats(samples);
}
