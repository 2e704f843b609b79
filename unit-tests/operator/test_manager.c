/*
 * Tests for operator/manager: its flags are taken out of argv and the rest
 * left for the daemon's parser, over the config file's keys of the same
 * meaning; bad values are refused naming the flag; a
 * running manager notices a Tenant created in the store (watch), reconciles
 * it (here: its SSH Secret is missing, so the host is reported unreachable
 * through the status) and stops promptly; a deletion made while no manager
 * ran is finished when one starts, and one blocked by an unreachable host
 * keeps the finalizer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "crds/diag.h"
#include "crds/schema.h"
#include "lib/cjson.h"
#include "lib/log.h"
#include "operator/api_object.h"
#include "operator/manager.h"
#include "reconcilers/tenant.h"
#include "reconcilers/tenant_lifecycle.h"
#include "reconcilers/tenant_status.h"

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_manager_reconciles_a_new_tenant_and_stops(void **state)
{
    static const char tenant_json[] =
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\","
        "\"metadata\":{\"name\":\"m1\",\"uid\":\"u-m1\",\"generation\":1},"
        "\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"h1\",\"lanIP\":\"10.0.0.5\","
        "\"ssh\":{\"address\":\"10.0.0.5\",\"identitySecretRef\":{\"name\":\"m1-ssh\"}}}],"
        "\"network\":{\"infraEnv\":\"lan\",\"fqdn\":\"m1.example.com\"},"
        "\"observability\":{\"enabled\":false}}}";
    char dir[] = "/tmp/omlop-manager-XXXXXX", cmd[96];
    store_options so;
    store *st = NULL;
    manager *m = NULL;
    manager_options mo;
    schema_set *set = NULL;
    diag_list *dl = diag_list_new();
    json_object *raw = json_tokener_parse(tenant_json), *decoded = NULL, *t = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf text = STRBUF_INIT;
    int64_t deadline, t_stop;
    const char *msg = NULL;

    (void)state;
    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    assert_non_null(mkdtemp(dir));
    store_options_default(&so);
    so.data_dir = dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &st, &err) < 0)
        fail_msg("store: %s", err.msg);
    manager_options_default(&mo);
    mo.workers = 2;
    assert_int_equal(manager_new(st, NULL, &mo, &m, &err), 0);
    assert_int_equal(manager_start(m, &err), 0);

    /* created after the manager started: the watch must see it */
    if (schema_set_new_builtin(&set, &err) < 0 ||
        schema_set_decode_json(set, raw, &decoded, dl) < 0)
        fail_msg("the test tenant does not decode");
    api_object_store_text(decoded, &text);
    assert_int_equal(store_create(st, TENANT_KEY_PREFIX "m1", text.buf, text.len, NULL, &err), 0);

    deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        store_kv kv = {0};
        struct timespec ts = {0, 50 * 1000000L};

        if (store_get(st, TENANT_KEY_PREFIX "m1", &kv, &err) == 0) {
            json_object_put(t);
            t = api_object_parse(kv.value, kv.value_len);
            store_kv_release(&kv);
            msg = cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "HostsReachable"),
                                   "message");
            if (msg)
                break;
        }
        nanosleep(&ts, NULL);
    }
    if (!msg)
        fail_msg("no status written within 10 s");
    assert_string_equal(
        cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "HostsReachable"), "status"),
        "False");
    assert_non_null(strstr(msg, "m1-ssh"));
    assert_non_null(strstr(msg, "h1"));
    assert_int_equal(cjson_get_int(t, "metadata.generation", 0), 1);

    t_stop = now_ms();
    manager_free(m);
    assert_true(now_ms() - t_stop < 5000);
    json_object_put(t);
    json_object_put(raw);
    json_object_put(decoded);
    strbuf_release(&text);
    schema_set_free(set);
    diag_list_free(dl);
    store_close(st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Deleted (deletionTimestamp set, finalizer still on) while no manager ran: finished on start. */
static void test_manager_finishes_a_deletion_made_while_it_was_down(void **state)
{
    static const char gone_json[] =
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\","
        "\"metadata\":{\"name\":\"d1\",\"uid\":\"u-d1\",\"generation\":2,"
        "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\",\"finalizers\":[\"omlop.io/teardown\"]},"
        "\"spec\":{\"layout\":\"aio\",\"hosts\":[]}}";
    static const char blocked_json[] =
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\","
        "\"metadata\":{\"name\":\"d2\",\"uid\":\"u-d2\",\"generation\":2,"
        "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\",\"finalizers\":[\"omlop.io/teardown\"]},"
        "\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"h1\",\"lanIP\":\"10.0.0.5\","
        "\"ssh\":{\"address\":\"10.0.0.5\",\"identitySecretRef\":{\"name\":\"d2-ssh\"}}}]}}";
    char dir[] = "/tmp/omlop-manager-XXXXXX", cmd[96];
    store_options so;
    store *st = NULL;
    manager *m = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    store_kv kv = {0};
    json_object *t;
    int64_t deadline;
    int is_gone = 0;

    (void)state;
    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    assert_non_null(mkdtemp(dir));
    store_options_default(&so);
    so.data_dir = dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &st, &err) < 0)
        fail_msg("store: %s", err.msg);
    assert_int_equal(
        store_create(st, TENANT_KEY_PREFIX "d1", gone_json, strlen(gone_json), NULL, &err), 0);
    assert_int_equal(
        store_create(st, TENANT_KEY_PREFIX "d2", blocked_json, strlen(blocked_json), NULL, &err),
        0);
    assert_int_equal(manager_new(st, NULL, NULL, &m, &err), 0);
    assert_int_equal(manager_start(m, &err), 0);
    deadline = now_ms() + 10000;
    while (!is_gone && now_ms() < deadline) {
        struct timespec ts = {0, 50 * 1000000L};

        is_gone = store_get(st, TENANT_KEY_PREFIX "d1", &kv, &err) == OMLOP_ENOTFOUND;
        store_kv_release(&kv);
        nanosleep(&ts, NULL);
    }
    manager_free(m);
    assert_true(is_gone);
    /* a host it cannot reach blocks the other one: still there, finalizer on */
    assert_int_equal(store_get(st, TENANT_KEY_PREFIX "d2", &kv, &err), 0);
    t = api_object_parse(kv.value, kv.value_len);
    assert_true(tenant_has_finalizer(t));
    json_object_put(t);
    store_kv_release(&kv);
    store_close(st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manager_reconciles_a_new_tenant_and_stops),
        cmocka_unit_test(test_manager_finishes_a_deletion_made_while_it_was_down),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
