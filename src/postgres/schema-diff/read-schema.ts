import type pg from 'pg';
import { PgbranchError } from '../../errors.js';
import * as Q from './catalog-queries.js';
import type {
  AclItem,
  ColumnNode,
  CompositeAttribute,
  DomainConstraint,
  EnumLabel,
  IdentityOptions,
  OpaqueObject,
  SchemaModel,
  SchemaObject,
} from './model.js';
import { displayName, objectKey } from './names.js';

/** The oldest server the catalog queries are written for (pg_type.typsubscript, 14+). */
const MIN_VERSION_NUM = 140000;

type Row = Record<string, unknown>;

const str = (v: unknown): string => String(v);
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function sortAcl(items: unknown): AclItem[] {
  return ((items as AclItem[] | null) ?? [])
    .map((a) => ({ grantee: a.grantee, privilege: a.privilege, grantable: a.grantable }))
    .sort((x, y) => (x.grantee + x.privilege).localeCompare(y.grantee + y.privilege) || Number(x.grantable) - Number(y.grantable));
}

/**
 * Strips `<prefix><quoted name> … ON <quoted table>` from a pg_get_*def text so two objects that
 * differ only by name (or by their table's name) compare equal.
 */
function nameFreeBody(definition: string, quotedName: string, quotedTable: string): string {
  return definition.replace(` ${quotedName} `, ' $NAME ').replace(` ON ${quotedTable} `, ' ON $TABLE ').replace(` ON ONLY ${quotedTable} `, ' ON ONLY $TABLE ');
}

/**
 * Reads the user schema of the database `client` is connected to: every schema but pg_catalog,
 * information_schema and pg_toast, without objects that belong to an extension. One
 * REPEATABLE READ READ ONLY transaction, so the model is one consistent moment.
 */
export async function readSchema(client: pg.Client): Promise<SchemaModel> {
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      // An empty search_path makes every pg_get_*def print schema-qualified names.
      await client.query(`SELECT set_config('search_path', '', true)`);
      const q = async (sql: string): Promise<Row[]> => (await client.query(sql)).rows as Row[];
      const [meta] = await q(Q.META);
      const versionNum = Number(meta?.version_num);
      if (versionNum < MIN_VERSION_NUM) {
        throw new PgbranchError('INVALID_ARGUMENT', `schema diff needs PostgreSQL 14 or newer; this server is ${versionNum}`);
      }
      const rows = {
        schemas: await q(Q.SCHEMAS),
        extensions: await q(Q.EXTENSIONS),
        types: await q(Q.TYPES),
        relations: await q(Q.RELATIONS),
        columns: await q(Q.COLUMNS),
        constraints: await q(Q.CONSTRAINTS),
        indexes: await q(Q.INDEXES),
        functions: await q(Q.FUNCTIONS),
        triggers: await q(Q.TRIGGERS),
        policies: await q(Q.POLICIES),
        depends: await q(Q.DEPENDS),
        extensionMembers: await q(Q.EXTENSION_MEMBERS),
        viewRules: await q(Q.VIEW_RULES),
        opaque: await q(Q.OPAQUE),
      };
      const model = buildModel(versionNum, str(meta?.current_user), (meta?.roles as string[]) ?? [], rows);
      await client.query('COMMIT');
      return model;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } catch (cause) {
    if (cause instanceof PgbranchError) throw cause;
    throw new PgbranchError('POSTGRES_ERROR', `reading the schema catalog failed: ${(cause as Error).message}`, { cause });
  }
}

interface CatalogRows {
  schemas: Row[];
  extensions: Row[];
  types: Row[];
  relations: Row[];
  columns: Row[];
  constraints: Row[];
  indexes: Row[];
  functions: Row[];
  triggers: Row[];
  policies: Row[];
  depends: Row[];
  extensionMembers: Row[];
  viewRules: Row[];
  opaque: Row[];
}

function buildModel(serverVersionNum: number, currentUser: string, roles: string[], rows: CatalogRows): SchemaModel {
  const objects: SchemaObject[] = [];
  const opaque: OpaqueObject[] = [];
  /** `<catalog>:<oid>:<subid>` → key, for turning pg_depend rows into key edges. */
  const refs = new Map<string, string>();
  const ref = (catalog: string, oid: unknown, subId = 0): string => `${catalog}:${str(oid)}:${subId}`;

  for (const r of rows.schemas) {
    const key = objectKey('schema', str(r.name));
    refs.set(ref('pg_namespace', r.lid), key);
    objects.push({ kind: 'schema', key, lid: str(r.lid), schema: str(r.name), name: str(r.name), owner: str(r.owner), acl: sortAcl(r.acl), comment: strOrNull(r.comment), deps: [] });
  }
  const schemaKey = (schema: string): string => objectKey('schema', schema);

  for (const r of rows.extensions) {
    const key = objectKey('extension', str(r.name));
    refs.set(ref('pg_extension', r.lid), key);
    objects.push({
      kind: 'extension', key, lid: str(r.lid), schema: str(r.schema), name: str(r.name), version: str(r.version),
      relocatable: Boolean(r.relocatable), comment: strOrNull(r.comment), deps: [schemaKey(str(r.schema))],
    });
  }
  const extensionByLid = new Map(rows.extensions.map((r) => [str(r.lid), objectKey('extension', str(r.name))]));
  for (const r of rows.extensionMembers) {
    const ext = extensionByLid.get(str(r.extension_lid));
    if (ext) refs.set(ref(str(r.cls), r.objid), ext);
  }

  for (const r of rows.types) {
    const schema = str(r.schema);
    const name = str(r.name);
    const key = objectKey('type', schema, name);
    const base = { key, lid: str(r.lid), schema, name, owner: str(r.owner), acl: sortAcl(r.acl), comment: strOrNull(r.comment), deps: [schemaKey(schema)] };
    const typeType = str(r.type_type);
    if (typeType === 'r' || typeType === 'b') {
      opaque.push({
        kind: typeType === 'r' ? 'range type' : 'base type', identity: displayName(schema, name), signature: str(r.signature),
        reason: typeType === 'r' ? 'range types are not expressed by the schema diff' : 'base types (C input/output functions) are not expressed by the schema diff',
      });
      continue;
    }
    refs.set(ref('pg_type', r.lid), key);
    refs.set(ref('pg_type', r.array_lid), key);
    if (typeType === 'e') {
      objects.push({ ...base, kind: 'enum', labels: (r.labels as EnumLabel[] | null) ?? [] });
    } else if (typeType === 'c') {
      refs.set(ref('pg_class', r.rel_lid), key);
      objects.push({ ...base, kind: 'composite', attributes: (r.attributes as CompositeAttribute[] | null) ?? [] });
    } else {
      const constraints = (r.constraints as DomainConstraint[] | null) ?? [];
      for (const c of constraints) refs.set(ref('pg_constraint', c.lid), key);
      objects.push({
        ...base, kind: 'domain', baseType: str(r.base_type), collation: strOrNull(r.collation), default: strOrNull(r.default_expr),
        notNull: Boolean(r.not_null), constraints,
      });
    }
  }

  /** Relations the model holds columns and sub-objects of (plain tables). */
  const tables = new Map<string, { schema: string; name: string; key: string }>();
  const relByLid = new Map<string, { schema: string; name: string; key: string }>();
  const ownedSequences: Array<{ seqKey: string; seqLid: string; schema: string; name: string; owner: { table: string; tableSchema: string; column: string } }> = [];
  const relKeyByLid = new Map(rows.relations.map((r) => [str(r.lid), objectKey('rel', str(r.schema), str(r.name))]));
  for (const r of rows.relations) {
    const schema = str(r.schema);
    const name = str(r.name);
    const key = objectKey('rel', schema, name);
    const relkind = str(r.relkind);
    if (r.exotic) {
      opaque.push({
        kind: relkind === 'f' ? 'foreign table' : r.typed ? 'typed table' : r.partition_parent_lid ? 'partition of an inheritance parent' : 'inherited table',
        identity: displayName(schema, name), signature: str(r.signature),
        reason: 'tables that inherit (INHERITS), typed tables (OF type) and foreign tables are not expressed by the schema diff',
      });
      continue;
    }
    refs.set(ref('pg_class', r.lid), key);
    refs.set(ref('pg_type', r.rowtype_lid), key);
    if (r.rowtype_array_lid) refs.set(ref('pg_type', r.rowtype_array_lid), key);
    relByLid.set(str(r.lid), { schema, name, key });
    const base = { key, lid: str(r.lid), schema, name, owner: str(r.owner), acl: sortAcl(r.acl), comment: strOrNull(r.comment), deps: [schemaKey(schema)] };
    if (relkind === 'r' || relkind === 'p') {
      tables.set(str(r.lid), { schema, name, key });
      const partitionOf = r.partition_parent_lid ? (relKeyByLid.get(str(r.partition_parent_lid)) ?? null) : null;
      if (partitionOf) base.deps.push(partitionOf);
      objects.push({
        ...base, kind: 'table', partitionKey: strOrNull(r.partition_key), partitionOf, partitionBound: strOrNull(r.partition_bound),
        unlogged: Boolean(r.unlogged), accessMethod: str(r.access_method), options: [...((r.options as string[]) ?? [])].sort(),
        rowSecurity: Boolean(r.row_security), forceRowSecurity: Boolean(r.force_row_security),
        replicaIdentity: str(r.replica_identity) as 'd' | 'n' | 'f' | 'i',
      });
    } else if (relkind === 'v' || relkind === 'm') {
      objects.push({
        ...base, kind: relkind === 'v' ? 'view' : 'materialized-view', definition: str(r.view_definition).trim().replace(/;$/, ''), structure: str(r.view_structure),
        options: [...((r.options as string[]) ?? [])].sort(), columnComments: (r.column_comments as Record<string, string>) ?? {},
      });
    } else if (relkind === 'S') {
      const s = r.sequence as { type: string; start: string; increment: string; min: string; max: string; cache: string; cycle: boolean };
      objects.push({ ...base, kind: 'sequence', type: s.type, start: s.start, increment: s.increment, min: s.min, max: s.max, cache: s.cache, cycle: s.cycle });
      const owner = r.owned_by as { table: string; tableSchema: string; column: string } | null;
      if (owner) ownedSequences.push({ seqKey: key, seqLid: str(r.lid), schema, name, owner });
    }
  }
  for (const r of rows.viewRules) {
    const rel = relByLid.get(str(r.rel_lid));
    if (rel) refs.set(ref('pg_rewrite', r.lid), rel.key);
  }

  const columnsByTable = new Map<string, Row[]>();
  for (const r of rows.columns) {
    const list = columnsByTable.get(str(r.table_lid)) ?? [];
    list.push(r);
    columnsByTable.set(str(r.table_lid), list);
  }
  for (const [tableLid, cols] of columnsByTable) {
    const t = tables.get(tableLid);
    if (!t) continue;
    cols.forEach((r, position) => {
      const name = str(r.name);
      const key = objectKey('column', t.schema, t.name, name);
      const lid = `${tableLid}:${str(r.attnum)}`;
      refs.set(ref('pg_class', tableLid, Number(r.attnum)), key);
      const idOpts = r.identity_options as (IdentityOptions & { lid: string }) | null;
      if (idOpts) refs.set(ref('pg_class', idOpts.lid), key);
      const generated = str(r.generated) as ColumnNode['generated'];
      const column: ColumnNode = {
        kind: 'column', key, lid, schema: t.schema, name, parent: t.key, table: t.name, position,
        type: str(r.type), typeStructure: str(r.type_structure), collation: strOrNull(r.collation), notNull: Boolean(r.not_null),
        identity: str(r.identity) as ColumnNode['identity'],
        identityOptions: idOpts
          ? { sequenceName: idOpts.sequenceName, type: idOpts.type, start: idOpts.start, increment: idOpts.increment, min: idOpts.min, max: idOpts.max, cache: idOpts.cache, cycle: idOpts.cycle }
          : null,
        generated, generationExpression: generated ? strOrNull(r.default_expr) : null, generationStructure: generated ? strOrNull(r.default_structure) : null,
        storage: strOrNull(r.storage), statistics: Number(r.statistics), compression: strOrNull(r.compression), options: [...((r.options as string[]) ?? [])].sort(),
        comment: strOrNull(r.comment), acl: sortAcl(r.acl), deps: [t.key],
      };
      objects.push(column);
      if (r.attrdef_lid) {
        if (generated) {
          refs.set(ref('pg_attrdef', r.attrdef_lid), key);
        } else {
          const defaultKey = objectKey('default', t.schema, t.name, name);
          refs.set(ref('pg_attrdef', r.attrdef_lid), defaultKey);
          objects.push({
            kind: 'default', key: defaultKey, lid, schema: t.schema, name, parent: key, table: t.name, column: name,
            expression: str(r.default_expr), structure: str(r.default_structure), deps: [key],
          });
        }
      }
    });
  }

  for (const s of ownedSequences) {
    const key = objectKey('seqowner', s.schema, s.name);
    const columnKey = objectKey('column', s.owner.tableSchema, s.owner.table, s.owner.column);
    objects.push({
      kind: 'sequence-owner', key, lid: `${s.seqLid}:owner`, schema: s.schema, name: s.name, parent: s.seqKey, sequence: s.name,
      table: s.owner.table, tableSchema: s.owner.tableSchema, column: s.owner.column, deps: [s.seqKey, columnKey],
    });
  }

  for (const r of rows.constraints) {
    const t = tables.get(str(r.table_lid));
    if (!t) continue;
    const key = objectKey('constraint', t.schema, t.name, str(r.name));
    refs.set(ref('pg_constraint', r.lid), key);
    if (str(r.index_lid) !== '0' && ['p', 'u', 'x'].includes(str(r.type))) refs.set(ref('pg_class', r.index_lid), key);
    objects.push({
      kind: 'constraint', key, lid: str(r.lid), schema: t.schema, name: str(r.name), parent: t.key, table: t.name,
      type: str(r.type) as 'p' | 'f' | 'u' | 'c' | 'x', definition: str(r.definition), validated: Boolean(r.validated), structure: str(r.structure),
      replicaIdentity: Boolean(r.replica_identity), comment: strOrNull(r.comment), deps: [t.key],
    });
  }

  for (const r of rows.indexes) {
    const t = relByLid.get(str(r.table_lid));
    if (!t) continue;
    const key = objectKey('rel', t.schema, str(r.name));
    refs.set(ref('pg_class', r.lid), key);
    const definition = str(r.definition);
    objects.push({
      kind: 'index', key, lid: str(r.lid), schema: t.schema, name: str(r.name), parent: t.key, table: t.name, definition,
      body: nameFreeBody(definition, str(r.quoted_name), str(r.quoted_table)), replicaIdentity: Boolean(r.replica_identity), structure: str(r.structure),
      comment: strOrNull(r.comment), deps: [t.key],
    });
  }

  for (const r of rows.functions) {
    const schema = str(r.schema);
    const name = str(r.name);
    const prokind = str(r.prokind);
    if (prokind === 'a' || prokind === 'w') {
      opaque.push({
        kind: prokind === 'a' ? 'aggregate' : 'window function', identity: `${displayName(schema, name)}(${str(r.identity_arguments)})`,
        signature: str(r.signature), reason: 'aggregates and window functions are not expressed by the schema diff',
      });
      continue;
    }
    const key = objectKey('function', schema, name, str(r.argument_types));
    refs.set(ref('pg_proc', r.lid), key);
    const definition = str(r.definition).trim();
    objects.push({
      kind: prokind === 'p' ? 'procedure' : 'function', key, lid: str(r.lid), schema, name, owner: str(r.owner), acl: sortAcl(r.acl),
      comment: strOrNull(r.comment), identityArguments: str(r.identity_arguments), arguments: str(r.arguments), result: strOrNull(r.result),
      signatureStructure: str(r.signature_structure),
      definition, body: definition.slice(definition.indexOf('\n') + 1), deps: [schemaKey(schema)],
    });
  }

  for (const r of rows.triggers) {
    const t = relByLid.get(str(r.table_lid));
    if (!t) continue;
    const key = objectKey('trigger', t.schema, t.name, str(r.name));
    refs.set(ref('pg_trigger', r.lid), key);
    if (str(r.constraint_lid) !== '0') refs.set(ref('pg_constraint', r.constraint_lid), key);
    const definition = str(r.definition);
    objects.push({
      kind: 'trigger', key, lid: str(r.lid), schema: t.schema, name: str(r.name), parent: t.key, table: t.name, definition,
      body: nameFreeBody(definition, str(r.quoted_name), str(r.quoted_table)), enabled: str(r.enabled) as 'O' | 'D' | 'R' | 'A', structure: str(r.structure),
      comment: strOrNull(r.comment), deps: [t.key],
    });
  }

  for (const r of rows.policies) {
    const t = tables.get(str(r.table_lid));
    if (!t) continue;
    const key = objectKey('policy', t.schema, t.name, str(r.name));
    refs.set(ref('pg_policy', r.lid), key);
    objects.push({
      kind: 'policy', key, lid: str(r.lid), schema: t.schema, name: str(r.name), parent: t.key, table: t.name,
      command: str(r.command) as 'r' | 'a' | 'w' | 'd' | '*', permissive: Boolean(r.permissive),
      roles: [...((r.roles as string[]) ?? [])].sort(), using: strOrNull(r.using_expr), check: strOrNull(r.check_expr),
      usingStructure: str(r.using_structure), checkStructure: str(r.check_structure),
      comment: strOrNull(r.comment), deps: [t.key],
    });
  }

  for (const r of rows.opaque) {
    opaque.push({ kind: str(r.kind), identity: str(r.identity), signature: str(r.signature), reason: `${str(r.kind)} objects are not expressed by the schema diff` });
  }

  const byKey = new Map(objects.map((o) => [o.key, o]));
  const resolve = (catalog: string, oid: unknown, subId: unknown): string | undefined =>
    refs.get(ref(catalog, oid, Number(subId))) ?? refs.get(ref(catalog, oid));
  for (const d of rows.depends) {
    const from = resolve(str(d.cls), d.objid, d.objsubid);
    const to = resolve(str(d.refcls), d.refobjid, d.refobjsubid);
    if (!from || !to || from === to) continue;
    const obj = byKey.get(from);
    if (!obj) continue;
    // A sequence's OWNED BY link is the sequence-owner object's, not the sequence's.
    if (obj.kind === 'sequence' && str(d.deptype) === 'a') continue;
    if (!obj.deps.includes(to)) obj.deps.push(to);
  }
  return { serverVersionNum, currentUser, roles, objects, opaque: opaque.sort((a, b) => (a.kind + a.identity).localeCompare(b.kind + b.identity)) };
}
