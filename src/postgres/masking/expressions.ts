import { PgbranchError } from '../../errors.js';
import { quoteIdent, quoteLiteral } from '../quote.js';
import { FAKE_FUNCTION } from './sql-functions.js';
import { describe, strategyMisfit } from './strategy-fit.js';
import type { CatalogColumn, ColumnRule, JsonPath, MaskStrategy } from './types.js';

/**
 * SQL for one column's new value, given its rule. Pure: the executor runs what this builds.
 * Every expression keeps NULL as NULL and ends with a cast to the column's own type (an explicit
 * cast to varchar(n) truncates rather than fails).
 */
export interface ColumnSql {
  /** `SET <column> = <expression>`; undefined for keep. */
  readonly expression: string | undefined;
  /** The expression has sub-selects (json paths, arrays): ALTER … USING needs it inside a function. */
  readonly usesSubquery: boolean;
}

const INT_MODULUS: Readonly<Record<string, string>> = {
  smallint: '32768',
  integer: '2147483648',
  bigint: '9223372036854775807',
};

function fail(message: string): never {
  throw new PgbranchError('MASK_FAILED', message, { cause: new Error(message) });
}

/** Masked text from a text expression (fake, hash, partial: the strategies that work on text). */
function textStrategy(strategy: MaskStrategy, text: string): string | undefined {
  switch (strategy.kind) {
    case 'fake':
      return `${FAKE_FUNCTION(strategy.fake)}(${text})`;
    case 'hash':
      return `pg_temp.pgb_hash_hex(${text}, ${strategy.length ?? 64})`;
    case 'partial':
      return `pg_temp.pgb_partial(${text}, ${strategy.keepFirst}, ${strategy.keepLast}, ${quoteLiteral(strategy.maskChar)})`;
    default:
      return undefined;
  }
}

function noiseDate(strategy: { seconds: number }, col: string, column: CatalogColumn): string {
  const offset = `pg_temp.pgb_offset(${col}::text, ${Math.round(strategy.seconds)})`;
  // A date moves by whole days: the offset's seconds, rounded toward zero.
  return column.class === 'date' ? `(${col} + (${offset} / 86400)::int)` : `(${col} + make_interval(secs => ${offset}))`;
}

/** The new value of a scalar (non-json-path) column, without the final cast. */
function scalarExpression(strategy: MaskStrategy, col: string, column: CatalogColumn): string | undefined {
  switch (strategy.kind) {
    case 'keep':
      return undefined;
    case 'null':
      return 'NULL';
    case 'sql':
      return `(${strategy.expression})`;
    case 'constant': {
      const value = column.class === 'json' ? JSON.stringify(strategy.value) : String(strategy.value);
      return `CASE WHEN ${col} IS NULL THEN NULL ELSE ${quoteLiteral(value)} END`;
    }
    case 'noise-date':
      return noiseDate(strategy, col, column);
    case 'noise-number':
      return `(${col}::numeric * pg_temp.pgb_factor(${col}::text, ${strategy.percent}))`;
    case 'hash':
      if (column.class === 'integer') {
        const base = column.type.replace(/\[\]$/, '');
        const modulus = INT_MODULUS[base] ?? fail(`hash of ${column.type} is not supported`);
        return `pg_temp.pgb_hash_int(${col}::text, ${modulus})`;
      }
      if (column.class === 'uuid') return `pg_temp.pgb_hash_uuid(${col}::text)`;
      if (column.class === 'bytea') return `pg_temp.pgb_mac(encode(${col}, 'hex'))`;
      return textStrategy(strategy, `${col}::text`);
    case 'fake':
    case 'partial':
      return textStrategy(strategy, `${col}::text`);
  }
}

/** SQL expression masking one leaf of a json document (`doc` is a jsonb expression). */
function jsonLeaf(strategy: MaskStrategy, doc: string): string {
  const text = `(${doc} #>> '{}')`;
  switch (strategy.kind) {
    case 'keep':
      return doc;
    case 'null':
      return `'null'::jsonb`;
    case 'constant':
      return `${quoteLiteral(JSON.stringify(strategy.value))}::jsonb`;
    case 'noise-number':
      return `CASE WHEN jsonb_typeof(${doc}) = 'number' THEN to_jsonb(${text}::numeric * pg_temp.pgb_factor(${text}, ${strategy.percent})) ELSE 'null'::jsonb END`;
    case 'fake':
    case 'hash':
    case 'partial':
      return `to_jsonb(${textStrategy(strategy, text)!})`;
    case 'noise-date':
    case 'sql':
      return fail(`${describe(strategy)} is not supported inside json documents`);
  }
}

/** Key paths handled as a CASE chain (its text doubles per path). */
const MAX_CASE_PATHS = 6;

const pathLiteral = (keys: readonly string[]): string => `${quoteLiteral(`{${keys.map((k) => `"${k.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`)}::text[]`;

/**
 * One path rule applied to `doc` (a cheap reference: a column or a row alias). Keys up to the
 * first `*` are one `#>` lookup and one jsonb_set; a `*` maps every element (array) or value
 * (object) through the rest of the path in a sub-select. No helper function: the planner sees
 * plain expressions, which costs a few microseconds per row instead of a function call per step.
 */
function jsonApply(doc: string, path: JsonPath, strategy: MaskStrategy, depth = 0): string {
  const star = path.indexOf('*');
  const keys = star === -1 ? path : path.slice(0, star);
  const at = keys.length === 0 ? doc : `(${doc} #> ${pathLiteral(keys)})`;
  const replace = (value: string): string => (keys.length === 0 ? value : `jsonb_set(${doc}, ${pathLiteral(keys)}, ${value}, false)`);
  if (star === -1) {
    // A missing path or a JSON null stays as it is.
    return `CASE WHEN ${at} IS NULL OR jsonb_typeof(${at}) = 'null' THEN ${doc} ELSE ${replace(jsonLeaf(strategy, at))} END`;
  }
  const rest = path.slice(star + 1);
  const e = `e${depth}`;
  const k = `k${depth}`;
  const o = `o${depth}`;
  const inner = jsonApply(e, rest, strategy, depth + 1);
  return `CASE jsonb_typeof(${at})
      WHEN 'array' THEN ${replace(`(SELECT coalesce(jsonb_agg(${inner} ORDER BY ${o}), '[]'::jsonb) FROM jsonb_array_elements(${at}) WITH ORDINALITY AS x${depth}(${e}, ${o}))`)}
      WHEN 'object' THEN ${replace(`(SELECT coalesce(jsonb_object_agg(${k}, ${inner}), '{}'::jsonb) FROM jsonb_each(${at}) AS x${depth}(${k}, ${e}))`)}
      ELSE ${doc} END`;
}

/**
 * The new value of one column under its rule, over `ref` (the column itself by default; a
 * function parameter when the caller wraps the expression into a function).
 */
export function columnSql(rule: ColumnRule, column: CatalogColumn, ref = quoteIdent(column.name)): ColumnSql {
  const col = ref;
  if (rule.kind === 'json') {
    if (column.class !== 'json' || column.isArray) fail(`json paths need a json or jsonb column, ${column.name} is ${column.type}`);
    const paths = rule.paths.filter((p) => p.strategy.kind !== 'keep');
    if (paths.length === 0) return { expression: undefined, usesSubquery: false };
    const source = column.type === 'jsonb' ? col : `${col}::jsonb`;
    if (paths.length <= MAX_CASE_PATHS && paths.every((p) => !p.path.includes('*'))) {
      // Plain key paths: a jsonb_set per path whose leaf exists (#> finds it), over the original
      // document, no sub-select. Each step names the previous one twice (only one CASE branch
      // runs), so the text doubles per path: fine for a few paths, the sub-select form beyond.
      let doc = source;
      for (const p of paths) {
        const at = `(${source} #> ${pathLiteral(p.path)})`;
        doc = `CASE WHEN ${at} IS NULL OR jsonb_typeof(${at}) = 'null' THEN ${doc} ELSE jsonb_set(${doc}, ${pathLiteral(p.path)}, ${jsonLeaf(p.strategy, at)}, false) END`;
      }
      return { expression: `(${doc})::${column.type}`, usesSubquery: false };
    }
    // Key paths first, as above; then each path with a `*` applies to the previous result, named
    // d by a sub-select. OFFSET 0 keeps the planner from pulling the sub-select up, which would
    // paste the previous computation into every place d is named.
    const keyPaths = paths.filter((p) => !p.path.includes('*')).slice(0, MAX_CASE_PATHS);
    const chained = paths.filter((p) => !keyPaths.includes(p));
    let doc = source;
    for (const p of keyPaths) {
      const at = `(${source} #> ${pathLiteral(p.path)})`;
      doc = `CASE WHEN ${at} IS NULL OR jsonb_typeof(${at}) = 'null' THEN ${doc} ELSE jsonb_set(${doc}, ${pathLiteral(p.path)}, ${jsonLeaf(p.strategy, at)}, false) END`;
    }
    let select = `SELECT ${doc} AS d`;
    chained.forEach((p, i) => {
      select = `SELECT ${jsonApply('d', p.path, p.strategy)} AS d FROM (${select} OFFSET 0) AS s${i}`;
    });
    return { expression: `(${select})::${column.type}`, usesSubquery: true };
  }
  const misfit = strategyMisfit(rule.strategy, column);
  if (misfit) fail(`${column.name}: ${misfit}`);
  if (column.isArray && rule.strategy.kind !== 'null' && rule.strategy.kind !== 'keep' && rule.strategy.kind !== 'sql') {
    const element = scalarExpression(rule.strategy, 'e', { ...column, isArray: false, type: column.type.replace(/\[\]$/, '') });
    return {
      expression: `CASE WHEN ${col} IS NULL THEN NULL ELSE ARRAY(SELECT ${element} FROM unnest(${col}) WITH ORDINALITY AS u(e, o) ORDER BY o) END::${column.type}`,
      usesSubquery: true,
    };
  }
  const expression = scalarExpression(rule.strategy, col, column);
  return { expression: expression === undefined ? undefined : `(${expression})::${column.type}`, usesSubquery: false };
}
