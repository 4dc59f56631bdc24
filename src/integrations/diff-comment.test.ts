import { describe, expect, it } from 'vitest';
import type { DiffView } from '../branches/index.js';
import { diffCommentMarker, formatDiffComment } from './diff-comment.js';

function view(script: string, overrides: Partial<DiffView> = {}): DiffView {
  return {
    from: { kind: 'branch-point', name: 'pr-1', ref: 'branch-point:pr-1', lsn: '0/1', time: '2026-01-01T00:00:00.000Z' },
    to: { kind: 'branch', name: 'pr-1', ref: 'pr-1', lsn: null, time: null },
    database: 'app',
    schema: { statements: [{ sql: 'CREATE TABLE t (x int)', action: 'create', kind: 'table', identity: 'public.t' }], unsupported: [], script, matchedBy: 'oid' },
    data: {
      method: 'blocks',
      tables: [
        { schema: 'public', name: 'a|b', status: 'compared', method: 'blocks', keyColumns: ['id'], columns: ['id'], columnsAdded: [], columnsDropped: [], counts: { inserted: 1, updated: 2, deleted: 3 }, scanned: { baseRows: 1, headRows: 1, blocks: 1, keyLookups: 0 } },
        { schema: 'public', name: 'quiet', status: 'compared', method: 'blocks', keyColumns: ['id'], columns: ['id'], columnsAdded: [], columnsDropped: [], counts: { inserted: 0, updated: 0, deleted: 0 }, scanned: { baseRows: 0, headRows: 0, blocks: 0, keyLookups: 0 } },
        { schema: 'public', name: 'new_one', status: 'added' },
      ],
      totals: { inserted: 1, updated: 2, deleted: 3 },
    },
    timings: { prepareMs: 1, totalMs: 2 },
    ...overrides,
  };
}

describe('formatDiffComment', () => {
  it('starts with the hidden marker, has the script in an sql block and a table of the changed tables only', () => {
    const body = formatDiffComment(view('BEGIN;\nCREATE TABLE t (x int);\nCOMMIT;'), { marker: diffCommentMarker('pr-1') });
    expect(body.split('\n')[0]).toBe('<!-- pgbranch-diff:pr-1 -->');
    expect(body).toContain('```sql\nBEGIN;\nCREATE TABLE t (x int);\nCOMMIT;\n```');
    expect(body).toContain('| `public.a\\|b` | 1 | 2 | 3 |');
    expect(body).toContain('| `public.new_one` | table added | | |');
    expect(body).not.toContain('quiet');
  });

  it('uses a fence longer than any backtick run of the script, and cuts a huge script with the command to get it whole', () => {
    const tricky = formatDiffComment(view("COMMENT ON TABLE t IS '````';"), { marker: '<!-- m -->' });
    expect(tricky).toContain("`````sql\nCOMMENT ON TABLE t IS '````';\n`````");
    const huge = Array.from({ length: 5000 }, (_, i) => `CREATE TABLE t${i} (id bigint PRIMARY KEY, payload text);`).join('\n');
    const body = formatDiffComment(view(huge), { marker: '<!-- m -->', command: 'pgbranch diff pr-1 --schema -o sql' });
    expect(body.length).toBeLessThan(65536);
    expect(body).toMatch(/-- … \d+ more lines: run `pgbranch diff pr-1 --schema -o sql` for the whole script\n```/);
  });

  it('says when the proof failed', () => {
    const body = formatDiffComment(
      view('x', { schema: { ...view('x').schema!, verification: { proven: false, failure: { index: 0, sql: 'x', message: 'boom' }, differences: [] } } }),
      { marker: '<!-- m -->' },
    );
    expect(body).toContain('❌ not proven (statement 1 failed: boom)');
  });
});
