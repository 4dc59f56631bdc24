import { setTimeout as delay } from 'node:timers/promises';

/**
 * Operations under way in this process, so that background upkeep can stand aside for them.
 * Measuring a volume's size on btrfs walks the back references of every extent it shares (its cost
 * grows with the number of clones), and on two cores that work running beside a create doubled
 * the create. Upkeep that can wait asks `quiet` first: it goes ahead once no operation has run
 * for a moment, and after `maxWaitMs` in any case, so that a long burst of operations delays it
 * without starving it.
 */
export class ForegroundActivity {
  private active = 0;
  private lastEndMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly now: () => number = () => performance.now()) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.lastEndMs = this.now();
    }
  }

  /** Whether no operation runs and none ended within the last `quietMs`. */
  isQuiet(quietMs: number): boolean {
    return this.active === 0 && this.now() - this.lastEndMs >= quietMs;
  }

  /**
   * Resolves once no operation has run for `quietMs`, or once `maxWaitMs` have passed. Returns
   * whether it was quiet. Checks again every `quietMs` at most (a background pace, not a wait for
   * a condition someone signals).
   */
  async quiet(quietMs: number, maxWaitMs: number): Promise<boolean> {
    const deadline = this.now() + maxWaitMs;
    for (;;) {
      if (this.isQuiet(quietMs)) return true;
      const left = deadline - this.now();
      if (left <= 0) return false;
      const untilQuiet = this.active > 0 ? quietMs : quietMs - (this.now() - this.lastEndMs);
      // Unref'd: waiting to do upkeep is no reason to keep a process alive.
      await delay(Math.max(1, Math.min(left, untilQuiet)), undefined, { ref: false });
    }
  }
}
