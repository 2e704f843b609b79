/*
 * schema_node: one OpenAPI v3 schema (a CRD's openAPIV3Schema) compiled into a
 * tree the decoder walks: keywords parsed once, patterns compiled once, and
 * every mistake in a schema (an unsupported keyword, a pattern that does not
 * compile, a default of the wrong type) reported when the CRD loads rather
 * than when a manifest happens to reach it.
 *
 * Supported keywords: type, description, properties, required, enum, pattern
 * (POSIX ERE, unanchored like ECMA-262, so write ^...$), minimum, maximum,
 * minLength, maxLength, items, minItems, maxItems, additionalProperties (false
 * or a schema), default, format (see schema_format.h), nullable,
 * x-kubernetes-preserve-unknown-fields. Anything else is refused.
 *
 * Strings (descriptions, names) and json values (enum, default) are borrowed
 * from the json the tree was compiled from, which must outlive the tree.
 */
#ifndef OMLOP_SCHEMA_NODE_H
#define OMLOP_SCHEMA_NODE_H

#include <json-c/json.h>
#include <regex.h>
#include <stddef.h>

#include "crds/diag.h"
#include "crds/ynode.h"
#include "lib/err.h"

typedef enum snode_type {
    SNODE_ANY = 0, /* no type: anything, converted with the YAML core schema */
    SNODE_OBJECT,
    SNODE_ARRAY,
    SNODE_STRING,
    SNODE_INTEGER,
    SNODE_NUMBER,
    SNODE_BOOLEAN
} snode_type;

typedef struct snode snode;

/*
 * A check that keywords cannot express, run on a value after it decoded
 * cleanly (label keys, annotation sizes). node is where the value came from
 * (positions); path is its field path.
 */
typedef void (*snode_check_fn)(const json_object *value, const ynode *node, const char *file,
                               const char *path, diag_list *diags);

typedef struct snode_prop {
    const char *name;
    snode *schema;
    int is_borrowed; /* schema belongs to someone else (shared metadata schema) */
} snode_prop;

struct snode {
    snode_type type;
    const char *description; /* NULL when absent */

    snode_prop *props; /* object: properties in schema order */
    size_t n_props;
    const char **required;
    size_t n_required;
    snode *additional; /* additionalProperties as a schema, or NULL */
    int is_closed;     /* unknown keys are errors (properties given, not preserved) */
    int preserve_unknown;

    snode *items; /* array */
    long long min_items, max_items;

    json_object *enum_vals; /* array, or NULL */
    const char *pattern;
    regex_t re;
    int has_re;
    long long min_length, max_length; /* in characters (UTF-8 code points); -1 = none */
    const char *format;               /* NULL or a format schema_format knows */

    int has_minimum, has_maximum;
    double minimum, maximum;

    json_object *def; /* default, or NULL */
    int nullable;

    snode_check_fn check; /* extra check, or NULL */

    /*
     * The value and everything under it is secret (a Secret's data and
     * stringData): diagnostics name the field but never quote what is there.
     */
    int is_sensitive;
};

/*
 * Compile schema. where names it in errors ("crds/tenant.yaml: openAPIV3Schema");
 * on failure err says which keyword of which property is wrong.
 */
int snode_compile(const json_object *schema, const char *where, snode **out, omlop_err *err);

/* Free; NULL is fine. Borrowed property schemas are not freed. */
void snode_free(snode *n);

/* A property's schema by name; NULL when n has no such property. */
const snode *snode_prop_get(const snode *n, const char *name);

/* Replace a property's schema with a borrowed one (freeing the old); -ENOTFOUND if absent. */
int snode_prop_borrow(snode *n, const char *name, snode *borrowed);

/* Whether name is in n's required list. */
int snode_is_required(const snode *n, const char *name);

/* "string", "integer", ... ("any" for SNODE_ANY). */
const char *snode_type_name(snode_type t);

#endif
