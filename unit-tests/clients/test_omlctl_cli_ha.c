/*
 * omlctl ha switchover against a real omlopd (see omlctl_harness.h): --to sets the annotation
 * omlop.io/ha-primary that omlopd reads as the wanted PostgreSQL primary (reconcilers/ha_pg.h),
 * --clear removes it; a host the tenant does not have, a tenant not of layout ha and bad flags
 * are refused, naming what is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/xalloc.h"
#include "unit-tests/clients/omlctl_harness.h"

static octl_env env;

static int setup(void **state)
{
    (void)state;
    return octl_start(&env, NULL) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    octl_stop(&env);
    return 0;
}

/* A paused tenant (the reconcile loop leaves it alone) of layout ha, or aio. */
static void apply_tenant(const char *name, int is_ha)
{
    strbuf sb = STRBUF_INIT;
    octl_run r;

    strbuf_addf(&sb,
                "apiVersion: omlop.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: %s\n"
                "  annotations:\n    omlop.io/paused: \"true\"\nspec:\n  layout: %s\n  hosts:\n",
                name, is_ha ? "ha" : "aio");
    strbuf_addf(&sb,
                "    - name: a\n%s      lanIP: 10.0.0.7\n      ssh:\n        address: "
                "10.0.0.7\n        identitySecretRef:\n          name: k\n",
                is_ha ? "      role: main\n" : "");
    if (is_ha)
        strbuf_adds(&sb, "    - name: b\n      role: backup\n      lanIP: 10.0.0.8\n      ssh:\n"
                         "        address: 10.0.0.8\n        identitySecretRef:\n"
                         "          name: k\n  ha:\n    vipNIC: eth0\n    netaddr: 10.0.0.0/24\n"
                         "    omnileadsVIP: 10.0.0.200\n    postgresRWVIP: 10.0.0.201\n"
                         "    postgresROVIP: 10.0.0.202\n");
    OCTL(&env, &r, sb.buf, "apply", "-f", "-");
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    strbuf_release(&sb);
}

/* The tenant's omlop.io/ha-primary annotation, or NULL (a copy: caller frees). */
static char *wanted(const char *name)
{
    json_object *o = octl_fetch(&env, "tenants", name);
    json_object *a = cjson_get(o, "metadata.annotations"), *v = NULL;
    char *s = NULL;

    if (a && json_object_object_get_ex(a, "omlop.io/ha-primary", &v))
        s = xstrdup(json_object_get_string(v));
    json_object_put(o);
    return s;
}

static void test_ha_switchover_sets_and_clears_the_annotation(void **state)
{
    octl_run r;
    char *w;

    (void)state;
    apply_tenant("pair", 1);
    OCTL(&env, &r, NULL, "ha", "switchover", "tenant/pair", "--to", "b");
    octl_assert_code(&r, 0);
    assert_non_null(strstr(r.out.buf, "tenant/pair: switchover to b requested"));
    octl_run_release(&r);
    w = wanted("pair");
    assert_non_null(w);
    assert_string_equal(w, "b");
    free(w);
    /* the paused annotation is untouched by the patch */
    {
        json_object *o = octl_fetch(&env, "tenants", "pair");

        assert_string_equal(json_object_get_string(json_object_object_get(
                                cjson_get(o, "metadata.annotations"), "omlop.io/paused")),
                            "true");
        json_object_put(o);
    }

    OCTL(&env, &r, NULL, "ha", "switchover", "tn/pair", "--clear");
    octl_assert_code(&r, 0);
    assert_non_null(strstr(r.out.buf, "switchover request cleared"));
    octl_run_release(&r);
    assert_null(wanted("pair"));
}

static void test_ha_switchover_refuses(void **state)
{
    octl_run r;

    (void)state;
    apply_tenant("pair2", 1);
    apply_tenant("single", 0);
    /* a host the tenant does not have */
    OCTL(&env, &r, NULL, "ha", "switchover", "tenant/pair2", "--to", "c");
    octl_assert_code(&r, 1);
    assert_non_null(strstr(r.err.buf, "--to c: tenant pair2 has no host named so"));
    octl_run_release(&r);
    assert_null(wanted("pair2"));
    /* not layout ha */
    OCTL(&env, &r, NULL, "ha", "switchover", "tenant/single", "--to", "a");
    octl_assert_code(&r, 1);
    assert_non_null(strstr(r.err.buf, "tenant single has layout aio, not ha"));
    octl_run_release(&r);
    /* missing tenant */
    OCTL(&env, &r, NULL, "ha", "switchover", "tenant/nope", "--to", "a");
    octl_assert_code(&r, 1);
    octl_run_release(&r);
    /* usage: neither or both flags, another request, no tenant, another kind */
    OCTL(&env, &r, NULL, "ha", "switchover", "tenant/pair2");
    octl_assert_code(&r, 2);
    assert_non_null(strstr(r.err.buf, "--to NODE or --clear"));
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "ha", "switchover", "tenant/pair2", "--to", "a", "--clear");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "ha", "failover", "tenant/pair2");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "ha", "switchover", "--to", "a");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "ha", "switchover", "secret/k", "--to", "a");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ha_switchover_sets_and_clears_the_annotation),
        cmocka_unit_test(test_ha_switchover_refuses),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
