export type StatementAction = 'create' | 'alter' | 'drop' | 'rename' | 'comment' | 'grant' | 'revoke' | 'owner';

export interface SchemaStatement {
  readonly sql: string;
  readonly action: StatementAction;
  /**
   * The object kind (schema, extension, enum, composite, domain, table, column, default,
   * constraint, index, sequence, sequence-owner, view, materialized-view, function, procedure,
   * trigger, policy), or `setting` for the leading `SET check_function_bodies = off`.
   */
  readonly kind: string;
  /** Dotted human name of the object (`app.users.email`, `app.f(x integer)`). */
  readonly identity: string;
  /**
   * The statement must be committed before later ones run: a value added to an enum cannot be
   * used in the transaction that added it. The script and verify commit after it.
   */
  readonly commitAfter?: boolean;
}

export interface UnsupportedChange {
  readonly kind: string;
  readonly identity: string;
  readonly reason: string;
}

export interface SchemaDiff {
  readonly statements: readonly SchemaStatement[];
  readonly unsupported: readonly UnsupportedChange[];
}

export interface DiffOptions {
  /**
   * Match objects by OID (columns by table OID + attnum) before matching by name, which turns an
   * OID-equal object with a new name into a rename. Right for sides of one cluster lineage (a
   * branch and its parent); turn off for unrelated databases. Default true.
   */
  readonly matchByOid?: boolean;
  /**
   * Side A is the state side B was cloned from (a branch point) and has not changed since: every
   * OID B shares with A then names the same object, so a column renamed and retyped in one go is
   * still one column. Without it an OID match must also look alike (same column type, same index
   * or constraint shape), because two sides that both changed after a split hand out the same new
   * OIDs to different objects. Default false.
   */
  readonly aIsAncestor?: boolean;
}
