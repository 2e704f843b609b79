/*
 * POST /apis/omlop.io/v1alpha1/gitsources/<name>/sync against a real omlopd with tokens: an
 * admin token records the request (the annotation omlop.io/sync-requested), a view token is
 * refused, other methods and kinds are not served, and a webhook's plain body-less POST works.
 */
#include "api_harness.h"

#define GS          "/apis/omlop.io/v1alpha1/gitsources"
#define ADMIN_TOKEN "adm-3f9c1e0b7d2a4c6e8f10"
#define VIEW_TOKEN  "view-8a7b6c5d4e3f2a1b0c9d"

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

static const char *annotation(const http_resp *r)
{
    json_object *ann = NULL, *v = NULL;

    if (!r->json ||
        !json_object_object_get_ex(json_object_object_get(r->json, "metadata"), "annotations",
                                   &ann) ||
        !json_object_object_get_ex(ann, "omlop.io/sync-requested", &v))
        return NULL;
    return json_object_get_string(v);
}

static void test_sync_endpoint_roles_and_methods(void **state)
{
    omlopd_proc p;
    http_resp r;
    char dir[64], tokens[128], first[64];
    const char *flags[] = {"--tokens", tokens, NULL};
    http_opts admin = {.token = ADMIN_TOKEN}, view = {.token = VIEW_TOKEN};
    http_opts webhook = {.token = ADMIN_TOKEN, .no_content_type = 1};
    strbuf log = STRBUF_INIT;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/omlop-apitest-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(tokens, sizeof(tokens), "%s/tokens.csv", dir);
    harness_write_file(
        tokens, "# token,name,role\n" ADMIN_TOKEN ",ci-bot,admin\n" VIEW_TOKEN ",dashboard,view\n",
        0600);
    omlopd_start(&p, flags);
    /* suspended: the sync thread leaves it alone, so only the endpoint writes it */
    assert_int_equal(http_do(&p, "POST", GS,
                             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"GitSource\","
                             "\"metadata\":{\"name\":\"fleet\"},\"spec\":{\"url\":"
                             "\"file:///nonexistent\",\"suspend\":true}}",
                             &admin, &r),
                     201);
    http_resp_release(&r);

    assert_int_equal(http_do(&p, "POST", GS "/fleet/sync", "{}", &view, &r), 403);
    http_resp_release(&r);
    assert_int_equal(http_do(&p, "POST", GS "/fleet/sync", "{}", NULL, &r), 401);
    http_resp_release(&r);
    assert_int_equal(http_do(&p, "GET", GS "/fleet/sync", NULL, &admin, &r), 405);
    http_resp_release(&r);
    assert_int_equal(http_do(&p, "POST", GS "/nosuch/sync", "{}", &admin, &r), 404);
    http_resp_release(&r);
    assert_int_equal(
        http_do(&p, "POST", "/apis/omlop.io/v1alpha1/tenants/x/sync", "{}", &admin, &r), 404);
    http_resp_release(&r);

    assert_int_equal(http_do(&p, "POST", GS "/fleet/sync", "{}", &admin, &r), 202);
    assert_non_null(annotation(&r));
    snprintf(first, sizeof(first), "%s", annotation(&r));
    http_resp_release(&r);
    usleep(5000);
    /* what a forge's webhook or a plain `curl -X POST` sends: no body, no Content-Type */
    assert_int_equal(http_do(&p, "POST", GS "/fleet/sync", NULL, &webhook, &r), 202);
    assert_non_null(annotation(&r));
    assert_string_not_equal(annotation(&r), first);
    http_resp_release(&r);

    omlopd_log(&p, &log);
    assert_non_null(strstr(log.buf, "user=dashboard role=view verb="));
    assert_non_null(strstr(log.buf, "resource=gitsources name=fleet code=202"));
    strbuf_release(&log);
    omlopd_stop(&p);
    harness_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_endpoint_roles_and_methods),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
