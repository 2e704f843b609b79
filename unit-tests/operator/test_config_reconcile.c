/*
 * Tests for operator/config's reconcile settings: the config-file keys
 * reconcile, workers and resync, the flags of the same meaning (flags win
 * over the file), and bad values refused naming the file, line and key (or
 * the flag).
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

#include "operator/config.h"
#include "operator/manager.h"

/* text, loaded as omlopd.yaml, is refused with a message holding want1 and want2 (case i) */
/* A config file refused: its text and two strings the error must name. */
typedef struct refused_file {
    const char *text, *want1, *want2;
} refused_file;

/* Each of the n files is refused with an error naming both of its strings. */
static void assert_files_refused(const refused_file *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        omlopd_config c;
        omlop_err err = OMLOP_ERR_INIT;

        config_init(&c);
        assert_int_equal(
            config_load_text(&c, "omlopd.yaml", cases[i].text, strlen(cases[i].text), &err),
            OMLOP_EINVAL);
        if (!strstr(err.msg, cases[i].want1) || !strstr(err.msg, cases[i].want2))
            fail_msg("case %zu: '%s' lacks '%s' or '%s'", i, err.msg, cases[i].want1,
                     cases[i].want2);
        config_release(&c);
    }
}

static void test_config_reconcile_defaults(void **state)
{
    omlopd_config c;

    (void)state;
    config_init(&c);
    assert_true(c.reconcile.is_enabled);
    assert_int_equal(c.reconcile.workers, MANAGER_DEFAULT_WORKERS);
    assert_int_equal(c.reconcile.resync_s, MANAGER_DEFAULT_RESYNC_S);
    config_release(&c);
}

static void test_config_reconcile_keys_from_yaml(void **state)
{
    static const char text[] = "reconcile: false\nworkers: 8\nresync: 15\n"
                               "readyTimeout: 1500ms\nconnectTimeout: 4s\n"
                               "publicIPURL: http://10.0.0.1/ip\n";
    omlopd_config c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    config_init(&c);
    if (config_load_text(&c, "omlopd.yaml", text, strlen(text), &err) != 0)
        fail_msg("load: %s", err.msg);
    assert_false(c.reconcile.is_enabled);
    assert_int_equal(c.reconcile.workers, 8);
    assert_int_equal(c.reconcile.resync_s, 15);
    assert_int_equal(c.reconcile.ready_timeout_ms, 1500);
    assert_int_equal(c.reconcile.connect_timeout_ms, 4000);
    assert_string_equal(c.reconcile.public_ip_url, "http://10.0.0.1/ip");
    config_release(&c);
    /* a bare number is seconds */
    config_init(&c);
    if (config_load_text(&c, "omlopd.yaml", "readyTimeout: 7\n", 15, &err) != 0)
        fail_msg("load: %s", err.msg);
    assert_int_equal(c.reconcile.ready_timeout_ms, 7000);
    config_release(&c);
}

static void test_config_reconcile_bad_keys_name_file_line_and_key(void **state)
{
    static const refused_file cases[] = {
        {"listen: 127.0.0.1:1\nworkers: 0\n", "omlopd.yaml:2:", "workers"},
        {"workers: 65\n", "workers", "between 1 and 64"},
        {"resync: soon\n", "resync", "'soon'"},
        {"reconcile: maybe\n", "reconcile", "not true or false"},
        {"reconcile: yes\n", "omlopd.yaml:1:", "reconcile"},
        {"readyTimeout: 30m\n", "readyTimeout", "'30m' is not a duration"},
        {"readyTimeout: 5ms\n", "readyTimeout", "between 100ms and 3600s"},
        {"connectTimeout: -1s\n", "connectTimeout", "duration"},
        {"verifyFiles: 0\n", "verifyFiles", "between 1 and 86400"},
        {"verifyImages: 86401\n", "verifyImages", "between 1 and 86400"},
        {"verifyReady: often\n", "verifyReady", "'often'"},
    };

    (void)state;
    assert_files_refused(cases, sizeof(cases) / sizeof(cases[0]));
}

/* The cadences of a no-change round's checks: flags and keys, at their bounds. */
static void test_config_verify_cadences(void **state)
{
    char *argv[] = {"omlopd", "--verify-images", "1", "--verify-files", "86400", NULL};
    omlopd_config c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    config_init(&c);
    assert_int_equal(c.reconcile.verify_files_s, 0); /* 0: the memo's default */
    assert_int_equal(config_parse_args(&c, 5, argv, &err), 0);
    assert_int_equal(c.reconcile.verify_images_s, 1);
    assert_int_equal(c.reconcile.verify_files_s, 86400);
    config_release(&c);
    config_init(&c);
    if (config_load_text(&c, "omlopd.yaml", "verifyReady: 30\n", 15, &err) != 0)
        fail_msg("load: %s", err.msg);
    assert_int_equal(c.reconcile.verify_ready_s, 30);
    config_release(&c);
}

/* --known-hosts must name a readable file: found at start, not at the first host. */
static void test_config_known_hosts_must_exist(void **state)
{
    char *argv[] = {"omlopd", "--known-hosts", "/nonexistent/known_hosts", NULL};
    char *ok[] = {"omlopd", "--known-hosts", "/dev/null", NULL};
    omlopd_config c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    config_init(&c);
    assert_int_equal(config_parse_args(&c, 3, argv, &err), 0);
    assert_int_equal(config_check(&c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "--known-hosts /nonexistent/known_hosts"));
    config_release(&c);
    config_init(&c);
    assert_int_equal(config_parse_args(&c, 3, ok, &err), 0);
    assert_int_equal(config_check(&c, &err), 0);
    assert_string_equal(c.reconcile.known_hosts_file, "/dev/null");
    config_release(&c);
}

static void test_config_reconcile_flags_win_over_the_file(void **state)
{
    char path[] = "/tmp/omlop-config-XXXXXX";
    int fd = mkstemp(path);
    static const char text[] = "reconcile: false\nworkers: 8\nresync: 15\n";
    char *argv[] = {"omlopd",      "--config", path, "--workers=3",
                    "--reconcile", "--resync", "30", NULL};
    omlopd_config c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    config_init(&c);
    if (config_parse_args(&c, 7, argv, &err) != 0)
        fail_msg("parse: %s", err.msg);
    assert_true(c.reconcile.is_enabled); /* a bare --reconcile did not eat "--resync" */
    assert_int_equal(c.reconcile.workers, 3);
    assert_int_equal(c.reconcile.resync_s, 30);
    config_release(&c);
    unlink(path);
}

static void test_config_reconcile_flag_forms_and_errors(void **state)
{
    char *a1[] = {"omlopd", "--no-reconcile", NULL};
    char *a2[] = {"omlopd", "--reconcile=false", NULL};
    char *a3[] = {"omlopd", "--workers", "100", NULL};
    char *a4[] = {"omlopd", "--resync", NULL};
    char *a5[] = {"omlopd", "--no-workers", NULL};
    omlopd_config c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    config_init(&c);
    assert_int_equal(config_parse_args(&c, 2, a1, &err), 0);
    assert_false(c.reconcile.is_enabled);
    config_release(&c);
    config_init(&c);
    assert_int_equal(config_parse_args(&c, 2, a2, &err), 0);
    assert_false(c.reconcile.is_enabled);
    config_release(&c);
    config_init(&c);
    assert_int_equal(config_parse_args(&c, 3, a3, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "--workers"));
    assert_int_equal(config_parse_args(&c, 2, a4, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "--resync needs a value"));
    assert_int_equal(config_parse_args(&c, 2, a5, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "--no-workers"));
    config_release(&c);
}

/* The SSH liveness settings: defaults, flags and keys at their bounds, one past each refused
 * naming the setting. */
static void test_config_ssh_keepalive_bounds(void **state)
{
    char *at[] = {"omlopd", "--ssh-keepalive",         "500ms", "--ssh-keepalive-count",
                  "100",    "--ha-ssh-keepalive=600s", NULL};
    static const refused_file bad[] = {
        {"sshKeepalive: 499ms\n", "sshKeepalive", "between 500ms and 600s"},
        {"sshKeepalive: 601s\n", "sshKeepalive", "between 500ms and 600s"},
        {"haSSHKeepalive: 499ms\n", "haSSHKeepalive", "between 500ms and 600s"},
        {"haSSHKeepalive: 600001ms\n", "haSSHKeepalive", "between 500ms and 600s"},
        {"sshKeepaliveCount: 0\n", "sshKeepaliveCount", "between 1 and 100"},
        {"sshKeepaliveCount: 101\n", "sshKeepaliveCount", "between 1 and 100"},
        {"listen: 127.0.0.1:1\nsshKeepalive: never\n", "omlopd.yaml:2:", "'never'"},
    };
    char *past[] = {"omlopd", "--ha-ssh-keepalive", "499ms", NULL};
    static const char keys[] = "sshKeepalive: 600s\nsshKeepaliveCount: 1\nhaSSHKeepalive: 1500ms\n";
    omlopd_config c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    config_init(&c);
    assert_int_equal(c.reconcile.ssh_keepalive_ms, MANAGER_DEFAULT_SSH_KEEPALIVE_MS);
    assert_int_equal(c.reconcile.ssh_keepalive_count, MANAGER_DEFAULT_SSH_KEEPALIVE_COUNT);
    assert_int_equal(c.reconcile.ha_ssh_keepalive_ms, MANAGER_DEFAULT_HA_SSH_KEEPALIVE_MS);
    if (config_parse_args(&c, 6, at, &err) != 0)
        fail_msg("parse: %s", err.msg);
    assert_int_equal(c.reconcile.ssh_keepalive_ms, 500);
    assert_int_equal(c.reconcile.ssh_keepalive_count, 100);
    assert_int_equal(c.reconcile.ha_ssh_keepalive_ms, 600000);
    config_release(&c);
    config_init(&c);
    if (config_load_text(&c, "omlopd.yaml", keys, strlen(keys), &err) != 0)
        fail_msg("load: %s", err.msg);
    assert_int_equal(c.reconcile.ssh_keepalive_ms, 600000);
    assert_int_equal(c.reconcile.ssh_keepalive_count, 1);
    assert_int_equal(c.reconcile.ha_ssh_keepalive_ms, 1500);
    config_release(&c);
    assert_files_refused(bad, sizeof(bad) / sizeof(bad[0]));
    config_init(&c);
    assert_int_equal(config_parse_args(&c, 3, past, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "--ha-ssh-keepalive"));
    config_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_reconcile_defaults),
        cmocka_unit_test(test_config_reconcile_keys_from_yaml),
        cmocka_unit_test(test_config_reconcile_bad_keys_name_file_line_and_key),
        cmocka_unit_test(test_config_reconcile_flags_win_over_the_file),
        cmocka_unit_test(test_config_known_hosts_must_exist),
        cmocka_unit_test(test_config_verify_cadences),
        cmocka_unit_test(test_config_reconcile_flag_forms_and_errors),
        cmocka_unit_test(test_config_ssh_keepalive_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
