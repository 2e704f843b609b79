/* api_select: field selectors, and label selectors through operator/selector.h. */
#include "api_select.h"

#include <stdlib.h>
#include <string.h>

#include "crds/selector.h"
#include "lib/cjson.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#define MAX_FIELD_TERMS 32

typedef struct field_term {
    char *path;
    char *value;
    int negate;
} field_term;

struct api_selector {
    selector *labels; /* NULL: no label selector */
    field_term terms[MAX_FIELD_TERMS];
    size_t n_terms;
    const char *name; /* borrowed from a metadata.name= term */
};

int api_selector_is_everything(const api_selector *s)
{
    return !s || (!s->labels && s->n_terms == 0);
}

void api_selector_free(api_selector *s)
{
    if (!s)
        return;
    selector_free(s->labels);
    for (size_t i = 0; i < s->n_terms; i++) {
        free(s->terms[i].path);
        free(s->terms[i].value);
    }
    free(s);
}

static int path_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* Parse one term of len bytes; the value's escapes are resolved. */
static int parse_term(api_selector *s, const char *t, size_t len, omlop_err *err)
{
    size_t i = 0;
    field_term *ft;
    strbuf v = STRBUF_INIT;

    while (i < len && path_char_ok(t[i]))
        i++;
    if (i == 0 || i == len)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "fieldSelector: '%.*s' is not 'field=value' or 'field!=value'",
                             (int)(len > 200 ? 200 : len), t);
    if (s->n_terms == MAX_FIELD_TERMS)
        return omlop_err_set(err, OMLOP_EINVAL, "fieldSelector: more than %d terms",
                             MAX_FIELD_TERMS);
    ft = &s->terms[s->n_terms];
    memset(ft, 0, sizeof(*ft));
    ft->path = xstrndup(t, i);
    if (t[i] == '!' && i + 1 < len && t[i + 1] == '=') {
        ft->negate = 1;
        i += 2;
    } else if (t[i] == '=' && i + 1 < len && t[i + 1] == '=') {
        i += 2;
    } else if (t[i] == '=') {
        i += 1;
    } else {
        free(ft->path);
        return omlop_err_set(err, OMLOP_EINVAL,
                             "fieldSelector: '%.*s': expected =, == or != after the field",
                             (int)(len > 200 ? 200 : len), t);
    }
    for (; i < len; i++) {
        if (t[i] == '\\' && i + 1 < len) {
            strbuf_addch(&v, t[++i]);
        } else if (t[i] == '=' || t[i] == '!') {
            free(ft->path);
            strbuf_release(&v);
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "fieldSelector: '%.*s': a value must escape '=' and '!' with "
                                 "'\\'",
                                 (int)(len > 200 ? 200 : len), t);
        } else {
            strbuf_addch(&v, t[i]);
        }
    }
    ft->value = strbuf_detach(&v, NULL);
    s->n_terms++;
    if (!ft->negate && strcmp(ft->path, "metadata.name") == 0)
        s->name = ft->value;
    return 0;
}

static int parse_fields(api_selector *s, const char *fields, omlop_err *err)
{
    const char *p = fields;

    while (*p) {
        const char *q = p;
        int rc;

        /* a term ends at an unescaped comma */
        while (*q && *q != ',') {
            if (*q == '\\' && q[1])
                q++;
            q++;
        }
        if (q > p) {
            rc = parse_term(s, p, (size_t)(q - p), err);
            if (rc)
                return rc;
        }
        p = *q ? q + 1 : q;
    }
    return 0;
}

int api_selector_parse(const char *labels, const char *fields, api_selector **out, omlop_err *err)
{
    api_selector *s = xcalloc(1, sizeof(*s));
    int rc = 0;

    *out = NULL;
    if (fields && *fields) {
        rc = parse_fields(s, fields, err);
        if (rc)
            goto out;
    }
    if (labels && *labels) {
        rc = selector_parse(labels, &s->labels, err);
        if (rc) {
            omlop_err_prefix(err, "labelSelector '%.200s': ", labels);
            goto out;
        }
    }
    *out = s;
    s = NULL;
out:
    api_selector_free(s);
    return rc;
}

/* The field's text: strings as they are, other scalars in JSON, missing as "". */
static void field_text(const json_object *obj, const char *path, strbuf *out)
{
    json_object *v = cjson_get(obj, path);

    if (!v)
        return;
    if (json_object_is_type(v, json_type_string))
        strbuf_adds(out, json_object_get_string(v));
    else
        strbuf_adds(out, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

int api_selector_match(const api_selector *s, const json_object *obj)
{
    strbuf t = STRBUF_INIT;
    int ok = 1;

    if (!s)
        return 1;
    if (s->labels && !selector_matches(s->labels, cjson_get(obj, "metadata.labels")))
        return 0;
    for (size_t i = 0; ok && i < s->n_terms; i++) {
        strbuf_reset(&t);
        field_text(obj, s->terms[i].path, &t);
        ok = (strcmp(strbuf_str(&t), s->terms[i].value) == 0) != s->terms[i].negate;
    }
    strbuf_release(&t);
    return ok;
}

const char *api_selector_name(const api_selector *s)
{
    return s ? s->name : NULL;
}
