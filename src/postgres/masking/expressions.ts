import { PgbranchError } from '../../errors.js';
import { quoteIdent, quoteLiteral } from '../quote.js';
import { FAKE_FUNCTION } from './sql-functions.js';
import { describe, strategyMisfit } from './strategy-fit.js';
import type { CatalogColumn, ColumnRule, JsonPath, JsonPathRule, MaskStrategy } from './types.js';

/**
 * SQL for one column's new value, given its rule. Pure: the executor runs what this builds.
 * Every expression keeps NULL as NULL and ends with a cast to the column's own type (an explicit
 * cast to varchar(n) truncates rather than fails).
 */
export interface ColumnSql {
  /** `SET <column> = <expression>`; undefined for keep. */
  readonly expression: string | undefined;
  /** Helper functions (json paths) to create in pg_temp before the UPDATE. */
  readonly functions: readonly string[];
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

/**
 * A chain of SQL functions applying one path rule: one function per path step, so the document
 * is referenced by a parameter and never repeated as text in the statement.
 */
function jsonPathFunctions(prefix: string, path: JsonPath, strategy: MaskStrategy): string[] {
  const functions: string[] = [];
  const name = (depth: number): string => `pg_temp.${prefix}_${depth}`;
  for (let depth = path.length; depth >= 0; depth--) {
    const step = path[depth];
    let body: string;
    if (depth === path.length) {
      // A JSON null stays null: NULL stays NULL everywhere.
      body = `CASE WHEN jsonb_typeof(doc) = 'null' THEN doc ELSE ${jsonLeaf(strategy, 'doc')} END`;
    } else if (step === '*') {
      const next = name(depth + 1);
      body = `CASE jsonb_typeof(doc)
        WHEN 'array' THEN (SELECT coalesce(jsonb_agg(${next}(e) ORDER BY o), '[]'::jsonb) FROM jsonb_array_elements(doc) WITH ORDINALITY AS x(e, o))
        WHEN 'object' THEN (SELECT coalesce(jsonb_object_agg(k, ${next}(e)), '{}'::jsonb) FROM jsonb_each(doc) AS x(k, e))
        ELSE doc END`;
    } else {
      const key = quoteLiteral(step!);
      body = `CASE WHEN jsonb_typeof(doc) = 'object' AND doc ? ${key} THEN jsonb_set(doc, ARRAY[${key}], ${name(depth + 1)}(doc -> ${key})) ELSE doc END`;
    }
    functions.push(
      `CREATE FUNCTION ${name(depth)}(doc jsonb) RETURNS jsonb LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED AS $pgb$ SELECT ${body} $pgb$`,
    );
  }
  return functions;
}

/**
 * The SET expression of one column rule. `functionPrefix` must be unique per column in the
 * session (json path helpers are named after it).
 */
export function columnSql(rule: ColumnRule, column: CatalogColumn, functionPrefix: string): ColumnSql {
  const col = quoteIdent(column.name);
  if (rule.kind === 'json') {
    if (column.class !== 'json' || column.isArray) fail(`json paths need a json or jsonb column, ${column.name} is ${column.type}`);
    const functions: string[] = [];
    let doc = column.type === 'jsonb' ? col : `${col}::jsonb`;
    rule.paths.forEach((p: JsonPathRule, i) => {
      if (p.strategy.kind === 'keep') return;
      const prefix = `${functionPrefix}_p${i}`;
      functions.push(...jsonPathFunctions(prefix, p.path, p.strategy));
      doc = `pg_temp.${prefix}_0(${doc})`;
    });
    if (functions.length === 0) return { expression: undefined, functions };
    return { expression: `(${doc})::${column.type}`, functions };
  }
  const misfit = strategyMisfit(rule.strategy, column);
  if (misfit) fail(`${column.name}: ${misfit}`);
  if (column.isArray && rule.strategy.kind !== 'null' && rule.strategy.kind !== 'keep' && rule.strategy.kind !== 'sql') {
    const element = scalarExpression(rule.strategy, 'e', { ...column, isArray: false, type: column.type.replace(/\[\]$/, '') });
    return {
      expression: `CASE WHEN ${col} IS NULL THEN NULL ELSE ARRAY(SELECT ${element} FROM unnest(${col}) WITH ORDINALITY AS u(e, o) ORDER BY o) END::${column.type}`,
      functions: [],
    };
  }
  const expression = scalarExpression(rule.strategy, col, column);
  return { expression: expression === undefined ? undefined : `(${expression})::${column.type}`, functions: [] };
}
