/*
 * The certificate flags of omlopd (operator/config.c): --tls-renew-before-fraction (a decimal or
 * a ratio strictly between 0 and 1; a clear error naming the flag at and past both bounds) and
 * --acme-solver-image, as flags and as config keys, and what the manager hands to a round.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/config.h"

static int parse_one(omlopd_config *c, const char *flag, const char *value, omlop_err *err)
{
    char *argv[] = {"omlopd", (char *)flag, (char *)value, NULL};

    return config_parse_args(c, 3, argv, err);
}

static void test_fraction_default_is_unset(void **state)
{
    omlopd_config c;

    (void)state;
    config_init(&c);
    assert_true(c.reconcile.tls_renew_fraction == 0.0); /* 0: the reconciler's 1/3 */
    assert_null(c.reconcile.acme_solver_image);
    config_release(&c);
}

static void test_fraction_accepted_forms(void **state)
{
    static const struct {
        const char *text;
        double want;
    } ok[] = {{"0.5", 0.5},           {"1/3", 1.0 / 3.0}, {"0.000001", 0.000001},
              {"0.999999", 0.999999}, {"2/3", 2.0 / 3.0}, {"1/10", 0.1}};

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        omlopd_config c;
        omlop_err err = OMLOP_ERR_INIT;

        config_init(&c);
        if (parse_one(&c, "--tls-renew-before-fraction", ok[i].text, &err) != 0)
            fail_msg("%s: %s", ok[i].text, err.msg);
        assert_true(fabs(c.reconcile.tls_renew_fraction - ok[i].want) < 1e-12);
        config_release(&c);
    }
}

static void test_fraction_refused_at_and_past_the_bounds(void **state)
{
    static const char *const bad[] = {"0",   "1",   "0.0", "1.0", "-0.1", "1.5",
                                      "3/3", "0/3", "1/0", "1/",  "abc",  "0.5x",
                                      "",    "nan", "inf", "4/3", "-1/3"};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        omlopd_config c;
        omlop_err err = OMLOP_ERR_INIT;

        config_init(&c);
        if (parse_one(&c, "--tls-renew-before-fraction", bad[i], &err) != OMLOP_EINVAL)
            fail_msg("'%s' was accepted (%g)", bad[i], c.reconcile.tls_renew_fraction);
        assert_non_null(strstr(err.msg, "--tls-renew-before-fraction"));
        assert_non_null(strstr(err.msg, "strictly between 0 and 1"));
        assert_true(c.reconcile.tls_renew_fraction == 0.0);
        config_release(&c);
    }
}

static void test_fraction_and_image_from_the_file(void **state)
{
    static const char text[] = "tlsRenewBeforeFraction: 0.25\n"
                               "acmeSolverImage: registry.example/busybox:1\n";
    static const char bad[] = "tlsRenewBeforeFraction: 1\n";
    omlopd_config c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    config_init(&c);
    if (config_load_text(&c, "omlopd.yaml", text, sizeof(text) - 1, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(c.reconcile.tls_renew_fraction == 0.25);
    assert_string_equal(c.reconcile.acme_solver_image, "registry.example/busybox:1");
    assert_int_equal(config_load_text(&c, "omlopd.yaml", bad, sizeof(bad) - 1, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "omlopd.yaml:1:"));
    assert_non_null(strstr(err.msg, "tlsRenewBeforeFraction"));
    assert_true(c.reconcile.tls_renew_fraction == 0.25); /* the bad value changed nothing */
    config_release(&c);
}

static void test_solver_image_flag(void **state)
{
    omlopd_config c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    config_init(&c);
    assert_int_equal(parse_one(&c, "--acme-solver-image", "10.237.0.1:5000/x/busybox:1", &err), 0);
    assert_string_equal(c.reconcile.acme_solver_image, "10.237.0.1:5000/x/busybox:1");
    assert_int_equal(parse_one(&c, "--acme-solver-image", "", &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "--acme-solver-image"));
    config_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fraction_default_is_unset),
        cmocka_unit_test(test_fraction_accepted_forms),
        cmocka_unit_test(test_fraction_refused_at_and_past_the_bounds),
        cmocka_unit_test(test_fraction_and_image_from_the_file),
        cmocka_unit_test(test_solver_image_flag),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
