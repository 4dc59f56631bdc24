import type { BranchView } from '../branches/index.js';

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatAge(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
}

/**
 * Orders branches as a tree (parents before children, depth-first) and returns each with its
 * depth. Branches whose parent was deleted appear as roots.
 */
export function asTree(branches: readonly BranchView[]): { branch: BranchView; prefix: string }[] {
  const byParent = new Map<string | null, BranchView[]>();
  const names = new Set(branches.map((b) => b.name));
  for (const b of branches) {
    const key = b.parent !== null && names.has(b.parent) && !b.parentDeleted ? b.parent : null;
    byParent.set(key, [...(byParent.get(key) ?? []), b]);
  }
  const out: { branch: BranchView; prefix: string }[] = [];
  const walk = (parent: string | null, indent: string): void => {
    const children = byParent.get(parent) ?? [];
    children.forEach((child, i) => {
      const last = i === children.length - 1;
      out.push({ branch: child, prefix: parent === null ? '' : `${indent}${last ? '└─ ' : '├─ '}` });
      walk(child.name, parent === null ? '' : `${indent}${last ? '   ' : '│  '}`);
    });
  };
  walk(null, '');
  return out;
}

/** Time left until an expiry: "2d 3h", "45m", "expired"; "-" when the branch never expires. */
export function formatTimeLeft(iso: string | null, now = Date.now()): string {
  if (iso === null) return '-';
  const left = Date.parse(iso) - now;
  if (left <= 0) return 'expired';
  const minutes = Math.floor(left / 60_000);
  if (minutes < 60) return `${Math.max(1, minutes)}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}
