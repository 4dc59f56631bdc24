import { expect } from 'vitest';
import { isPgbranchError, type ErrorCode } from '../../errors.js';

/** Asserts that `promise` rejects with a PgbranchError of `code` that carries its cause. */
export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeDefined();
  expect(isPgbranchError(caught) ? caught.code : caught).toBe(code);
  expect((caught as Error).cause, 'every PgbranchError carries a cause').toBeDefined();
}
