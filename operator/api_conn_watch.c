/* api_conn_watch: watch streams on a connection, as chunked HTTP or websocket messages. */
#include "api_conn.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "operator/api_status.h"
#include "operator/api_watch.h"

/* How often an HTTP watch stream checks that its client is still connected. */
#define ALIVE_CHECK_US (1000 * 1000)

/* --- watch streams ----------------------------------------------------------------------- */

static void resume_fd(api_conn *c)
{
    if (c->fd_wsi && c->is_fd_paused &&
        c->out.len - c->out_off < c->srv->a->opts.watch_buffer_bytes / 2) {
        lws_rx_flow_control(c->fd_wsi, 1);
        c->is_fd_paused = 0;
    }
}

/*
 * n queued bytes went out: drop them (the whole buffer once drained), let a
 * paused producer go on, and ask for another write while anything is left.
 */
static void stream_sent(api_conn *c, size_t n)
{
    c->out_off += n;
    if (c->out_off == c->out.len) {
        strbuf_reset(&c->out);
        c->out_off = 0;
    }
    resume_fd(c);
    if (c->out.len || c->is_stream_done)
        lws_callback_on_writable(c->wsi);
}

static void pump(api_conn *c)
{
    if (!c->stream || c->is_stream_done)
        return;
    if (api_stream_pump(c->stream, &c->out))
        c->is_stream_done = 1;
    if (c->fd_wsi && !c->is_fd_paused &&
        c->out.len - c->out_off >= c->srv->a->opts.watch_buffer_bytes / 2) {
        /* the client reads slower than events come: stop taking them for now */
        lws_rx_flow_control(c->fd_wsi, 0);
        c->is_fd_paused = 1;
    }
    lws_callback_on_writable(c->wsi);
}

static void on_bookmark(lws_sorted_usec_list_t *sul)
{
    api_conn *c = lws_container_of(sul, api_conn, sul_bookmark);

    if (!c->stream || c->is_stream_done)
        return;
    api_stream_bookmark(c->stream, &c->out);
    lws_callback_on_writable(c->wsi);
    lws_sul_schedule(c->srv->ctx, 0, &c->sul_bookmark, on_bookmark,
                     (lws_usec_t)c->srv->a->opts.bookmark_interval_s * LWS_US_PER_SEC);
}

static void on_deadline(lws_sorted_usec_list_t *sul)
{
    api_conn *c = lws_container_of(sul, api_conn, sul_deadline);

    c->is_stream_done = 1; /* timeoutSeconds passed: end cleanly, the client re-watches */
    lws_callback_on_writable(c->wsi);
}

/*
 * During an HTTP response lws does not read the socket, so a watch client that
 * went away is only noticed when a write fails, which for a quiet watch is
 * never. Look for the hang-up ourselves; websockets are read and need no help.
 */
static void on_alive_check(lws_sorted_usec_list_t *sul)
{
    api_conn *c = lws_container_of(sul, api_conn, sul_alive);
    struct pollfd pf = {lws_get_socket_fd(c->wsi), POLLRDHUP, 0};

    if (poll(&pf, 1, 0) > 0 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))) {
        log_debug("remote=%s watch client hung up", c->req.remote);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    lws_sul_schedule(c->srv->ctx, 0, &c->sul_alive, on_alive_check, ALIVE_CHECK_US);
}

void api_conn_stream_begin(api_conn *c, api_stream *stream)
{
    api *a = c->srv->a;
    api_watch_spec *spec = c->resp.watch;
    lws_sock_file_fd_type fd;
    int dupfd;

    c->resp.watch = NULL;
    if (a->n_watches >= a->opts.max_watches) {
        char msg[128];

        snprintf(msg, sizeof(msg),
                 "too many watch streams (the limit is %d); close one or retry later",
                 a->opts.max_watches);
        api_watch_spec_free(spec);
        api_stream_free(stream);
        log_warn("remote=%s watch refused: the limit of %d watch streams is reached", c->req.remote,
                 a->opts.max_watches);
        api_conn_respond_status(c, 429, c->is_ws, msg);
        return;
    }
    c->stream = stream;
    a->n_watches++;
    c->phase = PH_STREAM;
    lws_sul_cancel(&c->sul_timeout); /* a watch lives as long as the client wants */
    lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
    dupfd = dup(api_stream_fd(c->stream));
    if (dupfd >= 0) {
        fd.filefd = dupfd;
        c->fd_wsi = lws_adopt_descriptor_vhost(lws_get_vhost(c->wsi), LWS_ADOPT_RAW_FILE_DESC, fd,
                                               "omlop-watchfd", NULL);
        if (c->fd_wsi)
            lws_set_opaque_user_data(c->fd_wsi, c);
        else
            close(dupfd);
    }
    if (!c->fd_wsi) {
        log_error("remote=%s could not add the watch to the event loop", c->req.remote);
        c->is_stream_done = 1;
    }
    if (spec->allow_bookmarks && a->opts.bookmark_interval_s > 0)
        lws_sul_schedule(c->srv->ctx, 0, &c->sul_bookmark, on_bookmark,
                         (lws_usec_t)a->opts.bookmark_interval_s * LWS_US_PER_SEC);
    if (spec->timeout_s > 0)
        lws_sul_schedule(c->srv->ctx, 0, &c->sul_deadline, on_deadline,
                         (lws_usec_t)spec->timeout_s * LWS_US_PER_SEC);
    if (!c->is_ws)
        lws_sul_schedule(c->srv->ctx, 0, &c->sul_alive, on_alive_check, ALIVE_CHECK_US);
    api_watch_spec_free(spec);
    if (c->srv->is_stopping)
        c->is_stream_done = 1;
    pump(c); /* the initial events, and anything already pending */
}

/* Chunked HTTP: headers once, then each piece of out as one chunk, then the last chunk. */
int api_conn_stream_write_http(api_conn *c)
{
    unsigned char buf[LWS_PRE + API_CONN_WRITE_CHUNK + 32];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
    size_t left = c->out.len - c->out_off, n;
    int hn;

    if (!c->headers_sent) {
        if (lws_add_http_header_status(c->wsi, 200, &p, end) ||
            lws_add_http_header_by_token(c->wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                         (const unsigned char *)"application/json", 16, &p, end) ||
            lws_add_http_header_by_token(c->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
                                         (const unsigned char *)"chunked", 7, &p, end) ||
            lws_add_http_header_by_name(c->wsi, (const unsigned char *)"cache-control:",
                                        (const unsigned char *)"no-cache, private", 17, &p, end) ||
            lws_finalize_write_http_header(c->wsi, start, &p, end))
            return -1;
        c->headers_sent = 1;
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (left) {
        n = left > API_CONN_WRITE_CHUNK ? API_CONN_WRITE_CHUNK : left;
        hn = snprintf((char *)start, 16, "%zx\r\n", n);
        memcpy(start + hn, c->out.buf + c->out_off, n);
        memcpy(start + hn + n, "\r\n", 2);
        if (lws_write(c->wsi, start, (size_t)hn + n + 2, LWS_WRITE_HTTP) <
            (int)((size_t)hn + n + 2))
            return -1;
        stream_sent(c, n);
        return 0;
    }
    if (!c->is_stream_done)
        return 0;
    memcpy(start, "0\r\n\r\n", 5);
    if (lws_write(c->wsi, start, 5, LWS_WRITE_HTTP_FINAL) < 5)
        return -1;
    api_conn_stream_stop(c);
    c->resp.close_connection = 1; /* the stream's connection is not reused */
    return api_conn_finish(c);
}

/* Websocket: one text message per event line. */
int api_conn_stream_write_ws(api_conn *c)
{
    const char *line, *nl;
    size_t n;
    unsigned char *buf;
    int wrote;

    if (c->out_off == c->out.len) {
        if (c->is_stream_done) {
            lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"watch ended", 11);
            return -1;
        }
        return 0;
    }
    line = c->out.buf + c->out_off;
    nl = memchr(line, '\n', c->out.len - c->out_off);
    n = nl ? (size_t)(nl - line) : c->out.len - c->out_off;
    buf = xmalloc(LWS_PRE + n + 1);
    memcpy(buf + LWS_PRE, line, n);
    wrote = lws_write(c->wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
    free(buf);
    if (wrote < (int)n)
        return -1;
    stream_sent(c, n + (nl ? 1 : 0));
    return 0;
}

void api_conn_stream_stop(api_conn *c)
{
    lws_sul_cancel(&c->sul_bookmark);
    lws_sul_cancel(&c->sul_deadline);
    lws_sul_cancel(&c->sul_alive);
    if (c->fd_wsi) {
        /* the raw wsi holds a dup of the fd; detach it and let lws close it */
        lws_set_opaque_user_data(c->fd_wsi, NULL);
        lws_set_timeout(c->fd_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        c->fd_wsi = NULL;
    }
    if (c->stream) {
        api_stream_free(c->stream);
        c->stream = NULL;
        c->srv->a->n_watches--;
    }
}

int api_conn_watchfd_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    api_conn *c = lws_get_opaque_user_data(wsi);

    (void)user;
    (void)in;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (!c)
            return -1;
        pump(c);
        if (c->is_stream_done) {
            lws_set_opaque_user_data(wsi, NULL);
            c->fd_wsi = NULL;
            return -1;
        }
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (c && c->fd_wsi == wsi)
            c->fd_wsi = NULL;
        return 0;
    default:
        return 0;
    }
}
