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
    LANGUAGE C AS 'MODULE_PATHNAME', 'history_append_only';
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
CREATE POLICY readable ON @extschema@.tier_history FOR SELECT
    USING (pg_catalog.has_table_privilege(tbl, 'SELECT'));
CREATE POLICY readable ON @extschema@.customer_key_change FOR SELECT
    USING (pg_catalog.has_table_privilege(tbl, 'SELECT'));

-- ---------------------------------------------------------------------
-- C triggers on managed tables, and the acting role
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@.history_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'history_trigger';
COMMENT ON FUNCTION @extschema@.history_trigger() IS 'trigger on managed tables: records grade changes in custier.tier_history (installed by custier.manage)';
REVOKE ALL ON FUNCTION @extschema@.history_trigger() FROM PUBLIC;

CREATE FUNCTION @extschema@.guard_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'guard_trigger';
COMMENT ON FUNCTION @extschema@.guard_trigger() IS 'trigger on managed tables with require_approval: refuses grade changes outside an approved adjustment or evaluation run, and rows arriving at a key with another grade than its recorded one';
REVOKE ALL ON FUNCTION @extschema@.guard_trigger() FROM PUBLIC;

CREATE FUNCTION @extschema@._actor() RETURNS name
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'custier_actor';
COMMENT ON FUNCTION @extschema@._actor() IS 'internal: the role acting in the current custier call (its caller), else current_user';

-- ---------------------------------------------------------------------
-- manage / unmanage: C entry points (they capture the caller), the work
-- done by these internal functions as custier's owner.
-- ---------------------------------------------------------------------
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
    SELECT string_agg(w.name, ', ' ORDER BY w.name) INTO missing
      FROM unnest(ARRAY['custier_history', 'custier_history_insert_delete', 'custier_history_flush', 'custier_history_truncate']
                  || CASE WHEN require_approval THEN ARRAY['custier_guard', 'custier_guard_insert'] ELSE '{}' END) w(name)
     WHERE NOT EXISTS (SELECT FROM pg_trigger t
                        WHERE t.tgrelid = tbl AND t.tgname = w.name AND t.tgenabled IN ('O', 'A'));
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
    cond     text;
BEGIN
    SELECT c.relkind, c.relowner INTO rel FROM pg_class c WHERE c.oid = tbl;
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
    SELECT format('OPERATOR(%I.%s)', n.nspname, o.oprname) INTO key_eq
      FROM pg_index i
      JOIN pg_opclass oc ON oc.oid = i.indclass[0]
      JOIN pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amoplefttype = oc.opcintype
                     AND ao.amoprighttype = oc.opcintype AND ao.amopstrategy = 3
      JOIN pg_operator o ON o.oid = ao.amopopr
      JOIN pg_namespace n ON n.oid = o.oprnamespace
     WHERE i.indrelid = tbl AND i.indisunique AND i.indisvalid AND i.indimmediate
       AND i.indpred IS NULL AND i.indnkeyatts = 1 AND i.indkey[0] = key_att.attnum
     LIMIT 1;
    IF key_eq IS NULL THEN
        RAISE EXCEPTION 'key column "%" of table % is not unique', key_column, tbl
            USING ERRCODE = 'invalid_column_reference',
                  HINT = 'custier needs a primary key, or a unique index or constraint (not deferrable, not partial), on that column alone.';
    END IF;
    IF EXISTS (SELECT FROM custier.managed_table m WHERE m.tbl = _manage.tbl) THEN
        RAISE EXCEPTION 'table % is already managed by custier', tbl
            USING ERRCODE = 'duplicate_object', HINT = 'One managed tier column per table; call custier.unmanage first to change it.';
    END IF;
    IF NOT EXISTS (SELECT FROM custier.policy p WHERE p.name = _manage.policy) THEN
        RAISE EXCEPTION 'policy "%" does not exist', policy USING ERRCODE = 'undefined_object';
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

    -- Grades the table holds now are on record from now on: the history
    -- continues where an earlier registration left it.  Keys are written
    -- as the triggers write them, by the key type's output function.
    EXECUTE format($q$
        INSERT INTO custier.tier_history (tbl, customer_key, old_tier, new_tier, changed_at, changed_by, reason)
        SELECT $1, coalesce(cur.k, was.customer_key), was.tier, cur.t, clock_timestamp(), $2,
               'custier.manage: grade when registered'
          FROM (SELECT pg_catalog.format('%%s', %I) COLLATE "C" AS k, %I AS t FROM %s WHERE %I IS NOT NULL) cur
          FULL JOIN custier.tiers_at($1, 'infinity') was ON was.customer_key = cur.k
         WHERE (was.tier IS NULL) <> (cur.t IS NULL) OR was.tier OPERATOR(custier.<>) cur.t
         ORDER BY 2 $q$, key_column, tier_column, tbl, tier_column)
    USING tbl, actor;
END $$;
COMMENT ON FUNCTION @extschema@._manage(regclass, name, name, text, boolean) IS 'internal: the checks and work of custier.manage, run as custier''s owner';
REVOKE ALL ON FUNCTION @extschema@._manage(regclass, name, name, text, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@.manage(tbl regclass, key_column name, tier_column name, policy text,
                                   require_approval boolean DEFAULT false)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'manage';
COMMENT ON FUNCTION @extschema@.manage(regclass, name, name, text, boolean) IS 'attaches custier to a customer table: its tier column is graded by the policy, every change recorded, and with require_approval guarded';

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
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'unmanage';
COMMENT ON FUNCTION @extschema@.unmanage(regclass) IS 'detaches custier from a table: removes its triggers; its history stays';

-- ---------------------------------------------------------------------
-- As-of queries
-- ---------------------------------------------------------------------
-- tiers_at reads tier_history as its owner (row-level security would call
-- has_table_privilege once per history row: 4x the cost over 1M customers)
-- once it has checked that the caller may read the table it is asked about,
-- which is what that policy asks.  _tiers_at is the query.
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
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'tiers_at';
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
CREATE FUNCTION @extschema@._on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
COMMENT ON FUNCTION @extschema@._on_sql_drop() IS 'event trigger: forgets dropped managed tables (their history stays) and refuses dropping custier''s triggers';

CREATE FUNCTION @extschema@._on_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m       record;
    problem text;
BEGIN
    FOR m IN SELECT * FROM custier.managed_table LOOP
        problem := custier._managed_problem(m.tbl, m.key_column, m.tier_column, m.require_approval);
        IF problem IS NOT NULL AND NOT custier._restore_pending(m.tbl, problem) THEN
            RAISE EXCEPTION 'table % is managed by custier: %', m.tbl, problem
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = format('Call custier.unmanage(%L) first.', m.tbl);
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@._on_ddl_end() IS 'event trigger: refuses ALTERs that would rename, retype or unguard a managed table''s key and tier columns or disable its triggers, and child tables of a managed table';

CREATE EVENT TRIGGER custier_sql_drop ON sql_drop EXECUTE FUNCTION @extschema@._on_sql_drop();
CREATE EVENT TRIGGER custier_ddl_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER TRIGGER', 'CREATE TABLE', 'CREATE FOREIGN TABLE') EXECUTE FUNCTION @extschema@._on_ddl_end();
COMMENT ON EVENT TRIGGER custier_sql_drop IS 'custier: forgets dropped managed tables, protects custier''s triggers';
COMMENT ON EVENT TRIGGER custier_ddl_end IS 'custier: keeps managed tables'' key and tier columns and triggers intact';
