import type { ColumnNode, DefaultNode, SchemaModel, SchemaObject, SequenceOwnerNode, TableNode } from './model.js';
import {
  addColumn,
  alterObject,
  changed,
  changesColumnType,
  createObject,
  createTable,
  dropObject,
  identityOf,
  renameObject,
  type DdlContext,
} from './ddl.js';
import { displayName, objectKey } from './names.js';
import { topoSort } from './topo-sort.js';
import type { DiffOptions, SchemaDiff, SchemaStatement, UnsupportedChange } from './types.js';

interface Pair {
  readonly id: number;
  readonly a: SchemaObject | undefined;
  readonly b: SchemaObject | undefined;
  /** Dropped and created again (its definition cannot be altered, or a dependency forces it). */
  replaced: boolean;
  alter: SchemaStatement[];
}

type Op = 'drop' | 'rename' | 'alter' | 'create';

interface Node {
  readonly op: Op;
  readonly pair: Pair;
  statements: SchemaStatement[];
  /** Position in its side's model, so the output follows catalog order where nothing else decides. */
  readonly seq: number;
}

/** Kinds that can be dropped and created again without losing data. */
const RECREATABLE = new Set<SchemaObject['kind']>(['view', 'materialized-view', 'index', 'constraint', 'trigger', 'policy', 'default', 'function', 'procedure', 'sequence-owner']);

/** Dependents PostgreSQL refuses to keep across ALTER COLUMN … TYPE (it rebuilds indexes and constraints itself). */
const BLOCKS_TYPE_CHANGE = new Set<SchemaObject['kind']>(['view', 'materialized-view', 'policy', 'trigger', 'function', 'procedure', 'default']);

const KIND_ORDER: Record<SchemaObject['kind'], number> = {
  schema: 0,
  extension: 1,
  enum: 2,
  composite: 2,
  domain: 2,
  sequence: 3,
  table: 4,
  column: 5,
  default: 6,
  function: 7,
  procedure: 7,
  constraint: 8,
  index: 10,
  'sequence-owner': 11,
  view: 12,
  'materialized-view': 13,
  trigger: 14,
  policy: 15,
};

const OP_RANK: Record<Op, number> = { drop: 0, rename: 1, alter: 2, create: 2 };

function kindOrder(o: SchemaObject): number {
  // Foreign keys after the keys they reference, whatever the table order.
  return o.kind === 'constraint' && o.type === 'f' ? 9 : KIND_ORDER[o.kind];
}

const LEVEL: Partial<Record<SchemaObject['kind'], number>> = { column: 1, constraint: 1, index: 1, trigger: 1, policy: 1, 'sequence-owner': 1, default: 2 };

/** Further keys an object's name occupies (a table's row type, a constraint's index). */
function conflictKeys(o: SchemaObject): string[] {
  switch (o.kind) {
    case 'constraint':
      return ['p', 'u', 'x'].includes(o.type) ? [o.key, objectKey('rel', o.schema, o.name)] : [o.key];
    case 'table':
    case 'view':
    case 'materialized-view':
      return [o.key, objectKey('type', o.schema, o.name)];
    case 'composite':
      return [o.key, objectKey('rel', o.schema, o.name)];
    default:
      return [o.key];
  }
}

/** Evidence beyond an equal OID that two differently named objects are one renamed object. */
function renameEvidence(x: SchemaObject, y: SchemaObject): boolean {
  if (x.name === y.name && x.schema === y.schema) return true;
  switch (y.kind) {
    case 'column':
      return !changesColumnType(x as ColumnNode, y) && (x as ColumnNode).generated === y.generated;
    case 'index':
    case 'trigger':
      return !changed((x as typeof y).body, y.body, (x as typeof y).structure, y.structure);
    case 'constraint':
      return !changed((x as typeof y).definition, y.definition, (x as typeof y).structure, y.structure);
    default:
      return true;
  }
}

const PLAIN_IDENT = /^[a-z_][a-z0-9_$]*$/;
const asPrinted = (name: string): string => (PLAIN_IDENT.test(name) ? name : `"${name.replace(/"/g, '""')}"`);
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Fields PostgreSQL deparses from OIDs (so they follow a schema rename), by kind. */
const DEPARSED: Partial<Record<SchemaObject['kind'], readonly string[]>> = {
  column: ['type', 'generationExpression'],
  default: ['expression'],
  constraint: ['definition'],
  index: ['definition', 'body'],
  view: ['definition'],
  'materialized-view': ['definition'],
  trigger: ['definition', 'body'],
  policy: ['using', 'check'],
  domain: ['baseType', 'default'],
  function: ['result', 'arguments', 'identityArguments'],
  procedure: ['arguments', 'identityArguments'],
};

/**
 * Side A as it reads after B's schema renames: its schema names and deparsed texts name the new
 * schemas, as PostgreSQL would print them once the schemas are renamed. Comparisons and renames
 * use this; drops (which run before the renames) use A as it is.
 */
function schemaRenamer(renames: ReadonlyMap<string, string>): (o: SchemaObject) => SchemaObject {
  if (renames.size === 0) return (o) => o;
  const rules = [...renames].map(([from, to]) => ({ re: new RegExp(`(?<![\\w$"])${escapeRegExp(asPrinted(from))}\\.`, 'g'), to: `${asPrinted(to)}.` }));
  const text = (v: string): string => rules.reduce((acc, r) => acc.replace(r.re, r.to), v);
  return (o) => {
    const out: Record<string, unknown> = { ...o, schema: renames.get(o.schema) ?? o.schema };
    for (const f of DEPARSED[o.kind] ?? []) if (typeof out[f] === 'string') out[f] = text(out[f] as string);
    if (o.kind === 'composite') out.attributes = o.attributes.map((x) => ({ ...x, type: text(x.type) }));
    if (o.kind === 'domain') out.constraints = o.constraints.map((x) => ({ ...x, definition: text(x.definition) }));
    if (o.kind === 'sequence-owner') out.tableSchema = renames.get(o.tableSchema) ?? o.tableSchema;
    return out as unknown as SchemaObject;
  };
}

function matchObjects(aObjects: readonly SchemaObject[], bObjects: readonly SchemaObject[], byOid: boolean, trustOid: boolean) {
  const pairs: Pair[] = [];
  const pairOfA = new Map<string, Pair>();
  const pairOfB = new Map<string, Pair>();
  const add = (a: SchemaObject | undefined, b: SchemaObject | undefined): void => {
    const p: Pair = { id: pairs.length, a, b, replaced: false, alter: [] };
    pairs.push(p);
    if (a) pairOfA.set(a.key, p);
    if (b) pairOfB.set(b.key, p);
  };
  const aByLid = new Map(aObjects.map((o) => [`${o.kind}\u0000${o.lid}`, o]));
  const aByKey = new Map(aObjects.map((o) => [o.key, o]));
  const parentsAgree = (x: SchemaObject, y: SchemaObject): boolean =>
    (!x.parent && !y.parent) || (x.parent !== undefined && y.parent !== undefined && pairOfA.get(x.parent) !== undefined && pairOfA.get(x.parent) === pairOfB.get(y.parent));
  // Schemas first: their renames decide how the rest of A is read.
  const schemaRenames = new Map<string, string>();
  let normalize: (o: SchemaObject) => SchemaObject = (o) => o;
  for (let level = 0; level <= 2; level++) {
    const bLevel = bObjects.filter((o) => (LEVEL[o.kind] ?? 0) === level && (level > 0 || o.kind === 'schema'));
    const bRest = level === 0 ? bObjects.filter((o) => LEVEL[o.kind] === undefined && o.kind !== 'schema') : [];
    for (const batch of [bLevel, bRest]) {
      if (batch.length === 0) continue;
      if (byOid) {
        for (const y of batch) {
          const x = aByLid.get(`${y.kind}\u0000${y.lid}`);
          if (x && !pairOfA.has(x.key) && parentsAgree(x, y) && (trustOid || renameEvidence(normalize(x), y))) add(x, y);
        }
      }
      for (const y of batch) {
        if (pairOfB.has(y.key)) continue;
        const x = aByKey.get(y.key);
        if (x && x.kind === y.kind && !pairOfA.has(x.key) && parentsAgree(x, y)) add(x, y);
      }
      if (batch === bLevel && level === 0) {
        for (const p of pairs) if (p.a?.kind === 'schema' && p.b && p.a.name !== p.b.name) schemaRenames.set(p.a.name, p.b.name);
        normalize = schemaRenamer(schemaRenames);
      }
    }
  }
  for (const x of aObjects) if (!pairOfA.has(x.key)) add(x, undefined);
  for (const y of bObjects) if (!pairOfB.has(y.key)) add(undefined, y);
  return { pairs, pairOfA, pairOfB, normalize };
}

function isRenamed(a: SchemaObject, b: SchemaObject): boolean {
  if (a.name !== b.name) return true;
  // Children follow their table's schema; top-level objects can move.
  return LEVEL[b.kind] === undefined && a.schema !== b.schema;
}

/**
 * The migration from `a` to `b`: applied to a database whose schema is `a`, the statements give
 * schema `b`. Statements come in dependency order (drops of dependents first, creates after what
 * they use); what cannot be expressed is listed in `unsupported`, never left out silently.
 */
export function diffSchemas(a: SchemaModel, b: SchemaModel, options: DiffOptions = {}): SchemaDiff {
  const ctx: DdlContext = { versionNum: a.serverVersionNum, defaultOwner: b.currentUser };
  const unsupported: UnsupportedChange[] = [];
  const { pairs, pairOfA, pairOfB, normalize } = matchObjects(a.objects, b.objects, options.matchByOid ?? true, options.aIsAncestor ?? false);
  const aByKey = new Map(a.objects.map((o) => [o.key, o]));
  const bByKey = new Map(b.objects.map((o) => [o.key, o]));
  /** A objects by every key their names occupy. */
  const aConflict = new Map<string, SchemaObject>();
  for (const o of a.objects) for (const k of conflictKeys(o)) aConflict.set(k, o);
  const dependentsA = new Map<string, SchemaObject[]>();
  for (const o of a.objects) {
    for (const d of new Set([...o.deps, ...(o.parent ? [o.parent] : [])])) {
      const list = dependentsA.get(d);
      if (list) list.push(o);
      else dependentsA.set(d, [o]);
    }
  }

  // What each matched pair needs.
  const forced: Pair[] = [];
  for (const p of pairs) {
    if (!p.a || !p.b) continue;
    const result = alterObject(normalize(p.a), p.b, ctx);
    if ('replace' in result) p.replaced = true;
    else if ('unsupported' in result) unsupported.push({ kind: p.b.kind, identity: identityOf(p.b), reason: result.unsupported });
    else p.alter = result.statements;
    const na = normalize(p.a);
    if (na.kind === 'column' && p.b.kind === 'column' && !p.replaced && changesColumnType(na, p.b)) {
      for (const dep of dependentsA.get(p.a.key) ?? []) {
        if (BLOCKS_TYPE_CHANGE.has(dep.kind) || (dep.kind === 'column' && dep.generated)) {
          const q = pairOfA.get(dep.key);
          if (q) forced.push(q);
        }
      }
    }
  }
  // Whatever depends on a dropped or replaced object is dropped first and created again.
  const queue: Pair[] = pairs.filter((p) => p.a && (!p.b || p.replaced));
  const markReplaced = (q: Pair): void => {
    if (q.a && q.b && !q.replaced) {
      q.replaced = true;
      q.alter = [];
      queue.push(q);
    }
  };
  forced.forEach(markReplaced);
  while (queue.length > 0) {
    const p = queue.pop() as Pair;
    for (const dep of dependentsA.get((p.a as SchemaObject).key) ?? []) {
      const q = pairOfA.get(dep.key);
      if (q && (RECREATABLE.has(dep.kind) || (dep.kind === 'column' && dep.generated))) markReplaced(q);
    }
  }

  const isDropped = (p: Pair): boolean => p.a !== undefined && (p.b === undefined || p.replaced);
  const isCreated = (p: Pair): boolean => p.b !== undefined && (p.a === undefined || p.replaced);
  const ownedSequenceA = new Map<string, SequenceOwnerNode>();
  for (const o of a.objects) if (o.kind === 'sequence-owner') ownedSequenceA.set(o.parent as string, o);

  /** The pair whose DROP statement removes `x` (its own, its parent's, or the owning column's). */
  const dropOwnerCache = new Map<string, Pair | undefined>();
  const dropOwner = (x: SchemaObject): Pair | undefined => {
    if (dropOwnerCache.has(x.key)) return dropOwnerCache.get(x.key);
    const p = pairOfA.get(x.key) as Pair;
    let owner: Pair | undefined;
    const parent = x.parent ? aByKey.get(x.parent) : undefined;
    if (parent) owner = dropOwner(parent);
    // DROP TABLE of a partitioned table drops its partitions.
    if (!owner && x.kind === 'table' && x.partitionOf && !p.b) {
      const partitioned = aByKey.get(x.partitionOf);
      if (partitioned) owner = dropOwner(partitioned);
    }
    if (!owner && x.kind === 'sequence' && !p.b) {
      const link = ownedSequenceA.get(x.key);
      const column = link ? aByKey.get(objectKey('column', link.tableSchema, link.table, link.column)) : undefined;
      if (column) owner = dropOwner(column);
    }
    if (!owner && isDropped(p)) owner = p;
    dropOwnerCache.set(x.key, owner);
    return owner;
  };
  /** The pair whose CREATE statement makes `y` (its own, or the table / column it is part of). */
  const createOwner = (y: SchemaObject): Pair | undefined => {
    const p = pairOfB.get(y.key) as Pair;
    if (!isCreated(p)) return undefined;
    if ((y.kind === 'column' || y.kind === 'default') && y.parent) {
      const parent = bByKey.get(y.parent);
      const owner = parent ? createOwner(parent) : undefined;
      if (owner) return owner;
    }
    return p;
  };

  // Nodes.
  const nodes: Node[] = [];
  const dropNode = new Map<Pair, Node>();
  const createNode = new Map<Pair, Node>();
  const renameNode = new Map<Pair, Node>();
  const alterNode = new Map<Pair, Node>();
  const aSeq = new Map(a.objects.map((o, i) => [o.key, i]));
  const bSeq = new Map(b.objects.map((o, i) => [o.key, i]));
  const bChildren = new Map<string, SchemaObject[]>();
  for (const o of b.objects) {
    if (!o.parent) continue;
    const list = bChildren.get(o.parent);
    if (list) list.push(o);
    else bChildren.set(o.parent, [o]);
  }
  const impliedDefault = (column: ColumnNode, owner: Pair): DefaultNode | undefined => {
    const d = (bChildren.get(column.key) ?? []).find((c): c is DefaultNode => c.kind === 'default');
    return d && createOwner(d) === owner ? d : undefined;
  };
  const createStatements = (p: Pair): SchemaStatement[] => {
    const y = p.b as SchemaObject;
    if (y.kind === 'table') {
      const columns = (bChildren.get(y.key) ?? []).filter((c): c is ColumnNode => c.kind === 'column').sort((m, n) => m.position - n.position);
      const defaults = new Map<string, DefaultNode>();
      for (const c of columns) {
        const d = impliedDefault(c, p);
        if (d) defaults.set(c.key, d);
      }
      const parent = y.partitionOf ? (bByKey.get(y.partitionOf) as TableNode | undefined) : undefined;
      return createTable(y, columns, defaults, ctx, parent);
    }
    if (y.kind === 'column') return addColumn(y, impliedDefault(y, p), ctx);
    return createObject(y, ctx);
  };
  // A table that became or stopped being a partition: its columns are the parent's on one side
  // only, so nothing under it is diffed (it is reported as unsupported).
  const frozenA = new Set<string>();
  const frozenB = new Set<string>();
  for (const p of pairs) {
    if (p.a?.kind === 'table' && p.b?.kind === 'table' && (p.a.partitionOf === null) !== (p.b.partitionOf === null)) {
      frozenA.add(p.a.key);
      frozenB.add(p.b.key);
    }
  }
  const underFrozen = (o: SchemaObject | undefined, byKey: Map<string, SchemaObject>, frozen: Set<string>): boolean => {
    for (let cur = o; cur?.parent; cur = byKey.get(cur.parent)) if (frozen.has(cur.parent)) return true;
    return false;
  };
  for (const p of pairs) {
    if (frozenA.size > 0 && (underFrozen(p.a, aByKey, frozenA) || underFrozen(p.b, bByKey, frozenB))) continue;
    if (p.a && dropOwner(p.a) === p) {
      const n: Node = { op: 'drop', pair: p, statements: dropObject(p.a), seq: aSeq.get(p.a.key) ?? 0 };
      nodes.push(n);
      dropNode.set(p, n);
    }
    if (p.b && createOwner(p.b) === p) {
      const n: Node = { op: 'create', pair: p, statements: createStatements(p), seq: bSeq.get(p.b.key) ?? 0 };
      nodes.push(n);
      createNode.set(p, n);
    }
    if (p.a && p.b && !p.replaced) {
      if (isRenamed(normalize(p.a), p.b)) {
        const statements = renameObject(normalize(p.a), p.b);
        if (statements.length > 0) {
          const n: Node = { op: 'rename', pair: p, statements, seq: bSeq.get(p.b.key) ?? 0 };
          nodes.push(n);
          renameNode.set(p, n);
        }
      }
      if (p.alter.length > 0) {
        const n: Node = { op: 'alter', pair: p, statements: p.alter, seq: bSeq.get(p.b.key) ?? 0 };
        nodes.push(n);
        alterNode.set(p, n);
      }
    }
  }

  // A rename waits for the object holding its new name to be renamed away; a ring of such waits
  // (two columns swapping names) is broken by renaming one member to a temporary name first.
  const preRenameNode = new Map<Pair, Node>();
  const waitsFor = (p: Pair): Pair | undefined => {
    for (const k of conflictKeys(p.b as SchemaObject)) {
      const x = aConflict.get(k);
      const xp = x ? pairOfA.get(x.key) : undefined;
      if (xp && xp !== p && renameNode.has(xp)) return xp;
    }
    return undefined;
  };
  const visited = new Set<Pair>();
  for (const start of [...renameNode.keys()]) {
    const path: Pair[] = [];
    let cur: Pair | undefined = start;
    while (cur && !visited.has(cur) && !path.includes(cur)) {
      path.push(cur);
      cur = waitsFor(cur);
    }
    if (cur && path.includes(cur)) {
      const na = normalize(cur.a as SchemaObject);
      const y = cur.b as SchemaObject;
      const temporary = `pgbranch_tmp_${cur.id}`;
      const pre: Node = { op: 'rename', pair: cur, statements: renameObject(na, { ...y, name: temporary, schema: na.schema } as SchemaObject), seq: -1 };
      nodes.push(pre);
      preRenameNode.set(cur, pre);
      (renameNode.get(cur) as Node).statements = renameObject({ ...na, name: temporary } as SchemaObject, y);
    }
    path.forEach((x) => visited.add(x));
  }
  const renameNodes = (p: Pair | undefined): Node[] => (p ? [preRenameNode.get(p), renameNode.get(p)].filter((n): n is Node => n !== undefined) : []);
  /** The node after which the object no longer holds its old name. */
  const nameFreed = (p: Pair): Node | undefined => preRenameNode.get(p) ?? renameNode.get(p);

  // Edges.
  const edges: Array<readonly [Node, Node]> = [];
  const edge = (from: Node | undefined, to: Node | undefined): void => {
    if (from && to && from !== to) edges.push([from, to]);
  };
  const createNodeOf = (y: SchemaObject): Node | undefined => {
    const owner = createOwner(y);
    return owner ? createNode.get(owner) : undefined;
  };
  const dropNodeOf = (x: SchemaObject): Node | undefined => {
    const owner = dropOwner(x);
    return owner ? dropNode.get(owner) : undefined;
  };
  const ancestors = (o: SchemaObject, byKey: Map<string, SchemaObject>): string[] => {
    const out: string[] = [];
    let cur: SchemaObject | undefined = o;
    while (cur?.parent) {
      out.push(cur.parent);
      cur = byKey.get(cur.parent);
    }
    if (cur && cur.kind !== 'schema') out.push(objectKey('schema', cur.schema));
    return out;
  };

  for (const y of b.objects) {
    const p = pairOfB.get(y.key) as Pair;
    const realize = [createNodeOf(y), alterNode.get(p)].filter((n): n is Node => n !== undefined);
    // Creates and alters come after what they use exists under its new name.
    for (const d of new Set([...y.deps, ...ancestors(y, bByKey)])) {
      const dp = pairOfB.get(d);
      if (!dp) continue;
      const dObj = dp.b as SchemaObject;
      for (const n of realize) {
        edge(createNodeOf(dObj), n);
        edge(renameNode.get(dp), n);
        edge(alterNode.get(dp), n);
      }
    }
    // Renames of children name the parent by its new name (and a schema it moves to must exist).
    const r = renameNode.get(p);
    const pre = preRenameNode.get(p);
    edge(pre, r);
    // Alters name the object by its new name.
    edge(r, alterNode.get(p));
    for (const n of [pre, r]) {
      if (!n) continue;
      for (const anc of ancestors(y, bByKey)) {
        const ap = pairOfB.get(anc);
        if (!ap) continue;
        for (const m of renameNodes(ap)) edge(m, n);
        edge(createNodeOf(ap.b as SchemaObject), n);
      }
    }
    // A name must be free before it is taken.
    const taking = [createNode.get(p), r].filter((n): n is Node => n !== undefined);
    if (taking.length > 0) {
      for (const k of conflictKeys(y)) {
        const x = aConflict.get(k);
        if (!x) continue;
        const xp = pairOfA.get(x.key) as Pair;
        if (xp === p) continue;
        for (const n of taking) {
          edge(dropNodeOf(x), n);
          edge(nameFreed(xp), n);
        }
      }
    }
  }
  for (const x of a.objects) {
    const xDrop = dropNodeOf(x);
    const xp = pairOfA.get(x.key) as Pair;
    for (const y of dependentsA.get(x.key) ?? []) {
      const yp = pairOfA.get(y.key) as Pair;
      const yDrop = dropNodeOf(y);
      if (xDrop) {
        // Dependents go first: dropped before, or altered off it before.
        if (yDrop) edge(yDrop, xDrop);
        else edge(alterNode.get(yp), xDrop);
      }
      // An object is altered (a column's type…) once the dependents that block it are gone.
      if (yDrop) edge(yDrop, alterNode.get(xp));
    }
    // Drops name the object by its old names: before its parents or schema are renamed.
    const own = dropNode.get(xp);
    if (own) for (const anc of ancestors(x, aByKey)) for (const m of renameNodes(pairOfA.get(anc))) edge(own, m);
    // A replaced object is dropped before it is created again.
    edge(own, createNode.get(xp));
  }

  const compare = (m: Node, n: Node): number => {
    const rank = OP_RANK[m.op] - OP_RANK[n.op];
    if (rank !== 0) return rank;
    const mo = (m.op === 'drop' ? m.pair.a : m.pair.b) as SchemaObject;
    const no = (n.op === 'drop' ? n.pair.a : n.pair.b) as SchemaObject;
    const kind = m.op === 'drop' ? kindOrder(no) - kindOrder(mo) : kindOrder(mo) - kindOrder(no);
    if (kind !== 0) return kind;
    if (m.op !== n.op) return m.op === 'alter' ? -1 : 1;
    return m.seq - n.seq;
  };
  const { order, cycleBroken } = topoSort(nodes, edges, compare);
  for (const n of cycleBroken) {
    const o = (n.op === 'drop' ? n.pair.a : n.pair.b) as SchemaObject;
    unsupported.push({ kind: o.kind, identity: identityOf(o), reason: `dependency cycle: its ${n.op} statement had to be placed before something it depends on` });
  }
  const statements = order.flatMap((n) => n.statements);
  if (statements.some((s) => (s.kind === 'function' || s.kind === 'procedure') && (s.action === 'create' || s.action === 'alter'))) {
    // Bodies may name objects created later in the script (pg_dump does the same).
    statements.unshift({ sql: 'SET check_function_bodies = off', action: 'alter', kind: 'setting', identity: 'check_function_bodies' });
  }

  unsupported.push(...columnOrderChanges(pairs, pairOfA, pairOfB, bChildren), ...opaqueChanges(a, b), ...missingRoles(a, b));
  return { statements, unsupported };
}

/** Tables whose column order the script cannot reproduce (new columns always go last). */
function columnOrderChanges(pairs: readonly Pair[], pairOfA: Map<string, Pair>, pairOfB: Map<string, Pair>, bChildren: Map<string, SchemaObject[]>): UnsupportedChange[] {
  const out: UnsupportedChange[] = [];
  const aColumnsByTable = new Map<string, ColumnNode[]>();
  for (const p of pairs) {
    if (p.a?.kind !== 'column') continue;
    const list = aColumnsByTable.get(p.a.parent as string);
    if (list) list.push(p.a);
    else aColumnsByTable.set(p.a.parent as string, [p.a]);
  }
  for (const p of pairs) {
    if (p.a?.kind !== 'table' || p.b?.kind !== 'table' || p.replaced) continue;
    const bColumns = (bChildren.get(p.b.key) ?? []).filter((o): o is ColumnNode => o.kind === 'column').sort((x, y) => x.position - y.position);
    const expected = bColumns.map((c) => c.name);
    const kept = (aColumnsByTable.get(p.a.key) ?? [])
      .sort((x, y) => x.position - y.position)
      .map((c) => pairOfA.get(c.key) as Pair)
      .filter((q) => q.b && !q.replaced)
      .map((q) => (q.b as SchemaObject).name);
    const added = bColumns.filter((c) => {
      const q = pairOfB.get(c.key) as Pair;
      return !q.a || q.replaced;
    }).map((c) => c.name);
    const predicted = [...kept, ...added];
    if (predicted.join('\u0000') !== expected.join('\u0000')) {
      out.push({
        kind: 'table', identity: displayName(p.b.schema, p.b.name),
        reason: `column order cannot be reproduced (the script gives ${predicted.join(', ')}; the target has ${expected.join(', ')}): PostgreSQL adds columns last`,
      });
    }
  }
  return out;
}

function opaqueChanges(a: SchemaModel, b: SchemaModel): UnsupportedChange[] {
  const id = (o: { kind: string; identity: string }): string => `${o.kind}\u0000${o.identity}`;
  const before = new Map(a.opaque.map((o) => [id(o), o]));
  const after = new Map(b.opaque.map((o) => [id(o), o]));
  const out: UnsupportedChange[] = [];
  for (const [k, o] of after) {
    const prev = before.get(k);
    if (!prev) out.push({ kind: o.kind, identity: o.identity, reason: `added; ${o.reason}` });
    else if (prev.signature !== o.signature) out.push({ kind: o.kind, identity: o.identity, reason: `changed; ${o.reason}` });
  }
  for (const [k, o] of before) if (!after.has(k)) out.push({ kind: o.kind, identity: o.identity, reason: `dropped; ${o.reason}` });
  return out;
}

function missingRoles(a: SchemaModel, b: SchemaModel): UnsupportedChange[] {
  const known = new Set([...a.roles, 'PUBLIC']);
  const used = new Set<string>();
  for (const o of b.objects) {
    if (o.owner) used.add(o.owner);
    for (const item of o.acl ?? []) used.add(item.grantee);
    if (o.kind === 'policy') o.roles.forEach((r) => used.add(r));
  }
  return [...used]
    .filter((r) => !known.has(r))
    .sort()
    .map((r) => ({ kind: 'role', identity: r, reason: 'roles are cluster-wide and not part of a schema diff: create the role before applying the script' }));
}
