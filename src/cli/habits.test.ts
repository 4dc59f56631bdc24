import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram, main } from './index.js';
import { bashCompletion } from './commands/completion.js';
import { mainRemote } from './remote.js';
import { PGBRANCH_VERSION } from './version.js';

const dir = mkdtempSync(join(tmpdir(), 'ship-habits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sink = (onWrite: (s: string) => void): Writable =>
  new Writable({
    write(chunk, _enc, done) {
      onWrite(String(chunk));
      done();
    },
  });

/** Runs the CLI (or the light client's, `remote`) in process with its own config directory and no server in the environment. */
async function cli(args: string[], stdin?: string, remote = false): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const env = { PGBRANCH_CONFIG_DIR: join(dir, 'config'), PGBRANCH_HOME: join(dir, 'no-home'), HOME: dir, PATH: process.env.PATH };
  const code = await (remote ? mainRemote : main)(['node', 'pgbranch', ...args], { stdin: stdin === undefined ? undefined : Readable.from([stdin]), stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)) }, env);
  return { code, stdout, stderr };
}

describe('CLI habits', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(PGBRANCH_VERSION).toBe(pkg.version);
    const { code, stdout } = await cli(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(pkg.version);
  });

  it('usage errors carry the code USAGE, exit 2, and honour -o json', async () => {
    const table = await cli(['branch', 'create']);
    expect(table.code).toBe(2);
    expect(table.stderr).toMatch(/^error: missing required argument 'name' \[USAGE\]/);
    for (const args of [['-o', 'json', 'branch', 'frobnicate'], ['branch', 'list', '--bogus', '-o', 'json'], ['--output=json', 'branch', 'set', 'x', '--ttl', 'soon']]) {
      const json = await cli(args);
      expect(json.code, args.join(' ')).toBe(2);
      const body = JSON.parse(json.stderr) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('USAGE');
      expect(body.error.message.length).toBeGreaterThan(0);
    }
  });

  it('the bash completion script loads in bash and completes commands and subcommands', () => {
    const script = bashCompletion(buildProgram({ stdout: process.stdout, stderr: process.stderr }));
    const file = join(dir, 'completion.bash');
    const complete = (words: string[]): string[] =>
      execFileSync('bash', ['-c', `set -e; source "$1"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _pgbranch; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', file], {
        encoding: 'utf8',
        input: '',
      })
        .split('\n')
        .filter(Boolean);
    writeFileSync(file, script);
    expect(complete(['pgbranch', 'br'])).toEqual(['branch', 'branches']);
    expect(complete(['pgbranch', 'branch', 'cr'])).toEqual(['create']);
    expect(complete(['pgbranch', 'branch', 'create', 'x', '--if'])).toEqual(['--if-not-exists']);
    expect(complete(['pgbranch', 'context', ''])).toEqual(expect.arrayContaining(['add', 'use', 'list', 'remove']));
  });

  it('zsh and fish scripts are printed; an unknown shell is a usage error', async () => {
    expect((await cli(['completion', 'zsh'])).stdout).toContain('bashcompinit');
    expect((await cli(['completion', 'fish'])).stdout).toContain("complete -c pgbranch -n 'not __fish_seen_subcommand_from");
    expect((await cli(['completion', 'tcsh'])).code).toBe(2);
  });

  it('contexts switch hosts, keep tokens 0600 and never print them', async () => {
    // Two addresses nothing listens on: which one the error names shows which host was used.
    const a = await cli(['context', 'add', 'a', '--url', 'http://127.0.0.1:9/', '--token-stdin'], 'pgb_secret_a\n');
    expect(a.code, a.stderr).toBe(0);
    expect((await cli(['context', 'add', 'b', '--url', 'http://127.0.0.1:7', '--use'])).code).toBe(0);
    const file = join(dir, 'config', 'contexts.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ current: 'b', contexts: { a: { api_url: 'http://127.0.0.1:9', token: 'pgb_secret_a' } } });

    const list = await cli(['-o', 'json', 'context', 'list']);
    expect(list.stdout).not.toContain('pgb_secret_a');
    expect(JSON.parse(list.stdout)).toEqual([
      { name: 'local', api_url: null, has_token: false, current: false },
      { name: 'a', api_url: 'http://127.0.0.1:9', has_token: true, current: false },
      { name: 'b', api_url: 'http://127.0.0.1:7', has_token: false, current: true },
    ]);

    const onB = await cli(['branch', 'list']);
    expect(onB.code).toBe(9);
    expect(onB.stderr).toContain('http://127.0.0.1:7');
    expect((await cli(['context', 'use', 'a'])).code).toBe(0);
    const onA = await cli(['branch', 'list']);
    expect(onA.stderr).toContain('http://127.0.0.1:9');
    expect((await cli(['--context', 'b', 'branch', 'list'])).stderr).toContain('http://127.0.0.1:7');
    // "local" is the in-process host: this home does not exist.
    expect((await cli(['--context', 'local', 'status'])).stderr).toContain('HOST_NOT_INITIALIZED');
    // The light client reads the same file but has no in-process host: no "local" row, no switching to it.
    const remoteList = await cli(['-o', 'json', 'context', 'list'], undefined, true);
    expect(JSON.parse(remoteList.stdout).map((c: { name: string }) => c.name)).toEqual(['a', 'b']);
    const remoteLocal = await cli(['-o', 'json', 'context', 'use', 'local'], undefined, true);
    expect(remoteLocal.code).toBe(2);
    expect(JSON.parse(remoteLocal.stderr).error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('remote-only') });
    expect((await cli(['context', 'remove', 'a'])).code).toBe(0);
    expect((await cli(['status'])).stderr).toContain('HOST_NOT_INITIALIZED');
    expect((await cli(['context', 'use', 'nope'])).code).toBe(2);
  });

  it('--token and --token-stdin together are refused', async () => {
    const r = await cli(['--api-url', 'http://127.0.0.1:9', '--token', 'x', '--token-stdin', 'branch', 'list'], 'y\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[USAGE]');
  });
});
