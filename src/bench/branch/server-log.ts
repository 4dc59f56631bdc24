/** Intervals of a new instance's start, read from its own server log (its own timestamps). */
export const LOG_PHASES = [
  ['boot', 'postmaster start → "not properly shut down"'],
  ['syncDataDir', 'fsync of the data directory before redo'],
  ['redo', 'WAL redo'],
  ['eorCheckpoint', 'end-of-recovery checkpoint'],
  ['toReady', '→ "ready to accept connections"'],
  ['outsideLog', 'exec before the first log line + seeing "ready" in postmaster.pid'],
] as const;
export type LogPhase = (typeof LOG_PHASES)[number][0];

interface LogLine {
  readonly ms: number;
  readonly text: string;
}

function parseServerLog(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    // log_line_prefix = '%m [%p] ': "2025-01-02 03:04:05.678 UTC [123] LOG:  …"; only differences
    // between lines are used, so the zone does not matter.
    const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3}) \S+ \[\d+\] (.*)$/.exec(line);
    if (!m) continue;
    const [, y, mo, d, h, mi, s, ms, rest] = m;
    out.push({ ms: Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!, +ms!), text: rest! });
  }
  return out;
}

/**
 * The start phases of the instance whose log is `text`. `startStepMs`: how long the start took as
 * the caller measured it, so that the time outside the log's span can be told too.
 */
export function logPhases(text: string, startStepMs?: number): Partial<Record<LogPhase, number>> {
  const lines = parseServerLog(text);
  const at = (re: RegExp): number | undefined => lines.find((l) => re.test(l.text))?.ms;
  const start = at(/starting PostgreSQL/);
  const crashed = at(/not properly shut down|was interrupted/);
  const redoStart = at(/redo starts at/);
  const redoDone = at(/redo done at|redo is not required/);
  const ckptDone = at(/checkpoint complete/);
  const ready = at(/ready to accept connections/);
  const out: Partial<Record<LogPhase, number>> = {};
  const put = (k: LogPhase, a: number | undefined, b: number | undefined): void => {
    if (a !== undefined && b !== undefined && b >= a) out[k] = b - a;
  };
  put('boot', start, crashed);
  put('syncDataDir', crashed, redoStart);
  put('redo', redoStart, redoDone);
  put('eorCheckpoint', redoDone, ckptDone);
  put('toReady', ckptDone ?? redoDone, ready);
  if (start !== undefined && ready !== undefined && startStepMs !== undefined) out.outsideLog = Math.max(0, startStepMs - (ready - start));
  return out;
}
