import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ConnectionInfo } from '../../branches/index.js';
import { PgbranchError } from '../../errors.js';
import type { CliContext } from '../context.js';

const ENV_NAME_PREFIX = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The variables `env` prints: the same as hooks see, minus pgbranch's own. */
export async function connectionVariables(info: ConnectionInfo, remote: boolean, prefix = ''): Promise<Record<string, string>> {
  const { hookEnvironment } = await import('../../integrations/index.js');
  const { PGBRANCH_BRANCH: _branch, ...vars } = hookEnvironment(info, { preferEndpoint: remote });
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [`${prefix}${k}`, v]));
}

/** True when the CLI talks to a `pgbranch serve` host (the direct address is then not reachable). */
export function isRemote(ctx: CliContext, cmd: Command): boolean {
  return ctx.isRemote(cmd);
}

/** `env NAME`: DATABASE_URL and friends for a branch, printed or merged into a dotenv file. */
export function registerEnvCommand(program: Command, ctx: CliContext): void {
  program
    .command('env <name>')
    .description('print DATABASE_URL, DATABASE_URL_UNPOOLED and PG* for a branch as dotenv lines, or merge them into a file')
    .addHelpText('after', `\nExamples:\n  $ pgbranch env pr-42 --write .env\n  $ eval "$(pgbranch env pr-42 --prefix TEST_ | sed s/^/export\\ /)"`)
    .option('--write <file>', 'merge into this dotenv file (other keys and comments are kept; created 0600 if missing)')
    .option('--prefix <prefix>', 'prefix every variable name, e.g. TEST_ → TEST_DATABASE_URL', '')
    .action(async (name: string, opts: { write?: string; prefix: string }, cmd: Command) => {
      if (opts.prefix && !ENV_NAME_PREFIX.test(opts.prefix)) throw new PgbranchError('INVALID_ARGUMENT', `--prefix "${opts.prefix}" would not make valid variable names`);
      const writer = ctx.writerFor(cmd);
      const info = await ctx.withHost(cmd, (host) => host.connectionInfo(name));
      const vars = await connectionVariables(info, isRemote(ctx, cmd), opts.prefix);
      const { formatDotenv, mergeDotenv } = await import('../../integrations/index.js');
      if (!opts.write) {
        writer.data(vars, () => formatDotenv(vars));
        return;
      }
      const before = existsSync(opts.write) ? readFileSync(opts.write, 'utf8') : '';
      // The file holds a password: a new one is private to its owner; an existing one keeps its mode.
      writeFileSync(opts.write, mergeDotenv(before, vars), { mode: 0o600 });
      writer.data({ file: opts.write, branch: name, keys: Object.keys(vars) }, () => `wrote ${Object.keys(vars).join(', ')} to ${opts.write}`);
    });
}
