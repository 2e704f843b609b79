/*
 * Tests for clients/podman_pipe.h against a fake Podman on a unix socket: an exec's stdout
 * handed to the sink piece by piece and complete, stderr kept apart and bounded, the exit code,
 * a sink's error returned with its own message (the backup names its step with it), and the
 * archive API streamed, a missing path being OMLOP_ENOTFOUND.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clients/podman.h"
#include "clients/podman_pipe.h"
#include "clients/tunnel.h"
#include "lib/strbuf.h"
#include "unit-tests/fake_http.h"

#define DUMP_FRAMES 40 /* stdout frames of 1000 bytes: more than one read of the client */

typedef struct fake {
    char dir[64];
    char path[96];
    int listen_fd;
    pthread_t thread;
    atomic_int stop;
    strbuf put; /* the body of the last PUT archive into pg (read after the reply) */
    char put_target[1024];
} fake;

static void respond(int fd, int status, const char *reason, const char *body)
{
    strbuf r = STRBUF_INIT;

    strbuf_addf(&r,
                "HTTP/1.1 %d %s\r\nLibpod-Api-Version: 4.3.1\r\nContent-Type: "
                "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                status, reason, strlen(body), body);
    fake_http_send_all(fd, r.buf, r.len);
    strbuf_release(&r);
}

static void frame(strbuf *sb, int stream, const char *s, size_t n)
{
    unsigned char h[8] = {(unsigned char)stream, 0, 0, 0, 0, 0, (unsigned char)(n >> 8),
                          (unsigned char)n};

    strbuf_add(sb, h, 8);
    strbuf_add(sb, s, n);
}

/* the byte i of the fake dump */
static char dump_byte(size_t i)
{
    return (char)('a' + (i * 7) % 26);
}

static int serve(fake *fk, int fd, const char *method, const char *target, const strbuf *body)
{
    if (strncmp(target, "/v4.0.0/libpod", 14) != 0) {
        respond(fd, 200, "OK", "OK"); /* _ping */
        /* one connection at a time: let the next (a raw stream's PUT) in */
        return -1;
    }
    target += 14;
    if (strcmp(method, "PUT") == 0 && strncmp(target, "/containers/pg/archive?", 23) == 0) {
        strbuf_reset(&fk->put);
        strbuf_add(&fk->put, body->buf ? body->buf : "", body->len);
        snprintf(fk->put_target, sizeof(fk->put_target), "%s", target);
        respond(fd, 200, "OK", "");
    } else if (strcmp(target, "/containers/pg/exec") == 0) {
        respond(fd, 201, "Created", "{\"Id\":\"e1\"}");
    } else if (strcmp(target, "/exec/e1/start") == 0) {
        static const char hdr[] =
            "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n";
        strbuf out = STRBUF_INIT;
        char piece[1000];

        fake_http_send_all(fd, hdr, strlen(hdr));
        for (size_t f = 0; f < DUMP_FRAMES; f++) {
            for (size_t i = 0; i < sizeof(piece); i++)
                piece[i] = dump_byte(f * sizeof(piece) + i);
            strbuf_reset(&out);
            frame(&out, 1, piece, sizeof(piece));
            if (f % 10 == 0)
                frame(&out, 2, "pg_dump: warning\n", 17);
            fake_http_send_all(fd, out.buf, out.len);
        }
        strbuf_release(&out);
        return -1; /* hijacked: the end of the connection ends the stream */
    } else if (strcmp(target, "/exec/e1/json") == 0) {
        respond(fd, 200, "OK", "{\"Running\":false,\"ExitCode\":0}");
    } else if (strcmp(target, "/containers/ast/archive?path=%2Fetc%2Fasterisk%2Fcustom") == 0) {
        respond(fd, 200, "OK", "tar-bytes-of-custom");
    } else if (strncmp(target, "/containers/ast/archive?", 24) == 0) {
        respond(fd, 404, "Not Found",
                "{\"cause\":\"no such file or directory\",\"message\":\"stat "
                "/etc/asterisk/override: no such file or directory\",\"response\":404}");
    } else {
        respond(fd, 404, "Not Found", "{\"cause\":\"no such thing\",\"response\":404}");
    }
    return 0;
}

static void *fake_main(void *arg)
{
    fake *f = arg;

    while (!atomic_load(&f->stop)) {
        struct pollfd p = {f->listen_fd, POLLIN, 0};
        strbuf in = STRBUF_INIT, body = STRBUF_INIT;
        char method[16], target[1024];
        int fd;

        if (poll(&p, 1, 100) <= 0)
            continue;
        fd = accept(f->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        while (!atomic_load(&f->stop) &&
               fake_http_read_request(&f->stop, fd, &in, method, target, &body) == 0)
            if (serve(f, fd, method, target, &body) < 0)
                break;
        close(fd);
        strbuf_release(&in);
        strbuf_release(&body);
    }
    return NULL;
}

typedef struct fixture {
    fake f;
    tunnel *t;
    podman_client *p;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    struct sockaddr_un sa;
    omlop_err err = OMLOP_ERR_INIT;

    snprintf(fx->f.dir, sizeof(fx->f.dir), "/tmp/omlop-fakepipe-XXXXXX");
    assert_non_null(mkdtemp(fx->f.dir));
    snprintf(fx->f.path, sizeof(fx->f.path), "%s/podman.sock", fx->f.dir);
    fx->f.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx->f.path);
    assert_int_equal(bind(fx->f.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fx->f.listen_fd, 16), 0);
    assert_int_equal(pthread_create(&fx->f.thread, NULL, fake_main, &fx->f), 0);
    assert_int_equal(tunnel_new_local(fx->f.path, &fx->t, &err), 0);
    assert_int_equal(podman_client_new(fx->t, &fx->p, &err), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;

    podman_client_free(fx->p);
    tunnel_free(fx->t);
    atomic_store(&fx->f.stop, 1);
    pthread_join(fx->f.thread, NULL);
    close(fx->f.listen_fd);
    unlink(fx->f.path);
    rmdir(fx->f.dir);
    strbuf_release(&fx->f.put);
    free(fx);
    return 0;
}

typedef struct sink {
    strbuf got;
    int calls;
    int fail_at; /* the n-th call fails; 0: never */
} sink;

static int sink_fn(void *ctx, const char *data, size_t len, omlop_err *err)
{
    sink *s = ctx;

    if (++s->calls == s->fail_at)
        return omlop_err_set(err, OMLOP_EAUTH, "upload part 3: SignatureDoesNotMatch (HTTP 403)");
    strbuf_add(&s->got, data, len);
    return 0;
}

static const char *const dump_cmd[] = {"sh", "-c", "exec pg_dump -Fc", NULL};

static void test_exec_stream_hands_stdout_to_the_sink(void **state)
{
    fixture *fx = *state;
    sink s = {STRBUF_INIT, 0, 0};
    strbuf e = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    int code = -1;

    if (podman_exec_stream(fx->p, "pg", dump_cmd, NULL, sink_fn, &s, &code, &e, &err) < 0)
        fail_msg("exec: %s", err.msg);
    assert_int_equal(code, 0);
    assert_int_equal(s.got.len, DUMP_FRAMES * 1000);
    for (size_t i = 0; i < s.got.len; i++)
        if (s.got.buf[i] != dump_byte(i))
            fail_msg("byte %zu differs", i);
    assert_true(s.calls >= 1);
    /* stderr apart, every warning (4 frames) */
    assert_int_equal(e.len, 4 * 17);
    assert_non_null(strstr(e.buf, "pg_dump: warning"));
    strbuf_release(&s.got);
    strbuf_release(&e);
}

static void test_exec_stream_bounds_stderr(void **state)
{
    fixture *fx = *state;
    sink s = {STRBUF_INIT, 0, 0};
    strbuf e = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    podman_pipe_opts o = {0};
    int code = -1;

    o.max_stderr = 20; /* one warning and 3 bytes of the next */
    assert_int_equal(podman_exec_stream(fx->p, "pg", dump_cmd, &o, sink_fn, &s, &code, &e, &err),
                     0);
    assert_int_equal(e.len, 20);
    assert_int_equal(s.got.len, DUMP_FRAMES * 1000); /* stdout is not cut */
    strbuf_release(&s.got);
    strbuf_release(&e);
}

static void test_exec_stream_returns_the_sinks_error(void **state)
{
    fixture *fx = *state;
    sink s = {STRBUF_INIT, 0, 2};
    strbuf e = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    int code = -1;

    assert_int_equal(podman_exec_stream(fx->p, "pg", dump_cmd, NULL, sink_fn, &s, &code, &e, &err),
                     OMLOP_EAUTH);
    assert_string_equal(err.msg, "upload part 3: SignatureDoesNotMatch (HTTP 403)");
    assert_int_equal(s.calls, 2); /* nothing more handed over after the refusal */
    strbuf_release(&s.got);
    strbuf_release(&e);
}

static void test_archive_get_streams_and_missing_is_not_found(void **state)
{
    fixture *fx = *state;
    sink s = {STRBUF_INIT, 0, 0};
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(
        podman_archive_get(fx->p, "ast", "/etc/asterisk/custom", NULL, sink_fn, &s, &err), 0);
    assert_string_equal(strbuf_str(&s.got), "tar-bytes-of-custom");
    strbuf_reset(&s.got);
    assert_int_equal(
        podman_archive_get(fx->p, "ast", "/etc/asterisk/override", NULL, sink_fn, &s, &err),
        OMLOP_ENOTFOUND);
    assert_int_equal(s.got.len, 0);
    assert_int_equal(podman_archive_get(fx->p, "ast", "etc/x", NULL, sink_fn, &s, &err),
                     OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "must be absolute"));
    strbuf_release(&s.got);
}

/* A body pushed in pieces arrives whole, with the length announced; the bounds hold. */
static void test_archive_put_streams_the_body(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    podman_put *w = NULL;
    char big[70000];

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = dump_byte(i);
    assert_int_equal(podman_archive_put_open(fx->p, "pg", "/tmp", sizeof(big) + 4, NULL, &w, &err),
                     0);
    assert_int_equal(podman_put_write(w, "head", 4, &err), 0);
    for (size_t off = 0; off < sizeof(big); off += 7000)
        assert_int_equal(podman_put_write(w, big + off, 7000, &err), 0);
    /* past the announced length: refused, nothing sent */
    assert_int_equal(podman_put_write(w, "x", 1, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "more than announced"));
    if (podman_put_finish(w, &err) < 0)
        fail_msg("finish: %s", err.msg);
    assert_string_equal(fx->f.put_target, "/containers/pg/archive?path=%2Ftmp");
    assert_int_equal(fx->f.put.len, sizeof(big) + 4);
    assert_memory_equal(fx->f.put.buf, "head", 4);
    assert_memory_equal(fx->f.put.buf + 4, big, sizeof(big));
}

static void test_archive_put_short_body_and_podman_errors(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    podman_put *w = NULL;

    /* finishing before the announced end is an error, not a truncated file */
    assert_int_equal(podman_archive_put_open(fx->p, "pg", "/tmp", 10, NULL, &w, &err), 0);
    assert_int_equal(podman_put_write(w, "12345", 5, &err), 0);
    assert_int_equal(podman_put_finish(w, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "5 bytes of the body missing"));
    /* Podman's refusal, mapped and naming the container */
    assert_int_equal(podman_archive_put_open(fx->p, "gone", "/tmp", 2, NULL, &w, &err), 0);
    assert_int_equal(podman_put_write(w, "ab", 2, &err), 0);
    assert_int_equal(podman_put_finish(w, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "copy files into container 'gone'"));
    /* a relative destination never leaves the client */
    assert_int_equal(podman_archive_put_open(fx->p, "pg", "tmp", 2, NULL, &w, &err), OMLOP_EINVAL);
    assert_null(w);
    podman_put_abort(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exec_stream_hands_stdout_to_the_sink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_stream_bounds_stderr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_stream_returns_the_sinks_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_get_streams_and_missing_is_not_found, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_archive_put_streams_the_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_put_short_body_and_podman_errors, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("podman pipe", tests, NULL, NULL);
}
