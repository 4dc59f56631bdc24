import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { isPgbranchError, PgbranchError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { renderFields } from '../writer.js';

/** The rules file's text; a missing or unreadable file is the caller's mistake. */
export async function readRulesFile(file: string): Promise<{ rules: string; file: string }> {
  try {
    return { rules: await readFile(file, 'utf8'), file };
  } catch (cause) {
    throw new PgbranchError('INVALID_ARGUMENT', `cannot read the masking rules file ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause, details: { file } });
  }
}

/** The root command, whose `output` option the error path of runProgram reads. */
function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

/** `mask …`: masking rules as code (see README, "Masking", and docs/masking.md). */
export function registerMaskCommands(program: Command, ctx: CliContext): void {
  const { writerFor, withHost } = ctx;
  const mask = program.command('mask').description('masking rules: check that every personal-looking column of a branch has a rule (see docs/masking.md)');

  mask
    .command('check <branch>')
    .description('fail-closed check: the rules fit the branch and every personal-looking column has a rule or an explicit keep (exit 16 otherwise, naming the columns)')
    .addHelpText('after', `\nExamples:\n  $ pgbranch mask check main --rules masking.yaml\n  $ pgbranch mask check main --rules masking.yaml --json`)
    .requiredOption('--rules <file>', 'the masking rules file (YAML)')
    .option('--json', 'print the result as JSON (same as -o json)')
    .action(async (branch: string, opts: { rules: string; json?: boolean }, cmd: Command) => {
      if (opts.json) rootOf(cmd).setOptionValue('output', 'json');
      const writer = writerFor(cmd);
      const rules = await readRulesFile(opts.rules);
      try {
        const view = await withHost(cmd, (host) => host.maskCheck(branch, rules));
        writer.data({ covered: true, ...view }, () =>
          [
            `covered: every personal-looking column of "${branch}" has a rule or an explicit keep`,
            renderFields([
              ['rules', `${rules.file} (sha256 ${view.rulesSha256.slice(0, 12)}…)`],
              ['database', view.database],
              ['databases checked', view.databasesChecked.join(', ')],
              ['columns with rules', String(view.ruledColumns)],
            ]),
          ].join('\n'),
        );
      } catch (err) {
        // Machine-readable output names the flagged columns on stdout too; the exit code says it failed.
        if (isPgbranchError(err, 'MASK_UNCOVERED_COLUMNS')) writer.data({ covered: false, branch, columns: err.details?.['columns'] ?? [] }, () => '');
        throw err;
      }
    });
}
