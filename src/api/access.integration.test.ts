import { readFileSync, existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../test-support/host-invariants.js';
import { testPoolSkipReason } from '../test-support/test-host.js';
import { expectProblemShape, startApiFixture, type ApiFixture, type ApiResponse } from './test-support/api-fixture.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`API access tests skipped: ${skip}`);

const branch = (name: string, suffix = '') => `/v1/branches/${encodeURIComponent(name)}${suffix}`;

function expectDenied(res: ApiResponse, what: string): void {
  expect(res.status, `${what}: ${res.text}`).toBe(403);
  expectProblemShape(res);
  expect(res.body).toMatchObject({ code: 'PERMISSION_DENIED', status: 403, type: 'https://pgbranch.dev/errors/permission-denied' });
}

/** Acceptance 2: a `pr-*` token cannot read or change `main`; a read token cannot write. */
describe.skipIf(skip !== undefined)('REST API access control', () => {
  let f: ApiFixture;

  beforeAll(async () => {
    f = await startApiFixture();
    await f.t.host.createBranch('staging', { origin: { kind: 'parent', parent: 'main' } });
  });
  afterAll(async () => f?.cleanup());

  describe('a write token limited to pr-*', () => {
    let ci: string;
    beforeAll(async () => {
      ci = (await f.token('write', ['pr-*'])).token;
    });

    it('cannot read, connect to, change or delete main', async () => {
      const attempts: [string, string, unknown?][] = [
        ['GET', branch('main')],
        ['GET', branch('main', '/connection')],
        ['PATCH', branch('main'), { idle_timeout_ms: 0 }],
        ['POST', branch('main', '/reset')],
        ['POST', branch('main', '/start')],
        ['POST', branch('main', '/stop')],
        ['POST', branch('main', '/suspend')],
        ['POST', branch('main', '/rotate-password')],
        ['DELETE', branch('main')],
      ];
      for (const [method, path, body] of attempts) expectDenied(await f.call(method, path, { token: ci, body }), `${method} ${path}`);
      // Nothing happened to main.
      const main = await f.t.host.getBranch('main');
      expect(main.state).toBe('running');
    });

    it('sees only pr-* branches in the list', async () => {
      await f.t.host.createBranch('pr-listed', { origin: { kind: 'parent', parent: 'main' } });
      const res = await f.call('GET', '/v1/branches?with_usage=false', { token: ci });
      expect(res.status).toBe(200);
      const names = (res.body.branches as { name: string }[]).map((b) => b.name);
      expect(names).toContain('pr-listed');
      expect(names.every((n) => n.startsWith('pr-'))).toBe(true);
      await f.t.host.deleteBranch('pr-listed');
    });

    it('cannot create a branch outside its patterns, nor import a root branch from a dump or URL', async () => {
      expectDenied(await f.call('POST', '/v1/branches', { token: ci, body: { name: 'feature-x', parent: 'main' } }), 'create feature-x');
      expectDenied(await f.call('POST', '/v1/branches', { token: ci, body: { name: 'pr-dump', source: { kind: 'dump', file: '/etc/passwd' } } }), 'create from dump');
      expectDenied(await f.call('POST', '/v1/branches', { token: ci, body: { name: 'pr-url', source: { kind: 'url', url: 'postgresql://x@127.0.0.1:1/db' } } }), 'create from url');
      await expect(f.t.host.getBranch('feature-x')).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
      await expect(f.t.host.getBranch('pr-dump')).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
    });

    it('can create pr-1 from main, use it, reset it and delete it', async () => {
      await sql((await f.t.host.connectionInfo('main')).url, 'CREATE TABLE marks (v text); INSERT INTO marks VALUES ($$main$$)');
      const created = await f.call('POST', '/v1/branches', { token: ci, body: { name: 'pr-1', parent: 'main' } });
      expect(created.status, created.text).toBe(201);
      expect(created.body).toMatchObject({ name: 'pr-1', parent: 'main', created: true });
      expect((await f.call('GET', branch('pr-1'), { token: ci })).status).toBe(200);
      const conn = await f.call('GET', branch('pr-1', '/connection'), { token: ci });
      expect(conn.status).toBe(200);
      await sql(conn.body.url_unpooled, 'INSERT INTO marks VALUES ($$pr-1$$)');
      expect(await sql(conn.body.url_unpooled, 'SELECT v FROM marks ORDER BY v')).toEqual([{ v: 'main' }, { v: 'pr-1' }]);
      const reset = await f.call('POST', branch('pr-1', '/reset'), { token: ci });
      expect(reset.status, reset.text).toBe(200);
      expect(await sql(conn.body.url_unpooled, 'SELECT v FROM marks')).toEqual([{ v: 'main' }]);
      const again = await f.call('POST', '/v1/branches', { token: ci, body: { name: 'pr-1', parent: 'main', if_not_exists: true } });
      expect(again.status).toBe(200);
      expect(again.body.created).toBe(false);
      const deleted = await f.call('DELETE', branch('pr-1'), { token: ci });
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');
      expect((await f.call('GET', branch('pr-1'), { token: ci })).body.code).toBe('BRANCH_NOT_FOUND');
    });

    it('cannot manage tokens', async () => {
      expectDenied(await f.call('GET', '/v1/tokens', { token: ci }), 'list tokens');
      expectDenied(await f.call('POST', '/v1/tokens', { token: ci, body: { name: 'escalate', role: 'admin' } }), 'create token');
      expectDenied(await f.call('DELETE', '/v1/tokens/abcdef012345', { token: ci }), 'revoke token');
    });
  });

  describe('a read token', () => {
    let reader: string;
    beforeAll(async () => {
      reader = (await f.token('read')).token;
    });

    it('can read: list, get, connection, host status, the document', async () => {
      for (const path of ['/v1/branches', branch('staging'), branch('staging', '/connection'), '/v1/host', '/v1/openapi.json']) {
        const res = await f.call('GET', path, { token: reader });
        expect(res.status, `${path}: ${res.text}`).toBe(200);
      }
    });

    it('cannot write anything, whatever the body', async () => {
      const attempts: [string, string, unknown?][] = [
        ['POST', '/v1/branches', { name: 'pr-9', parent: 'main' }],
        ['POST', '/v1/branches', { bogus: true }],
        ['PATCH', branch('staging'), { idle_timeout_ms: 0 }],
        ['DELETE', branch('staging')],
        ['POST', branch('staging', '/reset')],
        ['POST', branch('staging', '/start')],
        ['POST', branch('staging', '/stop')],
        ['POST', branch('staging', '/suspend')],
        ['POST', branch('staging', '/rotate-password')],
        ['GET', '/v1/tokens'],
        ['POST', '/v1/tokens', { name: 'x', role: 'read' }],
        ['DELETE', '/v1/tokens/abcdef012345'],
      ];
      for (const [method, path, body] of attempts) expectDenied(await f.call(method, path, { token: reader, body }), `${method} ${path}`);
      await expect(f.t.host.getBranch('pr-9')).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
      expect((await f.t.host.getBranch('staging')).state).toBe('running');
    });
  });

  it('a write token without patterns still cannot manage tokens; an admin can', async () => {
    const writer = (await f.token('write')).token;
    expectDenied(await f.call('GET', '/v1/tokens', { token: writer }), 'write token lists tokens');
    expect((await f.call('GET', '/v1/tokens', { token: f.adminToken })).status).toBe(200);
  });

  it('a revoked token is refused at once with 401', async () => {
    const created = await f.call('POST', '/v1/tokens', { token: f.adminToken, body: { name: 'short-lived', role: 'read' } });
    expect(created.status).toBe(201);
    const { token, id } = created.body as { token: string; id: string };
    expect((await f.call('GET', '/v1/branches', { token })).status).toBe(200);
    expect((await f.call('DELETE', `/v1/tokens/${id}`, { token: f.adminToken })).status).toBe(204);
    const refused = await f.call('GET', '/v1/branches', { token });
    expect(refused.status).toBe(401);
    expectProblemShape(refused);
    expect(refused.body.code).toBe('UNAUTHENTICATED');
    const again = await f.call('DELETE', `/v1/tokens/${id}`, { token: f.adminToken });
    expect(again.status).toBe(404);
    expect(again.body.code).toBe('TOKEN_NOT_FOUND');
  });

  it('shows a token secret only in its creation response: not in the list, not in state.db', async () => {
    const created = await f.call('POST', '/v1/tokens', { token: f.adminToken, body: { name: 'ci-secret', role: 'write', branch_patterns: ['pr-*'] } });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    expect(token).toMatch(/^pgb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    // The secret is everything after the id: base64url secrets may contain "_" themselves.
    const secret = token.slice('pgb_'.length + 12 + 1);
    expect(secret).toHaveLength(43);

    const list = await f.call('GET', '/v1/tokens', { token: f.adminToken });
    expect(list.status).toBe(200);
    expect(list.body.tokens).toContainEqual(expect.objectContaining({ id: created.body.id, name: 'ci-secret', role: 'write', branch_patterns: ['pr-*'] }));
    expect(list.text).not.toContain(secret);
    for (const t of list.body.tokens as Record<string, unknown>[]) expect(Object.keys(t).sort()).toEqual(['branch_patterns', 'created_at', 'id', 'last_used_at', 'masked_only', 'name', 'role']);

    // Every cell of every table, and the raw bytes of the database and its WAL.
    const stateFile = f.t.host.paths.stateFile;
    const db = new Database(stateFile, { readonly: true, fileMustExist: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      expect(tables.map((t) => t.name)).toContain('tokens');
      for (const { name } of tables) {
        const rows = JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all());
        expect(rows, `table ${name}`).not.toContain(secret);
      }
    } finally {
      db.close();
    }
    for (const file of [stateFile, `${stateFile}-wal`, `${stateFile}-journal`].filter((p) => existsSync(p))) {
      expect(readFileSync(file).includes(Buffer.from(secret)), file).toBe(false);
    }
  });
});
