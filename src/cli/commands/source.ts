import { Command } from 'commander';
import { PgbranchError } from '../../errors.js';
import type { RemaskOutcome, SourceView } from '../../branches/index.js';
import type { CliContext } from '../context.js';
import { branchFields } from '../fields.js';
import { formatBytes } from '../format.js';
import { formatDuration, parseTtl } from '../parse.js';
import { renderFields } from '../writer.js';

function sourceFields(v: SourceView): [string, string][] {
  const rows: [string, string][] = [
    ['branch', v.branch],
    ['mode', v.mode === 'follow' ? 'follow (hot standby over streaming replication)' : 'refresh (logical import, switched in atomically)'],
    ['source', v.url],
  ];
  const f = v.follow;
  if (f) {
    rows.push(
      ['state', f.state === 'disconnected' ? `disconnected${f.disconnectedSince ? ` since ${f.disconnectedSince}` : ''}${f.lastError ? `: ${f.lastError}` : ''}` : f.state],
      ['received / replayed', `${f.receiveLsn ?? '-'} / ${f.replayLsn ?? '-'}`],
      ['source at', f.sourceLsn ?? 'unknown (source unreachable)'],
      ['lag', `${f.lagBytes === null ? '-' : formatBytes(f.lagBytes)}${f.lagSeconds === null ? '' : `, ${f.lagSeconds.toFixed(1)} s`}`],
      ['last replayed commit', f.lastReplayedCommitAt ?? '-'],
      ['slot', f.slot ?? 'none'],
      ['hooks on each branch', f.afterRefresh.length > 0 ? f.afterRefresh.join(' && ') : 'none'],
      ['history window', `${formatDuration(f.history.windowMs)}, a snapshot every ${formatDuration(f.history.snapshotIntervalMs)}`],
      ['branches possible since', f.history.from ? `${f.history.from}${f.history.fromLsn ? ` (LSN ${f.history.fromLsn})` : ''}` : 'not yet (no history snapshot)'],
      ['history cost', `${f.history.snapshots} snapshots owning ${formatBytes(f.history.snapshotBytes)}, archived WAL ${formatBytes(f.history.archiveBytes)}`],
    );
  }
  const r = v.refresh;
  if (r) {
    rows.push(
      ['generation', `${r.generation}${r.running ? ' (a refresh is running)' : ''}`],
      ['last refresh', r.lastRefreshAt ?? 'never (first import)'],
      ['schedule', r.cron ? `${r.cron} (next ${r.nextRefreshAt ?? '-'})` : 'on request only'],
      ['after-refresh hooks', r.afterRefresh.length > 0 ? r.afterRefresh.join(' && ') : 'none'],
    );
  }
  return rows;
}

/** `source …`: how a root keeps up with its source, and refreshing it. */
export function registerSourceCommands(program: Command, ctx: CliContext): void {
  const { writerFor, progressFor, withHost } = ctx;
  const source = program.command('source').description("a root's source: replication state and history window (--follow), or refreshes (--from-url)");

  source
    .command('status [branch]')
    .description('connected?, received/replayed LSN, lag in bytes and seconds, history window (default branch: main)')
    .action(async (name: string | undefined, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.sourceStatus(name ?? 'main'));
      writer.data(view, () => renderFields(sourceFields(view)));
    });

  source
    .command('refresh <branch>')
    .description('import the source again into a new generation and switch the root to it (same URL; branches made before keep their data)')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.refreshSource(name, { onProgress: progressFor(cmd), hookOutput: ctx.streams.stderr }));
      const remasked = view.remasked.map((r) => (r.remasked ? `re-masked: ${r.branch}` : `NOT re-masked: ${r.branch} keeps its old masked data (${r.code})`));
      writer.data(view, () => [`refreshed: ${name}`, ...remasked, renderFields(branchFields(view))].join('\n'));
      // The refresh itself is done; a masked branch left behind fails the command (fail-closed for
      // the cron or CI job that runs it), with the first failure's code and exit status.
      const failed = view.remasked.filter((r): r is Extract<RemaskOutcome, { remasked: false }> => !r.remasked);
      const first = failed[0];
      if (first) {
        throw new PgbranchError(first.code, `"${name}" was refreshed, but ${failed.map((f) => `"${f.branch}"`).join(', ')} could not be re-masked and keep${failed.length === 1 ? 's' : ''} the old masked data:\n${first.message}`, {
          details: { branch: name, notRemasked: failed.map((f) => f.branch) },
        });
      }
    });

  source
    .command('set <branch>')
    .description('change the history window (follow) or the refresh schedule and after-refresh hooks (refresh)')
    .option('--history-window <duration>', 'how far back branches can be made at a time (24h, 7d)', parseTtl)
    .option('--snapshot-interval <duration>', 'how often the root is snapshotted (15m, 1h)', parseTtl)
    .option('--refresh-cron <expression>', 'refresh on this cron schedule in the host time zone ("0 3 * * *"), or "none"')
    .option('--after-refresh <command>', 'shell command run on each new generation before it is switched in, DATABASE_URL set (repeatable; replaces the list)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--no-after-refresh', 'remove every after-refresh hook')
    .action(async (name: string, opts: { historyWindow?: number; snapshotInterval?: number; refreshCron?: string; afterRefresh: string[] | false }, cmd: Command) => {
      const hooks = opts.afterRefresh === false ? [] : opts.afterRefresh.length > 0 ? opts.afterRefresh : undefined;
      if (opts.historyWindow === undefined && opts.snapshotInterval === undefined && opts.refreshCron === undefined && hooks === undefined) {
        throw new PgbranchError('INVALID_ARGUMENT', 'nothing to change: give --history-window, --snapshot-interval, --refresh-cron or --after-refresh');
      }
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) =>
        host.updateSource(name, {
          historyWindowMs: opts.historyWindow,
          snapshotIntervalMs: opts.snapshotInterval,
          refreshCron: opts.refreshCron === undefined ? undefined : opts.refreshCron === 'none' ? null : opts.refreshCron,
          afterRefresh: hooks,
        }),
      );
      writer.data(view, () => renderFields(sourceFields(view)));
    });
}
