/*
 * store_etcd: the etcd v3 backend, through etcd's JSON gateway (/v3/...) with
 * libcurl and json-c. Works with etcd 3.4 (Debian 12) and later.
 *
 * Keys are conf.prefix + key, base64 in JSON; int64 fields are JSON strings.
 * create = txn(CREATE revision == 0), update/delete = txn(MOD revision ==
 * expected, or VERSION > 0 for "any"), with a range in the failure branch to
 * tell "absent" from "stale". A list reads every page at the first page's
 * revision, so it is one snapshot. Endpoints are tried in turn on connection
 * failures; a write moves on only when the request surely was not sent.
 * Plumbing (locations, codecs, HTTP) is in store_etcd_http.c, watches in
 * store_etcd_watch.c.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store_etcd.h"

#define ETCD_POOL      8
#define ETCD_LIST_PAGE 500

typedef struct etcd_be {
    etcd_conf conf;
    size_t watch_buffer;
    etcd_feed *feed;

    pthread_mutex_t pool_mu; /* protects pool: idle curl handles, kept for keep-alive */
    CURL *pool[ETCD_POOL];
    size_t pool_n;
} etcd_be;
static CURL *pool_get(etcd_be *b)
{
    CURL *h = NULL;

    pthread_mutex_lock(&b->pool_mu);
    if (b->pool_n > 0)
        h = b->pool[--b->pool_n];
    pthread_mutex_unlock(&b->pool_mu);
    if (!h) {
        h = curl_easy_init();
        if (!h)
            abort();
        etcd_curl_setup(h, &b->conf);
    }
    return h;
}

static void pool_put(etcd_be *b, CURL *h)
{
    pthread_mutex_lock(&b->pool_mu);
    if (b->pool_n < ETCD_POOL) {
        b->pool[b->pool_n++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&b->pool_mu);
    if (h)
        curl_easy_cleanup(h);
}

static int call(etcd_be *b, const char *path, json_object *req, int idempotent, json_object **resp,
                omlop_err *err)
{
    CURL *h = pool_get(b);
    int rc = etcd_call(&b->conf, h, path, req, idempotent, resp, err);

    pool_put(b, h);
    json_object_put(req);
    return rc;
}

static void set_int(json_object *o, const char *field, int64_t v)
{
    char tmp[32];

    snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    json_object_object_add(o, field, json_object_new_string(tmp));
}

static int64_t header_revision(json_object *resp)
{
    json_object *h = NULL;

    json_object_object_get_ex(resp, "header", &h);
    return etcd_json_int(h, "revision");
}

/* --- reads --------------------------------------------------------------------------------- */

static json_object *range_req(etcd_be *b, const char *key)
{
    json_object *req = json_object_new_object();

    json_object_object_add(req, "key", etcd_key_json(&b->conf, key, strlen(key)));
    return req;
}

static int etcd_get(void *be, const char *key, store_kv *out, omlop_err *err)
{
    etcd_be *b = be;
    json_object *resp, *kvs;
    int rc = call(b, "/v3/kv/range", range_req(b, key), 1, &resp, err);

    if (rc < 0)
        return rc;
    if (!json_object_object_get_ex(resp, "kvs", &kvs) || json_object_array_length(kvs) == 0)
        rc = omlop_err_set(err, OMLOP_ENOTFOUND, "key '%s' not found", key);
    else
        rc = etcd_parse_kv(&b->conf, json_object_array_get_idx(kvs, 0), out, err);
    json_object_put(resp);
    return rc;
}

static int etcd_list(void *be, const store_list_opts *opts, store_list_result *out, omlop_err *err)
{
    etcd_be *b = be;
    size_t plen = strlen(opts->prefix), page;
    strbuf from = STRBUF_INIT, full = STRBUF_INIT, enc = STRBUF_INIT;
    char *end;
    size_t end_len = 0;
    int rc = 0, more = 1;

    page = opts->limit && !opts->filter ? opts->limit + 1 : ETCD_LIST_PAGE;
    if (page > ETCD_LIST_PAGE)
        page = ETCD_LIST_PAGE;
    /* The range [prefix, prefix_end) starting after start_after. */
    strbuf_adds(&full, b->conf.prefix);
    strbuf_adds(&full, plen ? opts->prefix : "/");
    end = store_prefix_end(full.buf, full.len, &end_len);
    if (opts->start_after && strcmp(opts->start_after, opts->prefix) >= 0) {
        strbuf_adds(&from, b->conf.prefix);
        strbuf_adds(&from, opts->start_after);
        strbuf_addch(&from, '\0'); /* the smallest key after start_after */
    } else {
        strbuf_add(&from, full.buf, full.len);
    }
    while (more) {
        json_object *req = json_object_new_object(), *resp, *kvs = NULL;
        size_t n;

        strbuf_reset(&enc);
        etcd_b64_encode(&enc, from.buf, from.len);
        json_object_object_add(req, "key", json_object_new_string(enc.buf));
        strbuf_reset(&enc);
        if (end) {
            etcd_b64_encode(&enc, end, end_len);
            json_object_object_add(req, "range_end", json_object_new_string(enc.buf));
        } else {
            json_object_object_add(req, "range_end", json_object_new_string("AA=="));
        }
        set_int(req, "limit", (int64_t)page);
        if (out->revision)
            set_int(req, "revision", out->revision);
        if ((rc = call(b, "/v3/kv/range", req, 1, &resp, err)) < 0)
            break;
        if (!out->revision)
            out->revision = header_revision(resp);
        more = json_object_get_boolean(json_object_object_get(resp, "more"));
        json_object_object_get_ex(resp, "kvs", &kvs);
        n = kvs ? json_object_array_length(kvs) : 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            store_kv kv;

            if ((rc = etcd_parse_kv(&b->conf, json_object_array_get_idx(kvs, i), &kv, err)) < 0)
                break;
            strbuf_reset(&from);
            strbuf_adds(&from, b->conf.prefix);
            strbuf_adds(&from, kv.key);
            strbuf_addch(&from, '\0'); /* the next page starts right after this key */
            if (opts->filter && !opts->filter(&kv, opts->filter_ctx)) {
                store_kv_release(&kv);
                continue;
            }
            if (opts->limit && out->items.n == opts->limit) {
                out->has_more = 1;
                more = 0;
                store_kv_release(&kv);
                break;
            }
            store_kv_list_push(&out->items, &kv);
        }
        json_object_put(resp);
        if (n == 0)
            more = 0;
    }
    free(end);
    strbuf_release(&from);
    strbuf_release(&full);
    strbuf_release(&enc);
    return rc;
}

static int etcd_current_revision(void *be, int64_t *revision, omlop_err *err)
{
    etcd_be *b = be;
    json_object *req = range_req(b, "/"), *resp;
    int rc;

    json_object_object_add(req, "count_only", json_object_new_boolean(1));
    if ((rc = call(b, "/v3/kv/range", req, 1, &resp, err)) < 0)
        return rc;
    *revision = header_revision(resp);
    json_object_put(resp);
    return 0;
}

/* Whether a read at revision works: 0, OMLOP_EGONE (compacted) or another error. */
static int probe_revision(etcd_be *b, int64_t rev, omlop_err *err)
{
    json_object *req = range_req(b, "/"), *resp;
    int rc;

    json_object_object_add(req, "count_only", json_object_new_boolean(1));
    set_int(req, "revision", rev);
    rc = call(b, "/v3/kv/range", req, 1, &resp, err);
    if (rc == 0)
        json_object_put(resp);
    return rc;
}

static int etcd_compacted_revision(void *be, int64_t *revision, omlop_err *err)
{
    etcd_be *b = be;
    int64_t lo = 1, hi, cur;
    int rc;

    /* etcd does not report its compaction point; find the oldest readable revision. */
    if ((rc = etcd_current_revision(b, &cur, err)) < 0)
        return rc;
    hi = cur;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;

        rc = probe_revision(b, mid, err);
        if (rc == OMLOP_EGONE)
            lo = mid + 1;
        else if (rc == 0)
            hi = mid;
        else
            return rc;
    }
    *revision = lo > 1 ? lo : 0;
    return 0;
}

static int etcd_watch_check(void *be, int64_t after, omlop_err *err)
{
    int rc = probe_revision(be, after, err);

    if (rc == OMLOP_EINVAL) /* a future revision: nothing to miss */
        return 0;
    if (rc == OMLOP_EGONE)
        return omlop_err_set(err, OMLOP_EGONE,
                             "revision %" PRId64 " was compacted in etcd; re-list and watch again",
                             after);
    return rc;
}

/* --- writes -------------------------------------------------------------------------------- */

static json_object *compare(etcd_be *b, const char *key, const char *target, const char *result,
                            const char *field, int64_t v)
{
    json_object *c = json_object_new_object();

    json_object_object_add(c, "key", etcd_key_json(&b->conf, key, strlen(key)));
    json_object_object_add(c, "target", json_object_new_string(target));
    json_object_object_add(c, "result", json_object_new_string(result));
    set_int(c, field, v);
    return c;
}

static json_object *one(const char *name, json_object *op)
{
    json_object *wrap = json_object_new_object(), *arr = json_object_new_array();

    json_object_object_add(wrap, name, op);
    json_object_array_add(arr, wrap);
    return arr;
}

/*
 * Run a txn: compare, then op on success or a range of key on failure.
 * On failure tell the caller what is there: ENOTFOUND, or ECONFLICT/EEXIST.
 */
static int txn(etcd_be *b, const char *key, json_object *cmp, const char *op_name, json_object *op,
               int64_t expect, int create, int64_t *revision, omlop_err *err)
{
    json_object *req = json_object_new_object(), *resp, *rs, *kvs = NULL;
    int64_t now = 0;
    int rc;

    json_object *cmps = json_object_new_array();

    json_object_array_add(cmps, cmp);
    json_object_object_add(req, "compare", cmps);
    json_object_object_add(req, "success", one(op_name, op));
    json_object_object_add(req, "failure", one("request_range", range_req(b, key)));
    if ((rc = call(b, "/v3/kv/txn", req, 0, &resp, err)) < 0)
        return rc;
    if (json_object_get_boolean(json_object_object_get(resp, "succeeded"))) {
        *revision = header_revision(resp);
        json_object_put(resp);
        return 0;
    }
    rs = json_object_array_get_idx(json_object_object_get(resp, "responses"), 0);
    json_object_object_get_ex(json_object_object_get(rs, "response_range"), "kvs", &kvs);
    if (kvs && json_object_array_length(kvs) > 0)
        now = etcd_json_int(json_object_array_get_idx(kvs, 0), "mod_revision");
    json_object_put(resp);
    if (create)
        return omlop_err_set(err, OMLOP_EEXIST,
                             "key '%s' already exists (resourceVersion %" PRId64 ")", key, now);
    if (!now)
        return omlop_err_set(err, OMLOP_ENOTFOUND, "key '%s' not found", key);
    return omlop_err_set(err, OMLOP_ECONFLICT,
                         "key '%s' was modified: resourceVersion is %" PRId64 ", expected %" PRId64
                         "; re-read and retry",
                         key, now, expect);
}

static json_object *put_op(etcd_be *b, const char *key, const char *value, size_t len)
{
    json_object *op = json_object_new_object();
    strbuf enc = STRBUF_INIT;

    json_object_object_add(op, "key", etcd_key_json(&b->conf, key, strlen(key)));
    etcd_b64_encode(&enc, value, len);
    json_object_object_add(op, "value", json_object_new_string_len(strbuf_str(&enc), (int)enc.len));
    strbuf_release(&enc);
    return op;
}

static json_object *exists_or_rev(etcd_be *b, const char *key, int64_t expect)
{
    if (expect)
        return compare(b, key, "MOD", "EQUAL", "mod_revision", expect);
    return compare(b, key, "VERSION", "GREATER", "version", 0);
}

static int etcd_create(void *be, const char *key, const char *value, size_t len, int64_t *revision,
                       omlop_err *err)
{
    etcd_be *b = be;

    return txn(b, key, compare(b, key, "CREATE", "EQUAL", "create_revision", 0), "request_put",
               put_op(b, key, value, len), 0, 1, revision, err);
}

static int etcd_update(void *be, const char *key, const char *value, size_t len, int64_t expect,
                       int64_t *revision, omlop_err *err)
{
    etcd_be *b = be;

    return txn(b, key, exists_or_rev(b, key, expect), "request_put", put_op(b, key, value, len),
               expect, 0, revision, err);
}

static int etcd_delete(void *be, const char *key, int64_t expect, int64_t *revision, omlop_err *err)
{
    etcd_be *b = be;
    json_object *op = range_req(b, key);

    json_object_object_add(op, "prev_kv", json_object_new_boolean(1));
    return txn(b, key, exists_or_rev(b, key, expect), "request_delete_range", op, expect, 0,
               revision, err);
}

static int etcd_compact(void *be, int64_t revision, omlop_err *err)
{
    etcd_be *b = be;
    json_object *req = json_object_new_object(), *resp;
    omlop_err e2 = OMLOP_ERR_INIT;
    int rc;

    set_int(req, "revision", revision);
    json_object_object_add(req, "physical", json_object_new_boolean(1));
    rc = call(b, "/v3/kv/compaction", req, 1, &resp, &e2);
    if (rc == 0) {
        json_object_put(resp);
        return 0;
    }
    if (rc == OMLOP_EGONE) /* already compacted at or after revision */
        return 0;
    if (rc == OMLOP_EINVAL)
        return omlop_err_set(err, OMLOP_EINVAL, "cannot compact at revision %" PRId64 ": %s",
                             revision, e2.msg);
    return omlop_err_set(err, rc, "%s", e2.msg);
}

/* --- feed, replay, open, close ------------------------------------------------------------- */

static int etcd_feed_start_op(void *be, store_hub *hub, omlop_err *err)
{
    etcd_be *b = be;
    int64_t cur;
    int rc;

    if ((rc = etcd_current_revision(b, &cur, err)) < 0)
        return rc;
    store_hub_set_position(hub, cur);
    return etcd_feed_start(&b->conf, hub, cur, &b->feed, err);
}

static void etcd_feed_stop_op(void *be)
{
    etcd_be *b = be;

    etcd_feed_stop(b->feed);
    b->feed = NULL;
}

static int etcd_replay_open_op(void *be, const char *prefix, int64_t after, int64_t upto,
                               int notify_fd, store_replay **out, omlop_err *err)
{
    etcd_be *b = be;

    return etcd_replay_open(&b->conf, prefix, after, upto, b->watch_buffer, notify_fd, out, err);
}

static void etcd_close(void *be)
{
    etcd_be *b = be;

    if (!b)
        return;
    etcd_feed_stop(b->feed);
    for (size_t i = 0; i < b->pool_n; i++)
        curl_easy_cleanup(b->pool[i]);
    pthread_mutex_destroy(&b->pool_mu);
    etcd_conf_free(&b->conf);
    free(b);
    curl_global_cleanup();
}

static const store_backend_ops etcd_ops = {
    .name = "etcd",
    .get = etcd_get,
    .list = etcd_list,
    .create = etcd_create,
    .update = etcd_update,
    .del = etcd_delete,
    .current_revision = etcd_current_revision,
    .compact = etcd_compact,
    .compacted_revision = etcd_compacted_revision,
    .watch_check = etcd_watch_check,
    .feed_start = etcd_feed_start_op,
    .feed_stop = etcd_feed_stop_op,
    .replay_open = etcd_replay_open_op,
    .close = etcd_close,
};

/* Parse one "host[:port]" or "[v6][:port]" into scheme://host:port. */ int
store_etcd_open(const char *location, const store_options *opts, void **be,
                const store_backend_ops **ops, omlop_err *err)
{
    etcd_be *b = xcalloc(1, sizeof(*b));
    json_object *resp = NULL;
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_mutex_init(&b->pool_mu, NULL);
    b->watch_buffer = opts->watch_buffer;
    if ((rc = etcd_conf_parse(location, opts, &b->conf, err)) < 0)
        goto fail;
    rc = call(b, "/v3/maintenance/status", json_object_new_object(), 1, &resp, err);
    if (rc < 0) {
        omlop_err_prefix(err, "store etcd://%s: ", location);
        goto fail;
    }
    log_info("store=etcd endpoints=%s prefix=%s version=%s revision=%" PRId64 " connected",
             location, b->conf.prefix,
             json_object_get_string(json_object_object_get(resp, "version")),
             header_revision(resp));
    json_object_put(resp);
    *be = b;
    *ops = &etcd_ops;
    return 0;
fail:
    etcd_close(b);
    return rc;
}
