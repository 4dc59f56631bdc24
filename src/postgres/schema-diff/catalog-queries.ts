/**
 * The catalog queries readSchema runs (PostgreSQL 14–18), in one REPEATABLE READ transaction
 * with an empty search_path, so every name the pg_get_*def functions print is schema-qualified
 * and both sides of a diff deparse the same way.
 */

const USER_SCHEMA = (n: string): string =>
  `${n}.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND ${n}.nspname NOT LIKE 'pg\\_temp\\_%' AND ${n}.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'`;

const NOT_EXTENSION_MEMBER = (catalog: string, oid: string): string =>
  `NOT EXISTS (SELECT 1 FROM pg_depend ext_dep WHERE ext_dep.classid = '${catalog}'::regclass AND ext_dep.objid = ${oid} AND ext_dep.deptype = 'e')`;

/** Effective ACL as JSON: a NULL acl means the owner's defaults, made explicit so both read alike. */
const ACL = (acl: string, defaultType: string, owner: string): string =>
  `(SELECT coalesce(json_agg(json_build_object('grantee', CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END, 'privilege', x.privilege_type, 'grantable', x.is_grantable)), '[]'::json) FROM aclexplode(coalesce(${acl}, acldefault(${defaultType}, ${owner}))) x)`;

/** Column privileges have no owner defaults: NULL means none (aclexplode refuses an empty array). */
const COLUMN_ACL = (acl: string): string =>
  `CASE WHEN ${acl} IS NULL THEN '[]'::json ELSE (SELECT coalesce(json_agg(json_build_object('grantee', CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END, 'privilege', x.privilege_type, 'grantable', x.is_grantable)), '[]'::json) FROM aclexplode(${acl}) x) END`;

const COLLATION = (oid: string): string =>
  `(SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = ${oid})`;

/** A stored expression (pg_node_tree) without the parse positions that vary with formatting. */
const TREE = (expr: string): string => `regexp_replace(${expr}::text, ':location -?[0-9]+', '', 'g')`;

/** An index by what it is (attnums, operator classes, expressions), not by the names it prints. */
const INDEX_STRUCTURE = (i: string, ic: string): string =>
  `concat_ws('|', ${i}.indkey::text, ${i}.indclass::text, ${i}.indoption::text, ${i}.indcollation::text, ${i}.indnkeyatts,
     ${i}.indisunique, to_jsonb(${i}) ->> 'indnullsnotdistinct', (SELECT amname FROM pg_am WHERE oid = ${ic}.relam),
     ${TREE(`${i}.indexprs`)}, ${TREE(`${i}.indpred`)}, array_to_string(${ic}.reloptions, ','))`;

export const META = `
SELECT current_setting('server_version_num')::int AS version_num, current_user AS current_user,
       (SELECT json_agg(rolname ORDER BY rolname) FROM pg_roles) AS roles`;

export const SCHEMAS = `
SELECT n.oid::text AS lid, n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner,
       ${ACL('n.nspacl', "'n'", 'n.nspowner')} AS acl, obj_description(n.oid, 'pg_namespace') AS comment
FROM pg_namespace n
WHERE ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_namespace', 'n.oid')}`;

export const EXTENSIONS = `
SELECT e.oid::text AS lid, e.extname AS name, n.nspname AS schema, e.extversion AS version,
       e.extrelocatable AS relocatable, obj_description(e.oid, 'pg_extension') AS comment
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace`;

export const TYPES = `
SELECT t.oid::text AS lid, t.typarray::text AS array_lid, t.typrelid::text AS rel_lid, t.typname AS name,
       n.nspname AS schema, t.typtype AS type_type, pg_get_userbyid(t.typowner) AS owner,
       ${ACL('t.typacl', "'T'", 't.typowner')} AS acl, obj_description(t.oid, 'pg_type') AS comment,
       CASE WHEN t.typtype = 'e' THEN (
         SELECT json_agg(json_build_object('lid', e.oid::text, 'label', e.enumlabel) ORDER BY e.enumsortorder)
         FROM pg_enum e WHERE e.enumtypid = t.oid) END AS labels,
       CASE WHEN t.typtype = 'c' THEN (
         SELECT json_agg(json_build_object('lid', t.oid::text || ':' || a.attnum, 'name', a.attname,
                  'type', format_type(a.atttypid, a.atttypmod),
                  'collation', CASE WHEN a.attcollation <> at.typcollation THEN ${COLLATION('a.attcollation')} END)
                ORDER BY a.attnum)
         FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
         WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END AS attributes,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
       CASE WHEN t.typtype = 'd' AND t.typcollation <> bt.typcollation THEN ${COLLATION('t.typcollation')} END AS collation,
       t.typdefault AS default_expr, t.typnotnull AS not_null,
       CASE WHEN t.typtype = 'd' THEN (
         SELECT coalesce(json_agg(json_build_object('lid', c.oid::text, 'name', c.conname,
                  'definition', pg_get_constraintdef(c.oid), 'comment', obj_description(c.oid, 'pg_constraint'))
                ORDER BY c.conname), '[]'::json)
         FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c') END AS constraints,
       CASE WHEN t.typtype = 'r' THEN (
         SELECT concat_ws(' ', r.rngsubtype::regtype::text, r.rngcollation::text, r.rngsubopc::text,
                          r.rngcanonical::text, r.rngsubdiff::text) FROM pg_range r WHERE r.rngtypid = t.oid)
            WHEN t.typtype = 'b' THEN concat_ws(' ', t.typinput::text, t.typoutput::text, t.typlen::text, t.typalign::text)
       END AS signature
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
WHERE ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_type', 't.oid')}
  AND t.typtype IN ('e', 'c', 'd', 'r', 'b')
  AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
  AND NOT EXISTS (SELECT 1 FROM pg_type el WHERE el.typarray = t.oid)`;

export const RELATIONS = `
SELECT c.oid::text AS lid, c.reltype::text AS rowtype_lid, rt.typarray::text AS rowtype_array_lid,
       c.relname AS name, n.nspname AS schema, c.relkind AS relkind, pg_get_userbyid(c.relowner) AS owner,
       ${ACL('c.relacl', "CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\"", 'c.relowner')} AS acl,
       obj_description(c.oid, 'pg_class') AS comment,
       c.relpersistence = 'u' AS unlogged, coalesce(c.reloptions, '{}') AS options,
       (SELECT amname FROM pg_am WHERE oid = c.relam) AS access_method,
       c.relrowsecurity AS row_security, c.relforcerowsecurity AS force_row_security, c.relreplident AS replica_identity,
       (c.relkind = 'f' OR c.reloftype <> 0
         OR (c.relkind <> 'p' AND NOT c.relispartition AND EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid))
         OR (c.relispartition AND (SELECT p.relkind FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid) <> 'p')
       ) AS exotic,
       c.reloftype <> 0 AS typed,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       CASE WHEN c.relispartition THEN (SELECT i.inhparent::text FROM pg_inherits i WHERE i.inhrelid = c.oid) END AS partition_parent_lid,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS view_definition,
       CASE WHEN c.relkind IN ('v', 'm') THEN (
         SELECT ${TREE('r.ev_action')} FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename = '_RETURN') END AS view_structure,
       CASE WHEN c.relkind IN ('v', 'm') THEN (
         SELECT coalesce(json_object_agg(a.attname, d.description), '{}'::json)
         FROM pg_attribute a JOIN pg_description d
           ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
         WHERE a.attrelid = c.oid AND a.attnum > 0) END AS column_comments,
       CASE WHEN c.relkind = 'S' THEN (
         SELECT json_build_object('type', format_type(q.seqtypid, NULL), 'start', q.seqstart::text,
                  'increment', q.seqincrement::text, 'min', q.seqmin::text, 'max', q.seqmax::text,
                  'cache', q.seqcache::text, 'cycle', q.seqcycle)
         FROM pg_sequence q WHERE q.seqrelid = c.oid) END AS sequence,
       CASE WHEN c.relkind = 'S' THEN (
         SELECT json_build_object('table', oc.relname, 'tableSchema', ons.nspname, 'column', oa.attname)
         FROM pg_depend d
         JOIN pg_class oc ON oc.oid = d.refobjid
         JOIN pg_namespace ons ON ons.oid = oc.relnamespace
         JOIN pg_attribute oa ON oa.attrelid = oc.oid AND oa.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
           AND d.deptype = 'a' AND d.refobjsubid > 0) END AS owned_by,
       CASE WHEN c.relkind = 'f' OR c.reloftype <> 0
              OR (c.relkind <> 'p' AND NOT c.relispartition AND EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid))
              OR (c.relispartition AND (SELECT p.relkind FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid) <> 'p')
         THEN concat_ws(E'\\n',
         c.relkind, pg_get_partkeydef(c.oid), pg_get_expr(c.relpartbound, c.oid),
         (SELECT string_agg(i.inhparent::regclass::text, ',' ORDER BY i.inhseqno) FROM pg_inherits i WHERE i.inhrelid = c.oid),
         (SELECT string_agg(concat_ws(' ', quote_ident(a.attname), format_type(a.atttypid, a.atttypmod), a.attnotnull::text,
                   pg_get_expr(d.adbin, d.adrelid)), ', ' ORDER BY a.attnum)
            FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
         (SELECT string_agg(quote_ident(x.conname) || ' ' || pg_get_constraintdef(x.oid), ', ' ORDER BY x.conname)
            FROM pg_constraint x WHERE x.conrelid = c.oid AND x.contype <> 'n'),
         (SELECT string_agg(pg_get_indexdef(x.indexrelid), ', ' ORDER BY 1) FROM pg_index x WHERE x.indrelid = c.oid),
         (SELECT string_agg(pg_get_triggerdef(x.oid), ', ' ORDER BY 1) FROM pg_trigger x WHERE x.tgrelid = c.oid AND NOT x.tgisinternal),
         (SELECT array_to_string(f.ftoptions, ',') || ' ' || f.ftserver::text FROM pg_foreign_table f WHERE f.ftrelid = c.oid),
         pg_get_userbyid(c.relowner), c.relacl::text, array_to_string(c.reloptions, ','), obj_description(c.oid, 'pg_class'))
       END AS signature
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_type rt ON rt.oid = c.reltype
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${USER_SCHEMA('n')}
  AND ${NOT_EXTENSION_MEMBER('pg_class', 'c.oid')}
  -- identity sequences belong to their column
  AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i'))`;

export const COLUMNS = `
SELECT c.oid::text AS table_lid, a.attnum AS attnum, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       CASE WHEN a.attcollation <> t.typcollation THEN ${COLLATION('a.attcollation')} END AS collation,
       a.attnotnull AS not_null, a.attidentity::text AS identity, a.attgenerated::text AS generated,
       d.oid::text AS attrdef_lid, pg_get_expr(d.adbin, d.adrelid) AS default_expr, ${TREE('d.adbin')} AS default_structure,
       a.atttypid::text || ':' || a.atttypmod || ':' || a.attcollation::text AS type_structure,
       CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END AS storage,
       coalesce(a.attstattarget::int, -1) AS statistics, coalesce(a.attoptions, '{}') AS options,
       nullif(a.attcompression::text, '') AS compression,
       col_description(c.oid, a.attnum) AS comment, ${COLUMN_ACL('a.attacl')} AS acl,
       CASE WHEN a.attidentity <> '' THEN (
         SELECT json_build_object('lid', s.oid::text, 'sequenceName', s.relname, 'type', format_type(q.seqtypid, NULL),
                  'start', q.seqstart::text, 'increment', q.seqincrement::text, 'min', q.seqmin::text,
                  'max', q.seqmax::text, 'cache', q.seqcache::text, 'cycle', q.seqcycle)
         FROM pg_depend dep JOIN pg_class s ON s.oid = dep.objid JOIN pg_sequence q ON q.seqrelid = s.oid
         WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass AND dep.refobjid = c.oid
           AND dep.refobjsubid = a.attnum AND dep.deptype = 'i' AND s.relkind = 'S') END AS identity_options
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
-- A partition's columns are its parent's (PARTITION OF makes them).
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped AND ${USER_SCHEMA('n')}
ORDER BY c.oid, a.attnum`;

export const CONSTRAINTS = `
SELECT x.oid::text AS lid, x.conname AS name, x.conrelid::text AS table_lid, x.contype::text AS type,
       pg_get_constraintdef(x.oid) AS definition, x.convalidated AS validated,
       obj_description(x.oid, 'pg_constraint') AS comment, x.conindid::text AS index_lid,
       concat_ws('|', x.contype, x.condeferrable, x.condeferred, x.conkey::text, x.confrelid::text, x.confkey::text,
         x.confupdtype, x.confdeltype, x.confmatchtype, x.conexclop::text, x.connoinherit, ${TREE('x.conbin')},
         CASE WHEN x.contype IN ('p', 'u', 'x') THEN (SELECT ${INDEX_STRUCTURE('ci', 'cic')} FROM pg_index ci JOIN pg_class cic ON cic.oid = ci.indexrelid WHERE ci.indexrelid = x.conindid) END
       ) AS structure,
       coalesce(i.indisreplident, false) AS replica_identity
FROM pg_constraint x
JOIN pg_class c ON c.oid = x.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = x.conindid AND x.contype IN ('p', 'u', 'x')
-- Constraints a partition inherits come with PARTITION OF.
WHERE x.contype IN ('p', 'f', 'u', 'c', 'x') AND x.conparentid = 0 AND x.conislocal AND ${USER_SCHEMA('n')}`;

export const INDEXES = `
SELECT ic.oid::text AS lid, ic.relname AS name, i.indrelid::text AS table_lid, pg_get_indexdef(i.indexrelid) AS definition,
       i.indisreplident AS replica_identity, obj_description(ic.oid, 'pg_class') AS comment, ${INDEX_STRUCTURE('i', 'ic')} AS structure,
       quote_ident(ic.relname) AS quoted_name, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS quoted_table
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 'p') AND ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_class', 'ic.oid')}
  -- a partition's copy of its parent's index is made by the parent's CREATE INDEX
  AND NOT EXISTS (SELECT 1 FROM pg_inherits pi WHERE pi.inhrelid = i.indexrelid)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid AND x.conrelid = i.indrelid AND x.contype IN ('p', 'u', 'x'))`;

export const FUNCTIONS = `
SELECT p.oid::text AS lid, p.proname AS name, n.nspname AS schema, p.prokind::text AS prokind,
       pg_get_userbyid(p.proowner) AS owner, ${ACL('p.proacl', "'f'", 'p.proowner')} AS acl,
       obj_description(p.oid, 'pg_proc') AS comment, oidvectortypes(p.proargtypes) AS argument_types,
       pg_get_function_identity_arguments(p.oid) AS identity_arguments, pg_get_function_arguments(p.oid) AS arguments,
       CASE WHEN p.prokind = 'f' THEN pg_get_function_result(p.oid) END AS result,
       concat_ws('|', p.prorettype::text, p.proretset, p.proargtypes::text, p.proallargtypes::text, p.proargmodes::text,
         p.proargnames::text, ${TREE('p.proargdefaults')}) AS signature_structure,
       CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END AS definition,
       CASE WHEN p.prokind IN ('a', 'w') THEN concat_ws(' ', pg_get_function_result(p.oid), p.prosrc, (
         SELECT concat_ws(' ', g.aggtransfn::text, g.aggtranstype::regtype::text, g.aggfinalfn::text, g.agginitval,
                          g.aggcombinefn::text, g.aggsortop::text)
         FROM pg_aggregate g WHERE g.aggfnoid = p.oid), pg_get_userbyid(p.proowner), p.proacl::text) END AS signature
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_proc', 'p.oid')}`;

export const TRIGGERS = `
SELECT t.oid::text AS lid, t.tgname AS name, t.tgrelid::text AS table_lid, pg_get_triggerdef(t.oid) AS definition,
       t.tgenabled::text AS enabled, obj_description(t.oid, 'pg_trigger') AS comment, t.tgconstraint::text AS constraint_lid,
       concat_ws('|', t.tgfoid::text, t.tgtype, t.tgattr::text, encode(t.tgargs, 'hex'), ${TREE('t.tgqual')}, t.tgdeferrable,
         t.tginitdeferred, t.tgoldtable, t.tgnewtable, t.tgconstrrelid::text) AS structure,
       quote_ident(t.tgname) AS quoted_name, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS quoted_table
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND ${USER_SCHEMA('n')}`;

export const POLICIES = `
SELECT p.oid::text AS lid, p.polname AS name, p.polrelid::text AS table_lid, p.polcmd::text AS command,
       p.polpermissive AS permissive,
       (SELECT json_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END) FROM unnest(p.polroles) r) AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS using_expr, pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr,
       ${TREE('p.polqual')} AS using_structure, ${TREE('p.polwithcheck')} AS check_structure,
       obj_description(p.oid, 'pg_policy') AS comment
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${USER_SCHEMA('n')}`;

/** Dependencies among user objects (OIDs below 16384 are the system's own). */
export const DEPENDS = `
SELECT classid::regclass::text AS cls, objid::text AS objid, objsubid, refclassid::regclass::text AS refcls,
       refobjid::text AS refobjid, refobjsubid, deptype::text AS deptype
FROM pg_depend WHERE objid >= 16384 AND deptype IN ('n', 'a')`;

export const EXTENSION_MEMBERS = `
SELECT classid::regclass::text AS cls, objid::text AS objid, refobjid::text AS extension_lid
FROM pg_depend WHERE deptype = 'e' AND refclassid = 'pg_extension'::regclass`;

export const VIEW_RULES = `
SELECT r.oid::text AS lid, r.ev_class::text AS rel_lid FROM pg_rewrite r WHERE r.rulename = '_RETURN' AND r.oid >= 16384`;

/**
 * Objects the diff cannot express: identity plus a text that changes when they change. Options
 * of foreign servers and wrappers may hold credentials: only their hash is kept.
 */
export const OPAQUE = `
SELECT 'rule' AS kind, n.nspname || '.' || c.relname || '.' || r.rulename AS identity, pg_get_ruledef(r.oid) AS signature
  FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE r.rulename <> '_RETURN' AND ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_rewrite', 'r.oid')}
UNION ALL
SELECT 'statistics', n.nspname || '.' || s.stxname, pg_get_statisticsobjdef(s.oid)
  FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
  WHERE ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_statistic_ext', 's.oid')}
UNION ALL
SELECT 'collation', n.nspname || '.' || co.collname, (to_jsonb(co) - 'oid')::text
  FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
  WHERE ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_collation', 'co.oid')}
UNION ALL
SELECT 'operator', n.nspname || '.' || o.oprname || '(' || o.oprleft::regtype::text || ',' || o.oprright::regtype::text || ')',
       (to_jsonb(o) - 'oid')::text
  FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
  WHERE ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_operator', 'o.oid')}
UNION ALL
SELECT 'operator class', n.nspname || '.' || oc.opcname, (to_jsonb(oc) - 'oid')::text
  FROM pg_opclass oc JOIN pg_namespace n ON n.oid = oc.opcnamespace
  WHERE ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_opclass', 'oc.oid')}
UNION ALL
SELECT 'operator family', n.nspname || '.' || f.opfname, (to_jsonb(f) - 'oid')::text
  FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace
  WHERE ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_opfamily', 'f.oid')}
UNION ALL
SELECT 'text search configuration', n.nspname || '.' || t.cfgname, (to_jsonb(t) - 'oid')::text
  FROM pg_ts_config t JOIN pg_namespace n ON n.oid = t.cfgnamespace
  WHERE ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_ts_config', 't.oid')}
UNION ALL
SELECT 'text search dictionary', n.nspname || '.' || t.dictname, (to_jsonb(t) - 'oid')::text
  FROM pg_ts_dict t JOIN pg_namespace n ON n.oid = t.dictnamespace
  WHERE ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_ts_dict', 't.oid')}
UNION ALL
SELECT 'conversion', n.nspname || '.' || c.conname, (to_jsonb(c) - 'oid')::text
  FROM pg_conversion c JOIN pg_namespace n ON n.oid = c.connamespace
  WHERE ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_conversion', 'c.oid')}
UNION ALL
SELECT 'cast', c.castsource::regtype::text || ' AS ' || c.casttarget::regtype::text, (to_jsonb(c) - 'oid')::text
  FROM pg_cast c WHERE c.oid >= 16384 AND ${NOT_EXTENSION_MEMBER('pg_cast', 'c.oid')}
UNION ALL
SELECT 'event trigger', e.evtname, (to_jsonb(e) - 'oid')::text
  FROM pg_event_trigger e WHERE ${NOT_EXTENSION_MEMBER('pg_event_trigger', 'e.oid')}
UNION ALL
SELECT 'publication', p.pubname, (to_jsonb(p) - 'oid')::text || coalesce((
    SELECT string_agg(pr.prrelid::regclass::text, ',' ORDER BY 1) FROM pg_publication_rel pr WHERE pr.prpubid = p.oid), '')
  FROM pg_publication p
UNION ALL
SELECT 'foreign data wrapper', w.fdwname, md5((to_jsonb(w) - 'oid')::text)
  FROM pg_foreign_data_wrapper w WHERE ${NOT_EXTENSION_MEMBER('pg_foreign_data_wrapper', 'w.oid')}
UNION ALL
SELECT 'foreign server', s.srvname, md5((to_jsonb(s) - 'oid')::text)
  FROM pg_foreign_server s WHERE ${NOT_EXTENSION_MEMBER('pg_foreign_server', 's.oid')}
UNION ALL
SELECT 'language', l.lanname, (to_jsonb(l) - 'oid')::text
  FROM pg_language l WHERE l.oid >= 16384 AND ${NOT_EXTENSION_MEMBER('pg_language', 'l.oid')}
UNION ALL
SELECT 'access method', a.amname, (to_jsonb(a) - 'oid')::text
  FROM pg_am a WHERE a.oid >= 16384 AND ${NOT_EXTENSION_MEMBER('pg_am', 'a.oid')}
UNION ALL
SELECT 'default privileges',
       pg_get_userbyid(d.defaclrole) || ' in ' || coalesce((SELECT nspname FROM pg_namespace WHERE oid = d.defaclnamespace), '*')
         || ' on ' || d.defaclobjtype::text,
       d.defaclacl::text
  FROM pg_default_acl d`;
