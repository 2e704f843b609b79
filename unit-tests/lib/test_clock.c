/* Tests for lib/clock: the one monotonic clock every module times durations with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "lib/clock.h"

static void test_clock_now_never_goes_back(void **state)
{
    int64_t prev_ms = clock_now_ms(), prev_ns = clock_now_ns();

    (void)state;
    for (int i = 0; i < 10000; i++) {
        int64_t ms = clock_now_ms(), ns = clock_now_ns();

        assert_true(ms >= prev_ms);
        assert_true(ns >= prev_ns);
        prev_ms = ms;
        prev_ns = ns;
    }
}

static void test_clock_ms_and_ns_read_the_same_clock(void **state)
{
    int64_t ms = clock_now_ms(), ns = clock_now_ns();

    (void)state;
    /* the ns reading comes later: at most a few ms apart, never before */
    assert_true(ns / 1000000 >= ms);
    assert_true(ns / 1000000 - ms < 1000);
}

static void test_clock_advances_across_a_sleep(void **state)
{
    int64_t t0 = clock_now_ms(), t1;

    (void)state;
    clock_sleep_ms(120);
    t1 = clock_now_ms();
    assert_true(t1 - t0 >= 120);
    assert_true(t1 - t0 < 5000);
}

static void test_clock_sleep_of_zero_or_less_returns_at_once(void **state)
{
    int64_t t0 = clock_now_ms();

    (void)state;
    clock_sleep_ms(0);
    clock_sleep_ms(-5);
    assert_true(clock_now_ms() - t0 < 50);
}

static void test_clock_deadline_is_now_plus_ms_normalised(void **state)
{
    struct timespec ts;
    int64_t before = clock_now_ms(), at;

    (void)state;
    /* 1999 ms adds 999 ms of nanoseconds: the carry into tv_sec must happen */
    clock_deadline_after(&ts, 1999);
    assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
    at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    assert_true(at >= before + 1999);
    assert_true(at <= clock_now_ms() + 1999);
    clock_deadline_after(&ts, 0);
    assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_now_never_goes_back),
        cmocka_unit_test(test_clock_ms_and_ns_read_the_same_clock),
        cmocka_unit_test(test_clock_advances_across_a_sleep),
        cmocka_unit_test(test_clock_sleep_of_zero_or_less_returns_at_once),
        cmocka_unit_test(test_clock_deadline_is_now_plus_ms_normalised),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
