/*
 * How omlctl reaches and authenticates to omlopd, against real servers (see
 * omlctl_harness.h): bearer tokens from --token, OMLOP_TOKEN and the config
 * file (and their precedence), a view token refused on writes, a unix socket
 * URL, and an https server checked with --ca-file or skipped with
 * --insecure-skip-tls-verify.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit-tests/clients/omlctl_harness.h"

#define ADMIN_TOKEN "admin-0123456789abcdef"
#define VIEW_TOKEN  "view-0123456789abcdef"

static octl_env env;
static char files[64]; /* tokens file, certificates: they must exist before omlopd starts */
static char sock[160];

static const char secret_yaml[] = "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n"
                                  "  name: auth1\nstringData:\n  k: v\n";

static int setup(void **state)
{
    char tokens[128], sock_arg[200];
    FILE *f;

    (void)state;
    snprintf(files, sizeof(files), "/tmp/omlctl-auth-XXXXXX");
    if (!mkdtemp(files))
        return -1;
    snprintf(tokens, sizeof(tokens), "%s/tokens.csv", files);
    f = fopen(tokens, "w");
    if (!f)
        return -1;
    fprintf(f, "%s,alice,admin\n%s,victor,view\n", ADMIN_TOKEN, VIEW_TOKEN);
    fclose(f);
    snprintf(sock, sizeof(sock), "%s/omlopd.sock", files);
    snprintf(sock_arg, sizeof(sock_arg), "%s", sock);
    {
        const char *const extra[] = {"--tokens", tokens, "--socket", sock_arg, NULL};

        return octl_start(&env, extra);
    }
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    octl_stop(&env);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", files);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_missing_and_bad_tokens_are_401(void **state)
{
    octl_run r;

    (void)state;
    OCTL(&env, &r, NULL, "get", "secrets");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "error: omlopd answered 401 Unauthorized");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "secrets", "--token", "wrong");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "401 Unauthorized");
    octl_assert_not_contains(r.err.buf, "wrong"); /* a token is never echoed */
    octl_run_release(&r);
}

static void test_view_token_reads_but_cannot_write(void **state)
{
    octl_run r;

    (void)state;
    OCTL(&env, &r, NULL, "get", "backups", "--token", VIEW_TOKEN);
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "secrets", "--token", VIEW_TOKEN);
    octl_assert_code(&r, 1); /* a view token does not read secrets */
    octl_assert_contains(r.err.buf, "403 Forbidden");
    octl_run_release(&r);
    OCTL(&env, &r, secret_yaml, "apply", "-f", "-", "--token", VIEW_TOKEN);
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "secret/auth1 (-): omlopd answered 403 Forbidden");
    octl_run_release(&r);
}

static void test_token_from_env_then_config_then_flag(void **state)
{
    octl_run r;

    (void)state;
    setenv("OMLOP_TOKEN", ADMIN_TOKEN, 1);
    OCTL(&env, &r, secret_yaml, "apply", "-f", "-");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/auth1 created\n");
    octl_run_release(&r);
    /* The flag wins over the environment. */
    OCTL(&env, &r, NULL, "get", "secrets", "--token", "wrong");
    octl_assert_code(&r, 1);
    octl_run_release(&r);
    unsetenv("OMLOP_TOKEN");
    OCTL(&env, &r, NULL, "config", "set", "token", ADMIN_TOKEN);
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "secret", "auth1", "-o", "name");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "secret/auth1\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "config", "view");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "token                   REDACTED");
    octl_assert_contains(r.out.buf, "   file\n");
    octl_assert_not_contains(r.out.buf, ADMIN_TOKEN);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "config", "view", "--raw");
    octl_assert_contains(r.out.buf, ADMIN_TOKEN);
    octl_run_release(&r);
    /* The environment wins over the file. */
    setenv("OMLOP_TOKEN", VIEW_TOKEN, 1);
    OCTL(&env, &r, NULL, "delete", "secret", "auth1");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "403 Forbidden");
    octl_run_release(&r);
    unsetenv("OMLOP_TOKEN");
    OCTL(&env, &r, NULL, "config", "unset", "token");
    octl_assert_code(&r, 0);
    octl_run_release(&r);
}

static void test_server_from_config_file_and_unix_socket(void **state)
{
    octl_run r;
    char url[200];

    (void)state;
    snprintf(url, sizeof(url), "unix://%s", sock);
    unsetenv("OMLOP_SERVER");
    OCTL(&env, &r, NULL, "config", "set", "server", url);
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "secrets", "-o", "name", "--token", ADMIN_TOKEN);
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "secret/auth1\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "config", "view");
    octl_assert_contains(r.out.buf, url);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "config", "set", "server", "not-a-url");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "config", "unset", "server");
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    setenv("OMLOP_SERVER", env.server, 1);
}

static void test_https_needs_the_ca_or_an_explicit_skip(void **state)
{
    octl_env tls;
    octl_run r;
    char cmd[1024], cert[128], key[128], tokens[128];

    (void)state;
    snprintf(cert, sizeof(cert), "%s/tls.crt", files);
    snprintf(key, sizeof(key), "%s/tls.key", files);
    snprintf(tokens, sizeof(tokens), "%s/tokens.csv", files);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
             "-keyout '%s' -out '%s' > /dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0)
        skip(); /* no openssl CLI: printed by cmocka as skipped */
    {
        const char *const extra[] = {"--tls-cert", cert,   "--tls-key", key,
                                     "--tokens",   tokens, NULL};

        assert_int_equal(octl_start(&tls, extra), 0);
    }
    setenv("OMLOP_SERVER", tls.server, 1);
    setenv("OMLOP_TOKEN", ADMIN_TOKEN, 1);
    OCTL(&tls, &r, NULL, "get", "secrets");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "TLS with https://127.0.0.1:");
    octl_assert_contains(r.err.buf, "--ca-file");
    octl_run_release(&r);
    OCTL(&tls, &r, NULL, "get", "secrets", "--ca-file", cert);
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    OCTL(&tls, &r, NULL, "get", "secrets", "--insecure-skip-tls-verify");
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    octl_stop(&tls);
    unsetenv("OMLOP_TOKEN");
    setenv("OMLOP_SERVER", env.server, 1);
    snprintf(cmd, sizeof(cmd), "%s/cfg", env.dir);
    setenv("XDG_CONFIG_HOME", cmd, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_and_bad_tokens_are_401),
        cmocka_unit_test(test_view_token_reads_but_cannot_write),
        cmocka_unit_test(test_token_from_env_then_config_then_flag),
        cmocka_unit_test(test_server_from_config_file_and_unix_socket),
        cmocka_unit_test(test_https_needs_the_ca_or_an_explicit_skip),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
