/*
 * Tests for lib/tz: the calendar, TZif files read from the tz database (transition tables and
 * the POSIX rule of the footer), wall-clock to UTC across gaps and overlaps, and the errors.
 * Expected instants were computed with Python's zoneinfo (an independent reader of the same
 * files) and are written out as numbers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/tz.h"

/* Unix seconds of a UTC (or wall-clock "local") date and time. */
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

static void test_tz_calendar_known_days_and_round_trip(void **state)
{
    (void)state;
    assert_int_equal(tz_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(tz_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(tz_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(at(2024, 3, 31, 1, 0), 1711846800);
    assert_int_equal(tz_weekday(0), 4);                               /* Thursday */
    assert_int_equal(tz_weekday(tz_days_from_civil(2024, 12, 1)), 0); /* Sunday */
    assert_true(tz_is_leap(2000) && tz_is_leap(2024) && !tz_is_leap(2100) && !tz_is_leap(2023));
    for (int64_t d = -800000; d < 800000; d += 37) {
        int64_t y;
        int m, dd;

        tz_civil_from_days(d, &y, &m, &dd);
        assert_int_equal(tz_days_from_civil(y, m, dd), d);
    }
}

static void test_tz_madrid_offsets_at_each_side_of_the_2024_changes(void **state)
{
    tz *z = load("Europe/Madrid");

    (void)state;
    assert_int_equal(tz_offset_at(z, 1711846800 - 1), 3600);
    assert_int_equal(tz_offset_at(z, 1711846800), 7200);
    assert_int_equal(tz_offset_at(z, 1729990800 - 1), 7200);
    assert_int_equal(tz_offset_at(z, 1729990800), 3600);
    tz_free(z);
}

static void test_tz_madrid_2100_follows_the_footer_rule(void **state)
{
    tz *z = load("Europe/Madrid");
    int64_t next = 0;

    (void)state;
    /* past any transition table: the footer's CET-1CEST,M3.5.0,M10.5.0/3 */
    assert_int_equal(tz_offset_at(z, 4109878800 - 1), 3600);
    assert_int_equal(tz_offset_at(z, 4109878800), 7200);
    assert_int_equal(tz_offset_at(z, 4128627600 - 1), 7200);
    assert_int_equal(tz_offset_at(z, 4128627600), 3600);
    assert_int_equal(tz_next_transition(z, 4109878800 - 1, &next), 1);
    assert_int_equal(next, 4109878800);
    assert_int_equal(tz_next_transition(z, 4109878800, &next), 1);
    assert_int_equal(next, 4128627600);
    assert_int_equal(tz_next_transition(z, 1711846800 - 1, &next), 1);
    assert_int_equal(next, 1711846800);
    tz_free(z);
}

static void test_tz_madrid_gap_maps_to_its_end_and_overlap_to_first(void **state)
{
    tz *z = load("Europe/Madrid");
    tz_local_kind k;

    (void)state;
    /* 2024-03-31: 02:00 CET -> 03:00 CEST */
    assert_int_equal(tz_local_to_utc(z, at(2024, 3, 31, 1, 59), &k), at(2024, 3, 31, 0, 59));
    assert_int_equal(k, TZ_LOCAL_UNIQUE);
    assert_int_equal(tz_local_to_utc(z, at(2024, 3, 31, 2, 0), &k), 1711846800);
    assert_int_equal(k, TZ_LOCAL_GAP);
    assert_int_equal(tz_local_to_utc(z, at(2024, 3, 31, 2, 59), &k), 1711846800);
    assert_int_equal(k, TZ_LOCAL_GAP);
    assert_int_equal(tz_local_to_utc(z, at(2024, 3, 31, 3, 0), &k), 1711846800);
    assert_int_equal(k, TZ_LOCAL_UNIQUE);
    /* 2024-10-27: 03:00 CEST -> 02:00 CET; 02:00-02:59 twice */
    assert_int_equal(tz_local_to_utc(z, at(2024, 10, 27, 1, 59), &k), at(2024, 10, 26, 23, 59));
    assert_int_equal(k, TZ_LOCAL_UNIQUE);
    assert_int_equal(tz_local_to_utc(z, at(2024, 10, 27, 2, 0), &k), at(2024, 10, 27, 0, 0));
    assert_int_equal(k, TZ_LOCAL_OVERLAP);
    assert_int_equal(tz_local_to_utc(z, at(2024, 10, 27, 2, 59), &k), at(2024, 10, 27, 0, 59));
    assert_int_equal(k, TZ_LOCAL_OVERLAP);
    assert_int_equal(tz_local_to_utc(z, at(2024, 10, 27, 3, 0), &k), at(2024, 10, 27, 2, 0));
    assert_int_equal(k, TZ_LOCAL_UNIQUE);
    /* the same in 2100, from the footer rule */
    assert_int_equal(tz_local_to_utc(z, at(2100, 3, 28, 2, 30), &k), 4109878800);
    assert_int_equal(k, TZ_LOCAL_GAP);
    assert_int_equal(tz_local_to_utc(z, at(2100, 10, 31, 2, 30), &k), 4128627600 - 1800);
    assert_int_equal(k, TZ_LOCAL_OVERLAP);
    tz_free(z);
}

static void test_tz_buenos_aires_historic_dst_and_none_now(void **state)
{
    tz *z = load("America/Argentina/Buenos_Aires");
    tz_local_kind k;
    int64_t next = 0;

    (void)state;
    /* 2007-12-30 00:00 ART -> 01:00 ARST (03:00 UTC) */
    assert_int_equal(tz_offset_at(z, 1198983600 - 1), -10800);
    assert_int_equal(tz_offset_at(z, 1198983600), -7200);
    assert_int_equal(tz_local_to_utc(z, at(2007, 12, 30, 0, 30), &k), 1198983600);
    assert_int_equal(k, TZ_LOCAL_GAP);
    /* 2008-03-16 00:00 ARST -> 2008-03-15 23:00 ART (02:00 UTC): 23:xx twice */
    assert_int_equal(tz_local_to_utc(z, at(2008, 3, 15, 23, 30), &k), 1205632800 - 1800);
    assert_int_equal(k, TZ_LOCAL_OVERLAP);
    assert_int_equal(tz_local_to_utc(z, at(2008, 3, 16, 0, 0), &k), 1205632800 + 3600);
    assert_int_equal(k, TZ_LOCAL_UNIQUE);
    /* no DST since 2009: -03 for good, no transition ahead */
    assert_int_equal(tz_offset_at(z, at(2026, 1, 1, 0, 0)), -10800);
    assert_int_equal(tz_offset_at(z, at(2026, 7, 1, 0, 0)), -10800);
    assert_int_equal(tz_next_transition(z, at(2020, 1, 1, 0, 0), &next), 0);
    assert_int_equal(tz_local_to_utc(z, at(2026, 12, 5, 3, 0), &k), at(2026, 12, 5, 6, 0));
    assert_int_equal(k, TZ_LOCAL_UNIQUE);
    tz_free(z);
}

static void test_tz_posix_rules_southern_julian_and_fixed(void **state)
{
    omlop_err err = OMLOP_ERR_INIT;
    tz *z = NULL;

    (void)state;
    /* Sydney: DST from the first Sunday of October to the first Sunday of April (03:00) */
    assert_int_equal(tz_from_posix("AEST-10AEDT,M10.1.0,M4.1.0/3", &z, &err), 0);
    assert_int_equal(tz_offset_at(z, at(2024, 1, 15, 0, 0)), 39600);
    assert_int_equal(tz_offset_at(z, at(2024, 7, 15, 0, 0)), 36000);
    assert_int_equal(tz_offset_at(z, at(2024, 4, 6, 16, 0) - 1), 39600); /* 03:00 AEDT */
    assert_int_equal(tz_offset_at(z, at(2024, 4, 6, 16, 0)), 36000);
    assert_int_equal(tz_offset_at(z, at(2024, 10, 5, 16, 0) - 1), 36000); /* 02:00 AEST */
    assert_int_equal(tz_offset_at(z, at(2024, 10, 5, 16, 0)), 39600);
    tz_free(z);
    /* Julian days: J60 is March 1 in every year; 59 (0-based) is Feb 29 in a leap year */
    assert_int_equal(tz_from_posix("XST5XDT,J60/0,59/0", &z, &err), 0);
    assert_int_equal(tz_offset_at(z, at(2024, 3, 1, 5, 0) - 1), -18000);
    assert_int_equal(tz_offset_at(z, at(2024, 3, 1, 5, 0)), -18000 + 3600);
    assert_int_equal(tz_offset_at(z, at(2024, 2, 29, 5, 0) - 3600 - 1), -18000 + 3600);
    assert_int_equal(tz_offset_at(z, at(2024, 2, 29, 4, 0)), -18000);
    tz_free(z);
    assert_int_equal(tz_from_posix("<+0530>-5:30", &z, &err), 0);
    assert_int_equal(tz_offset_at(z, 0), 19800);
    tz_free(z);
    assert_int_equal(tz_from_posix("CET-1CEST,M13.5.0,M10.5.0", &z, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "M13.5.0"));
    assert_int_equal(tz_from_posix("C-1", &z, &err), OMLOP_EINVAL);
}

static void test_tz_load_errors_name_the_zone(void **state)
{
    omlop_err err = OMLOP_ERR_INIT;
    char dir[] = "/tmp/test_tz_XXXXXX", path[128];
    FILE *f;
    tz *z = NULL;

    (void)state;
    assert_int_equal(tz_load("Europe/Madird", NULL, &z, &err), OMLOP_ENOTFOUND);
    assert_null(z);
    assert_non_null(strstr(err.msg, "time zone \"Europe/Madird\": not in the tz database"));
    assert_int_equal(tz_load("../../etc/passwd", NULL, &z, &err), OMLOP_EINVAL);
    assert_int_equal(tz_load("/etc/passwd", NULL, &z, &err), OMLOP_EINVAL);
    assert_int_equal(tz_load("", NULL, &z, &err), OMLOP_EINVAL);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/Bad", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("TZif2 not really\n", f);
    fclose(f);
    assert_int_equal(tz_load("Bad", dir, &z, &err), OMLOP_EPROTO);
    assert_non_null(strstr(err.msg, "\"Bad\""));
    unlink(path);
    /* UTC needs no file */
    assert_int_equal(tz_load("UTC", dir, &z, &err), 0);
    assert_int_equal(tz_offset_at(z, 1711846800), 0);
    assert_string_equal(tz_name(z), "UTC");
    tz_free(z);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tz_calendar_known_days_and_round_trip),
        cmocka_unit_test(test_tz_madrid_offsets_at_each_side_of_the_2024_changes),
        cmocka_unit_test(test_tz_madrid_2100_follows_the_footer_rule),
        cmocka_unit_test(test_tz_madrid_gap_maps_to_its_end_and_overlap_to_first),
        cmocka_unit_test(test_tz_buenos_aires_historic_dst_and_none_now),
        cmocka_unit_test(test_tz_posix_rules_southern_julian_and_fixed),
        cmocka_unit_test(test_tz_load_errors_name_the_zone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
