import { useState } from 'preact/hooks';
import { rebaseCommand } from '../actions.js';
import { plural, showValue as show } from '../format.js';
import type { Branch, RebaseReport } from '../wire.js';
import { Cli } from './bits.js';
import { useRequest } from './use-request.js';
import { useSession } from './session.js';

type Prefer = '' | 'branch' | 'parent';
type Conflict = RebaseReport['conflicts'][number];
type Values = Record<string, string | number | boolean | null>;

const sideText = (v: Conflict['parent']): string => (v === null ? '(none)' : typeof v === 'string' ? v : Object.entries(v as Values).map(([k, x]) => `${k}=${show(x)}`).join(', '));

/**
 * Rebase from the branch page: preview (a dry run), rebase, or undo the last rebase, each with the
 * CLI command that does the same. A refused rebase (409 REBASE_CONFLICT) still carries its report,
 * so the conflicts are shown with both sides' values, as `pgbranch branch rebase` prints them.
 */
export function RebasePanel({ branch }: { branch: Branch }) {
  const { api, refresh } = useSession();
  const { state, run } = useRequest<RebaseReport>();
  const [onto, setOnto] = useState('');
  const [prefer, setPrefer] = useState<Prefer>('');
  const [last, setLast] = useState<'preview' | 'rebase' | 'undo'>('preview');
  const options = { onto: onto.trim() || undefined, prefer: prefer || undefined };
  const busy = state.status === 'loading';

  const send = (what: 'preview' | 'rebase' | 'undo') => {
    setLast(what);
    const body = what === 'undo' ? { undo: true } : { ...(what === 'preview' ? { dry_run: true } : {}), ...(options.onto ? { onto: options.onto } : {}), ...(options.prefer ? { prefer: options.prefer } : {}) };
    void run(async () => {
      const report = await api.rebase(branch.name, body);
      if (report.applied) await refresh('branches', 'snapshots', 'sizes');
      return report;
    });
  };
  const refused = state.status === 'failed' && state.code === 'REBASE_CONFLICT' ? (state.problem.report as RebaseReport | undefined) : undefined;

  return (
    <section class="card rebase" aria-labelledby="rebase-title">
      <h2 id="rebase-title">Rebase</h2>
      <p class="hint">
        Brings this branch up to {branch.parent === null ? 'its snapshot’s branch' : <strong>{branch.parent}</strong>}’s current state (or a snapshot of it) and replays
        this branch’s own schema and data changes on top. Conflicts leave the branch unchanged unless you choose a side. The state before is kept for undo.
      </p>
      <form
        class="diff-form"
        onSubmit={(e) => {
          e.preventDefault();
          send('preview');
        }}
      >
        <label for="rebase-onto">Onto</label>
        <input id="rebase-onto" value={onto} placeholder="the parent's current state" onInput={(e) => setOnto((e.target as HTMLInputElement).value)} aria-describedby="rebase-onto-hint" />
        <label for="rebase-prefer">On conflict</label>
        <select id="rebase-prefer" value={prefer} onChange={(e) => setPrefer((e.target as HTMLSelectElement).value as Prefer)}>
          <option value="">stop, change nothing</option>
          <option value="branch">keep this branch's version</option>
          <option value="parent">take the parent's version</option>
        </select>
      </form>
      <p id="rebase-onto-hint" class="hint">
        Empty: the parent as it is now. Or the name of a snapshot of the parent.
      </p>
      <div class="actions">
        <button type="button" disabled={busy} onClick={() => send('preview')}>
          Preview
        </button>
        <button type="button" disabled={busy} onClick={() => send('rebase')}>
          Rebase {branch.name}
        </button>
        <button type="button" class="danger-outline" disabled={busy} onClick={() => send('undo')}>
          Undo last rebase
        </button>
      </div>
      <Cli command={rebaseCommand(branch.name, { ...options, dryRun: last === 'preview', undo: last === 'undo' })} />
      <div aria-live="polite">
        {busy && <p class="muted">{last === 'preview' ? 'Working out what a rebase would do…' : last === 'undo' ? 'Undoing…' : 'Rebasing…'}</p>}
        {state.status === 'failed' && (
          <p class="error" role="alert">
            {refused ? `Conflicts: ${branch.name} is unchanged. Choose a side for them under "On conflict", or resolve them in either branch.` : state.message} ({state.code})
          </p>
        )}
        {refused && <RebaseResult report={refused} />}
        {state.status === 'done' && <RebaseResult report={state.value} />}
      </div>
    </section>
  );
}

function RebaseResult({ report }: { report: RebaseReport }) {
  const totals = report.data.totals;
  const outcome =
    report.action === 'undo'
      ? 'Back to the state before the last rebase.'
      : report.dry_run
        ? 'Preview: nothing was changed.'
        : report.applied
          ? `Rebased onto ${report.onto ?? 'the parent'}.`
          : 'Not rebased.';
  return (
    <div class="rebase-result" data-applied={String(report.applied)} data-dry-run={String(report.dry_run)}>
      <p class="rebase-summary">
        <strong>{outcome}</strong> {plural(report.schema.statements.length, 'schema change')} to replay, {totals.inserted} inserted, {totals.updated} updated,{' '}
        {totals.deleted} deleted {totals.inserted + totals.updated + totals.deleted === 1 ? 'row' : 'rows'}; {plural(report.conflict_count, 'conflict')}
        {report.schema.already_on_parent > 0 && <span class="muted"> ({report.schema.already_on_parent} schema changes already on the parent)</span>}
        {report.action === 'rebase' && <span class="muted"> ({Math.round(report.timings.total_ms)} ms)</span>}
      </p>
      {report.undo_snapshot !== null && report.applied && report.action === 'rebase' && (
        <p class="hint">
          The state before is kept as snapshot <code>{report.undo_snapshot}</code>: “Undo last rebase” returns to it.
        </p>
      )}
      {report.schema.statements.length > 0 && (
        <pre class="sql" tabIndex={0} aria-label="schema changes replayed">
          {report.schema.statements.map((s) => s.sql).join('\n')}
        </pre>
      )}
      {report.conflicts.length > 0 && (
        <div class="table-wrap">
          <table class="rebase-conflicts">
            <caption class="muted">{report.conflict_count > report.conflicts.length ? `the first ${report.conflicts.length} of ${report.conflict_count} conflicts` : 'conflicts'}</caption>
            <thead>
              <tr>
                <th scope="col">Object</th>
                <th scope="col">Key</th>
                <th scope="col">Why</th>
                <th scope="col">Parent</th>
                <th scope="col">This branch</th>
                {report.prefer !== null && <th scope="col">Kept</th>}
              </tr>
            </thead>
            <tbody>
              {report.conflicts.map((c, i) => (
                <tr key={i} data-object={c.object}>
                  <td>
                    <code>{c.object}</code>
                  </td>
                  <td>{c.key ? sideText(c.key) : ''}</td>
                  <td>{c.error ? `${c.reason}: ${c.error}` : c.reason}</td>
                  <td>
                    <code>{sideText(c.parent)}</code>
                  </td>
                  <td>
                    <code>{sideText(c.branch)}</code>
                  </td>
                  {report.prefer !== null && <td>{c.chosen ?? ''}</td>}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
