import type { Command } from 'commander';
// Types only: the domain (and zod, SQLite, pino with it) is loaded by the commands that open a
// local host, never by a remote call or --help (see openService).
import type { BranchService, ProgressSink } from '../branches/index.js';
import { stderrProgress } from './progress.js';
import { Writer, parseOutputFormat, type Streams } from './writer.js';

export interface GlobalOptions {
  home?: string;
  apiUrl?: string;
  output: string;
  quiet?: boolean;
}

/**
 * In-process host, or the server named by PGBRANCH_API_URL (with PGBRANCH_TOKEN): the same
 * commands either way.
 */
export async function openService(opts: GlobalOptions, env: NodeJS.ProcessEnv): Promise<BranchService> {
  const apiUrl = opts.apiUrl ?? env.PGBRANCH_API_URL;
  if (apiUrl) {
    const { createApiClient } = await import('../client/index.js');
    return createApiClient({ baseUrl: apiUrl, token: env.PGBRANCH_TOKEN });
  }
  const { Host } = await import('../branches/index.js');
  return Host.open({ home: opts.home });
}

/** What every command module needs: options, output, progress and the host (local or remote). */
export interface CliContext {
  readonly streams: Streams;
  readonly env: NodeJS.ProcessEnv;
  globals(cmd: Command): GlobalOptions;
  writerFor(cmd: Command): Writer;
  progressFor(cmd: Command): ProgressSink;
  /** Opens the host (in-process, or the server of PGBRANCH_API_URL), runs `fn`, closes it. */
  withHost<T>(cmd: Command, fn: (host: BranchService) => Promise<T>): Promise<T>;
}

export function createCliContext(streams: Streams, env: NodeJS.ProcessEnv): CliContext {
  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  return {
    streams,
    env,
    globals,
    writerFor: (cmd) => new Writer(parseOutputFormat(globals(cmd).output), streams),
    progressFor: (cmd) => stderrProgress(streams.stderr, { quiet: globals(cmd).quiet }),
    async withHost(cmd, fn) {
      const service = await openService(globals(cmd), env);
      try {
        return await fn(service);
      } finally {
        service.close();
      }
    },
  };
}
