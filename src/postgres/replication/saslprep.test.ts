import { describe, expect, it } from 'vitest';
import { saslprep } from './saslprep.js';

describe('saslprep (as PostgreSQL applies it)', () => {
  it('leaves pure ASCII alone, control characters included', () => {
    expect(saslprep('user pass')).toBe('user pass');
    expect(saslprep('a\u0007b')).toBe('a\u0007b');
  });

  it('maps, normalises (NFKC) and deletes like RFC 4013 section 3', () => {
    expect(saslprep('I\u00ADX')).toBe('IX');
    expect(saslprep('\u00AA')).toBe('a');
    expect(saslprep('\u2168')).toBe('IX');
    expect(saslprep('ＡＢＣ')).toBe('ABC');
    expect(saslprep('a\u00A0b')).toBe('a b');
    expect(saslprep('cafe\u0301')).toBe('caf\u00E9');
  });

  it('falls back to the raw password when SASLprep prohibits it', () => {
    expect(saslprep('é\u0007')).toBe('é\u0007'); // control character
    expect(saslprep('\u0627\u0031')).toBe('\u0627\u0031'); // RandALCat not at both ends
    expect(saslprep('\u00AD')).toBe('\u00AD'); // maps to nothing
    expect(saslprep('é\u0221')).toBe('é\u0221'); // unassigned in Unicode 3.2
    expect(saslprep('\u0627\u0628')).toBe('\u0627\u0628'.normalize('NFKC'));
  });
});
