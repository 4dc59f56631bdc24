import type { Command } from 'commander';
import { registerHostCommands } from './commands/host.js';
import { registerPostgresCommands } from './commands/postgres.js';
import { checkInstall } from './install-check.js';
import { buildProgram as buildEditionProgram, runProgram, type Edition, type UsageSink } from './program.js';
import type { Streams } from './writer.js';

export { formatDuration, parseIdleTimeout, parseSize } from './parse.js';
export { outputFormatOf, type UsageSink } from './program.js';

/** The full CLI: the in-process host (after checking the install), plus init, serve and postgres. */
export const FULL_EDITION: Edition = {
  // The domain (and zod, SQLite, pino with it) loads only when a command opens a local host:
  // never for --help or a remote call.
  openLocal: async (opts) => {
    checkInstall();
    const { Host } = await import('../branches/index.js');
    return Host.open({ home: opts.home });
  },
  registerLocal: (program, ctx) => {
    registerHostCommands(program, ctx);
    registerPostgresCommands(program, ctx);
  },
};

/** Builds the full command tree (see program.ts). */
export function buildProgram(streams: Streams, env: NodeJS.ProcessEnv = process.env, usage?: UsageSink): Command {
  return buildEditionProgram(FULL_EDITION, streams, env, usage);
}

/** Runs the CLI and returns the exit code (see README, "Exit codes"). */
export function main(argv: readonly string[], streams?: Streams, env?: NodeJS.ProcessEnv): Promise<number> {
  return runProgram(FULL_EDITION, argv, streams, env);
}
