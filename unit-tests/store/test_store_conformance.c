/*
 * The store conformance suite: one table of tests, run once against the
 * sqlite backend (a fresh temp dir per test) and once against a real etcd
 * (one etcd for the group, a fresh key prefix per test). etcd tests skip when
 * the etcd binary is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crds/selector.h"
#include "lib/log.h"
#include "store/store.h"
#include "store_test_etcd.h"
#include "objects/objects.h"

#define WAIT_MS  5000 /* for an event that must come (etcd delivers asynchronously) */
#define QUIET_MS 300  /* for "no further event" */

typedef struct fixture {
    int is_etcd;
    int etcd_ok;
    test_etcd etcd;
    int seq;
    char dir[64]; /* sqlite: the current test's data dir */
} fixture;

static fixture *fx_of(void **state)
{
    return *state;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A fresh, empty store for one test. */
static store *open_store_opts(void **state, store_options *opts)
{
    fixture *fx = fx_of(state);
    omlop_err err = OMLOP_ERR_INIT;
    char url[160];
    store *s = NULL;

    if (fx->is_etcd) {
        if (!fx->etcd_ok) {
            if (test_etcd_required())
                fail_msg("etcd is not available and OMLOP_TEST_REQUIRE names etcd");
            skip();
        }
        snprintf(url, sizeof(url), "etcd://%s/t%d", fx->etcd.endpoint, ++fx->seq);
    } else {
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/omlop-store-XXXXXX");
        assert_non_null(mkdtemp(fx->dir));
        snprintf(url, sizeof(url), "sqlite://%s", fx->dir);
    }
    if (store_open(url, opts, &s, &err) != 0)
        fail_msg("store_open %s: %s", url, err.msg);
    return s;
}

static store *open_store(void **state)
{
    store_options opts;

    store_options_default(&opts);
    opts.compact_interval_s = 0;
    return open_store_opts(state, &opts);
}

static void close_store(void **state, store *s)
{
    fixture *fx = fx_of(state);

    store_close(s);
    if (!fx->is_etcd && fx->dir[0]) {
        nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        fx->dir[0] = '\0';
    }
}

static int64_t put(store *s, const char *key, const char *value)
{
    omlop_err err = OMLOP_ERR_INIT;
    int64_t rev = 0;
    store_kv kv;
    int rc = store_get(s, key, &kv, &err);

    if (rc == OMLOP_ENOTFOUND)
        rc = store_create(s, key, value, strlen(value), &rev, &err);
    else if (rc == 0)
        rc = store_update(s, key, value, strlen(value), kv.mod_revision, &rev, &err);
    store_kv_release(&kv);
    if (rc != 0)
        fail_msg("put %s: %s", key, err.msg);
    return rev;
}

static void expect_event(store_watch *w, store_event_type type, int64_t rev, const char *key,
                         const char *value)
{
    omlop_err err = OMLOP_ERR_INIT;
    store_event ev;
    int rc = store_watch_next(w, &ev, WAIT_MS, &err);

    if (rc != 0)
        fail_msg("expected event rev %" PRId64 " on %s: %s", rev, key, err.msg);
    assert_int_equal(ev.type, type);
    assert_int_equal(ev.revision, rev);
    assert_string_equal(ev.kv.key, key);
    if (value) {
        assert_non_null(ev.kv.value);
        assert_string_equal(ev.kv.value, value);
        assert_int_equal(ev.kv.value_len, strlen(value));
    } else {
        assert_null(ev.kv.value);
    }
    store_event_release(&ev);
}

static void expect_quiet(store_watch *w)
{
    omlop_err err = OMLOP_ERR_INIT;
    store_event ev;
    int rc = store_watch_next(w, &ev, QUIET_MS, &err);

    if (rc == 0)
        fail_msg("unexpected event rev %" PRId64 " key %s", ev.revision, ev.kv.key);
    assert_int_equal(rc, OMLOP_ETIMEOUT);
}

/* --- the table ----------------------------------------------------------------------------- */

static void test_create_if_absent_and_get(void **state)
{
    store *s = open_store(state);
    omlop_err err = OMLOP_ERR_INIT;
    int64_t r1 = 0, r2 = 0;
    store_kv kv;

    assert_int_equal(store_create(s, "/omlop/pods/a", "{\"v\":1}", 7, &r1, &err), 0);
    assert_true(r1 > 0);
    assert_int_equal(store_create(s, "/omlop/pods/a", "{\"v\":2}", 7, &r2, &err), OMLOP_EEXIST);
    assert_non_null(strstr(err.msg, "/omlop/pods/a"));
    assert_int_equal(store_get(s, "/omlop/pods/a", &kv, &err), 0);
    assert_string_equal(kv.key, "/omlop/pods/a");
    assert_string_equal(kv.value, "{\"v\":1}");
    assert_int_equal(kv.value_len, 7);
    assert_int_equal(kv.create_revision, r1);
    assert_int_equal(kv.mod_revision, r1);
    assert_int_equal(kv.version, 1);
    store_kv_release(&kv);
    assert_int_equal(store_get(s, "/omlop/pods/missing", &kv, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/omlop/pods/missing"));
    /* Values are opaque bytes: empty is a value, not an absence. */
    assert_int_equal(store_create(s, "/omlop/pods/empty", "", 0, &r2, &err), 0);
    assert_int_equal(store_get(s, "/omlop/pods/empty", &kv, &err), 0);
    assert_non_null(kv.value);
    assert_int_equal(kv.value_len, 0);
    assert_string_equal(kv.value, "");
    store_kv_release(&kv);
    close_store(state, s);
}

/* store_get_many: what store_get gives for each present key, zeroed entries for absent ones,
 * the order of the keys kept; and its bound at and past the edge. */
static void test_get_many(void **state)
{
    store *s = open_store(state);
    omlop_err err = OMLOP_ERR_INIT;
    const char *keys[] = {"/omlop/s/b", "/omlop/s/none", "/omlop/s/a", "/omlop/s/b"};
    const char *many[STORE_GET_MANY_MAX + 1];
    store_kv kv[4], one, *big;
    int64_t ra, rb;

    ra = put(s, "/omlop/s/a", "{\"a\":1}");
    put(s, "/omlop/s/b", "{\"b\":1}");
    rb = put(s, "/omlop/s/b", "{\"b\":2}"); /* created before: mod != create, version 2 */
    assert_int_equal(store_get_many(s, keys, 4, kv, &err), 0);
    assert_string_equal(kv[0].key, "/omlop/s/b");
    assert_string_equal(kv[0].value, "{\"b\":2}");
    assert_int_equal(kv[0].mod_revision, rb);
    assert_null(kv[1].key);
    assert_null(kv[1].value);
    assert_int_equal(kv[1].mod_revision, 0);
    assert_string_equal(kv[2].value, "{\"a\":1}");
    assert_int_equal(kv[2].mod_revision, ra);
    assert_int_equal(store_get(s, "/omlop/s/a", &one, &err), 0);
    assert_int_equal(kv[2].create_revision, one.create_revision);
    assert_int_equal(kv[2].version, one.version);
    assert_int_equal(kv[2].value_len, one.value_len);
    store_kv_release(&one);
    assert_int_equal(kv[3].mod_revision, rb);
    assert_int_equal(kv[3].create_revision, rb - 1);
    assert_int_equal(kv[3].version, 2);
    for (int i = 0; i < 4; i++)
        store_kv_release(&kv[i]);
    /* nothing asked: nothing read */
    assert_int_equal(store_get_many(s, keys, 0, kv, &err), 0);
    /* the bound: STORE_GET_MANY_MAX keys are read, one more is refused */
    for (int i = 0; i <= STORE_GET_MANY_MAX; i++)
        many[i] = (i % 2) ? "/omlop/s/a" : "/omlop/s/missing";
    big = calloc(STORE_GET_MANY_MAX + 1, sizeof(*big));
    assert_non_null(big);
    assert_int_equal(store_get_many(s, many, STORE_GET_MANY_MAX, big, &err), 0);
    assert_int_equal(big[STORE_GET_MANY_MAX - 1].mod_revision, ra);
    assert_int_equal(big[STORE_GET_MANY_MAX - 2].mod_revision, 0);
    for (int i = 0; i < STORE_GET_MANY_MAX; i++)
        store_kv_release(&big[i]);
    assert_int_equal(store_get_many(s, many, STORE_GET_MANY_MAX + 1, big, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "at most"));
    free(big);
    /* a bad key is named, and nothing is read */
    keys[1] = "relative/key";
    assert_int_equal(store_get_many(s, keys, 2, kv, &err), OMLOP_EINVAL);
    assert_null(kv[0].key);
    close_store(state, s);
}

static void test_update_compare_and_swap(void **state)
{
    store *s = open_store(state);
    omlop_err err = OMLOP_ERR_INIT;
    int64_t r1, r2, r3, cur;
    store_kv kv;

    r1 = put(s, "/omlop/cm/x", "{\"n\":1}");
    assert_int_equal(store_update(s, "/omlop/cm/x", "{\"n\":2}", 7, r1, &r2, &err), 0);
    assert_int_equal(r2, r1 + 1);
    /* A second writer holding r1 loses, and its write changes nothing. */
    assert_int_equal(store_update(s, "/omlop/cm/x", "{\"n\":9}", 7, r1, &r3, &err),
                     OMLOP_ECONFLICT);
    assert_non_null(strstr(err.msg, "/omlop/cm/x"));
    assert_int_equal(store_current_revision(s, &cur, &err), 0);
    assert_int_equal(cur, r2);
    assert_int_equal(store_update(s, "/omlop/cm/x", "{\"n\":3}", 7, 0, &r3, &err), 0);
    assert_int_equal(r3, r2 + 1);
    assert_int_equal(store_get(s, "/omlop/cm/x", &kv, &err), 0);
    assert_string_equal(kv.value, "{\"n\":3}");
    assert_int_equal(kv.create_revision, r1);
    assert_int_equal(kv.mod_revision, r3);
    assert_int_equal(kv.version, 3);
    store_kv_release(&kv);
    assert_int_equal(store_update(s, "/omlop/cm/none", "{}", 2, 0, &r3, &err), OMLOP_ENOTFOUND);
    assert_int_equal(store_update(s, "/omlop/cm/none", "{}", 2, 5, &r3, &err), OMLOP_ENOTFOUND);
    close_store(state, s);
}

static void test_delete_compare_and_swap(void **state)
{
    store *s = open_store(state);
    omlop_err err = OMLOP_ERR_INIT;
    int64_t r1, r2, rd, rc2;
    store_kv kv;

    r1 = put(s, "/omlop/cm/d", "{\"n\":1}");
    r2 = put(s, "/omlop/cm/d", "{\"n\":2}");
    assert_int_equal(store_delete(s, "/omlop/cm/d", r1, &rd, &err), OMLOP_ECONFLICT);
    assert_int_equal(store_get(s, "/omlop/cm/d", &kv, &err), 0);
    store_kv_release(&kv);
    assert_int_equal(store_delete(s, "/omlop/cm/d", r2, &rd, &err), 0);
    assert_int_equal(rd, r2 + 1);
    assert_int_equal(store_get(s, "/omlop/cm/d", &kv, &err), OMLOP_ENOTFOUND);
    assert_int_equal(store_delete(s, "/omlop/cm/d", 0, &rd, &err), OMLOP_ENOTFOUND);
    assert_int_equal(store_create(s, "/omlop/cm/d", "{}", 2, &rc2, &err), 0);
    assert_int_equal(store_get(s, "/omlop/cm/d", &kv, &err), 0);
    assert_int_equal(kv.version, 1);
    assert_int_equal(kv.create_revision, rc2);
    store_kv_release(&kv);
    assert_int_equal(store_delete(s, "/omlop/cm/d", 0, &rd, &err), 0);
    assert_int_equal(rd, rc2 + 1);
    close_store(state, s);
}

static void test_revisions_contiguous_and_ordered(void **state)
{
    store *s = open_store(state);
    omlop_err err = OMLOP_ERR_INIT;
    int64_t prev = 0, rev, cur;
    char key[64];

    for (int i = 0; i < 30; i++) {
        snprintf(key, sizeof(key), "/omlop/seq/k%d", i % 7);
        if (i % 5 == 4) {
            snprintf(key, sizeof(key), "/omlop/seq/k0"); /* exists since i == 0 */
            assert_int_equal(store_create(s, key, "{}", 2, &rev, &err), OMLOP_EEXIST);
            assert_int_equal(store_update(s, key, "{}", 2, 1, &rev, &err), OMLOP_ECONFLICT);
            continue; /* failed writes take no revision */
        }
        rev = put(s, key, "{\"i\":1}");
        if (prev)
            assert_int_equal(rev, prev + 1);
        prev = rev;
    }
    assert_int_equal(store_current_revision(s, &cur, &err), 0);
    assert_int_equal(cur, prev);
    close_store(state, s);
}

static void test_list_prefix_and_pagination(void **state)
{
    store *s = open_store(state);
    omlop_err err = OMLOP_ERR_INIT;
    store_list_opts lo;
    store_list_result res;
    char key[64], last[64] = "";
    int64_t rev = 0;
    size_t seen = 0;

    for (int i = 24; i >= 0; i--) {
        snprintf(key, sizeof(key), "/omlop/pods/p%02d", i);
        rev = put(s, key, "{}");
    }
    put(s, "/omlop/podsx/other", "{}");
    put(s, "/omlop/pod", "{}");
    rev = put(s, "/omlop/svc/a", "{}");
    memset(&lo, 0, sizeof(lo));
    lo.prefix = "/omlop/pods/";
    lo.limit = 10;
    for (int page = 0; page < 3; page++) {
        lo.start_after = page ? last : NULL;
        assert_int_equal(store_list(s, &lo, &res, &err), 0);
        assert_int_equal(res.revision, rev);
        assert_int_equal(res.items.n, page < 2 ? 10 : 5);
        assert_int_equal(res.has_more, page < 2);
        for (size_t i = 0; i < res.items.n; i++) {
            snprintf(key, sizeof(key), "/omlop/pods/p%02zu", seen++);
            assert_string_equal(res.items.items[i].key, key);
        }
        snprintf(last, sizeof(last), "%s", res.items.items[res.items.n - 1].key);
        store_list_result_release(&res);
    }
    /* Exactly limit items left: no more. */
    lo.start_after = "/omlop/pods/p14";
    assert_int_equal(store_list(s, &lo, &res, &err), 0);
    assert_int_equal(res.items.n, 10);
    assert_int_equal(res.has_more, 0);
    store_list_result_release(&res);
    /* No limit, whole store. */
    memset(&lo, 0, sizeof(lo));
    assert_int_equal(store_list(s, &lo, &res, &err), 0);
    assert_int_equal(res.items.n, 28);
    assert_string_equal(res.items.items[0].key, "/omlop/pod");
    assert_string_equal(res.items.items[27].key, "/omlop/svc/a");
    store_list_result_release(&res);
    lo.prefix = "/omlop/nothing/";
    assert_int_equal(store_list(s, &lo, &res, &err), 0);
    assert_int_equal(res.items.n, 0);
    assert_int_equal(res.has_more, 0);
    store_list_result_release(&res);
    close_store(state, s);
}

static void put_pod(store *s, int i, const char *labels)
{
    char key[64], val[256];

    snprintf(key, sizeof(key), "/omlop/pods/p%02d", i);
    snprintf(val, sizeof(val), "{\"metadata\":{\"name\":\"p%02d\",\"labels\":{%s}}}", i, labels);
    put(s, key, val);
}

static size_t list_names(store *s, const char *sel_text, size_t limit, const char *start_after,
                         char *out, size_t outsz, int *has_more)
{
    omlop_err err = OMLOP_ERR_INIT;
    store_list_opts lo;
    store_list_result res;
    selector *sel;
    size_t n;

    if (selector_parse(sel_text, &sel, &err) != 0)
        fail_msg("%s", err.msg);
    memset(&lo, 0, sizeof(lo));
    lo.prefix = "/omlop/pods/";
    lo.limit = limit;
    lo.start_after = start_after;
    lo.filter = obj_filter_selector;
    lo.filter_ctx = sel;
    assert_int_equal(store_list(s, &lo, &res, &err), 0);
    out[0] = '\0';
    for (size_t i = 0; i < res.items.n; i++) {
        size_t len = strlen(out);

        snprintf(out + len, outsz - len, "%s%s", i ? "," : "",
                 res.items.items[i].key + strlen("/omlop/pods/"));
    }
    n = res.items.n;
    if (has_more)
        *has_more = res.has_more;
    store_list_result_release(&res);
    selector_free(sel);
    return n;
}

static void test_list_with_label_selector(void **state)
{
    static const struct {
        const char *sel;
        const char *want;
    } cases[] = {
        {"app=web", "p00,p01,p03"},
        {"app==web,tier=fe", "p00,p03"},
        {"app!=web", "p02,p04,p05"},
        {"app in (db,cache)", "p02,p04"},
        {"app notin (web,db)", "p04,p05"},
        {"tier", "p00,p01,p02,p03"},
        {"!tier", "p04,p05"},
        {"app=web,!tier", ""},
        {"", "p00,p01,p02,p03,p04,p05"},
    };
    store *s = open_store(state);
    char names[256];
    int more;

    put_pod(s, 0, "\"app\":\"web\",\"tier\":\"fe\"");
    put_pod(s, 1, "\"app\":\"web\",\"tier\":\"be\"");
    put_pod(s, 2, "\"app\":\"db\",\"tier\":\"be\"");
    put_pod(s, 3, "\"app\":\"web\",\"tier\":\"fe\"");
    put_pod(s, 4, "\"app\":\"cache\"");
    put_pod(s, 5, "");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        list_names(s, cases[i].sel, 0, NULL, names, sizeof(names), NULL);
        if (strcmp(names, cases[i].want) != 0)
            fail_msg("selector '%s': got '%s', want '%s'", cases[i].sel, names, cases[i].want);
    }
    /* Limits count matching items; has_more means another match follows. */
    assert_int_equal(list_names(s, "app=web", 2, NULL, names, sizeof(names), &more), 2);
    assert_string_equal(names, "p00,p01");
    assert_true(more);
    assert_int_equal(list_names(s, "app=web", 2, "/omlop/pods/p01", names, sizeof(names), &more),
                     1);
    assert_string_equal(names, "p03");
    assert_false(more);
    assert_int_equal(list_names(s, "app=web", 3, NULL, names, sizeof(names), &more), 3);
    assert_false(more);
    close_store(state, s);
}

static void test_watch_from_revision_sees_exactly_later_events(void **state)
{
    store *s = open_store(state);
    omlop_err err = OMLOP_ERR_INIT;
    store_watch *w;
    int64_t r0, r1, r2, r3, r4, r5;

    r0 = put(s, "/omlop/w/before", "{\"b\":1}");
    r1 = put(s, "/omlop/w/a", "{\"a\":1}");
    r2 = put(s, "/omlop/w/a", "{\"a\":2}");
    r3 = put(s, "/omlop/w/b", "{\"b\":1}");
    assert_int_equal(store_delete(s, "/omlop/w/a", r2, &r4, &err), 0);
    assert_int_equal(store_watch_open(s, "/omlop/w/", r0, &w, &err), 0);
    expect_event(w, STORE_EVENT_ADDED, r1, "/omlop/w/a", "{\"a\":1}");
    expect_event(w, STORE_EVENT_MODIFIED, r2, "/omlop/w/a", "{\"a\":2}");
    expect_event(w, STORE_EVENT_ADDED, r3, "/omlop/w/b", "{\"b\":1}");
    /* DELETED carries the value before deletion. */
    expect_event(w, STORE_EVENT_DELETED, r4, "/omlop/w/a", "{\"a\":2}");
    expect_quiet(w);
    r5 = put(s, "/omlop/w/b", "{\"b\":2}");
    expect_event(w, STORE_EVENT_MODIFIED, r5, "/omlop/w/b", "{\"b\":2}");
    expect_quiet(w);
    store_watch_close(w);
    /* From the middle: only what follows. */
    assert_int_equal(store_watch_open(s, "/omlop/w/", r3, &w, &err), 0);
    expect_event(w, STORE_EVENT_DELETED, r4, "/omlop/w/a", "{\"a\":2}");
    expect_event(w, STORE_EVENT_MODIFIED, r5, "/omlop/w/b", "{\"b\":2}");
    expect_quiet(w);
    store_watch_close(w);
    close_store(state, s);
}

static void test_watch_from_now_and_prefix(void **state)
{
    store *s = open_store(state);
    omlop_err err = OMLOP_ERR_INIT;
    store_watch *w, *all;
    int64_t r1, r2;

    put(s, "/omlop/n/old", "{}");
    assert_int_equal(store_watch_open(s, "/omlop/n/", 0, &w, &err), 0);
    assert_int_equal(store_watch_open(s, "", 0, &all, &err), 0);
    expect_quiet(w);
    put(s, "/omlop/nx/other", "{}"); /* same leading bytes, other prefix */
    r1 = put(s, "/omlop/n/new", "{\"x\":1}");
    r2 = put(s, "/omlop/n/old", "{\"x\":2}");
    expect_event(w, STORE_EVENT_ADDED, r1, "/omlop/n/new", "{\"x\":1}");
    expect_event(w, STORE_EVENT_MODIFIED, r2, "/omlop/n/old", "{\"x\":2}");
    expect_quiet(w);
    expect_event(all, STORE_EVENT_ADDED, r1 - 1, "/omlop/nx/other", "{}");
    expect_event(all, STORE_EVENT_ADDED, r1, "/omlop/n/new", "{\"x\":1}");
    store_watch_close(w);
    store_watch_close(all);
    close_store(state, s);
}

typedef struct writer_arg {
    store *s;
    int n;
    int64_t first, last;
} writer_arg;

static void *writer_main(void *p)
{
    writer_arg *a = p;
    omlop_err err = OMLOP_ERR_INIT;
    char val[32];

    for (int i = 0; i < a->n; i++) {
        int64_t rev;

        snprintf(val, sizeof(val), "{\"i\":%d}", i);
        if (store_update(a->s, "/omlop/live/k", val, strlen(val), 0, &rev, &err) != 0)
            break;
        if (!a->first)
            a->first = rev;
        a->last = rev;
    }
    return NULL;
}

static void test_watch_replay_joins_live_without_gap(void **state)
{
    store *s = open_store(state);
    fixture *fx = fx_of(state);
    omlop_err err = OMLOP_ERR_INIT;
    writer_arg wa = {s, fx->is_etcd ? 150 : 600, 0, 0};
    int64_t start, expect;
    pthread_t t;
    store_watch *w;

    start = put(s, "/omlop/live/k", "{\"i\":-1}");
    assert_int_equal(pthread_create(&t, NULL, writer_main, &wa), 0);
    usleep(fx->is_etcd ? 100000 : 20000);
    /* Opened while writes stream in: history first, then the live feed. */
    assert_int_equal(store_watch_open(s, "/omlop/live/", start, &w, &err), 0);
    pthread_join(t, NULL);
    assert_true(wa.last > start);
    for (expect = start + 1; expect <= wa.last; expect++) {
        store_event ev;

        if (store_watch_next(w, &ev, WAIT_MS, &err) != 0)
            fail_msg("waiting for rev %" PRId64 ": %s", expect, err.msg);
        if (ev.revision != expect)
            fail_msg("got rev %" PRId64 ", expected %" PRId64, ev.revision, expect);
        assert_int_equal(ev.type, STORE_EVENT_MODIFIED);
        store_event_release(&ev);
    }
    expect_quiet(w);
    store_watch_close(w);
    close_store(state, s);
}

static void test_compaction_makes_old_revisions_gone(void **state)
{
    store *s = open_store(state);
    omlop_err err = OMLOP_ERR_INIT;
    int64_t revs[8], done = -1;
    store_watch *w;
    char val[32];

    for (int i = 0; i < 8; i++) {
        snprintf(val, sizeof(val), "{\"i\":%d}", i);
        revs[i] = put(s, "/omlop/c/k", val);
    }
    assert_int_equal(store_compact(s, revs[4], &err), 0);
    assert_int_equal(store_compacted_revision(s, &done, &err), 0);
    assert_int_equal(done, revs[4]);
    assert_int_equal(store_watch_open(s, "/omlop/c/", revs[3], &w, &err), OMLOP_EGONE);
    assert_null(w);
    assert_non_null(strstr(err.msg, "compacted"));
    assert_int_equal(store_watch_open(s, "/omlop/c/", revs[4], &w, &err), 0);
    for (int i = 5; i < 8; i++) {
        snprintf(val, sizeof(val), "{\"i\":%d}", i);
        expect_event(w, STORE_EVENT_MODIFIED, revs[i], "/omlop/c/k", val);
    }
    expect_quiet(w);
    store_watch_close(w);
    /* Older or equal compactions are no-ops; the future is refused. */
    assert_int_equal(store_compact(s, revs[2], &err), 0);
    assert_int_equal(store_compacted_revision(s, &done, &err), 0);
    assert_int_equal(done, revs[4]);
    assert_int_equal(store_compact(s, revs[7] + 100, &err), OMLOP_EINVAL);
    /* Data is untouched by compaction. */
    {
        store_kv kv;

        assert_int_equal(store_get(s, "/omlop/c/k", &kv, &err), 0);
        assert_string_equal(kv.value, "{\"i\":7}");
        store_kv_release(&kv);
    }
    close_store(state, s);
}

#define N_SUBS 40

static void test_many_subscribers_see_every_event(void **state)
{
    store *s = open_store(state);
    omlop_err err = OMLOP_ERR_INIT;
    store_watch *w[N_SUBS];
    int64_t revs[10];
    char val[32];

    for (int i = 0; i < N_SUBS; i++)
        assert_int_equal(store_watch_open(s, i % 2 ? "/omlop/m/" : "", 0, &w[i], &err), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(val, sizeof(val), "{\"i\":%d}", i);
        revs[i] = put(s, "/omlop/m/k", val);
    }
    for (int k = 0; k < N_SUBS; k++) {
        for (int i = 0; i < 10; i++) {
            snprintf(val, sizeof(val), "{\"i\":%d}", i);
            expect_event(w[k], i ? STORE_EVENT_MODIFIED : STORE_EVENT_ADDED, revs[i], "/omlop/m/k",
                         val);
        }
    }
    for (int i = 0; i < N_SUBS; i++)
        store_watch_close(w[i]);
    close_store(state, s);
}

static void test_slow_subscriber_is_dropped_writers_continue(void **state)
{
    store_options opts;
    store *s;
    omlop_err err = OMLOP_ERR_INIT;
    store_watch *slow, *fast;
    store_event ev;
    char val[32];

    store_options_default(&opts);
    opts.compact_interval_s = 0;
    opts.watch_buffer = 4;
    s = open_store_opts(state, &opts);
    assert_int_equal(store_watch_open(s, "/omlop/s/", 0, &slow, &err), 0);
    assert_int_equal(store_watch_open(s, "/omlop/s/", 0, &fast, &err), 0);
    for (int i = 0; i < 12; i++) {
        int64_t rev;

        snprintf(val, sizeof(val), "{\"i\":%d}", i);
        rev = put(s, "/omlop/s/k", val);
        expect_event(fast, i ? STORE_EVENT_MODIFIED : STORE_EVENT_ADDED, rev, "/omlop/s/k", val);
    }
    assert_int_equal(store_watch_next(slow, &ev, WAIT_MS, &err), OMLOP_EGONE);
    assert_non_null(strstr(err.msg, "fell behind"));
    /* The error sticks. */
    assert_int_equal(store_watch_next(slow, &ev, 0, &err), OMLOP_EGONE);
    store_watch_close(slow);
    store_watch_close(fast);
    close_store(state, s);
}

typedef struct blocked_arg {
    store_watch *w;
    int rc;
    char msg[OMLOP_ERR_MSG_MAX];
} blocked_arg;

static void *blocked_main(void *p)
{
    blocked_arg *a = p;
    omlop_err err = OMLOP_ERR_INIT;
    store_event ev;

    a->rc = store_watch_next(a->w, &ev, -1, &err);
    snprintf(a->msg, sizeof(a->msg), "%s", err.msg);
    if (a->rc == 0)
        store_event_release(&ev);
    return NULL;
}

static void test_close_wakes_watchers(void **state)
{
    store *s = open_store(state);
    fixture *fx = fx_of(state);
    omlop_err err = OMLOP_ERR_INIT;
    blocked_arg a = {NULL, 1, ""};
    store_watch *replaying;
    store_event ev;
    pthread_t t;
    int64_t r1;

    r1 = put(s, "/omlop/x/k", "{}");
    put(s, "/omlop/x/k", "{\"a\":1}");
    assert_int_equal(store_watch_open(s, "/omlop/x/", 0, &a.w, &err), 0);
    /* One still replaying history (an etcd replay stream) when the store closes. */
    assert_int_equal(store_watch_open(s, "/omlop/x/", r1 - 1, &replaying, &err), 0);
    assert_int_equal(pthread_create(&t, NULL, blocked_main, &a), 0);
    usleep(100 * 1000);
    close_store(state, s);
    pthread_join(t, NULL);
    assert_int_equal(a.rc, OMLOP_EGONE);
    assert_non_null(strstr(a.msg, "closed"));
    assert_int_equal(store_watch_next(replaying, &ev, 1000, &err), OMLOP_EGONE);
    /* Closing watches after their store is safe. */
    store_watch_close(a.w);
    store_watch_close(replaying);
    (void)fx;
}

static int readable(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};

    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void test_watch_fd_polls_readable_while_pending(void **state)
{
    store *s = open_store(state);
    omlop_err err = OMLOP_ERR_INIT;
    store_watch *w;
    store_event ev;
    int64_t r1, r2;

    assert_int_equal(store_watch_open(s, "/omlop/f/", 0, &w, &err), 0);
    assert_false(readable(store_watch_fd(w), 50));
    r1 = put(s, "/omlop/f/a", "{}");
    r2 = put(s, "/omlop/f/b", "{}");
    assert_true(readable(store_watch_fd(w), WAIT_MS));
    assert_int_equal(store_watch_next(w, &ev, WAIT_MS, &err), 0);
    assert_int_equal(ev.revision, r1);
    store_event_release(&ev);
    assert_true(readable(store_watch_fd(w), WAIT_MS));
    assert_int_equal(store_watch_next(w, &ev, 0, &err), 0);
    assert_int_equal(ev.revision, r2);
    store_event_release(&ev);
    assert_false(readable(store_watch_fd(w), 50));
    assert_int_equal(store_watch_next(w, &ev, 0, &err), OMLOP_ETIMEOUT);
    store_watch_close(w);
    close_store(state, s);
}

static void test_bad_arguments_are_named(void **state)
{
    store *s = open_store(state);
    omlop_err err = OMLOP_ERR_INIT;
    store_watch *w;
    int64_t rev;
    store_kv kv;

    assert_int_equal(store_create(s, "omlop/nokey", "{}", 2, &rev, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "omlop/nokey"));
    assert_int_equal(store_create(s, "/omlop/a\nb", "{}", 2, &rev, &err), OMLOP_EINVAL);
    assert_int_equal(store_create(s, "/omlop/a", NULL, 0, &rev, &err), OMLOP_EINVAL);
    assert_int_equal(store_get(s, NULL, &kv, &err), OMLOP_EINVAL);
    assert_int_equal(store_update(s, "/omlop/a", "{}", 2, -3, &rev, &err), OMLOP_EINVAL);
    assert_int_equal(store_watch_open(s, "nope", 0, &w, &err), OMLOP_EINVAL);
    assert_int_equal(store_watch_open(s, "/omlop/", -1, &w, &err), OMLOP_EINVAL);
    close_store(state, s);
}

/* --- groups -------------------------------------------------------------------------------- */

static int setup_sqlite(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));

    *state = fx;
    return fx ? 0 : -1;
}

static int setup_etcd(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    fx->is_etcd = 1;
    if (!test_etcd_available())
        printf("etcd tests skipped: %s not found (install etcd-server)\n", test_etcd_binary());
    else if (test_etcd_start(&fx->etcd) != 0)
        printf("etcd tests skipped: etcd did not start (see %s/etcd.log)\n", fx->etcd.dir);
    else
        fx->etcd_ok = 1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;

    if (fx->is_etcd)
        test_etcd_stop(&fx->etcd);
    free(fx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_if_absent_and_get),
        cmocka_unit_test(test_get_many),
        cmocka_unit_test(test_update_compare_and_swap),
        cmocka_unit_test(test_delete_compare_and_swap),
        cmocka_unit_test(test_revisions_contiguous_and_ordered),
        cmocka_unit_test(test_list_prefix_and_pagination),
        cmocka_unit_test(test_list_with_label_selector),
        cmocka_unit_test(test_watch_from_revision_sees_exactly_later_events),
        cmocka_unit_test(test_watch_from_now_and_prefix),
        cmocka_unit_test(test_watch_replay_joins_live_without_gap),
        cmocka_unit_test(test_compaction_makes_old_revisions_gone),
        cmocka_unit_test(test_many_subscribers_see_every_event),
        cmocka_unit_test(test_slow_subscriber_is_dropped_writers_continue),
        cmocka_unit_test(test_close_wakes_watchers),
        cmocka_unit_test(test_watch_fd_polls_readable_while_pending),
        cmocka_unit_test(test_bad_arguments_are_named),
    };
    int failed = 0;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_configure(LOG_LEVEL_WARN, LOG_FORMAT_TEXT, stderr);
    failed +=
        cmocka_run_group_tests_name("store conformance: sqlite", tests, setup_sqlite, teardown);
    failed += cmocka_run_group_tests_name("store conformance: etcd", tests, setup_etcd, teardown);
    /* No curl_global_cleanup: a failed test may leave a store's threads running. */
    return failed;
}
