/* history: the Tenant spec history entries in the store. */
#include "objects/history.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/log.h"
#include "objects/objects.h"

/*
 * Entries are few (at most HISTORY_LIMIT_MAX plus what a crash left), so
 * one bounded list reads them all; more than this means something else wrote
 * under the prefix, and the oldest beyond it are left for the next prune.
 */
#define HISTORY_LIST_MAX 1000

int history_applies(const kind_info *kind)
{
    return kind && strcmp(kind->kind, "Tenant") == 0;
}

static void history_prefix(strbuf *out, const char *name)
{
    strbuf_addf(out, HISTORY_PREFIX "%s/", name);
}

void history_key(strbuf *out, const char *name, int64_t generation)
{
    /* zero-padded so that the store's key order is generation order */
    strbuf_addf(out, HISTORY_PREFIX "%s/%020" PRId64, name, generation);
}

/* The change cause a user gave, as kubectl annotates it; NULL when none. */
static const char *change_cause(const json_object *obj)
{
    static const char *const keys[] = {"kubernetes.io/change-cause", "omlop.io/change-cause"};
    /* read the annotations object directly: cjson's dotted paths split at the dots */
    json_object *ann = cjson_get(obj, "metadata.annotations"), *v;

    for (size_t i = 0; json_object_is_type(ann, json_type_object) && i < 2; i++) {
        if (json_object_object_get_ex(ann, keys[i], &v) && json_object_is_type(v, json_type_string))
            return json_object_get_string(v);
    }
    return NULL;
}

json_object *history_entry_new(const json_object *obj, time_t now)
{
    json_object *e = json_object_new_object(), *spec = cjson_get(obj, "spec");
    const char *cause = change_cause(obj);
    char ts[32];

    object_time_format(now, ts);
    json_object_object_add(e, "generation",
                           json_object_new_int64(cjson_get_int(obj, "metadata.generation", 1)));
    json_object_object_add(e, "spec", spec ? cjson_copy(spec) : json_object_new_object());
    if (cause)
        json_object_object_add(e, "changeCause", json_object_new_string(cause));
    json_object_object_add(e, "createdAt", json_object_new_string(ts));
    return e;
}

int history_list(store *s, const char *name, store_list_result *res, omlop_err *err)
{
    strbuf prefix = STRBUF_INIT;
    store_list_opts lo;
    int rc;

    memset(&lo, 0, sizeof(lo));
    history_prefix(&prefix, name);
    lo.prefix = prefix.buf;
    lo.limit = HISTORY_LIST_MAX;
    rc = store_list(s, &lo, res, err);
    strbuf_release(&prefix);
    return rc;
}

/* Delete the oldest entries of name until at most keep remain. */
static void history_prune(store *s, const char *name, size_t keep)
{
    store_list_result res = {STORE_KV_LIST_INIT, 0, 0};
    omlop_err err = OMLOP_ERR_INIT;

    if (history_list(s, name, &res, &err) != 0) {
        log_warn("history tenant=%s msg=\"cannot list the history to prune it: %s\"", name,
                 err.msg);
        return;
    }
    for (size_t i = 0; i + keep < res.items.n; i++) {
        omlop_err derr = OMLOP_ERR_INIT;

        if (store_delete(s, res.items.items[i].key, 0, NULL, &derr) != 0 &&
            derr.code != OMLOP_ENOTFOUND)
            log_warn("history tenant=%s key=%s msg=\"cannot delete: %s\"", name,
                     res.items.items[i].key, derr.msg);
    }
    store_list_result_release(&res);
}

void history_after_write(store *s, const json_object *before, const json_object *obj)
{
    const char *name = object_name(obj);
    int64_t gen = cjson_get_int(obj, "metadata.generation", 1);
    int64_t limit = cjson_get_int(obj, "spec.revisionHistoryLimit", HISTORY_LIMIT_DEF);
    json_object *entry = NULL;
    strbuf key = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    const char *text;
    size_t len;
    int64_t rev = 0;

    if (!name)
        return;
    if (!before)
        history_after_delete(s, name); /* entries a crash left from a former tenant */
    else if (gen == cjson_get_int(before, "metadata.generation", 1) ||
             cjson_equal(cjson_get(before, "spec"), cjson_get(obj, "spec")))
        return; /* metadata, finalizers or deletionTimestamp only: not a new spec */
    if (limit < 0)
        limit = 0;
    if (limit > HISTORY_LIMIT_MAX)
        limit = HISTORY_LIMIT_MAX;
    if (limit > 0) {
        entry = history_entry_new(obj, time(NULL));
        text = json_object_to_json_string_length(entry, JSON_C_TO_STRING_PLAIN, &len);
        history_key(&key, name, gen);
        if (store_create(s, key.buf, text, len, &rev, &err) != 0 && err.code == OMLOP_EEXIST) {
            omlop_err_clear(&err);
            store_update(s, key.buf, text, len, 0, &rev, &err);
        }
        if (err.code)
            log_warn("history tenant=%s generation=%" PRId64
                     " msg=\"the spec was stored but its history entry was not: %s\"",
                     name, gen, err.msg);
    }
    history_prune(s, name, (size_t)limit);
    json_object_put(entry);
    strbuf_release(&key);
}

void history_after_delete(store *s, const char *name)
{
    history_prune(s, name, 0);
}
