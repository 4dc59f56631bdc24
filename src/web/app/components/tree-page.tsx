import { useState } from 'preact/hooks';
import { canCreate } from '../actions.js';
import { expiryCountdown, formatAge, formatTime, syncSummary } from '../format.js';
import { branchTree, parentSuggestions } from '../tree.js';
import type { Branch } from '../wire.js';
import { MaskedBadge, ProtectedBadge, PullRequest, SizeBar, StateBadge, sizesOf } from './bits.js';
import { CreateBranchDialog } from './create-branch-dialog.js';
import { branchHref, navigate, useSession } from './session.js';

const MAX_DEPTH_CLASS = 8;

export function TreePage({ now }: { now: number }) {
  const { data, caller } = useSession();
  const [creating, setCreating] = useState(false);
  const branches = data.branches;
  const rows = branches ? branchTree(branches) : [];
  const scale = Math.max(0, ...(branches ?? []).map((b) => sizesOf(b, data.sizes)?.total ?? 0));
  const anySync = rows.some((r) => syncSummary(r.branch.sync) !== null);

  return (
    <section aria-labelledby="tree-title">
      <div class="page-head">
        <h1 id="tree-title" tabIndex={-1}>
          Branches
        </h1>
        {canCreate(caller) && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            New branch
          </button>
        )}
      </div>
      {branches === null ? (
        <p class="muted">Loading branches…</p>
      ) : branches.length === 0 ? (
        <p class="empty">
          {caller.branch_patterns.length > 0
            ? `No branch matches your token's patterns (${caller.branch_patterns.join(', ')}) yet.`
            : 'No branches yet.'}
        </p>
      ) : (
        <div class="table-wrap">
          <table class="tree">
            <caption class="visually-hidden">Branches as a tree: each branch below its parent</caption>
            <thead>
              <tr>
                <th scope="col">Branch</th>
                <th scope="col">State</th>
                <th scope="col">Size (own / shared)</th>
                <th scope="col">Age</th>
                <th scope="col">Expires</th>
                <th scope="col">Branch point</th>
                {anySync && <th scope="col">Source sync</th>}
              </tr>
            </thead>
            <tbody>
              {rows.map(({ branch, depth, detached }) => (
                <tr key={branch.id} data-branch={branch.name} data-parent={branch.parent ?? ''} data-state={branch.state}>
                  <th scope="row" class={`depth-${Math.min(depth, MAX_DEPTH_CLASS)}`}>
                    <span class="name">
                      {depth > 0 && <span class="twig" aria-hidden="true" />}
                      <a href={branchHref(branch.name)}>{branch.name}</a>
                      {branch.protected && <ProtectedBadge />}
                      <MaskedBadge masked={branch.masked} />
                      <PullRequest branch={branch.name} repository={data.host?.repository} />
                      {detached && <Detached branch={branch} why={detached} />}
                    </span>
                  </th>
                  <td>
                    <StateBadge state={branch.state} />
                  </td>
                  <td>
                    <SizeBar sizes={sizesOf(branch, data.sizes)} scaleBytes={scale} />
                  </td>
                  <td>
                    <span title={formatTime(branch.created_at)}>{formatAge(branch.created_at, now)}</span>
                  </td>
                  <td>{expiryCountdown(branch.expires_at, now) ?? <span class="muted">never</span>}</td>
                  <td>
                    <BranchPoint branch={branch} />
                  </td>
                  {anySync && <td>{syncSummary(branch.sync) ?? <span class="muted">—</span>}</td>}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating && (
        <CreateBranchDialog
          parents={parentSuggestions(branches ?? [])}
          onClose={() => setCreating(false)}
          onCreated={(name) => navigate(branchHref(name))}
        />
      )}
    </section>
  );
}

function Detached({ branch, why }: { branch: Branch; why: 'parent-deleted' | 'parent-hidden' }) {
  return <span class="detached muted">{why === 'parent-deleted' ? `from ${branch.parent} (deleted)` : `from ${branch.parent}`}</span>;
}

export function BranchPoint({ branch }: { branch: Branch }) {
  const { time, lsn } = branch.branch_point;
  if (branch.source.kind === 'snapshot') {
    return <span>snapshot {String(branch.source.snapshot ?? '')}</span>;
  }
  if (time === null && lsn === null) return <span class="muted">{branch.parent === null ? `root (${branch.source.kind})` : '—'}</span>;
  return (
    <span>
      {time !== null && <time dateTime={time}>{formatTime(time)}</time>}
      {lsn !== null && <span class="lsn"> {lsn}</span>}
    </span>
  );
}
