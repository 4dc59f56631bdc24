import { describe, expect, it } from 'vitest';
import type { SchemaStatement } from '../../postgres/index.js';
import { planSchema, undoSnapshotName } from './rebase.js';

const st = (action: SchemaStatement['action'], kind: string, identity: string, sql: string): SchemaStatement => ({ action, kind, identity, sql });
const SETTING = st('alter', 'setting', 'check_function_bodies', 'SET check_function_bodies = off');

describe('planSchema: which of the branch\'s statements replay, and which objects both sides changed', () => {
  it('replays what only the branch changed, in order, with the settings', () => {
    const own = [SETTING, st('create', 'table', 'public.tags', 'CREATE TABLE tags ()'), st('create', 'column', 'public.items.b', 'ALTER TABLE items ADD b int')];
    const theirs = [SETTING, st('create', 'column', 'public.items.a', 'ALTER TABLE items ADD a int')];
    const plan = planSchema(own, theirs);
    expect(plan.steps).toEqual(own);
    expect(plan.conflicts).toEqual([]);
    expect(plan.alreadyOnParent).toBe(0);
  });

  it('the same change on both sides is not a conflict: the parent has it already', () => {
    const same = st('create', 'table', 'public.flags', 'CREATE TABLE flags ()');
    const plan = planSchema([same], [same]);
    expect(plan).toEqual({ steps: [], conflicts: [], alreadyOnParent: 1 });
  });

  it('the same object changed differently is a conflict with both sides\' SQL, in place of the branch\'s statement', () => {
    const plan = planSchema(
      [st('create', 'table', 'public.t', 'CREATE TABLE t ()'), st('create', 'column', 'public.items.c', 'ALTER TABLE items ADD c int'), st('create', 'index', 'public.i', 'CREATE INDEX i ON t (x)')],
      [st('create', 'column', 'public.items.c', 'ALTER TABLE items ADD c text')],
    );
    expect(plan.steps.map((s) => ('contested' in s ? `contested ${s.contested}` : s.identity))).toEqual(['public.t', 'contested public.items.c', 'public.i']);
    expect(plan.conflicts).toEqual([{ kind: 'schema', reason: 'both-changed', object: 'public.items.c', parent: 'ALTER TABLE items ADD c text', branch: 'ALTER TABLE items ADD c int' }]);
  });

  it('a table dropped on one side conflicts with a change inside it on the other, both ways', () => {
    const drop = st('drop', 'table', 'public.items', 'DROP TABLE items');
    const change = st('alter', 'column', 'public.items.qty', 'ALTER TABLE items ALTER qty TYPE bigint');
    expect(planSchema([drop], [change]).conflicts).toHaveLength(1);
    expect(planSchema([change], [drop]).conflicts).toHaveLength(1);
    // A name that merely starts the same is another object.
    expect(planSchema([st('drop', 'table', 'public.item', 'DROP TABLE item')], [change]).conflicts).toEqual([]);
  });
});

describe('undoSnapshotName', () => {
  it('is NAME.pre-rebase, cut to the 63-character name rule', () => {
    expect(undoSnapshotName('pr-7')).toBe('pr-7.pre-rebase');
    const long = 'a'.repeat(63);
    expect(undoSnapshotName(long)).toHaveLength(63);
    expect(undoSnapshotName(long).endsWith('.pre-rebase')).toBe(true);
  });
});
