import { spawn } from 'node:child_process';
import type { ConnectionInfo } from '../branches/index.js';
import { PgbranchError } from '../errors.js';

/** One post-create command as it ran. */
export interface HookStep {
  readonly command: string;
  readonly durationMs: number;
  /** Null when the command was killed by a signal. */
  readonly exitCode: number | null;
  readonly signal: string | null;
}

export interface RunHooksOptions {
  /** Run in order, each with `sh -c`; the first failure stops the rest. */
  readonly commands: readonly string[];
  /** Added to the inherited environment (DATABASE_URL etc., see `hookEnvironment`). */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Where the commands' stdout and stderr go as they run (the CLI passes its stderr: stdout is for data). */
  readonly output?: NodeJS.WritableStream;
  /** Called before each command (progress lines, Action log groups). */
  readonly onStart?: (command: string, index: number) => void;
  /** How much of a failing command's output is kept for the error (default 4 KiB). */
  readonly tailBytes?: number;
}

export interface HookFailure {
  readonly step: HookStep;
  /** The end of the failing command's combined stdout and stderr. */
  readonly outputTail: string;
}

export interface HookRun {
  readonly steps: readonly HookStep[];
  readonly failure: HookFailure | null;
}

/**
 * The environment a hook sees. DATABASE_URL is the endpoint URL when the branch is reached
 * through a `pgbranch serve` host (a CI runner is usually another machine, and the direct
 * address is loopback-only); otherwise the direct one. PG* variables let `psql` and other
 * libpq tools connect without arguments (the direct address, like DATABASE_URL_UNPOOLED).
 */
export function hookEnvironment(info: ConnectionInfo, options: { preferEndpoint: boolean }): Record<string, string> {
  const pooled = options.preferEndpoint && info.endpoint ? info.endpoint.url : info.url;
  return {
    DATABASE_URL: pooled,
    DATABASE_URL_UNPOOLED: info.url,
    PGHOST: info.host,
    PGPORT: String(info.port),
    PGUSER: info.user,
    PGPASSWORD: info.password,
    PGDATABASE: info.database,
    PGBRANCH_BRANCH: info.branch,
  };
}

/** Runs the commands one after the other; never throws for a failing command (see `failure`). */
export async function runHooks(options: RunHooksOptions): Promise<HookRun> {
  const steps: HookStep[] = [];
  const tailBytes = options.tailBytes ?? 4096;
  for (const [index, command] of options.commands.entries()) {
    options.onStart?.(command, index);
    const started = performance.now();
    let tail = '';
    const { exitCode, signal } = await new Promise<{ exitCode: number | null; signal: string | null }>((resolve) => {
      const child = spawn('sh', ['-c', command], {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const collect = (chunk: Buffer) => {
        options.output?.write(chunk);
        tail = (tail + chunk.toString('utf8')).slice(-tailBytes);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.on('error', (err) => {
        tail += `${err.message}\n`;
        resolve({ exitCode: 127, signal: null });
      });
      child.on('close', (code, sig) => resolve({ exitCode: code, signal: sig }));
    });
    const step: HookStep = { command, durationMs: Math.round(performance.now() - started), exitCode, signal };
    steps.push(step);
    if (exitCode !== 0) return { steps, failure: { step, outputTail: tail } };
  }
  return { steps, failure: null };
}

/** The stable error for a failed hook: its command, exit status and output tail in details. */
export function hookFailedError(failure: HookFailure, branch: string, kept: boolean): PgbranchError {
  const { step, outputTail } = failure;
  const status = step.signal ? `killed by ${step.signal}` : `exit code ${step.exitCode}`;
  const fate = kept ? 'kept (--keep-on-failure)' : 'deleted';
  const output = outputTail.trimEnd();
  return new PgbranchError(
    'HOOK_FAILED',
    `hook "${step.command}" failed on branch "${branch}" (${status}); the branch was ${fate}${output ? `\n--- output (tail) ---\n${output}` : ''}`,
    { details: { branch, command: step.command, exitCode: step.exitCode, signal: step.signal, durationMs: step.durationMs, branchKept: kept, output: outputTail } },
  );
}
