/* Tests for crds/yamlio_emit: yaml_emit_json quoting, numbers, round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "unit-tests/crds/crds_harness.h"

/* --- helpers ---------------------------------------------------------------------------- */

/* yaml -> ynode -> core JSON of the first document of text (asserts it loads). */
static json_object *core_of(const char *text)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    json_object *o;
    int rc = crds_load_text("t.yaml", text, NULL, &docs, dl);

    if (rc != 0) {
        strbuf msg = STRBUF_INIT;

        diag_list_format(dl, &msg);
        fail_msg("reload failed: %s\n--- text ---\n%s", strbuf_str(&msg), text);
    }
    assert_int_equal(docs.n, 1);
    o = ynode_to_json_core(docs.docs[0].root);
    ydoc_list_release(&docs);
    diag_list_free(dl);
    return o;
}

/* --- emitting --------------------------------------------------------------------------- */

static void test_yamlio_emit_scalars_and_empties(void **state)
{
    json_object *o = json_tokener_parse(
        "{\"i\": 5, \"neg\": -12, \"d\": 1.5, \"d2\": 3.0, \"big\": 1e20, \"b\": true, "
        "\"f\": false, \"n\": null, \"o\": {}, \"a\": [], \"s\": \"plain text\", "
        "\"list\": [1, \"on\", {\"k\": \"v\"}], \"nested\": {\"x\": {\"y\": []}}}");
    strbuf out = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_non_null(o);
    assert_int_equal(yaml_emit_json(o, &out, &err), 0);
    assert_string_equal(out.buf, "i: 5\n"
                                 "neg: -12\n"
                                 "d: 1.5\n"
                                 "d2: 3.0\n"
                                 "big: 1.0e+20\n"
                                 "b: true\n"
                                 "f: false\n"
                                 "'n': null\n"
                                 "o: {}\n"
                                 "a: []\n"
                                 "s: plain text\n"
                                 "list:\n"
                                 "- 1\n"
                                 "- 'on'\n"
                                 "- k: v\n"
                                 "nested:\n"
                                 "  x:\n"
                                 "    'y': []\n");
    json_object_put(o);

    /* A second document appended to the same buffer starts with "---". */
    o = json_object_new_string("second");
    assert_int_equal(yaml_emit_json(o, &out, &err), 0);
    assert_true(crds_ends_with(out.buf, "    'y': []\n--- second\n"));
    json_object_put(o);
    {
        ydoc_list docs = YDOC_LIST_INIT;
        diag_list *dl = diag_list_new();

        assert_int_equal(crds_load_text("two.yaml", out.buf, NULL, &docs, dl), 0);
        assert_int_equal(docs.n, 2);
        ydoc_list_release(&docs);
        diag_list_free(dl);
    }
    strbuf_reset(&out);
    assert_int_equal(yaml_emit_json(NULL, &out, &err), 0);
    assert_string_equal(out.buf, "null\n");

    /* libyaml writes keys over 128 characters in the "? key" form; they still load. */
    {
        char key[301];
        json_object *back;

        memset(key, 'k', sizeof(key) - 1);
        key[sizeof(key) - 1] = '\0';
        o = json_object_new_object();
        json_object_object_add(o, key, json_object_new_string("v"));
        strbuf_reset(&out);
        assert_int_equal(yaml_emit_json(o, &out, &err), 0);
        assert_memory_equal(out.buf, "? kkk", 5);
        back = core_of(out.buf);
        assert_true(cjson_equal(back, o));
        json_object_put(back);
        json_object_put(o);
    }
    strbuf_release(&out);
}

typedef struct quote_case {
    const char *s;
    size_t len;   /* 0: strlen(s) */
    int is_risky; /* must come back quoted (not plain) */
} quote_case;

static void test_yamlio_emit_quotes_risky_strings(void **state)
{
    static const quote_case cases[] = {
        {"", 0, 1},
        {"on", 0, 1},
        {"off", 0, 1},
        {"On", 0, 1},
        {"OFF", 0, 1},
        {"yes", 0, 1},
        {"no", 0, 1},
        {"Yes", 0, 1},
        {"NO", 0, 1},
        {"y", 0, 1},
        {"n", 0, 1},
        {"Y", 0, 1},
        {"N", 0, 1},
        {"true", 0, 1},
        {"false", 0, 1},
        {"True", 0, 1},
        {"FALSE", 0, 1},
        {"tRuE", 0, 1},
        {"null", 0, 1},
        {"Null", 0, 1},
        {"NULL", 0, 1},
        {"~", 0, 1},
        {"22", 0, 1},
        {"-1", 0, 1},
        {"+1", 0, 1},
        {"007", 0, 1},
        {"1.5", 0, 1},
        {"1e3", 0, 1},
        {"1E3", 0, 1},
        {"0x1F", 0, 1},
        {"0o17", 0, 1},
        {"0b101", 0, 1},
        {"1_000", 0, 1},
        {"12:30", 0, 1},
        {"190:20:30", 0, 1},
        {".5", 0, 1},
        {"-.5", 0, 1},
        {".inf", 0, 1},
        {"-.Inf", 0, 1},
        {".NaN", 0, 1},
        {"240201.01", 0, 1},
        {"2024-01-01", 0, 1},
        {"1.", 0, 1},
        {" lead", 0, 1},
        {"trail ", 0, 1},
        {"\ttab", 0, 1},
        {"-dash", 0, 1},
        {"- item", 0, 1},
        {"?q", 0, 1},
        {":c", 0, 1},
        {",c", 0, 1},
        {"[b", 0, 1},
        {"]b", 0, 1},
        {"{b", 0, 1},
        {"}b", 0, 1},
        {"#h", 0, 1},
        {"&a", 0, 1},
        {"*a", 0, 1},
        {"!t", 0, 1},
        {"|p", 0, 1},
        {">f", 0, 1},
        {"'s", 0, 1},
        {"\"d", 0, 1},
        {"%p", 0, 1},
        {"@a", 0, 1},
        {"`b", 0, 1},
        {"a: b", 0, 1},
        {"a #b", 0, 1},
        {"key:", 0, 1},
        {"<<", 0, 1},
        {"=", 0, 1},
        {"line1\nline2", 0, 1},
        {"trailing\n", 0, 1},
        {"\n\nlead", 0, 1},
        {"  indented\nblock\n", 0, 1},
        {"keep\n\n\n", 0, 1},
        {"cr\r\nlf", 0, 1},
        {"a \nb", 0, 1},
        {"nul\0x", 5, 1},
        {"ctrl\x01", 0, 1},
        {"bell\x07", 0, 1},
        {"del\x7f", 0, 1},
        {"a\xe2\x80\xa8"
         "b",
         0, 1},
        {"nel\xc2\x85", 0, 1},
        {"\xef\xbb\xbf"
         "bom",
         0, 1},
        {"--- doc", 0, 1},
        {"...", 0, 1},
        {"---", 0, 1},
        {"tab\tin", 0, 1},
        {"plain words ok", 0, 0},
        {"with - dash", 0, 0},
        {"http://x.example:80/a?b=c#frag", 0, 0},
        {"docker.io/omnileads/omlapp:240201.01", 0, 0},
        {"caf\xc3\xa9 \xc3\xbc", 0, 0},
        {"America/Argentina/Cordoba", 0, 0},
        {"a,b", 0, 0},
        {"x[0]", 0, 0},
        {"yes-no", 0, 0},
        {"onion", 0, 0},
        {"nullable", 0, 0},
    };
    strbuf out = STRBUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const quote_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->s);
        json_object *o = json_object_new_object(), *back, *v;
        ydoc_list docs = YDOC_LIST_INIT;
        diag_list *dl = diag_list_new();
        omlop_err err = OMLOP_ERR_INIT;
        const ynode *n;

        json_object_object_add(o, "v", json_object_new_string_len(c->s, (int)len));
        /* The same text as a key must survive as well. */
        if (!memchr(c->s, '\0', len))
            json_object_object_add(o, c->s, json_object_new_int(1));
        strbuf_reset(&out);
        if (yaml_emit_json(o, &out, &err) != 0)
            fail_msg("case %zu: emit failed: %s", i, err.msg);
        if (yaml_load_buffer("q.yaml", out.buf, out.len, NULL, &docs, dl) != 0 || docs.n != 1)
            fail_msg("case %zu: reload failed:\n%s", i, out.buf);
        n = ynode_map_get(docs.docs[0].root, "v");
        if (c->is_risky && n->is_plain)
            fail_msg("case %zu: written plain:\n%s", i, out.buf);
        if (!c->is_risky && !n->is_plain)
            fail_msg("case %zu: quoted needlessly:\n%s", i, out.buf);
        back = ynode_to_json_core(docs.docs[0].root);
        v = json_object_object_get(back, "v");
        if (!json_object_is_type(v, json_type_string) ||
            (size_t)json_object_get_string_len(v) != len ||
            memcmp(json_object_get_string(v), c->s, len) != 0 || !cjson_equal(back, o))
            fail_msg("case %zu: did not come back as the same string:\n%s", i, out.buf);
        json_object_put(back);
        json_object_put(o);
        ydoc_list_release(&docs);
        diag_list_free(dl);
    }
    strbuf_release(&out);
}

static void assert_round_trip(const char *fixture)
{
    ydoc_list docs = YDOC_LIST_INIT, again = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    strbuf out = STRBUF_INIT, out2 = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *first, *second;

    crds_load_fixture(fixture, 0, &docs, dl);
    first = ynode_to_json_core(docs.docs[0].root);
    assert_int_equal(yaml_emit_json(first, &out, &err), 0);
    assert_int_equal(crds_load_text("again.yaml", out.buf, NULL, &again, dl), 0);
    second = ynode_to_json_core(again.docs[0].root);
    if (!cjson_equal(first, second))
        fail_msg("%s: round trip changed the value:\n%s", fixture, out.buf);
    /* Writing the re-read value gives the same text: the output is a fixed point. */
    assert_int_equal(yaml_emit_json(second, &out2, &err), 0);
    assert_string_equal(out.buf, out2.buf);
    json_object_put(first);
    json_object_put(second);
    ydoc_list_release(&docs);
    ydoc_list_release(&again);
    strbuf_release(&out);
    strbuf_release(&out2);
    diag_list_free(dl);
}

static void test_yamlio_round_trip_realistic_manifest(void **state)
{
    json_object *o;
    const char *s;

    (void)state;
    assert_round_trip("tenant.yaml");
    assert_round_trip("positions.yaml");
    assert_round_trip("aliases.yaml");
    assert_round_trip("manifest.json");

    /* The strings that a careless writer breaks stay strings. */
    o = core_of("version: \"240201.01\"\nDEBUG: \"off\"\nport: \"8443\"\n");
    {
        strbuf out = STRBUF_INIT;
        omlop_err err = OMLOP_ERR_INIT;
        json_object *back;

        assert_int_equal(yaml_emit_json(o, &out, &err), 0);
        assert_string_equal(out.buf, "version: '240201.01'\nDEBUG: 'off'\nport: '8443'\n");
        back = core_of(out.buf);
        s = json_object_get_string(json_object_object_get(back, "version"));
        assert_string_equal(s, "240201.01");
        assert_true(json_object_is_type(json_object_object_get(back, "DEBUG"), json_type_string));
        json_object_put(back);
        strbuf_release(&out);
    }
    json_object_put(o);
}

static void test_yamlio_emit_rejects_invalid_utf8(void **state)
{
    json_object *o = json_object_new_object();
    strbuf out = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    strbuf_adds(&out, "kept\n");
    json_object_object_add(o, "spec", json_object_new_object());
    json_object_object_add(json_object_object_get(o, "spec"), "bad",
                           json_object_new_string("\xff\xfe"));
    assert_int_equal(yaml_emit_json(o, &out, &err), OMLOP_EINVAL);
    assert_string_equal(err.msg, "cannot write YAML at spec.bad: not valid UTF-8");
    assert_string_equal(out.buf, "kept\n");
    json_object_put(o);
    strbuf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yamlio_emit_scalars_and_empties),
        cmocka_unit_test(test_yamlio_emit_quotes_risky_strings),
        cmocka_unit_test(test_yamlio_round_trip_realistic_manifest),
        cmocka_unit_test(test_yamlio_emit_rejects_invalid_utf8),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
