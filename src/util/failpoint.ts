/**
 * Crash injection for the crash-safety tests: when PGBRANCH_FAILPOINT names a point the process
 * reaches, it dies there with SIGKILL — no cleanup, no finally blocks, exactly like a power cut
 * of the CLI or host process. Unset in normal use, where this is a string comparison.
 */
const armed = process.env.PGBRANCH_FAILPOINT;

export function failpoint(name: string): void {
  if (armed !== undefined && armed === name) process.kill(process.pid, 'SIGKILL');
}
