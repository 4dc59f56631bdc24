import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { saslprep } from './saslprep.js';
import { createScramClient, md5PasswordResponse } from './scram-client.js';

/** StoredKey as PostgreSQL derives it from a plaintext password (SASLprep first, like the server does). */
function storedKeyOf(password: string, salt: Buffer, iterations: number): Buffer {
  const salted = pbkdf2Sync(Buffer.from(saslprep(password), 'utf8'), salt, iterations, 32, 'sha256');
  return createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest();
}

describe('SCRAM-SHA-256 client', () => {
  it('produces the proof of RFC 7677 and checks its server signature', () => {
    const client = createScramClient('pencil', { nonce: 'rOprNGfwEbeRWgbNEkqO', user: 'user' });
    expect(client.clientFirst.toString()).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const final = client.final(Buffer.from('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'));
    expect(final.toString()).toBe('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    expect(() => client.verify(Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='))).not.toThrow();
    expect(() => client.verify(Buffer.from('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='))).toThrow(/signature/);
  });

  it('proves a non-ASCII source password against the verifier PostgreSQL would store (NFKC-equal forms too)', () => {
    const salt = Buffer.from('0123456789abcdef');
    // The server stored the verifier of "IX-fix pässword"; the user types the Roman numeral and the ligature.
    const storedKey = storedKeyOf('IX-fix pässword', salt, 4096);
    const client = createScramClient('\u2168-\uFB01x pässword', { nonce: 'abc' });
    const serverFirst = `r=abcdef,s=${salt.toString('base64')},i=4096`;
    const final = client.final(Buffer.from(serverFirst)).toString();
    // Server side: ClientKey = proof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) must be StoredKey.
    const withoutProof = final.slice(0, final.indexOf(',p='));
    const proof = Buffer.from(final.slice(final.indexOf(',p=') + 3), 'base64');
    const authMessage = `n=,r=abc,${serverFirst},${withoutProof}`;
    const signature = createHmac('sha256', storedKey).update(authMessage).digest();
    const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]!));
    expect(createHash('sha256').update(clientKey).digest().equals(storedKey)).toBe(true);
  });

  it('refuses a server nonce that does not extend ours', () => {
    const client = createScramClient('x', { nonce: 'abc' });
    expect(() => client.final(Buffer.from('r=xyz,s=AAAA,i=4096'))).toThrow(/nonce/);
  });
});

describe('md5 password', () => {
  it('hashes like libpq', () => {
    expect(md5PasswordResponse('postgres', 'secret', Buffer.from([1, 2, 3, 4]))).toBe('md5bb41a296aab6baccb36ff243a562abff');
  });
});
