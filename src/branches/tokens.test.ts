import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore } from '../state/index.js';
import { authenticate, authorize, createToken, matchesPattern, type Principal } from './tokens.js';

describe('API tokens', () => {
  let dir: string;
  let store: StateStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgbranch-tokens-'));
    store = StateStore.open(join(dir, 'state.db'));
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores only a hash; the token authenticates, a tampered one does not', () => {
    const { token, info } = createToken(store, { name: 'ci', role: 'write', branchPatterns: ['pr-*'] });
    expect(token).toMatch(/^pgb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const stored = store.getToken(info.tokenId)!;
    expect(JSON.stringify(stored)).not.toContain(token.slice('pgb_'.length + 13)); // the secret: after "pgb_", the 12-character id and "_"
    expect(authenticate(store, token)).toMatchObject({ name: 'ci', role: 'write', branchPatterns: ['pr-*'] });
    expect(store.getToken(info.tokenId)!.lastUsedAt).not.toBeNull();
    const tampered = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    expect(() => authenticate(store, tampered)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
    expect(() => authenticate(store, undefined)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
    expect(() => authenticate(store, 'Bearer nonsense')).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
    store.deleteToken(info.tokenId);
    expect(() => authenticate(store, token)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
  });

  it('rejects bad names, roles and patterns', () => {
    expect(() => createToken(store, { name: '', role: 'read' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => createToken(store, { name: 'x', role: 'root' as never })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => createToken(store, { name: 'x', role: 'read', branchPatterns: ['PR-*'] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('matches glob patterns on whole names', () => {
    expect(matchesPattern('pr-*', 'pr-123')).toBe(true);
    expect(matchesPattern('pr-*', 'main')).toBe(false);
    expect(matchesPattern('pr-*', 'xpr-1')).toBe(false);
    expect(matchesPattern('feature/*', 'feature/a/b')).toBe(true);
    expect(matchesPattern('v1.?', 'v1.2')).toBe(true);
    expect(matchesPattern('v1.?', 'v1x2')).toBe(false);
  });

  it('never lets a token create a more powerful one', () => {
    const scopedAdmin: Principal = { tokenId: 'c', name: 'scoped', role: 'admin', branchPatterns: ['pr-*', 'qa-*'], maskedOnly: false };
    const writer: Principal = { tokenId: 'd', name: 'w', role: 'write', branchPatterns: [], maskedOnly: false };
    expect(() => createToken(store, { name: 'x', role: 'admin' }, scopedAdmin)).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    expect(() => createToken(store, { name: 'x', role: 'read', branchPatterns: ['main'] }, scopedAdmin)).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    expect(createToken(store, { name: 'x', role: 'write', branchPatterns: ['pr-*'] }, scopedAdmin).info.branchPatterns).toEqual(['pr-*']);
    expect(() => createToken(store, { name: 'y', role: 'admin' }, writer)).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
  });

  it('authorizes by role level and branch pattern', () => {
    const ci: Principal = { tokenId: 'a', name: 'ci', role: 'write', branchPatterns: ['pr-*'], maskedOnly: false };
    const reader: Principal = { tokenId: 'b', name: 'r', role: 'read', branchPatterns: [], maskedOnly: false };
    expect(() => authorize(ci, 'write', 'pr-7')).not.toThrow();
    expect(() => authorize(ci, 'read', 'main')).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    expect(() => authorize(ci, 'admin')).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    expect(() => authorize(reader, 'read', 'main')).not.toThrow();
    expect(() => authorize(reader, 'write', 'main')).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
  });
});
