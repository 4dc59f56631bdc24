import {
  describeStrategy,
  isInjective,
  strategyMisfit,
  type CatalogTable,
  type ColumnRule,
  type MaskCatalog,
  type MaskingRules,
  type MaskStrategy,
  type SourcePosition,
} from '../../postgres/index.js';
import { rulesInvalidError, type RulesProblem, type RulesProblemCode } from './problems.js';

const HASH_DIGITS = 64;

/** A rule's strategy as comparable text (positions left out); json rules compare by their paths. */
function signature(rule: ColumnRule | undefined): string {
  if (!rule) return 'keep';
  if (rule.kind === 'json') return `json:${JSON.stringify(rule.paths.map((p) => [p.path, p.strategy]))}`;
  return rule.strategy.kind === 'keep' ? 'keep' : JSON.stringify(rule.strategy);
}

/**
 * Checks rules against a catalog snapshot (data, no connection): every table and column exists
 * and is writable, every strategy fits its column's type, unique columns get injective strategies,
 * and both sides of every foreign key are masked alike (equal inputs must stay equal).
 */
export function checkRulesAgainstCatalog(rules: MaskingRules, catalog: MaskCatalog, file = 'masking rules'): RulesProblem[] {
  const problems: RulesProblem[] = [];
  const add = (at: SourcePosition | undefined, code: RulesProblemCode, message: string): void => {
    problems.push({ file: at?.file ?? file, line: at?.line ?? 1, column: at?.column ?? 1, code, message });
  };
  const tableOf = (schema: string, name: string): CatalogTable | undefined => catalog.tables.find((t) => t.schema === schema && t.name === name);
  const ruleOf = new Map<string, Map<string, ColumnRule>>();

  for (const rule of rules.tables) {
    const name = `${rule.schema}.${rule.table}`;
    const table = tableOf(rule.schema, rule.table);
    if (!table) {
      const elsewhere = catalog.tables.filter((t) => t.name === rule.table).map((t) => `${t.schema}.${t.name}`);
      add(rule.at, 'unknown-table', `database ${catalog.database} has no table ${name}${elsewhere.length ? ` (did you mean ${elsewhere.join(' or ')}?)` : ''}`);
      continue;
    }
    if (table.kind === 'partition') {
      add(rule.at, 'not-a-table', `${name} is a partition: write the rules for its partitioned table ${table.partitionOf!.schema}.${table.partitionOf!.name}`);
      continue;
    }
    if (table.kind === 'matview') {
      add(rule.at, 'not-a-table', `${name} is a materialized view: it is refreshed from the masked tables, mask those`);
      continue;
    }
    if (table.kind !== 'table') {
      add(rule.at, 'not-a-table', `${name} is a ${table.kind === 'view' ? 'view (it holds no data)' : 'foreign table (its data lives elsewhere)'}`);
      continue;
    }
    const byColumn = new Map<string, ColumnRule>();
    ruleOf.set(name, byColumn);
    for (const colRule of rule.columns) {
      const column = table.columns.find((c) => c.name === colRule.column);
      if (!column) {
        add(colRule.at, 'unknown-column', `${name} has no column ${JSON.stringify(colRule.column)}`);
        continue;
      }
      byColumn.set(column.name, colRule);
      const strategies: { strategy: MaskStrategy; at?: SourcePosition; inJson: boolean }[] =
        colRule.kind === 'json' ? colRule.paths.map((p) => ({ strategy: p.strategy, ...(p.at ? { at: p.at } : {}), inJson: true })) : [{ strategy: colRule.strategy, ...(colRule.at ? { at: colRule.at } : {}), inJson: false }];
      if (colRule.kind === 'json' && (column.class !== 'json' || column.isArray)) {
        add(colRule.at, 'type-mismatch', `json paths need a json or jsonb column, ${name}.${column.name} is ${column.type}`);
        continue;
      }
      const masked = strategies.some((s) => s.strategy.kind !== 'keep');
      if (masked && (column.generated || column.identityAlways)) {
        add(colRule.at, 'generated-column', `${name}.${column.name} is ${column.generated ? 'generated from other columns: mask those' : 'GENERATED ALWAYS AS IDENTITY and cannot be rewritten'}`);
        continue;
      }
      for (const s of strategies) {
        const misfit = strategyMisfit(s.strategy, column, s.inJson);
        if (misfit) add(s.at, 'type-mismatch', `${name}.${column.name}: ${misfit}`);
      }
      if (colRule.kind === 'strategy') {
        const st = colRule.strategy;
        const unique = table.uniqueKeys.some((k) => k.length === 1 && k[0] === column.name);
        if (unique && !isInjective(st) && st.kind !== 'null' && st.kind !== 'sql') {
          add(colRule.at, 'not-injective', `${name}.${column.name} is unique, ${describeStrategy(st)} would make rows equal: use hash or fake: email|phone|username|iban|url|ip`);
        }
        if (st.kind === 'hash' && column.class === 'string' && column.maxLength !== undefined && (st.length ?? HASH_DIGITS) > column.maxLength) {
          add(colRule.at, 'too-long', `${name}.${column.name} holds ${column.maxLength} characters, the hash has ${st.length ?? HASH_DIGITS}: write { hash: { length: ${Math.max(8, column.maxLength)} } }`);
        }
      }
    }
  }

  // Foreign keys: a pair of columns must be masked alike, or the keys no longer join.
  for (const table of catalog.tables) {
    for (const fk of table.foreignKeys) {
      const from = ruleOf.get(`${table.schema}.${table.name}`);
      const to = ruleOf.get(`${fk.refSchema}.${fk.refTable}`);
      fk.columns.forEach((col, i) => {
        const refCol = fk.refColumns[i]!;
        const a = from?.get(col);
        const b = to?.get(refCol);
        if (!a && !b) return;
        if (a?.kind === 'strategy' && a.strategy.kind === 'null') return; // NULL references nothing
        if (signature(a) === signature(b)) return;
        const describe = (r: ColumnRule | undefined): string => (!r ? 'kept' : r.kind === 'json' ? 'masked by json paths' : describeStrategy(r.strategy));
        add(
          (a ?? b)!.at,
          'fk-mismatch',
          `foreign key ${fk.name}: ${table.schema}.${table.name}.${col} (${describe(a)}) references ${fk.refSchema}.${fk.refTable}.${refCol} (${describe(b)}); give both the same rule`,
        );
      });
    }
  }
  return problems;
}

/** Throws MASK_RULES_INVALID when the rules do not fit the catalog. */
export function validateMaskingRules(rules: MaskingRules, catalog: MaskCatalog, file = 'masking rules'): void {
  const problems = checkRulesAgainstCatalog(rules, catalog, file);
  if (problems.length > 0) throw rulesInvalidError(problems);
}
