/*
 * Tests for lib/cron: the syntax (every field at and past its bounds, names, lists, ranges,
 * steps, macros), errors that name the field, Vixie cron's day-of-month / day-of-week rule,
 * and next fire times in UTC, Europe/Madrid and America/Argentina/Buenos_Aires across DST
 * gaps and overlaps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/cron.h"
#include "lib/tz.h"

static int64_t at(int64_t y, int m, int d, int h, int mi)
{
    return tz_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60;
}

static tz *load(const char *name)
{
    omlop_err err = OMLOP_ERR_INIT;
    tz *z = NULL;

    if (tz_load(name, NULL, &z, &err) < 0)
        fail_msg("%s", err.msg);
    return z;
}

static void parse_ok(const char *text, cron_expr *e)
{
    omlop_err err = OMLOP_ERR_INIT;

    if (cron_parse(text, e, &err) < 0)
        fail_msg("\"%s\": %s", text, err.msg);
}

static void parse_fails(const char *text, const char *msg)
{
    omlop_err err = OMLOP_ERR_INIT;
    cron_expr e;

    if (cron_parse(text, &e, &err) != OMLOP_EINVAL)
        fail_msg("\"%s\" parsed, expected: %s", text, msg);
    if (strcmp(err.msg, msg) != 0)
        fail_msg("\"%s\": got \"%s\", expected \"%s\"", text, err.msg, msg);
}

static void test_cron_each_field_at_and_past_its_bounds(void **state)
{
    cron_expr e;

    (void)state;
    parse_ok("0 0 1 1 0", &e);
    parse_ok("59 23 31 12 7", &e);
    assert_true(e.minutes == (uint64_t)1 << 59 && e.hours == 1u << 23 && e.doms == 1u << 31);
    assert_true(e.months == 1u << 12 && e.dows == 1); /* 7 is Sunday */
    parse_fails("60 * * * *", "field 1 (minute): 60 out of range 0-59");
    parse_fails("* 24 * * *", "field 2 (hour): 24 out of range 0-23");
    parse_fails("* 25 * * *", "field 2 (hour): 25 out of range 0-23");
    parse_fails("* * 0 * *", "field 3 (day of month): 0 out of range 1-31");
    parse_fails("* * 32 * *", "field 3 (day of month): 32 out of range 1-31");
    parse_fails("* * * 0 *", "field 4 (month): 0 out of range 1-12");
    parse_fails("* * * 13 *", "field 4 (month): 13 out of range 1-12");
    parse_fails("* * * * 8", "field 5 (day of week): 8 out of range 0-7");
    parse_fails("* * * * 99999999999", "field 5 (day of week): 99999999999 out of range 0-7");
    parse_fails("0-60 * * * *", "field 1 (minute): 60 out of range 0-59");
}

static void test_cron_lists_ranges_steps_and_names(void **state)
{
    cron_expr e;

    (void)state;
    parse_ok("*/15 1-10/3 5-31/10 JAN-MAR,dec mon-fri", &e);
    assert_true(e.minutes == (1ull << 0 | 1ull << 15 | 1ull << 30 | 1ull << 45));
    assert_true(e.hours == (1u << 1 | 1u << 4 | 1u << 7 | 1u << 10));
    assert_true(e.doms == (1u << 5 | 1u << 15 | 1u << 25));
    assert_true(e.months == (1u << 1 | 1u << 2 | 1u << 3 | 1u << 12));
    assert_true(e.dows == 0x3e);
    assert_false(e.is_dom_star);
    parse_ok("0,30 * * * SUN,SAT", &e);
    assert_true(e.minutes == (1ull | 1ull << 30) && e.dows == 0x41 && e.is_dom_star);
    parse_ok("1-1 * * * 5-7", &e);
    assert_true(e.minutes == 2 && e.dows == (0x60 | 1));
    parse_fails("5/10 * * * *",
                "field 1 (minute): a step needs * or a range before it (5/10: write 5-59/10)");
    parse_fails("*/0 * * * *", "field 1 (minute): step 0 out of range 1-59");
    parse_fails("*/60 * * * *", "field 1 (minute): step 60 out of range 1-59");
    parse_fails("* */ * * *", "field 2 (hour): a step must be a number (after \"/\")");
    parse_fails("* 5-2 * * *", "field 2 (hour): range 5-2 is backwards");
    parse_fails("1, * * * *", "field 1 (minute): a list ends with \",\"");
    parse_fails("MON * * * *", "field 1 (minute): \"MON\" is not a number");
    parse_fails("* * * FOO *",
                "field 4 (month): \"FOO\" is not a number or a name (JAN, FEB, ...)");
    parse_fails("* * * * MONDAY",
                "field 5 (day of week): \"MONDAY\" is not a number or a name (SUN, MON, ...)");
    parse_fails("1x * * * *", "field 1 (minute): \"1x\" is not a number");
    parse_fails("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4");
    parse_fails("* * * * * *",
                "expected 5 fields (minute hour day-of-month month day-of-week), got 6");
    parse_fails("", "expected 5 fields (minute hour day-of-month month day-of-week), got 0");
}

static void test_cron_macros_and_never_firing_days(void **state)
{
    cron_expr e, f;

    (void)state;
    parse_ok("@daily", &e);
    parse_ok("0 0 * * *", &f);
    assert_memory_equal(&e, &f, sizeof(e));
    parse_ok("@weekly", &e);
    assert_true(e.dows == 1 && e.hours == 1 && e.minutes == 1);
    parse_ok("@HOURLY", &e);
    parse_ok("@yearly", &e);
    assert_true(e.months == 2 && e.doms == 2);
    parse_fails("@reboot", "unknown macro \"@reboot\" (@hourly, @daily, @weekly, @monthly, "
                           "@yearly)");
    parse_fails("0 0 30 2 *",
                "fields 3 and 4 (day of month, month): never fires: no month of the set has such "
                "a day");
    parse_fails("0 0 31 4,6,9,11 *",
                "fields 3 and 4 (day of month, month): never fires: no month of the set has such "
                "a day");
    parse_ok("0 0 29 2 *", &e);
    parse_ok("0 0 30 2 MON", &e); /* both restricted: Mondays of February fire */
}

static void test_cron_day_fields_or_unless_one_starts_with_star(void **state)
{
    cron_expr e;

    (void)state;
    parse_ok("0 0 13 * FRI", &e);                                 /* the 13th OR a Friday */
    assert_true(cron_matches_local(&e, at(2024, 12, 13, 0, 0)));  /* Friday the 13th */
    assert_true(cron_matches_local(&e, at(2024, 11, 13, 0, 0)));  /* a Wednesday */
    assert_true(cron_matches_local(&e, at(2024, 12, 6, 0, 0)));   /* a Friday */
    assert_false(cron_matches_local(&e, at(2024, 12, 5, 0, 0)));  /* Thursday the 5th */
    assert_false(cron_matches_local(&e, at(2024, 12, 13, 0, 1))); /* minute */
    parse_ok("0 0 */2 * FRI", &e);                                /* "*" + "/2": both must match */
    assert_true(cron_matches_local(&e, at(2024, 12, 13, 0, 0)));  /* odd day, Friday */
    assert_false(cron_matches_local(&e, at(2024, 12, 6, 0, 0)));  /* even day, Friday */
    assert_false(cron_matches_local(&e, at(2024, 12, 11, 0, 0))); /* odd day, Wednesday */
    parse_ok("0 0 1 * *", &e);
    assert_true(cron_matches_local(&e, at(2024, 12, 1, 0, 0)));
    assert_false(cron_matches_local(&e, at(2024, 12, 2, 0, 0)));
}

static int64_t next_of(const char *expr, const tz *z, int64_t after)
{
    omlop_err err = OMLOP_ERR_INIT;
    cron_expr e;
    int64_t n = -1;

    parse_ok(expr, &e);
    if (cron_next(&e, z, after, &n, &err) < 0)
        fail_msg("%s: %s", expr, err.msg);
    return n;
}

static void test_cron_next_in_utc(void **state)
{
    tz *z = load("UTC");

    (void)state;
    assert_int_equal(next_of("* * * * *", z, at(2024, 1, 1, 0, 0)), at(2024, 1, 1, 0, 1));
    assert_int_equal(next_of("* * * * *", z, at(2024, 1, 1, 0, 0) + 59), at(2024, 1, 1, 0, 1));
    assert_int_equal(next_of("* * * * *", z, at(2024, 1, 1, 0, 0) - 1), at(2024, 1, 1, 0, 0));
    assert_int_equal(next_of("0 2 * * *", z, at(2024, 1, 1, 2, 0)), at(2024, 1, 2, 2, 0));
    assert_int_equal(next_of("59 23 31 12 *", z, at(2024, 1, 1, 0, 0)), at(2024, 12, 31, 23, 59));
    assert_int_equal(next_of("0 0 * * 7", z, at(2024, 12, 1, 0, 0)), at(2024, 12, 8, 0, 0));
    /* Feb 29 after 2096: 2100 is not a leap year, the next is 2104 */
    assert_int_equal(next_of("0 0 29 2 *", z, at(2096, 3, 1, 0, 0)), at(2104, 2, 29, 0, 0));
    assert_int_equal(next_of("30 4 1 JAN,JUL *", z, at(2024, 1, 1, 4, 30)), at(2024, 7, 1, 4, 30));
    tz_free(z);
}

static void test_cron_next_madrid_across_the_gap(void **state)
{
    tz *z = load("Europe/Madrid");
    int64_t gap_end = 1711846800; /* 2024-03-31 03:00 CEST */

    (void)state;
    /* 02:30 does not exist on 2024-03-31: fires when the gap ends, once, then 02:30 CEST */
    assert_int_equal(next_of("30 2 * * *", z, at(2024, 3, 30, 12, 0)), gap_end);
    assert_int_equal(next_of("30 2 * * *", z, gap_end), at(2024, 4, 1, 0, 30));
    /* four slots in the gap are one fire */
    assert_int_equal(next_of("*/15 2 * * *", z, at(2024, 3, 31, 0, 0)), gap_end);
    assert_int_equal(next_of("*/15 2 * * *", z, gap_end), at(2024, 4, 1, 0, 0));
    /* every minute: 01:59 CET, then 03:00 CEST */
    assert_int_equal(next_of("* * * * *", z, at(2024, 3, 31, 0, 58)), at(2024, 3, 31, 0, 59));
    assert_int_equal(next_of("* * * * *", z, at(2024, 3, 31, 0, 59)), gap_end);
    assert_int_equal(next_of("* * * * *", z, gap_end), gap_end + 60);
    /* 2100: the footer's rule */
    assert_int_equal(next_of("30 2 * * *", z, at(2100, 3, 27, 12, 0)), 4109878800);
    tz_free(z);
}

static void test_cron_next_madrid_across_the_overlap(void **state)
{
    tz *z = load("Europe/Madrid");
    int64_t back = 1729990800; /* 2024-10-27 01:00 UTC: 03:00 CEST -> 02:00 CET */

    (void)state;
    /* 02:30 happens twice: first occurrence (00:30 UTC) only */
    assert_int_equal(next_of("30 2 * * *", z, at(2024, 10, 26, 12, 0)), back - 1800);
    assert_int_equal(next_of("30 2 * * *", z, back - 1800), at(2024, 10, 28, 1, 30));
    /* started during the second 02:xx: its times already fired; next is 03:00 CET */
    assert_int_equal(next_of("* * * * *", z, back + 1800), back + 3600);
    assert_int_equal(next_of("* * * * *", z, back - 60), back + 3600);
    assert_int_equal(next_of("0 * * * *", z, back - 3600), back + 3600);
    tz_free(z);
}

static void test_cron_next_buenos_aires(void **state)
{
    tz *z = load("America/Argentina/Buenos_Aires");

    (void)state;
    assert_int_equal(next_of("0 3 * * *", z, at(2026, 12, 5, 7, 0)), at(2026, 12, 6, 6, 0));
    /* 2007-12-30 00:00 -> 01:00: 00:15 fires at 01:00 ARST (03:00 UTC) */
    assert_int_equal(next_of("15 0 * * *", z, at(2007, 12, 29, 12, 0)), 1198983600);
    /* 2008-03-15 23:xx twice: 23:30 ARST (01:30 UTC) only, then 23:30 ART of the 16th */
    assert_int_equal(next_of("30 23 * * *", z, at(2008, 3, 15, 12, 0)), 1205632800 - 1800);
    assert_int_equal(next_of("30 23 * * *", z, 1205632800 - 1800), at(2008, 3, 17, 2, 30));
    tz_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cron_each_field_at_and_past_its_bounds),
        cmocka_unit_test(test_cron_lists_ranges_steps_and_names),
        cmocka_unit_test(test_cron_macros_and_never_firing_days),
        cmocka_unit_test(test_cron_day_fields_or_unless_one_starts_with_star),
        cmocka_unit_test(test_cron_next_in_utc),
        cmocka_unit_test(test_cron_next_madrid_across_the_gap),
        cmocka_unit_test(test_cron_next_madrid_across_the_overlap),
        cmocka_unit_test(test_cron_next_buenos_aires),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
