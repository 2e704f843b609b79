/* Tests for lib/cjson: canonical text and hash stability. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/cjson.h"

static json_object *parse(const char *text)
{
    json_object *o = json_tokener_parse(text);

    assert_non_null(o);
    return o;
}

static void assert_canonical(const char *in, const char *want)
{
    json_object *o = parse(in);
    strbuf sb = STRBUF_INIT;

    cjson_canonical(o, &sb);
    assert_string_equal(strbuf_str(&sb), want);
    strbuf_release(&sb);
    json_object_put(o);
}

static void test_canonical_sorts_keys_and_strips_space(void **state)
{
    (void)state;
    assert_canonical("{ \"b\": 1, \"a\": [ true, null, \"x\" ] }",
                     "{\"a\":[true,null,\"x\"],\"b\":1}");
    assert_canonical("{\"z\":{\"y\":2,\"x\":1}}", "{\"z\":{\"x\":1,\"y\":2}}");
}

static void test_canonical_escapes_and_numbers(void **state)
{
    (void)state;
    assert_canonical("\"a\\\"b\\n\\u0001\"", "\"a\\\"b\\n\\u0001\"");
    assert_canonical("1.0", "1");
    assert_canonical("0.1", "0.1");
    assert_canonical("-12", "-12");
    assert_canonical("1e300", "1e+300");
}

static void assert_quoted(const char *in, size_t n, unsigned flags, const char *want)
{
    strbuf sb = STRBUF_INIT;

    cjson_add_quoted(&sb, in, n, flags);
    assert_string_equal(strbuf_str(&sb), want);
    strbuf_release(&sb);
}

/* The canonical form leaves DEL alone (hashes depend on it); omlctl's output escapes it. */
static void test_add_quoted_escapes_del_only_when_asked(void **state)
{
    (void)state;
    assert_quoted("a\"\\\b\f\n\r\t\x01z", 10, 0, "\"a\\\"\\\\\\b\\f\\n\\r\\t\\u0001z\"");
    assert_quoted("x\x7fy", 3, 0, "\"x\x7fy\"");
    assert_quoted("x\x7fy", 3, CJSON_QUOTE_DEL, "\"x\\u007fy\"");
    /* n bounds the input: an embedded NUL is escaped, not an end */
    assert_quoted("a\0b", 3, 0, "\"a\\u0000b\"");
    assert_quoted("", 0, CJSON_QUOTE_DEL, "\"\"");
}

static void test_hash_ignores_key_order(void **state)
{
    char h1[CJSON_HASH_HEX_LEN + 1], h2[CJSON_HASH_HEX_LEN + 1];
    json_object *a = parse("{\"image\":\"x:1\",\"env\":{\"A\":\"1\",\"B\":\"2\"}}");
    json_object *b = parse("{\"env\":{\"B\":\"2\",\"A\":\"1\"},\"image\":\"x:1\"}");

    (void)state;
    cjson_hash(a, h1);
    cjson_hash(b, h2);
    assert_string_equal(h1, h2);
    assert_int_equal(strlen(h1), 64);
    assert_true(cjson_equal(a, b));
    json_object_put(a);
    json_object_put(b);
}

static void test_hash_changes_with_any_value(void **state)
{
    static const char *const variants[] = {
        "{\"image\":\"x:2\",\"env\":{\"A\":\"1\"}}",
        "{\"image\":\"x:1\",\"env\":{\"A\":\"2\"}}",
        "{\"image\":\"x:1\",\"env\":{\"A\":1}}",
        "{\"image\":\"x:1\",\"env\":{\"a\":\"1\"}}",
        "{\"image\":\"x:1\",\"env\":{}}",
        "{\"image\":\"x:1\",\"env\":[\"A\"]}",
    };
    char base[CJSON_HASH_HEX_LEN + 1], other[CJSON_HASH_HEX_LEN + 1];
    json_object *b = parse("{\"image\":\"x:1\",\"env\":{\"A\":\"1\"}}");

    (void)state;
    cjson_hash(b, base);
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        json_object *v = parse(variants[i]);

        cjson_hash(v, other);
        assert_string_not_equal(base, other);
        json_object_put(v);
    }
    json_object_put(b);
}

static void test_get_by_dotted_path(void **state)
{
    json_object *o = parse("{\"metadata\":{\"name\":\"t1\",\"generation\":3}}");

    (void)state;
    assert_string_equal(cjson_get_string(o, "metadata.name"), "t1");
    assert_int_equal(cjson_get_int(o, "metadata.generation", -1), 3);
    assert_null(cjson_get(o, "metadata.missing"));
    assert_null(cjson_get_string(o, "metadata.generation"));
    assert_int_equal(cjson_get_int(o, "metadata.name", -1), -1);
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_sorts_keys_and_strips_space),
        cmocka_unit_test(test_canonical_escapes_and_numbers),
        cmocka_unit_test(test_add_quoted_escapes_del_only_when_asked),
        cmocka_unit_test(test_hash_ignores_key_order),
        cmocka_unit_test(test_hash_changes_with_any_value),
        cmocka_unit_test(test_get_by_dotted_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
