import type pg from 'pg';
import { quoteIdent } from '../quote.js';
import { readMaskCatalog } from './catalog.js';
import { CONTENT_THRESHOLDS, classifyValue, isCardNumber, KIND_WORDS, matchName } from './pii-patterns.js';
import { sampleRows } from './sample.js';
import type { CatalogColumn, DetectOptions, JsonPath, MaskingRules, PersonalColumn, PiiKind, PiiReason, TableRule } from './types.js';

/** `['items', '*', 'email']` → `items[*].email` (the rules file accepts the same notation). */
export function formatJsonPath(path: JsonPath): string {
  let out = '';
  for (const step of path) out += step === '*' ? '[*]' : out === '' ? step : `.${step}`;
  return out;
}

/** Whether a rule path covers a found path: equal, a prefix of it, `*` matching any step. */
export function jsonPathCovers(rule: JsonPath, found: JsonPath): boolean {
  if (rule.length > found.length) return false;
  return rule.every((step, i) => step === '*' || found[i] === '*' || step === found[i]);
}

class Tally {
  sampled = 0;
  readonly matches = new Map<PiiKind, number>();
  add(kinds: Iterable<PiiKind>): void {
    this.sampled++;
    for (const k of kinds) this.matches.set(k, (this.matches.get(k) ?? 0) + 1);
  }
  reasons(): PiiReason[] {
    const out: PiiReason[] = [];
    for (const [kind, matched] of this.matches) {
      if (matched > 0 && matched / this.sampled >= CONTENT_THRESHOLDS[kind]) out.push({ by: 'content', kind, matched, sampled: this.sampled });
    }
    return out;
  }
}

/** Walks a json document, tallying every scalar leaf by its path (array steps as `*`). */
function walkJson(doc: unknown, path: string[], tallies: Map<string, { path: string[]; tally: Tally; key?: string }>): void {
  if (doc === null || doc === undefined) return;
  if (Array.isArray(doc)) {
    for (const el of doc) walkJson(el, [...path, '*'], tallies);
    return;
  }
  if (typeof doc === 'object') {
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) walkJson(v, [...path, k], tallies);
    return;
  }
  const id = JSON.stringify(path);
  let entry = tallies.get(id);
  if (!entry) {
    const key = [...path].reverse().find((s) => s !== '*');
    entry = { path, tally: new Tally(), ...(key !== undefined ? { key } : {}) };
    tallies.set(id, entry);
  }
  entry.tally.add(typeof doc === 'string' ? classifyValue(doc) : typeof doc === 'number' && isCardNumber(String(doc)) ? ['card'] : []);
}

function describeReasons(reasons: readonly PiiReason[]): string {
  return reasons
    .map((r) => (r.by === 'name' ? `name matches "${r.matched}" (${r.kind})` : `${r.matched} of ${r.sampled} sampled values are ${KIND_WORDS[r.kind]}`))
    .join('; ');
}

function finding(schema: string, table: string, column: CatalogColumn, reasons: PiiReason[], jsonPath?: JsonPath): PersonalColumn {
  const path = jsonPath ? formatJsonPath(jsonPath) : undefined;
  const where = `${schema}.${table}.${column.name}${path ? ` → ${path}` : ''} (${column.type})`;
  return { schema, table, column: column.name, type: column.type, ...(path ? { jsonPath: path } : {}), reasons, message: `${where}: ${describeReasons(reasons)}` };
}

/** Whether sampled content can tell anything about a column of this class. */
function contentCheckable(c: CatalogColumn): boolean {
  if (c.isArray) return c.class === 'string';
  return c.class === 'string' || c.class === 'json' || c.class === 'inet' || c.class === 'integer' || c.class === 'numeric';
}

function sampleExpression(c: CatalogColumn, alias: string): string {
  const col = quoteIdent(c.name);
  if (c.isArray) return `${col}::text[] AS ${alias}`;
  if (c.class === 'json') return `${col}::jsonb AS ${alias}`;
  if (c.class === 'inet') return `host(${col}) AS ${alias}`;
  return `left(${col}::text, 100000) AS ${alias}`;
}

/**
 * Columns of the connected database that look personal and have no rule: by name (see
 * pii-patterns.ts) and by a sample of their content (emails, phone numbers, card numbers passing
 * Luhn, IBANs with a valid checksum, US SSNs, IPs), json/jsonb documents walked key by key and
 * text arrays element by element. A column with a rule (even `keep`) is not flagged; a json
 * column masked by paths is flagged for personal values found at paths no rule covers.
 * The answer never carries a sampled value. Tables only: materialized views are refreshed from
 * the masked tables, views hold no data, foreign tables live elsewhere.
 */
export async function findPersonalColumns(client: pg.Client, rules: MaskingRules, options: DetectOptions = {}): Promise<PersonalColumn[]> {
  const sampleSize = options.sampleRows ?? 500;
  const catalog = await readMaskCatalog(client);
  const ruleOf = new Map<string, TableRule>(rules.tables.map((t) => [`${t.schema}\0${t.table}`, t]));
  const findings: PersonalColumn[] = [];
  for (const table of catalog.tables) {
    if (table.kind !== 'table') continue;
    if (options.schemas && !options.schemas.includes(table.schema)) continue;
    const rule = ruleOf.get(`${table.schema}\0${table.name}`);
    const toSample: { column: CatalogColumn; jsonRulePaths?: readonly JsonPath[]; nameReason?: PiiReason }[] = [];
    for (const column of table.columns) {
      const colRule = rule?.columns.find((c) => c.column === column.name);
      if (colRule?.kind === 'strategy') continue;
      if (colRule?.kind === 'json') {
        toSample.push({ column, jsonRulePaths: colRule.paths.map((p) => p.path) });
        continue;
      }
      const byName = matchName(column.name, column.class, table.name);
      const nameReason: PiiReason | undefined = byName ? { by: 'name', kind: byName.kind, matched: byName.matched } : undefined;
      if (contentCheckable(column)) toSample.push({ column, ...(nameReason ? { nameReason } : {}) });
      else if (nameReason) findings.push(finding(table.schema, table.name, column, [nameReason]));
    }
    if (toSample.length === 0) continue;
    const rows = await sampleRows<Record<string, unknown>>(
      client,
      table.schema,
      table.name,
      toSample.map((s, i) => sampleExpression(s.column, `c${i}`)),
      sampleSize,
    );
    toSample.forEach((s, i) => {
      const values = rows.map((r) => r[`c${i}`]).filter((v) => v !== null && v !== undefined);
      if (s.column.class === 'json' && !s.column.isArray) {
        const tallies = new Map<string, { path: string[]; tally: Tally; key?: string }>();
        for (const v of values) walkJson(v, [], tallies);
        const perPath: PersonalColumn[] = [];
        for (const { path, tally, key } of tallies.values()) {
          if (s.jsonRulePaths?.some((r) => jsonPathCovers(r, path))) continue;
          const reasons: PiiReason[] = [];
          const byKey = key !== undefined ? matchName(key, 'string') : undefined;
          if (byKey) reasons.push({ by: 'name', kind: byKey.kind, matched: byKey.matched });
          reasons.push(...tally.reasons());
          if (reasons.length > 0) perPath.push(finding(table.schema, table.name, s.column, reasons, path));
        }
        if (s.nameReason && !s.jsonRulePaths) {
          // A json column named like personal data is flagged whole, with what its paths showed.
          findings.push(finding(table.schema, table.name, s.column, [s.nameReason, ...perPath.flatMap((p) => p.reasons.filter((r) => r.by === 'content'))]));
        } else findings.push(...perPath);
        return;
      }
      const tally = new Tally();
      for (const v of values) {
        if (Array.isArray(v)) for (const el of v) el !== null && tally.add(classifyValue(String(el)));
        else if (s.column.class === 'integer' || s.column.class === 'numeric') tally.add(isCardNumber(String(v)) ? ['card'] : []);
        else tally.add(classifyValue(String(v)));
      }
      const reasons = [...(s.nameReason ? [s.nameReason] : []), ...tally.reasons()];
      if (reasons.length > 0) findings.push(finding(table.schema, table.name, s.column, reasons));
    });
  }
  return findings;
}
