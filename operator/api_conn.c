/* api_conn: HTTP and websocket connections of the API server on libwebsockets. */
#include "api_conn.h"

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "operator/api_gate.h"
#include "operator/api_tls.h"
#include "operator/api_request.h"
#include "operator/api_router.h"
#include "operator/api_status.h"
#include "operator/api_watch.h"

/* Warning header text kept per response. */
#define MAX_WARNING_BYTES 4096

int api_server_signal_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len);

static api_server *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static void conn_link(api_server *srv, api_conn *c)
{
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
}

static void conn_unlink(api_server *srv, api_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static api_conn *conn_new(struct lws *wsi, int is_ws)
{
    api_conn *c = xcalloc(1, sizeof(*c));

    c->srv = server_of(wsi);
    c->wsi = wsi;
    c->is_ws = is_ws;
    api_request_init(&c->req);
    api_response_init(&c->resp);
    strbuf_init(&c->body);
    strbuf_init(&c->out);
    conn_link(c->srv, c);
    return c;
}

/*
 * Stop waiting for c's job: a job no worker took yet is freed, one being served is left to
 * its worker and freed when it comes back (api_conn_jobs_done), its answer dropped.
 */
static void conn_drop_job(api_conn *c)
{
    if (!c->job)
        return;
    if (api_pool_cancel(c->srv->pool, c->job)) {
        log_debug("remote=%s path=%s connection closed while its request waited for a worker",
                  c->job->req.remote, c->job->req.path);
        api_job_free(c->job);
    } else {
        /* the worker reads req too, but only reads it: the strings are safe to log */
        log_debug("remote=%s path=%s connection closed while a worker serves its request; the "
                  "answer will be dropped",
                  c->job->req.remote, c->job->req.path);
        c->job->conn = NULL;
    }
    c->job = NULL;
}

/* Forget the current request so the connection can take the next one. */
static void conn_reset(api_conn *c)
{
    conn_drop_job(c);
    lws_sul_cancel(&c->sul_timeout);
    api_conn_stream_stop(c);
    api_request_release(&c->req);
    api_response_release(&c->resp);
    strbuf_release(&c->body);
    strbuf_release(&c->out);
    c->out_off = 0;
    c->content_length = 0;
    c->sent = 0;
    c->headers_sent = 0;
    c->is_head = 0;
    c->is_stream_done = 0;
    c->is_fd_paused = 0;
    c->phase = PH_IDLE;
}

static void conn_free(api_conn *c)
{
    if (!c)
        return;
    conn_reset(c);
    conn_unlink(c->srv, c);
    free(c);
}

/* --- reading a request ------------------------------------------------------------------- */

static char *hdr_dup(struct lws *wsi, enum lws_token_indexes t)
{
    int n = lws_hdr_total_length(wsi, t);
    char *s;

    if (n <= 0)
        return NULL;
    s = xmalloc((size_t)n + 1);
    if (lws_hdr_copy(wsi, s, n + 1, t) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* lws's method index (lws_http_get_uri_and_method) to ours. */
static api_method method_of(int m)
{
    static const api_method map[] = {API_METHOD_GET,   API_METHOD_POST,  API_METHOD_OPTIONS,
                                     API_METHOD_PUT,   API_METHOD_PATCH, API_METHOD_DELETE,
                                     API_METHOD_OTHER, API_METHOD_HEAD};

    if (m < 0 || (size_t)m >= sizeof(map) / sizeof(map[0]))
        return API_METHOD_OTHER;
    return map[m];
}

static size_t header_bytes(struct lws *wsi)
{
    size_t total = 0;

    for (int t = 0; t < (int)WSI_TOKEN_COUNT; t++) {
        int n = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);

        if (n > 0)
            total += (size_t)n;
    }
    return total;
}

static int is_loopback_peer(const char *peer)
{
    struct in6_addr a6;
    struct in_addr a4;

    if (strncmp(peer, "::ffff:", 7) == 0)
        peer += 7;
    if (inet_pton(AF_INET, peer, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, peer, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

static int is_unix_socket(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_UNIX;
}

/* Fill c->req from the parsed headers. */
static void read_request(api_conn *c, struct lws *wsi)
{
    char *uri = NULL;
    int ulen = 0, m, frag = 0;
    char peer[128] = "";
    char *ct;

    m = lws_http_get_uri_and_method(wsi, &uri, &ulen);
    c->req.method = c->is_ws ? API_METHOD_GET : method_of(m);
    if (c->is_ws && !uri) {
        ulen = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI);
        c->req.path = hdr_dup(wsi, WSI_TOKEN_GET_URI);
    } else {
        c->req.path = xstrndup(uri ? uri : "/", uri ? (size_t)ulen : 1);
    }
    if (!c->req.path)
        c->req.path = xstrdup("/");
    for (;;) {
        int n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, frag);
        char *buf;

        if (n <= 0)
            break;
        buf = xmalloc((size_t)n + 1);
        if (lws_hdr_copy_fragment(wsi, buf, n + 1, WSI_TOKEN_HTTP_URI_ARGS, frag) >= 0)
            api_request_add_param(&c->req, buf);
        free(buf);
        frag++;
    }
    ct = hdr_dup(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
    api_request_set_content_type(&c->req, ct);
    free(ct);
    c->req.accept = hdr_dup(wsi, WSI_TOKEN_HTTP_ACCEPT);
    c->req.authorization = hdr_dup(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    c->req.host = hdr_dup(wsi, WSI_TOKEN_HOST);
    c->req.origin = hdr_dup(wsi, WSI_TOKEN_ORIGIN);
    c->req.is_websocket = c->is_ws;
    /* a request that began before a graceful stop is still served in full */
    c->req.is_late = c->srv->is_stopping;
    /* by the socket, not the vhost: lws may move a connection between vhosts by its Host;
     * a TLS connection reaches lws over a socketpair, its client is known to api_tls */
    c->is_tls = api_tls_peer(c->srv->tls, lws_get_socket_fd(wsi), peer, sizeof(peer)) == 0;
    if (c->is_tls) {
        c->req.remote = xstrdup(peer);
        c->req.is_local = is_loopback_peer(peer);
    } else if (is_unix_socket(lws_get_socket_fd(wsi))) {
        c->req.remote = xstrdup("unix");
        c->req.is_local = 1;
        c->req.is_unix = 1;
    } else {
        lws_get_peer_simple(wsi, peer, sizeof(peer));
        c->req.remote = xstrdup(peer[0] ? peer : "?");
        c->req.is_local = is_loopback_peer(peer);
    }
}

/* Answer with a Status now (before or instead of the router). */
void api_conn_respond_status(api_conn *c, int code, int close, const char *msg)
{
    api_response_release(&c->resp);
    api_status_respond(&c->resp, code, "%s", msg);
    c->resp.close_connection = close;
    c->phase = PH_RESPOND;
    lws_callback_on_writable(c->wsi);
}

/* Print at most max bytes of s for a log line: printable ASCII only, others as '?'. */
static void log_safe(char *out, size_t n, const char *s, size_t max)
{
    size_t i = 0;

    for (; s && s[i] && i < max && i + 1 < n; i++)
        out[i] = (s[i] > ' ' && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
    out[i] = '\0';
}

/*
 * The guard (api_guard.h) before anything else: 0 when the request may go on,
 * else the refusal's Status is in resp (the connection closes after it) and the
 * audit log has a line for it (written before authentication: user=-).
 */
static int guard_request(api_server *srv, api_request *req, int has_body, api_response *resp)
{
    omlop_err err = OMLOP_ERR_INIT;
    const char *what = NULL;
    char path[201], origin[101], host[101];
    int code = api_guard_check(srv->guard, req, has_body, &what, &err);
    static const char *const verbs[] = {
        [API_METHOD_OTHER] = "other",   [API_METHOD_GET] = "get",
        [API_METHOD_HEAD] = "get",      [API_METHOD_POST] = "create",
        [API_METHOD_PUT] = "update",    [API_METHOD_PATCH] = "patch",
        [API_METHOD_DELETE] = "delete", [API_METHOD_OPTIONS] = "options"};

    if (code == 0)
        return 0;
    api_response_release(resp);
    api_status_respond(resp, code, "%s", err.msg);
    resp->close_connection = 1;
    log_safe(path, sizeof(path), req->path, 200);
    log_safe(origin, sizeof(origin), req->origin ? req->origin : "-", 100);
    log_safe(host, sizeof(host), req->host ? req->host : "-", 100);
    log_info("audit user=- role=- verb=%s resource=- name=- code=%d dryRun=false remote=%s "
             "refused=%s path=%s host=%s origin=%s",
             req->is_websocket ? "watch" : verbs[req->method], code,
             req->remote ? req->remote : "-", what, path, host, origin);
    return -1;
}

/* Hand the complete request to the API workers; its answer comes back to api_conn_jobs_done. */
static void submit_job(api_conn *c)
{
    api_job *j = api_job_new();

    j->conn = c;
    j->req = c->req;
    api_request_init(&c->req);
    j->body = c->body;
    strbuf_init(&c->body);
    j->deadline_ms = c->deadline_ms;
    c->job = j;
    c->phase = PH_WORK;
    api_pool_submit(c->srv->pool, j);
}

/* The request (and its body) back from a job the connection owns again. */
static void take_back(api_conn *c, api_job *j)
{
    api_request_release(&c->req);
    c->req = j->req;
    api_request_init(&j->req);
    strbuf_release(&c->body);
    c->body = j->body;
    strbuf_init(&j->body);
}

/* The request is complete: answer it here when it needs no store, else on a worker. */
static void dispatch(api_conn *c)
{
    if (c->body.len) {
        c->req.body = c->body.buf;
        c->req.body_len = c->body.len;
    }
    if (api_route_needs_store(&c->req)) {
        submit_job(c);
        return;
    }
    api_handle(c->srv->a, &c->req, &c->resp);
    api_watch_spec_free(c->resp.watch); /* cannot happen: watches need the store */
    c->resp.watch = NULL;
    c->phase = PH_RESPOND;
    lws_callback_on_writable(c->wsi);
}

/* A worker finished c's job: write its answer, or start the watch stream it opened. */
static void job_deliver(api_conn *c, api_job *j)
{
    api_stream *stream = j->stream;

    j->stream = NULL;
    take_back(c, j);
    if (j->is_expired) {
        /* the deadline passed while it was queued, a moment before the timer said so */
        api_stream_free(stream);
        api_conn_respond_status(c, 503, 1,
                                "the API workers were busy for the whole request timeout; retry");
        return;
    }
    api_response_release(&c->resp);
    c->resp = j->resp;
    api_response_init(&j->resp);
    if (stream) {
        api_conn_stream_begin(c, stream);
        return;
    }
    /* a websocket that is not a watch (or was refused) is closed with the Status as reason */
    c->phase = PH_RESPOND;
    lws_callback_on_writable(c->wsi);
}

void api_conn_jobs_done(api_server *srv)
{
    api_job *j = srv->pool ? api_pool_take_done(srv->pool) : NULL;

    while (j) {
        api_job *next = j->next;
        api_conn *c = j->conn;

        j->next = NULL;
        if (c) {
            c->job = NULL;
            j->conn = NULL;
            job_deliver(c, j);
        }
        api_job_free(j); /* a job nobody waits for any more: its late answer is dropped */
        j = next;
    }
}

/*
 * The request timeout passed while c's job is queued or at a worker. Queued: no worker was
 * free all that time (they wait on a slow store), 503. Being served: the store is slow, 504;
 * the worker finishes on its own and its answer is dropped (a write may still take effect).
 */
static void job_timed_out(api_conn *c)
{
    api_job *j = c->job;
    int t = c->srv->a->opts.request_timeout_s;
    char msg[300];

    if (api_pool_cancel(c->srv->pool, j)) {
        c->job = NULL;
        j->conn = NULL;
        take_back(c, j);
        api_job_free(j);
        log_warn("remote=%s path=%s no API worker was free within the request timeout of %ds "
                 "(all %d wait on the store): answered 503",
                 c->req.remote ? c->req.remote : "?", c->req.path ? c->req.path : "?", t,
                 c->srv->a->opts.workers);
        snprintf(msg, sizeof(msg),
                 "the server is busy: no API worker was free within the request timeout of %d "
                 "seconds (the store answers slowly); retry later",
                 t);
        api_conn_respond_status(c, 503, 1, msg);
        return;
    }
    /* req's strings are read only by the worker too: safe to log from here */
    log_warn("remote=%s path=%s the store did not answer within the request timeout of %ds: "
             "answered 504",
             j->req.remote ? j->req.remote : "?", j->req.path ? j->req.path : "?", t);
    c->job = NULL;
    j->conn = NULL;
    snprintf(msg, sizeof(msg),
             "the store did not answer within the request timeout of %d seconds; a write may "
             "still take effect: read the object before retrying",
             t);
    api_conn_respond_status(c, 504, 1, msg);
}

static void on_request_timeout(lws_sorted_usec_list_t *sul)
{
    api_conn *c = lws_container_of(sul, api_conn, sul_timeout);

    if (c->phase == PH_WORK) {
        job_timed_out(c);
        return;
    }
    if (c->phase == PH_BODY) {
        char msg[160];

        log_warn("remote=%s path=%s request timed out after %ds reading the request; answered "
                 "408",
                 c->req.remote ? c->req.remote : "?", c->req.path ? c->req.path : "?",
                 c->srv->a->opts.request_timeout_s);
        snprintf(msg, sizeof(msg),
                 "the request body did not arrive within the request timeout of %d seconds; "
                 "the connection is closed",
                 c->srv->a->opts.request_timeout_s);
        api_conn_respond_status(c, 408, 1, msg);
        return;
    }
    /* still writing an answer the client does not read: give up on it */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static int on_http(api_conn *c, struct lws *wsi)
{
    api *a = c->srv->a;
    char *cl, *te;

    conn_reset(c);
    read_request(c, wsi);
    c->is_head = c->req.method == API_METHOD_HEAD;
    c->deadline_ms = clock_now_ms() + (int64_t)a->opts.request_timeout_s * 1000;
    lws_sul_schedule(c->srv->ctx, 0, &c->sul_timeout, on_request_timeout,
                     (lws_usec_t)a->opts.request_timeout_s * LWS_US_PER_SEC);
    if (header_bytes(wsi) > a->opts.max_header_bytes) {
        char msg[128];

        snprintf(msg, sizeof(msg),
                 "the request line and headers are larger than the limit of %zu bytes",
                 a->opts.max_header_bytes);
        api_conn_respond_status(c, 431, 1, msg);
        return 0;
    }
    te = hdr_dup(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING);
    if (te) {
        free(te);
        api_conn_respond_status(
            c, 411, 1,
            "send the request body with a Content-Length; chunked request bodies "
            "are not accepted");
        return 0;
    }
    cl = hdr_dup(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (cl) {
        char *end;
        long long n = strtoll(cl, &end, 10);

        if (*end || n < 0) {
            free(cl);
            api_conn_respond_status(c, 400, 1, "the Content-Length header is not a number");
            return 0;
        }
        free(cl);
        c->content_length = n;
        if ((unsigned long long)n > a->opts.max_body_bytes) {
            char msg[160];

            snprintf(msg, sizeof(msg),
                     "the request body (%lld bytes) is larger than the limit of %zu bytes", n,
                     a->opts.max_body_bytes);
            log_warn("remote=%s path=%s body of %lld bytes refused (limit %zu): answered 413",
                     c->req.remote, c->req.path, n, a->opts.max_body_bytes);
            api_conn_respond_status(c, 413, 1, msg);
            return 0;
        }
    }
    if (guard_request(c->srv, &c->req, c->content_length > 0, &c->resp) != 0) {
        c->phase = PH_RESPOND;
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->content_length > 0) {
        c->phase = PH_BODY;
        return 0;
    }
    dispatch(c);
    return 0;
}

static int on_body(api_conn *c, const void *in, size_t len)
{
    if (c->phase != PH_BODY)
        return 0; /* an early answer is on its way; the rest of the body is ignored */
    if (c->body.len + len > c->srv->a->opts.max_body_bytes ||
        (int64_t)(c->body.len + len) > c->content_length) {
        api_conn_respond_status(c, 413, 1,
                                "the request body is longer than its Content-Length or the limit");
        return 0;
    }
    strbuf_add(&c->body, in, len);
    return 0;
}

/* --- writing an answer ------------------------------------------------------------------- */

static int add_warnings(api_conn *c, unsigned char **p, unsigned char *end)
{
    const char *w = c->resp.warnings.buf;
    size_t used = 0;

    while (w && *w && used < MAX_WARNING_BYTES) {
        const char *nl = strchr(w, '\n');
        size_t n = nl ? (size_t)(nl - w) : strlen(w);
        char val[600];
        int vn;

        /* RFC 7234 warn-text is a quoted string: quote and backslash are escaped;
         * control characters (none should come) are dropped */
        vn = snprintf(val, sizeof(val), "299 - \"");
        for (size_t i = 0; i < n && vn < (int)sizeof(val) - 3; i++) {
            if ((unsigned char)w[i] < 0x20 || w[i] == 0x7f)
                continue;
            if (w[i] == '"' || w[i] == '\\')
                val[vn++] = '\\';
            val[vn++] = w[i];
        }
        val[vn++] = '"';
        val[vn] = '\0';
        if (lws_add_http_header_by_name(
                c->wsi, (const unsigned char *)"warning:", (const unsigned char *)val, vn, p, end))
            return -1;
        used += (size_t)vn;
        w = nl ? nl + 1 : w + n;
    }
    return 0;
}

/*
 * Whether the connection closes after this answer: when the answer says so, and always on a
 * connection api_gate handed over (plain HTTP, unix socket), whose next request would reach
 * libwebsockets without passing api_gate's header-size check. api_tls judges every request of
 * a TLS connection: those keep alive.
 */
static int closes_after(const api_conn *c)
{
    return c->resp.close_connection || !c->is_tls;
}

/* After the last byte: close, or wait for the next request. */
int api_conn_finish(api_conn *c)
{
    if (closes_after(c)) {
        c->phase = PH_CLOSING;
        lws_callback_on_writable(c->wsi); /* called again once the data is flushed */
        return 0;
    }
    if (lws_partial_buffered(c->wsi)) {
        /* api_tls sends a 431 only after the whole answer before it: tell it once flushed */
        c->phase = PH_FLUSHING;
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    conn_reset(c);
    api_tls_answered(c->srv->tls, lws_get_socket_fd(c->wsi));
    if (lws_http_transaction_completed(c->wsi))
        return -1;
    return 0;
}

static int write_response(api_conn *c)
{
    unsigned char
        buf[LWS_PRE + (API_CONN_HEADER_ROOM > API_CONN_WRITE_CHUNK ? API_CONN_HEADER_ROOM
                                                                   : API_CONN_WRITE_CHUNK)];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
    size_t left, n;

    if (!c->headers_sent) {
        if (lws_add_http_common_headers(c->wsi, (unsigned int)c->resp.status, c->resp.content_type,
                                        c->resp.body.len, &p, end) ||
            add_warnings(c, &p, end) ||
            (closes_after(c) &&
             lws_add_http_header_by_token(c->wsi, WSI_TOKEN_CONNECTION,
                                          (const unsigned char *)"close", 5, &p, end)) ||
            lws_finalize_write_http_header(c->wsi, start, &p, end))
            return -1;
        c->headers_sent = 1;
        if (c->is_head || c->resp.body.len == 0)
            return api_conn_finish(c);
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    left = c->resp.body.len - c->sent;
    n = left > API_CONN_WRITE_CHUNK ? API_CONN_WRITE_CHUNK : left;
    memcpy(start, c->resp.body.buf + c->sent, n);
    if (lws_write(c->wsi, start, n, n == left ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    c->sent += n;
    if (c->sent < c->resp.body.len) {
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    return api_conn_finish(c);
}

/* --- websocket watches: refused before the upgrade, served after --------------------------- */

static int ws_precheck(struct lws *wsi)
{
    api_server *srv = server_of(wsi);
    api_conn tmp;
    int rc = 0;

    memset(&tmp, 0, sizeof(tmp));
    tmp.srv = srv;
    tmp.wsi = wsi;
    tmp.is_ws = 1;
    api_request_init(&tmp.req);
    api_response_init(&tmp.resp);
    read_request(&tmp, wsi);
    if (guard_request(srv, &tmp.req, 0, &tmp.resp) == 0)
        api_handle(srv->a, &tmp.req, &tmp.resp);
    if (!tmp.resp.watch) {
        /* not a watch, or refused: answer in HTTP and do not upgrade */
        unsigned char buf[LWS_PRE + API_CONN_HEADER_ROOM];
        unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;

        if (tmp.resp.status < 400)
            api_status_respond(&tmp.resp, 400, "a websocket on %s must be a watch", tmp.req.path);
        if (lws_add_http_common_headers(wsi, (unsigned int)tmp.resp.status, tmp.resp.content_type,
                                        tmp.resp.body.len, &p, end) == 0 &&
            lws_finalize_write_http_header(wsi, start, &p, end) == 0 &&
            tmp.resp.body.len < sizeof(buf) - LWS_PRE) {
            memcpy(start, tmp.resp.body.buf, tmp.resp.body.len);
            lws_write(wsi, start, tmp.resp.body.len, LWS_WRITE_HTTP_FINAL);
        }
        rc = -1;
    }
    api_request_release(&tmp.req);
    api_response_release(&tmp.resp);
    return rc;
}

/* The upgrade is done: a worker routes the watch again and opens it on the store. */
static int on_ws_established(api_conn *c, struct lws *wsi)
{
    int t = c->srv->a->opts.request_timeout_s;

    read_request(c, wsi);
    c->deadline_ms = clock_now_ms() + (int64_t)t * 1000;
    lws_sul_schedule(c->srv->ctx, 0, &c->sul_timeout, on_request_timeout,
                     (lws_usec_t)t * LWS_US_PER_SEC);
    submit_job(c);
    return 0;
}

/* A websocket that ends before its stream starts (refused, not a watch, timed out). */
static int ws_refuse(api_conn *c)
{
    if (c->resp.body.len)
        /* say why in the close frame */
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                         (unsigned char *)c->resp.body.buf,
                         c->resp.body.len > 120 ? 120 : c->resp.body.len);
    return -1;
}

/* --- the protocol callbacks -------------------------------------------------------------- */

static int api_conn_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    api_conn **pc = user;
    api_conn *c = pc ? *pc : NULL;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (!c)
            c = *pc = conn_new(wsi, 0);
        return on_http(c, wsi);
    case LWS_CALLBACK_HTTP_BODY:
        return c ? on_body(c, in, len) : -1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (c && c->phase == PH_BODY)
            dispatch(c);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!c)
            return 0;
        if (c->phase == PH_CLOSING)
            return -1;
        if (c->phase == PH_FLUSHING)
            return api_conn_finish(c);
        if (c->phase == PH_RESPOND)
            return write_response(c);
        if (c->phase == PH_STREAM)
            return api_conn_stream_write_http(c);
        return 0; /* PH_WORK: the answer is not there yet */
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        if (!in || strcmp((const char *)in, "websocket") != 0)
            return -1;
        return ws_precheck(wsi);
    case LWS_CALLBACK_ESTABLISHED:
        c = *pc = conn_new(wsi, 1);
        return on_ws_established(c, wsi);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c)
            return 0;
        if (c->phase == PH_STREAM)
            return api_conn_stream_write_ws(c);
        if (c->phase == PH_WORK)
            return 0;
        return ws_refuse(c);
    case LWS_CALLBACK_RECEIVE:
        return 0; /* a watch has nothing to hear from the client */
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* lws_cancel_service woke the loop: a worker finished (called once per vhost) */
        api_conn_jobs_done(server_of(wsi));
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (c) {
            conn_free(c);
            *pc = NULL;
        }
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols api_conn_protocols[] = {
    {"omlop", api_conn_cb, sizeof(api_conn *), 0, 0, NULL, 0},
    {"omlop-watchfd", api_conn_watchfd_cb, 0, 0, 0, NULL, 0},
    {API_CONN_SIGNAL_PROTOCOL, api_server_signal_cb, 0, 0, 0, NULL, 0},
    {API_GATE_LISTEN_PROTOCOL, api_gate_listen_cb, 0, 0, 0, NULL, 0},
    {API_GATE_CONN_PROTOCOL, api_gate_conn_cb, 0, 0, 0, NULL, 0},
    {API_TLS_LISTEN_PROTOCOL, api_tls_listen_cb, 0, 0, 0, NULL, 0},
    {API_TLS_CONN_PROTOCOL, api_tls_conn_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

int api_conn_drain(api_server *srv)
{
    int busy = 0;

    for (api_conn *c = srv->conns; c; c = c->next) {
        if (c->phase == PH_STREAM) {
            c->is_stream_done = 1;
            lws_callback_on_writable(c->wsi);
        }
        if (c->phase != PH_IDLE)
            busy++;
    }
    return busy;
}

int api_conn_busy(const api_server *srv)
{
    int busy = 0;

    for (const api_conn *c = srv->conns; c; c = c->next)
        if (c->phase != PH_IDLE)
            busy++;
    return busy;
}
