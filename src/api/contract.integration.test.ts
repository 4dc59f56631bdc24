import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCluster, type TestCluster } from '../postgres/test-support/instance-fixture.js';
import { sql } from '../test-support/host-invariants.js';
import { testPoolSkipReason } from '../test-support/test-host.js';
import { parseServerTiming } from '../util/index.js';
import {
  documentValidator,
  expectProblemShape,
  operations,
  resolve,
  startApiFixture,
  type ApiFixture,
  type ApiResponse,
  type OpenApiDocument,
  type OpenApiOperation,
} from './test-support/api-fixture.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`API contract tests skipped: ${skip}`);

/** A branch name with "/" exercises percent-encoded path parameters on every branch route. */
const BRANCH = 'feature/contract';
const DELETE_ME = 'feature/delete-me';
const SNAPSHOT = 'snap/contract';
const DELETE_SNAPSHOT = 'snap/delete-me';
const REFRESHED = 'refreshed';
let source: TestCluster | undefined;

interface ValidCall {
  readonly params?: Record<string, string | (() => string)>;
  readonly query?: string;
  readonly body?: unknown;
  readonly setup?: (f: ApiFixture) => Promise<void>;
  /** The status a valid call must answer with (documented, 2xx). */
  readonly status: number;
  readonly check?: (res: ApiResponse, f: ApiFixture) => Promise<void> | void;
}

let revocable = '';

/**
 * One valid call per operation, in the order they run. The test fails when the document has an
 * operation that is missing here (or the other way round), so a new route cannot skip the contract.
 */
/** Need no token: health, and the OpenAPI document (it holds no data and no secret). */
const OPEN_OPERATIONS = new Set(['health', 'getOpenApiDocument']);

const VALID_CALLS: Record<string, ValidCall> = {
  health: { status: 200, check: (res) => expect(res.body).toEqual({ status: 'ok' }) },
  getOpenApiDocument: { status: 200 },
  getMetrics: { status: 200, check: (res) => expect(res.text).toContain('pgbranch_api_requests') },
  getHostStatus: { status: 200, check: (res) => expect(res.body).toMatchObject({ driver: 'btrfs', branches: expect.any(Number) }) },
  createBranch: {
    body: { name: BRANCH, parent: 'main' },
    status: 201,
    check: (res) => expect(res.body).toMatchObject({ name: BRANCH, parent: 'main', state: 'running', created: true }),
  },
  listBranches: {
    query: '?with_usage=false',
    status: 200,
    check: (res) => expect((res.body.branches as { name: string }[]).map((b) => b.name)).toEqual(expect.arrayContaining(['main', BRANCH])),
  },
  getBranch: { params: { name: BRANCH }, status: 200, check: (res) => expect(res.body.name).toBe(BRANCH) },
  updateBranch: {
    params: { name: BRANCH },
    body: { idle_timeout_ms: 60_000 },
    status: 200,
    check: (res) => expect(res.body.idle_timeout_ms).toBe(60_000),
  },
  getConnection: {
    params: { name: BRANCH },
    status: 200,
    async check(res) {
      expect(res.body.url_unpooled).toMatch(/^postgresql:\/\/.+@127\.0\.0\.1:\d+\//);
      expect(res.body.url).toMatch(/^postgresql:\/\//);
      expect(await sql(res.body.url_unpooled, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    },
  },
  maskCheck: {
    params: { name: BRANCH },
    body: { rules: 'version: 1\ntables: {}\n', file: 'masking.yaml' },
    status: 200,
    check: (res) => expect(res.body).toMatchObject({ branch: BRANCH, ruled_columns: 0, rules_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }),
  },
  rotatePassword: {
    params: { name: BRANCH },
    status: 200,
    async check(res) {
      expect(await sql(res.body.url_unpooled, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    },
  },
  stopBranch: { params: { name: BRANCH }, status: 200, check: (res) => expect(res.body.state).toBe('stopped') },
  startBranch: { params: { name: BRANCH }, status: 200, check: (res) => expect(res.body.state).toBe('running') },
  suspendBranch: { params: { name: BRANCH }, status: 200, check: (res) => expect(res.body.state).toBe('suspended') },
  resetBranch: { params: { name: BRANCH }, status: 200, check: (res) => expect(res.body.reset_at).not.toBeNull() },
  deleteBranch: {
    params: { name: DELETE_ME },
    setup: async (f) => void (await f.t.host.createBranch(DELETE_ME, { origin: { kind: 'parent', parent: 'main' } })),
    status: 204,
    check: async (_res, f) => await expect(f.t.host.getBranch(DELETE_ME)).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' }),
  },
  createSnapshot: {
    body: { branch: BRANCH, name: SNAPSHOT },
    status: 201,
    check: (res) => expect(res.body).toMatchObject({ name: SNAPSHOT, branch: BRANCH, branch_deleted: false }),
  },
  listSnapshots: {
    status: 200,
    check: (res) => expect((res.body.snapshots as { name: string }[]).map((s) => s.name)).toContain(SNAPSHOT),
  },
  getSnapshot: { params: { name: SNAPSHOT }, status: 200, check: (res) => expect(res.body).toMatchObject({ name: SNAPSHOT, branch: BRANCH }) },
  diffBranch: {
    params: { name: BRANCH },
    query: `?against=${encodeURIComponent(`snapshot:${SNAPSHOT}`)}&rows=true&limit=10&verify=true`,
    status: 200,
    check: (res) =>
      expect(res.body).toMatchObject({
        from: { kind: 'snapshot', name: SNAPSHOT, ref: `snapshot:${SNAPSHOT}` },
        to: { kind: 'branch', name: BRANCH },
        schema: { statements: expect.any(Array), verification: { proven: true } },
        data: { method: 'full', full_reason: 'not-branch-point', totals: { inserted: 0, updated: 0, deleted: 0 } },
      }),
  },
  rebaseBranch: {
    params: { name: BRANCH },
    body: { dry_run: true, prefer: 'parent' },
    status: 200,
    check: (res) =>
      expect(res.body).toMatchObject({ branch: BRANCH, action: 'rebase', onto: 'main', dry_run: true, applied: false, prefer: 'parent', conflict_count: 0, undo_snapshot: null }),
  },
  deleteSnapshot: {
    params: { name: DELETE_SNAPSHOT },
    setup: async (f) => void (await f.t.host.createSnapshot('main', DELETE_SNAPSHOT)),
    status: 204,
    check: async (_res, f) => await expect(f.t.host.getSnapshot(DELETE_SNAPSHOT)).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' }),
  },
  listTokens: { status: 200, check: (res) => expect(res.body.tokens.length).toBeGreaterThan(0) },
  getCallerToken: { status: 200, check: (res, f) => expect(res.body).toEqual({ id: f.adminToken.split('_')[1], name: 'test-admin', role: 'admin', branch_patterns: [], masked_only: false }) },
  createToken: {
    body: { name: 'contract', role: 'write', branch_patterns: ['pr-*'] },
    status: 201,
    check: (res) => expect(res.body).toMatchObject({ name: 'contract', role: 'write', branch_patterns: ['pr-*'], token: expect.stringMatching(/^pgb_/) }),
  },
  revokeToken: {
    params: { id: () => revocable },
    setup: async (f) => {
      revocable = (await f.t.host.createToken({ name: 'revocable', role: 'read' })).info.tokenId;
    },
    status: 204,
  },
  listAudit: {
    query: `?branch=${encodeURIComponent(BRANCH)}&limit=5`,
    status: 200,
    check: (res) => {
      expect(res.body.entries.length).toBeGreaterThan(0);
      expect(res.body.entries.length).toBeLessThanOrEqual(5);
      expect(res.body.entries[0]).toMatchObject({ target_kind: 'branch', target: BRANCH, actor: expect.stringMatching(/^token:/) });
    },
  },
  runGc: { body: { dry_run: true }, status: 200, check: (res) => expect(res.body).toMatchObject({ dry_run: true, actions: expect.any(Array) }) },
  getSource: {
    params: { name: REFRESHED },
    // A root made from a live server (Debian's PostgreSQL 15, which pg_dump 15 can read).
    setup: async (f) => {
      source = await createTestCluster({ major: 15, database: 'shop', password: 'contract-Src-pw' });
      await source.start();
      await f.t.host.createBranch(REFRESHED, { origin: { kind: 'source', source: { kind: 'url', url: `postgresql://postgres:${source.password}@127.0.0.1:${source.port}/shop` } } });
    },
    status: 200,
    check: (res) => {
      expect(res.body).toMatchObject({ branch: REFRESHED, mode: 'refresh', follow: null, refresh: { generation: 1, running: false } });
      expect(res.text).not.toContain('contract-Src-pw');
    },
  },
  updateSource: {
    params: { name: REFRESHED },
    body: { refresh_cron: '0 3 * * *' },
    status: 200,
    check: (res) => expect(res.body).toMatchObject({ refresh: { cron: '0 3 * * *', next_refresh_at: expect.any(String) } }),
  },
  refreshSource: { params: { name: REFRESHED }, status: 200, check: (res) => expect(res.body).toMatchObject({ name: REFRESHED, state: 'running' }) },
};

/** Values that pass validation for every path parameter (the operation may still 404). */
const VALID_PARAM: Record<string, string> = { name: BRANCH, id: 'abcdef012345' };

function fillPath(path: string, params: Record<string, string | (() => string)> = {}): string {
  return path.replace(/\{(\w+)\}/g, (_m, key: string) => {
    const value = params[key] ?? VALID_PARAM[key];
    if (value === undefined) throw new Error(`no value for path parameter ${key}`);
    return encodeURIComponent(typeof value === 'function' ? value() : value);
  });
}

/** A value of the wrong JSON type for a property schema. */
function wrongType(schema: Record<string, unknown>): unknown {
  const types = ([] as unknown[]).concat(schema.type ?? []);
  if (types.includes('string')) return 12345;
  if (types.includes('integer') || types.includes('number')) return 'not a number';
  if (types.includes('boolean')) return 'yes';
  if (types.includes('array')) return 'not an array';
  return 42; // objects, unions, references
}

describe.skipIf(skip !== undefined)('REST API contract: the OpenAPI document, walked route by route', () => {
  let f: ApiFixture;
  let doc: OpenApiDocument;

  beforeAll(async () => {
    f = await startApiFixture();
    const res = await f.call('GET', '/v1/openapi.json', { token: f.adminToken });
    expect(res.status, res.text).toBe(200);
    doc = res.body as OpenApiDocument;
  });
  afterAll(async () => {
    await f?.cleanup();
    await source?.destroy();
  });

  /** The response is documented for this operation and matches the documented schema. */
  function expectDocumented(op: OpenApiOperation, res: ApiResponse): void {
    const documented = op.responses[String(res.status)];
    expect(documented, `HTTP ${res.status} is not documented for ${op.operationId}: ${res.text}`).toBeDefined();
    if (!documented!.content) {
      expect(res.text, `${op.operationId} ${res.status} has no documented body`).toBe('');
      return;
    }
    const mediaType = res.contentType.split(';')[0]!.trim();
    const content = documented!.content[mediaType];
    expect(content, `${op.operationId} ${res.status}: content type ${mediaType} is not documented`).toBeDefined();
    documentValidator(doc, content!.schema)(res.body);
  }

  it('is OpenAPI 3.1 with a bearer security scheme required everywhere but health and the document itself', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.components.securitySchemes).toEqual({ bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }) });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    for (const { op } of operations(doc)) {
      const security = op.security ?? doc.security;
      if (OPEN_OPERATIONS.has(op.operationId)) expect(security).toEqual([]);
      else expect(security, op.operationId).toEqual([{ bearerAuth: [] }]);
    }
  });

  it('documents every CLI operation, and this test has a valid call for each documented operation', () => {
    const ids = operations(doc).map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(Object.keys(VALID_CALLS).sort());
    // What the CLI does: status, branch create/list/get/url/reset/start/stop/delete, rotate-password, set, suspend, token create/list/revoke.
    for (const cli of ['getHostStatus', 'createBranch', 'listBranches', 'getBranch', 'getConnection', 'resetBranch', 'startBranch', 'stopBranch', 'deleteBranch']) {
      expect(ids).toContain(cli);
    }
  });

  it('the validator used below is a real one: it rejects what the document forbids', () => {
    const validate = documentValidator(doc, { $ref: '#/components/schemas/Token' });
    const good = { id: 'abcdef012345', name: 'x', role: 'read', branch_patterns: [], masked_only: false, created_at: '2024-01-01T00:00:00.000Z', last_used_at: null };
    expect(() => validate(good)).not.toThrow();
    expect(() => validate({ ...good, secret: 'leak' })).toThrow(/documented schema/);
    expect(() => validate({ ...good, role: 'root' })).toThrow(/documented schema/);
    const { name: _name, ...missing } = good;
    expect(() => validate(missing)).toThrow(/documented schema/);
  });

  it('every operation but health and the document answers 401 problem+json UNAUTHENTICATED without a token or with a bad one', async () => {
    for (const { method, path, op } of operations(doc)) {
      const url = fillPath(path);
      const body = op.requestBody ? VALID_CALLS[op.operationId]?.body ?? {} : undefined;
      for (const token of [undefined, 'pgb_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'not-a-token']) {
        const res = await f.call(method, url, { token, body });
        if (OPEN_OPERATIONS.has(op.operationId)) {
          expect(res.status).toBe(200);
          continue;
        }
        expect(res.status, `${method} ${path}`).toBe(401);
        expectProblemShape(res);
        expect(res.body).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', type: 'https://pgbranch.dev/errors/unauthenticated' });
        expectDocumented(op, res);
      }
    }
  });

  it('every operation with input rejects bad bodies, parameters and queries with 400 problem+json', async () => {
    let checked = 0;
    for (const { method, path, op } of operations(doc)) {
      const valid = VALID_CALLS[op.operationId]!;
      const cases: { what: string; url: string; body?: unknown; rawBody?: string; code: string[] }[] = [];
      const params = op.parameters ?? [];
      for (const p of params.filter((p) => p.in === 'path')) {
        cases.push({
          what: `path ${p.name} "Bad!"`,
          url: fillPath(path, { [p.name]: 'Bad!' }),
          body: valid.body,
          code: [p.name === 'name' ? 'INVALID_BRANCH_NAME' : 'INVALID_ARGUMENT'],
        });
      }
      for (const p of params.filter((p) => p.in === 'query' && Array.isArray(p.schema.enum))) {
        cases.push({ what: `query ${p.name}=maybe`, url: `${fillPath(path)}?${p.name}=maybe`, code: ['INVALID_ARGUMENT'] });
      }
      if (op.requestBody) {
        const schema = resolve(doc, op.requestBody.content['application/json']!.schema);
        const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
        const url = fillPath(path);
        // An optional body (rebase: every field has a default) may be empty or absent.
        if (op.requestBody.required) {
          cases.push({ what: 'body {}', url, body: {}, code: ['INVALID_ARGUMENT'] });
          cases.push({ what: 'no body', url, code: ['INVALID_ARGUMENT'] });
        }
        cases.push({ what: 'malformed JSON', url, rawBody: '{"name": ', code: ['INVALID_ARGUMENT'] });
        cases.push({ what: 'a JSON array', url, body: [valid.body], code: ['INVALID_ARGUMENT'] });
        cases.push({ what: 'an unknown field', url, body: { ...(valid.body as object), ifNotExists: true }, code: ['INVALID_ARGUMENT'] });
        for (const [key, propSchema] of Object.entries(properties)) {
          cases.push({ what: `body ${key} of the wrong type`, url, body: { ...(valid.body as object), [key]: wrongType(propSchema) }, code: ['INVALID_ARGUMENT'] });
        }
        for (const key of (schema.required ?? []) as string[]) {
          const { [key]: _dropped, ...rest } = valid.body as Record<string, unknown>;
          cases.push({ what: `body without required ${key}`, url, body: rest, code: ['INVALID_ARGUMENT'] });
        }
      }
      for (const c of cases) {
        const res = await f.call(method, c.url, { token: f.adminToken, body: c.body, rawBody: c.rawBody });
        expect(res.status, `${method} ${path}: ${c.what} → ${res.text}`).toBe(400);
        expectProblemShape(res);
        expect(c.code, `${method} ${path}: ${c.what}`).toContain(res.body.code);
        expectDocumented(op, res);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it('rejects bad branch names in bodies as INVALID_BRANCH_NAME, like the CLI', async () => {
    const res = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'Bad!', parent: 'main' } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'INVALID_BRANCH_NAME', issues: [{ in: 'body', path: 'name' }] });
    const cli = await f.t.cli('branch', 'create', 'Bad!', '--from', 'main', '-o', 'json');
    expect(JSON.parse(cli.stderr).error.code).toBe('INVALID_BRANCH_NAME');
  });

  describe('each operation, called validly, answers a documented status with a body matching the document', () => {
    for (const [operationId, valid] of Object.entries(VALID_CALLS)) {
      it(operationId, async () => {
        const found = operations(doc).find((o) => o.op.operationId === operationId);
        expect(found, `${operationId} is not in the document`).toBeDefined();
        const { method, path, op } = found!;
        await valid.setup?.(f);
        const token = operationId === 'health' ? undefined : f.adminToken;
        const res = await f.call(method, `${fillPath(path, valid.params)}${valid.query ?? ''}`, { token, body: valid.body });
        expect(res.status, `${method} ${path}: ${res.text}`).toBe(valid.status);
        expectDocumented(op, res);
        await valid.check?.(res, f);
      });
    }
  });

  it('create with if_not_exists answers 200 created: false for the same branch, 409 problem without it', async () => {
    const op = operations(doc).find((o) => o.op.operationId === 'createBranch')!.op;
    const again = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: BRANCH, parent: 'main', if_not_exists: true } });
    expect(again.status, again.text).toBe(200);
    expect(again.body).toMatchObject({ name: BRANCH, created: false });
    expectDocumented(op, again);
    const conflict = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: BRANCH, parent: 'main' } });
    expect(conflict.status).toBe(409);
    expectProblemShape(conflict);
    expect(conflict.body).toMatchObject({ code: 'BRANCH_EXISTS', type: 'https://pgbranch.dev/errors/branch-exists', title: 'Branch already exists', parent: 'main' });
    expectDocumented(op, conflict);
  });

  it('answers where the time of a request went in a Server-Timing header: the steps of a create, and the total', async () => {
    const made = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'timed', parent: 'main' } });
    expect(made.status, made.text).toBe(201);
    const steps = parseServerTiming(made.headers.get('server-timing'));
    expect([...steps.keys()]).toEqual(expect.arrayContaining(['lock', 'room', 'port', 'snapshot', 'clone', 'start', 'password', 'open-tcp', 'branch-point', 'total']));
    // The snapshot is part of the clone, which is part of the whole.
    expect(steps.get('clone')!).toBeGreaterThanOrEqual(steps.get('snapshot')!);
    expect(steps.get('total')!).toBeGreaterThanOrEqual(steps.get('clone')! + steps.get('start')!);
    const listed = await f.call('GET', '/v1/branches', { token: f.adminToken });
    expect([...parseServerTiming(listed.headers.get('server-timing')).keys()]).toContain('total');
    expect((await f.call('DELETE', '/v1/branches/timed', { token: f.adminToken })).status).toBe(204);
  });

  it('creates a branch from a snapshot (snapshot excludes parent/source; unknown snapshot is 404, duplicate 409)', async () => {
    const op = operations(doc).find((o) => o.op.operationId === 'createBranch')!.op;
    const made = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'from-snap', snapshot: SNAPSHOT } });
    expect(made.status, made.text).toBe(201);
    expect(made.body).toMatchObject({ name: 'from-snap', parent: null, source: { kind: 'snapshot', snapshot: SNAPSHOT }, created: true });
    expectDocumented(op, made);
    const both = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'from-snap-2', snapshot: SNAPSHOT, parent: 'main' } });
    expect(both.status).toBe(400);
    const unknown = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'from-snap-3', snapshot: 'no-such-snap' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('SNAPSHOT_NOT_FOUND');
    const dup = await f.call('POST', '/v1/snapshots', { token: f.adminToken, body: { branch: 'main', name: SNAPSHOT } });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('SNAPSHOT_EXISTS');
  });

  it('domain errors keep their catalogue status and code (404 BRANCH_NOT_FOUND, 409 ROOT_BRANCH_RESET)', async () => {
    const missing = await f.call('GET', `/v1/branches/${encodeURIComponent('no/such-branch')}`, { token: f.adminToken });
    expect(missing.status).toBe(404);
    expectProblemShape(missing);
    expect(missing.body).toMatchObject({ code: 'BRANCH_NOT_FOUND', name: 'no/such-branch', detail: expect.stringContaining('no/such-branch') });
    const root = await f.call('POST', '/v1/branches/main/reset', { token: f.adminToken });
    expect(root.status).toBe(409);
    expect(root.body.code).toBe('ROOT_BRANCH_RESET');
    const noParent = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'orphan', parent: 'nope' } });
    expect(noParent.status).toBe(404);
    expect(noParent.body.code).toBe('PARENT_NOT_FOUND');
  });

  it('routes and decodes percent-encoded names with "/"; an unencoded "/" is another path', async () => {
    const encoded = await f.call('GET', '/v1/branches/feature%2Fcontract', { token: f.adminToken });
    expect(encoded.status).toBe(200);
    expect(encoded.body.name).toBe('feature/contract');
    const lower = await f.call('GET', '/v1/branches/feature%2fcontract/connection', { token: f.adminToken });
    expect(lower.status, JSON.stringify(lower.body)).toBe(200);
    expect(lower.body.branch).toBe('feature/contract');
    const unencoded = await f.call('GET', '/v1/branches/feature/contract', { token: f.adminToken });
    expect(unencoded.status).toBe(404);
    expect(unencoded.body.code).toBe('NOT_FOUND');
  });

  it('unknown routes and methods are 404 problem+json NOT_FOUND with a token, 401 without', async () => {
    for (const [method, path] of [
      ['GET', '/v1/nope'],
      ['PUT', '/v1/branches'],
      ['GET', '/nope'],
      ['POST', '/v1/health'],
    ] as const) {
      const res = await f.call(method, path, { token: f.adminToken });
      expect(res.status, `${method} ${path}`).toBe(404);
      expectProblemShape(res);
      expect(res.body).toMatchObject({ code: 'NOT_FOUND', status: 404, type: 'https://pgbranch.dev/errors/not-found' });
      expect((await f.call(method, path)).status).toBe(401);
    }
  });

  it('refuses a body that is not JSON (415) or too large (413), as problem+json', async () => {
    const text = await f.call('POST', '/v1/branches', { token: f.adminToken, rawBody: 'name=x', contentType: 'text/plain' });
    expect(text.status).toBe(415);
    expectProblemShape(text);
    expect(text.body.code).toBe('INVALID_ARGUMENT');
    const big = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'big', parent: 'main', pad: 'x'.repeat(100_000) } });
    expect(big.status).toBe(413);
    expectProblemShape(big);
    // Without a Content-Length (chunked), the limit holds and a small body still reaches validation.
    const streamed = (text: string) =>
      fetch(`${f.server.url}/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${f.adminToken}`, 'content-type': 'application/json' },
        body: new Blob([text]).stream(),
        duplex: 'half',
      } as RequestInit);
    const chunkedBig = await streamed(JSON.stringify({ name: 'x'.repeat(100_000), role: 'read' }));
    expect(chunkedBig.status).toBe(413);
    const chunkedBad = await streamed(JSON.stringify({ name: 'chunked', role: 'root' }));
    expect(chunkedBad.status).toBe(400);
    expect(((await chunkedBad.json()) as { issues: { path: string }[] }).issues).toEqual([expect.objectContaining({ path: 'role' })]);
    const chunkedOk = await streamed(JSON.stringify({ name: 'chunked', role: 'read' }));
    expect(chunkedOk.status).toBe(201);
  });

  it('logs each request with method, path, status, duration and token id, never a secret', async () => {
    const secretUrl = 'postgresql://someone:hunter2-very-secret@127.0.0.1:1/db';
    const res = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'from-url', source: { kind: 'url', url: secretUrl } } });
    expect(res.status, res.text).toBe(500);
    expect(['IMPORT_FAILED', 'CLIENT_TOOL_UNSUITABLE']).toContain(res.body.code);
    expect(res.text).not.toContain('hunter2');
    await expect(f.t.host.getBranch('from-url')).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
    const created = await f.call('POST', '/v1/tokens', { token: f.adminToken, body: { name: 'log-check', role: 'read' } });
    const conn = await f.call('GET', `/v1/branches/${encodeURIComponent(BRANCH)}/connection`, { token: f.adminToken });
    const lines = f.logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const adminId = f.adminToken.split('_')[1];
    expect(lines).toContainEqual(expect.objectContaining({ method: 'GET', path: '/v1/branches/feature%2Fcontract/connection', status: 200, tokenId: adminId, durationMs: expect.any(Number) }));
    expect(lines).toContainEqual(expect.objectContaining({ method: 'GET', path: '/v1/nope', status: 401, tokenId: null }));
    const all = f.logLines.join('\n');
    for (const secret of ['hunter2', f.adminToken.slice('pgb_'.length + 13), (created.body.token as string).slice('pgb_'.length + 13), conn.body.password]) {
      expect(all).not.toContain(secret);
    }
  });
});
