import { describe, expect, it } from 'vitest';
import type { ColumnNode, SchemaModel, SchemaObject, TableNode } from './model.js';
import { diffSchemas } from './diff-schemas.js';
import { objectKey } from './names.js';
import { renderSchemaScript } from './render-script.js';
import { topoSort } from './topo-sort.js';

function table(name: string, lid: string, extra: Partial<TableNode> = {}): TableNode {
  return {
    kind: 'table', key: objectKey('rel', 'public', name), lid, schema: 'public', name, owner: 'postgres', comment: null,
    partitionKey: null, partitionOf: null, partitionBound: null, unlogged: false, accessMethod: 'heap', options: [], rowSecurity: false, forceRowSecurity: false, replicaIdentity: 'd', deps: [], ...extra,
  };
}

function column(tableName: string, tableLid: string, name: string, attnum: number, position: number, extra: Partial<ColumnNode> = {}): ColumnNode {
  return {
    kind: 'column', key: objectKey('column', 'public', tableName, name), lid: `${tableLid}:${attnum}`, schema: 'public', name,
    parent: objectKey('rel', 'public', tableName), table: tableName, position, type: 'integer', typeStructure: '23:-1:0', collation: null,
    notNull: false, identity: '', identityOptions: null, generated: '', generationExpression: null, generationStructure: null, storage: null,
    statistics: -1, compression: null, options: [], comment: null, acl: [], deps: [objectKey('rel', 'public', tableName)], ...extra,
  };
}

function model(objects: SchemaObject[], extra: Partial<SchemaModel> = {}): SchemaModel {
  return { serverVersionNum: 180004, currentUser: 'postgres', roles: ['postgres'], objects, opaque: [], ...extra };
}

describe('topoSort', () => {
  const byName = (x: string, y: string): number => x.localeCompare(y);

  it('puts every node after its predecessors and otherwise follows the priority', () => {
    const { order, cycleBroken } = topoSort(['c', 'b', 'a', 'd'], [['c', 'a'], ['d', 'b']], byName);
    expect(order).toEqual(['c', 'a', 'd', 'b']);
    expect(cycleBroken).toEqual([]);
  });

  it('gets through a cycle and names the node it had to place early', () => {
    const { order, cycleBroken } = topoSort(['a', 'b', 'c'], [['a', 'b'], ['b', 'a'], ['a', 'c']], byName);
    expect(order).toHaveLength(3);
    expect(new Set(order)).toEqual(new Set(['a', 'b', 'c']));
    expect(cycleBroken).toEqual(['a']);
    expect(order.indexOf('a')).toBeLessThan(order.indexOf('c'));
  });
});

describe('diffSchemas on hand-made models', () => {
  it('reports a role the script would need but side A lacks', () => {
    const a = model([table('t', '1')]);
    const b = model([table('t', '1', { owner: 'newcomer' })], { roles: ['postgres', 'newcomer'] });
    const diff = diffSchemas(a, b);
    expect(diff.statements.map((s) => s.sql)).toEqual(['ALTER TABLE "public"."t" OWNER TO "newcomer"']);
    expect(diff.unsupported).toEqual([{ kind: 'role', identity: 'newcomer', reason: expect.stringMatching(/cluster-wide/) }]);
  });

  it('reports a column order that adding columns cannot reproduce', () => {
    const a = model([table('t', '1'), column('t', '1', 'x', 1, 0), column('t', '1', 'y', 2, 1)]);
    // On B, x was dropped and added again: same name, new attnum, now after y.
    const b = model([table('t', '1'), column('t', '1', 'y', 2, 0), column('t', '1', 'x', 3, 1, { type: 'bigint', typeStructure: '20:-1:0' })]);
    const diff = diffSchemas(a, b);
    expect(diff.unsupported).toEqual([{ kind: 'table', identity: 'public.t', reason: expect.stringMatching(/column order cannot be reproduced \(the script gives x, y; the target has y, x\)/) }]);
  });

  it('matches by OID (a rename) unless told the sides are unrelated', () => {
    const a = model([table('old', '7'), column('old', '7', 'v', 1, 0)]);
    const b = model([table('new', '7'), column('new', '7', 'v', 1, 0)]);
    expect(diffSchemas(a, b).statements.map((s) => `${s.action} ${s.sql}`)).toEqual(['rename ALTER TABLE "public"."old" RENAME TO "new"']);
    expect(diffSchemas(a, b, { matchByOid: false }).statements.map((s) => s.action)).toEqual(['drop', 'create']);
  });

  it('renders unsupported objects in the header and statements in a transaction', () => {
    const script = renderSchemaScript(
      {
        statements: [{ sql: 'CREATE SCHEMA "x"', action: 'create', kind: 'schema', identity: 'x' }],
        unsupported: [{ kind: 'rule', identity: 'public.t.r', reason: 'added;\nrules are not expressed' }],
      },
      { title: 'main → feature' },
    );
    expect(script).toBe(
      [
        '-- main → feature',
        '-- 1 statement, in dependency order.',
        '--',
        '-- NOT covered by this script (apply by hand):',
        '--   rule public.t.r: added; rules are not expressed',
        '',
        'BEGIN;',
        '',
        'CREATE SCHEMA "x";',
        '',
        'COMMIT;',
        '',
      ].join('\n'),
    );
  });
});
