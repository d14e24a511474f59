/* custier_citus.h — Citus awareness without linking to Citus (src/citus.c). */
#ifndef CUSTIER_CITUS_H
#define CUSTIER_CITUS_H

extern void custier_citus_refuse_manage(Oid relid);
extern char *custier_citus_local_relation(const char *table);

#endif
