import { Command } from 'commander';
import type { SnapshotView } from '../../branches/index.js';
import type { CliContext } from '../context.js';
import { formatAge } from '../format.js';
import { renderFields, renderTable } from '../writer.js';
import { maskedText } from '../fields.js';

function snapshotFields(s: SnapshotView): [string, string][] {
  return [
    ['name', s.name],
    ['id', s.id],
    ['branch', s.branchDeleted ? `${s.branch} (deleted)` : s.branch],
    ['time', s.time],
    ['lsn', s.lsn ?? '-'],
    ['created', s.createdAt],
    ['masked', maskedText(s.masked)],
  ];
}

/** `snapshot …`: named, immutable points of branches that branches can be created from. */
export function registerSnapshotCommands(program: Command, ctx: CliContext): void {
  const { writerFor, withHost } = ctx;
  const snapshot = program.command('snapshot').alias('snapshots').description('named, immutable points of a branch to create branches from');

  snapshot
    .command('create <branch> <name>')
    .description('take a consistent snapshot of BRANCH (running or stopped) named NAME')
    .addHelpText('after', `\nExamples:\n  $ pgbranch snapshot create main before-migration\n  $ pgbranch branch create try-1 --from-snapshot before-migration`)
    .action(async (branch: string, name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.createSnapshot(branch, name));
      writer.data(view, () => [`created: ${name}`, renderFields(snapshotFields(view))].join('\n'));
    });

  snapshot
    .command('list')
    .alias('ls')
    .description('list snapshots')
    .action(async (_opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const snapshots = await withHost(cmd, (host) => host.listSnapshots());
      writer.data(snapshots, () =>
        renderTable(
          ['NAME', 'BRANCH', 'TIME', 'LSN', 'AGE'],
          snapshots.map((s) => [s.name, s.branchDeleted ? `${s.branch} (deleted)` : s.branch, s.time, s.lsn ?? '-', formatAge(s.createdAt)]),
        ),
      );
    });

  snapshot
    .command('get <name>')
    .description('one snapshot')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const view = await withHost(cmd, (host) => host.getSnapshot(name));
      writer.data(view, () => renderFields(snapshotFields(view)));
    });

  snapshot
    .command('delete <name>')
    .alias('rm')
    .description('remove a snapshot (branches made from it keep working, but can no longer be reset)')
    .action(async (name: string, _opts, cmd: Command) => {
      const writer = writerFor(cmd);
      await withHost(cmd, (host) => host.deleteSnapshot(name));
      writer.data({ name, deleted: true }, () => `deleted: ${name}`);
    });
}
