import { Command } from 'commander';
import { PgbranchError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { readToken } from '../context.js';
import { LOCAL_CONTEXT, contextFilePath, readContexts, writeContexts } from '../contexts.js';
import { renderTable } from '../writer.js';

/** `context …`: remembered servers (URL + token), like kubectl's contexts or neonctl's profiles. */
export function registerContextCommands(program: Command, ctx: CliContext): void {
  const context = program
    .command('context')
    .alias('contexts')
    .description(`remember pgbranch servers (URL and token) and switch between them; "${LOCAL_CONTEXT}" is the in-process host`)
    .addHelpText(
      'after',
      `
Examples:
  $ echo "$TOKEN" | pgbranch context add ci --url https://pgbranch.internal:5480 --token-stdin
  $ pgbranch context use ci
  $ pgbranch branch list            # now on https://pgbranch.internal:5480
  $ pgbranch --context local status # this machine, once
  $ pgbranch context use local`,
    );

  context
    .command('add <name>')
    .description('add or replace a context (stored 0600 in $PGBRANCH_CONFIG_DIR, default ~/.config/pgbranch/contexts.json)')
    .requiredOption('--url <url>', 'the server, e.g. http://pgbranch.internal:5480')
    .option('--use', 'make it the current context')
    .action(async (name: string, opts: { url: string; use?: boolean }, cmd: Command) => {
      if (name === LOCAL_CONTEXT) throw new PgbranchError('USAGE', `"${LOCAL_CONTEXT}" is reserved for the in-process host`);
      try {
        new URL(opts.url);
      } catch {
        throw new PgbranchError('USAGE', `--url "${opts.url}" is not a URL`);
      }
      const g = ctx.globals(cmd);
      if (g.token !== undefined && g.tokenStdin) throw new PgbranchError('USAGE', 'give --token or --token-stdin, not both');
      const token = g.tokenStdin ? await readToken(ctx.streams.stdin ?? process.stdin) : (g.token ?? ctx.env.PGBRANCH_TOKEN);
      const file = readContexts(ctx.env);
      file.contexts[name] = { api_url: opts.url.replace(/\/+$/, ''), ...(token ? { token } : {}) };
      if (opts.use) file.current = name;
      writeContexts(ctx.env, file);
      ctx.writerFor(cmd).data({ name, api_url: file.contexts[name]!.api_url, has_token: Boolean(token), current: file.current === name, file: contextFilePath(ctx.env) }, () =>
        `context ${name} saved${file.current === name ? ' (current)' : ''}${token ? '' : ' without a token'}`,
      );
    });

  context
    .command('use <name>')
    .alias('switch')
    .description(`make a context the current one ("${LOCAL_CONTEXT}": the in-process host)`)
    .action((name: string, _opts, cmd: Command) => {
      const file = readContexts(ctx.env);
      if (name === LOCAL_CONTEXT && !ctx.hasLocalHost) {
        throw new PgbranchError('INVALID_ARGUMENT', `"${LOCAL_CONTEXT}" is the in-process host, which this remote-only client does not have: use a context with a server URL`);
      }
      if (name !== LOCAL_CONTEXT && !file.contexts[name]) throw new PgbranchError('INVALID_ARGUMENT', `no context named "${name}" (see \`pgbranch context list\`)`);
      file.current = name === LOCAL_CONTEXT ? null : name;
      writeContexts(ctx.env, file);
      ctx.writerFor(cmd).data({ current: name }, () => `current context: ${name}`);
    });

  context
    .command('list')
    .alias('ls')
    .description('list contexts; * marks the current one (tokens are never printed)')
    .action((_opts, cmd: Command) => {
      const file = readContexts(ctx.env);
      // The light client has no in-process host: no "local" row it could not use.
      const rows = [
        ...(ctx.hasLocalHost ? [{ name: LOCAL_CONTEXT, api_url: null as string | null, has_token: false, current: file.current === null }] : []),
        ...Object.entries(file.contexts).map(([name, c]) => ({ name, api_url: c.api_url, has_token: Boolean(c.token), current: file.current === name })),
      ];
      ctx.writerFor(cmd).data(rows, () =>
        renderTable(
          ['CURRENT', 'NAME', 'API URL', 'TOKEN'],
          rows.map((r) => [r.current ? '*' : '', r.name, r.api_url ?? '(in-process host)', r.has_token ? 'yes' : 'no']),
        ),
      );
    });

  context
    .command('remove <name>')
    .alias('rm')
    .description('forget a context (the current one falls back to local)')
    .action((name: string, _opts, cmd: Command) => {
      const file = readContexts(ctx.env);
      if (!file.contexts[name]) throw new PgbranchError('INVALID_ARGUMENT', `no context named "${name}"`);
      delete file.contexts[name];
      if (file.current === name) file.current = null;
      writeContexts(ctx.env, file);
      ctx.writerFor(cmd).data({ name, removed: true }, () => `removed context ${name}`);
    });
}
