import type { Hono, MiddlewareHandler } from 'hono';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { authorize, canAccessBranch, operationEvents, type OperationObservation, type SourceView } from '../branches/index.js';
import type { ApiEnv } from './auth.js';
import type { ApiHost } from './branch-service.js';

export const METRICS_PATH = '/metrics';

/** The branch label of a sample line (branch names cannot hold a quote or a backslash). */
const BRANCH_LABEL = /[{,]branch="([^"]*)"/;

/** Sizes are measured by walking extents: a scrape every few seconds must not redo it each time. */
const USAGE_CACHE_MS = 15_000;

export interface ApiMetrics {
  /** Counts every API request by method, route pattern and status. */
  readonly middleware: MiddlewareHandler<ApiEnv>;
  /** Adds `GET /metrics` (Prometheus text format; needs a read token like every route). */
  register(app: Hono<ApiEnv>): void;
  /** Stops listening to domain events. */
  close(): void;
}

/**
 * Prometheus metrics of a host: branch counts by state, operation latency histograms (create,
 * reset, delete, wake …), per-branch own and shared bytes, pool usage and API requests by code.
 */
export function createApiMetrics(host: ApiHost): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pgbranch_process_' });

  const operations = new Histogram({
    name: 'pgbranch_operation_duration_seconds',
    help: 'Duration of domain operations (create, reset, delete, start, stop, suspend, wake, …) by result',
    labelNames: ['operation', 'result'],
    buckets: [0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'pgbranch_api_requests_total',
    help: 'API requests by method, route and HTTP status code',
    labelNames: ['method', 'route', 'code'],
    registers: [registry],
  });

  let usage: { at: number; value: Awaited<ReturnType<ApiHost['listBranches']>> } | undefined;
  const branchesWithUsage = async () => {
    if (!usage || Date.now() - usage.at > USAGE_CACHE_MS) usage = { at: Date.now(), value: await host.listBranches({ withUsage: true }) };
    return usage.value;
  };

  new Gauge({
    name: 'pgbranch_branches',
    help: 'Branches by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = { running: 0, suspended: 0, stopped: 0, unhealthy: 0 };
      for (const b of await host.listBranches({ withUsage: false })) counts[b.state]++;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'pgbranch_branch_own_bytes',
    help: 'Bytes a branch does not share with any other branch (written since it was branched)',
    labelNames: ['branch'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const b of await branchesWithUsage()) if (b.ownBytes !== null) this.set({ branch: b.name }, b.ownBytes);
    },
  });
  new Gauge({
    name: 'pgbranch_branch_shared_bytes',
    help: 'Bytes of a branch shared with other branches (copy-on-write)',
    labelNames: ['branch'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const b of await branchesWithUsage()) {
        if (b.ownBytes !== null && b.totalBytes !== null) this.set({ branch: b.name }, Math.max(0, b.totalBytes - b.ownBytes));
      }
    },
  });
  new Gauge({
    name: 'pgbranch_branch_max_own_bytes',
    help: 'Cap on the bytes a branch may own (branches with a cap only); alert on own_bytes / max_own_bytes',
    labelNames: ['branch'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const b of await host.listBranches({ withUsage: false })) if (b.maxOwnBytes !== null) this.set({ branch: b.name }, b.maxOwnBytes);
    },
  });
  // Sources: each status asks the standby and the source, so a scrape reuses a recent answer.
  let sources: { at: number; value: SourceView[] } | undefined;
  const sourceViews = async (): Promise<SourceView[]> => {
    if (!sources || Date.now() - sources.at > USAGE_CACHE_MS) {
      const roots = (await host.listBranches({ withUsage: false })).filter((b) => b.source.kind === 'follow' || b.source.kind === 'url');
      const views = await Promise.all(roots.map((b) => host.sourceStatus(b.name).catch(() => undefined)));
      sources = { at: Date.now(), value: views.filter((v): v is SourceView => v !== undefined) };
    }
    return sources.value;
  };
  new Gauge({
    name: 'pgbranch_source_connected',
    help: 'Whether a following root is connected to its source and streaming (1) or not (0)',
    labelNames: ['branch'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const v of await sourceViews()) if (v.follow) this.set({ branch: v.branch }, v.follow.state === 'streaming' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'pgbranch_source_lag_bytes',
    help: "Bytes of the source's WAL a following root has not replayed yet",
    labelNames: ['branch'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const v of await sourceViews()) if (v.follow?.lagBytes != null) this.set({ branch: v.branch }, v.follow.lagBytes);
    },
  });
  new Gauge({
    name: 'pgbranch_source_history_bytes',
    help: "What a following root's history window costs: bytes its snapshots own, and archived WAL",
    labelNames: ['branch', 'kind'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const v of await sourceViews()) {
        const h = v.follow?.history;
        if (h?.snapshotBytes != null) this.set({ branch: v.branch, kind: 'snapshots' }, h.snapshotBytes);
        if (h?.archiveBytes != null) this.set({ branch: v.branch, kind: 'wal' }, h.archiveBytes);
      }
    },
  });
  new Gauge({
    name: 'pgbranch_source_history_start_seconds',
    help: 'Unix time of the earliest point a branch of a following root can be made at',
    labelNames: ['branch'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const v of await sourceViews()) if (v.follow?.history.from) this.set({ branch: v.branch }, Date.parse(v.follow.history.from) / 1000);
    },
  });
  new Gauge({
    name: 'pgbranch_source_last_refresh_seconds',
    help: 'Unix time of the last refresh of a refreshed root (its first import until then)',
    labelNames: ['branch'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const v of await sourceViews()) if (v.refresh?.lastRefreshAt) this.set({ branch: v.branch }, Date.parse(v.refresh.lastRefreshAt) / 1000);
    },
  });
  new Gauge({
    name: 'pgbranch_pool_bytes',
    help: 'Pool space: total, used and free',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      const { pool } = await host.status();
      this.set({ kind: 'total' }, pool.totalBytes);
      this.set({ kind: 'used' }, pool.usedBytes);
      this.set({ kind: 'free' }, pool.freeBytes);
    },
  });

  const onOperation = (o: OperationObservation): void => operations.observe({ operation: o.operation, result: o.result }, o.durationMs / 1000);
  operationEvents.on('operation', onOperation);

  return {
    middleware: async (c, next) => {
      await next();
      // The route pattern, not the path: one series per route, not one per branch name. The
      // endpoint's own route (not a `*` middleware), even when a middleware answered first (401).
      const route = c.req.matchedRoutes.findLast((r) => r.method !== 'ALL')?.path ?? 'unmatched';
      requests.inc({ method: c.req.method, route, code: String(c.res.status) });
    },
    register(app) {
      app.get(METRICS_PATH, async (c) => {
        const principal = c.get('principal');
        authorize(principal, 'read');
        // Per-branch series only for branches the token's patterns allow: a pr-* token learns
        // nothing about main (not even its name or size); a masked-only token, nothing about
        // branches that are not masked.
        const masked = principal.maskedOnly ? new Set((await host.listBranches({ withUsage: false })).filter((b) => b.masked !== null).map((b) => b.name)) : undefined;
        const text = (await registry.metrics())
          .split('\n')
          .filter((line) => {
            const branch = BRANCH_LABEL.exec(line)?.[1];
            return branch === undefined || canAccessBranch(principal, masked ? { name: branch, masked: masked.has(branch) } : branch);
          })
          .join('\n');
        return c.body(text, 200, { 'content-type': registry.contentType });
      });
    },
    close() {
      operationEvents.off('operation', onOperation);
    },
  };
}
