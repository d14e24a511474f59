-- history.sql — managed tables and grade history (see doc/reference.md); C in src/history.c.

-- ---------------------------------------------------------------------
-- Registry of managed tables
-- ---------------------------------------------------------------------
CREATE TABLE @extschema@.managed_table (
    tbl              regclass PRIMARY KEY,
    key_column       name NOT NULL,
    tier_column      name NOT NULL,
    policy           text NOT NULL UNIQUE REFERENCES @extschema@.policy (name) ON UPDATE CASCADE,
    require_approval boolean NOT NULL DEFAULT false,
    managed_at       timestamptz NOT NULL DEFAULT now(),
    managed_by       name NOT NULL
);
COMMENT ON TABLE @extschema@.managed_table IS 'tables whose tier column custier manages (custier.manage); a policy serves at most one table';
REVOKE ALL ON @extschema@.managed_table FROM PUBLIC;
GRANT SELECT ON @extschema@.managed_table TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.managed_table', '');

-- Registrations go through custier.unmanage (or the table's drop) only:
-- TRUNCATE custier.policy ... CASCADE would empty this table too.
CREATE FUNCTION @extschema@._registry_no_truncate() RETURNS trigger
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

-- ---------------------------------------------------------------------
-- Grade history: append-only, written by the C triggers
-- ---------------------------------------------------------------------
CREATE TABLE @extschema@.tier_history (
    history_id    bigserial NOT NULL,
    tbl           regclass NOT NULL,
    customer_key  text COLLATE "C" NOT NULL,
    old_tier      @extschema@.tier,
    new_tier      @extschema@.tier,
    changed_at    timestamptz NOT NULL,
    changed_by    name NOT NULL,
    adjustment_id bigint,
    reason        text,
    dropped_table text
);
COMMENT ON TABLE @extschema@.tier_history IS 'every grade change of every managed table: append-only, written by custier alone';
COMMENT ON COLUMN @extschema@.tier_history.old_tier IS 'grade before the change; NULL on first grading';
COMMENT ON COLUMN @extschema@.tier_history.new_tier IS 'grade after the change; NULL when the customer was deleted (or its key changed away)';
COMMENT ON COLUMN @extschema@.tier_history.adjustment_id IS 'the adjustment that made the change; NULL otherwise';
COMMENT ON COLUMN @extschema@.tier_history.dropped_table IS 'once the table is dropped: its name (tbl is then 0, so that a new table reusing its OID never takes this history)';
-- history_id comes from a sequence that only custier's writer draws from, in
-- insertion order: a BRIN index finds ids at a fraction of what a unique
-- btree would cost every write (that btree alone was ~20% of an UPDATE's time).
CREATE INDEX tier_history_id ON @extschema@.tier_history USING brin (history_id);
COMMENT ON INDEX @extschema@.tier_history_id IS 'history rows by id (ids grow with insertion order)';
-- One pass over this index answers tiers_at; one probe answers tier_at.
CREATE INDEX tier_history_as_of ON @extschema@.tier_history
    (tbl, customer_key, changed_at DESC, history_id DESC) INCLUDE (new_tier);
COMMENT ON INDEX @extschema@.tier_history_as_of IS 'latest change per customer as of a time: tier_at, tiers_at';

CREATE TABLE @extschema@.customer_key_change (
    tbl        regclass NOT NULL,
    old_key    text COLLATE "C" NOT NULL,
    new_key    text COLLATE "C" NOT NULL,
    changed_at timestamptz NOT NULL,
    changed_by name NOT NULL,
    dropped_table text
);
COMMENT ON COLUMN @extschema@.customer_key_change.dropped_table IS 'once the table is dropped: its name (tbl is then 0)';
COMMENT ON TABLE @extschema@.customer_key_change IS 'key changes of managed customers, which tier_at follows back to keep a customer''s history together: append-only';
CREATE INDEX customer_key_change_new_key ON @extschema@.customer_key_change (tbl, new_key, changed_at DESC);
COMMENT ON INDEX @extschema@.customer_key_change_new_key IS 'what a key was called before: tier_at';

COMMENT ON SEQUENCE @extschema@.tier_history_history_id_seq IS 'history_id of custier.tier_history';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tier_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tier_history_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_key_change', '');

CREATE FUNCTION @extschema@.history_append_only() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_history_append_only';
COMMENT ON FUNCTION @extschema@.history_append_only() IS 'trigger: refuses UPDATE, DELETE and TRUNCATE of custier''s history tables, for every role';
REVOKE ALL ON FUNCTION @extschema@.history_append_only() FROM PUBLIC;

-- Statement-level, so that even an UPDATE matching no row is refused; ENABLE
-- ALWAYS, so that session_replication_role does not switch them off.
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.tier_history
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only();
ALTER TABLE @extschema@.tier_history ENABLE ALWAYS TRIGGER append_only;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.customer_key_change
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only();
ALTER TABLE @extschema@.customer_key_change ENABLE ALWAYS TRIGGER append_only;

-- Readable by whoever may read the managed table the rows are about.
REVOKE ALL ON @extschema@.tier_history, @extschema@.customer_key_change FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.tier_history_history_id_seq FROM PUBLIC;
GRANT SELECT ON @extschema@.tier_history, @extschema@.customer_key_change TO PUBLIC;
ALTER TABLE @extschema@.tier_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.customer_key_change ENABLE ROW LEVEL SECURITY;
-- Reading follows the table: a role sees the rows of the customers it may
-- SELECT in the managed table (row-level security included).
CREATE POLICY readable ON @extschema@.tier_history FOR SELECT
    USING (@extschema@._can_see(tbl, customer_key));
CREATE POLICY readable ON @extschema@.customer_key_change FOR SELECT
    USING (@extschema@._can_see(tbl, new_key));

-- ---------------------------------------------------------------------
-- C triggers on managed tables, and the acting role
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@.history_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_history_trigger';
COMMENT ON FUNCTION @extschema@.history_trigger() IS 'trigger on managed tables: records grade changes in custier.tier_history (installed by custier.manage)';
REVOKE ALL ON FUNCTION @extschema@.history_trigger() FROM PUBLIC;

CREATE FUNCTION @extschema@.guard_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_guard_trigger';
COMMENT ON FUNCTION @extschema@.guard_trigger() IS 'trigger on managed tables with require_approval: refuses grade changes outside an approved adjustment or evaluation run, and rows arriving at a key with another grade than its recorded one';
REVOKE ALL ON FUNCTION @extschema@.guard_trigger() FROM PUBLIC;

CREATE FUNCTION @extschema@._actor() RETURNS name
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'custier_actor_name';
COMMENT ON FUNCTION @extschema@._actor() IS 'internal: the role acting in the current custier call (its caller), else current_user';

-- ---------------------------------------------------------------------
-- manage / unmanage: C entry points (they capture the caller), the work
-- done by these internal functions as custier's owner.
-- ---------------------------------------------------------------------
-- A btree operator of the key (strategy 3 is =, 5 is >), schema-qualified,
-- from a unique index on that column alone (valid, immediate, not partial);
-- NULL when there is none.
CREATE FUNCTION @extschema@._key_op(tbl regclass, key_attnum smallint, strategy smallint) RETURNS text
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

CREATE FUNCTION @extschema@._key_eq(tbl regclass, key_attnum smallint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT custier._key_op(tbl, key_attnum, 3::smallint)
$$;
COMMENT ON FUNCTION @extschema@._key_eq(regclass, smallint) IS 'internal: the schema-qualified equality operator of a unique index on the key column alone, NULL when there is none';
REVOKE ALL ON FUNCTION @extschema@._key_eq(regclass, smallint) FROM PUBLIC;

CREATE FUNCTION @extschema@._managed_problem(tbl regclass, key_column name, tier_column name, require_approval boolean)
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

CREATE FUNCTION @extschema@._manage(tbl regclass, key_column name, tier_column name, policy text, require_approval boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    actor    name := custier._actor();
    rel      record;
    key_att  record;
    tier_att record;
    key_eq   text;
    other    regclass;
    policy_owner name;
    cond     text;
BEGIN
    SELECT c.relkind, c.relowner, c.relpersistence INTO rel FROM pg_class c WHERE c.oid = tbl;
    IF rel.relpersistence = 't' THEN
        RAISE EXCEPTION 'custier cannot manage %: it is a temporary table', tbl
            USING ERRCODE = 'feature_not_supported', HINT = 'Its grades and history would outlive it: manage an ordinary table.';
    END IF;
    IF rel.relkind IS DISTINCT FROM 'r' THEN
        RAISE EXCEPTION 'custier cannot manage %: it is not an ordinary table', tbl
            USING ERRCODE = 'wrong_object_type', HINT = 'Views, foreign tables and partitioned tables are not supported.';
    END IF;
    IF EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = tbl OR i.inhrelid = tbl) THEN
        RAISE EXCEPTION 'custier cannot manage %: it is a partition, or takes part in inheritance', tbl
            USING ERRCODE = 'wrong_object_type', HINT = 'Rows of child tables would escape its triggers.';
    END IF;
    IF NOT pg_has_role(actor, rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to manage it', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT a.attnum, a.atttypid, a.attnotnull INTO key_att FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', key_column, tbl USING ERRCODE = 'undefined_column';
    END IF;
    SELECT a.attnum, a.atttypid INTO tier_att FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = tier_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', tier_column, tbl USING ERRCODE = 'undefined_column';
    END IF;
    IF tier_att.atttypid <> 'custier.tier'::regtype THEN
        RAISE EXCEPTION 'tier column "%" of table % is of type %, not custier.tier', tier_column, tbl, tier_att.atttypid::regtype
            USING ERRCODE = 'datatype_mismatch', HINT = 'Convert it with ALTER TABLE … ALTER COLUMN … TYPE custier.tier.';
    END IF;
    IF key_att.attnum = tier_att.attnum THEN
        RAISE EXCEPTION 'key column and tier column of table % are both "%"', tbl, key_column
            USING ERRCODE = 'invalid_column_reference';
    END IF;
    IF NOT key_att.attnotnull THEN
        RAISE EXCEPTION 'key column "%" of table % must be NOT NULL', key_column, tbl
            USING ERRCODE = 'invalid_column_reference', HINT = 'ALTER TABLE … ALTER COLUMN … SET NOT NULL.';
    END IF;
    -- The key's equality, from a unique index on that column alone.
    key_eq := custier._key_eq(tbl, key_att.attnum);
    IF key_eq IS NULL THEN
        RAISE EXCEPTION 'key column "%" of table % is not unique', key_column, tbl
            USING ERRCODE = 'invalid_column_reference',
                  HINT = 'custier needs a primary key, or a unique index or constraint (not deferrable, not partial), on that column alone.';
    END IF;
    IF EXISTS (SELECT FROM custier.managed_table m WHERE m.tbl = _manage.tbl) THEN
        RAISE EXCEPTION 'table % is already managed by custier', tbl
            USING ERRCODE = 'duplicate_object', HINT = 'One managed tier column per table; call custier.unmanage first to change it.';
    END IF;
    SELECT p.owner INTO policy_owner FROM custier.policy p WHERE p.name = _manage.policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" does not exist', policy USING ERRCODE = 'undefined_object';
    END IF;
    -- Who may attach a table to a policy: its owner's members.
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = policy_owner)
       OR NOT pg_has_role(actor, policy_owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be a member of role % (owner of policy "%") to manage a table with it', policy_owner, policy
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The policy''s owner (custier.policy.owner) decides which tables it grades: ask it to grant you its role, or create your own policy.';
    END IF;
    SELECT m.tbl INTO other FROM custier.managed_table m WHERE m.policy = _manage.policy;
    IF FOUND THEN
        RAISE EXCEPTION 'policy "%" already serves table %', policy, other
            USING ERRCODE = 'duplicate_object', HINT = 'A policy serves at most one managed table; create another policy for this one.';
    END IF;

    INSERT INTO custier.managed_table VALUES (tbl, key_column, tier_column, policy, require_approval, now(), actor);

    -- The WHEN clauses keep updates that touch neither grade nor key out of
    -- the trigger queue; the C code then compares exactly.
    cond := format('(OLD.%1$I OPERATOR(custier.=) NEW.%1$I) IS NOT TRUE OR (OLD.%2$I %3$s NEW.%2$I) IS NOT TRUE',
                   tier_column, key_column, key_eq);
    EXECUTE format('CREATE TRIGGER custier_history AFTER UPDATE ON %s FOR EACH ROW WHEN (%s) '
                   'EXECUTE FUNCTION custier.history_trigger(%L, %L)', tbl, cond, key_column, tier_column);
    EXECUTE format('CREATE TRIGGER custier_history_insert_delete AFTER INSERT OR DELETE ON %s FOR EACH ROW '
                   'EXECUTE FUNCTION custier.history_trigger(%L, %L)', tbl, key_column, tier_column);
    EXECUTE format('CREATE TRIGGER custier_history_flush AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT '
                   'EXECUTE FUNCTION custier.history_trigger(%L, %L)', tbl, key_column, tier_column);
    EXECUTE format('CREATE TRIGGER custier_history_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT '
                   'EXECUTE FUNCTION custier.history_trigger(%L, %L)', tbl, key_column, tier_column);
    IF require_approval THEN
        -- Grade changes, and graded rows arriving at a key (which must not
        -- bring another grade than the key's recorded one).
        EXECUTE format('CREATE TRIGGER custier_guard AFTER UPDATE ON %s FOR EACH ROW WHEN (%s) '
                       'EXECUTE FUNCTION custier.guard_trigger(%L, %L)',
                       tbl, cond, key_column, tier_column);
        EXECUTE format('CREATE TRIGGER custier_guard_insert AFTER INSERT ON %s FOR EACH ROW '
                       'WHEN (NEW.%I IS NOT NULL) EXECUTE FUNCTION custier.guard_trigger(%L, %L)',
                       tbl, tier_column, key_column, tier_column);
    END IF;
END $$;
COMMENT ON FUNCTION @extschema@._manage(regclass, name, name, text, boolean) IS 'internal: the checks, registration and triggers of custier.manage, run as custier''s owner';
REVOKE ALL ON FUNCTION @extschema@._manage(regclass, name, name, text, boolean) FROM PUBLIC;

-- Grades a table holds when it is registered (read by custier.manage as the
-- table's owner) are on record from then on: the history continues where an
-- earlier registration left it.  Keys come as the triggers write them, by the
-- key type's output function.
CREATE FUNCTION @extschema@._manage_record(tbl regclass, keys text[], tiers custier.tier[])
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

-- The one statement that applies grades to a managed table (approve and
-- evaluation runs, src/history.c custier_apply_grades), run as its owner:
-- $1 keys, $2 from-grades, $3 to-grades; a customer changes only while its
-- grade is still the from-grade.  RETURNING says whether the grade stored
-- (after the table's own BEFORE triggers) is the one custier decided.
CREATE FUNCTION @extschema@._apply_sql(tbl regclass) RETURNS text
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

CREATE FUNCTION @extschema@.manage(tbl regclass, key_column name, tier_column name, policy text,
                                   require_approval boolean DEFAULT false)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'custier_manage';
COMMENT ON FUNCTION @extschema@.manage(regclass, name, name, text, boolean) IS 'attaches custier to a customer table: its tier column is graded by the policy, every change recorded, and with require_approval guarded';
REVOKE ALL ON FUNCTION @extschema@.manage(regclass, name, name, text, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@._unmanage(tbl regclass)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    actor name := custier._actor();
    trg   text;
BEGIN
    IF NOT EXISTS (SELECT FROM custier.managed_table m WHERE m.tbl = _unmanage.tbl) THEN
        RAISE EXCEPTION 'table % is not managed by custier', tbl USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NOT pg_has_role(actor, (SELECT c.relowner FROM pg_class c WHERE c.oid = tbl), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to unmanage it', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Unregister first (its allocation goes with it): the drop event
    -- trigger then lets the triggers go.
    DELETE FROM custier.managed_table m WHERE m.tbl = _unmanage.tbl;
    FOR trg IN SELECT t.tgname FROM pg_trigger t
                WHERE t.tgrelid = tbl AND t.tgname IN ('custier_guard', 'custier_guard_insert', 'custier_history', 'custier_history_insert_delete',
                                                      'custier_history_flush', 'custier_history_truncate',
                                                      'custier_owner_history', 'custier_owner_history_flush') LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trg, tbl);
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@._unmanage(regclass) IS 'internal: the checks and work of custier.unmanage, run as custier''s owner';
REVOKE ALL ON FUNCTION @extschema@._unmanage(regclass) FROM PUBLIC;

CREATE FUNCTION @extschema@.unmanage(tbl regclass)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'custier_unmanage';
COMMENT ON FUNCTION @extschema@.unmanage(regclass) IS 'detaches custier from a table: removes its triggers; its history stays';
REVOKE ALL ON FUNCTION @extschema@.unmanage(regclass) FROM PUBLIC;

-- ---------------------------------------------------------------------
-- As-of queries
-- ---------------------------------------------------------------------
-- tiers_at reads tier_history as its owner (row-level security would call
-- custier._can_see once per history row) and shows the caller what it may
-- see of the table it asks about (src/history.c).  _tiers_at is the query.
CREATE FUNCTION @extschema@._tiers_at(tbl regclass, at timestamptz)
RETURNS TABLE (customer_key text, tier @extschema@.tier)
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    -- One ordered pass over tier_history_as_of: the latest change of each key.
    SELECT s.customer_key, s.new_tier
      FROM (SELECT DISTINCT ON (h.customer_key) h.customer_key, h.new_tier
              FROM custier.tier_history h
             WHERE h.tbl = $1 AND h.changed_at <= $2
             ORDER BY h.customer_key, h.changed_at DESC, h.history_id DESC) s
     WHERE s.new_tier IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@._tiers_at(regclass, timestamptz) IS 'internal: the query of custier.tiers_at';
REVOKE ALL ON FUNCTION @extschema@._tiers_at(regclass, timestamptz) FROM PUBLIC;

CREATE FUNCTION @extschema@.tiers_at(tbl regclass, at timestamptz)
RETURNS TABLE (customer_key text, tier @extschema@.tier)
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'custier_tiers_at';
COMMENT ON FUNCTION @extschema@.tiers_at(regclass, timestamptz) IS 'every customer''s grade as it stood at a time, under the key it had then';

CREATE FUNCTION @extschema@.tier_at(tbl regclass, customer_key text, at timestamptz)
RETURNS @extschema@.tier
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    -- Follow key changes back to the key the customer had at that time.
    WITH RECURSIVE named (key, until) AS (
        SELECT $2 COLLATE "C", 'infinity'::timestamptz
      UNION ALL
        SELECT k.old_key, k.changed_at
          FROM named n,
               LATERAL (SELECT c.old_key, c.changed_at FROM custier.customer_key_change c
                         WHERE c.tbl = $1 AND c.new_key = n.key AND c.changed_at < n.until
                         ORDER BY c.changed_at DESC LIMIT 1) k
         WHERE k.changed_at > $3
    )
    SELECT h.new_tier
      FROM (SELECT key FROM named ORDER BY until LIMIT 1) n,
           LATERAL (SELECT h.new_tier FROM custier.tier_history h
                     WHERE h.tbl = $1 AND h.customer_key = n.key AND h.changed_at <= $3
                     ORDER BY h.changed_at DESC, h.history_id DESC LIMIT 1) h
$$;
COMMENT ON FUNCTION @extschema@.tier_at(regclass, text, timestamptz) IS 'a customer''s grade as it stood at a time (NULL before it had one), following key changes';

-- ---------------------------------------------------------------------
-- Event triggers: a dropped table leaves its history and its registration
-- goes; DDL that would silently stop the recording is refused.
-- ---------------------------------------------------------------------
-- The work of the event triggers, run as the extension owner by the C
-- event trigger functions below (src/history.c); they read the catalogs and
-- custier.managed_table and nothing else.
CREATE FUNCTION @extschema@._sql_drop() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d record;
BEGIN
    DELETE FROM custier.managed_table m
     USING pg_event_trigger_dropped_objects() o
     WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0 AND o.objid = m.tbl::oid;
    PERFORM custier._forget_dropped();
    FOR d IN SELECT o.address_names FROM pg_event_trigger_dropped_objects() o
              WHERE o.object_type = 'trigger' AND o.address_names[3] LIKE 'custier\_%' LOOP
        IF EXISTS (SELECT FROM custier.managed_table m
                     JOIN pg_class c ON c.oid = m.tbl
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = d.address_names[1] AND c.relname = d.address_names[2]) THEN
            RAISE EXCEPTION 'cannot drop trigger % on %.%: the table is managed by custier',
                            d.address_names[3], d.address_names[1], d.address_names[2]
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Call custier.unmanage on the table first.';
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@._sql_drop() IS 'internal: the work of event trigger custier_sql_drop';
REVOKE ALL ON FUNCTION @extschema@._sql_drop() FROM PUBLIC;

CREATE FUNCTION @extschema@._ddl_end() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m       record;
    problem text;
BEGIN
    -- custier's trigger names are custier's on a managed table: no CREATE
    -- (OR REPLACE) TRIGGER may take one over.
    FOR m IN SELECT t.tgname, t.tgrelid::regclass AS tbl
               FROM pg_event_trigger_ddl_commands() c
               JOIN pg_trigger t ON c.classid = 'pg_trigger'::regclass AND t.oid = c.objid
               JOIN custier.managed_table mt ON mt.tbl = t.tgrelid
              WHERE t.tgname LIKE 'custier\_%' LOOP
        -- A restore re-creates them, once (src/lifecycle.c).
        CONTINUE WHEN custier._restoring();
        RAISE EXCEPTION 'cannot create or replace trigger % on %: the table is managed by custier', m.tgname, m.tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Trigger names starting with custier_ are custier''s; call custier.unmanage(%L) first.', m.tbl);
    END LOOP;
    -- custier's own tables carry custier's triggers, rules and policies only:
    -- its statements run there with the extension owner's rights.
    FOR m IN SELECT c.command_tag, c.object_identity FROM pg_event_trigger_ddl_commands() c
              WHERE NOT c.in_extension
                AND c.command_tag IN ('CREATE TRIGGER', 'CREATE RULE', 'CREATE POLICY', 'ALTER POLICY')
                AND (SELECT cl.relnamespace FROM pg_class cl
                      WHERE cl.oid = CASE c.classid
                                     WHEN 'pg_trigger'::regclass THEN (SELECT t.tgrelid FROM pg_trigger t WHERE t.oid = c.objid)
                                     WHEN 'pg_policy'::regclass THEN (SELECT p.polrelid FROM pg_policy p WHERE p.oid = c.objid)
                                     WHEN 'pg_rewrite'::regclass THEN (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = c.objid)
                                     END) = 'custier'::regnamespace
                -- a trigger that runs custier's own function is custier's
                -- (Citus copies them onto the shards of a reference table)
                AND NOT EXISTS (SELECT FROM pg_trigger t
                                  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = t.tgfoid
                                   AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                                  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'custier'
                                 WHERE c.classid = 'pg_trigger'::regclass AND t.oid = c.objid) LOOP
        RAISE EXCEPTION 'custier''s tables take no user code: % % refused', m.command_tag, m.object_identity
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'custier writes its tables with the extension owner''s rights; a trigger, rule or policy there would run with them.';
    END LOOP;
    FOR m IN SELECT mt.* FROM custier.managed_table mt JOIN pg_class c ON c.oid = mt.tbl LOOP
        problem := custier._managed_problem(m.tbl, m.key_column, m.tier_column, m.require_approval);
        IF problem IS NOT NULL AND NOT custier._restore_pending(m.tbl, problem) THEN
            RAISE EXCEPTION 'table % is managed by custier: %', m.tbl, problem
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = format('Call custier.unmanage(%L) first.', m.tbl);
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@._ddl_end() IS 'internal: the work of event trigger custier_ddl_end';
REVOKE ALL ON FUNCTION @extschema@._ddl_end() FROM PUBLIC;

CREATE FUNCTION @extschema@._on_sql_drop() RETURNS event_trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_on_sql_drop';
COMMENT ON FUNCTION @extschema@._on_sql_drop() IS 'event trigger: forgets dropped managed tables (their history stays) and refuses dropping custier''s triggers';

CREATE FUNCTION @extschema@._on_ddl_end() RETURNS event_trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_on_ddl_end';
COMMENT ON FUNCTION @extschema@._on_ddl_end() IS 'event trigger: refuses DDL that would rename, retype or unguard a managed table''s key and tier columns, drop its key''s unique index, replace or disable its triggers, or make it a child table, and triggers, rules or policies on custier''s own tables';

CREATE EVENT TRIGGER custier_sql_drop ON sql_drop EXECUTE FUNCTION @extschema@._on_sql_drop();
CREATE EVENT TRIGGER custier_ddl_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER TRIGGER', 'CREATE TABLE', 'CREATE FOREIGN TABLE', 'CREATE TRIGGER',
                 'DROP INDEX', 'ALTER INDEX', 'CREATE RULE', 'CREATE POLICY', 'ALTER POLICY') EXECUTE FUNCTION @extschema@._on_ddl_end();
COMMENT ON EVENT TRIGGER custier_sql_drop IS 'custier: forgets dropped managed tables, protects custier''s triggers';
COMMENT ON EVENT TRIGGER custier_ddl_end IS 'custier: keeps managed tables'' key and tier columns, key index and triggers intact';
