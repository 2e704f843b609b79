/*
 * tenant_lifecycle: add and release the teardown finalizer (see tenant_lifecycle.h).
 */
#include "reconcilers/tenant_lifecycle.h"

#include <string.h>

#include "lib/cjson.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "operator/api_history.h"
#include "operator/api_object.h"
#include "reconcilers/tenant.h"

/* Concurrent writers (users, the status write) are few; a handful of tries is plenty. */
#define FINALIZER_WRITE_TRIES 5

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

/*
 * One compare-and-swap edit of the stored Tenant: is_add adds the finalizer,
 * else releases it. Returns 1 to retry (lost a race), 0 done, or an error.
 */
static int edit_once(store *st, const char *key, const char *name, const char *uid, int is_add,
                     int *is_removed, omlop_err *err)
{
    store_kv kv = {0};
    json_object *obj = NULL;
    strbuf text = STRBUF_INIT;
    const char *cur_uid;
    int rc;

    rc = store_get(st, key, &kv, err);
    if (rc == OMLOP_ENOTFOUND) {
        rc = 0; /* gone meanwhile: nothing to hold */
        goto out;
    }
    if (rc < 0)
        goto out;
    obj = api_object_parse(kv.value, kv.value_len);
    if (!obj) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "tenant %s: the stored value is not a JSON object",
                           name);
        goto out;
    }
    cur_uid = cjson_get_string(obj, "metadata.uid");
    if (uid && cur_uid && strcmp(uid, cur_uid) != 0)
        goto out; /* deleted and created again: that one gets its own round */
    if (is_add) {
        if (tenant_has_finalizer(obj) || tenant_is_deleting(obj))
            goto out; /* the API refuses new finalizers on an object being deleted */
        finalizer_add(obj);
    } else {
        if (!tenant_has_finalizer(obj))
            goto out;
        if (finalizer_drop(obj) == 0 && tenant_is_deleting(obj)) {
            rc = store_delete(st, key, kv.mod_revision, NULL, err);
            if (rc == 0) {
                api_history_after_delete(st, name); /* after the object, as the API does */
                if (is_removed)
                    *is_removed = 1;
            }
            goto out;
        }
    }
    api_object_store_text(obj, &text);
    rc = store_update(st, key, text.buf, text.len, kv.mod_revision, NULL, err);
out:
    strbuf_release(&text);
    json_object_put(obj);
    store_kv_release(&kv);
    return rc == OMLOP_ECONFLICT ? 1 : rc;
}

static int edit(store *st, const char *name, const char *uid, int is_add, int *is_removed,
                omlop_err *err)
{
    strbuf key = STRBUF_INIT;
    int rc = 1;

    if (is_removed)
        *is_removed = 0;
    strbuf_addf(&key, "%s%s", TENANT_KEY_PREFIX, name);
    for (int i = 0; i < FINALIZER_WRITE_TRIES && rc == 1; i++)
        rc = edit_once(st, key.buf, name, uid, is_add, is_removed, err);
    if (rc == 1)
        rc = omlop_err_set(err, OMLOP_ECONFLICT,
                           "tenant %s: %s the finalizer %s lost %d races with other writers", name,
                           is_add ? "adding" : "removing", TENANT_FINALIZER, FINALIZER_WRITE_TRIES);
    strbuf_release(&key);
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
