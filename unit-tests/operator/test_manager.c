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

static void test_manager_flags_are_taken_out_of_argv(void **state)
{
    char *argv[] = {"omlopd",     "--listen",       "127.0.0.1:0", "--workers", "4",
                    "--resync=7", "--no-reconcile", "--data-dir",  "/tmp/x",    NULL};
    int argc = 9;
    manager_options o;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    manager_options_default(&o);
    assert_true(o.is_enabled);
    assert_int_equal(o.workers, MANAGER_DEFAULT_WORKERS);
    assert_int_equal(o.resync_s, MANAGER_DEFAULT_RESYNC_S);
    assert_int_equal(manager_parse_args(&o, &argc, argv, &err), 0);
    assert_int_equal(o.workers, 4);
    assert_int_equal(o.resync_s, 7);
    assert_false(o.is_enabled);
    assert_int_equal(argc, 5);
    assert_string_equal(argv[1], "--listen");
    assert_string_equal(argv[2], "127.0.0.1:0");
    assert_string_equal(argv[3], "--data-dir");
    assert_string_equal(argv[4], "/tmp/x");
    assert_null(argv[5]);
}

static void test_manager_flags_refuse_bad_values(void **state)
{
    char *a1[] = {"omlopd", "--workers", "0", NULL};
    char *a2[] = {"omlopd", "--resync=soon", NULL};
    char *a3[] = {"omlopd", "--workers", NULL};
    int argc;
    manager_options o;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    manager_options_default(&o);
    argc = 3;
    assert_int_equal(manager_parse_args(&o, &argc, a1, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "--workers"));
    argc = 2;
    assert_int_equal(manager_parse_args(&o, &argc, a2, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "--resync"));
    assert_non_null(strstr(err.msg, "soon"));
    argc = 2;
    assert_int_equal(manager_parse_args(&o, &argc, a3, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "needs a value"));
}

/* The config file's reconcile keys are read (argv names it); flags still win. */
static void test_manager_options_from_the_config_file(void **state)
{
    char path[] = "/tmp/omlop-mgrcfg-XXXXXX", flag[64];
    static const char text[] = "listen: 127.0.0.1:0\nreconcile: false\nworkers: 6\nresync: 9\n";
    static const char bad[] = "workers: 6\nresync: never\n";
    int fd = mkstemp(path), argc;
    manager_options o;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    {
        char *argv[] = {"omlopd", "--config", path, NULL};

        argc = 3;
        manager_options_default(&o);
        assert_int_equal(manager_parse_args(&o, &argc, argv, &err), 0);
        assert_false(o.is_enabled);
        assert_int_equal(o.workers, 6);
        assert_int_equal(o.resync_s, 9);
        assert_int_equal(argc, 3); /* --config stays for the daemon's parser */
    }
    snprintf(flag, sizeof(flag), "--config=%s", path);
    {
        char *argv[] = {"omlopd", "--workers", "3", flag, "--reconcile", NULL};

        argc = 5;
        manager_options_default(&o);
        assert_int_equal(manager_parse_args(&o, &argc, argv, &err), 0);
        assert_true(o.is_enabled);
        assert_int_equal(o.workers, 3);
        assert_int_equal(o.resync_s, 9);
        assert_int_equal(argc, 2);
    }
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    {
        char *argv[] = {"omlopd", "--config", path, NULL};

        argc = 3;
        manager_options_default(&o);
        assert_int_equal(manager_parse_args(&o, &argc, argv, &err), OMLOP_EINVAL);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, ":2:"));
        assert_non_null(strstr(err.msg, "resync"));
    }
    unlink(path);
}

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
        cmocka_unit_test(test_manager_flags_are_taken_out_of_argv),
        cmocka_unit_test(test_manager_flags_refuse_bad_values),
        cmocka_unit_test(test_manager_options_from_the_config_file),
        cmocka_unit_test(test_manager_reconciles_a_new_tenant_and_stops),
        cmocka_unit_test(test_manager_finishes_a_deletion_made_while_it_was_down),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
