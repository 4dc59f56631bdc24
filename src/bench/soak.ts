/**
 * Soak: churn against a real `pgbranch serve` for a set time, then look for leaks. Several
 * clients each loop over create / reset / delete of their own branches and connections (direct
 * and through the endpoint) through the API. At the end every soak branch is deleted and the host
 * must be back where it started:
 * - no leaked processes: postgres processes on the pool = those of `main`, as at the start;
 * - no leaked volumes: the pool holds the same entries as at the start;
 * - no leaked file descriptors in serve (same count as after warm-up, ± a few for pools/sockets);
 * - serve's memory: RSS after warm-up and at the end.
 * Errors returned by the API under churn are counted by code (none are expected).
 *
 * Runs on a throwaway host (sparse loop-mounted btrfs pool in a temp dir, removed at the end,
 * also on failure and SIGINT/SIGTERM). Progress goes to stderr, the result to stdout.
 *
 *   npm run soak -- [--seconds 60] [--clients 4] [--json]
 */
import { readFile, readdir, readlink } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { createBenchHost, parseArgs, positiveInt, progress, startServeProcess, type BenchHost, type ServeProcess } from './bench-support.js';

const USAGE = `usage: node dist/bench/soak.js [options]
  --seconds N   how long the churn runs (default 60)
  --clients N   concurrent clients (default 4)
  --json        print the results as JSON
`;

const FD_SLACK = 8;

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Postgres processes whose working directory is under the pool. */
async function poolProcesses(poolPath: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => '');
    if (!cwd.startsWith(`${poolPath}/`)) continue;
    const comm = (await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '')).trim();
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if ((comm === 'postgres' || comm === 'postmaster') && state !== 'Z') n++;
  }
  return n;
}

async function serveStats(pid: number): Promise<{ rssBytes: number; fds: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return { rssBytes: m ? Number(m[1]) * 1024 : 0, fds: (await readdir(`/proc/${pid}/fd`)).length };
}

async function settle<T>(fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(): Promise<number> {
  let args: Map<string, string>;
  try {
    args = parseArgs(process.argv.slice(2), { seconds: 'value', clients: 'value', json: 'flag' }, USAGE);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('error: the soak needs root (it loop-mounts a btrfs pool)\n');
    return 2;
  }
  const seconds = positiveInt(args, 'seconds', 60);
  const clients = positiveInt(args, 'clients', 4);

  let bench: BenchHost | undefined;
  let serve: ServeProcess | undefined;
  try {
    bench = await createBenchHost({ poolSizeGiB: 16, init: { serve: { idleTimeoutMs: 0 } } });
    const { host, home, poolPath } = bench;
    const { token } = await host.createToken({ name: 'soak', role: 'admin' });
    host.close();

    serve = await startServeProcess(home, token);
    const { child, call } = serve;
    const endpointPort = serve.endpointPort;

    const errors = new Map<string, number>();
    const counts = { create: 0, reset: 0, delete: 0, directQuery: 0, endpointQuery: 0 };
    const fail = (what: string, r: { status: number; json: Record<string, unknown> | null }): void => {
      const key = `${what}: ${r.status} ${String(r.json?.code ?? '')}`;
      errors.set(key, (errors.get(key) ?? 0) + 1);
    };
    const queryOnce = async (config: pg.ClientConfig): Promise<boolean> => {
      const c = new pg.Client({ ...config, connectionTimeoutMillis: 30_000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.query('SELECT 1');
        return true;
      } catch {
        return false;
      } finally {
        await c.end().catch(() => undefined);
      }
    };

    // Warm-up: one round of everything, so that lazily loaded code and pools are in the baseline.
    const warm = await call('POST', '/v1/branches', { name: 'warmup', parent: 'main' });
    if (warm.status !== 201) throw new Error(`warm-up create: ${warm.status} ${JSON.stringify(warm.json)}`);
    await call('POST', '/v1/branches/warmup/reset');
    await call('DELETE', '/v1/branches/warmup');
    await settle(async () => ((await poolProcesses(poolPath)) > 0 ? true : undefined), 5_000);
    const baseline = { processes: await poolProcesses(poolPath), volumes: (await readdir(poolPath)).sort(), serve: await serveStats(child.pid!) };
    progress(`baseline: ${baseline.processes} postgres processes, ${baseline.volumes.length} pool entries, serve RSS ${mib(baseline.serve.rssBytes)}, ${baseline.serve.fds} fds`);

    const deadline = Date.now() + seconds * 1000;
    const rssSamples: number[] = [baseline.serve.rssBytes];
    const sampler = setInterval(() => {
      void serveStats(child.pid!).then((s) => rssSamples.push(s.rssBytes)).catch(() => undefined);
    }, 5_000);
    const worker = async (id: number): Promise<void> => {
      const mine: string[] = [];
      let n = 0;
      while (Date.now() < deadline) {
        const roll = Math.random();
        if (mine.length < 2 || (roll < 0.3 && mine.length < 4)) {
          const name = `soak-${id}-${n++}`;
          const r = await call('POST', '/v1/branches', { name, parent: 'main' });
          if (r.status === 201) {
            mine.push(name);
            counts.create++;
          } else fail('create', r);
        } else if (roll < 0.45) {
          const name = mine[Math.floor(Math.random() * mine.length)]!;
          const r = await call('POST', `/v1/branches/${name}/reset`);
          if (r.status === 200) counts.reset++;
          else fail('reset', r);
        } else if (roll < 0.6) {
          const name = mine.shift()!;
          const r = await call('DELETE', `/v1/branches/${name}`);
          if (r.status === 204 || r.status === 200) counts.delete++;
          else fail('delete', r);
        } else {
          const name = mine[Math.floor(Math.random() * mine.length)]!;
          const r = await call('GET', `/v1/branches/${name}/connection`);
          if (r.status !== 200) {
            fail('connection', r);
            continue;
          }
          const c = r.json as { port: number; user: string; password: string; database: string };
          const direct = await queryOnce({ host: '127.0.0.1', port: c.port, user: c.user, password: c.password, database: c.database });
          if (direct) counts.directQuery++;
          else errors.set('direct query', (errors.get('direct query') ?? 0) + 1);
          const viaEndpoint = await queryOnce({ host: '127.0.0.1', port: endpointPort, user: `${c.user}.${name}`, password: c.password, database: c.database });
          if (viaEndpoint) counts.endpointQuery++;
          else errors.set('endpoint query', (errors.get('endpoint query') ?? 0) + 1);
        }
      }
      for (const name of mine) {
        const r = await call('DELETE', `/v1/branches/${name}`);
        if (r.status === 204 || r.status === 200) counts.delete++;
        else fail('final delete', r);
      }
    };
    progress(`churn: ${clients} clients for ${seconds} s`);
    await Promise.all(Array.from({ length: clients }, (_, i) => worker(i)));
    clearInterval(sampler);

    // Back to the baseline: the same processes and pool entries (instances of deleted branches
    // are gone once their delete returned; a short wait covers postmasters still exiting).
    const endProcesses = (await settle(async () => {
      const n = await poolProcesses(poolPath);
      return n <= baseline.processes ? n : undefined;
    }, 10_000)) ?? (await poolProcesses(poolPath));
    const endVolumes = (await readdir(poolPath)).sort();
    const endServe = await serveStats(child.pid!);
    const left = (await call('GET', '/v1/branches?with_usage=false')).json as { branches: { name: string }[] };
    const result = {
      machine: `${cpus().length} CPUs, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end`,
      seconds,
      clients,
      operations: counts,
      errors: Object.fromEntries(errors),
      branchesLeft: left.branches.map((b) => b.name).filter((n) => n !== 'main'),
      leakedProcesses: endProcesses - baseline.processes,
      leakedVolumes: endVolumes.filter((v) => !baseline.volumes.includes(v)),
      serveFds: { baseline: baseline.serve.fds, end: endServe.fds, growth: endServe.fds - baseline.serve.fds },
      serveRss: { baselineBytes: baseline.serve.rssBytes, endBytes: endServe.rssBytes, maxBytes: Math.max(...rssSamples, endServe.rssBytes) },
    };
    const clean = result.leakedProcesses <= 0 && result.leakedVolumes.length === 0 && result.serveFds.growth <= FD_SLACK && result.branchesLeft.length === 0;
    if (args.has('json')) process.stdout.write(`${JSON.stringify({ ...result, clean }, null, 2)}\n`);
    else {
      const o: string[] = [];
      o.push(`pgbranch soak — ${clients} clients, ${seconds} s of create/reset/delete/connect churn through serve`);
      o.push(`machine: ${result.machine}`);
      o.push(`operations: ${counts.create} creates, ${counts.reset} resets, ${counts.delete} deletes, ${counts.directQuery} direct and ${counts.endpointQuery} endpoint queries`);
      o.push(`errors: ${errors.size === 0 ? 'none' : JSON.stringify(result.errors)}`);
      o.push(`leaked processes: ${result.leakedProcesses}   leaked volumes: ${result.leakedVolumes.length}${result.leakedVolumes.length ? ` (${result.leakedVolumes.join(', ')})` : ''}   branches left: ${result.branchesLeft.length}`);
      o.push(`serve fds: ${result.serveFds.baseline} → ${result.serveFds.end} (${result.serveFds.growth >= 0 ? '+' : ''}${result.serveFds.growth})`);
      o.push(`serve RSS: ${mib(result.serveRss.baselineBytes)} after warm-up → ${mib(result.serveRss.endBytes)} at the end (max ${mib(result.serveRss.maxBytes)})`);
      o.push(`${clean ? 'CLEAN' : 'LEAK'}: no processes, volumes or branches left behind, fds flat (±${FD_SLACK})`);
      process.stdout.write(`${o.join('\n')}\n`);
    }
    return clean ? 0 : 1;
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    await serve?.stop();
    await bench?.cleanup();
  }
}

process.exitCode = await main();
