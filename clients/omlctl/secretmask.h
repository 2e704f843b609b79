/*
 * secretmask: hide a Secret's values in what omlctl shows side by side (diff),
 * the way kubectl diff does: every value of data and stringData becomes "***",
 * except that a key present on both sides with different values becomes
 * "*** (before)" and "*** (after)", so a changed value still shows as changed.
 * Keys stay visible. Pure: no I/O.
 */
#ifndef OMLOP_OMLCTL_SECRETMASK_H
#define OMLOP_OMLCTL_SECRETMASK_H

#include <json-c/json.h>

#define OMLCTL_MASK        "***"
#define OMLCTL_MASK_BEFORE "*** (before)"
#define OMLCTL_MASK_AFTER  "*** (after)"

/*
 * Mask, in place, the values of data and stringData of before and after (either
 * may be NULL: a new or deleted object). Only for kind Secret; others are left
 * alone.
 */
void omlctl_secret_mask(json_object *before, json_object *after);

#endif
