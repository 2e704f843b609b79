/*
 * objects: reading and writing API objects in the store - the one place that
 * knows both the object conventions (crds/object.h) and the store (store/store.h).
 *
 * Every write of an object goes through here: the API's handlers and every
 * reconciler call obj_create / obj_update / obj_delete, never store_create /
 * store_update / store_delete (make lint refuses those outside store/ and
 * objects/). The write path stamps what the server owns (uid,
 * creationTimestamp, generation, resourceVersion), bumps metadata.generation
 * when the spec changes, turns a delete of an object with finalizers into a
 * deletionTimestamp, and runs the hooks that follow a write (the Tenant
 * rollout history, objects/history.h). Compare-and-swap: obj_update reads,
 * lets the caller's mutate function change the object, and writes with the
 * read revision, retrying a bounded number of times when another writer got
 * in between.
 */
#ifndef OMLOP_OBJECTS_H
#define OMLOP_OBJECTS_H

#include <json-c/json.h>
#include <stdint.h>

#include "crds/schema.h"
#include "lib/err.h"
#include "store/store.h"

/* Parse a stored value and set metadata.resourceVersion from kv->mod_revision. */
int obj_from_kv(const store_kv *kv, json_object **out, omlop_err *err);

/*
 * A store_filter_fn: kv->value parsed as JSON, its metadata.labels matched
 * against ctx (a const selector *, crds/selector.h). Values that are not JSON
 * never match.
 */
int obj_filter_selector(const store_kv *kv, void *ctx);

/* Attempts of a read-modify-write that keeps losing the race to other writers. */
#define OBJ_WRITE_RETRIES 5

/* What a write did. obj (caller puts) is the object as stored, with its resourceVersion; for a
 * dry run, what would be stored (without a resourceVersion). */
typedef struct obj_result {
    json_object *obj;
    int64_t revision;    /* of the write; 0 when nothing was written */
    int is_unchanged;    /* the update changed nothing: no write, obj is the current object */
    int is_deleted;      /* the object is gone from the store (a delete, or its last finalizer) */
    int is_uid_mismatch; /* obj_delete: the uid precondition failed (OMLOP_ECONFLICT) */
} obj_result;

/* Release what r holds and zero it. */
void obj_result_release(obj_result *r);

/* Flags of a write. */
#define OBJ_DRY_RUN 0x1 /* check and answer, store nothing */

/*
 * Read the object plural/name: *out (caller puts) with its resourceVersion, *revision its
 * mod_revision (may be NULL). OMLOP_ENOTFOUND when absent.
 */
int obj_get(store *st, const char *plural, const char *name, json_object **out, int64_t *revision,
            omlop_err *err);

/*
 * Create obj (borrowed; not changed) under plural/metadata.name: the stored copy gets the
 * fields the server owns - a new uid, creationTimestamp now, generation 1 - and loses any
 * resourceVersion and deletionTimestamp the caller left. OMLOP_EEXIST when the name is taken
 * (also for a dry run). Runs the history hook for a Tenant.
 */
int obj_create(store *st, const char *plural, const json_object *obj, unsigned flags,
               obj_result *res, omlop_err *err);

/*
 * The change an update makes: next is a copy of cur (the stored object, with its
 * resourceVersion) for the function to edit in place. Return 0 to write next, OBJ_UNCHANGED to
 * leave the object as it is, or a negative error (err filled) to stop without writing. The
 * function may run more than once (after a lost race, on a fresh cur): it must not keep state
 * between calls that a retry would double.
 */
typedef int (*obj_mutate_fn)(json_object *next, const json_object *cur, void *ctx, omlop_err *err);
#define OBJ_UNCHANGED 1

typedef struct obj_update_opts {
    int64_t expect_revision; /* > 0: write only over this revision (once, OMLOP_ECONFLICT
                                otherwise); 0: read-modify-write, retried after a lost race */
    const char *expect_uid;  /* non-NULL: the object must have this uid, else nothing is written
                                and the call returns OMLOP_ENOTFOUND (it was re-created) */
    int is_status;           /* the /status subresource: only .status is taken from next */
    unsigned flags;          /* OBJ_DRY_RUN */
} obj_update_opts;

/*
 * Update plural/name through fn, with the rules every writer shares: the server-owned
 * metadata (uid, creationTimestamp, generation, deletionTimestamp) stays as stored;
 * metadata.generation goes up by one when anything but metadata and status changed; an update
 * that changes nothing writes nothing (res->is_unchanged); on an object being deleted, an
 * update that leaves no finalizer completes the deletion (res->is_deleted). Compare-and-swap on
 * the read revision; history hook for a Tenant. o may be NULL (defaults).
 */
int obj_update(store *st, const char *plural, const char *name, const obj_update_opts *o,
               obj_mutate_fn fn, void *ctx, obj_result *res, omlop_err *err);

/*
 * Replace the .status of obj (an object as read, of plural) with status (taken: the caller's
 * reference is kept, a copy is written), its observedGeneration set to obj's generation, only
 * while the stored object is still obj (same uid). An object deleted or re-created meanwhile is
 * not an error: nothing is written and 0 is returned.
 */
int obj_status_replace(store *st, const char *plural, const json_object *obj, json_object *status,
                       omlop_err *err);

typedef struct obj_delete_opts {
    int64_t expect_revision; /* > 0: precondition on the resourceVersion (no retry) */
    const char *expect_uid;  /* non-NULL: precondition on the uid (res->is_uid_mismatch) */
    unsigned flags;          /* OBJ_DRY_RUN */
} obj_delete_opts;

/*
 * Delete plural/name as Kubernetes does: an object with finalizers gets a deletionTimestamp
 * (and a new generation) and stays until the last finalizer is released (obj_update); one
 * already being deleted is left as it is; one without finalizers is removed (res->is_deleted),
 * then its history. res->obj is the object as it was or now is. o may be NULL.
 */
int obj_delete(store *st, const char *plural, const char *name, const obj_delete_opts *o,
               obj_result *res, omlop_err *err);

#endif
