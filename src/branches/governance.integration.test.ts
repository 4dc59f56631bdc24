import Database from 'better-sqlite3';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { createStorageDriver } from '../storage/index.js';
import { assertHostConsistent, processesUnderPool, readStoredState, sql } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`governance tests skipped: ${skip}`);

const codeOf = (p: Promise<unknown>): Promise<string | undefined> =>
  p.then(
    () => undefined,
    (err: unknown) => (isPgbranchError(err) ? err.code : String(err)),
  );

/** Lifecycle governance: audit log, protected branches, expiry and gc, on a real btrfs host. */
describe.skipIf(skip !== undefined)('lifecycle governance (btrfs)', () => {
  let t: TestHost;

  beforeAll(async () => {
    t = await createTestHost('btrfs');
  });
  afterAll(async () => t?.cleanup());

  it('has one audit entry per mutating call, failed ones included, none lost across a host restart', async () => {
    const before = await t.host.listAudit();
    let calls = 0;
    const call = async (p: Promise<unknown>) => {
      calls++;
      await p.catch(() => undefined);
    };
    await call(t.host.createBranch('audit-a', { origin: { kind: 'parent', parent: 'main' } }));
    await call(t.host.createBranch('audit-a', { origin: { kind: 'parent', parent: 'main' } })); // BRANCH_EXISTS
    await call(t.host.stopBranch('audit-a'));
    await call(t.host.startBranch('audit-a'));
    await call(t.host.suspendBranch('audit-a'));
    await call(t.host.rotatePassword('audit-a'));
    await call(t.host.updateBranch('audit-a', { idleTimeoutMs: 60_000 }));
    await call(t.host.resetBranch('audit-a'));
    await call(t.host.deleteBranch('main')); // BRANCH_PROTECTED
    await call(t.host.deleteBranch('no-such-branch')); // BRANCH_NOT_FOUND
    const { info } = await t.host.createToken({ name: 'audited', role: 'read' });
    calls++;
    await call(t.host.revokeToken(info.tokenId));
    // The in-process CLI records the local OS user.
    for (const args of [['branch', 'protect', 'audit-a'], ['branch', 'unprotect', 'audit-a'], ['branch', 'delete', 'audit-a']]) {
      calls++;
      const r = await t.cli(...args);
      expect(r.code, r.stderr).toBe(0);
    }

    const after = await t.host.listAudit();
    const fresh = after.filter((e) => !before.some((b) => b.id === e.id));
    expect(fresh).toHaveLength(calls);
    expect(fresh.every((e) => e.result === 'ok' || e.result === 'error')).toBe(true);
    expect(fresh.every((e) => e.durationMs !== null && e.durationMs >= 0)).toBe(true);
    const failures = fresh.filter((e) => e.result === 'error').map((e) => [e.operation, e.target, e.errorCode]);
    expect(failures).toEqual(
      expect.arrayContaining([
        ['create', 'audit-a', 'BRANCH_EXISTS'],
        ['delete', 'main', 'BRANCH_PROTECTED'],
        ['delete', 'no-such-branch', 'BRANCH_NOT_FOUND'],
      ]),
    );
    expect(failures).toHaveLength(3);
    expect(fresh.find((e) => e.operation === 'token-create')).toMatchObject({ targetKind: 'token', target: info.tokenId, result: 'ok' });
    const cliEntries = fresh.filter((e) => e.actor.startsWith('local:'));
    expect(cliEntries.map((e) => e.operation).sort()).toEqual(expect.arrayContaining(['delete', 'update', 'update']));
    // No secret ever: neither a branch password nor a token.
    const passwords = readStoredState(t.home).branches.map((b) => b.password);
    const text = JSON.stringify(fresh);
    for (const p of passwords) expect(text).not.toContain(p);
    expect(text).not.toMatch(/pgb_[a-z0-9]{12}_/);

    // Filters: per branch, time window, limit.
    const onBranch = await t.host.listAudit({ branch: 'audit-a' });
    expect(onBranch.length).toBe(fresh.filter((e) => e.targetKind === 'branch' && e.target === 'audit-a').length);
    expect(await t.host.listAudit({ since: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
    expect(await t.host.listAudit({ limit: 2 })).toEqual(after.slice(0, 2));

    await t.reopen();
    expect(await t.host.listAudit()).toEqual(after);

    const cli = await t.cli('audit', '--branch', 'audit-a', '--since', '1h', '-o', 'json');
    expect(cli.code, cli.stderr).toBe(0);
    expect((JSON.parse(cli.stdout) as unknown[]).length).toBe(onBranch.length);
  });

  it('protects main by default: no delete, reset or expiry until unprotected; children never share its credentials', async () => {
    expect((await t.host.getBranch('main')).protected).toBe(true);
    await t.host.createBranch('prot-child', { origin: { kind: 'parent', parent: 'main' } });
    const main = await t.host.connectionInfo('main');
    const child = await t.host.connectionInfo('prot-child');
    expect(child.password).not.toBe(main.password);
    const withParentPassword = new URL(child.url);
    withParentPassword.password = encodeURIComponent(main.password);
    await expect(sql(withParentPassword.toString(), 'SELECT 1')).rejects.toThrow(/password authentication failed/);

    const r = await t.cli('branch', 'delete', 'main');
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('BRANCH_PROTECTED');

    await t.host.updateBranch('prot-child', { protected: true, expiresAt: new Date(Date.now() - 1000).toISOString() });
    expect(await codeOf(t.host.resetBranch('prot-child'))).toBe('BRANCH_PROTECTED');
    expect(await codeOf(t.host.deleteBranch('prot-child'))).toBe('BRANCH_PROTECTED');
    expect(await t.host.deleteExpiredBranches()).toEqual([]);
    expect((await t.host.getBranch('prot-child')).protected).toBe(true);

    await t.host.updateBranch('prot-child', { protected: false });
    expect(await t.host.deleteExpiredBranches()).toEqual(['prot-child']);
    const [expired] = await t.host.listAudit({ branch: 'prot-child', limit: 1 });
    expect(expired).toMatchObject({ actor: 'host', operation: 'expire', result: 'ok' });
    // The root still works after all this.
    expect(await sql(main.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('sets expiry at create (TTL, time, per-pattern host default) and later, and shows time left', async () => {
    const now = Date.now();
    const ttl = await t.host.createBranch('exp-ttl', { origin: { kind: 'parent', parent: 'main' }, ttlMs: 3 * 86_400_000 });
    expect(Date.parse(ttl.branch.expiresAt!) - now).toBeGreaterThanOrEqual(3 * 86_400_000 - 1000);
    expect(Date.parse(ttl.branch.expiresAt!) - now).toBeLessThan(3 * 86_400_000 + 60_000);
    expect(await codeOf(t.host.createBranch('exp-bad', { origin: { kind: 'parent', parent: 'main' }, ttlMs: 5, expiresAt: '2030-01-01T00:00:00Z' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(t.host.getBranch('exp-bad'))).toBe('BRANCH_NOT_FOUND');

    const configFile = join(t.home, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    writeFileSync(configFile, JSON.stringify({ ...config, expiry: [{ pattern: 'pr-*', ttlMs: 2 * 3_600_000 }] }));
    await t.reopen();
    const pr = await t.host.createBranch('pr-77', { origin: { kind: 'parent', parent: 'main' } });
    expect(Date.parse(pr.branch.expiresAt!) - Date.now()).toBeGreaterThan(3_600_000);
    expect((await t.host.createBranch('feature-x', { origin: { kind: 'parent', parent: 'main' } })).branch.expiresAt).toBeNull();

    const set = await t.cli('branch', 'set', 'feature-x', '--ttl', '2h', '-o', 'json');
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout).expires_at).not.toBeNull();
    const list = await t.cli('branch', 'list', '--no-size');
    expect(list.stdout).toContain('EXPIRES');
    expect(list.stdout).toMatch(/feature-x.*1h 5\dm/);
    const unset = await t.cli('branch', 'set', 'feature-x', '--ttl', 'none');
    expect(unset.code, unset.stderr).toBe(0);
    expect((await t.host.getBranch('feature-x')).expiresAt).toBeNull();

    // A parent that expires never breaks its children.
    await t.host.createBranch('kid-of-pr-77', { origin: { kind: 'parent', parent: 'pr-77' } });
    expect(await t.host.deleteExpiredBranches(Date.now() + 3 * 3_600_000)).toEqual(['pr-77']);
    const orphaned = await t.host.getBranch('kid-of-pr-77');
    expect(orphaned).toMatchObject({ parent: 'pr-77', parentDeleted: true, state: 'running' });
    for (const name of ['exp-ttl', 'feature-x', 'kid-of-pr-77']) await t.host.deleteBranch(name);
  });

  it('gc removes planted orphans of each kind and nothing else; a dry run lists them and changes nothing', async () => {
    const storage = createStorageDriver({ driver: t.pool.driver, poolPath: t.pool.poolPath });
    await t.host.createBranch('keep', { origin: { kind: 'parent', parent: 'main' } });
    // An orphan volume: made behind pgbranch's back.
    await storage.createVolume('deadbeef0000.planted');
    // An orphan instance: a branch whose metadata row vanished while its postgres runs.
    const ghost = (await t.host.createBranch('ghost', { origin: { kind: 'parent', parent: 'main' } })).branch;
    const ghostVolume = readStoredState(t.home).branches.find((b) => b.name === 'ghost')!.volume;
    // Metadata without a volume: the volume was deleted behind pgbranch's back.
    await t.host.createBranch('vanished', { origin: { kind: 'parent', parent: 'main' } });
    await t.host.stopBranch('vanished');
    await storage.deleteVolume(readStoredState(t.home).branches.find((b) => b.name === 'vanished')!.volume);
    // An expired branch.
    await t.host.createBranch('old', { origin: { kind: 'parent', parent: 'main' }, expiresAt: new Date(Date.now() - 60_000).toISOString() });
    const db = new Database(join(t.home, 'state.db'));
    db.prepare('DELETE FROM branches WHERE id = ?').run(ghost.id);
    db.close();
    expect(processesUnderPool(t.pool.poolPath).some((p) => p.volume === ghostVolume)).toBe(true);

    const expected = [
      { kind: 'orphan-volume', target: 'deadbeef0000.planted' },
      { kind: 'orphan-instance', target: ghostVolume },
      // The ghost's branch point lost its owner with the row (no instance ever runs on one).
      { kind: 'orphan-volume', target: `${ghostVolume}.bp` },
      { kind: 'missing-volume', target: 'vanished' },
      { kind: 'expired', target: 'old' },
    ];
    const volumesBefore = (await storage.listVolumes()).sort();
    const branchesBefore = readStoredState(t.home).branches;
    const auditBefore = (await t.host.listAudit()).length;

    const dry = await t.cli('gc', '--dry-run', '-o', 'json');
    expect(dry.code, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout) as { dry_run: boolean; actions: { kind: string; target: string; done: boolean }[] };
    expect(planned.dry_run).toBe(true);
    expect(planned.actions).toEqual(expect.arrayContaining(expected.map((e) => ({ ...e, done: false }))));
    expect(planned.actions).toHaveLength(expected.length);
    expect((await storage.listVolumes()).sort()).toEqual(volumesBefore);
    expect(readStoredState(t.home).branches).toEqual(branchesBefore);
    expect(processesUnderPool(t.pool.poolPath).some((p) => p.volume === ghostVolume)).toBe(true);

    const real = await t.host.gc();
    expect(real.actions).toEqual(expect.arrayContaining(expected.map((e) => ({ ...e, done: true }))));
    expect(real.actions).toHaveLength(expected.length);
    const state = await assertHostConsistent(t.home, t.pool.poolPath);
    expect(state.branches.map((b) => b.name).sort()).toEqual(['keep', 'main']);
    // Each action audited, plus the gc call itself.
    const audit = await t.host.listAudit();
    expect(audit.length - auditBefore).toBe(expected.length + 1);
    expect(audit.slice(0, expected.length + 1).every((e) => e.result === 'ok' && e.actor.startsWith('local:'))).toBe(true);

    const again = await t.host.gc({ dryRun: true });
    expect(again.actions).toEqual([]);
  });

  it('a copy of state.db alone reveals no branch password; rotation and URLs still work', async () => {
    await t.host.createBranch('sealed', { origin: { kind: 'parent', parent: 'main' } });
    const first = (await t.host.connectionInfo('sealed')).password;
    const rotated = (await t.host.rotatePassword('sealed')).password;
    expect(rotated).not.toBe(first);
    expect(await sql((await t.host.connectionInfo('sealed')).url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await t.reopen();
    const passwords = [first, rotated, ...readStoredState(t.home).branches.map((b) => b.password)];
    const stateFile = join(t.home, 'state.db');
    const bytes = ['', '-wal', '-journal'].map((s) => (existsSync(stateFile + s) ? readFileSync(stateFile + s).toString('latin1') : '')).join('');
    for (const p of passwords) expect(bytes).not.toContain(p);
    expect(statSync(join(t.home, 'state.key')).mode & 0o777).toBe(0o600);
    await t.host.deleteBranch('sealed');
  });

  it('idle means idle: short direct connections between sweeps and a start count as use', async () => {
    await t.host.createBranch('busy', { origin: { kind: 'parent', parent: 'main' } });
    await t.host.updateBranch('busy', { idleTimeoutMs: 1_000 });
    const url = (await t.host.connectionInfo('busy')).url;
    // The first look starts the idle clock and notes how many sessions the instance has counted.
    expect(await t.host.suspendIdleBranches()).toEqual([]);
    // Far past the timeout, but a direct connection came and went since the last look.
    await sql(url, 'SELECT 1');
    let now = Date.now() + 10_000;
    expect(await t.host.suspendIdleBranches(now)).toEqual([]);
    expect((await t.host.getBranch('busy')).state).toBe('running');
    // Nothing since: idle for its timeout now.
    now += 10_000;
    expect(await t.host.suspendIdleBranches(now)).toEqual(['busy']);
    expect((await t.host.getBranch('busy')).state).toBe('suspended');
    // Started again (or woken by `branch url`): its timeout counts from the start, which came
    // after `before` however long the start took, so a look short of a timeout after `before`
    // must leave it running.
    const before = Date.now();
    await t.host.startBranch('busy');
    expect(await t.host.suspendIdleBranches()).toEqual([]);
    expect(await t.host.suspendIdleBranches(before + 900)).toEqual([]);
    expect((await t.host.getBranch('busy')).state).toBe('running');
    await t.host.deleteBranch('busy');
  });

  it('gc suspends branches idle for their timeout, like the serve sweep', async () => {
    await t.host.createBranch('sleepy', { origin: { kind: 'parent', parent: 'main' } });
    await t.host.updateBranch('sleepy', { idleTimeoutMs: 1_000 });
    // The first look only starts the idle clock of branches this process has not seen yet.
    expect((await t.host.gc({ dryRun: true })).actions).toEqual([]);
    const later = Date.now() + 10_000;
    expect((await t.host.gc({ dryRun: true }, later)).actions).toEqual([{ kind: 'idle-suspend', target: 'sleepy', done: false }]);
    expect((await t.host.getBranch('sleepy')).state).toBe('running');
    expect((await t.host.gc({}, later)).actions).toEqual([{ kind: 'idle-suspend', target: 'sleepy', done: true }]);
    expect((await t.host.getBranch('sleepy')).state).toBe('suspended');
    await t.host.deleteBranch('sleepy');
  });
});
