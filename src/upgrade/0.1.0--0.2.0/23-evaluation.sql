-- Evaluation runs: the resume point follows the key column's own order
-- (collation, any btree key type); a proposal racing a run leaves the
-- customer pending.

CREATE OR REPLACE FUNCTION @extschema@._evaluation_last_key(p_evaluation_id bigint, p_batch integer, p_tbl regclass,
                                                 p_key_column name, p_key_type text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    coll text;
    last text;
BEGIN
    SELECT CASE WHEN a.attcollation <> 0 THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END INTO coll
      FROM pg_attribute a WHERE a.attrelid = p_tbl AND a.attname = p_key_column AND NOT a.attisdropped;
    EXECUTE format('SELECT r.customer_key FROM custier.evaluation_result r
                     WHERE r.evaluation_id = $1 AND r.batch = $2
                     ORDER BY CAST(r.customer_key AS %s)%s DESC LIMIT 1', p_key_type, coalesce(coll, ''))
       INTO last USING p_evaluation_id, p_batch;
    RETURN last;
END $$;
REVOKE ALL ON FUNCTION @extschema@._evaluation_last_key(bigint, integer, regclass, name, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._evaluation_last_key(bigint, integer, regclass, name, text) IS 'internal: the last customer of a batch in the key column''s order: where the next batch resumes';
