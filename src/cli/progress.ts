import type { ProgressEvent, ProgressSink } from '../branches/index.js';
import { formatBytes } from './format.js';

/**
 * Renders progress on stderr: one line rewritten in place on a terminal; on a pipe or CI log, a
 * line per phase and at most one update per `throttleMs`, so logs stay readable.
 */
export function stderrProgress(stderr: NodeJS.WritableStream & { isTTY?: boolean }, options: { quiet?: boolean; throttleMs?: number } = {}): ProgressSink {
  if (options.quiet) return () => undefined;
  const tty = stderr.isTTY === true;
  const throttleMs = options.throttleMs ?? (tty ? 100 : 5000);
  let lastPhase = '';
  let lastAt = 0;
  let open = false;
  return (event: ProgressEvent) => {
    const now = Date.now();
    const phaseChanged = event.phase !== lastPhase;
    const finished = event.total !== undefined && event.done === event.total;
    if (!phaseChanged && !finished && now - lastAt < throttleMs) return;
    lastPhase = event.phase;
    lastAt = now;
    const text = describe(event);
    if (event.phase === 'warning') {
      if (open) stderr.write('\n');
      open = false;
      stderr.write(`warning: ${event.message ?? ''}\n`);
    } else if (tty) {
      stderr.write(`\r\x1b[2K${text}`);
      open = true;
      if (finished) {
        stderr.write('\n');
        open = false;
      }
    } else {
      stderr.write(`${text}\n`);
    }
  };
}

function describe(event: ProgressEvent): string {
  if (event.message) return `${event.phase}: ${event.message}`;
  const fmt = (n: number): string => (event.unit === 'bytes' ? formatBytes(n) : String(n));
  if (event.done !== undefined && event.total !== undefined && event.total > 0) {
    const pct = Math.floor((event.done / event.total) * 100);
    return `${event.phase}: ${fmt(event.done)} / ${fmt(event.total)} (${pct}%)`;
  }
  if (event.done !== undefined) return `${event.phase}: ${fmt(event.done)}`;
  return event.phase;
}
