/*
 * mergepatch: JSON merge patches (RFC 7386), made and applied on the client.
 *
 * `omlctl edit` keeps what the user changed as the merge patch from the object
 * it showed to the object saved, so that after a 409 Conflict it can re-fetch
 * the object, re-apply only those changes and try again. A merge patch cannot
 * set a value to null (null means delete); omlop's schemas have no null values.
 */
#ifndef OMLOP_OMLCTL_MERGEPATCH_H
#define OMLOP_OMLCTL_MERGEPATCH_H

#include <json-c/json.h>

/* The patch that turns from into to (a new object; {} when they are equal). */
json_object *omlctl_merge_patch_create(const json_object *from, const json_object *to);

/* target with patch applied, as a new value (target is not changed). */
json_object *omlctl_merge_patch_apply(const json_object *target, const json_object *patch);

/* Whether a patch changes nothing ({}). */
int omlctl_merge_patch_is_empty(const json_object *patch);

#endif
