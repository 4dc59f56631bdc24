import type { BranchService } from '../branches/index.js';
import type { HookStep } from '../integrations/index.js';
import type { Streams } from './writer.js';

export interface CreateHooksOptions {
  readonly branch: string;
  readonly commands: readonly string[];
  /** Remote mode: DATABASE_URL goes through the server's endpoint (see `hookEnvironment`). */
  readonly remote: boolean;
  readonly keepOnFailure: boolean;
  readonly streams: Streams;
  readonly quiet: boolean;
}

/**
 * `branch create --run`: runs the post-create commands against the new branch. The commands'
 * output goes to stderr because stdout carries the command's data. A failure deletes the branch
 * (unless kept on request) so a retry starts clean, then throws HOOK_FAILED with the output tail.
 */
export async function runCreateHooks(host: BranchService, options: CreateHooksOptions): Promise<HookStep[]> {
  const { hookEnvironment, hookFailedError, runHooks } = await import('../integrations/index.js');
  const info = await host.connectionInfo(options.branch);
  const run = await runHooks({
    commands: options.commands,
    env: hookEnvironment(info, { preferEndpoint: options.remote }),
    output: options.streams.stderr,
    onStart: (command, index) => {
      if (!options.quiet) options.streams.stderr.write(`hook ${index + 1}/${options.commands.length}: ${command}\n`);
    },
  });
  if (!run.failure) return [...run.steps];
  if (!options.keepOnFailure) await host.deleteBranch(options.branch);
  throw hookFailedError(run.failure, options.branch, options.keepOnFailure);
}
