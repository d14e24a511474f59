/*
 * lifecycle.h — what the lifecycle module (src/lifecycle.c) offers the
 * other modules: recognising a restore, and the dropped-table re-pointing.
 */
#ifndef CUSTIER_LIFECYCLE_H
#define CUSTIER_LIFECYCLE_H

#include "postgres.h"

/* Does a row of relid arrive through a restore (see lifecycle.c)? */
extern bool custier_restore_load(Oid relid);
/* A write that is not a restore load: closes the restore window. */
extern void custier_mark_in_use(void);
/* Is custier._forget_table re-pointing a dropped table's rows now? */
extern bool custier_forgetting_table(void);

#endif							/* CUSTIER_LIFECYCLE_H */
