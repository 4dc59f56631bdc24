import { join } from 'node:path';
import { Host } from '../branches/index.js';
import { startApiServer } from '../api/index.js';
import { createProxyServer, ensureCertificate, type EnsuredCertificate } from '../proxy/index.js';
import { log } from '../util/index.js';

/** The configured certificate, or a self-signed one made once in <home>/tls/ (at init). */
export function ensureEndpointCertificate(host: Host): Promise<EnsuredCertificate> {
  const config = host.serveConfig;
  const files = config.tls ?? { certFile: join(host.paths.tlsDir, 'server.crt'), keyFile: join(host.paths.tlsDir, 'server.key') };
  return ensureCertificate({ ...files, hostNames: [config.publicHost, `*.${config.publicHost}`, 'localhost'], ips: ['127.0.0.1'] });
}

export interface ServeOptions {
  readonly home?: string;
  /** How often idle branches are looked for (default: a quarter of the idle timeout, 1-30 s). */
  readonly sweepIntervalMs?: number;
  /** Override the config's `serve.api` / `serve.proxy` listen addresses (0 = any free port). */
  readonly api?: { readonly host?: string; readonly port?: number };
  readonly endpoint?: { readonly host?: string; readonly port?: number };
}

export interface RunningServer {
  readonly apiUrl: string;
  readonly endpoint: { readonly host: string; readonly port: number };
  /** Graceful stop: no new requests or connections, open ones drained, instances stopped cleanly. */
  stop(): Promise<void>;
}

/**
 * `pgbranch serve`: one process with the HTTP API, the Postgres endpoint and the background job
 * that deletes expired branches and suspends idle ones. This is composition only; every rule lives in the domain.
 */
export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const host = await Host.open({ home: options.home });
  const config = host.serveConfig;
  const tls = await ensureEndpointCertificate(host);

  const proxy = createProxyServer({ router: host, tls, publicHost: config.publicHost, drainTimeoutMs: config.drainTimeoutMs });
  const proxyPort = await proxy.listen(options.endpoint?.host ?? config.proxy.host, options.endpoint?.port ?? config.proxy.port);
  host.setBoundEndpoint(proxyPort);
  const api = await startApiServer({ host, listen: { ...config.api, ...options.api } });
  // From here its beats keep sizes and health answers fresh for lists in other processes.
  host.markServing();

  const idle = config.idleTimeoutMs;
  const sweepMs = options.sweepIntervalMs ?? Math.min(30_000, Math.max(1_000, Math.floor((idle || 120_000) / 4)));
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweeper = setInterval(() => {
    // Expiry first: no point suspending a branch that is about to be deleted. One failing sweep
    // never stops the other.
    sweeping = host
      .deleteExpiredBranches()
      .then((names) => names.length > 0 && log.info({ branches: names }, 'deleted expired branches'))
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'expiry sweep failed'))
      .then(() => host.suspendIdleBranches())
      .then((names) => names.length > 0 && log.info({ branches: names }, 'suspended idle branches'))
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'idle sweep failed'))
      .then(() => host.maintainSources())
      .then((done) => done.length > 0 && log.info({ done }, 'source upkeep'))
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'source upkeep failed'));
  }, sweepMs);
  sweeper.unref();

  // Warm clones are refilled on their own beat: a claim should be followed by a refill soon, not
  // after the next idle sweep. One refill at a time.
  let warming: Promise<unknown> = Promise.resolve();
  let warmBusy = false;
  const warmEveryMs = host.warmRefillIntervalMs;
  const warmer =
    warmEveryMs === null
      ? undefined
      : setInterval(() => {
          if (warmBusy) return;
          warmBusy = true;
          warming = host
            .refillWarmClones()
            .then((r) => (r.made > 0 || r.discarded > 0) && log.debug(r, 'warm clones refilled'))
            .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'warm clone refill failed'))
            .finally(() => (warmBusy = false));
        }, warmEveryMs);
  warmer?.unref();

  // Health: branches that should run and are down (crashed, killed, not started for want of
  // pool room) or stuck refusing connections are restarted, with a backoff per branch.
  const health = beat(config.healthIntervalMs, () =>
    host
      .checkHealth()
      .then((names) => names.length > 0 && log.info({ branches: names }, 'restarted unhealthy branches'))
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'health check failed')),
  );
  // Sizes: measured in the background, so that lists read them instead of measuring every volume.
  const sizes = beat(
    config.sizeRefreshIntervalMs,
    () => host.refreshSizes().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'size refresh failed')),
    true,
  );

  log.info({ api: api.port, endpoint: proxyPort }, 'pgbranch serving');
  let stopping: Promise<void> | undefined;
  return {
    apiUrl: `http://${config.api.host}:${api.port}`,
    endpoint: { host: config.publicHost, port: proxyPort },
    stop() {
      stopping ??= (async () => {
        clearInterval(sweeper);
        if (warmer) clearInterval(warmer);
        await Promise.all([health.stop(), sizes.stop()]);
        await sweeping;
        await warming;
        await Promise.all([api.close(), proxy.close()]);
        await host.discardWarmClones().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'discarding warm clones failed'));
        await host.stopAllInstances();
        host.close();
        log.info('pgbranch stopped');
      })();
      return stopping;
    },
  };
}

/**
 * A background job on its own beat: one run at a time (a beat that finds the previous run still
 * going is skipped), `stop` waits for the run under way. 0 = never.
 */
function beat(everyMs: number, run: () => Promise<unknown>, runNow = false): { stop(): Promise<void> } {
  if (everyMs === 0) return { stop: async () => undefined };
  let current: Promise<unknown> | undefined;
  const tick = (): void => {
    if (current) return;
    current = run().finally(() => (current = undefined));
  };
  const timer = setInterval(tick, everyMs);
  timer.unref();
  if (runNow) tick();
  return {
    async stop() {
      clearInterval(timer);
      await current;
    },
  };
}
