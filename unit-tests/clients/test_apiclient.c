/*
 * Tests for clients/apiclient: URL handling, Status errors, requests and watch
 * streams against a scripted HTTP server in a thread of this test (loopback TCP
 * or a unix socket), so every byte the client sees is known. The omlctl tests
 * (test_omlctl_cli*.c) drive the same client against a real omlopd.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clients/apiclient.h"
#include "lib/clock.h"

/* --- a scripted HTTP server -------------------------------------------------------------- */

#define FAKE_MAX_STEPS 16

typedef struct fake_step {
    char *data;
    int delay_ms; /* before writing data */
} fake_step;

typedef struct fake_server {
    int listen_fd;
    int port;
    char sock_path[108];
    pthread_t thread;
    pthread_mutex_t mu; /* guards everything below */
    fake_step steps[FAKE_MAX_STEPS];
    int n_steps;
    int hold_ms;    /* keep the connection open this long after the steps */
    strbuf request; /* the last request: head and body */
    int stop;
} fake_server;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Read one request (head + Content-Length body), 5 s at most. */
static void fake_read_request(int fd, strbuf *req)
{
    long deadline = clock_now_ms() + 5000;
    size_t need = 0;
    char buf[4096];

    strbuf_reset(req);
    while (clock_now_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        char *head_end;
        ssize_t n;

        if (poll(&p, 1, 100) <= 0)
            continue;
        n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return;
        strbuf_add(req, buf, (size_t)n);
        head_end = strstr(req->buf, "\r\n\r\n");
        if (head_end) {
            const char *cl = strcasestr(req->buf, "\r\nContent-Length:");

            need = (size_t)(head_end - req->buf) + 4 + (cl ? strtoul(cl + 17, NULL, 10) : 0);
            if (req->len >= need)
                return;
        }
    }
}

static void *fake_main(void *arg)
{
    fake_server *fs = arg;

    for (;;) {
        struct pollfd p = {fs->listen_fd, POLLIN, 0};
        strbuf req = STRBUF_INIT;
        int fd, hold;

        pthread_mutex_lock(&fs->mu);
        if (fs->stop) {
            pthread_mutex_unlock(&fs->mu);
            break;
        }
        pthread_mutex_unlock(&fs->mu);
        if (poll(&p, 1, 50) <= 0)
            continue;
        fd = accept(fs->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        fake_read_request(fd, &req);
        pthread_mutex_lock(&fs->mu);
        strbuf_reset(&fs->request);
        strbuf_add(&fs->request, strbuf_str(&req), req.len);
        hold = fs->hold_ms;
        pthread_mutex_unlock(&fs->mu);
        for (int i = 0; i < fs->n_steps; i++) {
            sleep_ms(fs->steps[i].delay_ms);
            if (write(fd, fs->steps[i].data, strlen(fs->steps[i].data)) < 0)
                break;
        }
        for (long end = clock_now_ms() + hold; clock_now_ms() < end;) {
            pthread_mutex_lock(&fs->mu);
            if (fs->stop) {
                pthread_mutex_unlock(&fs->mu);
                break;
            }
            pthread_mutex_unlock(&fs->mu);
            sleep_ms(20);
        }
        close(fd);
        strbuf_release(&req);
    }
    return NULL;
}

static void fake_clear_steps(fake_server *fs)
{
    for (int i = 0; i < fs->n_steps; i++)
        free(fs->steps[i].data);
    fs->n_steps = 0;
    fs->hold_ms = 0;
}

static void fake_step_add(fake_server *fs, int delay_ms, const char *fmt, ...)
{
    strbuf sb = STRBUF_INIT;
    va_list ap;

    assert_true(fs->n_steps < FAKE_MAX_STEPS);
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    fs->steps[fs->n_steps].data = strbuf_detach(&sb, NULL);
    fs->steps[fs->n_steps].delay_ms = delay_ms;
    fs->n_steps++;
}

/* A whole response with Content-Length. */
static void fake_reply(fake_server *fs, const char *status_line, const char *headers,
                       const char *body)
{
    fake_clear_steps(fs);
    fake_step_add(fs, 0,
                  "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                  "Connection: close\r\n%s\r\n%s",
                  status_line, strlen(body), headers ? headers : "", body);
}

static void fake_start(fake_server *fs, int use_unix)
{
    memset(fs, 0, sizeof(*fs));
    strbuf_init(&fs->request);
    pthread_mutex_init(&fs->mu, NULL);
    if (use_unix) {
        struct sockaddr_un sun = {0};

        snprintf(fs->sock_path, sizeof(fs->sock_path), "/tmp/octl-test-%d.sock", (int)getpid());
        unlink(fs->sock_path);
        fs->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
        sun.sun_family = AF_UNIX;
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fs->sock_path);
        assert_int_equal(bind(fs->listen_fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    } else {
        struct sockaddr_in sin = {0};
        socklen_t len = sizeof(sin);

        fs->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fs->listen_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        getsockname(fs->listen_fd, (struct sockaddr *)&sin, &len);
        fs->port = ntohs(sin.sin_port);
    }
    assert_int_equal(listen(fs->listen_fd, 8), 0);
    assert_int_equal(pthread_create(&fs->thread, NULL, fake_main, fs), 0);
}

static void fake_stop(fake_server *fs)
{
    pthread_mutex_lock(&fs->mu);
    fs->stop = 1;
    pthread_mutex_unlock(&fs->mu);
    pthread_join(fs->thread, NULL);
    close(fs->listen_fd);
    if (fs->sock_path[0])
        unlink(fs->sock_path);
    fake_clear_steps(fs);
    strbuf_release(&fs->request);
    pthread_mutex_destroy(&fs->mu);
}

static const char *fake_request(fake_server *fs)
{
    return strbuf_str(&fs->request);
}

static apiclient *client_for(const fake_server *fs, const char *token, long timeout_ms,
                             size_t max_response)
{
    apiclient_opts o;
    apiclient *c = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    char url[160];

    if (fs->sock_path[0])
        snprintf(url, sizeof(url), "unix://%s", fs->sock_path);
    else
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", fs->port);
    apiclient_opts_default(&o);
    o.server = url;
    o.token = token;
    if (timeout_ms)
        o.timeout_ms = timeout_ms;
    if (max_response)
        o.max_response = max_response;
    assert_int_equal(apiclient_new(&o, &c, &err), 0);
    return c;
}

static int setup_tcp(void **state)
{
    fake_server *fs = calloc(1, sizeof(*fs));

    fake_start(fs, 0);
    *state = fs;
    return 0;
}

static int setup_unix(void **state)
{
    fake_server *fs = calloc(1, sizeof(*fs));

    fake_start(fs, 1);
    *state = fs;
    return 0;
}

static int teardown_server(void **state)
{
    fake_stop(*state);
    free(*state);
    return 0;
}

/* --- pure parts ------------------------------------------------------------------------ */

static void test_apiclient_rejects_bad_server_urls(void **state)
{
    static const char *const bad[] = {"",
                                      "ftp://h:1",
                                      "127.0.0.1:8787",
                                      "http://",
                                      "unix://relative.sock",
                                      "http://a b:1",
                                      "https:///x"};
    apiclient_opts o;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        apiclient *c = (apiclient *)1;
        omlop_err err = OMLOP_ERR_INIT;

        apiclient_opts_default(&o);
        o.server = bad[i];
        assert_int_equal(apiclient_new(&o, &c, &err), OMLOP_EINVAL);
        assert_null(c);
        if (bad[i][0])
            assert_non_null(strstr(err.msg, bad[i]));
        else
            assert_non_null(strstr(err.msg, "--server"));
    }
    apiclient_opts_default(&o);
    o.server = "http://127.0.0.1:1";
    o.token = "a\nInjected: header";
    {
        apiclient *c = NULL;
        omlop_err err = OMLOP_ERR_INIT;

        assert_int_equal(apiclient_new(&o, &c, &err), OMLOP_EINVAL);
        assert_non_null(strstr(err.msg, "line break"));
        assert_null(strstr(err.msg, "Injected")); /* never echo a token */
    }
}

static void test_apiclient_status_errors_name_code_reason_and_causes(void **state)
{
    const char *notfound = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                           "\"message\":\"tenants \\\"x\\\" not found\",\"reason\":\"NotFound\","
                           "\"code\":404}";
    const char *invalid =
        "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Invalid\",\"code\":422,"
        "\"message\":\"Tenant \\\"x\\\" is invalid\",\"details\":{\"causes\":["
        "{\"field\":\"spec.layout\",\"message\":\"must be one of aio, cluster, ha\"},"
        "{\"message\":\"no field here\"}]}}";
    const char *exists = "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"code\":409,"
                         "\"message\":\"exists\"}";
    const char *conflict = "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"code\":409}";
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(apiclient_status_error(404, notfound, strlen(notfound), &err),
                     OMLOP_ENOTFOUND);
    assert_string_equal(err.msg, "omlopd answered 404 NotFound: tenants \"x\" not found");
    assert_int_equal(apiclient_status_error(422, invalid, strlen(invalid), &err), OMLOP_EINVAL);
    assert_string_equal(err.msg, "omlopd answered 422 Invalid: Tenant \"x\" is invalid\n"
                                 "  spec.layout: must be one of aio, cluster, ha\n"
                                 "  no field here");
    assert_int_equal(apiclient_status_error(409, exists, strlen(exists), &err), OMLOP_EEXIST);
    assert_int_equal(apiclient_status_error(409, conflict, strlen(conflict), &err),
                     OMLOP_ECONFLICT);
    assert_non_null(strstr(err.msg, "409 Conflict"));
    assert_int_equal(apiclient_status_error(410, "", 0, &err), OMLOP_EGONE);
    assert_int_equal(apiclient_status_error(401, "", 0, &err), OMLOP_EAUTH);
    assert_non_null(strstr(err.msg, "401 Unauthorized"));
    assert_int_equal(apiclient_status_error(403, "", 0, &err), OMLOP_EPERM);
    assert_int_equal(apiclient_status_error(413, "", 0, &err), OMLOP_ELIMIT);
    assert_int_equal(apiclient_status_error(429, "", 0, &err), OMLOP_ELIMIT);
    assert_int_equal(apiclient_status_error(415, "", 0, &err), OMLOP_EPROTO);
    /* Not a Status: the body's first bytes, control characters blanked. */
    assert_int_equal(apiclient_status_error(502, "bad\ngateway", 11, &err), OMLOP_EUNAVAIL);
    assert_string_equal(err.msg, "omlopd answered 502 ServerError: bad gateway");
    assert_int_equal(apiclient_status_error(500, "{}", 2, &err), OMLOP_EINTERNAL);
}

static void test_apiclient_path_and_query_escaping(void **state)
{
    strbuf p = STRBUF_INIT;

    (void)state;
    apiclient_path(&p, "tenants", NULL, NULL);
    assert_string_equal(p.buf, "/apis/omlop.io/v1alpha1/tenants");
    strbuf_reset(&p);
    apiclient_path(&p, "tenants", "a b/c", "status");
    assert_string_equal(p.buf, "/apis/omlop.io/v1alpha1/tenants/a%20b%2Fc/status");
    apiclient_query_add(&p, "labelSelector", "env in (a,b)");
    apiclient_query_add(&p, "dryRun", "All");
    assert_string_equal(p.buf, "/apis/omlop.io/v1alpha1/tenants/a%20b%2Fc/status"
                               "?labelSelector=env%20in%20%28a%2Cb%29&dryRun=All");
    strbuf_release(&p);
}

/* --- requests -------------------------------------------------------------------------- */

static void test_apiclient_sends_token_and_parses_json(void **state)
{
    fake_server *fs = *state;
    apiclient *c = client_for(fs, "s3cret", 0, 0);
    json_object *obj = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    fake_reply(fs, "200 OK", NULL, "{\"kind\":\"Tenant\",\"metadata\":{\"name\":\"x\"}}");
    assert_int_equal(
        apiclient_json(c, "GET", "/apis/omlop.io/v1alpha1/tenants/x", NULL, NULL, &obj, &err), 0);
    assert_non_null(obj);
    assert_string_equal(json_object_get_string(json_object_object_get(
                            json_object_object_get(obj, "metadata"), "name")),
                        "x");
    assert_non_null(strstr(fake_request(fs), "GET /apis/omlop.io/v1alpha1/tenants/x HTTP/1.1"));
    assert_non_null(strstr(fake_request(fs), "Authorization: Bearer s3cret\r\n"));
    assert_non_null(strstr(fake_request(fs), "Accept: application/json\r\n"));
    json_object_put(obj);
    apiclient_free(c);
}

static void test_apiclient_sends_body_with_content_type(void **state)
{
    fake_server *fs = *state;
    apiclient *c = client_for(fs, NULL, 0, 0);
    apiclient_response resp = APICLIENT_RESPONSE_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    const char *body = "{\"kind\":\"Tenant\"}";

    fake_reply(fs, "201 Created", "Warning: 299 - \"unknown field spec.x\"\r\n", "{}");
    assert_int_equal(apiclient_do(c, "PATCH", "/apis/omlop.io/v1alpha1/tenants/x?fieldManager=t",
                                  "application/apply-patch+yaml", body, strlen(body), &resp, &err),
                     0);
    assert_int_equal(resp.code, 201);
    assert_string_equal(resp.warnings.buf, "299 - \"unknown field spec.x\"");
    assert_non_null(
        strstr(fake_request(fs), "PATCH /apis/omlop.io/v1alpha1/tenants/x?fieldManager=t"));
    assert_non_null(strstr(fake_request(fs), "Content-Type: application/apply-patch+yaml\r\n"));
    assert_non_null(strstr(fake_request(fs), "\r\n\r\n{\"kind\":\"Tenant\"}"));
    assert_null(strstr(fake_request(fs), "Authorization:"));
    apiclient_response_release(&resp);
    apiclient_free(c);
}

static void test_apiclient_error_answer_becomes_status_error(void **state)
{
    fake_server *fs = *state;
    apiclient *c = client_for(fs, NULL, 0, 0);
    json_object *obj = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    fake_reply(fs, "422 Unprocessable Entity", NULL,
               "{\"kind\":\"Status\",\"reason\":\"Invalid\",\"code\":422,\"message\":\"bad\","
               "\"details\":{\"causes\":[{\"field\":\"spec.hosts\",\"message\":\"need 1\"}]}}");
    assert_int_equal(
        apiclient_json(c, "PUT", "/apis/omlop.io/v1alpha1/tenants/x", NULL, NULL, &obj, &err),
        OMLOP_EINVAL);
    assert_null(obj);
    assert_string_equal(err.msg, "omlopd answered 422 Invalid: bad\n  spec.hosts: need 1");
    apiclient_free(c);
}

static void test_apiclient_unreachable_server_names_url(void **state)
{
    fake_server *fs = *state;
    apiclient_opts o;
    apiclient *c = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    char url[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {0};
    socklen_t len = sizeof(sin);

    (void)fs;
    /* A port that was just free: bound, never listened on. */
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sin.sin_port));
    apiclient_opts_default(&o);
    o.server = url;
    assert_int_equal(apiclient_new(&o, &c, &err), 0);
    assert_int_equal(apiclient_json(c, "GET", "/version", NULL, NULL, NULL, &err), OMLOP_EUNAVAIL);
    assert_non_null(strstr(err.msg, url));
    assert_non_null(strstr(err.msg, "is omlopd running"));
    apiclient_free(c);
    close(fd);
}

static void test_apiclient_request_timeout(void **state)
{
    fake_server *fs = *state;
    apiclient *c = client_for(fs, NULL, 300, 0);
    omlop_err err = OMLOP_ERR_INIT;
    long t0 = clock_now_ms();

    fake_clear_steps(fs);
    fs->hold_ms = 3000; /* never answer */
    assert_int_equal(apiclient_json(c, "GET", "/version", NULL, NULL, NULL, &err), OMLOP_ETIMEOUT);
    assert_true(clock_now_ms() - t0 < 2500);
    assert_non_null(strstr(err.msg, "timed out"));
    apiclient_free(c);
}

static void test_apiclient_response_size_limit(void **state)
{
    fake_server *fs = *state;
    apiclient *c = client_for(fs, NULL, 0, 100);
    omlop_err err = OMLOP_ERR_INIT;
    char body[1001];

    memset(body, 'x', 1000);
    body[1000] = '\0';
    fake_reply(fs, "200 OK", NULL, body);
    assert_int_equal(apiclient_json(c, "GET", "/x", NULL, NULL, NULL, &err), OMLOP_ELIMIT);
    assert_non_null(strstr(err.msg, "larger than 100 bytes"));
    apiclient_free(c);
}

static void test_apiclient_non_json_success_is_a_protocol_error(void **state)
{
    fake_server *fs = *state;
    apiclient *c = client_for(fs, NULL, 0, 0);
    json_object *obj = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    fake_reply(fs, "200 OK", NULL, "<html>proxy</html>");
    assert_int_equal(apiclient_json(c, "GET", "/x", NULL, NULL, &obj, &err), OMLOP_EPROTO);
    assert_null(obj);
    apiclient_free(c);
}

static void test_apiclient_unix_socket(void **state)
{
    fake_server *fs = *state;
    apiclient *c = client_for(fs, NULL, 0, 0);
    json_object *obj = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    fake_reply(fs, "200 OK", NULL, "{\"gitVersion\":\"v9\"}");
    assert_int_equal(apiclient_json(c, "GET", "/version", NULL, NULL, &obj, &err), 0);
    assert_string_equal(json_object_get_string(json_object_object_get(obj, "gitVersion")), "v9");
    assert_non_null(strstr(fake_request(fs), "GET /version HTTP/1.1"));
    json_object_put(obj);
    apiclient_free(c);
}

/* --- watch streams --------------------------------------------------------------------- */

static void chunk(fake_server *fs, int delay_ms, const char *data)
{
    fake_step_add(fs, delay_ms, "%zx\r\n%s\r\n", strlen(data), data);
}

static void stream_head(fake_server *fs)
{
    fake_clear_steps(fs);
    fake_step_add(fs, 0,
                  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n");
}

static void test_apiclient_watch_reads_events_split_across_chunks(void **state)
{
    fake_server *fs = *state;
    apiclient *c = client_for(fs, "tok", 0, 0);
    apiclient_watch *w = NULL;
    apiclient_event ev = {APICLIENT_EVENT_END, NULL};
    omlop_err err = OMLOP_ERR_INIT;

    stream_head(fs);
    chunk(fs, 0, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",");
    chunk(fs, 50, "\"resourceVersion\":\"5\"}}}\n{\"type\":\"MODIFIED\",\"object\":");
    chunk(fs, 50, "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"6\"}}}\n\n");
    chunk(fs, 0, "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}\n");
    chunk(fs, 0, "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}");
    fake_step_add(fs, 0, "0\r\n\r\n");
    assert_int_equal(
        apiclient_watch_open(c, "/apis/omlop.io/v1alpha1/tenants?watch=true", &w, &err), 0);
    assert_int_equal(apiclient_watch_next(w, 5000, &ev, &err), 0);
    assert_int_equal(ev.type, APICLIENT_EVENT_ADDED);
    assert_string_equal(json_object_get_string(json_object_object_get(
                            json_object_object_get(ev.object, "metadata"), "resourceVersion")),
                        "5");
    apiclient_event_release(&ev);
    assert_int_equal(apiclient_watch_next(w, 5000, &ev, &err), 0);
    assert_int_equal(ev.type, APICLIENT_EVENT_MODIFIED);
    apiclient_event_release(&ev);
    assert_int_equal(apiclient_watch_next(w, 5000, &ev, &err), 0);
    assert_int_equal(ev.type, APICLIENT_EVENT_BOOKMARK);
    apiclient_event_release(&ev);
    /* The last event has no newline: it still counts, then the stream ends. */
    assert_int_equal(apiclient_watch_next(w, 5000, &ev, &err), 0);
    assert_int_equal(ev.type, APICLIENT_EVENT_DELETED);
    apiclient_event_release(&ev);
    assert_int_equal(apiclient_watch_next(w, 5000, &ev, &err), 0);
    assert_int_equal(ev.type, APICLIENT_EVENT_END);
    assert_null(ev.object);
    assert_non_null(strstr(fake_request(fs), "Authorization: Bearer tok\r\n"));
    apiclient_watch_close(w);
    apiclient_free(c);
}

static void test_apiclient_watch_error_event_410_is_gone(void **state)
{
    fake_server *fs = *state;
    apiclient *c = client_for(fs, NULL, 0, 0);
    apiclient_watch *w = NULL;
    apiclient_event ev = {APICLIENT_EVENT_END, NULL};
    omlop_err err = OMLOP_ERR_INIT;

    stream_head(fs);
    chunk(fs, 0,
          "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
          "\"reason\":\"Expired\",\"message\":\"too old resource version: 3 (40)\"}}\n");
    fake_step_add(fs, 0, "0\r\n\r\n");
    assert_int_equal(apiclient_watch_open(c, "/w?watch=true&resourceVersion=3", &w, &err), 0);
    assert_int_equal(apiclient_watch_next(w, 5000, &ev, &err), OMLOP_EGONE);
    assert_string_equal(err.msg, "omlopd answered 410 Expired: too old resource version: 3 (40)");
    assert_null(ev.object);
    apiclient_watch_close(w);
    apiclient_free(c);
}

static void test_apiclient_watch_refused_at_open(void **state)
{
    fake_server *fs = *state;
    apiclient *c = client_for(fs, NULL, 0, 0);
    apiclient_watch *w = (apiclient_watch *)1;
    omlop_err err = OMLOP_ERR_INIT;

    fake_reply(fs, "410 Gone", NULL,
               "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Gone\",\"message\":\"compacted\"}");
    assert_int_equal(apiclient_watch_open(c, "/w?watch=true&resourceVersion=1", &w, &err),
                     OMLOP_EGONE);
    assert_null(w);
    assert_non_null(strstr(err.msg, "compacted"));
    apiclient_free(c);
}

static void test_apiclient_watch_next_times_out_then_closes(void **state)
{
    fake_server *fs = *state;
    apiclient *c = client_for(fs, NULL, 0, 0);
    apiclient_watch *w = NULL;
    apiclient_event ev = {APICLIENT_EVENT_END, NULL};
    omlop_err err = OMLOP_ERR_INIT;
    long t0;

    stream_head(fs);
    fs->hold_ms = 3000;
    assert_int_equal(apiclient_watch_open(c, "/w?watch=true", &w, &err), 0);
    t0 = clock_now_ms();
    assert_int_equal(apiclient_watch_next(w, 200, &ev, &err), OMLOP_ETIMEOUT);
    assert_true(clock_now_ms() - t0 >= 150 && clock_now_ms() - t0 < 2000);
    apiclient_watch_close(w); /* closing mid-stream must not hang or leak */
    apiclient_free(c);
}

static void test_apiclient_watch_rejects_garbage_lines(void **state)
{
    fake_server *fs = *state;
    apiclient *c = client_for(fs, NULL, 0, 0);
    apiclient_watch *w = NULL;
    apiclient_event ev = {APICLIENT_EVENT_END, NULL};
    omlop_err err = OMLOP_ERR_INIT;

    stream_head(fs);
    chunk(fs, 0, "not json\n");
    chunk(fs, 0, "{\"type\":\"SURPRISE\",\"object\":{}}\n");
    fake_step_add(fs, 0, "0\r\n\r\n");
    assert_int_equal(apiclient_watch_open(c, "/w?watch=true", &w, &err), 0);
    assert_int_equal(apiclient_watch_next(w, 5000, &ev, &err), OMLOP_EPROTO);
    assert_non_null(strstr(err.msg, "not a JSON object"));
    assert_int_equal(apiclient_watch_next(w, 5000, &ev, &err), OMLOP_EPROTO);
    assert_non_null(strstr(err.msg, "SURPRISE"));
    apiclient_watch_close(w);
    apiclient_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apiclient_rejects_bad_server_urls),
        cmocka_unit_test(test_apiclient_status_errors_name_code_reason_and_causes),
        cmocka_unit_test(test_apiclient_path_and_query_escaping),
        cmocka_unit_test_setup_teardown(test_apiclient_sends_token_and_parses_json, setup_tcp,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_apiclient_sends_body_with_content_type, setup_tcp,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_apiclient_error_answer_becomes_status_error, setup_tcp,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_apiclient_unreachable_server_names_url, setup_tcp,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_apiclient_request_timeout, setup_tcp, teardown_server),
        cmocka_unit_test_setup_teardown(test_apiclient_response_size_limit, setup_tcp,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_apiclient_non_json_success_is_a_protocol_error,
                                        setup_tcp, teardown_server),
        cmocka_unit_test_setup_teardown(test_apiclient_unix_socket, setup_unix, teardown_server),
        cmocka_unit_test_setup_teardown(test_apiclient_watch_reads_events_split_across_chunks,
                                        setup_tcp, teardown_server),
        cmocka_unit_test_setup_teardown(test_apiclient_watch_error_event_410_is_gone, setup_tcp,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_apiclient_watch_refused_at_open, setup_tcp,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_apiclient_watch_next_times_out_then_closes, setup_tcp,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_apiclient_watch_rejects_garbage_lines, setup_tcp,
                                        teardown_server),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
