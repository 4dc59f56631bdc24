import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { PgbranchError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { isRemote } from './env.js';

/**
 * `psql NAME [-- ARGS]`: psql connected to the branch. Credentials travel in PG* variables, not
 * in argv, so they never show in `ps`.
 */
export function registerPsqlCommand(program: Command, ctx: CliContext): void {
  program
    .command('psql <name> [args...]')
    .description('run psql connected to a branch; arguments after -- go to psql (e.g. -- -c "select 1")')
    .option('--psql <path>', 'the psql binary (default: psql on PATH)', 'psql')
    .action(async (name: string, args: string[], opts: { psql: string }, cmd: Command) => {
      const info = await ctx.withHost(cmd, (host) => host.connectionInfo(name));
      const target = isRemote(ctx, cmd) && info.endpoint ? info.endpoint : { host: info.host, port: info.port, user: info.user };
      const env = {
        ...ctx.env,
        PGHOST: target.host,
        PGPORT: String(target.port),
        PGUSER: target.user,
        PGPASSWORD: info.password,
        PGDATABASE: info.database,
      };
      // Interactive use gets the terminal itself; in-process callers (tests, embedding) get the output.
      const attached = ctx.streams.stdout === process.stdout && ctx.streams.stderr === process.stderr;
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(opts.psql, args, { env, stdio: attached ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
        child.stdout?.on('data', (d: Buffer) => ctx.streams.stdout.write(d));
        child.stderr?.on('data', (d: Buffer) => ctx.streams.stderr.write(d));
        child.on('error', (err: NodeJS.ErrnoException) =>
          reject(
            err.code === 'ENOENT'
              ? new PgbranchError('CLIENT_TOOL_UNSUITABLE', `psql not found ("${opts.psql}"): install the PostgreSQL client or pass --psql`, { cause: err })
              : err,
          ),
        );
        child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
      });
      if (code !== 0) throw new PgbranchError('POSTGRES_ERROR', `psql exited with code ${code}`, { details: { exitCode: code } });
    });
}
