/*
 * store_etcd_watch: etcd watch streams through the JSON gateway.
 *
 * POST /v3/watch with a create_request answers with an endless stream of JSON
 * objects ({"result": WatchResponse} or {"error": ...}); a write callback feeds
 * them to a json_tokener as they arrive. Each stream runs on its own thread
 * with a curl multi handle, so stopping it is curl_multi_wakeup, not a timeout.
 *
 * The feed: one stream over the whole store prefix from the hub position + 1,
 * publishing every response's events; on a broken connection it reconnects
 * (next endpoint, bounded backoff) from the last published revision + 1, so no
 * event is lost or repeated. When etcd compacted past that point meanwhile,
 * the subscribers that needed a lost revision are closed with OMLOP_EGONE and
 * the feed resumes at the compaction point (the others lost nothing).
 *
 * A replay: a stream over one watch prefix from after + 1, queueing events up
 * to upto (bounded: the stream thread waits for the consumer) and ending at
 * the first event past upto, which the subscriber's ring already holds.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "store/store_etcd.h"

#define STREAM_MAX_MESSAGE (64u * 1024 * 1024)
#define STREAM_BACKOFF_MIN 50
#define STREAM_BACKOFF_MAX 1000

/* A stream callback's verdicts besides negative errors. */
#define STREAM_GO_ON 0
#define STREAM_END   1

typedef int (*stream_fn)(void *ctx, json_object *result, omlop_err *err);

typedef struct stream {
    const etcd_conf *conf;
    CURLM *multi;     /* owned by the thread that runs the stream */
    atomic_int *stop; /* set by another thread, followed by curl_multi_wakeup */
    json_tokener *tok;
    size_t pending; /* bytes of the object being parsed */
    stream_fn fn;
    void *ctx;
    int verdict;              /* what fn or the parser decided; 0 while running */
    int64_t compact_revision; /* etcd's compaction point when verdict is OMLOP_EGONE from it */
    omlop_err err;
} stream;

/* --- parsing ------------------------------------------------------------------------------- */

/* The events of one WatchResponse, converted; *evs is owned by the caller. */
static int parse_events(const etcd_conf *c, json_object *result, store_event **evs, size_t *n,
                        omlop_err *err)
{
    json_object *arr = NULL;
    size_t count;

    *evs = NULL;
    *n = 0;
    if (!json_object_object_get_ex(result, "events", &arr) || !arr)
        return 0;
    count = json_object_array_length(arr);
    if (count == 0)
        return 0;
    *evs = xcalloc(count, sizeof(**evs));
    for (size_t i = 0; i < count; i++) {
        json_object *e = json_object_array_get_idx(arr, i), *kvj = NULL, *prev = NULL, *t = NULL;
        store_event *ev = &(*evs)[i];
        int rc;

        json_object_object_get_ex(e, "kv", &kvj);
        if (!kvj || (rc = etcd_parse_kv(c, kvj, &ev->kv, err)) < 0) {
            for (size_t k = 0; k < i; k++)
                store_event_release(&(*evs)[k]);
            free(*evs);
            *evs = NULL;
            return kvj ? rc : omlop_err_set(err, OMLOP_EPROTO, "etcd watch: event without kv");
        }
        ev->revision = ev->kv.mod_revision;
        json_object_object_get_ex(e, "type", &t);
        if (t && strcmp(json_object_get_string(t), "DELETE") == 0) {
            store_kv last;

            ev->type = STORE_EVENT_DELETED;
            free(ev->kv.value); /* a deletion has no value of its own */
            ev->kv.value = NULL;
            ev->kv.value_len = 0;
            if (json_object_object_get_ex(e, "prev_kv", &prev) && prev &&
                etcd_parse_kv(c, prev, &last, NULL) == 0) {
                ev->kv.value = last.value;
                ev->kv.value_len = last.value_len;
                ev->kv.create_revision = last.create_revision;
                ev->kv.version = last.version;
                last.value = NULL;
                store_kv_release(&last);
            }
        } else {
            ev->type = ev->kv.version == 1 ? STORE_EVENT_ADDED : STORE_EVENT_MODIFIED;
        }
    }
    *n = count;
    return 0;
}

/* One complete JSON object from the stream. */
static void stream_message(stream *s, json_object *msg)
{
    json_object *result = NULL, *e = NULL;

    if (json_object_object_get_ex(msg, "error", &e)) {
        s->verdict = omlop_err_set(&s->err, OMLOP_EUNAVAIL, "etcd watch error: %s",
                                   json_object_get_string(e));
        return;
    }
    if (!json_object_object_get_ex(msg, "result", &result) || !result) {
        s->verdict = omlop_err_set(&s->err, OMLOP_EPROTO, "etcd watch: unexpected message %.100s",
                                   json_object_to_json_string(msg));
        return;
    }
    if (etcd_json_int(result, "compact_revision") > 0) {
        s->compact_revision = etcd_json_int(result, "compact_revision");
        s->verdict = omlop_err_set(&s->err, OMLOP_EGONE,
                                   "etcd compacted the watched revisions (compaction point %" PRId64
                                   "); re-list and watch again",
                                   etcd_json_int(result, "compact_revision"));
        return;
    }
    if (json_object_get_boolean(json_object_object_get(result, "canceled"))) {
        s->verdict =
            omlop_err_set(&s->err, OMLOP_EUNAVAIL, "etcd canceled the watch: %s",
                          json_object_get_string(json_object_object_get(result, "cancel_reason")));
        return;
    }
    s->verdict = s->fn(s->ctx, result, &s->err);
}

static size_t stream_write(char *data, size_t size, size_t n, void *arg)
{
    stream *s = arg;
    size_t len = size * n, off = 0;

    while (off < len && s->verdict == 0) {
        json_object *msg;
        size_t used;
        int chunk = (int)(len - off);

        msg = json_tokener_parse_ex(s->tok, data + off, chunk);
        used = json_tokener_get_parse_end(s->tok);
        if (!msg) {
            enum json_tokener_error je = json_tokener_get_error(s->tok);

            if (je != json_tokener_continue) {
                s->verdict = omlop_err_set(&s->err, OMLOP_EPROTO, "etcd watch: bad JSON: %s",
                                           json_tokener_error_desc(je));
                break;
            }
            s->pending += used;
            if (s->pending > STREAM_MAX_MESSAGE)
                s->verdict =
                    omlop_err_set(&s->err, OMLOP_ELIMIT, "etcd watch: message larger than %u bytes",
                                  STREAM_MAX_MESSAGE);
            off += used;
            break;
        }
        off += used;
        s->pending = 0;
        json_tokener_reset(s->tok);
        if (json_object_is_type(msg, json_type_object))
            stream_message(s, msg);
        json_object_put(msg);
    }
    return s->verdict == 0 ? len : 0; /* a short count ends the transfer */
}

/*
 * Run one connection of a watch stream to endpoint idx until fn ends it, the
 * connection breaks (OMLOP_EUNAVAIL) or *stop is set (returns 0).
 */
static int stream_run(stream *s, size_t idx, const char *body, omlop_err *err)
{
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    strbuf url = STRBUF_INIT;
    CURL *h = curl_easy_init();
    CURLcode done = CURLE_OK;
    int running = 1, finished = 0;

    if (!h || !hdrs)
        abort();
    s->verdict = 0;
    s->compact_revision = 0;
    s->pending = 0;
    omlop_err_clear(&s->err);
    json_tokener_reset(s->tok);
    etcd_curl_setup(h, s->conf);
    strbuf_addf(&url, "%s/v3/watch", s->conf->endpoints[idx]);
    curl_easy_setopt(h, CURLOPT_URL, url.buf);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_multi_add_handle(s->multi, h);
    while (!atomic_load(s->stop) && !finished) {
        CURLMsg *m;
        int left;

        curl_multi_perform(s->multi, &running);
        while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
            if (m->msg == CURLMSG_DONE) {
                done = m->data.result;
                finished = 1;
            }
        }
        if (!finished && s->verdict == 0)
            curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
        if (s->verdict != 0)
            finished = 1;
    }
    curl_multi_remove_handle(s->multi, h);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    if (atomic_load(s->stop) && s->verdict <= 0) {
        strbuf_release(&url);
        return 0;
    }
    if (s->verdict != 0) {
        int v = s->verdict;

        if (v < 0)
            omlop_err_set(err, v, "%s (%s)", s->err.msg, url.buf);
        strbuf_release(&url);
        return v;
    }
    omlop_err_set(err, OMLOP_EUNAVAIL, "etcd watch %s ended: %s", url.buf,
                  done == CURLE_OK ? "the server closed the stream" : curl_easy_strerror(done));
    strbuf_release(&url);
    return OMLOP_EUNAVAIL;
}

static void create_body(const etcd_conf *c, const char *prefix, int64_t start, strbuf *body)
{
    json_object *req = json_object_new_object(), *cr = json_object_new_object();
    strbuf full = STRBUF_INIT, enc = STRBUF_INIT;
    char *end, rev[32];
    size_t end_len = 0;

    strbuf_adds(&full, c->prefix);
    strbuf_adds(&full, *prefix ? prefix : "/");
    etcd_b64_encode(&enc, full.buf, full.len);
    json_object_object_add(cr, "key", json_object_new_string(enc.buf));
    end = store_prefix_end(full.buf, full.len, &end_len);
    strbuf_reset(&enc);
    if (end)
        etcd_b64_encode(&enc, end, end_len);
    else
        strbuf_adds(&enc, "AA==");
    json_object_object_add(cr, "range_end", json_object_new_string(enc.buf));
    snprintf(rev, sizeof(rev), "%" PRId64, start);
    json_object_object_add(cr, "start_revision", json_object_new_string(rev));
    json_object_object_add(cr, "prev_kv", json_object_new_boolean(1));
    json_object_object_add(cr, "progress_notify", json_object_new_boolean(1));
    json_object_object_add(req, "create_request", cr);
    strbuf_reset(body);
    strbuf_adds(body, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
    json_object_put(req);
    free(end);
    strbuf_release(&full);
    strbuf_release(&enc);
}

/*
 * Set up a stream on the thread that will run it, and publish its multi handle
 * in *published (under mu) so the thread stopping it can curl_multi_wakeup it.
 */
static void stream_init(stream *s, const etcd_conf *c, atomic_int *stop, stream_fn fn, void *ctx,
                        pthread_mutex_t *mu, CURLM **published)
{
    memset(s, 0, sizeof(*s));
    s->conf = c;
    s->stop = stop;
    s->fn = fn;
    s->ctx = ctx;
    s->multi = curl_multi_init();
    s->tok = json_tokener_new_ex(64);
    if (!s->multi || !s->tok)
        abort();
    pthread_mutex_lock(mu);
    *published = s->multi;
    pthread_mutex_unlock(mu);
}

/* Withdraw the published handle first, so no wakeup reaches a freed multi. */
static void stream_destroy(stream *s, pthread_mutex_t *mu, CURLM **published)
{
    pthread_mutex_lock(mu);
    *published = NULL;
    pthread_mutex_unlock(mu);
    curl_multi_cleanup(s->multi);
    json_tokener_free(s->tok);
}

/* Sleep ms unless woken (curl_multi_wakeup) first. */
static void stream_sleep(stream *s, int ms)
{
    if (!atomic_load(s->stop))
        curl_multi_poll(s->multi, NULL, 0, ms, NULL);
}

/* After a broken stream: pause (doubling up to the cap), then try the next endpoint. */
static void stream_back_off(stream *s, size_t *idx, int *backoff)
{
    *idx = (*idx + 1) % s->conf->n_endpoints;
    stream_sleep(s, *backoff);
    *backoff = *backoff * 2 > STREAM_BACKOFF_MAX ? STREAM_BACKOFF_MAX : *backoff * 2;
}

/* --- the feed ------------------------------------------------------------------------------ */

struct etcd_feed {
    etcd_conf conf;
    store_hub *hub;
    int64_t pos;   /* last revision published; the feed thread's own */
    int connected; /* etcd answered on the current stream; the feed thread's own */
    int failures;  /* streams in a row that broke before etcd answered; ditto */
    atomic_int stop;
    CURLM *multi;       /* for curl_multi_wakeup from etcd_feed_stop */
    pthread_mutex_t mu; /* protects multi against stop racing the thread's exit */
    pthread_t thread;
};

static int feed_on_result(void *ctx, json_object *result, omlop_err *err)
{
    etcd_feed *f = ctx;
    store_event *evs;
    size_t n;
    int rc = parse_events(&f->conf, result, &evs, &n, err);

    if (!f->connected && f->failures > 0)
        log_info("store=etcd watch resumed after revision %" PRId64, f->pos);
    f->connected = 1;
    if (rc < 0)
        return rc;
    if (n > 0) {
        int64_t last = evs[n - 1].revision;

        store_hub_publish(f->hub, evs, n);
        f->pos = last;
        free(evs);
    }
    return STREAM_GO_ON;
}

/* The store's revision now, or 0 when etcd cannot tell. */
static int64_t feed_current_revision(etcd_feed *f)
{
    json_object *req = json_object_new_object(), *resp = NULL, *hdr = NULL;
    int64_t cur = 0;

    json_object_object_add(req, "key", etcd_key_json(&f->conf, "/", 1));
    json_object_object_add(req, "count_only", json_object_new_boolean(1));
    if (etcd_call(&f->conf, NULL, "/v3/kv/range", req, 1, &resp, NULL) == 0) {
        json_object_object_get_ex(resp, "header", &hdr);
        cur = etcd_json_int(hdr, "revision");
        json_object_put(resp);
    }
    json_object_put(req);
    return cur;
}

static void *feed_main(void *arg)
{
    etcd_feed *f = arg;
    stream s;
    strbuf body = STRBUF_INIT;
    size_t idx = atomic_load(&f->conf.preferred);
    int backoff = STREAM_BACKOFF_MIN;

    stream_init(&s, &f->conf, &f->stop, feed_on_result, f, &f->mu, &f->multi);
    while (!atomic_load(&f->stop)) {
        omlop_err err = OMLOP_ERR_INIT;
        int rc;

        f->connected = 0;
        create_body(&f->conf, "", f->pos + 1, &body);
        rc = stream_run(&s, idx, body.buf, &err);
        if (atomic_load(&f->stop))
            break;
        if (f->connected) {
            backoff = STREAM_BACKOFF_MIN;
            f->failures = 0;
        }
        if (rc == OMLOP_EGONE && s.compact_revision > f->pos + 1) {
            /*
             * etcd compacted (pos, compact) before the feed read it: it lagged or reconnected
             * while a compaction ran. Only subscribers that still need a revision below the
             * compaction point lost something; the feed resumes at the point itself, which
             * etcd still serves, so the others (a watch opened at the compaction point) go on.
             */
            int64_t resume = s.compact_revision - 1;

            log_warn("store=etcd watch lost revisions %" PRId64 "..%" PRId64
                     ": %s; watchers that needed them re-list",
                     f->pos + 1, resume, err.msg);
            store_hub_fail_before(f->hub, OMLOP_EGONE, err.msg, resume);
            f->pos = resume;
            s.compact_revision = 0;
            continue;
        }
        if (rc == OMLOP_EGONE) {
            int64_t cur = feed_current_revision(f);

            if (cur > 0) {
                log_warn("store=etcd watch lost revisions after %" PRId64 ": %s; watchers re-list",
                         f->pos, err.msg);
                store_hub_fail_all(f->hub, OMLOP_EGONE, err.msg, cur);
                f->pos = cur;
                continue;
            }
        }
        if (f->failures++ == 0)
            log_warn("store=etcd watch interrupted, reconnecting from revision %" PRId64 ": %s",
                     f->pos + 1, err.msg);
        stream_back_off(&s, &idx, &backoff);
    }
    stream_destroy(&s, &f->mu, &f->multi);
    strbuf_release(&body);
    return NULL;
}

int etcd_feed_start(const etcd_conf *c, store_hub *hub, int64_t from, etcd_feed **out,
                    omlop_err *err)
{
    etcd_feed *f = xcalloc(1, sizeof(*f));

    etcd_conf_copy(&f->conf, c);
    f->hub = hub;
    f->pos = from;
    pthread_mutex_init(&f->mu, NULL);
    if (pthread_create(&f->thread, NULL, feed_main, f) != 0) {
        pthread_mutex_destroy(&f->mu);
        etcd_conf_free(&f->conf);
        free(f);
        return omlop_err_set(err, OMLOP_EINTERNAL, "etcd: cannot start the watch thread");
    }
    *out = f;
    return 0;
}

void etcd_feed_stop(etcd_feed *f)
{
    if (!f)
        return;
    atomic_store(&f->stop, 1);
    pthread_mutex_lock(&f->mu);
    if (f->multi)
        curl_multi_wakeup(f->multi);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    pthread_mutex_destroy(&f->mu);
    etcd_conf_free(&f->conf);
    free(f);
}

/* --- replays ------------------------------------------------------------------------------- */

typedef struct etcd_replay {
    store_replay base;
    etcd_conf conf;
    char *prefix;
    int64_t upto;
    int notify_fd;
    atomic_int stop;
    pthread_t thread;

    pthread_mutex_t mu; /* protects everything below */
    pthread_cond_t cond;
    CURLM *multi; /* while the thread runs, for curl_multi_wakeup */
    int64_t pos;  /* last revision queued */
    store_event *q;
    size_t cap, head, count;
    int done;
    int err_code;
    char err_msg[OMLOP_ERR_MSG_MAX];
} etcd_replay;

static int replay_on_result(void *ctx, json_object *result, omlop_err *err)
{
    etcd_replay *r = ctx;
    store_event *evs;
    size_t n, i;
    int rc = parse_events(&r->conf, result, &evs, &n, err), verdict = STREAM_GO_ON;

    if (rc < 0)
        return rc;
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < n; i++) {
        if (evs[i].revision <= r->pos)
            continue; /* already queued before a reconnect */
        if (evs[i].revision > r->upto) {
            r->done = 1;
            verdict = STREAM_END;
            break;
        }
        while (r->count == r->cap && !atomic_load(&r->stop))
            pthread_cond_wait(&r->cond, &r->mu);
        if (atomic_load(&r->stop))
            break;
        r->pos = evs[i].revision;
        r->q[(r->head + r->count) % r->cap] = evs[i];
        memset(&evs[i], 0, sizeof(evs[i]));
        r->count++;
        if (r->pos == r->upto) {
            r->done = 1;
            verdict = STREAM_END;
        }
        store_notify(r->notify_fd);
        if (verdict == STREAM_END)
            break;
    }
    if (r->done)
        store_notify(r->notify_fd);
    pthread_mutex_unlock(&r->mu);
    for (i = 0; i < n; i++)
        store_event_release(&evs[i]);
    free(evs);
    return verdict;
}

static void *replay_main(void *arg)
{
    etcd_replay *r = arg;
    stream s;
    strbuf body = STRBUF_INIT;
    size_t idx = atomic_load(&r->conf.preferred);
    int backoff = STREAM_BACKOFF_MIN;

    stream_init(&s, &r->conf, &r->stop, replay_on_result, r, &r->mu, &r->multi);
    while (!atomic_load(&r->stop)) {
        omlop_err err = OMLOP_ERR_INIT;
        int64_t from;
        int rc;

        pthread_mutex_lock(&r->mu);
        from = r->pos + 1;
        pthread_mutex_unlock(&r->mu);
        create_body(&r->conf, r->prefix, from, &body);
        rc = stream_run(&s, idx, body.buf, &err);
        if (rc == STREAM_END || atomic_load(&r->stop))
            break;
        if (rc == OMLOP_EGONE || rc == OMLOP_EPROTO || rc == OMLOP_ELIMIT) {
            pthread_mutex_lock(&r->mu);
            r->err_code = rc;
            snprintf(r->err_msg, sizeof(r->err_msg), "%s", err.msg);
            store_notify(r->notify_fd);
            pthread_mutex_unlock(&r->mu);
            break;
        }
        stream_back_off(&s, &idx, &backoff);
    }
    stream_destroy(&s, &r->mu, &r->multi);
    strbuf_release(&body);
    return NULL;
}

static int etcd_replay_next(store_replay *base, store_event *ev, omlop_err *err)
{
    etcd_replay *r = (etcd_replay *)base;
    int rc;

    pthread_mutex_lock(&r->mu);
    if (r->count > 0) {
        *ev = r->q[r->head];
        memset(&r->q[r->head], 0, sizeof(r->q[r->head]));
        r->head = (r->head + 1) % r->cap;
        r->count--;
        pthread_cond_signal(&r->cond);
        rc = 0;
    } else if (r->err_code) {
        rc = omlop_err_set(err, r->err_code, "%s", r->err_msg);
    } else {
        rc = r->done ? STORE_REPLAY_DONE : STORE_REPLAY_WAIT;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static int etcd_replay_ready(store_replay *base)
{
    etcd_replay *r = (etcd_replay *)base;
    int ready;

    pthread_mutex_lock(&r->mu);
    ready = r->count > 0 || r->done || r->err_code;
    pthread_mutex_unlock(&r->mu);
    return ready;
}

static void etcd_replay_close(store_replay *base)
{
    etcd_replay *r = (etcd_replay *)base;

    atomic_store(&r->stop, 1);
    pthread_mutex_lock(&r->mu);
    pthread_cond_broadcast(&r->cond);
    if (r->multi)
        curl_multi_wakeup(r->multi);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    while (r->count > 0) {
        store_event_release(&r->q[r->head]);
        r->head = (r->head + 1) % r->cap;
        r->count--;
    }
    free(r->q);
    free(r->prefix);
    etcd_conf_free(&r->conf);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static const store_replay_ops etcd_replay_ops = {etcd_replay_next, etcd_replay_ready,
                                                 etcd_replay_close};

int etcd_replay_open(const etcd_conf *c, const char *prefix, int64_t after, int64_t upto,
                     size_t buffer, int notify_fd, store_replay **out, omlop_err *err)
{
    etcd_replay *r = xcalloc(1, sizeof(*r));

    r->base.ops = &etcd_replay_ops;
    etcd_conf_copy(&r->conf, c);
    r->prefix = xstrdup(prefix);
    r->cap = buffer;
    r->q = xcalloc(buffer, sizeof(*r->q));
    r->pos = after;
    r->upto = upto;
    r->notify_fd = notify_fd;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    if (pthread_create(&r->thread, NULL, replay_main, r) != 0) {
        free(r->q);
        free(r->prefix);
        etcd_conf_free(&r->conf);
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return omlop_err_set(err, OMLOP_EINTERNAL, "etcd: cannot start a replay thread");
    }
    *out = &r->base;
    return 0;
}
