/* Tests for the store settings of operator/config: compaction window, watch buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "operator/config.h"
#include "store/store.h"

static void test_config_store_defaults_are_the_stores(void **state)
{
    omlopd_config c;
    store_options so;

    (void)state;
    config_init(&c);
    store_options_default(&so);
    assert_int_equal(c.compact_keep, so.compact_keep);
    assert_int_equal(c.compact_interval_s, so.compact_interval_s);
    assert_int_equal(c.watch_buffer, (int)so.watch_buffer);
    config_release(&c);
}

static void test_config_store_keys_and_flags(void **state)
{
    static const char text[] = "compactKeep: 500\ncompactInterval: 0\nwatchBuffer: 64\n";
    char *argv[] = {"omlopd", "--compact-keep", "700", "--watch-buffer=128", NULL};
    omlopd_config c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    config_init(&c);
    assert_int_equal(config_load_text(&c, "t.yaml", text, strlen(text), &err), 0);
    assert_int_equal(c.compact_keep, 500);
    assert_int_equal(c.compact_interval_s, 0);
    assert_int_equal(c.watch_buffer, 64);
    assert_int_equal(config_parse_args(&c, 4, argv, &err), 0);
    assert_int_equal(c.compact_keep, 700);
    assert_int_equal(c.watch_buffer, 128);
    config_release(&c);
}

static void test_config_store_bad_values_name_the_flag(void **state)
{
    char *a1[] = {"omlopd", "--compact-keep", "0", NULL};
    char *a2[] = {"omlopd", "--watch-buffer", "lots", NULL};
    omlopd_config c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    config_init(&c);
    assert_int_not_equal(config_parse_args(&c, 3, a1, &err), 0);
    assert_non_null(strstr(err.msg, "--compact-keep"));
    config_release(&c);
    config_init(&c);
    assert_int_not_equal(config_parse_args(&c, 3, a2, &err), 0);
    assert_non_null(strstr(err.msg, "--watch-buffer"));
    config_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_store_defaults_are_the_stores),
        cmocka_unit_test(test_config_store_keys_and_flags),
        cmocka_unit_test(test_config_store_bad_values_name_the_flag),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
