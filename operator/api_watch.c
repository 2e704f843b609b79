/* api_watch: turn store watch events into Kubernetes watch events. */
#include "api_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/xalloc.h"
#include "objects/objects.h"
#include "operator/api_select.h"
#include "operator/api_status.h"
#include "operator/api_table.h"

/* Events taken from the store per pump, so one busy stream cannot starve the loop. */
#define PUMP_BATCH 256

struct api_stream {
    api *a;
    const kind_info *kind;
    api_selector *sel;
    store_watch *w;
    int want_table;
    int include_object;
    int is_core; /* the core v1 view (api_watch_spec) */
    int64_t last_rev;
    strbuf initial; /* ADDED lines of the initial list, sent by the first pump */
    int has_ended;
    /* With a selector: the store keys of the objects the client was last told match, sorted,
     * so that a change that makes one stop matching is DELETED and one that starts is ADDED,
     * as Kubernetes does (a client's cache would otherwise keep what left the selection). */
    char **matching;
    size_t n_matching, cap_matching;
};

/* Index of key in s->matching, or where it would go (*found 0). */
static size_t matching_find(const api_stream *s, const char *key, int *found)
{
    size_t lo = 0, hi = s->n_matching;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->matching[mid], key);

        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

/* Record whether key matches now; returns whether it matched before. */
static int matching_set(api_stream *s, const char *key, int matches)
{
    int found;
    size_t i = matching_find(s, key, &found);

    if (matches && !found) {
        if (s->n_matching == s->cap_matching) {
            size_t cap = s->cap_matching ? 2 * s->cap_matching : 16;
            char **v = xrealloc(s->matching, cap * sizeof(*v));

            s->matching = v;
            s->cap_matching = cap;
        }
        memmove(&s->matching[i + 1], &s->matching[i], (s->n_matching - i) * sizeof(char *));
        s->matching[i] = xstrdup(key);
        s->n_matching++;
    } else if (!matches && found) {
        free(s->matching[i]);
        memmove(&s->matching[i], &s->matching[i + 1], (s->n_matching - i - 1) * sizeof(char *));
        s->n_matching--;
    }
    return found;
}

static void add_event(api_stream *s, strbuf *out, const char *type, json_object *obj)
{
    json_object *ev = json_object_new_object();

    json_object_object_add(ev, "type", json_object_new_string(type));
    if (s->is_core && strcmp(type, "ERROR") != 0)
        object_core_view(obj);
    if (s->want_table && strcmp(type, "ERROR") != 0 && strcmp(type, "BOOKMARK") != 0) {
        json_object *t =
            api_table_build(s->a->schemas, s->kind, &obj, 1, s->include_object, time(NULL));
        const char *rv = cjson_get_string(obj, "metadata.resourceVersion");

        if (rv)
            json_object_object_add(json_object_object_get(t, "metadata"), "resourceVersion",
                                   json_object_new_string(rv));
        json_object_object_add(ev, "object", t);
    } else {
        json_object_object_add(ev, "object", json_object_get(obj));
    }
    strbuf_adds(out, json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
    strbuf_addch(out, '\n');
    json_object_put(ev);
}

static void add_error(api_stream *s, strbuf *out, int code, const char *msg)
{
    json_object *st = api_status_new(code, api_status_reason(code), msg);

    add_event(s, out, "ERROR", st);
    json_object_put(st);
}

/*
 * List what matches now: ADDED events for the initial list (emit), and with a
 * selector the keys that match. A watch from a given revision seeds its keys
 * from the current state: the list a client watches from is that recent.
 */
static int initial_list(api_stream *s, const char *prefix, int emit, omlop_err *err)
{
    store_list_opts lo = {0};
    store_list_result res = {0};
    int rc;

    lo.prefix = prefix;
    rc = store_list(s->a->store, &lo, &res, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < res.items.n; i++) {
        json_object *obj = NULL;

        if (obj_from_kv(&res.items.items[i], &obj, err) != 0) {
            rc = err->code;
            break;
        }
        if (api_selector_match(s->sel, obj)) {
            if (emit)
                add_event(s, &s->initial, "ADDED", obj);
            if (!api_selector_is_everything(s->sel))
                matching_set(s, res.items.items[i].key, 1);
        }
        json_object_put(obj);
    }
    if (emit)
        s->last_rev = res.revision;
    store_list_result_release(&res);
    return rc;
}

int api_stream_open(api *a, const api_watch_spec *spec, api_stream **out, omlop_err *err)
{
    api_stream *s = xcalloc(1, sizeof(*s));
    strbuf prefix = STRBUF_INIT;
    int64_t rv = 0, compacted = 0;
    int rc;

    *out = NULL;
    s->a = a;
    s->kind = spec->kind;
    s->want_table = spec->want_table;
    s->is_core = spec->is_core;
    s->include_object = spec->include_object;
    strbuf_init(&s->initial);
    rc = api_selector_parse(spec->label_selector, spec->field_selector, &s->sel, err);
    if (rc)
        goto out;
    object_prefix(&prefix, spec->kind->plural);
    if (spec->resource_version && *spec->resource_version)
        rv = object_rv_parse(spec->resource_version);
    if (rv < 0) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "resourceVersion '%s' is not a revision",
                           spec->resource_version);
        goto out;
    }
    if (rv == 0) {
        rc = initial_list(s, prefix.buf, 1, err);
        if (rc)
            goto out;
    } else {
        rc = store_compacted_revision(a->store, &compacted, err);
        if (rc)
            goto out;
        if (rv < compacted) {
            rc = omlop_err_set(err, OMLOP_EGONE,
                               "too old resource version: %lld (%lld); list again and watch "
                               "from the list's resourceVersion",
                               (long long)rv, (long long)compacted);
            goto out;
        }
        s->last_rev = rv;
        if (!api_selector_is_everything(s->sel) && (rc = initial_list(s, prefix.buf, 0, err)))
            goto out;
    }
    rc = store_watch_open(a->store, prefix.buf, s->last_rev, &s->w, err);
    if (rc == OMLOP_EGONE)
        omlop_err_set(err, OMLOP_EGONE,
                      "too old resource version: %lld; list again and watch from the list's "
                      "resourceVersion",
                      (long long)s->last_rev);
    if (rc)
        goto out;
    *out = s;
    s = NULL;
out:
    api_stream_free(s);
    strbuf_release(&prefix);
    return rc;
}

int api_stream_fd(const api_stream *s)
{
    return store_watch_fd(s->w);
}

int64_t api_stream_revision(const api_stream *s)
{
    return s->last_rev;
}

static void deliver(api_stream *s, strbuf *out, const store_event *ev)
{
    store_kv kv = ev->kv;
    json_object *obj = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    const char *type = ev->type == STORE_EVENT_ADDED      ? "ADDED"
                       : ev->type == STORE_EVENT_MODIFIED ? "MODIFIED"
                                                          : "DELETED";

    s->last_rev = ev->revision;
    if (!kv.value)
        return; /* a delete the store could not give the last state of: nothing to show */
    kv.mod_revision = ev->revision; /* a deleted object carries the deletion's revision */
    if (obj_from_kv(&kv, &obj, &err) != 0)
        return;
    if (api_selector_is_everything(s->sel)) {
        add_event(s, out, type, obj);
    } else {
        int matches = api_selector_match(s->sel, obj);
        int matched = matching_set(s, kv.key, matches && ev->type != STORE_EVENT_DELETED);

        if (ev->type == STORE_EVENT_DELETED) {
            if (matched || matches)
                add_event(s, out, "DELETED", obj);
        } else if (matches)
            add_event(s, out, matched ? "MODIFIED" : "ADDED", obj);
        else if (matched)
            add_event(s, out, "DELETED", obj); /* left the selection: gone, for this client */
    }
    json_object_put(obj);
}

int api_stream_pump(api_stream *s, strbuf *out)
{
    if (s->initial.len) {
        strbuf_add(out, s->initial.buf, s->initial.len);
        strbuf_release(&s->initial);
    }
    if (s->has_ended)
        return 1;
    for (int i = 0; i < PUMP_BATCH; i++) {
        store_event ev;
        omlop_err err = OMLOP_ERR_INIT;
        int rc;

        memset(&ev, 0, sizeof(ev));
        rc = store_watch_next(s->w, &ev, 0, &err);
        if (rc == OMLOP_ETIMEOUT)
            break;
        if (rc) {
            add_error(s, out, rc == OMLOP_EGONE ? 410 : 500, err.msg);
            s->has_ended = 1;
            return 1;
        }
        deliver(s, out, &ev);
        store_event_release(&ev);
    }
    return 0;
}

void api_stream_bookmark(api_stream *s, strbuf *out)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "kind", json_object_new_string(s->kind->kind));
    json_object_object_add(o, "apiVersion", json_object_new_string(OMLOP_API_VERSION));
    json_object_object_add(o, "metadata", json_object_new_object());
    object_set_rv(o, s->last_rev);
    add_event(s, out, "BOOKMARK", o);
    json_object_put(o);
}

void api_stream_free(api_stream *s)
{
    if (!s)
        return;
    store_watch_close(s->w);
    api_selector_free(s->sel);
    strbuf_release(&s->initial);
    for (size_t i = 0; i < s->n_matching; i++)
        free(s->matching[i]);
    free(s->matching);
    free(s);
}
