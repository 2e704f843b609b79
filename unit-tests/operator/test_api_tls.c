/*
 * HTTPS against a real omlopd (--tls-cert, --tls-key, --max-header-bytes 2048, --request-timeout
 * 2): TLS ends in omlopd (api_tls), so the header limit holds over TLS as over plain HTTP, byte
 * for byte: the block at the limit is served, one byte more is 431 with the Status and an audit
 * line, custom headers count, a block past every buffer (>64 KiB) and more than 88 header lines
 * are 431 rather than a silent close; each request of a kept-alive connection is judged (also
 * pipelined); a stalled handshake or header block does not hold up other clients and is closed
 * within the request timeout; watch streams (chunked, websocket) pass; a plain-HTTP client on
 * the TLS port is closed; TLS below 1.2 is
 * refused; a certificate or key that does not load is named at start-up.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/time.h>

#include "api_harness.h"

#define BK "/apis/omlop.io/v1alpha1/backups"

static omlopd_proc proc;
static char dir[64], cert[128], key[128];
static SSL_CTX *cctx;

/* A self-signed P-256 certificate for 127.0.0.1. */
static void make_cert(const char *cert_path, const char *key_path)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    FILE *f;

    assert_non_null(pk);
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24);
    X509_set_pubkey(x, pk);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"omlopd-test", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    f = fopen(cert_path, "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key_path, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    chmod(key_path, 0600);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static int setup(void **state)
{
    const char *flags[] = {
        "--tls-cert",        cert, "--tls-key", key, "--max-header-bytes", "2048",
        "--request-timeout", "2",  NULL};

    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    snprintf(dir, sizeof(dir), "/tmp/omlop-apitest-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(cert, sizeof(cert), "%s/tls.crt", dir);
    snprintf(key, sizeof(key), "%s/tls.key", dir);
    make_cert(cert, key);
    cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(cctx);
    assert_int_equal(SSL_CTX_load_verify_locations(cctx, cert, NULL), 1);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    omlopd_start(&proc, flags);
    assert_int_equal(strncmp(proc.url, "https://", 8), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    omlopd_stop(&proc);
    SSL_CTX_free(cctx);
    harness_rm_rf(dir);
    curl_global_cleanup();
    return 0;
}

/* --- a small blocking TLS client (every wait bounded by the socket's 5 s timeouts) --------- */

static int timed_connect(int port)
{
    struct timeval tv = {5, 0};
    int fd = raw_connect(port);

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

static SSL *tls_open_with(SSL_CTX *ctx, int port)
{
    SSL *ssl = SSL_new(ctx);

    assert_non_null(ssl);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
    SSL_set_fd(ssl, timed_connect(port));
    if (SSL_connect(ssl) != 1) {
        close(SSL_get_fd(ssl));
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    return ssl;
}

static SSL *tls_open(void)
{
    SSL *ssl = tls_open_with(cctx, proc.port);

    assert_non_null(ssl);
    return ssl;
}

static void tls_close(SSL *ssl)
{
    int fd = SSL_get_fd(ssl);

    SSL_free(ssl);
    close(fd);
}

/* Write all of it; -1 when the server stopped reading (it answers and hangs up). */
static int tls_send(SSL *ssl, const char *buf, size_t n)
{
    while (n) {
        int w = SSL_write(ssl, buf, n > 65536 ? 65536 : (int)n);

        if (w <= 0) {
            ERR_clear_error();
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read one answer (its head and Content-Length body), or until the server closes or 5 s pass.
 * Returns the status code, 0 when no answer came. */
static int tls_response(SSL *ssl, strbuf *got)
{
    strbuf_reset(got);
    for (;;) {
        const char *head_end = got->len ? strstr(strbuf_str(got), "\r\n\r\n") : NULL;
        char buf[16384];
        int n;

        if (head_end) {
            const char *cl = strcasestr(strbuf_str(got), "\ncontent-length:");
            size_t want = (size_t)(head_end + 4 - got->buf) + (cl ? strtoul(cl + 16, NULL, 10) : 0);

            if (got->len >= want)
                break;
        }
        n = SSL_read(ssl, buf, sizeof(buf));
        if (n <= 0) {
            ERR_clear_error();
            break;
        }
        strbuf_add(got, buf, (size_t)n);
    }
    if (strncmp(strbuf_str(got), "HTTP/1.1 ", 9) != 0)
        return 0;
    return atoi(strbuf_str(got) + 9);
}

/* Whether the server ended the connection (close_notify, FIN or reset) within 5 s. */
static int tls_closed(SSL *ssl)
{
    char buf[256];
    int n = SSL_read(ssl, buf, sizeof(buf)), e = SSL_get_error(ssl, n);

    ERR_clear_error();
    if (n > 0)
        return 0;
    /* close_notify, an end without it (OpenSSL 3 reports SSL_ERROR_SSL), or a reset; a read
     * timeout is SSL_ERROR_WANT_READ */
    return e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SSL ||
           (e == SSL_ERROR_SYSCALL && errno != EAGAIN);
}

/* Read until needle arrives (1) or the server closes or 5 s pass without data (0). */
static int tls_read_until(SSL *ssl, strbuf *got, const char *needle)
{
    while (!strstr(strbuf_str(got), needle)) {
        char buf[4096];
        int n = SSL_read(ssl, buf, sizeof(buf));

        if (n <= 0) {
            ERR_clear_error();
            return 0;
        }
        strbuf_add(got, buf, (size_t)n);
    }
    return 1;
}

static void create_backup(const char *name)
{
    http_opts o = {.ca_file = cert};
    http_resp r;
    char body[256];

    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":"
             "{\"name\":\"%s\"},\"spec\":{\"tenantRef\":{\"name\":\"t\"}}}",
             name);
    assert_int_equal(http_do_opts(proc.url, "POST", BK, body, strlen(body), &o, &r), CURLE_OK);
    assert_int_equal(r.code, 201);
    http_resp_release(&r);
}

/* A request whose header block is exactly size bytes: custom headers of about 30 bytes each
 * (many), or one custom header taking it all (huge). */
static void make_block(strbuf *req, const char *path, size_t size, int huge)
{
    int i = 0;

    strbuf_reset(req);
    strbuf_addf(req, "GET %s HTTP/1.1\r\nHost: localhost\r\n", path);
    while (!huge && req->len + 2 + 60 < size)
        strbuf_addf(req, "X-Pad-%d: %s\r\n", i++, "vvvvvvvvvvvvvvvvvv");
    strbuf_adds(req, "X-Last: ");
    assert_true(req->len + 4 <= size);
    while (req->len + 4 < size)
        strbuf_addch(req, 'h');
    strbuf_adds(req, "\r\n\r\n");
    assert_int_equal(req->len, size);
}

static void assert_431(const strbuf *got)
{
    const char *body = strstr(strbuf_str(got), "\r\n\r\n");

    assert_non_null(body);
    assert_non_null(strstr(body, "\"reason\":\"RequestHeaderFieldsTooLarge\""));
    assert_non_null(strstr(body, "2048"));
    assert_non_null(strstr(strbuf_str(got), "Connection: close"));
}

/* One request on a new connection: its status; the connection is closed after a 431. */
static int one_request(const strbuf *req, strbuf *got)
{
    SSL *ssl = tls_open();
    int code;

    tls_send(ssl, req->buf, req->len);
    code = tls_response(ssl, got);
    if (code == 431)
        assert_true(tls_closed(ssl));
    tls_close(ssl);
    return code;
}

static void assert_alive(void)
{
    http_opts o = {.ca_file = cert};
    http_resp r;

    assert_int_equal(http_do_opts(proc.url, "GET", "/healthz", NULL, 0, &o, &r), CURLE_OK);
    assert_int_equal(r.code, 200);
    http_resp_release(&r);
}

/* --- the tests ----------------------------------------------------------------------------- */

static void test_tls_header_limit_at_the_edge(void **state)
{
    strbuf req = STRBUF_INIT, got = STRBUF_INIT, log = STRBUF_INIT;

    (void)state;
    /* under the limit, at it, one byte past: custom headers count like any other */
    for (int huge = 0; huge <= 1; huge++) {
        static const struct {
            size_t size;
            int code;
        } cases[] = {{2047, 200}, {2048, 200}, {2049, 431}, {2100, 431}, {8000, 431}};

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            make_block(&req, "/healthz", cases[i].size, huge);
            assert_int_equal(one_request(&req, &got), cases[i].code);
            if (cases[i].code == 431)
                assert_431(&got);
            else /* served, and kept alive: TLS connections are judged request by request */
                assert_null(strstr(strbuf_str(&got), "onnection: close"));
        }
    }
    omlopd_log(&proc, &log);
    assert_non_null(strstr(strbuf_str(&log), "audit user=- role=- verb=get resource=- name=- "
                                             "code=431 dryRun=false remote=127.0.0.1 "
                                             "refused=header-bytes path=/healthz host=- origin=-"));
    strbuf_release(&req);
    strbuf_release(&got);
    strbuf_release(&log);
}

static void test_tls_huge_and_many_headers_are_431(void **state)
{
    strbuf req = STRBUF_INIT, got = STRBUF_INIT, log = STRBUF_INIT;

    (void)state;
    /* far past every buffer (libwebsockets' 64 KiB included): an answer, not a silent close */
    strbuf_adds(&req, "GET " BK "?huge=1 HTTP/1.1\r\nHost: localhost\r\nX-Huge: ");
    for (int i = 0; i < 200000; i++)
        strbuf_addch(&req, 'h');
    strbuf_adds(&req, "\r\n\r\n");
    assert_int_equal(one_request(&req, &got), 431);
    assert_431(&got);
    assert_alive();
    /* more header lines or query parameters than libwebsockets' table, within the limit */
    for (int kind = 0; kind < 2; kind++) {
        strbuf_reset(&req);
        strbuf_adds(&req, kind ? "GET /healthz?a0=1" : "GET /healthz HTTP/1.1\r\n");
        for (int i = 1; i < 150; i++)
            strbuf_adds(&req, kind ? "&a=1" : "Accept: a\r\n");
        strbuf_adds(&req, kind ? " HTTP/1.1\r\nHost: localhost\r\n\r\n" : "Host: x\r\n\r\n");
        assert_true(req.len < 2048);
        assert_int_equal(one_request(&req, &got), 431);
        assert_non_null(strstr(strbuf_str(&got), "more than 88 header lines"));
    }
    assert_alive();
    omlopd_log(&proc, &log);
    assert_non_null(strstr(strbuf_str(&log), "code=431 dryRun=false remote=127.0.0.1 "
                                             "refused=header-bytes path=" BK " host=- origin=-"));
    strbuf_release(&req);
    strbuf_release(&got);
    strbuf_release(&log);
}

/* Every request of a kept-alive connection is judged: one at a time, and pipelined. */
static void test_tls_keep_alive_judges_each_request(void **state)
{
    static const char post_body[] =
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":\"ka\"},"
        "\"spec\":{\"tenantRef\":{\"name\":\"t\"}}}";
    strbuf req = STRBUF_INIT, got = STRBUF_INIT, post = STRBUF_INIT, log = STRBUF_INIT;
    SSL *ssl = tls_open();

    (void)state;
    /* a body passes as a body: its bytes are not taken for the next header block */
    strbuf_addf(&post,
                "POST " BK " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                "Content-Length: %zu\r\n\r\n%s",
                strlen(post_body), post_body);
    assert_int_equal(tls_send(ssl, post.buf, post.len), 0);
    assert_int_equal(tls_response(ssl, &got), 201);
    make_block(&req, BK "/ka", 2048, 0);
    assert_int_equal(tls_send(ssl, req.buf, req.len), 0);
    assert_int_equal(tls_response(ssl, &got), 200);
    assert_non_null(strstr(strbuf_str(&got), "\"name\":\"ka\""));
    make_block(&req, BK "/ka", 2049, 1);
    tls_send(ssl, req.buf, req.len);
    assert_int_equal(tls_response(ssl, &got), 431);
    assert_431(&got);
    assert_true(tls_closed(ssl));
    tls_close(ssl);

    /* pipelined in one write: the answers before the refusal come first, whole */
    ssl = tls_open();
    strbuf_reset(&req);
    strbuf_adds(&req, "GET " BK "/ka HTTP/1.1\r\nHost: localhost\r\n\r\n");
    strbuf_add(&req, post.buf, post.len); /* 409: it exists */
    make_block(&got, "/pipelined", 3000, 1);
    strbuf_add(&req, got.buf, got.len);
    assert_int_equal(tls_send(ssl, req.buf, req.len), 0);
    assert_int_equal(tls_response(ssl, &got), 200);
    assert_int_equal(tls_response(ssl, &got), 409);
    assert_int_equal(tls_response(ssl, &got), 431);
    assert_431(&got);
    assert_true(tls_closed(ssl));
    tls_close(ssl);
    omlopd_log(&proc, &log);
    assert_non_null(strstr(strbuf_str(&log), "code=431 dryRun=false remote=127.0.0.1 "
                                             "refused=header-bytes path=/pipelined "));
    /* the client's address reaches the audit log of served requests too */
    assert_non_null(strstr(strbuf_str(&log), "verb=create resource=backups name=ka code=201 "
                                             "dryRun=false remote=127.0.0.1"));
    strbuf_release(&req);
    strbuf_release(&got);
    strbuf_release(&post);
    strbuf_release(&log);
}

/* The 431 over TLS is the plain one, byte for byte. */
static void test_tls_431_is_the_plain_answer(void **state)
{
    const char *flags[] = {"--max-header-bytes", "2048", NULL};
    strbuf req = STRBUF_INIT, tls_got = STRBUF_INIT, plain_got = STRBUF_INIT;
    omlopd_proc plain;
    int fd;

    (void)state;
    make_block(&req, "/healthz", 2049, 0);
    assert_int_equal(one_request(&req, &tls_got), 431);
    omlopd_start(&plain, flags);
    fd = raw_connect(plain.port);
    raw_send(fd, req.buf, req.len);
    raw_recv(fd, &plain_got, NULL, 5000);
    close(fd);
    omlopd_stop(&plain);
    assert_int_equal(strncmp(strbuf_str(&plain_got), "HTTP/1.1 431 ", 13), 0);
    assert_string_equal(strbuf_str(&tls_got), strbuf_str(&plain_got));
    strbuf_release(&req);
    strbuf_release(&tls_got);
    strbuf_release(&plain_got);
}

/* A client that stalls in the handshake or in its headers holds up nobody, and is closed
 * within the request timeout (2 s). */
static void test_tls_stalled_clients(void **state)
{
    static const char partial_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    int silent = timed_connect(proc.port), partial = timed_connect(proc.port);
    SSL *slow_head = tls_open();
    int64_t t0 = harness_now_ms();

    (void)state;
    raw_send(partial, partial_hello, sizeof(partial_hello) - 1);
    assert_int_equal(tls_send(slow_head, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 32), 0);
    /* others are served meanwhile, at once */
    for (int i = 0; i < 3; i++)
        assert_alive();
    assert_true(harness_now_ms() - t0 < 1500);
    /* and the stalled ones are closed, without an answer */
    assert_true(raw_wait_closed(silent, 6000));
    assert_true(raw_wait_closed(partial, 6000));
    assert_true(tls_closed(slow_head));
    assert_true(harness_now_ms() - t0 < 5000);
    close(silent);
    close(partial);
    tls_close(slow_head);
    assert_alive();
}

/* Plain HTTP on the TLS port gets no API answer and the connection ends. */
static void test_tls_port_closes_plain_http(void **state)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    strbuf got = STRBUF_INIT;
    int fd = timed_connect(proc.port);
    int64_t t0 = harness_now_ms();

    (void)state;
    raw_send(fd, req, sizeof(req) - 1);
    raw_recv(fd, &got, NULL, 5000);
    assert_null(strstr(strbuf_str(&got), "HTTP/1.1 200"));
    assert_true(raw_wait_closed(fd, 100));
    /* at once, not after the request timeout (2 s) */
    assert_true(harness_now_ms() - t0 < 1000);
    close(fd);
    strbuf_release(&got);
    assert_alive();
}

/* TLS 1.1 and below are refused. */
static void test_tls_minimum_version(void **state)
{
    SSL_CTX *old = SSL_CTX_new(TLS_client_method());
    SSL *ssl;

    (void)state;
    assert_non_null(old);
    SSL_CTX_set_security_level(old, 0);
    SSL_CTX_set_min_proto_version(old, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
    SSL_CTX_set_cipher_list(old, "ALL:@SECLEVEL=0");
    ssl = tls_open_with(old, proc.port);
    assert_null(ssl);
    SSL_CTX_free(old);
    /* TLS 1.2 is enough */
    old = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(old, cert, NULL);
    SSL_CTX_set_max_proto_version(old, TLS1_2_VERSION);
    ssl = tls_open_with(old, proc.port);
    assert_non_null(ssl);
    assert_int_equal(SSL_version(ssl), TLS1_2_VERSION);
    tls_close(ssl);
    SSL_CTX_free(old);
}

/* A certificate or key that does not load is named at start-up. */
static void test_tls_bad_cert_or_key(void **state)
{
    char bad[128], other_cert[128], other_key[128];
    const char *not_pem[] = {"--tls-cert", bad, "--tls-key", key, NULL};
    const char *not_key[] = {"--tls-cert", cert, "--tls-key", bad, NULL};
    const char *mismatch[] = {"--tls-cert", cert, "--tls-key", other_key, NULL};
    const char *const *cases[] = {not_pem, not_key, mismatch};
    char want[3][400];

    (void)state;
    snprintf(bad, sizeof(bad), "%s/bad.pem", dir);
    snprintf(other_cert, sizeof(other_cert), "%s/other.crt", dir);
    snprintf(other_key, sizeof(other_key), "%s/other.key", dir);
    harness_write_file(bad, "not a certificate\n", 0600);
    make_cert(other_cert, other_key);
    snprintf(want[0], sizeof(want[0]), "omlopd: --tls-cert %s: not a PEM certificate", bad);
    snprintf(want[1], sizeof(want[1]), "omlopd: --tls-key %s: not an unencrypted PEM private key",
             bad);
    snprintf(want[2], sizeof(want[2]),
             "omlopd: --tls-key %s: not the private key of the certificate in --tls-cert %s",
             other_key, cert);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        omlopd_proc p;
        strbuf log = STRBUF_INIT;
        int rc = omlopd_start_ex(&p, cases[i], 1);

        omlopd_log(&p, &log);
        if (!strstr(strbuf_str(&log), want[i]))
            fail_msg("expected '%s' in omlopd's output, got: %s", want[i], strbuf_str(&log));
        assert_int_equal(rc, 1);
        strbuf_release(&log);
        harness_rm_rf(p.dir);
    }
}

/* Watch streams pass the front as they come: chunked HTTP, and a websocket after its upgrade. */
static void test_tls_watch_streams(void **state)
{
    static const char chunked[] = "GET " BK "?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n";
    static const char ws[] = "GET " BK "?watch=true HTTP/1.1\r\nHost: localhost\r\n"
                             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: AwoRGB8mLTQ7QklQV15lbA==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n";
    strbuf got = STRBUF_INIT;
    SSL *a = tls_open(), *b = tls_open();

    (void)state;
    assert_int_equal(tls_send(a, chunked, sizeof(chunked) - 1), 0);
    assert_true(tls_read_until(a, &got, "\r\n\r\n"));
    assert_int_equal(strncmp(strbuf_str(&got), "HTTP/1.1 200", 12), 0);
    strbuf_reset(&got);
    assert_int_equal(tls_send(b, ws, sizeof(ws) - 1), 0);
    assert_true(tls_read_until(b, &got, "\r\n\r\n"));
    assert_int_equal(strncmp(strbuf_str(&got), "HTTP/1.1 101", 12), 0);
    create_backup("streamed");
    strbuf_reset(&got);
    assert_true(tls_read_until(a, &got, "\"name\":\"streamed\""));
    assert_non_null(strstr(strbuf_str(&got), "\"type\":\"ADDED\""));
    strbuf_reset(&got);
    assert_true(tls_read_until(b, &got, "\"name\":\"streamed\""));
    assert_non_null(strstr(strbuf_str(&got), "\"type\":\"ADDED\""));
    tls_close(a);
    tls_close(b);
    strbuf_release(&got);
    assert_alive();
}

/* Bodies and answers larger than every buffer on the way pass whole, at the client's pace. */
static void test_tls_large_bodies_and_answers(void **state)
{
    strbuf req = STRBUF_INIT, got = STRBUF_INIT, pad = STRBUF_INIT;
    SSL *ssl = tls_open();

    (void)state;
    for (int i = 0; i < 5; i++) {
        /* 4 objects of 250 kB; the fifth (900 kB) is refused on what its whole body says */
        size_t n = i < 4 ? 250000 : 900000;
        char want[64];

        strbuf_reset(&pad);
        for (size_t k = 0; k < n; k++)
            strbuf_addch(&pad, 'p');
        strbuf_reset(&req);
        strbuf_addf(&req,
                    "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{"
                    "\"name\":\"large-%d\",\"annotations\":{\"pad\":\"%s\"}},\"spec\":{"
                    "\"tenantRef\":{\"name\":\"t\"}}}",
                    i, pad.buf);
        strbuf_reset(&pad);
        strbuf_addf(&pad,
                    "POST " BK " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\n\r\n",
                    req.len);
        strbuf_add(&pad, req.buf, req.len);
        assert_int_equal(tls_send(ssl, pad.buf, pad.len), 0);
        assert_int_equal(tls_response(ssl, &got), i < 4 ? 201 : 422);
        snprintf(want, sizeof(want), "annotations total %zu bytes", n + 3);
        if (i == 4)
            assert_non_null(strstr(strbuf_str(&got), want));
    }
    /* a 1 MB answer to a client that reads late, kept alive and then with Connection: close */
    for (int close_it = 0; close_it < 2; close_it++) {
        strbuf_reset(&req);
        strbuf_addf(&req,
                    "GET " BK "?fieldSelector=spec.tenantRef.name=t HTTP/1.1\r\n"
                    "Host: localhost\r\n%s\r\n",
                    close_it ? "Connection: close\r\n" : "");
        assert_int_equal(tls_send(ssl, req.buf, req.len), 0);
        usleep(500000);
        assert_int_equal(tls_response(ssl, &got), 200);
        for (int i = 0; i < 4; i++) {
            char name[32];

            snprintf(name, sizeof(name), "\"name\":\"large-%d\"", i);
            assert_non_null(strstr(strbuf_str(&got), name));
        }
        assert_true(got.len > 1000000);
    }
    assert_true(tls_closed(ssl));
    tls_close(ssl);
    strbuf_release(&req);
    strbuf_release(&got);
    strbuf_release(&pad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_header_limit_at_the_edge),
        cmocka_unit_test(test_tls_huge_and_many_headers_are_431),
        cmocka_unit_test(test_tls_keep_alive_judges_each_request),
        cmocka_unit_test(test_tls_431_is_the_plain_answer),
        cmocka_unit_test(test_tls_watch_streams),
        cmocka_unit_test(test_tls_large_bodies_and_answers),
        cmocka_unit_test(test_tls_stalled_clients),
        cmocka_unit_test(test_tls_port_closes_plain_http),
        cmocka_unit_test(test_tls_minimum_version),
        cmocka_unit_test(test_tls_bad_cert_or_key),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
