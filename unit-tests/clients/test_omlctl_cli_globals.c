/*
 * omlctl's global flags on either side of the command, run as the real binary
 * offline (omlctl_exec.h): every global flag, in each of its forms, is accepted
 * before and after the verb with the same effect, seen through `config view
 * --raw` (server, token, CA file, TLS check: each with where it came from) and
 * the -v debug log; a bad or unknown flag before the verb is a usage error
 * (exit 2) that names it, as it is after the verb.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "unit-tests/clients/omlctl_exec.h"

#define MAX_FLAG_ARGS 2

typedef struct global_case {
    const char *args[MAX_FLAG_ARGS + 1]; /* the flag, then its separate value if any */
    const char *row[3];  /* a row of `config view --raw`: KEY VALUE SOURCE (NULL: none checked) */
    const char *err_has; /* in stderr (the -v debug log, a usage error) */
} global_case;

/* Every global flag, each long flag as "--flag value" and "--flag=value". */
static const global_case accepted[] = {
    {{"-s", "http://h1:1"}, {"server", "http://h1:1", "flag --server"}, NULL},
    {{"-shttp://h2:2"}, {"server", "http://h2:2", "flag --server"}, NULL},
    {{"-s=http://h3:3"}, {"server", "http://h3:3", "flag --server"}, NULL},
    {{"--server", "http://h4:4"}, {"server", "http://h4:4", "flag --server"}, NULL},
    {{"--server=http://h5:5"}, {"server", "http://h5:5", "flag --server"}, NULL},
    {{"--token", "tok-one"}, {"token", "tok-one", "flag --token"}, NULL},
    {{"--token=tok-two"}, {"token", "tok-two", "flag --token"}, NULL},
    {{"--ca-file", "/ca/one.pem"}, {"caFile", "/ca/one.pem", "flag --ca-file"}, NULL},
    {{"--ca-file=/ca/two.pem"}, {"caFile", "/ca/two.pem", "flag --ca-file"}, NULL},
    {{"--certificate-authority", "/ca/three.pem"},
     {"caFile", "/ca/three.pem", "flag --ca-file"},
     NULL},
    {{"--certificate-authority=/ca/four.pem"}, {"caFile", "/ca/four.pem", "flag --ca-file"}, NULL},
    {{"--insecure-skip-tls-verify"},
     {"insecureSkipTLSVerify", "true", "flag --insecure-skip-tls-verify"},
     NULL},
    {{"--insecure-skip-tls-verify=true"},
     {"insecureSkipTLSVerify", "true", "flag --insecure-skip-tls-verify"},
     NULL},
    {{"--insecure-skip-tls-verify=false"}, {"insecureSkipTLSVerify", "false", "default"}, NULL},
    {{"--request-timeout", "5s"}, {"server", "http://127.0.0.1:8787", "default"}, NULL},
    {{"--request-timeout=1m"}, {"server", "http://127.0.0.1:8787", "default"}, NULL},
    {{"-v"}, {NULL}, "debug config server="},
    {{"-v3"}, {NULL}, "debug config server="},
    {{"-v=2"}, {NULL}, "debug config server="},
    {{"--v"}, {NULL}, "debug config server="},
    {{"--v=4"}, {NULL}, "debug config server="},
    {{"--verbose"}, {NULL}, "debug config server="},
};

/* Refused on both sides of the verb, with exit 2 and a message naming the flag. */
static const global_case refused[] = {
    {{"--bogus"}, {NULL}, "unknown flag --bogus"},
    {{"--bogus=1"}, {NULL}, "unknown flag --bogus"},
    {{"-X"}, {NULL}, "unknown flag -X"},
    {{"--request-timeout", "soon"}, {NULL}, "--request-timeout: invalid duration 'soon'"},
    {{"--request-timeout=-1s"}, {NULL}, "--request-timeout: "},
    {{"--insecure-skip-tls-verify=maybe"}, {NULL}, "--insecure-skip-tls-verify takes true or"},
    {{"-v=x"}, {NULL}, "bad verbosity '-v=x'"},
};

/* The environment and file layers would hide what the flags do: none of either. */
static int isolate_config(void **state)
{
    (void)state;
    unsetenv("OMLOP_SERVER");
    unsetenv("OMLOP_TOKEN");
    unsetenv("OMLOP_CA_FILE");
    setenv("OMLOP_CONFIG", "/nonexistent/omlop-test/config", 1);
    return 0;
}

/* Whether out has the line "KEY  VALUE  SOURCE" (columns padded with spaces). */
static int has_row(const char *out, const char *const row[3])
{
    for (const char *line = out; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *end = strchr(line, '\n'), *p = line;
        size_t len = end ? (size_t)(end - line) : strlen(line);
        int ok = 1;

        for (int k = 0; k < 3 && ok; k++) {
            size_t n = strlen(row[k]);

            while (k && p < line + len && *p == ' ')
                p++;
            ok = (size_t)(line + len - p) >= n && !strncmp(p, row[k], n) &&
                 (p + n == line + len || p[n] == ' ');
            p += n;
        }
        if (ok && p == line + len)
            return 1;
    }
    return 0;
}

static size_t flag_count(const global_case *c)
{
    size_t n = 0;

    while (n < MAX_FLAG_ARGS && c->args[n])
        n++;
    return n;
}

/* omlctl [FLAGS] config view --raw [FLAGS]: the flags before the verb or after it. */
static void run_config_view(run_result *r, const global_case *c, int before)
{
    const char *argv[MAX_FLAG_ARGS + 4];
    size_t n = 0, nf = flag_count(c);

    for (size_t i = 0; before && i < nf; i++)
        argv[n++] = c->args[i];
    argv[n++] = "config";
    argv[n++] = "view";
    argv[n++] = "--raw";
    for (size_t i = 0; !before && i < nf; i++)
        argv[n++] = c->args[i];
    argv[n] = NULL;
    omlctl_exec_run(r, NULL, argv);
}

static void test_every_global_flag_works_before_and_after_the_verb(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        const global_case *c = &accepted[i];
        run_result before, after;

        run_config_view(&before, c, 1);
        run_config_view(&after, c, 0);
        if (before.rc != 0 || after.rc != 0)
            fail_msg("%s: exit %d before the verb, %d after; stderr before: %s", c->args[0],
                     before.rc, after.rc, strbuf_str(&before.err));
        if (strcmp(strbuf_str(&before.out), strbuf_str(&after.out)) != 0)
            fail_msg("%s: output differs\nbefore:\n%s\nafter:\n%s", c->args[0],
                     strbuf_str(&before.out), strbuf_str(&after.out));
        if (c->row[0] && !has_row(strbuf_str(&before.out), c->row))
            fail_msg("%s: no row '%s %s %s' in\n%s", c->args[0], c->row[0], c->row[1], c->row[2],
                     strbuf_str(&before.out));
        if (c->err_has && (!strstr(strbuf_str(&before.err), c->err_has) ||
                           !strstr(strbuf_str(&after.err), c->err_has)))
            fail_msg("%s: '%s' not in stderr\nbefore:\n%s\nafter:\n%s", c->args[0], c->err_has,
                     strbuf_str(&before.err), strbuf_str(&after.err));
        if (!c->err_has && (before.err.len || after.err.len))
            fail_msg("%s: unexpected stderr\nbefore:\n%s\nafter:\n%s", c->args[0],
                     strbuf_str(&before.err), strbuf_str(&after.err));
        omlctl_exec_release(&before);
        omlctl_exec_release(&after);
    }
}

static void test_bad_global_flags_are_usage_errors_on_both_sides(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const global_case *c = &refused[i];
        run_result before, after;

        run_config_view(&before, c, 1);
        run_config_view(&after, c, 0);
        if (before.rc != 2 || after.rc != 2)
            fail_msg("%s: exit %d before the verb, %d after (want 2)", c->args[0], before.rc,
                     after.rc);
        if (!strstr(strbuf_str(&before.err), c->err_has) ||
            !strstr(strbuf_str(&after.err), c->err_has))
            fail_msg("%s: '%s' not in stderr\nbefore:\n%s\nafter:\n%s", c->args[0], c->err_has,
                     strbuf_str(&before.err), strbuf_str(&after.err));
        if (before.out.len)
            fail_msg("%s: printed on stdout: %s", c->args[0], strbuf_str(&before.out));
        omlctl_exec_release(&before);
        omlctl_exec_release(&after);
    }
}

/* A verb's own flag before the verb is refused and the message says why. */
static void test_verb_flag_before_the_verb_is_refused(void **state)
{
    static const char *const args[] = {"-o", "yaml", "get", "tenants", NULL};
    run_result r;

    (void)state;
    omlctl_exec_run(&r, NULL, args);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(strbuf_str(&r.err), "unknown flag -o (only global flags"));
    omlctl_exec_release(&r);
}

/* Flags and no command, or a flag missing its value at the end. */
static void test_global_flags_without_a_command(void **state)
{
    static const char *const no_cmd[] = {"-s", "http://h:1", "--insecure-skip-tls-verify", NULL};
    static const char *const no_value[] = {"--token", NULL};
    run_result r;

    (void)state;
    omlctl_exec_run(&r, NULL, no_cmd);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(strbuf_str(&r.err), "no command after the global flags"));
    omlctl_exec_release(&r);
    omlctl_exec_run(&r, NULL, no_value);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(strbuf_str(&r.err), "flag --token needs a value"));
    omlctl_exec_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_global_flag_works_before_and_after_the_verb),
        cmocka_unit_test(test_bad_global_flags_are_usage_errors_on_both_sides),
        cmocka_unit_test(test_verb_flag_before_the_verb_is_refused),
        cmocka_unit_test(test_global_flags_without_a_command),
    };

    return cmocka_run_group_tests(tests, isolate_config, NULL);
}
