import { describe, expect, it } from 'vitest';
import type { BranchView } from '../branches/index.js';
import { asTree, formatAge, formatBytes } from './format.js';
import { renderTable } from './writer.js';

const b = (name: string, parent: string | null, parentDeleted = false): BranchView =>
  ({ name, parent, parentDeleted }) as unknown as BranchView;

describe('cli formatting', () => {
  it('formats bytes', () => {
    expect(formatBytes(null)).toBe('-');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(32 * 1024)).toBe('32 KiB');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5 GiB');
  });

  it('formats ages', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    expect(formatAge('2026-01-01T23:59:30Z', now)).toBe('30s');
    expect(formatAge('2026-01-01T23:00:00Z', now)).toBe('1h');
    expect(formatAge('2025-12-20T00:00:00Z', now)).toBe('13d');
  });

  it('renders a tree with orphans as roots', () => {
    const rows = asTree([b('main', null), b('a', 'main'), b('a1', 'a'), b('b', 'main'), b('lost', 'gone', true)]);
    expect(rows.map((r) => `${r.prefix}${r.branch.name}`)).toEqual(['main', '├─ a', '│  └─ a1', '└─ b', 'lost']);
  });

  it('aligns table columns', () => {
    expect(renderTable(['NAME', 'STATE'], [['main', 'running'], ['pr-1', 'stopped']])).toBe('NAME  STATE\nmain  running\npr-1  stopped');
  });
});
