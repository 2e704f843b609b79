/*
 * schema: the resource model. Loads the CRD files of crds/ (CustomResourceDefinition
 * manifests with an OpenAPI v3 schema per kind, group omlop.io, version v1alpha1)
 * and decodes documents with them: scalars are typed by the schema, defaults are
 * applied, every keyword is checked and then the cross-field rules (rules.h) run.
 *
 * Keywords: type, properties, required, enum, pattern (POSIX ERE), minimum,
 * maximum, minLength, maxLength, items, minItems, maxItems, additionalProperties
 * (false or a schema), default, format (ipv4, ipv6, hostname, cidr, email,
 * date-time), nullable, x-kubernetes-preserve-unknown-fields.
 */
#ifndef OMLOP_SCHEMA_H
#define OMLOP_SCHEMA_H

#include <json-c/json.h>
#include <stddef.h>

#include "crds/diag.h"
#include "crds/ynode.h"
#include "lib/err.h"

#define OMLOP_GROUP       "omlop.io"
#define OMLOP_VERSION     "v1alpha1"
#define OMLOP_API_VERSION "omlop.io/v1alpha1"

typedef struct schema_set schema_set;

/* What a kind is called, as the CRD's spec.names says. */
typedef struct kind_info {
    const char *kind;               /* "Tenant" */
    const char *list_kind;          /* "TenantList" */
    const char *plural;             /* "tenants" */
    const char *singular;           /* "tenant" */
    const char *const *short_names; /* {"tn"} */
    size_t n_short_names;
    int has_status; /* the status subresource is enabled */
} kind_info;

/* Load the CRDs compiled into the binary (from the crds/ YAML files at build time). */
int schema_set_new_builtin(schema_set **out, omlop_err *err);

/* Load every CRD file (*.yaml) in dir; for tests and --crds-dir. */
int schema_set_new_from_dir(const char *dir, schema_set **out, omlop_err *err);

/* Free; NULL is fine. */
void schema_set_free(schema_set *set);

/* Number of kinds, and the i-th one. */
size_t schema_set_kind_count(const schema_set *set);
const kind_info *schema_set_kind_at(const schema_set *set, size_t i);

/* Find a kind by kind, plural, singular or short name, case-insensitively; NULL if none. */
const kind_info *schema_set_find_kind(const schema_set *set, const char *name);

/* The kind's CRD as loaded (borrowed), e.g. to publish /openapi/v2. */
const json_object *schema_set_crd(const schema_set *set, const char *kind);

/* The served entry of the CRD's spec.versions (named OMLOP_VERSION, else the first); borrowed. */
const json_object *schema_set_crd_version(const schema_set *set, const char *kind);

/*
 * Decode one document: check apiVersion and kind, type every scalar by the
 * schema, apply defaults, check keywords and cross-field rules. On success *out
 * is a new object (caller puts it) and 0 is returned. Otherwise every problem is
 * in diags (file:line:col: path: message), *out is NULL and -OMLOP_EINVAL is
 * returned. file names the source for messages (may be NULL).
 */
int schema_set_decode(const schema_set *set, const ynode *doc, const char *file, json_object **out,
                      diag_list *diags);

/* Same for a json-c value (an API request body); positions are unknown. */
int schema_set_decode_json(const schema_set *set, const json_object *obj, json_object **out,
                           diag_list *diags);

#endif
