/*
 * schema_meta: object metadata (Kubernetes ObjectMeta), common to every kind.
 *
 * CRDs cannot describe metadata (the API server owns it), so omlop carries its
 * schema here and checks, for every kind: name is a DNS-1123 label; label and
 * annotation keys are qualified names; label values are at most 63 characters
 * of [A-Za-z0-9._-]; annotations total at most 256 KiB; finalizers are
 * qualified names; namespace is refused (every omlop kind is cluster-scoped).
 * Server-set fields (uid, resourceVersion, generation, creationTimestamp,
 * deletionTimestamp) are type-checked and otherwise accepted as given: what to
 * do with them is the API server's decision.
 */
#ifndef OMLOP_SCHEMA_META_H
#define OMLOP_SCHEMA_META_H

#include <json-c/json.h>

#include "crds/schema_node.h"
#include "lib/err.h"

/* Most bytes of annotation keys plus values on one object, as Kubernetes allows. */
#define SCHEMA_META_ANNOTATIONS_MAX (256 * 1024)

/* The metadata schema as OpenAPI json (a new reference; put it). For explain and docs. */
json_object *schema_meta_schema_json(void);

/*
 * Compile the metadata schema with its checks. The tree borrows from *json_out
 * (a new reference the caller puts after freeing the tree).
 */
int schema_meta_compile(snode **out, json_object **json_out, omlop_err *err);

#endif
