import { useState } from 'preact/hooks';
import { ConsoleApiError } from '../api.js';
import type { AuditEntry } from '../wire.js';
import { Time } from './bits.js';
import { usePoller, useSession } from './session.js';

const AUDIT_POLL_MS = 15_000;
const AUDIT_LIMIT = 500;

interface Filters {
  readonly branch: string;
  readonly actor: string;
  readonly since: string;
  readonly until: string;
}

/** A datetime-local value (local time, no zone) as the ISO instant the API takes. */
function toIso(local: string): string | undefined {
  if (local === '') return undefined;
  const ms = Date.parse(local);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** The API filters by branch and time; the actor (token id, `local:…`, or token name) is matched here. */
function matchesActor(entry: AuditEntry, actor: string): boolean {
  if (actor === '') return true;
  const wanted = actor.toLowerCase();
  return entry.actor.toLowerCase().includes(wanted) || (entry.actor_name ?? '').toLowerCase().includes(wanted);
}

export function AuditPage({ branch }: { branch?: string }) {
  const { api, data, signOut } = useSession();
  const [filters, setFilters] = useState<Filters>({ branch: branch ?? '', actor: '', since: '', until: '' });
  const [draft, setDraft] = useState<Filters>(filters);
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const poller = usePoller(
    [
      {
        name: 'audit',
        everyMs: AUDIT_POLL_MS,
        run: async () => {
          try {
            const found = await api.audit({
              branch: filters.branch.trim() || undefined,
              since: toIso(filters.since),
              until: toIso(filters.until),
              limit: AUDIT_LIMIT,
            });
            setEntries(found);
            setError(null);
          } catch (err) {
            if (err instanceof ConsoleApiError && err.status === 401) signOut('The API no longer accepts this token (revoked?). Sign in again.');
            else setError(err instanceof ConsoleApiError ? `${err.message} (${err.code})` : (err as Error).message);
          }
        },
      },
    ],
    [filters],
  );
  void poller;

  const shown = (entries ?? []).filter((e) => matchesActor(e, filters.actor.trim()));
  const actors = [...new Set((entries ?? []).flatMap((e) => [e.actor, ...(e.actor_name ? [e.actor_name] : [])]))];
  const set = (key: keyof Filters) => (e: Event) => setDraft({ ...draft, [key]: (e.currentTarget as HTMLInputElement).value });

  return (
    <section aria-labelledby="audit-title">
      <div class="page-head">
        <h1 id="audit-title" tabIndex={-1}>
          Audit log
        </h1>
      </div>
      <form
        class="filters card"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <div class="form-row">
          <label for="audit-branch">Branch</label>
          <input id="audit-branch" list="audit-branches" value={draft.branch} onInput={set('branch')} autocomplete="off" spellcheck={false} />
          <datalist id="audit-branches">
            {(data.branches ?? []).map((b) => (
              <option key={b.id} value={b.name} />
            ))}
          </datalist>
        </div>
        <div class="form-row">
          <label for="audit-actor">Actor</label>
          <input id="audit-actor" list="audit-actors" value={draft.actor} onInput={set('actor')} autocomplete="off" spellcheck={false} placeholder="token name or id" />
          <datalist id="audit-actors">
            {actors.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </div>
        <div class="form-row">
          <label for="audit-since">From</label>
          <input id="audit-since" type="datetime-local" value={draft.since} onInput={set('since')} />
        </div>
        <div class="form-row">
          <label for="audit-until">Until</label>
          <input id="audit-until" type="datetime-local" value={draft.until} onInput={set('until')} />
        </div>
        <div class="form-row form-buttons">
          <button type="submit" class="primary">
            Apply filters
          </button>
        </div>
      </form>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {entries === null ? (
        <p class="muted">Loading…</p>
      ) : shown.length === 0 ? (
        <p class="empty">No entries match.</p>
      ) : (
        <div class="table-wrap">
          <table class="audit">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Actor</th>
                <th scope="col">Operation</th>
                <th scope="col">Target</th>
                <th scope="col">Result</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((e) => (
                <tr key={e.id} data-audit={e.id}>
                  <td>
                    <Time iso={e.at} />
                  </td>
                  <td>
                    {e.actor_name ?? e.actor}
                    {e.actor_name && <span class="muted"> {e.actor}</span>}
                  </td>
                  <td>{e.operation}</td>
                  <td>
                    {e.target_kind !== 'branch' && <span class="muted">{e.target_kind} </span>}
                    {e.target}
                  </td>
                  <td>
                    <span class={`badge result-${e.result}`}>{e.result}</span>
                    {e.error_code && <span class="muted"> {e.error_code}</span>}
                  </td>
                  <td>{e.duration_ms === null ? <span class="muted">—</span> : `${e.duration_ms} ms`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
