import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export interface ToolRun {
  /** Resolves when the tool has exited (never rejects: spawn errors become exitCode -1). */
  readonly done: Promise<{ exitCode: number; signal: NodeJS.Signals | null; stderrTail: string; spawnError?: Error }>;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  kill(signal?: NodeJS.Signals): void;
}

const STDERR_KEEP = 32 * 1024;

/**
 * Runs a PostgreSQL client tool with streamed stdio: stderr is split into lines for progress and
 * its tail is kept for error messages; stdin/stdout are handed to the caller when piped.
 */
export function runTool(
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore'; stdout?: 'pipe' | 'ignore'; onStderrLine?: (line: string) => void },
): ToolRun {
  const child = spawn(command, args, { env: options.env, stdio: [options.stdin ?? 'ignore', options.stdout ?? 'ignore', 'pipe'] });
  let tail = '';
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_KEEP);
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) options.onStderrLine?.(line);
  });
  // A tool that exits early closes its stdin; writes then fail with EPIPE, which is not the error to report.
  child.stdin?.on('error', () => undefined);
  const done = new Promise<{ exitCode: number; signal: NodeJS.Signals | null; stderrTail: string; spawnError?: Error }>((resolve) => {
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
      // A failed spawn may never emit 'close'.
      if (child.pid === undefined) resolve({ exitCode: -1, signal: null, stderrTail: tail, spawnError: err });
    });
    child.once('close', (code, signal) => {
      if (partial) options.onStderrLine?.(partial);
      resolve({ exitCode: code ?? -1, signal, stderrTail: tail, ...(spawnError ? { spawnError } : {}) });
    });
  });
  return {
    done,
    stdin: child.stdin,
    stdout: child.stdout,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
