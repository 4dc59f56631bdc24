import { failpoint } from '../util/index.js';

/**
 * The named step boundaries of multi-step operations. Each is a crash point (the crash test kills
 * the process there, see util/failpoint) and a trace point: a tracer sees every boundary a real
 * operation crosses, with its time, which is how the branch benchmark breaks a create into steps
 * without replaying it.
 */
export type StepTracer = (point: string, atMs: number) => void;

const tracers = new Set<StepTracer>();

/** Calls `tracer` at every step boundary until the returned function is called. */
export function traceSteps(tracer: StepTracer): () => void {
  tracers.add(tracer);
  return () => tracers.delete(tracer);
}

export function crashPoint(name: string): void {
  if (tracers.size > 0) {
    const at = performance.now();
    for (const tracer of tracers) tracer(name, at);
  }
  failpoint(name);
}
