/*
 * api_fields: request bodies against a kind's OpenAPI schema, before the
 * resource model decodes them (schema_set_decode_json):
 *
 *  - unknown fields, for ?fieldValidation=Strict|Warn|Ignore: every field the
 *    schema does not declare (and no additionalProperties or
 *    x-kubernetes-preserve-unknown-fields allows) is listed and removed, the
 *    way the Kubernetes API server prunes custom resources;
 *  - YAML bodies (application/yaml, application/apply-patch+yaml) become JSON
 *    with each scalar typed by the schema, so "tag: 240201.01" stays a string
 *    where the schema wants one.
 *
 * The schema is the raw openAPIV3Schema json of the kind's CRD.
 */
#ifndef OMLOP_API_FIELDS_H
#define OMLOP_API_FIELDS_H

#include <json-c/json.h>

#include "crds/schema.h"
#include "crds/ynode.h"
#include "lib/strbuf.h"

/* The openAPIV3Schema of kind (served version), borrowed from the set; NULL if none. */
const json_object *api_fields_schema(const schema_set *set, const char *kind);

/*
 * Remove the fields of obj that schema does not declare; append each one's
 * path ("spec.foo", "spec.hosts[0].bar") as a line to unknown. metadata is
 * checked against the Kubernetes ObjectMeta fields. Returns how many.
 */
int api_fields_prune_unknown(json_object *obj, const json_object *schema, strbuf *unknown);

/* A new json value from a YAML tree, scalars typed by schema (NULL: YAML core schema). */
json_object *api_fields_from_yaml(const ynode *n, const json_object *schema);

#endif
