/*
 * Pure-function tests of the API modules: merge and strategic patches, the
 * printer-column JSONPath and ages, Accept parsing, query parsing, field
 * selectors, unknown-field pruning and schema-typed YAML, tokens files,
 * omlopd's config (flags, YAML, the security rule) and listen addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "operator/api_auth.h"
#include "operator/api_fields.h"
#include "operator/api_patch.h"
#include "operator/api_request.h"
#include "operator/api_select.h"
#include "operator/api_server.h"
#include "operator/api_table.h"
#include "operator/config.h"

static json_object *parse(const char *text)
{
    json_object *o = json_tokener_parse(text);

    if (!o && strcmp(text, "null") != 0)
        fail_msg("test JSON does not parse: %s", text);
    return o;
}

static void assert_json(const json_object *got, const char *want_text)
{
    json_object *want = parse(want_text);

    if (!cjson_equal(got, want)) {
        strbuf a = STRBUF_INIT, b = STRBUF_INIT;

        cjson_canonical(got, &a);
        cjson_canonical(want, &b);
        fail_msg("got %s, want %s", strbuf_str(&a), strbuf_str(&b));
    }
    json_object_put(want);
}

/* RFC 7386 appendix A, every example. */
static void test_merge_patch_rfc7386_examples(void **state)
{
    static const char *const cases[][3] = {
        {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
        {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
        {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
        {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
        {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
        {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
        {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
        {"{\"a\":\"foo\"}", "null", "null"},
        {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
        {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
        {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
        {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *t = parse(cases[i][0]), *p = parse(cases[i][1]);
        json_object *got = api_merge_patch(t, p);

        assert_json(got, cases[i][2]);
        assert_json(t, cases[i][0]); /* the target is not changed */
        json_object_put(got);
        json_object_put(t);
        json_object_put(p);
    }
}

static void test_strategic_patch_directives(void **state)
{
    json_object *t = parse("{\"spec\":{\"a\":1,\"b\":{\"x\":1,\"y\":2}},\"keep\":true}");
    json_object *p, *got;

    (void)state;
    p = parse("{\"$setElementOrder/list\":[1],\"spec\":{\"a\":2,\"b\":{\"$patch\":\"replace\","
              "\"z\":3}}}");
    got = api_strategic_patch(t, p);
    assert_json(got, "{\"spec\":{\"a\":2,\"b\":{\"z\":3}},\"keep\":true}");
    json_object_put(got);
    json_object_put(p);
    p = parse("{\"spec\":{\"b\":{\"$patch\":\"delete\"}}}");
    got = api_strategic_patch(t, p);
    assert_json(got, "{\"spec\":{\"a\":1},\"keep\":true}");
    json_object_put(got);
    json_object_put(p);
    p = parse("{\"$patch\":\"delete\"}");
    assert_null(api_strategic_patch(t, p));
    json_object_put(p);
    json_object_put(t);
}

static void test_jsonpath_subset(void **state)
{
    json_object *o = parse("{\"status\":{\"conditions\":[{\"type\":\"Synced\",\"status\":"
                           "\"False\"},{\"type\":\"Ready\",\"status\":\"True\"}]},"
                           "\"spec\":{\"hosts\":[{\"name\":\"a\"},{\"name\":\"b\"}],"
                           "\"x.y\":5,\"n\":3}}");
    const json_object *out[8];

    (void)state;
    assert_int_equal(
        api_jsonpath_eval(o, ".status.conditions[?(@.type==\"Ready\")].status", out, 8), 1);
    assert_string_equal(json_object_get_string((json_object *)out[0]), "True");
    assert_int_equal(api_jsonpath_eval(o, ".status.conditions[?(@.type!='Ready')].type", out, 8),
                     1);
    assert_string_equal(json_object_get_string((json_object *)out[0]), "Synced");
    assert_int_equal(api_jsonpath_eval(o, ".spec.hosts[*].name", out, 8), 2);
    assert_int_equal(api_jsonpath_eval(o, ".spec.hosts[1].name", out, 8), 1);
    assert_string_equal(json_object_get_string((json_object *)out[0]), "b");
    assert_int_equal(api_jsonpath_eval(o, ".spec['x.y']", out, 8), 1);
    assert_int_equal(api_jsonpath_eval(o, "{.spec.n}", out, 8), 1);
    assert_int_equal(api_jsonpath_eval(o, ".spec.missing", out, 8), 0);
    assert_int_equal(api_jsonpath_eval(o, ".spec.hosts[9]", out, 8), 0);
    assert_int_equal(api_jsonpath_eval(o, "spec", out, 8), -1);
    assert_int_equal(api_jsonpath_eval(o, ".spec.hosts[", out, 8), -1);
    assert_int_equal(api_jsonpath_eval(o, ".spec.hosts[?(@.name)]", out, 8), -1);
    json_object_put(o);
}

static void test_accept_header_parsing(void **state)
{
    (void)state;
    assert_true(api_accept_wants_table(
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta."
        "k8s.io,application/json"));
    assert_true(api_accept_wants_table(
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList, application/json;"
        " as=Table; g=meta.k8s.io; v=v1"));
    assert_false(api_accept_wants_table("application/json"));
    assert_false(api_accept_wants_table("application/json, application/json;as=Table;v=v1;g=meta."
                                        "k8s.io"));
    assert_false(api_accept_wants_table(NULL));
    assert_false(api_accept_wants_table("application/json;as=Table;v=v9;g=meta.k8s.io"));
    assert_true(api_accept_wants_yaml("application/yaml"));
    assert_false(api_accept_wants_yaml("application/json, application/yaml"));
    assert_true(api_accept_allows(NULL, "application/json"));
    assert_true(api_accept_allows("text/plain, */*", "application/json"));
    assert_true(api_accept_allows("application/*", "application/json"));
    assert_false(api_accept_allows("application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
                                   "application/json"));
}

static void test_query_parsing(void **state)
{
    api_request req;

    (void)state;
    api_request_init(&req);
    api_request_parse_query(&req, "labelSelector=a%3Db%2Cc+in+(x,y)&watch&limit=5&limit=6&x=%zz");
    assert_string_equal(api_request_param(&req, "labelSelector"), "a=b,c in (x,y)");
    assert_true(api_request_flag(&req, "watch"));
    assert_false(api_request_flag(&req, "dryRun"));
    assert_string_equal(api_request_param(&req, "limit"), "6"); /* the last one wins */
    assert_string_equal(api_request_param(&req, "x"), "%zz");
    api_request_set_content_type(&req, " Application/Merge-Patch+JSON; charset=utf-8");
    assert_string_equal(req.content_type, "application/merge-patch+json");
    assert_int_equal(api_method_parse("PATCH"), API_METHOD_PATCH);
    assert_int_equal(api_method_parse("BREW"), API_METHOD_OTHER);
    api_request_release(&req);
}

static void test_field_and_label_selectors(void **state)
{
    json_object *ev = parse("{\"metadata\":{\"name\":\"e1\",\"labels\":{\"tier\":\"db\"}},"
                            "\"involvedObject\":{\"name\":\"t1\",\"kind\":\"Tenant\"},"
                            "\"count\":3}");
    api_selector *s = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(api_selector_parse(NULL,
                                        "involvedObject.name=t1,involvedObject.kind==Tenant,"
                                        "involvedObject.namespace=,count!=4",
                                        &s, &err),
                     0);
    assert_true(api_selector_match(s, ev));
    assert_null(api_selector_name(s));
    api_selector_free(s);
    assert_int_equal(api_selector_parse("tier in (db,web)", "metadata.name=e1", &s, &err), 0);
    assert_true(api_selector_match(s, ev));
    assert_string_equal(api_selector_name(s), "e1");
    api_selector_free(s);
    assert_int_equal(api_selector_parse("tier=web", NULL, &s, &err), 0);
    assert_false(api_selector_match(s, ev));
    api_selector_free(s);
    assert_int_equal(api_selector_parse(NULL, "metadata.name=a\\,b", &s, &err), 0);
    assert_false(api_selector_match(s, ev));
    api_selector_free(s);
    assert_int_not_equal(api_selector_parse(NULL, "=x", &s, &err), 0);
    assert_int_not_equal(api_selector_parse(NULL, "a=b=c", &s, &err), 0);
    assert_non_null(strstr(err.msg, "fieldSelector"));
    assert_int_not_equal(api_selector_parse("a in (", NULL, &s, &err), 0);
    assert_non_null(strstr(err.msg, "labelSelector"));
    json_object_put(ev);
}

static void test_prune_unknown_fields(void **state)
{
    json_object *schema = parse(
        "{\"type\":\"object\",\"properties\":{\"apiVersion\":{\"type\":\"string\"},\"kind\":{"
        "\"type\":\"string\"},\"metadata\":{\"type\":\"object\"},\"spec\":{\"type\":\"object\","
        "\"properties\":{\"hosts\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
        "\"properties\":{\"name\":{\"type\":\"string\"}}}},\"labels\":{\"type\":\"object\","
        "\"additionalProperties\":{\"type\":\"string\"}},\"free\":{\"type\":\"object\","
        "\"x-kubernetes-preserve-unknown-fields\":true}}}}}");
    json_object *obj =
        parse("{\"apiVersion\":\"v\",\"kind\":\"K\",\"metadata\":{\"name\":\"n\",\"bogus\":1,"
              "\"labels\":{}},\"spec\":{\"hosts\":[{\"name\":\"a\",\"port\":22}],\"labels\":{\"x\":"
              "\"y\"},\"free\":{\"anything\":[1]},\"extra\":true},\"top\":0}");
    strbuf unknown = STRBUF_INIT;

    (void)state;
    assert_int_equal(api_fields_prune_unknown(obj, schema, &unknown), 4);
    assert_non_null(strstr(unknown.buf, "metadata.bogus\n"));
    assert_non_null(strstr(unknown.buf, "spec.hosts[0].port\n"));
    assert_non_null(strstr(unknown.buf, "spec.extra\n"));
    assert_non_null(strstr(unknown.buf, "top\n"));
    assert_json(obj, "{\"apiVersion\":\"v\",\"kind\":\"K\",\"metadata\":{\"name\":\"n\","
                     "\"labels\":{}},\"spec\":{\"hosts\":[{\"name\":\"a\"}],\"labels\":{\"x\":"
                     "\"y\"},\"free\":{\"anything\":[1]}}}");
    strbuf_release(&unknown);
    json_object_put(obj);
    json_object_put(schema);
}

static void test_yaml_typed_by_schema(void **state)
{
    json_object *schema = parse("{\"type\":\"object\",\"properties\":{\"tag\":{\"type\":"
                                "\"string\"},\"env\":{\"type\":\"string\"},\"port\":{\"type\":"
                                "\"integer\"},\"list\":{\"type\":\"array\",\"items\":{\"type\":"
                                "\"string\"}}}}");
    const char *yaml = "tag: 240201.01\nenv: on\nport: 22\nlist: [1.5, true]\nother: 1.5\n"
                       "none: ~\n";
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *diags = diag_list_new();
    json_object *got;

    (void)state;
    assert_int_equal(yaml_load_buffer("t.yaml", yaml, strlen(yaml), NULL, &docs, diags), 0);
    got = api_fields_from_yaml(docs.docs[0].root, schema);
    assert_json(got, "{\"tag\":\"240201.01\",\"env\":\"on\",\"port\":22,\"list\":[\"1.5\","
                     "\"true\"],\"other\":1.5,\"none\":null}");
    json_object_put(got);
    ydoc_list_release(&docs);
    diag_list_free(diags);
    json_object_put(schema);
}

static void test_tokens_file(void **state)
{
    const char *good = "# comment\n\n  tok-admin-1 , alice , admin \ntok-view-2,bob,view\r\n";
    api_auth *a = NULL;
    api_principal who;
    omlop_err err = OMLOP_ERR_INIT;
    static const struct {
        const char *text;
        const char *msg;
    } bad[] = {{"tok,alice\n", "t.csv:1: expected 3 comma-separated fields"},
               {"tok,alice,admin,x\n", "t.csv:1: more than 3 fields"},
               {"tok,alice,root\n", "t.csv:1: role 'root' is not one of admin, view"},
               {",alice,admin\n", "t.csv:1: the token must be"},
               {"to k,alice,admin\n", "t.csv:1: the token must be"},
               {"tok,al ice,admin\n", "t.csv:1: name 'al ice'"},
               {"tok,a,admin\ntok,b,view\n", "t.csv:2: this token is already given to 'a'"},
               {"# nothing\n", "t.csv: no tokens"}};

    (void)state;
    assert_int_equal(api_auth_parse("t.csv", good, strlen(good), &a, &err), 0);
    assert_true(api_auth_enabled(a));
    assert_int_equal(api_auth_count(a), 2);
    assert_int_equal(api_auth_check(a, "Bearer tok-admin-1", &who, &err), 0);
    assert_string_equal(who.name, "alice");
    assert_int_equal(who.role, API_ROLE_ADMIN);
    assert_int_equal(api_auth_check(a, "bearer   tok-view-2  ", &who, &err), 0);
    assert_string_equal(who.name, "bob");
    assert_int_equal(who.role, API_ROLE_VIEW);
    assert_int_equal(api_auth_check(a, "Bearer tok-view-3", &who, &err), OMLOP_EAUTH);
    assert_int_equal(api_auth_check(a, "Bearer tok-view-", &who, &err), OMLOP_EAUTH);
    assert_int_equal(api_auth_check(a, "Bearer ", &who, &err), OMLOP_EAUTH);
    assert_int_equal(api_auth_check(a, "Basic dG9r", &who, &err), OMLOP_EAUTH);
    assert_int_equal(api_auth_check(a, NULL, &who, &err), OMLOP_EAUTH);
    assert_null(strstr(err.msg, "tok-"));
    api_auth_free(a);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a = NULL;
        assert_int_equal(api_auth_parse("t.csv", bad[i].text, strlen(bad[i].text), &a, &err),
                         OMLOP_EINVAL);
        assert_null(a);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].msg);
    }
    a = api_auth_new_open();
    assert_false(api_auth_enabled(a));
    assert_int_equal(api_auth_check(a, NULL, &who, &err), 0);
    assert_string_equal(who.name, "local");
    assert_int_equal(who.role, API_ROLE_ADMIN);
    api_auth_free(a);
}

static void test_config_flags_file_and_rules(void **state)
{
    omlopd_config c;
    omlop_err err = OMLOP_ERR_INIT;
    const char *yaml = "dataDir: /srv/omlop\nlisten: 127.0.0.1:9000\nlogLevel: debug\n"
                       "maxWatches: 7\nrequestTimeout: 5\n";
    char *argv1[] = {
        "omlopd", "--listen=127.0.0.2:9001", "--max-body-bytes", "2048", "--log-format", "json",
        NULL};
    char *bad_value[] = {"omlopd", "--max-watches", "lots", NULL};
    char *bad_flag[] = {"omlopd", "--litsen", "x", NULL};
    char *no_value[] = {"omlopd", "--tokens", NULL};

    (void)state;
    config_init(&c);
    assert_string_equal(c.listen, CONFIG_DEFAULT_LISTEN);
    assert_string_equal(c.store, "sqlite");
    assert_int_equal(config_load_text(&c, "omlopd.yaml", yaml, strlen(yaml), &err), 0);
    assert_string_equal(c.data_dir, "/srv/omlop");
    assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
    assert_int_equal(c.api.max_watches, 7);
    assert_int_equal(c.api.request_timeout_s, 5);
    assert_int_equal(config_parse_args(&c, 6, argv1, &err), 0);
    assert_string_equal(c.listen, "127.0.0.2:9001");
    assert_int_equal(c.api.max_body_bytes, 2048);
    assert_int_equal(c.log_format, LOG_FORMAT_JSON);
    assert_int_equal(config_check(&c, &err), 0);
    assert_int_equal(config_parse_args(&c, 3, bad_value, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "--max-watches: 'lots'"));
    assert_int_equal(config_parse_args(&c, 3, bad_flag, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "unknown flag '--litsen'"));
    assert_int_equal(config_parse_args(&c, 2, no_value, &err), OMLOP_EINVAL);
    assert_int_equal(config_load_text(&c, "o.yaml", "lisen: x\n", 9, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "o.yaml:1:1: unknown setting 'lisen'"));
    assert_int_equal(config_load_text(&c, "o.yaml", "maxWatches: [1]\n", 16, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "o.yaml:1:13: maxWatches"));

    /* the security rule */
    free(c.listen);
    c.listen = strdup("0.0.0.0:8787");
    assert_int_equal(config_check(&c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "refusing to listen on 0.0.0.0:8787"));
    c.tls_cert = strdup("c.pem");
    c.tls_key = strdup("k.pem");
    assert_int_equal(config_check(&c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "--tokens"));
    c.tokens = strdup("t.csv");
    assert_int_equal(config_check(&c, &err), 0);
    free(c.tls_key);
    c.tls_key = NULL;
    assert_int_equal(config_check(&c, &err), OMLOP_EINVAL);
    free(c.listen);
    c.listen = NULL;
    assert_int_equal(config_check(&c, &err), OMLOP_EINVAL); /* nothing to serve */
    config_release(&c);
}

static void test_listen_addresses(void **state)
{
    char host[64];
    int port;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(api_server_parse_listen("127.0.0.1:8787", host, sizeof(host), &port, &err), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8787);
    assert_int_equal(api_server_parse_listen("[::1]:0", host, sizeof(host), &port, &err), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(api_server_parse_listen(":9000", host, sizeof(host), &port, &err), 0);
    assert_string_equal(host, "");
    assert_int_not_equal(api_server_parse_listen("::1:80", host, sizeof(host), &port, &err), 0);
    assert_int_not_equal(api_server_parse_listen("host:99999", host, sizeof(host), &port, &err), 0);
    assert_int_not_equal(api_server_parse_listen("host", host, sizeof(host), &port, &err), 0);
    assert_true(api_server_host_is_loopback("127.0.0.1"));
    assert_true(api_server_host_is_loopback("127.9.9.9"));
    assert_true(api_server_host_is_loopback("::1"));
    assert_true(api_server_host_is_loopback("localhost"));
    assert_false(api_server_host_is_loopback("0.0.0.0"));
    assert_false(api_server_host_is_loopback("10.0.0.1"));
    assert_false(api_server_host_is_loopback("example.com"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_patch_rfc7386_examples),
        cmocka_unit_test(test_strategic_patch_directives),
        cmocka_unit_test(test_jsonpath_subset),
        cmocka_unit_test(test_accept_header_parsing),
        cmocka_unit_test(test_query_parsing),
        cmocka_unit_test(test_field_and_label_selectors),
        cmocka_unit_test(test_prune_unknown_fields),
        cmocka_unit_test(test_yaml_typed_by_schema),
        cmocka_unit_test(test_tokens_file),
        cmocka_unit_test(test_config_flags_file_and_rules),
        cmocka_unit_test(test_listen_addresses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
