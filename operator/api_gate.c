/* api_gate: the header-size check of plain and unix-socket connections before libwebsockets. */
#include "api_gate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "operator/api_conn.h"
#include "operator/api_status.h"

/* After a 431, how long and how much of the rest of the request is read and dropped, so that
 * closing with unread data (a TCP reset) does not destroy the answer before the client reads
 * it. */
#define DRAIN_US        (2 * LWS_US_PER_SEC)
#define DRAIN_MAX_BYTES (4 * 1024 * 1024)

/* How long an incomplete header block waits before the socket is looked at again. */
#define REPOLL_US (10 * 1000)

/* Connections accepted per wake-up of a listening socket, so one listener cannot starve. */
#define ACCEPT_BURST 32

typedef struct gate_conn {
    api_server *srv;
    struct lws_vhost *vh; /* where the connection goes once its headers are in */
    struct lws *wsi;      /* the raw descriptor waiting in the loop */
    char *buf;            /* the first bytes, at most limit + 1 */
    size_t len, cap, scanned;
    int is_draining; /* answered 431: reading what is left, then closing */
    size_t drained;
    lws_sorted_usec_list_t sul;        /* request timeout, then the drain time */
    lws_sorted_usec_list_t sul_repoll; /* headers incomplete: look again after a while */
} gate_conn;

api_gate_verdict api_gate_judge(const char *buf, size_t len, size_t limit, size_t room,
                                size_t *scanned, size_t *block)
{
    size_t end = 0, lines = 0, fields = 0, i = *scanned;

    /* the block ends at "\n\r\n" or "\n\n" (bare LF line ends are accepted too) */
    for (; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 >= len)
            break; /* undecided until the next byte */
        if (buf[i + 1] == '\n') {
            end = i + 2;
            break;
        }
        if (buf[i + 1] != '\r')
            continue;
        if (i + 2 >= len)
            break;
        if (buf[i + 2] == '\n') {
            end = i + 3;
            break;
        }
    }
    *scanned = i;
    if (!end)
        return len > limit ? API_GATE_TOO_LARGE : API_GATE_MORE;
    if (end > limit)
        return API_GATE_TOO_LARGE;
    for (size_t k = 0; k < end; k++) {
        lines += buf[k] == '\n';
        /* the request line's '&' and ';' start query parameters */
        fields += buf[k] == '\n' || (lines == 0 && (buf[k] == '&' || buf[k] == ';'));
    }
    if (end + lines * API_GATE_LWS_LINE_COST > room)
        return API_GATE_TOO_LARGE;
    if (fields > API_GATE_MAX_FIELDS + 2) /* the request line's and the blank line's ends */
        return API_GATE_TOO_MANY;
    *block = end;
    return API_GATE_PASS;
}

/* --- the listening sockets ----------------------------------------------------------------- */

static void on_gate_timeout(lws_sorted_usec_list_t *sul)
{
    gate_conn *g = lws_container_of(sul, gate_conn, sul);

    /* headers that never complete (or a drain that never ends): closed, as lws would */
    lws_set_timeout(g->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void on_repoll(lws_sorted_usec_list_t *sul)
{
    gate_conn *g = lws_container_of(sul, gate_conn, sul_repoll);

    lws_rx_flow_control(g->wsi, 1);
}

static void accept_one(api_server *s, struct lws_vhost *vh, int fd)
{
    lws_adopt_desc_t info;
    gate_conn *g = xcalloc(1, sizeof(*g));

    g->srv = s;
    g->vh = vh;
    g->cap = s->a->opts.max_header_bytes + 1;
    g->buf = xmalloc(g->cap);
    memset(&info, 0, sizeof(info));
    info.vh = vh;
    info.type = LWS_ADOPT_RAW_FILE_DESC;
    info.fd.filefd = fd;
    info.vh_prot_name = API_GATE_CONN_PROTOCOL;
    info.opaque = g;
    g->wsi = lws_adopt_descriptor_vhost_via_info(&info);
    if (!g->wsi) { /* lws 4.1 leaves a descriptor it could not adopt (not a socket) open */
        close(fd);
        log_warn("component=http cannot take a new connection into the event loop");
        free(g->buf);
        free(g);
        return;
    }
    lws_sul_schedule(s->ctx, 0, &g->sul, on_gate_timeout,
                     (lws_usec_t)s->a->opts.request_timeout_s * LWS_US_PER_SEC);
}

int api_gate_listen_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    api_server *s = lws_context_user(lws_get_context(wsi));
    struct lws_vhost *vh = lws_get_opaque_user_data(wsi);

    (void)user;
    (void)in;
    (void)len;
    if (reason != LWS_CALLBACK_RAW_RX_FILE || !vh)
        return 0;
    for (int i = 0; i < ACCEPT_BURST; i++) {
        int fd = accept4(lws_get_socket_fd(wsi), NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                log_warn("component=http accept: %s", strerror(errno));
            break;
        }
        accept_one(s, vh, fd);
    }
    return 0;
}

int api_gate_listen(api_server *s, struct lws_vhost *vh, int fd, omlop_err *err)
{
    lws_adopt_desc_t info;

    memset(&info, 0, sizeof(info));
    info.vh = vh;
    info.type = LWS_ADOPT_RAW_FILE_DESC;
    info.fd.filefd = fd;
    info.vh_prot_name = API_GATE_LISTEN_PROTOCOL;
    info.opaque = vh;
    (void)s;
    if (!lws_adopt_descriptor_vhost_via_info(&info)) {
        close(fd); /* lws leaves it open */
        return omlop_err_set(err, OMLOP_EIO, "cannot watch the listening socket in the loop");
    }
    return 0;
}

/* --- the connections waiting for their headers --------------------------------------------- */

/* At most max bytes of s (up to a space or '?'), printable ASCII only, for the audit line. */
static void log_token(char *out, size_t n, const char *s, size_t slen, size_t max)
{
    size_t i = 0;

    for (; i < slen && i < max && i + 1 < n && s[i] != ' ' && s[i] != '?' && s[i] != '\r' &&
           s[i] != '\n';
         i++)
        out[i] = (s[i] > ' ' && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
    out[i] = '\0';
}

/* Whether needle (lower case) is in buf, ignoring case. */
static int has_ci(const char *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(buf + i, needle, n) == 0)
            return 1;
    return 0;
}

void api_gate_refusal(const api_server *s, api_gate_verdict why, const char *block, size_t len,
                      const char *remote, strbuf *out)
{
    static const char *const verbs[] = {
        [API_METHOD_OTHER] = "other",   [API_METHOD_GET] = "get",
        [API_METHOD_HEAD] = "get",      [API_METHOD_POST] = "create",
        [API_METHOD_PUT] = "update",    [API_METHOD_PATCH] = "patch",
        [API_METHOD_DELETE] = "delete", [API_METHOD_OPTIONS] = "options"};
    char method[16], path[201];
    const char *sp = memchr(block, ' ', len);
    api_response resp;

    api_response_init(&resp);
    if (why == API_GATE_TOO_MANY)
        api_status_respond(&resp, 431,
                           "the request has more than %d header lines and query parameters",
                           API_GATE_MAX_FIELDS);
    else
        api_status_respond(&resp, 431,
                           "the request line and headers are larger than the limit of %zu "
                           "bytes (custom headers included)",
                           s->a->opts.max_header_bytes);
    strbuf_addf(out,
                "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: %s\r\n"
                "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                resp.content_type, resp.body.len);
    strbuf_add(out, resp.body.buf, resp.body.len);
    api_response_release(&resp);
    log_token(method, sizeof(method), block, len, sizeof(method) - 1);
    if (sp)
        log_token(path, sizeof(path), sp + 1, len - (size_t)(sp + 1 - block), 200);
    else
        snprintf(path, sizeof(path), "-");
    /* a websocket upgrade is a watch, as the guard audits it */
    log_info("audit user=- role=- verb=%s resource=- name=- code=431 dryRun=false remote=%s "
             "refused=header-bytes path=%s host=- origin=-",
             has_ci(block, len, "\nupgrade: websocket") ? "watch" : verbs[api_method_parse(method)],
             remote, path);
}

/* The peer of a connection as the audit log names it: "unix", or its address. */
static void peer_name(int fd, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    snprintf(out, n, "?");
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_UNIX)
        snprintf(out, n, "unix");
    else if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)n);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)n);
}

/* Answer 431 with a Status, then read and drop the rest until the client hangs up. */
static int refuse(gate_conn *g, api_gate_verdict why)
{
    strbuf answer = STRBUF_INIT;
    char remote[INET6_ADDRSTRLEN];
    int fd = lws_get_socket_fd(g->wsi), is_whole;
    ssize_t n;

    peer_name(fd, remote, sizeof(remote));
    api_gate_refusal(g->srv, why, g->buf, g->len, remote, &answer);
    /* the socket's send buffer is empty: the short answer goes out whole or not at all */
    n = send(fd, answer.buf, answer.len, MSG_NOSIGNAL);
    is_whole = n >= 0 && (size_t)n == answer.len;
    strbuf_release(&answer);
    if (!is_whole)
        return -1;
    shutdown(fd, SHUT_WR);
    g->is_draining = 1;
    lws_sul_schedule(g->srv->ctx, 0, &g->sul, on_gate_timeout, DRAIN_US);
    return 0;
}

/* Hand the connection and the bytes read so far to libwebsockets; our descriptor closes. */
static void hand_over(gate_conn *g)
{
    int fd = fcntl(lws_get_socket_fd(g->wsi), F_DUPFD_CLOEXEC, 0);

    if (fd < 0) {
        log_warn("component=http cannot hand a connection over: %s", strerror(errno));
        return;
    }
    /* lws closes fd itself when it cannot take it, or when it answered and closed already */
    if (!lws_adopt_socket_vhost(g->vh, fd))
        log_debug("component=http connection closed as it was handed over");
}

static int on_readable(gate_conn *g)
{
    int fd = lws_get_socket_fd(g->wsi);
    api_gate_verdict verdict;
    size_t block = 0;
    ssize_t n;

    if (g->is_draining) {
        char scratch[4096];

        n = read(fd, scratch, sizeof(scratch));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        g->drained += n > 0 ? (size_t)n : 0;
        return n <= 0 || g->drained > DRAIN_MAX_BYTES ? -1 : 0;
    }
    /*
     * Peek only: libwebsockets then reads the whole request from the socket itself, as from a
     * socket it accepted (lws 4.1 mishandles request bodies after bytes handed over with
     * lws_adopt_socket_vhost_readbuf). Peeked bytes stay readable, so while the block is
     * incomplete the descriptor is not polled for a while instead of spinning.
     */
    n = recv(fd, g->buf, g->cap, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0)
        return -1; /* the client left (or failed) before its headers were complete */
    /* nothing new (the peeked bytes make the socket readable): wait again */
    verdict = API_GATE_MORE;
    if ((size_t)n != g->len) {
        g->len = (size_t)n;
        verdict = api_gate_judge(g->buf, g->len, g->srv->a->opts.max_header_bytes,
                                 g->srv->header_room, &g->scanned, &block);
    }
    switch (verdict) {
    case API_GATE_MORE:
        lws_rx_flow_control(g->wsi, 0);
        lws_sul_schedule(g->srv->ctx, 0, &g->sul_repoll, on_repoll, REPOLL_US);
        return 0;
    case API_GATE_TOO_LARGE:
    case API_GATE_TOO_MANY:
        return refuse(g, verdict);
    case API_GATE_PASS:
        hand_over(g);
        return -1;
    }
    return -1;
}

int api_gate_conn_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    gate_conn *g = lws_get_opaque_user_data(wsi);

    (void)user;
    (void)in;
    (void)len;
    if (!g)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        return on_readable(g);
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        lws_sul_cancel(&g->sul);
        lws_sul_cancel(&g->sul_repoll);
        lws_set_opaque_user_data(wsi, NULL);
        free(g->buf);
        free(g);
        return 0;
    default:
        return 0;
    }
}
