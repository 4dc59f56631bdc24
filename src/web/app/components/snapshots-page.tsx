import { useState } from 'preact/hooks';
import { canCreate, permits } from '../actions.js';
import type { Snapshot } from '../wire.js';
import { MaskedBadge, Time } from './bits.js';
import { CreateFromSnapshotDialog } from './create-branch-dialog.js';
import { ActionDialog } from './dialog.js';
import { branchHref, navigate, useSession } from './session.js';

export function SnapshotsPage() {
  const { data } = useSession();
  return (
    <section aria-labelledby="snapshots-title">
      <div class="page-head">
        <h1 id="snapshots-title" tabIndex={-1}>
          Snapshots
        </h1>
      </div>
      <p class="hint">Named, immutable points of branches. Take one from a branch's page; create branches from them here.</p>
      {data.snapshots === null ? <p class="muted">Loading snapshots…</p> : <SnapshotTable snapshots={data.snapshots} showBranch />}
    </section>
  );
}

export function SnapshotTable({ snapshots, showBranch }: { snapshots: readonly Snapshot[]; showBranch: boolean }) {
  const { caller, data } = useSession();
  const [dialog, setDialog] = useState<{ kind: 'create' | 'delete'; snapshot: Snapshot } | null>(null);
  if (snapshots.length === 0) return <p class="muted">No snapshots.</p>;
  const visible = new Set((data.branches ?? []).map((b) => b.name));
  return (
    <div class="table-wrap">
      <table class="snapshots">
        <thead>
          <tr>
            <th scope="col">Snapshot</th>
            {showBranch && <th scope="col">Of branch</th>}
            <th scope="col">Taken</th>
            <th scope="col">LSN</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {snapshots.map((s) => {
            const mayDelete = permits(caller, { kind: 'delete-snapshot', snapshot: s.name, branch: s.branch });
            return (
              <tr key={s.id} data-snapshot={s.name}>
                <th scope="row">
                  {s.name} <MaskedBadge masked={s.masked} />
                </th>
                {showBranch && (
                  <td>
                    {visible.has(s.branch) && !s.branch_deleted ? <a href={branchHref(s.branch)}>{s.branch}</a> : s.branch}
                    {s.branch_deleted && <span class="muted"> (deleted)</span>}
                  </td>
                )}
                <td>
                  <Time iso={s.time} />
                </td>
                <td>{s.lsn ?? <span class="muted">—</span>}</td>
                <td class="row-actions">
                  {canCreate(caller) && (
                    <button type="button" onClick={() => setDialog({ kind: 'create', snapshot: s })} aria-label={`Create branch from snapshot ${s.name}`}>
                      Create branch
                    </button>
                  )}
                  {mayDelete && (
                    <button type="button" class="danger-outline" onClick={() => setDialog({ kind: 'delete', snapshot: s })} aria-label={`Delete snapshot ${s.name}`}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {dialog?.kind === 'create' && (
        <CreateFromSnapshotDialog snapshot={dialog.snapshot.name} onClose={() => setDialog(null)} onCreated={(name) => navigate(branchHref(name))} />
      )}
      {dialog?.kind === 'delete' && (
        <ActionDialog
          title={`Delete snapshot ${dialog.snapshot.name}`}
          description={<p>Branches made from it keep working, but can no longer be reset.</p>}
          confirmLabel={`Delete ${dialog.snapshot.name}`}
          danger
          build={() => ({ kind: 'delete-snapshot', snapshot: dialog.snapshot.name, branch: dialog.snapshot.branch })}
          onClose={() => setDialog(null)}
        />
      )}
    </div>
  );
}
