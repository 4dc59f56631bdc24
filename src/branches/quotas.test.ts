import { describe, expect, it } from 'vitest';
import { poolFloorBytes } from './quotas.js';
import type { Runtime } from './runtime.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const runtimeWith = (quotas: Record<string, number>) => ({ config: { quotas } }) as unknown as Runtime;

describe('pool floor', () => {
  it('defaults to 5% of the pool, at least 64 MiB and at most 10 GiB; a configured floor wins', () => {
    expect(poolFloorBytes(runtimeWith({}), 1 * GIB)).toBe(64 * MIB);
    expect(poolFloorBytes(runtimeWith({}), 20 * GIB)).toBe(GIB);
    expect(poolFloorBytes(runtimeWith({}), 1024 * GIB)).toBe(10 * GIB);
    expect(poolFloorBytes(runtimeWith({ minPoolFreeBytes: 0 }), 20 * GIB)).toBe(0);
    expect(poolFloorBytes(runtimeWith({ minPoolFreeBytes: 3 * GIB }), 20 * GIB)).toBe(3 * GIB);
  });
});
