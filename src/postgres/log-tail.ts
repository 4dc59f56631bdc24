import { open } from 'node:fs/promises';

/** Last `maxLines` lines of a log file, reading from `fromOffset` (where our start began). */
export async function readLogTail(file: string, fromOffset = 0, maxLines = 20, maxBytes = 64 * 1024): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(fromOffset, size - maxBytes);
    const length = Math.max(0, size - start);
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, start);
    return buf.toString('utf8').trimEnd().split('\n').slice(-maxLines).join('\n');
  } finally {
    await handle.close();
  }
}

/** Last lines of a tool's stderr, for error messages. */
export function lastLines(text: string, maxLines = 10): string {
  return text.trimEnd().split('\n').slice(-maxLines).join('\n');
}
