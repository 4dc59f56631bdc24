import { Command } from 'commander';
import { PgbranchError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { runCreateHooks } from '../hooks.js';
import { readRulesFile } from './mask.js';
import { branchFields, endpointUrl } from '../fields.js';
import { asTree, formatAge, formatBytes, formatTimeLeft } from '../format.js';
import { createOrigin, parseAt, parseIdleTimeout, parseSizeOrNone, parseTtl, parseTtlOrNone } from '../parse.js';
import { renderFields, renderTable } from '../writer.js';
import type { RebaseReport } from '../../branches/index.js';

/** A rebase report for people: what happened, the schema statements, table counts, each conflict. */
function renderRebase(r: RebaseReport): string {
  if (r.action === 'undo') return `${r.branch}: back to its state before the last rebase`;
  const head = r.dryRun ? `${r.branch}: dry run onto ${r.onto}` : `${r.branch}: rebased onto ${r.onto}${r.undoSnapshot ? ` (before: snapshot ${r.undoSnapshot}; --undo returns to it)` : ''}`;
  const lines = [head];
  if (r.schema.statements.length > 0) lines.push('', 'schema:', ...r.schema.statements.map((s) => `  ${s.sql}`));
  const tables = r.data.tables.filter((t) => t.inserted + t.updated + t.deleted + t.alreadyOnParent > 0);
  if (tables.length > 0) {
    lines.push('', renderTable(['TABLE', 'INSERTED', 'UPDATED', 'DELETED', 'ALREADY ON PARENT'], tables.map((t) => [`${t.schema}.${t.name}`, String(t.inserted), String(t.updated), String(t.deleted), String(t.alreadyOnParent)])));
  }
  if (r.conflictCount > 0) {
    lines.push('', `conflicts: ${r.conflictCount}${r.conflicts.length < r.conflictCount ? ` (first ${r.conflicts.length})` : ''}`);
    for (const c of r.conflicts) {
      lines.push(`  ${c.reason} ${c.object}${c.key ? ` ${JSON.stringify(c.key)}` : ''}${c.chosen ? ` → ${c.chosen}` : ''}`);
      lines.push(`    parent: ${typeof c.parent === 'string' ? c.parent : JSON.stringify(c.parent)}`);
      lines.push(`    branch: ${typeof c.branch === 'string' ? c.branch : JSON.stringify(c.branch)}`);
      if (c.error) lines.push(`    error: ${c.error}`);
    }
  }
  return lines.join('\n');
}

/** `branch …`: create, list, connect to, reset, delete and tune branches. */
export function registerBranchCommands(program: Command, ctx: CliContext): void {
  const { writerFor, progressFor, withHost } = ctx;
  const branch = program.command('branch').alias('branches').description('create, list, connect to, reset and delete branches');

  branch
    .command('create <name>')
    .description('create a branch from a parent (copy-on-write), or a new root branch from a dump, a URL or empty')
    .addHelpText('after', `\nExamples:\n  $ pgbranch branch create pr-42                       # from main\n  $ pgbranch branch create main-masked --from main --mask masking.yaml\n  $ pgbranch branch create pr-42 --from staging --ttl 3d --if-not-exists\n  $ pgbranch branch create pr-42 --run "npm run migrate" # DATABASE_URL set for the hook\n  $ pgbranch branch create prod-copy --from-url "$SOURCE_URL"\n  $ pgbranch -o json branch create pr-42 | jq -r .name`)
    .option('--from <parent>', 'parent branch (default "main" unless a root source is given)')
    .option('--from-dump <file>', 'make a root branch from a pg_dump file')
    .option('--from-url <url>', 'make a root branch from a live PostgreSQL server: a logical copy (refresh it later with `source refresh`), or with --follow a hot standby')
    .option('--follow', 'with --from-url: follow the server physically (streaming replication; the role needs REPLICATION)')
    .option('--slot', 'with --follow: keep a replication slot on the source (no WAL lost while pgbranch is down; see README)')
    .option('--history-window <duration>', 'with --follow: how far back branches can be made at a time (default 24h)', parseTtl)
    .option('--snapshot-interval <duration>', 'with --follow: how often the root is snapshotted for its history (default 15m)', parseTtl)
    .option('--at <time>', 'with --from: the parent (a root that follows its source) as it was at this ISO-8601 time, or this long ago (90s, 2h)', (v: string) => parseAt(v))
    .option('--at-lsn <lsn>', 'with --from: the parent as it was at this WAL position (e.g. 0/3A0F2C8)')
    .option('--empty', 'make an empty root branch')
    .option('--from-snapshot <snapshot>', 'make the branch from a snapshot (`pgbranch snapshot create`); reset returns it to the snapshot')
    .option('--mask <rules-file>', 'with --from: make a masked branch (fail-closed check, personal data masked by the rules file, tables rewritten, WAL wiped; protected). See README, "Masking"')
    .option('--if-not-exists', 'return the existing branch if it has the same parent or snapshot (for CI retries)')
    .option('--run <command>', 'post-create hook run with `sh -c` and DATABASE_URL set (repeatable, in order; not re-run for an existing branch)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--keep-on-failure', 'keep the branch when a --run hook fails (default: delete it)')
    .option('--ttl <duration>', "delete the branch this long after creation: 3d, 12h, 90m (default: the host's expiry rule for the name, if any)", parseTtl)
    .option('--expires-at <time>', 'delete the branch at this ISO-8601 time')
    .option(
      '--max-own-bytes <size>',
      "cap on the data the branch may write (512M, 2G; \"none\" = no cap): past it writes fail as disk full in this branch only (default: the host's quotas.maxOwnBytesPerBranch)",
      parseSizeOrNone,
    )
    .action(async (name: string, opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const origin = createOrigin(opts);
      if (opts.mask !== undefined && (origin.kind !== 'parent' || origin.at)) throw new PgbranchError('USAGE', '--mask needs a parent branch as it is now (--from PARENT, without --at or --at-lsn)');
      const mask = opts.mask !== undefined ? await readRulesFile(opts.mask as string) : undefined;
      const commands = opts.run as string[];
      const globals = ctx.globals(cmd);
      const { result, hooks } = await withHost(cmd, async (host) => {
        const result = await host.createBranch(name, {
          origin,
          ifNotExists: opts.ifNotExists,
          ttlMs: opts.ttl,
          expiresAt: opts.expiresAt,
          maxOwnBytes: opts.maxOwnBytes === 'none' ? null : opts.maxOwnBytes,
          ...(mask ? { mask } : {}),
          onProgress: progressFor(cmd),
        });
        // An existing branch (--if-not-exists) already ran its hooks: running migrations twice is not a retry.
        const hooks = commands.length > 0 && result.created
          ? await runCreateHooks(host, { branch: name, commands, remote: ctx.isRemote(cmd), keepOnFailure: Boolean(opts.keepOnFailure), streams: ctx.streams, quiet: Boolean(globals.quiet) })
          : undefined;
        return { result, hooks };
      });
      writer.data({ ...result.branch, created: result.created, ...(hooks ? { ready: true, hooks } : {}) }, () =>
        [
          `${result.created ? 'created' : 'exists'}: ${name}`,
          renderFields(branchFields(result.branch)),
          ...(hooks ?? []).map((h) => `hook: ${h.command} (${h.durationMs} ms)`),
        ].join('\n'),
      );
    });

  branch
    .command('list')
    .alias('ls')
    .description('list branches as a tree with state, own data size and age')
    .addHelpText('after', `\nExamples:\n  $ pgbranch branch list\n  $ pgbranch branch list --no-size -o json`)
    .option('--no-size', 'skip measuring data sizes (faster on large pools)')
    .action(async (opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const branches = await withHost(cmd, (host) => host.listBranches({ withUsage: opts.size }));
      writer.data(branches, () =>
        renderTable(
          ['NAME', 'STATE', 'PORT', 'OWN DATA', 'SHARED', 'TOTAL', 'AGE', 'EXPIRES', 'BRANCH POINT'],
          asTree(branches).map(({ branch: b, prefix }) => [
            `${prefix}${b.name}${b.protected ? ' (protected)' : ''}${b.parentDeleted ? ` (parent ${b.parent} deleted)` : ''}`,
            b.state,
            String(b.port),
            formatBytes(b.ownBytes),
            formatBytes(b.sharedBytes),
            formatBytes(b.totalBytes),
            formatAge(b.resetAt ?? b.createdAt),
            formatTimeLeft(b.expiresAt),
            b.branchPoint.lsn ?? '-',
          ]),
        ),
      );
    });

  branch
    .command('get <name>')
    .alias('show')
    .description('show one branch')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.getBranch(name));
      writer.data(view, () => renderFields(branchFields(view)));
    });

  branch
    .command('url <name>')
    .alias('connection-string')
    .description('print the direct postgresql:// connection string (starts the branch if it is stopped); -o json shows both URLs')
    .addHelpText('after', `\nExamples:\n  $ psql "$(pgbranch branch url pr-42)"\n  $ pgbranch branch url pr-42 --endpoint`)
    .option('--endpoint', "print the URL through the host's Postgres endpoint (pgbranch serve) instead")
    .action(async (name: string, opts: { endpoint?: boolean }, cmd: Command) => {
      const writer = writerFor(cmd);
      const info = await withHost(cmd, (host) => host.connectionInfo(name));
      writer.data(info, () => (opts.endpoint ? endpointUrl(info) : info.url));
    });

  branch
    .command('rotate-password <name>')
    .description('give the branch a new password (the old one stops working); prints the new direct URL')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const info = await withHost(cmd, (host) => host.rotatePassword(name));
      writer.data(info, () => info.url);
    });

  branch
    .command('set <name>')
    .description('change branch settings')
    .option('--idle-timeout <duration>', 'suspend after this long without connections: 5m, 90s, 2h, 0 = never, default = host default', parseIdleTimeout)
    .option('--ttl <duration>', 'expire this long from now (3d, 2h), or "none" to never expire', parseTtlOrNone)
    .option('--expires-at <time>', 'expire at this ISO-8601 time')
    .option('--max-own-bytes <size>', 'cap on the data the branch may write (512M, 2G), effective at once, or "none" (over the API: admin tokens only)', parseSizeOrNone)
    .action(async (name: string, opts: { idleTimeout?: number | 'default'; ttl?: number | 'none'; expiresAt?: string; maxOwnBytes?: number | 'none' }, cmd: Command) => {
      if (opts.idleTimeout === undefined && opts.ttl === undefined && opts.expiresAt === undefined && opts.maxOwnBytes === undefined) {
        throw new PgbranchError('INVALID_ARGUMENT', 'nothing to change: give --idle-timeout, --ttl, --expires-at or --max-own-bytes');
      }
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) =>
        host.updateBranch(name, {
          idleTimeoutMs: opts.idleTimeout === 'default' ? null : opts.idleTimeout,
          ttlMs: opts.ttl === 'none' ? null : opts.ttl,
          expiresAt: opts.expiresAt,
          maxOwnBytes: opts.maxOwnBytes === 'none' ? null : opts.maxOwnBytes,
        }),
      );
      writer.data(view, () => renderFields(branchFields(view)));
    });

  for (const [command, value, description] of [
    ['protect', true, 'refuse delete, reset and expiry of the branch until it is unprotected'],
    ['unprotect', false, 'allow delete, reset and expiry again (over the API: admin tokens only)'],
  ] as const) {
    branch
      .command(`${command} <name>`)
      .description(description)
      .action(async (name: string, _opts, cmd: Command) => {
        const writer = writerFor(cmd);
        const view = await withHost(cmd, (host) => host.updateBranch(name, { protected: value }));
        writer.data(view, () => `${name}: ${view.protected ? 'protected' : 'not protected'}`);
      });
  }

  branch
    .command('suspend <name>')
    .description('stop the instance until the next connection through the endpoint wakes it')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.suspendBranch(name));
      writer.data(view, () => `${name}: ${view.state}`);
    });

  branch
    .command('reset <name>')
    .description("replace the branch's data with its parent's current state; name, port, password and URL stay")
    .option('--mask <rules-file>', "re-mask with these rules: the parent's current data is checked and masked before the branch accepts connections again (allowed on a protected masked branch; without --mask a masked branch re-masks with the rules it keeps)")
    .action(async (name: string, opts: { mask?: string }, cmd: Command) => {
      const writer = writerFor(cmd);
      const mask = opts.mask !== undefined ? await readRulesFile(opts.mask) : undefined;
      const view = await withHost(cmd, (host) => host.resetBranch(name, mask ? { mask } : {}));
      writer.data(view, () => [`reset: ${name}`, renderFields(branchFields(view))].join('\n'));
    });

  branch
    .command('rebase <name>')
    .description("move the branch onto its parent's current state and replay its own changes (schema, then data); conflicts leave it unchanged (exit 17)")
    .option('--dry-run', 'report the changes to replay and the conflicts; change nothing')
    .option('--onto <snapshot>', "rebase onto a snapshot of the parent instead of the parent's current state")
    .option('--prefer <side>', 'settle each conflict for this side: branch or parent (the report says what was chosen)')
    .option('--undo', 'return to the state before the last rebase')
    .action(async (name: string, opts: { dryRun?: boolean; onto?: string; prefer?: string; undo?: boolean }, cmd: Command) => {
      const writer = writerFor(cmd);
      if (opts.prefer !== undefined && opts.prefer !== 'branch' && opts.prefer !== 'parent') {
        throw new PgbranchError('INVALID_ARGUMENT', `--prefer takes branch or parent, got "${opts.prefer}"`, { details: { prefer: opts.prefer } });
      }
      const report = await withHost(cmd, (host) =>
        host.rebaseBranch(name, {
          ...(opts.dryRun ? { dryRun: true } : {}),
          ...(opts.onto !== undefined ? { onto: opts.onto } : {}),
          ...(opts.prefer !== undefined ? { prefer: opts.prefer as 'branch' | 'parent' } : {}),
          ...(opts.undo ? { undo: true } : {}),
        }),
      );
      writer.data(report, () => renderRebase(report));
    });

  branch
    .command('delete <name>')
    .alias('rm')
    .description('stop the branch and remove its data (its children keep working)')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      await withHost(cmd, (host) => host.deleteBranch(name));
      writer.data({ name, deleted: true }, () => `deleted: ${name}`);
    });

  branch
    .command('start <name>')
    .description('start the branch instance')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.startBranch(name));
      writer.data(view, () => `${name}: ${view.state}`);
    });

  branch
    .command('stop <name>')
    .description('stop the branch instance (data is kept)')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.stopBranch(name));
      writer.data(view, () => `${name}: ${view.state}`);
    });
}
