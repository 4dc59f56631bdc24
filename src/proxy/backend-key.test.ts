import { describe, expect, it } from 'vitest';
import { BackendKeyRewriter } from './backend-key.js';
import { CancelKeys } from './cancel-keys.js';
import type { BackendKey } from './protocol.js';
import { bytes, splits } from './test-support/bytes.js';

// What a server sends after a successful SCRAM login, then the first query's answer.
const authOk = bytes().int32(0).message('R');
const paramStatus = bytes().cstring('server_version').cstring('18.1').message('S');
const keyData = (pid: number, secret: Buffer): Buffer => bytes().int32(pid).raw(secret).message('K');
const ready = bytes().char('I').message('Z');
const afterReady = Buffer.concat([bytes().cstring('SELECT 1').message('C'), bytes().char('I').message('Z')]);

const proxyKey = (key: BackendKey): BackendKey => ({ processId: key.processId + 1_000_000, secretKey: Buffer.alloc(key.secretKey.length, 0xaa) });

function run(chunks: readonly Buffer[]): { out: Buffer; seen: BackendKey[]; doneAfter: number } {
  const seen: BackendKey[] = [];
  const rewriter = new BackendKeyRewriter((k) => {
    seen.push(k);
    return proxyKey(k);
  });
  const out: Buffer[] = [];
  let doneAfter = -1;
  for (const [i, chunk] of chunks.entries()) {
    if (rewriter.done) {
      out.push(chunk); // the caller relays raw from here on
      continue;
    }
    out.push(rewriter.transform(chunk));
    if (rewriter.done && doneAfter < 0) doneAfter = i;
  }
  return { out: Buffer.concat(out), seen, doneAfter };
}

describe('BackendKeyRewriter', () => {
  for (const [label, secret] of [
    ['protocol 3.0 (4-byte secret)', Buffer.from([1, 2, 3, 4])],
    ['protocol 3.2 (32-byte secret)', Buffer.alloc(32, 5)],
  ] as const) {
    it(`replaces BackendKeyData with the issued key, ${label}, however the stream is split`, () => {
      const stream = Buffer.concat([authOk, paramStatus, keyData(4321, secret), ready, afterReady]);
      const expected = Buffer.concat([authOk, paramStatus, keyData(1_004_321, Buffer.alloc(secret.length, 0xaa)), ready, afterReady]);
      for (const chunks of [[stream], ...splits(stream)]) {
        const { out, seen } = run(chunks);
        expect(out).toEqual(expected);
        expect(seen).toEqual([{ processId: 4321, secretKey: secret }]);
      }
    });
  }

  it('stops interpreting at the first ReadyForQuery: later K-looking bytes pass untouched', () => {
    const lookalike = keyData(1, Buffer.from([9, 9, 9, 9]));
    const { out, seen } = run([Buffer.concat([authOk, ready, lookalike])]);
    expect(seen).toEqual([]);
    expect(out).toEqual(Buffer.concat([authOk, ready, lookalike]));
  });

  it('passes an authentication error through unchanged (no ReadyForQuery follows)', () => {
    const error = bytes().char('S').cstring('FATAL').char('C').cstring('28P01').char('M').cstring('password authentication failed').byte(0).message('E');
    for (const chunks of splits(error)) {
      const { out, doneAfter } = run(chunks);
      expect(out).toEqual(error);
      expect(doneAfter).toBe(-1);
    }
  });

  it('returns the very chunk (no copy) when there is nothing to replace', () => {
    const rewriter = new BackendKeyRewriter(proxyKey);
    const chunk = Buffer.concat([authOk, ready]);
    expect(rewriter.transform(chunk)).toBe(chunk);
    expect(rewriter.done).toBe(true);
  });
});

describe('CancelKeys', () => {
  it('keeps the backend pid, replaces the secret with random bytes of the same length and finds the target by it', () => {
    const keys = new CancelKeys();
    const backendKey = { processId: 12345, secretKey: Buffer.from([1, 2, 3, 4]) };
    const { key, revoke } = keys.issue({ port: 5000, backendKey });
    expect(key.processId).toBe(12345);
    expect(key.secretKey).toHaveLength(4);
    expect(key.secretKey.equals(backendKey.secretKey)).toBe(false);
    expect(keys.lookup(key)).toEqual({ port: 5000, backendKey });
    // The backend's own secret, a wrong length or a wrong secret: nothing.
    expect(keys.lookup(backendKey)).toBeUndefined();
    expect(keys.lookup({ processId: 12345, secretKey: Buffer.alloc(8) })).toBeUndefined();
    revoke();
    expect(keys.lookup(key)).toBeUndefined();
    expect(keys.size).toBe(0);
  });

  it('issues a stand-in id outside the pid range if a pid is already in use, and a revoke only removes its own entry', () => {
    const keys = new CancelKeys();
    const a = keys.issue({ port: 5000, backendKey: { processId: 77, secretKey: Buffer.alloc(4, 1) } });
    const b = keys.issue({ port: 5001, backendKey: { processId: 77, secretKey: Buffer.alloc(32, 2) } });
    expect(b.key.processId).toBeGreaterThan(2 ** 22);
    expect(b.key.secretKey).toHaveLength(32);
    expect(keys.lookup(b.key)?.port).toBe(5001);
    a.revoke();
    expect(keys.lookup(b.key)?.port).toBe(5001);
    expect(keys.lookup(a.key)).toBeUndefined();
  });
});
