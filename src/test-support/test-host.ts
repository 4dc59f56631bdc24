import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../cli/index.js';
import { killInstance } from '../postgres/index.js';
import { createTestPool, testPoolSkipReason, type TestPool } from '../storage/test-support/loop-pools.js';
import { Host, type InitOptions } from '../branches/index.js';

export type PoolKind = 'btrfs' | 'xfs' | 'ext4';
export const POOL_KINDS: readonly PoolKind[] = ['btrfs', 'xfs', 'ext4'];

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TestHost {
  readonly home: string;
  readonly pool: TestPool;
  /** A Host opened on the test home (re-open with `reopen` to simulate a new process). */
  host: Host;
  reopen(): Promise<Host>;
  /** Runs the CLI in this process against the test home, capturing stdout/stderr. */
  cli(...args: string[]): Promise<CliResult>;
  /** The same with extra environment (e.g. PGBRANCH_API_URL for remote mode). */
  cliWithEnv(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliResult>;
  /** Runs the compiled CLI as a separate process (needed to SIGKILL it mid-operation). */
  cliProcess(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult & { signal: NodeJS.Signals | null }>;
  cleanup(): Promise<void>;
}

const REPO = resolve(import.meta.dirname, '../..');
const CLI_BIN = join(REPO, 'bin', 'pgbranch.js');

export { testPoolSkipReason };

/**
 * A real host on a real loop-mounted pool of the given kind (btrfs → btrfs driver, xfs →
 * reflink, ext4 → copy), initialised with an empty `main`.
 */
export async function createTestHost(kind: PoolKind, init: Partial<InitOptions> = {}, sizeMb = 1024): Promise<TestHost> {
  const pool = await createTestPool(kind, { sizeMb });
  const home = mkdtempSync(join(tmpdir(), 'pgbranch-home-'));
  chmodSync(home, 0o755);
  const { host } = await Host.init({ home, driver: pool.driver, poolPath: pool.poolPath, ...init });
  const t: TestHost = {
    home,
    pool,
    host,
    async reopen() {
      t.host.close();
      t.host = await Host.open({ home });
      return t.host;
    },
    cli(...args) {
      return t.cliWithEnv({}, ...args);
    },
    async cliWithEnv(env, ...args) {
      let stdout = '';
      let stderr = '';
      const sink = (append: (s: string) => void) =>
        new Writable({
          write(chunk, _enc, cb) {
            append(String(chunk));
            cb();
          },
        });
      const code = await main(
        ['node', 'pgbranch', '--home', home, ...args],
        { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)) },
        { ...process.env, PGBRANCH_API_URL: '', ...env },
      );
      return { code, stdout, stderr };
    },
    cliProcess(args, env = {}) {
      if (!existsSync(join(REPO, 'dist', 'cli', 'index.js'))) throw new Error('dist/ missing: run `npm run build` (npm test does)');
      return new Promise((resolvePromise, reject) => {
        const child = spawn(process.execPath, [CLI_BIN, '--home', home, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += String(d)));
        child.stderr.on('data', (d) => (stderr += String(d)));
        child.on('error', reject);
        child.on('close', (code, signal) => resolvePromise({ code: code ?? -1, signal, stdout, stderr }));
      });
    },
    async cleanup() {
      t.host.close();
      // Instances outlive the CLI by design; stop every one on this pool before unmounting it.
      for (const volume of existsSync(pool.poolPath) ? readdirSync(pool.poolPath) : []) {
        const dataDir = join(pool.poolPath, volume, 'pgdata');
        if (existsSync(join(dataDir, 'postmaster.pid'))) await killInstance(dataDir).catch(() => undefined);
      }
      await pool.cleanup();
      await rm(home, { recursive: true, force: true });
    },
  };
  return t;
}
