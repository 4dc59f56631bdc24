import { describe, expect, it } from 'vitest';
import { formatTimeLeft } from './format.js';
import { parseTimeOrAgo, parseTtl, parseTtlOrNone } from './parse.js';

describe('expiry and audit options', () => {
  it('parses TTLs with units, refusing zero and bare numbers', () => {
    expect(parseTtl('3d')).toBe(259_200_000);
    expect(parseTtl('90m')).toBe(5_400_000);
    expect(() => parseTtl('0h')).toThrow(/positive duration/);
    expect(() => parseTtl('12')).toThrow(/positive duration/);
    expect(parseTtlOrNone('none')).toBe('none');
    expect(parseTtlOrNone('2h')).toBe(7_200_000);
  });

  it('reads --since as an ISO time or a duration ago', () => {
    const now = Date.parse('2026-01-10T12:00:00Z');
    expect(parseTimeOrAgo('1h', now)).toBe('2026-01-10T11:00:00.000Z');
    expect(parseTimeOrAgo('2026-01-01T00:00:00+01:00', now)).toBe('2025-12-31T23:00:00.000Z');
    expect(() => parseTimeOrAgo('yesterday', now)).toThrow(/ISO-8601/);
  });

  it('shows time left until expiry', () => {
    const now = Date.parse('2026-01-10T12:00:00Z');
    expect(formatTimeLeft(null, now)).toBe('-');
    expect(formatTimeLeft('2026-01-10T11:00:00Z', now)).toBe('expired');
    expect(formatTimeLeft('2026-01-10T12:30:00Z', now)).toBe('30m');
    expect(formatTimeLeft('2026-01-10T14:05:00Z', now)).toBe('2h 5m');
    expect(formatTimeLeft('2026-01-13T15:00:00Z', now)).toBe('3d 3h');
  });
});
