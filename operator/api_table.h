/*
 * api_table: the meta.k8s.io/v1 Table that `kubectl get` asks for
 * (Accept: application/json;as=Table;v=v1;g=meta.k8s.io), built from the
 * CRD's additionalPrinterColumns, with Name first and Age last (unless the CRD
 * has its own Age column). Cells are rendered the way the Kubernetes API server
 * renders them: date columns as an age ("5m10s"), several JSONPath results
 * joined with ",", a missing value as null (kubectl shows "<none>").
 *
 * Also the JSONPath subset printer columns use: .a.b, ['a.b'], [N], [*] and
 * filters [?(@.type=="Ready")] (== and !=, string or number literals).
 */
#ifndef OMLOP_API_TABLE_H
#define OMLOP_API_TABLE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crds/schema.h"
#include "lib/strbuf.h"

typedef enum api_include_object {
    API_INCLUDE_NONE = 0,
    API_INCLUDE_METADATA = 1, /* the default: rows carry PartialObjectMetadata */
    API_INCLUDE_OBJECT = 2
} api_include_object;

/* Parse includeObject (None|Metadata|Object); -1 for anything else. NULL is Metadata. */
int api_include_object_parse(const char *s);

/*
 * Evaluate a printer-column JSONPath on root: append every result to out
 * (borrowed pointers, at most max). Returns the number found, or -1 when the
 * expression is not in the supported subset.
 */
int api_jsonpath_eval(const json_object *root, const char *expr, const json_object **out,
                      size_t max);

/*
 * A Table (caller puts) for objects of kind: columns from the kind's CRD, one
 * row per object; now is the reference time for ages.
 */
json_object *api_table_build(const schema_set *set, const kind_info *kind,
                             json_object *const *objects, size_t n, int include_object, time_t now);

#endif
