import { useState } from 'preact/hooks';
import { branchVerbs, canCreate, canRebase, parseTtl, permits, type BranchVerb } from '../actions.js';
import { expiryCountdown, formatAge, formatBytes, formatDuration, syncSummary } from '../format.js';
import type { Branch } from '../wire.js';
import { Field, MaskedBadge, ProtectedBadge, PullRequest, SizeBar, StateBadge, Time, sizesOf } from './bits.js';
import { ConnectionPanel } from './connection-panel.js';
import { CreateBranchDialog } from './create-branch-dialog.js';
import { DiffPanel } from './diff-panel.js';
import { RebasePanel } from './rebase-panel.js';
import { ActionDialog } from './dialog.js';
import { SnapshotTable } from './snapshots-page.js';
import { BranchPoint } from './tree-page.js';
import { auditHref, branchHref, navigate, useSession } from './session.js';

type Dialog = BranchVerb | 'create-child' | 'set-ttl' | 'snapshot';

const VERB_TEXT: Record<BranchVerb, { label: string; about: string; danger?: boolean }> = {
  start: { label: 'Start', about: "Starts the branch's PostgreSQL instance." },
  suspend: { label: 'Suspend', about: 'Stops the instance until the next connection through the endpoint wakes it.' },
  stop: { label: 'Stop', about: 'Stops the instance and keeps its data; connections are refused until it is started.' },
  reset: {
    label: 'Reset',
    about:
      "Replaces the branch's data with its parent's current state (or its snapshot's). Name, port, password and URL stay; what was written in the branch is lost.",
    danger: true,
  },
  protect: { label: 'Protect', about: 'Refuses delete, reset and expiry until the branch is unprotected (unprotecting needs an admin token).' },
  unprotect: { label: 'Unprotect', about: 'Allows delete, reset and expiry again.' },
  delete: { label: 'Delete', about: 'Stops the branch and removes its data. Its children keep working.', danger: true },
};

export function BranchPage({ name, now }: { name: string; now: number }) {
  const { data, caller } = useSession();
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const branch = data.branches?.find((b) => b.name === name);

  if (data.branches === null) return <p class="muted">Loading…</p>;
  if (!branch) {
    return (
      <section>
        <h1 tabIndex={-1}>{name}</h1>
        <p class="empty">
          This branch does not exist (any more), or your token may not see it. <a href="#/">Back to all branches</a>
        </p>
      </section>
    );
  }

  const children = data.branches.filter((b) => b.parent === branch.name && !b.parent_deleted);
  const verbs = branchVerbs(caller, branch);
  const mayCreateChild = canCreate(caller);
  const maySnapshot = permits(caller, { kind: 'snapshot', branch: branch.name, name: branch.name });
  const maySetTtl = permits(caller, { kind: 'set-ttl', branch: branch.name, ttl: 'none' });
  const anyAction = mayCreateChild || maySnapshot || maySetTtl || verbs.length > 0;
  const sizes = sizesOf(branch, data.sizes);
  const sync = syncSummary(branch.sync);
  const snapshots = (data.snapshots ?? []).filter((s) => s.branch === branch.name && !s.branch_deleted);

  return (
    <section aria-labelledby="branch-title" class="branch-page" data-branch={branch.name}>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href="#/">Branches</a>
        {branch.parent !== null && !branch.parent_deleted && data.branches.some((b) => b.name === branch.parent) && (
          <>
            {' / '}
            <a href={branchHref(branch.parent)}>{branch.parent}</a>
          </>
        )}
      </nav>
      <div class="page-head">
        <h1 id="branch-title" tabIndex={-1}>
          {branch.name}
        </h1>
        <StateBadge state={branch.state} />
        {branch.protected && <ProtectedBadge />}
        <MaskedBadge masked={branch.masked} />
        <PullRequest branch={branch.name} repository={data.host?.repository} />
      </div>

      <div class="columns">
        <section class="card" aria-labelledby="details-title">
          <h2 id="details-title">Details</h2>
          <dl class="fields">
            <Field label="Parent">
              {branch.parent === null ? (
                <span class="muted">none (root, from {branch.source.kind})</span>
              ) : data.branches.some((b) => b.name === branch.parent) ? (
                <a href={branchHref(branch.parent)}>{branch.parent}</a>
              ) : (
                <span>
                  {branch.parent} {branch.parent_deleted && <span class="muted">(deleted)</span>}
                </span>
              )}
            </Field>
            <Field label="Branch point">
              <BranchPoint branch={branch} />
            </Field>
            <Field label="Created">
              <Time iso={branch.created_at} /> <span class="muted">({formatAge(branch.created_at, now)})</span>
            </Field>
            {branch.reset_at !== null && (
              <Field label="Last reset">
                <Time iso={branch.reset_at} />
              </Field>
            )}
            <Field label="Expires">
              {branch.expires_at === null ? (
                <span class="muted">never</span>
              ) : (
                <span>
                  {expiryCountdown(branch.expires_at, now)} <span class="muted">(<Time iso={branch.expires_at} />)</span>
                </span>
              )}
            </Field>
            <Field label="Size">
              <SizeBar sizes={sizes} scaleBytes={sizes?.total ?? 0} />
            </Field>
            <Field label="Size cap">{branch.max_own_bytes === null ? <span class="muted">none</span> : formatBytes(branch.max_own_bytes)}</Field>
            <Field label="Idle timeout">{branch.idle_timeout_ms === 0 ? <span class="muted">never suspended</span> : formatDuration(branch.idle_timeout_ms)}</Field>
            {sync !== null && <Field label="Source sync">{sync}</Field>}
            <Field label="Database">
              <code>{branch.database}</code> as <code>{branch.user}</code>, port {branch.port}
            </Field>
            <Field label="Created by">{branch.created_by ?? <span class="muted">unknown</span>}</Field>
          </dl>
          <p>
            <a href={auditHref(branch.name)}>Audit log of this branch</a>
          </p>
        </section>

        <ConnectionPanel branch={branch} />
      </div>

      <section class="card" aria-labelledby="actions-title">
        <h2 id="actions-title">Actions</h2>
        {anyAction ? (
          <div class="actions">
            {mayCreateChild && (
              <button type="button" onClick={() => setDialog('create-child')}>
                Create child branch
              </button>
            )}
            {maySnapshot && (
              <button type="button" onClick={() => setDialog('snapshot')}>
                Snapshot
              </button>
            )}
            {maySetTtl && (
              <button type="button" onClick={() => setDialog('set-ttl')}>
                Set expiry
              </button>
            )}
            {verbs.map((verb) => (
              <button type="button" key={verb} class={VERB_TEXT[verb].danger ? 'danger-outline' : undefined} onClick={() => setDialog(verb)}>
                {VERB_TEXT[verb].label}
              </button>
            ))}
          </div>
        ) : (
          <p class="muted">Your token ({caller.role}) may not change this branch.</p>
        )}
        {branch.protected && <p class="hint">Protected: reset, delete and expiry are refused until it is unprotected.</p>}
      </section>

      <section class="card" aria-labelledby="children-title">
        <h2 id="children-title">Children</h2>
        {children.length === 0 ? (
          <p class="muted">No child branches.</p>
        ) : (
          <ul class="children">
            {children.map((c) => (
              <li key={c.id}>
                <a href={branchHref(c.name)}>{c.name}</a> <StateBadge state={c.state} />
              </li>
            ))}
          </ul>
        )}
      </section>

      <section class="card" aria-labelledby="branch-snapshots-title">
        <h2 id="branch-snapshots-title">Snapshots of this branch</h2>
        <SnapshotTable snapshots={snapshots} showBranch={false} />
      </section>

      <DiffPanel branch={branch} />

      {canRebase(caller, branch) && <RebasePanel branch={branch} />}

      {dialog !== null && <BranchDialog dialog={dialog} branch={branch} onClose={() => setDialog(null)} />}
    </section>
  );
}

function BranchDialog({ dialog, branch, onClose }: { dialog: Dialog; branch: Branch; onClose: () => void }) {
  const name = branch.name;
  switch (dialog) {
    case 'create-child':
      return <CreateBranchDialog parent={name} onClose={onClose} onCreated={(child) => navigate(branchHref(child))} />;
    case 'snapshot':
      return (
        <ActionDialog
          title={`Snapshot ${name}`}
          description={<p>A named, immutable point of this branch that branches can be created from.</p>}
          fields={[{ id: 'name', label: 'Snapshot name', placeholder: 'before-migration', hint: 'branch-name rules; unique among snapshots' }]}
          confirmLabel="Take snapshot"
          build={(v) => (v.name!.trim() === '' ? { invalid: 'give the snapshot a name' } : { kind: 'snapshot', branch: name, name: v.name!.trim() })}
          onClose={onClose}
        />
      );
    case 'set-ttl':
      return (
        <ActionDialog
          title={`Set expiry of ${name}`}
          description={<p>The host deletes the branch this long from now (protected branches do not expire).</p>}
          fields={[{ id: 'ttl', label: 'Expire after', placeholder: '3d', hint: 'a duration such as 3d, 12h or 90m, or "none" to never expire' }]}
          confirmLabel="Set expiry"
          build={(v) => {
            const ttl = v.ttl!.trim();
            if (ttl === 'none' || ttl === 'never') return { kind: 'set-ttl', branch: name, ttl: 'none' };
            if (parseTtl(ttl) === undefined) return { invalid: ttl === '' ? 'give a duration, or "none"' : `"${ttl}" is not a duration such as 3d, 12h or 90m` };
            return { kind: 'set-ttl', branch: name, ttl };
          }}
          onClose={onClose}
        />
      );
    default: {
      const text = VERB_TEXT[dialog];
      return (
        <ActionDialog
          title={`${text.label} ${name}`}
          description={<p>{text.about}</p>}
          confirmLabel={`${text.label} ${name}`}
          danger={text.danger}
          build={() => ({ kind: dialog, branch: name })}
          onClose={onClose}
          onDone={() => dialog === 'delete' && navigate('#/')}
        />
      );
    }
  }
}
