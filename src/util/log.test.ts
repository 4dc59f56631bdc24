import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const LOG_MODULE = join(import.meta.dirname, '..', '..', 'dist', 'util', 'log.js');

/** Runs a script against the built logger in a fresh process (the module keeps its state). */
async function inFreshProcess(script: string, env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  const source = `import { createRequire } from 'node:module';
import { log } from ${JSON.stringify(LOG_MODULE)};
const pinoLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/pino/'));
${script}`;
  const { PGBRANCH_LOG_LEVEL: _, ...rest } = process.env;
  return promisify(execFile)(process.execPath, ['--input-type=module', '-e', source], { env: { ...rest, ...env } });
}

describe('log', () => {
  it('drops lines below its level without loading pino, and loads it for the first line it emits', async () => {
    const { stdout, stderr } = await inFreshProcess(`
log.debug('below warn');
log.info({ password: 'x' }, 'below warn too');
console.log(JSON.stringify({ level: log.level, afterDropped: pinoLoaded() }));
log.warn({ password: 'hunter2' }, 'emitted');
console.log(JSON.stringify({ afterEmitted: pinoLoaded(), level: log.level }));`);
    const [before, after] = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(before).toEqual({ level: 'warn', afterDropped: false });
    expect(after).toEqual({ afterEmitted: true, level: 'warn' });
    const lines = stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; password: string });
    expect(lines.map((l) => l.msg)).toEqual(['emitted']);
    expect(lines[0]!.password).toBe('[redacted]');
  });

  it('keeps a level set before pino loads, and takes PGBRANCH_LOG_LEVEL', async () => {
    const set = await inFreshProcess(`log.level = 'info'; log.debug('no'); log.info('yes');`);
    expect(set.stderr.trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['yes']);
    const fromEnv = await inFreshProcess(`log.debug('shown'); log.trace('not');`, { PGBRANCH_LOG_LEVEL: 'debug' });
    expect(fromEnv.stderr.trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['shown']);
  });
});
