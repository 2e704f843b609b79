/*
 * Tests for omlctl render, run as the real binary (build/asan/bin/omlctl, which
 * `make unit` builds first; OMLOP_OMLCTL overrides the path): the three output
 * formats, --host and --public-ip, exit codes and the errors users see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "unit-tests/clients/omlctl_exec.h"

/* omlctl render with args (NULL-terminated). */
static void run(run_result *r, const char *const *args)
{
    const char *argv[32] = {"render"};
    size_t n = 1;

    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    omlctl_exec_run(r, NULL, argv);
}

static const char *example(const char *name)
{
    static char path[4096]; /* test-local convenience; one path in use at a time */

    snprintf(path, sizeof(path), "%s/crds/examples/%s", omlctl_exec_srcdir(), name);
    return path;
}

static void test_render_env_for_one_host(void **state)
{
    run_result r;

    (void)state;
    run(&r, (const char *const[]){"-f", example("tenant-cluster.yaml"), "--host", "app", "-o",
                                  "env", NULL});
    if (r.rc != 0)
        fail_msg("rc %d: %s", r.rc, strbuf_str(&r.err));
    assert_non_null(strstr(strbuf_str(&r.out), "# tenant tenant-mr-x, host app, oml-nginx-server: "
                                               "/etc/default/nginx.env\n"));
    assert_non_null(strstr(strbuf_str(&r.out), "DJANGO_HOSTNAME=172.16.101.43\n"));
    assert_non_null(
        strstr(strbuf_str(&r.out), "PGPASSWORD=<secret:tenant-mr-x-postgres/password>"));
    /* only the app host */
    assert_null(strstr(strbuf_str(&r.out), "host voice"));
    assert_null(strstr(strbuf_str(&r.out), "oml-asterisk-server"));
    omlctl_exec_release(&r);
}

static void test_render_yaml_and_json(void **state)
{
    run_result r;
    json_object *o;

    (void)state;
    run(&r, (const char *const[]){"-f", example("tenant-aio.yaml"), NULL});
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(strbuf_str(&r.out), "tenant: algarrobo\n"));
    assert_non_null(strstr(strbuf_str(&r.out), "omlop.io/spec-hash:"));
    /* the public IP is not known offline: shown as a placeholder */
    assert_non_null(strstr(strbuf_str(&r.out), "ASTERISK_PUBLIC_IP: <public-ip:algarrobo>"));
    omlctl_exec_release(&r);

    run(&r, (const char *const[]){"-f", example("tenant-aio.yaml"), "-o", "json", "--public-ip",
                                  "algarrobo=198.51.100.9", NULL});
    assert_int_equal(r.rc, 0);
    o = json_tokener_parse(strbuf_str(&r.out));
    assert_non_null(o);
    {
        json_object *cs = json_object_object_get(
            json_object_array_get_idx(json_object_object_get(o, "hosts"), 0), "containers");
        const char *ip = NULL;

        for (size_t i = 0; i < json_object_array_length(cs); i++) {
            json_object *c = json_object_array_get_idx(cs, i);

            if (strcmp(json_object_get_string(json_object_object_get(c, "name")),
                       "oml-asterisk-server") == 0)
                ip = json_object_get_string(
                    json_object_object_get(json_object_object_get(c, "env"), "ASTERISK_PUBLIC_IP"));
        }
        assert_non_null(ip);
        assert_string_equal(ip, "198.51.100.9");
    }
    json_object_put(o);
    omlctl_exec_release(&r);

    /* The bounds of an address, IPv6, and a host-specific value beside the default one. */
    run(&r, (const char *const[]){"-f", example("tenant-cluster.yaml"), "-o", "env", "--public-ip",
                                  "255.255.255.255", "--public-ip", "voice=2001:db8::1", NULL});
    if (r.rc != 0)
        fail_msg("rc %d: %s", r.rc, strbuf_str(&r.err));
    omlctl_exec_release(&r);
    run(&r, (const char *const[]){"-f", example("tenant-cluster.yaml"), "-o", "env", "--public-ip",
                                  "0.0.0.0", NULL});
    assert_int_equal(r.rc, 0);
    omlctl_exec_release(&r);
    run(&r, (const char *const[]){"-f", example("tenant-cluster.yaml"), "-o", "env", "--public-ip",
                                  "256.0.0.0", NULL});
    assert_int_equal(r.rc, 2);
    omlctl_exec_release(&r);
}

typedef struct bad_case {
    const char *what;
    const char *args[10];
    int rc;
    const char *err;
} bad_case;

static void test_render_errors(void **state)
{
    char bad_path[] = "/tmp/omlctl-render-bad-XXXXXX";
    int fd = mkstemp(bad_path);
    static const char bad_yaml[] =
        "apiVersion: omlop.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: t\nspec:\n"
        "  layout: cluster\n  hosts: []\n";
    bad_case cases[] = {
        {"no -f", {NULL}, 2, "no input"},
        {"bad format", {"-f", "@", "-o", "xml", NULL}, 2, "unknown output format 'xml'"},
        {"unknown host",
         {"-f", "@", "--host", "db", NULL},
         1,
         "tenant tenant-mr-x has no host db (hosts: data, voice, app)"},
        {"invalid manifest", {"-f", bad_path, NULL}, 1, "spec.hosts"},
        {"bad --public-ip", {"-f", "@", "--public-ip", "h=", NULL}, 2, "expected IP or HOST=IP"},
        {"--public-ip without a host",
         {"-f", "@", "--public-ip", "=1.2.3.4", NULL},
         2,
         "--public-ip '=1.2.3.4': expected IP or HOST=IP"},
        {"--public-ip octet past 255",
         {"-f", "@", "--public-ip", "300.1.1.1", NULL},
         2,
         "--public-ip '300.1.1.1': '300.1.1.1' is not an IPv4 or IPv6 address"},
        {"--public-ip host with a bad address",
         {"-f", "@", "--public-ip", "voice=10.0.0", NULL},
         2,
         "--public-ip 'voice=10.0.0': '10.0.0' is not an IPv4 or IPv6 address"},
        {"--public-ip a name, not an address",
         {"-f", "@", "--public-ip", "voice=pbx.example.com", NULL},
         2,
         "is not an IPv4 or IPv6 address"},
        {"--public-ip unknown host",
         {"-f", "@", "--public-ip", "vocie=198.51.100.9", NULL},
         1,
         "--public-ip 'vocie=198.51.100.9': no Tenant in the input has a host vocie (hosts: "
         "data, voice, app)"},
        {"--public-ip same host twice",
         {"-f", "@", "--public-ip", "voice=198.51.100.9", "--public-ip", "voice=198.51.100.8",
          NULL},
         2,
         "--public-ip 'voice=198.51.100.8': this host's address is given twice"},
        {"--public-ip two addresses for all",
         {"-f", "@", "--public-ip", "198.51.100.9", "--public-ip", "198.51.100.8", NULL},
         2,
         "an address for every host is given twice"},
    };

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bad_yaml, sizeof(bad_yaml) - 1), (ssize_t)(sizeof(bad_yaml) - 1));
    close(fd);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_result r;

        /* "@" stands for the cluster example */
        for (size_t a = 0; a < 10 && cases[i].args[a]; a++)
            if (strcmp(cases[i].args[a], "@") == 0)
                cases[i].args[a] = example("tenant-cluster.yaml");
        run(&r, cases[i].args);
        if (r.rc != cases[i].rc || !strstr(strbuf_str(&r.err), cases[i].err))
            fail_msg("%s: rc %d, stderr: %s", cases[i].what, r.rc, strbuf_str(&r.err));
        assert_int_equal(r.out.len, 0);
        omlctl_exec_release(&r);
    }
    unlink(bad_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_env_for_one_host),
        cmocka_unit_test(test_render_yaml_and_json),
        cmocka_unit_test(test_render_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
