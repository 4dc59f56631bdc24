import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPoolSkipReason } from '../test-support/test-host.js';
import { expectProblemShape, startApiFixture, type ApiFixture } from './test-support/api-fixture.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`GET /v1/token tests skipped: ${skip}`);

describe.skipIf(skip !== undefined)('GET /v1/token: the calling token, for clients that show only what it may do', () => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await startApiFixture();
  });
  afterAll(async () => f?.cleanup());

  it('tells a scoped token its own id, name, role and patterns, and nothing secret', async () => {
    const { token, info } = await f.token('write', ['pr-*', 'qa-?']);
    const res = await f.call('GET', '/v1/token', { token });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ id: info.tokenId, name: info.name, role: 'write', branch_patterns: ['pr-*', 'qa-?'], masked_only: false });
    // pgb_<12-character id>_<secret>; the secret itself may contain "_".
    expect(res.text).not.toContain(token.slice(17));
  });

  it('answers any role, and an unscoped token has no patterns', async () => {
    const { token, info } = await f.token('read');
    expect((await f.call('GET', '/v1/token', { token })).body).toEqual({ id: info.tokenId, name: info.name, role: 'read', branch_patterns: [], masked_only: false });
    expect((await f.call('GET', '/v1/token', { token: f.adminToken })).body).toMatchObject({ role: 'admin' });
  });

  it('refuses a missing, malformed or revoked token with 401 UNAUTHENTICATED', async () => {
    const { token, info } = await f.token('read');
    expect((await f.call('DELETE', `/v1/tokens/${info.tokenId}`, { token: f.adminToken })).status).toBe(204);
    for (const attempt of [undefined, 'pgb_nope', token]) {
      const res = await f.call('GET', '/v1/token', { token: attempt });
      expect(res.status).toBe(401);
      expectProblemShape(res);
      expect(res.body.code).toBe('UNAUTHENTICATED');
    }
  });
});
