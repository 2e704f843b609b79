/*
 * Limit tests against a real omlopd started with small limits: body size
 * (413), header size (431, or a closed connection past the HTTP layer's
 * buffer), request timeout for slow clients (408), chunked uploads (411), the
 * number of watch streams (429), and the graceful stop on SIGTERM that ends
 * watch streams cleanly. After each abuse omlopd must still answer.
 */
#include "api_harness.h"

#define BK "/apis/omlop.io/v1alpha1/backups"

static omlopd_proc proc;

static int setup(void **state)
{
    static const char *const flags[] = {"--max-body-bytes",
                                        "4096",
                                        "--max-header-bytes",
                                        "2048",
                                        "--request-timeout",
                                        "1",
                                        "--max-watches",
                                        "2",
                                        NULL};

    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    omlopd_start(&proc, flags);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    omlopd_stop(&proc);
    curl_global_cleanup();
    return 0;
}

static void assert_alive(void)
{
    http_resp r;

    assert_int_equal(http_do(&proc, "GET", "/healthz", NULL, NULL, &r), 200);
    http_resp_release(&r);
}

static void test_oversized_body_is_413(void **state)
{
    strbuf big = STRBUF_INIT;
    http_resp r;
    int fd;
    strbuf got = STRBUF_INIT;

    (void)state;
    strbuf_adds(&big, "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{"
                      "\"name\":\"big\",\"annotations\":{\"pad\":\"");
    for (int i = 0; i < 5000; i++)
        strbuf_addch(&big, 'x');
    strbuf_adds(&big, "\"}},\"spec\":{\"tenantRef\":{\"name\":\"t\"}}}");
    assert_int_equal(http_do_opts(proc.url, "POST", BK, big.buf, big.len, NULL, &r), CURLE_OK);
    assert_int_equal(r.code, 413);
    assert_string_equal(resp_str(&r, "reason"), "RequestEntityTooLarge");
    assert_non_null(strstr(resp_str(&r, "message"), "4096"));
    http_resp_release(&r);
    assert_alive();

    /* announced as huge, nothing sent: answered at once */
    fd = raw_connect(proc.port);
    raw_send(fd,
             "POST " BK " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
             "Content-Length: 999999999\r\n\r\n",
             strlen("POST " BK " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    "Content-Length: 999999999\r\n\r\n"));
    raw_recv(fd, &got, "\r\n\r\n", 5000);
    assert_int_equal(strncmp(strbuf_str(&got), "HTTP/1.1 413", 12), 0);
    assert_true(raw_wait_closed(fd, 5000));
    close(fd);
    strbuf_release(&got);
    strbuf_release(&big);
    http_do(&proc, "GET", BK "/big", NULL, NULL, &r);
    assert_int_equal(r.code, 404);
    http_resp_release(&r);
}

static void test_large_headers(void **state)
{
    strbuf req = STRBUF_INIT, got = STRBUF_INIT;
    int fd;

    (void)state;
    /* over our limit, within the HTTP layer's buffer: 431 */
    strbuf_adds(&req, "GET " BK " HTTP/1.1\r\nHost: localhost\r\nCookie: ");
    for (int i = 0; i < 3000; i++)
        strbuf_addch(&req, 'c');
    strbuf_adds(&req, "\r\n\r\n");
    fd = raw_connect(proc.port);
    raw_send(fd, req.buf, req.len);
    raw_recv(fd, &got, "\r\n\r\n", 5000);
    assert_int_equal(strncmp(strbuf_str(&got), "HTTP/1.1 431", 12), 0);
    close(fd);
    assert_alive();

    /* far past every buffer: the connection is closed, the server lives on */
    strbuf_reset(&req);
    strbuf_reset(&got);
    strbuf_adds(&req, "GET " BK " HTTP/1.1\r\nHost: localhost\r\nX-Huge: ");
    for (int i = 0; i < 200000; i++)
        strbuf_addch(&req, 'h');
    strbuf_adds(&req, "\r\n\r\n");
    fd = raw_connect(proc.port);
    raw_send(fd, req.buf, req.len); /* may fail part-way: the server hangs up */
    raw_recv(fd, &got, NULL, 5000);
    assert_null(strstr(strbuf_str(&got), "HTTP/1.1 200"));
    close(fd);
    assert_alive();
    strbuf_release(&req);
    strbuf_release(&got);
}

static void test_slow_client_times_out(void **state)
{
    const char *head =
        "POST " BK " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        "Content-Length: 200\r\n\r\n{\"apiVersion\":";
    strbuf got = STRBUF_INIT;
    int64_t t0;
    int fd;

    (void)state;
    /* a body that never completes: 408, then closed */
    fd = raw_connect(proc.port);
    t0 = harness_now_ms();
    raw_send(fd, head, strlen(head));
    raw_recv(fd, &got, "\r\n\r\n", 8000);
    assert_int_equal(strncmp(strbuf_str(&got), "HTTP/1.1 408", 12), 0);
    assert_true(raw_wait_closed(fd, 5000));
    assert_true(harness_now_ms() - t0 < 6000);
    close(fd);
    strbuf_release(&got);

    /* headers that never complete: closed */
    fd = raw_connect(proc.port);
    raw_send(fd, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n",
             strlen("GET /healthz HTTP/1.1\r\nHost: localhost\r\n"));
    assert_true(raw_wait_closed(fd, 8000));
    close(fd);
    assert_alive();
}

static void test_chunked_upload_is_411(void **state)
{
    const char *req =
        "POST " BK " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    strbuf got = STRBUF_INIT;
    int fd = raw_connect(proc.port);

    (void)state;
    raw_send(fd, req, strlen(req));
    raw_recv(fd, &got, "\r\n\r\n", 5000);
    assert_int_equal(strncmp(strbuf_str(&got), "HTTP/1.1 411", 12), 0);
    close(fd);
    strbuf_release(&got);
    assert_alive();
}

static int open_watch(strbuf *got)
{
    const char *req = "GET " BK "?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n";
    int fd = raw_connect(proc.port);

    raw_send(fd, req, strlen(req));
    strbuf_reset(got);
    raw_recv(fd, got, "\r\n\r\n", 5000);
    return fd;
}

static void test_watch_limit_is_429(void **state)
{
    strbuf got = STRBUF_INIT;
    int a, b, c;
    http_resp r;

    (void)state;
    a = open_watch(&got);
    assert_int_equal(strncmp(strbuf_str(&got), "HTTP/1.1 200", 12), 0);
    b = open_watch(&got);
    assert_int_equal(strncmp(strbuf_str(&got), "HTTP/1.1 200", 12), 0);
    http_do(&proc, "GET", BK "?watch=true", NULL, NULL, &r);
    assert_int_equal(r.code, 429);
    assert_string_equal(resp_str(&r, "reason"), "TooManyRequests");
    assert_non_null(strstr(resp_str(&r, "message"), "limit is 2"));
    http_resp_release(&r);
    /* closing one frees its place */
    close(a);
    for (int i = 0; i < 50; i++) {
        c = open_watch(&got);
        if (strncmp(strbuf_str(&got), "HTTP/1.1 200", 12) == 0)
            break;
        close(c);
        c = -1;
        usleep(100000);
    }
    assert_true(c >= 0);
    close(b);
    close(c);
    strbuf_release(&got);
}

static void test_sigterm_ends_watches_cleanly(void **state)
{
    omlopd_proc p;
    strbuf got = STRBUF_INIT;
    const char *req = "GET " BK "?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n";
    int fd;
    int64_t t0;
    strbuf log = STRBUF_INIT;

    (void)state;
    omlopd_start(&p, NULL);
    fd = raw_connect(p.port);
    raw_send(fd, req, strlen(req));
    raw_recv(fd, &got, "\r\n\r\n", 5000);
    assert_int_equal(strncmp(strbuf_str(&got), "HTTP/1.1 200", 12), 0);
    t0 = harness_now_ms();
    kill(p.pid, SIGTERM);
    raw_recv(fd, &got, "0\r\n\r\n", 10000);
    assert_non_null(strstr(strbuf_str(&got), "0\r\n\r\n")); /* the last chunk */
    assert_true(raw_wait_closed(fd, 10000));
    close(fd);
    assert_int_equal(omlopd_stop_status(&p), 0);
    assert_true(harness_now_ms() - t0 < 10000);
    omlopd_log(&p, &log);
    assert_non_null(strstr(log.buf, "signal=SIGTERM shutting down"));
    assert_non_null(strstr(log.buf, "omlopd stopped"));
    strbuf_release(&log);
    strbuf_release(&got);
    harness_rm_rf(p.dir);
}

static void test_sigterm_finishes_requests_under_way(void **state)
{
    omlopd_proc p;
    const char *body = "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{"
                       "\"name\":\"in-flight\"},\"spec\":{\"tenantRef\":{\"name\":\"t\"}}}";
    char head[256];
    strbuf got = STRBUF_INIT, late = STRBUF_INIT;
    size_t half = strlen(body) / 2;
    int fd, fd2;
    const char *req2 = "GET " BK " HTTP/1.1\r\nHost: localhost\r\n\r\n";

    (void)state;
    omlopd_start(&p, NULL);
    snprintf(head, sizeof(head),
             "POST " BK " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n",
             strlen(body));
    fd = raw_connect(p.port);
    raw_send(fd, head, strlen(head));
    raw_send(fd, body, half);
    usleep(200000);
    kill(p.pid, SIGTERM);
    usleep(300000);
    /* a request that starts now is refused... */
    fd2 = raw_connect(p.port);
    raw_send(fd2, req2, strlen(req2));
    raw_recv(fd2, &late, "\r\n\r\n", 5000);
    assert_int_equal(strncmp(strbuf_str(&late), "HTTP/1.1 503", 12), 0);
    close(fd2);
    /* ...the one under way completes and is written */
    raw_send(fd, body + half, strlen(body) - half);
    raw_recv(fd, &got, "\r\n\r\n", 5000);
    assert_int_equal(strncmp(strbuf_str(&got), "HTTP/1.1 201", 12), 0);
    close(fd);
    assert_int_equal(omlopd_stop_status(&p), 0);
    strbuf_release(&got);
    strbuf_release(&late);
    harness_rm_rf(p.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oversized_body_is_413),
        cmocka_unit_test(test_large_headers),
        cmocka_unit_test(test_slow_client_times_out),
        cmocka_unit_test(test_chunked_upload_is_411),
        cmocka_unit_test(test_watch_limit_is_429),
        cmocka_unit_test(test_sigterm_ends_watches_cleanly),
        cmocka_unit_test(test_sigterm_finishes_requests_under_way),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
