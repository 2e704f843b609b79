/*
 * api_router: one request in, one response out. Authenticates (api_auth.h),
 * authorizes (view may read, admin may also write), routes by path to
 * discovery, the resource verbs or omlop's own endpoints, and writes the audit
 * log line of every write:
 *
 *     audit user=ci-bot role=admin verb=patch resource=tenants name=t1 code=200
 *           dryRun=false remote=127.0.0.1
 *
 * A websocket request (req->is_websocket) is routed without touching the store: the
 * transport judges it on its event loop before the upgrade; only a watch is served.
 *
 * Thread safety: api_handle may run on several threads at once (api_pool.h): it reads a's
 * options, schemas and authenticator, and calls the store, which is thread-safe.
 *
 * While omlopd stops (api->is_shutting_down), requests that began after the stop
 * (req->is_late) get 503; the ones already under way are served in full.
 *
 * omlop's own endpoint, admin only:
 *     POST /omlop/compact[?revision=N]   forget store history up to N (default:
 *                                        the current revision); watches from an
 *                                        older revision then get 410 Gone.
 */
#ifndef OMLOP_API_ROUTER_H
#define OMLOP_API_ROUTER_H

#include "operator/api.h"
#include "operator/api_request.h"

/* Serve req into resp (resp initialised by the caller). Fills req->who. */
void api_handle(api *a, api_request *req, api_response *resp);

/*
 * Whether serving req may call the store (or open a watch on it): every resource verb, /readyz,
 * the history, Events and compaction. The transport runs those on its workers (api_pool.h) and
 * answers the rest (/healthz, /livez, /version, discovery, openapi) on the event loop.
 */
int api_route_needs_store(const api_request *req);

#endif
