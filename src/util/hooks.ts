import { spawn } from 'node:child_process';

/**
 * Shell hooks: commands run one after the other with `sh -c` and an environment of the caller's
 * (post-create hooks of the CLI and the Action, after-refresh hooks of a root).
 */

/** One hook command as it ran. */
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
