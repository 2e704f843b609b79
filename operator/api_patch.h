/*
 * api_patch: the patch formats of PATCH requests, as pure functions.
 *
 *  - JSON merge patch (RFC 7386, application/merge-patch+json): objects merge
 *    key by key, null deletes a key, anything else (arrays too) replaces.
 *  - strategic merge patch (application/strategic-merge-patch+json): omlop's
 *    kinds are custom resources, which have no patch strategies, so it is applied
 *    as a merge patch after its "$..." directives are resolved ($patch: replace
 *    and delete on maps; the list-order directives are dropped).
 */
#ifndef OMLOP_API_PATCH_H
#define OMLOP_API_PATCH_H

#include <json-c/json.h>

/* RFC 7386: a new value, target patched by patch (both borrowed; target may be NULL). */
json_object *api_merge_patch(const json_object *target, const json_object *patch);

/*
 * Strategic merge patch without patch strategies: a new value, or NULL when
 * the patch deletes the whole value ("$patch": "delete" at the top).
 */
json_object *api_strategic_patch(const json_object *target, const json_object *patch);

#endif
