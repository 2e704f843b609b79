/*
 * api: the API server's state shared by the api_* modules (router, resources,
 * watch, discovery) and its limits. The HTTP transport (api_server.h) owns one
 * and drives it from its event-loop thread.
 *
 * The struct is transparent to the api_* modules only; everything else uses
 * api_new/api_free and api_server.h. Fields are set by api_new and read-only
 * afterwards, except n_watches, which only the event-loop thread touches, and
 * is_shutting_down, which the API workers (api_pool.h) read.
 */
#ifndef OMLOP_API_H
#define OMLOP_API_H

#include <stddef.h>
#include <stdint.h>

#include "crds/schema.h"
#include "lib/err.h"
#include "operator/api_auth.h"
#include "store/store.h"

#define API_GROUP_PREFIX "/apis/" OMLOP_GROUP "/" OMLOP_VERSION

typedef struct api_options {
    size_t max_body_bytes;     /* request body limit; default 1 MiB -> 413 */
    size_t max_header_bytes;   /* request line + headers; default 16 KiB -> 431 */
    int request_timeout_s;     /* whole request (headers and body); default 30 -> 408 */
    int max_watches;           /* open watch streams; default 256 -> 429 */
    int bookmark_interval_s;   /* BOOKMARK events for allowWatchBookmarks; default 60 */
    int shutdown_grace_s;      /* SIGTERM: wait this long for in-flight requests; default 10 */
    size_t watch_buffer_bytes; /* per stream, unsent data before it is cut; default 8 MiB */
    int workers;               /* threads serving requests that touch the store; default 4 */
} api_options;

typedef struct api {
    api_options opts;
    store *store;              /* borrowed */
    const schema_set *schemas; /* borrowed */
    const api_auth *auth;      /* borrowed */
    int n_watches;             /* open watch streams (event-loop thread) */
    /* SIGTERM seen: no new requests (written by the event-loop thread, read by the workers) */
    _Atomic int is_shutting_down;
} api;

/* Fill opts with the defaults above. */
void api_options_default(api_options *opts);

/* A new API over a store, the resource model and an authenticator (all borrowed). */
int api_new(const api_options *opts, store *st, const schema_set *schemas, const api_auth *auth,
            api **out, omlop_err *err);

/* Free; NULL is fine. */
void api_free(api *a);

#endif
