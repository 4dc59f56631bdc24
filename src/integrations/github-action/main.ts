import { readFileSync } from 'node:fs';
import * as core from '@actions/core';
import { createApiClient, fromApiDiffSide, type ApiClient } from '../../client/index.js';
import type { BranchView, ConnectionInfo } from '../../branches/index.js';
import { isPgbranchError, PgbranchError } from '../../errors.js';
import { diffCommentMarker, formatDiffComment } from '../diff-comment.js';
import { upsertStickyComment } from '../github/sticky-comment.js';
import { hookEnvironment, hookFailedError, runHooks, type HookStep } from '../hooks.js';

/**
 * The pgbranch GitHub Action (actions/branch/action.yml): create, reset or delete the branch of
 * a pull request on a `pgbranch serve` host. Every password and URL is registered with
 * `setSecret` before anything that could print it, so the runner masks it in every later line.
 */

const COMMANDS = ['create', 'reset', 'delete', 'diff'] as const;
type ActionCommand = (typeof COMMANDS)[number];

interface Inputs {
  readonly command: ActionCommand;
  readonly apiUrl: string;
  readonly token: string;
  readonly branch: string;
  readonly parent: string;
  /** Create from this snapshot instead of `parent` (empty = from parent). */
  readonly snapshot: string | undefined;
  readonly run: string[];
  readonly keepOnFailure: boolean;
  /** diff: the side the changes are from (empty = the branch's own branch point). */
  readonly against: string | undefined;
  /** diff: prove the migration script on a throwaway clone. */
  readonly verify: boolean;
  /** diff: post (and update) the pull request comment. */
  readonly comment: boolean;
  readonly githubToken: string | undefined;
  /** create: when a new branch expires (a TTL from now, or an ISO-8601 time). */
  readonly expiry: { readonly ttlMs: number } | { readonly expiresAt: string } | undefined;
  /** create/reset: suspend after this long without connections (0 = never, null = the host's default). */
  readonly idleTimeoutMs: number | null | undefined;
}

const DURATION_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "3d", "12h", "90m", "45s" → milliseconds; undefined when the text is not such a duration. */
function durationMs(text: string): number | undefined {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  return m ? Number(m[1]) * DURATION_MS[m[2]!]! : undefined;
}

/** `expires`: a TTL like 3d / 12h, or an ISO-8601 time (like Neon's expires_at). */
function parseExpires(text: string): Inputs['expiry'] {
  if (!text) return undefined;
  const ttlMs = durationMs(text);
  if (ttlMs !== undefined && ttlMs > 0) return { ttlMs };
  const at = Date.parse(text);
  if (Number.isNaN(at)) throw new PgbranchError('INVALID_ARGUMENT', `input "expires" must be a duration (3d, 12h, 90m) or an ISO-8601 time, not "${text}"`);
  return { expiresAt: new Date(at).toISOString() };
}

/** `suspend-timeout`: a duration (5m, 1h), 0/never (never suspend) or default (the host's). */
function parseSuspendTimeout(text: string): number | null | undefined {
  if (!text) return undefined;
  if (text === 'default') return null;
  if (text === '0' || text === 'never') return 0;
  const ms = durationMs(text);
  if (ms === undefined) throw new PgbranchError('INVALID_ARGUMENT', `input "suspend-timeout" must be a duration (5m, 1h), 0 (never) or default, not "${text}"`);
  return ms;
}

function readInputs(): Inputs {
  const token = core.getInput('token', { required: true });
  core.setSecret(token);
  const command = (core.getInput('command') || 'create') as ActionCommand;
  if (!COMMANDS.includes(command)) throw new PgbranchError('INVALID_ARGUMENT', `input "command" must be one of ${COMMANDS.join(', ')}, not "${command}"`);
  return {
    command,
    apiUrl: core.getInput('api-url', { required: true }),
    token,
    branch: core.getInput('branch') || defaultBranchName(),
    parent: core.getInput('parent') || 'main',
    snapshot: core.getInput('snapshot') || undefined,
    run: core.getMultilineInput('run'),
    keepOnFailure: core.getInput('keep-on-failure').toLowerCase() === 'true',
    against: core.getInput('against') || undefined,
    verify: core.getInput('verify').toLowerCase() === 'true',
    comment: (core.getInput('comment') || 'true').toLowerCase() === 'true',
    githubToken: githubToken(),
    expiry: parseExpires(core.getInput('expires')),
    idleTimeoutMs: parseSuspendTimeout(core.getInput('suspend-timeout')),
  };
}

function githubToken(): string | undefined {
  const token = core.getInput('github-token') || undefined;
  if (token) core.setSecret(token);
  return token;
}

/** The pull request number of the event (pull_request, pull_request_target, issue_comment on a PR). */
function pullRequestNumber(): number | undefined {
  const path = process.env.GITHUB_EVENT_PATH;
  const payload = path ? (JSON.parse(readFileSync(path, 'utf8')) as { pull_request?: { number?: number }; issue?: { number?: number; pull_request?: unknown } }) : {};
  return payload.pull_request?.number ?? (payload.issue?.pull_request ? payload.issue.number : undefined);
}

/**
 * diff: what the pull request's branch changed (by default since its own branch point), as a
 * comment on the pull request — the migration script in an ```sql block and the rows changed per
 * table — posted once and updated in place on every later push (found by its hidden marker).
 */
async function runDiff(inputs: Inputs, client: ApiClient): Promise<void> {
  const started = performance.now();
  const view = await client.diff({
    to: { kind: 'branch', name: inputs.branch },
    ...(inputs.against ? { from: fromApiDiffSide(inputs.against) } : {}),
    schema: true,
    data: true,
    ...(inputs.verify ? { verify: true } : {}),
  });
  const diffMs = Math.round(performance.now() - started);
  const schemaChanges = view.schema!.statements.filter((s) => s.kind !== 'setting').length;
  const { inserted, updated, deleted } = view.data!.totals;
  core.setOutput('schema-changes', String(schemaChanges));
  core.setOutput('rows-changed', String(inserted + updated + deleted));
  core.setOutput('proven', view.schema!.verification ? String(view.schema!.verification.proven) : '');
  const command = `pgbranch diff ${inputs.against ? `${inputs.against} ` : ''}${inputs.branch} --schema -o sql`;
  const body = formatDiffComment(view, { marker: diffCommentMarker(inputs.branch), command });
  core.info(`${view.from.ref} → ${view.to.ref}: ${schemaChanges} schema statement(s), ${inserted} inserted, ${updated} updated, ${deleted} deleted (${diffMs} ms)`);
  await core.summary.addRaw(body.split('\n').slice(1).join('\n')).write();
  if (inputs.comment) {
    const number = pullRequestNumber();
    const repo = process.env.GITHUB_REPOSITORY;
    if (number === undefined || !repo) {
      core.warning('no pull request in this event (or no GITHUB_REPOSITORY): the diff is in the job summary only');
    } else {
      // Defence in depth: the body is built from names, counts and DDL only, but a credential must never reach GitHub.
      for (const secret of [inputs.token, inputs.githubToken]) {
        if (secret && body.includes(secret)) throw new PgbranchError('INTERNAL', 'refusing to post a diff comment that contains a credential');
      }
      const { comment, created } = await upsertStickyComment({ repo, apiUrl: process.env.GITHUB_API_URL, token: inputs.githubToken, number, marker: diffCommentMarker(inputs.branch), body });
      core.setOutput('comment-id', String(comment.id));
      core.setOutput('comment-url', comment.htmlUrl);
      core.info(`${created ? 'posted' : 'updated'} the diff comment on #${number}: ${comment.htmlUrl}`);
    }
  }
  const verification = view.schema!.verification;
  if (verification && !verification.proven) {
    throw new PgbranchError('SCHEMA_DIFF_UNPROVEN', `the migration script did not reproduce ${view.to.ref} on a copy of ${view.from.ref}`);
  }
}

/** `pr-<number>` from the event payload (pull_request, pull_request_target, issue_comment on a PR). */
function defaultBranchName(): string {
  const path = process.env.GITHUB_EVENT_PATH;
  const payload = path ? (JSON.parse(readFileSync(path, 'utf8')) as { pull_request?: { number?: number }; issue?: { number?: number; pull_request?: unknown }; number?: number }) : {};
  const number = payload.pull_request?.number ?? (payload.issue?.pull_request ? payload.issue.number : undefined);
  if (!number) throw new PgbranchError('INVALID_ARGUMENT', `no pull request in the ${process.env.GITHUB_EVENT_NAME ?? 'unknown'} event: set the "branch" input`);
  return `pr-${number}`;
}

function maskConnection(info: ConnectionInfo): void {
  core.setSecret(info.password);
  core.setSecret(encodeURIComponent(info.password));
  core.setSecret(info.url);
  if (info.endpoint) core.setSecret(info.endpoint.url);
}

function setConnectionOutputs(view: BranchView, info: ConnectionInfo, created: boolean | undefined): void {
  // A runner reaches the host through its endpoint; the direct address is loopback-only there.
  const target = info.endpoint ?? info;
  core.setOutput('branch', view.name);
  core.setOutput('branch-id', view.id);
  core.setOutput('db_url', info.endpoint?.url ?? info.url);
  core.setOutput('db_url_unpooled', info.url);
  core.setOutput('password', info.password);
  core.setOutput('host', target.host);
  core.setOutput('port', String(target.port));
  if (created !== undefined) core.setOutput('created', String(created));
}

async function runHookSteps(inputs: Inputs, info: ConnectionInfo): Promise<{ steps: HookStep[]; error: PgbranchError | null }> {
  const steps: HookStep[] = [];
  for (const command of inputs.run) {
    const run = await core.group(`hook: ${command}`, () =>
      runHooks({ commands: [command], env: hookEnvironment(info, { preferEndpoint: true }), output: process.stdout }),
    );
    steps.push(...run.steps);
    if (run.failure) return { steps, error: hookFailedError(run.failure, info.branch, inputs.keepOnFailure || inputs.command !== 'create') };
  }
  return { steps, error: null };
}

async function writeSummary(rows: { view?: BranchView; inputs: Inputs; created?: boolean; timings: [string, number][]; outcome: string }): Promise<void> {
  const { view, inputs, created, timings, outcome } = rows;
  const point = view?.branchPoint.lsn ? `${view.branchPoint.lsn} at ${view.branchPoint.time}` : '-';
  await core.summary
    .addHeading(`pgbranch ${inputs.command}: ${inputs.branch}`, 3)
    .addTable([
      [{ data: 'branch', header: true }, { data: 'value', header: true }],
      ['branch', inputs.branch],
      inputs.snapshot !== undefined ? ['snapshot', inputs.snapshot] : ['parent', view?.parent ?? inputs.parent],
      ['branch point', point],
      ...(created === undefined ? [] : [['created', created ? 'yes' : 'no (reused)']]),
      ['outcome', outcome],
    ])
    .addHeading('timings', 4)
    .addTable([[{ data: 'step', header: true }, { data: 'duration', header: true }], ...timings.map(([step, ms]) => [step, `${ms} ms`])])
    .write();
}

async function run(): Promise<void> {
  const inputs = readInputs();
  const client = createApiClient({ baseUrl: inputs.apiUrl, token: inputs.token });
  const timings: [string, number][] = [];
  const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      timings.push([step, Math.round(performance.now() - started)]);
    }
  };

  if (inputs.command === 'diff') {
    await runDiff(inputs, client);
    return;
  }

  if (inputs.command === 'delete') {
    let deleted = true;
    await timed('delete', () =>
      client.deleteBranch(inputs.branch).catch((err: unknown) => {
        // A re-run after the branch is gone is a success: the goal state is reached.
        if (!isPgbranchError(err, 'BRANCH_NOT_FOUND')) throw err;
        deleted = false;
      }),
    );
    core.setOutput('branch', inputs.branch);
    core.setOutput('deleted', String(deleted));
    core.info(deleted ? `deleted ${inputs.branch}` : `${inputs.branch} did not exist`);
    await writeSummary({ inputs, timings, outcome: deleted ? 'deleted' : 'already gone' });
    return;
  }

  let view: BranchView;
  let created: boolean | undefined;
  if (inputs.command === 'create') {
    const result = await timed('create', () => client.createBranch(inputs.branch, {
        origin: inputs.snapshot !== undefined ? { kind: 'snapshot', snapshot: inputs.snapshot } : { kind: 'parent', parent: inputs.parent },
        ifNotExists: true,
        ...inputs.expiry,
      }));
    view = result.branch;
    created = result.created;
  } else {
    view = await timed('reset', () => client.resetBranch(inputs.branch));
  }

  // From here a new branch is ours to clean up: a half-made branch would be reused by the next run.
  const cleanUp = async (error: unknown): Promise<never> => {
    if (created && !inputs.keepOnFailure) {
      await client.deleteBranch(inputs.branch).catch((err: unknown) => core.warning(`could not delete ${inputs.branch} after the failure: ${(err as Error).message}`));
      core.info(`deleted ${inputs.branch} after the failure`);
    }
    throw error;
  };
  try {
    if (inputs.idleTimeoutMs !== undefined) view = await timed('suspend-timeout', () => client.updateBranch(inputs.branch, { idleTimeoutMs: inputs.idleTimeoutMs }));
    const info = await timed('connection', () => client.connectionInfo(inputs.branch));
    maskConnection(info);
    core.info(`${created === false ? 'reusing' : inputs.command === 'reset' ? 'reset' : 'created'} ${inputs.branch} from ${inputs.snapshot !== undefined ? `snapshot ${inputs.snapshot}` : (view.parent ?? '-')} (id ${view.id})`);
    // Hooks run for a new branch and after a reset (the data went back to the parent's); a reused branch already ran them.
    if (created !== false && inputs.run.length > 0) {
      const { steps, error } = await runHookSteps(inputs, info);
      for (const step of steps) timings.push([`hook: ${step.command}`, step.durationMs]);
      if (error) {
        await writeSummary({ view, inputs, created, timings, outcome: `failed: ${error.message.split('\n')[0]}` });
        await cleanUp(error);
      }
    }
    setConnectionOutputs(view, info, created);
    await writeSummary({ view, inputs, created, timings, outcome: 'ready' });
  } catch (err) {
    if (created && !(isPgbranchError(err, 'HOOK_FAILED'))) await cleanUp(err);
    throw err;
  }
}

run().catch((err: unknown) => {
  core.setFailed(err instanceof Error ? err.message : String(err));
});
