/**
 * @pgbranch/client: a typed SDK for the pgbranch REST API. The types are generated from the
 * server's OpenAPI document (`npm run gen:client`); this file is a small fetch wrapper over them,
 * with no dependencies. Wire names are the API's: snake_case, like the CLI's JSON output.
 */
import type { components, operations, paths } from './openapi.js';

export type { components, operations, paths } from './openapi.js';
export type Schemas = components['schemas'];
export type Branch = Schemas['Branch'];
export type CreatedBranch = Schemas['CreatedBranch'];
export type CreateBranchRequest = Schemas['CreateBranchRequest'];
export type UpdateBranchRequest = Schemas['UpdateBranchRequest'];
export type Connection = Schemas['Connection'];
export type Snapshot = Schemas['Snapshot'];
export type HostStatus = Schemas['HostStatus'];
export type Problem = Schemas['Problem'];
export type Token = Schemas['Token'];
export type CreatedToken = Schemas['CreatedToken'];
export type Diff = Schemas['Diff'];

export interface ClientOptions {
  /** The server, e.g. http://127.0.0.1:5480 (a path prefix is kept). */
  readonly baseUrl: string;
  /** `pgb_…` API token; sent as a bearer token. */
  readonly token?: string | undefined;
  /** Default: the global fetch. */
  readonly fetch?: typeof fetch;
  /** Gives up on each request after this long (default: no limit; a create from a dump can take minutes). */
  readonly timeoutMs?: number;
}

/** A problem+json answer: `code` is the stable error code the CLI prints too (BRANCH_NOT_FOUND …). */
export class PgbranchApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problem: Problem | undefined,
  ) {
    super(message);
    this.name = 'PgbranchApiError';
  }
}

type Method = 'get' | 'post' | 'patch' | 'delete';
type Op<P extends keyof paths, M extends Method> = paths[P][M] extends infer O ? (O extends { responses: unknown } ? O : never) : never;
type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : undefined;
type Success<O> = O extends { responses: infer R } ? JsonOf<R[Extract<keyof R, 200 | 201 | 204>]> : never;
type Params<O> = O extends { parameters: infer P } ? P : never;
type Body<O> = O extends { requestBody: { content: { 'application/json': infer B } } } ? B : O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : undefined;

export interface RequestInit<P extends keyof paths, M extends Method> {
  readonly path?: Params<Op<P, M>> extends { path: infer X } ? X : undefined;
  readonly query?: Params<Op<P, M>> extends { query?: infer X } ? X : undefined;
  readonly body?: Body<Op<P, M>>;
}

export interface PgbranchClient {
  /** Any operation of the document, typed by its path and method. */
  request<P extends keyof paths, M extends Method & keyof paths[P]>(method: M, path: P, init?: RequestInit<P, M>): Promise<Success<Op<P, M>>>;
  readonly branches: {
    list(query?: { with_usage?: boolean }): Promise<Branch[]>;
    get(name: string): Promise<Branch>;
    create(body: CreateBranchRequest): Promise<CreatedBranch>;
    update(name: string, body: UpdateBranchRequest): Promise<Branch>;
    delete(name: string): Promise<void>;
    reset(name: string): Promise<Branch>;
    connection(name: string): Promise<Connection>;
  };
  readonly snapshots: {
    list(): Promise<Snapshot[]>;
    create(branch: string, name: string): Promise<Snapshot>;
    delete(name: string): Promise<void>;
  };
  status(): Promise<HostStatus>;
}

export function createClient(options: ClientOptions): PgbranchClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? fetch;

  async function request(method: Method, path: string, init: { path?: object; query?: object; body?: unknown } = {}): Promise<any> {
    const url = new URL(
      baseUrl + path.replace(/\{(\w+)\}/g, (_, key: string) => encodeURIComponent(String((init.path as Record<string, unknown> | undefined)?.[key] ?? ''))),
    );
    for (const [key, value] of Object.entries(init.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetchImpl(url, {
      method: method.toUpperCase(),
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs),
    });
    if (response.status === 204) return undefined;
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const problem = body as Problem | undefined;
      throw new PgbranchApiError(response.status, problem?.code ?? 'HTTP_ERROR', problem?.detail ?? `HTTP ${response.status} from ${baseUrl}`, problem);
    }
    return body;
  }

  const branchPath = '/v1/branches/{name}' as const;
  return {
    request: request as PgbranchClient['request'],
    branches: {
      list: async (query) => (await request('get', '/v1/branches', { query: query?.with_usage === undefined ? {} : { with_usage: String(query.with_usage) } })).branches,
      get: (name) => request('get', branchPath, { path: { name } }),
      create: (body) => request('post', '/v1/branches', { body }),
      update: (name, body) => request('patch', branchPath, { path: { name }, body }),
      delete: (name) => request('delete', branchPath, { path: { name } }),
      reset: (name) => request('post', `${branchPath}/reset`, { path: { name } }),
      connection: (name) => request('get', `${branchPath}/connection`, { path: { name } }),
    },
    snapshots: {
      list: async () => (await request('get', '/v1/snapshots')).snapshots,
      create: (branch, name) => request('post', '/v1/snapshots', { body: { branch, name } }),
      delete: (name) => request('delete', '/v1/snapshots/{name}', { path: { name } }),
    },
    status: () => request('get', '/v1/host'),
  };
}

/** Keeps `operations` referenced for declaration output (its names document each call). */
export type OperationId = keyof operations;
