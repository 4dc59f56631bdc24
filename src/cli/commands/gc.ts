import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { renderTable } from '../writer.js';

/**
 * `gc`: makes metadata and pool agree again and applies expiry and idle suspension now.
 * `gc --github owner/repo`: deletes the `pr-<n>` branches whose pull request is closed, through
 * the ordinary delete, so protection and the audit log apply as for any delete.
 */
export function registerGcCommands(program: Command, ctx: CliContext): void {
  const { writerFor, withHost, env } = ctx;
  program
    .command('gc')
    .description('remove orphan volumes and instances, branches whose volume is gone and expired branches; suspend idle branches')
    .option('--dry-run', 'only list what would be done')
    .option('--github <owner/repo>', 'instead: delete pr-<n> branches whose GitHub pull request is closed (token from $GITHUB_TOKEN)')
    .option('--prefix <prefix>', 'with --github: the branch name prefix before the PR number', 'pr-')
    .action(async (opts: { dryRun?: boolean; github?: string; prefix: string }, cmd: Command) => {
      const writer = writerFor(cmd);
      const dryRun = opts.dryRun ?? false;
      if (opts.github) {
        const repo = opts.github;
        const { pruneClosedPullRequestBranches } = await import('../../integrations/index.js');
        const report = await withHost(cmd, (host) =>
          pruneClosedPullRequestBranches(host, { repo, token: env.GITHUB_TOKEN, apiUrl: env.GITHUB_API_URL, prefix: opts.prefix, dryRun }),
        );
        writer.data(report, () =>
          report.closed.length === 0
            ? `no ${opts.prefix}* branch belongs to a closed pull request of ${repo}`
            : renderTable(
                ['BRANCH', 'PR', 'ACTION'],
                report.closed.map((c) => [
                  c.branch,
                  `#${c.pr}`,
                  dryRun ? 'would delete' : report.deleted.includes(c.branch) ? 'deleted' : `failed: ${report.failed.find((f) => f.branch === c.branch)?.code ?? '?'}`,
                ]),
              ),
        );
        return;
      }
      const report = await withHost(cmd, (host) => host.gc({ dryRun }));
      writer.data(report, () =>
        report.actions.length === 0
          ? 'nothing to collect'
          : renderTable(
              ['KIND', 'TARGET', 'ACTION'],
              report.actions.map((a) => [a.kind, a.target, a.done ? 'done' : 'planned']),
            ),
      );
    });
}
