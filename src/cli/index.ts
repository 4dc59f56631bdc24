import { Command, CommanderError, Option } from 'commander';
import { toPgbranchError } from '../errors.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerBranchCommands } from './commands/branch.js';
import { registerDiffCommand } from './commands/diff.js';
import { registerGcCommands } from './commands/gc.js';
import { registerEnvCommand } from './commands/env.js';
import { registerHostCommands } from './commands/host.js';
import { registerPsqlCommand } from './commands/psql.js';
import { registerSnapshotCommands } from './commands/snapshot.js';
import { registerSourceCommands } from './commands/source.js';
import { registerTokenCommands } from './commands/token.js';
import { createCliContext, type GlobalOptions } from './context.js';
import { OUTPUT_FORMATS, Writer, parseOutputFormat, type Streams } from './writer.js';

export { formatDuration, parseIdleTimeout, parseSize } from './parse.js';

/**
 * Builds the command tree. Each action opens the host (in-process or remote), does one domain
 * call and prints its result through the writer; no business rule lives here.
 */
export function buildProgram(streams: Streams, env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('pgbranch')
    .description('Copy-on-write PostgreSQL branches: an isolated, production-like database per PR, CI run or QA session.')
    .addOption(new Option('--home <dir>', 'host directory (default: $PGBRANCH_HOME, /var/lib/pgbranch as root, ~/.pgbranch otherwise)'))
    .addOption(new Option('--api-url <url>', 'talk to a `pgbranch serve` host (default: $PGBRANCH_API_URL; token from $PGBRANCH_TOKEN)'))
    // `sql`: `diff`'s migration script only; every other command refuses it (see parseOutputFormat).
    .addOption(new Option('-o, --output <format>', 'output format').choices([...OUTPUT_FORMATS, 'sql']).default('table'))
    .option('-q, --quiet', 'no progress on stderr')
    .showHelpAfterError()
    .configureOutput({
      writeOut: (s) => streams.stdout.write(s),
      writeErr: (s) => streams.stderr.write(s),
    })
    .exitOverride();

  const ctx = createCliContext(streams, env);
  registerHostCommands(program, ctx);
  registerBranchCommands(program, ctx);
  registerSnapshotCommands(program, ctx);
  registerDiffCommand(program, ctx);
  registerSourceCommands(program, ctx);
  registerTokenCommands(program, ctx);
  registerAuditCommands(program, ctx);
  registerGcCommands(program, ctx);
  registerEnvCommand(program, ctx);
  registerPsqlCommand(program, ctx);
  return program;
}

/** Runs the CLI and returns the exit code (see README, "Exit codes"). */
export async function main(
  argv: readonly string[],
  streams: Streams = { stdout: process.stdout, stderr: process.stderr },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const program = buildProgram(streams, env);
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors; everything else commander rejects is usage.
      return err.exitCode === 0 ? 0 : 2;
    }
    const format = (() => {
      try {
        return parseOutputFormat(program.opts<GlobalOptions>().output ?? 'table');
      } catch {
        return 'table' as const;
      }
    })();
    const error = toPgbranchError(err);
    new Writer(format, streams).error(error);
    return error.spec.exitCode;
  }
}
