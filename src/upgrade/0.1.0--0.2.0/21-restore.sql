

CREATE OR REPLACE FUNCTION @extschema@._adjustment_logged() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF custier._forgetting() OR custier._restore_load(TG_RELID) THEN RETURN NULL; END IF;
    PERFORM custier._adjustment_log(NEW, NEW.status,
        CASE TG_OP WHEN 'INSERT' THEN jsonb_build_object('reason', NEW.reason, 'evidence', NEW.evidence)
                   ELSE jsonb_build_object('note', NEW.decision_note) END);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION @extschema@._review_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a     custier.adjustment;
    dept  custier.policy_reviewer;
    actor name := custier._actor();
BEGIN
    IF TG_OP = 'INSERT' AND custier._restore_load(TG_RELID) THEN RETURN NEW; END IF;
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'reviews cannot be changed or removed'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- Locks the adjustment: a review and a decision never cross.
    SELECT * INTO a FROM custier.adjustment x WHERE x.adjustment_id = NEW.adjustment_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'adjustment % does not exist', NEW.adjustment_id USING ERRCODE = 'undefined_object';
    END IF;
    IF a.status <> 'proposed' THEN
        RAISE EXCEPTION 'adjustment % is %, not proposed: it takes no more reviews', a.adjustment_id, a.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT r.* INTO dept FROM custier.managed_table m JOIN custier.policy_reviewer r ON r.policy = m.policy
     WHERE m.tbl = a.tbl AND r.department = NEW.department;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'department "%" does not review adjustments of table %', NEW.department, a.tbl
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The reviewing departments are the rows of custier.policy_reviewer for the table''s policy.';
    END IF;
    -- Departments are roles: only a member of the department's role reviews for it.
    IF dept.reviewer_role IS NULL OR NOT EXISTS (SELECT FROM pg_roles o WHERE o.rolname = dept.reviewer_role)
       OR NOT pg_has_role(actor, dept.reviewer_role, 'MEMBER') THEN
        RAISE EXCEPTION '% may not review for department "%"', actor, NEW.department
            USING ERRCODE = 'insufficient_privilege',
                  HINT = CASE WHEN dept.reviewer_role IS NULL
                              THEN format('Department "%s" of policy "%s" has no reviewer_role: set custier.policy_reviewer.reviewer_role to the role whose members review for it.', dept.department, dept.policy)
                              ELSE format('Reviews for department "%s" need membership in role %s.', dept.department, dept.reviewer_role) END;
    END IF;
    IF EXISTS (SELECT FROM custier.adjustment_review v
                WHERE v.adjustment_id = NEW.adjustment_id AND v.department = NEW.department) THEN
        RAISE EXCEPTION 'department "%" has already reviewed adjustment %', NEW.department, NEW.adjustment_id
            USING ERRCODE = 'unique_violation';
    END IF;
    IF NEW.opinion IS NULL OR NEW.opinion NOT IN ('support', 'oppose') THEN
        RAISE EXCEPTION 'opinion must be ''support'' or ''oppose'', not %', coalesce(quote_literal(NEW.opinion), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    NEW.reviewer := actor;
    NEW.reviewed_at := now();
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION @extschema@._review_logged() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF custier._restore_load(TG_RELID) THEN RETURN NULL; END IF;
    PERFORM custier._adjustment_log(a, 'reviewed',
        jsonb_build_object('department', NEW.department, 'opinion', NEW.opinion, 'comment', NEW.comment))
       FROM custier.adjustment a WHERE a.adjustment_id = NEW.adjustment_id;
    RETURN NULL;
END $$;
