/*
 * store_backend: the internal contract between store.c (public API, checks,
 * compaction thread), store_watch.c (the watch hub and its subscribers) and the
 * backends (store_sqlite.c, store_etcd.c + store_etcd_watch.c).
 *
 * Not for use outside operator/store*.c: callers use operator/store.h.
 *
 * A backend implements store_backend_ops over its own state (void *be). It
 * feeds the hub every committed change, in revision order (sqlite: the writer
 * publishes under its lock; etcd: one background watch stream), and it can
 * replay history for a watch that starts in the past (store_replay).
 */
#ifndef OMLOP_STORE_BACKEND_H
#define OMLOP_STORE_BACKEND_H

#include <pthread.h>
#include <stdint.h>

#include "store/store.h"

typedef struct store_hub store_hub;
typedef struct store_replay store_replay;

/* store_replay_ops.next results besides 0 (an event) and negative errors. */
#define STORE_REPLAY_DONE 1 /* every event up to the replay's end was delivered */
#define STORE_REPLAY_WAIT 2 /* nothing ready yet; the notify fd is written when there is */

/*
 * A replay: the events under a prefix with after < revision <= upto, in order.
 * next never blocks. A replay is driven by one thread at a time.
 */
typedef struct store_replay_ops {
    int (*next)(store_replay *r, store_event *ev, omlop_err *err);
    int (*is_ready)(store_replay *r); /* whether next would not answer WAIT */
    void (*close)(store_replay *r);
} store_replay_ops;

struct store_replay {
    const store_replay_ops *ops;
};

typedef struct store_backend_ops {
    const char *name;
    int (*get)(void *be, const char *key, store_kv *out, omlop_err *err);
    /* Several keys from one snapshot; an absent key leaves its out[i] zeroed. May be NULL:
     * store.c then reads them one by one. */
    int (*get_many)(void *be, const char *const *keys, size_t n, store_kv *out, omlop_err *err);
    int (*list)(void *be, const store_list_opts *opts, store_list_result *out, omlop_err *err);
    int (*create)(void *be, const char *key, const char *value, size_t len, int64_t *revision,
                  omlop_err *err);
    int (*update)(void *be, const char *key, const char *value, size_t len, int64_t expect,
                  int64_t *revision, omlop_err *err);
    int (*del)(void *be, const char *key, int64_t expect, int64_t *revision, omlop_err *err);
    int (*current_revision)(void *be, int64_t *revision, omlop_err *err);
    int (*compact)(void *be, int64_t revision, omlop_err *err);
    int (*compacted_revision)(void *be, int64_t *revision, omlop_err *err);
    /* OMLOP_EGONE when a watch may not start after this revision (compacted). */
    int (*watch_check)(void *be, int64_t after, omlop_err *err);
    /* Start feeding hub (store_hub_set_position first, then store_hub_publish). */
    int (*feed_start)(void *be, store_hub *hub, omlop_err *err);
    /* Stop the feed; after it returns the backend publishes nothing more. */
    void (*feed_stop)(void *be);
    /* History under prefix in (after, upto]; notify_fd is written when events become ready. */
    int (*replay_open)(void *be, const char *prefix, int64_t after, int64_t upto, int notify_fd,
                       store_replay **out, omlop_err *err);
    void (*close)(void *be);
} store_backend_ops;

/* Open functions, one per backend; location is the part of the URL after the scheme. */
int store_sqlite_open(const char *dir, const store_options *opts, void **be,
                      const store_backend_ops **ops, omlop_err *err);
int store_etcd_open(const char *location, const store_options *opts, void **be,
                    const store_backend_ops **ops, omlop_err *err);

/* --- the hub (store_watch.c) -------------------------------------------------------------- */

/* A hub whose subscribers buffer at most buffer events each. Holds one reference. */
store_hub *store_hub_new(size_t buffer);

/* Set the revision the feed starts after (before the first publish). */
void store_hub_set_position(store_hub *h, int64_t revision);

/* The revision of the last event published (or the start position). */
int64_t store_hub_position(store_hub *h);

/*
 * Publish n events of one or more revisions, in order; takes ownership of
 * their contents (the array itself stays the caller's). Never blocks on a
 * subscriber: one that has no room is closed with OMLOP_EGONE.
 */
void store_hub_publish(store_hub *h, store_event *evs, size_t n);

/*
 * Close every subscriber with code and msg (the feed lost events; they re-list)
 * and, atomically with it, move the position to new_position (-1 = keep).
 */
void store_hub_fail_all(store_hub *h, int code, const char *msg, int64_t new_position);

/*
 * The feed lost the revisions up to upto: close with code and msg every subscriber that has
 * not seen all of them yet (its position is below upto) and, atomically with it, move the
 * position to upto. Subscribers already at or past upto lose nothing and go on.
 */
void store_hub_fail_before(store_hub *h, int code, const char *msg, int64_t upto);

/* Close every subscriber with OMLOP_EGONE (store closing), refuse new ones, drop a ref. */
void store_hub_close(store_hub *h);

/* Register a subscriber for store_watch_open (implemented in store_watch.c). */
int store_hub_watch_open(store_hub *h, void *be, const store_backend_ops *ops, const char *prefix,
                         int64_t after, store_watch **out, omlop_err *err);

/* --- helpers shared by the backends (store.c) ---------------------------------------------- */

/* Append a kv to list, taking ownership of its strings. */
void store_kv_list_push(store_kv_list *list, store_kv *kv);

/* Deep copy of src into dst (dst's previous contents are not freed). */
void store_kv_copy(store_kv *dst, const store_kv *src);

/*
 * The smallest string greater than every string starting with prefix, or NULL
 * (no upper bound) when prefix is empty or all 0xff bytes. Caller frees.
 */
char *store_prefix_end(const char *prefix, size_t len, size_t *end_len);

/* Make fd (an eventfd) readable / not readable. */
void store_notify(int fd);
void store_notify_drain(int fd);

#endif
