-- allocation.sql — allocating customers to account owners (C in src/allocation.c).

-- ---------------------------------------------------------------------
-- Account owners: configuration, maintained by whoever maintains policies
-- ---------------------------------------------------------------------
CREATE TABLE @extschema@.account_owner (
    policy   text NOT NULL REFERENCES @extschema@.policy (name) ON UPDATE CASCADE ON DELETE CASCADE,
    owner    name NOT NULL,
    region   text,
    industry text,
    tiers    @extschema@.tier[],
    capacity integer CONSTRAINT account_owner_capacity_check CHECK (capacity >= 0),
    active   boolean NOT NULL DEFAULT true,
    PRIMARY KEY (policy, owner)
);
COMMENT ON TABLE @extschema@.account_owner IS 'account owners (roles) that custier.allocate gives the customers of a policy''s table to';
COMMENT ON COLUMN @extschema@.account_owner.owner IS 'a role; the value allocate writes into the table''s owner column';
COMMENT ON COLUMN @extschema@.account_owner.region IS 'the region this owner serves; NULL: any';
COMMENT ON COLUMN @extschema@.account_owner.industry IS 'the industry this owner serves; NULL: any';
COMMENT ON COLUMN @extschema@.account_owner.tiers IS 'the grades this owner may serve; NULL: any (a customer without a grade only goes to such owners)';
COMMENT ON COLUMN @extschema@.account_owner.capacity IS 'at most this many customers; NULL: no limit';
COMMENT ON COLUMN @extschema@.account_owner.active IS 'false: the owner gets no customers and loses the ones it has at the next allocate';
REVOKE ALL ON @extschema@.account_owner FROM PUBLIC;
GRANT SELECT ON @extschema@.account_owner TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.account_owner', '');

CREATE FUNCTION @extschema@._account_owner_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- Who may serve a policy's customers is the policy owner's to decide.
    IF NOT custier._edits_policy(NEW.policy) THEN
        RAISE EXCEPTION 'policy "%": % may not change its account owners', NEW.policy, current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only members of the policy''s owner (custier.policy.owner) may.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) NEW.owner) THEN
        RAISE EXCEPTION 'role "%" does not exist', NEW.owner
            USING ERRCODE = 'undefined_object',
                  HINT = 'An account owner is a role: CREATE ROLE it first.';
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION @extschema@._account_owner_check() IS 'trigger: an account owner must be an existing role, set by a member of the policy''s owner';
REVOKE ALL ON FUNCTION @extschema@._account_owner_check() FROM PUBLIC;
CREATE TRIGGER account_owner_check BEFORE INSERT OR UPDATE ON @extschema@.account_owner
    FOR EACH ROW EXECUTE FUNCTION @extschema@._account_owner_check();

-- ---------------------------------------------------------------------
-- Registry of tables with an allocation
-- ---------------------------------------------------------------------
CREATE TABLE @extschema@.allocation (
    tbl             regclass PRIMARY KEY REFERENCES @extschema@.managed_table (tbl) ON DELETE CASCADE,
    owner_column    name NOT NULL,
    region_column   name,
    industry_column name,
    set_at          timestamptz NOT NULL DEFAULT now(),
    set_by          name NOT NULL
);
COMMENT ON TABLE @extschema@.allocation IS 'managed tables whose customers custier.allocate gives to account owners (custier.set_allocation)';
REVOKE ALL ON @extschema@.allocation FROM PUBLIC;
GRANT SELECT ON @extschema@.allocation TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.allocation', '');

-- ---------------------------------------------------------------------
-- Owner history: append-only, written by the C trigger
-- ---------------------------------------------------------------------
CREATE TABLE @extschema@.owner_history (
    history_id   bigserial NOT NULL,
    tbl          regclass NOT NULL,
    customer_key text COLLATE "C" NOT NULL,
    old_owner    name,
    new_owner    name,
    changed_at   timestamptz NOT NULL,
    changed_by   name NOT NULL,
    reason       text
);
COMMENT ON TABLE @extschema@.owner_history IS 'every change of the owner column of every table with an allocation: append-only, written by custier alone';
COMMENT ON COLUMN @extschema@.owner_history.old_owner IS 'owner before the change; NULL when the customer had none (or was inserted)';
COMMENT ON COLUMN @extschema@.owner_history.new_owner IS 'owner after the change; NULL when it lost its owner or was deleted';
COMMENT ON COLUMN @extschema@.owner_history.reason IS 'custier.allocate, custier.set_allocation …; NULL for a change by hand';
CREATE INDEX owner_history_as_of ON @extschema@.owner_history
    (tbl, customer_key, changed_at DESC, history_id DESC) INCLUDE (new_owner);
COMMENT ON INDEX @extschema@.owner_history_as_of IS 'latest owner change per customer as of a time: owner_at';
COMMENT ON SEQUENCE @extschema@.owner_history_history_id_seq IS 'history_id of custier.owner_history';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.owner_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.owner_history_history_id_seq', '');

CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.owner_history
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only();
ALTER TABLE @extschema@.owner_history ENABLE ALWAYS TRIGGER append_only;

REVOKE ALL ON @extschema@.owner_history FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.owner_history_history_id_seq FROM PUBLIC;
GRANT SELECT ON @extschema@.owner_history TO PUBLIC;
ALTER TABLE @extschema@.owner_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON @extschema@.owner_history FOR SELECT
    USING (@extschema@._can_see(tbl, customer_key));

CREATE FUNCTION @extschema@.owner_history_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_owner_history_trigger';
COMMENT ON FUNCTION @extschema@.owner_history_trigger() IS 'trigger on tables with an allocation: records owner changes in custier.owner_history (installed by custier.set_allocation)';
REVOKE ALL ON FUNCTION @extschema@.owner_history_trigger() FROM PUBLIC;

-- ---------------------------------------------------------------------
-- set_allocation: C entry point (captures the caller); the checks and the
-- catalog work done by _set_allocation as custier's owner.
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@._set_allocation(tbl regclass, owner_column name, region_column name, industry_column name)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    actor  name := custier._actor();
    m      record;
    own    record;
    att    record;
    col    name;
    key_att int2;
BEGIN
    IF NOT pg_catalog.pg_has_role(actor, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to set its allocation', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT * INTO m FROM custier.managed_table mt WHERE mt.tbl OPERATOR(pg_catalog.=) _set_allocation.tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not managed by custier', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Attach it with custier.manage() first.';
    END IF;
    SELECT a.attnum, a.atttypid INTO own FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) owner_column
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', owner_column, tbl USING ERRCODE = 'undefined_column';
    END IF;
    IF own.atttypid NOT IN ('pg_catalog.name'::pg_catalog.regtype, 'pg_catalog.text'::pg_catalog.regtype) THEN
        RAISE EXCEPTION 'owner column "%" of table % is of type %, not name or text', owner_column, tbl, own.atttypid::pg_catalog.regtype
            USING ERRCODE = 'datatype_mismatch', HINT = 'An owner column holds role names: make it of type name or text.';
    END IF;
    IF owner_column IN (m.key_column, m.tier_column) THEN
        RAISE EXCEPTION 'owner column "%" of table % is its % column', owner_column, tbl,
                        CASE WHEN owner_column OPERATOR(pg_catalog.=) m.key_column THEN 'key' ELSE 'tier' END
            USING ERRCODE = 'invalid_column_reference';
    END IF;
    FOREACH col IN ARRAY ARRAY[region_column, industry_column] LOOP
        CONTINUE WHEN col IS NULL;
        SELECT a.attnum INTO att FROM pg_catalog.pg_attribute a
         WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) col
           AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of table % does not exist', col, tbl USING ERRCODE = 'undefined_column';
        END IF;
        IF col OPERATOR(pg_catalog.=) owner_column THEN
            RAISE EXCEPTION 'column "%" of table % cannot be both the owner column and a region or industry column', col, tbl
                USING ERRCODE = 'invalid_column_reference';
        END IF;
    END LOOP;

    -- Registered after its triggers are in place: the DDL event trigger
    -- checks registered tables only.
    DELETE FROM custier.allocation a WHERE a.tbl OPERATOR(pg_catalog.=) _set_allocation.tbl;
    -- CREATE OR REPLACE: setting the allocation again may move the columns.
    key_att := (SELECT a.attnum FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) tbl
                   AND a.attname OPERATOR(pg_catalog.=) m.key_column);
    EXECUTE pg_catalog.format(
        'CREATE OR REPLACE TRIGGER custier_owner_history AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW '
        'EXECUTE FUNCTION custier.owner_history_trigger(%L, %L)', tbl, own.attnum, key_att);
    EXECUTE pg_catalog.format(
        'CREATE OR REPLACE TRIGGER custier_owner_history_flush AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT '
        'EXECUTE FUNCTION custier.owner_history_trigger(%L, %L)', tbl, own.attnum, key_att);
    INSERT INTO custier.allocation (tbl, owner_column, region_column, industry_column, set_at, set_by)
    VALUES (tbl, owner_column, region_column, industry_column, pg_catalog.now(), actor);
END $$;
COMMENT ON FUNCTION @extschema@._set_allocation(regclass, name, name, name) IS 'internal: the checks and catalog work of custier.set_allocation, run as custier''s owner';
REVOKE ALL ON FUNCTION @extschema@._set_allocation(regclass, name, name, name) FROM PUBLIC;

CREATE FUNCTION @extschema@.set_allocation(tbl regclass, owner_column name, region_column name DEFAULT NULL,
                                           industry_column name DEFAULT NULL)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'custier_set_allocation';
-- It writes (triggers, the registry): granted, like manage, to table owners.
REVOKE ALL ON FUNCTION @extschema@.set_allocation(regclass, name, name, name) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.set_allocation(regclass, name, name, name) IS 'gives a managed table an owner column that custier.allocate fills from custier.account_owner, every change of it recorded in custier.owner_history';

-- ---------------------------------------------------------------------
-- allocate
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@.allocate(tbl regclass, rebalance boolean DEFAULT false)
RETURNS TABLE (customer_key text, old_owner name, new_owner name)
LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'custier_allocate';
COMMENT ON FUNCTION @extschema@.allocate(regclass, boolean) IS 'gives every customer without an eligible account owner one (most specific match, fewest customers); with rebalance also evens out the loads; returns the changes';
REVOKE ALL ON FUNCTION @extschema@.allocate(regclass, boolean) FROM PUBLIC;

-- ---------------------------------------------------------------------
-- owner_at
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@.owner_at(tbl regclass, customer_key text, at timestamptz)
RETURNS name
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    -- The keys the customer has had, newest first, each with the time range
    -- [since, until) it had it; a key's rows outside its range belong to
    -- another customer that had that key before or after.
    WITH RECURSIVE named (key, until, since) AS (
        SELECT $2 COLLATE "C", 'infinity'::timestamptz,
               coalesce((SELECT max(c.changed_at) FROM custier.customer_key_change c
                          WHERE c.tbl OPERATOR(pg_catalog.=) $1 AND c.new_key OPERATOR(pg_catalog.=) ($2 COLLATE "C")),
                        '-infinity')
      UNION ALL
        SELECT k.old_key, n.since,
               coalesce((SELECT max(c.changed_at) FROM custier.customer_key_change c
                          WHERE c.tbl OPERATOR(pg_catalog.=) $1 AND c.new_key OPERATOR(pg_catalog.=) k.old_key
                            AND c.changed_at OPERATOR(pg_catalog.<) n.since),
                        '-infinity')
          FROM named n,
               LATERAL (SELECT c.old_key FROM custier.customer_key_change c
                         WHERE c.tbl OPERATOR(pg_catalog.=) $1 AND c.new_key OPERATOR(pg_catalog.=) n.key
                           AND c.changed_at OPERATOR(pg_catalog.=) n.since
                         ORDER BY c.old_key LIMIT 1) k
         WHERE n.since OPERATOR(pg_catalog.>) '-infinity'::timestamptz
    )
    SELECT h.new_owner
      FROM named n,
           LATERAL (SELECT h.new_owner, h.changed_at, h.history_id FROM custier.owner_history h
                     WHERE h.tbl OPERATOR(pg_catalog.=) $1 AND h.customer_key OPERATOR(pg_catalog.=) n.key
                       AND h.changed_at OPERATOR(pg_catalog.>=) n.since
                       AND h.changed_at OPERATOR(pg_catalog.<) n.until
                       AND h.changed_at OPERATOR(pg_catalog.<=) $3
                     ORDER BY h.changed_at DESC, h.history_id DESC LIMIT 1) h
     ORDER BY h.changed_at DESC, h.history_id DESC
     LIMIT 1
$$;
COMMENT ON FUNCTION @extschema@.owner_at(regclass, text, timestamptz) IS 'a customer''s account owner as it stood at a time (NULL when it had none), following key changes';

-- ---------------------------------------------------------------------
-- DDL that would silently stop the recording or break allocate is refused.
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@._allocation_problem(tbl regclass, owner_column name, region_column name, industry_column name)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    col     name;
    typ     oid;
    own_att int2;
    key_att int2;
    missing text;
BEGIN
    SELECT a.attnum INTO key_att FROM custier.managed_table m
      JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) m.tbl AND a.attname OPERATOR(pg_catalog.=) m.key_column
     WHERE m.tbl OPERATOR(pg_catalog.=) _allocation_problem.tbl;
    SELECT a.atttypid, a.attnum INTO typ, own_att FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) owner_column
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RETURN pg_catalog.format('its owner column "%s" was renamed or dropped', owner_column);
    END IF;
    IF typ NOT IN ('pg_catalog.name'::pg_catalog.regtype, 'pg_catalog.text'::pg_catalog.regtype) THEN
        RETURN pg_catalog.format('its owner column "%s" must stay of type name or text', owner_column);
    END IF;
    FOREACH col IN ARRAY ARRAY[region_column, industry_column] LOOP
        CONTINUE WHEN col IS NULL;
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) col
                          AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped) THEN
            RETURN pg_catalog.format('its column "%s" was renamed or dropped', col);
        END IF;
    END LOOP;
    SELECT pg_catalog.string_agg(w.name, ', ' ORDER BY w.name) INTO missing
      FROM pg_catalog.unnest(ARRAY['custier_owner_history', 'custier_owner_history_flush']) w(name)
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
                        WHERE t.tgrelid OPERATOR(pg_catalog.=) tbl AND t.tgname OPERATOR(pg_catalog.=) w.name
                          AND t.tgenabled IN ('O', 'A') AND t.tgqual IS NULL
                          AND t.tgfoid OPERATOR(pg_catalog.=) 'custier.owner_history_trigger()'::pg_catalog.regprocedure
                          -- AFTER INSERT OR UPDATE OR DELETE, FOR EACH ROW (29) or STATEMENT (28)
                          AND t.tgtype OPERATOR(pg_catalog.=) CASE WHEN w.name OPERATOR(pg_catalog.=) 'custier_owner_history' THEN 29 ELSE 28 END
                          AND pg_catalog.encode(t.tgargs, 'escape') OPERATOR(pg_catalog.=)
                              pg_catalog.format(E'%s\\000%s\\000', own_att, key_att));
    IF missing IS NOT NULL THEN
        RETURN pg_catalog.format('its triggers %s must stay in place, unchanged and enabled', missing);
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION @extschema@._allocation_problem(regclass, name, name, name) IS 'internal: what is wrong with an allocated table''s columns or triggers, NULL when nothing';
REVOKE ALL ON FUNCTION @extschema@._allocation_problem(regclass, name, name, name) FROM PUBLIC;

-- The work of the event trigger below, run by its C function as the
-- extension owner (src/rights.c): it reads only the catalogs and custier's
-- registry, whoever ran the DDL.
CREATE FUNCTION @extschema@._allocation_check() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a       record;
    problem text;
BEGIN
    FOR a IN SELECT * FROM custier.allocation LOOP
        problem := custier._allocation_problem(a.tbl, a.owner_column, a.region_column, a.industry_column);
        IF problem IS NOT NULL THEN
            RAISE EXCEPTION 'table % has an allocation: %', a.tbl, problem
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = pg_catalog.format('Call custier.unmanage(%L) first, or custier.set_allocation again with the new column names.', a.tbl);
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@._allocation_check() IS 'internal: the work of event trigger custier_allocation_ddl_end';
REVOKE ALL ON FUNCTION @extschema@._allocation_check() FROM PUBLIC;
CREATE FUNCTION @extschema@._allocation_on_ddl_end() RETURNS event_trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_allocation_on_ddl_end';
COMMENT ON FUNCTION @extschema@._allocation_on_ddl_end() IS 'event trigger: refuses ALTERs that would rename or retype an allocated table''s owner, region or industry column or disable its owner history triggers';
CREATE EVENT TRIGGER custier_allocation_ddl_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER TRIGGER', 'CREATE TRIGGER') EXECUTE FUNCTION @extschema@._allocation_on_ddl_end();
COMMENT ON EVENT TRIGGER custier_allocation_ddl_end IS 'custier: keeps allocated tables'' owner, region and industry columns and owner history triggers intact';
