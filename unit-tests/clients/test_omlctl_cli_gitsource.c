/*
 * GitOps end to end against a real omlopd (see omlctl_harness.h) and a real repository made
 * with libgit2 (file://): a GitSource applied with omlctl is synced by omlopd's gitsync thread
 * at creation and on its interval, `omlctl gitsource sync` makes a sync immediate, `omlctl
 * describe tenant` names the source and commit, `omlctl get gitsources` lists it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit-tests/clients/git_fixture.h"
#include "unit-tests/clients/omlctl_harness.h"

static octl_env env;
static git_fixture repo;

static int setup(void **state)
{
    (void)state;
    if (gitfx_start(&repo) < 0)
        return -1;
    return octl_start(&env, NULL) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    octl_stop(&env);
    gitfx_stop(&repo);
    return 0;
}

/* A paused tenant (the reconcile loop leaves it alone) with this omlapp tag. */
static void write_tenant(const char *name, const char *tag)
{
    strbuf path = STRBUF_INIT, text = STRBUF_INIT;

    strbuf_addf(&path, "tenants/%s.yaml", name);
    strbuf_addf(&text,
                "apiVersion: omlop.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: %s\n"
                "  annotations:\n    omlop.io/paused: \"true\"\n"
                "spec:\n  layout: aio\n  hosts:\n    - name: h\n      lanIP: 10.0.0.7\n"
                "      ssh:\n        address: 10.0.0.7\n        identitySecretRef:\n"
                "          name: k\n  images:\n    tags:\n      omlapp: \"%s\"\n",
                name, tag);
    assert_int_equal(gitfx_write(&repo, path.buf, text.buf), 0);
    strbuf_release(&path);
    strbuf_release(&text);
}

static void apply_source(const char *interval)
{
    strbuf sb = STRBUF_INIT;
    octl_run r;

    strbuf_addf(&sb,
                "apiVersion: omlop.io/v1alpha1\nkind: GitSource\nmetadata:\n  name: fleet\n"
                "spec:\n  url: %s\n  branch: main\n  path: tenants\n  interval: %s\n"
                "  prune: true\n",
                repo.url, interval);
    OCTL(&env, &r, sb.buf, "apply", "-f", "-");
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    strbuf_release(&sb);
}

/* The object, or NULL when absent (no failure). */
static json_object *try_fetch(const char *plural, const char *name)
{
    strbuf path = STRBUF_INIT;
    json_object *o = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    apiclient_path(&path, plural, name, NULL);
    if (apiclient_json(env.api, "GET", path.buf, NULL, NULL, &o, &err) < 0)
        o = NULL;
    strbuf_release(&path);
    return o;
}

/* Wait up to timeout_ms for tenant name to carry omlapp tag; the time it took, or -1. */
static long wait_tag(const char *name, const char *tag, long timeout_ms)
{
    long start = octl_now_ms();

    while (octl_now_ms() - start < timeout_ms) {
        json_object *o = try_fetch("tenants", name);
        const char *got = o ? cjson_get_string(o, "spec.images.tags.omlapp") : NULL;
        int ok = got && strcmp(got, tag) == 0;

        json_object_put(o);
        if (ok)
            return octl_now_ms() - start;
        octl_sleep_ms(50);
    }
    return -1;
}

static long wait_gone(const char *name, long timeout_ms)
{
    long start = octl_now_ms();

    while (octl_now_ms() - start < timeout_ms) {
        json_object *o = try_fetch("tenants", name);

        if (!o)
            return octl_now_ms() - start;
        json_object_put(o);
        octl_sleep_ms(50);
    }
    return -1;
}

static void test_gitsource_end_to_end(void **state)
{
    octl_run r;
    json_object *o;
    char c1[41], c2[41], c3[41], c4[41];
    long took;

    (void)state;
    write_tenant("t1", "1.0");
    write_tenant("t2", "1.0");
    assert_int_equal(gitfx_commit(&repo, "two tenants", c1), 0);

    /* a new source syncs at once */
    apply_source("2s");
    if (wait_tag("t1", "1.0", 20000) < 0 || wait_tag("t2", "1.0", 5000) < 0)
        fail_msg("the tenants of the first commit were not applied");
    o = octl_fetch(&env, "tenants", "t1");
    assert_string_equal(json_object_get_string(json_object_object_get(
                            cjson_get(o, "metadata.labels"), "omlop.io/source")),
                        "fleet");
    json_object_put(o);

    /* the interval picks up a new commit */
    write_tenant("t1", "2.0");
    assert_int_equal(gitfx_commit(&repo, "upgrade t1", c2), 0);
    took = wait_tag("t1", "2.0", 15000);
    if (took < 0)
        fail_msg("the interval did not apply commit %s", c2);

    /* a long interval: a commit waits... */
    apply_source("1h");
    octl_sleep_ms(1500); /* the spec change's own sync */
    write_tenant("t1", "3.0");
    assert_int_equal(gitfx_commit(&repo, "upgrade t1 again", c3), 0);
    assert_int_equal(wait_tag("t1", "3.0", 2500), -1);
    /* ...until a sync is requested */
    OCTL(&env, &r, NULL, "gitsource", "sync", "fleet");
    octl_assert_code(&r, 0);
    assert_non_null(strstr(r.out.buf, "gitsource/fleet sync requested"));
    octl_run_release(&r);
    took = wait_tag("t1", "3.0", 10000);
    if (took < 0)
        fail_msg("the sync request did not apply commit %s", c3);
    fprintf(stderr, "sync request to applied: %ld ms\n", took);

    OCTL(&env, &r, NULL, "describe", "tenant", "t1");
    octl_assert_code(&r, 0);
    {
        strbuf want = STRBUF_INIT;

        strbuf_addf(&want, "GitSource fleet, commit %s", c3);
        if (!strstr(r.out.buf, want.buf))
            fail_msg("describe does not name the source:\n%s", r.out.buf);
        strbuf_release(&want);
    }
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "gitsources");
    octl_assert_code(&r, 0);
    assert_non_null(strstr(r.out.buf, "fleet"));
    assert_non_null(strstr(r.out.buf, c3));
    assert_non_null(strstr(r.out.buf, "True"));
    octl_run_release(&r);

    /* prune: the file goes, the tenant goes (sync asked for, the interval is 1h) */
    assert_int_equal(gitfx_write(&repo, "tenants/t2.yaml", NULL), 0);
    assert_int_equal(gitfx_commit(&repo, "drop t2", c4), 0);
    OCTL(&env, &r, NULL, "gitsource", "sync", "fleet");
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    if (wait_gone("t2", 10000) < 0)
        fail_msg("t2 was not pruned");

    /* the copy of a deleted source goes with it; its tenants stay (no cascade) */
    {
        strbuf copy = STRBUF_INIT;
        long start = octl_now_ms();

        strbuf_addf(&copy, "%s/data/gitsources/fleet/HEAD", env.dir);
        assert_int_equal(access(copy.buf, F_OK), 0);
        OCTL(&env, &r, NULL, "delete", "gitsource", "fleet");
        octl_assert_code(&r, 0);
        octl_run_release(&r);
        while (access(copy.buf, F_OK) == 0 && octl_now_ms() - start < 10000)
            octl_sleep_ms(50);
        assert_int_equal(access(copy.buf, F_OK), -1);
        o = octl_fetch(&env, "tenants", "t1");
        json_object_put(o);
        strbuf_release(&copy);
    }

    /* errors: no such source (404), no subcommand (usage) */
    OCTL(&env, &r, NULL, "gitsource", "sync", "nosuch");
    octl_assert_code(&r, 1);
    assert_non_null(strstr(r.err.buf, "404"));
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "gitsource");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gitsource_end_to_end),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
