import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiFixture, type ApiFixture } from '../../../src/api/test-support/api-fixture.js';
import { main } from '../../../src/cli/index.js';
import { testPoolSkipReason } from '../../../src/test-support/test-host.js';

const execFileAsync = promisify(execFile);
const CLIENT_BIN = join(import.meta.dirname, '..', 'bin', 'pgbranch.js');
const skip = await testPoolSkipReason('btrfs');

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The light client's CLI (the packaged bundle, run as a process) against `pgbranch` in remote
 * mode, command by command, on one real server: same stdout, stderr and exit code. A mutating
 * command runs once per CLI on its own object (pr-full / pr-client …); what differs by nature
 * (names, ids, ports, passwords, times, measured sizes) is masked before comparing.
 */
describe.skipIf(skip !== undefined)('@pgbranch/client CLI = pgbranch remote mode', () => {
  let f: ApiFixture;
  let env: NodeJS.ProcessEnv;
  const config = mkdtempSync(join(tmpdir(), 'ship-parity-'));

  beforeAll(async () => {
    if (!existsSync(join(import.meta.dirname, '..', 'dist', 'cli.js'))) throw new Error('packages/client/dist/cli.js missing: run npm run build (npm test does)');
    f = await startApiFixture();
    env = { PATH: process.env.PATH, HOME: process.env.HOME, PGBRANCH_API_URL: f.server.url, PGBRANCH_TOKEN: f.adminToken, PGBRANCH_CONFIG_DIR: config };
  });
  afterAll(async () => {
    await f?.cleanup();
    rmSync(config, { recursive: true, force: true });
  });

  async function full(args: string[]): Promise<Result> {
    let stdout = '';
    let stderr = '';
    const sink = (append: (s: string) => void) =>
      new Writable({
        write(chunk, _enc, cb) {
          append(String(chunk));
          cb();
        },
      });
    const code = await main(['node', 'pgbranch', ...args], { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)) }, env);
    return { code, stdout, stderr };
  }

  async function client(args: string[]): Promise<Result> {
    try {
      const { stdout, stderr } = await execFileAsync(process.execPath, [CLIENT_BIN, ...args], { env });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  const mask = (text: string, names: readonly string[]): string => {
    let out = text;
    for (const name of names) out = out.split(name).join('<name>');
    return out
      .replace(/("?\w*(?:Ms|_ms)"?:\s*)[\d.]+/g, '$1<n>')
      .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>')
      .replace(/pgb_[A-Za-z0-9_-]+/g, '<token>')
      .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>')
      .replace(/\b[0-9a-f]{12,}\b/g, '<id>')
      .replace(/\b(br|sn|tk)-[0-9a-f]{6,}\b/g, '<id>')
      .replace(/\b[0-9A-F]+\/[0-9A-F]+\b/g, '<lsn>')
      .replace(/postgresql:\/\/[^\s"]+/g, '<url>')
      .replace(/("?(?:port|password|id|token_id)"?:\s*)("[^"]*"|\d+)/g, '$1<v>')
      .replace(/(port:\s+)\d+/g, '$1<v>')
      .replace(/("?\w*(?:bytes|Bytes)"?:\s*)\d+/g, '$1<n>')
      .replace(/\b\d+(\.\d+)? ?ms\b/g, '<ms>')
      .replace(/\d+(\.\d+)? (B|KiB|MiB|GiB)/g, '<size>')
      .replace(/\b\d+(ms|s|m|h|d)\b/g, '<age>');
  };

  /** One command, same arguments (or the same with its own object name), through both CLIs. */
  async function same(args: (side: 'full' | 'client') => string[], names: (side: 'full' | 'client') => string[] = () => []): Promise<Result> {
    const a = await full(args('full'));
    const b = await client(args('client'));
    const label = args('full').join(' ');
    expect({ code: b.code, stdout: mask(b.stdout, names('client')), stderr: mask(b.stderr, names('client')) }, label).toEqual({
      code: a.code,
      stdout: mask(a.stdout, names('full')),
      stderr: mask(a.stderr, names('full')),
    });
    return a;
  }
  const fixed = (...args: string[]) => () => args;
  const own = (prefix: string) => (side: 'full' | 'client') => [`${prefix}-${side}`];

  it('every command prints the same output with the same exit code', async () => {
    const formats = [[], ['-o', 'json'], ['-o', 'yaml']];
    for (const o of formats) {
      await same(fixed(...o, 'status'));
      await same((s) => [...o, '-q', 'branch', 'create', `pr${o.length ? o[1] : 't'}-${s}`, '--ttl', '3d'], (s) => [`pr${o.length ? o[1] : 't'}-${s}`]);
    }
    for (const o of formats) {
      await same(fixed(...o, 'branch', 'list', '--no-size'));
      await same(fixed(...o, 'branch', 'get', 'main'));
      await same(fixed(...o, 'branch', 'url', 'main'));
      await same(fixed(...o, 'env', 'main'));
      await same(fixed(...o, 'snapshot', 'list'));
      await same(fixed(...o, 'token', 'list'));
      await same(fixed(...o, 'gc', '--dry-run'));
      await same(fixed(...o, 'diff', 'prt-full'));
    }
    const b = own('prt');
    await same((s) => ['branch', 'set', b(s)[0]!, '--idle-timeout', '5m'], b);
    await same((s) => ['branch', 'protect', b(s)[0]!], b);
    await same((s) => ['branch', 'unprotect', b(s)[0]!], b);
    await same((s) => ['branch', 'stop', b(s)[0]!], b);
    await same((s) => ['branch', 'start', b(s)[0]!], b);
    await same((s) => ['branch', 'suspend', b(s)[0]!], b);
    await same((s) => ['-o', 'json', 'branch', 'rotate-password', b(s)[0]!], b);
    await same((s) => ['branch', 'reset', b(s)[0]!], b);
    await same((s) => ['snapshot', 'create', b(s)[0]!, `snap-${s}`], (s) => [b(s)[0]!, `snap-${s}`]);
    await same((s) => ['-o', 'json', 'snapshot', 'get', `snap-${s}`], (s) => [b(s)[0]!, `snap-${s}`]);
    await same((s) => ['snapshot', 'delete', `snap-${s}`], (s) => [b(s)[0]!, `snap-${s}`]);
    await same((s) => ['-o', 'json', 'token', 'create', '--name', `ci-${s}`, '--role', 'write', '--branches', 'pr-*'], (s) => [`ci-${s}`]);
    await same(fixed('-o', 'json', 'audit', '--limit', '3'), () => ['full', 'client']);
    for (const name of ['prt', 'prjson', 'pryaml']) await same((s) => ['branch', 'delete', `${name}-${s}`], (s) => [`${name}-${s}`]);

    // Errors and usage errors: same message, code and exit code, in every format.
    for (const o of formats) {
      await same(fixed(...o, 'branch', 'get', 'nope'));
      await same(fixed(...o, 'branch', 'frobnicate'));
      await same(fixed(...o, 'branch', 'create'));
      await same(fixed(...o, 'snapshot', 'delete', 'nope'));
      await same(fixed(...o, 'source', 'status', 'main'));
    }
    await same(fixed('--version'));
  });
});
