import type { CatalogColumn, ColumnClass, MaskStrategy } from './types.js';

/**
 * Which strategy can write which kind of column. One source for the rules validator (which
 * reports a misfit with the rule's position) and the executor (which refuses to build SQL for it).
 * Returns why not, or undefined when the strategy fits.
 */
export function strategyMisfit(strategy: MaskStrategy, column: Pick<CatalogColumn, 'class' | 'isArray' | 'notNull' | 'type'>, inJson = false): string | undefined {
  const cls = column.class;
  const fits = (allowed: readonly ColumnClass[], arrays: boolean): string | undefined => {
    if (inJson) return undefined;
    if (column.isArray && !arrays) return `${describe(strategy)} does not apply to arrays (${column.type})`;
    return allowed.includes(cls) ? undefined : `${describe(strategy)} does not fit type ${column.type}`;
  };
  switch (strategy.kind) {
    case 'keep':
    case 'sql':
      return undefined;
    case 'null':
      if (inJson) return undefined;
      return column.notNull ? `null does not fit a NOT NULL column (${column.type})` : undefined;
    case 'constant':
      if (inJson) return undefined;
      if (column.isArray) return `constant does not apply to arrays (${column.type})`;
      return undefined;
    case 'fake':
      return strategy.fake === 'ip' ? fits(['string', 'inet'], true) : fits(['string'], true);
    case 'hash':
      return fits(['string', 'integer', 'uuid', 'bytea'], true);
    case 'partial':
      return fits(['string'], true);
    case 'noise-date':
      return inJson ? 'noise: { date } does not apply inside json' : fits(['date', 'timestamp'], false);
    case 'noise-number':
      return fits(['integer', 'numeric'], false);
  }
}

export function describe(strategy: MaskStrategy): string {
  switch (strategy.kind) {
    case 'fake':
      return `fake: ${strategy.fake}`;
    case 'noise-date':
      return 'noise: { date }';
    case 'noise-number':
      return 'noise: { number }';
    default:
      return strategy.kind;
  }
}

/**
 * Strategies whose output is a function of the input alone and distinct inputs stay distinct
 * (up to hash collisions): the only ones a unique column or a foreign key can take.
 */
export function isInjective(strategy: MaskStrategy): boolean {
  return strategy.kind === 'hash' || strategy.kind === 'keep' || (strategy.kind === 'fake' && INJECTIVE_FAKES.has(strategy.fake));
}

/** Fakes that carry enough bits of the keyed hash to stay unique (see sql-functions.ts). */
const INJECTIVE_FAKES = new Set(['email', 'phone', 'iban', 'username', 'url', 'ip']);
