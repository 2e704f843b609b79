/* schema_decode: typed decoding of ynode trees by compiled schemas. */
#include "crds/schema_decode.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crds/schema_format.h"
#include "lib/cjson.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

/* Longest value quoted back in a message; longer ones are cut with "...". */
#define SHOW_MAX 64

typedef struct dctx {
    const char *file;
    diag_list *diags;
    strbuf path;   /* field path of the node being decoded */
    int is_hidden; /* inside a sensitive node: quote no value */
} dctx;

#define HIDDEN_VALUE "a value (not shown: it is secret)"

static void report(dctx *c, int line, int col, const char *fmt, ...) OMLOP_PRINTF(4, 5);

static void report(dctx *c, int line, int col, const char *fmt, ...)
{
    strbuf msg = STRBUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    diag_add(c->diags, c->file, line, col, strbuf_str(&c->path), "%s", strbuf_str(&msg));
    strbuf_release(&msg);
}

/* Append s (len bytes) as a double-quoted, escaped, possibly shortened string. */
static void show_string(strbuf *out, const char *s, size_t len)
{
    size_t n = len > SHOW_MAX ? SHOW_MAX - 4 : len;

    strbuf_addch(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '"' || ch == '\\')
            strbuf_addf(out, "\\%c", ch);
        else if (ch == '\n')
            strbuf_adds(out, "\\n");
        else if (ch < 0x20 || ch == 0x7f)
            strbuf_addf(out, "\\x%02x", ch);
        else
            strbuf_addch(out, (char)ch);
    }
    if (n < len)
        strbuf_adds(out, "...");
    strbuf_addch(out, '"');
}

/* Whether a scalar reads as plain for typing: its tag, if any, decides. */
static int scalar_is_plain(const ynode *n)
{
    if (n->tag) {
        return ynode_tag_is(n, "int") || ynode_tag_is(n, "float") || ynode_tag_is(n, "bool") ||
               ynode_tag_is(n, "null");
    }
    return n->is_plain;
}

static int scalar_is_null(const ynode *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

    if (n->kind != YNODE_SCALAR || !scalar_is_plain(n))
        return 0;
    if (ynode_tag_is(n, "null"))
        return 1;
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        if (n->len == strlen(nulls[i]) && memcmp(n->value, nulls[i], n->len) == 0)
            return 1;
    }
    return 0;
}

/* "a map", "a list", "the string \"x\"" or the plain text: what the user wrote. */
static void describe_node(const dctx *c, strbuf *out, const ynode *n)
{
    if (c->is_hidden && n->kind == YNODE_SCALAR) {
        strbuf_adds(out, HIDDEN_VALUE);
    } else if (n->kind == YNODE_MAP) {
        strbuf_adds(out, "a map");
    } else if (n->kind == YNODE_SEQ) {
        strbuf_adds(out, "a list");
    } else if (scalar_is_null(n)) {
        strbuf_adds(out, "null");
    } else if (!scalar_is_plain(n)) {
        strbuf_adds(out, "the string ");
        show_string(out, n->value, n->len);
    } else {
        show_string(out, n->value, n->len);
    }
}

static void report_type(dctx *c, const ynode *n, const char *expected)
{
    strbuf got = STRBUF_INIT;

    describe_node(c, &got, n);
    report(c, n->line, n->col, "must be %s, got %s", expected, got.buf);
    strbuf_release(&got);
}

/* Plain decimal integer within int64. */
static int parse_int(const char *s, size_t len, int64_t *out)
{
    char *end;
    long long v;
    size_t i = 0;

    if (len == 0 || strlen(s) != len)
        return 0;
    if (s[0] == '-' || s[0] == '+')
        i = 1;
    if (i == len)
        return 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return -1;
    *out = v;
    return 1;
}

/* YAML 1.2 core float syntax: [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int parse_float(const char *s, size_t len, double *out)
{
    size_t i = 0, digits = 0;
    char *end;
    double d;

    if (len == 0 || strlen(s) != len)
        return 0;
    if (s[i] == '-' || s[i] == '+')
        i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_digits = 0;

        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0)
            return 0;
    }
    if (i != len)
        return 0;
    errno = 0;
    d = strtod(s, &end);
    if (!isfinite(d))
        return -1;
    *out = d;
    return 1;
}

/* UTF-8 characters in s: bytes that do not continue a sequence. */
static size_t utf8_length(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    }
    return n;
}

static void check_enum(dctx *c, const snode *s, const ynode *n, json_object *v)
{
    strbuf msg = STRBUF_INIT;
    size_t count;

    if (!s->enum_vals || !v)
        return;
    count = json_object_array_length(s->enum_vals);
    for (size_t i = 0; i < count; i++) {
        if (cjson_equal(json_object_array_get_idx(s->enum_vals, i), v))
            return;
    }
    strbuf_adds(&msg, "unsupported value ");
    if (c->is_hidden)
        strbuf_adds(&msg, "(not shown: it is secret)");
    else if (json_object_is_type(v, json_type_string))
        show_string(&msg, json_object_get_string(v), (size_t)json_object_get_string_len(v));
    else
        strbuf_adds(&msg, json_object_to_json_string(v));
    strbuf_adds(&msg, "; must be one of: ");
    for (size_t i = 0; i < count; i++) {
        json_object *e = json_object_array_get_idx(s->enum_vals, i);

        strbuf_adds(&msg, i ? ", " : "");
        strbuf_adds(&msg, json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
    }
    report(c, n->line, n->col, "%s", msg.buf);
    strbuf_release(&msg);
}

static json_object *decode_string(dctx *c, const snode *s, const ynode *n)
{
    json_object *v;
    strbuf shown = STRBUF_INIT, bad = STRBUF_INIT;
    size_t chars;
    int ok = 1;

    if (n->kind != YNODE_SCALAR) {
        report_type(c, n, "a string");
        return NULL;
    }
    v = json_object_new_string_len(n->value, (int)n->len);
    chars = utf8_length(n->value, n->len);
    /* Secret data is base64 of secrets: never echo it back in a message. */
    if (c->is_hidden || (s->format && strcmp(s->format, "byte") == 0)) {
        strbuf_adds(&shown, "the value");
        strbuf_adds(&bad, "invalid value");
    } else {
        show_string(&shown, n->value, n->len);
        strbuf_addf(&bad, "invalid value %s", shown.buf);
    }
    if (s->min_length >= 0 && chars < (size_t)s->min_length) {
        report(c, n->line, n->col, "%s is too short: must have at least %lld characters", shown.buf,
               s->min_length);
        ok = 0;
    }
    if (s->max_length >= 0 && chars > (size_t)s->max_length) {
        report(c, n->line, n->col, "%s is too long: must have at most %lld characters", shown.buf,
               s->max_length);
        ok = 0;
    }
    if (s->has_re && (strlen(n->value) != n->len || regexec(&s->re, n->value, 0, NULL, 0) != 0)) {
        report(c, n->line, n->col, "%s: must match %s", bad.buf, s->pattern);
        ok = 0;
    }
    if (s->format && schema_format_check(s->format, n->value, n->len) != 1) {
        report(c, n->line, n->col, "%s: must be %s", bad.buf, schema_format_expected(s->format));
        ok = 0;
    }
    strbuf_release(&shown);
    strbuf_release(&bad);
    if (ok)
        check_enum(c, s, n, v);
    return v;
}

static void check_range(dctx *c, const snode *s, const ynode *n, double d)
{
    const char *shown = c->is_hidden ? "the value" : n->value;

    if (s->has_minimum && d < s->minimum)
        report(c, n->line, n->col, "%s is below the minimum %g", shown, s->minimum);
    if (s->has_maximum && d > s->maximum)
        report(c, n->line, n->col, "%s is above the maximum %g", shown, s->maximum);
}

static json_object *decode_integer(dctx *c, const snode *s, const ynode *n)
{
    json_object *v;
    int64_t i = 0;
    double d;
    int rc;

    if (n->kind != YNODE_SCALAR || !scalar_is_plain(n)) {
        report_type(c, n, "an integer");
        return NULL;
    }
    rc = parse_int(n->value, n->len, &i);
    if (rc < 0) {
        report(c, n->line, n->col, "%s is out of range for a 64-bit integer",
               c->is_hidden ? "the value" : n->value);
        return NULL;
    }
    if (rc == 0) {
        if (parse_float(n->value, n->len, &d) == 1)
            report(c, n->line, n->col, "must be an integer, got the number %s",
                   c->is_hidden ? "(not shown)" : n->value);
        else
            report_type(c, n, "an integer");
        return NULL;
    }
    v = json_object_new_int64(i);
    check_range(c, s, n, (double)i);
    check_enum(c, s, n, v);
    return v;
}

static json_object *decode_number(dctx *c, const snode *s, const ynode *n)
{
    json_object *v;
    int64_t i;
    double d = 0;
    int rc;

    if (n->kind != YNODE_SCALAR || !scalar_is_plain(n)) {
        report_type(c, n, "a number");
        return NULL;
    }
    if (parse_int(n->value, n->len, &i) == 1) {
        v = json_object_new_int64(i);
        d = (double)i;
    } else {
        rc = parse_float(n->value, n->len, &d);
        if (rc != 1) {
            if (rc < 0)
                report(c, n->line, n->col, "%s is out of range for a number",
                       c->is_hidden ? "the value" : n->value);
            else
                report_type(c, n, "a number");
            return NULL;
        }
        v = json_object_new_double(d);
    }
    check_range(c, s, n, d);
    check_enum(c, s, n, v);
    return v;
}

static json_object *decode_boolean(dctx *c, const snode *s, const ynode *n)
{
    json_object *v;

    if (n->kind == YNODE_SCALAR && scalar_is_plain(n) && strcmp(n->value, "true") == 0)
        v = json_object_new_boolean(1);
    else if (n->kind == YNODE_SCALAR && scalar_is_plain(n) && strcmp(n->value, "false") == 0)
        v = json_object_new_boolean(0);
    else {
        report_type(c, n, "a boolean (true or false)");
        return NULL;
    }
    check_enum(c, s, n, v);
    return v;
}

static int decode_value(dctx *c, const snode *s, const ynode *n, json_object **out);

/* Decode the default of s (absent field at the current path), applying nested defaults. */
static int decode_default(dctx *c, const snode *s, json_object **out)
{
    ynode *tree = ynode_from_json(s->def);
    int got = decode_value(c, s, tree, out);

    ynode_free(tree);
    return got;
}

/* The property names of s, for suggestions and listings. */
static void report_unknown(dctx *c, const snode *s, const ynode_pair *p)
{
    const char **names = xcalloc(s->n_props ? s->n_props : 1, sizeof(*names));
    const char *hint;
    strbuf msg = STRBUF_INIT;

    for (size_t i = 0; i < s->n_props; i++)
        names[i] = s->props[i].name;
    strbuf_adds(&msg, "unknown field ");
    show_string(&msg, p->key, strlen(p->key));
    hint = schema_suggest(p->key, names, s->n_props);
    if (hint) {
        strbuf_addf(&msg, "; did you mean '%s'?", hint);
    } else if (s->n_props > 0) {
        strbuf_adds(&msg, "; known fields: ");
        for (size_t i = 0; i < s->n_props; i++)
            strbuf_addf(&msg, "%s%s", i ? ", " : "", names[i]);
    } else {
        strbuf_adds(&msg, "; this object takes no fields");
    }
    report(c, p->line, p->col, "%s", msg.buf);
    strbuf_release(&msg);
    free(names);
}

static int find_prop(const snode *s, const char *key)
{
    for (size_t i = 0; i < s->n_props; i++) {
        if (strcmp(s->props[i].name, key) == 0)
            return (int)i;
    }
    return -1;
}

static json_object *decode_object(dctx *c, const snode *s, const ynode *n)
{
    json_object **vals;
    char *present;
    json_object *extras, *seen, *out, *first;
    size_t base = c->path.len;

    if (n->kind != YNODE_MAP) {
        report_type(c, n, "an object (a map of fields)");
        return NULL;
    }
    vals = xcalloc(s->n_props ? s->n_props : 1, sizeof(*vals));
    present = xcalloc(s->n_props ? s->n_props : 1, 1);
    extras = json_object_new_object();
    seen = json_object_new_object(); /* key -> line: duplicate check in linear time */
    for (size_t i = 0; i < n->n; i++) {
        const ynode_pair *p = &n->pairs[i];
        const snode *child = NULL;
        int idx = find_prop(s, p->key);
        json_object *v = NULL;

        ynode_path_append_key(&c->path, p->key);
        if (json_object_object_get_ex(seen, p->key, &first)) {
            report(c, p->line, p->col, "duplicate key (first at line %d)",
                   json_object_get_int(first));
            strbuf_setlen(&c->path, base);
            continue;
        }
        json_object_object_add(seen, p->key, json_object_new_int(p->line));
        if (idx >= 0)
            child = s->props[idx].schema;
        else if (s->additional)
            child = s->additional;
        if (child) {
            size_t before = diag_list_count(c->diags);

            if (decode_value(c, child, p->value, &v)) {
                if (idx >= 0) {
                    vals[idx] = v;
                    present[idx] = 1;
                } else {
                    json_object_object_add(extras, p->key, v);
                }
            } else if (idx >= 0 && diag_list_count(c->diags) > before) {
                present[idx] = 2; /* there but wrong: reported, neither defaulted nor missing */
            }
        } else if (s->preserve_unknown) {
            json_object_object_add(extras, p->key, ynode_to_json_core(p->value));
        } else {
            report_unknown(c, s, p);
        }
        strbuf_setlen(&c->path, base);
    }
    /* Output in schema order, defaults filling the gaps, then the free-form keys. */
    out = json_object_new_object();
    for (size_t i = 0; i < s->n_props; i++) {
        const snode *child = s->props[i].schema;

        if (!present[i] && child->def) {
            ynode_path_append_key(&c->path, s->props[i].name);
            present[i] = (char)decode_default(c, child, &vals[i]);
            strbuf_setlen(&c->path, base);
        }
        if (present[i] == 1)
            json_object_object_add(out, s->props[i].name, vals[i]);
    }
    for (size_t i = 0; i < s->n_required; i++) {
        int idx = find_prop(s, s->required[i]);

        if (json_object_object_get_ex(out, s->required[i], NULL) || (idx >= 0 && present[idx]))
            continue;
        /* The field has no position of its own: point at the map that lacks it. */
        ynode_path_append_key(&c->path, s->required[i]);
        report(c, n->line, n->col, "required field is missing");
        strbuf_setlen(&c->path, base);
    }
    json_object_object_foreach(extras, key, val)
    {
        json_object_object_add(out, key, json_object_get(val));
    }
    json_object_put(extras);
    json_object_put(seen);
    free(vals);
    free(present);
    return out;
}

static json_object *decode_array(dctx *c, const snode *s, const ynode *n)
{
    json_object *out;
    size_t base = c->path.len;

    if (n->kind != YNODE_SEQ) {
        report_type(c, n, "a list");
        return NULL;
    }
    if (s->min_items >= 0 && n->n < (size_t)s->min_items)
        report(c, n->line, n->col, "must have at least %lld item%s, got %zu", s->min_items,
               s->min_items == 1 ? "" : "s", n->n);
    if (s->max_items >= 0 && n->n > (size_t)s->max_items)
        report(c, n->line, n->col, "must have at most %lld item%s, got %zu", s->max_items,
               s->max_items == 1 ? "" : "s", n->n);
    out = json_object_new_array();
    for (size_t i = 0; i < n->n; i++) {
        const ynode *item = n->items[i];
        json_object *v = NULL;

        ynode_path_append_index(&c->path, i);
        if (scalar_is_null(item) && !s->items->nullable) {
            report_type(c, item, "an item");
        } else {
            if (decode_value(c, s->items, item, &v))
                json_object_array_add(out, v);
        }
        strbuf_setlen(&c->path, base);
    }
    return out;
}

/*
 * Decode n by s into *out. Returns 1 when a value was produced (JSON null is a
 * NULL *out), 0 when n was a pruned null (absent) or wrong; diags say which.
 */
static int decode_value(dctx *c, const snode *s, const ynode *n, json_object **out)
{
    size_t before = diag_list_count(c->diags);
    json_object *v = NULL;
    int was_hidden = c->is_hidden;

    *out = NULL;
    if (scalar_is_null(n)) {
        if (!s->nullable)
            return 0;
        *out = NULL; /* json-c's NULL is JSON null */
        return 1;
    }
    c->is_hidden = c->is_hidden || s->is_sensitive;
    switch (s->type) {
    case SNODE_ANY:
        v = ynode_to_json_core(n);
        break;
    case SNODE_OBJECT:
        v = decode_object(c, s, n);
        break;
    case SNODE_ARRAY:
        v = decode_array(c, s, n);
        break;
    case SNODE_STRING:
        v = decode_string(c, s, n);
        break;
    case SNODE_INTEGER:
        v = decode_integer(c, s, n);
        break;
    case SNODE_NUMBER:
        v = decode_number(c, s, n);
        break;
    case SNODE_BOOLEAN:
        v = decode_boolean(c, s, n);
        break;
    }
    if (s->check && v && diag_list_count(c->diags) == before)
        s->check(v, n, c->file, strbuf_str(&c->path), c->diags);
    c->is_hidden = was_hidden;
    *out = v;
    return v != NULL;
}

int schema_decode(const snode *schema, const ynode *node, const char *file, const char *path,
                  diag_list *diags, json_object **out)
{
    dctx c = {file, diags, STRBUF_INIT, 0};
    size_t before = diag_list_count(diags);

    strbuf_adds(&c.path, path ? path : "");
    decode_value(&c, schema, node, out);
    strbuf_release(&c.path);
    return diag_list_count(diags) == before ? 0 : OMLOP_EINVAL;
}

static int check_defaults(const snode *s, strbuf *where, omlop_err *err)
{
    size_t base = where->len;
    int rc = 0;

    if (s->def) {
        diag_list *dl = diag_list_new();
        json_object *v = NULL;
        ynode *tree = ynode_from_json(s->def);

        schema_decode(s, tree, NULL, "", dl, &v);
        if (diag_list_count(dl) > 0) {
            strbuf msg = STRBUF_INIT;

            diag_format(diag_list_at(dl, 0), &msg);
            rc = omlop_err_set(err, OMLOP_EINVAL, "%s: the default is invalid: %s", where->buf,
                               msg.buf);
            strbuf_release(&msg);
        }
        json_object_put(v);
        ynode_free(tree);
        diag_list_free(dl);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < s->n_props && rc == 0; i++) {
        if (s->props[i].is_borrowed)
            continue;
        strbuf_addf(where, ".properties.%s", s->props[i].name);
        rc = check_defaults(s->props[i].schema, where, err);
        strbuf_setlen(where, base);
    }
    if (rc == 0 && s->items) {
        strbuf_adds(where, ".items");
        rc = check_defaults(s->items, where, err);
        strbuf_setlen(where, base);
    }
    if (rc == 0 && s->additional) {
        strbuf_adds(where, ".additionalProperties");
        rc = check_defaults(s->additional, where, err);
        strbuf_setlen(where, base);
    }
    return rc;
}

int schema_check_defaults(const snode *root, const char *where, omlop_err *err)
{
    strbuf w = STRBUF_INIT;
    int rc;

    strbuf_adds(&w, where);
    rc = check_defaults(root, &w, err);
    strbuf_release(&w);
    return rc;
}

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

size_t schema_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[101];

    /* Field names are short; anything this long is nowhere near a suggestion. */
    if (la > 100 || lb > 100)
        return 100;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
            size_t best = prev + cost;

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = up;
        }
    }
    return row[lb];
}

/* Whether needle (at least 4 characters) occurs in hay, ASCII case-insensitively. */
static int contains_word(const char *hay, const char *needle)
{
    size_t nh = strlen(hay), nn = strlen(needle);

    if (nn < 4 || nn >= nh)
        return 0;
    for (size_t i = 0; i + nn <= nh; i++) {
        size_t j = 0;

        while (j < nn && lower(hay[i + j]) == lower(needle[j]))
            j++;
        if (j == nn)
            return 1;
    }
    return 0;
}

const char *schema_suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = 3;

    for (size_t i = 0; i < n; i++) {
        size_t d = schema_edit_distance(word, candidates[i]);

        if (d < best_d && d < strlen(word)) {
            best = candidates[i];
            best_d = d;
        }
    }
    /* A flattened or prefixed name ("sshPort" for ssh.port) contains the real one. */
    for (size_t i = 0; i < n && !best; i++) {
        if (contains_word(word, candidates[i]) || contains_word(candidates[i], word))
            best = candidates[i];
    }
    return best;
}
