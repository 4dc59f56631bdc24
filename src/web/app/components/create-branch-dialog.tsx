import { parseTtl } from '../actions.js';
import { ActionDialog, type DialogField } from './dialog.js';
import { useSession } from './session.js';

const TTL_FIELD: DialogField = {
  id: 'ttl',
  label: 'Expires after (optional)',
  placeholder: '3d',
  hint: "a duration such as 3d, 12h or 90m; empty = the host's rule for the name, if any",
};

function ttlProblem(ttl: string): string | null {
  return ttl === '' || parseTtl(ttl) !== undefined ? null : `"${ttl}" is not a duration such as 3d, 12h or 90m`;
}

function nameField(patterns: readonly string[], placeholder: string): DialogField {
  return {
    id: 'name',
    label: 'New branch name',
    placeholder,
    hint: patterns.length > 0 ? `your token may create branches matching ${patterns.join(', ')}` : 'a-z, 0-9, ".", "_", "-" and "/"',
  };
}

/**
 * A new branch from a parent: fixed (a branch page's "create child") or chosen from `parents`
 * (suggestions, the first one offered; see `parentSuggestions`).
 */
export function CreateBranchDialog({
  parent,
  parents,
  onClose,
  onCreated,
}: {
  parent?: string;
  parents?: readonly string[];
  onClose: () => void;
  onCreated: (name: string) => void;
}) {
  const { caller } = useSession();
  const fields: DialogField[] = [
    nameField(caller.branch_patterns, caller.branch_patterns.length > 0 ? caller.branch_patterns[0]!.replace(/[*?]/g, '') + '123' : 'feature/login'),
    ...(parent === undefined
      ? [{ id: 'parent', label: 'Parent branch', initial: parents?.[0] ?? 'main', suggestions: parents }]
      : []),
    TTL_FIELD,
  ];
  return (
    <ActionDialog
      title={parent === undefined ? 'New branch' : `New branch from ${parent}`}
      description={<p>A copy-on-write clone of the parent's current data, with its own PostgreSQL instance and credentials.</p>}
      fields={fields}
      confirmLabel="Create branch"
      build={(v) => {
        const name = v.name!.trim();
        const from = parent ?? v.parent!.trim();
        const ttl = v.ttl!.trim();
        if (name === '') return { invalid: 'give the new branch a name' };
        if (from === '') return { invalid: 'name the parent branch' };
        const problem = ttlProblem(ttl);
        if (problem) return { invalid: problem };
        return { kind: 'create', name, parent: from, ...(ttl ? { ttl } : {}) };
      }}
      onClose={onClose}
      onDone={(_result, action) => action.kind === 'create' && onCreated(action.name)}
    />
  );
}

/** A new branch from a snapshot (reset then returns it to the snapshot). */
export function CreateFromSnapshotDialog({ snapshot, onClose, onCreated }: { snapshot: string; onClose: () => void; onCreated: (name: string) => void }) {
  const { caller } = useSession();
  return (
    <ActionDialog
      title={`New branch from snapshot ${snapshot}`}
      description={<p>The branch starts from the snapshot's data; resetting it later returns it to the snapshot.</p>}
      fields={[nameField(caller.branch_patterns, 'qa-from-snapshot'), TTL_FIELD]}
      confirmLabel="Create branch"
      build={(v) => {
        const name = v.name!.trim();
        const ttl = v.ttl!.trim();
        if (name === '') return { invalid: 'give the new branch a name' };
        const problem = ttlProblem(ttl);
        if (problem) return { invalid: problem };
        return { kind: 'create-from-snapshot', name, snapshot, ...(ttl ? { ttl } : {}) };
      }}
      onClose={onClose}
      onDone={(_result, action) => action.kind === 'create-from-snapshot' && onCreated(action.name)}
    />
  );
}
