/*
 * tenant_lifecycle: add and release the teardown finalizer (see tenant_lifecycle.h).
 */
#include "reconcilers/tenant_lifecycle.h"

#include <string.h>

#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "objects/objects.h"
#include "reconcilers/tenant.h"

int tenant_has_finalizer(const json_object *obj)
{
    json_object *f = cjson_get(obj, "metadata.finalizers");

    if (!f || !json_object_is_type(f, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(f); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(f, i));

        if (s && strcmp(s, TENANT_FINALIZER) == 0)
            return 1;
    }
    return 0;
}

int tenant_is_deleting(const json_object *obj)
{
    return cjson_get_string(obj, "metadata.deletionTimestamp") != NULL;
}

int tenant_is_purge(const json_object *obj)
{
    const char *p = cjson_get_string(obj, "spec.deletionPolicy");

    return p && strcmp(p, "Purge") == 0;
}

/* Drop every occurrence of the finalizer from obj's list; returns how many are left. */
static size_t finalizer_drop(json_object *obj)
{
    json_object *f = cjson_get(obj, "metadata.finalizers"), *keep;

    if (!f || !json_object_is_type(f, json_type_array))
        return 0;
    keep = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(f); i++) {
        json_object *e = json_object_array_get_idx(f, i);
        const char *s = json_object_get_string(e);

        if (!s || strcmp(s, TENANT_FINALIZER) != 0)
            json_object_array_add(keep, json_object_get(e));
    }
    if (json_object_array_length(keep) == 0) {
        json_object_object_del(cjson_get(obj, "metadata"), "finalizers");
        json_object_put(keep);
        return 0;
    }
    json_object_object_add(cjson_get(obj, "metadata"), "finalizers", keep);
    return json_object_array_length(keep);
}

static void finalizer_add(json_object *obj)
{
    json_object *meta = cjson_get(obj, "metadata");
    json_object *f = json_object_object_get(meta, "finalizers");

    if (!f || !json_object_is_type(f, json_type_array)) {
        f = json_object_new_array();
        json_object_object_add(meta, "finalizers", f);
    }
    json_object_array_add(f, json_object_new_string(TENANT_FINALIZER));
}

/* An obj_mutate_fn: add (*(int *)ctx) or release the finalizer. */
static int finalizer_mutate(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    (void)cur;
    (void)err;
    if (*(const int *)ctx) {
        if (tenant_has_finalizer(next) || tenant_is_deleting(next))
            return OBJ_UNCHANGED; /* the API refuses new finalizers on an object being deleted */
        finalizer_add(next);
    } else {
        if (!tenant_has_finalizer(next))
            return OBJ_UNCHANGED;
        finalizer_drop(next); /* the write path completes a deletion left without finalizers */
    }
    return 0;
}

static int edit(store *st, const char *name, const char *uid, int is_add, int *is_removed,
                omlop_err *err)
{
    obj_update_opts o = {0};
    obj_result res = {0};
    int rc;

    if (is_removed)
        *is_removed = 0;
    o.expect_uid = uid; /* deleted and created again: that one gets its own round */
    rc = obj_update(st, "tenants", name, &o, finalizer_mutate, &is_add, &res, err);
    if (rc == OMLOP_ENOTFOUND) {
        omlop_err_clear(err);
        rc = 0; /* gone meanwhile: nothing to hold */
    } else if (rc == OMLOP_ECONFLICT) {
        omlop_err_clear(err);
        rc = omlop_err_set(err, OMLOP_ECONFLICT,
                           "tenant %s: %s the finalizer %s lost %d races with other writers", name,
                           is_add ? "adding" : "removing", TENANT_FINALIZER, OBJ_WRITE_RETRIES);
    }
    if (rc == 0 && res.is_deleted && is_removed)
        *is_removed = 1;
    obj_result_release(&res);
    return rc;
}

int tenant_finalizer_ensure(store *st, const char *name, const char *uid, omlop_err *err)
{
    return edit(st, name, uid, 1, NULL, err);
}

int tenant_finalizer_release(store *st, const char *name, const char *uid, int *is_removed,
                             omlop_err *err)
{
    return edit(st, name, uid, 0, is_removed, err);
}
