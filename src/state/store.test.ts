import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore, type NewBranch } from './index.js';

const sample = (over: Partial<NewBranch> = {}): NewBranch => ({
  id: 'br-1',
  name: 'main',
  parentId: null,
  parentName: null,
  volume: 'br-1',
  port: 40001,
  dbUser: 'postgres',
  dbName: 'app',
  password: 'secret',
  desiredState: 'running',
  source: '{"kind":"empty"}',
  branchLsn: null,
  branchTime: null,
  ...over,
});

describe('StateStore', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgbranch-state-'));
    file = join(dir, 'state.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('persists branches across reopen and keeps the file private', () => {
    const store = StateStore.open(file);
    store.insertBranch(sample());
    store.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = StateStore.open(file);
    expect(again.getBranchByName('main')?.port).toBe(40001);
    again.close();
  });

  it('rejects duplicate names, volumes and ports', () => {
    const store = StateStore.open(file);
    store.insertBranch(sample());
    expect(() => store.insertBranch(sample({ id: 'br-2', volume: 'v2', port: 40002 }))).toThrow(/UNIQUE/);
    expect(() => store.insertBranch(sample({ id: 'br-2', name: 'x', port: 40002 }))).toThrow(/UNIQUE/);
    expect(() => store.insertBranch(sample({ id: 'br-2', name: 'x', volume: 'v2' }))).toThrow(/UNIQUE/);
    store.close();
  });

  it('detaches children when a parent is deleted', () => {
    const store = StateStore.open(file);
    store.insertBranch(sample());
    store.insertBranch(sample({ id: 'br-2', name: 'child', parentId: 'br-1', parentName: 'main', volume: 'v2', port: 40002 }));
    store.deleteBranch('br-1');
    const child = store.getBranchByName('child');
    expect(child?.parentId).toBeNull();
    expect(child?.parentName).toBe('main');
    store.close();
  });

  it('keeps operations until finished', () => {
    const store = StateStore.open(file);
    const id = store.beginOperation({ kind: 'create', branchId: 'br-9', branchName: 'x', step: 'intent', data: { volume: 'v9' } });
    store.advanceOperation(id, 'cloned');
    const [op] = store.listOperations();
    expect(op).toMatchObject({ kind: 'create', step: 'cloned', data: { volume: 'v9' }, pid: process.pid });
    store.finishOperation(id);
    expect(store.listOperations()).toEqual([]);
    store.close();
  });

  it('hands the lock over only when the holder is gone', () => {
    const store = StateStore.open(file);
    expect(store.tryLock(111, () => true)).toBe(true);
    expect(store.tryLock(222, () => true)).toBe(false);
    expect(store.tryLock(222, (pid) => pid !== 111)).toBe(true);
    store.unlock(222);
    expect(store.tryLock(333, () => true)).toBe(true);
    store.close();
  });
});
