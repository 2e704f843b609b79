/* jsonpath: the JSONPath subset of CRD printer columns. */
#include "clients/omlctl/jsonpath.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cjson.h"
#include "lib/xalloc.h"

typedef struct node_set {
    json_object **v;
    size_t n;
    size_t cap;
} node_set;

static void set_push(node_set *s, json_object *o)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        json_object **v = xrealloc(s->v, cap * sizeof(*v));

        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = o;
}

static void step_key(const node_set *in, node_set *out, const char *key, size_t len)
{
    char buf[256];

    snprintf(buf, sizeof(buf), "%.*s", (int)len, key);
    for (size_t i = 0; i < in->n; i++) {
        json_object *v;

        if (json_object_is_type(in->v[i], json_type_object) &&
            json_object_object_get_ex(in->v[i], buf, &v))
            set_push(out, v);
    }
}

static void step_all(const node_set *in, node_set *out)
{
    for (size_t i = 0; i < in->n; i++) {
        if (json_object_is_type(in->v[i], json_type_array)) {
            for (size_t j = 0; j < json_object_array_length(in->v[i]); j++)
                set_push(out, json_object_array_get_idx(in->v[i], j));
        } else if (json_object_is_type(in->v[i], json_type_object)) {
            json_object_object_foreach(in->v[i], k, v)
            {
                (void)k;
                set_push(out, v);
            }
        }
    }
}

static void value_text(const json_object *v, strbuf *out)
{
    if (json_object_is_type(v, json_type_string))
        strbuf_adds(out, json_object_get_string((json_object *)v));
    else
        strbuf_adds(out,
                    json_object_to_json_string_ext(
                        (json_object *)v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Parse a quoted ('x' or "x") or bare literal at *pp up to one of stop; copies into out. */
static int parse_literal(const char **pp, const char *stop, strbuf *out)
{
    const char *p = *pp;

    if (*p == '\'' || *p == '"') {
        char q = *p++;
        const char *end = strchr(p, q);

        if (!end)
            return -1;
        strbuf_add(out, p, (size_t)(end - p));
        *pp = end + 1;
        return 0;
    }
    while (*p && !strchr(stop, *p))
        p++;
    strbuf_add(out, *pp, (size_t)(p - *pp));
    *pp = p;
    return 0;
}

/* [?(@.a.b == "v")] / != / existence [?(@.a)] */
static int step_filter(const node_set *in, node_set *out, const char *expr, size_t len)
{
    strbuf e = STRBUF_INIT, field = STRBUF_INIT, want = STRBUF_INIT, got = STRBUF_INIT;
    const char *p;
    int op = 0; /* 0 exists, 1 ==, 2 != */
    int rc = 0;
    node_set elems = {NULL, 0, 0};

    strbuf_add(&e, expr, len);
    p = e.buf;
    if (strncmp(p, "?(@.", 4) != 0 || e.buf[e.len - 1] != ')') {
        rc = -1;
        goto out;
    }
    e.buf[--e.len] = '\0';
    p += 4;
    while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.'))
        strbuf_addch(&field, *p++);
    while (*p == ' ')
        p++;
    if (!strncmp(p, "==", 2))
        op = 1;
    else if (!strncmp(p, "!=", 2))
        op = 2;
    else if (*p) {
        rc = -1;
        goto out;
    }
    if (op) {
        p += 2;
        while (*p == ' ')
            p++;
        if (parse_literal(&p, " ", &want) < 0) {
            rc = -1;
            goto out;
        }
        while (*p == ' ')
            p++;
        if (*p) {
            rc = -1;
            goto out;
        }
    }
    if (!field.len) {
        rc = -1;
        goto out;
    }
    step_all(in, &elems);
    for (size_t i = 0; i < elems.n; i++) {
        json_object *v = cjson_get(elems.v[i], field.buf);

        if (!op) {
            if (v)
                set_push(out, elems.v[i]);
            continue;
        }
        strbuf_reset(&got);
        if (v)
            value_text(v, &got);
        if ((op == 1 && v && !strcmp(got.buf, want.buf)) ||
            (op == 2 && (!v || strcmp(got.buf, want.buf))))
            set_push(out, elems.v[i]);
    }
out:
    free(elems.v);
    strbuf_release(&e);
    strbuf_release(&field);
    strbuf_release(&want);
    strbuf_release(&got);
    return rc;
}

/* Find the "]" closing a bracket that starts at p (quotes respected). */
static const char *bracket_end(const char *p)
{
    char q = 0;
    int depth = 0;

    for (; *p; p++) {
        if (q) {
            if (*p == q)
                q = 0;
        } else if (*p == '\'' || *p == '"') {
            q = *p;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth--;
        } else if (*p == ']' && depth == 0) {
            return p;
        }
    }
    return NULL;
}

int omlctl_jsonpath(const json_object *root, const char *path, strbuf *out)
{
    node_set cur = {NULL, 0, 0}, next = {NULL, 0, 0};
    const char *p = path;
    int rc = 0;

    if (*p == '{') {
        /* kubectl -o jsonpath style "{.a.b}" */
        size_t n = strlen(p);

        if (n < 2 || p[n - 1] != '}')
            return OMLOP_EINVAL;
        p++;
    }
    set_push(&cur, (json_object *)root);
    if (*p == '$')
        p++;
    while (*p && *p != '}') {
        next.n = 0;
        if (*p == '.') {
            const char *k = ++p;

            if (*p == '.') {
                rc = OMLOP_EINVAL; /* recursive descent is not supported */
                goto out;
            }
            while (*p && *p != '.' && *p != '[' && *p != '}')
                p++;
            if (p == k) {
                rc = OMLOP_EINVAL;
                goto out;
            }
            if (p - k == 1 && *k == '*')
                step_all(&cur, &next);
            else
                step_key(&cur, &next, k, (size_t)(p - k));
        } else if (*p == '[') {
            const char *end = bracket_end(p + 1);
            const char *in = p + 1;
            size_t len;

            if (!end) {
                rc = OMLOP_EINVAL;
                goto out;
            }
            len = (size_t)(end - in);
            if (len == 1 && *in == '*') {
                step_all(&cur, &next);
            } else if (len && (*in == '\'' || *in == '"')) {
                step_key(&cur, &next, in + 1, len >= 2 ? len - 2 : 0);
            } else if (len && *in == '?') {
                if (step_filter(&cur, &next, in, len) < 0) {
                    rc = OMLOP_EINVAL;
                    goto out;
                }
            } else {
                char *num_end;
                long idx = strtol(in, &num_end, 10);

                if (num_end != end || len == 0) {
                    rc = OMLOP_EINVAL;
                    goto out;
                }
                for (size_t i = 0; i < cur.n; i++) {
                    long alen;

                    if (!json_object_is_type(cur.v[i], json_type_array))
                        continue;
                    alen = (long)json_object_array_length(cur.v[i]);
                    if (idx < 0)
                        idx += alen;
                    if (idx >= 0 && idx < alen)
                        set_push(&next, json_object_array_get_idx(cur.v[i], (size_t)idx));
                }
            }
            p = end + 1;
        } else {
            rc = OMLOP_EINVAL;
            goto out;
        }
        {
            node_set tmp = cur;

            cur = next;
            next = tmp;
        }
    }
    for (size_t i = 0; i < cur.n; i++) {
        if (i)
            strbuf_addch(out, ',');
        value_text(cur.v[i], out);
    }
    rc = (int)cur.n;
out:
    free(cur.v);
    free(next.v);
    return rc;
}
