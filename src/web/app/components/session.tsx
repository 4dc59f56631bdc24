import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { ConsoleApi } from '../api.js';
import { startPoller, type PollTask, type Poller, type Visibility } from '../poller.js';
import type { Branch, CallerToken, HostStatus, Snapshot, Source } from '../wire.js';

export interface Sizes {
  readonly own: number | null;
  readonly shared: number | null;
  readonly total: number | null;
}

export interface ConsoleData {
  readonly branches: Branch[] | null;
  /** By branch id, from the last list measured with usage (measured less often than the list). */
  readonly sizes: ReadonlyMap<string, Sizes>;
  /** By branch name, for roots made from a live server (see `hasSource`). */
  readonly sources: ReadonlyMap<string, Source>;
  readonly snapshots: Snapshot[] | null;
  readonly host: HostStatus | null;
  readonly updatedAt: number | null;
  /** Why the last poll failed (the page keeps showing what it had). */
  readonly error: string | null;
}

export interface Session {
  readonly api: ConsoleApi;
  readonly caller: CallerToken;
  readonly data: ConsoleData;
  /** Re-reads the named data sets now (after a change); all when none is named. */
  refresh(...what: ('branches' | 'sizes' | 'snapshots' | 'host')[]): Promise<void>;
  /** A short message for the status line (read out by screen readers). */
  announce(message: string): void;
  signOut(reason?: string): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in console');
  return session;
}

export const documentVisibility: Visibility = {
  hidden: () => document.visibilityState === 'hidden',
  onChange(listener) {
    document.addEventListener('visibilitychange', listener);
    return () => document.removeEventListener('visibilitychange', listener);
  },
};

/** Runs `tasks` with the poller while the component is mounted; the tasks see fresh closures. */
export function usePoller(tasks: readonly PollTask[], deps: readonly unknown[] = []): Poller | null {
  const current = useRef(tasks);
  current.current = tasks;
  const [poller, setPoller] = useState<Poller | null>(null);
  useEffect(() => {
    const p = startPoller(
      current.current.map((t, i) => ({ name: t.name, everyMs: t.everyMs, run: () => current.current[i]!.run() })),
      documentVisibility,
    );
    setPoller(p);
    return () => p.stop();
  }, deps);
  return poller;
}

/** The time, ticking every `everyMs` (countdowns, ages). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

export function useHidden(): boolean {
  const [hidden, setHidden] = useState(documentVisibility.hidden());
  useEffect(() => documentVisibility.onChange(() => setHidden(documentVisibility.hidden())), []);
  return hidden;
}

export type Route =
  | { readonly page: 'tree' }
  | { readonly page: 'branch'; readonly name: string }
  | { readonly page: 'snapshots' }
  | { readonly page: 'audit'; readonly branch?: string }
  | { readonly page: 'host' };

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const branch = /^\/branch\/(.+)$/.exec(path);
  if (branch) {
    try {
      return { page: 'branch', name: decodeURIComponent(branch[1]!) };
    } catch {
      return { page: 'tree' };
    }
  }
  if (path === '/snapshots') return { page: 'snapshots' };
  if (path === '/host') return { page: 'host' };
  if (path === '/audit') return { page: 'audit', branch: new URLSearchParams(query).get('branch') ?? undefined };
  return { page: 'tree' };
}

export const branchHref = (name: string): string => `#/branch/${encodeURIComponent(name)}`;
export const auditHref = (branch: string): string => `#/audit?branch=${encodeURIComponent(branch)}`;

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function navigate(href: string): void {
  location.hash = href.replace(/^#/, '');
}
