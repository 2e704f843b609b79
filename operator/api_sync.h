/*
 * api_sync: the sync request of a GitSource (reconcilers/gitsource.h), for a push webhook and
 * `omlctl gitsource sync` (admin tokens: the router refuses any POST to other roles):
 *     POST /apis/omlop.io/v1alpha1/gitsources/<name>/sync
 * sets the annotation omlop.io/sync-requested to the current time (RFC 3339 with
 * milliseconds) through obj_update, which wakes operator/gitsync at once: the same path as
 * `kubectl annotate`. Answers 202 with the GitSource; 404 when it does not exist. The body,
 * if any, is ignored (a forge's push payload says nothing omlop needs).
 */
#ifndef OMLOP_API_SYNC_H
#define OMLOP_API_SYNC_H

#include "operator/api_resources.h"

#define API_SYNC_SUBRES "sync"

/* Answer rr (POST of gitsources/<name>/sync; other methods 405). */
void api_sync_serve(api_rr *rr);

#endif
