/* objects: reads and writes of API objects in the store. */
#include "objects/objects.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crds/object.h"
#include "crds/selector.h"
#include "lib/cjson.h"
#include "lib/strbuf.h"
#include "objects/history.h"

/* Metadata fields only the server sets: an update keeps the stored values. */
static const char *const server_meta_fields[] = {"uid", "creationTimestamp", "generation",
                                                 "deletionTimestamp", NULL};

int obj_from_kv(const store_kv *kv, json_object **out, omlop_err *err)
{
    json_object *obj = object_parse(kv->value, kv->value ? kv->value_len : 0);

    *out = NULL;
    if (!obj)
        return omlop_err_set(err, OMLOP_EINTERNAL,
                             "the stored value of %s is not a JSON object; the store is damaged",
                             kv->key);
    object_set_rv(obj, kv->mod_revision);
    *out = obj;
    return 0;
}

int obj_filter_selector(const store_kv *kv, void *ctx)
{
    const selector *sel = ctx;
    json_tokener *tok;
    json_object *obj;
    int ok;

    if (selector_count(sel) == 0)
        return 1;
    if (!kv->value || kv->value_len > (size_t)0x7fffffff)
        return 0;
    tok = json_tokener_new();
    if (!tok)
        abort();
    obj = json_tokener_parse_ex(tok, kv->value, (int)kv->value_len);
    json_tokener_free(tok);
    if (!obj)
        return 0;
    ok = selector_matches(sel, cjson_get(obj, "metadata.labels"));
    json_object_put(obj);
    return ok;
}

void obj_result_release(obj_result *r)
{
    json_object_put(r->obj);
    memset(r, 0, sizeof(*r));
}

/* Stored text may hold Secret values: zeroed before the memory goes back. */
static void text_release(strbuf *text)
{
    if (text->buf)
        explicit_bzero(text->buf, text->len);
    strbuf_release(text);
}

/* The rollout history is kept for Tenants (objects/history.h). */
static int keeps_history(const char *plural)
{
    return strcmp(plural, "tenants") == 0;
}

static int read_kv(store *st, const char *plural, const char *name, store_kv *kv, json_object **cur,
                   omlop_err *err)
{
    strbuf key = STRBUF_INIT;
    int rc;

    object_key(&key, plural, name);
    rc = store_get(st, key.buf, kv, err);
    strbuf_release(&key);
    if (rc == 0 && (rc = obj_from_kv(kv, cur, err)) != 0)
        store_kv_release(kv);
    return rc;
}

int obj_get(store *st, const char *plural, const char *name, json_object **out, int64_t *revision,
            omlop_err *err)
{
    store_kv kv = {0};
    int rc;

    *out = NULL;
    if ((rc = read_kv(st, plural, name, &kv, out, err)) != 0)
        return rc;
    if (revision)
        *revision = kv.mod_revision;
    store_kv_release(&kv);
    return 0;
}

int obj_create(store *st, const char *plural, const json_object *obj, unsigned flags,
               obj_result *res, omlop_err *err)
{
    json_object *next = cjson_copy(obj), *meta = object_meta(next);
    const char *name = object_name(next);
    strbuf key = STRBUF_INIT, text = STRBUF_INIT;
    char uid[37], now[32];
    int64_t rev = 0;
    int rc;

    memset(res, 0, sizeof(*res));
    if (!name || !*name) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "metadata.name: required");
        goto out;
    }
    object_uid_new(uid);
    object_time_format(time(NULL), now);
    json_object_object_del(meta, "resourceVersion");
    json_object_object_del(meta, "deletionTimestamp");
    json_object_object_add(meta, "uid", json_object_new_string(uid));
    json_object_object_add(meta, "creationTimestamp", json_object_new_string(now));
    json_object_object_add(meta, "generation", json_object_new_int64(1));
    object_key(&key, plural, name);
    if (flags & OBJ_DRY_RUN) {
        store_kv kv = {0};

        /* still tell the caller about a name that is taken */
        if ((rc = store_get(st, key.buf, &kv, err)) == 0) {
            store_kv_release(&kv);
            rc = omlop_err_set(err, OMLOP_EEXIST, "%s %s: already exists", plural, name);
            goto out;
        }
        if (rc != OMLOP_ENOTFOUND)
            goto out;
        omlop_err_clear(err);
    } else {
        object_store_text(next, &text);
        if ((rc = store_create(st, key.buf, text.buf, text.len, &rev, err)) != 0)
            goto out;
        /* right after the object, so a crash loses at most this entry */
        if (keeps_history(plural))
            history_after_write(st, NULL, next);
        object_set_rv(next, rev);
    }
    res->obj = next;
    res->revision = rev;
    next = NULL;
    rc = 0;
out:
    json_object_put(next);
    strbuf_release(&key);
    text_release(&text);
    return rc;
}

static void copy_field(json_object *dst, const json_object *src, const char *key)
{
    json_object *v;

    if (json_object_object_get_ex((json_object *)src, key, &v))
        json_object_object_add(dst, key, cjson_copy(v));
    else
        json_object_object_del(dst, key);
}

/* Whether a and b agree on everything but metadata and status (the "spec"). */
static int spec_equal(const json_object *a, const json_object *b)
{
    json_object_object_foreach((json_object *)a, ka, va)
    {
        json_object *vb;

        if (strcmp(ka, "metadata") == 0 || strcmp(ka, "status") == 0)
            continue;
        if (!json_object_object_get_ex((json_object *)b, ka, &vb) || !cjson_equal(va, vb))
            return 0;
    }
    json_object_object_foreach((json_object *)b, kb, vb2)
    {
        (void)vb2;
        if (strcmp(kb, "metadata") == 0 || strcmp(kb, "status") == 0)
            continue;
        if (!json_object_object_get_ex((json_object *)a, kb, NULL))
            return 0;
    }
    return 1;
}

static size_t finalizer_count(const json_object *obj)
{
    json_object *f = cjson_get(obj, "metadata.finalizers");

    return json_object_is_type(f, json_type_array) ? json_object_array_length(f) : 0;
}

/* One attempt of obj_update. 1: lost a race that a retry may win. */
static int update_once(store *st, const char *plural, const char *name, const obj_update_opts *o,
                       obj_mutate_fn fn, void *ctx, obj_result *res, omlop_err *err)
{
    store_kv kv = {0};
    json_object *cur = NULL, *next = NULL, *meta;
    const char *uid;
    strbuf text = STRBUF_INIT;
    int64_t rev = 0;
    int rc;

    if ((rc = read_kv(st, plural, name, &kv, &cur, err)) != 0)
        goto out;
    uid = cjson_get_string(cur, "metadata.uid");
    if (o->expect_uid && (!uid || strcmp(uid, o->expect_uid) != 0)) {
        rc = omlop_err_set(err, OMLOP_ENOTFOUND, "%s %s: uid %s is gone (re-created as %s)", plural,
                           name, o->expect_uid, uid ? uid : "(none)");
        goto out;
    }
    if (o->expect_revision > 0 && o->expect_revision != kv.mod_revision) {
        rc = omlop_err_set(err, OMLOP_ECONFLICT,
                           "%s %s: the object has been modified (resourceVersion %lld, not %lld)",
                           plural, name, (long long)kv.mod_revision, (long long)o->expect_revision);
        goto out;
    }
    next = cjson_copy(cur);
    if ((rc = fn(next, cur, ctx, err)) < 0)
        goto out;
    if (rc == OBJ_UNCHANGED || !json_object_is_type(next, json_type_object)) {
        rc = 0;
        res->is_unchanged = 1;
        res->obj = json_object_get(cur);
        goto out;
    }
    if (o->is_status) {
        /* only the status is the caller's */
        json_object *st_only = cjson_copy(cur);

        copy_field(st_only, next, "status");
        json_object_put(next);
        next = st_only;
    }
    meta = object_meta(next);
    for (size_t i = 0; server_meta_fields[i]; i++)
        copy_field(meta, cjson_get(cur, "metadata"), server_meta_fields[i]);
    object_set_rv(next, kv.mod_revision);
    if (!o->is_status && !spec_equal(cur, next))
        json_object_object_add(
            meta, "generation",
            json_object_new_int64(cjson_get_int(cur, "metadata.generation", 1) + 1));
    if (cjson_get(cur, "metadata.deletionTimestamp") && finalizer_count(next) == 0) {
        /* the last finalizer is gone: the deletion completes now */
        if (!(o->flags & OBJ_DRY_RUN)) {
            if ((rc = store_delete(st, kv.key, kv.mod_revision, &rev, err)) != 0)
                goto out;
            if (keeps_history(plural))
                history_after_delete(st, name); /* after the object: see history.h */
        }
        res->is_deleted = 1;
        goto done;
    }
    if (cjson_equal(cur, next)) {
        res->is_unchanged = 1; /* nothing changed: no write, same revision */
        goto done;
    }
    if (o->flags & OBJ_DRY_RUN)
        goto done;
    object_store_text(next, &text);
    if ((rc = store_update(st, kv.key, text.buf, text.len, kv.mod_revision, &rev, err)) != 0)
        goto out;
    /* rollout history: only when the spec changed (it checks), right after the object */
    if (keeps_history(plural))
        history_after_write(st, cur, next);
    object_set_rv(next, rev);
done:
    res->revision = rev;
    res->obj = next;
    next = NULL;
    rc = 0;
out:
    json_object_put(next);
    json_object_put(cur);
    store_kv_release(&kv);
    text_release(&text);
    return rc;
}

int obj_update(store *st, const char *plural, const char *name, const obj_update_opts *o,
               obj_mutate_fn fn, void *ctx, obj_result *res, omlop_err *err)
{
    static const obj_update_opts defaults = {0};
    int rc = 0;

    if (!o)
        o = &defaults;
    memset(res, 0, sizeof(*res));
    for (int attempt = 0; attempt < OBJ_WRITE_RETRIES; attempt++) {
        rc = update_once(st, plural, name, o, fn, ctx, res, err);
        if (rc != OMLOP_ECONFLICT || o->expect_revision > 0)
            return rc;
        if (attempt + 1 < OBJ_WRITE_RETRIES)
            omlop_err_clear(err); /* lost a race: read again */
    }
    return rc;
}

static int status_replace_mutate(json_object *next, const json_object *cur, void *ctx,
                                 omlop_err *err)
{
    (void)cur;
    (void)err;
    json_object_object_add(next, "status", cjson_copy(ctx));
    return 0;
}

int obj_status_replace(store *st, const char *plural, const json_object *obj, json_object *status,
                       omlop_err *err)
{
    obj_update_opts o = {0};
    obj_result res = {0};
    int rc;

    o.expect_uid = cjson_get_string(obj, "metadata.uid");
    o.is_status = 1;
    json_object_object_add(status, "observedGeneration",
                           json_object_new_int64(cjson_get_int(obj, "metadata.generation", 0)));
    rc = obj_update(st, plural, cjson_get_string(obj, "metadata.name"), &o, status_replace_mutate,
                    status, &res, err);
    obj_result_release(&res);
    if (rc == OMLOP_ENOTFOUND) {
        omlop_err_clear(err);
        rc = 0; /* deleted (or re-created) meanwhile */
    }
    return rc;
}

int obj_delete(store *st, const char *plural, const char *name, const obj_delete_opts *o,
               obj_result *res, omlop_err *err)
{
    static const obj_delete_opts defaults = {0};
    int rc = 0;

    if (!o)
        o = &defaults;
    memset(res, 0, sizeof(*res));
    for (int attempt = 0; attempt < OBJ_WRITE_RETRIES; attempt++) {
        store_kv kv = {0};
        json_object *cur = NULL, *next = NULL, *meta;
        strbuf text = STRBUF_INIT;
        const char *uid;
        int64_t rev = 0;
        char now[32];

        if ((rc = read_kv(st, plural, name, &kv, &cur, err)) != 0)
            return rc;
        uid = cjson_get_string(cur, "metadata.uid");
        if (o->expect_uid && (!uid || strcmp(uid, o->expect_uid) != 0)) {
            res->is_uid_mismatch = 1;
            rc = omlop_err_set(err, OMLOP_ECONFLICT,
                               "Precondition failed: UID in precondition: %s, UID in object "
                               "meta: %s",
                               o->expect_uid, uid ? uid : "");
        } else if (o->expect_revision > 0 && o->expect_revision != kv.mod_revision) {
            rc = omlop_err_set(err, OMLOP_ECONFLICT,
                               "%s %s: the object has been modified (resourceVersion %lld, not "
                               "%lld)",
                               plural, name, (long long)kv.mod_revision,
                               (long long)o->expect_revision);
        } else if (finalizer_count(cur) > 0 && cjson_get(cur, "metadata.deletionTimestamp")) {
            res->obj = json_object_get(cur); /* already being deleted */
            res->is_unchanged = 1;
        } else if (finalizer_count(cur) > 0) {
            next = cjson_copy(cur);
            meta = object_meta(next);
            object_time_format(time(NULL), now);
            json_object_object_add(meta, "deletionTimestamp", json_object_new_string(now));
            json_object_object_add(
                meta, "generation",
                json_object_new_int64(cjson_get_int(cur, "metadata.generation", 1) + 1));
            if (!(o->flags & OBJ_DRY_RUN)) {
                object_store_text(next, &text);
                rc = store_update(st, kv.key, text.buf, text.len, kv.mod_revision, &rev, err);
                if (rc == 0)
                    object_set_rv(next, rev);
            }
            if (rc == 0) {
                res->obj = next;
                res->revision = rev;
                next = NULL;
            }
        } else if (o->flags & OBJ_DRY_RUN) {
            res->obj = json_object_get(cur);
            res->is_deleted = 1;
        } else if ((rc = store_delete(st, kv.key, kv.mod_revision, &rev, err)) == 0) {
            if (keeps_history(plural))
                history_after_delete(st, name); /* after the object: see history.h */
            res->obj = json_object_get(cur);
            res->revision = rev;
            res->is_deleted = 1;
        }
        text_release(&text);
        json_object_put(next);
        json_object_put(cur);
        store_kv_release(&kv);
        if (rc != OMLOP_ECONFLICT || o->expect_revision > 0 || res->is_uid_mismatch)
            return rc;
        if (attempt + 1 < OBJ_WRITE_RETRIES)
            omlop_err_clear(err);
    }
    return rc;
}
