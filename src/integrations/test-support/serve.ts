import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join, resolve } from 'node:path';
import { Host } from '../../branches/index.js';
import { createTestHost, type TestHost } from '../../test-support/test-host.js';
import { waitFor } from '../../util/index.js';

const REPO = resolve(import.meta.dirname, '../../..');

export interface ServedHost {
  readonly t: TestHost;
  readonly apiUrl: string;
  /** An API token with the write role limited to `pr-*`, as the docs tell CI to use. */
  readonly ciToken: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

/** A real host behind a real `pgbranch serve` process (API and endpoint on free ports). */
export async function startServedHost(): Promise<ServedHost> {
  const t = await createTestHost('btrfs', { serve: { api: { host: '127.0.0.1', port: 0 }, proxy: { host: '127.0.0.1', port: 0 }, idleTimeoutMs: 0 } });
  const ciToken = (await t.host.createToken({ name: 'ci', role: 'write', branchPatterns: ['pr-*'] })).token;
  t.host.close();
  const server: ChildProcessWithoutNullStreams = spawn(process.execPath, [join(REPO, 'bin', 'pgbranch.js'), '--home', t.home, 'serve', '-o', 'json'], {
    env: { ...process.env },
  });
  let stdout = '';
  let log = '';
  server.stdout.on('data', (d) => (stdout += String(d)));
  server.stderr.on('data', (d) => (log += String(d)));
  const ready = await waitFor(() => (stdout.includes('}') ? (JSON.parse(stdout) as { api: string }) : undefined), {
    timeoutMs: 20_000,
    intervalMs: 50,
    what: 'pgbranch serve to print its addresses',
  });
  t.host = await Host.open({ home: t.home });
  return {
    t,
    apiUrl: ready.api,
    ciToken,
    log: () => log,
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((done) => server.once('exit', done));
        server.kill('SIGTERM');
        await exited;
      }
      await t.cleanup();
    },
  };
}
