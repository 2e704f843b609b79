/*
 * Tests for omlctl validate, convert and explain, run as the real binary
 * (build/asan/bin/omlctl, which `make unit` builds first; OMLOP_OMLCTL
 * overrides the path): exit codes, every error printed with its position,
 * normalized output, and docs/reference.md being what explain --markdown prints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/strbuf.h"
#include "unit-tests/clients/omlctl_exec.h"

static size_t count_lines(const strbuf *sb)
{
    size_t n = 0;

    for (size_t i = 0; i < sb->len; i++)
        n += sb->buf[i] == '\n';
    return n;
}

static void expect_in(const strbuf *sb, const char *text)
{
    if (!strstr(strbuf_str(sb), text))
        fail_msg("missing:\n  %s\nin:\n%s", text, strbuf_str(sb));
}

static void test_validate_examples(void **state)
{
    run_result r;
    const char *args[] = {"validate", "-f", "crds/examples", NULL};

    (void)state;
    omlctl_exec_run(&r, NULL, args);
    if (r.rc != 0)
        fail_msg("rc %d:\n%s", r.rc, r.err.buf);
    expect_in(&r.out, "crds/examples/tenant-aio.yaml: Tenant/algarrobo valid\n");
    expect_in(&r.out, "crds/examples/tenant-ha.yaml: Tenant/tenant-example-7 valid\n");
    expect_in(&r.out, "crds/examples/secret.yaml: Secret/tenant-example-7-bucket valid\n");
    assert_int_equal(r.err.len, 0);
    omlctl_exec_release(&r);
}

static void test_validate_reports_every_error_with_position(void **state)
{
    run_result r;
    const char *args[] = {"validate", "-f", "unit-tests/data/manifests/several-errors.yaml", NULL};

    (void)state;
    omlctl_exec_run(&r, NULL, args);
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.out.len, 0);
#define F "unit-tests/data/manifests/several-errors.yaml:"
    expect_in(&r.err, F "13:9: spec.hosts[0].ssh.sshPort: unknown field \"sshPort\"; did you mean "
                        "'port'?\n");
    expect_in(&r.err, F "14:15: spec.hosts[0].ssh.port: must be an integer, got the string "
                        "\"22\"\n");
    expect_in(&r.err, F "17:14: spec.hosts[0].lanIP: invalid value \"10.0.0.300\": must be an "
                        "IPv4 address");
    expect_in(&r.err, F "19:15: spec.network.infraEnv: unsupported value \"on\"; must be one of: "
                        "\"cloud\", \"lan\", \"nat\", \"all\"\n");
    expect_in(&r.err, F "21:14: spec.observability.enabled: must be a boolean (true or false), "
                        "got \"yes\"\n");
#undef F
    assert_int_equal(count_lines(&r.err), 5);
    omlctl_exec_release(&r);
}

static void test_validate_duplicate_key_and_rules(void **state)
{
    run_result r;
    const char *dup[] = {"validate", "-f", "unit-tests/data/manifests/duplicate-key.yaml", NULL};
    const char *rules[] = {"validate", "-q", "-f", "unit-tests/data/manifests/rule-errors.yaml",
                           NULL};

    (void)state;
    omlctl_exec_run(&r, NULL, dup);
    assert_int_equal(r.rc, 1);
    expect_in(&r.err, "unit-tests/data/manifests/duplicate-key.yaml:8:3:");
    expect_in(&r.err, "duplicate key");
    expect_in(&r.err, "tenantRef");
    omlctl_exec_release(&r);
    omlctl_exec_run(&r, NULL, rules);
    assert_int_equal(r.rc, 1);
    expect_in(&r.err, "rule-errors.yaml:14:13: spec.hosts[1].role: layout cluster takes exactly "
                      "one host with role data");
    expect_in(&r.err, "spec.network.natIP: required when infraEnv is nat");
    expect_in(&r.err, "spec.tls.secretRef: required when tls.mode is custom");
    expect_in(&r.err, "spec.timestamp: set only one of backupRef, timestamp and source.objectKey");
    omlctl_exec_release(&r);
}

static void test_validate_stdin_and_directories(void **state)
{
    run_result r;
    const char *args[] = {"validate", "-f", "-", "-f", "crds/examples/backup.yaml", NULL};
    const char *quiet[] = {"validate", "--quiet", "--filename=crds/examples", NULL};

    (void)state;
    omlctl_exec_run(&r,
                    "apiVersion: omlop.io/v1alpha1\nkind: Backup\nmetadata: {name: from-stdin}\n"
                    "spec: {tenantRef: {name: t}}\n",
                    args);
    assert_int_equal(r.rc, 0);
    expect_in(&r.out, "-: Backup/from-stdin valid\n");
    expect_in(&r.out, "crds/examples/backup.yaml: Backup/algarrobo-before-upgrade valid\n");
    omlctl_exec_release(&r);
    omlctl_exec_run(&r, NULL, quiet);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out.len, 0);
    omlctl_exec_release(&r);
}

static void test_validate_exit_codes(void **state)
{
    static const struct {
        const char *args[6];
        int rc;
        const char *text; /* in stdout+stderr */
    } cases[] = {
        {{"validate", NULL}, 2, "no input"},
        {{"validate", "-f", NULL}, 2, "needs a value"},
        {{"validate", "--frobnicate", "-f", "x", NULL}, 2, "unknown flag --frobnicate"},
        {{"validate", "crds/examples", NULL}, 2, "unexpected argument 'crds/examples'"},
        {{"validate", "--help", NULL}, 0, "Examples:"},
        {{"validate", "-f", "no/such/file.yaml", NULL}, 1, "no/such/file.yaml"},
        {{"validate", "-f", "unit-tests/data/manifests", NULL}, 1, "duplicate key"},
        {{"convert", "--help", NULL}, 0, "-o, --output"},
        {{"convert", "-f", "crds/examples/backup.yaml", "-o", "xml", NULL}, 2, "xml"},
        {{"explain", "--help", NULL}, 0, "--markdown"},
        {{"explain", NULL}, 2, "which kind?"},
        {{"explain", "widgets", NULL}, 1, "widgets"},
        {{"explain", "tenant.spec.nope", NULL}, 1, "field \"nope\" does not exist in spec"},
        {{"explain", "--markdown", "tenant", NULL}, 2, "takes no KIND"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_result r;
        strbuf all = STRBUF_INIT;

        omlctl_exec_run(&r, NULL, cases[i].args);
        strbuf_addf(&all, "%s%s", strbuf_str(&r.out), strbuf_str(&r.err));
        if (r.rc != cases[i].rc || !strstr(all.buf, cases[i].text))
            fail_msg("omlctl %s %s: rc %d (want %d), want '%s' in:\n%s", cases[i].args[0],
                     cases[i].args[1] ? cases[i].args[1] : "", r.rc, cases[i].rc, cases[i].text,
                     all.buf);
        strbuf_release(&all);
        omlctl_exec_release(&r);
    }
}

static void test_convert_outputs(void **state)
{
    run_result r;
    const char *json_one[] = {"convert", "-f", "crds/examples/restore.yaml", "-o", "json", NULL};
    const char *json_many[] = {"convert", "-f", "crds/examples/secret.yaml", "-o", "json", NULL};
    const char *yaml_many[] = {"convert", "-f", "crds/examples/secret.yaml", NULL};
    const char *bad[] = {"convert", "-f", "unit-tests/data/manifests/several-errors.yaml", NULL};

    (void)state;
    omlctl_exec_run(&r, NULL, json_one);
    assert_int_equal(r.rc, 0);
    assert_true(r.out.len > 0 && r.out.buf[0] == '{');
    expect_in(&r.out, "\"timestamp\": \"1681319391\"");
    expect_in(&r.out, "\"includeAsteriskCustom\": true"); /* a default */
    omlctl_exec_release(&r);
    omlctl_exec_run(&r, NULL, json_many);
    assert_int_equal(r.rc, 0);
    expect_in(&r.out, "\"kind\": \"List\"");
    expect_in(&r.out, "\"items\": [");
    expect_in(&r.out, "\"name\": \"algarrobo-postgres\"");
    omlctl_exec_release(&r);
    omlctl_exec_run(&r, NULL, yaml_many);
    assert_int_equal(r.rc, 0);
    expect_in(&r.out, "\n---\n");
    expect_in(&r.out, "name: tenant-example-7-bucket\n");
    omlctl_exec_release(&r);
    omlctl_exec_run(&r, NULL, bad);
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.out.len, 0); /* nothing half-converted on stdout */
    assert_int_equal(count_lines(&r.err), 5);
    omlctl_exec_release(&r);
}

static void test_explain(void **state)
{
    run_result r;
    const char *port[] = {"explain", "tenant.spec.hosts.ssh.port", NULL};
    const char *hosts[] = {"explain", "tn.spec.hosts[]", NULL};
    const char *rec[] = {"explain", "tenants.spec.ha", "--recursive", NULL};
    const char *meta[] = {"explain", "secret.metadata.labels", NULL};

    (void)state;
    omlctl_exec_run(&r, NULL, port);
    assert_int_equal(r.rc, 0);
    expect_in(&r.out, "KIND:       Tenant\n");
    expect_in(&r.out, "FIELD: port <integer>\n");
    expect_in(&r.out, "Default: 22.");
    expect_in(&r.out, "Range: 1 to 65535.");
    omlctl_exec_release(&r);
    omlctl_exec_run(&r, NULL, hosts);
    assert_int_equal(r.rc, 0);
    expect_in(&r.out, "FIELD: hosts <[]Object>\n");
    expect_in(&r.out, "  lanIP\t<string> -required-\n");
    expect_in(&r.out, "Format: ipv4.");
    omlctl_exec_release(&r);
    omlctl_exec_run(&r, NULL, rec);
    assert_int_equal(r.rc, 0);
    expect_in(&r.out, "  omnileadsVIP\t<string> -required-\n");
    expect_in(&r.out, "  failback\t<string>\n");
    omlctl_exec_release(&r);
    omlctl_exec_run(&r, NULL, meta);
    assert_int_equal(r.rc, 0);
    expect_in(&r.out, "FIELD: labels <map[string]string>\n");
    omlctl_exec_release(&r);
}

static void test_reference_doc_is_current(void **state)
{
    run_result r;
    const char *args[] = {"explain", "--markdown", NULL};
    strbuf path = STRBUF_INIT, doc = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    omlctl_exec_run(&r, NULL, args);
    assert_int_equal(r.rc, 0);
    expect_in(&r.out, "## Tenant\n");
    expect_in(&r.out, "| `spec.hosts[].ssh.port` | integer |");
    expect_in(&r.out, "## metadata\n");
    strbuf_addf(&path, "%s/docs/reference.md", omlctl_exec_srcdir());
    if (strbuf_read_file(&doc, path.buf, 4 * 1024 * 1024, &err) < 0 ||
        strcmp(doc.buf ? doc.buf : "", r.out.buf) != 0)
        fail_msg("docs/reference.md is stale or missing; run: bin/omlctl explain --markdown > "
                 "docs/reference.md");
    strbuf_release(&path);
    strbuf_release(&doc);
    omlctl_exec_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_examples),
        cmocka_unit_test(test_validate_reports_every_error_with_position),
        cmocka_unit_test(test_validate_duplicate_key_and_rules),
        cmocka_unit_test(test_validate_stdin_and_directories),
        cmocka_unit_test(test_validate_exit_codes),
        cmocka_unit_test(test_convert_outputs),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_reference_doc_is_current),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
