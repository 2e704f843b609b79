/*
 * Tenant rollout history against a real omlopd (api_history.h): an entry per
 * spec change (create, merge patch, PUT, server-side apply) and none for status
 * writes, label-only changes, no-op applies or dry runs; spec.revisionHistoryLimit;
 * the history goes with the tenant; the endpoint's 404s, 405 and view access.
 */
#include "api_harness.h"
#include "lib/cjson.h"
#include "objects/history.h"
#include "operator/api_history.h"

#define TN          "/apis/omlop.io/v1alpha1/tenants"
#define ADMIN_TOKEN "adm-5e1d0c9b8a7f6e5d4c3b"
#define VIEW_TOKEN  "view-0f1e2d3c4b5a69788796"

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

/*
 * A tenant manifest (JSON). Paused so that a reconcile loop in omlopd leaves it
 * alone; extra_spec goes inside spec, extra_meta inside metadata.
 */
static void tenant_json(strbuf *out, const char *name, const char *tz, const char *extra_spec,
                        const char *extra_meta)
{
    strbuf_addf(out,
                "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\",\"metadata\":{\"name\":"
                "\"%s\",\"annotations\":{\"omlop.io/paused\":\"true\"}%s},\"spec\":{\"layout\":"
                "\"aio\",\"timeZone\":\"%s\",\"hosts\":[{\"name\":\"h\",\"lanIP\":\"10.0.0.5\","
                "\"ssh\":{\"address\":\"10.0.0.5\",\"identitySecretRef\":{\"name\":\"k\"}}}]%s}}",
                name, extra_meta ? extra_meta : "", tz, extra_spec ? extra_spec : "");
}

static void create_tenant(const char *name, const char *extra_spec, const char *extra_meta)
{
    strbuf b = STRBUF_INIT;
    http_resp r;

    tenant_json(&b, name, "UTC", extra_spec, extra_meta);
    if (http_do(&proc, "POST", TN, b.buf, NULL, &r) != 201)
        fail_msg("create %s: %ld %s", name, r.code, r.body.buf);
    http_resp_release(&r);
    strbuf_release(&b);
}

static void merge_patch(const char *path, const char *body, long want)
{
    http_opts mp = {.content_type = "application/merge-patch+json"};
    http_resp r;

    if (http_do(&proc, "PATCH", path, body, &mp, &r) != want)
        fail_msg("PATCH %s: %ld %s", path, r.code, r.body.buf);
    http_resp_release(&r);
}

/* Set spec.timeZone (a spec change). */
static void set_tz(const char *name, const char *tz)
{
    char path[256], body[128];

    snprintf(path, sizeof(path), TN "/%s", name);
    snprintf(body, sizeof(body), "{\"spec\":{\"timeZone\":\"%s\"}}", tz);
    merge_patch(path, body, 200);
}

/* GET the history of name; asserts 200 and returns it (caller releases). */
static void get_history(const char *name, http_resp *r)
{
    char path[256];

    snprintf(path, sizeof(path), TN "/%s/history", name);
    if (http_do(&proc, "GET", path, NULL, NULL, r) != 200)
        fail_msg("GET %s: %ld %s", path, r->code, r->body.buf);
    assert_string_equal(resp_str(r, "kind"), "TenantHistory");
    assert_string_equal(resp_str(r, "apiVersion"), "omlop.io/v1alpha1");
    assert_string_equal(resp_str(r, "metadata.name"), name);
}

static size_t history_count(const char *name)
{
    http_resp r;
    size_t n;

    get_history(name, &r);
    n = json_object_array_length(cjson_get(r.json, "items"));
    http_resp_release(&r);
    return n;
}

/* The revisions of name's history as "1,2,3". */
static void history_revisions(const char *name, char *out, size_t n)
{
    http_resp r;
    json_object *items;
    size_t used = 0;

    out[0] = '\0';
    get_history(name, &r);
    items = cjson_get(r.json, "items");
    for (size_t i = 0; i < json_object_array_length(items) && used < n; i++)
        used += (size_t)snprintf(
            out + used, n - used, "%s%lld", i ? "," : "",
            (long long)cjson_get_int(json_object_array_get_idx(items, i), "revision", -1));
    http_resp_release(&r);
}

static void test_history_grows_on_spec_changes_only(void **state)
{
    http_opts apply = {.content_type = "application/apply-patch+yaml"};
    strbuf b = STRBUF_INIT;
    http_resp r;
    char revs[128];

    (void)state;
    create_tenant("hs1", NULL, ",\"labels\":{\"a\":\"1\"}");
    get_history("hs1", &r);
    assert_string_equal(resp_str(&r, "currentRevision"), "1");
    assert_string_equal(resp_str(&r, "items.0.revision"), "1");
    assert_string_equal(resp_str(&r, "items.0.generation"), "1");
    assert_string_equal(resp_str(&r, "items.0.spec.timeZone"), "UTC");
    assert_string_equal(resp_str(&r, "items.0.spec.layout"), "aio");
    assert_int_equal(strlen(resp_str(&r, "items.0.createdAt")), 20);
    assert_null(cjson_get(r.json, "items.0.changeCause"));
    assert_null(cjson_get(r.json, "items.0.metadata"));
    http_resp_release(&r);

    /* status writes, label-only changes: no new entry */
    merge_patch(TN "/hs1/status", "{\"status\":{\"phase\":\"Ready\"}}", 200);
    merge_patch(TN "/hs1", "{\"metadata\":{\"labels\":{\"a\":\"2\"}}}", 200);
    assert_int_equal(history_count("hs1"), 1);

    /* a spec change by merge patch, with a change cause */
    merge_patch(TN "/hs1",
                "{\"metadata\":{\"annotations\":{\"kubernetes.io/change-cause\":\"tz to "
                "Cordoba\"}},\"spec\":{\"timeZone\":\"America/Argentina/Cordoba\"}}",
                200);
    get_history("hs1", &r);
    assert_string_equal(resp_str(&r, "currentRevision"), "2");
    assert_string_equal(resp_str(&r, "items.1.revision"), "2");
    assert_string_equal(resp_str(&r, "items.1.spec.timeZone"), "America/Argentina/Cordoba");
    assert_string_equal(resp_str(&r, "items.1.changeCause"), "tz to Cordoba");
    assert_string_equal(resp_str(&r, "items.0.spec.timeZone"), "UTC"); /* oldest first */
    http_resp_release(&r);

    /* server-side apply: a no-op apply adds nothing, a changed one adds one */
    strbuf_adds(&b, "apiVersion: omlop.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: hs1\n"
                    "  annotations:\n    omlop.io/change-cause: by apply\n"
                    "spec:\n  layout: aio\n  timeZone: America/Argentina/Cordoba\n  hosts:\n"
                    "    - name: h\n      lanIP: 10.0.0.5\n      ssh:\n        address: 10.0.0.5\n"
                    "        identitySecretRef:\n          name: k\n");
    assert_int_equal(http_do(&proc, "PATCH", TN "/hs1?fieldManager=t", b.buf, &apply, &r), 200);
    http_resp_release(&r);
    history_revisions("hs1", revs, sizeof(revs));
    assert_string_equal(revs, "1,2");
    strbuf_reset(&b);
    strbuf_adds(&b, "apiVersion: omlop.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: hs1\n"
                    "spec:\n  layout: aio\n  timeZone: UTC\n  hosts:\n"
                    "    - name: h\n      lanIP: 10.0.0.5\n      ssh:\n        address: 10.0.0.5\n"
                    "        identitySecretRef:\n          name: k\n");
    assert_int_equal(http_do(&proc, "PATCH", TN "/hs1?fieldManager=t", b.buf, &apply, &r), 200);
    assert_string_equal(resp_str(&r, "metadata.generation"), "3");
    http_resp_release(&r);
    get_history("hs1", &r);
    assert_string_equal(resp_str(&r, "items.2.revision"), "3");
    assert_string_equal(resp_str(&r, "items.2.spec.timeZone"), "UTC");
    /* kubernetes.io/change-cause (kept from before) wins over omlop.io/change-cause */
    assert_string_equal(resp_str(&r, "items.2.changeCause"), "tz to Cordoba");
    http_resp_release(&r);

    /* PUT with a changed spec */
    assert_int_equal(http_do(&proc, "GET", TN "/hs1", NULL, NULL, &r), 200);
    json_object_object_add(json_object_object_get(r.json, "spec"), "timeZone",
                           json_object_new_string("Europe/Madrid"));
    strbuf_reset(&b);
    strbuf_adds(&b, json_object_to_json_string(r.json));
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "PUT", TN "/hs1", b.buf, NULL, &r), 200);
    http_resp_release(&r);
    history_revisions("hs1", revs, sizeof(revs));
    assert_string_equal(revs, "1,2,3,4");
    strbuf_release(&b);
}

static void test_history_limit_honoured(void **state)
{
    char revs[128];
    http_resp r;

    (void)state;
    create_tenant("hl1", ",\"revisionHistoryLimit\":2", NULL);
    set_tz("hl1", "Europe/Madrid");
    set_tz("hl1", "Europe/Paris");
    set_tz("hl1", "Europe/Rome");
    history_revisions("hl1", revs, sizeof(revs));
    assert_string_equal(revs, "3,4");
    get_history("hl1", &r);
    assert_string_equal(resp_str(&r, "items.1.spec.timeZone"), "Europe/Rome");
    http_resp_release(&r);
    /* raising the limit keeps what is there and grows again */
    merge_patch(TN "/hl1", "{\"spec\":{\"revisionHistoryLimit\":3}}", 200);
    set_tz("hl1", "Europe/Berlin");
    history_revisions("hl1", revs, sizeof(revs));
    assert_string_equal(revs, "4,5,6");
    /* 0 keeps nothing */
    merge_patch(TN "/hl1", "{\"spec\":{\"revisionHistoryLimit\":0}}", 200);
    assert_int_equal(history_count("hl1"), 0);
    /* out of range is refused by the schema */
    merge_patch(TN "/hl1", "{\"spec\":{\"revisionHistoryLimit\":101}}", 422);
    merge_patch(TN "/hl1", "{\"spec\":{\"revisionHistoryLimit\":-1}}", 422);
    /* the default is 10 */
    create_tenant("hl2", NULL, NULL);
    for (int i = 0; i < 12; i++)
        set_tz("hl2", i % 2 ? "UTC" : "Europe/Madrid");
    history_revisions("hl2", revs, sizeof(revs));
    assert_string_equal(revs, "4,5,6,7,8,9,10,11,12,13");
}

static void test_history_dry_run_adds_nothing(void **state)
{
    strbuf b = STRBUF_INIT;
    http_opts mp = {.content_type = "application/merge-patch+json"};
    http_resp r;

    (void)state;
    tenant_json(&b, "hd1", "UTC", NULL, NULL);
    assert_int_equal(http_do(&proc, "POST", TN "?dryRun=All", b.buf, NULL, &r), 201);
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", TN "/hd1/history", NULL, NULL, &r), 404);
    http_resp_release(&r);
    create_tenant("hd1", NULL, NULL);
    assert_int_equal(http_do(&proc, "PATCH", TN "/hd1?dryRun=All",
                             "{\"spec\":{\"timeZone\":\"Europe/Madrid\"}}", &mp, &r),
                     200);
    assert_string_equal(resp_str(&r, "metadata.generation"), "2"); /* what would be stored */
    http_resp_release(&r);
    assert_int_equal(history_count("hd1"), 1);
    assert_int_equal(http_do(&proc, "DELETE", TN "/hd1?dryRun=All", NULL, NULL, &r), 200);
    http_resp_release(&r);
    assert_int_equal(history_count("hd1"), 1);
    strbuf_release(&b);
}

static void test_history_deleted_with_tenant(void **state)
{
    http_resp r;

    (void)state;
    create_tenant("hx1", NULL, NULL);
    set_tz("hx1", "Europe/Madrid");
    assert_int_equal(history_count("hx1"), 2);
    assert_int_equal(http_do(&proc, "DELETE", TN "/hx1", NULL, NULL, &r), 200);
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", TN "/hx1/history", NULL, NULL, &r), 404);
    http_resp_release(&r);
    /* a tenant of the same name starts a new history */
    create_tenant("hx1", NULL, NULL);
    get_history("hx1", &r);
    assert_int_equal(json_object_array_length(cjson_get(r.json, "items")), 1);
    assert_string_equal(resp_str(&r, "items.0.spec.timeZone"), "UTC");
    http_resp_release(&r);

    /* with a finalizer: kept while deleting, gone when the last finalizer goes */
    create_tenant("hx2", NULL, ",\"finalizers\":[\"omlop.io/test\"]");
    set_tz("hx2", "Europe/Madrid");
    assert_int_equal(http_do(&proc, "DELETE", TN "/hx2", NULL, NULL, &r), 200);
    assert_true(strlen(resp_str(&r, "metadata.deletionTimestamp")) > 0);
    http_resp_release(&r);
    assert_int_equal(history_count("hx2"), 2); /* deletionTimestamp is no new spec */
    merge_patch(TN "/hx2", "{\"metadata\":{\"finalizers\":null}}", 200);
    assert_int_equal(http_do(&proc, "GET", TN "/hx2", NULL, NULL, &r), 404);
    http_resp_release(&r);
    create_tenant("hx2", NULL, NULL);
    assert_int_equal(history_count("hx2"), 1);
}

static void test_history_404_405(void **state)
{
    http_resp r;

    (void)state;
    assert_int_equal(http_do(&proc, "GET", TN "/nobody/history", NULL, NULL, &r), 404);
    assert_string_equal(resp_str(&r, "reason"), "NotFound");
    assert_non_null(strstr(resp_str(&r, "message"), "nobody"));
    http_resp_release(&r);
    /* only Tenants have a history */
    assert_int_equal(
        http_do(&proc, "GET", "/apis/omlop.io/v1alpha1/backups/b/history", NULL, NULL, &r), 404);
    http_resp_release(&r);
    create_tenant("hr1", NULL, NULL);
    assert_int_equal(http_do(&proc, "POST", TN "/hr1/history", "{}", NULL, &r), 405);
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "DELETE", TN "/hr1/history", NULL, NULL, &r), 405);
    http_resp_release(&r);
    assert_int_equal(history_count("hr1"), 1);
}

static void test_history_readable_with_view_token(void **state)
{
    omlopd_proc p;
    char tokens[256];
    const char *flags[] = {"--tokens", tokens, NULL};
    http_opts admin = {.token = ADMIN_TOKEN}, view = {.token = VIEW_TOKEN};
    strbuf b = STRBUF_INIT;
    http_resp r;
    char dir[64];

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/omlop-apitest-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(tokens, sizeof(tokens), "%s/tokens.csv", dir);
    harness_write_file(tokens, ADMIN_TOKEN ",ci,admin\n" VIEW_TOKEN ",dash,view\n", 0600);
    omlopd_start(&p, flags);
    tenant_json(&b, "hv1", "UTC", NULL, NULL);
    assert_int_equal(http_do(&p, "POST", TN, b.buf, &admin, &r), 201);
    http_resp_release(&r);
    assert_int_equal(http_do(&p, "GET", TN "/hv1/history", NULL, &view, &r), 200);
    assert_string_equal(resp_str(&r, "items.0.revision"), "1");
    http_resp_release(&r);
    assert_int_equal(http_do(&p, "GET", TN "/hv1/history", NULL, &admin, &r), 200);
    http_resp_release(&r);
    assert_int_equal(http_do(&p, "GET", TN "/hv1/history", NULL, NULL, &r), 401);
    http_resp_release(&r);
    assert_int_equal(http_do(&p, "POST", TN "/hv1/history", "{}", &view, &r), 403);
    http_resp_release(&r);
    omlopd_stop(&p);
    harness_rm_rf(dir);
    strbuf_release(&b);
}

/* --- the pure parts, without a server ------------------------------------------------- */

static void test_history_entry_shape_and_change_cause(void **state)
{
    json_object *obj = json_tokener_parse(
        "{\"metadata\":{\"name\":\"t\",\"generation\":7,\"annotations\":{"
        "\"omlop.io/change-cause\":\"ours\",\"kubernetes.io/change-cause\":\"kubectl\"}},"
        "\"spec\":{\"layout\":\"aio\"},\"status\":{\"phase\":\"Ready\"}}");
    json_object *e, *ann;

    (void)state;
    assert_non_null(obj);
    e = history_entry_new(obj, 0);
    assert_int_equal(cjson_get_int(e, "generation", -1), 7);
    assert_string_equal(cjson_get_string(e, "changeCause"), "kubectl");
    assert_string_equal(cjson_get_string(e, "createdAt"), "1970-01-01T00:00:00Z");
    assert_string_equal(cjson_get_string(e, "spec.layout"), "aio");
    assert_null(cjson_get(e, "status"));
    assert_null(cjson_get(e, "metadata"));
    /* the entry owns a copy of the spec */
    json_object_object_add(cjson_get(obj, "spec"), "layout", json_object_new_string("ha"));
    assert_string_equal(cjson_get_string(e, "spec.layout"), "aio");
    json_object_put(e);
    ann = cjson_get(obj, "metadata.annotations");
    json_object_object_del(ann, "kubernetes.io/change-cause");
    e = history_entry_new(obj, 0);
    assert_string_equal(cjson_get_string(e, "changeCause"), "ours");
    json_object_put(e);
    json_object_object_del(ann, "omlop.io/change-cause");
    e = history_entry_new(obj, 0);
    assert_null(cjson_get(e, "changeCause"));
    json_object_put(e);
    json_object_put(obj);
}

static void test_history_keys_sort_by_generation(void **state)
{
    strbuf a = STRBUF_INIT, b = STRBUF_INIT;

    (void)state;
    history_key(&a, "acme", 9);
    history_key(&b, "acme", 10);
    assert_string_equal(a.buf, "/omlop/tenanthistory/acme/00000000000000000009");
    assert_true(strcmp(a.buf, b.buf) < 0);
    /* not under the tenants' own prefix, so lists and watches of tenants never see it */
    assert_true(strncmp(a.buf, "/omlop/tenants/", strlen("/omlop/tenants/")) != 0);
    strbuf_release(&a);
    strbuf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_grows_on_spec_changes_only),
        cmocka_unit_test(test_history_limit_honoured),
        cmocka_unit_test(test_history_dry_run_adds_nothing),
        cmocka_unit_test(test_history_deleted_with_tenant),
        cmocka_unit_test(test_history_404_405),
        cmocka_unit_test(test_history_readable_with_view_token),
        cmocka_unit_test(test_history_entry_shape_and_change_cause),
        cmocka_unit_test(test_history_keys_sort_by_generation),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
