/* schema_node: compile an OpenAPI v3 schema (json-c) into an snode tree. */
#include "crds/schema_node.h"

#include <stdlib.h>
#include <string.h>

#include "crds/schema_format.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

/* Every keyword the compiler understands; a schema using any other is refused. */
static const char *const known_keywords[] = {
    "type",       "description",
    "properties", "required",
    "enum",       "pattern",
    "minimum",    "maximum",
    "minLength",  "maxLength",
    "items",      "minItems",
    "maxItems",   "additionalProperties",
    "default",    "format",
    "nullable",   "x-kubernetes-preserve-unknown-fields",
};

static const struct {
    const char *name;
    snode_type type;
} type_names[] = {
    {"object", SNODE_OBJECT},   {"array", SNODE_ARRAY},   {"string", SNODE_STRING},
    {"integer", SNODE_INTEGER}, {"number", SNODE_NUMBER}, {"boolean", SNODE_BOOLEAN},
};

const char *snode_type_name(snode_type t)
{
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
        if (type_names[i].type == t)
            return type_names[i].name;
    }
    return "any";
}

static snode *snode_alloc(void)
{
    snode *n = xcalloc(1, sizeof(*n));

    n->min_items = n->max_items = -1;
    n->min_length = n->max_length = -1;
    return n;
}

void snode_free(snode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_props; i++) {
        if (!n->props[i].is_borrowed)
            snode_free(n->props[i].schema);
    }
    free(n->props);
    free(n->required);
    snode_free(n->additional);
    snode_free(n->items);
    if (n->has_re)
        regfree(&n->re);
    free(n);
}

const snode *snode_prop_get(const snode *n, const char *name)
{
    for (size_t i = 0; i < n->n_props; i++) {
        if (strcmp(n->props[i].name, name) == 0)
            return n->props[i].schema;
    }
    return NULL;
}

int snode_prop_borrow(snode *n, const char *name, snode *borrowed)
{
    for (size_t i = 0; i < n->n_props; i++) {
        if (strcmp(n->props[i].name, name) == 0) {
            if (!n->props[i].is_borrowed)
                snode_free(n->props[i].schema);
            n->props[i].schema = borrowed;
            n->props[i].is_borrowed = 1;
            return 0;
        }
    }
    return OMLOP_ENOTFOUND;
}

int snode_is_required(const snode *n, const char *name)
{
    for (size_t i = 0; i < n->n_required; i++) {
        if (strcmp(n->required[i], name) == 0)
            return 1;
    }
    return 0;
}

/* A non-negative integer keyword (minLength, maxItems, ...). */
static int get_count(json_object *v, const char *kw, const char *where, long long *out,
                     omlop_err *err)
{
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
        return omlop_err_set(err, OMLOP_EINVAL, "%s: %s must be a non-negative integer", where, kw);
    *out = json_object_get_int64(v);
    return 0;
}

static int get_number(json_object *v, const char *kw, const char *where, double *out,
                      omlop_err *err)
{
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return omlop_err_set(err, OMLOP_EINVAL, "%s: %s must be a number", where, kw);
    *out = json_object_get_double(v);
    return 0;
}

static int get_bool(json_object *v, const char *kw, const char *where, int *out, omlop_err *err)
{
    if (!json_object_is_type(v, json_type_boolean))
        return omlop_err_set(err, OMLOP_EINVAL, "%s: %s must be true or false", where, kw);
    *out = json_object_get_boolean(v);
    return 0;
}

/* Whether json value v has the JSON type schema type t asks for. */
static int json_matches_type(const json_object *v, snode_type t)
{
    switch (t) {
    case SNODE_OBJECT:
        return json_object_is_type(v, json_type_object);
    case SNODE_ARRAY:
        return json_object_is_type(v, json_type_array);
    case SNODE_STRING:
        return json_object_is_type(v, json_type_string);
    case SNODE_INTEGER:
        return json_object_is_type(v, json_type_int);
    case SNODE_NUMBER:
        return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
    case SNODE_BOOLEAN:
        return json_object_is_type(v, json_type_boolean);
    case SNODE_ANY:
        return 1;
    }
    return 0;
}

static int compile(const json_object *schema, const char *where, snode **out, omlop_err *err);

static int compile_properties(snode *n, json_object *props, const char *where, omlop_err *err)
{
    strbuf sub = STRBUF_INIT;
    size_t count;
    int rc = 0;

    if (!json_object_is_type(props, json_type_object))
        return omlop_err_set(err, OMLOP_EINVAL, "%s: properties must be a map", where);
    count = (size_t)json_object_object_length(props);
    n->props = xcalloc(count ? count : 1, sizeof(*n->props));
    json_object_object_foreach(props, key, val)
    {
        strbuf_reset(&sub);
        strbuf_addf(&sub, "%s.properties.%s", where, key);
        n->props[n->n_props].name = key;
        rc = compile(val, sub.buf, &n->props[n->n_props].schema, err);
        if (rc < 0)
            goto out;
        n->n_props++;
    }
out:
    strbuf_release(&sub);
    return rc;
}

static int compile_required(snode *n, json_object *req, const char *where, omlop_err *err)
{
    size_t count;

    if (!json_object_is_type(req, json_type_array))
        return omlop_err_set(err, OMLOP_EINVAL, "%s: required must be a list", where);
    count = json_object_array_length(req);
    n->required = xcalloc(count ? count : 1, sizeof(*n->required));
    for (size_t i = 0; i < count; i++) {
        json_object *r = json_object_array_get_idx(req, i);

        if (!json_object_is_type(r, json_type_string))
            return omlop_err_set(err, OMLOP_EINVAL, "%s: required[%zu] must be a string", where, i);
        n->required[n->n_required++] = json_object_get_string(r);
    }
    return 0;
}

/* Keywords that only make sense for some types: refuse them elsewhere rather than ignore. */
static int check_keyword_fits(const snode *n, const char *kw, const char *where, omlop_err *err)
{
    static const struct {
        const char *kw;
        snode_type type;
        snode_type alt;
    } fits[] = {
        {"properties", SNODE_OBJECT, SNODE_OBJECT},
        {"additionalProperties", SNODE_OBJECT, SNODE_OBJECT},
        {"required", SNODE_OBJECT, SNODE_OBJECT},
        {"items", SNODE_ARRAY, SNODE_ARRAY},
        {"minItems", SNODE_ARRAY, SNODE_ARRAY},
        {"maxItems", SNODE_ARRAY, SNODE_ARRAY},
        {"pattern", SNODE_STRING, SNODE_STRING},
        {"minLength", SNODE_STRING, SNODE_STRING},
        {"maxLength", SNODE_STRING, SNODE_STRING},
        {"format", SNODE_STRING, SNODE_STRING},
        {"minimum", SNODE_INTEGER, SNODE_NUMBER},
        {"maximum", SNODE_INTEGER, SNODE_NUMBER},
    };

    for (size_t i = 0; i < sizeof(fits) / sizeof(fits[0]); i++) {
        if (strcmp(fits[i].kw, kw) == 0 && n->type != fits[i].type && n->type != fits[i].alt)
            return omlop_err_set(err, OMLOP_EINVAL, "%s: %s does not apply to type %s", where, kw,
                                 snode_type_name(n->type));
    }
    return 0;
}

static int is_known_keyword(const char *kw)
{
    for (size_t i = 0; i < sizeof(known_keywords) / sizeof(known_keywords[0]); i++) {
        if (strcmp(known_keywords[i], kw) == 0)
            return 1;
    }
    return 0;
}

static int compile_type(snode *n, const json_object *schema, const char *where, omlop_err *err)
{
    json_object *t = NULL;
    const char *name;

    if (!json_object_object_get_ex(schema, "type", &t)) {
        /* Kubernetes structural schemas need a type except where unknown fields are kept. */
        if (n->preserve_unknown)
            return 0;
        return omlop_err_set(err, OMLOP_EINVAL, "%s: type is required", where);
    }
    name = json_object_get_string(t);
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
        if (json_object_is_type(t, json_type_string) && strcmp(name, type_names[i].name) == 0) {
            n->type = type_names[i].type;
            return 0;
        }
    }
    return omlop_err_set(err, OMLOP_EINVAL,
                         "%s: type \"%s\" is not one of object, array, string, integer, number, "
                         "boolean",
                         where, name);
}

static int compile_pattern(snode *n, json_object *v, const char *where, omlop_err *err)
{
    char msg[256];
    int rc;

    if (!json_object_is_type(v, json_type_string))
        return omlop_err_set(err, OMLOP_EINVAL, "%s: pattern must be a string", where);
    n->pattern = json_object_get_string(v);
    rc = regcomp(&n->re, n->pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, &n->re, msg, sizeof(msg));
        regfree(&n->re);
        return omlop_err_set(err, OMLOP_EINVAL, "%s: pattern %s does not compile: %s", where,
                             n->pattern, msg);
    }
    n->has_re = 1;
    return 0;
}

/* One keyword of schema (other than type and preserve, handled first). */
static int compile_keyword(snode *n, const char *kw, json_object *v, const char *where,
                           omlop_err *err)
{
    strbuf sub = STRBUF_INIT;
    int rc = 0;

    if (!is_known_keyword(kw))
        return omlop_err_set(err, OMLOP_EINVAL, "%s: unsupported schema keyword \"%s\"", where, kw);
    rc = check_keyword_fits(n, kw, where, err);
    if (rc < 0)
        return rc;
    if (strcmp(kw, "description") == 0) {
        if (!json_object_is_type(v, json_type_string))
            return omlop_err_set(err, OMLOP_EINVAL, "%s: description must be a string", where);
        n->description = json_object_get_string(v);
    } else if (strcmp(kw, "properties") == 0) {
        rc = compile_properties(n, v, where, err);
    } else if (strcmp(kw, "required") == 0) {
        rc = compile_required(n, v, where, err);
    } else if (strcmp(kw, "enum") == 0) {
        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
            return omlop_err_set(err, OMLOP_EINVAL, "%s: enum must be a non-empty list", where);
        n->enum_vals = v;
    } else if (strcmp(kw, "pattern") == 0) {
        rc = compile_pattern(n, v, where, err);
    } else if (strcmp(kw, "minimum") == 0) {
        n->has_minimum = 1;
        rc = get_number(v, kw, where, &n->minimum, err);
    } else if (strcmp(kw, "maximum") == 0) {
        n->has_maximum = 1;
        rc = get_number(v, kw, where, &n->maximum, err);
    } else if (strcmp(kw, "minLength") == 0) {
        rc = get_count(v, kw, where, &n->min_length, err);
    } else if (strcmp(kw, "maxLength") == 0) {
        rc = get_count(v, kw, where, &n->max_length, err);
    } else if (strcmp(kw, "minItems") == 0) {
        rc = get_count(v, kw, where, &n->min_items, err);
    } else if (strcmp(kw, "maxItems") == 0) {
        rc = get_count(v, kw, where, &n->max_items, err);
    } else if (strcmp(kw, "items") == 0) {
        strbuf_addf(&sub, "%s.items", where);
        rc = compile(v, sub.buf, &n->items, err);
    } else if (strcmp(kw, "additionalProperties") == 0) {
        if (json_object_is_type(v, json_type_boolean)) {
            /* false closes the object; true is the same as a schema accepting anything */
            if (json_object_get_boolean(v)) {
                n->additional = snode_alloc();
                n->additional->preserve_unknown = 1;
            }
        } else {
            strbuf_addf(&sub, "%s.additionalProperties", where);
            rc = compile(v, sub.buf, &n->additional, err);
        }
    } else if (strcmp(kw, "default") == 0) {
        n->def = v;
    } else if (strcmp(kw, "format") == 0) {
        if (!json_object_is_type(v, json_type_string) ||
            !schema_format_is_known(json_object_get_string(v)))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "%s: format \"%s\" is not supported (ipv4, ipv6, hostname, "
                                 "cidr, email, date-time, byte)",
                                 where, json_object_get_string(v));
        n->format = json_object_get_string(v);
    } else if (strcmp(kw, "nullable") == 0) {
        rc = get_bool(v, kw, where, &n->nullable, err);
    }
    strbuf_release(&sub);
    return rc;
}

/* Consistency between keywords, once all are read. */
static int check_node(snode *n, const char *where, omlop_err *err)
{
    if (n->type == SNODE_ARRAY && !n->items)
        return omlop_err_set(err, OMLOP_EINVAL, "%s: an array needs items", where);
    if (n->n_props > 0 && n->additional)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "%s: properties and additionalProperties cannot be combined "
                             "(Kubernetes structural schema rule)",
                             where);
    for (size_t i = 0; i < n->n_required; i++) {
        if (n->n_props > 0 && !snode_prop_get(n, n->required[i]))
            return omlop_err_set(err, OMLOP_EINVAL, "%s: required field \"%s\" is not a property",
                                 where, n->required[i]);
    }
    if (n->def && !json_matches_type(n->def, n->type))
        return omlop_err_set(err, OMLOP_EINVAL, "%s: default %s is not of type %s", where,
                             json_object_to_json_string(n->def), snode_type_name(n->type));
    if (n->enum_vals) {
        for (size_t i = 0; i < json_object_array_length(n->enum_vals); i++) {
            json_object *e = json_object_array_get_idx(n->enum_vals, i);

            if (!json_matches_type(e, n->type))
                return omlop_err_set(err, OMLOP_EINVAL,
                                     "%s: enum value %s is not of type %s (quote it)", where,
                                     json_object_to_json_string(e), snode_type_name(n->type));
        }
    }
    if (n->has_minimum && n->has_maximum && n->minimum > n->maximum)
        return omlop_err_set(err, OMLOP_EINVAL, "%s: minimum is above maximum", where);
    /* Objects are closed unless told otherwise: a typo in a manifest must not pass silently. */
    n->is_closed = n->type == SNODE_OBJECT && !n->additional && !n->preserve_unknown;
    return 0;
}

static int compile(const json_object *schema, const char *where, snode **out, omlop_err *err)
{
    snode *n;
    json_object *v;
    int rc;

    *out = NULL;
    if (!json_object_is_type(schema, json_type_object))
        return omlop_err_set(err, OMLOP_EINVAL, "%s: a schema must be a map", where);
    n = snode_alloc();
    if (json_object_object_get_ex(schema, "x-kubernetes-preserve-unknown-fields", &v)) {
        rc = get_bool(v, "x-kubernetes-preserve-unknown-fields", where, &n->preserve_unknown, err);
        if (rc < 0)
            goto fail;
    }
    rc = compile_type(n, schema, where, err);
    if (rc < 0)
        goto fail;
    json_object_object_foreach((json_object *)schema, kw, val)
    {
        if (strcmp(kw, "type") == 0 || strcmp(kw, "x-kubernetes-preserve-unknown-fields") == 0)
            continue;
        rc = compile_keyword(n, kw, val, where, err);
        if (rc < 0)
            goto fail;
    }
    rc = check_node(n, where, err);
    if (rc < 0)
        goto fail;
    *out = n;
    return 0;
fail:
    snode_free(n);
    return rc;
}

int snode_compile(const json_object *schema, const char *where, snode **out, omlop_err *err)
{
    return compile(schema, where, out, err);
}
