/*
 * Boundary tests for every numeric bound in the built-in CRD schemas, generated
 * from the schemas themselves: each minimum, maximum, minLength, maxLength,
 * minItems and maxItems (and exclusiveMinimum/exclusiveMaximum, should a CRD
 * ever use them) found by walking the CRDs in crds/ gives two cases, a value AT the
 * bound (accepted) and one just past it (refused with that bound's message at
 * that field's path). An off-by-one in the validator fails here on the first
 * bound it touches; a bound added to a CRD is tested without touching this file.
 *
 * Each case is a document of the kind with only that field set (one list item,
 * one map key "k" on the way); other problems of such a sparse document
 * (required fields elsewhere) are ignored: only diags at the field's path with
 * the bound's wording count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crds/schema.h"
#include "lib/cjson.h"
#include "unit-tests/crds/crds_harness.h"

/* One step of the way from the root to the bounded field. */
typedef enum step_kind { STEP_PROP, STEP_ITEM, STEP_MAPKEY } step_kind;

typedef struct step {
    step_kind kind;
    const char *name; /* STEP_PROP */
} step;

#define MAX_DEPTH 16

typedef struct walk {
    const schema_set *set;
    const char *kind;
    step steps[MAX_DEPTH];
    size_t depth;
    size_t n_cases;  /* bounds tested */
    strbuf failures; /* one line per failed case */
} walk;

/* The field path as diags print it: spec.hosts[0].ssh.port, data.k. */
static void field_path(const walk *w, strbuf *out)
{
    strbuf_reset(out);
    for (size_t i = 0; i < w->depth; i++) {
        if (w->steps[i].kind == STEP_PROP)
            strbuf_addf(out, "%s%s", out->len ? "." : "", w->steps[i].name);
        else if (w->steps[i].kind == STEP_ITEM)
            strbuf_adds(out, "[0]");
        else
            strbuf_adds(out, ".k");
    }
}

/* A document of the walk's kind with value (taken) placed at the walk's path. */
static json_object *document(const walk *w, json_object *value)
{
    json_object *doc = json_object_new_object(), *meta = json_object_new_object();
    json_object *v = value;

    /* Build from the leaf up; step i names where v sits in its parent. */
    for (size_t i = w->depth; i-- > 1;) {
        json_object *parent;

        if (w->steps[i].kind == STEP_ITEM) {
            parent = json_object_new_array();
            json_object_array_add(parent, v);
        } else {
            parent = json_object_new_object();
            json_object_object_add(parent, w->steps[i].kind == STEP_PROP ? w->steps[i].name : "k",
                                   v);
        }
        v = parent;
    }
    json_object_object_add(doc, "apiVersion", json_object_new_string("omlop.io/v1alpha1"));
    json_object_object_add(doc, "kind", json_object_new_string(w->kind));
    json_object_object_add(meta, "name", json_object_new_string("bounds"));
    json_object_object_add(doc, "metadata", meta);
    json_object_object_add(doc, w->steps[0].name, v);
    return doc;
}

/* A value of the type schema s wants, for list items and the like. */
static json_object *sample_of(const json_object *s)
{
    const char *type = cjson_get_string(s, "type");

    if (type && strcmp(type, "string") == 0)
        return json_object_new_string("a");
    if (type && (strcmp(type, "integer") == 0 || strcmp(type, "number") == 0))
        return json_object_new_int64(
            cjson_get(s, "minimum") ? (int64_t)ceil(json_object_get_double(cjson_get(s, "minimum")))
                                    : 0);
    if (type && strcmp(type, "boolean") == 0)
        return json_object_new_boolean(1);
    if (type && strcmp(type, "array") == 0)
        return json_object_new_array();
    return json_object_new_object();
}

static json_object *string_of(long long n)
{
    char *text = malloc((size_t)n + 1);
    json_object *v;

    assert_non_null(text);
    memset(text, 'a', (size_t)n);
    text[n] = '\0';
    v = json_object_new_string_len(text, (int)n);
    free(text);
    return v;
}

static json_object *list_of(long long n, const json_object *items)
{
    json_object *a = json_object_new_array();

    for (long long i = 0; i < n; i++)
        json_object_array_add(a, sample_of(items));
    return a;
}

/* Whether decoding doc gives a diag at path whose message has words. */
static int refused_at(const walk *w, json_object *doc, const char *path, const char *words,
                      strbuf *all)
{
    diag_list *dl = diag_list_new();
    json_object *out = NULL;
    int found = 0;

    schema_set_decode_json(w->set, doc, &out, dl);
    strbuf_reset(all);
    diag_list_format(dl, all);
    for (size_t i = 0; i < diag_list_count(dl); i++) {
        const diag *d = diag_list_at(dl, i);

        if (d->path && strcmp(d->path, path) == 0 && strstr(d->message, words))
            found = 1;
    }
    json_object_put(out);
    diag_list_free(dl);
    return found;
}

/* Check one bound: at (accepted) and past (refused), both taken. */
static void check_case(walk *w, const char *keyword, json_object *at, json_object *past,
                       const char *words)
{
    strbuf path = STRBUF_INIT, all = STRBUF_INIT;
    json_object *doc;
    char at_text[64];

    field_path(w, &path);
    snprintf(at_text, sizeof(at_text), "%.60s",
             json_object_to_json_string_ext(at, JSON_C_TO_STRING_PLAIN));
    doc = document(w, at);
    if (refused_at(w, doc, path.buf, words, &all))
        strbuf_addf(&w->failures, "%s %s: %s: the value at the bound (%s) is refused:\n%s", w->kind,
                    path.buf, keyword, at_text, all.buf);
    json_object_put(doc);
    doc = document(w, past);
    if (!refused_at(w, doc, path.buf, words, &all))
        strbuf_addf(&w->failures, "%s %s: %s: the value past the bound is accepted\n", w->kind,
                    path.buf, keyword);
    json_object_put(doc);
    w->n_cases++;
    strbuf_release(&path);
    strbuf_release(&all);
}

static int has_number(const json_object *s, const char *key, double *out)
{
    json_object *v = cjson_get(s, key);

    if (!v || !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        return 0;
    *out = json_object_get_double(v);
    return 1;
}

/* The cases the bounds of schema s (at the walk's path) give. */
static void check_bounds(walk *w, const json_object *s)
{
    const char *type = cjson_get_string(s, "type");
    int is_int = type && strcmp(type, "integer") == 0;
    double delta = is_int ? 1 : 0.5;
    double b;

    if (has_number(s, "minimum", &b))
        check_case(
            w, "minimum", is_int ? json_object_new_int64((int64_t)b) : json_object_new_double(b),
            is_int ? json_object_new_int64((int64_t)b - 1) : json_object_new_double(b - delta),
            "below the minimum");
    if (has_number(s, "maximum", &b))
        check_case(
            w, "maximum", is_int ? json_object_new_int64((int64_t)b) : json_object_new_double(b),
            is_int ? json_object_new_int64((int64_t)b + 1) : json_object_new_double(b + delta),
            "above the maximum");
    /* The compiler refuses these keywords today; if one is ever allowed, it is tested. */
    if (has_number(s, "exclusiveMinimum", &b) || has_number(s, "exclusiveMaximum", &b))
        strbuf_addf(&w->failures, "%s: exclusive bounds found: add their cases here\n", w->kind);
    if (has_number(s, "minLength", &b) && b > 0)
        check_case(w, "minLength", string_of((long long)b), string_of((long long)b - 1),
                   "is too short");
    if (has_number(s, "maxLength", &b))
        check_case(w, "maxLength", string_of((long long)b), string_of((long long)b + 1),
                   "is too long");
    if (has_number(s, "minItems", &b) && b > 0)
        check_case(w, "minItems", list_of((long long)b, cjson_get(s, "items")),
                   list_of((long long)b - 1, cjson_get(s, "items")), "must have at least");
    if (has_number(s, "maxItems", &b))
        check_case(w, "maxItems", list_of((long long)b, cjson_get(s, "items")),
                   list_of((long long)b + 1, cjson_get(s, "items")), "must have at most");
}

static void walk_schema(walk *w, const json_object *s)
{
    json_object *props = cjson_get(s, "properties");
    json_object *items = cjson_get(s, "items");
    json_object *add = cjson_get(s, "additionalProperties");

    if (w->depth > 0)
        check_bounds(w, s);
    if (w->depth + 1 >= MAX_DEPTH)
        return;
    if (props) {
        json_object_object_foreach(props, key, val)
        {
            /* metadata is omlop's own schema (schema_meta), not the CRD's; kind and
             * apiVersion are what select the schema */
            if (w->depth == 0 && (strcmp(key, "metadata") == 0 || strcmp(key, "kind") == 0 ||
                                  strcmp(key, "apiVersion") == 0))
                continue;
            w->steps[w->depth++] = (step){STEP_PROP, key};
            walk_schema(w, val);
            w->depth--;
        }
    }
    if (items && w->depth > 0) {
        w->steps[w->depth++] = (step){STEP_ITEM, NULL};
        walk_schema(w, items);
        w->depth--;
    }
    if (add && json_object_is_type(add, json_type_object) && w->depth > 0) {
        w->steps[w->depth++] = (step){STEP_MAPKEY, NULL};
        walk_schema(w, add);
        w->depth--;
    }
}

static void test_every_bound_at_and_past_the_edge(void **state)
{
    walk w;

    memset(&w, 0, sizeof(w));
    w.set = *state;
    strbuf_init(&w.failures);
    for (size_t k = 0; k < schema_set_kind_count(w.set); k++) {
        const kind_info *info = schema_set_kind_at(w.set, k);
        const json_object *crd = schema_set_crd(w.set, info->kind);

        w.kind = info->kind;
        walk_schema(&w, cjson_get(json_object_array_get_idx(cjson_get(crd, "spec.versions"), 0),
                                  "schema.openAPIV3Schema"));
    }
    if (w.failures.len)
        fail_msg("bounds not enforced exactly:\n%s", w.failures.buf);
    /* The CRDs hold well over a hundred bounds; a walk that finds few is broken. */
    if (w.n_cases < 100)
        fail_msg("only %zu bounds found in the CRDs", w.n_cases);
    print_message("%zu bounds checked at and past the edge\n", w.n_cases);
    strbuf_release(&w.failures);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_bound_at_and_past_the_edge),
    };

    return cmocka_run_group_tests(tests, crds_builtin_setup, crds_builtin_teardown);
}
