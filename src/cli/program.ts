import { Command, CommanderError, Option } from 'commander';
import { PgbranchError, toPgbranchError } from '../errors.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerBranchCommands } from './commands/branch.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerContextCommands } from './commands/context.js';
import { registerDiffCommand } from './commands/diff.js';
import { registerGcCommands } from './commands/gc.js';
import { registerMaskCommands } from './commands/mask.js';
import { registerEnvCommand } from './commands/env.js';
import { registerStatusCommand } from './commands/status.js';
import { registerPsqlCommand } from './commands/psql.js';
import { registerSnapshotCommands } from './commands/snapshot.js';
import { registerSourceCommands } from './commands/source.js';
import { registerTokenCommands } from './commands/token.js';
import { createCliContext, type CliContext, type GlobalOptions, type LocalOpener } from './context.js';
import { PGBRANCH_VERSION } from './version.js';
import { OUTPUT_FORMATS, Writer, parseOutputFormat, type OutputFormat, type Streams } from './writer.js';

/**
 * What differs between the full CLI (`pgbranch`) and the light client's (`@pgbranch/client`): the
 * in-process host and the commands that only make sense on the host's machine. Everything else —
 * commands, output, exit codes — is this one tree, so the two cannot drift.
 */
export interface Edition {
  /** Opens the in-process host; absent in the light client (remote only). */
  readonly openLocal?: LocalOpener;
  /** Registers the local-only commands (init, serve, postgres). */
  readonly registerLocal?: (program: Command, ctx: CliContext) => void;
}

/**
 * Builds the command tree. Each action opens the host (in-process or remote), does one domain
 * call and prints its result through the writer; no business rule lives here.
 */
export function buildProgram(edition: Edition, streams: Streams, env: NodeJS.ProcessEnv = process.env, usage: UsageSink = { capture: (s) => streams.stderr.write(s) }): Command {
  const program = new Command('pgbranch')
    .description('Copy-on-write PostgreSQL branches: an isolated, production-like database per PR, CI run or QA session.')
    .version(PGBRANCH_VERSION, '-V, --version', 'print the version')
    .addOption(new Option('--api-url <url>', 'talk to a `pgbranch serve` host (default: $PGBRANCH_API_URL, else the current context)'))
    .addOption(new Option('--context <name>', 'use this context for one command (`pgbranch context list`; "local" = in-process host)'))
    .addOption(new Option('--token <token>', 'API token (default: $PGBRANCH_TOKEN, else the context\'s); visible in ps: prefer --token-stdin'))
    .option('--token-stdin', 'read the API token from the first line of standard input')
    // `sql`: `diff`'s migration script only; every other command refuses it (see parseOutputFormat).
    .addOption(new Option('-o, --output <format>', 'output format').choices([...OUTPUT_FORMATS, 'sql']).default('table'))
    .option('-q, --quiet', 'no progress on stderr')
    .configureOutput({
      writeOut: (s) => streams.stdout.write(s),
      writeErr: (s) => streams.stderr.write(s),
      // Commander's own complaints (unknown option, missing argument…) become USAGE errors, printed by main.
      outputError: (s) => usage.capture(s),
    })
    .addHelpText(
      'after',
      `
Examples:
  $ pgbranch init --pool-size 20G              # once per machine (as root)
  $ pgbranch branch create pr-42 --ttl 3d      # copy-on-write from main, in well under a second
  $ psql "$(pgbranch branch url pr-42)"
  $ pgbranch -o json branch list               # machine-readable (snake_case keys, like the API)
  $ pgbranch --context ci branch delete pr-42  # on a remembered server (pgbranch context --help)`,
    )
    .exitOverride();
  if (edition.openLocal) {
    program.addOption(new Option('--home <dir>', 'host directory (default: $PGBRANCH_HOME, /var/lib/pgbranch as root, ~/.pgbranch otherwise)'));
  }

  const ctx = createCliContext(streams, env, edition.openLocal);
  edition.registerLocal?.(program, ctx);
  registerStatusCommand(program, ctx);
  registerBranchCommands(program, ctx);
  registerSnapshotCommands(program, ctx);
  registerDiffCommand(program, ctx);
  registerSourceCommands(program, ctx);
  registerTokenCommands(program, ctx);
  registerMaskCommands(program, ctx);
  registerAuditCommands(program, ctx);
  registerGcCommands(program, ctx);
  registerEnvCommand(program, ctx);
  registerPsqlCommand(program, ctx);
  registerContextCommands(program, ctx);
  registerCompletionCommand(program, ctx);
  return program;
}

/** Receives commander's usage message so that main prints it once, with the code USAGE, in the chosen format. */
export interface UsageSink {
  capture(message: string): void;
}

/** `-o json` / `--output=json` read from argv before parsing: a usage error may come before the options are parsed. */
export function outputFormatOf(argv: readonly string[]): OutputFormat {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = a === '-o' || a === '--output' ? argv[i + 1] : a.startsWith('--output=') ? a.slice(9) : a.startsWith('-o') && a.length > 2 ? a.slice(2) : undefined;
    if (value === 'json' || value === 'yaml') return value;
  }
  return 'table';
}

/** Runs the CLI and returns the exit code (see README, "Exit codes"). */
export async function runProgram(
  edition: Edition,
  argv: readonly string[],
  streams: Streams = { stdout: process.stdout, stderr: process.stderr },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const argFormat = outputFormatOf(argv);
  let captured: string | undefined;
  const program = buildProgram(edition, streams, env, {
    capture: (s) => {
      captured = s;
    },
  });
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (err) {
    const format = (() => {
      try {
        return parseOutputFormat(program.opts<GlobalOptions>().output ?? argFormat);
      } catch {
        return argFormat;
      }
    })();
    if (err instanceof CommanderError) {
      // --help and --version are not errors; everything else commander rejects is usage.
      if (err.exitCode === 0) return 0;
      const message = (captured ?? err.message).trim().replace(/^error: /, '');
      const error = new PgbranchError('USAGE', message, { details: { commander_code: err.code } });
      if (format === 'table') streams.stderr.write(`error: ${message} [USAGE]\n(add --help for usage)\n`);
      else new Writer(format, streams).error(error);
      return error.spec.exitCode;
    }
    const error = toPgbranchError(err);
    new Writer(format, streams).error(error);
    return error.spec.exitCode;
  }
}
