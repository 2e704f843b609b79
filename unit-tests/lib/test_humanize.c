/* Tests for lib/humanize: the AGE text omlopd's tables and omlctl both print. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/humanize.h"

/* Each boundary where Kubernetes' HumanDuration changes unit or precision. */
static void test_duration_matches_kubernetes(void **state)
{
    static const struct {
        int64_t s;
        const char *want;
    } cases[] = {
        {-5, "<invalid>"},
        {-1, "0s"},
        {0, "0s"},
        {59, "59s"},
        {119, "119s"},
        {120, "2m"},
        {150, "2m30s"},
        {599, "9m59s"},
        {600, "10m"},
        {3 * 3600 - 1, "179m"},
        {3 * 3600, "3h"},
        {3 * 3600 + 60, "3h1m"},
        {11100, "3h5m"},
        {8 * 3600, "8h"},
        {47 * 3600, "47h"},
        {48 * 3600, "2d"},
        {50 * 3600, "2d2h"},
        {8 * 86400, "8d"},
        {10 * 86400, "10d"},
        {400 * 86400LL, "400d"},
        {730 * 86400LL, "2y"},
        {731 * 86400LL, "2y1d"},
        {(730 + 5) * 86400LL, "2y5d"},
        {3000 * 86400LL, "8y"},
        {300000000, "9y"},
    };
    char buf[32];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        humanize_duration(cases[i].s, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].want);
    }
}

/* A short buffer truncates; it is never overrun. */
static void test_duration_respects_buffer_size(void **state)
{
    char buf[4] = "xxx";

    (void)state;
    humanize_duration(150, buf, sizeof(buf));
    assert_string_equal(buf, "2m3");
    humanize_duration(-5, buf, 1);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_matches_kubernetes),
        cmocka_unit_test(test_duration_respects_buffer_size),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
