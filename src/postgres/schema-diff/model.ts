/**
 * The normalised catalog model of one database, as readSchema returns it. Every object has a
 * `key` (name-based, the same on both sides for the same name) and an `lid` (lineage id: the
 * OID, or table OID + attnum for columns). Branches are clones, so an unchanged object keeps its
 * lid on both sides; the diff uses that to recognise renames. `deps` are keys of the modelled
 * objects this one depends on (from pg_depend, plus its schema and parent).
 *
 * Fields named `…structure` describe an object by OIDs and attnums instead of names (stored
 * expression trees, operator classes, key columns). Within one lineage they stay equal when only
 * names changed, so a rename does not look like a new definition; verify never compares them.
 */

export interface AclItem {
  /** Role name, or PUBLIC. */
  readonly grantee: string;
  /** SELECT, INSERT, …, EXECUTE, USAGE, CREATE, … as aclexplode() names them. */
  readonly privilege: string;
  readonly grantable: boolean;
}

interface ObjectBase {
  readonly key: string;
  readonly lid: string;
  readonly schema: string;
  readonly name: string;
  /** Key of the object this one is part of (table of a column, column of a default…). */
  readonly parent?: string;
  readonly owner?: string;
  /** Effective privileges (the owner's defaults made explicit), sorted. */
  readonly acl?: readonly AclItem[];
  readonly comment?: string | null;
  deps: string[];
}

export interface SchemaNode extends ObjectBase {
  readonly kind: 'schema';
}

export interface ExtensionNode extends ObjectBase {
  readonly kind: 'extension';
  readonly version: string;
  readonly relocatable: boolean;
}

export interface EnumLabel {
  readonly lid: string;
  readonly label: string;
}

export interface EnumNode extends ObjectBase {
  readonly kind: 'enum';
  readonly labels: readonly EnumLabel[];
}

export interface CompositeAttribute {
  readonly lid: string;
  readonly name: string;
  readonly type: string;
  readonly collation: string | null;
}

export interface CompositeNode extends ObjectBase {
  readonly kind: 'composite';
  readonly attributes: readonly CompositeAttribute[];
}

export interface DomainConstraint {
  readonly lid: string;
  readonly name: string;
  readonly definition: string;
  readonly comment: string | null;
}

export interface DomainNode extends ObjectBase {
  readonly kind: 'domain';
  readonly baseType: string;
  readonly collation: string | null;
  readonly default: string | null;
  readonly notNull: boolean;
  readonly constraints: readonly DomainConstraint[];
}

export interface TableNode extends ObjectBase {
  readonly kind: 'table';
  readonly unlogged: boolean;
  /** Table access method (heap unless an extension brings another). */
  readonly accessMethod: string;
  readonly options: readonly string[];
  readonly rowSecurity: boolean;
  readonly forceRowSecurity: boolean;
  /** pg_get_partkeydef of a partitioned table (`RANGE (at)`), else null. */
  readonly partitionKey: string | null;
  /** Key of the partitioned table this one is a partition of (its columns are that table's). */
  readonly partitionOf: string | null;
  /** `FOR VALUES …` / `DEFAULT` of a partition. */
  readonly partitionBound: string | null;
  /** d(efault), n(othing), f(ull), i(ndex: the index or constraint says which). */
  readonly replicaIdentity: 'd' | 'n' | 'f' | 'i';
}

export interface IdentityOptions {
  readonly sequenceName: string;
  readonly type: string;
  readonly start: string;
  readonly increment: string;
  readonly min: string;
  readonly max: string;
  readonly cache: string;
  readonly cycle: boolean;
}

export interface ColumnNode extends ObjectBase {
  readonly kind: 'column';
  readonly table: string;
  /** Rank among the table's live columns (0-based): attnums have holes, order does not. */
  readonly position: number;
  readonly type: string;
  readonly collation: string | null;
  readonly notNull: boolean;
  readonly typeStructure: string;
  readonly identity: '' | 'a' | 'd';
  readonly identityOptions: IdentityOptions | null;
  /** '' normal, s stored, v virtual (18+). */
  readonly generated: '' | 's' | 'v';
  readonly generationExpression: string | null;
  readonly generationStructure: string | null;
  /** Only when it differs from the type's default. */
  readonly storage: string | null;
  /** -1 (or null on 17+) is the default. */
  readonly statistics: number;
  /** p(glz) or l(z4) when set explicitly; null is the server default. */
  readonly compression: string | null;
  readonly options: readonly string[];
}

/** A column default (not a generation expression): its own object so it can be dropped and set. */
export interface DefaultNode extends ObjectBase {
  readonly kind: 'default';
  readonly table: string;
  readonly column: string;
  readonly expression: string;
  readonly structure: string;
}

export interface ConstraintNode extends ObjectBase {
  readonly kind: 'constraint';
  readonly table: string;
  readonly type: 'p' | 'f' | 'u' | 'c' | 'x';
  /** pg_get_constraintdef: includes NOT VALID while not validated. */
  readonly definition: string;
  readonly validated: boolean;
  readonly replicaIdentity: boolean;
  readonly structure: string;
}

export interface IndexNode extends ObjectBase {
  readonly kind: 'index';
  readonly table: string;
  readonly definition: string;
  /** The definition without its own name and table name (for rename matching and alters). */
  readonly body: string;
  readonly replicaIdentity: boolean;
  readonly structure: string;
}

export interface SequenceNode extends ObjectBase {
  readonly kind: 'sequence';
  readonly type: string;
  readonly start: string;
  readonly increment: string;
  readonly min: string;
  readonly max: string;
  readonly cache: string;
  readonly cycle: boolean;
}

/** `ALTER SEQUENCE … OWNED BY`: separate from the sequence (the table's default needs the sequence first). */
export interface SequenceOwnerNode extends ObjectBase {
  readonly kind: 'sequence-owner';
  readonly sequence: string;
  readonly table: string;
  readonly tableSchema: string;
  readonly column: string;
}

export interface ViewNode extends ObjectBase {
  readonly kind: 'view' | 'materialized-view';
  readonly definition: string;
  readonly structure: string;
  readonly options: readonly string[];
  readonly columnComments: Readonly<Record<string, string>>;
}

export interface FunctionNode extends ObjectBase {
  readonly kind: 'function' | 'procedure';
  /** pg_get_function_identity_arguments: what DROP/ALTER FUNCTION take. */
  readonly identityArguments: string;
  /** pg_get_function_arguments: with defaults (what CREATE OR REPLACE may not change). */
  readonly arguments: string;
  readonly result: string | null;
  readonly signatureStructure: string;
  /** pg_get_functiondef. */
  readonly definition: string;
  /** The definition without its first line (name and arguments), for rename comparison. */
  readonly body: string;
}

export interface TriggerNode extends ObjectBase {
  readonly kind: 'trigger';
  readonly table: string;
  readonly definition: string;
  readonly body: string;
  readonly structure: string;
  /** O origin (enabled), D disabled, R replica, A always. */
  readonly enabled: 'O' | 'D' | 'R' | 'A';
}

export interface PolicyNode extends ObjectBase {
  readonly kind: 'policy';
  readonly table: string;
  readonly command: 'r' | 'a' | 'w' | 'd' | '*';
  readonly permissive: boolean;
  readonly roles: readonly string[];
  readonly using: string | null;
  readonly check: string | null;
  readonly usingStructure: string;
  readonly checkStructure: string;
}

export type SchemaObject =
  | SchemaNode
  | ExtensionNode
  | EnumNode
  | CompositeNode
  | DomainNode
  | TableNode
  | ColumnNode
  | DefaultNode
  | ConstraintNode
  | IndexNode
  | SequenceNode
  | SequenceOwnerNode
  | ViewNode
  | FunctionNode
  | TriggerNode
  | PolicyNode;

export type ObjectKind = SchemaObject['kind'];

/**
 * An object readSchema sees but the diff cannot express (aggregates, rules, partitioned tables…).
 * `signature` is a text that changes when the object changes, so a difference can be reported.
 */
export interface OpaqueObject {
  readonly kind: string;
  readonly identity: string;
  readonly signature: string;
  readonly reason: string;
}

export interface SchemaModel {
  /** server_version_num of the server that was read. */
  readonly serverVersionNum: number;
  /** The role that read the catalog: objects it owns need no `OWNER TO` when created as it. */
  readonly currentUser: string;
  /** Every role of the cluster (roles are cluster-wide: a diff can only report missing ones). */
  readonly roles: readonly string[];
  readonly objects: readonly SchemaObject[];
  readonly opaque: readonly OpaqueObject[];
}
