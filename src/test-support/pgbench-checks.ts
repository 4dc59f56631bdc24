/**
 * Checks of pgbench's tpcb-like tables that hold in every committed state, and amcheck over
 * every btree index: what the consistency tests ask of a branch taken while pgbench writes.
 */

/** Every balance equals the sum of its history deltas: true in any committed tpcb-like state. */
export const PGBENCH_INVARIANTS_SQL = `
SELECT
  (SELECT count(*) FROM pgbench_accounts)::int AS "accounts",
  (SELECT count(*) FROM pgbench_history)::int AS "historyRows",
  (SELECT sum(abalance) FROM pgbench_accounts)::text AS "sumAccounts",
  (SELECT sum(tbalance) FROM pgbench_tellers)::text AS "sumTellers",
  (SELECT sum(bbalance) FROM pgbench_branches)::text AS "sumBranches",
  (SELECT coalesce(sum(delta), 0) FROM pgbench_history)::text AS "sumHistory",
  (SELECT count(*) FROM pgbench_accounts a
     LEFT JOIN (SELECT aid, sum(delta) AS s FROM pgbench_history GROUP BY aid) h USING (aid)
    WHERE a.abalance <> coalesce(h.s, 0))::int AS "accountMismatches",
  (SELECT count(*) FROM pgbench_tellers t
     LEFT JOIN (SELECT tid, sum(delta) AS s FROM pgbench_history GROUP BY tid) h USING (tid)
    WHERE t.tbalance <> coalesce(h.s, 0))::int AS "tellerMismatches",
  (SELECT count(*) FROM pgbench_branches b
     LEFT JOIN (SELECT bid, sum(delta) AS s FROM pgbench_history GROUP BY bid) h USING (bid)
    WHERE b.bbalance <> coalesce(h.s, 0))::int AS "branchMismatches"`;


/** bt_index_check with heapallindexed on every btree index of the database, catalogs included (needs amcheck). */
export const AMCHECK_INDEXES_SQL = `
    SELECT c.relname AS name, bt_index_check(index => c.oid, heapallindexed => true)::text AS ok
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_am am ON am.oid = c.relam
     WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't'
     ORDER BY c.oid`;

/** verify_heapam findings per pgbench table (needs amcheck). */
export const VERIFY_PGBENCH_HEAPS_SQL = `
    SELECT rel, (SELECT count(*) FROM verify_heapam(rel::regclass))::int AS n
      FROM unnest(ARRAY['pgbench_accounts', 'pgbench_tellers', 'pgbench_branches', 'pgbench_history']) AS rel`;
