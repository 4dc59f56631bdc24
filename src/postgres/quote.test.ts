import { describe, expect, it } from 'vitest';
import { quoteIdent, quoteLiteral } from './quote.js';

describe('quoting (node-postgres escapes plus the NUL check)', () => {
  it('quotes identifiers and literals as PostgreSQL reads them', () => {
    expect(quoteIdent('Order "x"')).toBe('"Order ""x"""');
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral('a\\b\'c')).toBe("E'a\\\\b''c'");
  });

  it('refuses NUL and empty identifiers with INVALID_ARGUMENT', () => {
    expect(() => quoteIdent('')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => quoteIdent('a\0b')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => quoteLiteral('a\0b')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
