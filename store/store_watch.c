/*
 * store_watch: the watch hub. One feed per store publishes every change in
 * revision order; each subscriber gets the events under its prefix in a bounded
 * ring. A subscriber that starts in the past first drains a backend replay of
 * (after, join] where join is the hub position when it registered; the ring
 * holds exactly the events after join, so the hand-over has no gap and no
 * duplicate. Writers never wait for readers: a full ring closes its subscriber
 * with OMLOP_EGONE.
 *
 * Lifetime: the hub is reference counted (the store holds one, every open
 * watch one) so a watch may be closed after store_close.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store_backend.h"

typedef struct hub_event {
    atomic_int refs;
    store_event ev;
} hub_event;

struct store_hub {
    pthread_mutex_t mu; /* protects everything below; taken before any watch's mu */
    size_t buffer;
    int64_t position; /* revision of the last event published, or the feed start */
    int closed;
    int refs;
    store_watch *subs;
};

struct store_watch {
    store_hub *hub; /* referenced; valid until store_watch_close */
    char *prefix;
    size_t prefix_len;
    int efd; /* readable while something is pending; see watch_rearm */
    int linked;
    store_watch *prev, *next; /* in hub->subs; under hub->mu */

    pthread_mutex_t mu; /* protects the fields below; producers push under it */
    hub_event **ring;
    size_t head, count;
    int64_t after; /* everything up to here was delivered (or skipped) */
    store_replay *replay;
    int err_code;
    char err_msg[OMLOP_ERR_MSG_MAX];
};

static void hub_event_unref(hub_event *he)
{
    if (atomic_fetch_sub(&he->refs, 1) == 1) {
        store_event_release(&he->ev);
        free(he);
    }
}

store_hub *store_hub_new(size_t buffer)
{
    store_hub *h = xcalloc(1, sizeof(*h));

    pthread_mutex_init(&h->mu, NULL);
    h->buffer = buffer;
    h->refs = 1;
    return h;
}

static void hub_unref(store_hub *h)
{
    int last;

    pthread_mutex_lock(&h->mu);
    last = --h->refs == 0;
    pthread_mutex_unlock(&h->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void store_hub_set_position(store_hub *h, int64_t revision)
{
    pthread_mutex_lock(&h->mu);
    h->position = revision;
    pthread_mutex_unlock(&h->mu);
}

int64_t store_hub_position(store_hub *h)
{
    int64_t pos;

    pthread_mutex_lock(&h->mu);
    pos = h->position;
    pthread_mutex_unlock(&h->mu);
    return pos;
}

/* Drop the ring's contents. Under w->mu. */
static void watch_clear_ring(store_watch *w)
{
    size_t cap = w->hub->buffer;

    while (w->count > 0) {
        hub_event_unref(w->ring[w->head]);
        w->head = (w->head + 1) % cap;
        w->count--;
    }
}

/* Close w with an error; the consumer sees it on its next call. Under w->mu. */
static void watch_fail(store_watch *w, int code, const char *msg)
{
    if (!w->err_code) {
        w->err_code = code;
        snprintf(w->err_msg, sizeof(w->err_msg), "%s", msg);
    }
    watch_clear_ring(w);
    if (w->replay) {
        w->replay->ops->close(w->replay);
        w->replay = NULL;
    }
    store_notify(w->efd);
}

static int watch_matches(const store_watch *w, const char *key)
{
    return strncmp(key, w->prefix, w->prefix_len) == 0;
}

void store_hub_publish(store_hub *h, store_event *evs, size_t n)
{
    hub_event **hes;

    if (n == 0)
        return;
    hes = xcalloc(n, sizeof(*hes));
    for (size_t i = 0; i < n; i++) {
        hes[i] = xcalloc(1, sizeof(**hes));
        atomic_init(&hes[i]->refs, 1); /* ours, dropped at the end */
        hes[i]->ev = evs[i];
        memset(&evs[i], 0, sizeof(evs[i]));
    }
    pthread_mutex_lock(&h->mu);
    for (store_watch *w = h->subs; w && !h->closed; w = w->next) {
        int was_empty;

        pthread_mutex_lock(&w->mu);
        was_empty = w->count == 0;
        for (size_t i = 0; i < n && !w->err_code; i++) {
            char msg[256];

            if (!watch_matches(w, hes[i]->ev.kv.key))
                continue;
            if (w->count == h->buffer) {
                snprintf(msg, sizeof(msg),
                         "watcher on prefix '%s' fell behind by more than %zu events "
                         "(at revision %" PRId64 "); re-list and watch again",
                         w->prefix, h->buffer, hes[i]->ev.revision);
                watch_fail(w, OMLOP_EGONE, msg);
                break;
            }
            atomic_fetch_add(&hes[i]->refs, 1);
            w->ring[(w->head + w->count) % h->buffer] = hes[i];
            w->count++;
        }
        /* While replaying, the ring waits; waking the consumer would only spin it. */
        if (was_empty && w->count > 0 && !w->replay)
            store_notify(w->efd);
        pthread_mutex_unlock(&w->mu);
    }
    if (!h->closed)
        h->position = hes[n - 1]->ev.revision;
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; i < n; i++)
        hub_event_unref(hes[i]);
    free(hes);
}

void store_hub_fail_all(store_hub *h, int code, const char *msg, int64_t new_position)
{
    pthread_mutex_lock(&h->mu);
    if (new_position >= 0)
        h->position = new_position;
    for (store_watch *w = h->subs; w; w = w->next) {
        pthread_mutex_lock(&w->mu);
        watch_fail(w, code, msg);
        pthread_mutex_unlock(&w->mu);
    }
    pthread_mutex_unlock(&h->mu);
}

void store_hub_fail_before(store_hub *h, int code, const char *msg, int64_t upto)
{
    pthread_mutex_lock(&h->mu);
    if (upto > h->position)
        h->position = upto;
    for (store_watch *w = h->subs; w; w = w->next) {
        pthread_mutex_lock(&w->mu);
        if (w->after < upto)
            watch_fail(w, code, msg);
        pthread_mutex_unlock(&w->mu);
    }
    pthread_mutex_unlock(&h->mu);
}

void store_hub_close(store_hub *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->closed = 1;
    for (store_watch *w = h->subs; w; w = w->next) {
        pthread_mutex_lock(&w->mu);
        watch_fail(w, OMLOP_EGONE, "the store was closed; watch again after it reopens");
        pthread_mutex_unlock(&w->mu);
    }
    pthread_mutex_unlock(&h->mu);
    hub_unref(h);
}

int store_hub_watch_open(store_hub *h, void *be, const store_backend_ops *ops, const char *prefix,
                         int64_t after, store_watch **out, omlop_err *err)
{
    store_watch *w;
    int64_t join;
    int rc = 0;

    *out = NULL;
    if (after > 0 && (rc = ops->watch_check(be, after, err)) < 0)
        return rc;
    w = xcalloc(1, sizeof(*w));
    w->prefix = xstrdup(prefix);
    w->ring = xcalloc(h->buffer, sizeof(*w->ring));
    w->prefix_len = strlen(prefix);
    pthread_mutex_init(&w->mu, NULL);
    w->hub = h;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0) {
        rc = omlop_err_set(err, OMLOP_EIO, "watch: eventfd failed: %s", strerror(errno));
        free(w->ring);
        free(w->prefix);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return rc;
    }

    pthread_mutex_lock(&h->mu);
    if (h->closed) {
        pthread_mutex_unlock(&h->mu);
        rc = omlop_err_set(err, OMLOP_EGONE, "the store is closed");
        goto fail_unlinked;
    }
    h->refs++;
    join = h->position;
    w->next = h->subs;
    if (h->subs)
        h->subs->prev = w;
    h->subs = w;
    w->linked = 1;
    pthread_mutex_unlock(&h->mu);

    if (after == 0) {
        /* "From now": the store's revision, which may be ahead of the feed (etcd). */
        int64_t cur = 0;

        rc = ops->current_revision(be, &cur, err);
        if (rc < 0)
            goto fail;
        after = cur > join ? cur : join;
    }
    pthread_mutex_lock(&w->mu);
    w->after = after;
    if (after < join && !w->err_code) { /* it may have overflowed already */
        rc = ops->replay_open(be, prefix, after, join, w->efd, &w->replay, err);
        if (rc == 0 && w->replay->ops->is_ready(w->replay))
            store_notify(w->efd);
    }
    pthread_mutex_unlock(&w->mu);
    if (rc < 0)
        goto fail;
    *out = w;
    return 0;
fail:
    store_watch_close(w);
    return rc;
fail_unlinked:
    close(w->efd);
    free(w->ring);
    free(w->prefix);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return rc;
}

/* Take the next deliverable event: 0, 1 when none is ready, or the watch's error. Under w->mu. */
static int watch_take(store_watch *w, store_event *ev, omlop_err *err)
{
    if (w->err_code)
        return omlop_err_set(err, w->err_code, "%s", w->err_msg);
    while (w->replay) {
        omlop_err rerr = OMLOP_ERR_INIT;
        store_event tmp;
        int rc;

        memset(&tmp, 0, sizeof(tmp));
        rc = w->replay->ops->next(w->replay, &tmp, &rerr);
        if (rc == 0) {
            if (tmp.revision <= w->after) {
                store_event_release(&tmp);
                continue;
            }
            w->after = tmp.revision;
            *ev = tmp;
            return 0;
        }
        if (rc == STORE_REPLAY_WAIT)
            return 1;
        if (rc == STORE_REPLAY_DONE) {
            w->replay->ops->close(w->replay);
            w->replay = NULL;
            break;
        }
        watch_fail(w, rc, rerr.msg);
        return omlop_err_set(err, rc, "%s", w->err_msg);
    }
    while (w->count > 0) {
        hub_event *he = w->ring[w->head];

        w->head = (w->head + 1) % w->hub->buffer;
        w->count--;
        if (he->ev.revision > w->after) {
            ev->type = he->ev.type;
            ev->revision = he->ev.revision;
            store_kv_copy(&ev->kv, &he->ev.kv);
            w->after = he->ev.revision;
            hub_event_unref(he);
            return 0;
        }
        hub_event_unref(he);
    }
    return 1;
}

/* Make the fd readable again when more is pending after a take. Under w->mu. */
static void watch_rearm(store_watch *w)
{
    int pending;

    if (w->err_code)
        pending = 1;
    else if (w->replay)
        pending = w->replay->ops->is_ready(w->replay);
    else
        pending = w->count > 0;
    if (pending)
        store_notify(w->efd);
}

int store_watch_next(store_watch *w, store_event *ev, int timeout_ms, omlop_err *err)
{
    int64_t deadline = timeout_ms >= 0 ? clock_now_ms() + timeout_ms : 0;

    memset(ev, 0, sizeof(*ev));
    for (;;) {
        struct pollfd pfd;
        int rc, wait_ms = -1;

        pthread_mutex_lock(&w->mu);
        /* Drain before looking: a producer that pushes after the look writes after the drain. */
        store_notify_drain(w->efd);
        rc = watch_take(w, ev, err);
        if (rc != 1)
            watch_rearm(w);
        pthread_mutex_unlock(&w->mu);
        if (rc != 1)
            return rc;
        if (timeout_ms >= 0) {
            int64_t left = deadline - clock_now_ms();

            if (left <= 0)
                return omlop_err_set(err, OMLOP_ETIMEOUT,
                                     "watch on prefix '%s': no event within %d ms", w->prefix,
                                     timeout_ms);
            wait_ms = (int)left;
        }
        pfd.fd = w->efd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        poll(&pfd, 1, wait_ms);
    }
}

int store_watch_fd(const store_watch *w)
{
    return w->efd;
}

void store_watch_close(store_watch *w)
{
    store_hub *h;

    if (!w)
        return;
    h = w->hub;
    pthread_mutex_lock(&h->mu);
    if (w->linked) {
        if (w->prev)
            w->prev->next = w->next;
        else
            h->subs = w->next;
        if (w->next)
            w->next->prev = w->prev;
        w->linked = 0;
    }
    pthread_mutex_unlock(&h->mu);
    pthread_mutex_lock(&w->mu);
    watch_clear_ring(w);
    if (w->replay) {
        w->replay->ops->close(w->replay);
        w->replay = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    hub_unref(h);
    pthread_mutex_destroy(&w->mu);
    close(w->efd);
    free(w->ring);
    free(w->prefix);
    free(w);
}
