/*
 * workqueue: the controllers' queue of keys to reconcile (after client-go's).
 *
 * Level-triggered: a trigger only says "look at this key again". A key is
 * queued at most once (deduplicated); a key being processed is never handed to
 * a second worker — if it is added meanwhile it is marked dirty and queued again
 * when the first worker calls workqueue_done(). Failed keys come back after a
 * per-key exponential backoff (base * 2^failures, capped), and every rate-limited
 * add also passes a global token bucket, so a storm of failures cannot spin.
 *
 * Thread safety: all functions may be called from any thread. One mutex guards
 * the whole queue; workers block in workqueue_get() on a condition variable.
 */
#ifndef OMLOP_WORKQUEUE_H
#define OMLOP_WORKQUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct workqueue workqueue;

/* Monotonic clock in milliseconds; injectable so tests control time. */
typedef int64_t (*workqueue_clock_fn)(void *ctx);

typedef struct workqueue_options {
    int64_t backoff_base_ms;  /* first retry delay; default 5 ms */
    int64_t backoff_max_ms;   /* cap; default 300000 (5 minutes) */
    double rate_per_s;        /* global token bucket refill; default 10/s */
    double rate_burst;        /* bucket size; default 100 */
    workqueue_clock_fn clock; /* NULL = CLOCK_MONOTONIC */
    void *clock_ctx;
} workqueue_options;

/* Fill opts with the defaults above. */
void workqueue_options_default(workqueue_options *opts);

/* New queue (opts NULL = defaults). Never NULL (aborts on OOM). */
workqueue *workqueue_new(const workqueue_options *opts);

/* Shut down (if not already) and free. NULL ok. Workers must have returned. */
void workqueue_free(workqueue *q);

/* Queue key now unless it is already queued (dirty-mark it if it is being processed). */
void workqueue_add(workqueue *q, const char *key);

/* Queue key after delay_ms (an earlier pending add wins). */
void workqueue_add_after(workqueue *q, const char *key, int64_t delay_ms);

/* Queue key after its backoff (and the global bucket's delay); counts a failure. */
void workqueue_add_rate_limited(workqueue *q, const char *key);

/* Forget key's failures (call after a successful reconcile). */
void workqueue_forget(workqueue *q, const char *key);

/* How many failures key has had since the last forget. */
int workqueue_failures(workqueue *q, const char *key);

/* The delay the next rate-limited add of key would get, without adding it. */
int64_t workqueue_backoff_ms(workqueue *q, const char *key);

/*
 * Take the next ready key, waiting up to timeout_ms (-1 = until shutdown).
 * Returns a malloc'd key the caller frees after workqueue_done(), or NULL on
 * timeout or shutdown.
 */
char *workqueue_get(workqueue *q, int timeout_ms);

/* Mark key processed; if it was added meanwhile it is queued again. */
void workqueue_done(workqueue *q, const char *key);

/* Keys ready now (not counting delayed ones or those in flight). */
size_t workqueue_len(workqueue *q);

/* Keys waiting for a delay to expire. */
size_t workqueue_delayed_len(workqueue *q);

/* Stop: workqueue_get returns NULL from now on; adds are ignored. */
void workqueue_shutdown(workqueue *q);

/* Whether workqueue_shutdown was called. */
int workqueue_is_shutdown(workqueue *q);

#endif
