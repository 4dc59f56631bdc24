import { useRef, useState } from 'preact/hooks';
import { ConsoleApiError } from '../api.js';
import { useSession } from './session.js';

export type RequestState<T> =
  | { readonly status: 'idle' }
  | { readonly status: 'loading' }
  | { readonly status: 'done'; readonly value: T }
  | { readonly status: 'failed'; readonly message: string; readonly code: string; readonly problem: Readonly<Record<string, unknown>> };

/**
 * One on-demand API call (a diff, a rebase): its state for the page, a 401 signing out like every
 * other call, and an answer arriving after a newer request (or after the panel was reset) dropped,
 * so a slow first diff never overwrites a later one.
 */
export function useRequest<T>(): { state: RequestState<T>; run(call: () => Promise<T>): Promise<T | undefined>; reset(): void } {
  const { signOut } = useSession();
  const [state, setState] = useState<RequestState<T>>({ status: 'idle' });
  const generation = useRef(0);

  const run = async (call: () => Promise<T>): Promise<T | undefined> => {
    const mine = ++generation.current;
    setState({ status: 'loading' });
    try {
      const value = await call();
      if (mine === generation.current) setState({ status: 'done', value });
      return value;
    } catch (err) {
      if (mine !== generation.current) return undefined;
      if (err instanceof ConsoleApiError && err.status === 401) {
        signOut('The API no longer accepts this token (revoked?). Sign in again.');
        return undefined;
      }
      const code = err instanceof ConsoleApiError ? err.code : 'ERROR';
      setState({ status: 'failed', message: (err as Error).message, code, problem: err instanceof ConsoleApiError ? err.problem : {} });
      return undefined;
    }
  };
  const reset = () => {
    generation.current++;
    setState({ status: 'idle' });
  };
  return { state, run, reset };
}
