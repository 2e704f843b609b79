/*
 * omlctl apply, diff and delete against a real omlopd (see omlctl_harness.h):
 * created / unchanged / configured, multi-document files, directories and
 * stdin, validation errors that stop everything, both dry runs, prune, diff's
 * exit codes and output, delete by name, selector and file, and --wait with a
 * finalizer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit-tests/clients/omlctl_harness.h"

static octl_env env;

static int setup(void **state)
{
    (void)state;
    return octl_start(&env, NULL);
}

static int teardown(void **state)
{
    (void)state;
    octl_stop(&env);
    return 0;
}

/* A Secret manifest: the simplest kind, so these tests do not depend on Tenant's spec. */
static void secret(strbuf *out, const char *name, const char *labels, const char *value)
{
    strbuf_addf(out,
                "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: %s\n"
                "  labels:\n    %s\nstringData:\n  key: %s\n",
                name, labels, value);
}

static void write_secret(const char *file, const char *name, const char *labels, const char *value)
{
    strbuf sb = STRBUF_INIT;

    secret(&sb, name, labels, value);
    octl_write_file(&env, file, sb.buf);
    strbuf_release(&sb);
}

static void test_apply_created_unchanged_configured(void **state)
{
    octl_run r;
    char path[512];

    (void)state;
    write_secret("a1.yaml", "a1", "app: demo", "one");
    octl_path(&env, "a1.yaml", path, sizeof(path));
    OCTL(&env, &r, NULL, "apply", "-f", path);
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/a1 created\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "apply", "-f", path);
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/a1 unchanged\n");
    octl_run_release(&r);
    write_secret("a1.yaml", "a1", "app: demo", "two");
    OCTL(&env, &r, NULL, "apply", "-f", path);
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/a1 configured\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "secret", "a1", "-o", "json");
    octl_assert_code(&r, 0);
    /* stringData is write-only, as in Kubernetes: the server keeps it base64 in data. */
    octl_assert_contains(r.out.buf, "\"key\": \"dHdv\"");
    octl_run_release(&r);
}

static void test_apply_directory_multidoc_and_stdin(void **state)
{
    strbuf sb = STRBUF_INIT;
    octl_run r;
    char dir[512];

    (void)state;
    octl_path(&env, "tree", dir, sizeof(dir));
    mkdir(dir, 0700);
    octl_path(&env, "tree/sub", dir, sizeof(dir));
    mkdir(dir, 0700);
    secret(&sb, "m2", "app: multi", "x");
    strbuf_adds(&sb, "---\n");
    secret(&sb, "m3", "app: multi", "y");
    octl_write_file(&env, "tree/b.yaml", sb.buf);
    write_secret("tree/sub/c.yml", "m4", "app: multi", "z");
    write_secret("tree/a.json.txt", "ignored", "app: multi", "z"); /* not a manifest name */
    strbuf_reset(&sb);
    write_secret("tree/a.yaml", "m1", "app: multi", "w");
    octl_path(&env, "tree", dir, sizeof(dir));
    OCTL(&env, &r, NULL, "apply", "-R", "-f", dir);
    octl_assert_code(&r, 0);
    /* Sorted walk: a.yaml, b.yaml (two documents), sub/c.yml. */
    assert_string_equal(r.out.buf, "secret/m1 created\nsecret/m2 created\nsecret/m3 created\n"
                                   "secret/m4 created\n");
    octl_run_release(&r);
    secret(&sb, "m5", "app: multi", "from-stdin");
    OCTL(&env, &r, sb.buf, "apply", "-f", "-");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/m5 created\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "secrets", "-l", "app=multi", "-o", "name");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/m1\nsecret/m2\nsecret/m3\nsecret/m4\nsecret/m5\n");
    octl_run_release(&r);
    strbuf_release(&sb);
}

static void test_apply_validation_errors_stop_everything(void **state)
{
    octl_run r;
    char path[512];

    (void)state;
    octl_write_file(&env, "bad.yaml",
                    "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: good1\n"
                    "stringData:\n  k: v\n"
                    "---\n"
                    "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: bad1\n"
                    "strngData:\n  k: v\n"
                    "---\n"
                    "apiVersion: omlop.io/v1alpha1\nkind: Backup\nmetadata:\n  name: Bad_Name\n"
                    "spec:\n  tenantRef:\n    name: x\n");
    octl_path(&env, "bad.yaml", path, sizeof(path));
    OCTL(&env, &r, NULL, "apply", "-f", path);
    octl_assert_code(&r, 1);
    assert_string_equal(r.out.buf, "");
    /* Every problem, with file:line:col, and a summary. */
    octl_assert_contains(r.err.buf, "bad.yaml:12:1: strngData: ");
    octl_assert_contains(r.err.buf, "bad.yaml:18:9: metadata.name: ");
    octl_assert_contains(r.err.buf, "error: 2 problems");
    octl_assert_contains(r.err.buf, "nothing was sent");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "secret", "good1");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "404 NotFound");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "apply", "-f", "/nonexistent/dir");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "/nonexistent/dir");
    octl_run_release(&r);
}

static void test_apply_dry_runs_change_nothing(void **state)
{
    octl_run r;
    char path[512];

    (void)state;
    write_secret("d1.yaml", "d1", "app: dry", "one");
    octl_path(&env, "d1.yaml", path, sizeof(path));
    OCTL(&env, &r, NULL, "apply", "-f", path, "--dry-run=server");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/d1 created (server dry run)\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "apply", "-f", path, "--dry-run", "client");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/d1 created (dry run)\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "secret", "d1");
    octl_assert_code(&r, 1);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "apply", "-f", path);
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    write_secret("d1.yaml", "d1", "app: dry", "two");
    OCTL(&env, &r, NULL, "apply", "-f", path, "--dry-run=server");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/d1 configured (server dry run)\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "apply", "-f", path, "--dry-run=client");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/d1 configured (dry run)\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "secret", "d1", "-o", "yaml");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "key: b25l\n"); /* base64 of "one": not "two" */
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "apply", "-f", path, "--dry-run=maybe");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
}

static void test_apply_prune_deletes_only_unlisted_matches(void **state)
{
    strbuf sb = STRBUF_INIT;
    octl_run r;
    char path[512];

    (void)state;
    secret(&sb, "p-a", "set: prune", "1");
    strbuf_adds(&sb, "---\n");
    secret(&sb, "p-b", "set: prune", "1");
    strbuf_adds(&sb, "---\n");
    secret(&sb, "p-c", "set: prune", "1");
    strbuf_adds(&sb, "---\n");
    secret(&sb, "p-other", "set: other", "1");
    octl_write_file(&env, "prune-all.yaml", sb.buf);
    octl_path(&env, "prune-all.yaml", path, sizeof(path));
    OCTL(&env, &r, NULL, "apply", "-f", path);
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    write_secret("prune-one.yaml", "p-a", "set: prune", "1");
    octl_path(&env, "prune-one.yaml", path, sizeof(path));
    OCTL(&env, &r, NULL, "apply", "-f", path, "--prune");
    octl_assert_code(&r, 2); /* --prune needs -l */
    octl_assert_contains(r.err.buf, "--prune needs -l");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "apply", "-f", path, "--prune", "-l", "set=prune", "--dry-run=server");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/p-a unchanged (server dry run)\n"
                                   "secret/p-b pruned (server dry run)\n"
                                   "secret/p-c pruned (server dry run)\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "apply", "-f", path, "--prune", "-l", "set=prune");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/p-a unchanged\nsecret/p-b pruned\nsecret/p-c pruned\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "secrets", "-l", "set in (prune,other)", "-o", "name");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/p-a\nsecret/p-other\n");
    octl_run_release(&r);
    strbuf_release(&sb);
}

static void test_diff_exit_codes_and_output(void **state)
{
    octl_run r;
    char path[512];

    (void)state;
    write_secret("f1.yaml", "f1", "app: diff", "one");
    octl_path(&env, "f1.yaml", path, sizeof(path));
    OCTL(&env, &r, NULL, "diff", "-f", path);
    octl_assert_code(&r, 1); /* a new object differs from nothing */
    octl_assert_contains(r.out.buf, "--- /dev/null\n+++ merged/secret/f1\n@@ -0,0 +1,");
    octl_assert_contains(r.out.buf, "+kind: Secret\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "apply", "-f", path);
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "diff", "-f", path);
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "");
    octl_run_release(&r);
    write_secret("f1.yaml", "f1", "app: diff2", "one");
    OCTL(&env, &r, NULL, "diff", "-f", path);
    octl_assert_code(&r, 1);
    assert_string_equal(r.out.buf, "--- live/secret/f1\n"
                                   "+++ merged/secret/f1\n"
                                   "@@ -3,6 +3,6 @@\n"
                                   " metadata:\n"
                                   "   name: f1\n"
                                   "   labels:\n"
                                   "-    app: diff\n"
                                   "+    app: diff2\n"
                                   " data:\n"
                                   "   key: b25l\n");
    octl_run_release(&r);
    /* diff never writes. */
    OCTL(&env, &r, NULL, "get", "secret", "f1", "-o", "yaml");
    octl_assert_contains(r.out.buf, "app: diff\n");
    octl_run_release(&r);
    octl_write_file(&env, "f2.yaml", "kind: Secret\n");
    octl_path(&env, "f2.yaml", path, sizeof(path));
    OCTL(&env, &r, NULL, "diff", "-f", path);
    octl_assert_code(&r, 3); /* an error: > 1, and not the usage code */
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "diff");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
}

static void test_delete_by_name_file_and_selector(void **state)
{
    strbuf sb = STRBUF_INIT;
    octl_run r;
    char path[512];

    (void)state;
    secret(&sb, "x1", "grp: del", "1");
    strbuf_adds(&sb, "---\n");
    secret(&sb, "x2", "grp: del", "1");
    strbuf_adds(&sb, "---\n");
    secret(&sb, "x3", "grp: sel", "1");
    strbuf_adds(&sb, "---\n");
    secret(&sb, "x4", "grp: sel", "1");
    octl_write_file(&env, "del.yaml", sb.buf);
    octl_path(&env, "del.yaml", path, sizeof(path));
    OCTL(&env, &r, NULL, "apply", "-f", path);
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "delete", "secret", "x1", "--wait");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/x1 deleted\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "delete", "secret/x1");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "404 NotFound");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "delete", "secret/x1", "--ignore-not-found");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "delete", "secrets", "-l", "grp=sel", "--dry-run=server");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf,
                        "secret/x3 deleted (server dry run)\nsecret/x4 deleted (server dry run)\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "delete", "secrets", "-l", "grp=sel");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/x3 deleted\nsecret/x4 deleted\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "delete", "-f", path, "--ignore-not-found", "-o", "name");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/x2\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "delete", "secrets");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "delete", "pods", "x");
    octl_assert_code(&r, 2);
    octl_assert_contains(r.err.buf, "unknown resource type \"pods\"");
    octl_run_release(&r);
    strbuf_release(&sb);
}

/* Clear the finalizers of a secret, as a controller finishing its clean-up would. */
static void remove_finalizers(const char *name)
{
    json_object *patch = json_tokener_parse("{\"metadata\":{\"finalizers\":null}}");
    omlop_err err = OMLOP_ERR_INIT;
    strbuf path = STRBUF_INIT;

    apiclient_path(&path, "secrets", name, NULL);
    if (apiclient_json(env.api, "PATCH", path.buf, "application/merge-patch+json", patch, NULL,
                       &err) < 0)
        fail_msg("removing the finalizer of %s: %s", name, err.msg);
    json_object_put(patch);
    strbuf_release(&path);
}

static void test_delete_wait_follows_finalizers(void **state)
{
    const char *const args[] = {"delete",    "secret", "fin1", "--wait",
                                "--timeout", "30s",    "-v",   NULL};
    octl_bg bg = {0, "", ""};
    octl_run r;
    char path[512];

    (void)state;
    octl_write_file(&env, "fin.yaml",
                    "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: fin1\n"
                    "  finalizers: [omlop.io/test]\nstringData:\n  k: v\n");
    octl_path(&env, "fin.yaml", path, sizeof(path));
    OCTL(&env, &r, NULL, "apply", "-f", path);
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "delete", "secret", "fin1", "--wait", "--timeout", "1s");
    octl_assert_code(&r, 1);
    assert_string_equal(r.out.buf, "secret/fin1 deleted\n");
    octl_assert_contains(r.err.buf, "timed out waiting for secret/fin1 to be deleted "
                                    "(finalizers: [\"omlop.io/test\"])");
    octl_run_release(&r);
    /* Still there, deleting; --wait returns once the finalizer is removed. */
    octl_bg_start(&env, &bg, NULL, args);
    assert_int_equal(octl_bg_wait_for(&bg, 1, "api=watch", 20000), 0);
    remove_finalizers("fin1");
    octl_bg_finish(&bg, &r, 30000);
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/fin1 deleted\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "secret", "fin1");
    octl_assert_code(&r, 1);
    octl_run_release(&r);
}

static void test_usage_errors_exit_2(void **state)
{
    static const char *const cases[][4] = {
        {"apply", NULL},
        {"apply", "-f", "x", "extra"},
        {"apply", "-o", "wide", "-f"},
        {"delete", NULL},
        {"delete", "secrets", "--all", "-l"},
        {"get", NULL},
        {"get", "--bogus", NULL},
        {"diff", "-U", "x", NULL},
    };
    octl_run r;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[5] = {cases[i][0], cases[i][1], cases[i][2], cases[i][3], NULL};

        octl_run_args(&env, &r, NULL, args);
        octl_assert_code(&r, 2);
        octl_assert_contains(r.err.buf, "--help");
        octl_run_release(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_created_unchanged_configured),
        cmocka_unit_test(test_apply_directory_multidoc_and_stdin),
        cmocka_unit_test(test_apply_validation_errors_stop_everything),
        cmocka_unit_test(test_apply_dry_runs_change_nothing),
        cmocka_unit_test(test_apply_prune_deletes_only_unlisted_matches),
        cmocka_unit_test(test_diff_exit_codes_and_output),
        cmocka_unit_test(test_delete_by_name_file_and_selector),
        cmocka_unit_test(test_delete_wait_follows_finalizers),
        cmocka_unit_test(test_usage_errors_exit_2),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
