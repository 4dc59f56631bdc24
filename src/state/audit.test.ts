import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore } from './index.js';

describe('StateStore audit log', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgbranch-audit-'));
    file = join(dir, 'state.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps entries across re-opens, filters by branch, time and limit, newest first', () => {
    const store = StateStore.open(file);
    const a = store.beginAudit({ actor: 'local:root', actorName: null, operation: 'create', targetKind: 'branch', target: 'pr-1' });
    store.finishAudit(a, { result: 'ok', durationMs: 12 });
    const b = store.beginAudit({ actor: 'token:abc', actorName: 'ci', operation: 'token-create', targetKind: 'token', target: 'ci', details: { role: 'read' } });
    store.finishAudit(b, { result: 'ok', durationMs: 1, target: '0123456789ab' });
    const c = store.beginAudit({ actor: 'host', actorName: null, operation: 'delete', targetKind: 'branch', target: 'pr-1' });
    store.finishAudit(c, { result: 'error', errorCode: 'BRANCH_PROTECTED', durationMs: 0 });
    store.close();

    const reopened = StateStore.open(file);
    const all = reopened.listAudit();
    expect(all.map((e) => e.id)).toEqual([c, b, a]);
    expect(all[1]).toMatchObject({ target: '0123456789ab', targetKind: 'token', details: { role: 'read' }, actorName: 'ci' });
    expect(reopened.listAudit({ branch: 'pr-1' }).map((e) => e.id)).toEqual([c, a]);
    expect(reopened.listAudit({ limit: 1 })[0]).toMatchObject({ result: 'error', errorCode: 'BRANCH_PROTECTED' });
    expect(reopened.listAudit({ since: '2999-01-01T00:00:00.000Z' })).toEqual([]);
    expect(reopened.listAudit({ until: '2000-01-01T00:00:00.000Z' })).toEqual([]);
    reopened.close();
  });

  it('marks entries of dead processes as interrupted, never those of live ones', () => {
    const store = StateStore.open(file);
    const mine = store.beginAudit({ actor: 'host', actorName: null, operation: 'reset', targetKind: 'branch', target: 'x' });
    const dead = store.beginAudit({ actor: 'host', actorName: null, operation: 'reset', targetKind: 'branch', target: 'y' });
    store.close();
    // Pretend the second entry belongs to a process that died.
    const db = new Database(file);
    db.prepare('UPDATE audit SET pid = 999999999 WHERE id = ?').run(dead);
    db.close();
    const reopened = StateStore.open(file);
    expect(reopened.markInterruptedAudit((pid) => pid !== 999999999)).toBe(1);
    const byId = new Map(reopened.listAudit().map((e) => [e.id, e.result]));
    expect(byId.get(mine)).toBe('started');
    expect(byId.get(dead)).toBe('interrupted');
    reopened.close();
  });
});

describe('schema upgrade', () => {
  it('opens a host made before governance: branches unprotected, never expiring, audit log empty', async () => {
    const { MIGRATIONS } = await import('./database.js');
    const dir = mkdtempSync(join(tmpdir(), 'pgbranch-upgrade-'));
    const file = join(dir, 'state.db');
    try {
      const old = new Database(file);
      old.exec(MIGRATIONS[0]!);
      old.pragma('user_version = 1');
      old
        .prepare(
          `INSERT INTO branches (id, name, volume, port, db_user, db_name, password, desired_state, source, created_at, updated_at)
           VALUES ('br-1', 'main', 'br-1.v', 40001, 'postgres', 'app', 'pw', 'running', '{"kind":"empty"}', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
        )
        .run();
      old.close();
      const store = StateStore.open(file);
      expect(store.getBranchByName('main')).toMatchObject({ protected: false, expiresAt: null });
      expect(store.listAudit()).toEqual([]);
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
