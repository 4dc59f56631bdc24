import { describe, expect, it } from 'vitest';
import { formatDiffSide, parseDiffSide, type DiffSide, type DiffView } from '../branches/index.js';
import { fromApiDiff, fromApiDiffSide, toApiDiff, toApiDiffQuery, toApiDiffSide } from './mapping.js';

const FULL: DiffView = {
  from: { kind: 'branch-point', name: 'pr-7', ref: 'branch-point:pr-7', lsn: '0/3000028', time: '2026-01-01T00:00:00.000Z' },
  to: { kind: 'branch', name: 'pr-7', ref: 'pr-7', lsn: null, time: null },
  database: 'app',
  schema: {
    statements: [
      { sql: 'SET check_function_bodies = off', action: 'alter', kind: 'setting', identity: 'check_function_bodies' },
      { sql: "ALTER TYPE a.mood ADD VALUE 'happy'", action: 'alter', kind: 'enum', identity: 'a.mood', commitAfter: true },
    ],
    unsupported: [{ kind: 'table', identity: 'a.child', reason: 'inheritance' }],
    script: '-- x\nBEGIN;\nCOMMIT;\n',
    matchedBy: 'oid',
    verification: {
      proven: false,
      failure: { index: 1, sql: 'x', message: 'boom', code: '42601' },
      differences: [{ kind: 'column', identity: 'a.t.c', change: 'different', field: 'type', expected: 'text', actual: { nested: [1, null] } }],
    },
  },
  data: {
    method: 'blocks',
    changedBytes: 65536,
    tables: [
      {
        schema: 'a',
        name: 't',
        status: 'compared',
        method: 'full',
        fullReason: 'relation-rewritten',
        keyColumns: ['id'],
        columns: ['id', 'first_name'],
        columnsAdded: ['new_col'],
        columnsDropped: [],
        counts: { inserted: 1, updated: 1, deleted: 1 },
        rows: [
          { change: 'inserted', key: { id: 3 }, new: { id: 3, first_name: null } },
          { change: 'updated', key: { id: 1 }, old: { id: 1, first_name: 'a' }, new: { id: 1, first_name: 'b' } },
          { change: 'deleted', key: { id: 2 }, old: { id: 2, first_name: 'x' } },
        ],
        rowsTruncated: false,
        scanned: { baseRows: 2, headRows: 2, keyLookups: 0 },
      },
      { schema: 'a', name: 'nokey', status: 'compared', method: 'blocks', keyColumns: null, columns: ['v'], columnsAdded: [], columnsDropped: [], counts: { inserted: 0, updated: 0, deleted: 1 }, rows: [{ change: 'deleted', old: { v: '1' } }], scanned: { baseRows: 1, headRows: 0, blocks: 1, keyLookups: 0 } },
      { schema: 'a', name: 'gone', status: 'dropped' },
    ],
    totals: { inserted: 1, updated: 1, deleted: 2 },
  },
  timings: { prepareMs: 1.5, schemaMs: 2, dataMs: 3, rangesMs: 1, verifyMs: 4, totalMs: 11 },
};

describe('diff wire mapping', () => {
  it('fromApiDiff(toApiDiff(v)) gives v back, with and without the optional parts', () => {
    expect(fromApiDiff(toApiDiff(FULL))).toEqual(FULL);
    const { schema: _s, data: _d, ...bare } = FULL;
    const minimal: DiffView = { ...bare, from: { kind: 'snapshot', name: 's', ref: 'snapshot:s', lsn: null, time: '2026-01-01T00:00:00.000Z' }, timings: { prepareMs: 1, totalMs: 2 } };
    expect(fromApiDiff(toApiDiff(minimal))).toEqual(minimal);
  });

  it('keeps pgbranch fields snake_case and the user\'s column names as they are', () => {
    const api = toApiDiff(FULL);
    const table = api.data!.tables[0]!;
    expect(table).toMatchObject({ key_columns: ['id'], columns_added: ['new_col'], full_reason: 'relation-rewritten' });
    expect((table as { rows: unknown[] }).rows[0]).toEqual({ change: 'inserted', key: { id: 3 }, new: { id: 3, first_name: null } });
    expect(api.schema!.statements[1]).toMatchObject({ commit_after: true });
  });

  it('sides travel as the text the domain parses, both ways', () => {
    const sides: DiffSide[] = [
      { kind: 'name', name: 'main' },
      { kind: 'branch', name: 'feature/x' },
      { kind: 'snapshot', name: 'seed.v1' },
      { kind: 'branch-point', branch: 'pr-7' },
    ];
    for (const side of sides) {
      expect(toApiDiffSide(side)).toBe(formatDiffSide(side));
      expect(parseDiffSide(toApiDiffSide(side))).toEqual(side);
      expect(fromApiDiffSide(formatDiffSide(side))).toEqual(side);
    }
    expect(() => parseDiffSide('Main')).toThrow(expect.objectContaining({ code: 'INVALID_BRANCH_NAME' }));
    expect(() => parseDiffSide('tag:main')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => parseDiffSide('snapshot:')).toThrow(expect.objectContaining({ code: 'INVALID_BRANCH_NAME' }));
  });

  it('sends only the flags that were set', () => {
    expect(toApiDiffQuery({ to: { kind: 'name', name: 'pr-7' } }).toString()).toBe('');
    expect(toApiDiffQuery({ from: { kind: 'snapshot', name: 's' }, to: { kind: 'name', name: 'pr-7' }, rows: true, limit: 5, verify: false }).toString()).toBe(
      'against=snapshot%3As&rows=true&verify=false&limit=5',
    );
  });
});
