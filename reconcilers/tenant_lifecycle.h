/*
 * tenant_lifecycle: the Tenant's deletion finalizer, as store edits.
 *
 * The reconciler adds the finalizer omlop.io/teardown to a Tenant in the
 * first round that reaches one of its hosts (before acting there), writing the stored object
 * directly with a compare-and-swap (a metadata-only write: metadata.generation is left alone, as
 * the API leaves it for metadata changes). `omlctl apply` (server-side apply) keeps it: a manifest
 * without metadata.finalizers does not touch the list. A PUT whose body lacks it drops it; the next
 * round (woken by that very write) adds it back, and a deletion in between is still torn down from
 * the watch's last value (operator/manager.c).
 *
 * DELETE of a Tenant carrying the finalizer only sets
 * metadata.deletionTimestamp (docs/api.md); the reconciler then removes the
 * containers (and with spec.deletionPolicy Purge the named volumes) and the
 * Secrets omlop generated, and releases the finalizer: the last one gone, the
 * object is removed from the store (with its rollout history, as the API
 * does). To force a deletion that cannot complete (a host that is gone for
 * good), remove the finalizer by hand: `omlctl edit tenant X` (delete it
 * from metadata.finalizers) or a kubectl merge patch setting finalizers to
 * null; omlop then leaves whatever still runs on the hosts.
 */
#ifndef OMLOP_TENANT_LIFECYCLE_H
#define OMLOP_TENANT_LIFECYCLE_H

#include <json-c/json.h>

#include "lib/err.h"
#include "store/store.h"

#define TENANT_FINALIZER "omlop.io/teardown"

/* Whether obj (a Tenant) lists the finalizer. */
int tenant_has_finalizer(const json_object *obj);

/* Whether obj has metadata.deletionTimestamp (a DELETE is waiting for finalizers). */
int tenant_is_deleting(const json_object *obj);

/* Whether spec.deletionPolicy is Purge (remove named volumes too). */
int tenant_is_purge(const json_object *obj);

/*
 * Add the finalizer to stored Tenant name (uid: only if it is still that
 * object; NULL: any) unless present or the object is being deleted. Retries
 * on a concurrent write. A Tenant gone meanwhile is not an error.
 */
int tenant_finalizer_ensure(store *st, const char *name, const char *uid, omlop_err *err);

/*
 * Remove the finalizer from stored Tenant name (same uid rule). When it was
 * the last finalizer of an object being deleted, the object is removed from
 * the store, then its rollout history. *is_removed (may be NULL) says so.
 */
int tenant_finalizer_release(store *st, const char *name, const char *uid, int *is_removed,
                             omlop_err *err);

#endif
