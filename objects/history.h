/*
 * history: the rollout history of Tenants, for `omlctl rollout history|undo`.
 *
 * Every write that stores a Tenant with a new spec (create, or an update/patch/
 * apply that bumps metadata.generation because the spec changed) also stores
 * that spec under
 *
 *     /omlop/tenanthistory/<name>/<generation, zero-padded to 20 digits>
 *
 * as {generation, spec, changeCause, createdAt}. changeCause is the annotation
 * kubernetes.io/change-cause, else omlop.io/change-cause, else absent.
 * Only the newest spec.revisionHistoryLimit entries (default 10) are kept.
 *
 * Ordering and crashes: the store has no multi-key transaction, so the entry is
 * written right after the object. A crash (or a store error) between the two
 * loses at most that one history entry, never the object; the error is logged.
 * When the Tenant is finally removed from the store its entries are deleted
 * after it; entries a crash left behind there are cleared when a Tenant of the
 * same name is created again (generation 1). Dry runs never reach these hooks:
 * they are called only after a real store write.
 *
 * Its read-only endpoint is operator/api_history.h.
 */
#ifndef OMLOP_HISTORY_H
#define OMLOP_HISTORY_H

#include <json-c/json.h>
#include <stdint.h>
#include <time.h>

#include "crds/schema.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "store/store.h"

#define HISTORY_PREFIX     "/omlop/tenanthistory/"
#define HISTORY_LIMIT_DEF  10
#define HISTORY_LIMIT_MAX  100
#define HISTORY_GEN_DIGITS 20

/* Whether objects of kind keep a rollout history (Tenant only). */
int history_applies(const kind_info *kind);

/* Append the history key of tenant name at generation gen to out. */
void history_key(strbuf *out, const char *name, int64_t generation);

/*
 * A new history entry (caller puts) for obj, the stored Tenant, at time now:
 * {generation, spec, changeCause?, createdAt}. Pure.
 */
json_object *history_entry_new(const json_object *obj, time_t now);

/*
 * Hook after the store wrote obj (a Tenant) over before (NULL for a create):
 * records an entry when the spec changed, then prunes to the limit. Store
 * errors are logged, not returned: the object itself is already stored.
 */
void history_after_write(store *s, const json_object *before, const json_object *obj);

/* Hook after the store removed tenant name: delete its history (errors logged). */
void history_after_delete(store *s, const char *name);

/* The entries of tenant name, oldest first (at most a bounded number). */
int history_list(store *s, const char *name, store_list_result *res, omlop_err *err);

#endif
