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
    octl_assert_contains(r.out.buf, "+  key: '***'\n");
    octl_assert_not_contains(r.out.buf, "b25l");
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
                                   "   key: '***'\n");
    octl_run_release(&r);
    /* A changed value shows as changed, and neither value shows (kubectl diff's masks). */
    write_secret("f1.yaml", "f1", "app: diff", "two-S3KR1T");
    OCTL(&env, &r, NULL, "diff", "-f", path);
    octl_assert_code(&r, 1);
    assert_string_equal(r.out.buf, "--- live/secret/f1\n"
                                   "+++ merged/secret/f1\n"
                                   "@@ -5,4 +5,4 @@\n"
                                   "   labels:\n"
                                   "     app: diff\n"
                                   " data:\n"
                                   "-  key: '*** (before)'\n"
                                   "+  key: '*** (after)'\n");
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

/* --- 3-way apply: what the manifest stops saying is removed ------------------------------ */

/* A Tenant; extra is inserted under metadata (annotations, more labels), nginx may be NULL. */
static void write_tenant(const char *file, const char *name, const char *meta_extra,
                         const char *nginx)
{
    strbuf sb = STRBUF_INIT;

    strbuf_addf(&sb,
                "apiVersion: omlop.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: %s\n"
                "  labels:\n    omlop.io/customer: acme\n%s"
                "spec:\n  layout: aio\n  hosts:\n    - name: h1\n      ssh:\n"
                "        address: 192.0.2.10\n        port: 22\n        user: root\n"
                "        identitySecretRef:\n          name: acme-ssh\n"
                "      lanIP: 192.0.2.10\n"
                "  network:\n    infraEnv: lan\n"
                "  images:\n    tags:\n      asterisk: \"240102.01\"\n",
                name, meta_extra);
    if (nginx)
        strbuf_addf(&sb, "      nginx: \"%s\"\n", nginx);
    octl_write_file(&env, file, sb.buf);
    strbuf_release(&sb);
}

static json_object *get_json(const char *plural, const char *name)
{
    json_object *o = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf path = STRBUF_INIT;

    apiclient_path(&path, plural, name, NULL);
    if (apiclient_json(env.api, "GET", path.buf, NULL, NULL, &o, &err) < 0)
        fail_msg("GET %s: %s", path.buf, err.msg);
    strbuf_release(&path);
    return o;
}

/* metadata.<map>.<key> (keys hold dots, so not a dotted path), or NULL. */
static const char *meta_entry(const json_object *obj, const char *map, const char *key)
{
    json_object *m = json_object_object_get(cjson_get(obj, "metadata"), map);

    return json_object_get_string(json_object_object_get(m, key));
}

/* What another writer (the operator) adds: a finalizer and a status. */
static void add_finalizer_and_status(const char *name)
{
    json_object *patch =
        json_tokener_parse("{\"metadata\":{\"finalizers\":[\"omlop.io/teardown\"]}}");
    json_object *obj;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf path = STRBUF_INIT;

    apiclient_path(&path, "tenants", name, NULL);
    if (apiclient_json(env.api, "PATCH", path.buf, "application/merge-patch+json", patch, NULL,
                       &err) < 0)
        fail_msg("adding a finalizer to %s: %s", name, err.msg);
    obj = get_json("tenants", name);
    json_object_object_add(obj, "status", json_tokener_parse("{\"phase\":\"Ready\"}"));
    strbuf_reset(&path);
    apiclient_path(&path, "tenants", name, "status");
    if (apiclient_json(env.api, "PUT", path.buf, NULL, obj, NULL, &err) < 0)
        fail_msg("PUT %s: %s", path.buf, err.msg);
    json_object_put(obj);
    json_object_put(patch);
    strbuf_release(&path);
}

/* omlctl edit with an editor that adds the label edited=by-edit next to the customer one. */
static void edit_add_label(const char *ref)
{
    char script[512];
    octl_run r;

    octl_write_file(&env, "edit.sh",
                    "#!/bin/sh\nsed -i 's|^\\(  *\\)omlop.io/customer: acme$|&\\n\\1edited: "
                    "by-edit|' \"$1\"\n");
    octl_path(&env, "edit.sh", script, sizeof(script));
    chmod(script, 0700);
    setenv("EDITOR", script, 1);
    OCTL(&env, &r, NULL, "edit", ref);
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    unsetenv("EDITOR");
}

static void test_apply_removes_fields_dropped_from_the_manifest(void **state)
{
    octl_run r;
    json_object *o;
    char path[512];
    const char *rec;

    (void)state;
    write_tenant("t1.yaml", "acme",
                 "    tier: gold\n  annotations:\n    omlop.io/paused: \"true\"\n", "1.25");
    octl_path(&env, "t1.yaml", path, sizeof(path));
    OCTL(&env, &r, NULL, "apply", "-f", path);
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "tenant/acme created\n");
    octl_run_release(&r);
    o = get_json("tenants", "acme");
    rec = meta_entry(o, "annotations", "kubectl.kubernetes.io/last-applied-configuration");
    assert_non_null(rec);
    octl_assert_contains(rec, "\"omlop.io/paused\":\"true\"");
    json_object_put(o);
    add_finalizer_and_status("acme");
    edit_add_label("tenant/acme");

    /* The same file minus the annotation, the tier label and the nginx tag. */
    write_tenant("t1.yaml", "acme", "", NULL);
    OCTL(&env, &r, NULL, "diff", "-f", path);
    octl_assert_code(&r, 1);
    octl_assert_contains(r.out.buf, "-    omlop.io/paused: 'true'\n");
    octl_assert_contains(r.out.buf, "-    tier: gold\n");
    /* The override goes; the server's default comes back. */
    octl_assert_contains(r.out.buf, "-      nginx: '1.25'\n+      nginx: '");
    assert_null(strstr(r.out.buf, "-    edited")); /* kept: at most context */
    assert_null(strstr(r.out.buf, "last-applied"));
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "apply", "-f", path, "--dry-run=client");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "tenant/acme configured (dry run)\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "apply", "-f", path);
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "tenant/acme configured\n");
    octl_run_release(&r);

    o = get_json("tenants", "acme");
    assert_null(meta_entry(o, "annotations", "omlop.io/paused"));
    assert_null(meta_entry(o, "labels", "tier"));
    assert_non_null(cjson_get_string(o, "spec.images.tags.nginx"));
    assert_string_not_equal(cjson_get_string(o, "spec.images.tags.nginx"), "1.25");
    assert_string_equal(cjson_get_string(o, "spec.images.tags.asterisk"), "240102.01");
    assert_string_equal(meta_entry(o, "labels", "omlop.io/customer"), "acme");
    /* Never applied, so kept: the edit, the operator's finalizer and status. */
    assert_string_equal(meta_entry(o, "labels", "edited"), "by-edit");
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(cjson_get(o, "metadata.finalizers"), 0)),
        "omlop.io/teardown");
    /* The operator of this omlopd may have moved the phase on; status is still there. */
    assert_non_null(cjson_get_string(o, "status.phase"));
    rec = meta_entry(o, "annotations", "kubectl.kubernetes.io/last-applied-configuration");
    assert_non_null(rec);
    /* The manifest as written: typed by the schema, but no defaults (they are the server's) */
    if (strstr(rec, "paused") || strstr(rec, "1.25") || strstr(rec, "\"status\"") ||
        strstr(rec, "tier") || !strstr(rec, "240102.01") || strstr(rec, "deletionPolicy") ||
        strstr(rec, "\"nginx\""))
        fail_msg("the record has what the manifest dropped, a default, or status: %s", rec);
    json_object_put(o);

    /* A defaulted field changed by hand is not the manifest's: the next apply keeps it. */
    octl_write_file(&env, "edit.sh",
                    "#!/bin/sh\nsed -i 's|^\\(  *\\)deletionPolicy: Keep$|\\1deletionPolicy: "
                    "Purge|' \"$1\"\n");
    {
        char script[512];

        octl_path(&env, "edit.sh", script, sizeof(script));
        chmod(script, 0700);
        setenv("EDITOR", script, 1);
        OCTL(&env, &r, NULL, "edit", "tenant/acme");
        octl_assert_code(&r, 0);
        octl_run_release(&r);
        unsetenv("EDITOR");
    }
    o = get_json("tenants", "acme");
    assert_string_equal(cjson_get_string(o, "spec.deletionPolicy"), "Purge");
    json_object_put(o);

    OCTL(&env, &r, NULL, "apply", "-f", path);
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "tenant/acme unchanged\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "diff", "-f", path);
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "");
    octl_run_release(&r);
    o = get_json("tenants", "acme");
    assert_string_equal(cjson_get_string(o, "spec.deletionPolicy"), "Purge");
    json_object_put(o);
}

/* obj without status and the metadata the server keeps (a new object). */
static json_object *user_part(const json_object *obj)
{
    static const char *const server_meta[] = {"resourceVersion", "generation", "uid",
                                              "creationTimestamp", "managedFields"};
    json_object *c = NULL;

    assert_int_equal(json_object_deep_copy((json_object *)obj, &c, NULL), 0);
    json_object_object_del(c, "status");
    for (size_t i = 0; i < sizeof(server_meta) / sizeof(server_meta[0]); i++)
        json_object_object_del(cjson_get(c, "metadata"), server_meta[i]);
    return c;
}

/* Both dry runs and the real apply agree on what is stored. */
static void test_apply_dry_runs_show_the_removal(void **state)
{
    json_object *client = NULL, *server = NULL, *real = NULL, *live, *a, *b, *c;
    octl_run r;
    char path[512];

    (void)state;
    write_secret("r1.yaml", "r1", "app: rm\n    gone: soon", "one");
    octl_path(&env, "r1.yaml", path, sizeof(path));
    OCTL(&env, &r, NULL, "apply", "-f", path);
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    write_secret("r1.yaml", "r1", "app: rm", "one");
    OCTL(&env, &r, NULL, "apply", "-f", path, "--dry-run=client", "-o", "json");
    octl_assert_code(&r, 0);
    client = json_tokener_parse(r.out.buf);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "apply", "-f", path, "--dry-run=server", "-o", "json");
    octl_assert_code(&r, 0);
    server = json_tokener_parse(r.out.buf);
    octl_run_release(&r);
    assert_non_null(client);
    assert_non_null(server);
    assert_null(cjson_get(server, "metadata.labels.gone"));
    live = get_json("secrets", "r1");
    assert_string_equal(cjson_get_string(live, "metadata.labels.gone"), "soon"); /* dry runs */
    json_object_put(live);
    OCTL(&env, &r, NULL, "apply", "-f", path, "-o", "json");
    octl_assert_code(&r, 0);
    real = json_tokener_parse(r.out.buf);
    octl_run_release(&r);
    a = user_part(client);
    b = user_part(server);
    c = user_part(real);
    /* Client side keeps the write-only stringData the server turns into data. */
    json_object_object_del(a, "stringData");
    assert_true(cjson_equal(b, c));
    assert_true(cjson_equal(a, c));
    json_object_put(a);
    json_object_put(b);
    json_object_put(c);
    json_object_put(client);
    json_object_put(server);
    json_object_put(real);
}

/* Objects kubectl applied (its record present) or created (no record). */
static void test_apply_takes_over_kubectl_objects(void **state)
{
    json_object *obj, *got;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf path = STRBUF_INIT;
    octl_run r;
    char file[512];

    (void)state;
    obj = json_tokener_parse(
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"k1\","
        "\"labels\":{\"app\":\"k\",\"old\":\"x\"},\"annotations\":{"
        "\"kubectl.kubernetes.io/last-applied-configuration\":\"{\\\"apiVersion\\\":"
        "\\\"omlop.io/"
        "v1alpha1\\\",\\\"kind\\\":\\\"Secret\\\",\\\"metadata\\\":{\\\"annotations\\\""
        ":{},\\\"labels\\\":{\\\"app\\\":\\\"k\\\",\\\"old\\\":\\\"x\\\"},\\\"name\\\":\\\"k1\\\"},"
        "\\\"stringData\\\":{\\\"key\\\":\\\"v\\\"}}\\n\"}},\"stringData\":{\"key\":\"v\"}}");
    assert_non_null(obj);
    apiclient_path(&path, "secrets", NULL, NULL);
    if (apiclient_json(env.api, "POST", path.buf, NULL, obj, NULL, &err) < 0)
        fail_msg("POST %s: %s", path.buf, err.msg);
    json_object_put(obj);
    /* kubectl create: no record, and an extra label. */
    obj = json_tokener_parse("{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\","
                             "\"metadata\":{\"name\":\"k2\",\"labels\":{\"app\":\"k\","
                             "\"extra\":\"x\"}},\"stringData\":{\"key\":\"v\"}}");
    if (apiclient_json(env.api, "POST", path.buf, NULL, obj, NULL, &err) < 0)
        fail_msg("POST %s: %s", path.buf, err.msg);
    json_object_put(obj);
    strbuf_release(&path);

    write_secret("k1.yaml", "k1", "app: k", "v");
    octl_path(&env, "k1.yaml", file, sizeof(file));
    OCTL(&env, &r, NULL, "apply", "-f", file);
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/k1 configured\n");
    octl_run_release(&r);
    got = get_json("secrets", "k1");
    assert_null(
        cjson_get(got, "metadata.labels.old")); /* kubectl applied it, the file dropped it */
    octl_assert_contains(
        meta_entry(got, "annotations", "kubectl.kubernetes.io/last-applied-configuration"),
        "\"labels\":{\"app\":\"k\"}");
    json_object_put(got);

    write_secret("k2.yaml", "k2", "app: k", "v");
    octl_path(&env, "k2.yaml", file, sizeof(file));
    OCTL(&env, &r, NULL, "apply", "-f", file);
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    got = get_json("secrets", "k2");
    /* Never applied, so not ours to delete; from now on the record says what was. */
    assert_string_equal(cjson_get_string(got, "metadata.labels.extra"), "x");
    assert_non_null(
        meta_entry(got, "annotations", "kubectl.kubernetes.io/last-applied-configuration"));
    json_object_put(got);
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
        cmocka_unit_test(test_apply_removes_fields_dropped_from_the_manifest),
        cmocka_unit_test(test_apply_dry_runs_show_the_removal),
        cmocka_unit_test(test_apply_takes_over_kubectl_objects),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
