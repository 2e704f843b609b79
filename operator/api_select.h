/*
 * api_select: which objects a list or watch returns: ?labelSelector= (the
 * Kubernetes label selector grammar, parsed by operator/selector.h) and
 * ?fieldSelector= (comma-separated "path=value", "path==value" or
 * "path!=value"; path is any dotted field such as metadata.name or
 * involvedObject.name; a missing field compares as ""; a backslash escapes
 * ',', '=', '!' and '\' in values, as Kubernetes does).
 */
#ifndef OMLOP_API_SELECT_H
#define OMLOP_API_SELECT_H

#include <json-c/json.h>

#include "lib/err.h"

typedef struct api_selector api_selector;

/* Parse both selectors (either may be NULL or ""); errors name the selector. */
int api_selector_parse(const char *labels, const char *fields, api_selector **out, omlop_err *err);

/* Free; NULL is fine. */
void api_selector_free(api_selector *s);

/* Whether obj matches both selectors (NULL selector matches everything). */
int api_selector_match(const api_selector *s, const json_object *obj);

/* Whether s selects every object (NULL, or both selectors empty). */
int api_selector_is_everything(const api_selector *s);

/* The name a "metadata.name=X" term pins, or NULL. */
const char *api_selector_name(const api_selector *s);

#endif
