/**
 * Merging variables into a dotenv file without disturbing what the user wrote: other keys,
 * comments, blank lines and order stay; a key already present is replaced in place (later
 * duplicates of it are dropped so the new value wins whichever way a loader resolves them); new
 * keys are appended.
 */

const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=/;
// Characters every dotenv loader (dotenv, docker compose, direnv, Vite) takes unquoted.
const PLAIN_VALUE = /^[A-Za-z0-9_@:/.%+=?&,~-]*$/;

export function formatDotenvValue(value: string): string {
  if (PLAIN_VALUE.test(value)) return value;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export function formatDotenv(vars: Readonly<Record<string, string>>): string {
  return Object.entries(vars)
    .map(([k, v]) => `${k}=${formatDotenvValue(v)}\n`)
    .join('');
}

export function mergeDotenv(existing: string, vars: Readonly<Record<string, string>>): string {
  const pending = new Map(Object.entries(vars));
  const written = new Set<string>();
  const lines = existing === '' ? [] : existing.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  for (const line of lines) {
    const key = ASSIGNMENT.exec(line)?.[1];
    if (key !== undefined && vars[key] !== undefined) {
      if (written.has(key)) continue;
      out.push(`${key}=${formatDotenvValue(vars[key])}`);
      written.add(key);
      pending.delete(key);
      continue;
    }
    out.push(line);
  }
  for (const [key, value] of pending) out.push(`${key}=${formatDotenvValue(value)}`);
  return out.length ? `${out.join('\n')}\n` : '';
}
