/* events: de-duplicated Event objects in the store. */
#include "events.h"

#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crds/object.h"
#include "crds/schema_format.h"
#include "lib/cjson.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "objects/objects.h"

/* Attempts when another writer touches the same event at the same time. */
#define EVENT_RETRIES 5
/* Object names are DNS-1123 labels (63): the involved name's share of an event's name. */
#define EVENT_NAME_PREFIX_MAX 46

struct events {
    store *st;
    const schema_set *schemas;
    char component[128];
};

int events_new(store *st, const schema_set *schemas, const char *component, events **out,
               omlop_err *err)
{
    events *ev;

    *out = NULL;
    if (!st)
        return omlop_err_set(err, OMLOP_EINTERNAL, "events_new: no store");
    ev = xcalloc(1, sizeof(*ev));
    ev->st = st;
    ev->schemas = schemas;
    snprintf(ev->component, sizeof(ev->component), "%s", component ? component : "omlopd");
    *out = ev;
    return 0;
}

void events_free(events *ev)
{
    free(ev);
}

static int is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_hex_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9');
}

void events_message_key(const char *message, strbuf *out)
{
    const char *p = message ? message : "";

    while (*p) {
        const char *w = p;
        int has_digit = 0, is_hex = 1;

        if (!is_word_char(*p)) {
            strbuf_addch(out, *p++);
            continue;
        }
        for (; is_word_char(*p); p++) {
            has_digit |= *p >= '0' && *p <= '9';
            is_hex &= is_hex_char(*p);
        }
        /* a number, an id or a digest: the part that varies from one round to the next */
        if (is_hex && has_digit)
            strbuf_addch(out, '#');
        else
            strbuf_add(out, w, (size_t)(p - w));
    }
}

/* "<name>-<16 hex digits of the identity hash>", a valid object name. */
static void event_name(const char *kind, const char *name, const char *uid, const char *type,
                       const char *reason, const char *message, char out[64])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    strbuf mkey = STRBUF_INIT, id = STRBUF_INIT;
    const char *parts[6];
    size_t n = 0;

    events_message_key(message, &mkey);
    parts[0] = kind;
    parts[1] = name;
    parts[2] = uid;
    parts[3] = type;
    parts[4] = reason;
    parts[5] = mkey.buf ? mkey.buf : "";
    /* the parts NUL-separated, so ("ab","c") and ("a","bc") differ */
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        strbuf_add(&id, parts[i] ? parts[i] : "", strlen(parts[i] ? parts[i] : "") + 1);
    SHA256((const unsigned char *)id.buf, id.len, md);
    strbuf_release(&id);
    strbuf_release(&mkey);
    for (const char *p = name; *p && n < EVENT_NAME_PREFIX_MAX; p++) {
        char c = *p;

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')
            out[n++] = c;
        else if (c >= 'A' && c <= 'Z')
            out[n++] = (char)(c - 'A' + 'a');
        else
            out[n++] = '-';
    }
    while (n && out[n - 1] == '-')
        n--;
    if (n == 0)
        out[n++] = 'e';
    snprintf(out + n, 64 - n, "-%02x%02x%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2], md[3],
             md[4], md[5], md[6], md[7]);
}

static json_object *new_event(const events *ev, const json_object *obj, const char *name,
                              const char *type, const char *reason, const char *message,
                              const char *now)
{
    json_object *e = json_object_new_object(), *meta = json_object_new_object();
    json_object *inv = json_object_new_object(), *src = json_object_new_object();
    /* what crds/event.yaml's involvedObject holds */
    static const char *const copied[][2] = {{"apiVersion", "apiVersion"},
                                            {"kind", "kind"},
                                            {"metadata.name", "name"},
                                            {"metadata.uid", "uid"},
                                            {"metadata.resourceVersion", "resourceVersion"}};
    char uid[37];

    json_object_object_add(e, "apiVersion", json_object_new_string(OMLOP_API_VERSION));
    json_object_object_add(e, "kind", json_object_new_string("Event"));
    object_uid_new(uid);
    json_object_object_add(meta, "name", json_object_new_string(name));
    json_object_object_add(meta, "uid", json_object_new_string(uid));
    json_object_object_add(meta, "creationTimestamp", json_object_new_string(now));
    json_object_object_add(meta, "generation", json_object_new_int64(1));
    json_object_object_add(e, "metadata", meta);
    for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
        const char *v = cjson_get_string(obj, copied[i][0]);

        if (v && *v)
            json_object_object_add(inv, copied[i][1], json_object_new_string(v));
    }
    json_object_object_add(e, "involvedObject", inv);
    json_object_object_add(e, "type", json_object_new_string(type));
    json_object_object_add(e, "reason", json_object_new_string(reason));
    json_object_object_add(e, "message", json_object_new_string(message));
    json_object_object_add(e, "count", json_object_new_int64(1));
    json_object_object_add(e, "firstTimestamp", json_object_new_string(now));
    json_object_object_add(e, "lastTimestamp", json_object_new_string(now));
    json_object_object_add(src, "component", json_object_new_string(ev->component));
    json_object_object_add(e, "source", src);
    return e;
}

/* Validate against the Event kind when a resource model was given. */
static int validate(const events *ev, json_object **e, omlop_err *err)
{
    diag_list *diags;
    json_object *out = NULL;
    int rc = 0;

    if (!ev->schemas)
        return 0;
    diags = diag_list_new();
    if (schema_set_decode_json(ev->schemas, *e, &out, diags) != 0 || !out) {
        strbuf msg = STRBUF_INIT;

        diag_list_format(diags, &msg);
        rc = omlop_err_set(err, OMLOP_EINVAL, "event %s is not valid: %s",
                           cjson_get_string(*e, "metadata.name"), strbuf_str(&msg));
        strbuf_release(&msg);
        json_object_put(out);
    } else {
        json_object_put(*e);
        *e = out;
    }
    diag_list_free(diags);
    return rc;
}

int events_record_at(events *ev, const json_object *obj, const char *type, const char *reason,
                     time_t now, const char *message, omlop_err *err)
{
    const char *kind = cjson_get_string(obj, "kind"),
               *name = cjson_get_string(obj, "metadata.name");
    char ename[64], nowbuf[32], msg[EVENT_MESSAGE_MAX + 4];
    strbuf key = STRBUF_INIT;
    int rc = 0;

    if (!kind || !name)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "an event needs an object with kind and "
                             "metadata.name");
    if (strcmp(type, EVENT_TYPE_NORMAL) != 0 && strcmp(type, EVENT_TYPE_WARNING) != 0)
        return omlop_err_set(err, OMLOP_EINVAL, "event type '%s' is not Normal or Warning", type);
    snprintf(msg, sizeof(msg), "%s", message ? message : "");
    if (strlen(message ? message : "") > EVENT_MESSAGE_MAX)
        memcpy(msg + EVENT_MESSAGE_MAX - 3, "...", 4);
    object_time_format(now, nowbuf);
    event_name(kind, name, cjson_get_string(obj, "metadata.uid"), type, reason, msg, ename);
    object_key(&key, "events", ename);
    for (int attempt = 0; attempt < EVENT_RETRIES; attempt++) {
        store_kv kv = {0};
        json_object *e = NULL;
        strbuf text = STRBUF_INIT;
        int64_t rev;

        rc = store_get(ev->st, key.buf, &kv, err);
        if (rc == OMLOP_ENOTFOUND) {
            e = new_event(ev, obj, ename, type, reason, msg, nowbuf);
            rc = validate(ev, &e, err);
            if (rc == 0) {
                object_store_text(e, &text);
                rc = store_create(ev->st, key.buf, text.buf, text.len, &rev, err);
            }
        } else if (rc == 0) {
            rc = obj_from_kv(&kv, &e, err);
            if (rc == 0) {
                json_object_object_add(e, "count",
                                       json_object_new_int64(cjson_get_int(e, "count", 1) + 1));
                json_object_object_add(e, "lastTimestamp", json_object_new_string(nowbuf));
                /* folded on the message's key: the text keeps the latest round's numbers */
                json_object_object_add(e, "message", json_object_new_string(msg));
                object_store_text(e, &text);
                rc = store_update(ev->st, key.buf, text.buf, text.len, kv.mod_revision, &rev, err);
            }
        }
        json_object_put(e);
        strbuf_release(&text);
        store_kv_release(&kv);
        if (rc != OMLOP_EEXIST && rc != OMLOP_ECONFLICT)
            break; /* done, or an error a retry does not fix */
    }
    strbuf_release(&key);
    if (rc)
        omlop_err_prefix(err, "recording event %s on %s %s: ", reason, kind, name);
    return rc;
}

int events_record(events *ev, const json_object *obj, const char *type, const char *reason,
                  omlop_err *err, const char *fmt, ...)
{
    strbuf msg = STRBUF_INIT;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    rc = events_record_at(ev, obj, type, reason, time(NULL), strbuf_str(&msg), err);
    strbuf_release(&msg);
    return rc;
}

typedef struct prune_ctx {
    time_t cutoff;
} prune_ctx;

static int is_old(const store_kv *kv, void *arg)
{
    const prune_ctx *pc = arg;
    json_object *e = object_parse(kv->value, kv->value ? kv->value_len : 0);
    const char *last = cjson_get_string(e, "lastTimestamp");
    int64_t t;
    int old = last && schema_format_parse_date_time(last, &t) && t < (int64_t)pc->cutoff;

    json_object_put(e);
    return old;
}

int events_prune(events *ev, time_t now, long max_age_s, size_t *deleted, omlop_err *err)
{
    store_list_opts lo = {0};
    store_list_result res = {0};
    prune_ctx pc = {now - max_age_s};
    strbuf prefix = STRBUF_INIT;
    int rc;

    *deleted = 0;
    object_prefix(&prefix, "events");
    lo.prefix = prefix.buf;
    lo.filter = is_old;
    lo.filter_ctx = &pc;
    rc = store_list(ev->st, &lo, &res, err);
    for (size_t i = 0; rc == 0 && i < res.items.n; i++) {
        int64_t rev;
        omlop_err e2 = OMLOP_ERR_INIT;

        /* compare-and-swap: an event raised again meanwhile is kept */
        if (store_delete(ev->st, res.items.items[i].key, res.items.items[i].mod_revision, &rev,
                         &e2) == 0)
            (*deleted)++;
    }
    store_list_result_release(&res);
    strbuf_release(&prefix);
    return rc;
}
