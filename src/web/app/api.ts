/**
 * The console's client of the documented /v1 API. The token lives in this closure only: never in
 * storage, cookies, the URL or the page, so reloading the page signs out.
 */
import type { AuditEntry, Branch, CallerToken, Connection, Diff, HostStatus, RebaseReport, RebaseRequest, Snapshot, Source } from './wire.js';

export class ConsoleApiError extends Error {
  constructor(
    /** HTTP status; 0 when the API could not be reached. */
    readonly status: number,
    /** The API's stable error code (the same the CLI prints), or NETWORK. */
    readonly code: string,
    message: string,
    /** The problem's other members (a refused rebase's `report`), when the API answered with one. */
    readonly problem: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'ConsoleApiError';
  }
}

export interface AuditQuery {
  readonly branch?: string;
  readonly since?: string;
  readonly until?: string;
  readonly limit?: number;
}

export interface CreateBranchRequest {
  readonly name: string;
  readonly parent?: string;
  readonly snapshot?: string;
  readonly ttl_ms?: number;
}

export interface UpdateBranchRequest {
  readonly protected?: boolean;
  readonly ttl_ms?: number | null;
}

export interface DiffQuery {
  /** The side the changes are from (a branch, snapshot:NAME, branch-point:NAME); default: the branch point. */
  readonly against?: string;
  /** Also the changed rows (at most `limit` per table); counts stay exact either way. */
  readonly rows?: boolean;
  readonly limit?: number;
}

export interface ConsoleApi {
  caller(): Promise<CallerToken>;
  listBranches(options: { withUsage: boolean }): Promise<Branch[]>;
  connection(branch: string): Promise<Connection>;
  createBranch(request: CreateBranchRequest): Promise<Branch>;
  updateBranch(branch: string, request: UpdateBranchRequest): Promise<Branch>;
  branchAction(branch: string, action: 'reset' | 'suspend' | 'start' | 'stop'): Promise<Branch>;
  deleteBranch(branch: string): Promise<void>;
  listSnapshots(): Promise<Snapshot[]>;
  createSnapshot(branch: string, name: string): Promise<Snapshot>;
  deleteSnapshot(name: string): Promise<void>;
  hostStatus(): Promise<HostStatus>;
  audit(query: AuditQuery): Promise<AuditEntry[]>;
  /** What `branch` changed: schema as migration SQL and data row by row (GET …/diff). */
  diff(branch: string, query: DiffQuery): Promise<Diff>;
  /** Rebase (or preview, or undo) a branch; a conflict fails with REBASE_CONFLICT and the report in `problem.report`. */
  rebase(branch: string, request: RebaseRequest): Promise<RebaseReport>;
  /** How a root made from a live server keeps up with it. */
  source(branch: string): Promise<Source>;
}

const enc = encodeURIComponent;

/**
 * `baseUrl` is empty in the browser (same origin as the page). Fails with ConsoleApiError: the
 * problem's `detail` and `code` when the API answered, NETWORK when it did not.
 */
export function createConsoleApi(token: string, options: { baseUrl?: string } = {}): ConsoleApi {
  const base = options.baseUrl ?? '';

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
    } catch (err) {
      // A token with characters no header can carry lands here too: say so rather than "network".
      if (/header/i.test((err as Error).message)) throw new ConsoleApiError(401, 'UNAUTHENTICATED', 'that is not a pgbranch token');
      throw new ConsoleApiError(0, 'NETWORK', `cannot reach the pgbranch API (${(err as Error).message})`);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const problem = (parsed ?? {}) as { code?: string; detail?: string; title?: string };
      throw new ConsoleApiError(res.status, problem.code ?? `HTTP_${res.status}`, problem.detail ?? problem.title ?? `HTTP ${res.status}`, problem as Record<string, unknown>);
    }
    return parsed as T;
  }

  return {
    caller: () => call('GET', '/v1/token'),
    listBranches: async ({ withUsage }) =>
      (await call<{ branches: Branch[] }>('GET', `/v1/branches?with_usage=${withUsage ? 'true' : 'false'}`)).branches,
    connection: (branch) => call('GET', `/v1/branches/${enc(branch)}/connection`),
    createBranch: (request) => call('POST', '/v1/branches', request),
    updateBranch: (branch, request) => call('PATCH', `/v1/branches/${enc(branch)}`, request),
    branchAction: (branch, action) => call('POST', `/v1/branches/${enc(branch)}/${action}`),
    deleteBranch: (branch) => call('DELETE', `/v1/branches/${enc(branch)}`),
    listSnapshots: async () => (await call<{ snapshots: Snapshot[] }>('GET', '/v1/snapshots')).snapshots,
    createSnapshot: (branch, name) => call('POST', '/v1/snapshots', { branch, name }),
    deleteSnapshot: (name) => call('DELETE', `/v1/snapshots/${enc(name)}`),
    hostStatus: () => call('GET', '/v1/host'),
    source: (branch) => call('GET', `/v1/branches/${enc(branch)}/source`),
    diff: (branch, query) => {
      const params = new URLSearchParams();
      if (query.against !== undefined && query.against !== '') params.set('against', query.against);
      // `rows` alone would compare the data only: the schema is asked for with it.
      if (query.rows) {
        params.set('schema', 'true');
        params.set('rows', 'true');
      }
      if (query.limit !== undefined) params.set('limit', String(query.limit));
      const qs = params.size > 0 ? `?${params.toString()}` : '';
      return call('GET', `/v1/branches/${enc(branch)}/diff${qs}`);
    },
    rebase: (branch, request) => call('POST', `/v1/branches/${enc(branch)}/rebase`, request),
    audit: async (query) => {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
      const qs = params.size > 0 ? `?${params.toString()}` : '';
      return (await call<{ entries: AuditEntry[] }>('GET', `/v1/audit${qs}`)).entries;
    },
  };
}
