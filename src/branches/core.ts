import type { ActivityTracker } from './activity.js';
import type { Runtime } from './runtime.js';

/**
 * What the host's background and serving parts share with the facade: the mechanisms, the
 * endpoint activity of this process, and the host lock.
 */
export interface HostCore {
  readonly rt: Runtime;
  readonly activity: ActivityTracker;
  locked<T>(fn: () => Promise<T>): Promise<T>;
}
