/*
 * API tests against a real omlopd: every verb on a resource, the status
 * subresource, generation, finalizers, dry runs, field validation, selectors and
 * pages, Table and YAML output, discovery and OpenAPI, Events, and the error
 * codes with their Kubernetes Status bodies.
 */
#include "api_harness.h"
#include "lib/cjson.h"

#define BK       API_PATH "/backups"
#define API_PATH "/apis/omlop.io/v1alpha1"

static omlopd_proc proc;

static int setup(void **state)
{
    /* the API alone: the reconcilers (the Backup one writes the status of the Backups these
     * tests create) would race the tests' resourceVersions */
    static const char *const flags[] = {"--no-reconcile", NULL};

    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    omlopd_start(&proc, flags);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    omlopd_stop(&proc);
    curl_global_cleanup();
    return 0;
}

static void backup_json(strbuf *out, const char *name, const char *tenant, const char *extra)
{
    strbuf_addf(out,
                "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
                "\"%s\",\"labels\":{\"team\":\"%s\"}},\"spec\":{\"tenantRef\":{\"name\":\"%s\"}}"
                "%s}",
                name, tenant, tenant, extra ? extra : "");
}

/* Create a backup and return its resourceVersion (copied into rv). */
static void create_backup(const char *name, const char *tenant, char *rv, size_t rvsz)
{
    strbuf b = STRBUF_INIT;
    http_resp r;

    backup_json(&b, name, tenant, NULL);
    assert_int_equal(http_do(&proc, "POST", BK, b.buf, NULL, &r), 201);
    if (rv)
        snprintf(rv, rvsz, "%s", resp_str(&r, "metadata.resourceVersion"));
    http_resp_release(&r);
    strbuf_release(&b);
}

static void assert_status(const http_resp *r, long code, const char *reason)
{
    assert_int_equal(r->code, code);
    assert_string_equal(resp_str(r, "kind"), "Status");
    assert_string_equal(resp_str(r, "apiVersion"), "v1");
    assert_string_equal(resp_str(r, "status"), "Failure");
    assert_string_equal(resp_str(r, "reason"), reason);
    assert_int_equal(atoi(resp_str(r, "code")), code);
    assert_true(strlen(resp_str(r, "message")) > 0);
}

static void test_create_sets_server_fields(void **state)
{
    strbuf b = STRBUF_INIT;
    http_resp r;

    (void)state;
    backup_json(&b, "c1", "t1",
                ",\"status\":{\"phase\":\"Succeeded\"},\"metadata\":{\"name\":\"c1\",\"uid\":"
                "\"forged\",\"generation\":7,\"namespace\":\"default\"}");
    assert_int_equal(http_do(&proc, "POST", BK, b.buf, NULL, &r), 201);
    assert_string_equal(resp_str(&r, "metadata.name"), "c1");
    assert_int_equal(strlen(resp_str(&r, "metadata.uid")), 36);
    assert_string_not_equal(resp_str(&r, "metadata.uid"), "forged");
    assert_int_equal(resp_str(&r, "metadata.uid")[14], '4'); /* version 4 */
    assert_string_equal(resp_str(&r, "metadata.generation"), "1");
    assert_true(strlen(resp_str(&r, "metadata.creationTimestamp")) == 20);
    assert_true(atoll(resp_str(&r, "metadata.resourceVersion")) > 0);
    assert_string_equal(resp_str(&r, "metadata.namespace"), "");
    assert_string_equal(resp_str(&r, "status.phase"), ""); /* status only through /status */
    http_resp_release(&r);

    assert_int_equal(http_do(&proc, "GET", BK "/c1", NULL, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "spec.tenantRef.name"), "t1");
    assert_string_equal(resp_str(&r, "kind"), "Backup");
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "HEAD", BK "/c1", NULL, NULL, &r), 200);
    assert_int_equal(r.body.len, 0);
    assert_non_null(strcasestr(r.headers.buf, "content-type: application/json"));
    http_resp_release(&r);
    strbuf_release(&b);
}

static void test_create_errors(void **state)
{
    strbuf b = STRBUF_INIT;
    http_resp r;

    (void)state;
    create_backup("dup", "t1", NULL, 0);
    backup_json(&b, "dup", "t1", NULL);
    http_do(&proc, "POST", BK, b.buf, NULL, &r);
    assert_status(&r, 409, "AlreadyExists");
    assert_string_equal(resp_str(&r, "details.name"), "dup");
    assert_string_equal(resp_str(&r, "details.group"), "omlop.io");
    assert_string_equal(resp_str(&r, "details.kind"), "backups");
    http_resp_release(&r);

    /* schema violation: 422 with a cause naming the field */
    http_do(&proc, "POST", BK,
            "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
            "\"bad\"},\"spec\":{\"tenantRef\":{\"name\":\"t\"},\"includeRecordings\":\"yes\"}}",
            NULL, &r);
    assert_status(&r, 422, "Invalid");
    assert_string_equal(resp_str(&r, "details.causes.0.field"), "spec.includeRecordings");
    assert_string_equal(resp_str(&r, "details.causes.0.reason"), "FieldValueInvalid");
    assert_non_null(strstr(resp_str(&r, "message"), "Backup.omlop.io \"bad\" is invalid"));
    http_resp_release(&r);

    /* missing required field */
    http_do(&proc, "POST", BK,
            "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
            "\"bad2\"}}",
            NULL, &r);
    assert_status(&r, 422, "Invalid");
    http_resp_release(&r);

    /* broken JSON, wrong kind, wrong apiVersion, not an object, no name */
    http_do(&proc, "POST", BK, "{\"apiVersion\": ", NULL, &r);
    assert_status(&r, 400, "BadRequest");
    assert_non_null(strstr(resp_str(&r, "message"), "not valid JSON"));
    http_resp_release(&r);
    http_do(&proc, "POST", BK, "{\"kind\":\"Tenant\",\"metadata\":{\"name\":\"x\"}}", NULL, &r);
    assert_status(&r, 400, "BadRequest");
    http_resp_release(&r);
    http_do(&proc, "POST", BK, "{\"apiVersion\":\"v1\",\"kind\":\"Backup\"}", NULL, &r);
    assert_status(&r, 400, "BadRequest");
    http_resp_release(&r);
    http_do(&proc, "POST", BK, "[1,2]", NULL, &r);
    assert_status(&r, 400, "BadRequest");
    http_resp_release(&r);
    http_do(&proc, "POST", BK, "{\"spec\":{\"tenantRef\":{\"name\":\"t\"}}}", NULL, &r);
    assert_status(&r, 422, "Invalid");
    assert_string_equal(resp_str(&r, "details.causes.0.field"), "metadata.name");
    http_resp_release(&r);

    /* 404 for an unknown kind and an unknown object; 405 for POST on an object */
    http_do(&proc, "GET", API_PATH "/widgets", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    http_resp_release(&r);
    http_do(&proc, "GET", BK "/nope", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    assert_string_equal(resp_str(&r, "message"), "backups.omlop.io \"nope\" not found");
    http_resp_release(&r);
    backup_json(&b, "dup", "t1", NULL);
    http_do(&proc, "POST", BK "/dup", b.buf, NULL, &r);
    assert_status(&r, 405, "MethodNotAllowed");
    http_resp_release(&r);
    {
        http_opts text = {.content_type = "text/plain"};

        http_do(&proc, "POST", BK, b.buf, &text, &r);
        assert_status(&r, 415, "UnsupportedMediaType");
        http_resp_release(&r);
    }
    http_do(&proc, "DELETE", BK, NULL, NULL, &r);
    assert_status(&r, 405, "MethodNotAllowed");
    http_resp_release(&r);
    http_do(&proc, "GET", BK "/dup/scale", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    http_resp_release(&r);
    strbuf_release(&b);
}

static void test_generate_name(void **state)
{
    http_resp r;

    (void)state;
    http_do(&proc, "POST", BK,
            "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{"
            "\"generateName\":\"nightly-\"},\"spec\":{\"tenantRef\":{\"name\":\"t\"}}}",
            NULL, &r);
    assert_int_equal(r.code, 201);
    assert_int_equal(strncmp(resp_str(&r, "metadata.name"), "nightly-", 8), 0);
    assert_int_equal(strlen(resp_str(&r, "metadata.name")), 13);
    http_resp_release(&r);
}

static void test_update_needs_fresh_resource_version(void **state)
{
    char rv[32], body[512];
    http_resp r;

    (void)state;
    create_backup("u1", "t1", rv, sizeof(rv));
    /* no resourceVersion: 422 */
    http_do(&proc, "PUT", BK "/u1",
            "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
            "\"u1\"},\"spec\":{\"tenantRef\":{\"name\":\"t2\"}}}",
            NULL, &r);
    assert_status(&r, 422, "Invalid");
    assert_string_equal(resp_str(&r, "details.causes.0.field"), "metadata.resourceVersion");
    http_resp_release(&r);
    /* fresh: 200, generation bumps, resourceVersion moves */
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
             "\"u1\",\"resourceVersion\":\"%s\"},\"spec\":{\"tenantRef\":{\"name\":\"t2\"}}}",
             rv);
    assert_int_equal(http_do(&proc, "PUT", BK "/u1", body, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "spec.tenantRef.name"), "t2");
    assert_string_equal(resp_str(&r, "metadata.generation"), "2");
    assert_string_not_equal(resp_str(&r, "metadata.resourceVersion"), rv);
    http_resp_release(&r);
    /* the same stale body again: 409 Conflict */
    http_do(&proc, "PUT", BK "/u1", body, NULL, &r);
    assert_status(&r, 409, "Conflict");
    assert_non_null(strstr(resp_str(&r, "message"), "the object has been modified"));
    http_resp_release(&r);
    /* name mismatch: 400; missing object: 404 */
    http_do(&proc, "PUT", BK "/other", body, NULL, &r);
    assert_status(&r, 400, "BadRequest");
    http_resp_release(&r);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
             "\"ghost\",\"resourceVersion\":\"1\"},\"spec\":{\"tenantRef\":{\"name\":\"t\"}}}");
    http_do(&proc, "PUT", BK "/ghost", body, NULL, &r);
    assert_status(&r, 404, "NotFound");
    http_resp_release(&r);
}

static void test_status_subresource(void **state)
{
    http_resp r;
    http_opts mp = {.content_type = "application/merge-patch+json"};
    char gen[16], rv[32];

    (void)state;
    create_backup("s1", "t1", NULL, 0);
    /* status written through /status: generation unchanged */
    assert_int_equal(http_do(&proc, "PATCH", BK "/s1/status",
                             "{\"status\":{\"phase\":\"Running\"},\"spec\":{\"tenantRef\":{"
                             "\"name\":\"ignored\"}}}",
                             &mp, &r),
                     200);
    assert_string_equal(resp_str(&r, "status.phase"), "Running");
    assert_string_equal(resp_str(&r, "spec.tenantRef.name"), "t1"); /* spec ignored there */
    assert_string_equal(resp_str(&r, "metadata.generation"), "1");
    snprintf(rv, sizeof(rv), "%s", resp_str(&r, "metadata.resourceVersion"));
    http_resp_release(&r);
    /* a status change on the main resource is ignored, the spec change bumps generation */
    assert_int_equal(http_do(&proc, "PATCH", BK "/s1",
                             "{\"status\":{\"phase\":\"Failed\"},\"spec\":{\"includeRecordings\":"
                             "true}}",
                             &mp, &r),
                     200);
    assert_string_equal(resp_str(&r, "status.phase"), "Running");
    assert_string_equal(resp_str(&r, "spec.includeRecordings"), "true");
    snprintf(gen, sizeof(gen), "%s", resp_str(&r, "metadata.generation"));
    assert_string_equal(gen, "2");
    http_resp_release(&r);
    /* PUT on /status with the object */
    assert_int_equal(http_do(&proc, "GET", BK "/s1/status", NULL, NULL, &r), 200);
    {
        json_object *o = json_object_get(r.json);
        json_object *st = json_object_new_object();

        json_object_object_add(st, "phase", json_object_new_string("Completed"));
        json_object_object_add(o, "status", st);
        http_resp_release(&r);
        assert_int_equal(
            http_do(&proc, "PUT", BK "/s1/status", json_object_to_json_string(o), NULL, &r), 200);
        json_object_put(o);
    }
    assert_string_equal(resp_str(&r, "status.phase"), "Completed");
    assert_string_equal(resp_str(&r, "metadata.generation"), "2");
    http_resp_release(&r);
    /* an invalid status is refused */
    http_do(&proc, "PATCH", BK "/s1/status", "{\"status\":{\"phase\":\"Exploded\"}}", &mp, &r);
    assert_status(&r, 422, "Invalid");
    assert_string_equal(resp_str(&r, "details.causes.0.field"), "status.phase");
    http_resp_release(&r);
    /* a kind without status subresource */
    http_do(&proc, "GET", API_PATH "/events/x/status", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    http_resp_release(&r);
}

static void test_patch_types(void **state)
{
    http_resp r;
    http_opts mp = {.content_type = "application/merge-patch+json"};
    http_opts sp = {.content_type = "application/strategic-merge-patch+json"};
    http_opts jp = {.content_type = "application/json-patch+json"};
    http_opts ap = {.content_type = "application/apply-patch+yaml"};
    char rv[32], body[256];

    (void)state;
    create_backup("p1", "t1", rv, sizeof(rv));
    /* merge patch: null deletes a label */
    assert_int_equal(http_do(&proc, "PATCH", BK "/p1",
                             "{\"metadata\":{\"labels\":{\"team\":null,\"x\":\"1\"}}}", &mp, &r),
                     200);
    assert_string_equal(resp_str(&r, "metadata.labels.team"), "");
    assert_string_equal(resp_str(&r, "metadata.labels.x"), "1");
    assert_string_equal(resp_str(&r, "metadata.generation"), "1"); /* metadata only */
    http_resp_release(&r);
    /* strategic merge patch is applied as a merge, directives dropped */
    assert_int_equal(http_do(&proc, "PATCH", BK "/p1",
                             "{\"$retainKeys\":[\"spec\"],\"spec\":{\"includeRecordings\":true}}",
                             &sp, &r),
                     200);
    assert_string_equal(resp_str(&r, "spec.includeRecordings"), "true");
    http_resp_release(&r);
    /* a patch with a stale resourceVersion: 409 */
    snprintf(body, sizeof(body), "{\"metadata\":{\"resourceVersion\":\"%s\"}}", rv);
    http_do(&proc, "PATCH", BK "/p1", body, &mp, &r);
    assert_status(&r, 409, "Conflict");
    http_resp_release(&r);
    /* unsupported patch type: 415 */
    http_do(&proc, "PATCH", BK "/p1", "[]", &jp, &r);
    assert_status(&r, 415, "UnsupportedMediaType");
    http_resp_release(&r);
    /* patch to an invalid object: 422; on a missing object: 404 */
    http_do(&proc, "PATCH", BK "/p1", "{\"spec\":{\"tenantRef\":null}}", &mp, &r);
    assert_status(&r, 422, "Invalid");
    http_resp_release(&r);
    http_do(&proc, "PATCH", BK "/nobody", "{}", &mp, &r);
    assert_status(&r, 404, "NotFound");
    http_resp_release(&r);
    /* apply patch: creates, then updates; needs fieldManager */
    http_do(&proc, "PATCH", BK "/ap1",
            "apiVersion: omlop.io/v1alpha1\nkind: Backup\nmetadata:\n  name: ap1\nspec:\n  "
            "tenantRef:\n    name: t9\n",
            &ap, &r);
    assert_status(&r, 400, "BadRequest");
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "PATCH", BK "/ap1?fieldManager=test",
                             "apiVersion: omlop.io/v1alpha1\nkind: Backup\nmetadata:\n  name: "
                             "ap1\nspec:\n  tenantRef:\n    name: t9\n",
                             &ap, &r),
                     201);
    assert_string_equal(resp_str(&r, "spec.tenantRef.name"), "t9");
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "PATCH", BK "/ap1?fieldManager=test",
                             "apiVersion: omlop.io/v1alpha1\nkind: Backup\nmetadata:\n  name: "
                             "ap1\n  labels: {a: b}\nspec:\n  tenantRef:\n    name: t10\n",
                             &ap, &r),
                     200);
    assert_string_equal(resp_str(&r, "spec.tenantRef.name"), "t10");
    assert_string_equal(resp_str(&r, "metadata.labels.a"), "b");
    assert_string_equal(resp_str(&r, "metadata.generation"), "2");
    http_resp_release(&r);
}

static void test_unchanged_update_does_not_write(void **state)
{
    http_resp r;
    http_opts mp = {.content_type = "application/merge-patch+json"};
    char rv[32];

    (void)state;
    create_backup("same", "t1", rv, sizeof(rv));
    assert_int_equal(http_do(&proc, "PATCH", BK "/same",
                             "{\"spec\":{\"tenantRef\":{\"name\":"
                             "\"t1\"}}}",
                             &mp, &r),
                     200);
    assert_string_equal(resp_str(&r, "metadata.resourceVersion"), rv);
    http_resp_release(&r);
}

static void test_dry_run_writes_nothing(void **state)
{
    strbuf b = STRBUF_INIT;
    http_resp r;
    http_opts mp = {.content_type = "application/merge-patch+json"};

    (void)state;
    backup_json(&b, "dry", "t1", NULL);
    assert_int_equal(http_do(&proc, "POST", BK "?dryRun=All", b.buf, NULL, &r), 201);
    assert_string_equal(resp_str(&r, "metadata.name"), "dry");
    http_resp_release(&r);
    http_do(&proc, "GET", BK "/dry", NULL, NULL, &r);
    assert_int_equal(r.code, 404);
    http_resp_release(&r);
    http_do(&proc, "POST", BK "?dryRun=Some", b.buf, NULL, &r);
    assert_status(&r, 400, "BadRequest");
    http_resp_release(&r);

    create_backup("dry2", "t1", NULL, 0);
    assert_int_equal(http_do(&proc, "PATCH", BK "/dry2?dryRun=All",
                             "{\"spec\":{\"tenantRef\":{\"name\":\"t2\"}}}", &mp, &r),
                     200);
    assert_string_equal(resp_str(&r, "spec.tenantRef.name"), "t2");
    http_resp_release(&r);
    http_do(&proc, "GET", BK "/dry2", NULL, NULL, &r);
    assert_string_equal(resp_str(&r, "spec.tenantRef.name"), "t1");
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "DELETE", BK "/dry2?dryRun=All", NULL, NULL, &r), 200);
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", BK "/dry2", NULL, NULL, &r), 200);
    http_resp_release(&r);
    strbuf_release(&b);
}

static void test_finalizers_delay_deletion(void **state)
{
    http_resp r;
    http_opts mp = {.content_type = "application/merge-patch+json"};

    (void)state;
    assert_int_equal(http_do(&proc, "POST", BK,
                             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\","
                             "\"metadata\":{\"name\":\"fin\",\"finalizers\":[\"omlop.io/"
                             "cleanup\"]},\"spec\":{\"tenantRef\":{\"name\":\"t\"}}}",
                             NULL, &r),
                     201);
    http_resp_release(&r);
    /* DELETE marks it */
    assert_int_equal(
        http_do(&proc, "DELETE", BK "/fin", "{\"propagationPolicy\":\"Background\"}", NULL, &r),
        200);
    assert_true(strlen(resp_str(&r, "metadata.deletionTimestamp")) > 0);
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", BK "/fin", NULL, NULL, &r), 200);
    assert_true(strlen(resp_str(&r, "metadata.deletionTimestamp")) > 0);
    http_resp_release(&r);
    /* no new finalizer on a deleting object */
    http_do(&proc, "PATCH", BK "/fin",
            "{\"metadata\":{\"finalizers\":[\"omlop.io/cleanup\",\"omlop.io/other\"]}}", &mp, &r);
    assert_status(&r, 422, "Invalid");
    assert_string_equal(resp_str(&r, "details.causes.0.field"), "metadata.finalizers");
    http_resp_release(&r);
    /* emptying the finalizers completes the deletion */
    assert_int_equal(
        http_do(&proc, "PATCH", BK "/fin", "{\"metadata\":{\"finalizers\":null}}", &mp, &r), 200);
    http_resp_release(&r);
    http_do(&proc, "GET", BK "/fin", NULL, NULL, &r);
    assert_int_equal(r.code, 404);
    http_resp_release(&r);
}

static void test_delete_preconditions(void **state)
{
    http_resp r;
    char rv[32], body[256];

    (void)state;
    create_backup("del", "t1", rv, sizeof(rv));
    http_do(&proc, "DELETE", BK "/del",
            "{\"preconditions\":{\"uid\":\"00000000-0000-4000-8000-000000000000\"}}", NULL, &r);
    assert_status(&r, 409, "Conflict");
    http_resp_release(&r);
    http_do(&proc, "DELETE", BK "/del", "{\"preconditions\":{\"resourceVersion\":\"1\"}}", NULL,
            &r);
    assert_status(&r, 409, "Conflict");
    http_resp_release(&r);
    snprintf(body, sizeof(body), "{\"preconditions\":{\"resourceVersion\":\"%s\"}}", rv);
    assert_int_equal(http_do(&proc, "DELETE", BK "/del", body, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "metadata.name"), "del");
    http_resp_release(&r);
    http_do(&proc, "DELETE", BK "/del", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    http_resp_release(&r);
}

static void test_field_validation(void **state)
{
    strbuf b = STRBUF_INIT;
    http_resp r;

    (void)state;
    backup_json(&b, "fv", "t1", ",\"bogus\":1");
    http_do(&proc, "POST", BK "?fieldValidation=Strict", b.buf, NULL, &r);
    assert_status(&r, 422, "Invalid");
    assert_string_equal(resp_str(&r, "details.causes.0.field"), "bogus");
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "POST", BK "?fieldValidation=Warn", b.buf, NULL, &r), 201);
    assert_non_null(strcasestr(r.headers.buf, "warning: 299 - \"unknown field \\\"bogus\\\"\""));
    assert_null(json_object_object_get(r.json, "bogus"));
    http_resp_release(&r);
    strbuf_reset(&b);
    backup_json(&b, "fv2", "t1", ",\"spec\":{\"tenantRef\":{\"name\":\"t\",\"extra\":true}}");
    assert_int_equal(http_do(&proc, "POST", BK "?fieldValidation=Ignore", b.buf, NULL, &r), 201);
    assert_null(strcasestr(r.headers.buf, "warning:"));
    assert_string_equal(resp_str(&r, "spec.tenantRef.extra"), "");
    http_resp_release(&r);
    http_do(&proc, "POST", BK "?fieldValidation=Loud", b.buf, NULL, &r);
    assert_status(&r, 400, "BadRequest");
    http_resp_release(&r);
    strbuf_release(&b);
}

static void test_list_selectors_and_pages(void **state)
{
    http_resp r;
    char cont[1024], path[1400];
    int seen = 0;

    (void)state;
    create_backup("l-a1", "alpha", NULL, 0);
    create_backup("l-a2", "alpha", NULL, 0);
    create_backup("l-b1", "beta", NULL, 0);
    assert_int_equal(http_do(&proc, "GET", BK "?labelSelector=team%3Dalpha", NULL, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "kind"), "BackupList");
    assert_string_equal(resp_str(&r, "apiVersion"), "omlop.io/v1alpha1");
    assert_true(atoll(resp_str(&r, "metadata.resourceVersion")) > 0);
    assert_int_equal(json_object_array_length(json_object_object_get(r.json, "items")), 2);
    http_resp_release(&r);
    assert_int_equal(
        http_do(&proc, "GET", BK "?labelSelector=team+in+(alpha,beta),team!=alpha", NULL, NULL, &r),
        200);
    assert_int_equal(json_object_array_length(json_object_object_get(r.json, "items")), 1);
    assert_string_equal(resp_str(&r, "items.0.metadata.name"), "l-b1");
    http_resp_release(&r);
    assert_int_equal(
        http_do(&proc, "GET", BK "?fieldSelector=metadata.name%3Dl-a2", NULL, NULL, &r), 200);
    assert_int_equal(json_object_array_length(json_object_object_get(r.json, "items")), 1);
    http_resp_release(&r);
    http_do(&proc, "GET", BK "?labelSelector=team%3D%3D%3D", NULL, NULL, &r);
    assert_status(&r, 400, "BadRequest");
    http_resp_release(&r);
    http_do(&proc, "GET", BK "?fieldSelector=%3Dx", NULL, NULL, &r);
    assert_status(&r, 400, "BadRequest");
    http_resp_release(&r);
    /* pages of one, following continue */
    snprintf(path, sizeof(path), BK "?labelSelector=team%%3Dalpha&limit=1");
    for (int i = 0; i < 5; i++) {
        assert_int_equal(http_do(&proc, "GET", path, NULL, NULL, &r), 200);
        seen += (int)json_object_array_length(json_object_object_get(r.json, "items"));
        snprintf(cont, sizeof(cont), "%s", resp_str(&r, "metadata.continue"));
        http_resp_release(&r);
        if (!cont[0])
            break;
        snprintf(path, sizeof(path), BK "?labelSelector=team%%3Dalpha&limit=1&continue=%s", cont);
    }
    assert_int_equal(seen, 2);
    http_do(&proc, "GET", BK "?limit=1&continue=bm90LWEtdG9rZW4", NULL, NULL, &r);
    assert_status(&r, 400, "BadRequest");
    http_resp_release(&r);
    http_do(&proc, "GET", BK "?limit=-3", NULL, NULL, &r);
    assert_status(&r, 400, "BadRequest");
    http_resp_release(&r);
}

static void test_table_and_yaml_output(void **state)
{
    http_resp r;
    http_opts table = {.accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"};
    http_opts yaml = {.accept = "application/yaml"};
    json_object *cols;

    (void)state;
    create_backup("tbl", "t-table", NULL, 0);
    assert_int_equal(http_do(&proc, "GET", BK "?includeObject=Object", NULL, &table, &r), 200);
    assert_string_equal(resp_str(&r, "kind"), "Table");
    assert_string_equal(resp_str(&r, "apiVersion"), "meta.k8s.io/v1");
    cols = json_object_object_get(r.json, "columnDefinitions");
    assert_string_equal(
        json_object_get_string(cjson_get(json_object_array_get_idx(cols, 0), "name")), "Name");
    assert_string_equal(resp_str(&r, "columnDefinitions.1.name"), "Tenant");
    assert_true(json_object_array_length(json_object_object_get(r.json, "rows")) >= 1);
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", BK "/tbl", NULL, &table, &r), 200);
    assert_string_equal(resp_str(&r, "rows.0.cells.0"), "tbl");
    assert_string_equal(resp_str(&r, "rows.0.cells.1"), "t-table");
    assert_string_equal(resp_str(&r, "rows.0.object.kind"), "PartialObjectMetadata");
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", BK "/tbl", NULL, &yaml, &r), 200);
    assert_non_null(strstr(r.body.buf, "kind: Backup\n"));
    assert_non_null(strcasestr(r.headers.buf, "content-type: application/yaml"));
    http_resp_release(&r);
}

static void test_discovery_and_openapi(void **state)
{
    http_resp r;
    http_opts pb = {.accept = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"};
    json_object *res;
    int found = 0;

    (void)state;
    assert_int_equal(http_do(&proc, "GET", "/apis", NULL, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "kind"), "APIGroupList");
    assert_string_equal(resp_str(&r, "groups.0.name"), "omlop.io");
    assert_string_equal(resp_str(&r, "groups.0.preferredVersion.groupVersion"),
                        "omlop.io/v1alpha1");
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", "/api", NULL, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "kind"), "APIVersions");
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", API_PATH, NULL, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "kind"), "APIResourceList");
    res = json_object_object_get(r.json, "resources");
    for (size_t i = 0; i < json_object_array_length(res); i++) {
        json_object *e = json_object_array_get_idx(res, i);

        if (strcmp(json_object_get_string(json_object_object_get(e, "name")), "tenants") == 0) {
            found = 1;
            assert_string_equal(json_object_get_string(cjson_get(e, "kind")), "Tenant");
            assert_string_equal(json_object_get_string(json_object_array_get_idx(
                                    json_object_object_get(e, "shortNames"), 0)),
                                "tn");
            assert_false(json_object_get_boolean(json_object_object_get(e, "namespaced")));
        }
        if (strcmp(json_object_get_string(json_object_object_get(e, "name")), "tenants/status") ==
            0)
            found |= 2;
    }
    assert_int_equal(found, 3);
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", "/openapi/v2", NULL, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "swagger"), "2.0");
    assert_non_null(cjson_get(r.json, "definitions"));
    assert_non_null(json_object_object_get(json_object_object_get(r.json, "definitions"),
                                           "io.omlop.v1alpha1.Tenant"));
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", "/openapi/v2", NULL, &pb, &r), 200);
    assert_non_null(strstr(r.headers.buf, "proto-openapi"));
    assert_int_equal((unsigned char)r.body.buf[0], 0x0a); /* field 1: swagger */
    assert_memory_equal(r.body.buf + 2, "2.0", 3);
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", "/version", NULL, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "major"), "1");
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", "/healthz", NULL, NULL, &r), 200);
    assert_string_equal(r.body.buf, "ok");
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", "/readyz", NULL, NULL, &r), 200);
    http_resp_release(&r);
    http_do(&proc, "POST", "/version", "{}", NULL, &r);
    assert_status(&r, 405, "MethodNotAllowed");
    http_resp_release(&r);
    http_do(&proc, "GET", "/nothing/here", NULL, NULL, &r);
    assert_status(&r, 404, "NotFound");
    http_resp_release(&r);
}

static void test_events_listable_per_object(void **state)
{
    http_resp r;
    static const char *const ev =
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Event\",\"metadata\":{\"name\":"
        "\"%s\"},\"involvedObject\":{\"kind\":\"Tenant\",\"name\":\"%s\",\"uid\":\"u-%s\"},"
        "\"type\":\"Normal\",\"reason\":\"Tested\",\"message\":\"hello\"}";
    char body[600];

    (void)state;
    snprintf(body, sizeof(body), ev, "ev1", "alpha", "alpha");
    assert_int_equal(http_do(&proc, "POST", API_PATH "/events", body, NULL, &r), 201);
    assert_string_equal(resp_str(&r, "count"), "1"); /* the schema's default */
    http_resp_release(&r);
    snprintf(body, sizeof(body), ev, "ev2", "beta", "beta");
    assert_int_equal(http_do(&proc, "POST", API_PATH "/events", body, NULL, &r), 201);
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET",
                             API_PATH "/events?fieldSelector=involvedObject.name%3Dalpha", NULL,
                             NULL, &r),
                     200);
    assert_int_equal(json_object_array_length(json_object_object_get(r.json, "items")), 1);
    assert_string_equal(resp_str(&r, "items.0.metadata.name"), "ev1");
    http_resp_release(&r);
    /* the core v1 view kubectl describe reads */
    assert_int_equal(http_do(&proc, "GET",
                             "/api/v1/events?fieldSelector=involvedObject.name%3Dbeta%2C"
                             "involvedObject.namespace%3D%2CinvolvedObject.kind%3DTenant%2C"
                             "involvedObject.uid%3Du-beta&limit=500",
                             NULL, NULL, &r),
                     200);
    assert_string_equal(resp_str(&r, "apiVersion"), "v1");
    assert_string_equal(resp_str(&r, "kind"), "EventList");
    assert_int_equal(json_object_array_length(json_object_object_get(r.json, "items")), 1);
    assert_string_equal(resp_str(&r, "items.0.reason"), "Tested");
    http_resp_release(&r);
    http_do(&proc, "DELETE", "/api/v1/events", NULL, NULL, &r);
    assert_status(&r, 405, "MethodNotAllowed");
    http_resp_release(&r);
}

static void test_secret_string_data_is_write_only(void **state)
{
    http_resp r;

    (void)state;
    assert_int_equal(http_do(&proc, "POST", API_PATH "/secrets",
                             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\","
                             "\"metadata\":{\"name\":\"s1\"},\"data\":{\"a\":\"eA==\","
                             "\"b\":\"eQ==\"},\"stringData\":{\"b\":\"hello\"}}",
                             NULL, &r),
                     201);
    assert_string_equal(resp_str(&r, "data.a"), "eA==");
    assert_string_equal(resp_str(&r, "data.b"), "aGVsbG8="); /* stringData wins */
    assert_null(json_object_object_get(r.json, "stringData"));
    http_resp_release(&r);
    assert_int_equal(http_do(&proc, "GET", API_PATH "/secrets/s1", NULL, NULL, &r), 200);
    assert_string_equal(resp_str(&r, "data.b"), "aGVsbG8=");
    assert_null(json_object_object_get(r.json, "stringData"));
    http_resp_release(&r);
}

static void test_audit_log_line_per_write(void **state)
{
    strbuf log = STRBUF_INIT;

    (void)state;
    create_backup("audited", "t1", NULL, 0);
    omlopd_log(&proc, &log);
    assert_non_null(strstr(log.buf, "audit user=local role=admin verb=create resource=backups "
                                    "name=audited code=201"));
    strbuf_release(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_sets_server_fields),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_generate_name),
        cmocka_unit_test(test_update_needs_fresh_resource_version),
        cmocka_unit_test(test_status_subresource),
        cmocka_unit_test(test_patch_types),
        cmocka_unit_test(test_unchanged_update_does_not_write),
        cmocka_unit_test(test_dry_run_writes_nothing),
        cmocka_unit_test(test_finalizers_delay_deletion),
        cmocka_unit_test(test_delete_preconditions),
        cmocka_unit_test(test_field_validation),
        cmocka_unit_test(test_list_selectors_and_pages),
        cmocka_unit_test(test_table_and_yaml_output),
        cmocka_unit_test(test_discovery_and_openapi),
        cmocka_unit_test(test_events_listable_per_object),
        cmocka_unit_test(test_secret_string_data_is_write_only),
        cmocka_unit_test(test_audit_log_line_per_write),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
