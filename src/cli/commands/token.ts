import { Command, Option } from 'commander';
import type { TokenInfo } from '../../branches/index.js';
import { TOKEN_ROLE_CHOICES } from '../choices.js';
import type { CliContext } from '../context.js';
import { tokenFields } from '../fields.js';
import { renderFields, renderTable } from '../writer.js';

/** `token …`: API tokens for `pgbranch serve`. */
export function registerTokenCommands(program: Command, ctx: CliContext): void {
  const { writerFor, withHost } = ctx;
  const token = program.command('token').alias('tokens').description('API tokens for `pgbranch serve` (roles read, write, admin; optional branch patterns)');

  token
    .command('create')
    .description('create a token; it is shown once')
    .requiredOption('--name <name>', 'what the token is for, e.g. "github-ci"')
    .addOption(new Option('--role <role>', 'read, write or admin').choices(TOKEN_ROLE_CHOICES).default('read'))
    .option('--branches <patterns...>', 'limit to branch names matching these patterns, e.g. "pr-*"')
    .option('--masked-only', 'see and operate masked branches only; create branches only from masked branches (see README, "Masking")')
    .action(async (opts: { name: string; role: TokenInfo['role']; branches?: string[]; maskedOnly?: boolean }, cmd: Command) => {
      const writer = writerFor(cmd);
      const created = await withHost(cmd, (host) =>
        host.createToken({ name: opts.name, role: opts.role, branchPatterns: opts.branches ?? [], ...(opts.maskedOnly ? { maskedOnly: true } : {}) }),
      );
      writer.data({ token: created.token, ...created.info }, () =>
        [renderFields(tokenFields(created.info)), '', `token (shown once, keep it secret): ${created.token}`].join('\n'),
      );
    });

  token
    .command('list')
    .alias('ls')
    .description('list tokens (never their secrets)')
    .action(async (_opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const tokens = await withHost(cmd, (host) => host.listTokens());
      writer.data(tokens, () =>
        renderTable(
          ['ID', 'NAME', 'ROLE', 'BRANCHES', 'MASKED ONLY', 'CREATED', 'LAST USED'],
          tokens.map((t) => [t.tokenId, t.name, t.role, t.branchPatterns.join(',') || '*', t.maskedOnly ? 'yes' : 'no', t.createdAt, t.lastUsedAt ?? '-']),
        ),
      );
    });

  token
    .command('revoke <id>')
    .alias('delete')
    .description('revoke a token at once')
    .action(async (id: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      await withHost(cmd, (host) => host.revokeToken(id));
      writer.data({ id, revoked: true }, () => `revoked: ${id}`);
    });
}
