/* workqueue: deduplicating, rate-limited queue of keys (see workqueue.h). */
#include "operator/workqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/xalloc.h"

typedef struct wq_entry {
    char *key;
    struct wq_entry *next_in_bucket;
    int is_queued;     /* in the ready FIFO */
    int is_processing; /* handed out by workqueue_get, not yet done */
    int is_dirty;      /* added while processing: queue again on done */
    int failures;      /* since the last forget */
    int64_t due_ms;    /* > 0: waiting in the delayed set until then */
} wq_entry;

struct workqueue {
    workqueue_options opts;

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;  /* signalled on add, promotion and shutdown */

    wq_entry **buckets; /* key -> entry, chained */
    size_t nbuckets;
    size_t nentries;

    wq_entry **ready; /* FIFO ring of queued entries */
    size_t ready_head, ready_len, ready_cap;

    wq_entry **delayed; /* entries with due_ms > 0, unordered */
    size_t delayed_len, delayed_cap;

    double tokens; /* global bucket */
    int64_t tokens_at_ms;
    int is_shutdown;
};

static int64_t monotonic_ms(void *ctx)
{
    (void)ctx;
    return clock_now_ms();
}

void workqueue_options_default(workqueue_options *opts)
{
    opts->backoff_base_ms = 5;
    opts->backoff_max_ms = 300000;
    opts->rate_per_s = 10.0;
    opts->rate_burst = 100.0;
    opts->clock = NULL;
    opts->clock_ctx = NULL;
}

static int64_t now_ms(workqueue *q)
{
    return q->opts.clock(q->opts.clock_ctx);
}

workqueue *workqueue_new(const workqueue_options *opts)
{
    workqueue *q = xcalloc(1, sizeof(*q));
    pthread_condattr_t attr;

    if (opts)
        q->opts = *opts;
    else
        workqueue_options_default(&q->opts);
    if (!q->opts.clock)
        q->opts.clock = monotonic_ms;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &attr);
    pthread_condattr_destroy(&attr);
    q->nbuckets = 256;
    q->buckets = xcalloc(q->nbuckets, sizeof(*q->buckets));
    q->tokens = q->opts.rate_burst;
    q->tokens_at_ms = now_ms(q);
    return q;
}

void workqueue_free(workqueue *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->nbuckets; i++) {
        wq_entry *e = q->buckets[i];

        while (e) {
            wq_entry *next = e->next_in_bucket;

            free(e->key);
            free(e);
            e = next;
        }
    }
    free(q->buckets);
    free(q->ready);
    free(q->delayed);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static size_t hash_key(const char *key)
{
    size_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ULL;
    return h;
}

static void rehash(workqueue *q)
{
    size_t n = q->nbuckets * 2;
    wq_entry **b = xcalloc(n, sizeof(*b));

    for (size_t i = 0; i < q->nbuckets; i++) {
        wq_entry *e = q->buckets[i];

        while (e) {
            wq_entry *next = e->next_in_bucket;
            size_t h = hash_key(e->key) % n;

            e->next_in_bucket = b[h];
            b[h] = e;
            e = next;
        }
    }
    free(q->buckets);
    q->buckets = b;
    q->nbuckets = n;
}

static wq_entry *find(workqueue *q, const char *key)
{
    for (wq_entry *e = q->buckets[hash_key(key) % q->nbuckets]; e; e = e->next_in_bucket)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static wq_entry *find_or_add(workqueue *q, const char *key)
{
    wq_entry *e = find(q, key);
    size_t h;

    if (e)
        return e;
    if (q->nentries >= q->nbuckets)
        rehash(q);
    e = xcalloc(1, sizeof(*e));
    e->key = xstrdup(key);
    h = hash_key(key) % q->nbuckets;
    e->next_in_bucket = q->buckets[h];
    q->buckets[h] = e;
    q->nentries++;
    return e;
}

/* Drop entries that carry no state, so the table does not grow with every key ever seen. */
static void maybe_drop(workqueue *q, wq_entry *e)
{
    wq_entry **pp;

    if (e->is_queued || e->is_processing || e->is_dirty || e->failures || e->due_ms)
        return;
    for (pp = &q->buckets[hash_key(e->key) % q->nbuckets]; *pp; pp = &(*pp)->next_in_bucket) {
        if (*pp == e) {
            *pp = e->next_in_bucket;
            q->nentries--;
            free(e->key);
            free(e);
            return;
        }
    }
}

static void ready_push(workqueue *q, wq_entry *e)
{
    if (q->ready_len == q->ready_cap) {
        size_t cap = q->ready_cap ? q->ready_cap * 2 : 16;
        wq_entry **r = xcalloc(cap, sizeof(*r));

        for (size_t i = 0; i < q->ready_len; i++)
            r[i] = q->ready[(q->ready_head + i) % q->ready_cap];
        free(q->ready);
        q->ready = r;
        q->ready_cap = cap;
        q->ready_head = 0;
    }
    q->ready[(q->ready_head + q->ready_len) % q->ready_cap] = e;
    q->ready_len++;
    e->is_queued = 1;
    pthread_cond_signal(&q->cond);
}

static wq_entry *ready_pop(workqueue *q)
{
    wq_entry *e;

    if (!q->ready_len)
        return NULL;
    e = q->ready[q->ready_head];
    q->ready_head = (q->ready_head + 1) % q->ready_cap;
    q->ready_len--;
    e->is_queued = 0;
    return e;
}

static void delayed_remove_at(workqueue *q, size_t i)
{
    q->delayed[i]->due_ms = 0;
    q->delayed[i] = q->delayed[--q->delayed_len];
}

/* Queue now, or mark dirty when in flight; a pending delay is cancelled. */
static void add_now_locked(workqueue *q, wq_entry *e)
{
    if (e->due_ms) {
        for (size_t i = 0; i < q->delayed_len; i++) {
            if (q->delayed[i] == e) {
                delayed_remove_at(q, i);
                break;
            }
        }
    }
    if (e->is_processing) {
        e->is_dirty = 1;
        return;
    }
    if (!e->is_queued)
        ready_push(q, e);
}

static void add_after_locked(workqueue *q, wq_entry *e, int64_t delay_ms)
{
    int64_t due;

    if (delay_ms <= 0) {
        add_now_locked(q, e);
        return;
    }
    if (e->is_queued)
        return; /* already due now: earlier wins */
    due = now_ms(q) + delay_ms;
    if (e->due_ms) {
        if (due < e->due_ms)
            e->due_ms = due;
        return;
    }
    if (q->delayed_len == q->delayed_cap) {
        q->delayed_cap = q->delayed_cap ? q->delayed_cap * 2 : 16;
        q->delayed = xrealloc(q->delayed, q->delayed_cap * sizeof(*q->delayed));
    }
    e->due_ms = due;
    q->delayed[q->delayed_len++] = e;
    pthread_cond_signal(&q->cond); /* a getter may need a shorter wait */
}

/* Move every delayed entry that is due into the ready FIFO; returns ms to the next one. */
static int64_t promote_due(workqueue *q)
{
    int64_t now = now_ms(q), next = -1;

    for (size_t i = 0; i < q->delayed_len;) {
        wq_entry *e = q->delayed[i];

        if (e->due_ms <= now) {
            delayed_remove_at(q, i);
            add_now_locked(q, e);
            continue;
        }
        if (next < 0 || e->due_ms - now < next)
            next = e->due_ms - now;
        i++;
    }
    return next;
}

void workqueue_add(workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    if (!q->is_shutdown)
        add_now_locked(q, find_or_add(q, key));
    pthread_mutex_unlock(&q->lock);
}

void workqueue_add_after(workqueue *q, const char *key, int64_t delay_ms)
{
    pthread_mutex_lock(&q->lock);
    if (!q->is_shutdown)
        add_after_locked(q, find_or_add(q, key), delay_ms);
    pthread_mutex_unlock(&q->lock);
}

static int64_t backoff_for(const workqueue *q, int failures)
{
    int64_t d = q->opts.backoff_base_ms;

    for (int i = 0; i < failures && d < q->opts.backoff_max_ms; i++)
        d *= 2;
    return d < q->opts.backoff_max_ms ? d : q->opts.backoff_max_ms;
}

/* Take one token from the global bucket; returns how long the caller must wait for it. */
static int64_t bucket_take(workqueue *q)
{
    int64_t now = now_ms(q);
    double elapsed_s = (double)(now - q->tokens_at_ms) / 1000.0;

    q->tokens += elapsed_s * q->opts.rate_per_s;
    if (q->tokens > q->opts.rate_burst)
        q->tokens = q->opts.rate_burst;
    q->tokens_at_ms = now;
    q->tokens -= 1.0;
    if (q->tokens >= 0.0)
        return 0;
    return (int64_t)(-q->tokens / q->opts.rate_per_s * 1000.0 + 0.999);
}

void workqueue_add_rate_limited(workqueue *q, const char *key)
{
    wq_entry *e;
    int64_t delay, bucket;

    pthread_mutex_lock(&q->lock);
    if (q->is_shutdown)
        goto out;
    e = find_or_add(q, key);
    delay = backoff_for(q, e->failures);
    e->failures++;
    bucket = bucket_take(q);
    add_after_locked(q, e, delay > bucket ? delay : bucket);
out:
    pthread_mutex_unlock(&q->lock);
}

void workqueue_forget(workqueue *q, const char *key)
{
    wq_entry *e;

    pthread_mutex_lock(&q->lock);
    e = find(q, key);
    if (e) {
        e->failures = 0;
        maybe_drop(q, e);
    }
    pthread_mutex_unlock(&q->lock);
}

int workqueue_failures(workqueue *q, const char *key)
{
    wq_entry *e;
    int n;

    pthread_mutex_lock(&q->lock);
    e = find(q, key);
    n = e ? e->failures : 0;
    pthread_mutex_unlock(&q->lock);
    return n;
}

int64_t workqueue_backoff_ms(workqueue *q, const char *key)
{
    wq_entry *e;
    int64_t d;

    pthread_mutex_lock(&q->lock);
    e = find(q, key);
    d = backoff_for(q, e ? e->failures : 0);
    pthread_mutex_unlock(&q->lock);
    return d;
}

char *workqueue_get(workqueue *q, int timeout_ms)
{
    int64_t start = monotonic_ms(NULL);
    char *key = NULL;

    pthread_mutex_lock(&q->lock);
    for (;;) {
        int64_t next_due, wait_ms;
        wq_entry *e;
        struct timespec ts;

        if (q->is_shutdown)
            break;
        next_due = promote_due(q);
        e = ready_pop(q);
        if (e) {
            e->is_processing = 1;
            key = xstrdup(e->key);
            break;
        }
        wait_ms = next_due;
        if (timeout_ms >= 0) {
            int64_t left = timeout_ms - (monotonic_ms(NULL) - start);

            if (left <= 0)
                break;
            if (wait_ms < 0 || left < wait_ms)
                wait_ms = left;
        }
        if (wait_ms < 0) {
            pthread_cond_wait(&q->cond, &q->lock);
        } else {
            clock_deadline_after(&ts, wait_ms > 0 ? wait_ms : 1);
            if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) == ETIMEDOUT && timeout_ms == 0)
                break;
        }
    }
    pthread_mutex_unlock(&q->lock);
    return key;
}

void workqueue_done(workqueue *q, const char *key)
{
    wq_entry *e;

    pthread_mutex_lock(&q->lock);
    e = find(q, key);
    if (e && e->is_processing) {
        e->is_processing = 0;
        if (e->is_dirty && !q->is_shutdown) {
            e->is_dirty = 0;
            add_now_locked(q, e);
        }
        e->is_dirty = 0;
        maybe_drop(q, e);
    }
    pthread_mutex_unlock(&q->lock);
}

size_t workqueue_len(workqueue *q)
{
    size_t n;

    pthread_mutex_lock(&q->lock);
    promote_due(q);
    n = q->ready_len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t workqueue_delayed_len(workqueue *q)
{
    size_t n;

    pthread_mutex_lock(&q->lock);
    promote_due(q);
    n = q->delayed_len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void workqueue_shutdown(workqueue *q)
{
    pthread_mutex_lock(&q->lock);
    q->is_shutdown = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

int workqueue_is_shutdown(workqueue *q)
{
    int v;

    pthread_mutex_lock(&q->lock);
    v = q->is_shutdown;
    pthread_mutex_unlock(&q->lock);
    return v;
}
