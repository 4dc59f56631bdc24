import { runProgram, type Edition } from './program.js';
import type { Streams } from './writer.js';

/**
 * The light client's CLI (`@pgbranch/client`): the same command tree as `pgbranch`, without the
 * in-process host and the host-only commands (init, serve, postgres). Bundled on its own, it
 * pulls in neither SQLite nor PostgreSQL binaries.
 */
export const REMOTE_EDITION: Edition = {};

export function mainRemote(argv: readonly string[], streams?: Streams, env?: NodeJS.ProcessEnv): Promise<number> {
  return runProgram(REMOTE_EDITION, argv, streams, env);
}
