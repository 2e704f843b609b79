/* Tests for crds/ynode: tree building, paths, JSON in, core-schema typing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crds/ynode.h"
#include "lib/cjson.h"

static json_object *parse_json(const char *text)
{
    json_object *o = json_tokener_parse(text);

    assert_non_null(o);
    return o;
}

/* Canonical JSON text of a core-typed node, in a caller buffer. */
static const char *core_text(const ynode *n, strbuf *sb)
{
    json_object *o = ynode_to_json_core(n);

    strbuf_reset(sb);
    cjson_canonical(o, sb);
    json_object_put(o);
    return strbuf_str(sb);
}

static void test_ynode_builds_clones_counts_and_frees(void **state)
{
    ynode *map = ynode_new_map(1, 1);
    ynode *seq = ynode_new_seq(2, 3);
    ynode *copy;

    (void)state;
    for (int i = 0; i < 20; i++) {
        char text[16];

        snprintf(text, sizeof(text), "v%d", i);
        ynode_seq_add_take(seq, ynode_new_scalar(text, strlen(text), 1, 3 + i, 5));
    }
    ynode_map_add_take(map, "items", 2, 1, seq);
    ynode_map_add_take(map, "name", 30, 1, ynode_new_scalar("a\0b", 3, 0, 30, 7));
    ynode_set_tag(ynode_map_get(map, "name"), "!!str");

    assert_int_equal(ynode_count(map), 23);
    assert_int_equal(ynode_count(NULL), 0);
    assert_ptr_equal(ynode_map_get(map, "items"), seq);
    assert_null(ynode_map_get(map, "missing"));
    assert_null(ynode_map_get(seq, "items")); /* not a map */

    copy = ynode_clone(map);
    assert_ptr_not_equal(copy, map);
    assert_int_equal(ynode_count(copy), 23);
    assert_int_equal(copy->pairs[1].line, 30);
    assert_int_equal(copy->pairs[1].value->len, 3);
    assert_memory_equal(copy->pairs[1].value->value, "a\0b", 4);
    assert_string_equal(copy->pairs[1].value->tag, "!!str");
    assert_int_equal(copy->pairs[1].value->is_plain, 0);
    assert_string_equal(copy->pairs[0].value->items[19]->value, "v19");
    assert_int_equal(copy->pairs[0].value->items[19]->line, 22);
    ynode_free(map);
    /* The clone owns its own memory: still readable after the original is gone. */
    assert_string_equal(copy->pairs[0].value->items[0]->value, "v0");
    ynode_free(copy);
    ynode_free(NULL);
}

static void test_ynode_at_path_finds_nodes(void **state)
{
    json_object *j = parse_json("{\"spec\":{\"hosts\":[{\"sshPort\":22},{\"sshPort\":2222}]},"
                                "\"metadata\":{\"labels\":{\"app\":\"x\",\"omlop.io/tenant\":"
                                "\"acme\",\"we\\\"ird\\\\\":\"w\",\"a.b\":{\"c\":\"deep\"}}}}");
    ynode *root = ynode_from_json(j);
    const ynode *n;

    (void)state;
    assert_ptr_equal(ynode_at_path(root, ""), root);
    assert_ptr_equal(ynode_at_path(root, NULL), root);
    n = ynode_at_path(root, "spec.hosts[1].sshPort");
    assert_non_null(n);
    assert_string_equal(n->value, "2222");
    assert_string_equal(ynode_at_path(root, "spec.hosts[0].sshPort")->value, "22");
    assert_int_equal(ynode_at_path(root, "spec.hosts")->kind, YNODE_SEQ);
    assert_string_equal(ynode_at_path(root, "metadata.labels.app")->value, "x");
    assert_string_equal(ynode_at_path(root, "metadata.labels[\"omlop.io/tenant\"]")->value, "acme");
    assert_string_equal(ynode_at_path(root, "metadata.labels['omlop.io/tenant']")->value, "acme");
    assert_string_equal(ynode_at_path(root, "metadata.labels[\"we\\\"ird\\\\\"]")->value, "w");
    assert_string_equal(ynode_at_path(root, "metadata.labels[\"a.b\"].c")->value, "deep");
    assert_string_equal(ynode_at_path(root, "metadata[\"labels\"][\"a.b\"][\"c\"]")->value, "deep");

    assert_null(ynode_at_path(root, "spec.hosts[2]"));
    assert_null(ynode_at_path(root, "spec.hosts[x]"));
    assert_null(ynode_at_path(root, "spec.hosts[1"));
    assert_null(ynode_at_path(root, "spec.hosts.0"));
    assert_null(ynode_at_path(root, "spec..hosts"));
    assert_null(ynode_at_path(root, "spec."));
    assert_null(ynode_at_path(root, "spec[0]"));
    assert_null(ynode_at_path(root, "metadata.labels[\"omlop.io/tenant\""));
    assert_null(ynode_at_path(root, "metadata.labels.omlop.io/tenant"));
    assert_null(ynode_at_path(root, "spec.hosts[0].sshPort.deeper"));
    assert_null(ynode_at_path(NULL, "spec"));
    ynode_free(root);
    json_object_put(j);
}

static void test_ynode_path_append_key_reads_back(void **state)
{
    static const char *const keys[] = {
        "plain", "with.dot", "omlop.io/tenant", "q\"uote", "back\\", "sp ace",
        "",      "br[0]",    "x-y_z9",          "ünïcode", "it's"};
    ynode *map = ynode_new_map(0, 0);
    strbuf path = STRBUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        ynode *inner = ynode_new_seq(0, 0);

        ynode_seq_add_take(inner, ynode_new_scalar(keys[i], strlen(keys[i]), 0, 0, 0));
        ynode_map_add_take(map, keys[i], 0, 0, inner);
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const ynode *n;

        strbuf_reset(&path);
        ynode_path_append_key(&path, keys[i]);
        ynode_path_append_index(&path, 0);
        n = ynode_at_path(map, strbuf_str(&path));
        assert_non_null(n);
        assert_string_equal(n->value, keys[i]);
    }
    strbuf_reset(&path);
    ynode_path_append_key(&path, "spec");
    ynode_path_append_key(&path, "hosts");
    ynode_path_append_index(&path, 3);
    ynode_path_append_key(&path, "omlop.io/x");
    assert_string_equal(strbuf_str(&path), "spec.hosts[3][\"omlop.io/x\"]");
    strbuf_release(&path);
    ynode_free(map);
}

static void test_ynode_from_json_keeps_types_as_styles(void **state)
{
    json_object *j = parse_json("{\"s\":\"on\",\"i\":5,\"neg\":-9223372036854775808,"
                                "\"u\":18446744073709551615,\"d\":1.5,\"b\":false,\"n\":null,"
                                "\"a\":[1,\"x\",[]],\"o\":{}}");
    ynode *root = ynode_from_json(j);
    json_object *back;
    const ynode *n;

    (void)state;
    assert_int_equal(root->kind, YNODE_MAP);
    assert_int_equal(root->n, 9);
    assert_int_equal(root->line, 0);
    assert_string_equal(root->pairs[0].key, "s");
    n = ynode_map_get(root, "s");
    assert_string_equal(n->value, "on");
    assert_int_equal(n->is_plain, 0);
    n = ynode_map_get(root, "i");
    assert_string_equal(n->value, "5");
    assert_int_equal(n->is_plain, 1);
    assert_string_equal(ynode_map_get(root, "neg")->value, "-9223372036854775808");
    assert_string_equal(ynode_map_get(root, "u")->value, "18446744073709551615");
    assert_string_equal(ynode_map_get(root, "d")->value, "1.5");
    assert_string_equal(ynode_map_get(root, "b")->value, "false");
    assert_string_equal(ynode_map_get(root, "n")->value, "null");
    assert_int_equal(ynode_map_get(root, "n")->is_plain, 1);
    assert_int_equal(ynode_map_get(root, "a")->kind, YNODE_SEQ);
    assert_int_equal(ynode_map_get(root, "a")->items[1]->is_plain, 0);
    assert_int_equal(ynode_map_get(root, "o")->kind, YNODE_MAP);
    assert_int_equal(ynode_map_get(root, "o")->n, 0);

    /* Back through the core schema: same JSON except the uint64, which int64 cannot hold. */
    json_object_object_del(j, "u");
    ynode_free(root);
    root = ynode_from_json(j);
    back = ynode_to_json_core(root);
    assert_true(cjson_equal(back, j));
    json_object_put(back);
    ynode_free(root);
    json_object_put(j);

    root = ynode_from_json(NULL);
    assert_string_equal(root->value, "null");
    assert_null(ynode_to_json_core(root));
    ynode_free(root);
}

typedef struct core_case {
    const char *text;
    int is_plain;
    const char *tag;
    const char *want; /* canonical JSON */
    json_type type;
} core_case;

static void test_ynode_core_typing_table(void **state)
{
    static const core_case cases[] = {
        {"", 1, NULL, "null", json_type_null},
        {"~", 1, NULL, "null", json_type_null},
        {"null", 1, NULL, "null", json_type_null},
        {"Null", 1, NULL, "null", json_type_null},
        {"NULL", 1, NULL, "null", json_type_null},
        {"nULL", 1, NULL, "\"nULL\"", json_type_string},
        {"true", 1, NULL, "true", json_type_boolean},
        {"True", 1, NULL, "true", json_type_boolean},
        {"TRUE", 1, NULL, "true", json_type_boolean},
        {"false", 1, NULL, "false", json_type_boolean},
        {"False", 1, NULL, "false", json_type_boolean},
        {"FALSE", 1, NULL, "false", json_type_boolean},
        {"tRUE", 1, NULL, "\"tRUE\"", json_type_string},
        {"yes", 1, NULL, "\"yes\"", json_type_string},
        {"on", 1, NULL, "\"on\"", json_type_string},
        {"off", 1, NULL, "\"off\"", json_type_string},
        {"42", 1, NULL, "42", json_type_int},
        {"-17", 1, NULL, "-17", json_type_int},
        {"+5", 1, NULL, "5", json_type_int},
        {"007", 1, NULL, "7", json_type_int},
        {"0", 1, NULL, "0", json_type_int},
        {"9223372036854775807", 1, NULL, "9223372036854775807", json_type_int},
        {"-9223372036854775808", 1, NULL, "-9223372036854775808", json_type_int},
        {"9223372036854775808", 1, NULL, "9.223372036854776e+18", json_type_double},
        {"0x1F", 1, NULL, "31", json_type_int},
        {"0xff", 1, NULL, "255", json_type_int},
        {"0o17", 1, NULL, "15", json_type_int},
        {"0o18", 1, NULL, "\"0o18\"", json_type_string},
        {"0x", 1, NULL, "\"0x\"", json_type_string},
        {"-0x1F", 1, NULL, "\"-0x1F\"", json_type_string},
        {"0x8000000000000000", 1, NULL, "\"0x8000000000000000\"", json_type_string},
        {"0b101", 1, NULL, "\"0b101\"", json_type_string},
        {"1_000", 1, NULL, "\"1_000\"", json_type_string},
        {"12:30", 1, NULL, "\"12:30\"", json_type_string},
        {"1.5", 1, NULL, "1.5", json_type_double},
        {".5", 1, NULL, "0.5", json_type_double},
        {"-.5", 1, NULL, "-0.5", json_type_double},
        {"1.", 1, NULL, "1", json_type_double},
        {"1e3", 1, NULL, "1000", json_type_double},
        {"-1.5E-3", 1, NULL, "-0.0015", json_type_double},
        {"1e", 1, NULL, "\"1e\"", json_type_string},
        {".", 1, NULL, "\".\"", json_type_string},
        {"1e999", 1, NULL, "\"1e999\"", json_type_string},
        {".inf", 1, NULL, "\".inf\"", json_type_string},
        {"-.Inf", 1, NULL, "\"-.Inf\"", json_type_string},
        {".NaN", 1, NULL, "\".NaN\"", json_type_string},
        {"240201.01", 1, NULL, "240201.01", json_type_double},
        {"hello world", 1, NULL, "\"hello world\"", json_type_string},
        /* quoted: always strings */
        {"42", 0, NULL, "\"42\"", json_type_string},
        {"", 0, NULL, "\"\"", json_type_string},
        {"true", 0, NULL, "\"true\"", json_type_string},
        {"null", 0, NULL, "\"null\"", json_type_string},
        /* explicit tags decide */
        {"42", 1, "tag:yaml.org,2002:str", "\"42\"", json_type_string},
        {"42", 1, "!!str", "\"42\"", json_type_string},
        {"", 1, "tag:yaml.org,2002:str", "\"\"", json_type_string},
        {"42", 0, "tag:yaml.org,2002:int", "42", json_type_int},
        {"abc", 1, "tag:yaml.org,2002:int", "\"abc\"", json_type_string},
        {"3", 1, "tag:yaml.org,2002:float", "3", json_type_double},
        {"false", 0, "tag:yaml.org,2002:bool", "false", json_type_boolean},
        {"", 1, "tag:yaml.org,2002:null", "null", json_type_null},
        {"42", 1, "!", "\"42\"", json_type_string},
        {"true", 1, "!custom", "\"true\"", json_type_string},
    };
    strbuf sb = STRBUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const core_case *c = &cases[i];
        ynode *n = ynode_new_scalar(c->text, strlen(c->text), c->is_plain, 1, 1);
        json_object *o;

        if (c->tag)
            ynode_set_tag(n, c->tag);
        o = ynode_to_json_core(n);
        if (json_object_get_type(o) != c->type || strcmp(core_text(n, &sb), c->want) != 0)
            fail_msg("case %zu: %s%s (plain=%d tag=%s) gave %s, want %s", i, c->text,
                     c->text[0] ? "" : "<empty>", c->is_plain, c->tag ? c->tag : "-",
                     core_text(n, &sb), c->want);
        json_object_put(o);
        ynode_free(n);
    }
    strbuf_release(&sb);
}

static void test_ynode_core_keeps_nul_bytes_and_last_duplicate(void **state)
{
    ynode *map = ynode_new_map(1, 1);
    json_object *o;

    (void)state;
    ynode_map_add_take(map, "k", 1, 1, ynode_new_scalar("1", 1, 1, 1, 4));
    ynode_map_add_take(map, "k", 2, 1, ynode_new_scalar("a\0b", 3, 1, 2, 4));
    o = ynode_to_json_core(map);
    assert_int_equal(json_object_object_length(o), 1);
    assert_int_equal(json_object_get_string_len(json_object_object_get(o, "k")), 3);
    assert_memory_equal(json_object_get_string(json_object_object_get(o, "k")), "a\0b", 3);
    assert_string_equal(ynode_map_get(map, "k")->value, "a");
    json_object_put(o);
    ynode_free(map);
}

static void test_ynode_tag_is_accepts_both_spellings(void **state)
{
    ynode *n = ynode_new_scalar("1", 1, 1, 1, 1);

    (void)state;
    assert_false(ynode_tag_is(n, "str"));
    ynode_set_tag(n, "tag:yaml.org,2002:str");
    assert_true(ynode_tag_is(n, "str"));
    assert_false(ynode_tag_is(n, "int"));
    ynode_set_tag(n, "!!int");
    assert_true(ynode_tag_is(n, "int"));
    ynode_set_tag(n, "!int");
    assert_false(ynode_tag_is(n, "int"));
    ynode_set_tag(n, NULL);
    assert_null(n->tag);
    ynode_free(n);
}

static void test_ynode_format_double_reads_back_as_float(void **state)
{
    static const struct {
        double d;
        const char *want;
    } cases[] = {
        {1.5, "1.5"},        {3.0, "3.0"},      {-2.0, "-2.0"},
        {0.1, "0.1"},        {1e20, "1.0e+20"}, {1e-7, "1.0e-07"},
        {2.5e-7, "2.5e-07"}, {0.0, "0.0"},      {1.0 / 3.0, "0.3333333333333333"},
    };
    strbuf sb = STRBUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ynode *n;
        json_object *o;

        strbuf_reset(&sb);
        ynode_format_double(cases[i].d, &sb);
        assert_string_equal(strbuf_str(&sb), cases[i].want);
        n = ynode_new_scalar(sb.buf, sb.len, 1, 0, 0);
        o = ynode_to_json_core(n);
        assert_int_equal(json_object_get_type(o), json_type_double);
        assert_true(json_object_get_double(o) == cases[i].d);
        json_object_put(o);
        ynode_free(n);
    }
    strbuf_reset(&sb);
    ynode_format_double(NAN, &sb);
    ynode_format_double(INFINITY, &sb);
    ynode_format_double(-INFINITY, &sb);
    assert_string_equal(strbuf_str(&sb), ".nan.inf-.inf");
    strbuf_release(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ynode_builds_clones_counts_and_frees),
        cmocka_unit_test(test_ynode_at_path_finds_nodes),
        cmocka_unit_test(test_ynode_path_append_key_reads_back),
        cmocka_unit_test(test_ynode_from_json_keeps_types_as_styles),
        cmocka_unit_test(test_ynode_core_typing_table),
        cmocka_unit_test(test_ynode_core_keeps_nul_bytes_and_last_duplicate),
        cmocka_unit_test(test_ynode_tag_is_accepts_both_spellings),
        cmocka_unit_test(test_ynode_format_double_reads_back_as_float),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
