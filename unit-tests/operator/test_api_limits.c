/*
 * Limit tests against a real omlopd started with small limits: body size
 * (413), header size (431, custom headers counted, however large), request timeout for slow clients
 * (408), chunked uploads (411), the number of watch streams (429), and the graceful stop on SIGTERM
 * that ends watch streams cleanly. After each abuse omlopd must still answer.
 */
#include <sys/un.h>

#include "api_harness.h"
#include "operator/api_gate.h"

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

/*
 * A request whose header block (request line, every header line and the blank line, line ends
 * included) is exactly `size` bytes: custom headers of about 30 bytes each (many), or one
 * custom header that takes it all (huge).
 */
static void make_block(strbuf *req, size_t size, int huge)
{
    const char *head = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n";
    int i = 0;

    strbuf_reset(req);
    strbuf_adds(req, head);
    /* each line "X-Pad-N: vvv\r\n"; the last one's value takes the rest */
    while (!huge && req->len + 2 + 60 < size) {
        char line[64];

        snprintf(line, sizeof(line), "X-Pad-%d: %s\r\n", i++, "vvvvvvvvvvvvvvvvvv");
        strbuf_adds(req, line);
    }
    strbuf_adds(req, "X-Last: ");
    assert_true(req->len + 4 <= size);
    while (req->len + 4 < size)
        strbuf_addch(req, 'h');
    strbuf_adds(req, "\r\n\r\n");
    assert_int_equal(req->len, size);
}

/* Send req on fd and return the answer's status code (0: none), reading the whole answer. */
static int send_block(int fd, const strbuf *req, strbuf *got)
{
    strbuf_reset(got);
    raw_send(fd, req->buf, req->len); /* may fail part-way: the server answers and hangs up */
    raw_recv(fd, got, NULL, 5000);
    if (strncmp(strbuf_str(got), "HTTP/1.1 ", 9) != 0)
        return 0;
    return atoi(strbuf_str(got) + 9);
}

/* The 431 answer: a Status naming the limit, the connection closed after it. */
static void assert_431(const strbuf *got)
{
    const char *body = strstr(strbuf_str(got), "\r\n\r\n");

    assert_non_null(body);
    assert_non_null(strstr(body, "\"reason\":\"RequestHeaderFieldsTooLarge\""));
    assert_non_null(strstr(body, "2048"));
    assert_non_null(strstr(strbuf_str(got), "onnection: close"));
}

static void test_large_headers(void **state)
{
    strbuf req = STRBUF_INIT, got = STRBUF_INIT, log = STRBUF_INIT;
    int fd;

    (void)state;
    /* under the limit, at it, one byte past: custom headers count like any other */
    for (int huge = 0; huge <= 1; huge++) {
        static const struct {
            size_t size;
            int code;
        } cases[] = {{2047, 200}, {2048, 200}, {2049, 431}, {2100, 431}, {8000, 431}};

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            make_block(&req, cases[i].size, huge);
            fd = raw_connect(proc.port);
            assert_int_equal(send_block(fd, &req, &got), cases[i].code);
            if (cases[i].code == 431)
                assert_431(&got);
            /* one request per connection: a next one would reach lws unmeasured */
            assert_non_null(strstr(strbuf_str(&got), "onnection: close"));
            close(fd);
        }
    }
    /* more header lines or query parameters than libwebsockets' table holds, within the
     * limit: 431 naming the count, not a silent close */
    for (int kind = 0; kind < 2; kind++) {
        strbuf_reset(&req);
        strbuf_adds(&req, kind ? "GET /healthz?a0=1" : "GET /healthz HTTP/1.1\r\n");
        for (int i = 1; i < 150; i++)
            strbuf_adds(&req, kind ? "&a=1" : "Accept: a\r\n");
        strbuf_adds(&req, kind ? " HTTP/1.1\r\nHost: localhost\r\n\r\n" : "Host: x\r\n\r\n");
        assert_true(req.len < 2048);
        fd = raw_connect(proc.port);
        assert_int_equal(send_block(fd, &req, &got), 431);
        assert_non_null(strstr(strbuf_str(&got), "more than 88 header lines"));
        close(fd);
    }
    /* a known header over the limit: 431 too */
    strbuf_reset(&req);
    strbuf_adds(&req, "GET " BK " HTTP/1.1\r\nHost: localhost\r\nCookie: ");
    for (int i = 0; i < 3000; i++)
        strbuf_addch(&req, 'c');
    strbuf_adds(&req, "\r\n\r\n");
    fd = raw_connect(proc.port);
    assert_int_equal(send_block(fd, &req, &got), 431);
    assert_431(&got);
    close(fd);
    assert_alive();

    /* far past every buffer (libwebsockets' included): still an answer, never a silent close */
    strbuf_reset(&req);
    strbuf_adds(&req, "GET " BK "?huge=1 HTTP/1.1\r\nHost: localhost\r\nX-Huge: ");
    for (int i = 0; i < 200000; i++)
        strbuf_addch(&req, 'h');
    strbuf_adds(&req, "\r\n\r\n");
    fd = raw_connect(proc.port);
    assert_int_equal(send_block(fd, &req, &got), 431);
    assert_431(&got);
    close(fd);
    assert_alive();

    /* each refusal is audited, with the path but without the query */
    omlopd_log(&proc, &log);
    assert_non_null(strstr(strbuf_str(&log),
                           "verb=get resource=- name=- code=431 dryRun=false "
                           "remote=127.0.0.1 refused=header-bytes path=" BK " host=- origin=-"));
    assert_non_null(strstr(strbuf_str(&log), "refused=header-bytes path=/healthz "));
    strbuf_release(&req);
    strbuf_release(&got);
    strbuf_release(&log);
}

/* Headers that arrive in pieces are measured whole; the unix socket is checked the same way. */
static void test_large_headers_unix_and_in_pieces(void **state)
{
    char sock[64];
    const char *flags[] = {"--socket", sock, "--max-header-bytes", "2048", NULL};
    strbuf req = STRBUF_INIT, got = STRBUF_INIT, log = STRBUF_INIT;
    struct sockaddr_un sa;
    omlopd_proc p;

    (void)state;
    snprintf(sock, sizeof(sock), "/tmp/omlop-hdr-%d.sock", (int)getpid());
    omlopd_start(&p, flags);
    for (int i = 0; i < 3; i++) {
        size_t size = i == 0 ? 2048 : 2049;
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        int code;

        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        make_block(&req, size, i == 2);
        /* in three pieces, the blank line split from the rest */
        raw_send(fd, req.buf, 700);
        usleep(50000);
        raw_send(fd, req.buf + 700, req.len - 701);
        usleep(50000);
        strbuf_reset(&got);
        raw_send(fd, req.buf + req.len - 1, 1);
        raw_recv(fd, &got, NULL, 5000);
        code = strncmp(strbuf_str(&got), "HTTP/1.1 ", 9) == 0 ? atoi(strbuf_str(&got) + 9) : 0;
        assert_int_equal(code, i == 0 ? 200 : 431);
        if (code == 431)
            assert_431(&got);
        close(fd);
    }
    omlopd_log(&p, &log);
    assert_non_null(strstr(strbuf_str(&log), "code=431 dryRun=false remote=unix "
                                             "refused=header-bytes path=/healthz"));
    omlopd_stop(&p);
    harness_rm_rf(p.dir);
    unlink(sock);
    strbuf_release(&req);
    strbuf_release(&got);
    strbuf_release(&log);
}

/* The pure measure: where a block ends, split or not, and the limit at and past its edge. */
static void test_gate_judge(void **state)
{
    const char *req = "GET / HTTP/1.1\r\nX-A: b\r\n\r\nBODY";
    size_t n = strlen(req) - 4, scanned = 0, block = 0;

    (void)state;
    /* fed one byte at a time, it ends exactly after the blank line */
    for (size_t len = 1; len < n; len++)
        assert_int_equal(api_gate_judge(req, len, 100, 1000, &scanned, &block), API_GATE_MORE);
    assert_int_equal(api_gate_judge(req, n + 4, 100, 1000, &scanned, &block), API_GATE_PASS);
    assert_int_equal(block, n);
    /* at the limit passes, one byte under the block is too large */
    scanned = 0;
    assert_int_equal(api_gate_judge(req, n + 4, n, 1000, &scanned, &block), API_GATE_PASS);
    scanned = 0;
    assert_int_equal(api_gate_judge(req, n + 4, n - 1, 1000, &scanned, &block), API_GATE_TOO_LARGE);
    /* incomplete and already over the limit */
    scanned = 0;
    assert_int_equal(api_gate_judge(req, 10, 9, 1000, &scanned, &block), API_GATE_TOO_LARGE);
    /* bare LF line ends */
    scanned = 0;
    assert_int_equal(api_gate_judge("GET / HTTP/1.1\nA: b\n\n", 21, 100, 1000, &scanned, &block),
                     API_GATE_PASS);
    assert_int_equal(block, 21);
    /* more lines than libwebsockets can store in room: too large, even within the limit */
    scanned = 0;
    assert_int_equal(
        api_gate_judge(req, n + 4, 100, n + 3 * API_GATE_LWS_LINE_COST - 1, &scanned, &block),
        API_GATE_TOO_LARGE);
    scanned = 0;
    assert_int_equal(
        api_gate_judge(req, n + 4, 100, n + 3 * API_GATE_LWS_LINE_COST, &scanned, &block),
        API_GATE_PASS);
}

/* The count of header lines and query parameters, at and past API_GATE_MAX_FIELDS. */
static void test_gate_judge_fields(void **state)
{
    strbuf req = STRBUF_INIT;
    size_t scanned, block;

    (void)state;
    for (int kind = 0; kind < 2; kind++)
        for (int n = API_GATE_MAX_FIELDS - 1; n <= API_GATE_MAX_FIELDS + 1; n++) {
            /* n header lines, or n - 1 header lines and a second query parameter */
            strbuf_reset(&req);
            strbuf_adds(&req, kind ? "GET /x?a=1&b=2 HTTP/1.1\r\n" : "GET /x?a=1 HTTP/1.1\r\n");
            for (int i = 0; i < n - kind; i++)
                strbuf_adds(&req, "X: y\r\n");
            strbuf_adds(&req, "\r\n");
            scanned = 0;
            assert_int_equal(api_gate_judge(req.buf, req.len, 100000, 100000, &scanned, &block),
                             n <= API_GATE_MAX_FIELDS ? API_GATE_PASS : API_GATE_TOO_MANY);
        }
    strbuf_release(&req);
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
        cmocka_unit_test(test_gate_judge),
        cmocka_unit_test(test_gate_judge_fields),
        cmocka_unit_test(test_oversized_body_is_413),
        cmocka_unit_test(test_large_headers),
        cmocka_unit_test(test_large_headers_unix_and_in_pieces),
        cmocka_unit_test(test_slow_client_times_out),
        cmocka_unit_test(test_chunked_upload_is_411),
        cmocka_unit_test(test_watch_limit_is_429),
        cmocka_unit_test(test_sigterm_ends_watches_cleanly),
        cmocka_unit_test(test_sigterm_finishes_requests_under_way),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
