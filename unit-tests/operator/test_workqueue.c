/* Tests for operator/workqueue: dedup, in-flight exclusion, backoff, rate limit, shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "operator/workqueue.h"

typedef struct fake_clock {
    int64_t now_ms;
} fake_clock;

static int64_t fake_now(void *ctx)
{
    return ((fake_clock *)ctx)->now_ms;
}

static workqueue *new_fake_queue(fake_clock *clk)
{
    workqueue_options opts;

    workqueue_options_default(&opts);
    opts.clock = fake_now;
    opts.clock_ctx = clk;
    return workqueue_new(&opts);
}

static void expect_get(workqueue *q, const char *want)
{
    char *key = workqueue_get(q, 0);

    assert_non_null(key);
    assert_string_equal(key, want);
    free(key);
}

static void test_add_deduplicates_queued_keys(void **state)
{
    fake_clock clk = {1000};
    workqueue *q = new_fake_queue(&clk);

    (void)state;
    workqueue_add(q, "a");
    workqueue_add(q, "b");
    workqueue_add(q, "a");
    assert_int_equal(workqueue_len(q), 2);
    expect_get(q, "a");
    expect_get(q, "b");
    assert_null(workqueue_get(q, 0));
    workqueue_free(q);
}

static void test_key_in_flight_is_not_handed_out_twice(void **state)
{
    fake_clock clk = {1000};
    workqueue *q = new_fake_queue(&clk);

    (void)state;
    workqueue_add(q, "t1");
    expect_get(q, "t1");
    workqueue_add(q, "t1"); /* changed while being reconciled */
    assert_null(workqueue_get(q, 0));
    assert_int_equal(workqueue_len(q), 0);
    workqueue_done(q, "t1"); /* dirty: comes back */
    expect_get(q, "t1");
    workqueue_done(q, "t1");
    assert_null(workqueue_get(q, 0));
    workqueue_free(q);
}

static void test_backoff_doubles_and_caps(void **state)
{
    fake_clock clk = {0};
    workqueue_options opts;
    workqueue *q;

    (void)state;
    workqueue_options_default(&opts);
    opts.clock = fake_now;
    opts.clock_ctx = &clk;
    opts.backoff_base_ms = 10;
    opts.backoff_max_ms = 100;
    opts.rate_burst = 1000;
    q = workqueue_new(&opts);
    assert_int_equal(workqueue_backoff_ms(q, "k"), 10);
    workqueue_add_rate_limited(q, "k");
    assert_int_equal(workqueue_failures(q, "k"), 1);
    assert_int_equal(workqueue_delayed_len(q), 1);
    clk.now_ms += 9;
    assert_null(workqueue_get(q, 0));
    clk.now_ms += 1;
    expect_get(q, "k");
    workqueue_done(q, "k");
    assert_int_equal(workqueue_backoff_ms(q, "k"), 20);
    workqueue_add_rate_limited(q, "k");
    workqueue_add_rate_limited(q, "k");
    workqueue_add_rate_limited(q, "k");
    assert_int_equal(workqueue_backoff_ms(q, "k"), 100); /* 10*2^4 capped */
    workqueue_forget(q, "k");
    assert_int_equal(workqueue_failures(q, "k"), 0);
    assert_int_equal(workqueue_backoff_ms(q, "k"), 10);
    workqueue_free(q);
}

static void test_add_now_overrides_pending_delay(void **state)
{
    fake_clock clk = {0};
    workqueue *q = new_fake_queue(&clk);

    (void)state;
    workqueue_add_after(q, "x", 60000);
    assert_null(workqueue_get(q, 0));
    workqueue_add(q, "x"); /* a Podman event: look now */
    expect_get(q, "x");
    workqueue_done(q, "x");
    clk.now_ms += 60000;
    assert_null(workqueue_get(q, 0)); /* the cancelled delay does not fire */
    workqueue_free(q);
}

static void test_earlier_delay_wins(void **state)
{
    fake_clock clk = {0};
    workqueue *q = new_fake_queue(&clk);

    (void)state;
    workqueue_add_after(q, "x", 500);
    workqueue_add_after(q, "x", 100);
    workqueue_add_after(q, "x", 900);
    clk.now_ms = 100;
    expect_get(q, "x");
    workqueue_done(q, "x");
    workqueue_free(q);
}

static void test_global_bucket_delays_a_storm(void **state)
{
    fake_clock clk = {0};
    workqueue_options opts;
    workqueue *q;
    char key[16];

    (void)state;
    workqueue_options_default(&opts);
    opts.clock = fake_now;
    opts.clock_ctx = &clk;
    opts.backoff_base_ms = 1;
    opts.rate_per_s = 10;
    opts.rate_burst = 5;
    q = workqueue_new(&opts);
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        workqueue_add_rate_limited(q, key);
    }
    clk.now_ms = 1;
    assert_int_equal(workqueue_len(q), 5); /* the burst */
    clk.now_ms = 100;
    assert_int_equal(workqueue_len(q), 6); /* one token per 100 ms */
    clk.now_ms = 300;
    assert_int_equal(workqueue_len(q), 8);
    workqueue_free(q);
}

static void *shutdown_later(void *arg)
{
    usleep(50000);
    workqueue_shutdown(arg);
    return NULL;
}

static void test_shutdown_wakes_blocked_getter(void **state)
{
    workqueue *q = workqueue_new(NULL);
    pthread_t th;

    (void)state;
    pthread_create(&th, NULL, shutdown_later, q);
    assert_null(workqueue_get(q, -1));
    pthread_join(th, NULL);
    assert_true(workqueue_is_shutdown(q));
    workqueue_add(q, "ignored");
    assert_int_equal(workqueue_len(q), 0);
    workqueue_free(q);
}

typedef struct worker_ctx {
    workqueue *q;
    pthread_mutex_t lock;
    int in_flight[4];
    int overlap_seen;
    int processed;
} worker_ctx;

static void *worker(void *arg)
{
    worker_ctx *w = arg;

    for (;;) {
        char *key = workqueue_get(w->q, 200);
        int idx;

        if (!key)
            return NULL;
        idx = key[1] - '0';
        pthread_mutex_lock(&w->lock);
        if (w->in_flight[idx]++)
            w->overlap_seen = 1;
        pthread_mutex_unlock(&w->lock);
        usleep(200);
        pthread_mutex_lock(&w->lock);
        w->in_flight[idx]--;
        w->processed++;
        pthread_mutex_unlock(&w->lock);
        workqueue_done(w->q, key);
        free(key);
    }
}

static void test_workers_never_overlap_on_one_key(void **state)
{
    worker_ctx w = {0};
    pthread_t th[3];
    char key[4] = "k0";

    (void)state;
    w.q = workqueue_new(NULL);
    pthread_mutex_init(&w.lock, NULL);
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, worker, &w);
    for (int i = 0; i < 2000; i++) {
        key[1] = (char)('0' + i % 4);
        workqueue_add(w.q, key);
        if (i % 50 == 0)
            usleep(100);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_false(w.overlap_seen);
    assert_true(w.processed >= 4);
    assert_int_equal(workqueue_len(w.q), 0);
    pthread_mutex_destroy(&w.lock);
    workqueue_free(w.q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_deduplicates_queued_keys),
        cmocka_unit_test(test_key_in_flight_is_not_handed_out_twice),
        cmocka_unit_test(test_backoff_doubles_and_caps),
        cmocka_unit_test(test_add_now_overrides_pending_delay),
        cmocka_unit_test(test_earlier_delay_wins),
        cmocka_unit_test(test_global_bucket_delays_a_storm),
        cmocka_unit_test(test_shutdown_wakes_blocked_getter),
        cmocka_unit_test(test_workers_never_overlap_on_one_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
