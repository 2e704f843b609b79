/*
 * omlctl_exec: run the real omlctl binary offline (no omlopd) and capture its
 * exit code, stdout and stderr, for the tests of the offline verbs (validate,
 * convert, explain in crds/test_schema_cli.c; render in
 * clients/test_omlctl_render.c). The binary is build/asan/bin/omlctl, which
 * `make unit` builds first; OMLOP_OMLCTL overrides the path. Tests that need a
 * server use omlctl_harness.h instead.
 *
 * A header of static functions rather than a helper .c: every .c under
 * unit-tests/ that is not a test is linked into every test binary.
 */
#ifndef OMLOP_TEST_OMLCTL_EXEC_H
#define OMLOP_TEST_OMLCTL_EXEC_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/strbuf.h"

#define OMLCTL_EXEC_UNUSED __attribute__((unused))

/* ASan binaries start slowly on a loaded machine; nothing here should take this long. */
#define OMLCTL_EXEC_DEADLINE_SECONDS 60

typedef struct run_result {
    int rc; /* exit status, or -1 when killed */
    strbuf out;
    strbuf err;
} run_result;

OMLCTL_EXEC_UNUSED static const char *omlctl_exec_srcdir(void)
{
    const char *s = getenv("OMLOP_SRCDIR");

    return s ? s : ".";
}

/* Drain fd into sb; returns 0 at EOF. */
OMLCTL_EXEC_UNUSED static int omlctl_exec_drain(int fd, strbuf *sb)
{
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));

    if (n > 0)
        strbuf_add(sb, buf, (size_t)n);
    return n > 0 || (n < 0 && errno == EINTR);
}

/*
 * Run omlctl with args (NULL-terminated, without argv[0]) in the source tree,
 * feeding stdin_text (NULL: empty stdin). Fails the test when the binary cannot
 * run; r->rc is -1 when it had to be killed at the deadline. Release r after.
 */
OMLCTL_EXEC_UNUSED static void omlctl_exec_run(run_result *r, const char *stdin_text,
                                               const char *const *args)
{
    const char *bin = getenv("OMLOP_OMLCTL");
    strbuf path = STRBUF_INIT;
    const char *argv[32];
    int in[2], out[2], err[2], status = 0, open_fds = 2;
    time_t deadline = time(NULL) + OMLCTL_EXEC_DEADLINE_SECONDS;
    pid_t pid;
    size_t n = 0;

    strbuf_init(&r->out);
    strbuf_init(&r->err);
    if (bin)
        strbuf_adds(&path, bin);
    else
        strbuf_addf(&path, "%s/build/asan/bin/omlctl", omlctl_exec_srcdir());
    argv[n++] = path.buf;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(in[1]);
        close(out[0]);
        close(err[0]);
        if (chdir(omlctl_exec_srcdir()) != 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (stdin_text && write(in[1], stdin_text, strlen(stdin_text)) < 0)
        fail_msg("writing stdin: %s", strerror(errno));
    close(in[1]);
    while (open_fds > 0 && time(NULL) < deadline) {
        struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};

        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            break;
        if (p[0].fd >= 0 && (p[0].revents & (POLLIN | POLLHUP)) &&
            !omlctl_exec_drain(out[0], &r->out)) {
            close(out[0]);
            out[0] = -1;
            open_fds--;
        }
        if (p[1].fd >= 0 && (p[1].revents & (POLLIN | POLLHUP)) &&
            !omlctl_exec_drain(err[0], &r->err)) {
            close(err[0]);
            err[0] = -1;
            open_fds--;
        }
    }
    if (open_fds > 0) {
        kill(pid, SIGKILL);
        if (out[0] >= 0)
            close(out[0]);
        if (err[0] >= 0)
            close(err[0]);
    }
    waitpid(pid, &status, 0);
    r->rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r->rc == 127)
        fail_msg("cannot run %s (build it with make asan-bins)", path.buf);
    strbuf_release(&path);
}

OMLCTL_EXEC_UNUSED static void omlctl_exec_release(run_result *r)
{
    strbuf_release(&r->out);
    strbuf_release(&r->err);
}

#endif
