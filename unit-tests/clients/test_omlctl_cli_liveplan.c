/*
 * omlctl describe and omlctl diff show a tenant's live plan (status.plan,
 * clients/omlctl/liveplan.h) against a real omlopd run with --no-reconcile
 * (the test writes the status itself, as the reconciler would): describe
 * prints a "Plan" section, diff prints the plan after the spec diff and only
 * when there is one, without changing its exit status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/cjson.h"
#include "unit-tests/clients/omlctl_harness.h"

static octl_env env;
static char tenant_file[512];

static int setup(void **state)
{
    static const char *const flags[] = {"--no-reconcile", NULL};
    const char *src = getenv("OMLOP_SRCDIR");
    octl_run r;
    int rc;

    (void)state;
    if (octl_start(&env, flags) < 0)
        return -1;
    snprintf(tenant_file, sizeof(tenant_file), "%s/crds/examples/tenant-aio.yaml", src ? src : ".");
    rc = OCTL(&env, &r, NULL, "apply", "-f", tenant_file);
    if (rc != 0)
        octl_dump("apply tenant-aio.yaml", &r);
    octl_run_release(&r);
    return rc == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    octl_stop(&env);
    return 0;
}

/* Replace the tenant's status through the /status subresource, as the operator does. */
static void set_status(const char *status_json)
{
    const char *path = APICLIENT_PREFIX "/tenants/algarrobo/status";
    json_object *obj = NULL, *status = json_tokener_parse(status_json);
    omlop_err err = OMLOP_ERR_INIT;

    assert_non_null(status);
    assert_int_equal(apiclient_json(env.api, "GET", APICLIENT_PREFIX "/tenants/algarrobo", NULL,
                                    NULL, &obj, &err),
                     0);
    json_object_object_add(obj, "status", status);
    if (apiclient_json(env.api, "PUT", path, NULL, obj, NULL, &err) < 0)
        fail_msg("PUT %s: %s", path, err.msg);
    json_object_put(obj);
}

static const char pending_status[] =
    "{\"phase\":\"Degraded\",\"plan\":["
    "{\"host\":\"algarrobo\",\"action\":\"pull\",\"component\":\"nginx\","
    "\"image\":\"docker.io/omnileads/nginx:9\",\"reason\":\"image not on the host\","
    "\"error\":\"manifest unknown\"},"
    "{\"host\":\"algarrobo\",\"action\":\"create\",\"container\":\"oml-nginx-server\","
    "\"component\":\"nginx\",\"image\":\"docker.io/omnileads/nginx:9\",\"reason\":\"missing\"}]}";

static void test_describe_shows_the_live_plan(void **state)
{
    octl_run r;

    (void)state;
    set_status(pending_status);
    OCTL(&env, &r, NULL, "describe", "tenant", "algarrobo");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "Plan (pending after the last reconcile):\n"
                                    "  algarrobo: pull docker.io/omnileads/nginx:9: image not on "
                                    "the host\n"
                                    "    last attempt: manifest unknown\n"
                                    "  algarrobo: create oml-nginx-server (nginx, image "
                                    "docker.io/omnileads/nginx:9): missing\n");
    octl_run_release(&r);

    set_status("{\"phase\":\"Ready\"}");
    OCTL(&env, &r, NULL, "describe", "tenant", "algarrobo");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "<none: nothing pending>");
    assert_null(strstr(r.out.buf, "last attempt"));
    octl_run_release(&r);
}

static void test_diff_prints_the_live_plan_only_when_there_is_one(void **state)
{
    octl_run r;

    (void)state;
    set_status(pending_status);
    OCTL(&env, &r, NULL, "diff", "-f", tenant_file);
    octl_assert_code(&r, 0); /* apply would change nothing: the plan does not change that */
    octl_assert_contains(r.out.buf,
                         "# live plan of tenant/algarrobo (pending after the last reconcile):\n"
                         "  algarrobo: pull docker.io/omnileads/nginx:9");
    octl_run_release(&r);

    set_status("{\"phase\":\"Ready\"}");
    OCTL(&env, &r, NULL, "diff", "-f", tenant_file);
    octl_assert_code(&r, 0);
    assert_null(strstr(r.out.buf, "live plan"));
    assert_string_equal(r.out.buf, "");
    octl_run_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe_shows_the_live_plan),
        cmocka_unit_test(test_diff_prints_the_live_plan_only_when_there_is_one),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
