/*
 * omlctl edit against a real omlopd (see omlctl_harness.h), with EDITOR set to
 * small shell scripts that play the user: a plain edit, no change, an empty
 * file, a local validation error fixed on the second opening, one never fixed
 * (the file is kept), a server-side error, and a concurrent change on the
 * server (409 Conflict) that edit re-applies the user's changes over.
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
    if (octl_start(&env, NULL) < 0)
        return -1;
    setenv("OMLCTL_BIN", env.omlctl_bin, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unsetenv("EDITOR");
    octl_stop(&env);
    return 0;
}

static void make_secret(const char *name, const char *value)
{
    strbuf sb = STRBUF_INIT;
    octl_run r;

    strbuf_addf(&sb,
                "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: %s\n"
                "  labels:\n    app: demo\nstringData:\n  key: %s\n",
                name, value);
    OCTL(&env, &r, sb.buf, "apply", "-f", "-");
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    strbuf_release(&sb);
}

/* Install an editor script (body gets the file as $1) and point EDITOR at it. */
static void editor_script(const char *name, const char *body)
{
    char path[512];
    strbuf sb = STRBUF_INIT;

    strbuf_addf(&sb, "#!/bin/sh\nset -e\ncd '%s'\n%s\n", env.dir, body);
    octl_write_file(&env, name, sb.buf);
    octl_path(&env, name, path, sizeof(path));
    chmod(path, 0700);
    setenv("EDITOR", path, 1);
    strbuf_release(&sb);
}

static void test_edit_saves_a_change(void **state)
{
    octl_run r;
    json_object *o;

    (void)state;
    make_secret("e1", "one");
    setenv("EDITOR", "sed -i s/app:\\ demo/app:\\ two/", 1); /* EDITOR may carry arguments */
    OCTL(&env, &r, NULL, "edit", "secret", "e1");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/e1 edited\n");
    octl_run_release(&r);
    o = octl_fetch(&env, "secrets", "e1");
    octl_assert_field(o, "metadata.labels.app", "two");
    json_object_put(o);
    /* JSON works the same way. */
    setenv("EDITOR", "sed -i s/\\\"two\\\"/\\\"three\\\"/", 1);
    OCTL(&env, &r, NULL, "edit", "secret/e1", "-o", "json");
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    o = octl_fetch(&env, "secrets", "e1");
    octl_assert_field(o, "metadata.labels.app", "three");
    json_object_put(o);
}

static void test_edit_without_change_or_emptied_cancels(void **state)
{
    octl_run r;
    json_object *before, *after;

    (void)state;
    make_secret("e2", "one");
    before = octl_fetch(&env, "secrets", "e2");
    setenv("EDITOR", "true", 1);
    OCTL(&env, &r, NULL, "edit", "secret", "e2");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "Edit cancelled, no changes made.\n");
    octl_run_release(&r);
    setenv("EDITOR", "truncate -s 0", 1);
    OCTL(&env, &r, NULL, "edit", "secret", "e2");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "Edit cancelled, no changes made.\n");
    octl_run_release(&r);
    after = octl_fetch(&env, "secrets", "e2");
    assert_string_equal(cjson_get_string(before, "metadata.resourceVersion"),
                        cjson_get_string(after, "metadata.resourceVersion"));
    json_object_put(before);
    json_object_put(after);
    setenv("EDITOR", "false", 1);
    OCTL(&env, &r, NULL, "edit", "secret", "e2");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "the editor 'false' failed");
    octl_run_release(&r);
}

static void test_edit_reopens_with_errors_until_fixed(void **state)
{
    octl_run r;
    json_object *o;
    strbuf seen = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    char path[512];

    (void)state;
    make_secret("e3", "one");
    editor_script("ed-fix.sh",
                  "n=$(cat count-fix 2>/dev/null || echo 0); n=$((n+1)); echo $n > count-fix\n"
                  "if [ $n = 1 ]; then sed -i 's/^data:/dta:/' \"$1\"; exit 0; fi\n"
                  "cp \"$1\" seen-fix.yaml\n"
                  "sed -i 's/^dta:/data:/; s/app: demo/app: fixed/' \"$1\"");
    OCTL(&env, &r, NULL, "edit", "secret", "e3");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/e3 edited\n");
    octl_run_release(&r);
    /* The second opening started with the error, as a comment, above the user's text. */
    strbuf_read_file(&seen, octl_path(&env, "seen-fix.yaml", path, sizeof(path)), 1 << 20, &err);
    octl_assert_contains(seen.buf, "# The object was not saved:\n# ");
    octl_assert_contains(seen.buf, "dta: unknown field \"dta\"");
    octl_assert_contains(seen.buf, "\ndta:\n  key: b25l\n");
    o = octl_fetch(&env, "secrets", "e3");
    octl_assert_field(o, "metadata.labels.app", "fixed");
    json_object_put(o);
    strbuf_release(&seen);
}

static void test_edit_gives_up_when_errors_stay_and_keeps_the_file(void **state)
{
    octl_run r;
    const char *kept;
    char file[512];
    size_t n;

    (void)state;
    make_secret("e4", "one");
    editor_script("ed-stuck.sh",
                  "n=$(cat count-stuck 2>/dev/null || echo 0); n=$((n+1)); echo $n > count-stuck\n"
                  "if [ $n = 1 ]; then sed -i 's/^data:/dta:/' \"$1\"; fi");
    OCTL(&env, &r, NULL, "edit", "secret", "e4");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "edit cancelled: the errors were not fixed; your changes are "
                                    "kept in ");
    kept = strstr(r.err.buf, "kept in ") + strlen("kept in ");
    n = strcspn(kept, "\n");
    snprintf(file, sizeof(file), "%.*s", (int)n, kept);
    assert_int_equal(access(file, R_OK), 0);
    unlink(file);
    octl_run_release(&r);
}

static void test_edit_server_rejection_reopens_editor(void **state)
{
    octl_run r;
    json_object *o;

    (void)state;
    make_secret("e5", "one");
    /* --validate=false: only the server can catch the misspelled field. */
    editor_script(
        "ed-server.sh",
        "n=$(cat count-server 2>/dev/null || echo 0); n=$((n+1)); echo $n > count-server\n"
        "if [ $n = 1 ]; then sed -i 's/^data:/dta:/' \"$1\"; exit 0; fi\n"
        "grep -q '^# omlopd answered 422' \"$1\"\n"
        "sed -i 's/^dta:/data:/; s/app: demo/app: server-ok/' \"$1\"");
    OCTL(&env, &r, NULL, "edit", "secret", "e5", "--validate=false");
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    o = octl_fetch(&env, "secrets", "e5");
    octl_assert_field(o, "metadata.labels.app", "server-ok");
    json_object_put(o);
}

static void test_edit_conflict_reapplies_user_changes(void **state)
{
    octl_run r;
    json_object *o;

    (void)state;
    make_secret("e6", "one");
    octl_write_file(&env, "e6-server.yaml",
                    "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: e6\n"
                    "  labels:\n    app: demo\nstringData:\n  key: changed-by-someone-else\n");
    /* While the user edits a label, someone else changes the value on the server. */
    editor_script("ed-conflict.sh", "\"$OMLCTL_BIN\" apply -f e6-server.yaml > /dev/null\n"
                                    "sed -i 's/app: demo/app: edited/' \"$1\"");
    OCTL(&env, &r, NULL, "edit", "secret", "e6");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.err.buf, "secret/e6 changed on the server meanwhile; re-applying your "
                                    "changes");
    assert_string_equal(r.out.buf, "secret/e6 edited\n");
    octl_run_release(&r);
    o = octl_fetch(&env, "secrets", "e6");
    octl_assert_field(o, "metadata.labels.app", "edited");
    /* stringData is stored base64 in data: "changed-by-someone-else". */
    octl_assert_field(o, "data.key", "Y2hhbmdlZC1ieS1zb21lb25lLWVsc2U=");
    json_object_put(o);
}

static void test_edit_argument_errors(void **state)
{
    octl_run r;

    (void)state;
    setenv("EDITOR", "true", 1);
    OCTL(&env, &r, NULL, "edit", "secret", "nope");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "404 NotFound");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "edit", "secret", "a", "b");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "edit", "secrets");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "edit", "secret", "a", "-o", "wide");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edit_saves_a_change),
        cmocka_unit_test(test_edit_without_change_or_emptied_cancels),
        cmocka_unit_test(test_edit_reopens_with_errors_until_fixed),
        cmocka_unit_test(test_edit_gives_up_when_errors_stay_and_keeps_the_file),
        cmocka_unit_test(test_edit_server_rejection_reopens_editor),
        cmocka_unit_test(test_edit_conflict_reapplies_user_changes),
        cmocka_unit_test(test_edit_argument_errors),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
