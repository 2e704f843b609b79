/* gitsource: fetch a repository folder, validate all of a commit, then apply it (gitsource.h). */
#include "reconcilers/gitsource.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/git.h"
#include "crds/diag.h"
#include "crds/mergepatch.h"
#include "crds/object.h"
#include "crds/selector.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "objects/objects.h"
#include "reconcilers/secrets.h"
#include "reconcilers/tenant_status.h"

/* Diagnostics quoted in the Ready condition of a commit that does not validate. */
#define MAX_DIAGS_IN_MESSAGE 10

/* map[key] as a string: label and annotation keys hold dots, which cjson_get would split. */
static const char *map_str(const json_object *obj, const char *map_path, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(cjson_get(obj, map_path), key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int get_bool(const json_object *obj, const char *path)
{
    json_object *v = cjson_get(obj, path);

    return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

int64_t gitsource_interval_ms(const char *s)
{
    char *end = NULL;
    long n;
    int64_t unit;

    if (!s || !*s)
        return GITSOURCE_DEFAULT_INTERVAL_MS;
    n = strtol(s, &end, 10);
    if (!end || end == s || n <= 0 || *end == '\0' || end[1] != '\0')
        return -1;
    unit = *end == 's' ? 1000 : *end == 'm' ? 60000 : *end == 'h' ? 3600000 : 0;
    if (!unit || (int64_t)n * unit > 24 * 3600000LL)
        return -1;
    return (int64_t)n * unit;
}

int gitsource_wants_sync(const json_object *obj)
{
    const char *req = map_str(obj, "metadata.annotations", GITSOURCE_SYNC_ANNOTATION);
    const char *handled = cjson_get_string(obj, "status.lastHandledSyncRequest");
    int64_t gen = cjson_get_int(obj, "metadata.generation", 0);
    int64_t seen = cjson_get_int(obj, "status.observedGeneration", 0);

    if (gen > seen)
        return 1;
    return req && *req && (!handled || strcmp(req, handled) != 0);
}

/* ---- status ------------------------------------------------------------------------------ */

typedef struct cond {
    const char *type, *status, *reason;
    char *message;
} cond;

/* What a status write sets: fields of .status (replaced whole) and conditions. */
typedef struct status_edit {
    json_object *fields;
    cond conds[4];
    int n_conds;
    int64_t generation;
} status_edit;

static void edit_init(status_edit *e, int64_t generation)
{
    memset(e, 0, sizeof(*e));
    e->fields = json_object_new_object();
    e->generation = generation;
}

static void edit_release(status_edit *e)
{
    json_object_put(e->fields);
    for (int i = 0; i < e->n_conds; i++)
        free(e->conds[i].message);
}

static void edit_cond(status_edit *e, const char *type, const char *status, const char *reason,
                      const char *fmt, ...) OMLOP_PRINTF(5, 6);
static void edit_cond(status_edit *e, const char *type, const char *status, const char *reason,
                      const char *fmt, ...)
{
    strbuf msg = STRBUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    e->conds[e->n_conds].type = type;
    e->conds[e->n_conds].status = status;
    e->conds[e->n_conds].reason = reason;
    e->conds[e->n_conds].message = strbuf_detach(&msg, NULL);
    e->n_conds++;
}

static void edit_str(status_edit *e, const char *key, const char *value)
{
    json_object_object_add(e->fields, key, value ? json_object_new_string(value) : NULL);
}

static int status_mutate(json_object *next, const json_object *cur, void *vctx, omlop_err *err)
{
    const status_edit *e = vctx;
    json_object *status = json_object_object_get(next, "status"), *conds;
    char now[32];

    (void)cur;
    (void)err;
    if (!json_object_is_type(status, json_type_object)) {
        status = json_object_new_object();
        json_object_object_add(next, "status", status);
    }
    json_object_object_foreach(e->fields, k, v)
    {
        json_object *copy = NULL;

        if (!v) {
            json_object_object_del(status, k);
            continue;
        }
        json_object_deep_copy(v, &copy, NULL);
        json_object_object_add(status, k, copy);
    }
    conds = json_object_object_get(status, "conditions");
    if (!json_object_is_type(conds, json_type_array)) {
        conds = json_object_new_array();
        json_object_object_add(status, "conditions", conds);
    }
    object_time_format(time(NULL), now);
    for (int i = 0; i < e->n_conds; i++)
        tenant_condition_set(conds, e->conds[i].type, e->conds[i].status, e->conds[i].reason,
                             e->conds[i].message, e->generation, now);
    json_object_object_add(status, "observedGeneration", json_object_new_int64(e->generation));
    return 0;
}

static int status_write(const gitsource_deps *d, const char *name, const status_edit *e,
                        omlop_err *err)
{
    obj_update_opts o = {0};
    obj_result r = {0};
    int rc;

    o.is_status = 1;
    rc = obj_update(d->st, GITSOURCE_PLURAL, name, &o, status_mutate, (void *)e, &r, err);
    obj_result_release(&r);
    return rc;
}

/* ---- one sync ---------------------------------------------------------------------------- */

/* One decoded document of the commit. */
typedef struct manifest {
    char *file;
    int line, col;
    json_object *obj;      /* decoded, defaults applied */
    json_object *modified; /* what apply stores: the given fields + label, annotation, record */
    const kind_info *kind;
} manifest;

typedef struct sync_run {
    const gitsource_deps *d;
    const char *name;
    json_object *src; /* the GitSource as read */
    char commit[GITCLIENT_OID_HEX + 1];
    manifest *m;
    size_t n_m;
    size_t created, configured, unchanged, pruned;
    strbuf conflicts_msg;
    json_object *conflicts, *orphaned; /* arrays of kind/name */
    strbuf apply_errors;
} sync_run;

static void run_release(sync_run *r)
{
    for (size_t i = 0; i < r->n_m; i++) {
        free(r->m[i].file);
        json_object_put(r->m[i].obj);
        json_object_put(r->m[i].modified);
    }
    free(r->m);
    json_object_put(r->src);
    json_object_put(r->conflicts);
    json_object_put(r->orphaned);
    strbuf_release(&r->conflicts_msg);
    strbuf_release(&r->apply_errors);
}

/* The credentials of spec.secretRef: missing keys stay NULL; the Secret itself must exist. */
static int read_creds(sync_run *r, gitclient_creds *c, strbuf vals[5], omlop_err *err)
{
    static const char *const keys[5] = {"identity", "knownHostKey", "username", "token", "ca.crt"};
    const char *secret = cjson_get_string(r->src, "spec.secretRef.name");
    secrets_ctx sctx = {0};
    const char **dst[5] = {&c->ssh_identity, &c->known_host_keys, &c->username, &c->token,
                           &c->ca_bundle};
    int rc = 0;

    memset(c, 0, sizeof(*c));
    if (!secret)
        return 0;
    sctx.st = r->d->st;
    /* secrets_ctx generates "<tenant>-postgres" and the like when missing: a name no Secret
     * can start with keeps a GitSource from ever generating one */
    sctx.tenant = "/";
    for (int i = 0; i < 5 && rc == 0; i++) {
        omlop_err e2 = OMLOP_ERR_INIT;
        int k = secrets_lookup(&sctx, secret, keys[i], &vals[i], &e2);

        if (k == 0)
            *dst[i] = strbuf_str(&vals[i]);
        else if (k != OMLOP_ENOTFOUND || !strstr(e2.msg, "has no key"))
            rc = omlop_err_set(err, k, "%s", e2.msg);
    }
    secrets_ctx_release(&sctx);
    return rc;
}

/* A Secret's stringData folded into data (base64), as the API stores Secrets. */
static void fold_string_data(json_object *obj)
{
    json_object *sd, *data;

    if (strcmp(str_or_empty(cjson_get_string(obj, "kind")), "Secret") != 0 ||
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

/* obj.metadata.<field> as an object, made when absent. */
static json_object *meta_map(json_object *obj, const char *field)
{
    json_object *meta = object_meta(obj), *m = json_object_object_get(meta, field);

    if (!json_object_is_type(m, json_type_object)) {
        m = json_object_new_object();
        json_object_object_add(meta, field, m);
    }
    return m;
}

/*
 * Read and decode every document of the commit; diags collect every problem. The documents
 * that decoded are kept in r->m (used only when diags stays empty).
 */
static void decode_commit(sync_run *r, const gitclient_files *files, diag_list *diags)
{
    size_t cap = 0;

    for (size_t f = 0; f < files->n; f++) {
        ydoc_list docs = YDOC_LIST_INIT;

        yaml_load_buffer(files->v[f].path, files->v[f].data, files->v[f].len, NULL, &docs, diags);
        for (size_t i = 0; i < docs.n; i++) {
            json_object *obj = NULL, *given;
            manifest *m;

            if (!docs.docs[i].root)
                continue;
            if (schema_set_decode(r->d->schemas, docs.docs[i].root, files->v[f].path, &obj, diags) <
                    0 ||
                !obj)
                continue;
            if (r->n_m == cap) {
                cap = cap ? cap * 2 : 16;
                r->m = xrealloc(r->m, cap * sizeof(*r->m));
            }
            m = &r->m[r->n_m++];
            memset(m, 0, sizeof(*m));
            m->file = xstrdup(files->v[f].path);
            m->line = docs.docs[i].root->line;
            m->col = docs.docs[i].root->col;
            m->obj = obj;
            m->kind = schema_set_find_kind(r->d->schemas, cjson_get_string(obj, "kind"));
            given = merge_patch_given_fields(obj, docs.docs[i].root);
            json_object_object_add(meta_map(given, "labels"), GITSOURCE_LABEL,
                                   json_object_new_string(r->name));
            json_object_object_add(meta_map(given, "annotations"), GITSOURCE_COMMIT_ANNOTATION,
                                   json_object_new_string(r->commit));
            m->modified = last_applied_modified(given);
            json_object_put(given);
        }
        ydoc_list_release(&docs);
    }
    /* Two documents for one object would be applied in turn, the last one winning silently. */
    for (size_t i = 0; i < r->n_m; i++) {
        const char *ki = cjson_get_string(r->m[i].obj, "kind");
        const char *ni = object_name(r->m[i].obj);

        if (strcmp(ki, "Event") == 0)
            diag_add(diags, r->m[i].file, r->m[i].line, r->m[i].col, "kind",
                     "Events are written by omlop, not applied from a repository");
        if (strcmp(ki, "GitSource") == 0 && ni && strcmp(ni, r->name) == 0)
            diag_add(diags, r->m[i].file, r->m[i].line, r->m[i].col, "metadata.name",
                     "GitSource %s cannot apply itself", r->name);
        for (size_t j = 0; j < i; j++) {
            const char *nj = object_name(r->m[j].obj);

            if (strcmp(ki, cjson_get_string(r->m[j].obj, "kind")) == 0 && ni && nj &&
                strcmp(ni, nj) == 0)
                diag_add(diags, r->m[i].file, r->m[i].line, r->m[i].col, "metadata.name",
                         "%s %s is also in %s:%d", ki, ni, r->m[j].file, r->m[j].line);
        }
    }
}

/* The update of one applied object: the 3-way merge of omlctl apply, then the model again. */
typedef struct apply_ctx {
    sync_run *r;
    const manifest *m;
} apply_ctx;

static int apply_mutate(json_object *next, const json_object *cur, void *vctx, omlop_err *err)
{
    apply_ctx *a = vctx;
    json_object *last = last_applied_get(cur), *patch, *merged, *decoded = NULL;
    diag_list *diags;
    strbuf msg = STRBUF_INIT;
    int rc = 0;

    patch = merge_patch_three_way(last, a->m->modified, cur);
    json_object_put(last);
    if (merge_patch_is_empty(patch)) {
        json_object_put(patch);
        return OBJ_UNCHANGED;
    }
    merged = merge_patch_apply(cur, patch);
    json_object_put(patch);
    diags = diag_list_new();
    if (schema_set_decode_json(a->r->d->schemas, merged, &decoded, diags) != 0 || !decoded) {
        diag_list_format(diags, &msg);
        rc =
            omlop_err_set(err, OMLOP_EINVAL, "merged with the live object it does not validate: %s",
                          msg.buf ? msg.buf : "");
        goto out;
    }
    fold_string_data(decoded);
    /* next becomes decoded: drop what it lost, take what it has */
    {json_object_object_foreach(cur, k, v){(void)v;
    if (!json_object_object_get_ex(decoded, k, NULL))
        json_object_object_del(next, k);
}
}
{
    json_object_object_foreach(decoded, k, v)
    {
        json_object_object_add(next, k, json_object_get(v));
    }
}
out : json_object_put(merged);
json_object_put(decoded);
diag_list_free(diags);
strbuf_release(&msg);
return rc;
}

static void add_ref(json_object *arr, const char *kind, const char *name)
{
    strbuf s = STRBUF_INIT;

    strbuf_addf(&s, "%s/%s", kind, name);
    json_object_array_add(arr, json_object_new_string(s.buf));
    strbuf_release(&s);
}

/* Apply one manifest (no conflict checked yet: done here, on the live object). */
static void apply_one(sync_run *r, const manifest *m)
{
    const char *name = object_name(m->obj), *kind = m->kind->kind;
    json_object *live = NULL, *create = NULL, *decoded = NULL;
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;
    diag_list *diags = NULL;
    int rc = obj_get(r->d->st, m->kind->plural, name, &live, NULL, &err);

    if (rc == 0) {
        const char *owner = map_str(live, "metadata.labels", GITSOURCE_LABEL);
        apply_ctx a = {r, m};

        if (!owner || strcmp(owner, r->name) != 0) {
            add_ref(r->conflicts, kind, name);
            if (r->conflicts_msg.len)
                strbuf_adds(&r->conflicts_msg, "; ");
            if (owner)
                strbuf_addf(&r->conflicts_msg, "%s %s belongs to GitSource %s", kind, name, owner);
            else
                strbuf_addf(&r->conflicts_msg,
                            "%s %s exists and was not applied from a "
                            "GitSource",
                            kind, name);
            goto out;
        }
        if (cjson_get(live, "metadata.deletionTimestamp")) {
            strbuf_addf(&r->apply_errors, "%s%s %s is being deleted",
                        r->apply_errors.len ? "; " : "", kind, name);
            goto out;
        }
        rc = obj_update(r->d->st, m->kind->plural, name, NULL, apply_mutate, &a, &res, &err);
        if (rc == 0 && res.is_unchanged)
            r->unchanged++;
        else if (rc == 0)
            r->configured++;
    } else if (rc == OMLOP_ENOTFOUND) {
        diags = diag_list_new();
        create = json_object_get(m->modified);
        rc = schema_set_decode_json(r->d->schemas, create, &decoded, diags);
        if (rc == 0 && decoded) {
            fold_string_data(decoded);
            rc = obj_create(r->d->st, m->kind->plural, decoded, 0, &res, &err);
        } else {
            rc = omlop_err_set(&err, OMLOP_EINVAL, "does not validate");
        }
        if (rc == 0)
            r->created++;
    }
    if (rc < 0)
        strbuf_addf(&r->apply_errors, "%s%s %s (%s:%d): %s", r->apply_errors.len ? "; " : "", kind,
                    name, m->file, m->line, err.msg);
out:
    obj_result_release(&res);
    json_object_put(live);
    json_object_put(create);
    json_object_put(decoded);
    diag_list_free(diags);
}

static int in_commit(const sync_run *r, const char *kind, const char *name)
{
    for (size_t i = 0; i < r->n_m; i++)
        if (strcmp(r->m[i].kind->kind, kind) == 0 && strcmp(object_name(r->m[i].obj), name) == 0)
            return 1;
    return 0;
}

/* Objects labelled with this source that the commit no longer holds: prune or list them. */
static void prune(sync_run *r, int is_prune)
{
    strbuf text = STRBUF_INIT, prefix = STRBUF_INIT;
    selector *sel = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    strbuf_addf(&text, "%s=%s", GITSOURCE_LABEL, r->name);
    if (selector_parse(text.buf, &sel, &err) < 0) {
        strbuf_addf(&r->apply_errors, "%sprune: %s", r->apply_errors.len ? "; " : "", err.msg);
        goto out;
    }
    for (size_t k = 0; k < schema_set_kind_count(r->d->schemas); k++) {
        const kind_info *ki = schema_set_kind_at(r->d->schemas, k);
        store_list_opts lo = {0};
        store_list_result lr = {0};

        if (strcmp(ki->kind, "Event") == 0)
            continue;
        strbuf_reset(&prefix);
        object_prefix(&prefix, ki->plural);
        lo.prefix = prefix.buf;
        lo.filter = obj_filter_selector;
        lo.filter_ctx = sel;
        if (store_list(r->d->st, &lo, &lr, &err) < 0) {
            strbuf_addf(&r->apply_errors, "%sprune: %s", r->apply_errors.len ? "; " : "", err.msg);
            continue;
        }
        for (size_t i = 0; i < lr.items.n; i++) {
            json_object *o = object_parse(lr.items.items[i].value, lr.items.items[i].value_len);
            const char *name = object_name(o);
            obj_result res = {0};

            if (name && !in_commit(r, ki->kind, name)) {
                if (!is_prune) {
                    add_ref(r->orphaned, ki->kind, name);
                } else if (!cjson_get(o, "metadata.deletionTimestamp")) {
                    if (obj_delete(r->d->st, ki->plural, name, NULL, &res, &err) == 0)
                        r->pruned++;
                    else
                        strbuf_addf(&r->apply_errors, "%sprune %s %s: %s",
                                    r->apply_errors.len ? "; " : "", ki->kind, name, err.msg);
                }
            }
            obj_result_release(&res);
            json_object_put(o);
        }
        store_list_result_release(&lr);
    }
out:
    selector_free(sel);
    strbuf_release(&text);
    strbuf_release(&prefix);
}

static void record(const gitsource_deps *d, const json_object *src, const char *type,
                   const char *reason, const char *msg)
{
    omlop_err err = OMLOP_ERR_INIT;

    if (d->ev)
        events_record(d->ev, src, type, reason, &err, "%s", msg);
}

/* Stalled before any object was looked at: fetch, credentials, revision, folder. */
static int stall(sync_run *r, status_edit *e, const char *reason, const char *msg, omlop_err *err)
{
    edit_cond(e, "Ready", "False", reason, "%s", msg);
    edit_cond(e, "Stalled", "True", reason, "%s", msg);
    edit_cond(e, "Fetching", "False", reason, "fetch ended");
    record(r->d, r->src, EVENT_TYPE_WARNING, reason, msg);
    return status_write(r->d, r->name, e, err);
}

static const char *fetch_reason(int code)
{
    return code == OMLOP_EAUTH      ? "AuthenticationFailed"
           : code == OMLOP_ETIMEOUT ? "FetchTimeout"
                                    : "FetchFailed";
}

int gitsource_sync(const gitsource_deps *d, const char *name, int is_forced, gitsource_result *res,
                   omlop_err *err)
{
    sync_run r;
    status_edit e;
    strbuf dir = STRBUF_INIT, vals[5], msg = STRBUF_INIT;
    gitclient *g = NULL;
    gitclient_creds creds;
    gitclient_files files = GITCLIENT_FILES_INIT;
    diag_list *diags = diag_list_new();
    omlop_err gerr = OMLOP_ERR_INIT;
    const char *req, *ready;
    char now[32];
    int64_t gen;
    int rc;

    memset(&r, 0, sizeof(r));
    memset(res, 0, sizeof(*res));
    for (int i = 0; i < 5; i++)
        strbuf_init(&vals[i]);
    r.d = d;
    r.name = name;
    strbuf_init(&r.conflicts_msg);
    strbuf_init(&r.apply_errors);
    r.conflicts = json_object_new_array();
    r.orphaned = json_object_new_array();
    edit_init(&e, 0);
    res->interval_ms = GITSOURCE_DEFAULT_INTERVAL_MS;
    rc = obj_get(d->st, GITSOURCE_PLURAL, name, &r.src, NULL, err);
    if (rc == OMLOP_ENOTFOUND) {
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    res->is_found = 1;
    if (gitsource_interval_ms(cjson_get_string(r.src, "spec.interval")) > 0)
        res->interval_ms = gitsource_interval_ms(cjson_get_string(r.src, "spec.interval"));
    if (cjson_get(r.src, "metadata.deletionTimestamp"))
        goto out;
    gen = cjson_get_int(r.src, "metadata.generation", 0);
    e.generation = gen;
    if (get_bool(r.src, "spec.suspend")) {
        /* said in the status, so that nobody reads an old Ready=True as "syncing"; no fetch,
         * no Event (the write is a no-op on every later interval: nothing changed) */
        const char *applied = cjson_get_string(r.src, "status.lastAppliedCommit");

        res->is_suspended = 1;
        if (applied)
            strbuf_addf(&msg,
                        "suspended (spec.suspend): no fetch, no apply; the objects of commit %s "
                        "stay as they are",
                        applied);
        else
            strbuf_adds(&msg,
                        "suspended (spec.suspend): no fetch, no apply; no commit applied yet");
        edit_cond(&e, "Ready", "False", "Suspended", "%s", msg.buf);
        edit_cond(&e, "Stalled", "False", "Suspended", "suspended, not stalled");
        edit_cond(&e, "Fetching", "False", "Suspended", "no fetch while suspended");
        rc = status_write(d, name, &e, err);
        goto out;
    }
    req = map_str(r.src, "metadata.annotations", GITSOURCE_SYNC_ANNOTATION);
    if (req && *req) {
        if (!cjson_get_string(r.src, "status.lastHandledSyncRequest") ||
            strcmp(req, cjson_get_string(r.src, "status.lastHandledSyncRequest")) != 0)
            is_forced = 1;
        edit_str(&e, "lastHandledSyncRequest", req);
    }
    if (gen > cjson_get_int(r.src, "status.observedGeneration", 0))
        is_forced = 1;
    object_time_format(time(NULL), now);
    edit_str(&e, "lastSyncTime", now);

    if ((rc = read_creds(&r, &creds, vals, &gerr)) < 0) {
        rc =
            stall(&r, &e, rc == OMLOP_ENOTFOUND ? SECRETS_REASON_NOT_FOUND : SECRETS_REASON_INVALID,
                  gerr.msg, err);
        goto out;
    }
    {
        /* Fetching=True while the fetch runs, for whoever looks at a slow one */
        status_edit f;

        edit_init(&f, gen);
        edit_cond(&f, "Fetching", "True", "Fetching", "fetching %s",
                  cjson_get_string(r.src, "spec.url"));
        /* the request is being handled: without this the write would read as a new request
         * to the GitSource thread's watch and run a second sync */
        if (req && *req)
            edit_str(&f, "lastHandledSyncRequest", req);
        rc = status_write(d, name, &f, err);
        edit_release(&f);
        if (rc < 0)
            goto out;
    }
    strbuf_addf(&dir, "%s/gitsources/%s", d->data_dir, name);
    if ((rc = gitclient_open(dir.buf, cjson_get_string(r.src, "spec.url"), &g, &gerr)) < 0 ||
        (rc = gitclient_fetch(g, &creds, d->fetch_timeout_ms, &gerr)) < 0) {
        rc = stall(&r, &e, fetch_reason(rc), gerr.msg, err);
        goto out;
    }
    if ((rc = gitclient_resolve(g, cjson_get_string(r.src, "spec.branch"),
                                cjson_get_string(r.src, "spec.tag"),
                                cjson_get_string(r.src, "spec.commit"), r.commit, &gerr)) < 0) {
        rc = stall(&r, &e, "RevisionNotFound", gerr.msg, err);
        goto out;
    }
    edit_str(&e, "lastFetchedCommit", r.commit);
    ready = NULL;
    {
        json_object *conds = cjson_get(r.src, "status.conditions");

        for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
            json_object *c = json_object_array_get_idx(conds, i);

            if (strcmp(str_or_empty(cjson_get_string(c, "type")), "Ready") == 0)
                ready = cjson_get_string(c, "status");
        }
    }
    /* An unchanged commit that was applied cleanly: nothing to parse (the cheap path). */
    if (!is_forced && ready && strcmp(ready, "True") == 0 &&
        strcmp(str_or_empty(cjson_get_string(r.src, "status.lastAppliedCommit")), r.commit) == 0) {
        edit_cond(&e, "Fetching", "False", "Fetched", "commit %s is applied", r.commit);
        rc = status_write(d, name, &e, err);
        res->is_applied = 1;
        goto out;
    }
    edit_str(&e, "lastAttemptedCommit", r.commit);
    if ((rc = gitclient_read_dir(g, r.commit, cjson_get_string(r.src, "spec.path"), &files,
                                 &gerr)) < 0) {
        strbuf_addf(&msg, "commit %s: %s", r.commit, gerr.msg);
        rc = stall(&r, &e, "PathNotFound", msg.buf, err);
        goto out;
    }
    res->n_files_read = files.n;
    decode_commit(&r, &files, diags);
    if (diag_list_count(diags) > 0) {
        size_t n = diag_list_count(diags);

        strbuf_addf(&msg, "commit %s: %zu problem%s, nothing applied: ", r.commit, n,
                    n == 1 ? "" : "s");
        for (size_t i = 0; i < n && i < MAX_DIAGS_IN_MESSAGE; i++) {
            if (i)
                strbuf_adds(&msg, "; ");
            diag_format(diag_list_at(diags, i), &msg);
        }
        if (n > MAX_DIAGS_IN_MESSAGE)
            strbuf_addf(&msg, "; and %zu more", n - MAX_DIAGS_IN_MESSAGE);
        json_object_object_add(e.fields, "applied", json_object_new_int(0));
        json_object_object_add(e.fields, "pruned", json_object_new_int(0));
        rc = stall(&r, &e, "ValidationFailed", msg.buf, err);
        goto out;
    }
    for (size_t i = 0; i < r.n_m; i++)
        apply_one(&r, &r.m[i]);
    prune(&r, get_bool(r.src, "spec.prune"));

    json_object_object_add(e.fields, "applied",
                           json_object_new_int((int)(r.created + r.configured + r.unchanged)));
    json_object_object_add(e.fields, "pruned", json_object_new_int((int)r.pruned));
    json_object_object_add(e.fields, "conflicts", json_object_get(r.conflicts));
    json_object_object_add(e.fields, "orphaned", json_object_get(r.orphaned));
    strbuf_addf(&msg, "commit %s: %zu created, %zu configured, %zu unchanged, %zu pruned", r.commit,
                r.created, r.configured, r.unchanged, r.pruned);
    if (json_object_array_length(r.orphaned))
        strbuf_addf(&msg, ", %zu orphaned (prune is off)", json_object_array_length(r.orphaned));
    edit_cond(&e, "Fetching", "False", "Fetched", "fetched commit %s", r.commit);
    if (r.conflicts_msg.len)
        edit_cond(&e, "Conflict", "True", "Conflict", "not taken over: %s", r.conflicts_msg.buf);
    else
        edit_cond(&e, "Conflict", "False", "NoConflict", "every object is this source's");
    if (r.apply_errors.len) {
        strbuf_addf(&msg, "; failed: %s", r.apply_errors.buf);
        edit_cond(&e, "Ready", "False", "ApplyFailed", "%s", msg.buf);
        edit_cond(&e, "Stalled", "False", "ApplyFailed", "retried on the next interval");
        record(d, r.src, EVENT_TYPE_WARNING, "ApplyFailed", msg.buf);
    } else {
        edit_str(&e, "lastAppliedCommit", r.commit);
        res->is_applied = 1;
        if (r.conflicts_msg.len) {
            strbuf_addf(&msg, "; not taken over: %s", r.conflicts_msg.buf);
            edit_cond(&e, "Ready", "False", "Conflict", "%s", msg.buf);
            record(d, r.src, EVENT_TYPE_WARNING, "Conflict", msg.buf);
        } else {
            edit_cond(&e, "Ready", "True", "Applied", "%s", msg.buf);
            record(d, r.src, EVENT_TYPE_NORMAL, "Synced", msg.buf);
        }
        edit_cond(&e, "Stalled", "False", "Applied", "commit applied");
    }
    rc = status_write(d, name, &e, err);
out:
    gitclient_free(g);
    gitclient_files_release(&files);
    for (int i = 0; i < 5; i++) {
        if (vals[i].buf)
            OPENSSL_cleanse(vals[i].buf, vals[i].len);
        strbuf_release(&vals[i]);
    }
    diag_list_free(diags);
    edit_release(&e);
    run_release(&r);
    strbuf_release(&dir);
    strbuf_release(&msg);
    return rc;
}
