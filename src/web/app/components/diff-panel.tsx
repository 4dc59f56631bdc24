import { useState } from 'preact/hooks';
import { diffCommand } from '../actions.js';
import { plural, showValue as show } from '../format.js';
import type { Branch, Diff } from '../wire.js';
import { Cli } from './bits.js';
import { useRequest } from './use-request.js';
import { useSession } from './session.js';

/** Rows shown per table: the API counts every change; the page lists a readable few. */
const ROWS_PER_TABLE = 20;

type Table = NonNullable<Diff['data']>['tables'][number];
type Compared = Extract<Table, { status: 'compared' }>;
type RowChange = NonNullable<Compared['rows']>[number];
type Values = Record<string, string | number | boolean | null>;

const fields = (values: Values | undefined): string =>
  values === undefined ? '' : Object.entries(values).map(([k, v]) => `${k}=${show(v)}`).join(', ');

/**
 * What a branch changed, computed on request only (a diff reads the changed blocks of the branch,
 * or whole tables against another side): the schema as the migration script that turns the first
 * side into this branch, and the data per table, optionally with the rows. Read access suffices.
 */
export function DiffPanel({ branch }: { branch: Branch }) {
  const { api } = useSession();
  const { state, run } = useRequest<Diff>();
  const [against, setAgainst] = useState('');
  const [rows, setRows] = useState(false);
  const hasBranchPoint = branch.parent !== null || branch.source.kind === 'snapshot';
  const asked = { against: against.trim(), rows };

  const compare = (e: Event) => {
    e.preventDefault();
    void run(() => api.diff(branch.name, { against: asked.against, rows: asked.rows, ...(asked.rows ? { limit: ROWS_PER_TABLE } : {}) }));
  };

  return (
    <section class="card diff" aria-labelledby="diff-title">
      <h2 id="diff-title">Changes</h2>
      <form class="diff-form" onSubmit={compare}>
        <label for="diff-against">Compare against</label>
        <input
          id="diff-against"
          value={against}
          placeholder={hasBranchPoint ? 'its branch point' : 'a branch or snapshot:NAME'}
          onInput={(e) => setAgainst((e.target as HTMLInputElement).value)}
          aria-describedby="diff-against-hint"
        />
        <label class="check">
          <input type="checkbox" checked={rows} onChange={(e) => setRows((e.target as HTMLInputElement).checked)} /> with the changed rows
        </label>
        <button type="submit" disabled={state.status === 'loading'}>
          {state.status === 'loading' ? 'Comparing…' : 'Show changes'}
        </button>
      </form>
      <p id="diff-against-hint" class="hint">
        {hasBranchPoint
          ? 'Empty: what this branch changed since it was made, reset or rebased (reads only the changed blocks). Or a branch, snapshot:NAME or branch-point:NAME.'
          : 'A root has no branch point: name a branch, snapshot:NAME or branch-point:NAME to compare with.'}
      </p>
      <Cli command={diffCommand(branch.name, asked)} />
      <div aria-live="polite">
        {state.status === 'failed' && (
          <p class="error" role="alert">
            {state.code === 'BRANCH_POINT_UNAVAILABLE' ? 'No branch point is kept for this branch: compare it against another side.' : state.message} ({state.code})
          </p>
        )}
        {state.status === 'done' && <DiffResult diff={state.value} />}
      </div>
    </section>
  );
}

function DiffResult({ diff }: { diff: Diff }) {
  const statements = diff.schema?.statements.length ?? 0;
  const totals = diff.data?.totals;
  const changedTables = (diff.data?.tables ?? []).filter((t) => t.status !== 'compared' || t.counts.inserted + t.counts.updated + t.counts.deleted > 0);
  return (
    <div class="diff-result" data-diff-to={diff.to.ref} data-diff-from={diff.from.ref}>
      <p class="diff-summary">
        <strong>{diff.to.ref}</strong> against <strong>{diff.from.ref}</strong>: {plural(statements, 'schema statement')}
        {totals && (
          <>
            , {totals.inserted} inserted, {totals.updated} updated, {totals.deleted} deleted {totals.inserted + totals.updated + totals.deleted === 1 ? 'row' : 'rows'}
          </>
        )}
        <span class="muted">
          {' '}
          ({diff.data?.method === 'blocks' ? 'changed blocks only' : 'whole tables'}, {Math.round(diff.timings.total_ms)} ms)
        </span>
      </p>
      <h3>Schema</h3>
      {statements === 0 ? (
        <p class="muted">No schema change.</p>
      ) : (
        <pre class="sql" tabIndex={0} aria-label="migration script">
          {diff.schema!.script}
        </pre>
      )}
      {(diff.schema?.unsupported.length ?? 0) > 0 && (
        <ul class="warnings">
          {diff.schema!.unsupported.map((u) => (
            <li key={`${u.kind}:${u.identity}`}>
              Not in the script: {u.kind} <code>{u.identity}</code> ({u.reason})
            </li>
          ))}
        </ul>
      )}
      <h3>Data</h3>
      {changedTables.length === 0 ? (
        <p class="muted">No row changed.</p>
      ) : (
        <div class="table-wrap">
          <table class="diff-tables">
            <thead>
              <tr>
                <th scope="col">Table</th>
                <th scope="col">Inserted</th>
                <th scope="col">Updated</th>
                <th scope="col">Deleted</th>
              </tr>
            </thead>
            <tbody>
              {changedTables.map((t) => (
                <TableRows key={`${t.schema}.${t.name}`} table={t} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function TableRows({ table }: { table: Table }) {
  const name = `${table.schema}.${table.name}`;
  if (table.status !== 'compared') {
    return (
      <tr data-table={name}>
        <th scope="row">{name}</th>
        <td colSpan={3} class="muted">
          table {table.status} (see the schema)
        </td>
      </tr>
    );
  }
  const rows = table.rows ?? [];
  return (
    <>
      <tr data-table={name}>
        <th scope="row">{name}</th>
        <td>{table.counts.inserted}</td>
        <td>{table.counts.updated}</td>
        <td>{table.counts.deleted}</td>
      </tr>
      {rows.length > 0 && (
        <tr class="diff-rows">
          <td colSpan={4}>
            <ul>
              {rows.slice(0, ROWS_PER_TABLE).map((r, i) => (
                <li key={i} class={`row-${r.change}`}>
                  <RowLine row={r} />
                </li>
              ))}
            </ul>
            {(table.rows_truncated || rows.length > ROWS_PER_TABLE) && <p class="muted">more rows changed: the CLI with --rows --limit N lists them</p>}
          </td>
        </tr>
      )}
    </>
  );
}

function RowLine({ row }: { row: RowChange }) {
  switch (row.change) {
    case 'inserted':
      return <code>+ {fields(row.new)}</code>;
    case 'deleted':
      return <code>− {fields(row.key ?? row.old)}</code>;
    case 'updated': {
      const changed = Object.keys(row.new).filter((k) => show(row.old[k]) !== show(row.new[k]));
      return (
        <code>
          ~ {fields(row.key)}: {changed.map((k) => `${k} ${show(row.old[k])} → ${show(row.new[k])}`).join(', ')}
        </code>
      );
    }
  }
}
