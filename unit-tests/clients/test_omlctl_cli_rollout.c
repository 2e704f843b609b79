/*
 * omlctl rollout against a real omlopd (see omlctl_harness.h): an upgrade of
 * two image tags by apply shows as two revisions; undo puts the old tags back
 * as a new revision; --to-revision; --revision -o yaml|json; and the errors
 * (unknown tenant, one revision only, no such revision, bad usage).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/cjson.h"
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

/*
 * Apply a paused tenant (a reconcile loop in omlopd leaves it alone) with these
 * omlapp and asterisk tags; cause is the change-cause annotation, or NULL.
 */
static void apply_tenant(const char *name, const char *omlapp, const char *asterisk,
                         const char *cause, const char *extra_spec)
{
    strbuf sb = STRBUF_INIT;
    octl_run r;

    strbuf_addf(&sb,
                "apiVersion: omlop.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: %s\n"
                "  annotations:\n    omlop.io/paused: \"true\"\n",
                name);
    if (cause)
        strbuf_addf(&sb, "    kubernetes.io/change-cause: %s\n", cause);
    strbuf_addf(&sb,
                "spec:\n  layout: aio\n  hosts:\n    - name: h\n      lanIP: 10.0.0.7\n"
                "      ssh:\n        address: 10.0.0.7\n        identitySecretRef:\n"
                "          name: k\n  images:\n    tags:\n      omlapp: \"%s\"\n"
                "      asterisk: \"%s\"\n%s",
                omlapp, asterisk, extra_spec ? extra_spec : "");
    OCTL(&env, &r, sb.buf, "apply", "-f", "-");
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    strbuf_release(&sb);
}

static void assert_tags(const char *name, const char *omlapp, const char *asterisk,
                        const char *generation)
{
    json_object *o = octl_fetch(&env, "tenants", name);
    char gen[32];

    octl_assert_field(o, "spec.images.tags.omlapp", omlapp);
    octl_assert_field(o, "spec.images.tags.asterisk", asterisk);
    snprintf(gen, sizeof(gen), "%lld", (long long)cjson_get_int(o, "metadata.generation", -1));
    assert_string_equal(gen, generation);
    json_object_put(o);
}

/* Lines of the history table that are revisions (not the title or header). */
static size_t history_rows(const char *out)
{
    size_t n = 0;

    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (*p >= '0' && *p <= '9')
            n++;
    }
    return n;
}

static void test_rollout_upgrade_then_undo(void **state)
{
    octl_run r;
    json_object *spec;

    (void)state;
    apply_tenant("ro1", "240201.01", "240102.01", "install", NULL);
    apply_tenant("ro1", "241121.01", "240920.01", "upgrade omlapp and asterisk", NULL);
    assert_tags("ro1", "241121.01", "240920.01", "2");

    OCTL(&env, &r, NULL, "rollout", "history", "tenant/ro1");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "tenant/ro1\n");
    octl_assert_contains(r.out.buf, "REVISION");
    octl_assert_contains(r.out.buf, "CHANGE-CAUSE");
    octl_assert_contains(r.out.buf, "AGE");
    octl_assert_contains(r.out.buf, "\n1          install");
    octl_assert_contains(r.out.buf, "\n2          upgrade omlapp and asterisk");
    assert_int_equal(history_rows(r.out.buf), 2);
    octl_run_release(&r);

    /* one revision's spec */
    OCTL(&env, &r, NULL, "rollout", "history", "tenant/ro1", "--revision=1", "-o", "json");
    octl_assert_code(&r, 0);
    spec = json_tokener_parse(r.out.buf);
    assert_non_null(spec);
    octl_assert_field(spec, "images.tags.omlapp", "240201.01");
    octl_assert_field(spec, "images.tags.asterisk", "240102.01");
    json_object_put(spec);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "rollout", "history", "tenant/ro1", "--revision=2", "-o", "yaml");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "241121.01");
    octl_assert_contains(r.out.buf, "layout: aio");
    octl_assert_not_contains(r.out.buf, "omlapp: '240201.01'");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "rollout", "history", "tn", "ro1", "--revision", "1");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "tenant/ro1 with revision #1\nChange-Cause: install\n");
    octl_assert_contains(r.out.buf, "240201.01");
    octl_run_release(&r);

    /* rollback: the old tags again, as revision 3 */
    OCTL(&env, &r, NULL, "rollout", "undo", "tenant/ro1");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "tenant/ro1 rolled back to revision 1\n");
    octl_run_release(&r);
    assert_tags("ro1", "240201.01", "240102.01", "3");
    OCTL(&env, &r, NULL, "rollout", "history", "tenant/ro1");
    octl_assert_code(&r, 0);
    assert_int_equal(history_rows(r.out.buf), 3);
    octl_assert_contains(r.out.buf, "\n3   ");
    octl_run_release(&r);
    /* undo again goes back to the upgrade, like kubectl */
    OCTL(&env, &r, NULL, "rollout", "undo", "tenant/ro1");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "tenant/ro1 rolled back to revision 2\n");
    octl_run_release(&r);
    assert_tags("ro1", "241121.01", "240920.01", "4");
}

static void test_rollout_undo_to_revision(void **state)
{
    octl_run r;
    json_object *o;

    (void)state;
    apply_tenant("ro2", "1.0", "a1", NULL, NULL);
    apply_tenant("ro2", "2.0", "a2", NULL, NULL);
    apply_tenant("ro2", "3.0", "a3", NULL, "  revisionHistoryLimit: 5\n");
    OCTL(&env, &r, NULL, "rollout", "undo", "tenant/ro2", "--to-revision=2");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "tenant/ro2 rolled back to revision 2\n");
    octl_run_release(&r);
    assert_tags("ro2", "2.0", "a2", "4");
    /* the history limit is not rolled back */
    o = octl_fetch(&env, "tenants", "ro2");
    assert_int_equal(cjson_get_int(o, "spec.revisionHistoryLimit", -1), 5);
    json_object_put(o);
    OCTL(&env, &r, NULL, "rollout", "undo", "tenant/ro2", "--to-revision", "1");
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    assert_tags("ro2", "1.0", "a1", "5");
    /* the current spec: nothing to write */
    OCTL(&env, &r, NULL, "rollout", "undo", "tenant/ro2", "--to-revision=5");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "skipped rollback");
    octl_run_release(&r);
    assert_tags("ro2", "1.0", "a1", "5");
}

static void test_rollout_errors(void **state)
{
    octl_run r;

    (void)state;
    OCTL(&env, &r, NULL, "rollout", "undo", "tenant/ghost");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "tenant/ghost not found");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "rollout", "history", "tenant/ghost");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "tenant/ghost not found");
    octl_run_release(&r);

    apply_tenant("ro3", "1.0", "a1", NULL, NULL);
    OCTL(&env, &r, NULL, "rollout", "undo", "tenant/ro3");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "tenant/ro3 has only one revision (revisions kept: 1)");
    octl_run_release(&r);
    apply_tenant("ro3", "2.0", "a2", NULL, NULL);
    OCTL(&env, &r, NULL, "rollout", "undo", "tenant/ro3", "--to-revision=9");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "tenant/ro3 has no revision 9 in its history (revisions kept: "
                                    "1, 2)");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "rollout", "history", "tenant/ro3", "--revision=7");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "has no revision 7");
    octl_run_release(&r);
    assert_tags("ro3", "2.0", "a2", "2"); /* no error wrote anything */

    /* with no history kept */
    apply_tenant("ro4", "1.0", "a1", NULL, "  revisionHistoryLimit: 0\n");
    OCTL(&env, &r, NULL, "rollout", "undo", "tenant/ro4");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "tenant/ro4 has no rollout history");
    octl_run_release(&r);

    /* usage */
    OCTL(&env, &r, NULL, "rollout");
    octl_assert_code(&r, 2);
    octl_assert_contains(r.err.buf, "give a subcommand: history or undo");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "rollout", "redo", "tenant/ro3");
    octl_assert_code(&r, 2);
    octl_assert_contains(r.err.buf, "unknown subcommand 'redo'");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "rollout", "undo");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "rollout", "history", "secret/s1");
    octl_assert_code(&r, 2);
    octl_assert_contains(r.err.buf, "only tenants have a rollout history");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "rollout", "undo", "tenant/ro3", "--revision=1");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "rollout", "undo", "tenant/ro3", "--to-revision=-1");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "rollout", "history", "tenant/ro3", "-o", "wide");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "rollout", "--help");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "Examples:");
    octl_assert_contains(r.out.buf, "omlctl rollout undo tenant/acme --to-revision=1");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "--help");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "rollout");
    octl_run_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollout_upgrade_then_undo),
        cmocka_unit_test(test_rollout_undo_to_revision),
        cmocka_unit_test(test_rollout_errors),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
