/**
 * Shared pieces of the endpoint benchmarks: a throwaway host on a sparse loop-mounted btrfs pool
 * in a temp dir (removed at the end, also on failure, SIGINT and SIGTERM), child processes that
 * die with the benchmark, progress on stderr and small statistics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host, type InitOptions } from '../branches/index.js';
import { killInstance, stopInstance } from '../postgres/index.js';
import { createLoopPool, unmountLoopPool } from '../storage/index.js';
import { parseServerTiming } from '../util/index.js';

const GIB = 1024 ** 3;
const startedAt = performance.now();

export function progress(message: string): void {
  const t = ((performance.now() - startedAt) / 1000).toFixed(1).padStart(7);
  process.stderr.write(`[${t}s] ${message}\n`);
}

/** Child processes we started: killed on interruption. */
const children = new Set<ChildProcess>();

/** Runs a program to completion; rejects with the tail of its stderr on a non-zero exit. */
export function runChild(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => {
      children.delete(child);
      reject(err);
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(-8).join('\n')}`));
    });
  });
}

/** Environment for libpq tools: none of the caller's PG* variables, plus `extra`. */
export function libpqEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return { ...env, ...extra };
}

export interface BenchHost {
  readonly dir: string;
  readonly home: string;
  readonly mountPoint: string;
  readonly poolPath: string;
  readonly poolSizeBytes: number;
  readonly host: Host;
  /** Stops every instance on the pool, unmounts it, removes the temp dir. Idempotent. */
  cleanup(): Promise<void>;
}

/**
 * A host with an empty `main` on its own btrfs loop pool. Interruption (SIGINT/SIGTERM) cleans
 * up and exits.
 */
export async function createBenchHost(options: { poolSizeGiB: number; init?: Partial<InitOptions> }): Promise<BenchHost> {
  const dir = await mkdtemp(join(tmpdir(), 'pgbranch-bench-'));
  // Instances run as the unprivileged pgbranch user, who must reach the pool and the home.
  await chmod(dir, 0o755);
  const mountPoint = join(dir, 'mnt');
  const poolPath = join(mountPoint, 'volumes');
  const home = join(dir, 'home');
  let host: Host | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      for (const child of children) child.kill('SIGKILL');
      try {
        host?.close();
      } catch {
        // already closed
      }
      // Twice: an operation interrupted mid-way may start an instance after the first pass.
      for (let pass = 0; pass < 2; pass++) {
        const volumes = existsSync(poolPath) ? await readdir(poolPath).catch(() => []) : [];
        for (const volume of volumes) {
          const dataDir = join(poolPath, volume, 'pgdata');
          if (!existsSync(join(dataDir, 'postmaster.pid'))) continue;
          await stopInstance(dataDir, { mode: 'immediate', timeoutMs: 10_000 }).catch(() => killInstance(dataDir).catch(() => undefined));
        }
      }
      for (let attempt = 0; ; attempt++) {
        try {
          await unmountLoopPool(mountPoint);
          break;
        } catch (err) {
          if (attempt >= 20) {
            process.stderr.write(`cleanup: cannot unmount ${mountPoint}: ${(err as Error).message}\n`);
            return;
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      await rm(dir, { recursive: true, force: true });
      progress('cleaned up (instances stopped, pool unmounted, temp dir removed)');
    })());
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: stopping and cleaning up …\n`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    progress(`creating a ${options.poolSizeGiB} GiB sparse btrfs loop pool in ${dir}`);
    await createLoopPool({ imagePath: join(dir, 'pool.img'), mountPoint, sizeBytes: options.poolSizeGiB * GIB, fsType: 'btrfs' });
    await chmod(mountPoint, 0o755);
    await mkdir(poolPath, { mode: 0o755 });
    await chmod(poolPath, 0o755);
    ({ host } = await Host.init({ home, driver: 'btrfs', poolPath, ...options.init }));
    await chmod(home, 0o755);
    return { dir, home, mountPoint, poolPath, poolSizeBytes: options.poolSizeGiB * GIB, host, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  // Nearest rank: p50 of 10 runs is the 5th value, p90 the 9th.
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Parses an option list of `--name value` / `--name=value` / `--flag`; unknown names are an error. */
export function parseArgs(argv: readonly string[], known: Record<string, 'value' | 'flag'>, usage: string): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(usage);
      process.exit(0);
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const kind = arg.startsWith('--') ? known[name] : undefined;
    if (!kind) throw new Error(`unknown argument ${JSON.stringify(arg)}\n${usage}`);
    if (kind === 'flag') out.set(name, 'true');
    else {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value\n${usage}`);
      out.set(name, value);
    }
  }
  return out;
}

export function positiveInt(args: Map<string, string>, name: string, fallback: number): number {
  const raw = args.get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} needs an integer ≥ 1`);
  return n;
}

const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** A `pgbranch serve` child on free ports, with an API caller holding one token. */
export interface ServeProcess {
  readonly child: ChildProcess;
  readonly api: string;
  readonly endpointPort: number;
  /** `steps`: the response's Server-Timing (where the request's time went, see api/server-timing.ts). */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> | null; steps: Map<string, number> }>;
  /** SIGTERM, then SIGKILL if it has not exited within a minute. */
  stop(): Promise<void>;
}

/**
 * Starts `pgbranch serve` on `home` (API and endpoint on port 0) and resolves once it has printed
 * its addresses; a serve that exits or stays silent for a minute fails with the tail of its log.
 */
export async function startServeProcess(home: string, token: string): Promise<ServeProcess> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'pgbranch.js'), '--home', home, 'serve', '-o', 'json', '--api-port', '0', '--endpoint-port', '0'], {
    env: { ...process.env, PGBRANCH_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 60_000)))]);
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  let log = '';
  child.stderr!.on('data', (d) => (log = (log + String(d)).slice(-8000)));
  const printed = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start within a minute: ${log}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += String(d);
      if (out.includes('}')) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`serve exited before it started: ${log}`));
    });
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  const addresses = JSON.parse(printed) as { api: string; endpoint: string };
  return {
    child,
    api: addresses.api,
    endpointPort: Number(addresses.endpoint.split(':').pop()),
    async call(method, path, body) {
      const res = await fetch(`${addresses.api}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : null, steps: parseServerTiming(res.headers.get('server-timing')) };
    },
    stop,
  };
}
