-- The event triggers' functions call lifecycle.sql's functions: replaced
-- once those exist.  The DDL event trigger waits for a restore to bring a
-- managed table's triggers back; the drop event trigger forgets dropped
-- tables' OIDs.

CREATE OR REPLACE FUNCTION @extschema@._on_sql_drop() RETURNS event_trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_on_sql_drop';

CREATE OR REPLACE FUNCTION @extschema@._on_ddl_end() RETURNS event_trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_on_ddl_end';
