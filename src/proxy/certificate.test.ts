import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureCertificate } from './certificate.js';

describe('ensureCertificate (real openssl)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgbranch-cert-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('generates a self-signed EC certificate for the names, with a 0600 key, once', async () => {
    const files = { certFile: join(dir, 'tls', 'server.crt'), keyFile: join(dir, 'tls', 'server.key') };
    const made = await ensureCertificate({ ...files, hostNames: ['db.example.com', '*.db.example.com', 'localhost'], ips: ['127.0.0.1'] });
    expect(made.created).toBe(true);
    const x509 = new X509Certificate(made.cert);
    expect(x509.subjectAltName).toBe('DNS:db.example.com, DNS:*.db.example.com, DNS:localhost, IP Address:127.0.0.1');
    expect(x509.subject).toContain('CN=db.example.com');
    expect(x509.checkHost('pr-1.db.example.com')).toBe('*.db.example.com');
    expect(x509.publicKey.asymmetricKeyType).toBe('ec');
    expect(x509.checkPrivateKey(createPrivateKey(made.key))).toBe(true);
    expect(statSync(files.keyFile).mode & 0o777).toBe(0o600);

    const again = await ensureCertificate({ ...files, hostNames: ['other'] });
    expect(again.created).toBe(false);
    expect(again.cert.equals(made.cert)).toBe(true);
  });

  it('refuses to replace one file of a pair', async () => {
    const certFile = join(dir, 'lonely.crt');
    writeFileSync(certFile, 'not ours to overwrite');
    await expect(ensureCertificate({ certFile, keyFile: join(dir, 'lonely.key'), hostNames: ['x'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
