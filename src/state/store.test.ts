import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STATE_KEY_BYTES, StateStore, type NewBranch } from './index.js';

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

  it('writes the lock row and audit starts without an fsync, and every other commit with one (synchronous FULL)', () => {
    const store = StateStore.open(file);
    const synchronous = () => (store as unknown as { db: { pragma(p: string, o: { simple: true }): number } }).db.pragma('synchronous', { simple: true });
    const FULL = 2;
    expect(synchronous()).toBe(FULL);
    expect(store.tryLock(process.pid, () => true)).toBe(true);
    expect(synchronous()).toBe(FULL);
    const audit = { actor: 'local', actorName: null, operation: 'create', targetKind: 'branch' as const, target: 'main' };
    const id = store.beginAudit(audit);
    expect(synchronous()).toBe(FULL);
    // Inside a transaction the start commits with it, under FULL.
    store.transaction(() => store.beginAudit(audit));
    expect(synchronous()).toBe(FULL);
    store.finishAudit(id, { result: 'ok', durationMs: 1 });
    store.unlock(process.pid);
    expect(synchronous()).toBe(FULL);
    // Another process (another connection) sees the lock free.
    const other = StateStore.open(file);
    expect(other.tryLock(process.pid + 1, () => true)).toBe(true);
    other.close();
    store.close();
  });

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

  it('seals passwords and intent data at rest with a key kept outside the file; plain ones from before are sealed at open', () => {
    const bytesOf = (): string => ['', '-wal', '-journal'].map((suffix) => (existsSync(file + suffix) ? readFileSync(file + suffix).toString('latin1') : '')).join('');
    // A host from before the key: stored as given.
    const old = StateStore.open(file);
    old.insertBranch(sample({ password: 'plain-Secret-one' }));
    old.beginOperation({ kind: 'rotate', branchId: 'br-1', branchName: 'main', step: 'intent', data: { password: 'plain-Secret-two' } });
    old.close();
    expect(bytesOf()).toContain('plain-Secret-one');

    const key = randomBytes(STATE_KEY_BYTES);
    const store = StateStore.open(file, key);
    expect(store.getBranchByName('main')?.password).toBe('plain-Secret-one');
    expect(store.listOperations()[0]?.data).toEqual({ password: 'plain-Secret-two' });
    store.insertBranch(sample({ id: 'br-2', name: 'child', volume: 'v2', port: 40002, password: 'fresh-Secret-three' }));
    store.setPassword('br-1', 'rotated-Secret-four');
    expect(store.getBranchByName('main')?.password).toBe('rotated-Secret-four');
    store.close();
    const raw = bytesOf();
    for (const secret of ['plain-Secret-one', 'plain-Secret-two', 'fresh-Secret-three', 'rotated-Secret-four']) expect(raw).not.toContain(secret);

    // The file alone (no key) reveals nothing and cannot be read as if it were plain.
    // (A password is opened when read: the branch itself is readable, its password is not.)
    const keyless = StateStore.open(file);
    expect(keyless.getBranchByName('main')?.name).toBe('main');
    expect(() => keyless.getBranchByName('main')?.password).toThrow(/no key/);
    keyless.close();
    const wrong = StateStore.open(file, randomBytes(STATE_KEY_BYTES));
    expect(() => wrong.getBranchByName('main')?.password).toThrow();
    wrong.close();
  });
});
