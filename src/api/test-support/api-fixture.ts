import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { z } from 'zod';
import type { TokenInfo } from '../../branches/index.js';
import { createTestHost, type TestHost } from '../../test-support/test-host.js';
import { REDACTED_KEYS } from '../../util/index.js';
import { startApiServer, type ApiServer } from '../index.js';

export interface ApiResponse {
  readonly status: number;
  readonly contentType: string;
  /** Parsed JSON when the body is JSON, the text otherwise, null when empty. */
  readonly body: any;
  readonly text: string;
  readonly headers: Headers;
}

export interface CallOptions {
  readonly token?: string;
  /** JSON-encoded and sent with content-type application/json. */
  readonly body?: unknown;
  /** Sent as is (with `contentType`, default application/json). */
  readonly rawBody?: string;
  readonly contentType?: string;
}

export interface ApiFixture {
  readonly t: TestHost;
  readonly server: ApiServer;
  readonly adminToken: string;
  /** Every line the API logged, as written (JSON). */
  readonly logLines: string[];
  token(role: TokenInfo['role'], branchPatterns?: string[]): Promise<{ token: string; info: TokenInfo }>;
  call(method: string, path: string, options?: CallOptions): Promise<ApiResponse>;
  cleanup(): Promise<void>;
}

/**
 * A real host on a btrfs loop pool, its API on a free loopback port, and an admin token.
 * `config` changes the host's config file before the API opens it (quotas, expiry rules).
 */
export async function startApiFixture(options: { config?: (config: Record<string, unknown>) => Record<string, unknown> } = {}): Promise<ApiFixture> {
  const t = await createTestHost('btrfs');
  if (options.config) {
    const file = join(t.home, 'config.json');
    writeFileSync(file, JSON.stringify(options.config(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)));
    await t.reopen();
  }
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  // The same redaction as the real logger, at info level so that every request is logged.
  const logger = pino({ level: 'info', redact: { paths: REDACTED_KEYS, censor: '[redacted]' } }, sink);
  let server: ApiServer | undefined;
  try {
    server = await startApiServer({ host: t.host, listen: { host: '127.0.0.1', port: 0 }, logger });
  } catch (err) {
    await t.cleanup();
    throw err;
  }
  const { token: adminToken } = await t.host.createToken({ name: 'test-admin', role: 'admin' });
  const fixture: ApiFixture = {
    t,
    server,
    adminToken,
    logLines,
    async token(role, branchPatterns) {
      return t.host.createToken({ name: `test-${role}-${Math.random().toString(36).slice(2, 8)}`, role, branchPatterns });
    },
    async call(method, path, options = {}) {
      const headers: Record<string, string> = {};
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      let body: string | undefined;
      if (options.rawBody !== undefined) {
        body = options.rawBody;
        headers['content-type'] = options.contentType ?? 'application/json';
      } else if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] = 'application/json';
      }
      const res = await fetch(`${server!.url}${path}`, { method, headers, body });
      const text = await res.text();
      const contentType = res.headers.get('content-type') ?? '';
      let parsed: unknown = text === '' ? null : text;
      if (text !== '' && /json/.test(contentType)) parsed = JSON.parse(text);
      return { status: res.status, contentType, body: parsed, text, headers: res.headers };
    },
    async cleanup() {
      await server?.close();
      await t.cleanup();
    },
  };
  return fixture;
}

export function expectProblemShape(res: ApiResponse): void {
  if (!res.contentType.startsWith('application/problem+json')) {
    throw new Error(`expected application/problem+json, got "${res.contentType}" (HTTP ${res.status}): ${res.text}`);
  }
}

// --- validating against the OpenAPI document itself (not our zod schemas) ---

export type OpenApiDocument = {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
  security?: Record<string, string[]>[];
};

export type OpenApiOperation = {
  operationId: string;
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean; schema: Record<string, unknown> }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Record<string, unknown> }> }>;
};

export const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export function operations(doc: OpenApiDocument): { method: string; path: string; op: OpenApiOperation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    HTTP_METHODS.filter((m) => item[m]).map((method) => ({ method: method.toUpperCase(), path, op: item[method]! })),
  );
}

const toDefs = (value: unknown): unknown => JSON.parse(JSON.stringify(value).replaceAll('"#/components/schemas/', '"#/$defs/'));

/**
 * A validator for one schema of the document, built from the document's JSON Schema (with zod's
 * JSON Schema importer), so it checks what the document promises rather than our zod schemas.
 */
export function documentValidator(doc: OpenApiDocument, schema: unknown): (value: unknown) => void {
  const root = { ...(toDefs(schema) as object), $defs: toDefs(doc.components.schemas) };
  const validator = z.fromJSONSchema(root as never, { defaultTarget: 'draft-2020-12' });
  return (value) => {
    const result = validator.safeParse(value);
    if (!result.success) throw new Error(`does not match the documented schema: ${z.prettifyError(result.error)}\n${JSON.stringify(value)}`);
  };
}

/** Resolves a `$ref` into the document's components (one level is all the document uses). */
export function resolve(doc: OpenApiDocument, schema: Record<string, unknown>): Record<string, unknown> {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  return doc.components.schemas[ref.replace('#/components/schemas/', '')] as Record<string, unknown>;
}
