import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import type { Node, Pair, Scalar, YAMLMap } from 'yaml';
import { FAKE_KINDS, type ColumnRule, type FakeKind, type JsonPathRule, type MaskCatalog, type MaskingRules, type MaskStrategy, type SourcePosition, type TableRule } from '../../postgres/index.js';
import { rulesInvalidError, type RulesProblem, type RulesProblemCode } from './problems.js';
import { checkRulesAgainstCatalog } from './validate-rules.js';

// yaml is loaded when rules are first read: every CLI call loads the domain, few read rules.
const require = createRequire(import.meta.url);
let yamlModule: typeof Yaml | undefined;
const yaml = (): typeof Yaml => (yamlModule ??= require('yaml') as typeof Yaml);
const isMap = (node: unknown): node is YAMLMap => yaml().isMap(node);
const isScalar = (node: unknown): node is Scalar => yaml().isScalar(node);

/**
 * The masking rules file (docs/masking.md is the reference): YAML, one file per database.
 *
 *   version: 1
 *   schema: public            # for table names without a schema
 *   tables:
 *     users:                  # or billing.invoices
 *       email: { fake: email }
 *       phone: hash
 *       profile:
 *         json:
 *           contact.email: { fake: email }
 *
 * Parsing is pure: text in, rules or every problem out (with file:line:column and a stable code).
 */

const STRATEGY_KEYS = ['fake', 'hash', 'partial', 'null', 'constant', 'noise', 'sql', 'keep', 'json'] as const;
const SCALAR_STRATEGIES = ['hash', 'null', 'keep'];
const TOP_KEYS = new Set(['version', 'schema', 'database', 'tables']);
const DURATION = /^(\d+(?:\.\d+)?)\s*(d|h|m|s)$/;
const PERCENT = /^(\d+(?:\.\d+)?)\s*%$/;
const PATH_STEP = /^(?:[^.[\]*\s][^.[\]]*|\*)?(?:\[\*\])*$/;
const SECONDS: Readonly<Record<string, number>> = { d: 86_400, h: 3_600, m: 60, s: 1 };

class Reader {
  readonly problems: RulesProblem[] = [];
  private readonly lines = new (yaml().LineCounter)();
  constructor(
    readonly file: string,
    readonly text: string,
  ) {}

  parse() {
    return yaml().parseDocument(this.text, { lineCounter: this.lines, uniqueKeys: true, prettyErrors: false });
  }

  at(node: Node | null | undefined, fallbackOffset = 0): SourcePosition {
    const offset = node?.range?.[0] ?? fallbackOffset;
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, column: col };
  }

  problem(node: Node | null | undefined, code: RulesProblemCode, message: string): undefined {
    this.problems.push({ ...this.at(node), code, message });
    return undefined;
  }
}

/** A map key as written: `null:` and `123:` are column names too. */
function keyText(pair: Pair): string | undefined {
  const key = pair.key;
  if (!isScalar(key)) return undefined;
  return key.source ?? String(key.value);
}

/** Whether one path is a prefix of the other (`*` matching any step): their rules would collide. */
function overlaps(a: readonly string[], b: readonly string[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i] && a[i] !== '*' && b[i] !== '*') return false;
  return true;
}

/** Parses `contact.emails[*]` into `['contact', 'emails', '*']`. */
export function parseJsonPath(text: string): string[] | undefined {
  if (text.trim() === '') return undefined;
  const out: string[] = [];
  for (const step of text.split('.')) {
    if (!PATH_STEP.test(step)) return undefined;
    const stars = (step.match(/\[\*\]/g) ?? []).length;
    const name = step.replace(/(\[\*\])+$/, '');
    if (name !== '') out.push(name);
    else if (stars === 0) return undefined;
    for (let i = 0; i < stars; i++) out.push('*');
  }
  return out;
}

function integer(r: Reader, node: unknown, what: string, min: number, max: number): number | undefined {
  if (isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value) && node.value >= min && node.value <= max) return node.value;
  return r.problem(node as Node, 'bad-option', `${what} must be a whole number from ${min} to ${max}`);
}

/** Options of a strategy given as a map: only `allowed` keys. */
function options(r: Reader, node: unknown, strategy: string, allowed: readonly string[]): Map<string, Pair> | undefined {
  if (!isMap(node)) return r.problem(node as Node, 'bad-option', `${strategy} takes a map of options (${allowed.join(', ')})`);
  const out = new Map<string, Pair>();
  let ok = true;
  for (const pair of node.items) {
    const key = keyText(pair);
    if (key === undefined || !allowed.includes(key)) {
      ok = false;
      r.problem(pair.key as Node, 'bad-option', `${strategy} has no option ${JSON.stringify(key)} (options: ${allowed.join(', ')})`);
    } else out.set(key, pair);
  }
  return ok ? out : undefined;
}

function strategyFromMap(r: Reader, node: YAMLMap, inJson: boolean): MaskStrategy | { json: JsonPathRule[] } | undefined {
  if (node.items.length !== 1) {
    return r.problem(node, 'bad-strategy', `a strategy is a map with exactly one key (${STRATEGY_KEYS.join(', ')}), this one has ${node.items.length}`);
  }
  const pair = node.items[0]!;
  const kind = keyText(pair);
  const value = pair.value as Node | null;
  switch (kind) {
    case 'fake': {
      const fake = isScalar(value) ? value.value : undefined;
      if (typeof fake === 'string' && (FAKE_KINDS as readonly string[]).includes(fake)) return { kind: 'fake', fake: fake as FakeKind };
      return r.problem(value ?? (pair.key as Node), 'unknown-fake', `fake must be one of ${FAKE_KINDS.join(', ')}`);
    }
    case 'hash': {
      if (value === null || (isScalar(value) && value.value === null)) return { kind: 'hash' };
      const opts = options(r, value, 'hash', ['length']);
      if (!opts) return undefined;
      const lengthPair = opts.get('length');
      if (!lengthPair) return { kind: 'hash' };
      const length = integer(r, lengthPair.value, 'hash length (hex digits)', 8, 64);
      return length === undefined ? undefined : { kind: 'hash', length };
    }
    case 'partial': {
      const opts = options(r, value, 'partial', ['keep_first', 'keep_last', 'char']);
      if (!opts) return undefined;
      if (!opts.has('keep_first') && !opts.has('keep_last')) return r.problem(value, 'bad-option', 'partial needs keep_first, keep_last or both');
      const keepFirst = opts.has('keep_first') ? integer(r, opts.get('keep_first')!.value, 'keep_first', 0, 1000) : 0;
      const keepLast = opts.has('keep_last') ? integer(r, opts.get('keep_last')!.value, 'keep_last', 0, 1000) : 0;
      let maskChar = '*';
      if (opts.has('char')) {
        const c = opts.get('char')!.value;
        if (!isScalar(c) || typeof c.value !== 'string' || [...c.value].length !== 1) return r.problem(c as Node, 'bad-option', 'char must be one character');
        maskChar = c.value;
      }
      return keepFirst === undefined || keepLast === undefined ? undefined : { kind: 'partial', keepFirst, keepLast, maskChar };
    }
    case 'constant': {
      if (isScalar(value) && (typeof value.value === 'string' || typeof value.value === 'number' || typeof value.value === 'boolean')) {
        return { kind: 'constant', value: value.value };
      }
      return r.problem(value ?? (pair.key as Node), 'bad-option', 'constant takes a string, number or boolean (use null to blank a column)');
    }
    case 'noise': {
      const opts = options(r, value, 'noise', ['date', 'number']);
      if (!opts) return undefined;
      if (opts.size !== 1) return r.problem(value, 'bad-option', 'noise takes exactly one of date (e.g. 30d) or number (e.g. 10%)');
      const [[which, p]] = [...opts.entries()] as [[string, Pair]];
      const raw = isScalar(p.value) ? String(p.value.value) : '';
      if (which === 'date') {
        if (inJson) return r.problem(pair.key as Node, 'bad-strategy', 'noise: { date } does not apply inside json');
        const m = DURATION.exec(raw);
        if (!m || Number(m[1]) <= 0) return r.problem(p.value as Node, 'bad-option', 'noise date is a duration like 30d, 12h, 90m or 45s');
        return { kind: 'noise-date', seconds: Number(m[1]) * SECONDS[m[2]!]! };
      }
      const m = PERCENT.exec(raw);
      if (!m || Number(m[1]) <= 0 || Number(m[1]) > 100) return r.problem(p.value as Node, 'bad-option', 'noise number is a percentage from 0% to 100%, like 10%');
      return { kind: 'noise-number', percent: Number(m[1]) };
    }
    case 'sql': {
      if (inJson) return r.problem(pair.key as Node, 'bad-strategy', 'sql does not apply inside json (mask the whole column with sql instead)');
      if (!isScalar(value) || typeof value.value !== 'string' || value.value.trim() === '') return r.problem(value ?? (pair.key as Node), 'bad-option', 'sql takes an SQL expression as a string');
      if (value.value.includes(';')) return r.problem(value, 'unsafe-sql', 'an sql expression is one expression: no ";"');
      return { kind: 'sql', expression: value.value.trim() };
    }
    case 'json': {
      if (inJson) return r.problem(pair.key as Node, 'bad-strategy', 'json paths do not nest: write the full path (a.b.c)');
      if (!isMap(value)) return r.problem(value ?? (pair.key as Node), 'bad-option', 'json takes a map of paths to strategies');
      const rules: JsonPathRule[] = [];
      const seen = new Map<string, string[]>();
      for (const p of value.items) {
        const text = keyText(p) ?? '';
        const path = parseJsonPath(text);
        if (!path) {
          r.problem(p.key as Node, 'bad-path', `${JSON.stringify(text)} is not a json path (keys separated by ".", [*] for every array element, * for every value)`);
          continue;
        }
        const overlap = [...seen.entries()].find(([, other]) => overlaps(other, path));
        if (overlap) {
          const same = JSON.stringify(overlap[1]) === JSON.stringify(path);
          r.problem(p.key as Node, 'duplicate-path', same ? `json path ${text} has two rules` : `json path ${text} overlaps ${overlap[0]}: one rule per part of a document`);
          continue;
        }
        seen.set(text, path);
        const strategy = strategyOf(r, p.value as Node | null, true);
        if (strategy && !('json' in strategy)) rules.push({ path, strategy, at: r.at(p.key as Node) });
      }
      return { json: rules };
    }
    case 'null':
    case 'keep':
      return r.problem(pair.key as Node, 'bad-strategy', `write ${kind} alone (column: ${kind}), not as a map`);
    default:
      return r.problem(pair.key as Node, 'unknown-strategy', `unknown strategy ${JSON.stringify(kind)} (strategies: ${STRATEGY_KEYS.join(', ')})`);
  }
}

function strategyOf(r: Reader, node: Node | null, inJson: boolean): MaskStrategy | { json: JsonPathRule[] } | undefined {
  if (node === null || (isScalar(node) && node.value === null)) return { kind: 'null' };
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v === 'string' && SCALAR_STRATEGIES.includes(v)) return v === 'hash' ? { kind: 'hash' } : v === 'keep' ? { kind: 'keep' } : { kind: 'null' };
    const hint = typeof v === 'string' && (STRATEGY_KEYS as readonly string[]).includes(v) ? ` (${v} needs an option: { ${v}: … })` : '';
    return r.problem(node, 'unknown-strategy', `unknown strategy ${JSON.stringify(v)}${hint}; alone: hash, null, keep; with options: fake, hash, partial, constant, noise, sql, json`);
  }
  if (isMap(node)) return strategyFromMap(r, node, inJson);
  return r.problem(node, 'bad-strategy', 'a strategy is a word (hash, null, keep) or a one-key map like { fake: email }');
}

const IDENT = /^[^.\s"][^."]*$/;

/**
 * Parses a rules file. Returns the rules, or throws MASK_RULES_INVALID listing every problem
 * (syntax, unknown keys and strategies, bad options, duplicates; with `catalog`, also unknown
 * tables and columns, misfits of strategy and type, and rules that would break constraints).
 */
export function parseMaskingRules(text: string, options: { file: string; catalog?: MaskCatalog }): MaskingRules {
  const { rules, problems } = checkMaskingRules(text, options);
  if (problems.length > 0 || !rules) throw rulesInvalidError(problems);
  return rules;
}

/** Like parseMaskingRules, without throwing: every problem found, and the rules if there were none. */
export function checkMaskingRules(text: string, options: { file: string; catalog?: MaskCatalog }): { rules?: MaskingRules; problems: RulesProblem[] } {
  const r = new Reader(options.file, text);
  const doc = r.parse();
  for (const err of doc.errors) {
    r.problems.push({
      ...r.at(null, err.pos[0]),
      code: err.code === 'DUPLICATE_KEY' ? 'duplicate-key' : 'yaml-syntax',
      message: err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
    });
  }
  if (doc.errors.length > 0) return { problems: r.problems };
  const root = doc.contents;
  if (!isMap(root)) {
    r.problem(root, 'bad-table', 'the rules file is a map with version, schema and tables');
    return { problems: r.problems };
  }
  let defaultSchema = 'public';
  let database: string | undefined;
  let tablesNode: Node | null = null;
  let tablesKey: Node | null = null;
  for (const pair of root.items) {
    const key = keyText(pair);
    const value = pair.value as Node | null;
    if (key === undefined || !TOP_KEYS.has(key)) {
      r.problem(pair.key as Node, 'unknown-key', `unknown key ${JSON.stringify(key)} (keys: ${[...TOP_KEYS].join(', ')})`);
    } else if (key === 'version') {
      if (!isScalar(value) || value.value !== 1) r.problem(value ?? (pair.key as Node), 'bad-version', 'version must be 1');
    } else if (key === 'schema') {
      if (isScalar(value) && typeof value.value === 'string' && IDENT.test(value.value)) defaultSchema = value.value;
      else r.problem(value ?? (pair.key as Node), 'bad-name', 'schema must be a schema name');
    } else if (key === 'database') {
      if (isScalar(value) && typeof value.value === 'string' && value.value !== '') database = value.value;
      else r.problem(value ?? (pair.key as Node), 'bad-name', 'database must be a database name');
    } else {
      tablesNode = value;
      tablesKey = pair.key as Node;
    }
  }
  const tables: TableRule[] = [];
  if (tablesNode === null || !isMap(tablesNode)) {
    r.problem(tablesNode ?? tablesKey ?? root, 'bad-table', 'tables must be a map of table names to column rules');
  } else {
    const seen = new Map<string, SourcePosition>();
    for (const pair of tablesNode.items) {
      const name = keyText(pair) ?? '';
      const parts = name.split('.');
      if (parts.length > 2 || !parts.every((p) => IDENT.test(p))) {
        r.problem(pair.key as Node, 'bad-name', `${JSON.stringify(name)} is not a table name (table or schema.table)`);
        continue;
      }
      const [schema, table] = parts.length === 2 ? (parts as [string, string]) : [defaultSchema, parts[0]!];
      const at = r.at(pair.key as Node);
      const first = seen.get(`${schema}.${table}`);
      if (first) {
        r.problem(pair.key as Node, 'duplicate-table', `${schema}.${table} already has rules at line ${first.line}`);
        continue;
      }
      seen.set(`${schema}.${table}`, at);
      const body = pair.value as Node | null;
      if (!isMap(body) || body.items.length === 0) {
        r.problem(body ?? (pair.key as Node), 'bad-table', `${schema}.${table} needs a map of column names to strategies`);
        continue;
      }
      const columns: ColumnRule[] = [];
      for (const colPair of body.items) {
        const column = keyText(colPair);
        if (column === undefined || column === '') {
          r.problem(colPair.key as Node, 'bad-name', 'a column name must be a plain word');
          continue;
        }
        const colAt = r.at(colPair.key as Node);
        const strategy = strategyOf(r, colPair.value as Node | null, false);
        if (!strategy) continue;
        columns.push('json' in strategy ? { column, kind: 'json', paths: strategy.json, at: colAt } : { column, kind: 'strategy', strategy, at: colAt });
      }
      tables.push({ schema, table, columns, at });
    }
  }
  const rules: MaskingRules = { ...(database !== undefined ? { database } : {}), tables };
  if (options.catalog) r.problems.push(...checkRulesAgainstCatalog(rules, options.catalog, options.file));
  const problems = [...r.problems].sort((a, b) => a.line - b.line || a.column - b.column);
  return problems.length > 0 ? { problems } : { rules, problems: [] };
}
