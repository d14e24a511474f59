-- rows.sql — every row of every table of custier, and where its sequences
-- stand, in a stable order: the dump/restore and update tests compare this
-- listing between two databases.
\pset format unaligned
\pset tuples_only on
\pset pager off
SET search_path = pg_catalog;
SET row_security = off;
SET TimeZone = 'UTC';
-- psql -v strip='{col,...}' leaves those columns out (columns an update adds).
\if :{?strip}
\else
\set strip '{}'
\endif
SELECT format('SELECT %L, count(*) OVER (), (to_jsonb(t) - %L::text[])::text FROM %s t ORDER BY (to_jsonb(t) - %2$L::text[])::text COLLATE "C";',
              c.oid::regclass, :'strip', c.oid::regclass)
  FROM pg_class c
 WHERE c.relnamespace = 'custier'::regnamespace AND c.relkind = 'r'
 ORDER BY c.relname \gexec
SELECT format('SELECT %L, last_value, is_called FROM %s;', c.oid::regclass, c.oid::regclass)
  FROM pg_class c
 WHERE c.relnamespace = 'custier'::regnamespace AND c.relkind = 'S' AND c.relname <> 'in_use'
 ORDER BY c.relname \gexec
