import { describe, expect, it } from 'vitest';
import { columnComparator, compareIntegerText, compareUtf8, toJsonValue } from './values.js';

describe('toJsonValue', () => {
  it('keeps only what JSON carries exactly as JSON scalars', () => {
    expect(toJsonValue('t', 16)).toBe(true);
    expect(toJsonValue('f', 16)).toBe(false);
    expect(toJsonValue('-32768', 21)).toBe(-32768);
    expect(toJsonValue('2147483647', 23)).toBe(2147483647);
    expect(toJsonValue('9007199254740993', 20)).toBe('9007199254740993');
    expect(toJsonValue('0.1', 1700)).toBe('0.1');
    expect(toJsonValue('0.75', 701)).toBe(0.75);
    for (const special of ['NaN', 'Infinity', '-Infinity', '-0']) expect(toJsonValue(special, 701)).toBe(special);
    expect(toJsonValue('\\xdead', 17)).toBe('\\xdead');
    expect(toJsonValue(null, 23)).toBeNull();
  });
});

describe('ordering', () => {
  it('orders strings by their UTF-8 bytes, as COLLATE "C" does', () => {
    const words = ['b', 'a', '', 'ab', '\u{1F600}', '\uFFFD', 'é', 'Z'];
    const byBytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...words].sort(compareUtf8)).toEqual(byBytes);
    // Plain UTF-16 order would put the emoji (a surrogate pair) before U+FFFD.
    expect(compareUtf8('\u{1F600}', '\uFFFD')).toBeGreaterThan(0);
  });

  it('orders integer texts numerically, and NULLs last', () => {
    const numbers = ['10', '-3', '2', '-20', '0', '9223372036854775807', '-9223372036854775808'];
    expect([...numbers].sort(compareIntegerText)).toEqual(['-9223372036854775808', '-20', '-3', '0', '2', '10', '9223372036854775807']);
    const compare = columnComparator(23);
    expect([null, '3', '-1'].sort(compare)).toEqual(['-1', '3', null]);
    expect(columnComparator(25)('b', null)).toBeLessThan(0);
  });
});
