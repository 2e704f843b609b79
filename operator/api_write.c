/* api_write: create, update, patch and delete with Kubernetes semantics over the store. */
#include "api_write.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lib/cjson.h"
#include "lib/xalloc.h"
#include "operator/api_history.h"
#include "operator/api_object.h"
#include "operator/api_patch.h"
#include "operator/api_status.h"

/* Attempts of a patch or delete that lost a race with another writer. */
#define WRITE_RETRIES 5

/* Metadata fields only the server sets; a client's values are replaced. */
static const char *const server_meta_fields[] = {"uid", "creationTimestamp", "generation",
                                                 "deletionTimestamp", NULL};

/*
 * Metadata fields Kubernetes clients send that omlop does not keep: namespace
 * (every kind is cluster-scoped), generateName (used once, at create), and the
 * ones only a Kubernetes API server maintains.
 */
static const char *const dropped_meta_fields[] = {
    "namespace", "generateName", "selfLink", "managedFields", "deletionGracePeriodSeconds", NULL};

static void drop_meta(json_object *meta, const char *const *fields)
{
    for (size_t i = 0; fields[i]; i++)
        json_object_object_del(meta, fields[i]);
}

static void copy_field(json_object *dst, const json_object *src, const char *key)
{
    json_object *v;

    if (json_object_object_get_ex((json_object *)src, key, &v))
        json_object_object_add(dst, key, api_json_copy(v));
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

static int has_finalizer(const json_object *obj, const char *name)
{
    json_object *f = cjson_get(obj, "metadata.finalizers");

    for (size_t i = 0; json_object_is_type(f, json_type_array) && i < json_object_array_length(f);
         i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(f, i));

        if (s && strcmp(s, name) == 0)
            return 1;
    }
    return 0;
}

/* The first finalizer of next that cur lacks, or NULL. */
static const char *added_finalizer(const json_object *cur, const json_object *next)
{
    json_object *f = cjson_get(next, "metadata.finalizers");

    for (size_t i = 0; json_object_is_type(f, json_type_array) && i < json_object_array_length(f);
         i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(f, i));

        if (s && !has_finalizer(cur, s))
            return s;
    }
    return NULL;
}

static void audit_note_dry_run(api_rr *rr, json_object *obj)
{
    /* a dry run shows what would be stored, without a revision of its own */
    (void)rr;
    json_object_object_del(api_object_meta(obj), "resourceVersion");
}

/*
 * A Secret's stringData is write-only, as in Kubernetes: each value moves into
 * data, base64-encoded (stringData wins over data for the same key), so what is
 * stored and read back has one form.
 */
static void fold_string_data(api_rr *rr, json_object *obj)
{
    json_object *sd, *data;

    if (strcmp(rr->kind->kind, "Secret") != 0 ||
        !json_object_object_get_ex(obj, "stringData", &sd) ||
        !json_object_is_type(sd, json_type_object))
        return;
    if (!json_object_object_get_ex(obj, "data", &data) ||
        !json_object_is_type(data, json_type_object)) {
        data = json_object_new_object();
        json_object_object_add(obj, "data", data);
    }
    json_object_object_foreach(sd, key, value)
    {
        const char *plain = json_object_get_string(value);
        size_t n = plain ? strlen(plain) : 0;
        unsigned char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);

        EVP_EncodeBlock(b64, (const unsigned char *)(plain ? plain : ""), (int)n);
        json_object_object_add(data, key, json_object_new_string((const char *)b64));
        free(b64);
    }
    json_object_object_del(obj, "stringData");
}

/* Validate with the resource model; on errors answer 422 and return NULL. */
static json_object *decode(api_rr *rr, const char *name, const json_object *obj)
{
    diag_list *diags = diag_list_new();
    json_object *out = NULL;

    if (schema_set_decode_json(rr->a->schemas, obj, &out, diags) != 0 || !out) {
        if (diag_list_count(diags) == 0)
            diag_add(diags, NULL, 0, 0, NULL, "the object does not decode");
        api_rr_invalid(rr, name, diags);
        json_object_put(out);
        out = NULL;
    } else {
        fold_string_data(rr, out);
    }
    diag_list_free(diags);
    return out;
}

/* Kubernetes' generateName suffix: 5 characters without vowels or look-alikes. */
static void generate_suffix(char out[6])
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    unsigned char r[5];

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        abort();
    for (int i = 0; i < 5; i++)
        out[i] = alphabet[r[i] % (sizeof(alphabet) - 1)];
    out[5] = '\0';
}

/* Create obj (owned by the caller); url_name is the name the path gave (apply), or NULL. */
static void create_object(api_rr *rr, json_object *obj, const char *url_name)
{
    json_object *meta = api_object_meta(obj), *decoded = NULL;
    const char *name = api_object_name(obj);
    const char *gen = cjson_get_string(meta, "generateName");
    strbuf key = STRBUF_INIT, text = STRBUF_INIT, gname = STRBUF_INIT;
    char uid[37], now[32];
    omlop_err err = OMLOP_ERR_INIT;
    int64_t rev = 0;

    if (url_name) {
        if (name && strcmp(name, url_name) != 0) {
            api_status_respond(rr->resp, 400,
                               "the name of the object (%s) does not match the name on the URL "
                               "(%s)",
                               name, url_name);
            goto out;
        }
        json_object_object_add(meta, "name", json_object_new_string(url_name));
    } else if ((!name || !*name) && gen && *gen) {
        char suffix[6];

        generate_suffix(suffix);
        strbuf_addf(&gname, "%s%s", gen, suffix);
        json_object_object_add(meta, "name", json_object_new_string(gname.buf));
    }
    name = api_object_name(obj);
    if (!name || !*name) {
        api_rr_invalid1(rr, "", "metadata.name", "FieldValueRequired",
                        "name or generateName is required");
        goto out;
    }
    drop_meta(meta, dropped_meta_fields);
    drop_meta(meta, server_meta_fields);
    json_object_object_del(meta, "resourceVersion");
    api_uid_new(uid);
    api_time_format(time(NULL), now);
    json_object_object_add(meta, "uid", json_object_new_string(uid));
    json_object_object_add(meta, "creationTimestamp", json_object_new_string(now));
    json_object_object_add(meta, "generation", json_object_new_int64(1));
    if (rr->kind->has_status)
        json_object_object_del(obj, "status"); /* status is written through /status only */
    decoded = decode(rr, name, obj);
    if (!decoded)
        goto out;
    name = api_object_name(decoded);
    if (!name) {
        api_rr_invalid1(rr, "", "metadata.name", "FieldValueRequired", "name is required");
        goto out;
    }
    api_object_key(&key, rr->kind->plural, name);
    snprintf(rr->created, sizeof(rr->created), "%s", name);
    if (rr->is_dry_run) {
        /* still tell the client about a name that is taken */
        store_kv kv = {0};

        if (store_get(rr->a->store, key.buf, &kv, &err) == 0) {
            store_kv_release(&kv);
            omlop_err_set(&err, OMLOP_EEXIST, "exists");
            api_rr_store_error(rr, name, &err);
            goto out;
        }
        audit_note_dry_run(rr, decoded);
        api_rr_respond_object(rr, 201, decoded);
        goto out;
    }
    api_object_store_text(decoded, &text);
    if (store_create(rr->a->store, key.buf, text.buf, text.len, &rev, &err) != 0) {
        api_rr_store_error(rr, name, &err);
        goto out;
    }
    /* rollout history: right after the object, so a crash loses at most this entry */
    if (api_history_applies(rr->kind))
        api_history_after_write(rr->a->store, NULL, decoded);
    api_object_set_rv(decoded, rev);
    api_rr_respond_object(rr, 201, decoded);
out:
    json_object_put(decoded);
    strbuf_release(&key);
    strbuf_release(&text);
    strbuf_release(&gname);
}

void api_write_create(api_rr *rr)
{
    json_object *obj = NULL;

    if (api_rr_parse_body(rr, &obj) || api_rr_check_type(rr, obj) ||
        api_rr_field_validation(rr, obj))
        goto out;
    create_object(rr, obj, NULL);
out:
    json_object_put(obj);
}

/* The object an update of cur with incoming would store, before validation. */
static json_object *next_object(api_rr *rr, const json_object *cur, const json_object *incoming)
{
    json_object *next, *meta;
    const json_object *cur_meta = cjson_get(cur, "metadata");

    if (rr->is_status) {
        next = api_json_copy(cur);
        copy_field(next, incoming, "status");
        return next;
    }
    next = api_json_copy(incoming);
    meta = api_object_meta(next);
    drop_meta(meta, dropped_meta_fields);
    for (size_t i = 0; server_meta_fields[i]; i++)
        copy_field(meta, cur_meta, server_meta_fields[i]);
    copy_field(meta, cur_meta, "resourceVersion");
    json_object_object_add(next, "apiVersion", json_object_new_string(OMLOP_API_VERSION));
    json_object_object_add(next, "kind", json_object_new_string(rr->kind->kind));
    if (rr->kind->has_status)
        copy_field(next, cur, "status");
    return next;
}

/*
 * Store incoming as the new state of the object cur (read at kv). Answers the
 * request, except when the store reports a concurrent write and may_retry is
 * set: then it answers nothing and returns 1.
 */
static int commit_update(api_rr *rr, const store_kv *kv, const json_object *cur,
                         const json_object *incoming, int may_retry)
{
    const char *name = rr->name;
    json_object *next = next_object(rr, cur, incoming), *decoded = NULL;
    strbuf text = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    const char *added;
    int64_t rev = 0;
    int rc = 0;

    if (cjson_get(cur, "metadata.deletionTimestamp") && (added = added_finalizer(cur, next))) {
        char msg[600];

        snprintf(msg, sizeof(msg),
                 "no new finalizers can be added if the object is being deleted, found new "
                 "finalizer %s",
                 added);
        api_rr_invalid1(rr, name, "metadata.finalizers", "FieldValueForbidden", msg);
        goto out;
    }
    decoded = decode(rr, name, next);
    if (!decoded)
        goto out;
    api_object_set_rv(decoded, kv->mod_revision);
    if (!rr->is_status && !spec_equal(cur, decoded))
        json_object_object_add(
            api_object_meta(decoded), "generation",
            json_object_new_int64(cjson_get_int(cur, "metadata.generation", 1) + 1));
    if (cjson_get(cur, "metadata.deletionTimestamp") && finalizer_count(decoded) == 0) {
        /* the last finalizer is gone: the deletion completes now */
        if (!rr->is_dry_run &&
            store_delete(rr->a->store, kv->key, kv->mod_revision, &rev, &err) != 0) {
            if (err.code == OMLOP_ECONFLICT && may_retry) {
                rc = 1;
                goto out;
            }
            api_rr_store_error(rr, name, &err);
            goto out;
        }
        if (!rr->is_dry_run && api_history_applies(rr->kind))
            api_history_after_delete(rr->a->store, name); /* after the object: see api_history.h */
        api_rr_respond_object(rr, 200, decoded);
        goto out;
    }
    if (cjson_equal(cur, decoded)) {
        api_rr_respond_object(rr, 200, cur); /* nothing changed: no write, same revision */
        goto out;
    }
    if (rr->is_dry_run) {
        api_rr_respond_object(rr, 200, decoded);
        goto out;
    }
    api_object_store_text(decoded, &text);
    if (store_update(rr->a->store, kv->key, text.buf, text.len, kv->mod_revision, &rev, &err) !=
        0) {
        if (err.code == OMLOP_ECONFLICT && may_retry) {
            rc = 1;
            goto out;
        }
        api_rr_store_error(rr, name, &err);
        goto out;
    }
    /* rollout history: only when the spec changed (it checks), right after the object */
    if (api_history_applies(rr->kind))
        api_history_after_write(rr->a->store, cur, decoded);
    api_object_set_rv(decoded, rev);
    api_rr_respond_object(rr, 200, decoded);
out:
    json_object_put(next);
    json_object_put(decoded);
    strbuf_release(&text);
    return rc;
}

/* Read the object of rr into kv/cur; answers 404 (or another error) itself. */
static int read_current(api_rr *rr, store_kv *kv, json_object **cur, int quiet_not_found)
{
    strbuf key = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    int rc;

    api_object_key(&key, rr->kind->plural, rr->name);
    rc = store_get(rr->a->store, key.buf, kv, &err);
    strbuf_release(&key);
    if (rc) {
        if (!(quiet_not_found && err.code == OMLOP_ENOTFOUND))
            api_rr_store_error(rr, rr->name, &err);
        return err.code ? err.code : rc;
    }
    if (api_object_from_kv(kv, cur, &err) != 0) {
        api_status_respond_err(rr->resp, &err);
        store_kv_release(kv);
        return err.code;
    }
    return 0;
}

static int check_body_name(api_rr *rr, json_object *obj)
{
    const char *name = api_object_name(obj);

    if (name && strcmp(name, rr->name) != 0) {
        api_status_respond(rr->resp, 400,
                           "the name of the object (%s) does not match the name on the URL (%s)",
                           name, rr->name);
        return -1;
    }
    if (!name)
        json_object_object_add(api_object_meta(obj), "name", json_object_new_string(rr->name));
    return 0;
}

static void conflict(api_rr *rr)
{
    omlop_err err = OMLOP_ERR_INIT;

    omlop_err_set(&err, OMLOP_ECONFLICT, "stale");
    api_rr_store_error(rr, rr->name, &err);
}

void api_write_update(api_rr *rr)
{
    json_object *obj = NULL, *cur = NULL;
    store_kv kv = {0};
    const char *rv;
    int64_t want;

    if (api_rr_parse_body(rr, &obj) || api_rr_check_type(rr, obj) || check_body_name(rr, obj))
        goto out;
    rv = cjson_get_string(obj, "metadata.resourceVersion");
    want = api_rv_parse(rv);
    if (!rv || !*rv) {
        api_rr_invalid1(rr, rr->name, "metadata.resourceVersion", "FieldValueInvalid",
                        "must be specified for an update");
        goto out;
    }
    if (want < 0) {
        api_status_respond(rr->resp, 400, "metadata.resourceVersion '%s' is not a revision", rv);
        goto out;
    }
    if (api_rr_field_validation(rr, obj))
        goto out;
    if (read_current(rr, &kv, &cur, 0))
        goto out;
    if (want != kv.mod_revision) {
        conflict(rr);
        goto out;
    }
    commit_update(rr, &kv, cur, obj, 0);
out:
    json_object_put(obj);
    json_object_put(cur);
    store_kv_release(&kv);
}

typedef enum patch_type { PATCH_MERGE, PATCH_STRATEGIC, PATCH_APPLY } patch_type;

/* Server-side apply, lite: the manifest's top-level fields replace the object's, its labels,
 * annotations and finalizers are merged in; nothing is tracked per field manager. */
static json_object *apply_lite(const json_object *cur, const json_object *manifest)
{
    json_object *next = api_json_copy(cur);
    json_object *meta = api_object_meta(next);
    json_object *mmeta = cjson_get(manifest, "metadata");

    json_object_object_foreach((json_object *)manifest, key, value)
    {
        if (strcmp(key, "metadata") == 0 || strcmp(key, "apiVersion") == 0 ||
            strcmp(key, "kind") == 0)
            continue;
        json_object_object_add(next, key, api_json_copy(value));
    }
    if (json_object_is_type(mmeta, json_type_object)) {
        static const char *const merged[] = {"labels", "annotations", NULL};

        for (size_t i = 0; merged[i]; i++) {
            json_object *src = json_object_object_get(mmeta, merged[i]);

            if (json_object_is_type(src, json_type_object)) {
                json_object *dst = json_object_object_get(meta, merged[i]);
                json_object *m = api_merge_patch(dst, src);

                json_object_object_add(meta, merged[i], m);
            }
        }
        if (json_object_object_get(mmeta, "finalizers"))
            copy_field(meta, mmeta, "finalizers");
        if (json_object_object_get(mmeta, "ownerReferences"))
            copy_field(meta, mmeta, "ownerReferences");
    }
    return next;
}

static int patch_type_of(api_rr *rr, patch_type *pt)
{
    const char *ct = rr->req->content_type;

    if (ct && strcmp(ct, "application/merge-patch+json") == 0)
        *pt = PATCH_MERGE;
    else if (ct && strcmp(ct, "application/strategic-merge-patch+json") == 0)
        *pt = PATCH_STRATEGIC;
    else if (ct && strcmp(ct, "application/apply-patch+yaml") == 0)
        *pt = PATCH_APPLY;
    else {
        api_status_respond(rr->resp, 415,
                           "the body of a PATCH must be application/merge-patch+json, "
                           "application/strategic-merge-patch+json or "
                           "application/apply-patch+yaml, not %s",
                           ct ? ct : "(no Content-Type)");
        return -1;
    }
    return 0;
}

void api_write_patch(api_rr *rr)
{
    json_object *patch = NULL;
    patch_type pt;
    const char *explicit_rv;

    if (patch_type_of(rr, &pt) || api_rr_parse_body(rr, &patch))
        goto out;
    if (pt == PATCH_APPLY) {
        const char *fm = api_request_param(rr->req, "fieldManager");

        if (!fm || !*fm) {
            api_status_respond(rr->resp, 400,
                               "PATCH with application/apply-patch+yaml needs ?fieldManager= "
                               "(kubectl sends it with --server-side)");
            goto out;
        }
        if (api_rr_check_type(rr, patch) || check_body_name(rr, patch))
            goto out;
    }
    explicit_rv = cjson_get_string(patch, "metadata.resourceVersion");
    if (explicit_rv && api_rv_parse(explicit_rv) < 0) {
        api_status_respond(rr->resp, 400, "metadata.resourceVersion '%s' is not a revision",
                           explicit_rv);
        goto out;
    }
    for (int attempt = 0; attempt < WRITE_RETRIES; attempt++) {
        store_kv kv = {0};
        json_object *cur = NULL, *next = NULL;
        int rc = read_current(rr, &kv, &cur, pt == PATCH_APPLY);
        int again = 0;

        if (rc == OMLOP_ENOTFOUND && pt == PATCH_APPLY && !rr->is_status) {
            json_object *obj = api_json_copy(patch);

            if (api_rr_field_validation(rr, obj) == 0)
                create_object(rr, obj, rr->name);
            json_object_put(obj);
            goto out;
        }
        if (rc) {
            if (rc == OMLOP_ENOTFOUND && pt == PATCH_APPLY)
                api_rr_not_found(rr, rr->name);
            goto out;
        }
        if (explicit_rv && api_rv_parse(explicit_rv) != kv.mod_revision) {
            conflict(rr);
        } else {
            if (pt == PATCH_MERGE)
                next = api_merge_patch(cur, patch);
            else if (pt == PATCH_STRATEGIC)
                next = api_strategic_patch(cur, patch);
            else
                next = apply_lite(cur, patch);
            if (!json_object_is_type(next, json_type_object)) {
                api_status_respond(rr->resp, 422, "the patch does not leave an object");
            } else if (api_rr_check_type(rr, next) == 0 && check_body_name(rr, next) == 0 &&
                       api_rr_field_validation(rr, next) == 0) {
                again = commit_update(rr, &kv, cur, next, explicit_rv == NULL);
            }
        }
        json_object_put(next);
        json_object_put(cur);
        store_kv_release(&kv);
        if (!again)
            goto out;
        strbuf_reset(&rr->resp->warnings); /* the next attempt warns again */
    }
    conflict(rr);
out:
    json_object_put(patch);
}

/* DeleteOptions: preconditions and dryRun from the optional body. */
static int delete_options(api_rr *rr, char **want_uid, int64_t *want_rv)
{
    json_object *opts = NULL, *dr;
    const char *uid, *rv;

    *want_uid = NULL;
    *want_rv = -1;
    if (!rr->req->body || rr->req->body_len == 0)
        return 0;
    if (api_rr_parse_body(rr, &opts))
        return -1;
    uid = cjson_get_string(opts, "preconditions.uid");
    rv = cjson_get_string(opts, "preconditions.resourceVersion");
    if (uid)
        *want_uid = xstrdup(uid);
    if (rv) {
        *want_rv = api_rv_parse(rv);
        if (*want_rv < 0) {
            api_status_respond(rr->resp, 400,
                               "preconditions.resourceVersion '%s' is not a revision", rv);
            json_object_put(opts);
            return -1;
        }
    }
    dr = json_object_object_get(opts, "dryRun");
    if (json_object_is_type(dr, json_type_array) && json_object_array_length(dr) > 0) {
        const char *v = json_object_get_string(json_object_array_get_idx(dr, 0));

        if (!v || strcmp(v, "All") != 0) {
            api_status_respond(rr->resp, 400, "dryRun '%s' is not supported; the only value is All",
                               v ? v : "");
            json_object_put(opts);
            return -1;
        }
        rr->is_dry_run = 1;
    }
    json_object_put(opts);
    return 0;
}

void api_write_delete(api_rr *rr)
{
    char *want_uid = NULL;
    int64_t want_rv;

    if (delete_options(rr, &want_uid, &want_rv))
        goto out;
    for (int attempt = 0; attempt < WRITE_RETRIES; attempt++) {
        store_kv kv = {0};
        json_object *cur = NULL, *next = NULL;
        omlop_err err = OMLOP_ERR_INIT;
        strbuf text = STRBUF_INIT;
        const char *uid;
        int64_t rev = 0;
        int again = 0;

        if (read_current(rr, &kv, &cur, 0))
            goto out;
        uid = cjson_get_string(cur, "metadata.uid");
        if (want_uid && (!uid || strcmp(uid, want_uid) != 0)) {
            char msg[512];
            json_object *st;

            snprintf(msg, sizeof(msg),
                     "Precondition failed: UID in precondition: %s, UID in object meta: %s",
                     want_uid, uid ? uid : "");
            st = api_status_new(409, "Conflict", msg);
            api_status_set_details(st, rr->name, OMLOP_GROUP, rr->kind->plural);
            api_status_respond_obj(rr->resp, st);
            json_object_put(st);
        } else if (want_rv >= 0 && want_rv != kv.mod_revision) {
            conflict(rr);
        } else if (finalizer_count(cur) > 0) {
            if (cjson_get(cur, "metadata.deletionTimestamp")) {
                api_rr_respond_object(rr, 200, cur); /* already being deleted */
            } else {
                char now[32];
                json_object *meta;

                next = api_json_copy(cur);
                meta = api_object_meta(next);
                api_time_format(time(NULL), now);
                json_object_object_add(meta, "deletionTimestamp", json_object_new_string(now));
                json_object_object_add(
                    meta, "generation",
                    json_object_new_int64(cjson_get_int(cur, "metadata.generation", 1) + 1));
                api_object_store_text(next, &text);
                if (rr->is_dry_run) {
                    api_rr_respond_object(rr, 200, next);
                } else if (store_update(rr->a->store, kv.key, text.buf, text.len, kv.mod_revision,
                                        &rev, &err) == 0) {
                    api_object_set_rv(next, rev);
                    api_rr_respond_object(rr, 200, next);
                } else if (err.code == OMLOP_ECONFLICT && want_rv < 0) {
                    again = 1;
                } else {
                    api_rr_store_error(rr, rr->name, &err);
                }
            }
        } else if (rr->is_dry_run) {
            api_rr_respond_object(rr, 200, cur);
        } else if (store_delete(rr->a->store, kv.key, kv.mod_revision, &rev, &err) == 0) {
            if (api_history_applies(rr->kind))
                api_history_after_delete(rr->a->store, rr->name); /* after the object */
            api_rr_respond_object(rr, 200, cur);
        } else if (err.code == OMLOP_ECONFLICT && want_rv < 0) {
            again = 1;
        } else {
            api_rr_store_error(rr, rr->name, &err);
        }
        strbuf_release(&text);
        json_object_put(next);
        json_object_put(cur);
        store_kv_release(&kv);
        if (!again)
            goto out;
    }
    conflict(rr);
out:
    free(want_uid);
}
