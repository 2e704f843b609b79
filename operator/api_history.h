/*
 * api_history: the read-only endpoint of the Tenant rollout history
 * (objects/history.h), for `omlctl rollout history|undo` (view and admin tokens):
 *     GET /apis/omlop.io/v1alpha1/tenants/<name>/history
 * answers a TenantHistory object whose items are the entries, oldest first,
 * each with "revision" (= the generation); 404 when the tenant does not exist.
 */
#ifndef OMLOP_API_HISTORY_H
#define OMLOP_API_HISTORY_H

#include "operator/api_resources.h"

#define API_HISTORY_SUBRES "history"

/* Answer rr (GET or HEAD of tenants/<name>/history; other methods 405). */
void api_history_serve(api_rr *rr);

#endif
