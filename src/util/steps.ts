import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Where an operation's time went, step by step, for whoever asked (the API answers it in a
 * `Server-Timing` header; benchmarks read it to tell which step grows). Steps are named by the
 * code that runs them; outside a `withStepTimings` call `timed` only runs its function.
 */
const current = new AsyncLocalStorage<Map<string, number>>();

export async function withStepTimings<T>(fn: () => Promise<T>): Promise<{ result: T; steps: ReadonlyMap<string, number> }> {
  const steps = new Map<string, number>();
  const result = await current.run(steps, fn);
  return { result, steps };
}

/** Adds `ms` to `step` of the operation under way (for a wait or a synchronous step). */
export function recordStep(step: string, ms: number): void {
  const steps = current.getStore();
  if (steps) steps.set(step, (steps.get(step) ?? 0) + ms);
}

/** Runs `fn`, adding its duration to `step` of the operation under way (repeated steps add up). */
export async function timed<T>(step: string, fn: () => Promise<T>): Promise<T> {
  const steps = current.getStore();
  if (!steps) return fn();
  const started = performance.now();
  try {
    return await fn();
  } finally {
    steps.set(step, (steps.get(step) ?? 0) + performance.now() - started);
  }
}

/** A `Server-Timing` header value (W3C Server Timing: `name;dur=ms`, comma-separated). */
export function serverTimingHeader(steps: ReadonlyMap<string, number>): string {
  return [...steps].map(([name, ms]) => `${name};dur=${ms.toFixed(1)}`).join(', ');
}

/** Parses a `Server-Timing` header back into steps (metrics without `dur` are left out). */
export function parseServerTiming(header: string | null): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().split(';');
    const dur = params.map((p) => /^\s*dur=([\d.]+)\s*$/.exec(p)?.[1]).find((d) => d !== undefined);
    if (name && dur !== undefined) out.set(name, Number(dur));
  }
  return out;
}
