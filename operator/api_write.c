/* api_write: create, update, patch and delete with Kubernetes semantics over the store. */
#include "api_write.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/xalloc.h"
#include "objects/history.h"
#include "objects/objects.h"
#include "operator/api_history.h"
#include "operator/api_patch.h"
#include "operator/api_status.h"

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
        json_object_object_add(dst, key, cjson_copy(v));
    else
        json_object_object_del(dst, key);
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
    json_object_object_del(object_meta(obj), "resourceVersion");
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
    json_object *meta = object_meta(obj), *decoded = NULL;
    const char *name = object_name(obj);
    const char *gen = cjson_get_string(meta, "generateName");
    strbuf gname = STRBUF_INIT;
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;

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
    name = object_name(obj);
    if (!name || !*name) {
        api_rr_invalid1(rr, "", "metadata.name", "FieldValueRequired",
                        "name or generateName is required");
        goto out;
    }
    drop_meta(meta, dropped_meta_fields);
    drop_meta(meta, server_meta_fields);
    json_object_object_del(meta, "resourceVersion");
    if (rr->kind->has_status)
        json_object_object_del(obj, "status"); /* status is written through /status only */
    decoded = decode(rr, name, obj);
    if (!decoded)
        goto out;
    name = object_name(decoded);
    if (!name) {
        api_rr_invalid1(rr, "", "metadata.name", "FieldValueRequired", "name is required");
        goto out;
    }
    snprintf(rr->created, sizeof(rr->created), "%s", name);
    /* the write path stamps uid, creationTimestamp and generation, and keeps the history */
    if (obj_create(rr->a->store, rr->kind->plural, decoded, rr->is_dry_run ? OBJ_DRY_RUN : 0, &res,
                   &err) != 0) {
        api_rr_store_error(rr, name, &err);
        goto out;
    }
    if (rr->is_dry_run)
        audit_note_dry_run(rr, res.obj);
    api_rr_respond_object(rr, 201, res.obj);
out:
    json_object_put(decoded);
    obj_result_release(&res);
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
        next = cjson_copy(cur);
        copy_field(next, incoming, "status");
        return next;
    }
    next = cjson_copy(incoming);
    meta = object_meta(next);
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

/* Make obj's members those of src (copies): a mutate function edits in place. */
static void replace_contents(json_object *obj, const json_object *src)
{
    /* the loop keeps the next entry before the body runs: deleting the current one is safe */
    json_object_object_foreach(obj, key, v)
    {
        (void)v;
        json_object_object_del(obj, key);
    }
    json_object_object_foreach((json_object *)src, skey, sv)
    {
        json_object_object_add(obj, skey, cjson_copy(sv));
    }
}

typedef enum patch_type { PATCH_NONE, PATCH_MERGE, PATCH_STRATEGIC, PATCH_APPLY } patch_type;

/* What an update or a patch asks the write path (objects/objects.h) to do. */
typedef struct write_ctx {
    api_rr *rr;
    const json_object *incoming; /* the PUT body, or the patch */
    patch_type pt;               /* PATCH_NONE for a PUT */
    size_t warnings_len;         /* warnings before the first attempt: a retry warns again */
    int has_answered;            /* the mutate function answered the request (4xx) */
} write_ctx;

static int check_body_name(api_rr *rr, json_object *obj);
static json_object *apply_lite(const json_object *cur, const json_object *manifest);

/* An obj_mutate_fn: the object the request makes of cur, validated by the resource model. */
static int mutate_request(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    write_ctx *w = ctx;
    api_rr *rr = w->rr;
    json_object *patched = NULL, *want = NULL, *decoded = NULL;
    const json_object *incoming = w->incoming;
    const char *added;
    int rc = 0;

    strbuf_setlen(&rr->resp->warnings, w->warnings_len);
    if (w->pt != PATCH_NONE) {
        if (w->pt == PATCH_MERGE)
            patched = api_merge_patch(cur, w->incoming);
        else if (w->pt == PATCH_STRATEGIC)
            patched = api_strategic_patch(cur, w->incoming);
        else
            patched = apply_lite(cur, w->incoming);
        if (!json_object_is_type(patched, json_type_object)) {
            api_status_respond(rr->resp, 422, "the patch does not leave an object");
            goto answered;
        }
        if (api_rr_check_type(rr, patched) || check_body_name(rr, patched) ||
            api_rr_field_validation(rr, patched))
            goto answered;
        incoming = patched;
    }
    want = next_object(rr, cur, incoming);
    if (cjson_get(cur, "metadata.deletionTimestamp") && (added = added_finalizer(cur, want))) {
        char msg[600];

        snprintf(msg, sizeof(msg),
                 "no new finalizers can be added if the object is being deleted, found new "
                 "finalizer %s",
                 added);
        api_rr_invalid1(rr, rr->name, "metadata.finalizers", "FieldValueForbidden", msg);
        goto answered;
    }
    decoded = decode(rr, rr->name, want);
    if (!decoded)
        goto answered;
    replace_contents(next, decoded);
    goto out;
answered:
    w->has_answered = 1;
    rc = omlop_err_set(err, OMLOP_EINVAL, "answered");
out:
    json_object_put(patched);
    json_object_put(want);
    json_object_put(decoded);
    return rc;
}

/*
 * Write the request's change through the write path and answer it. Returns OMLOP_ENOTFOUND
 * without answering when the object does not exist and quiet_not_found is set.
 */
static int commit(api_rr *rr, const json_object *incoming, patch_type pt, int64_t expect_rv,
                  int quiet_not_found)
{
    write_ctx w = {rr, incoming, pt, rr->resp->warnings.len, 0};
    obj_update_opts o = {0};
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;
    int rc;

    o.expect_revision = expect_rv;
    o.is_status = rr->is_status;
    o.flags = rr->is_dry_run ? OBJ_DRY_RUN : 0;
    rc = obj_update(rr->a->store, rr->kind->plural, rr->name, &o, mutate_request, &w, &res, &err);
    if (rc == 0)
        api_rr_respond_object(rr, 200, res.obj);
    else if (!w.has_answered && !(quiet_not_found && rc == OMLOP_ENOTFOUND))
        api_rr_store_error(rr, rr->name, &err);
    obj_result_release(&res);
    return rc;
}

static int check_body_name(api_rr *rr, json_object *obj)
{
    const char *name = object_name(obj);

    if (name && strcmp(name, rr->name) != 0) {
        api_status_respond(rr->resp, 400,
                           "the name of the object (%s) does not match the name on the URL (%s)",
                           name, rr->name);
        return -1;
    }
    if (!name)
        json_object_object_add(object_meta(obj), "name", json_object_new_string(rr->name));
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
    json_object *obj = NULL;
    const char *rv;
    int64_t want;

    if (api_rr_parse_body(rr, &obj) || api_rr_check_type(rr, obj) || check_body_name(rr, obj))
        goto out;
    rv = cjson_get_string(obj, "metadata.resourceVersion");
    want = object_rv_parse(rv);
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
    if (want == 0) {
        conflict(rr); /* no object is ever at revision 0 */
        goto out;
    }
    commit(rr, obj, PATCH_NONE, want, 0);
out:
    json_object_put(obj);
}

/* Server-side apply, lite: the manifest's top-level fields replace the object's, its labels,
 * annotations and finalizers are merged in; nothing is tracked per field manager. */
static json_object *apply_lite(const json_object *cur, const json_object *manifest)
{
    json_object *next = cjson_copy(cur);
    json_object *meta = object_meta(next);
    json_object *mmeta = cjson_get(manifest, "metadata");

    json_object_object_foreach((json_object *)manifest, key, value)
    {
        if (strcmp(key, "metadata") == 0 || strcmp(key, "apiVersion") == 0 ||
            strcmp(key, "kind") == 0)
            continue;
        json_object_object_add(next, key, cjson_copy(value));
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
    if (explicit_rv && object_rv_parse(explicit_rv) < 0) {
        api_status_respond(rr->resp, 400, "metadata.resourceVersion '%s' is not a revision",
                           explicit_rv);
        goto out;
    }
    if (explicit_rv && object_rv_parse(explicit_rv) == 0) {
        conflict(rr); /* no object is ever at revision 0 */
        goto out;
    }
    if (commit(rr, patch, pt, explicit_rv ? object_rv_parse(explicit_rv) : 0, pt == PATCH_APPLY) ==
            OMLOP_ENOTFOUND &&
        pt == PATCH_APPLY) {
        /* server-side apply of an object that does not exist creates it */
        json_object *obj = cjson_copy(patch);

        if (rr->is_status)
            api_rr_not_found(rr, rr->name);
        else if (api_rr_field_validation(rr, obj) == 0)
            create_object(rr, obj, rr->name);
        json_object_put(obj);
    }
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
        *want_rv = object_rv_parse(rv);
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
    obj_delete_opts o = {0};
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;

    if (delete_options(rr, &want_uid, &o.expect_revision))
        goto out;
    if (o.expect_revision == 0) {
        conflict(rr); /* no object is ever at revision 0 */
        goto out;
    }
    o.expect_uid = want_uid;
    o.flags = rr->is_dry_run ? OBJ_DRY_RUN : 0;
    if (obj_delete(rr->a->store, rr->kind->plural, rr->name, &o, &res, &err) == 0) {
        api_rr_respond_object(rr, 200, res.obj);
    } else if (res.is_uid_mismatch) {
        json_object *st = api_status_new(409, "Conflict", err.msg);

        api_status_set_details(st, rr->name, OMLOP_GROUP, rr->kind->plural);
        api_status_respond_obj(rr->resp, st);
        json_object_put(st);
    } else {
        api_rr_store_error(rr, rr->name, &err);
    }
out:
    obj_result_release(&res);
    free(want_uid);
}
