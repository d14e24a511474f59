-- 35-evaluation-lookback.sql — set-based look-back of evaluation runs:
-- custier.evaluation remembers the last key of each batch
-- (batch_last_keys), and a batch reads only the batches of earlier
-- evaluations that hold its customers, in one hash join per earlier
-- evaluation, instead of one index lookup per customer and evaluation.

ALTER TABLE @extschema@.evaluation ADD COLUMN batch_last_keys text[];
COMMENT ON COLUMN @extschema@.evaluation.batch_last_keys IS 'the last customer key of each committed batch, in batch order: later evaluations read only the batches of this one that hold the customers of theirs';

-- Evaluations recorded by 0.1.0: their batches' last keys, from their
-- results, in the order of the key of the table they graded.  An
-- evaluation whose table is no longer managed keeps NULL (later runs then
-- read all of its rows: slower, same result).
DO $$
DECLARE ev record;
BEGIN
    FOR ev IN SELECT e.evaluation_id, m.key_column,
                     pg_catalog.format_type(a.atttypid, a.atttypmod)
                     || CASE WHEN a.attcollation <> 0 THEN pg_catalog.format(' COLLATE %I.%I', cn.nspname, c.collname) ELSE '' END AS key_type
              FROM @extschema@.evaluation e
              JOIN @extschema@.managed_table m ON m.tbl = e.tbl
              JOIN pg_catalog.pg_attribute a ON a.attrelid = m.tbl AND a.attname = m.key_column
              LEFT JOIN pg_catalog.pg_collation c ON c.oid = a.attcollation
              LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = c.collnamespace
    LOOP
        EXECUTE pg_catalog.format(
            'UPDATE @extschema@.evaluation e SET batch_last_keys =
                 (SELECT pg_catalog.array_agg(b.last ORDER BY b.batch)
                  FROM (SELECT r.batch, pg_catalog.max(r.customer_key::%s)::text AS last
                        FROM @extschema@.evaluation_result r WHERE r.evaluation_id = $1 GROUP BY r.batch) b)
             WHERE e.evaluation_id = $1', ev.key_type)
        USING ev.evaluation_id;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION @extschema@._earlier_batches(p_earlier bigint[], p_tbl regclass, p_key_type text,
    p_after text, p_upto text, OUT first_batch integer[], OUT last_batch integer[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE ev record; lo integer; hi integer; typ text;
BEGIN
    first_batch := '{}'; last_batch := '{}';
    -- The key column's collation orders the batches: compare with it.
    SELECT p_key_type || CASE WHEN a.attcollation <> 0 THEN format(' COLLATE %I.%I', n.nspname, c.collname) ELSE '' END
    INTO typ
    FROM custier.managed_table m
    JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) m.tbl AND a.attname OPERATOR(pg_catalog.=) m.key_column
    LEFT JOIN pg_catalog.pg_collation c ON c.oid OPERATOR(pg_catalog.=) a.attcollation
    LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.collnamespace
    WHERE m.tbl OPERATOR(pg_catalog.=) p_tbl;
    FOR ev IN SELECT e.batch_last_keys AS keys, e.tbl
              FROM pg_catalog.unnest(p_earlier) WITH ORDINALITY x(id, n)
              JOIN custier.evaluation e ON e.evaluation_id OPERATOR(pg_catalog.=) x.id
              ORDER BY x.n
    LOOP
        lo := NULL; hi := NULL;
        IF ev.keys IS NOT NULL AND ev.tbl OPERATOR(pg_catalog.=) p_tbl AND typ IS NOT NULL THEN
            BEGIN
                EXECUTE format($q$SELECT CASE WHEN $2 IS NULL THEN 1
                                             ELSE coalesce((SELECT pg_catalog.min(k.n) FROM pg_catalog.unnest($1) WITH ORDINALITY k(key, n)
                                                            WHERE k.key::%1$s > $2::%1$s), pg_catalog.cardinality($1) + 1) END,
                                        CASE WHEN $3 IS NULL THEN pg_catalog.cardinality($1)
                                             ELSE coalesce((SELECT pg_catalog.min(k.n) FROM pg_catalog.unnest($1) WITH ORDINALITY k(key, n)
                                                            WHERE k.key::%1$s >= $3::%1$s), pg_catalog.cardinality($1)) END$q$, typ)
                INTO lo, hi USING ev.keys, p_after, p_upto;
            EXCEPTION WHEN data_exception THEN
                lo := NULL; hi := NULL;     -- keys of another type: read all its batches
            END;
        END IF;
        first_batch := first_batch || lo;
        last_batch := last_batch || hi;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION @extschema@._earlier_batches(bigint[], regclass, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._earlier_batches(bigint[], regclass, text, text, text) IS
    'internal: per earlier evaluation, the batches that can hold the customers of a batch being evaluated now';
