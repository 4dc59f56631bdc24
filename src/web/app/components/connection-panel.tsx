import { useState } from 'preact/hooks';
import { shellWord } from '../actions.js';
import { ConsoleApiError } from '../api.js';
import type { Branch, Connection } from '../wire.js';
import { Cli } from './bits.js';
import { useSession } from './session.js';

type Kind = 'endpoint' | 'direct';

const KINDS: readonly { kind: Kind; title: string; env: string; about: string; flag: string[] }[] = [
  {
    kind: 'endpoint',
    title: 'Endpoint',
    env: 'DATABASE_URL',
    about: "through the host's Postgres endpoint (TLS); wakes the branch when it is suspended",
    flag: ['--endpoint'],
  },
  { kind: 'direct', title: 'Direct', env: 'DATABASE_URL_UNPOOLED', about: "the branch's own instance, reachable from the host only", flag: [] },
];

const pick = (c: Connection, kind: Kind): string | null => (kind === 'endpoint' ? c.url : c.url_unpooled);

/**
 * Connection strings hold the branch's password: the page never has them until the user asks.
 * Each Reveal or Copy fetches GET /v1/branches/{name}/connection afresh; Copy keeps nothing, and
 * a revealed string is dropped on Hide or when the page is left.
 */
export function ConnectionPanel({ branch }: { branch: Branch }) {
  const { api, announce, signOut } = useSession();
  const [shown, setShown] = useState<Partial<Record<Kind, string | null>>>({});
  const [busy, setBusy] = useState<Kind | null>(null);
  const [error, setError] = useState<string | null>(null);

  const fetchUrl = async (kind: Kind): Promise<string | null | undefined> => {
    setBusy(kind);
    setError(null);
    try {
      return pick(await api.connection(branch.name), kind);
    } catch (err) {
      if (err instanceof ConsoleApiError && err.status === 401) signOut('The API no longer accepts this token (revoked?). Sign in again.');
      else setError(err instanceof ConsoleApiError ? `${err.message} (${err.code})` : (err as Error).message);
      return undefined;
    } finally {
      setBusy(null);
    }
  };

  const reveal = async (kind: Kind) => {
    const url = await fetchUrl(kind);
    if (url !== undefined) setShown((s) => ({ ...s, [kind]: url }));
  };

  const copy = async (kind: Kind, title: string) => {
    if (!navigator.clipboard) {
      setError('Copying needs a secure page (https or localhost): use Reveal and copy by hand.');
      return;
    }
    const url = await fetchUrl(kind);
    if (url === undefined) return;
    if (url === null) {
      setError('The endpoint address is not known (is `pgbranch serve` running its endpoint?).');
      return;
    }
    try {
      await navigator.clipboard.writeText(url);
      announce(`${title} connection string copied to the clipboard`);
    } catch (err) {
      setError(`Could not copy: ${(err as Error).message}`);
    }
  };

  return (
    <section class="card" aria-labelledby="connection-title">
      <h2 id="connection-title">Connect</h2>
      <p class="hint">
        Connection strings contain the password: they are fetched only when you reveal or copy them
        {branch.state === 'stopped' ? ', and fetching them starts this stopped branch' : ''}.
      </p>
      <div class="connections">
        {KINDS.map(({ kind, title, env, about, flag }) => {
          const value = shown[kind];
          return (
            <div class="connection" key={kind} data-connection={kind}>
              <div class="connection-head">
                <h3>
                  {title} <code class="env">{env}</code>
                </h3>
                <div class="buttons">
                  {value === undefined ? (
                    <button type="button" onClick={() => reveal(kind)} disabled={busy !== null} aria-label={`Reveal ${title.toLowerCase()} connection string`}>
                      Reveal
                    </button>
                  ) : (
                    <button type="button" onClick={() => setShown((s) => ({ ...s, [kind]: undefined }))} aria-label={`Hide ${title.toLowerCase()} connection string`}>
                      Hide
                    </button>
                  )}
                  <button type="button" onClick={() => copy(kind, title)} disabled={busy !== null} aria-label={`Copy ${title.toLowerCase()} connection string`}>
                    Copy
                  </button>
                </div>
              </div>
              <p class="hint">{about}</p>
              {value !== undefined && (
                <p class="secret">
                  {value === null ? <span class="muted">not available: the endpoint port is not known</span> : <code>{value}</code>}
                </p>
              )}
              <Cli command={['pgbranch', 'branch', 'url', branch.name, ...flag].map(shellWord).join(' ')} />
            </div>
          );
        })}
      </div>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
