import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { BackendKey } from './protocol.js';

/** Where a cancel for one client connection really goes. */
export interface CancelTarget {
  readonly port: number;
  readonly backendKey: BackendKey;
}

/** Above Linux's PID_MAX_LIMIT (2^22), so a stand-in id never equals a live backend pid. */
const SYNTHETIC_BASE = 0x40000000;

/**
 * Cancel keys the endpoint hands out in place of the backends' own, for the lifetime of each
 * client connection.
 *
 * The process id is kept as the backend's real pid: clients compare it with the pid in
 * NotificationResponse (LISTEN/NOTIFY) and users with pg_backend_pid() / pg_stat_activity, and
 * every branch's backends are processes of this one machine, so live pids are unique across
 * branches. Only the secret is replaced, with fresh random bytes of the same length; it is what
 * proves the right to cancel. If a pid were ever in use twice (not on one kernel), a stand-in id
 * outside the pid range is issued instead.
 */
export class CancelKeys {
  private readonly byProcessId = new Map<number, { readonly secretKey: Buffer; readonly target: CancelTarget }>();
  private nextSynthetic = SYNTHETIC_BASE + randomInt(0, 0x10000000);

  issue(target: CancelTarget): { readonly key: BackendKey; revoke(): void } {
    let processId = target.backendKey.processId;
    while (this.byProcessId.has(processId)) processId = this.syntheticId();
    const key: BackendKey = { processId, secretKey: randomBytes(target.backendKey.secretKey.length) };
    const entry = { secretKey: key.secretKey, target };
    this.byProcessId.set(processId, entry);
    return {
      key,
      revoke: () => {
        if (this.byProcessId.get(processId) === entry) this.byProcessId.delete(processId);
      },
    };
  }

  /** The backend to cancel for a key a client presents, if it is one we issued and still live. */
  lookup(key: BackendKey): CancelTarget | undefined {
    const entry = this.byProcessId.get(key.processId);
    if (!entry || entry.secretKey.length !== key.secretKey.length) return undefined;
    return timingSafeEqual(entry.secretKey, key.secretKey) ? entry.target : undefined;
  }

  get size(): number {
    return this.byProcessId.size;
  }

  private syntheticId(): number {
    const id = this.nextSynthetic;
    this.nextSynthetic = this.nextSynthetic >= 0x7fffffff ? SYNTHETIC_BASE : this.nextSynthetic + 1;
    return id;
  }
}
