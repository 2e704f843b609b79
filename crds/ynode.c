/* ynode: the untyped YAML tree, its paths, and YAML 1.2 core-schema typing. */
#include "ynode.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#define CORE_TAG_PREFIX "tag:yaml.org,2002:"

static ynode *node_new(ynode_kind kind, int line, int col)
{
    ynode *n = xcalloc(1, sizeof(*n));

    n->kind = kind;
    n->line = line;
    n->col = col;
    return n;
}

ynode *ynode_new_scalar(const char *value, size_t len, int is_plain, int line, int col)
{
    ynode *n = node_new(YNODE_SCALAR, line, col);

    n->value = xcalloc(len + 1, 1);
    if (len)
        memcpy(n->value, value, len);
    n->len = len;
    n->is_plain = is_plain ? 1 : 0;
    return n;
}

ynode *ynode_new_map(int line, int col)
{
    return node_new(YNODE_MAP, line, col);
}

ynode *ynode_new_seq(int line, int col)
{
    return node_new(YNODE_SEQ, line, col);
}

void ynode_set_tag(ynode *n, const char *tag)
{
    free(n->tag);
    n->tag = tag ? xstrdup(tag) : NULL;
}

static void grow(ynode *n, size_t elem)
{
    size_t cap;
    void *p;

    if (n->n < n->cap)
        return;
    cap = n->cap ? n->cap * 2 : 4;
    if (n->kind == YNODE_MAP)
        p = xrealloc(n->pairs, cap * elem);
    else
        p = xrealloc(n->items, cap * elem);
    if (n->kind == YNODE_MAP)
        n->pairs = p;
    else
        n->items = p;
    n->cap = cap;
}

void ynode_map_add_take(ynode *map, const char *key, int line, int col, ynode *value)
{
    ynode_pair *pr;

    assert(map && map->kind == YNODE_MAP);
    grow(map, sizeof(ynode_pair));
    pr = &map->pairs[map->n++];
    pr->key = xstrdup(key);
    pr->line = line;
    pr->col = col;
    pr->value = value;
}

void ynode_seq_add_take(ynode *seq, ynode *item)
{
    assert(seq && seq->kind == YNODE_SEQ);
    grow(seq, sizeof(ynode *));
    seq->items[seq->n++] = item;
}

ynode *ynode_map_get(const ynode *map, const char *key)
{
    if (!map || map->kind != YNODE_MAP)
        return NULL;
    /* Last wins, like ynode_to_json_core, should a hand-built map repeat a key. */
    for (size_t i = map->n; i > 0; i--)
        if (strcmp(map->pairs[i - 1].key, key) == 0)
            return map->pairs[i - 1].value;
    return NULL;
}

ynode *ynode_clone(const ynode *n)
{
    ynode *c;

    if (!n)
        return NULL;
    switch (n->kind) {
    case YNODE_SCALAR:
        c = ynode_new_scalar(n->value, n->len, n->is_plain, n->line, n->col);
        ynode_set_tag(c, n->tag);
        return c;
    case YNODE_MAP:
        c = ynode_new_map(n->line, n->col);
        for (size_t i = 0; i < n->n; i++)
            ynode_map_add_take(c, n->pairs[i].key, n->pairs[i].line, n->pairs[i].col,
                               ynode_clone(n->pairs[i].value));
        return c;
    case YNODE_SEQ:
        c = ynode_new_seq(n->line, n->col);
        for (size_t i = 0; i < n->n; i++)
            ynode_seq_add_take(c, ynode_clone(n->items[i]));
        return c;
    }
    return NULL;
}

size_t ynode_count(const ynode *n)
{
    size_t total = 1;

    if (!n)
        return 0;
    for (size_t i = 0; i < n->n; i++)
        total += ynode_count(n->kind == YNODE_MAP ? n->pairs[i].value : n->items[i]);
    return total;
}

void ynode_free(ynode *n)
{
    if (!n)
        return;
    if (n->kind == YNODE_MAP) {
        for (size_t i = 0; i < n->n; i++) {
            free(n->pairs[i].key);
            ynode_free(n->pairs[i].value);
        }
        free(n->pairs);
    } else if (n->kind == YNODE_SEQ) {
        for (size_t i = 0; i < n->n; i++)
            ynode_free(n->items[i]);
        free(n->items);
    }
    free(n->value);
    free(n->tag);
    free(n);
}

/* --- paths ------------------------------------------------------------------------------ */

static int is_bare_key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

void ynode_path_append_key(strbuf *path, const char *key)
{
    int bare = *key != '\0';

    for (const char *p = key; *p && bare; p++)
        bare = is_bare_key_char((unsigned char)*p);
    if (bare) {
        if (path->len)
            strbuf_addch(path, '.');
        strbuf_adds(path, key);
        return;
    }
    strbuf_adds(path, "[\"");
    for (const char *p = key; *p; p++) {
        if (*p == '"' || *p == '\\')
            strbuf_addch(path, '\\');
        strbuf_addch(path, *p);
    }
    strbuf_adds(path, "\"]");
}

void ynode_path_append_index(strbuf *path, size_t index)
{
    strbuf_addf(path, "[%zu]", index);
}

/* Read a quoted key at *pp (pointing at the quote) into key; 0 or -1 when malformed. */
static int path_quoted_key(const char **pp, strbuf *key)
{
    const char *p = *pp;
    char quote = *p++;

    for (; *p && *p != quote; p++) {
        if (*p == '\\' && p[1])
            p++;
        strbuf_addch(key, *p);
    }
    if (*p != quote || p[1] != ']')
        return -1;
    *pp = p + 2;
    return 0;
}

/* Read "[N]" at *pp (pointing after '['); 0 or -1. */
static int path_index(const char **pp, size_t *index)
{
    const char *p = *pp;
    size_t v = 0;

    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (SIZE_MAX - 9) / 10)
            return -1;
        v = v * 10 + (size_t)(*p - '0');
    }
    if (*p != ']')
        return -1;
    *pp = p + 1;
    *index = v;
    return 0;
}

const ynode *ynode_at_path(const ynode *root, const char *path)
{
    const ynode *cur = root;
    const char *p = path;
    strbuf key = STRBUF_INIT;
    int first = 1;

    if (!p)
        return root;
    while (cur && *p) {
        size_t index;

        strbuf_reset(&key);
        if (*p == '[' && (p[1] == '"' || p[1] == '\'')) {
            p++;
            if (path_quoted_key(&p, &key) < 0)
                cur = NULL;
            else
                cur = ynode_map_get(cur, strbuf_str(&key));
        } else if (*p == '[') {
            p++;
            if (path_index(&p, &index) < 0 || cur->kind != YNODE_SEQ || index >= cur->n)
                cur = NULL;
            else
                cur = cur->items[index];
        } else {
            if (*p == '.' && !first)
                p++;
            while (*p && *p != '.' && *p != '[')
                strbuf_addch(&key, *p++);
            /* "a..b" or a trailing dot names no key. */
            cur = key.len ? ynode_map_get(cur, strbuf_str(&key)) : NULL;
        }
        first = 0;
    }
    strbuf_release(&key);
    return cur;
}

int ynode_tag_is(const ynode *n, const char *name)
{
    const char *t;

    if (!n || n->kind != YNODE_SCALAR || !n->tag)
        return 0;
    t = n->tag;
    if (strncmp(t, "!!", 2) == 0)
        t += 2;
    else if (strncmp(t, CORE_TAG_PREFIX, strlen(CORE_TAG_PREFIX)) == 0)
        t += strlen(CORE_TAG_PREFIX);
    else
        return 0;
    return strcmp(t, name) == 0;
}

/* --- JSON in ---------------------------------------------------------------------------- */

void ynode_format_double(double d, strbuf *out)
{
    char tmp[48];
    char *e;
    size_t len;

    if (isnan(d)) {
        strbuf_adds(out, ".nan");
        return;
    }
    if (isinf(d)) {
        strbuf_adds(out, d < 0 ? "-.inf" : ".inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (strpbrk(tmp, ".")) {
        strbuf_adds(out, tmp);
        return;
    }
    /* YAML 1.1 floats need a '.', so "1e+20" becomes "1.0e+20" and "3" becomes "3.0". */
    e = strpbrk(tmp, "eE");
    len = e ? (size_t)(e - tmp) : strlen(tmp);
    strbuf_add(out, tmp, len);
    strbuf_adds(out, ".0");
    if (e)
        strbuf_adds(out, e);
}

ynode *ynode_from_json(const json_object *cobj)
{
    json_object *obj = (json_object *)cobj; /* json-c's getters are not const-correct */
    strbuf text = STRBUF_INIT;
    ynode *n;

    switch (json_object_get_type(obj)) {
    case json_type_null:
        return ynode_new_scalar("null", 4, 1, 0, 0);
    case json_type_boolean:
        return json_object_get_boolean(obj) ? ynode_new_scalar("true", 4, 1, 0, 0)
                                            : ynode_new_scalar("false", 5, 1, 0, 0);
    case json_type_int:
        /* json-c's own text covers both int64 and uint64 values. */
        strbuf_adds(&text, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
        break;
    case json_type_double:
        ynode_format_double(json_object_get_double(obj), &text);
        break;
    case json_type_string:
        return ynode_new_scalar(json_object_get_string(obj),
                                (size_t)json_object_get_string_len(obj), 0, 0, 0);
    case json_type_array: {
        size_t len = json_object_array_length(obj);

        n = ynode_new_seq(0, 0);
        for (size_t i = 0; i < len; i++)
            ynode_seq_add_take(n, ynode_from_json(json_object_array_get_idx(obj, i)));
        return n;
    }
    case json_type_object:
        n = ynode_new_map(0, 0);
        json_object_object_foreach(obj, k, v)
        {
            ynode_map_add_take(n, k, 0, 0, ynode_from_json(v));
        }
        return n;
    }
    n = ynode_new_scalar(strbuf_str(&text), text.len, 1, 0, 0);
    strbuf_release(&text);
    return n;
}

/* --- core-schema typing ----------------------------------------------------------------- */

static int is_digits(const char *s, const char *set)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!strchr(set, *s))
            return 0;
    return 1;
}

static int core_is_null(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int core_bool(const char *s, int *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        *out = 1;
        return 1;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        *out = 0;
        return 1;
    }
    return 0;
}

/* A core-schema int as a json-c value, or NULL when s is no int (or an out-of-range hex/octal). */
static json_object *core_int(const char *s)
{
    const char *d = s + (*s == '-' || *s == '+');
    unsigned long long u;
    long long v;
    char *end;

    if ((s[0] == '0' && s[1] == 'x' && is_digits(s + 2, "0123456789abcdefABCDEF")) ||
        (s[0] == '0' && s[1] == 'o' && is_digits(s + 2, "01234567"))) {
        errno = 0;
        u = strtoull(s + 2, &end, s[1] == 'x' ? 16 : 8);
        if (errno || *end || u > INT64_MAX)
            return NULL;
        return json_object_new_int64((int64_t)u);
    }
    if (!is_digits(d, "0123456789"))
        return NULL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return json_object_new_double(strtod(s, NULL));
    return json_object_new_int64(v);
}

static int core_is_float_syntax(const char *s)
{
    const char *p = s + (*s == '-' || *s == '+');
    int digits = 0;

    while (*p >= '0' && *p <= '9') {
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            digits++;
        }
    }
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

static json_object *core_float(const char *s)
{
    double d;

    if (!core_is_float_syntax(s))
        return NULL;
    d = strtod(s, NULL);
    return isfinite(d) ? json_object_new_double(d) : NULL;
}

static json_object *scalar_string(const ynode *n)
{
    return json_object_new_string_len(n->value, (int)n->len);
}

/* Type a scalar by an explicit core tag; anything unparsable or unknown is a string. */
static json_object *scalar_by_tag(const ynode *n)
{
    json_object *o = NULL;
    int b;

    if (strlen(n->value) != n->len)
        return scalar_string(n); /* embedded NUL: only a string can hold it */
    if (ynode_tag_is(n, "null") && core_is_null(n->value))
        return NULL;
    if (ynode_tag_is(n, "bool") && core_bool(n->value, &b))
        return json_object_new_boolean(b);
    if (ynode_tag_is(n, "int"))
        o = core_int(n->value);
    else if (ynode_tag_is(n, "float"))
        o = core_float(n->value); /* "3" fits the float syntax too: !!float 3 is 3.0 */
    return o ? o : scalar_string(n);
}

static json_object *scalar_to_json(const ynode *n)
{
    json_object *o;
    int b;

    if (n->tag)
        return scalar_by_tag(n);
    if (!n->is_plain || strlen(n->value) != n->len)
        return scalar_string(n);
    if (core_is_null(n->value))
        return NULL;
    if (core_bool(n->value, &b))
        return json_object_new_boolean(b);
    o = core_int(n->value);
    if (!o)
        o = core_float(n->value);
    return o ? o : scalar_string(n);
}

json_object *ynode_to_json_core(const ynode *n)
{
    json_object *o;

    if (!n)
        return NULL;
    switch (n->kind) {
    case YNODE_SCALAR:
        return scalar_to_json(n);
    case YNODE_MAP:
        o = json_object_new_object();
        for (size_t i = 0; i < n->n; i++)
            json_object_object_add(o, n->pairs[i].key, ynode_to_json_core(n->pairs[i].value));
        return o;
    case YNODE_SEQ:
        o = json_object_new_array_ext((int)(n->n ? n->n : 1));
        for (size_t i = 0; i < n->n; i++)
            json_object_array_add(o, ynode_to_json_core(n->items[i]));
        return o;
    }
    return NULL;
}
