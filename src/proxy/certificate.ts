import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PgbranchError } from '../errors.js';
import { run, which } from '../util/index.js';

export interface CertificateFiles {
  /** PEM certificate (chain). */
  readonly certFile: string;
  /** PEM private key (written with mode 0600). */
  readonly keyFile: string;
}

export interface CertificateOptions extends CertificateFiles {
  /** DNS names in subjectAltName; the first is also the subject CN. Wildcards allowed. */
  readonly hostNames: readonly string[];
  readonly ips?: readonly string[];
  /** Validity of a generated certificate (default 10 years). */
  readonly days?: number;
}

export interface EnsuredCertificate extends CertificateFiles {
  /** True when this call generated the pair. */
  readonly created: boolean;
  /** PEM contents, ready for `createProxyServer({ tls })`. */
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * The endpoint's TLS certificate: kept as is when both files exist (configured or made before),
 * else a self-signed P-256 certificate for the given names is generated with the openssl CLI.
 * One file without the other is an error, never silently replaced: it may be someone's real key.
 */
export async function ensureCertificate(options: CertificateOptions): Promise<EnsuredCertificate> {
  const { certFile, keyFile } = options;
  const haveCert = existsSync(certFile);
  const haveKey = existsSync(keyFile);
  if (haveCert && haveKey) return { certFile, keyFile, created: false, ...(await readPair(options)) };
  if (haveCert !== haveKey) {
    throw new PgbranchError('INVALID_ARGUMENT', `TLS ${haveCert ? `certificate ${certFile} exists without its key ${keyFile}` : `key ${keyFile} exists without its certificate ${certFile}`}`, {
      details: { certFile, keyFile },
    });
  }
  if (options.hostNames.length === 0) throw new PgbranchError('INVALID_ARGUMENT', 'a certificate needs at least one host name');
  const openssl = await which('openssl');
  if (!openssl) throw new PgbranchError('INTERNAL', 'openssl is needed to generate the endpoint certificate (apt-get install openssl), or configure serve.tls with your own files');

  await mkdir(dirname(certFile), { recursive: true, mode: 0o755 });
  await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
  const tmpCert = `${certFile}.tmp-${process.pid}`;
  const tmpKey = `${keyFile}.tmp-${process.pid}`;
  const altNames = [...new Set(options.hostNames)].map((n) => `DNS:${n}`).concat((options.ips ?? []).map((ip) => `IP:${ip}`));
  try {
    await run(
      openssl,
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', tmpKey, '-out', tmpCert,
        '-days', String(options.days ?? 3650),
        '-subj', `/CN=${options.hostNames[0]}`,
        '-addext', `subjectAltName=${altNames.join(',')}`,
        '-addext', 'extendedKeyUsage=serverAuth',
      ],
      { errorCode: 'INTERNAL', timeoutMs: 30_000 },
    );
    await chmod(tmpKey, 0o600);
    await chmod(tmpCert, 0o644);
    // Key first: a crash in between leaves a key without certificate, reported above, not a
    // certificate whose key is gone.
    await rename(tmpKey, keyFile);
    await rename(tmpCert, certFile);
  } finally {
    await rm(tmpKey, { force: true });
    await rm(tmpCert, { force: true });
  }
  return { certFile, keyFile, created: true, ...(await readPair(options)) };
}

async function readPair(files: CertificateFiles): Promise<{ cert: Buffer; key: Buffer }> {
  const [cert, key] = await Promise.all([readFile(files.certFile), readFile(files.keyFile)]);
  return { cert, key };
}
