/*
 * mergepatch: JSON merge patches (RFC 7386), made and applied on the client.
 *
 * `omlctl edit` keeps what the user changed as the merge patch from the object
 * it showed to the object saved, so that after a 409 Conflict it can re-fetch
 * the object, re-apply only those changes and try again. A merge patch cannot
 * set a value to null (null means delete); omlop's schemas have no null values.
 *
 * `omlctl apply` is kubectl's client-side apply: it records the manifest it
 * applied in the annotation kubectl.kubernetes.io/last-applied-configuration
 * and sends the 3-way patch from that record, the new manifest and the live
 * object, so what a manifest stops saying is removed from the live object
 * while what other writers added is kept. The record is kubectl's own format,
 * so either tool can apply after the other.
 *
 * The GitSource reconciler (reconcilers/gitsource.h) applies a repository's
 * manifests with the same 3-way merge, which is why this pure part lives in
 * crds/ and not with the CLI.
 */
#ifndef OMLOP_MERGEPATCH_H
#define OMLOP_MERGEPATCH_H

#include <json-c/json.h>

#include "crds/ynode.h"

/* The patch that turns from into to (a new object; {} when they are equal). */
json_object *merge_patch_create(const json_object *from, const json_object *to);

/* target with patch applied, as a new value (target is not changed). */
json_object *merge_patch_apply(const json_object *target, const json_object *patch);

/* The annotation holding the last applied manifest (kubectl's name and format). */
#define LAST_APPLIED_ANNOTATION "kubectl.kubernetes.io/last-applied-configuration"

/*
 * The 3-way patch of client-side apply, a new object ({} when nothing to do):
 * a key in last (the configuration applied before; NULL when none) but not in
 * modified becomes null where live still has it; a key of modified whose value
 * live does not hold is set; a key only live has (status, finalizers, what the
 * server or another writer added) is left alone. Objects merge key by key;
 * anything else, lists included, is replaced whole.
 */
json_object *merge_patch_three_way(const json_object *last, const json_object *modified,
                                   const json_object *live);

/*
 * What apply stores for a manifest, as a new object: the manifest without
 * status, with LAST_APPLIED_ANNOTATION set to the compact canonical JSON of the
 * manifest minus status and minus that annotation.
 */
json_object *last_applied_modified(const json_object *manifest);

/*
 * The configuration last applied to obj, parsed from its LAST_APPLIED_ANNOTATION
 * annotation (a new object), or NULL when it has none or it is not a JSON
 * object (nothing is then deleted, as kubectl does).
 */
json_object *last_applied_get(const json_object *obj);

/*
 * A copy of decoded (typed by the schema, defaults applied) keeping only what
 * the source document src sets: what apply records as the user's intent, so a
 * default never looks like a choice. NULL when src is NULL.
 */
json_object *merge_patch_given_fields(json_object *decoded, const ynode *src);

/* Whether a patch changes nothing ({}). */
int merge_patch_is_empty(const json_object *patch);

#endif
