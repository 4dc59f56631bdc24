import type { Command } from 'commander';
// Types only: the domain (and zod, SQLite, pino with it) is loaded by the commands that open a
// local host, never by a remote call or --help (see openService).
import type { BranchService, ProgressSink } from '../branches/index.js';
import { createApiClient } from '../client/index.js';
import { PgbranchError } from '../errors.js';
import { resolveRemote, type RemoteTarget } from './contexts.js';
import { stderrProgress } from './progress.js';
import { Writer, parseOutputFormat, type Streams } from './writer.js';

export interface GlobalOptions {
  home?: string;
  apiUrl?: string;
  context?: string;
  token?: string;
  tokenStdin?: boolean;
  output: string;
  quiet?: boolean;
}

/**
 * In-process host, or a server (--api-url, $PGBRANCH_API_URL or a context; token from --token,
 * --token-stdin, $PGBRANCH_TOKEN or the context): the same commands either way.
 */
export async function openService(target: RemoteTarget | undefined, opts: GlobalOptions, openLocal: LocalOpener | undefined): Promise<BranchService> {
  if (target) return createApiClient({ baseUrl: target.apiUrl, token: target.token });
  if (!openLocal) {
    throw new PgbranchError('USAGE', 'no server to talk to: this client is remote only. Give --api-url, set $PGBRANCH_API_URL, or add a context (pgbranch context add NAME --url URL --use)');
  }
  return openLocal(opts);
}

/** Opens the in-process host (the full CLI only). */
export type LocalOpener = (opts: GlobalOptions) => Promise<BranchService>;

/** What every command module needs: options, output, progress and the host (local or remote). */
export interface CliContext {
  readonly streams: Streams;
  readonly env: NodeJS.ProcessEnv;
  globals(cmd: Command): GlobalOptions;
  writerFor(cmd: Command): Writer;
  progressFor(cmd: Command): ProgressSink;
  /** True when commands go to a server rather than the in-process host. */
  isRemote(cmd: Command): boolean;
  /** False in the light client, which has no in-process host (no "local" context). */
  readonly hasLocalHost: boolean;
  /** Opens the host (in-process, or the server chosen by flags, environment or context), runs `fn`, closes it. */
  withHost<T>(cmd: Command, fn: (host: BranchService) => Promise<T>): Promise<T>;
}

export function createCliContext(streams: Streams, env: NodeJS.ProcessEnv, openLocal?: LocalOpener): CliContext {
  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  let stdinToken: Promise<string> | undefined;
  const readTokenFromStdin = (): Promise<string> => (stdinToken ??= readToken(streams.stdin ?? process.stdin));
  return {
    streams,
    env,
    globals,
    writerFor: (cmd) => new Writer(parseOutputFormat(globals(cmd).output), streams),
    progressFor: (cmd) => stderrProgress(streams.stderr, { quiet: globals(cmd).quiet }),
    isRemote: (cmd) => resolveRemote(globals(cmd), env) !== undefined,
    hasLocalHost: openLocal !== undefined,
    async withHost(cmd, fn) {
      const opts = globals(cmd);
      if (opts.token !== undefined && opts.tokenStdin) throw new PgbranchError('USAGE', 'give --token or --token-stdin, not both');
      const target = resolveRemote(opts, env, opts.tokenStdin ? await readTokenFromStdin() : undefined);
      const service = await openService(target, opts, openLocal);
      try {
        return await fn(service);
      } finally {
        service.close();
      }
    },
  };
}

/** The first line of stdin, trimmed: `--token-stdin` keeps the token out of argv (ps) and shell history. */
export async function readToken(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  const token = text.split('\n')[0]!.trim();
  if (!token) throw new PgbranchError('USAGE', '--token-stdin: nothing was read from standard input');
  return token;
}
