/*
 * gitsync: the thread that runs the GitSource reconciler (reconcilers/gitsource.h) for every
 * GitSource, beside the Tenant manager (operator/manager.h), which it does not touch: the
 * tenants a sync writes reach the manager through its own store watch.
 *
 * What syncs a source:
 *   - its interval (spec.interval, default 5m), counted from the end of its last sync;
 *   - a store watch on /omlop/gitsources/: a new source, a spec change (generation above
 *     status.observedGeneration) or a new value of the annotation omlop.io/sync-requested
 *     (what `kubectl annotate`, POST .../gitsources/NAME/sync and `omlctl gitsource sync`
 *     set) syncs it at once. The reconciler's own status writes change neither, so they do
 *     not wake it again.
 * A deleted source's copy under DATA_DIR/gitsources/NAME is removed.
 *
 * Threads: one thread runs every sync, one at a time (a slow fetch delays the others by at
 * most its timeout); gitsync_stop joins it (a sync in progress finishes first).
 */
#ifndef OMLOP_GITSYNC_H
#define OMLOP_GITSYNC_H

#include "crds/schema.h"
#include "lib/err.h"
#include "objects/events.h"
#include "store/store.h"

typedef struct gitsync gitsync;

/* A syncer over st (borrowed, as are ev, schemas and data_dir, for its whole life). */
int gitsync_new(store *st, events *ev, const schema_set *schemas, const char *data_dir,
                gitsync **out, omlop_err *err);

/* Start the thread. */
int gitsync_start(gitsync *g, omlop_err *err);

/* How many syncs ran since the start (tests). */
unsigned long gitsync_count(gitsync *g);

/* Stop and join the thread; NULL or not started is fine. */
void gitsync_stop(gitsync *g);

/* Stop and free; NULL is fine. */
void gitsync_free(gitsync *g);

#endif
