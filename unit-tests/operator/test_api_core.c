/*
 * The core v1 view and OpenAPI v3 against a real omlopd: /api/v1 lists secrets
 * (kubectl api-resources fails on an empty list), /api/v1/.../secrets are the
 * omlop.io Secrets themselves in namespace "default", kubectl 1.32+'s protobuf
 * create, the view role, and the /openapi/v3 documents kubectl explain reads.
 */
#include "api_harness.h"
#include "lib/cjson.h"

#define OSEC "/apis/omlop.io/v1alpha1/secrets"
#define CSEC "/api/v1/namespaces/default/secrets"

static omlopd_proc proc;

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    omlopd_start(&proc, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    omlopd_stop(&proc);
    curl_global_cleanup();
    return 0;
}

static void assert_status(const http_resp *r, long code, const char *reason)
{
    assert_int_equal(r->code, code);
    assert_string_equal(resp_str(r, "kind"), "Status");
    assert_string_equal(resp_str(r, "reason"), reason);
}

static void test_discovery_core_v1_lists_secrets(void **state)
{
    http_resp r;
    json_object *res, *e;

    (void)state;
    assert_int_equal(http_do(&proc, "GET", "/api/v1", NULL, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "kind"), "APIResourceList");
    assert_string_equal(resp_str(&r, "groupVersion"), "v1");
    res = json_object_object_get(r.json, "resources");
    assert_int_equal(json_object_array_length(res), 1); /* never empty: kubectl fails on it */
    e = json_object_array_get_idx(res, 0);
    assert_string_equal(cjson_get_string(e, "name"), "secrets");
    assert_string_equal(cjson_get_string(e, "singularName"), "secret");
    assert_string_equal(cjson_get_string(e, "kind"), "Secret");
    assert_true(json_object_get_boolean(json_object_object_get(e, "namespaced")));
    assert_null(json_object_object_get(e, "shortNames")); /* osec stays omlop.io's */
    assert_int_equal(json_object_array_length(json_object_object_get(e, "verbs")), 7);
    http_resp_release(&r);
}

static void test_core_secret_is_the_omlop_secret(void **state)
{
    http_resp r;
    char uid[64];
    strbuf log = STRBUF_INIT;

    (void)state;
    assert_int_equal(http_do(&proc, "POST", CSEC,
                             "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
                             "\"core1\",\"namespace\":\"default\"},\"type\":\"kubernetes.io/"
                             "ssh-auth\",\"data\":{\"ssh-privatekey\":\"a2V5\"}}",
                             NULL, &r),
                     201);
    assert_string_equal(resp_str(&r, "apiVersion"), "v1");
    assert_string_equal(resp_str(&r, "metadata.namespace"), "default");
    snprintf(uid, sizeof(uid), "%s", resp_str(&r, "metadata.uid"));
    http_resp_release(&r);
    /* one store object: the omlop.io view reads what the core view wrote */
    assert_int_equal(http_do(&proc, "GET", OSEC "/core1", NULL, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "apiVersion"), "omlop.io/v1alpha1");
    assert_null(cjson_get(r.json, "metadata.namespace"));
    assert_string_equal(resp_str(&r, "metadata.uid"), uid);
    assert_string_equal(resp_str(&r, "data.ssh-privatekey"), "a2V5");
    assert_string_equal(resp_str(&r, "type"), "kubernetes.io/ssh-auth");
    http_resp_release(&r);
    /* and the other way round, by both core paths */
    assert_int_equal(http_do(&proc, "POST", OSEC,
                             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\","
                             "\"metadata\":{\"name\":\"core2\"},\"stringData\":{\"a\":\"b\"}}",
                             NULL, &r),
                     201);
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", CSEC "/core2", NULL, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "apiVersion"), "v1");
    assert_string_equal(resp_str(&r, "kind"), "Secret");
    assert_string_equal(resp_str(&r, "metadata.namespace"), "default");
    assert_string_equal(resp_str(&r, "data.a"), "Yg==");
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", "/api/v1/secrets", NULL, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "apiVersion"), "v1");
    assert_string_equal(resp_str(&r, "kind"), "SecretList");
    assert_int_equal(json_object_array_length(json_object_object_get(r.json, "items")), 2);
    assert_string_equal(resp_str(&r, "items.1.apiVersion"), "v1");
    assert_string_equal(resp_str(&r, "items.1.metadata.namespace"), "default");
    http_resp_release(&r);
    /* a merge patch by the core view changes the one object */
    {
        http_opts mp = {.content_type = "application/merge-patch+json"};

        assert_int_equal(http_do(&proc, "PATCH", CSEC "/core2", "{\"type\":\"Opaque\"}", &mp, &r),
                         200);
        assert_string_equal(resp_str(&r, "apiVersion"), "v1");
        http_resp_release(&r);
        assert_int_equal(http_do(&proc, "GET", OSEC "/core2", NULL, NULL, &r), 200);
        assert_string_equal(resp_str(&r, "type"), "Opaque");
        http_resp_release(&r);
    }
    /* delete by the core view: gone from both */
    assert_int_equal(http_do(&proc, "DELETE", CSEC "/core1", NULL, NULL, &r), 200);
    http_resp_release(&r);
    http_do(&proc, "GET", OSEC "/core1", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    http_resp_release(&r);
    http_do(&proc, "GET", CSEC "/core1", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    assert_string_equal(resp_str(&r, "message"), "secrets \"core1\" not found");
    assert_string_equal(resp_str(&r, "details.group"), "");
    http_resp_release(&r);
    omlopd_log(&proc, &log);
    assert_non_null(strstr(log.buf, "verb=create resource=secrets name=core1 code=201"));
    assert_non_null(strstr(log.buf, "verb=delete resource=secrets name=core1 code=200"));
    strbuf_release(&log);
}

static void test_core_secret_validation_and_namespaces(void **state)
{
    http_resp r;
    http_opts strict = {0};

    (void)state;
    /* the omlop.io schema applies: data values are base64 */
    http_do(&proc, "POST", CSEC,
            "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"bad1\"},"
            "\"data\":{\"k\":\"!!\"}}",
            NULL, &r);
    assert_status(&r, 422, "Invalid");
    assert_string_equal(resp_str(&r, "details.causes.0.field"), "data.k");
    assert_non_null(strstr(resp_str(&r, "message"), "Secret \"bad1\" is invalid"));
    http_resp_release(&r);
    /* core v1 fields omlop does not keep are refused under Strict (kubectl's default) */
    http_do(&proc, "POST", CSEC "?fieldValidation=Strict",
            "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"bad2\"},"
            "\"immutable\":true}",
            &strict, &r);
    assert_status(&r, 422, "Invalid");
    assert_string_equal(resp_str(&r, "details.causes.0.field"), "immutable");
    http_resp_release(&r);
    http_do(&proc, "POST", CSEC,
            "{\"apiVersion\":\"v2\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"bad3\"}}", NULL,
            &r);
    assert_status(&r, 400, "BadRequest");
    http_resp_release(&r);
    http_do(&proc, "POST", CSEC,
            "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"bad4\","
            "\"namespace\":\"kube-system\"}}",
            NULL, &r);
    assert_status(&r, 400, "BadRequest");
    assert_non_null(strstr(resp_str(&r, "message"), "(kube-system) does not match"));
    http_resp_release(&r);
    /* only namespace default exists */
    http_do(&proc, "GET", "/api/v1/namespaces/kube-system/secrets", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    assert_non_null(strstr(resp_str(&r, "message"), "namespaces \"kube-system\" not found"));
    http_resp_release(&r);
    http_do(&proc, "POST", "/api/v1/namespaces/defaults/secrets",
            "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"bad5\"}}", NULL,
            &r);
    assert_status(&r, 404, "NotFound");
    http_resp_release(&r);
    /* no other core resource, and no subresource */
    http_do(&proc, "GET", "/api/v1/namespaces/default/pods", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    assert_non_null(strstr(resp_str(&r, "message"), "\"pods\""));
    http_resp_release(&r);
    http_do(&proc, "GET", "/api/v1/pods", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    http_resp_release(&r);
    http_do(&proc, "GET", CSEC "/x/status", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    http_resp_release(&r);
    http_do(&proc, "GET", CSEC "/x/status/more", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    http_resp_release(&r);
    /* nothing was stored */
    assert_int_equal(
        http_do(&proc, "GET", OSEC "?fieldSelector=metadata.name%3Dbad4", NULL, NULL, &r), 200);
    assert_int_equal(json_object_array_length(json_object_object_get(r.json, "items")), 0);
    http_resp_release(&r);
}

/* The body kubectl 1.33 sent for `create secret generic s1 --from-file=k1=<hello>
 * --from-literal=k2=v2 --type=Opaque`, byte for byte. */
static const unsigned char kubectl_pb[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0c, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x06, 0x53, 0x65, 0x63,
    0x72, 0x65, 0x74, 0x12, 0x33, 0x0a, 0x12, 0x0a, 0x02, 0x73, 0x31, 0x12, 0x00, 0x1a, 0x00,
    0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12, 0x0b, 0x0a, 0x02, 0x6b,
    0x31, 0x12, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x12, 0x08, 0x0a, 0x02, 0x6b, 0x32, 0x12,
    0x02, 0x76, 0x32, 0x1a, 0x06, 0x4f, 0x70, 0x61, 0x71, 0x75, 0x65, 0x1a, 0x00, 0x22, 0x00};

static void test_core_secret_protobuf_create(void **state)
{
    http_opts pb = {.content_type = "application/vnd.kubernetes.protobuf",
                    .accept = "application/vnd.kubernetes.protobuf,application/json"};
    http_resp r;

    (void)state;
    assert_int_equal(http_do_opts(proc.url, "POST", CSEC "?fieldValidation=Strict",
                                  (const char *)kubectl_pb, sizeof(kubectl_pb), &pb, &r),
                     CURLE_OK);
    assert_int_equal(r.code, 201);
    assert_string_equal(resp_str(&r, "apiVersion"), "v1");
    assert_string_equal(resp_str(&r, "metadata.name"), "s1");
    assert_string_equal(resp_str(&r, "data.k1"), "aGVsbG8=");
    assert_string_equal(resp_str(&r, "data.k2"), "djI=");
    assert_string_equal(resp_str(&r, "type"), "Opaque");
    http_resp_release(&r);
    /* a malformed body is 400, never a crash; the omlop.io view takes no protobuf */
    assert_int_equal(http_do_opts(proc.url, "POST", CSEC, (const char *)kubectl_pb,
                                  sizeof(kubectl_pb) - 20, &pb, &r),
                     CURLE_OK);
    assert_int_equal(r.code, 400);
    http_resp_release(&r);
    assert_int_equal(
        http_do_opts(proc.url, "POST", OSEC, (const char *)kubectl_pb, sizeof(kubectl_pb), &pb, &r),
        CURLE_OK);
    assert_int_equal(r.code, 415);
    http_resp_release(&r);
}

static void test_core_secret_watch(void **state)
{
    http_resp r;

    (void)state;
    assert_int_equal(http_do(&proc, "POST", CSEC,
                             "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
                             "\"watched\"}}",
                             NULL, &r),
                     201);
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET",
                             CSEC "?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dwatched",
                             NULL, NULL, &r),
                     200);
    assert_non_null(strstr(r.body.buf, "\"type\":\"ADDED\""));
    assert_non_null(strstr(r.body.buf, "\"apiVersion\":\"v1\""));
    assert_non_null(strstr(r.body.buf, "\"namespace\":\"default\""));
    assert_null(strstr(r.body.buf, "omlop.io/v1alpha1"));
    http_resp_release(&r);
}

static void test_core_secret_view_token_forbidden(void **state)
{
    omlopd_proc p;
    char tokens[256];
    const char *flags[] = {"--tokens", tokens, NULL};
    http_opts view = {.token = "core-view-0123456789abcdef"};
    http_opts admin = {.token = "core-admin-0123456789abcdef"};
    http_resp r;
    strbuf log = STRBUF_INIT;
    static const char *const paths[] = {CSEC, "/api/v1/secrets", CSEC "/x", NULL};

    (void)state;
    snprintf(tokens, sizeof(tokens), "%s/tokens.csv", proc.dir);
    harness_write_file(tokens,
                       "core-admin-0123456789abcdef,admin1,admin\n"
                       "core-view-0123456789abcdef,viewer1,view\n",
                       0600);
    omlopd_start(&p, flags);
    for (size_t i = 0; paths[i]; i++) {
        http_do(&p, "GET", paths[i], NULL, &view, &r);
        assert_status(&r, 403, "Forbidden");
        http_resp_release(&r);
    }
    http_do(&p, "POST", CSEC, "{\"metadata\":{\"name\":\"v\"}}", &view, &r);
    assert_status(&r, 403, "Forbidden");
    http_resp_release(&r);
    http_do(&p, "DELETE", CSEC "/v", NULL, &view, &r);
    assert_status(&r, 403, "Forbidden");
    http_resp_release(&r);
    assert_int_equal(http_do(&p, "GET", CSEC, NULL, &admin, &r), 200);
    http_resp_release(&r);
    omlopd_log(&p, &log);
    assert_non_null(strstr(log.buf, "audit user=viewer1 role=view verb=create resource=secrets "
                                    "name=- code=403"));
    assert_non_null(strstr(log.buf, "audit user=viewer1 role=view verb=delete resource=secrets "
                                    "name=v code=403"));
    strbuf_release(&log);
    omlopd_stop(&p);
}

/* One field of a schema's x-kubernetes-group-version-kind[0]. */
static const char *gvk_field(const json_object *schema, const char *field)
{
    json_object *l = cjson_get(schema, "x-kubernetes-group-version-kind");

    return cjson_get_string(json_object_array_get_idx(l, 0), field);
}

static void test_openapi_v3_for_explain(void **state)
{
    http_resp r;
    http_opts pb_only = {.accept = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"};
    char url[512];
    json_object *tenant, *meta;

    (void)state;
    assert_int_equal(http_do(&proc, "GET", "/openapi/v3", NULL, NULL, &r), 200);
    {
        /* the index's keys hold dots: walk by hand */
        json_object *paths = json_object_object_get(r.json, "paths"), *e;

        assert_true(json_object_object_get_ex(paths, "apis/omlop.io/v1alpha1", &e));
        snprintf(url, sizeof(url), "%s", cjson_get_string(e, "serverRelativeURL"));
        assert_true(json_object_object_get_ex(paths, "api/v1", &e));
        assert_non_null(
            strstr(cjson_get_string(e, "serverRelativeURL"), "/openapi/v3/api/v1?hash="));
    }
    assert_non_null(strstr(url, "/openapi/v3/apis/omlop.io/v1alpha1?hash="));
    assert_true(strlen(strstr(url, "hash=") + 5) == 64); /* SHA-256, hex */
    http_resp_release(&r);

    assert_int_equal(http_do(&proc, "GET", url, NULL, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "openapi"), "3.0.0");
    tenant =
        json_object_object_get(cjson_get(r.json, "components.schemas"), "io.omlop.v1alpha1.Tenant");
    assert_non_null(tenant);
    assert_string_equal(gvk_field(tenant, "group"), "omlop.io");
    assert_string_equal(gvk_field(tenant, "kind"), "Tenant");
    assert_string_equal(gvk_field(tenant, "version"), "v1alpha1");
    /* the fields explain walks (tenant.spec.hosts) are the CRD's */
    assert_string_equal(cjson_get_string(tenant, "properties.spec.properties.hosts.type"), "array");
    assert_non_null(cjson_get(tenant, "properties.spec.properties.hosts.items.properties.lanIP"));
    meta = json_object_array_get_idx(cjson_get(tenant, "properties.metadata.allOf"), 0);
    assert_string_equal(cjson_get_string(meta, "$ref"),
                        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    assert_non_null(json_object_object_get(cjson_get(r.json, "components.schemas"),
                                           "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
    assert_non_null(json_object_object_get(cjson_get(r.json, "paths"),
                                           "/apis/omlop.io/v1alpha1/tenants/{name}/status"));
    http_resp_release(&r);

    assert_int_equal(http_do(&proc, "GET", "/openapi/v3/api/v1", NULL, NULL, &r), 200);
    {
        json_object *schemas = cjson_get(r.json, "components.schemas");
        json_object *s = json_object_object_get(schemas, "io.k8s.api.core.v1.Secret");

        assert_non_null(s);
        assert_string_equal(gvk_field(s, "group"), "");
        assert_string_equal(gvk_field(s, "version"), "v1");
        assert_non_null(cjson_get(s, "properties.stringData"));
        assert_null(json_object_object_get(schemas, "io.k8s.api.core.v1.Tenant"));
    }
    http_resp_release(&r);

    http_do(&proc, "GET", "/openapi/v3/apis/nope.io/v1", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    http_resp_release(&r);
    http_do(&proc, "GET", "/openapi/v3/apis/omlop.io/v1alpha1", NULL, &pb_only, &r);
    assert_int_equal(r.code, 406);
    http_resp_release(&r);
    http_do(&proc, "POST", "/openapi/v3", "{}", NULL, &r);
    assert_status(&r, 405, "MethodNotAllowed");
    http_resp_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery_core_v1_lists_secrets),
        cmocka_unit_test(test_core_secret_is_the_omlop_secret),
        cmocka_unit_test(test_core_secret_validation_and_namespaces),
        cmocka_unit_test(test_core_secret_protobuf_create),
        cmocka_unit_test(test_core_secret_watch),
        cmocka_unit_test(test_core_secret_view_token_forbidden),
        cmocka_unit_test(test_openapi_v3_for_explain),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
