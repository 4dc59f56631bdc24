import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { scramSha256Verifier } from './scram.js';

// RFC 7677 section 3 example exchange (user "user", password "pencil").
const RFC_SALT = 'W22ZaJ0SNY7soEsUEjb6gQ==';
const RFC_AUTH_MESSAGE =
  'n=user,r=rOprNGfwEbeRWgbNEkqO,' +
  'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,' +
  'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
const RFC_CLIENT_PROOF = 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const RFC_SERVER_SIGNATURE = '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

function parse(verifier: string) {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (!m) throw new Error(`bad verifier ${verifier}`);
  return { iterations: Number(m[1]), salt: m[2]!, storedKey: Buffer.from(m[3]!, 'base64'), serverKey: Buffer.from(m[4]!, 'base64') };
}

describe('scramSha256Verifier', () => {
  it('matches the RFC 7677 example: the server signature and the client proof verify', () => {
    const v = parse(scramSha256Verifier('pencil', { salt: Buffer.from(RFC_SALT, 'base64') }));
    expect(v.iterations).toBe(4096);
    expect(v.salt).toBe(RFC_SALT);
    expect(createHmac('sha256', v.serverKey).update(RFC_AUTH_MESSAGE).digest('base64')).toBe(RFC_SERVER_SIGNATURE);
    // What the server does with a client proof: recover ClientKey, hash it, compare to StoredKey.
    const signature = createHmac('sha256', v.storedKey).update(RFC_AUTH_MESSAGE).digest();
    const proof = Buffer.from(RFC_CLIENT_PROOF, 'base64');
    const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]!));
    expect(createHash('sha256').update(clientKey).digest().equals(v.storedKey)).toBe(true);
  });

  it('is deterministic for a fixed salt and has the pg_authid format', () => {
    const salt = Buffer.alloc(16, 7);
    const a = scramSha256Verifier('s3cret', { salt });
    expect(a).toBe(scramSha256Verifier('s3cret', { salt }));
    expect(a).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(a.startsWith('SCRAM-SHA-256$4096:BwcHBwcHBwcHBwcHBwcHBw==$')).toBe(true);
    expect(scramSha256Verifier('s3cret', { salt })).not.toBe(scramSha256Verifier('s3cres', { salt }));
  });

  it('refuses a non-ASCII password (branch passwords are generated ASCII; SASLprep would be needed otherwise)', () => {
    expect(() => scramSha256Verifier('pässword')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('uses a fresh random salt by default', () => {
    expect(parse(scramSha256Verifier('x')).salt).not.toBe(parse(scramSha256Verifier('x')).salt);
  });
});
