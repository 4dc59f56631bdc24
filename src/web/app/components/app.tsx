import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ConsoleApiError, type ConsoleApi } from '../api.js';
import { formatDuration } from '../format.js';
import { hasSource, type Branch, type CallerToken, type Source } from '../wire.js';
import { AuditPage } from './audit-page.js';
import { BranchPage } from './branch-page.js';
import { HostPage } from './host-page.js';
import { SessionContext, useHidden, useNow, usePoller, useRoute, type ConsoleData, type Route, type Session, type Sizes } from './session.js';
import { SignIn } from './sign-in.js';
import { SnapshotsPage } from './snapshots-page.js';
import { TreePage } from './tree-page.js';

/** Poll intervals: the plain list is cheap; measuring usage walks the pool, so less often. */
export const POLL_MS = { branches: 5_000, sizes: 30_000, snapshots: 15_000, host: 30_000, sources: 5_000 } as const;

export function App() {
  const [session, setSession] = useState<{ api: ConsoleApi; caller: CallerToken } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(api, caller) => {
          setNotice(null);
          setSession({ api, caller });
        }}
      />
    );
  }
  return (
    <Console
      api={session.api}
      caller={session.caller}
      onSignOut={(reason) => {
        // Dropping the session drops the API client, and with it the only copy of the token.
        setSession(null);
        setNotice(reason ?? 'Signed out.');
      }}
    />
  );
}

function describeCaller(caller: CallerToken): string {
  const scope = caller.branch_patterns.length === 0 ? 'all branches' : caller.branch_patterns.join(', ');
  return `${caller.role} · ${scope}`;
}

const EMPTY: ConsoleData = { branches: null, sizes: new Map(), sources: new Map(), snapshots: null, host: null, updatedAt: null, error: null };

/** The list with each root's source attached (as its `sync`). */
const withSync = (branches: Branch[], sources: ReadonlyMap<string, Source>): Branch[] => branches.map((b) => ({ ...b, sync: sources.get(b.name) ?? null }));

function Console({ api, caller, onSignOut }: { api: ConsoleApi; caller: CallerToken; onSignOut: (reason?: string) => void }) {
  const [data, setData] = useState<ConsoleData>(EMPTY);
  /** Names of the roots whose source is polled (from the last list). */
  const roots = useRef<string[]>([]);
  const [status, setStatus] = useState('');
  const route = useRoute();
  const hidden = useHidden();
  const now = useNow(1000);

  const failed = (err: unknown) => {
    if (err instanceof ConsoleApiError && err.status === 401) {
      onSignOut('The API no longer accepts this token (revoked?). Sign in again.');
      return;
    }
    setData((d) => ({ ...d, error: (err as Error).message }));
  };
  const guarded = (fn: () => Promise<void>) => () => fn().catch(failed);

  const poller = usePoller([
    {
      name: 'branches',
      everyMs: POLL_MS.branches,
      run: guarded(async () => {
        const branches = await api.listBranches({ withUsage: false });
        roots.current = branches.filter(hasSource).map((b) => b.name);
        setData((d) => ({ ...d, branches: withSync(branches, d.sources), updatedAt: Date.now(), error: null }));
      }),
    },
    {
      name: 'sizes',
      everyMs: POLL_MS.sizes,
      run: guarded(async () => {
        // Only the sizes are taken from this slower call: its list may be older than the plain one.
        const measured = await api.listBranches({ withUsage: true });
        const sizes = new Map<string, Sizes>(measured.map((b) => [b.id, { own: b.own_bytes, shared: b.shared_bytes, total: b.total_bytes }]));
        setData((d) => ({ ...d, sizes }));
      }),
    },
    {
      name: 'sources',
      everyMs: POLL_MS.sources,
      run: guarded(async () => {
        // One call per root with a source (few); a root deleted meanwhile just drops out.
        const found = await Promise.all(roots.current.map((name) => api.source(name).then((s) => [name, s] as const, () => undefined)));
        const sources = new Map(found.filter((f): f is readonly [string, Source] => f !== undefined));
        setData((d) => ({ ...d, sources, branches: d.branches && withSync(d.branches, sources) }));
      }),
    },
    {
      name: 'snapshots',
      everyMs: POLL_MS.snapshots,
      run: guarded(async () => {
        const snapshots = await api.listSnapshots();
        setData((d) => ({ ...d, snapshots }));
      }),
    },
    {
      name: 'host',
      everyMs: POLL_MS.host,
      run: guarded(async () => {
        const host = await api.hostStatus();
        setData((d) => ({ ...d, host }));
      }),
    },
  ]);

  const session: Session = useMemo(
    () => ({
      api,
      caller,
      data,
      refresh: (...what) => poller?.refresh(...what) ?? Promise.resolve(),
      announce: setStatus,
      signOut: onSignOut,
    }),
    [api, caller, data, poller],
  );

  // Keyboard and screen-reader users land on the new page's heading, not at the top of the old one.
  const main = useRef<HTMLElement>(null);
  const firstRoute = useRef(true);
  useEffect(() => {
    if (firstRoute.current) {
      firstRoute.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [routeKey(route)]);

  const live = hidden
    ? 'paused while this tab is hidden'
    : data.error
      ? `update failed: ${data.error}`
      : data.updatedAt
        ? `live · updated ${formatDuration(now - data.updatedAt)} ago`
        : 'loading…';

  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), main.current?.querySelector<HTMLElement>('h1')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          <span class="logo" aria-hidden="true" />
          pgbranch
        </a>
        <nav aria-label="Sections">
          <NavLink href="#/" current={route.page === 'tree' || route.page === 'branch'}>
            Branches
          </NavLink>
          <NavLink href="#/snapshots" current={route.page === 'snapshots'}>
            Snapshots
          </NavLink>
          <NavLink href="#/audit" current={route.page === 'audit'}>
            Audit log
          </NavLink>
          <NavLink href="#/host" current={route.page === 'host'}>
            Host
          </NavLink>
        </nav>
        <div class="who">
          <span class={`live ${data.error ? 'live-error' : hidden ? 'live-paused' : ''}`}>{live}</span>
          <span class="token-name" title="the token you signed in with">
            {caller.name} <span class="muted">({describeCaller(caller)})</span>
          </span>
          <button type="button" onClick={() => onSignOut()}>
            Sign out
          </button>
        </div>
      </header>
      <p class="status-line" role="status" aria-live="polite">
        {status}
      </p>
      <main id="main" ref={main}>
        <Page route={route} now={now} />
      </main>
    </SessionContext.Provider>
  );
}

function routeKey(route: Route): string {
  return route.page === 'branch' ? `branch:${route.name}` : route.page;
}

function NavLink({ href, current, children }: { href: string; current: boolean; children: string }) {
  return (
    <a href={href} aria-current={current ? 'page' : undefined} class={current ? 'current' : undefined}>
      {children}
    </a>
  );
}

function Page({ route, now }: { route: Route; now: number }) {
  switch (route.page) {
    case 'tree':
      return <TreePage now={now} />;
    case 'branch':
      return <BranchPage key={route.name} name={route.name} now={now} />;
    case 'snapshots':
      return <SnapshotsPage />;
    case 'audit':
      return <AuditPage key={route.branch ?? ''} branch={route.branch} />;
    case 'host':
      return <HostPage />;
  }
}
