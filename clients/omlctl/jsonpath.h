/*
 * jsonpath: the JSONPath subset CRDs use in additionalPrinterColumns
 * (".status.conditions[?(@.type==\"Ready\")].status"), for `omlctl get`.
 * Pure: no I/O.
 */
#ifndef OMLOP_OMLCTL_JSONPATH_H
#define OMLOP_OMLCTL_JSONPATH_H

#include <json-c/json.h>

#include "lib/strbuf.h"

/*
 * Evaluate a JSONPath of the subset CRDs use: ".a.b", "[N]", "[*]", "['k']",
 * "[?(@.k=="v")]" (also != and single quotes). Values found are appended to out,
 * joined by ","; strings raw, other values as compact JSON. Returns the number
 * of values found (0: nothing appended) or OMLOP_EINVAL for unsupported syntax.
 */
int omlctl_jsonpath(const json_object *root, const char *path, strbuf *out);

#endif
