/**
 * The Postgres endpoint: one port for every branch. A connection is routed by its TLS server
 * name `<branch>.<publicHost>` or by its user name `<role>.<branch>` (split at the first dot, so
 * roles whose names contain a dot cannot be used through the endpoint), the branch is woken if
 * suspended, and from then on bytes are relayed. Authentication runs end to end between client
 * and branch (SCRAM); the endpoint never sees a password.
 */
export { createProxyServer, type ProxyServer, type ProxyServerOptions } from './server.js';
export type { BranchRouter, BranchSession, ProxyLog } from './connection.js';
export { ensureCertificate, type CertificateFiles, type CertificateOptions, type EnsuredCertificate } from './certificate.js';
