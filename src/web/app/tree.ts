/** The branch list as a tree, flattened into rows in display order. */
import type { Branch } from './wire.js';

export interface TreeRow {
  readonly branch: Branch;
  /** 0 for a root or for a branch whose parent is not in the list. */
  readonly depth: number;
  /**
   * Why a branch with a parent is drawn at the top: its parent was deleted, or the token's
   * patterns hide it (a `pr-*` token sees pr-1 but not main). null for roots and nested rows.
   */
  readonly detached: 'parent-deleted' | 'parent-hidden' | null;
}

/**
 * Depth-first: each branch followed by its children, oldest first (the API lists branches oldest
 * first; the order is kept). A parent named in several branches is matched by name, which the
 * API guarantees unique among live branches.
 */
export function branchTree(branches: readonly Branch[]): TreeRow[] {
  const byName = new Map(branches.map((b) => [b.name, b]));
  const children = new Map<string, Branch[]>();
  const tops: Branch[] = [];
  for (const b of branches) {
    const parent = b.parent !== null && !b.parent_deleted ? byName.get(b.parent) : undefined;
    if (parent && parent !== b) children.set(parent.name, [...(children.get(parent.name) ?? []), b]);
    else tops.push(b);
  }
  const rows: TreeRow[] = [];
  const seen = new Set<string>();
  const visit = (b: Branch, depth: number, detached: TreeRow['detached']) => {
    if (seen.has(b.name)) return;
    seen.add(b.name);
    rows.push({ branch: b, depth, detached });
    for (const child of children.get(b.name) ?? []) visit(child, depth + 1, null);
  };
  for (const b of tops) {
    visit(b, 0, b.parent === null ? null : b.parent_deleted ? 'parent-deleted' : 'parent-hidden');
  }
  return rows;
}

/**
 * Parents to offer for a new branch, the likeliest first: the roots, then parents the token
 * cannot see but that its branches name (a `pr-*` token does not see main, yet may branch from
 * it), then every other branch.
 */
export function parentSuggestions(branches: readonly Branch[]): string[] {
  const names = new Set(branches.map((b) => b.name));
  const roots = branches.filter((b) => b.parent === null).map((b) => b.name);
  const hidden = branches.flatMap((b) => (b.parent !== null && !b.parent_deleted && !names.has(b.parent) ? [b.parent] : []));
  return [...new Set([...roots, ...hidden, ...names])];
}
