/**
 * Endpoint connections per branch, in the memory of the serving process: what scale-to-zero
 * decides on. Direct connections (bypassing the endpoint) are not seen here; the idle sweep asks
 * the instance itself before suspending.
 */
export class ActivityTracker {
  private readonly active = new Map<string, number>();
  private readonly lastActive = new Map<string, number>();
  /** Sessions the instance had counted when the idle sweep last looked, and when. */
  private readonly sessionsSeen = new Map<string, { sessions: number; atMs: number }>();

  acquire(branchId: string): () => void {
    this.active.set(branchId, (this.active.get(branchId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.active.get(branchId) ?? 1) - 1;
      if (left > 0) this.active.set(branchId, left);
      else this.active.delete(branchId);
      this.lastActive.set(branchId, Date.now());
    };
  }

  connections(branchId: string): number {
    return this.active.get(branchId) ?? 0;
  }

  touch(branchId: string, atMs = Date.now()): void {
    this.lastActive.set(branchId, atMs);
  }

  /** Moves the last activity to `atMs` if that is later than what is known (a start, seen by its time). */
  touchIfLater(branchId: string, atMs: number): void {
    const known = this.lastActive.get(branchId);
    if (known === undefined || atMs > known) this.lastActive.set(branchId, atMs);
  }

  /** When the branch was last seen in use; first asked, "now" (a fresh host gives every branch a full timeout). */
  lastActiveAt(branchId: string, nowMs = Date.now()): number {
    const known = this.lastActive.get(branchId);
    if (known !== undefined) return known;
    this.lastActive.set(branchId, nowMs);
    return nowMs;
  }

  forget(branchId: string): void {
    this.active.delete(branchId);
    this.lastActive.delete(branchId);
    this.sessionsSeen.delete(branchId);
  }

  /**
   * Whether the idle sweep should look at the instance now (a look is a session on it: at 200
   * running branches, looking at each on every sweep forks backends all day). Two looks decide
   * idleness: one after the last known activity (the session count to compare with) and one at the
   * idle deadline; none in between. A direct session made in between is found at the deadline and
   * counts as use then, so a branch used only directly stays up at most one timeout longer than
   * its last use; an unused one is suspended at its deadline as before.
   */
  needsLook(branchId: string, nowMs: number, timeoutMs: number): boolean {
    const lastActive = this.lastActiveAt(branchId, nowMs);
    const seen = this.sessionsSeen.get(branchId);
    if (!seen || seen.atMs < lastActive) return true;
    return nowMs - lastActive >= timeoutMs;
  }

  /**
   * Direct connections (not through the endpoint) leave a trace only in the instance's session
   * counter. Given the counter now, says whether anyone connected since the last look, the
   * sweep's own connection apart: 'unknown' when there is no look since the last activity to
   * compare with (the caller then waits for the next sweep), else 'active' or 'idle'.
   */
  observeSessions(branchId: string, sessions: number, nowMs: number): 'unknown' | 'active' | 'idle' {
    // Asked first: a branch seen for the first time starts its idle clock now.
    const lastActive = this.lastActiveAt(branchId, nowMs);
    const previous = this.sessionsSeen.get(branchId);
    this.sessionsSeen.set(branchId, { sessions, atMs: nowMs });
    // No earlier look, a look older than the last activity, or a counter that went back (a new
    // instance, whose statistics start over): nothing to compare with, wait for the next look.
    if (!previous || previous.atMs < lastActive || sessions < previous.sessions) return 'unknown';
    // One session is the previous sweep's own.
    if (sessions - previous.sessions > 1) {
      this.touch(branchId, nowMs);
      this.sessionsSeen.set(branchId, { sessions, atMs: nowMs });
      return 'active';
    }
    return 'idle';
  }
}
