import { useEffect, useRef, useState } from 'preact/hooks';
import { ConsoleApiError, createConsoleApi, type ConsoleApi } from '../api.js';
import type { CallerToken } from '../wire.js';

/** Why a sign-in failed, in words that say what to do. */
function signInMessage(err: unknown): string {
  if (err instanceof ConsoleApiError) {
    if (err.status === 401) {
      return 'This token was not accepted: it is unknown, revoked or mistyped. Tokens look like pgb_<id>_<secret>; create one on the host with `pgbranch token create`.';
    }
    if (err.status === 0) return 'Cannot reach the pgbranch API. Is `pgbranch serve` still running?';
    return `The API refused to sign in: ${err.message} (${err.code}).`;
  }
  return `Sign-in failed: ${(err as Error).message}`;
}

/**
 * Asks for an API token and checks it with GET /v1/token. The field is read once on submit and
 * cleared; the token then lives only in the API client's closure (this tab's memory).
 */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (api: ConsoleApi, caller: CallerToken) => void; notice: string | null }) {
  const input = useRef<HTMLInputElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => input.current?.focus(), []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const field = input.current!;
    const token = field.value.trim();
    if (token === '') {
      setError('Paste an API token to sign in.');
      field.focus();
      return;
    }
    setBusy(true);
    setError(null);
    const api = createConsoleApi(token);
    try {
      const caller = await api.caller();
      field.value = '';
      onSignedIn(api, caller);
    } catch (err) {
      field.value = '';
      setBusy(false);
      setError(signInMessage(err));
      field.focus();
    }
  };

  return (
    <main class="sign-in" id="main">
      <form class="card sign-in-card" onSubmit={submit} noValidate aria-describedby="sign-in-note">
        <h1>
          <span class="logo" aria-hidden="true" />
          pgbranch console
        </h1>
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <div class="form-row">
          <label for="token">API token</label>
          <input
            ref={input}
            id="token"
            name="token"
            type="password"
            autocomplete="off"
            spellcheck={false}
            placeholder="pgb_…"
            aria-invalid={error !== null}
            aria-describedby={error !== null ? 'sign-in-error' : undefined}
          />
        </div>
        {error !== null && (
          <p class="error" id="sign-in-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="hint" id="sign-in-note">
          The token stays in this tab's memory only (no cookie, no storage): reloading or closing the tab signs you out. What
          you see and can do follows the token's role and branch patterns.
        </p>
      </form>
    </main>
  );
}
