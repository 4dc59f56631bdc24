/**
 * One JSON naming for the CLI and the API: snake_case keys (`own_bytes`, `expires_at`), as the
 * REST API has always used. The domain's views are camelCase TypeScript; the CLI's json/yaml output
 * converts their keys here, once. Objects that are already wire-shaped and hold user-named keys
 * (a diff's rows are keyed by column names) are marked `verbatim` and printed as they are.
 */

import { snakeCaseKey } from '../errors.js';

const VERBATIM = new WeakSet<object>();

/** Marks an object (already in API shape) to be printed without renaming any key inside it. */
export function verbatim<T extends object>(value: T): T {
  VERBATIM.add(value);
  return value;
}

export { snakeCaseKey };

/** A deep copy with every camelCase key in snake_case (verbatim subtrees untouched). */
export function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value === null || typeof value !== 'object' || VERBATIM.has(value)) return value;
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [snakeCaseKey(k), snakeKeys(v)]));
}
