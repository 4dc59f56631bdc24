import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PgbranchError } from '../errors.js';

/** One remembered pgbranch server: where it is and the token to use there. */
export interface CliContextEntry {
  readonly api_url: string;
  readonly token?: string;
}

export interface ContextFile {
  current: string | null;
  contexts: Record<string, CliContextEntry>;
}

/**
 * Where contexts live: $PGBRANCH_CONFIG_DIR, else $XDG_CONFIG_HOME/pgbranch, else ~/.config/pgbranch.
 * The file holds tokens, so it is written 0600 in a 0700 directory (like ~/.kube/config, ~/.pgpass).
 */
export function contextFilePath(env: NodeJS.ProcessEnv): string {
  const dir = env.PGBRANCH_CONFIG_DIR ?? join(env.XDG_CONFIG_HOME ?? join(env.HOME ?? homedir(), '.config'), 'pgbranch');
  return join(dir, 'contexts.json');
}

export function readContexts(env: NodeJS.ProcessEnv, strict = true): ContextFile {
  const file = contextFilePath(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { current: null, contexts: {} };
    // A HOME this user cannot read (sudo -u, a service account): no contexts, unless one was asked for.
    if (!strict && (code === 'EACCES' || code === 'EPERM' || code === 'ENOTDIR')) return { current: null, contexts: {} };
    throw new PgbranchError('INVALID_ARGUMENT', `cannot read the contexts file ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const parsed = JSON.parse(text) as Partial<ContextFile>;
    return { current: parsed.current ?? null, contexts: parsed.contexts ?? {} };
  } catch (cause) {
    throw new PgbranchError('INVALID_ARGUMENT', `the contexts file ${file} is not valid JSON: fix or remove it`, { cause });
  }
}

export function writeContexts(env: NodeJS.ProcessEnv, value: ContextFile): void {
  const file = contextFilePath(env);
  const dir = join(file, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Written aside and renamed: a crash never leaves half a file, and the mode is set before any token is in it.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** The reserved context name of the in-process host on this machine (no server). */
export const LOCAL_CONTEXT = 'local';

export interface RemoteTarget {
  readonly apiUrl: string;
  readonly token: string | undefined;
  /** Where the URL came from, for messages: a flag, the environment or a context's name. */
  readonly via: string;
}

/**
 * The server a command talks to, or undefined for the in-process host. Order: --api-url, then
 * $PGBRANCH_API_URL, then --context, then the current context. A context's token is used only with
 * that context's URL, never sent to a URL given some other way; --token / --token-stdin /
 * $PGBRANCH_TOKEN override it.
 */
export function resolveRemote(
  opts: { apiUrl?: string; context?: string; token?: string },
  env: NodeJS.ProcessEnv,
  stdinToken?: string,
): RemoteTarget | undefined {
  const explicitToken = opts.token ?? stdinToken ?? env.PGBRANCH_TOKEN;
  if (opts.apiUrl) return { apiUrl: opts.apiUrl, token: explicitToken, via: '--api-url' };
  if (env.PGBRANCH_API_URL) return { apiUrl: env.PGBRANCH_API_URL, token: explicitToken, via: '$PGBRANCH_API_URL' };
  const file = readContexts(env, opts.context !== undefined);
  const name = opts.context ?? file.current;
  if (name === null || name === LOCAL_CONTEXT) return undefined;
  const entry = file.contexts[name];
  if (!entry) throw new PgbranchError('INVALID_ARGUMENT', `no context named "${name}" (see \`pgbranch context list\`)`);
  return { apiUrl: entry.api_url, token: explicitToken ?? entry.token, via: `context ${name}` };
}
