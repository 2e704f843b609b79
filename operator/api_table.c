/* api_table: printer columns, a small JSONPath and the Table kubectl renders. */
#include "api_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crds/schema_format.h"
#include "lib/cjson.h"
#include "lib/humanize.h"
#include "lib/xalloc.h"
#include "operator/api_patch.h"

#define JP_MAX_NODES 256

int api_include_object_parse(const char *s)
{
    if (!s || strcmp(s, "Metadata") == 0)
        return API_INCLUDE_METADATA;
    if (strcmp(s, "None") == 0)
        return API_INCLUDE_NONE;
    if (strcmp(s, "Object") == 0)
        return API_INCLUDE_OBJECT;
    return -1;
}

typedef struct jp_set {
    const json_object *v[JP_MAX_NODES];
    size_t n;
} jp_set;

static void jp_push(jp_set *s, const json_object *v)
{
    if (v && s->n < JP_MAX_NODES)
        s->v[s->n++] = v;
}

/* The text of a scalar for comparisons and joined cells. */
static void scalar_text(const json_object *v, strbuf *out)
{
    if (json_object_is_type((json_object *)v, json_type_string))
        strbuf_adds(out, json_object_get_string((json_object *)v));
    else
        strbuf_adds(out, json_object_to_json_string_ext((json_object *)v, JSON_C_TO_STRING_PLAIN));
}

/* One filter "@.a.b==lit" applied to each array element of in. */
static int jp_filter(const jp_set *in, const char *expr, size_t n, jp_set *out)
{
    const char *op = NULL;
    int negate = 0;
    char field[256], lit[256];
    size_t fl, ll;
    const char *l;

    for (size_t i = 0; i + 1 < n; i++)
        if ((expr[i] == '=' || expr[i] == '!') && expr[i + 1] == '=') {
            op = expr + i;
            negate = expr[i] == '!';
            break;
        }
    if (!op || n < 2 || expr[0] != '@' || expr[1] != '.')
        return -1;
    fl = (size_t)(op - expr) - 2;
    while (fl && expr[2 + fl - 1] == ' ')
        fl--;
    if (fl == 0 || fl >= sizeof(field))
        return -1;
    memcpy(field, expr + 2, fl);
    field[fl] = '\0';
    l = op + 2;
    while (*l == ' ' && l < expr + n)
        l++;
    ll = (size_t)(expr + n - l);
    while (ll && l[ll - 1] == ' ')
        ll--;
    if (ll >= 2 && (l[0] == '"' || l[0] == '\'') && l[ll - 1] == l[0]) {
        l++;
        ll -= 2;
    }
    if (ll >= sizeof(lit))
        return -1;
    memcpy(lit, l, ll);
    lit[ll] = '\0';
    for (size_t i = 0; i < in->n; i++) {
        json_object *arr = (json_object *)in->v[i];

        if (!json_object_is_type(arr, json_type_array))
            continue;
        for (size_t j = 0; j < json_object_array_length(arr); j++) {
            json_object *el = json_object_array_get_idx(arr, j);
            json_object *f = cjson_get(el, field);
            strbuf t = STRBUF_INIT;
            int eq;

            if (!f) {
                if (negate)
                    jp_push(out, el);
                continue;
            }
            scalar_text(f, &t);
            eq = strcmp(strbuf_str(&t), lit) == 0;
            strbuf_release(&t);
            if (eq != negate)
                jp_push(out, el);
        }
    }
    return 0;
}

static void jp_child(const jp_set *in, const char *key, jp_set *out)
{
    for (size_t i = 0; i < in->n; i++) {
        json_object *c;

        if (json_object_is_type((json_object *)in->v[i], json_type_object) &&
            json_object_object_get_ex((json_object *)in->v[i], key, &c))
            jp_push(out, c);
    }
}

static int jp_bracket(const jp_set *in, const char *inner, size_t n, jp_set *out)
{
    char key[256];

    if (n >= 2 && inner[0] == '?' && inner[1] == '(' && inner[n - 1] == ')')
        return jp_filter(in, inner + 2, n - 3, out);
    if (n >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[n - 1] == inner[0]) {
        if (n - 2 >= sizeof(key))
            return -1;
        memcpy(key, inner + 1, n - 2);
        key[n - 2] = '\0';
        jp_child(in, key, out);
        return 0;
    }
    if (n == 1 && inner[0] == '*') {
        for (size_t i = 0; i < in->n; i++) {
            json_object *v = (json_object *)in->v[i];

            if (json_object_is_type(v, json_type_array))
                for (size_t j = 0; j < json_object_array_length(v); j++)
                    jp_push(out, json_object_array_get_idx(v, j));
            else if (json_object_is_type(v, json_type_object)) {
                json_object_object_foreach(v, k, c)
                {
                    (void)k;
                    jp_push(out, c);
                }
            }
        }
        return 0;
    }
    if (n == 0 || n > 9)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (inner[i] < '0' || inner[i] > '9')
            return -1;
    size_t idx = (size_t)strtoul(inner, NULL, 10);
    for (size_t i = 0; i < in->n; i++) {
        json_object *v = (json_object *)in->v[i];

        if (json_object_is_type(v, json_type_array) && idx < json_object_array_length(v))
            jp_push(out, json_object_array_get_idx(v, idx));
    }
    return 0;
}

int api_jsonpath_eval(const json_object *root, const char *expr, const json_object **out,
                      size_t max)
{
    jp_set *cur = xcalloc(1, sizeof(*cur)), *next = xcalloc(1, sizeof(*next));
    const char *p = expr;
    int rc = 0;

    /* kubectl-style "{.a.b}" is accepted too */
    size_t len = strlen(p);
    if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
        p++;
        len -= 2;
    }
    const char *end = p + len;
    jp_push(cur, root);
    if (p < end && *p != '.' && *p != '[') {
        rc = -1;
        goto out;
    }
    while (p < end) {
        jp_set *tmp;

        next->n = 0;
        if (*p == '.') {
            const char *s = ++p;
            char key[256];

            while (p < end && *p != '.' && *p != '[')
                p++;
            if (p == s || (size_t)(p - s) >= sizeof(key)) {
                rc = -1;
                goto out;
            }
            memcpy(key, s, (size_t)(p - s));
            key[p - s] = '\0';
            jp_child(cur, key, next);
        } else if (*p == '[') {
            const char *s = ++p;
            int depth = 1;
            char quote = 0;

            while (p < end && depth) {
                if (quote) {
                    if (*p == quote)
                        quote = 0;
                } else if (*p == '\'' || *p == '"') {
                    quote = *p;
                } else if (*p == '[') {
                    depth++;
                } else if (*p == ']') {
                    depth--;
                }
                if (depth)
                    p++;
            }
            if (p >= end || jp_bracket(cur, s, (size_t)(p - s), next) < 0) {
                rc = -1;
                goto out;
            }
            p++; /* the ']' */
        } else {
            rc = -1;
            goto out;
        }
        tmp = cur;
        cur = next;
        next = tmp;
    }
    for (size_t i = 0; i < cur->n && (size_t)rc < max; i++)
        out[rc++] = cur->v[i];
out:
    free(cur);
    free(next);
    return rc;
}

static json_object *column_def(const char *name, const char *type, const char *format,
                               const char *description, int priority)
{
    json_object *c = json_object_new_object();

    json_object_object_add(c, "name", json_object_new_string(name ? name : ""));
    json_object_object_add(c, "type", json_object_new_string(type));
    json_object_object_add(c, "format", json_object_new_string(format ? format : ""));
    json_object_object_add(c, "description",
                           json_object_new_string(description ? description : ""));
    json_object_object_add(c, "priority", json_object_new_int(priority));
    return c;
}

static const json_object *printer_columns(const schema_set *set, const kind_info *kind)
{
    const json_object *v = schema_set_crd_version(set, kind->kind);

    return v ? cjson_get(v, "additionalPrinterColumns") : NULL;
}

static json_object *date_cell(const json_object *v, time_t now)
{
    int64_t epoch;
    char buf[32];

    if (!json_object_is_type((json_object *)v, json_type_string) ||
        !schema_format_parse_date_time(json_object_get_string((json_object *)v), &epoch))
        return json_object_new_string("<invalid>");
    humanize_duration((int64_t)now - epoch, buf, sizeof(buf));
    return json_object_new_string(buf);
}

static json_object *cell(const json_object *obj, const char *path, const char *type, time_t now)
{
    const json_object *found[16];
    int n = api_jsonpath_eval(obj, path, found, 16);
    strbuf joined = STRBUF_INIT;
    json_object *c;

    if (n <= 0)
        return NULL;
    if (n == 1) {
        if (type && strcmp(type, "date") == 0)
            return date_cell(found[0], now);
        if (type && strcmp(type, "string") == 0 &&
            !json_object_is_type((json_object *)found[0], json_type_string)) {
            scalar_text(found[0], &joined);
            c = json_object_new_string(strbuf_str(&joined));
            strbuf_release(&joined);
            return c;
        }
        return cjson_copy(found[0]);
    }
    for (int i = 0; i < n; i++) {
        if (i)
            strbuf_addch(&joined, ',');
        scalar_text(found[i], &joined);
    }
    c = json_object_new_string(strbuf_str(&joined));
    strbuf_release(&joined);
    return c;
}

static json_object *partial_metadata(const json_object *obj)
{
    json_object *p = json_object_new_object();
    json_object *meta = cjson_get(obj, "metadata");
    json_object *copy = NULL;

    json_object_object_add(p, "kind", json_object_new_string("PartialObjectMetadata"));
    json_object_object_add(p, "apiVersion", json_object_new_string("meta.k8s.io/v1"));
    if (meta)
        json_object_deep_copy(meta, &copy, NULL);
    json_object_object_add(p, "metadata", copy ? copy : json_object_new_object());
    return p;
}

json_object *api_table_build(const schema_set *set, const kind_info *kind,
                             json_object *const *objects, size_t n, int include_object, time_t now)
{
    json_object *t = json_object_new_object();
    json_object *defs = json_object_new_array(), *rows = json_object_new_array();
    const json_object *cols = printer_columns(set, kind);
    size_t ncols = json_object_is_type((json_object *)cols, json_type_array)
                       ? json_object_array_length((json_object *)cols)
                       : 0;
    int has_age = 0;

    json_object_object_add(t, "kind", json_object_new_string("Table"));
    json_object_object_add(t, "apiVersion", json_object_new_string("meta.k8s.io/v1"));
    json_object_object_add(t, "metadata", json_object_new_object());
    json_object_array_add(defs, column_def("Name", "string", "name",
                                           "Name must be unique within a kind. See "
                                           "metadata.name.",
                                           0));
    for (size_t i = 0; i < ncols; i++) {
        json_object *c = json_object_array_get_idx((json_object *)cols, i);
        const char *name = cjson_get_string(c, "name");

        if (!name)
            continue;
        const char *type = cjson_get_string(c, "type");

        if (strcasecmp(name, "Age") == 0)
            has_age = 1;
        json_object_array_add(defs, column_def(name, type ? type : "string",
                                               cjson_get_string(c, "format"),
                                               cjson_get_string(c, "description"),
                                               (int)cjson_get_int(c, "priority", 0)));
    }
    if (!has_age)
        json_object_array_add(defs, column_def("Age", "date", "",
                                               "Time since the object was created "
                                               "(metadata.creationTimestamp).",
                                               0));
    for (size_t r = 0; r < n; r++) {
        json_object *row = json_object_new_object(), *cells = json_object_new_array();
        const json_object *obj = objects[r];
        const char *name = cjson_get_string(obj, "metadata.name");

        json_object_array_add(cells, json_object_new_string(name ? name : ""));
        for (size_t i = 0; i < ncols; i++) {
            json_object *c = json_object_array_get_idx((json_object *)cols, i);
            const char *path = cjson_get_string(c, "jsonPath");

            if (!cjson_get_string(c, "name"))
                continue;
            json_object_array_add(cells,
                                  path ? cell(obj, path, cjson_get_string(c, "type"), now) : NULL);
        }
        if (!has_age)
            json_object_array_add(cells, cell(obj, ".metadata.creationTimestamp", "date", now));
        json_object_object_add(row, "cells", cells);
        if (include_object == API_INCLUDE_OBJECT)
            json_object_object_add(row, "object", cjson_copy(obj));
        else if (include_object == API_INCLUDE_METADATA)
            json_object_object_add(row, "object", partial_metadata(obj));
        json_object_array_add(rows, row);
    }
    json_object_object_add(t, "columnDefinitions", defs);
    json_object_object_add(t, "rows", rows);
    return t;
}
