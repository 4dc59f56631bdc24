/**
 * SQL for one object: create, drop, rename, alter. Names are always quoted and
 * schema-qualified; expressions and definitions come verbatim from the pg_get_*def functions.
 */
import { quoteIdent, quoteLiteral } from '../quote.js';
import type {
  AclItem,
  ColumnNode,
  CompositeNode,
  ConstraintNode,
  DefaultNode,
  DomainNode,
  EnumNode,
  FunctionNode,
  PolicyNode,
  SchemaObject,
  SequenceNode,
  TableNode,
  ViewNode,
} from './model.js';
import { displayName, qualified } from './names.js';
import type { SchemaStatement, StatementAction } from './types.js';

export interface DdlContext {
  /** server_version_num of the server the script runs on (side A's). */
  readonly versionNum: number;
  /** The role that runs the script: objects it should own need no `OWNER TO`. */
  readonly defaultOwner: string;
}

/** What alter found: statements, or the object must be dropped and created, or it cannot be expressed. */
export type AlterResult = { readonly statements: SchemaStatement[] } | { readonly replace: true } | { readonly unsupported: string };

export function identityOf(o: SchemaObject): string {
  switch (o.kind) {
    case 'schema':
    case 'extension':
      return displayName(o.name);
    case 'column':
    case 'constraint':
    case 'trigger':
    case 'policy':
    case 'index':
      return displayName(o.schema, o.table, o.name);
    case 'default':
      return displayName(o.schema, o.table, o.column);
    case 'function':
    case 'procedure':
      return `${displayName(o.schema, o.name)}(${o.identityArguments})`;
    default:
      return displayName(o.schema, o.name);
  }
}

const stmt = (o: SchemaObject, action: StatementAction, sql: string, extra: { commitAfter?: boolean } = {}): SchemaStatement => ({
  sql,
  action,
  kind: o.kind,
  identity: identityOf(o),
  ...(extra.commitAfter ? { commitAfter: true } : {}),
});

const relWord = { table: 'TABLE', view: 'VIEW', 'materialized-view': 'MATERIALIZED VIEW', sequence: 'SEQUENCE', index: 'INDEX' } as const;

/** `TABLE "s"."t"`, `FUNCTION "s"."f"(int)`, …: the object as COMMENT ON / ALTER … OWNER name it. */
function objectRef(o: SchemaObject): string {
  switch (o.kind) {
    case 'schema':
      return `SCHEMA ${quoteIdent(o.name)}`;
    case 'extension':
      return `EXTENSION ${quoteIdent(o.name)}`;
    case 'enum':
    case 'composite':
      return `TYPE ${qualified(o.schema, o.name)}`;
    case 'domain':
      return `DOMAIN ${qualified(o.schema, o.name)}`;
    case 'table':
    case 'view':
    case 'materialized-view':
    case 'sequence':
      return `${relWord[o.kind]} ${qualified(o.schema, o.name)}`;
    case 'index':
      return `INDEX ${qualified(o.schema, o.name)}`;
    case 'column':
      return `COLUMN ${qualified(o.schema, o.table)}.${quoteIdent(o.name)}`;
    case 'constraint':
      return `CONSTRAINT ${quoteIdent(o.name)} ON ${qualified(o.schema, o.table)}`;
    case 'trigger':
      return `TRIGGER ${quoteIdent(o.name)} ON ${qualified(o.schema, o.table)}`;
    case 'policy':
      return `POLICY ${quoteIdent(o.name)} ON ${qualified(o.schema, o.table)}`;
    case 'function':
    case 'procedure':
      return `${o.kind.toUpperCase()} ${qualified(o.schema, o.name)}(${o.identityArguments})`;
    default:
      throw new Error(`no object reference for ${o.kind}`);
  }
}

/** GRANT's name for the object (views and materialized views are TABLE there). */
function grantRef(o: SchemaObject): string {
  switch (o.kind) {
    case 'view':
    case 'materialized-view':
      return `TABLE ${qualified(o.schema, o.name)}`;
    case 'enum':
    case 'composite':
    case 'domain':
      return `TYPE ${qualified(o.schema, o.name)}`;
    default:
      return objectRef(o);
  }
}

function commentSql(o: SchemaObject, comment: string | null | undefined): SchemaStatement {
  return stmt(o, 'comment', `COMMENT ON ${objectRef(o)} IS ${comment == null ? 'NULL' : quoteLiteral(comment)}`);
}

function roleRef(role: string): string {
  return role === 'PUBLIC' ? 'PUBLIC' : quoteIdent(role);
}

/** The ACL an object has right after CREATE … and OWNER TO `owner` (acldefault). */
export function defaultAcl(o: SchemaObject, owner: string, versionNum: number): AclItem[] {
  const own = (privileges: string[]): AclItem[] => privileges.map((privilege) => ({ grantee: owner, privilege, grantable: false }));
  const pub = (privileges: string[]): AclItem[] => privileges.map((privilege) => ({ grantee: 'PUBLIC', privilege, grantable: false }));
  switch (o.kind) {
    case 'schema':
      return own(['USAGE', 'CREATE']);
    case 'table':
    case 'view':
    case 'materialized-view':
      return own(['INSERT', 'SELECT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', ...(versionNum >= 170000 ? ['MAINTAIN'] : [])]);
    case 'sequence':
      return own(['USAGE', 'SELECT', 'UPDATE']);
    case 'function':
    case 'procedure':
      return [...pub(['EXECUTE']), ...own(['EXECUTE'])];
    case 'enum':
    case 'composite':
    case 'domain':
      return [...pub(['USAGE']), ...own(['USAGE'])];
    default:
      return [];
  }
}

const aclId = (a: AclItem): string => `${a.grantee}\u0000${a.privilege}`;

/** GRANT/REVOKE statements that turn ACL `from` into `to`; `columns` narrows to column privileges. */
function aclSql(o: SchemaObject, from: readonly AclItem[], to: readonly AclItem[], column?: { table: SchemaObject; name: string }): SchemaStatement[] {
  const before = new Map(from.map((a) => [aclId(a), a]));
  const after = new Map(to.map((a) => [aclId(a), a]));
  const grants = new Map<string, string[]>();
  const revokes = new Map<string, string[]>();
  const revokeOptions = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, k: string, v: string): void => {
    m.set(k, [...(m.get(k) ?? []), v]);
  };
  for (const [id, a] of after) {
    const b = before.get(id);
    if (!b || (a.grantable && !b.grantable)) add(grants, `${a.grantee}\u0000${a.grantable}`, a.privilege);
    else if (b.grantable && !a.grantable) add(revokeOptions, a.grantee, a.privilege);
  }
  for (const [id, b] of before) if (!after.has(id)) add(revokes, b.grantee, b.privilege);
  const target = column ? grantRef(column.table) : grantRef(o);
  const privs = (list: string[]): string => list.map((p) => (column ? `${p} (${quoteIdent(column.name)})` : p)).join(', ');
  const out: SchemaStatement[] = [];
  for (const [grantee, list] of revokes) out.push(stmt(o, 'revoke', `REVOKE ${privs(list)} ON ${target} FROM ${roleRef(grantee)}`));
  for (const [grantee, list] of revokeOptions) out.push(stmt(o, 'revoke', `REVOKE GRANT OPTION FOR ${privs(list)} ON ${target} FROM ${roleRef(grantee)}`));
  for (const [k, list] of grants) {
    const [grantee, grantable] = k.split('\u0000') as [string, string];
    out.push(stmt(o, 'grant', `GRANT ${privs(list)} ON ${target} TO ${roleRef(grantee)}${grantable === 'true' ? ' WITH GRANT OPTION' : ''}`));
  }
  return out;
}

/** The owner's entries move to the new owner on OWNER TO (aclnewowner). */
function aclAfterOwnerChange(acl: readonly AclItem[], from: string, to: string): AclItem[] {
  const moved = acl.map((a) => (a.grantee === from ? { ...a, grantee: to } : a));
  const seen = new Map<string, AclItem>();
  for (const a of moved) {
    const prev = seen.get(aclId(a));
    seen.set(aclId(a), prev ? { ...a, grantable: prev.grantable || a.grantable } : a);
  }
  return [...seen.values()];
}

const hasOwner = (o: SchemaObject): boolean => o.owner !== undefined && o.kind !== 'extension';

/** OWNER TO, GRANT and COMMENT after an object was created. */
export function afterCreate(o: SchemaObject, ctx: DdlContext): SchemaStatement[] {
  const out: SchemaStatement[] = [];
  if (hasOwner(o) && o.owner !== ctx.defaultOwner) out.push(stmt(o, 'owner', `ALTER ${objectRef(o)} OWNER TO ${quoteIdent(o.owner as string)}`));
  if (o.acl) {
    const initial = o.kind === 'column' ? [] : defaultAcl(o, o.owner ?? ctx.defaultOwner, ctx.versionNum);
    out.push(...aclSql(o, initial, o.acl, o.kind === 'column' ? { table: tableRefObject(o), name: o.name } : undefined));
  }
  if (o.comment != null) out.push(commentSql(o, o.comment));
  return out;
}

/** OWNER TO, GRANT/REVOKE and COMMENT between two versions of one object. */
export function alterCommon(a: SchemaObject, b: SchemaObject): SchemaStatement[] {
  const out: SchemaStatement[] = [];
  let acl = a.acl ?? [];
  if (hasOwner(b) && a.owner !== b.owner) {
    out.push(stmt(b, 'owner', `ALTER ${objectRef(b)} OWNER TO ${quoteIdent(b.owner as string)}`));
    acl = aclAfterOwnerChange(acl, a.owner as string, b.owner as string);
  }
  if (b.acl) out.push(...aclSql(b, acl, b.acl, b.kind === 'column' ? { table: tableRefObject(b), name: b.name } : undefined));
  if ((a.comment ?? null) !== (b.comment ?? null)) out.push(commentSql(b, b.comment));
  return out;
}

/** A stand-in table object for GRANT … (col) ON TABLE. */
function tableRefObject(c: ColumnNode): TableNode {
  return { kind: 'table', key: '', lid: '', schema: c.schema, name: c.table, partitionKey: null, partitionOf: null, partitionBound: null, unlogged: false, accessMethod: 'heap', options: [], rowSecurity: false, forceRowSecurity: false, replicaIdentity: 'd', deps: [] };
}

const tableOf = (o: { schema: string; table: string }): string => qualified(o.schema, o.table);

function identityClause(c: ColumnNode): string {
  const o = c.identityOptions;
  const kind = c.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT';
  if (!o) return `GENERATED ${kind} AS IDENTITY`;
  return `GENERATED ${kind} AS IDENTITY (SEQUENCE NAME ${qualified(c.schema, o.sequenceName)} START WITH ${o.start} INCREMENT BY ${o.increment} MINVALUE ${o.min} MAXVALUE ${o.max} CACHE ${o.cache}${o.cycle ? ' CYCLE' : ' NO CYCLE'})`;
}

/** `"name" type …` as in CREATE TABLE / ADD COLUMN, default inline. */
function columnDefinition(c: ColumnNode, def: DefaultNode | undefined): string {
  const parts = [quoteIdent(c.name), c.type];
  if (c.collation) parts.push(`COLLATE ${c.collation}`);
  if (c.generated) parts.push(`GENERATED ALWAYS AS (${c.generationExpression}) ${c.generated === 'v' ? 'VIRTUAL' : 'STORED'}`);
  if (c.identity) parts.push(identityClause(c));
  if (def) parts.push(`DEFAULT ${def.expression}`);
  if (c.notNull) parts.push('NOT NULL');
  return parts.join(' ');
}

/** Column settings CREATE TABLE cannot carry. */
function columnSettings(c: ColumnNode): SchemaStatement[] {
  const out: SchemaStatement[] = [];
  const col = `ALTER TABLE ${tableOf(c)} ALTER COLUMN ${quoteIdent(c.name)}`;
  if (c.storage) out.push(stmt(c, 'alter', `${col} SET STORAGE ${storageWord(c.storage)}`));
  if (c.statistics !== -1) out.push(stmt(c, 'alter', `${col} SET STATISTICS ${c.statistics}`));
  if (c.compression) out.push(stmt(c, 'alter', `${col} SET COMPRESSION ${compressionWord(c.compression)}`));
  if (c.options.length > 0) out.push(stmt(c, 'alter', `${col} SET (${c.options.join(', ')})`));
  return out;
}

const compressionWord = (c: string | null): string => ({ p: 'pglz', l: 'lz4' })[c ?? ''] ?? 'DEFAULT';

const storageWord = (s: string | null): string => ({ p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' })[s ?? ''] ?? 'DEFAULT';

export function createTable(t: TableNode, columns: readonly ColumnNode[], defaults: ReadonlyMap<string, DefaultNode>, ctx: DdlContext, parent?: TableNode): SchemaStatement[] {
  const cols = columns.map((c) => `  ${columnDefinition(c, defaults.get(c.key))}`);
  // A partition takes its columns from the partitioned table.
  const body = parent ? ` PARTITION OF ${qualified(parent.schema, parent.name)} ${t.partitionBound}` : ` (${cols.length ? `\n${cols.join(',\n')}\n` : ''})`;
  const tail = [
    t.partitionKey ? ` PARTITION BY ${t.partitionKey}` : '',
    t.accessMethod !== 'heap' && !t.partitionKey ? ` USING ${quoteIdent(t.accessMethod)}` : '',
    t.options.length ? ` WITH (${t.options.join(', ')})` : '',
  ].join('');
  const out = [stmt(t, 'create', `CREATE ${t.unlogged ? 'UNLOGGED ' : ''}TABLE ${qualified(t.schema, t.name)}${body}${tail}`)];
  out.push(...tableFlags(t, { rowSecurity: false, forceRowSecurity: false, replicaIdentity: 'd' }));
  out.push(...afterCreate(t, ctx));
  for (const c of columns) out.push(...columnSettings(c), ...afterCreate(c, ctx));
  return out;
}

function tableFlags(t: TableNode, from: Pick<TableNode, 'rowSecurity' | 'forceRowSecurity' | 'replicaIdentity'>): SchemaStatement[] {
  const out: SchemaStatement[] = [];
  const alter = `ALTER TABLE ${qualified(t.schema, t.name)}`;
  if (t.rowSecurity !== from.rowSecurity) out.push(stmt(t, 'alter', `${alter} ${t.rowSecurity ? 'ENABLE' : 'DISABLE'} ROW LEVEL SECURITY`));
  if (t.forceRowSecurity !== from.forceRowSecurity) out.push(stmt(t, 'alter', `${alter} ${t.forceRowSecurity ? '' : 'NO '}FORCE ROW LEVEL SECURITY`));
  if (t.replicaIdentity !== from.replicaIdentity && t.replicaIdentity !== 'i') {
    out.push(stmt(t, 'alter', `${alter} REPLICA IDENTITY ${{ d: 'DEFAULT', n: 'NOTHING', f: 'FULL' }[t.replicaIdentity]}`));
  }
  return out;
}

export function addColumn(c: ColumnNode, def: DefaultNode | undefined, ctx: DdlContext): SchemaStatement[] {
  return [stmt(c, 'create', `ALTER TABLE ${tableOf(c)} ADD COLUMN ${columnDefinition(c, def)}`), ...columnSettings(c), ...afterCreate(c, ctx)];
}

function optionsDiff(from: readonly string[], to: readonly string[]): { set: string[]; reset: string[] } {
  const key = (o: string): string => o.slice(0, o.indexOf('='));
  const toKeys = new Set(to.map(key));
  return { set: to.filter((o) => !from.includes(o)), reset: from.filter((o) => !toKeys.has(key(o))).map(key) };
}

function sequenceOptions(s: Pick<SequenceNode, 'type' | 'start' | 'increment' | 'min' | 'max' | 'cache' | 'cycle'>, from?: Pick<SequenceNode, 'type' | 'start' | 'increment' | 'min' | 'max' | 'cache' | 'cycle'>): string {
  const parts: string[] = [];
  if (!from || from.type !== s.type) parts.push(`AS ${s.type}`);
  if (!from || from.increment !== s.increment) parts.push(`INCREMENT BY ${s.increment}`);
  if (!from || from.min !== s.min) parts.push(`MINVALUE ${s.min}`);
  if (!from || from.max !== s.max) parts.push(`MAXVALUE ${s.max}`);
  if (!from || from.start !== s.start) parts.push(`START WITH ${s.start}`);
  if (!from || from.cache !== s.cache) parts.push(`CACHE ${s.cache}`);
  if (!from || from.cycle !== s.cycle) parts.push(s.cycle ? 'CYCLE' : 'NO CYCLE');
  return parts.join(' ');
}

function policyClauses(p: PolicyNode): string {
  const roles = p.roles.map(roleRef).join(', ');
  return `TO ${roles}${p.using !== null ? ` USING (${p.using})` : ''}${p.check !== null ? ` WITH CHECK (${p.check})` : ''}`;
}

const policyCommand = { r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', '*': 'ALL' } as const;

function viewCreate(v: ViewNode): string {
  const word = v.kind === 'view' ? 'VIEW' : 'MATERIALIZED VIEW';
  return `CREATE ${word} ${qualified(v.schema, v.name)}${v.options.length ? ` WITH (${v.options.join(', ')})` : ''} AS\n${v.definition}`;
}

function viewColumnComments(v: ViewNode, from: Readonly<Record<string, string>>): SchemaStatement[] {
  const out: SchemaStatement[] = [];
  const names = new Set([...Object.keys(from), ...Object.keys(v.columnComments)]);
  for (const name of [...names].sort()) {
    const next = v.columnComments[name] ?? null;
    if ((from[name] ?? null) !== next) {
      out.push(stmt(v, 'comment', `COMMENT ON COLUMN ${qualified(v.schema, v.name)}.${quoteIdent(name)} IS ${next === null ? 'NULL' : quoteLiteral(next)}`));
    }
  }
  return out;
}

function triggerEnable(t: { schema: string; table: string; name: string; enabled: string }, o: SchemaObject): SchemaStatement[] {
  const word = { O: 'ENABLE', D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' }[t.enabled] ?? 'ENABLE';
  return [stmt(o, 'alter', `ALTER TABLE ${tableOf(t)} ${word} TRIGGER ${quoteIdent(t.name)}`)];
}

function domainConstraintStatements(d: DomainNode, c: DomainNode['constraints'][number], comment: boolean): SchemaStatement[] {
  const out = [stmt(d, 'alter', `ALTER DOMAIN ${qualified(d.schema, d.name)} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`)];
  if (comment && c.comment !== null) out.push(stmt(d, 'comment', `COMMENT ON CONSTRAINT ${quoteIdent(c.name)} ON DOMAIN ${qualified(d.schema, d.name)} IS ${quoteLiteral(c.comment)}`));
  return out;
}

/** CREATE for every kind but tables and columns (createTable / addColumn). */
export function createObject(o: SchemaObject, ctx: DdlContext): SchemaStatement[] {
  const q = (): string => qualified(o.schema, o.name);
  switch (o.kind) {
    case 'schema':
      return [stmt(o, 'create', `CREATE SCHEMA ${quoteIdent(o.name)}`), ...afterCreate(o, ctx)];
    case 'extension':
      return [stmt(o, 'create', `CREATE EXTENSION ${quoteIdent(o.name)} WITH SCHEMA ${quoteIdent(o.schema)} VERSION ${quoteLiteral(o.version)}`), ...afterCreate(o, ctx)];
    case 'enum':
      return [stmt(o, 'create', `CREATE TYPE ${q()} AS ENUM (${o.labels.map((l) => quoteLiteral(l.label)).join(', ')})`), ...afterCreate(o, ctx)];
    case 'composite':
      return [
        stmt(o, 'create', `CREATE TYPE ${q()} AS (${o.attributes.map((a) => `${quoteIdent(a.name)} ${a.type}${a.collation ? ` COLLATE ${a.collation}` : ''}`).join(', ')})`),
        ...afterCreate(o, ctx),
      ];
    case 'domain': {
      const parts = [`CREATE DOMAIN ${q()} AS ${o.baseType}`];
      if (o.collation) parts.push(`COLLATE ${o.collation}`);
      if (o.default !== null) parts.push(`DEFAULT ${o.default}`);
      if (o.notNull) parts.push('NOT NULL');
      return [stmt(o, 'create', parts.join(' ')), ...o.constraints.flatMap((c) => domainConstraintStatements(o, c, true)), ...afterCreate(o, ctx)];
    }
    case 'default':
      return [stmt(o, 'create', `ALTER TABLE ${tableOf(o)} ALTER COLUMN ${quoteIdent(o.column)} SET DEFAULT ${o.expression}`)];
    case 'constraint':
      return [
        stmt(o, 'create', `ALTER TABLE ${tableOf(o)} ADD CONSTRAINT ${quoteIdent(o.name)} ${o.definition}`),
        ...(o.replicaIdentity ? [stmt(o, 'alter', `ALTER TABLE ${tableOf(o)} REPLICA IDENTITY USING INDEX ${quoteIdent(o.name)}`)] : []),
        ...afterCreate(o, ctx),
      ];
    case 'index':
      return [
        // ON ONLY (how a partitioned table's index prints) would leave the partitions without it.
        stmt(o, 'create', o.definition.replace(/ ON ONLY /, ' ON ')),
        ...(o.replicaIdentity ? [stmt(o, 'alter', `ALTER TABLE ${tableOf(o)} REPLICA IDENTITY USING INDEX ${quoteIdent(o.name)}`)] : []),
        ...afterCreate(o, ctx),
      ];
    case 'sequence':
      return [stmt(o, 'create', `CREATE SEQUENCE ${q()} ${sequenceOptions(o)}`), ...afterCreate(o, ctx)];
    case 'sequence-owner':
      return [stmt(o, 'alter', `ALTER SEQUENCE ${q()} OWNED BY ${qualified(o.tableSchema, o.table)}.${quoteIdent(o.column)}`)];
    case 'view':
    case 'materialized-view':
      return [stmt(o, 'create', viewCreate(o)), ...viewColumnComments(o, {}), ...afterCreate(o, ctx)];
    case 'function':
    case 'procedure':
      return [stmt(o, 'create', o.definition), ...afterCreate(o, ctx)];
    case 'trigger':
      return [stmt(o, 'create', o.definition), ...(o.enabled !== 'O' ? triggerEnable(o, o) : []), ...afterCreate(o, ctx)];
    case 'policy':
      return [
        stmt(o, 'create', `CREATE POLICY ${quoteIdent(o.name)} ON ${tableOf(o)} AS ${o.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} FOR ${policyCommand[o.command]} ${policyClauses(o)}`),
        ...afterCreate(o, ctx),
      ];
    case 'table':
    case 'column':
      throw new Error(`${o.kind} is created by createTable / addColumn`);
  }
}

export function dropObject(o: SchemaObject): SchemaStatement[] {
  const q = (): string => qualified(o.schema, o.name);
  switch (o.kind) {
    case 'schema':
      return [stmt(o, 'drop', `DROP SCHEMA ${quoteIdent(o.name)}`)];
    case 'extension':
      return [stmt(o, 'drop', `DROP EXTENSION ${quoteIdent(o.name)}`)];
    case 'enum':
    case 'composite':
      return [stmt(o, 'drop', `DROP TYPE ${q()}`)];
    case 'domain':
      return [stmt(o, 'drop', `DROP DOMAIN ${q()}`)];
    case 'table':
    case 'view':
    case 'materialized-view':
    case 'sequence':
    case 'index':
      return [stmt(o, 'drop', `DROP ${relWord[o.kind]} ${q()}`)];
    case 'column':
      return [stmt(o, 'drop', `ALTER TABLE ${tableOf(o)} DROP COLUMN ${quoteIdent(o.name)}`)];
    case 'default':
      return [stmt(o, 'drop', `ALTER TABLE ${tableOf(o)} ALTER COLUMN ${quoteIdent(o.column)} DROP DEFAULT`)];
    case 'constraint':
      return [stmt(o, 'drop', `ALTER TABLE ${tableOf(o)} DROP CONSTRAINT ${quoteIdent(o.name)}`)];
    case 'sequence-owner':
      return [stmt(o, 'alter', `ALTER SEQUENCE ${q()} OWNED BY NONE`)];
    case 'function':
    case 'procedure':
      return [stmt(o, 'drop', `DROP ${objectRef(o)}`)];
    case 'trigger':
      return [stmt(o, 'drop', `DROP TRIGGER ${quoteIdent(o.name)} ON ${tableOf(o)}`)];
    case 'policy':
      return [stmt(o, 'drop', `DROP POLICY ${quoteIdent(o.name)} ON ${tableOf(o)}`)];
  }
}

/** RENAME / SET SCHEMA from a's name to b's (children use b's parent name: parents rename first). */
export function renameObject(a: SchemaObject, b: SchemaObject): SchemaStatement[] {
  const out: SchemaStatement[] = [];
  const rename = (sql: string): void => {
    out.push(stmt(b, 'rename', sql));
  };
  switch (b.kind) {
    case 'schema':
      rename(`ALTER SCHEMA ${quoteIdent(a.name)} RENAME TO ${quoteIdent(b.name)}`);
      break;
    case 'enum':
    case 'composite':
    case 'domain':
    case 'table':
    case 'view':
    case 'materialized-view':
    case 'sequence':
    case 'function':
    case 'procedure': {
      const word = b.kind === 'enum' || b.kind === 'composite' ? 'TYPE' : b.kind === 'domain' ? 'DOMAIN' : b.kind === 'function' || b.kind === 'procedure' ? b.kind.toUpperCase() : relWord[b.kind];
      const args = b.kind === 'function' || b.kind === 'procedure' ? `(${(a as FunctionNode).identityArguments})` : '';
      let schema = a.schema;
      if (a.schema !== b.schema) {
        rename(`ALTER ${word} ${qualified(a.schema, a.name)}${args} SET SCHEMA ${quoteIdent(b.schema)}`);
        schema = b.schema;
      }
      if (a.name !== b.name) rename(`ALTER ${word} ${qualified(schema, a.name)}${args} RENAME TO ${quoteIdent(b.name)}`);
      break;
    }
    case 'index':
      rename(`ALTER INDEX ${qualified(b.schema, a.name)} RENAME TO ${quoteIdent(b.name)}`);
      break;
    case 'column':
      rename(`ALTER TABLE ${tableOf(b)} RENAME COLUMN ${quoteIdent(a.name)} TO ${quoteIdent(b.name)}`);
      break;
    case 'constraint':
      rename(`ALTER TABLE ${tableOf(b)} RENAME CONSTRAINT ${quoteIdent(a.name)} TO ${quoteIdent(b.name)}`);
      break;
    case 'trigger':
      rename(`ALTER TRIGGER ${quoteIdent(a.name)} ON ${tableOf(b)} RENAME TO ${quoteIdent(b.name)}`);
      break;
    case 'policy':
      rename(`ALTER POLICY ${quoteIdent(a.name)} ON ${tableOf(b)} RENAME TO ${quoteIdent(b.name)}`);
      break;
    default:
      // extensions, defaults and sequence owners have no name of their own to change.
      break;
  }
  return out;
}

function alterEnum(a: EnumNode, b: EnumNode): AlterResult {
  const out: SchemaStatement[] = [];
  const type = qualified(b.schema, b.name);
  // Labels match by text first, then by pg_enum OID (a renamed label keeps its OID).
  const aByLabel = new Map(a.labels.map((l) => [l.label, l]));
  const matched = new Map<string, string>(); // b label → a label
  for (const l of b.labels) if (aByLabel.has(l.label)) matched.set(l.label, l.label);
  const aLeft = a.labels.filter((l) => ![...matched.values()].includes(l.label));
  for (const l of b.labels) {
    if (matched.has(l.label)) continue;
    const byLid = aLeft.find((x) => x.lid === l.lid);
    if (byLid) {
      matched.set(l.label, byLid.label);
      out.push(stmt(b, 'alter', `ALTER TYPE ${type} RENAME VALUE ${quoteLiteral(byLid.label)} TO ${quoteLiteral(l.label)}`));
    }
  }
  const kept = new Set(matched.values());
  const removed = a.labels.filter((l) => !kept.has(l.label));
  if (removed.length > 0) return { unsupported: `enum values cannot be removed (${removed.map((l) => l.label).join(', ')})` };
  const oldOrder = a.labels.map((l) => l.label);
  const newOrderOfOld = b.labels.filter((l) => matched.has(l.label)).map((l) => matched.get(l.label) as string);
  if (oldOrder.join('\u0000') !== newOrderOfOld.join('\u0000')) return { unsupported: 'enum values cannot be reordered' };
  b.labels.forEach((l, i) => {
    if (matched.has(l.label)) return;
    const prev = b.labels[i - 1];
    const next = b.labels[i + 1];
    const where = prev ? ` AFTER ${quoteLiteral(prev.label)}` : next ? ` BEFORE ${quoteLiteral(next.label)}` : '';
    out.push(stmt(b, 'alter', `ALTER TYPE ${type} ADD VALUE ${quoteLiteral(l.label)}${where}`, { commitAfter: true }));
  });
  return { statements: out };
}

function alterComposite(a: CompositeNode, b: CompositeNode): AlterResult {
  const out: SchemaStatement[] = [];
  const type = `ALTER TYPE ${qualified(b.schema, b.name)}`;
  const aByName = new Map(a.attributes.map((x) => [x.name, x]));
  const bNames = new Set(b.attributes.map((x) => x.name));
  const pairs = new Map<string, CompositeNode['attributes'][number]>();
  for (const x of b.attributes) {
    const same = aByName.get(x.name);
    if (same) pairs.set(x.name, same);
  }
  for (const x of b.attributes) {
    if (pairs.has(x.name)) continue;
    const byLid = a.attributes.find((y) => y.lid === x.lid && !bNames.has(y.name) && y.type === x.type);
    if (byLid) {
      pairs.set(x.name, byLid);
      out.push(stmt(b, 'alter', `${type} RENAME ATTRIBUTE ${quoteIdent(byLid.name)} TO ${quoteIdent(x.name)}`));
    }
  }
  const used = new Set([...pairs.values()].map((y) => y.name));
  for (const y of a.attributes) if (!used.has(y.name)) out.push(stmt(b, 'alter', `${type} DROP ATTRIBUTE ${quoteIdent(y.name)}`));
  for (const x of b.attributes) {
    const y = pairs.get(x.name);
    const typed = `${x.type}${x.collation ? ` COLLATE ${x.collation}` : ''}`;
    if (!y) out.push(stmt(b, 'alter', `${type} ADD ATTRIBUTE ${quoteIdent(x.name)} ${typed}`));
    else if (y.type !== x.type || y.collation !== x.collation) out.push(stmt(b, 'alter', `${type} ALTER ATTRIBUTE ${quoteIdent(x.name)} TYPE ${typed}`));
  }
  return { statements: out };
}

function alterDomain(a: DomainNode, b: DomainNode): AlterResult {
  if (a.baseType !== b.baseType || a.collation !== b.collation) return { unsupported: 'a domain cannot change its base type or collation in place' };
  const out: SchemaStatement[] = [];
  const dom = `ALTER DOMAIN ${qualified(b.schema, b.name)}`;
  if (a.default !== b.default) out.push(stmt(b, 'alter', b.default === null ? `${dom} DROP DEFAULT` : `${dom} SET DEFAULT ${b.default}`));
  if (a.notNull !== b.notNull) out.push(stmt(b, 'alter', `${dom} ${b.notNull ? 'SET' : 'DROP'} NOT NULL`));
  const aByName = new Map(a.constraints.map((c) => [c.name, c]));
  const bNames = new Set(b.constraints.map((c) => c.name));
  const pairs = new Map<string, DomainNode['constraints'][number]>();
  for (const c of b.constraints) {
    const same = aByName.get(c.name) ?? a.constraints.find((x) => x.lid === c.lid && !bNames.has(x.name));
    if (same) pairs.set(c.name, same);
  }
  const used = new Set([...pairs.values()].map((c) => c.name));
  for (const c of a.constraints) {
    const replaced = [...pairs.entries()].some(([bn, ac]) => ac.name === c.name && !sameDomainCheck(ac, b.constraints.find((x) => x.name === bn)));
    if (!used.has(c.name) || replaced) out.push(stmt(b, 'alter', `${dom} DROP CONSTRAINT ${quoteIdent(c.name)}`));
  }
  for (const c of b.constraints) {
    const prev = pairs.get(c.name);
    if (prev && sameDomainCheck(prev, c)) {
      if (prev.name !== c.name) out.push(stmt(b, 'rename', `${dom} RENAME CONSTRAINT ${quoteIdent(prev.name)} TO ${quoteIdent(c.name)}`));
      if (prev.definition !== c.definition) out.push(stmt(b, 'alter', `${dom} VALIDATE CONSTRAINT ${quoteIdent(c.name)}`));
      if (prev.comment !== c.comment) {
        out.push(stmt(b, 'comment', `COMMENT ON CONSTRAINT ${quoteIdent(c.name)} ON DOMAIN ${qualified(b.schema, b.name)} IS ${c.comment === null ? 'NULL' : quoteLiteral(c.comment)}`));
      }
    } else {
      out.push(...domainConstraintStatements(b, c, true));
    }
  }
  return { statements: out };
}

const NOT_VALID = / NOT VALID$/;

/**
 * Changed means the printed text differs and so does the OID/attnum description: text alone
 * changes when something it names was renamed (PostgreSQL prints the new name by itself), the
 * description alone differs between unrelated databases.
 */
export function changed(textA: string | null, textB: string | null, structureA: string | null, structureB: string | null): boolean {
  return textA !== textB && structureA !== structureB;
}

/** Same check, or only validated since (VALIDATE CONSTRAINT gets there). */
function sameDomainCheck(a: { definition: string }, b: { definition: string } | undefined): boolean {
  if (!b) return false;
  return a.definition === b.definition || (NOT_VALID.test(a.definition) && a.definition.replace(NOT_VALID, '') === b.definition);
}

function alterTable(a: TableNode, b: TableNode, ctx: DdlContext): AlterResult {
  if (a.partitionKey !== b.partitionKey) return { unsupported: 'the partition key of a table cannot be changed in place' };
  if (a.partitionBound !== b.partitionBound || (a.partitionOf === null) !== (b.partitionOf === null)) {
    return { unsupported: 'attaching, detaching or re-bounding a partition is not expressed by the schema diff' };
  }
  const out: SchemaStatement[] = [];
  const alter = `ALTER TABLE ${qualified(b.schema, b.name)}`;
  if (a.unlogged !== b.unlogged) out.push(stmt(b, 'alter', `${alter} SET ${b.unlogged ? 'UNLOGGED' : 'LOGGED'}`));
  if (a.accessMethod !== b.accessMethod) {
    if (ctx.versionNum < 150000) return { unsupported: 'a table changes its access method only on PostgreSQL 15 or newer' };
    out.push(stmt(b, 'alter', `${alter} SET ACCESS METHOD ${quoteIdent(b.accessMethod)}`));
  }
  const { set, reset } = optionsDiff(a.options, b.options);
  if (reset.length) out.push(stmt(b, 'alter', `${alter} RESET (${reset.join(', ')})`));
  if (set.length) out.push(stmt(b, 'alter', `${alter} SET (${set.join(', ')})`));
  out.push(...tableFlags(b, a));
  return { statements: out };
}

/**
 * Column changes. A type change is done in place (USING a cast); the caller drops and recreates
 * the views, policies and triggers that PostgreSQL refuses to keep across it.
 */
function alterColumn(a: ColumnNode, b: ColumnNode, ctx: DdlContext): AlterResult {
  const out: SchemaStatement[] = [];
  const col = `ALTER TABLE ${tableOf(b)} ALTER COLUMN ${quoteIdent(b.name)}`;
  if (a.generated !== b.generated) {
    if (a.generated === 's' && b.generated === '') out.push(stmt(b, 'alter', `${col} DROP EXPRESSION`));
    else return { replace: true };
  } else if (a.generated && changed(a.generationExpression, b.generationExpression, a.generationStructure, b.generationStructure)) {
    if (ctx.versionNum < 170000) return { replace: true };
    out.push(stmt(b, 'alter', `${col} SET EXPRESSION AS (${b.generationExpression})`));
  }
  if (changesColumnType(a, b)) {
    if (b.generated) return { replace: true };
    out.push(stmt(b, 'alter', `${col} TYPE ${b.type}${b.collation ? ` COLLATE ${b.collation}` : ''} USING ${quoteIdent(b.name)}::${b.type}`));
  }
  if (a.identity !== b.identity) {
    if (!b.identity) out.push(stmt(b, 'alter', `${col} DROP IDENTITY`));
    else if (!a.identity) out.push(stmt(b, 'alter', `${col} ADD ${identityClause(b)}`));
    else out.push(stmt(b, 'alter', `${col} SET GENERATED ${b.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'}`));
  }
  if (a.identity && b.identity && a.identityOptions && b.identityOptions) {
    const x = a.identityOptions;
    const y = b.identityOptions;
    if (x.sequenceName !== y.sequenceName) out.push(stmt(b, 'alter', `ALTER SEQUENCE ${qualified(b.schema, x.sequenceName)} RENAME TO ${quoteIdent(y.sequenceName)}`));
    const sets: string[] = [];
    if (x.increment !== y.increment) sets.push(`SET INCREMENT BY ${y.increment}`);
    if (x.min !== y.min) sets.push(`SET MINVALUE ${y.min}`);
    if (x.max !== y.max) sets.push(`SET MAXVALUE ${y.max}`);
    if (x.start !== y.start) sets.push(`SET START WITH ${y.start}`);
    if (x.cache !== y.cache) sets.push(`SET CACHE ${y.cache}`);
    if (x.cycle !== y.cycle) sets.push(y.cycle ? 'SET CYCLE' : 'SET NO CYCLE');
    if (sets.length) out.push(stmt(b, 'alter', `${col} ${sets.join(' ')}`));
  }
  if (a.notNull !== b.notNull && !(b.identity && b.notNull)) out.push(stmt(b, 'alter', `${col} ${b.notNull ? 'SET' : 'DROP'} NOT NULL`));
  if (a.storage !== b.storage) out.push(stmt(b, 'alter', `${col} SET STORAGE ${storageWord(b.storage)}`));
  if (a.statistics !== b.statistics) out.push(stmt(b, 'alter', `${col} SET STATISTICS ${b.statistics}`));
  if (a.compression !== b.compression) out.push(stmt(b, 'alter', `${col} SET COMPRESSION ${compressionWord(b.compression)}`));
  const { set, reset } = optionsDiff(a.options, b.options);
  if (reset.length) out.push(stmt(b, 'alter', `${col} RESET (${reset.join(', ')})`));
  if (set.length) out.push(stmt(b, 'alter', `${col} SET (${set.join(', ')})`));
  return { statements: out };
}

/** Whether the column change is one PostgreSQL refuses while views, policies or triggers use the column. */
export function changesColumnType(a: ColumnNode, b: ColumnNode): boolean {
  return changed(`${a.type} ${a.collation}`, `${b.type} ${b.collation}`, a.typeStructure, b.typeStructure);
}

function alterConstraint(a: ConstraintNode, b: ConstraintNode): AlterResult {
  const shape = (c: ConstraintNode): string => c.definition.replace(NOT_VALID, '');
  if (a.type !== b.type || changed(shape(a), shape(b), a.structure, b.structure) || (a.validated && !b.validated)) return { replace: true };
  const out: SchemaStatement[] = [];
  if (!a.validated && b.validated) out.push(stmt(b, 'alter', `ALTER TABLE ${tableOf(b)} VALIDATE CONSTRAINT ${quoteIdent(b.name)}`));
  if (b.replicaIdentity && !a.replicaIdentity) out.push(stmt(b, 'alter', `ALTER TABLE ${tableOf(b)} REPLICA IDENTITY USING INDEX ${quoteIdent(b.name)}`));
  return { statements: out };
}

/** The changes between two versions of one object (kinds equal). */
export function alterObject(a: SchemaObject, b: SchemaObject, ctx: DdlContext): AlterResult {
  const result = alterSpecific(a, b, ctx);
  if (!('statements' in result)) return result;
  return { statements: [...result.statements, ...alterCommon(a, b)] };
}

function alterSpecific(a: SchemaObject, b: SchemaObject, ctx: DdlContext): AlterResult {
  switch (b.kind) {
    case 'schema':
      return { statements: [] };
    case 'extension': {
      const x = a as typeof b;
      const out: SchemaStatement[] = [];
      if (x.schema !== b.schema) out.push(stmt(b, 'alter', `ALTER EXTENSION ${quoteIdent(b.name)} SET SCHEMA ${quoteIdent(b.schema)}`));
      if (x.version !== b.version) out.push(stmt(b, 'alter', `ALTER EXTENSION ${quoteIdent(b.name)} UPDATE TO ${quoteLiteral(b.version)}`));
      return { statements: out };
    }
    case 'enum':
      return alterEnum(a as EnumNode, b);
    case 'composite':
      return alterComposite(a as CompositeNode, b);
    case 'domain':
      return alterDomain(a as DomainNode, b);
    case 'table':
      return alterTable(a as TableNode, b, ctx);
    case 'column':
      return alterColumn(a as ColumnNode, b, ctx);
    case 'default':
      return !changed((a as DefaultNode).expression, b.expression, (a as DefaultNode).structure, b.structure)
        ? { statements: [] }
        : { statements: createObject(b, ctx).map((s) => ({ ...s, action: 'alter' as const })) };
    case 'constraint':
      return alterConstraint(a as ConstraintNode, b);
    case 'index': {
      const x = a as typeof b;
      if (changed(x.body, b.body, x.structure, b.structure)) return { replace: true };
      return { statements: b.replicaIdentity && !x.replicaIdentity ? [stmt(b, 'alter', `ALTER TABLE ${tableOf(b)} REPLICA IDENTITY USING INDEX ${quoteIdent(b.name)}`)] : [] };
    }
    case 'sequence': {
      const x = a as SequenceNode;
      const opts = sequenceOptions(b, x);
      return { statements: opts ? [stmt(b, 'alter', `ALTER SEQUENCE ${qualified(b.schema, b.name)} ${opts}`)] : [] };
    }
    case 'sequence-owner': {
      const x = a as typeof b;
      const same = x.table === b.table && x.tableSchema === b.tableSchema && x.column === b.column;
      return { statements: same ? [] : createObject(b, ctx) };
    }
    case 'view':
    case 'materialized-view': {
      const x = a as ViewNode;
      if (changed(x.definition, b.definition, x.structure, b.structure)) return { replace: true };
      const out: SchemaStatement[] = [];
      const word = `ALTER ${b.kind === 'view' ? 'VIEW' : 'MATERIALIZED VIEW'} ${qualified(b.schema, b.name)}`;
      const { set, reset } = optionsDiff(x.options, b.options);
      if (reset.length) out.push(stmt(b, 'alter', `${word} RESET (${reset.join(', ')})`));
      if (set.length) out.push(stmt(b, 'alter', `${word} SET (${set.join(', ')})`));
      out.push(...viewColumnComments(b, x.columnComments));
      return { statements: out };
    }
    case 'function':
    case 'procedure': {
      const x = a as FunctionNode;
      if (x.kind !== b.kind || changed(`${x.result} ${x.arguments}`, `${b.result} ${b.arguments}`, x.signatureStructure, b.signatureStructure)) return { replace: true };
      return { statements: x.body === b.body ? [] : [stmt(b, 'alter', b.definition)] };
    }
    case 'trigger': {
      const x = a as typeof b;
      if (changed(x.body, b.body, x.structure, b.structure)) return { replace: true };
      return { statements: x.enabled !== b.enabled ? triggerEnable(b, b) : [] };
    }
    case 'policy': {
      const x = a as PolicyNode;
      if (x.command !== b.command || x.permissive !== b.permissive || (x.using !== null && b.using === null) || (x.check !== null && b.check === null)) {
        return { replace: true };
      }
      const same = x.roles.join(',') === b.roles.join(',') && !changed(x.using, b.using, x.usingStructure, b.usingStructure) && !changed(x.check, b.check, x.checkStructure, b.checkStructure);
      if (same) return { statements: [] };
      return { statements: [stmt(b, 'alter', `ALTER POLICY ${quoteIdent(b.name)} ON ${tableOf(b)} ${policyClauses(b)}`)] };
    }
  }
}
