-- objects.sql — a normalized listing of every object of extension custier,
-- for comparing an updated installation with a fresh one (.ci/test.sh).
-- OIDs and creation order are left out (every listing is ordered by name: an
-- ORDER BY 2::text would order by a constant); everything a user could see is in.
\pset format unaligned
\pset tuples_only on
\pset pager off
SET search_path = pg_catalog;

-- Extension row: version, config tables and their filters.
SELECT 'extension', extversion, extrelocatable, extnamespace::regnamespace,
       (SELECT string_agg(c::regclass::text || ' ' || coalesce(f, ''), ', ' ORDER BY c::regclass::text)
          FROM unnest(extconfig, extcondition) AS u(c, f))
  FROM pg_extension WHERE extname = 'custier';

-- \dx+ custier: every member object.
SELECT 'member', pg_describe_object(classid, objid, objsubid)
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'custier')
 ORDER BY 2;

-- Functions: definition, privileges, settings, comment.
SELECT 'function', p.oid::regprocedure,
       CASE WHEN p.prokind = 'a' THEN 'aggregate' ELSE pg_get_functiondef(p.oid) END,
       p.proacl, p.proconfig, p.prosecdef, p.provolatile, p.proparallel, p.proisstrict,
       p.procost, p.prorows, p.proleakproof, obj_description(p.oid, 'pg_proc')
  FROM pg_proc p WHERE p.pronamespace = 'custier'::regnamespace ORDER BY p.oid::regprocedure::text;
SELECT 'aggregate', a.aggfnoid::regprocedure, a.aggkind, a.aggnumdirectargs, a.aggtransfn, a.aggfinalfn,
       a.aggcombinefn, a.aggserialfn, a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn,
       a.aggfinalextra, a.aggmfinalextra, a.aggfinalmodify, a.aggmfinalmodify, a.aggsortop::regoperator,
       a.aggtranstype::regtype, a.aggtransspace, a.aggmtranstype::regtype, a.aggmtransspace,
       a.agginitval, a.aggminitval
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
 WHERE p.pronamespace = 'custier'::regnamespace ORDER BY a.aggfnoid::regprocedure::text;

-- Relations: kind, options, privileges, RLS, comment; columns in order.
SELECT 'relation', c.oid::regclass, c.relkind, c.relpersistence, c.reloptions, c.relacl,
       c.relrowsecurity, c.relforcerowsecurity, c.relreplident, obj_description(c.oid, 'pg_class'),
       CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END
  FROM pg_class c WHERE c.relnamespace = 'custier'::regnamespace ORDER BY c.oid::regclass::text;
SELECT 'column', a.attrelid::regclass, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.attidentity, a.attgenerated, a.attcollation::regcollation, a.attacl,
       pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum),
       row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = 'custier'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attrelid::regclass::text, a.attnum;
SELECT 'sequence', s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmax,
       s.seqmin, s.seqcache, s.seqcycle
  FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
 WHERE c.relnamespace = 'custier'::regnamespace ORDER BY s.seqrelid::regclass::text;
SELECT 'constraint', c.conrelid::regclass, c.contypid::regtype, c.conname, pg_get_constraintdef(c.oid),
       c.condeferrable, c.condeferred, c.convalidated
  FROM pg_constraint c WHERE c.connamespace = 'custier'::regnamespace ORDER BY c.conrelid::regclass::text, c.contypid::regtype::text, c.conname;
SELECT 'index', i.indexrelid::regclass, pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class')
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relnamespace = 'custier'::regnamespace ORDER BY i.indexrelid::regclass::text;
SELECT 'trigger', t.tgrelid::regclass, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'custier'::regnamespace AND NOT t.tgisinternal ORDER BY t.tgrelid::regclass::text, t.tgname;
SELECT 'policy', p.polrelid::regclass, p.polname, p.polcmd, p.polpermissive, p.polroles::regrole[],
       pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
 WHERE c.relnamespace = 'custier'::regnamespace ORDER BY p.polrelid::regclass::text, p.polname;
SELECT 'event trigger', e.evtname, e.evtevent, e.evtfoid::regprocedure, e.evtenabled, e.evttags
  FROM pg_event_trigger e
 WHERE EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_event_trigger'::regclass AND d.objid = e.oid
                 AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')
 ORDER BY 2;

-- Types, operators, operator classes and families, casts.
SELECT 'type', t.oid::regtype, t.typtype, t.typlen, t.typbyval, t.typalign, t.typstorage, t.typcategory,
       t.typispreferred, t.typinput, t.typoutput, t.typreceive, t.typsend, t.typacl,
       obj_description(t.oid, 'pg_type')
  FROM pg_type t WHERE t.typnamespace = 'custier'::regnamespace ORDER BY t.oid::regtype::text;
SELECT 'operator', o.oid::regoperator, o.oprcode, o.oprcom::regoperator, o.oprnegate::regoperator,
       o.oprrest, o.oprjoin, o.oprcanmerge, o.oprcanhash, obj_description(o.oid, 'pg_operator')
  FROM pg_operator o WHERE o.oprnamespace = 'custier'::regnamespace ORDER BY o.oid::regoperator::text;
SELECT 'opclass', am.amname, c.opcname, c.opcintype::regtype, c.opcdefault, f.opfname
  FROM pg_opclass c JOIN pg_am am ON am.oid = c.opcmethod JOIN pg_opfamily f ON f.oid = c.opcfamily
 WHERE c.opcnamespace = 'custier'::regnamespace ORDER BY 2, 3;
SELECT 'amop', f.opfname, o.amoplefttype::regtype, o.amoprighttype::regtype, o.amopstrategy,
       o.amopopr::regoperator, o.amoppurpose
  FROM pg_amop o JOIN pg_opfamily f ON f.oid = o.amopfamily
 WHERE f.opfnamespace = 'custier'::regnamespace
 ORDER BY f.opfname, o.amoplefttype::regtype::text, o.amoprighttype::regtype::text, o.amopstrategy;
SELECT 'amproc', f.opfname, p.amproclefttype::regtype, p.amprocrighttype::regtype, p.amprocnum,
       p.amproc::regprocedure
  FROM pg_amproc p JOIN pg_opfamily f ON f.oid = p.amprocfamily
 WHERE f.opfnamespace = 'custier'::regnamespace
 ORDER BY f.opfname, p.amproclefttype::regtype::text, p.amprocrighttype::regtype::text, p.amprocnum;
SELECT 'cast', c.castsource::regtype, c.casttarget::regtype, c.castfunc::regprocedure, c.castcontext,
       c.castmethod
  FROM pg_cast c
 WHERE EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_cast'::regclass AND d.objid = c.oid
                 AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')
 ORDER BY c.castsource::regtype::text, c.casttarget::regtype::text;

-- Schema privileges and comment.
SELECT 'schema', n.nspname, n.nspacl, obj_description(n.oid, 'pg_namespace')
  FROM pg_namespace n WHERE n.nspname = 'custier';
