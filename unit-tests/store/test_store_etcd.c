/*
 * etcd-only store tests: the watch survives an etcd crash and restart without
 * losing events, endpoint failover, unreachable clusters, key-prefix
 * isolation and URL errors. Each test that needs etcd starts its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "store/store.h"
#include "store_test_etcd.h"

#define WAIT_MS 10000

static void need_etcd(test_etcd *e)
{
    memset(e, 0, sizeof(*e));
    if (!test_etcd_available()) {
        if (test_etcd_required())
            fail_msg("%s not found and OMLOP_TEST_REQUIRE names etcd (make deps installs "
                     "etcd-server)",
                     test_etcd_binary());
        printf("skipped: %s not found (install etcd-server)\n", test_etcd_binary());
        skip();
    }
    if (test_etcd_start(e) != 0) {
        test_etcd_stop(e);
        fail_msg("etcd did not start");
    }
}

static store *open_url(const char *url)
{
    omlop_err err = OMLOP_ERR_INIT;
    store_options opts;
    store *s = NULL;

    store_options_default(&opts);
    opts.compact_interval_s = 0;
    if (store_open(url, &opts, &s, &err) != 0)
        fail_msg("store_open %s: %s", url, err.msg);
    return s;
}

/* A write right after an etcd restart may meet a leader election: retry briefly. */
static int64_t put_retry(store *s, const char *key, const char *value)
{
    omlop_err err = OMLOP_ERR_INIT;
    int64_t rev = 0;

    for (int i = 0; i < 100; i++) {
        int rc = store_update(s, key, value, strlen(value), 0, &rev, &err);

        if (rc == OMLOP_ENOTFOUND)
            rc = store_create(s, key, value, strlen(value), &rev, &err);
        if (rc == 0)
            return rev;
        if (rc != OMLOP_EUNAVAIL && rc != OMLOP_ETIMEOUT)
            break;
        usleep(100 * 1000);
    }
    fail_msg("put %s: %s", key, err.msg);
    return 0;
}

static void expect_rev(store_watch *w, int64_t rev, const char *value)
{
    omlop_err err = OMLOP_ERR_INIT;
    store_event ev;

    if (store_watch_next(w, &ev, WAIT_MS, &err) != 0)
        fail_msg("waiting for revision %" PRId64 ": %s", rev, err.msg);
    assert_int_equal(ev.revision, rev);
    assert_string_equal(ev.kv.value, value);
    store_event_release(&ev);
}

static void test_etcd_watch_resumes_after_etcd_restart(void **state)
{
    test_etcd e;
    char url[128], val[32];
    int64_t revs[9];
    store_watch *w, *old;
    omlop_err err = OMLOP_ERR_INIT;
    store *s;

    (void)state;
    need_etcd(&e);
    snprintf(url, sizeof(url), "etcd://%s/r", e.endpoint);
    s = open_url(url);
    assert_int_equal(store_watch_open(s, "/omlop/", 0, &w, &err), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(val, sizeof(val), "{\"i\":%d}", i);
        revs[i] = put_retry(s, "/omlop/k", val);
        expect_rev(w, revs[i], val);
    }
    /* Acknowledged but not yet read when etcd dies. */
    for (int i = 3; i < 5; i++) {
        snprintf(val, sizeof(val), "{\"i\":%d}", i);
        revs[i] = put_retry(s, "/omlop/k", val);
    }
    test_etcd_kill(&e);
    usleep(300 * 1000); /* the feed notices and starts reconnecting */
    assert_int_equal(test_etcd_start(&e), 0);
    for (int i = 5; i < 9; i++) {
        snprintf(val, sizeof(val), "{\"i\":%d}", i);
        revs[i] = put_retry(s, "/omlop/k", val);
    }
    for (int i = 3; i < 9; i++) {
        snprintf(val, sizeof(val), "{\"i\":%d}", i);
        expect_rev(w, revs[i], val);
    }
    /* And a watch from before the crash replays all of it. */
    assert_int_equal(store_watch_open(s, "/omlop/", revs[0], &old, &err), 0);
    for (int i = 1; i < 9; i++) {
        snprintf(val, sizeof(val), "{\"i\":%d}", i);
        expect_rev(old, revs[i], val);
    }
    store_watch_close(old);
    store_watch_close(w);
    store_close(s);
    test_etcd_stop(&e);
}

static void test_etcd_fails_over_to_a_live_endpoint(void **state)
{
    test_etcd e;
    char url[160];
    omlop_err err = OMLOP_ERR_INIT;
    store_watch *w;
    store_kv kv;
    int64_t rev;
    store *s;

    (void)state;
    need_etcd(&e);
    snprintf(url, sizeof(url), "etcd://127.0.0.1:%d,%s/f", test_free_port(), e.endpoint);
    s = open_url(url);
    assert_int_equal(store_watch_open(s, "/omlop/", 0, &w, &err), 0);
    assert_int_equal(store_create(s, "/omlop/a", "{}", 2, &rev, &err), 0);
    assert_int_equal(store_get(s, "/omlop/a", &kv, &err), 0);
    assert_int_equal(kv.mod_revision, rev);
    store_kv_release(&kv);
    expect_rev(w, rev, "{}");
    store_watch_close(w);
    store_close(s);
    test_etcd_stop(&e);
}

static void test_etcd_unreachable_names_every_endpoint(void **state)
{
    char url[128], a[32], b[32];
    omlop_err err = OMLOP_ERR_INIT;
    store *s = NULL;

    (void)state;
    snprintf(a, sizeof(a), "127.0.0.1:%d", test_free_port());
    snprintf(b, sizeof(b), "127.0.0.1:%d", test_free_port());
    snprintf(url, sizeof(url), "etcd://%s,%s", a, b);
    assert_int_equal(store_open(url, NULL, &s, &err), OMLOP_EUNAVAIL);
    assert_null(s);
    assert_non_null(strstr(err.msg, a));
    assert_non_null(strstr(err.msg, b));
}

static void test_etcd_prefixes_isolate_stores(void **state)
{
    test_etcd e;
    char url[128];
    omlop_err err = OMLOP_ERR_INIT;
    store_list_opts lo;
    store_list_result res;
    store_watch *wa;
    store_kv kv;
    int64_t ra, rb;
    store *a, *b;

    (void)state;
    need_etcd(&e);
    snprintf(url, sizeof(url), "etcd://%s/tenant-a/", e.endpoint);
    a = open_url(url);
    snprintf(url, sizeof(url), "etcd://%s/tenant-ab", e.endpoint);
    b = open_url(url);
    assert_int_equal(store_watch_open(a, "", 0, &wa, &err), 0);
    assert_int_equal(store_create(b, "/omlop/x", "{\"who\":\"b\"}", 11, &rb, &err), 0);
    assert_int_equal(store_get(a, "/omlop/x", &kv, &err), OMLOP_ENOTFOUND);
    assert_int_equal(store_create(a, "/omlop/x", "{\"who\":\"a\"}", 11, &ra, &err), 0);
    assert_int_equal(store_get(a, "/omlop/x", &kv, &err), 0);
    assert_string_equal(kv.value, "{\"who\":\"a\"}");
    store_kv_release(&kv);
    memset(&lo, 0, sizeof(lo));
    assert_int_equal(store_list(a, &lo, &res, &err), 0);
    assert_int_equal(res.items.n, 1);
    assert_string_equal(res.items.items[0].key, "/omlop/x");
    store_list_result_release(&res);
    /* a's watch saw its own write only. */
    expect_rev(wa, ra, "{\"who\":\"a\"}");
    store_watch_close(wa);
    store_close(a);
    store_close(b);
    test_etcd_stop(&e);
}

static void test_etcd_tls_with_client_certificate(void **state)
{
    test_etcd e;
    char url[128];
    omlop_err err = OMLOP_ERR_INIT;
    store_options opts;
    store_watch *w;
    store_kv kv;
    int64_t rev;
    store *s = NULL;

    (void)state;
    memset(&e, 0, sizeof(e));
    if (!test_etcd_available()) {
        if (test_etcd_required())
            fail_msg("%s not found and OMLOP_TEST_REQUIRE names etcd (make deps installs "
                     "etcd-server)",
                     test_etcd_binary());
        printf("skipped: %s not found (install etcd-server)\n", test_etcd_binary());
        skip();
    }
    e.tls = 1;
    if (test_etcd_start(&e) != 0) {
        test_etcd_stop(&e);
        fail_msg("etcd with TLS did not start");
    }
    snprintf(url, sizeof(url), "etcd://%s/tls", e.endpoint);
    store_options_default(&opts);
    opts.compact_interval_s = 0;
    opts.tls_ca = e.ca;
    /* Without a client certificate etcd refuses us, and the error says where. */
    assert_int_equal(store_open(url, &opts, &s, &err), OMLOP_EUNAVAIL);
    assert_null(s);
    assert_non_null(strstr(err.msg, e.endpoint));
    opts.tls_cert = e.cert;
    opts.tls_key = e.key;
    if (store_open(url, &opts, &s, &err) != 0)
        fail_msg("%s", err.msg);
    snprintf(url, sizeof(url), "etcd:%s/tls", e.endpoint);
    assert_string_equal(store_describe(s), url);
    assert_int_equal(store_watch_open(s, "/omlop/", 0, &w, &err), 0);
    assert_int_equal(store_create(s, "/omlop/secure", "{}", 2, &rev, &err), 0);
    assert_int_equal(store_get(s, "/omlop/secure", &kv, &err), 0);
    assert_int_equal(kv.mod_revision, rev);
    store_kv_release(&kv);
    expect_rev(w, rev, "{}");
    store_watch_close(w);
    store_close(s);
    test_etcd_stop(&e);
}

static void test_store_urls_are_checked(void **state)
{
    static const struct {
        const char *url;
        const char *says;
    } cases[] = {
        {"etcd://", "names no endpoint"},
        {"etcd:///prefix", "names no endpoint"},
        {"etcd://host:99999", "port must be 1-65535"},
        {"etcd://host:12x", "port must be 1-65535"},
        {"etcd://ho st:1", "bad host name"},
        {"etcd://h:1,,h:2", "empty endpoint"},
        {"etcd://h:1,", "empty endpoint"},
        {"etcd://[::1:2379", "lacks ']'"},
        {"ftp://x", "unknown store URL"},
        {"sqlite", "names no directory"},
    };
    omlop_err err = OMLOP_ERR_INIT;
    store *s = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = store_open(cases[i].url, NULL, &s, &err);

        if (rc != OMLOP_EINVAL || !strstr(err.msg, cases[i].says))
            fail_msg("%s: rc %d, message '%s', want '%s'", cases[i].url, rc, err.msg,
                     cases[i].says);
        assert_null(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_urls_are_checked),
        cmocka_unit_test(test_etcd_unreachable_names_every_endpoint),
        cmocka_unit_test(test_etcd_watch_resumes_after_etcd_restart),
        cmocka_unit_test(test_etcd_fails_over_to_a_live_endpoint),
        cmocka_unit_test(test_etcd_prefixes_isolate_stores),
        cmocka_unit_test(test_etcd_tls_with_client_certificate),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    /* No curl_global_cleanup: a failed test may leave a store's threads running. */
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    return rc;
}
