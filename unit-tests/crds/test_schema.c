/*
 * Tests for the validator core (crds/schema_node + crds/schema_decode) on small
 * inline schemas: every keyword, the YAML typing rules, defaults, unknown
 * fields with suggestions, errors collected with positions, and the checks a
 * schema itself must pass to load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "crds/schema_decode.h"
#include "crds/schema_node.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"

/* Decode yaml (one document) by schema_json; returns the diags (caller frees) and *out. */
static diag_list *decode_text(const char *schema_json, const char *yaml, json_object **out)
{
    json_object *schema = json_tokener_parse(schema_json);
    omlop_err err = OMLOP_ERR_INIT;
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    snode *root = NULL;

    if (!schema)
        fail_msg("test schema is not JSON: %s", schema_json);
    if (snode_compile(schema, "test", &root, &err) < 0)
        fail_msg("test schema does not compile: %s", err.msg);
    if (yaml_load_buffer("t.yaml", yaml, strlen(yaml), NULL, &docs, dl) < 0 || docs.n != 1)
        fail_msg("test YAML does not load: %s", yaml);
    schema_decode(root, docs.docs[0].root, "t.yaml", "", dl, out);
    ydoc_list_release(&docs);
    snode_free(root);
    json_object_put(schema);
    return dl;
}

static void canonical(const json_object *obj, strbuf *out)
{
    strbuf_reset(out);
    cjson_canonical(obj, out);
}

typedef struct kw_case {
    const char *name;
    const char *schema; /* JSON */
    const char *yaml;
    const char *want;  /* canonical JSON of the result when valid, or NULL */
    const char *error; /* substring of the first diag when invalid, or NULL */
} kw_case;

#define OBJ(props) "{\"type\":\"object\",\"properties\":{" props "}}"

static const kw_case kw_cases[] = {
    /* type + YAML typing: the schema decides, not YAML's guesses */
    {"string from float-like", OBJ("\"tag\":{\"type\":\"string\"}"), "tag: 240201.01",
     "{\"tag\":\"240201.01\"}", NULL},
    {"string from on", OBJ("\"e\":{\"type\":\"string\"}"), "e: on", "{\"e\":\"on\"}", NULL},
    {"string from int", OBJ("\"e\":{\"type\":\"string\"}"), "e: 0022", "{\"e\":\"0022\"}", NULL},
    {"string from true", OBJ("\"e\":{\"type\":\"string\"}"), "e: true", "{\"e\":\"true\"}", NULL},
    {"string refuses map", OBJ("\"e\":{\"type\":\"string\"}"), "e: {a: 1}", NULL,
     "must be a string, got a map"},
    {"string refuses list", OBJ("\"e\":{\"type\":\"string\"}"), "e: [1]", NULL,
     "must be a string, got a list"},
    {"integer plain", OBJ("\"p\":{\"type\":\"integer\"}"), "p: 22", "{\"p\":22}", NULL},
    {"integer negative", OBJ("\"p\":{\"type\":\"integer\"}"), "p: -5", "{\"p\":-5}", NULL},
    {"integer refuses quoted", OBJ("\"p\":{\"type\":\"integer\"}"), "p: \"22\"", NULL,
     "must be an integer, got the string \"22\""},
    {"integer refuses single-quoted", OBJ("\"p\":{\"type\":\"integer\"}"), "p: '22'", NULL,
     "must be an integer, got the string \"22\""},
    {"integer refuses float", OBJ("\"p\":{\"type\":\"integer\"}"), "p: 1.5", NULL,
     "must be an integer, got the number 1.5"},
    {"integer refuses word", OBJ("\"p\":{\"type\":\"integer\"}"), "p: abc", NULL,
     "must be an integer, got \"abc\""},
    {"integer out of range", OBJ("\"p\":{\"type\":\"integer\"}"), "p: 99999999999999999999", NULL,
     "out of range"},
    {"integer !!str tag is a string", OBJ("\"p\":{\"type\":\"integer\"}"), "p: !!str 22", NULL,
     "got the string \"22\""},
    {"integer !!int tag is plain", OBJ("\"p\":{\"type\":\"integer\"}"), "p: !!int \"22\"",
     "{\"p\":22}", NULL},
    {"number float", OBJ("\"n\":{\"type\":\"number\"}"), "n: 1.5", "{\"n\":1.5}", NULL},
    {"number int", OBJ("\"n\":{\"type\":\"number\"}"), "n: 2", "{\"n\":2}", NULL},
    {"number exponent", OBJ("\"n\":{\"type\":\"number\"}"), "n: 1e3", "{\"n\":1000}", NULL},
    {"number refuses quoted", OBJ("\"n\":{\"type\":\"number\"}"), "n: \"1.5\"", NULL,
     "must be a number, got the string \"1.5\""},
    {"number refuses inf", OBJ("\"n\":{\"type\":\"number\"}"), "n: .inf", NULL, "must be a number"},
    {"boolean true", OBJ("\"b\":{\"type\":\"boolean\"}"), "b: true", "{\"b\":true}", NULL},
    {"boolean false", OBJ("\"b\":{\"type\":\"boolean\"}"), "b: false", "{\"b\":false}", NULL},
    {"boolean refuses yes", OBJ("\"b\":{\"type\":\"boolean\"}"), "b: yes", NULL,
     "must be a boolean (true or false), got \"yes\""},
    {"boolean refuses on", OBJ("\"b\":{\"type\":\"boolean\"}"), "b: on", NULL, "got \"on\""},
    {"boolean refuses True", OBJ("\"b\":{\"type\":\"boolean\"}"), "b: True", NULL, "got \"True\""},
    {"boolean refuses quoted", OBJ("\"b\":{\"type\":\"boolean\"}"), "b: \"true\"", NULL,
     "got the string \"true\""},
    {"object refuses scalar", OBJ("\"o\":" OBJ("\"a\":{\"type\":\"string\"}")), "o: x", NULL,
     "must be an object"},
    /* enum */
    {"enum ok", OBJ("\"e\":{\"type\":\"string\",\"enum\":[\"cloud\",\"lan\"]}"), "e: lan",
     "{\"e\":\"lan\"}", NULL},
    {"enum bad", OBJ("\"e\":{\"type\":\"string\",\"enum\":[\"cloud\",\"lan\"]}"), "e: on", NULL,
     "unsupported value \"on\"; must be one of: \"cloud\", \"lan\""},
    {"enum integer", OBJ("\"e\":{\"type\":\"integer\",\"enum\":[1,2]}"), "e: 3", NULL,
     "unsupported value 3; must be one of: 1, 2"},
    /* pattern */
    {"pattern ok", OBJ("\"n\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\"}"), "n: abc",
     "{\"n\":\"abc\"}", NULL},
    {"pattern bad", OBJ("\"n\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\"}"), "n: aBc", NULL,
     "invalid value \"aBc\": must match ^[a-z]+$"},
    /* minimum / maximum */
    {"minimum ok", OBJ("\"p\":{\"type\":\"integer\",\"minimum\":1}"), "p: 1", "{\"p\":1}", NULL},
    {"minimum bad", OBJ("\"p\":{\"type\":\"integer\",\"minimum\":1}"), "p: 0", NULL,
     "0 is below the minimum 1"},
    {"maximum bad", OBJ("\"p\":{\"type\":\"integer\",\"maximum\":65535}"), "p: 65536", NULL,
     "65536 is above the maximum 65535"},
    {"number maximum", OBJ("\"n\":{\"type\":\"number\",\"maximum\":1.5}"), "n: 1.75", NULL,
     "above the maximum 1.5"},
    /* minLength / maxLength count characters, not bytes */
    {"maxLength utf8 ok", OBJ("\"s\":{\"type\":\"string\",\"maxLength\":3}"),
     "s: \"\xc3\xb1\xc3\xb1\xc3\xb1\"", "{\"s\":\"\xc3\xb1\xc3\xb1\xc3\xb1\"}", NULL},
    {"maxLength bad", OBJ("\"s\":{\"type\":\"string\",\"maxLength\":3}"), "s: abcd", NULL,
     "\"abcd\" is too long: must have at most 3 characters"},
    {"minLength bad", OBJ("\"s\":{\"type\":\"string\",\"minLength\":1}"), "s: \"\"", NULL,
     "too short: must have at least 1 characters"},
    /* items / minItems / maxItems */
    {"items typed", OBJ("\"l\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}"), "l: [1, 2]",
     "{\"l\":[1,2]}", NULL},
    {"items bad item", OBJ("\"l\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}"),
     "l: [1, x]", NULL, "must be an integer, got \"x\""},
    {"items null item", OBJ("\"l\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}"),
     "l: [a, null]", NULL, "must be an item, got null"},
    {"minItems bad",
     OBJ("\"l\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"string\"}}"), "l: []",
     NULL, "must have at least 1 item, got 0"},
    {"maxItems bad",
     OBJ("\"l\":{\"type\":\"array\",\"maxItems\":1,\"items\":{\"type\":\"string\"}}"), "l: [a, b]",
     NULL, "must have at most 1 item, got 2"},
    {"array refuses map", OBJ("\"l\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}"),
     "l: {a: b}", NULL, "must be a list, got a map"},
    /* properties / required / closed objects / additionalProperties */
    {"required missing",
     "{\"type\":\"object\",\"required\":[\"a\"],\"properties\":{\"a\":{\"type\":\"string\"},"
     "\"b\":{\"type\":\"string\"}}}",
     "b: x", NULL, "required field is missing"},
    {"required null is missing",
     "{\"type\":\"object\",\"required\":[\"a\"],\"properties\":{\"a\":{\"type\":\"string\"}}}",
     "a:", NULL, "required field is missing"},
    {"unknown field", OBJ("\"address\":{\"type\":\"string\"}"), "adress: x", NULL,
     "unknown field \"adress\"; did you mean 'address'?"},
    {"unknown field lists known", OBJ("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"string\"}"),
     "zzzzzz: 1", NULL, "unknown field \"zzzzzz\"; known fields: a, b"},
    {"additionalProperties false", "{\"type\":\"object\",\"additionalProperties\":false}", "x: 1",
     NULL, "this object takes no fields"},
    {"additionalProperties schema",
     "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}", "k: 22\nj: on",
     "{\"j\":\"on\",\"k\":\"22\"}", NULL},
    {"additionalProperties schema bad",
     "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}", "k: x", NULL,
     "must be an integer"},
    {"preserve unknown",
     "{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true,"
     "\"properties\":{\"a\":{\"type\":\"string\"}}}",
     "a: 1\nz: 1\ny: on", "{\"a\":\"1\",\"y\":\"on\",\"z\":1}", NULL},
    /* format */
    {"format ipv4 bad", OBJ("\"ip\":{\"type\":\"string\",\"format\":\"ipv4\"}"), "ip: 10.0.0.300",
     NULL, "invalid value \"10.0.0.300\": must be an IPv4 address"},
    {"format byte never echoes", OBJ("\"d\":{\"type\":\"string\",\"format\":\"byte\"}"),
     "d: c2VjcmV0*", NULL, "invalid value: must be base64"},
    /* nullable and null pruning */
    {"null pruned", OBJ("\"a\":{\"type\":\"string\"}"), "a: ~", "{}", NULL},
    {"null kept when nullable", OBJ("\"a\":{\"type\":\"string\",\"nullable\":true}"), "a: null",
     "{\"a\":null}", NULL},
    {"quoted null is a string", OBJ("\"a\":{\"type\":\"string\"}"), "a: \"null\"",
     "{\"a\":\"null\"}", NULL},
    /* defaults */
    {"default scalar", OBJ("\"p\":{\"type\":\"integer\",\"default\":22}"), "{}", "{\"p\":22}",
     NULL},
    {"default not over value", OBJ("\"p\":{\"type\":\"integer\",\"default\":22}"), "p: 2222",
     "{\"p\":2222}", NULL},
    {"default after pruned null", OBJ("\"p\":{\"type\":\"integer\",\"default\":22}"),
     "p:", "{\"p\":22}", NULL},
    {"default object creates children",
     OBJ("\"net\":{\"type\":\"object\",\"default\":{},\"properties\":{\"env\":{\"type\":"
         "\"string\",\"default\":\"cloud\"}}}"),
     "{}", "{\"net\":{\"env\":\"cloud\"}}", NULL},
    {"absent object without default stays absent",
     OBJ("\"net\":{\"type\":\"object\",\"properties\":{\"env\":{\"type\":\"string\","
         "\"default\":\"cloud\"}}}"),
     "{}", "{}", NULL},
    {"present object gets child defaults",
     OBJ("\"net\":{\"type\":\"object\",\"properties\":{\"env\":{\"type\":\"string\","
         "\"default\":\"cloud\"},\"ip\":{\"type\":\"string\"}}}"),
     "net: {ip: x}", "{\"net\":{\"env\":\"cloud\",\"ip\":\"x\"}}", NULL},
    {"defaults inside list items",
     OBJ("\"l\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"port\":{"
         "\"type\":\"integer\",\"default\":22}}}}"),
     "l: [{}, {port: 2}]", "{\"l\":[{\"port\":22},{\"port\":2}]}", NULL},
};

static void test_keywords_table(void **state)
{
    strbuf got = STRBUF_INIT, want = STRBUF_INIT, msg = STRBUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(kw_cases) / sizeof(kw_cases[0]); i++) {
        const kw_case *c = &kw_cases[i];
        json_object *out = NULL;
        diag_list *dl = decode_text(c->schema, c->yaml, &out);

        strbuf_reset(&msg);
        diag_list_format(dl, &msg);
        if (c->want) {
            json_object *w = json_tokener_parse(c->want);

            if (diag_list_count(dl) != 0)
                fail_msg("%s: unexpected diags:\n%s", c->name, msg.buf);
            canonical(out, &got);
            canonical(w, &want);
            if (strcmp(got.buf, want.buf) != 0)
                fail_msg("%s: got %s, want %s", c->name, got.buf, want.buf);
            json_object_put(w);
        } else {
            if (diag_list_count(dl) == 0)
                fail_msg("%s: expected an error containing '%s'", c->name, c->error);
            if (!strstr(diag_list_at(dl, 0)->message, c->error))
                fail_msg("%s: error '%s' lacks '%s'", c->name, diag_list_at(dl, 0)->message,
                         c->error);
            if (diag_list_at(dl, 0)->line <= 0)
                fail_msg("%s: error without a position", c->name);
        }
        json_object_put(out);
        diag_list_free(dl);
    }
    strbuf_release(&got);
    strbuf_release(&want);
    strbuf_release(&msg);
}

static const char nested_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    " \"spec\":{\"type\":\"object\",\"required\":[\"layout\"],\"properties\":{"
    "  \"layout\":{\"type\":\"string\",\"enum\":[\"aio\",\"cluster\"]},"
    "  \"hosts\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "   \"name\":{\"type\":\"string\"},"
    "   \"ssh\":{\"type\":\"object\",\"properties\":{"
    "    \"address\":{\"type\":\"string\"},"
    "    \"port\":{\"type\":\"integer\",\"default\":22}}}}}}}}}}";

static void test_collects_all_errors_with_positions(void **state)
{
    static const char yaml[] = "spec:\n"
                               "  hosts:\n"
                               "    - name: a\n"
                               "      ssh:\n"
                               "        port: \"22\"\n"
                               "    - name: b\n"
                               "      ssh:\n"
                               "        adress: x\n"
                               "        port: 70000000000000000000\n";
    json_object *out = NULL;
    diag_list *dl = decode_text(nested_schema, yaml, &out);
    const diag *d;

    (void)state;
    assert_int_equal(diag_list_count(dl), 4);
    d = diag_list_at(dl, 0);
    assert_string_equal(d->path, "spec.hosts[0].ssh.port");
    assert_int_equal(d->line, 5);
    assert_int_equal(d->col, 15);
    d = diag_list_at(dl, 1);
    assert_string_equal(d->path, "spec.hosts[1].ssh.adress");
    assert_int_equal(d->line, 8);
    assert_int_equal(d->col, 9);
    assert_non_null(strstr(d->message, "did you mean 'address'?"));
    d = diag_list_at(dl, 2);
    assert_string_equal(d->path, "spec.hosts[1].ssh.port");
    assert_int_equal(d->line, 9);
    assert_non_null(strstr(d->message, "out of range"));
    d = diag_list_at(dl, 3);
    assert_string_equal(d->path, "spec.layout");
    assert_int_equal(d->line, 2); /* the map that lacks it */
    assert_string_equal(d->file, "t.yaml");
    /* A field that was present but wrong is neither defaulted nor reported missing. */
    assert_null(cjson_get(json_object_array_get_idx(cjson_get(out, "spec.hosts"), 0), "ssh.port"));
    json_object_put(out);
    diag_list_free(dl);
}

static void test_output_follows_schema_order(void **state)
{
    json_object *out = NULL;
    diag_list *dl = decode_text(
        nested_schema, "spec:\n  hosts: [{ssh: {address: h}, name: n}]\n  layout: aio\n", &out);
    strbuf s = STRBUF_INIT;

    (void)state;
    assert_int_equal(diag_list_count(dl), 0);
    strbuf_adds(&s, json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
    assert_string_equal(s.buf, "{\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"n\",\"ssh\":"
                               "{\"address\":\"h\",\"port\":22}}]}}");
    strbuf_release(&s);
    json_object_put(out);
    diag_list_free(dl);
}

static void test_duplicate_key_in_built_tree(void **state)
{
    json_object *schema = json_tokener_parse(OBJ("\"a\":{\"type\":\"string\"}"));
    ynode *map = ynode_new_map(1, 1);
    diag_list *dl = diag_list_new();
    snode *root = NULL;
    json_object *out = NULL;

    (void)state;
    /* The loader refuses duplicates itself; trees built by hand still get checked. */
    ynode_map_add_take(map, "a", 1, 1, ynode_new_scalar("x", 1, 1, 1, 4));
    ynode_map_add_take(map, "a", 2, 1, ynode_new_scalar("y", 1, 1, 2, 4));
    assert_int_equal(snode_compile(schema, "t", &root, NULL), 0);
    assert_int_equal(schema_decode(root, map, "f", "", dl, &out), OMLOP_EINVAL);
    assert_int_equal(diag_list_count(dl), 1);
    assert_non_null(strstr(diag_list_at(dl, 0)->message, "duplicate key (first at line 1)"));
    assert_int_equal(diag_list_at(dl, 0)->line, 2);
    json_object_put(out);
    snode_free(root);
    ynode_free(map);
    diag_list_free(dl);
    json_object_put(schema);
}

typedef struct bad_schema {
    const char *schema;
    const char *error;
} bad_schema;

static const bad_schema bad_schemas[] = {
    {"{\"type\":\"object\",\"oneOf\":[]}", "unsupported schema keyword \"oneOf\""},
    {"{\"type\":\"strng\"}", "type \"strng\" is not one of"},
    {"{\"properties\":{}}", "type is required"},
    {"{\"type\":\"string\",\"pattern\":\"([a-z\"}", "does not compile"},
    {"{\"type\":\"string\",\"format\":\"uri\"}", "format \"uri\" is not supported"},
    {"{\"type\":\"integer\",\"default\":\"22\"}", "default \"22\" is not of type integer"},
    {"{\"type\":\"array\"}", "an array needs items"},
    {"{\"type\":\"string\",\"minimum\":1}", "minimum does not apply to type string"},
    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
     "\"additionalProperties\":{\"type\":\"string\"}}",
     "cannot be combined"},
    {"{\"type\":\"object\",\"required\":[\"b\"],\"properties\":{\"a\":{\"type\":\"string\"}}}",
     "required field \"b\" is not a property"},
    {"{\"type\":\"string\",\"enum\":[\"True\",true]}", "enum value true is not of type string"},
    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"maxLength\":-1}}}",
     "openAPIV3Schema.properties.a: maxLength must be a non-negative integer"},
};

static void test_schema_compile_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_schemas) / sizeof(bad_schemas[0]); i++) {
        json_object *schema = json_tokener_parse(bad_schemas[i].schema);
        omlop_err err = OMLOP_ERR_INIT;
        snode *root = NULL;

        assert_non_null(schema);
        if (snode_compile(schema, "x.yaml: openAPIV3Schema", &root, &err) != OMLOP_EINVAL)
            fail_msg("schema %s compiled", bad_schemas[i].schema);
        if (!strstr(err.msg, bad_schemas[i].error))
            fail_msg("schema %s: error '%s' lacks '%s'", bad_schemas[i].schema, err.msg,
                     bad_schemas[i].error);
        assert_null(root);
        json_object_put(schema);
    }
}

static void test_defaults_checked_at_load(void **state)
{
    json_object *schema = json_tokener_parse(
        OBJ("\"env\":{\"type\":\"string\",\"enum\":[\"cloud\",\"lan\"],\"default\":\"clod\"}"));
    json_object *good = json_tokener_parse(
        OBJ("\"env\":{\"type\":\"string\",\"enum\":[\"cloud\",\"lan\"],\"default\":\"cloud\"}"));
    omlop_err err = OMLOP_ERR_INIT;
    snode *root = NULL;

    (void)state;
    assert_int_equal(snode_compile(schema, "x", &root, &err), 0);
    assert_int_equal(schema_check_defaults(root, "x.yaml: openAPIV3Schema", &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "x.yaml: openAPIV3Schema.properties.env: the default is "
                                    "invalid"));
    assert_non_null(strstr(err.msg, "unsupported value \"clod\""));
    snode_free(root);
    assert_int_equal(snode_compile(good, "x", &root, &err), 0);
    assert_int_equal(schema_check_defaults(root, "x", &err), 0);
    snode_free(root);
    json_object_put(schema);
    json_object_put(good);
}

static void test_secret_data_never_echoed(void **state)
{
    json_object *out = NULL;
    diag_list *dl =
        decode_text(OBJ("\"d\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\","
                        "\"format\":\"byte\",\"maxLength\":4}}"),
                    "d: {password: \"c2VjcmV0*\"}", &out);
    strbuf all = STRBUF_INIT;

    (void)state;
    diag_list_format(dl, &all);
    assert_int_equal(diag_list_count(dl), 2); /* too long, and not base64 */
    assert_null(strstr(all.buf, "c2VjcmV0"));
    assert_non_null(strstr(all.buf, "d.password: the value is too long"));
    strbuf_release(&all);
    json_object_put(out);
    diag_list_free(dl);
}

static void test_suggestions(void **state)
{
    static const char *const names[] = {"address", "port", "user", "identitySecretRef"};

    (void)state;
    assert_int_equal(schema_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(schema_edit_distance("lanIp", "lanIP"), 0); /* case-insensitive */
    assert_string_equal(schema_suggest("adress", names, 4), "address");
    assert_string_equal(schema_suggest("prot", names, 4), "port");
    assert_string_equal(schema_suggest("sshPort", names, 4), "port");
    assert_string_equal(schema_suggest("identity", names, 4), "identitySecretRef");
    assert_null(schema_suggest("zzzzzz", names, 4));
    assert_null(schema_suggest("ab", names, 4)); /* too short to guess */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keywords_table),
        cmocka_unit_test(test_collects_all_errors_with_positions),
        cmocka_unit_test(test_output_follows_schema_order),
        cmocka_unit_test(test_duplicate_key_in_built_tree),
        cmocka_unit_test(test_schema_compile_errors),
        cmocka_unit_test(test_defaults_checked_at_load),
        cmocka_unit_test(test_secret_data_never_echoed),
        cmocka_unit_test(test_suggestions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
