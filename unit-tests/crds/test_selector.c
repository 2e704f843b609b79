/* Tests for operator/selector: parsing (normal form, errors with positions) and matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crds/selector.h"
#include "objects/objects.h"

static void test_selector_parses_to_normal_form(void **state)
{
    static const struct {
        const char *in;
        const char *out;
        size_t n;
    } cases[] = {
        {"", "", 0},
        {"   ", "", 0},
        {"a=b", "a=b", 1},
        {"a==b", "a=b", 1},
        {" a = b ", "a=b", 1},
        {"a!=b", "a!=b", 1},
        {"a=", "a=", 1},
        {"a in (x,y)", "a in (x,y)", 1},
        {"a in ( x , y )", "a in (x,y)", 1},
        {"a notin (z)", "a notin (z)", 1},
        {"a in (x,)", "a in (x,)", 1},
        {"g", "g", 1},
        {"!h", "!h", 1},
        {"a=b,c!=d,e in (x,y),f notin (z),g,!h", "a=b,c!=d,e in (x,y),f notin (z),g,!h", 6},
        {"app.kubernetes.io/name=web", "app.kubernetes.io/name=web", 1},
        {"omlop.io/tenant in (acme,b-2)", "omlop.io/tenant in (acme,b-2)", 1},
        {"in=notin", "in=notin", 1},
        {"A_b.c-9=X.y_z-0", "A_b.c-9=X.y_z-0", 1},
    };
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf sb = STRBUF_INIT;
        selector *sel;

        if (selector_parse(cases[i].in, &sel, &err) != 0)
            fail_msg("'%s': %s", cases[i].in, err.msg);
        selector_format(sel, &sb);
        if (strcmp(strbuf_str(&sb), cases[i].out) != 0)
            fail_msg("'%s' formats as '%s', want '%s'", cases[i].in, strbuf_str(&sb), cases[i].out);
        assert_int_equal(selector_count(sel), cases[i].n);
        strbuf_release(&sb);
        selector_free(sel);
    }
}

static void test_selector_errors_name_the_position(void **state)
{
    static const struct {
        const char *in;
        const char *says;
    } cases[] = {
        {"=b", "position 1: expected a label key, found '='"},
        {"a=b,", "position 5: expected a requirement after ','"},
        {"a=b,,c", "position 5: expected a label key, found ','"},
        {"a b", "position 3: expected '=', '==', '!=', 'in', 'notin', ',' or the end, found 'b'"},
        {"a in x", "position 6: expected '(' after 'in'/'notin', found 'x'"},
        {"a in ()", "position 7: the set of values for 'in'/'notin' is empty"},
        {"a in (x", "position 8: expected ',' or ')', found the end"},
        {"a in (x y)", "position 9: expected ',' or ')', found 'y'"},
        {"a notin", "position 8: expected '(' after 'in'/'notin', found the end"},
        {"a=b=c", "position 4: expected ',' between requirements, found '='"},
        {"a>1", "position 2: expected '=', '==', '!=', 'in', 'notin', ',' or the end, found '>'"},
        {"!a=b", "position 3: expected ',' or the end after '!key', found '='"},
        {"-a=b", "position 1: key '-a'"},
        {"a-=b", "position 1: key 'a-'"},
        {"Bad.Prefix/a=b", "position 1: key prefix 'Bad.Prefix'"},
        {"/a=b", "position 1: key prefix ''"},
        {"a/b/c=d", "position 1: key 'a/b/c'"},
        {"a=b!", "position 4: expected ',' between requirements, found '!'"},
        {"a=-b", "position 3: value '-b'"},
        {"a in (x,_y)", "position 9: value '_y'"},
        {"a=0123456789012345678901234567890123456789012345678901234567890123",
         "position 3: value '0123"},
    };
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        selector *sel = (selector *)1;
        int rc = selector_parse(cases[i].in, &sel, &err);

        if (rc != OMLOP_EINVAL || !strstr(err.msg, cases[i].says))
            fail_msg("'%s': rc %d, message \"%s\", want \"%s\"", cases[i].in, rc, err.msg,
                     cases[i].says);
        assert_null(sel);
        assert_non_null(strstr(err.msg, cases[i].in)); /* the message quotes the selector */
    }
}

static void test_selector_matches_labels(void **state)
{
    static const struct {
        const char *sel;
        const char *labels; /* JSON object, or NULL for no labels */
        int want;
    } cases[] = {
        {"", NULL, 1},
        {"a=b", "{\"a\":\"b\"}", 1},
        {"a=b", "{\"a\":\"c\"}", 0},
        {"a=b", "{}", 0},
        {"a=b", NULL, 0},
        {"a=", "{\"a\":\"\"}", 1},
        {"a=", "{}", 0},
        {"a!=b", "{\"a\":\"c\"}", 1},
        {"a!=b", "{\"a\":\"b\"}", 0},
        {"a!=b", "{}", 1},
        {"a in (x,y)", "{\"a\":\"y\"}", 1},
        {"a in (x,y)", "{\"a\":\"z\"}", 0},
        {"a in (x,y)", "{}", 0},
        {"a notin (x,y)", "{\"a\":\"z\"}", 1},
        {"a notin (x,y)", "{\"a\":\"x\"}", 0},
        {"a notin (x,y)", "{}", 1},
        {"a", "{\"a\":\"\"}", 1},
        {"a", "{\"b\":\"1\"}", 0},
        {"!a", "{\"b\":\"1\"}", 1},
        {"!a", "{\"a\":\"1\"}", 0},
        {"a=1", "{\"a\":1}", 0}, /* not a string: no value matches */
        {"a!=1", "{\"a\":1}", 1},
        {"a", "{\"a\":1}", 1},
        {"a=b,c in (d,e),!f", "{\"a\":\"b\",\"c\":\"e\"}", 1},
        {"a=b,c in (d,e),!f", "{\"a\":\"b\",\"c\":\"e\",\"f\":\"\"}", 0},
        {"x.io/k=v", "{\"x.io/k\":\"v\"}", 1},
    };
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *labels = cases[i].labels ? json_tokener_parse(cases[i].labels) : NULL;
        selector *sel;

        assert_int_equal(selector_parse(cases[i].sel, &sel, &err), 0);
        if (selector_matches(sel, labels) != cases[i].want)
            fail_msg("'%s' on %s: want %d", cases[i].sel,
                     cases[i].labels ? cases[i].labels : "(none)", cases[i].want);
        selector_free(sel);
        json_object_put(labels);
    }
}

static void test_selector_filters_store_values(void **state)
{
    static const char pod[] = "{\"metadata\":{\"name\":\"p\",\"labels\":{\"app\":\"web\"}}}";
    omlop_err err = OMLOP_ERR_INIT;
    store_kv kv = {(char *)"/omlop/pods/p", (char *)pod, sizeof(pod) - 1, 1, 1, 1};
    selector *yes, *no, *all;

    (void)state;
    assert_int_equal(selector_parse("app=web", &yes, &err), 0);
    assert_int_equal(selector_parse("app=db", &no, &err), 0);
    assert_int_equal(selector_parse("", &all, &err), 0);
    assert_true(obj_filter_selector(&kv, yes));
    assert_false(obj_filter_selector(&kv, no));
    kv.value = (char *)"not json";
    kv.value_len = 8;
    assert_false(obj_filter_selector(&kv, yes));
    assert_true(obj_filter_selector(&kv, all)); /* nothing to check */
    kv.value = (char *)"{\"metadata\":{}}";
    kv.value_len = strlen(kv.value);
    assert_false(obj_filter_selector(&kv, yes));
    selector_free(yes);
    selector_free(no);
    selector_free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selector_parses_to_normal_form),
        cmocka_unit_test(test_selector_errors_name_the_position),
        cmocka_unit_test(test_selector_matches_labels),
        cmocka_unit_test(test_selector_filters_store_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
