import { describe, expect, it } from 'vitest';
import type { HostConfig } from './config.js';
import { canonicalTime, expiryChange, resolveExpiry } from './governance.js';

const config = { expiry: [{ pattern: 'pr-*', ttlMs: 3_600_000 }] } as unknown as HostConfig;
const NOW = Date.UTC(2026, 11, 1);

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

describe('expiry input', () => {
  it('a TTL that lands past the year 9999 is INVALID_ARGUMENT, not an internal error', () => {
    for (const ttlMs of [8.64e15, 2 ** 53 - 1, 100_000_000 * 86_400_000]) {
      expect(codeOf(() => resolveExpiry(config, 'x', { ttlMs }, NOW))).toBe('INVALID_ARGUMENT');
      expect(codeOf(() => expiryChange({ ttlMs }, NOW))).toBe('INVALID_ARGUMENT');
    }
    expect(resolveExpiry(config, 'x', { ttlMs: 3 * 86_400_000 }, NOW)).toBe('2026-12-04T00:00:00.000Z');
  });

  it('times before 1970 or after 9999 are refused; the stored form is canonical', () => {
    expect(codeOf(() => canonicalTime('0000-01-01T00:00:00Z', 'expires_at'))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => canonicalTime('1969-12-31T23:59:59Z', 'expires_at'))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => canonicalTime('+010000-01-01T00:00:00Z', 'expires_at'))).toBe('INVALID_ARGUMENT');
    expect(canonicalTime('2030-01-01T01:00:00+01:00', 'expires_at')).toBe('2030-01-01T00:00:00.000Z');
    expect(codeOf(() => resolveExpiry(config, 'x', { expiresAt: '0000-06-01T00:00:00Z' }, NOW))).toBe('INVALID_ARGUMENT');
  });

  it('the per-pattern default applies to matching names only', () => {
    expect(resolveExpiry(config, 'pr-7', {}, NOW)).toBe('2026-12-01T01:00:00.000Z');
    expect(resolveExpiry(config, 'main', {}, NOW)).toBeNull();
  });
});
