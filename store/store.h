/*
 * store: omlop's source of truth, with etcd's semantics.
 *
 * Keys are "/omlop/<kind-plural>/<name>", values are JSON texts. Every write
 * bumps one global revision; a value's mod_revision is its resourceVersion.
 * update/delete compare-and-swap on mod_revision; watches deliver every change
 * after a revision, in revision order, and fail with OMLOP_EGONE when that
 * revision was compacted (the client re-lists) or when the subscriber fell too
 * far behind (its buffer overflowed; writers are never blocked by watchers).
 *
 * Backends: "sqlite" (embedded, in --data-dir; the default) and
 * "etcd://HOST:PORT[,HOST:PORT...][/prefix]" (etcd v3 JSON gateway via libcurl).
 *
 * Thread safety: a store may be used from many threads at once. A store_watch is
 * used by one thread at a time.
 */
#ifndef OMLOP_STORE_H
#define OMLOP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

typedef struct store store;
typedef struct store_watch store_watch;

typedef struct store_options {
    const char *data_dir;   /* sqlite: directory for omlop.db (created 0700) */
    const char *tls_ca;     /* etcd: CA file, or NULL */
    const char *tls_cert;   /* etcd: client certificate, or NULL */
    const char *tls_key;    /* etcd: client key, or NULL */
    int64_t compact_keep;   /* revisions kept by periodic compaction; default 10000 */
    int compact_interval_s; /* 0 = no periodic compaction; default 300 */
    size_t watch_buffer;    /* events buffered per subscriber; default 1024 */
} store_options;

typedef struct store_kv {
    char *key;
    char *value; /* JSON text, NUL-terminated; for a DELETED event, the last value */
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision; /* = resourceVersion */
    int64_t version;      /* writes since creation, starting at 1 */
} store_kv;

typedef struct store_kv_list {
    store_kv *items;
    size_t n;
    size_t cap;
} store_kv_list;

#define STORE_KV_LIST_INIT                                                                         \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

typedef enum store_event_type {
    STORE_EVENT_ADDED = 1,
    STORE_EVENT_MODIFIED = 2,
    STORE_EVENT_DELETED = 3
} store_event_type;

typedef struct store_event {
    store_event_type type;
    int64_t revision; /* the revision of this change */
    store_kv kv;      /* new value; for DELETED: key and the last value before deletion */
} store_event;

/* Filter for store_list: return 1 to keep kv. */
typedef int (*store_filter_fn)(const store_kv *kv, void *ctx);

typedef struct store_list_opts {
    const char *prefix;      /* keys starting with this */
    const char *start_after; /* resume after this key (pagination), or NULL */
    size_t limit;            /* at most this many matching items; 0 = no limit */
    store_filter_fn filter;  /* NULL = keep all */
    void *filter_ctx;
} store_list_opts;

typedef struct store_list_result {
    store_kv_list items;
    int64_t revision; /* the store revision the list was read at */
    int has_more;     /* more matching keys follow the last item */
} store_list_result;

/* Fill opts with defaults. */
void store_options_default(store_options *opts);

/* Open a backend by URL ("sqlite", "sqlite:///path/dir" or "etcd://..."). */
int store_open(const char *url, const store_options *opts, store **out, omlop_err *err);

/* Close; waits for in-flight writes; closes every watch with OMLOP_EGONE. NULL ok. */
void store_close(store *s);

/* The backend's name and location, for logs ("sqlite:/var/lib/omlop", "etcd:h:p"). */
const char *store_describe(const store *s);

/* Read one key. OMLOP_ENOTFOUND when absent. */
int store_get(store *s, const char *key, store_kv *out, omlop_err *err);

/*
 * Read n keys (n <= STORE_GET_MANY_MAX) into out[0..n-1]: a present key fills its entry, an
 * absent one leaves it zeroed (key NULL, mod_revision 0), which is not an error. The embedded
 * backend reads them in one read transaction (one snapshot, and one lock round instead of n:
 * a no-change round reads a Tenant's eight Secrets this way); etcd reads them one by one.
 * On an error every entry is released. Release each entry with store_kv_release.
 */
#define STORE_GET_MANY_MAX 256
int store_get_many(store *s, const char *const *keys, size_t n, store_kv *out, omlop_err *err);

/* Range read over a prefix, sorted by key. */
int store_list(store *s, const store_list_opts *opts, store_list_result *out, omlop_err *err);

/* Create key; OMLOP_EEXIST when present. *revision = the new mod_revision. */
int store_create(store *s, const char *key, const char *value, size_t len, int64_t *revision,
                 omlop_err *err);

/*
 * Replace key's value if its mod_revision equals expect_revision (0 = any).
 * OMLOP_ENOTFOUND when absent, OMLOP_ECONFLICT when stale.
 */
int store_update(store *s, const char *key, const char *value, size_t len, int64_t expect_revision,
                 int64_t *revision, omlop_err *err);

/* Delete key, optionally compare-and-swap (expect_revision 0 = any). */
int store_delete(store *s, const char *key, int64_t expect_revision, int64_t *revision,
                 omlop_err *err);

/* The latest revision of the store. */
int store_current_revision(store *s, int64_t *revision, omlop_err *err);

/* Forget history at or before revision; later watches from there get OMLOP_EGONE. */
int store_compact(store *s, int64_t revision, omlop_err *err);

/* The oldest revision a watch may start after (the compaction point). */
int store_compacted_revision(store *s, int64_t *revision, omlop_err *err);

/*
 * Watch keys under prefix for changes with revision > after_revision
 * (0 = from now). OMLOP_EGONE when after_revision is already compacted.
 */
int store_watch_open(store *s, const char *prefix, int64_t after_revision, store_watch **out,
                     omlop_err *err);

/*
 * Next event, waiting up to timeout_ms (-1 = forever). OMLOP_ETIMEOUT when none
 * came; OMLOP_EGONE when the watch was closed for falling behind, compaction or
 * store_close (the caller re-lists and re-watches).
 */
int store_watch_next(store_watch *w, store_event *ev, int timeout_ms, omlop_err *err);

/* A file descriptor that polls readable while events (or an error) are pending. */
int store_watch_fd(const store_watch *w);

/* Stop watching; NULL ok. */
void store_watch_close(store_watch *w);

/* Free what a kv / list / result / event owns. */
void store_kv_release(store_kv *kv);
void store_kv_list_release(store_kv_list *list);
void store_list_result_release(store_list_result *res);
void store_event_release(store_event *ev);

#endif
