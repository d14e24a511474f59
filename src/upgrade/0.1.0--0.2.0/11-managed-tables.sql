-- managed tables: temporary tables refused, the policy owner

-- decides which tables a policy grades, manage reads the table as its owner,

-- custier's triggers and the key's unique index are guarded against the

-- table's owner, the event triggers run through src/rights.c.



CREATE OR REPLACE FUNCTION @extschema@._registry_no_truncate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM custier.managed_table) THEN
        RAISE EXCEPTION 'cannot truncate custier.managed_table: tables are managed by custier'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call custier.unmanage on each managed table first (TRUNCATE custier.policy ... CASCADE reaches custier.managed_table).';
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION @extschema@._registry_no_truncate() IS 'trigger: refuses TRUNCATE of custier.managed_table while it registers a table';
REVOKE ALL ON FUNCTION @extschema@._registry_no_truncate() FROM PUBLIC;

CREATE TRIGGER no_truncate BEFORE TRUNCATE ON @extschema@.managed_table
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._registry_no_truncate();

ALTER TABLE @extschema@.managed_table ENABLE ALWAYS TRIGGER no_truncate;

CREATE OR REPLACE FUNCTION @extschema@._key_op(tbl regclass, key_attnum smallint, strategy smallint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('OPERATOR(%I.%s)', n.nspname, o.oprname)
      FROM pg_index i
      JOIN pg_opclass oc ON oc.oid = i.indclass[0]
      JOIN pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amoplefttype = oc.opcintype
                     AND ao.amoprighttype = oc.opcintype AND ao.amopstrategy = strategy
      JOIN pg_operator o ON o.oid = ao.amopopr
      JOIN pg_namespace n ON n.oid = o.oprnamespace
     WHERE i.indrelid = tbl AND i.indisunique AND i.indisvalid AND i.indimmediate
       AND i.indpred IS NULL AND i.indnkeyatts = 1 AND i.indkey[0] = key_attnum
     ORDER BY i.indisprimary DESC, i.indexrelid
     LIMIT 1
$$;
COMMENT ON FUNCTION @extschema@._key_op(regclass, smallint, smallint) IS 'internal: a schema-qualified btree operator (by strategy) of a unique index on the key column alone, NULL when there is none';
REVOKE ALL ON FUNCTION @extschema@._key_op(regclass, smallint, smallint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@._key_eq(tbl regclass, key_attnum smallint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT custier._key_op(tbl, key_attnum, 3::smallint)
$$;
COMMENT ON FUNCTION @extschema@._key_eq(regclass, smallint) IS 'internal: the schema-qualified equality operator of a unique index on the key column alone, NULL when there is none';
REVOKE ALL ON FUNCTION @extschema@._key_eq(regclass, smallint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@._managed_problem(tbl regclass, key_column name, tier_column name, require_approval boolean)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key_att  record;
    tier_att record;
    missing  text;
BEGIN
    SELECT a.attnum, a.attnotnull INTO key_att FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RETURN format('its key column "%s" was renamed or dropped', key_column);
    END IF;
    IF NOT key_att.attnotnull THEN
        RETURN format('its key column "%s" must stay NOT NULL', key_column);
    END IF;
    SELECT a.attnum, a.atttypid INTO tier_att FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = tier_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RETURN format('its tier column "%s" was renamed or dropped', tier_column);
    END IF;
    IF tier_att.atttypid <> 'custier.tier'::regtype THEN
        RETURN format('its tier column "%s" must stay of type custier.tier', tier_column);
    END IF;
    -- Rows of an inheritance child show in the table's SELECTs without
    -- passing its triggers; rows routed through a partitioned parent skip
    -- its statement triggers.
    IF EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = tbl OR i.inhrelid = tbl) THEN
        RETURN 'it must not take part in inheritance or partitioning';
    END IF;
    IF custier._key_eq(tbl, key_att.attnum) IS NULL THEN
        RETURN format('its key column "%s" must keep a unique index (primary key, or unique and neither partial nor deferrable) of its own', key_column);
    END IF;
    SELECT string_agg(w.name, ', ' ORDER BY w.name) INTO missing
      FROM unnest(ARRAY['custier_history', 'custier_history_insert_delete', 'custier_history_flush', 'custier_history_truncate']
                  || CASE WHEN require_approval THEN ARRAY['custier_guard', 'custier_guard_insert'] ELSE '{}' END) w(name)
     WHERE NOT EXISTS (SELECT FROM pg_trigger t
                        WHERE t.tgrelid = tbl AND t.tgname = w.name AND t.tgenabled IN ('O', 'A')
                          AND t.tgfoid = CASE WHEN w.name LIKE 'custier\_guard%' THEN 'custier.guard_trigger()'::regprocedure
                                              ELSE 'custier.history_trigger()'::regprocedure END);
    IF missing IS NOT NULL THEN
        RETURN format('its triggers %s must stay in place and enabled', missing);
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION @extschema@._managed_problem(regclass, name, name, boolean) IS 'internal: what is wrong with a managed table''s columns or triggers, NULL when nothing';
REVOKE ALL ON FUNCTION @extschema@._managed_problem(regclass, name, name, boolean) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._manage(regclass, name, name, text, boolean) IS 'internal: the checks, registration and triggers of custier.manage, run as custier''s owner';
REVOKE ALL ON FUNCTION @extschema@._manage(regclass, name, name, text, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@._manage_record(tbl regclass, keys text[], tiers custier.tier[])
RETURNS void LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO custier.tier_history (tbl, customer_key, old_tier, new_tier, changed_at, changed_by, reason)
    SELECT $1, coalesce(cur.k, was.customer_key), was.tier, cur.t, clock_timestamp(), custier._actor(),
           'custier.manage: grade when registered'
      FROM (SELECT u.k COLLATE "C" AS k, u.t FROM unnest($2, $3) AS u(k, t)) cur
      FULL JOIN custier._tiers_at($1, 'infinity') was ON was.customer_key OPERATOR(pg_catalog.=) cur.k
     WHERE (was.tier IS NULL) OPERATOR(pg_catalog.<>) (cur.t IS NULL) OR was.tier OPERATOR(custier.<>) cur.t
     ORDER BY 2
$$;
COMMENT ON FUNCTION @extschema@._manage_record(regclass, text[], custier.tier[]) IS 'internal: records the grades a table holds when custier.manage registers it';
REVOKE ALL ON FUNCTION @extschema@._manage_record(regclass, text[], custier.tier[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@._apply_sql(tbl regclass) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m        custier.managed_table;
    key_type text;
    key_eq   text;
BEGIN
    SELECT * INTO m FROM custier.managed_table t WHERE t.tbl = _apply_sql.tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is no longer managed by custier', tbl USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT format_type(a.atttypid, NULL), custier._key_eq(tbl, a.attnum) INTO key_type, key_eq
      FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = m.key_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF key_eq IS NULL THEN
        RAISE EXCEPTION 'table % is managed by custier but its key column "%" has no unique index', tbl, m.key_column
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN format('UPDATE %1$s t SET %2$I = u.to_tier'
                  ' FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::custier.tier[]),'
                  ' pg_catalog.unnest($3::custier.tier[])) AS u(key, from_tier, to_tier)'
                  ' WHERE t.%3$I %4$s CAST(u.key AS %5$s)'
                  ' AND (t.%2$I OPERATOR(custier.=) u.from_tier OR (t.%2$I IS NULL AND u.from_tier IS NULL))'
                  ' RETURNING u.key, (t.%2$I OPERATOR(custier.=) u.to_tier) IS TRUE',
                  tbl, m.tier_column, m.key_column, key_eq, key_type);
END $$;
COMMENT ON FUNCTION @extschema@._apply_sql(regclass) IS 'internal: the UPDATE by which custier applies grades to a managed table, as its owner';
REVOKE ALL ON FUNCTION @extschema@._apply_sql(regclass) FROM PUBLIC;

REVOKE ALL ON FUNCTION @extschema@.manage(regclass, name, name, text, boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION @extschema@.unmanage(regclass) FROM PUBLIC;

