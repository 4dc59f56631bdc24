import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { parsePositiveInt, parseTimeOrAgo } from '../parse.js';
import { renderTable } from '../writer.js';

/** `audit`: who changed what on this host, and how it went. */
export function registerAuditCommands(program: Command, ctx: CliContext): void {
  const { writerFor, withHost } = ctx;
  program
    .command('audit')
    .description('show the audit log, newest first: every mutating call, with actor, target, result and duration')
    .option('--branch <name>', 'entries about this branch only')
    .option('--since <time>', 'entries at or after this ISO-8601 time, or this long ago (1h, 7d)', (v) => parseTimeOrAgo(v))
    .option('--until <time>', 'entries before this ISO-8601 time, or this long ago', (v) => parseTimeOrAgo(v))
    .option('--limit <n>', 'at most this many entries', parsePositiveInt, 100)
    .action(async (opts: { branch?: string; since?: string; until?: string; limit: number }, cmd: Command) => {
      const writer = writerFor(cmd);
      const entries = await withHost(cmd, (host) => host.listAudit({ branch: opts.branch, since: opts.since, until: opts.until, limit: opts.limit }));
      writer.data(entries, () =>
        renderTable(
          ['TIME', 'ACTOR', 'OPERATION', 'TARGET', 'RESULT', 'DURATION'],
          entries.map((e) => [
            e.at,
            e.actorName ? `${e.actor} (${e.actorName})` : e.actor,
            e.operation,
            e.targetKind === 'branch' ? e.target : `${e.targetKind}:${e.target}`,
            e.errorCode ? `${e.result} ${e.errorCode}` : e.result,
            e.durationMs === null ? '-' : `${e.durationMs}ms`,
          ]),
        ),
      );
    });
}
