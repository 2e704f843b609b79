/* output: -o formats, aligned tables, printer columns, JSONPath subset, ages. */
#include "clients/omlctl/output.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clients/omlctl/jsonpath.h"
#include "crds/object.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "lib/humanize.h"
#include "lib/xalloc.h"

int omlctl_output_parse(const char *s, omlctl_output *out, omlop_err *err)
{
    if (!s || !*s || !strcmp(s, "table"))
        *out = OMLCTL_OUT_TABLE;
    else if (!strcmp(s, "wide"))
        *out = OMLCTL_OUT_WIDE;
    else if (!strcmp(s, "yaml"))
        *out = OMLCTL_OUT_YAML;
    else if (!strcmp(s, "json"))
        *out = OMLCTL_OUT_JSON;
    else if (!strcmp(s, "name"))
        *out = OMLCTL_OUT_NAME;
    else
        return omlop_err_set(err, OMLOP_EINVAL,
                             "unknown output format '%s'; use table, wide, yaml, json or name", s);
    return 0;
}

/* --- JSON ------------------------------------------------------------------------------- */

static void indent(strbuf *out, int n)
{
    for (int i = 0; i < n; i++)
        strbuf_addch(out, ' ');
}

static void json_pretty_rec(const json_object *o, strbuf *out, int depth)
{
    if (json_object_is_type(o, json_type_object)) {
        size_t n = 0, i = 0;

        json_object_object_foreach((json_object *)o, k0, v0)
        {
            (void)k0;
            (void)v0;
            n++;
        }
        if (!n) {
            strbuf_adds(out, "{}");
            return;
        }
        strbuf_adds(out, "{\n");
        json_object_object_foreach((json_object *)o, key, val)
        {
            indent(out, (depth + 1) * 4);
            cjson_add_quoted(out, key, strlen(key), CJSON_QUOTE_DEL);
            strbuf_adds(out, ": ");
            json_pretty_rec(val, out, depth + 1);
            strbuf_adds(out, ++i < n ? ",\n" : "\n");
        }
        indent(out, depth * 4);
        strbuf_addch(out, '}');
    } else if (json_object_is_type(o, json_type_array)) {
        size_t n = json_object_array_length(o);

        if (!n) {
            strbuf_adds(out, "[]");
            return;
        }
        strbuf_adds(out, "[\n");
        for (size_t i = 0; i < n; i++) {
            indent(out, (depth + 1) * 4);
            json_pretty_rec(json_object_array_get_idx(o, i), out, depth + 1);
            strbuf_adds(out, i + 1 < n ? ",\n" : "\n");
        }
        indent(out, depth * 4);
        strbuf_addch(out, ']');
    } else if (json_object_is_type(o, json_type_string)) {
        cjson_add_quoted(out, json_object_get_string((json_object *)o),
                         (size_t)json_object_get_string_len(o), CJSON_QUOTE_DEL);
    } else if (!o) {
        strbuf_adds(out, "null");
    } else {
        strbuf_adds(out,
                    json_object_to_json_string_ext(
                        (json_object *)o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    }
}

void omlctl_json_pretty(const json_object *obj, strbuf *out)
{
    json_pretty_rec(obj, out, 0);
    strbuf_addch(out, '\n');
}

int omlctl_print_object(FILE *out, omlctl_output fmt, const json_object *obj, omlop_err *err)
{
    strbuf sb = STRBUF_INIT;
    int rc = 0;

    if (fmt == OMLCTL_OUT_YAML) {
        rc = yaml_emit_json(obj, &sb, err);
        if (rc < 0)
            goto out;
    } else {
        omlctl_json_pretty(obj, &sb);
    }
    fwrite(sb.buf, 1, sb.len, out);
out:
    strbuf_release(&sb);
    return rc;
}

json_object *omlctl_list_new(void)
{
    json_object *l = json_object_new_object();

    json_object_object_add(l, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(l, "kind", json_object_new_string("List"));
    json_object_object_add(l, "items", json_object_new_array());
    json_object_object_add(l, "metadata", json_object_new_object());
    return l;
}

/* --- tables ----------------------------------------------------------------------------- */

struct omlctl_table {
    size_t ncols;
    char **headers;
    size_t *widths; /* only grow, so later rows align with earlier ones */
    char **cells;   /* pending rows, row-major */
    size_t nrows;
    size_t cap;
    int header_printed;
    int indent;
};

/* Display width: code points, not bytes (continuation bytes do not count). */
static size_t display_width(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    }
    return n;
}

/* A cell must stay on one line and keep columns intact. */
static char *cell_dup(const char *s)
{
    char *d = xstrdup(s ? s : "<none>");

    for (char *p = d; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    }
    return d;
}

omlctl_table *omlctl_table_new(size_t ncols, const char *const *headers)
{
    omlctl_table *t = xcalloc(1, sizeof(*t));

    t->ncols = ncols;
    t->headers = xcalloc(ncols, sizeof(char *));
    t->widths = xcalloc(ncols, sizeof(size_t));
    for (size_t i = 0; i < ncols; i++) {
        t->headers[i] = xstrdup(headers[i]);
        for (char *p = t->headers[i]; *p; p++)
            *p = (char)toupper((unsigned char)*p);
    }
    return t;
}

void omlctl_table_set_indent(omlctl_table *t, int n)
{
    t->indent = n;
}

static void table_clear_rows(omlctl_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    t->nrows = 0;
}

void omlctl_table_free(omlctl_table *t)
{
    if (!t)
        return;
    table_clear_rows(t);
    for (size_t i = 0; i < t->ncols; i++)
        free(t->headers[i]);
    free(t->headers);
    free(t->widths);
    free(t->cells);
    free(t);
}

void omlctl_table_add_row(omlctl_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = xrealloc(t->cells, cap * t->ncols * sizeof(char *));

        t->cells = c;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = cell_dup(cells[i]);
    t->nrows++;
}

static void print_row(const omlctl_table *t, FILE *out, char *const *cells)
{
    for (int i = 0; i < t->indent; i++)
        fputc(' ', out);
    for (size_t c = 0; c < t->ncols; c++) {
        fputs(cells[c], out);
        if (c + 1 < t->ncols) {
            size_t pad = t->widths[c] - display_width(cells[c]) + 3;

            for (size_t i = 0; i < pad; i++)
                fputc(' ', out);
        }
    }
    fputc('\n', out);
}

void omlctl_table_flush(omlctl_table *t, FILE *out, int show_header)
{
    if (!t->nrows)
        return;
    for (size_t c = 0; c < t->ncols; c++) {
        size_t w = display_width(t->headers[c]);

        if (w > t->widths[c] && show_header && !t->header_printed)
            t->widths[c] = w;
        for (size_t r = 0; r < t->nrows; r++) {
            w = display_width(t->cells[r * t->ncols + c]);
            if (w > t->widths[c])
                t->widths[c] = w;
        }
    }
    if (show_header && !t->header_printed) {
        print_row(t, out, t->headers);
        t->header_printed = 1;
    }
    for (size_t r = 0; r < t->nrows; r++)
        print_row(t, out, t->cells + r * t->ncols);
    fflush(out);
    table_clear_rows(t);
}

/* --- printer columns -------------------------------------------------------------------- */

static void columns_push(omlctl_columns *cols, const char *name, const char *path, const char *type,
                         int priority)
{
    omlctl_column *v = xrealloc(cols->v, (cols->n + 1) * sizeof(*v));
    omlctl_column *c;

    cols->v = v;
    c = &cols->v[cols->n++];
    c->name = xstrdup(name);
    for (char *p = c->name; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    c->json_path = path ? xstrdup(path) : NULL;
    c->type = xstrdup(type ? type : "string");
    c->priority = priority;
}

void omlctl_columns_release(omlctl_columns *cols)
{
    for (size_t i = 0; i < cols->n; i++) {
        free(cols->v[i].name);
        free(cols->v[i].json_path);
        free(cols->v[i].type);
    }
    free(cols->v);
    cols->v = NULL;
    cols->n = 0;
}

/* The additionalPrinterColumns of the served version (v1alpha1), or NULL. */
static json_object *crd_printer_columns(const json_object *crd)
{
    json_object *versions = cjson_get(crd, "spec.versions");
    size_t n = versions && json_object_is_type(versions, json_type_array)
                   ? json_object_array_length(versions)
                   : 0;

    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(versions, i);
        const char *name = cjson_get_string(v, "name");

        if (!name || !strcmp(name, OMLOP_VERSION))
            return cjson_get(v, "additionalPrinterColumns");
    }
    return cjson_get(crd, "spec.additionalPrinterColumns");
}

int omlctl_columns_from_crd(const json_object *crd, int wide, omlctl_columns *out, omlop_err *err)
{
    json_object *pc = crd ? crd_printer_columns(crd) : NULL;
    size_t n = pc && json_object_is_type(pc, json_type_array) ? json_object_array_length(pc) : 0;

    out->v = NULL;
    out->n = 0;
    columns_push(out, "NAME", NULL, "string", 0);
    if (n == 0) {
        columns_push(out, "AGE", ".metadata.creationTimestamp", "date", 0);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(pc, i);
        const char *name = cjson_get_string(c, "name");
        const char *path = cjson_get_string(c, "jsonPath");
        int prio = (int)cjson_get_int(c, "priority", 0);

        if (!name || !path) {
            omlctl_columns_release(out);
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "additionalPrinterColumns[%zu] has no name or jsonPath", i);
        }
        if (prio > 0 && !wide)
            continue;
        columns_push(out, name, path, cjson_get_string(c, "type"), prio);
    }
    return 0;
}

int omlctl_columns_for_kind(const schema_set *set, const kind_info *kind, int wide,
                            omlctl_columns *out, omlop_err *err)
{
    return omlctl_columns_from_crd(schema_set_crd(set, kind->kind), wide, out, err);
}

const char **omlctl_columns_headers(const omlctl_columns *cols)
{
    const char **h = xcalloc(cols->n ? cols->n : 1, sizeof(char *));

    for (size_t i = 0; i < cols->n; i++)
        h[i] = cols->v[i].name;
    return h;
}

void omlctl_columns_add_row(const omlctl_columns *cols, omlctl_table *t, const json_object *obj,
                            time_t now)
{
    const char **cells = xcalloc(cols->n ? cols->n : 1, sizeof(char *));
    strbuf *vals = xcalloc(cols->n ? cols->n : 1, sizeof(strbuf));

    for (size_t i = 0; i < cols->n; i++) {
        const omlctl_column *c = &cols->v[i];

        strbuf_init(&vals[i]);
        if (!c->json_path) {
            const char *name = cjson_get_string(obj, "metadata.name");

            strbuf_adds(&vals[i], name ? name : "<none>");
        } else if (omlctl_jsonpath(obj, c->json_path, &vals[i]) <= 0) {
            strbuf_reset(&vals[i]);
            strbuf_adds(&vals[i], "<none>");
        } else if (!strcmp(c->type, "date")) {
            char age[32];

            omlctl_age_of(vals[i].buf, now, age, sizeof(age));
            strbuf_reset(&vals[i]);
            strbuf_adds(&vals[i], age);
        }
        cells[i] = vals[i].buf;
    }
    omlctl_table_add_row(t, cells);
    for (size_t i = 0; i < cols->n; i++)
        strbuf_release(&vals[i]);
    free(vals);
    free(cells);
}

/* --- times ------------------------------------------------------------------------------ */

void omlctl_age_of(const char *timestamp, time_t now, char *out, size_t outsz)
{
    time_t t;

    if (!timestamp || object_time_parse(timestamp, &t) < 0) {
        snprintf(out, outsz, "<unknown>");
        return;
    }
    humanize_duration((int64_t)(now - t), out, outsz);
}
