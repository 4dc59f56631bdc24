import { identityOf } from './ddl.js';
import type { SchemaModel, SchemaObject } from './model.js';

export interface SchemaDifference {
  readonly kind: string;
  readonly identity: string;
  /** missing: expected but absent; unexpected: present but not expected; different: a field differs. */
  readonly change: 'missing' | 'unexpected' | 'different';
  readonly field?: string;
  readonly expected?: unknown;
  readonly actual?: unknown;
}

/**
 * What two models say about the schema, minus what legitimately differs between a database the
 * script produced and the one it aimed at: OIDs and attnums (new objects get new ones; a column
 * keeps its rank, which is compared), the `…structure` descriptions made of them, and the derived
 * dependency lists. Everything else counts.
 */
function canonical(o: SchemaObject): Record<string, unknown> {
  const { lid: _lid, deps: _deps, key: _key, ...rest } = o as SchemaObject & Record<string, unknown>;
  const out: Record<string, unknown> = {};
  // OID/attnum descriptions legitimately differ for objects the script created.
  for (const [field, value] of Object.entries(rest)) if (!/structure$/i.test(field)) out[field] = value;
  if (o.kind === 'enum') out.labels = o.labels.map((l) => l.label);
  if (o.kind === 'composite') out.attributes = o.attributes.map(({ lid: _l, ...x }) => x);
  if (o.kind === 'domain') out.constraints = o.constraints.map(({ lid: _l, ...x }) => x);
  return out;
}

const json = (v: unknown): string => JSON.stringify(v);

/** The differences between `actual` (e.g. the copy the script ran on) and `expected`. */
export function compareSchemas(actual: SchemaModel, expected: SchemaModel): SchemaDifference[] {
  const out: SchemaDifference[] = [];
  const have = new Map(actual.objects.map((o) => [o.key, o]));
  const want = new Map(expected.objects.map((o) => [o.key, o]));
  for (const [key, w] of want) {
    const h = have.get(key);
    if (!h) {
      out.push({ kind: w.kind, identity: identityOf(w), change: 'missing' });
      continue;
    }
    if (h.kind !== w.kind) {
      out.push({ kind: w.kind, identity: identityOf(w), change: 'different', field: 'kind', expected: w.kind, actual: h.kind });
      continue;
    }
    const hc = canonical(h);
    const wc = canonical(w);
    for (const field of new Set([...Object.keys(hc), ...Object.keys(wc)])) {
      if (json(hc[field]) !== json(wc[field])) out.push({ kind: w.kind, identity: identityOf(w), change: 'different', field, expected: wc[field], actual: hc[field] });
    }
  }
  for (const [key, h] of have) if (!want.has(key)) out.push({ kind: h.kind, identity: identityOf(h), change: 'unexpected' });

  const opaqueId = (o: { kind: string; identity: string }): string => `${o.kind}\u0000${o.identity}`;
  const haveOpaque = new Map(actual.opaque.map((o) => [opaqueId(o), o]));
  const wantOpaque = new Map(expected.opaque.map((o) => [opaqueId(o), o]));
  for (const [id, w] of wantOpaque) {
    const h = haveOpaque.get(id);
    if (!h) out.push({ kind: w.kind, identity: w.identity, change: 'missing' });
    else if (h.signature !== w.signature) out.push({ kind: w.kind, identity: w.identity, change: 'different', field: 'signature', expected: w.signature, actual: h.signature });
  }
  for (const [id, h] of haveOpaque) if (!wantOpaque.has(id)) out.push({ kind: h.kind, identity: h.identity, change: 'unexpected' });
  return out;
}
