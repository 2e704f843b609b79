/*
 * Tests for reconcilers/tenant_memo: a verification is fresh strictly within its cadence,
 * only for the digest verified, per (tenant, host, kind); invalidate and forget drop it;
 * unused entries age out; a NULL memo remembers nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "reconcilers/tenant_memo.h"

#define D1 "1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "2222222222222222222222222222222222222222222222222222222222222222"

static void test_memo_fresh_strictly_within_the_cadence(void **state)
{
    tenant_memo *m = tenant_memo_new(100, 200, 300);

    (void)state;
    assert_false(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_IMAGES, D1, 1000));
    tenant_memo_verified(m, "t", "h", TENANT_MEMO_IMAGES, D1, 1000);
    assert_true(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_IMAGES, D1, 1000));
    assert_true(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_IMAGES, D1, 1099));
    assert_false(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_IMAGES, D1, 1100));
    /* each kind has its own cadence */
    tenant_memo_verified(m, "t", "h", TENANT_MEMO_FILES, D1, 1000);
    tenant_memo_verified(m, "t", "h", TENANT_MEMO_READY, D1, 1000);
    assert_true(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_FILES, D1, 1199));
    assert_false(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_FILES, D1, 1200));
    assert_true(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_READY, D1, 1299));
    assert_false(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_READY, D1, 1300));
    tenant_memo_free(m);
}

static void test_memo_only_the_digest_verified_on_that_host(void **state)
{
    tenant_memo *m = tenant_memo_new(0, 0, 0);

    (void)state;
    tenant_memo_verified(m, "t", "h", TENANT_MEMO_FILES, D1, 5);
    assert_true(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_FILES, D1, 6));
    assert_false(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_FILES, D2, 6));
    assert_false(tenant_memo_is_fresh(m, "t", "h2", TENANT_MEMO_FILES, D1, 6));
    assert_false(tenant_memo_is_fresh(m, "t2", "h", TENANT_MEMO_FILES, D1, 6));
    assert_false(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_IMAGES, D1, 6));
    assert_false(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_FILES, NULL, 6));
    /* the defaults are the documented cadences */
    assert_true(
        tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_FILES, D1, 5 + TENANT_MEMO_FILES_MS - 1));
    assert_false(
        tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_FILES, D1, 5 + TENANT_MEMO_FILES_MS));
    tenant_memo_free(m);
}

static void test_memo_invalidate_and_forget(void **state)
{
    tenant_memo *m = tenant_memo_new(1000, 1000, 1000);

    (void)state;
    tenant_memo_verified(m, "t", "h", TENANT_MEMO_FILES, D1, 10);
    tenant_memo_verified(m, "t", "h", TENANT_MEMO_READY, D1, 10);
    tenant_memo_verified(m, "t", "h2", TENANT_MEMO_READY, D1, 10);
    tenant_memo_verified(m, "u", "h", TENANT_MEMO_READY, D1, 10);
    assert_int_equal(tenant_memo_count(m), 3);
    tenant_memo_invalidate(m, "t", "h", TENANT_MEMO_FILES);
    assert_false(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_FILES, D1, 11));
    assert_true(tenant_memo_is_fresh(m, "t", "h", TENANT_MEMO_READY, D1, 11));
    tenant_memo_forget(m, "t");
    assert_int_equal(tenant_memo_count(m), 1);
    assert_false(tenant_memo_is_fresh(m, "t", "h2", TENANT_MEMO_READY, D1, 11));
    assert_true(tenant_memo_is_fresh(m, "u", "h", TENANT_MEMO_READY, D1, 11));
    tenant_memo_free(m);
}

static void test_memo_unused_entries_age_out(void **state)
{
    tenant_memo *m = tenant_memo_new(10, 10, 10);
    char host[16];

    (void)state;
    /* many hosts: the table grows and keeps every entry */
    for (int i = 0; i < 500; i++) {
        snprintf(host, sizeof(host), "h%d", i);
        tenant_memo_verified(m, "t", host, TENANT_MEMO_IMAGES, D1, 1);
    }
    assert_int_equal(tenant_memo_count(m), 500);
    assert_true(tenant_memo_is_fresh(m, "t", "h499", TENANT_MEMO_IMAGES, D1, 2));
    /* used within 4 cadences: kept */
    tenant_memo_verified(m, "u", "x", TENANT_MEMO_IMAGES, D1, 40);
    assert_int_equal(tenant_memo_count(m), 501);
    /* unused for more than 4 cadences: gone at the next sweep, the new one stays */
    tenant_memo_verified(m, "u", "y", TENANT_MEMO_IMAGES, D1, 60);
    assert_int_equal(tenant_memo_count(m), 2);
    tenant_memo_free(m);
}

static void test_memo_null_remembers_nothing(void **state)
{
    (void)state;
    tenant_memo_verified(NULL, "t", "h", TENANT_MEMO_FILES, D1, 1);
    assert_false(tenant_memo_is_fresh(NULL, "t", "h", TENANT_MEMO_FILES, D1, 1));
    tenant_memo_invalidate(NULL, "t", "h", TENANT_MEMO_FILES);
    tenant_memo_forget(NULL, "t");
    assert_int_equal(tenant_memo_count(NULL), 0);
}

/* A round record lasts the shortest cadence, until until_ms when sooner, and never past a
 * check that comes due on one of the tenant's hosts. */
static void test_memo_round_record_bounds(void **state)
{
    tenant_memo *m = tenant_memo_new(300, 200, 100); /* shortest: ready, 100 */
    const char *hosts[] = {"h1", "h2"};
    int64_t left = -1;

    (void)state;
    assert_false(tenant_memo_round_fresh(m, "t", hosts, 2, D1, 1000, &left));
    tenant_memo_round_done(m, "t", D1, 1000, 0);
    assert_true(tenant_memo_round_fresh(m, "t", hosts, 2, D1, 1099, &left));
    assert_int_equal(left, 0);
    assert_false(tenant_memo_round_fresh(m, "t", hosts, 2, D1, 1100, &left));
    assert_false(tenant_memo_round_fresh(m, "t", hosts, 2, D2, 1050, &left)); /* another start */
    /* until_ms sooner than the cadence: the certificate's moment */
    tenant_memo_round_done(m, "t", D1, 2000, 2040);
    assert_true(tenant_memo_round_fresh(m, "t", hosts, 2, D1, 2039, &left));
    assert_int_equal(left, 1);
    assert_false(tenant_memo_round_fresh(m, "t", hosts, 2, D1, 2040, &left));
    /* a files check verified on h2 at 1950 comes due at 2150, within the record's cadence */
    tenant_memo_verified(m, "t", "h2", TENANT_MEMO_FILES, D1, 1950);
    tenant_memo_round_done(m, "t", D1, 2100, 0);
    assert_true(tenant_memo_round_fresh(m, "t", hosts, 2, D1, 2149, &left));
    assert_false(tenant_memo_round_fresh(m, "t", hosts, 2, D1, 2150, &left));
    /* the host not being one of the round's: not its business */
    assert_true(tenant_memo_round_fresh(m, "t", hosts, 1, D1, 2150, &left));
    /* any invalidation of the tenant ends it */
    tenant_memo_invalidate(m, "t", "h1", TENANT_MEMO_IMAGES);
    assert_false(tenant_memo_round_fresh(m, "t", hosts, 1, D1, 2150, &left));
    tenant_memo_free(m);
    /* a NULL memo never skips */
    tenant_memo_round_done(NULL, "t", D1, 1000, 0);
    assert_false(tenant_memo_round_fresh(NULL, "t", hosts, 2, D1, 1000, &left));
}

/* The facts kept with a round record answer only for their revision; a newer keep replaces
 * them; forgetting the tenant drops them. */
static void test_memo_round_facts_by_revision(void **state)
{
    tenant_memo *m = tenant_memo_new(0, 0, 0);
    strbuf out = STRBUF_INIT;

    (void)state;
    assert_false(tenant_memo_round_facts(m, "t", 7, &out));
    tenant_memo_round_done(m, "t", D1, 1000, 0);
    tenant_memo_round_facts_keep(m, "t", 7, "{\"a\":1}");
    assert_true(tenant_memo_round_facts(m, "t", 7, &out));
    assert_string_equal(out.buf, "{\"a\":1}");
    strbuf_reset(&out);
    assert_false(tenant_memo_round_facts(m, "t", 8, &out));
    assert_false(tenant_memo_round_facts(m, "t", 6, &out));
    assert_false(tenant_memo_round_facts(m, "u", 7, &out));
    assert_int_equal(out.len, 0);
    tenant_memo_round_facts_keep(m, "t", 9, "{\"a\":2}");
    assert_false(tenant_memo_round_facts(m, "t", 7, &out));
    assert_true(tenant_memo_round_facts(m, "t", 9, &out));
    assert_string_equal(out.buf, "{\"a\":2}");
    strbuf_reset(&out);
    tenant_memo_forget(m, "t");
    assert_false(tenant_memo_round_facts(m, "t", 9, &out));
    tenant_memo_free(m);
    tenant_memo_round_facts_keep(NULL, "t", 1, "x");
    assert_false(tenant_memo_round_facts(NULL, "t", 1, &out));
    strbuf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memo_fresh_strictly_within_the_cadence),
        cmocka_unit_test(test_memo_round_facts_by_revision),
        cmocka_unit_test(test_memo_only_the_digest_verified_on_that_host),
        cmocka_unit_test(test_memo_invalidate_and_forget),
        cmocka_unit_test(test_memo_unused_entries_age_out),
        cmocka_unit_test(test_memo_null_remembers_nothing),
        cmocka_unit_test(test_memo_round_record_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
