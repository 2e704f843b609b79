/*
 * Tests for clients/tunnel (local transport) and the Podman client calls over
 * it, against a small scripted fake of Podman's HTTP API on a unix socket in a
 * temporary directory: keep-alive reuse, queries and bodies as sent, status
 * and error mapping, pull progress and in-band errors, exec demultiplexing
 * and exit codes, and event streams that break (an error, not a hang) and are
 * resumed with `since` without delivering an event twice. The real Podman is
 * exercised by e2e/scenarios/10-transport.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
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
#include "clients/podman_events.h"
#include "clients/podman_exec.h"
#include "clients/tunnel.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "unit-tests/fake_http.h"

/* --- the fake Podman ------------------------------------------------------------------- */

typedef struct fake {
    char dir[64];
    char path[96];
    int listen_fd;
    pthread_t thread;
    atomic_int stop;
    atomic_int connections; /* accepted so far */
    atomic_int events_calls;
    const char *api_version; /* what it says in Libpod-Api-Version; set before requests */
    pthread_mutex_t lock;    /* protects the log */
    strbuf log;              /* "METHOD PATH\n" per request, bodies of POSTs after "> " */
} fake;

static void respond_v(int fd, const char *version, int status, const char *reason,
                      const char *ctype, const char *body)
{
    strbuf r = STRBUF_INIT;

    strbuf_addf(&r,
                "HTTP/1.1 %d %s\r\nLibpod-Api-Version: %s\r\nDate: Wed, 25 Nov 2026 "
                "13:00:00 GMT\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
                status, reason, version, ctype, strlen(body), body);
    fake_http_send_all(fd, r.buf, r.len);
    strbuf_release(&r);
}

static void respond(int fd, int status, const char *reason, const char *ctype, const char *body)
{
    respond_v(fd, "4.3.1", status, reason, ctype, body);
}

static void chunk(int fd, const char *data)
{
    strbuf r = STRBUF_INIT;

    strbuf_addf(&r, "%zx\r\n%s\r\n", strlen(data), data);
    fake_http_send_all(fd, r.buf, r.len);
    strbuf_release(&r);
}

static void frame(strbuf *sb, int stream, const char *s)
{
    size_t n = strlen(s);
    unsigned char h[8] = {(unsigned char)stream, 0, 0, 0, 0, 0, (unsigned char)(n >> 8),
                          (unsigned char)n};

    strbuf_add(sb, h, 8);
    strbuf_add(sb, s, n);
}

#define EVENT(t, action, name)                                                                     \
    "{\"Type\":\"container\",\"Action\":\"" action "\",\"Actor\":{\"ID\":\"id-" name "\","         \
    "\"Attributes\":{\"name\":\"" name "\"}},\"timeNano\":" t "}\n"

/* Serve one request; returns 0 to keep the connection, -1 to close it. */
static int serve(fake *f, int fd, const char *method, const char *target, const char *body)
{
    (void)method;
    if (strcmp(target, "/libpod/_ping") == 0) {
        respond_v(fd, f->api_version ? f->api_version : "4.3.1", 200, "OK", "text/plain", "OK");
        return 0;
    }
    if (strncmp(target, "/v4.0.0/libpod", 14) != 0 && strncmp(target, "/v3.4.4/libpod", 14) != 0) {
        respond(fd, 404, "Not Found", "text/plain", "404 page not found\n");
        return 0;
    }
    target += 14;
    if (strcmp(target, "/_ping") == 0) {
        respond(fd, 200, "OK", "text/plain", "OK");
    } else if (strncmp(target, "/containers/json", 16) == 0) {
        respond(fd, 200, "OK", "application/json",
                "[{\"Id\":\"c1\",\"Names\":[\"t1-redis\"],\"Image\":\"redis:1\",\"State\":"
                "\"running\",\"Labels\":{\"omlop.io/tenant\":\"t1\"},\"Status\":\"\"}]");
    } else if (strncmp(target, "/volumes/json", 13) == 0) {
        respond(fd, 200, "OK", "application/json",
                "[{\"Name\":\"t1-data\",\"Mountpoint\":\"/v/t1-data\",\"Labels\":{}}]");
    } else if (strcmp(target, "/containers/nope/json") == 0) {
        respond(fd, 404, "Not Found", "application/json",
                "{\"cause\":\"no such container\",\"message\":\"no container with name or ID "
                "\\\"nope\\\" found: no such container\",\"response\":404}");
    } else if (strcmp(target, "/containers/create") == 0) {
        if (strstr(body, "\"name\":\"dup\""))
            respond(fd, 500, "Internal Server Error", "application/json",
                    "{\"cause\":\"that name is already in use\",\"message\":\"the container "
                    "name \\\"dup\\\" is already in use\",\"response\":500}");
        else
            respond(fd, 201, "Created", "application/json", "{\"Id\":\"abc123\",\"Warnings\":[]}");
    } else if (strcmp(target, "/containers/web/start") == 0) {
        respond(fd, 304, "Not Modified", "text/plain", "");
    } else if (strncmp(target, "/containers/web/stop?", 21) == 0) {
        respond(fd, 204, "No Content", "text/plain", "");
    } else if (strncmp(target, "/containers/slow/stop?", 22) == 0) {
        poll(NULL, 0, 1500); /* SIGTERM ignored: Podman kills it after timeout=1, then answers */
        respond(fd, 204, "No Content", "text/plain", "");
    } else if (strncmp(target, "/containers/hang/stop?", 22) == 0) {
        poll(NULL, 0, 1000); /* a stop stuck in Podman: no answer before the client gives up */
        return -1;
    } else if (strncmp(target, "/containers/stuck/stop?", 23) == 0 ||
               strncmp(target, "/containers/dead/stop?", 22) == 0) {
        respond(fd, 500, "Internal Server Error", "application/json",
                "{\"cause\":\"given PIDs did not die within timeout\",\"message\":\"given "
                "PIDs did not die within timeout\",\"response\":500}");
    } else if (strncmp(target, "/containers/dead/kill?", 22) == 0) {
        respond(fd, 500, "Internal Server Error", "application/json",
                "{\"cause\":\"runtime error\",\"message\":\"runtime failed to kill "
                "it\",\"response\":500}");
    } else if (strncmp(target, "/containers/gone/stop?", 22) == 0) {
        respond(fd, 404, "Not Found", "application/json",
                "{\"cause\":\"no such container\",\"response\":404}");
    } else if (strncmp(target, "/containers/web/kill?", 21) == 0) {
        respond(fd, 409, "Conflict", "application/json",
                "{\"cause\":\"container state improper\",\"response\":409}");
    } else if (strstr(target, "/kill?")) {
        respond(fd, 204, "No Content", "text/plain", "");
    } else if (strcmp(target, "/containers/web/exec") == 0) {
        respond(fd, 201, "Created", "application/json", "{\"Id\":\"e1\"}");
    } else if (strcmp(target, "/exec/e1/start") == 0) {
        strbuf out = STRBUF_INIT;
        static const char hdr[] =
            "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n";

        /* hijacked: raw frames, and the end of the connection ends the stream */
        frame(&out, 1, "hello ");
        frame(&out, 2, "warn\n");
        frame(&out, 1, "world\n");
        fake_http_send_all(fd, hdr, strlen(hdr));
        fake_http_send_all(fd, out.buf, out.len);
        strbuf_release(&out);
        return -1;
    } else if (strcmp(target, "/exec/e1/json") == 0) {
        respond(fd, 200, "OK", "application/json", "{\"Running\":false,\"ExitCode\":3}");
    } else if (strncmp(target, "/images/pull?", 13) == 0) {
        static const char hdr[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n";

        fake_http_send_all(fd, hdr, strlen(hdr));
        chunk(fd, "{\"stream\":\"Trying to pull r/x:1...\\n\"}\n{\"stream\":\"Getting ");
        chunk(fd, "image source signatures\\n\"}\n");
        if (strstr(target, "bad"))
            chunk(fd, "{\"error\":\"reading manifest 1 in r/bad: manifest unknown\"}\n");
        else
            chunk(fd, "{\"images\":[\"f00d\"],\"id\":\"f00d\"}\n");
        fake_http_send_all(fd, "0\r\n\r\n", 5);
    } else if (strncmp(target, "/events?", 8) == 0) {
        static const char hdr[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n";
        int call = atomic_fetch_add(&f->events_calls, 1);

        fake_http_send_all(fd, hdr, strlen(hdr));
        if (call == 0) {
            /* two events, then Podman "dies" in the middle of a chunk */
            chunk(fd, EVENT("1800000000000000001", "start", "a"));
            chunk(fd, EVENT("1800000000000000002", "died", "a"));
            fake_http_send_all(fd, "40\r\n{\"Type\":", 13);
        } else {
            /* resumed: the replay repeats the last event, then something new */
            chunk(fd, EVENT("1800000000000000002", "died", "a"));
            chunk(fd, EVENT("1800000000000000003", "remove", "a"));
            poll(NULL, 0, 3000); /* then idle, like a live stream, until cancelled */
        }
        return -1;
    } else {
        respond(fd, 404, "Not Found", "text/plain", "404 page not found\n");
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
        atomic_fetch_add(&f->connections, 1);
        /* one connection at a time is enough for these tests */
        while (!atomic_load(&f->stop) &&
               fake_http_read_request(&f->stop, fd, &in, method, target, &body) == 0) {
            pthread_mutex_lock(&f->lock);
            strbuf_addf(&f->log, "%s %s\n", method, target);
            if (body.len)
                strbuf_addf(&f->log, "> %s\n", strbuf_str(&body));
            pthread_mutex_unlock(&f->lock);
            if (serve(f, fd, method, target, strbuf_str(&body)) < 0)
                break;
        }
        close(fd);
        strbuf_release(&in);
        strbuf_release(&body);
    }
    return NULL;
}

static int fake_start(void **state)
{
    fake *f = calloc(1, sizeof(*f));
    struct sockaddr_un sa;

    snprintf(f->dir, sizeof(f->dir), "/tmp/omlop-fakepod-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/podman.sock", f->dir);
    f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->listen_fd, 16), 0);
    pthread_mutex_init(&f->lock, NULL);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
    *state = f;
    return 0;
}

static int fake_stop(void **state)
{
    fake *f = *state;

    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
    unlink(f->path);
    rmdir(f->dir);
    pthread_mutex_destroy(&f->lock);
    strbuf_release(&f->log);
    free(f);
    return 0;
}

static int fake_logged(fake *f, const char *needle)
{
    int yes;

    pthread_mutex_lock(&f->lock);
    yes = strstr(strbuf_str(&f->log), needle) != NULL;
    pthread_mutex_unlock(&f->lock);
    return yes;
}

typedef struct client {
    tunnel *t;
    podman_client *p;
} client;

static void client_open(fake *f, client *c)
{
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(tunnel_new_local(f->path, &c->t, &err), 0);
    assert_int_equal(podman_client_new(c->t, &c->p, &err), 0);
    assert_string_equal(podman_client_host(c->p), "local");
}

static void client_close(client *c)
{
    podman_client_free(c->p);
    tunnel_free(c->t);
}

/* --- tests ----------------------------------------------------------------------------- */

static void test_keepalive_reuses_one_connection(void **state)
{
    fake *f = *state;
    client c;
    char api[32];
    omlop_err err = OMLOP_ERR_INIT;

    client_open(f, &c);
    for (int i = 0; i < 20; i++)
        assert_int_equal(podman_ping(c.p, api, sizeof(api), &err), 0);
    assert_string_equal(api, "4.3.1");
    assert_int_equal(atomic_load(&f->connections), 1);
    client_close(&c);
}

static void test_podman3_gets_its_own_api_version_in_paths(void **state)
{
    fake *f = *state;
    podman_container_list l;
    omlop_err err = OMLOP_ERR_INIT;
    char prefix[PODMAN_PREFIX_MAX];
    client c;

    f->api_version = "3.4.4";
    client_open(f, &c);
    assert_int_equal(podman_containers_list(c.p, NULL, 1, &l, &err), 0);
    assert_true(fake_logged(f, "GET /libpod/_ping\nGET /v3.4.4/libpod/containers/json?all=true"));
    podman_client_api_prefix(c.p, prefix, sizeof(prefix));
    assert_string_equal(prefix, "/v3.4.4/libpod");
    podman_container_list_release(&l);
    client_close(&c);
    /* Podman 4 and later: the v4.0.0 paths, learnt once per client */
    f->api_version = "5.2.0";
    client_open(f, &c);
    assert_int_equal(podman_containers_list(c.p, NULL, 1, &l, &err), 0);
    podman_container_list_release(&l);
    assert_int_equal(podman_containers_list(c.p, NULL, 1, &l, &err), 0);
    podman_container_list_release(&l);
    podman_client_api_prefix(c.p, prefix, sizeof(prefix));
    assert_string_equal(prefix, "/v4.0.0/libpod");
    pthread_mutex_lock(&f->lock);
    {
        int pings = 0;

        for (const char *q = f->log.buf; (q = strstr(q, "GET /libpod/_ping")); q++)
            pings++;
        assert_int_equal(pings, 2); /* one per client */
    }
    pthread_mutex_unlock(&f->lock);
    client_close(&c);
}

static void test_list_sends_filters_and_parses(void **state)
{
    static const char *const labels[] = {"omlop.io/tenant=t1", NULL};
    podman_filters flt = {.labels = labels};
    fake *f = *state;
    podman_container_list l;
    podman_volume_list vl;
    omlop_err err = OMLOP_ERR_INIT;
    client c;

    client_open(f, &c);
    assert_int_equal(podman_containers_list(c.p, &flt, 1, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].name, "t1-redis");
    assert_true(fake_logged(f, "GET /v4.0.0/libpod/containers/json?all=true&filters="
                               "%7B%22label%22%3A%5B%22omlop.io%2Ftenant%3Dt1%22%5D%7D"));
    podman_container_list_release(&l);

    /* volumes share the filter encoding; no filters means no filters parameter */
    assert_int_equal(podman_volumes_list(c.p, &flt, &vl, &err), 0);
    assert_int_equal(vl.n, 1);
    assert_string_equal(vl.items[0].name, "t1-data");
    podman_volume_list_release(&vl);
    assert_true(fake_logged(f, "GET /v4.0.0/libpod/volumes/json?filters="
                               "%7B%22label%22%3A%5B%22omlop.io%2Ftenant%3Dt1%22%5D%7D"));
    assert_int_equal(podman_volumes_list(c.p, NULL, &vl, &err), 0);
    podman_volume_list_release(&vl);
    assert_true(fake_logged(f, "GET /v4.0.0/libpod/volumes/json\n"));
    client_close(&c);
}

static void test_statuses_and_errors(void **state)
{
    fake *f = *state;
    podman_create_spec ok = {.name = "web", .image = "r/web:1"};
    podman_create_spec dup = {.name = "dup", .image = "r/web:1"};
    podman_container ct;
    omlop_err err = OMLOP_ERR_INIT;
    char id[80];
    client c;

    client_open(f, &c);
    assert_int_equal(podman_container_inspect(c.p, "nope", &ct, &err), OMLOP_ENOTFOUND);
    assert_string_equal(err.msg, "host local: inspect container 'nope': no container with name "
                                 "or ID \"nope\" found: no such container (HTTP 404)");
    assert_int_equal(podman_container_create(c.p, &ok, id, sizeof(id), &err), 0);
    assert_string_equal(id, "abc123");
    assert_true(fake_logged(f, "> {\"name\":\"web\",\"image\":\"r/web:1\""));
    assert_int_equal(podman_container_create(c.p, &dup, NULL, 0, &err), OMLOP_EEXIST);
    assert_non_null(strstr(err.msg, "create container 'dup'"));
    /* 304: already running is success */
    assert_int_equal(podman_container_start(c.p, "web", &err), 0);
    assert_int_equal(podman_container_stop(c.p, "web", 7, &err), 0);
    assert_true(fake_logged(f, "POST /v4.0.0/libpod/containers/web/stop?timeout=7"));
    /* names that would change the URL never leave the client */
    assert_int_equal(podman_container_start(c.p, "web?x=1", &err), OMLOP_EINVAL);
    assert_false(fake_logged(f, "web?x=1"));
    /* an endpoint that does not exist: the body is quoted */
    assert_int_equal(podman_container_restart(c.p, "web", 1, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "404 page not found"));
    client_close(&c);
}

/* A stop waits past its timeout for Podman's SIGKILL; what still does not stop is killed. */
static void test_stop_waits_its_timeout_then_kills(void **state)
{
    fake *f = *state;
    omlop_err err = OMLOP_ERR_INIT;
    int is_killed = -1;
    client c;

    client_open(f, &c);
    /* the answer comes after the stop timeout: the HTTP call must wait longer than that */
    assert_int_equal(podman_container_stop(c.p, "slow", 1, &err), 0);
    /* no answer within timeout + grace: the client gives up on the stop and kills */
    assert_int_equal(podman_container_stop_or_kill(c.p, "hang", 0, 200, &is_killed, &err), 0);
    assert_int_equal(is_killed, 1);
    assert_true(fake_logged(f, "POST /v4.0.0/libpod/containers/hang/stop?timeout=0\n"));
    assert_true(fake_logged(f, "POST /v4.0.0/libpod/containers/hang/kill?signal=SIGKILL\n"));
    /* Podman answers the stop with an error ("did not die"): killed too */
    is_killed = -1;
    assert_int_equal(podman_container_stop_or_kill(c.p, "stuck", 5, 0, &is_killed, &err), 0);
    assert_int_equal(is_killed, 1);
    assert_true(fake_logged(f, "POST /v4.0.0/libpod/containers/stuck/stop?timeout=5\n"));
    assert_true(fake_logged(f, "POST /v4.0.0/libpod/containers/stuck/kill?signal=SIGKILL\n"));
    /* stopped at once: no kill */
    is_killed = -1;
    assert_int_equal(podman_container_stop_or_kill(c.p, "web", 3, 0, &is_killed, &err), 0);
    assert_int_equal(is_killed, 0);
    assert_false(fake_logged(f, "containers/web/kill"));
    /* a kill of a container that is not running (409) is success */
    assert_int_equal(podman_container_kill(c.p, "web", "SIGKILL", &err), 0);
    /* nothing to stop: not found, and no kill */
    assert_int_equal(podman_container_stop_or_kill(c.p, "gone", 3, 0, NULL, &err), OMLOP_ENOTFOUND);
    assert_false(fake_logged(f, "containers/gone/kill"));
    /* stop and kill both fail: one error saying both */
    assert_int_equal(podman_container_stop_or_kill(c.p, "dead", 3, 0, &is_killed, &err), OMLOP_EIO);
    assert_non_null(strstr(err.msg, "stop container 'dead': given PIDs did not die"));
    assert_non_null(strstr(err.msg, "kill container 'dead': runtime failed to kill it"));
    client_close(&c);
}

static int collect_progress(void *ud, const char *line)
{
    strbuf *sb = ud;

    strbuf_addf(sb, "[%s]", line);
    return 0;
}

static void test_pull_streams_progress_and_reports_inband_errors(void **state)
{
    fake *f = *state;
    strbuf progress = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    char id[80] = "";
    client c;

    client_open(f, &c);
    assert_int_equal(
        podman_image_pull(c.p, "r/x:1", NULL, collect_progress, &progress, id, sizeof(id), &err),
        0);
    assert_string_equal(id, "f00d");
    assert_string_equal(strbuf_str(&progress),
                        "[Trying to pull r/x:1...][Getting image source signatures]");
    /* no tlsVerify unless asked: the host's registries.conf decides */
    assert_true(
        fake_logged(f, "POST /v4.0.0/libpod/images/pull?reference=r%2Fx%3A1&quiet=false\n"));
    assert_int_equal(podman_image_pull(c.p, "r/bad:1", &(podman_pull_opts){.tls_verify = 0}, NULL,
                                       NULL, NULL, 0, &err),
                     OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "pull image 'r/bad:1': reading manifest 1 in r/bad"));
    assert_true(fake_logged(f, "tlsVerify=false"));
    strbuf_release(&progress);
    client_close(&c);
}

static void test_exec_demuxes_and_gets_exit_code(void **state)
{
    static const char *const cmd[] = {"sh", "-c", "echo", NULL};
    fake *f = *state;
    podman_exec_result res = PODMAN_EXEC_RESULT_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    client c;

    client_open(f, &c);
    assert_int_equal(podman_exec(c.p, "web", cmd, NULL, &res, &err), 0);
    assert_string_equal(strbuf_str(&res.out), "hello world\n");
    assert_string_equal(strbuf_str(&res.err), "warn\n");
    assert_int_equal(res.exit_code, 3);
    assert_true(fake_logged(f, "> {\"AttachStdout\":true,\"AttachStderr\":true,\"Tty\":false,"
                               "\"Cmd\":[\"sh\",\"-c\",\"echo\"]}"));
    assert_true(fake_logged(f, "> {\"Detach\":false,\"Tty\":false}"));
    /* output over the cap is an error, not a silent truncation */
    assert_int_equal(podman_exec(c.p, "web", cmd, &(podman_exec_opts){.max_output = 4}, &res, &err),
                     OMLOP_ELIMIT);
    podman_exec_result_release(&res);
    client_close(&c);
}

typedef struct seen {
    strbuf actions;
    atomic_int *cancel;
    int stop_after;
    int n;
} seen;

static int on_event(void *ud, const podman_event *ev)
{
    seen *s = ud;

    strbuf_addf(&s->actions, "%s:%s ", ev->action, ev->name);
    if (++s->n == s->stop_after && s->cancel)
        atomic_store(s->cancel, 1);
    return 0;
}

static void test_events_break_is_an_error_and_follow_resumes_once(void **state)
{
    fake *f = *state;
    atomic_int cancel = 0;
    seen s = {STRBUF_INIT, NULL, 0, 0};
    omlop_err err = OMLOP_ERR_INIT;
    podman_events_opts o = {.cancel = &cancel, .since_nano = 1799999999000000000LL};
    client c;

    client_open(f, &c);
    /* once: the stream dies mid-chunk -> an error, not a hang */
    assert_int_equal(podman_events(c.p, &o, on_event, &s, &err), OMLOP_EUNAVAIL);
    assert_string_equal(strbuf_str(&s.actions), "start:a died:a ");
    assert_non_null(strstr(err.msg, "host local"));
    assert_true(fake_logged(f, "since=1799999999"));
    /* follow: resumes after the break; the replayed "died" is not delivered again */
    atomic_store(&f->events_calls, 0);
    strbuf_reset(&s.actions);
    s.n = 0;
    s.cancel = &cancel;
    s.stop_after = 3;
    o.max_resumes = 3;
    assert_int_equal(podman_events_follow(c.p, &o, on_event, &s, &err), 0);
    assert_string_equal(strbuf_str(&s.actions), "start:a died:a remove:a ");
    /* the resume asked from the last event's second on */
    assert_true(fake_logged(f, "since=1800000000"));
    strbuf_release(&s.actions);
    client_close(&c);
}

static void test_local_socket_missing_is_clear(void **state)
{
    tunnel *t;
    podman_client *p;
    omlop_err err = OMLOP_ERR_INIT;
    int fd;

    (void)state;
    assert_int_equal(tunnel_new_local("/nonexistent/podman.sock", &t, &err), 0);
    assert_int_equal(podman_client_new(t, &p, &err), 0);
    assert_int_equal(podman_ping(p, NULL, 0, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/podman.sock"));
    assert_int_equal(tunnel_open_stream(t, &fd, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "is the Podman service running"));
    assert_int_equal(tunnel_new_local("relative.sock", &t, &err) == 0 ? 0 : err.code, OMLOP_EINVAL);
    podman_client_free(p);
    tunnel_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keepalive_reuses_one_connection, fake_start,
                                        fake_stop),
        cmocka_unit_test_setup_teardown(test_podman3_gets_its_own_api_version_in_paths, fake_start,
                                        fake_stop),
        cmocka_unit_test_setup_teardown(test_list_sends_filters_and_parses, fake_start, fake_stop),
        cmocka_unit_test_setup_teardown(test_statuses_and_errors, fake_start, fake_stop),
        cmocka_unit_test_setup_teardown(test_stop_waits_its_timeout_then_kills, fake_start,
                                        fake_stop),
        cmocka_unit_test_setup_teardown(test_pull_streams_progress_and_reports_inband_errors,
                                        fake_start, fake_stop),
        cmocka_unit_test_setup_teardown(test_exec_demuxes_and_gets_exit_code, fake_start,
                                        fake_stop),
        cmocka_unit_test_setup_teardown(test_events_break_is_an_error_and_follow_resumes_once,
                                        fake_start, fake_stop),
        cmocka_unit_test(test_local_socket_missing_is_clear),
    };

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
