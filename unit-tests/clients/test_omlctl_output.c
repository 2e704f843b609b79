/*
 * Tests for clients/omlctl/output.c and jsonpath.c: aligned tables, -o
 * formats, printer columns from the real CRDs, the JSONPath subset, ages and
 * times.
 *
 * The module under test comes from build/asan/libomlctl.a.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/omlctl/jsonpath.h"
#include "clients/omlctl/output.h"
#include "crds/object.h"
#include "lib/cjson.h"

/* Run fn(t, f) against a memory FILE and return what it printed (caller frees). */
static char *capture_flush(omlctl_table *t, int show_header)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    omlctl_table_flush(t, f, show_header);
    fclose(f);
    return buf;
}

static void test_table_aligns_columns_without_trailing_blanks(void **state)
{
    const char *h[] = {"name", "layout", "age"};
    const char *r1[] = {"acme", "aio", "5m"};
    const char *r2[] = {"a-much-longer-name", NULL, "3d"};
    omlctl_table *t = omlctl_table_new(3, h);
    char *out;

    (void)state;
    omlctl_table_add_row(t, r1);
    omlctl_table_add_row(t, r2);
    out = capture_flush(t, 1);
    assert_string_equal(out, "NAME                 LAYOUT   AGE\n"
                             "acme                 aio      5m\n"
                             "a-much-longer-name   <none>   3d\n");
    free(out);
    omlctl_table_free(t);
}

static void test_table_flush_keeps_widths_for_later_rows(void **state)
{
    const char *h[] = {"NAME", "PHASE"};
    const char *r1[] = {"long-tenant-name", "Ready"};
    const char *r2[] = {"b", "Provisioning"};
    omlctl_table *t = omlctl_table_new(2, h);
    char *out;

    (void)state;
    omlctl_table_add_row(t, r1);
    out = capture_flush(t, 1);
    assert_string_equal(out, "NAME               PHASE\nlong-tenant-name   Ready\n");
    free(out);
    /* A watch event printed later lines up with the first batch; no second header. */
    omlctl_table_add_row(t, r2);
    out = capture_flush(t, 1);
    assert_string_equal(out, "b                  Provisioning\n");
    free(out);
    omlctl_table_free(t);
}

static void test_table_counts_code_points_and_flattens_cells(void **state)
{
    const char *h[] = {"NAME", "MESSAGE"};
    const char *r1[] = {"\xc3\xb1"
                        "and"
                        "\xc3\xba",
                        "line1\nline2\tx"};
    const char *r2[] = {"abcdef", "ok"};
    omlctl_table *t = omlctl_table_new(2, h);
    char *out;

    (void)state;
    omlctl_table_set_indent(t, 2);
    omlctl_table_add_row(t, r1);
    omlctl_table_add_row(t, r2);
    out = capture_flush(t, 0);
    /* "ñandú" is 5 columns wide (7 bytes): padded like a 5-letter word. */
    assert_string_equal(out, "  \xc3\xb1"
                             "and"
                             "\xc3\xba"
                             "    line1 line2 x\n"
                             "  abcdef   ok\n");
    free(out);
    omlctl_table_free(t);
}

static void test_output_parse_formats(void **state)
{
    omlctl_output o;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(omlctl_output_parse(NULL, &o, &err), 0);
    assert_int_equal(o, OMLCTL_OUT_TABLE);
    assert_int_equal(omlctl_output_parse("wide", &o, &err), 0);
    assert_int_equal(o, OMLCTL_OUT_WIDE);
    assert_int_equal(omlctl_output_parse("yaml", &o, &err), 0);
    assert_int_equal(o, OMLCTL_OUT_YAML);
    assert_int_equal(omlctl_output_parse("json", &o, &err), 0);
    assert_int_equal(o, OMLCTL_OUT_JSON);
    assert_int_equal(omlctl_output_parse("name", &o, &err), 0);
    assert_int_equal(o, OMLCTL_OUT_NAME);
    assert_int_equal(omlctl_output_parse("xml", &o, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "'xml'"));
}

static void test_json_pretty_is_exact(void **state)
{
    json_object *o = json_tokener_parse(
        "{\"b\":1,\"a\":[true,null,\"x/y\\n\"],\"e\":{},\"f\":[],\"g\":{\"h\":1.5}}");
    strbuf sb = STRBUF_INIT;

    (void)state;
    omlctl_json_pretty(o, &sb);
    assert_string_equal(sb.buf, "{\n"
                                "    \"b\": 1,\n"
                                "    \"a\": [\n"
                                "        true,\n"
                                "        null,\n"
                                "        \"x/y\\n\"\n"
                                "    ],\n"
                                "    \"e\": {},\n"
                                "    \"f\": [],\n"
                                "    \"g\": {\n"
                                "        \"h\": 1.5\n"
                                "    }\n"
                                "}\n");
    /* Machine output round-trips. */
    {
        json_object *back = json_tokener_parse(sb.buf);

        assert_true(cjson_equal(o, back));
        json_object_put(back);
    }
    strbuf_release(&sb);
    json_object_put(o);
}

static void check_path(const char *doc, const char *path, int want_n, const char *want)
{
    json_object *o = json_tokener_parse(doc);
    strbuf sb = STRBUF_INIT;

    assert_non_null(o);
    assert_int_equal(omlctl_jsonpath(o, path, &sb), want_n);
    assert_string_equal(strbuf_str(&sb), want);
    strbuf_release(&sb);
    json_object_put(o);
}

static void test_jsonpath_subset(void **state)
{
    const char *doc =
        "{\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"h1\",\"port\":22},"
        "{\"name\":\"h2\",\"port\":2222}]},\"status\":{\"conditions\":["
        "{\"type\":\"Ready\",\"status\":\"False\"},{\"type\":\"Degraded\",\"status\":\"True\"}]},"
        "\"metadata\":{\"labels\":{\"omlop.io/tenant\":\"acme\"}}}";

    (void)state;
    check_path(doc, ".spec.layout", 1, "aio");
    check_path(doc, "{.spec.layout}", 1, "aio");
    check_path(doc, "$.spec.hosts[1].name", 1, "h2");
    check_path(doc, ".spec.hosts[-1].port", 1, "2222");
    check_path(doc, ".spec.hosts[*].name", 2, "h1,h2");
    check_path(doc, ".spec.hosts", 1,
               "[{\"name\":\"h1\",\"port\":22},{\"name\":\"h2\",\"port\":2222}]");
    check_path(doc, ".status.conditions[?(@.type==\"Ready\")].status", 1, "False");
    check_path(doc, ".status.conditions[?(@.type=='Degraded')].status", 1, "True");
    check_path(doc, ".status.conditions[?(@.type!=\"Ready\")].type", 1, "Degraded");
    check_path(doc, ".metadata.labels['omlop.io/tenant']", 1, "acme");
    check_path(doc, ".spec.missing", 0, "");
    check_path(doc, ".spec.hosts[7].name", 0, "");
    check_path(doc, ".status.conditions[?(@.type==\"Nope\")].status", 0, "");
    {
        json_object *o = json_tokener_parse(doc);
        strbuf sb = STRBUF_INIT;

        assert_int_equal(omlctl_jsonpath(o, "..name", &sb), OMLOP_EINVAL);
        assert_int_equal(omlctl_jsonpath(o, ".spec.hosts[x]", &sb), OMLOP_EINVAL);
        assert_int_equal(omlctl_jsonpath(o, ".spec.hosts[", &sb), OMLOP_EINVAL);
        assert_int_equal(omlctl_jsonpath(o, "spec", &sb), OMLOP_EINVAL);
        strbuf_release(&sb);
        json_object_put(o);
    }
}

static void test_time_parse_rfc3339(void **state)
{
    time_t t;
    char buf[32];

    (void)state;
    assert_int_equal(object_time_parse("2024-05-01T10:00:00Z", &t), 0);
    assert_int_equal((long long)t, 1714557600LL);
    assert_int_equal(object_time_parse("2024-05-01T12:00:00.123456+02:00", &t), 0);
    assert_int_equal((long long)t, 1714557600LL);
    assert_int_equal(object_time_parse("2024-05-01T05:30:00-04:30", &t), 0);
    assert_int_equal((long long)t, 1714557600LL);
    assert_int_equal(object_time_parse("2024-05-01 10:00:00", &t), OMLOP_EINVAL);
    assert_int_equal(object_time_parse("2024-13-01T10:00:00Z", &t), OMLOP_EINVAL);
    assert_int_equal(object_time_parse("yesterday", &t), OMLOP_EINVAL);
    assert_int_equal(object_time_parse(NULL, &t), OMLOP_EINVAL);
    omlctl_age_of("2024-05-01T10:00:00Z", 1714557600 + 90, buf, sizeof(buf));
    assert_string_equal(buf, "90s");
    omlctl_age_of("garbage", 0, buf, sizeof(buf));
    assert_string_equal(buf, "<unknown>");
    omlctl_age_of(NULL, 0, buf, sizeof(buf));
    assert_string_equal(buf, "<unknown>");
}

static const schema_set *builtin(void)
{
    static schema_set *set;
    omlop_err err = OMLOP_ERR_INIT;

    if (!set && schema_set_new_builtin(&set, &err) < 0)
        fail_msg("built-in CRDs: %s", err.msg);
    return set;
}

static char *column_names(const omlctl_columns *cols)
{
    strbuf sb = STRBUF_INIT;

    for (size_t i = 0; i < cols->n; i++)
        strbuf_addf(&sb, "%s%s", i ? " " : "", cols->v[i].name);
    return strbuf_detach(&sb, NULL);
}

static void test_columns_follow_the_crd(void **state)
{
    const schema_set *set = builtin();
    const kind_info *tenant = schema_set_find_kind(set, "tenant");
    omlctl_columns cols;
    omlop_err err = OMLOP_ERR_INIT;
    char *names;

    (void)state;
    assert_non_null(tenant);
    assert_int_equal(omlctl_columns_for_kind(set, tenant, 0, &cols, &err), 0);
    names = column_names(&cols);
    assert_string_equal(names, "NAME LAYOUT PHASE READY AGE");
    free(names);
    omlctl_columns_release(&cols);
    assert_int_equal(omlctl_columns_for_kind(set, tenant, 1, &cols, &err), 0);
    names = column_names(&cols);
    assert_string_equal(names, "NAME LAYOUT PHASE READY FQDN EDITION APP CERT-EXPIRES AGE");
    free(names);
    omlctl_columns_release(&cols);
    /* A CRD without printer columns: NAME and AGE, as kubectl shows. */
    {
        json_object *crd =
            json_tokener_parse("{\"spec\":{\"versions\":[{\"name\":\"v1alpha1\"}]}}");

        assert_int_equal(omlctl_columns_from_crd(crd, 1, &cols, &err), 0);
        names = column_names(&cols);
        assert_string_equal(names, "NAME AGE");
        free(names);
        omlctl_columns_release(&cols);
        json_object_put(crd);
    }
}

static void test_columns_render_a_tenant_row(void **state)
{
    const schema_set *set = builtin();
    const kind_info *tenant = schema_set_find_kind(set, "tn");
    json_object *obj = json_tokener_parse(
        "{\"metadata\":{\"name\":\"acme\",\"creationTimestamp\":\"2024-05-01T10:00:00Z\"},"
        "\"spec\":{\"layout\":\"cluster\",\"images\":{\"edition\":\"community\"}},"
        "\"status\":{\"phase\":\"Ready\",\"conditions\":[{\"type\":\"Ready\","
        "\"status\":\"True\"}],\"tls\":{\"notAfter\":\"2025-05-01T10:00:00Z\"}}}");
    omlctl_columns cols;
    omlctl_table *t;
    const char **headers;
    omlop_err err = OMLOP_ERR_INIT;
    char *out;

    (void)state;
    assert_int_equal(omlctl_columns_for_kind(set, tenant, 1, &cols, &err), 0);
    headers = omlctl_columns_headers(&cols);
    t = omlctl_table_new(cols.n, headers);
    omlctl_columns_add_row(&cols, t, obj, 1714557600 + 3 * 86400);
    out = capture_flush(t, 1);
    assert_string_equal(out, "NAME   LAYOUT    PHASE   READY   FQDN     EDITION     APP      "
                             "CERT-EXPIRES           AGE\n"
                             "acme   cluster   Ready   True    <none>   community   <none>   "
                             "2025-05-01T10:00:00Z   3d\n");
    free(out);
    omlctl_table_free(t);
    free(headers);
    omlctl_columns_release(&cols);
    json_object_put(obj);
}

static int teardown_all(void **state)
{
    (void)state;
    schema_set_free((schema_set *)builtin());
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_aligns_columns_without_trailing_blanks),
        cmocka_unit_test(test_table_flush_keeps_widths_for_later_rows),
        cmocka_unit_test(test_table_counts_code_points_and_flattens_cells),
        cmocka_unit_test(test_output_parse_formats),
        cmocka_unit_test(test_json_pretty_is_exact),
        cmocka_unit_test(test_jsonpath_subset),
        cmocka_unit_test(test_time_parse_rfc3339),
        cmocka_unit_test(test_columns_follow_the_crd),
        cmocka_unit_test(test_columns_render_a_tenant_row),
    };

    return cmocka_run_group_tests(tests, NULL, teardown_all);
}
