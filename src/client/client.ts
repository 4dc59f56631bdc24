import type { SnapshotView, AuditEntry, AuditFilter, BranchChange, BranchView, ConnectionInfo, CreateRequest, GcReport, HostStatus, MaskCheckView, MaskRequest, RefreshedRootView, SourceChange, SourceView, TokenInfo } from '../branches/index.js';
import { ERROR_CATALOGUE, PgbranchError, type ErrorCode } from '../errors.js';
import type { BranchService } from '../branches/index.js';
import { fromApiDiff, toApiDiffQuery, toApiDiffSide } from './mapping.js';
import type { ApiDiff, ApiRebaseReport } from '../api/index.js';
import type { RebaseReport, RebaseRequest } from '../branches/index.js';
import { fromApiRebase, toApiRebaseBody } from './mapping.js';
import type { DiffRequest, DiffView } from '../branches/index.js';
import { fromApiMaskCheck, fromApiSnapshot, fromApiAuditEntry, fromApiBranch, fromApiConnection, fromApiGcReport, fromApiHostStatus, fromApiRefreshedRoot, fromApiSource, fromApiToken, toApiCreateBody, toApiSourceChange } from './mapping.js';
import { PROBLEM_CONTENT_TYPE } from './media-types.js';
import { fetchTransport, nodeTransport, type HttpAnswer } from './node-fetch.js';
import type { ApiSource, ApiSnapshot, ApiAuditEntry, ApiGcReport, ApiBranch, ApiRefreshedRoot, ApiConnection, ApiCreatedBranch, ApiCreatedToken, ApiHostStatus, ApiToken, ApiMaskCheck } from '../api/index.js';

export interface ApiClientOptions {
  /** Where the server is, e.g. http://127.0.0.1:5480 (a path prefix is kept). */
  readonly baseUrl: string;
  /** `pgb_…` API token; without one every call but health is refused (UNAUTHENTICATED). */
  readonly token?: string | undefined;
  /** Gives up on a request after this long (default: no limit; a create from a dump can take minutes). */
  readonly timeoutMs?: number;
  /** For tests and custom agents; default the global fetch. */
  readonly fetch?: typeof fetch;
}

/** A `BranchService` over the REST API: same methods and results as `Host`, same error codes. */
export interface ApiClient extends BranchService {
  readonly baseUrl: string;
}

interface RequestSpec {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
}

const isErrorCode = (code: unknown): code is ErrorCode => typeof code === 'string' && Object.hasOwn(ERROR_CATALOGUE, code);
const PROBLEM_MEMBERS = new Set(['type', 'title', 'status', 'detail', 'code', 'instance']);

export function createApiClient(options: ApiClientOptions): ApiClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const transport = options.fetch ? fetchTransport(options.fetch) : nodeTransport;
  const branchPath = (name: string, suffix = '') => `/v1/branches/${encodeURIComponent(name)}${suffix}`;

  async function request<T>(spec: RequestSpec): Promise<T> {
    const headers: Record<string, string> = { accept: `application/json, ${PROBLEM_CONTENT_TYPE}` };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    let response: HttpAnswer;
    try {
      response = await transport(`${baseUrl}${spec.path}`, {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal: options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs),
      });
    } catch (cause) {
      throw unreachable(baseUrl, cause);
    }
    if (!response.ok) throw await errorFromResponse(baseUrl, response);
    if (response.status === 204) return undefined as T;
    try {
      return (await response.json()) as T;
    } catch (cause) {
      throw new PgbranchError('INTERNAL', `the pgbranch server at ${baseUrl} sent a response that is not JSON`, { cause });
    }
  }

  return {
    baseUrl,
    async status(): Promise<HostStatus> {
      return fromApiHostStatus(await request<ApiHostStatus>({ method: 'GET', path: '/v1/host' }));
    },
    async listBranches(opts: { withUsage?: boolean } = {}): Promise<BranchView[]> {
      const query = opts.withUsage === false ? '?with_usage=false' : '';
      const { branches } = await request<{ branches: ApiBranch[] }>({ method: 'GET', path: `/v1/branches${query}` });
      return branches.map(fromApiBranch);
    },
    async getBranch(name: string): Promise<BranchView> {
      return fromApiBranch(await request<ApiBranch>({ method: 'GET', path: branchPath(name) }));
    },
    async maskCheck(name: string, mask: MaskRequest): Promise<MaskCheckView> {
      const body = { rules: mask.rules, ...(mask.file !== undefined ? { file: mask.file } : {}) };
      return fromApiMaskCheck(await request<ApiMaskCheck>({ method: 'POST', path: branchPath(name, '/mask-check'), body }));
    },
    async connectionInfo(name: string): Promise<ConnectionInfo> {
      return fromApiConnection(await request<ApiConnection>({ method: 'GET', path: branchPath(name, '/connection') }));
    },
    async createBranch(name: string, req: CreateRequest): Promise<{ branch: BranchView; created: boolean }> {
      const { created, ...branch } = await request<ApiCreatedBranch>({ method: 'POST', path: '/v1/branches', body: toApiCreateBody(name, req) });
      return { branch: fromApiBranch(branch), created };
    },
    async resetBranch(name: string, options: { mask?: MaskRequest } = {}): Promise<BranchView> {
      const body = options.mask ? { mask: options.mask.rules, ...(options.mask.file !== undefined ? { mask_file: options.mask.file } : {}) } : undefined;
      return fromApiBranch(await request<ApiBranch>({ method: 'POST', path: branchPath(name, '/reset'), ...(body ? { body } : {}) }));
    },
    async rebaseBranch(name: string, req: RebaseRequest = {}): Promise<RebaseReport> {
      return fromApiRebase(await request<ApiRebaseReport>({ method: 'POST', path: branchPath(name, '/rebase'), body: toApiRebaseBody(req) }));
    },
    async deleteBranch(name: string): Promise<void> {
      await request<void>({ method: 'DELETE', path: branchPath(name) });
    },
    async startBranch(name: string): Promise<BranchView> {
      return fromApiBranch(await request<ApiBranch>({ method: 'POST', path: branchPath(name, '/start') }));
    },
    async stopBranch(name: string): Promise<BranchView> {
      return fromApiBranch(await request<ApiBranch>({ method: 'POST', path: branchPath(name, '/stop') }));
    },
    async suspendBranch(name: string): Promise<BranchView> {
      return fromApiBranch(await request<ApiBranch>({ method: 'POST', path: branchPath(name, '/suspend') }));
    },
    async rotatePassword(name: string): Promise<ConnectionInfo> {
      return fromApiConnection(await request<ApiConnection>({ method: 'POST', path: branchPath(name, '/rotate-password') }));
    },
    async updateBranch(name: string, change: BranchChange): Promise<BranchView> {
      const body = {
        ...(change.idleTimeoutMs !== undefined ? { idle_timeout_ms: change.idleTimeoutMs } : {}),
        ...(change.protected !== undefined ? { protected: change.protected } : {}),
        ...(change.ttlMs !== undefined ? { ttl_ms: change.ttlMs } : {}),
        ...(change.expiresAt !== undefined ? { expires_at: change.expiresAt } : {}),
        ...(change.maxOwnBytes !== undefined ? { max_own_bytes: change.maxOwnBytes } : {}),
      };
      // Like Host: nothing to change is not an error (the API refuses an empty PATCH).
      if (Object.keys(body).length === 0) return this.getBranch(name);
      return fromApiBranch(await request<ApiBranch>({ method: 'PATCH', path: branchPath(name), body }));
    },
    async listAudit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
      const query = new URLSearchParams();
      for (const key of ['branch', 'since', 'until', 'limit'] as const) {
        if (filter[key] !== undefined) query.set(key, String(filter[key]));
      }
      const qs = query.size > 0 ? `?${query.toString()}` : '';
      const { entries } = await request<{ entries: ApiAuditEntry[] }>({ method: 'GET', path: `/v1/audit${qs}` });
      return entries.map(fromApiAuditEntry);
    },
    async gc(opts: { dryRun?: boolean } = {}): Promise<GcReport> {
      return fromApiGcReport(await request<ApiGcReport>({ method: 'POST', path: '/v1/gc', body: { dry_run: opts.dryRun ?? false } }));
    },
    async createSnapshot(branch: string, name: string): Promise<SnapshotView> {
      return fromApiSnapshot(await request<ApiSnapshot>({ method: 'POST', path: '/v1/snapshots', body: { branch, name } }));
    },
    async listSnapshots(): Promise<SnapshotView[]> {
      const { snapshots } = await request<{ snapshots: ApiSnapshot[] }>({ method: 'GET', path: '/v1/snapshots' });
      return snapshots.map(fromApiSnapshot);
    },
    async getSnapshot(name: string): Promise<SnapshotView> {
      return fromApiSnapshot(await request<ApiSnapshot>({ method: 'GET', path: `/v1/snapshots/${encodeURIComponent(name)}` }));
    },
    async diff(req: DiffRequest): Promise<DiffView> {
      const query = toApiDiffQuery(req);
      const qs = query.size > 0 ? `?${query.toString()}` : '';
      return fromApiDiff(await request<ApiDiff>({ method: 'GET', path: `${branchPath(toApiDiffSide(req.to), '/diff')}${qs}` }));
    },
    async deleteSnapshot(name: string): Promise<void> {
      await request<void>({ method: 'DELETE', path: `/v1/snapshots/${encodeURIComponent(name)}` });
    },
    async createToken(req): Promise<{ token: string; info: TokenInfo }> {
      const body = {
        name: req.name,
        role: req.role,
        ...(req.branchPatterns !== undefined ? { branch_patterns: [...req.branchPatterns] } : {}),
        ...(req.maskedOnly !== undefined ? { masked_only: req.maskedOnly } : {}),
      };
      const { token, ...info } = await request<ApiCreatedToken>({ method: 'POST', path: '/v1/tokens', body });
      return { token, info: fromApiToken(info) };
    },
    async listTokens(): Promise<TokenInfo[]> {
      const { tokens } = await request<{ tokens: ApiToken[] }>({ method: 'GET', path: '/v1/tokens' });
      return tokens.map(fromApiToken);
    },
    async revokeToken(id: string): Promise<void> {
      await request<void>({ method: 'DELETE', path: `/v1/tokens/${encodeURIComponent(id)}` });
    },
    async sourceStatus(name: string): Promise<SourceView> {
      return fromApiSource(await request<ApiSource>({ method: 'GET', path: branchPath(name, '/source') }));
    },
    async refreshSource(name: string): Promise<RefreshedRootView> {
      return fromApiRefreshedRoot(await request<ApiRefreshedRoot>({ method: 'POST', path: branchPath(name, '/source/refresh') }));
    },
    async updateSource(name: string, change: SourceChange): Promise<SourceView> {
      return fromApiSource(await request<ApiSource>({ method: 'PATCH', path: branchPath(name, '/source'), body: toApiSourceChange(change) }));
    },
    close(): void {
      // Nothing held that outlives a request but node's keep-alive agent, which unrefs idle sockets.
    },
  };
}

function unreachable(baseUrl: string, cause: unknown): PgbranchError {
  const err = cause as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const reason = err.name === 'TimeoutError' ? 'timed out' : (err.cause?.code ?? err.cause?.message ?? err.message ?? String(cause));
  return new PgbranchError('API_UNREACHABLE', `cannot reach the pgbranch server at ${baseUrl}: ${reason}`, { cause, details: { baseUrl } });
}

/** A problem+json answer becomes the PgbranchError the server threw: same code, message and details. */
async function errorFromResponse(baseUrl: string, response: HttpAnswer): Promise<PgbranchError> {
  const text = await response.text().catch(() => '');
  let problem: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) problem = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: a proxy in front of pgbranch, or something else on that port.
  }
  if (problem && isErrorCode(problem.code)) {
    const details = Object.fromEntries(Object.entries(problem).filter(([key]) => !PROBLEM_MEMBERS.has(key)));
    const message = typeof problem.detail === 'string' ? problem.detail : ERROR_CATALOGUE[problem.code].title;
    return new PgbranchError(problem.code, message, { details: Object.keys(details).length > 0 ? details : undefined });
  }
  const details = { baseUrl, status: response.status };
  if ([502, 503, 504].includes(response.status)) {
    return new PgbranchError('API_UNREACHABLE', `the pgbranch server at ${baseUrl} is not available (HTTP ${response.status})`, { details });
  }
  return new PgbranchError('INTERNAL', `unexpected HTTP ${response.status} from ${baseUrl} (not a pgbranch error response)`, { details });
}
