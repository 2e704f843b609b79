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
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/strbuf.h"

#define RUN_DEADLINE_SECONDS 60

extern char **environ;

typedef struct run_result {
    int rc;
    strbuf out;
    strbuf err;
} run_result;

static const char *srcdir(void)
{
    const char *s = getenv("OMLOP_SRCDIR");

    return s ? s : ".";
}

static void slurp(int fd, strbuf *sb)
{
    omlop_err err = OMLOP_ERR_INIT;

    lseek(fd, 0, SEEK_SET);
    if (strbuf_read_fd(sb, fd, 16u << 20, &err) < 0)
        fail_msg("read output: %s", err.msg);
    close(fd);
}

/* Run omlctl render with args (NULL-terminated) from the source tree; output via temp files. */
static void run(run_result *r, const char *const *args)
{
    const char *bin = getenv("OMLOP_OMLCTL");
    char out_path[] = "/tmp/omlctl-render-out-XXXXXX", err_path[] = "/tmp/omlctl-render-err-XXXXXX";
    strbuf path = STRBUF_INIT;
    posix_spawn_file_actions_t fa;
    const char *argv[32];
    int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path), status = 0;
    time_t deadline = time(NULL) + RUN_DEADLINE_SECONDS;
    size_t n = 0;
    pid_t pid;

    assert_true(out_fd >= 0 && err_fd >= 0);
    unlink(out_path);
    unlink(err_path);
    strbuf_init(&r->out);
    strbuf_init(&r->err);
    if (bin)
        strbuf_adds(&path, bin);
    else
        strbuf_addf(&path, "%s/build/asan/bin/omlctl", srcdir());
    argv[n++] = path.buf;
    argv[n++] = "render";
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    if (posix_spawn(&pid, path.buf, &fa, NULL, (char *const *)argv, environ) != 0)
        fail_msg("cannot run %s", path.buf);
    posix_spawn_file_actions_destroy(&fa);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (time(NULL) > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("omlctl render did not finish in %d s", RUN_DEADLINE_SECONDS);
        }
        usleep(10000);
    }
    r->rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    slurp(out_fd, &r->out);
    slurp(err_fd, &r->err);
    strbuf_release(&path);
}

static void release(run_result *r)
{
    strbuf_release(&r->out);
    strbuf_release(&r->err);
}

static const char *example(const char *name)
{
    static char path[4096]; /* test-local convenience; one path in use at a time */

    snprintf(path, sizeof(path), "%s/crds/examples/%s", srcdir(), name);
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
    release(&r);
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
    release(&r);

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
    release(&r);
}

typedef struct bad_case {
    const char *what;
    const char *args[8];
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
    };

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bad_yaml, sizeof(bad_yaml) - 1), (ssize_t)(sizeof(bad_yaml) - 1));
    close(fd);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_result r;

        /* "@" stands for the cluster example */
        for (size_t a = 0; a < 8 && cases[i].args[a]; a++)
            if (strcmp(cases[i].args[a], "@") == 0)
                cases[i].args[a] = example("tenant-cluster.yaml");
        run(&r, cases[i].args);
        if (r.rc != cases[i].rc || !strstr(strbuf_str(&r.err), cases[i].err))
            fail_msg("%s: rc %d, stderr: %s", cases[i].what, r.rc, strbuf_str(&r.err));
        assert_int_equal(r.out.len, 0);
        release(&r);
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
