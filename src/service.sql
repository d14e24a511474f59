-- service.sql — service groups per tier, SLAs in business time, access by
-- group (calendars, business_add/business_between, service_group,
-- group_meeting, group_of, service_deadline, on_time_rate(resolved,
-- deadline), meetings_due, group_change, restrict/unrestrict); C in
-- src/service.c.

-- ---------------------------------------------------------------------
-- Calendars: business time
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@._timezone_ok(zone text) RETURNS boolean
    LANGUAGE C STRICT STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'custier_timezone_ok';
COMMENT ON FUNCTION @extschema@._timezone_ok(text) IS 'internal: true when the server knows this time zone name (as SET TimeZone would)';

CREATE TABLE @extschema@.calendar (
    name      text PRIMARY KEY,
    timezone  text NOT NULL DEFAULT 'UTC',
    workdays  int[] NOT NULL DEFAULT '{1,2,3,4,5}',
    day_start time NOT NULL DEFAULT '09:00',
    day_end   time NOT NULL DEFAULT '18:00',
    CONSTRAINT calendar_timezone_check CHECK (@extschema@._timezone_ok(timezone)),
    CONSTRAINT calendar_workdays_check CHECK (pg_catalog.cardinality(workdays) > 0
        AND pg_catalog.array_ndims(workdays) = 1
        AND pg_catalog.array_position(workdays, NULL) IS NULL
        AND workdays OPERATOR(pg_catalog.<@) '{1,2,3,4,5,6,7}'::int[]),
    CONSTRAINT calendar_day_check CHECK (day_end OPERATOR(pg_catalog.>) day_start)
);
COMMENT ON TABLE @extschema@.calendar IS 'business time: working days and hours in a time zone (custier.business_add, service groups)';
COMMENT ON COLUMN @extschema@.calendar.timezone IS 'time zone the hours are read in (an IANA name such as Asia/Shanghai)';
COMMENT ON COLUMN @extschema@.calendar.workdays IS 'ISO day numbers of the working week: 1 = Monday … 7 = Sunday';
COMMENT ON COLUMN @extschema@.calendar.day_start IS 'wall-clock time business opens on a working day';
COMMENT ON COLUMN @extschema@.calendar.day_end IS 'wall-clock time business closes (after day_start; 24:00 is midnight at the end of the day)';

CREATE TABLE @extschema@.calendar_day (
    calendar text NOT NULL REFERENCES @extschema@.calendar (name) ON UPDATE CASCADE ON DELETE CASCADE,
    day      date NOT NULL,
    working  boolean NOT NULL,
    note     text,
    PRIMARY KEY (calendar, day),
    CONSTRAINT calendar_day_finite_check CHECK (pg_catalog.isfinite(day))
);
COMMENT ON TABLE @extschema@.calendar_day IS 'exceptions to a calendar''s week: holidays on workdays (working = false) and make-up working days (working = true)';
COMMENT ON COLUMN @extschema@.calendar_day.working IS 'false: no business that day; true: business hours that day although the week has none';

CREATE FUNCTION @extschema@._calendar_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.timezone IS NULL OR NOT custier._timezone_ok(NEW.timezone) THEN
        RAISE EXCEPTION 'time zone "%" of calendar "%" is not recognized', NEW.timezone, NEW.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a name from pg_timezone_names, such as Asia/Shanghai or Europe/Berlin.';
    END IF;
    IF NEW.workdays IS NULL OR cardinality(NEW.workdays) OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'calendar "%" has no working day', NEW.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'workdays lists ISO day numbers, 1 = Monday … 7 = Sunday, e.g. ''{1,2,3,4,5}''.';
    END IF;
    IF array_ndims(NEW.workdays) OPERATOR(pg_catalog.<>) 1 OR array_position(NEW.workdays, NULL) IS NOT NULL
       OR NOT NEW.workdays OPERATOR(pg_catalog.<@) '{1,2,3,4,5,6,7}'::int[] THEN
        RAISE EXCEPTION 'workdays % of calendar "%" are not ISO day numbers', NEW.workdays, NEW.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'workdays lists ISO day numbers, 1 = Monday … 7 = Sunday.';
    END IF;
    IF NEW.day_start IS NULL OR NEW.day_end IS NULL OR NEW.day_end OPERATOR(pg_catalog.<=) NEW.day_start THEN
        RAISE EXCEPTION 'calendar "%": day_end % is not after day_start %', NEW.name, NEW.day_end, NEW.day_start
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Business hours run from day_start to day_end on the same day; day_end may be 24:00.';
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION @extschema@._calendar_check() IS 'trigger: refuses a calendar with an unknown time zone, no or bad workdays, or day_end not after day_start (SQLSTATE 22023)';
REVOKE ALL ON FUNCTION @extschema@._calendar_check() FROM PUBLIC;
CREATE TRIGGER calendar_check BEFORE INSERT OR UPDATE ON @extschema@.calendar
    FOR EACH ROW EXECUTE FUNCTION @extschema@._calendar_check();

-- Calendars are rules, not secrets: everyone may read them (business_add
-- reads them as the caller); the DBA grants changes to the policy maintainer.
REVOKE ALL ON @extschema@.calendar, @extschema@.calendar_day FROM PUBLIC;
GRANT SELECT ON @extschema@.calendar, @extschema@.calendar_day TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.calendar', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.calendar_day', '');

CREATE FUNCTION @extschema@.business_add(calendar text, start timestamptz, amount interval) RETURNS timestamptz
    LANGUAGE C STRICT STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'custier_business_add';
COMMENT ON FUNCTION @extschema@.business_add(text, timestamptz, interval) IS 'the moment when amount of business time of the calendar has passed after start (days count as whole working days)';

CREATE FUNCTION @extschema@.business_between(calendar text, t1 timestamptz, t2 timestamptz) RETURNS interval
    LANGUAGE C STRICT STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'custier_business_between';
COMMENT ON FUNCTION @extschema@.business_between(text, timestamptz, timestamptz) IS 'business time of the calendar between t1 and t2, in hours, minutes and seconds (negative when t2 < t1)';

-- ---------------------------------------------------------------------
-- Service groups
-- ---------------------------------------------------------------------
CREATE TABLE @extschema@.service_group (
    policy           text NOT NULL REFERENCES @extschema@.policy (name) ON UPDATE CASCADE ON DELETE CASCADE,
    tier             @extschema@.tier NOT NULL,
    name             text NOT NULL,
    staff_role       name,
    calendar         text REFERENCES @extschema@.calendar (name) ON UPDATE CASCADE,
    meet_every       interval,
    urgent_response  interval,
    general_response interval,
    resolution       interval,
    description      text,
    PRIMARY KEY (policy, tier)
);
COMMENT ON TABLE @extschema@.service_group IS 'the service group of each grade of a policy: its staff, meeting cadence and response times';
COMMENT ON COLUMN @extschema@.service_group.name IS 'name of the group, e.g. ''A级客户专属群'' (exclusive group of A customers)';
COMMENT ON COLUMN @extschema@.service_group.staff_role IS 'members of this role (directly or indirectly) serve the group and, on a restricted table, see its customers';
COMMENT ON COLUMN @extschema@.service_group.calendar IS 'calendar the response times count in; NULL: around the clock';
COMMENT ON COLUMN @extschema@.service_group.meet_every IS 'meeting cadence of the group (custier.meetings_due)';
COMMENT ON COLUMN @extschema@.service_group.urgent_response IS 'response time to an urgent request (service_deadline kind ''urgent'')';
COMMENT ON COLUMN @extschema@.service_group.general_response IS 'response time to a general request (kind ''general'')';
COMMENT ON COLUMN @extschema@.service_group.resolution IS 'time to resolve a complaint or feedback (kind ''resolution'')';

-- May the current role edit what a policy grants (its service groups'
-- staff, its account owners)?  A member of the policy's owner may; so may a
-- restore, which replays rows as they were.
CREATE FUNCTION @extschema@._edits_policy(policy text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT pg_catalog.pg_has_role(current_user, p.owner, 'MEMBER')
                       FROM custier.policy p WHERE p.name OPERATOR(pg_catalog.=) $1), true)
$$;
COMMENT ON FUNCTION @extschema@._edits_policy(text) IS 'internal: whether the current role is a member of the policy''s owner (true for a policy that does not exist: its foreign key refuses the row)';

CREATE FUNCTION @extschema@._service_group_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    lowest custier.tier;
    k      text;
    v      interval;
BEGIN
    -- staff_role decides who sees which customers (restrict): the policy
    -- owner's to decide, not any editor's.
    IF NOT custier._edits_policy(NEW.policy) THEN
        RAISE EXCEPTION 'policy "%": % may not change its service groups', NEW.policy, current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only members of the policy''s owner (custier.policy.owner) may.';
    END IF;
    SELECT p.lowest INTO lowest FROM custier.policy p WHERE p.name OPERATOR(pg_catalog.=) NEW.policy;
    IF FOUND AND NEW.tier OPERATOR(custier.<) lowest THEN
        RAISE EXCEPTION 'service group "%" of policy "%": tier % is outside the policy''s grades A..%',
                        NEW.name, NEW.policy, NEW.tier, lowest
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.staff_role IS NOT NULL
       AND NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) NEW.staff_role) THEN
        RAISE EXCEPTION 'role "%" does not exist', NEW.staff_role
            USING ERRCODE = 'undefined_object', HINT = 'staff_role names the role whose members serve the group.';
    END IF;
    IF NEW.meet_every IS NOT NULL AND NEW.meet_every OPERATOR(pg_catalog.<=) interval '0' THEN
        RAISE EXCEPTION 'service group "%": meet_every % must be positive', NEW.name, NEW.meet_every
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH k IN ARRAY ARRAY['urgent_response', 'general_response', 'resolution'] LOOP
        v := CASE k WHEN 'urgent_response' THEN NEW.urgent_response
                    WHEN 'general_response' THEN NEW.general_response ELSE NEW.resolution END;
        CONTINUE WHEN v IS NULL;
        IF v OPERATOR(pg_catalog.<) interval '0' OR extract(day FROM v) OPERATOR(pg_catalog.<) 0
           OR (v OPERATOR(pg_catalog.-) date_trunc('day', v)) OPERATOR(pg_catalog.<) interval '0' THEN
            RAISE EXCEPTION 'service group "%": % % is negative', NEW.name, k, v
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NEW.calendar IS NOT NULL
           AND (extract(month FROM v) OPERATOR(pg_catalog.<>) 0 OR extract(year FROM v) OPERATOR(pg_catalog.<>) 0) THEN
            RAISE EXCEPTION 'service group "%": % % has months, which business time of calendar "%" cannot count',
                            NEW.name, k, v, NEW.calendar
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give response times in days (working days), hours and minutes.';
        END IF;
    END LOOP;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION @extschema@._service_group_check() IS 'trigger: refuses a service group with a tier outside its policy, an unknown staff role, a non-positive cadence, or a response time that business time cannot count';
REVOKE ALL ON FUNCTION @extschema@._service_group_check() FROM PUBLIC;
CREATE TRIGGER service_group_check BEFORE INSERT OR UPDATE ON @extschema@.service_group
    FOR EACH ROW EXECUTE FUNCTION @extschema@._service_group_check();

REVOKE ALL ON @extschema@.service_group FROM PUBLIC;
GRANT SELECT ON @extschema@.service_group TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.service_group', '');

-- Does the current role serve this group?  A dropped staff role serves none.
CREATE FUNCTION @extschema@._serves(policy text, tier @extschema@.tier) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT FROM custier.service_group g
                    WHERE g.policy OPERATOR(pg_catalog.=) $1 AND g.tier OPERATOR(custier.=) $2
                      AND pg_catalog.pg_has_role(pg_catalog.to_regrole(pg_catalog.quote_ident(g.staff_role)), 'MEMBER'))
$$;
COMMENT ON FUNCTION @extschema@._serves(text, @extschema@.tier) IS 'internal: whether the current role is a member (directly or not) of the staff role of this service group';

CREATE TABLE @extschema@.group_meeting (
    policy      text NOT NULL,
    tier        @extschema@.tier NOT NULL,
    held_at     timestamptz NOT NULL DEFAULT now(),
    note        text,
    recorded_by name NOT NULL DEFAULT CURRENT_USER,
    FOREIGN KEY (policy, tier) REFERENCES @extschema@.service_group (policy, tier)
);
COMMENT ON TABLE @extschema@.group_meeting IS 'meetings held by service groups: append-only';
COMMENT ON COLUMN @extschema@.group_meeting.recorded_by IS 'role that recorded the meeting (must be the inserting role)';
CREATE INDEX group_meeting_held ON @extschema@.group_meeting (policy, tier, held_at);
COMMENT ON INDEX @extschema@.group_meeting_held IS 'last meeting of a group: custier.meetings_due';

CREATE FUNCTION @extschema@._service_append_only() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_service_append_only';
COMMENT ON FUNCTION @extschema@._service_append_only() IS 'trigger: refuses UPDATE, DELETE and TRUNCATE of custier.group_meeting, for every role';
REVOKE ALL ON FUNCTION @extschema@._service_append_only() FROM PUBLIC;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.group_meeting
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._service_append_only();
ALTER TABLE @extschema@.group_meeting ENABLE ALWAYS TRIGGER append_only;

-- Staff see and record the meetings of the groups they serve; the DBA
-- grants INSERT to the staff roles.
REVOKE ALL ON @extschema@.group_meeting FROM PUBLIC;
GRANT SELECT ON @extschema@.group_meeting TO PUBLIC;
ALTER TABLE @extschema@.group_meeting ENABLE ROW LEVEL SECURITY;
CREATE POLICY staff_read ON @extschema@.group_meeting FOR SELECT
    USING (@extschema@._serves(policy, tier));
CREATE POLICY staff_record ON @extschema@.group_meeting FOR INSERT
    WITH CHECK (@extschema@._serves(policy, tier) AND recorded_by OPERATOR(pg_catalog.=) CURRENT_USER);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.group_meeting', '');

-- ---------------------------------------------------------------------
-- Which group serves a customer; deadlines and on-time rates
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@.group_of(tbl regclass, customer_key text, at timestamptz DEFAULT now()) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (SELECT g.name
              FROM custier.managed_table m
              JOIN custier.service_group g ON g.policy OPERATOR(pg_catalog.=) m.policy
             WHERE m.tbl OPERATOR(pg_catalog.=) $1 AND g.tier OPERATOR(custier.=) x.t)
      FROM (SELECT custier.tier_at($1, $2, $3) AS t OFFSET 0) x
$$;
COMMENT ON FUNCTION @extschema@.group_of(regclass, text, timestamptz) IS 'name of the service group of the customer''s grade at a time (NULL when none); reads the history as the caller';

CREATE FUNCTION @extschema@.service_deadline(tbl regclass, customer_key text, opened timestamptz, kind text) RETURNS timestamptz
    LANGUAGE C STRICT STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'custier_service_deadline';
COMMENT ON FUNCTION @extschema@.service_deadline(regclass, text, timestamptz, text) IS 'opened plus the urgent/general/resolution time of the group serving the customer''s grade as it stood at opened, in the group''s calendar (wall clock without one)';

CREATE FUNCTION @extschema@.deadline_rate_transfn(@extschema@.rate_state, timestamptz, timestamptz) RETURNS @extschema@.rate_state
    AS 'MODULE_PATHNAME', 'custier_deadline_rate_transfn' LANGUAGE C STABLE PARALLEL SAFE;
-- The state, combine and final functions of share/on_time_rate (src/metrics.c),
-- so that this form, too, splits across Citus workers.
CREATE AGGREGATE @extschema@.on_time_rate(resolved timestamptz, deadline timestamptz) (
    SFUNC = @extschema@.deadline_rate_transfn,
    STYPE = @extschema@.rate_state,
    FINALFUNC = @extschema@.rate_finalfn,
    COMBINEFUNC = @extschema@.rate_combinefn,
    PARALLEL = SAFE
);
COMMENT ON FUNCTION @extschema@.deadline_rate_transfn(@extschema@.rate_state, timestamptz, timestamptz) IS 'on_time_rate(resolved, deadline) transition: counts a row as on time, late, or not yet due (stable: uses now())';
COMMENT ON AGGREGATE @extschema@.on_time_rate(timestamptz, timestamptz) IS 'percentage of rows resolved by their deadline; an unresolved row counts as late once now() is past its deadline, and is left out before that';

-- ---------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------
-- Runs as its owner: every group's last meeting date is shown to everyone
-- (group_meeting's notes stay with the staff).
CREATE VIEW @extschema@.meetings_due AS
SELECT g.policy, g.tier, g.name, g.meet_every, m.last_held,
       m.last_held + g.meet_every AS due_at,
       (g.meet_every IS NOT NULL AND (m.last_held IS NULL OR m.last_held + g.meet_every < now())) AS overdue
  FROM @extschema@.service_group g
  LEFT JOIN (SELECT gm.policy, gm.tier, max(gm.held_at) AS last_held
               FROM @extschema@.group_meeting gm GROUP BY gm.policy, gm.tier) m
         ON m.policy = g.policy AND m.tier OPERATOR(@extschema@.=) g.tier;
COMMENT ON VIEW @extschema@.meetings_due IS 'per service group: its cadence, last meeting, when the next one is due, and whether it is overdue (never held counts as overdue)';
REVOKE ALL ON @extschema@.meetings_due FROM PUBLIC;
GRANT SELECT ON @extschema@.meetings_due TO PUBLIC;

-- Runs as the caller: the history rows are those the caller may read.
CREATE VIEW @extschema@.group_change WITH (security_invoker = true) AS
SELECT h.history_id, h.tbl, h.customer_key, fg.name AS from_group, tg.name AS to_group, h.changed_at
  FROM @extschema@.tier_history h
  JOIN @extschema@.managed_table m ON m.tbl = h.tbl
  LEFT JOIN @extschema@.service_group fg ON fg.policy = m.policy AND fg.tier OPERATOR(@extschema@.=) h.old_tier
  LEFT JOIN @extschema@.service_group tg ON tg.policy = m.policy AND tg.tier OPERATOR(@extschema@.=) h.new_tier
 WHERE fg.name IS DISTINCT FROM tg.name;
COMMENT ON VIEW @extschema@.group_change IS 'grade changes that moved a customer between service groups (from_group NULL: entered; to_group NULL: left): what the application acts on';
REVOKE ALL ON @extschema@.group_change FROM PUBLIC;
GRANT SELECT ON @extschema@.group_change TO PUBLIC;

-- ---------------------------------------------------------------------
-- Access by group: restrict / unrestrict
-- ---------------------------------------------------------------------
-- The grades whose service group the current role serves, as a bit mask
-- (bit n: the grade of rank n).  The policy that restrict creates calls it
-- in a sub-select, which PostgreSQL runs once per statement (an InitPlan);
-- each row then costs one call of _tier_in with two by-value arguments.
CREATE FUNCTION @extschema@._visible_tiers(tbl regclass) RETURNS int
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(bit_or(1 OPERATOR(pg_catalog.<<) custier.rank(g.tier)), 0)
      FROM custier.managed_table m
      JOIN custier.service_group g ON g.policy OPERATOR(pg_catalog.=) m.policy
     WHERE m.tbl OPERATOR(pg_catalog.=) $1
       AND pg_catalog.pg_has_role(pg_catalog.to_regrole(pg_catalog.quote_ident(g.staff_role)), 'MEMBER')
$$;
COMMENT ON FUNCTION @extschema@._visible_tiers(regclass) IS 'internal: grades of the managed table whose service group the current role serves, as a mask (bit n = rank n), for the row-level security policy of custier.restrict';

CREATE FUNCTION @extschema@._tier_in(t @extschema@.tier, mask int) RETURNS boolean
    LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE AS 'MODULE_PATHNAME', 'custier_tier_in_mask';
COMMENT ON FUNCTION @extschema@._tier_in(@extschema@.tier, int) IS 'internal: whether the grade''s bit (bit n = rank n) is set in the mask: the row test of custier.restrict''s policy';

CREATE FUNCTION @extschema@.restrict(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tier_column name;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl
                      AND pg_has_role(c.relowner, 'USAGE')) THEN
        RAISE EXCEPTION 'must be owner of table % to restrict it', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT m.tier_column INTO tier_column FROM custier.managed_table m WHERE m.tbl OPERATOR(pg_catalog.=) restrict.tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not managed by custier', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Attach it with custier.manage first.';
    END IF;
    -- As the caller, who owns the table: no borrowed rights.
    IF EXISTS (SELECT FROM pg_policy p WHERE p.polrelid OPERATOR(pg_catalog.=) tbl
                  AND p.polname OPERATOR(pg_catalog.=) 'custier_service_group') THEN
        EXECUTE format('DROP POLICY custier_service_group ON %s', tbl);
    END IF;
    EXECUTE format('CREATE POLICY custier_service_group ON %s AS PERMISSIVE FOR ALL TO PUBLIC '
                   'USING (custier._tier_in(%I, (SELECT custier._visible_tiers(%L::pg_catalog.regclass))))',
                   tbl, tier_column, tbl::text);
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
END $$;
COMMENT ON FUNCTION @extschema@.restrict(regclass) IS 'row-level security on a managed table: a role sees and changes only the customers whose grade''s service group it serves (owner and BYPASSRLS roles see all)';
REVOKE ALL ON FUNCTION @extschema@.restrict(regclass) FROM PUBLIC;

CREATE FUNCTION @extschema@.unrestrict(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl
                      AND pg_has_role(c.relowner, 'USAGE')) THEN
        RAISE EXCEPTION 'must be owner of table % to unrestrict it', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT FROM custier.managed_table m WHERE m.tbl OPERATOR(pg_catalog.=) unrestrict.tbl)
       AND NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid OPERATOR(pg_catalog.=) tbl
                          AND p.polname OPERATOR(pg_catalog.=) 'custier_service_group') THEN
        RAISE EXCEPTION 'table % is not managed by custier', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF EXISTS (SELECT FROM pg_policy p WHERE p.polrelid OPERATOR(pg_catalog.=) tbl
                  AND p.polname OPERATOR(pg_catalog.=) 'custier_service_group') THEN
        EXECUTE format('DROP POLICY custier_service_group ON %s', tbl);
    END IF;
    -- Row-level security stays on while the table has policies of its own.
    IF NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid OPERATOR(pg_catalog.=) tbl) THEN
        EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', tbl);
    END IF;
END $$;
COMMENT ON FUNCTION @extschema@.unrestrict(regclass) IS 'removes the access-by-group policy of custier.restrict (and row-level security, unless the table has policies of its own)';
REVOKE ALL ON FUNCTION @extschema@.unrestrict(regclass) FROM PUBLIC;
