-- Held grades (src/simulation.sql): an adjustment may hold the grade it
-- applies until hold_until, and evaluations mark held customers 'held'.
ALTER TABLE @extschema@.adjustment ADD COLUMN hold_until timestamptz;
COMMENT ON COLUMN @extschema@.adjustment.hold_until IS 'once applied, evaluations before this moment propose no change of the customer''s grade (NULL: no hold)';
ALTER TABLE @extschema@.evaluation_result DROP CONSTRAINT evaluation_result_action_check,
    ADD CONSTRAINT evaluation_result_action_check CHECK (action IN ('kept', 'applied', 'proposed', 'pending', 'skipped', 'held'));
