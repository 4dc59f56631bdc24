import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { statusFields } from '../fields.js';
import { renderFields } from '../writer.js';

/** `status`: the host (in-process or remote). */
export function registerStatusCommand(program: Command, ctx: CliContext): void {
  const { writerFor, withHost } = ctx;
  program
    .command('status')
    .description('show the host: pool, driver, PostgreSQL, number of branches')
    .action(async (_opts, cmd: Command) => {
      const writer = writerFor(cmd);
      const status = await withHost(cmd, (host) => host.status());
      writer.data(status, () => renderFields(statusFields(status)));
    });
}
