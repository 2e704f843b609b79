/*
 * store: URL dispatch, argument checks shared by every backend, the close
 * protocol (in-flight calls finish first) and periodic compaction.
 * Backends live in store_sqlite.c and store_etcd*.c; watches in store_watch.c.
 */
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "store/store_backend.h"

/* Longest key we accept: keys are "/omlop/<kind>/<name>" with DNS-label names. */
#define STORE_KEY_MAX 1024
/* Largest value: below etcd's default 1.5 MiB request limit, with room for base64. */
#define STORE_VALUE_MAX (1024 * 1024)

struct store {
    const store_backend_ops *ops;
    void *be;
    store_hub *hub;
    store_options opts;
    char *describe;

    pthread_mutex_t mu; /* protects closing, inflight and stop_compactor */
    pthread_cond_t cond;
    int closing;
    int inflight;
    int stop_compactor;
    int has_compactor;
    pthread_t compactor;
};

void store_options_default(store_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->compact_keep = 10000;
    opts->compact_interval_s = 300;
    opts->watch_buffer = 1024;
}

void store_notify(int fd)
{
    uint64_t one = 1;

    /* EAGAIN means the counter is already huge: readable anyway. */
    if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("store: eventfd write failed: %s", strerror(errno));
}

void store_notify_drain(int fd)
{
    uint64_t v;

    while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
        ;
}

char *store_prefix_end(const char *prefix, size_t len, size_t *end_len)
{
    char *end;

    while (len > 0 && (unsigned char)prefix[len - 1] == 0xff)
        len--;
    if (len == 0)
        return NULL;
    end = xmalloc(len + 1);
    memcpy(end, prefix, len);
    end[len - 1] = (char)((unsigned char)end[len - 1] + 1);
    end[len] = '\0';
    if (end_len)
        *end_len = len;
    return end;
}

void store_kv_list_push(store_kv_list *list, store_kv *kv)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        store_kv *items = xrealloc(list->items, cap * sizeof(*items));

        list->items = items;
        list->cap = cap;
    }
    list->items[list->n++] = *kv;
    memset(kv, 0, sizeof(*kv));
}

static char *dup_bytes(const char *p, size_t len)
{
    char *d = xmalloc(len + 1);

    memcpy(d, p, len);
    d[len] = '\0';
    return d;
}

void store_kv_copy(store_kv *dst, const store_kv *src)
{
    *dst = *src;
    dst->key = src->key ? dup_bytes(src->key, strlen(src->key)) : NULL;
    dst->value = src->value ? dup_bytes(src->value, src->value_len) : NULL;
}

void store_kv_release(store_kv *kv)
{
    if (!kv)
        return;
    free(kv->key);
    free(kv->value);
    memset(kv, 0, sizeof(*kv));
}

void store_kv_list_release(store_kv_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++)
        store_kv_release(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

void store_list_result_release(store_list_result *res)
{
    if (!res)
        return;
    store_kv_list_release(&res->items);
    res->revision = 0;
    res->has_more = 0;
}

void store_event_release(store_event *ev)
{
    if (!ev)
        return;
    store_kv_release(&ev->kv);
    ev->type = 0;
    ev->revision = 0;
}

/* --- close protocol ------------------------------------------------------------------------ */

static int store_enter(store *s, omlop_err *err)
{
    int rc = 0;

    pthread_mutex_lock(&s->mu);
    if (s->closing)
        rc = omlop_err_set(err, OMLOP_EUNAVAIL, "store %s is closing", s->describe);
    else
        s->inflight++;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void store_leave(store *s)
{
    pthread_mutex_lock(&s->mu);
    if (--s->inflight == 0 && s->closing)
        pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

/* --- periodic compaction ------------------------------------------------------------------- */

static void compact_once(store *s)
{
    omlop_err err = OMLOP_ERR_INIT;
    int64_t cur = 0, done = 0;

    if (s->ops->current_revision(s->be, &cur, &err) < 0 ||
        s->ops->compacted_revision(s->be, &done, &err) < 0)
        goto fail;
    if (cur - s->opts.compact_keep <= done)
        return;
    if (s->ops->compact(s->be, cur - s->opts.compact_keep, &err) < 0)
        goto fail;
    log_info("store=%s compacted_revision=%" PRId64 " revision=%" PRId64 " periodic compaction",
             s->describe, cur - s->opts.compact_keep, cur);
    return;
fail:
    log_warn("store=%s periodic compaction failed: %s", s->describe, err.msg);
}

static void *compactor_main(void *arg)
{
    store *s = arg;

    pthread_mutex_lock(&s->mu);
    while (!s->stop_compactor) {
        struct timespec ts;

        clock_deadline_after(&ts, (int64_t)s->opts.compact_interval_s * 1000);
        while (!s->stop_compactor && pthread_cond_timedwait(&s->cond, &s->mu, &ts) != ETIMEDOUT)
            ;
        if (s->stop_compactor)
            break;
        pthread_mutex_unlock(&s->mu);
        compact_once(s);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* --- open / close -------------------------------------------------------------------------- */

static int parse_url(const char *url, const store_options *opts, int *is_etcd, const char **loc,
                     omlop_err *err)
{
    *is_etcd = 0;
    *loc = NULL;
    if (!url || !*url || strcmp(url, "sqlite") == 0 || strcmp(url, "sqlite:") == 0 ||
        strcmp(url, "sqlite://") == 0) {
        *loc = opts->data_dir;
    } else if (strncmp(url, "sqlite://", 9) == 0) {
        *loc = url + 9;
    } else if (strncmp(url, "sqlite:", 7) == 0) {
        *loc = url + 7;
    } else if (strncmp(url, "etcd://", 7) == 0) {
        *is_etcd = 1;
        *loc = url + 7;
        return 0;
    } else {
        return omlop_err_set(err, OMLOP_EINVAL,
                             "unknown store URL '%s': use 'sqlite' (with --data-dir), "
                             "'sqlite:///DIR' or 'etcd://HOST:PORT[,HOST:PORT...][/prefix]'",
                             url);
    }
    if (!*loc || !**loc)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "store URL '%s' names no directory: pass --data-dir DIR or use "
                             "sqlite:///DIR",
                             url ? url : "");
    return 0;
}

int store_open(const char *url, const store_options *opts_in, store **out, omlop_err *err)
{
    store_options defaults;
    const store_options *opts = opts_in;
    const char *loc;
    int is_etcd, rc;
    store *s = NULL;
    strbuf desc = STRBUF_INIT;

    *out = NULL;
    if (!opts) {
        store_options_default(&defaults);
        opts = &defaults;
    }
    rc = parse_url(url, opts, &is_etcd, &loc, err);
    if (rc < 0)
        return rc;
    if (opts->compact_keep < 1 || opts->compact_interval_s < 0 || opts->watch_buffer < 1)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "store options: compact_keep (%" PRId64 ") and watch_buffer (%zu) "
                             "must be >= 1, compact_interval_s (%d) >= 0",
                             opts->compact_keep, opts->watch_buffer, opts->compact_interval_s);
    s = xcalloc(1, sizeof(*s));
    s->opts = *opts;
    pthread_mutex_init(&s->mu, NULL);
    {
        pthread_condattr_t ca;

        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    strbuf_addf(&desc, "%s:%s", is_etcd ? "etcd" : "sqlite", loc);
    s->describe = strbuf_detach(&desc, NULL);
    if (is_etcd)
        rc = store_etcd_open(loc, opts, &s->be, &s->ops, err);
    else
        rc = store_sqlite_open(loc, opts, &s->be, &s->ops, err);
    if (rc < 0)
        goto fail;
    s->hub = store_hub_new(opts->watch_buffer);
    rc = s->ops->feed_start(s->be, s->hub, err);
    if (rc < 0)
        goto fail;
    if (opts->compact_interval_s > 0) {
        if (pthread_create(&s->compactor, NULL, compactor_main, s) != 0) {
            rc = omlop_err_set(err, OMLOP_EINTERNAL, "store %s: cannot start compaction thread",
                               s->describe);
            goto fail;
        }
        s->has_compactor = 1;
    }
    *out = s;
    return 0;
fail:
    if (s->hub) {
        s->ops->feed_stop(s->be);
        store_hub_close(s->hub);
    }
    if (s->be)
        s->ops->close(s->be);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s->describe);
    free(s);
    return rc;
}

void store_close(store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    s->stop_compactor = 1;
    pthread_cond_broadcast(&s->cond);
    while (s->inflight > 0)
        pthread_cond_wait(&s->cond, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (s->has_compactor)
        pthread_join(s->compactor, NULL);
    /* Watches first: their replays may read through the backend. */
    s->ops->feed_stop(s->be);
    store_hub_close(s->hub);
    s->ops->close(s->be);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s->describe);
    free(s);
}

const char *store_describe(const store *s)
{
    return s ? s->describe : "(no store)";
}

/* --- argument checks ----------------------------------------------------------------------- */

static int check_key(const char *what, const char *key, omlop_err *err)
{
    size_t n;

    if (!key || key[0] != '/')
        return omlop_err_set(err, OMLOP_EINVAL, "store: %s '%s' must start with '/'", what,
                             key ? key : "(null)");
    n = strlen(key);
    if (n > STORE_KEY_MAX)
        return omlop_err_set(err, OMLOP_EINVAL, "store: %s '%.64s...' is longer than %d bytes",
                             what, key, STORE_KEY_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];

        if (c < 0x20 || c == 0x7f)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "store: %s '%s' has a control character at byte %zu", what, key,
                                 i);
    }
    return 0;
}

static int check_value(const char *key, const char *value, size_t len, omlop_err *err)
{
    if (!value)
        return omlop_err_set(err, OMLOP_EINVAL, "store: value for key '%s' is NULL", key);
    if (len > STORE_VALUE_MAX)
        return omlop_err_set(err, OMLOP_ELIMIT,
                             "store: value for key '%s' is %zu bytes, more than the %d byte limit",
                             key, len, STORE_VALUE_MAX);
    return 0;
}

static int check_revision(const char *what, int64_t rev, omlop_err *err)
{
    if (rev < 0)
        return omlop_err_set(err, OMLOP_EINVAL, "store: %s %" PRId64 " is negative", what, rev);
    return 0;
}

/* --- operations ---------------------------------------------------------------------------- */

int store_get(store *s, const char *key, store_kv *out, omlop_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = check_key("key", key, err);
    if (rc < 0 || (rc = store_enter(s, err)) < 0)
        return rc;
    rc = s->ops->get(s->be, key, out, err);
    store_leave(s);
    return rc;
}

int store_get_many(store *s, const char *const *keys, size_t n, store_kv *out, omlop_err *err)
{
    int rc = 0;

    if (n > STORE_GET_MANY_MAX)
        return omlop_err_set(err, OMLOP_EINVAL, "store_get_many: %zu keys, at most %d", n,
                             STORE_GET_MANY_MAX);
    memset(out, 0, n * sizeof(*out));
    for (size_t i = 0; i < n; i++)
        if ((rc = check_key("key", keys[i], err)) < 0)
            return rc;
    if (n == 0 || (rc = store_enter(s, err)) < 0)
        return rc;
    if (s->ops->get_many) {
        rc = s->ops->get_many(s->be, keys, n, out, err);
    } else {
        for (size_t i = 0; i < n && rc >= 0; i++) {
            rc = s->ops->get(s->be, keys[i], &out[i], err);
            if (rc == OMLOP_ENOTFOUND) {
                memset(&out[i], 0, sizeof(out[i]));
                omlop_err_clear(err);
                rc = 0;
            }
        }
    }
    store_leave(s);
    if (rc < 0)
        for (size_t i = 0; i < n; i++)
            store_kv_release(&out[i]);
    return rc;
}

int store_list(store *s, const store_list_opts *opts, store_list_result *out, omlop_err *err)
{
    store_list_opts o;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!opts)
        return omlop_err_set(err, OMLOP_EINVAL, "store_list: no options");
    o = *opts;
    if (!o.prefix)
        o.prefix = "";
    if (*o.prefix && (rc = check_key("list prefix", o.prefix, err)) < 0)
        return rc;
    if (o.start_after && (rc = check_key("list start_after", o.start_after, err)) < 0)
        return rc;
    if ((rc = store_enter(s, err)) < 0)
        return rc;
    rc = s->ops->list(s->be, &o, out, err);
    store_leave(s);
    if (rc < 0)
        store_list_result_release(out);
    return rc;
}

int store_create(store *s, const char *key, const char *value, size_t len, int64_t *revision,
                 omlop_err *err)
{
    int64_t rev = 0;
    int rc;

    if ((rc = check_key("key", key, err)) < 0 || (rc = check_value(key, value, len, err)) < 0)
        return rc;
    if ((rc = store_enter(s, err)) < 0)
        return rc;
    rc = s->ops->create(s->be, key, value, len, &rev, err);
    store_leave(s);
    if (rc == 0 && revision)
        *revision = rev;
    return rc;
}

int store_update(store *s, const char *key, const char *value, size_t len, int64_t expect_revision,
                 int64_t *revision, omlop_err *err)
{
    int64_t rev = 0;
    int rc;

    if ((rc = check_key("key", key, err)) < 0 || (rc = check_value(key, value, len, err)) < 0 ||
        (rc = check_revision("expected revision", expect_revision, err)) < 0)
        return rc;
    if ((rc = store_enter(s, err)) < 0)
        return rc;
    rc = s->ops->update(s->be, key, value, len, expect_revision, &rev, err);
    store_leave(s);
    if (rc == 0 && revision)
        *revision = rev;
    return rc;
}

int store_delete(store *s, const char *key, int64_t expect_revision, int64_t *revision,
                 omlop_err *err)
{
    int64_t rev = 0;
    int rc;

    if ((rc = check_key("key", key, err)) < 0 ||
        (rc = check_revision("expected revision", expect_revision, err)) < 0)
        return rc;
    if ((rc = store_enter(s, err)) < 0)
        return rc;
    rc = s->ops->del(s->be, key, expect_revision, &rev, err);
    store_leave(s);
    if (rc == 0 && revision)
        *revision = rev;
    return rc;
}

int store_current_revision(store *s, int64_t *revision, omlop_err *err)
{
    int rc;

    if ((rc = store_enter(s, err)) < 0)
        return rc;
    rc = s->ops->current_revision(s->be, revision, err);
    store_leave(s);
    return rc;
}

int store_compact(store *s, int64_t revision, omlop_err *err)
{
    int rc;

    if ((rc = check_revision("compaction revision", revision, err)) < 0)
        return rc;
    if ((rc = store_enter(s, err)) < 0)
        return rc;
    rc = s->ops->compact(s->be, revision, err);
    store_leave(s);
    return rc;
}

int store_compacted_revision(store *s, int64_t *revision, omlop_err *err)
{
    int rc;

    if ((rc = store_enter(s, err)) < 0)
        return rc;
    rc = s->ops->compacted_revision(s->be, revision, err);
    store_leave(s);
    return rc;
}

int store_watch_open(store *s, const char *prefix, int64_t after_revision, store_watch **out,
                     omlop_err *err)
{
    int rc;

    *out = NULL;
    if (!prefix)
        prefix = "";
    if ((*prefix && (rc = check_key("watch prefix", prefix, err)) < 0) ||
        (rc = check_revision("watch revision", after_revision, err)) < 0)
        return rc;
    if ((rc = store_enter(s, err)) < 0)
        return rc;
    rc = store_hub_watch_open(s->hub, s->be, s->ops, prefix, after_revision, out, err);
    store_leave(s);
    if (rc < 0)
        omlop_err_prefix(err, "store %s: ", s->describe);
    return rc;
}
