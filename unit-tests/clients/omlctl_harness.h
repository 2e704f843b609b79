/*
 * omlctl_harness: what the test_omlctl_cli_*.c tests share. They start the real
 * build/asan/bin/omlopd on a temp data dir and a free loopback port, then run
 * the real build/asan/bin/omlctl against it and look at its exit code, stdout
 * and stderr. Both binaries run under ASan, so a leak or a bad access in either
 * fails the test through the exit code.
 *
 * A header of static functions rather than a helper .c: every .c under
 * unit-tests/ that is not a test is linked into every test binary.
 */
#ifndef OMLOP_TEST_OMLCTL_HARNESS_H
#define OMLOP_TEST_OMLCTL_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clients/apiclient.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/strbuf.h"

#define OCTL_UNUSED         __attribute__((unused))
#define OCTL_CMD_TIMEOUT_MS 60000

typedef struct octl_env {
    char dir[128];   /* temp dir: data/, cfg/ (XDG_CONFIG_HOME), files */
    char server[64]; /* http://127.0.0.1:PORT */
    char omlopd_bin[512];
    char omlctl_bin[512];
    pid_t omlopd;
    apiclient *api; /* for setting up state the CLI cannot (status, events) */
} octl_env;

typedef struct octl_run {
    int code; /* exit status; 128+N for signal N; -1 when it had to be killed */
    strbuf out;
    strbuf err;
} octl_run;

OCTL_UNUSED static long octl_now_ms(void)
{
    return (long)clock_now_ms();
}

OCTL_UNUSED static void octl_sleep_ms(int ms)
{
    clock_sleep_ms(ms);
}

/* A loopback port that was free a moment ago. */
OCTL_UNUSED static int octl_free_port(void)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
        return -1;
    port = ntohs(sin.sin_port);
    close(fd);
    return port;
}

OCTL_UNUSED static void octl_write_file(const octl_env *e, const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", e->dir, name);
    f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
    fputs(text, f);
    fclose(f);
}

OCTL_UNUSED static char *octl_path(const octl_env *e, const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", e->dir, name);
    return buf;
}

/*
 * Start omlopd with extra flags (NULL-terminated, may be NULL). Returns 0 when it
 * answers /healthz within 20 s; -1 (after printing why) otherwise.
 */
OCTL_UNUSED static int octl_start(octl_env *e, const char *const *extra)
{
    const char *src = getenv("OMLOP_SRCDIR");
    char data[256], cfg[256], listen_arg[64], log[256];
    const char *argv[32];
    apiclient_opts o;
    omlop_err err = OMLOP_ERR_INIT;
    int n = 0, port = octl_free_port(), is_tls = 0;
    long deadline;

    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/omlctl-test-XXXXXX");
    if (!mkdtemp(e->dir) || port < 0)
        return -1;
    snprintf(e->omlopd_bin, sizeof(e->omlopd_bin), "%s/build/asan/bin/omlopd", src ? src : ".");
    snprintf(e->omlctl_bin, sizeof(e->omlctl_bin), "%s/build/asan/bin/omlctl", src ? src : ".");
    if (access(e->omlopd_bin, X_OK) != 0 || access(e->omlctl_bin, X_OK) != 0) {
        fprintf(stderr, "omlctl tests need %s and %s (make asan-bins)\n", e->omlopd_bin,
                e->omlctl_bin);
        return -1;
    }
    snprintf(data, sizeof(data), "%s/data", e->dir);
    snprintf(cfg, sizeof(cfg), "%s/cfg", e->dir);
    snprintf(log, sizeof(log), "%s/omlopd.log", e->dir);
    mkdir(cfg, 0700);
    snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", port);
    for (size_t i = 0; extra && extra[i]; i++)
        is_tls |= !strcmp(extra[i], "--tls-cert");
    snprintf(e->server, sizeof(e->server), "%s://127.0.0.1:%d", is_tls ? "https" : "http", port);
    argv[n++] = e->omlopd_bin;
    argv[n++] = "--data-dir";
    argv[n++] = data;
    argv[n++] = "--listen";
    argv[n++] = listen_arg;
    argv[n++] = "--log-level";
    argv[n++] = "warn";
    for (size_t i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    e->omlopd = fork();
    if (e->omlopd == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    /* Every omlctl run of this process talks to this omlopd with this config dir. */
    setenv("OMLOP_SERVER", e->server, 1);
    setenv("XDG_CONFIG_HOME", cfg, 1);
    unsetenv("OMLOP_TOKEN");
    unsetenv("OMLOP_CA_FILE");
    unsetenv("OMLOP_CONFIG");
    apiclient_opts_default(&o);
    o.server = e->server;
    o.timeout_ms = 10000;
    o.insecure_skip_verify = is_tls; /* only the readiness probe; tests check TLS themselves */
    if (apiclient_new(&o, &e->api, &err) < 0)
        return -1;
    deadline = octl_now_ms() + 20000;
    while (octl_now_ms() < deadline) {
        apiclient_response r = APICLIENT_RESPONSE_INIT;
        int status;

        if (waitpid(e->omlopd, &status, WNOHANG) == e->omlopd) {
            fprintf(stderr, "omlopd exited at start (status %d); see %s\n", status, log);
            e->omlopd = 0;
            return -1;
        }
        if (apiclient_do(e->api, "GET", "/healthz", NULL, NULL, 0, &r, &err) == 0 &&
            r.code == 200) {
            apiclient_response_release(&r);
            return 0;
        }
        apiclient_response_release(&r);
        octl_sleep_ms(50);
    }
    fprintf(stderr, "omlopd did not answer /healthz on %s within 20 s; see %s\n", e->server, log);
    return -1;
}

/* Stop omlopd (SIGTERM, then SIGKILL after 10 s) and remove the temp dir. */
OCTL_UNUSED static void octl_stop(octl_env *e)
{
    char cmd[256];

    apiclient_free(e->api);
    e->api = NULL;
    if (e->omlopd > 0) {
        long deadline = octl_now_ms() + 10000;
        int status;

        kill(e->omlopd, SIGTERM);
        while (waitpid(e->omlopd, &status, WNOHANG) == 0) {
            if (octl_now_ms() > deadline) {
                kill(e->omlopd, SIGKILL);
                waitpid(e->omlopd, &status, 0);
                break;
            }
            octl_sleep_ms(20);
        }
        e->omlopd = 0;
    }
    if (e->dir[0] && !getenv("OMLCTL_TEST_KEEP")) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", e->dir);
    }
}

OCTL_UNUSED static void octl_read_all(const char *path, strbuf *out)
{
    omlop_err err = OMLOP_ERR_INIT;

    strbuf_reset(out);
    strbuf_read_file(out, path, 64u << 20, &err);
}

OCTL_UNUSED static void octl_run_release(octl_run *r)
{
    strbuf_release(&r->out);
    strbuf_release(&r->err);
}

/* A run in the background: started, then waited for. */
typedef struct octl_bg {
    pid_t pid;
    char outp[256];
    char errp[256];
} octl_bg;

/* Start omlctl with args (NULL-terminated, no program name); stdin from stdin_text or /dev/null. */
OCTL_UNUSED static void octl_bg_start(const octl_env *e, octl_bg *bg, const char *stdin_text,
                                      const char *const *args)
{
    static int counter; /* runs may overlap: one set of files each */
    char inp[256];
    const char *argv[64];
    int n = 0, id = __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);

    snprintf(bg->outp, sizeof(bg->outp), "%s/run%d.out", e->dir, id);
    snprintf(bg->errp, sizeof(bg->errp), "%s/run%d.err", e->dir, id);
    snprintf(inp, sizeof(inp), "%s/run%d.in", e->dir, id);
    if (stdin_text) {
        FILE *f = fopen(inp, "w");

        fputs(stdin_text, f);
        fclose(f);
    }
    argv[n++] = e->omlctl_bin;
    for (size_t i = 0; args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    bg->pid = fork();
    if (bg->pid == 0) {
        int in = open(stdin_text ? inp : "/dev/null", O_RDONLY);
        int out = open(bg->outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int er = open(bg->errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        dup2(in, 0);
        dup2(out, 1);
        dup2(er, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
}

/*
 * Wait until the run's stderr (to_stderr) or stdout holds needle, up to
 * timeout_ms; 0 when it does. Lets a test act once a watch is really open
 * (omlctl -v logs "api=watch" as it opens one).
 */
OCTL_UNUSED static int octl_bg_wait_for(const octl_bg *bg, int to_stderr, const char *needle,
                                        long timeout_ms)
{
    long deadline = octl_now_ms() + timeout_ms;
    strbuf sb = STRBUF_INIT;
    int found = 0;

    while (!found && octl_now_ms() < deadline) {
        octl_read_all(to_stderr ? bg->errp : bg->outp, &sb);
        found = strstr(strbuf_str(&sb), needle) != NULL;
        if (!found)
            octl_sleep_ms(20);
    }
    strbuf_release(&sb);
    return found ? 0 : -1;
}

/* Wait for the run to end (killed after timeout_ms) and collect it into r. */
OCTL_UNUSED static int octl_bg_finish(octl_bg *bg, octl_run *r, long timeout_ms)
{
    long deadline = octl_now_ms() + timeout_ms;
    int status = 0;

    strbuf_init(&r->out);
    strbuf_init(&r->err);
    r->code = -1;
    for (;;) {
        pid_t w = waitpid(bg->pid, &status, WNOHANG);

        if (w == bg->pid) {
            r->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (octl_now_ms() > deadline) {
            kill(bg->pid, SIGKILL);
            waitpid(bg->pid, &status, 0);
            break;
        }
        octl_sleep_ms(5);
    }
    octl_read_all(bg->outp, &r->out);
    octl_read_all(bg->errp, &r->err);
    return r->code;
}

/*
 * Run omlctl with args (NULL-terminated, without the program name), stdin from
 * stdin_text (NULL: /dev/null), killed after timeout_ms. Returns r->code.
 */
OCTL_UNUSED static int octl_runv(const octl_env *e, octl_run *r, const char *stdin_text,
                                 long timeout_ms, const char *const *args)
{
    octl_bg bg = {0, "", ""};

    octl_bg_start(e, &bg, stdin_text, args);
    return octl_bg_finish(&bg, r, timeout_ms);
}

/* Same with a default timeout. */
OCTL_UNUSED static int octl_run_args(const octl_env *e, octl_run *r, const char *stdin_text,
                                     const char *const *args)
{
    return octl_runv(e, r, stdin_text, OCTL_CMD_TIMEOUT_MS, args);
}

/* The object as the server has it now (caller puts); fails the test when the GET does. */
OCTL_UNUSED static json_object *octl_fetch(const octl_env *e, const char *plural, const char *name)
{
    strbuf path = STRBUF_INIT;
    json_object *o = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    apiclient_path(&path, plural, name, NULL);
    if (apiclient_json(e->api, "GET", path.buf, NULL, NULL, &o, &err) < 0)
        fail_msg("GET %s: %s", path.buf, err.msg);
    strbuf_release(&path);
    return o;
}

/* Print a run's output (for failing assertions). */
OCTL_UNUSED static void octl_dump(const char *what, const octl_run *r)
{
    fprintf(stderr, "--- %s: exit %d\n--- stdout:\n%s--- stderr:\n%s---\n", what, r->code,
            strbuf_str(&r->out), strbuf_str(&r->err));
}

#define OCTL(e, r, stdin_text, ...)                                                                \
    octl_run_args((e), (r), (stdin_text), (const char *const[]){__VA_ARGS__, NULL})

/* Assert an exit code, showing the output when it differs. */
#define octl_assert_code(r, want)                                                                  \
    do {                                                                                           \
        if ((r)->code != (want)) {                                                                 \
            octl_dump("unexpected exit code", (r));                                                \
            fail_msg("exit code %d, want %d", (r)->code, (want));                                  \
        }                                                                                          \
    } while (0)

/* Assert that haystack contains needle, showing it when not. */
#define octl_assert_contains(haystack, needle)                                                     \
    do {                                                                                           \
        if (!strstr((haystack), (needle)))                                                         \
            fail_msg("expected to find [%s] in:\n%s", (needle), (haystack));                       \
    } while (0)

/* Assert a string field of a JSON object (a missing field fails, not crashes). */
#define octl_assert_field(obj, path, want)                                                         \
    do {                                                                                           \
        const char *got_ = cjson_get_string((obj), (path));                                        \
        if (!got_ || strcmp(got_, (want)) != 0)                                                    \
            fail_msg("%s is %s, want %s", (path), got_ ? got_ : "(missing)", (want));              \
    } while (0)

#define octl_assert_not_contains(haystack, needle)                                                 \
    do {                                                                                           \
        if (strstr((haystack), (needle)))                                                          \
            fail_msg("did not expect [%s] in:\n%s", (needle), (haystack));                         \
    } while (0)

#endif
