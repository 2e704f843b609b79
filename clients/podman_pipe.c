/* podman_pipe: streamed exec output and archive reads (see podman_pipe.h). */
#include "clients/podman_pipe.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clients/podman_call.h"
#include "clients/podman_exec.h"
#include "clients/podman_proto.h"
#include "clients/podman_stream.h"
#include "lib/cjson.h"
#include "lib/xalloc.h"

#define PIPE_TIMEOUT_MS (6L * 3600 * 1000)
#define PIPE_MAX_STDERR (64u * 1024)
/* x 20 ms: how long an exec may still look "running" after its output ended */
#define PIPE_SETTLE_TRIES 150

struct pipe_state {
    podman_demux demux;
    podman_sink_fn sink;
    void *ctx;
    strbuf *err_out;
    size_t max_stderr;
    int is_sink_err;  /* the sink refused: its error is in sink_err */
    int is_demux_err; /* not exec's framing */
    omlop_err sink_err;
};

static void pipe_piece(void *ud, int stream, const char *data, size_t len)
{
    struct pipe_state *s = ud;

    if (s->is_sink_err)
        return;
    if (stream == 2) {
        if (s->err_out && s->err_out->len < s->max_stderr) {
            size_t room = s->max_stderr - s->err_out->len;

            strbuf_add(s->err_out, data, len < room ? len : room);
        }
        return;
    }
    if (s->sink(s->ctx, data, len, &s->sink_err) < 0)
        s->is_sink_err = 1;
}

static int pipe_exec_data(void *ud, const char *data, size_t len)
{
    struct pipe_state *s = ud;

    if (podman_demux_feed(&s->demux, data, len, pipe_piece, s, &s->sink_err) < 0) {
        s->is_demux_err = 1;
        return 1;
    }
    return s->is_sink_err;
}

int podman_exec_stream(podman_client *p, const char *container, const char *const *cmd,
                       const podman_pipe_opts *o, podman_sink_fn sink, void *ctx, int *exit_code,
                       strbuf *err_out, omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    strbuf body = STRBUF_INIT;
    struct pipe_state s;
    json_object *reply = NULL;
    char id[128] = "";
    char what[PODMAN_WHAT_MAX];
    podman_call c;
    int rc = podman_check_ref("container", container, err);

    *exit_code = -1;
    if (err_out)
        strbuf_reset(err_out);
    if (rc < 0)
        return rc;
    snprintf(what, sizeof(what), "exec '%s' in container '%s'", cmd && cmd[0] ? cmd[0] : "",
             container);
    rc = podman_exec_body(cmd, o ? o->env : NULL, NULL, o ? o->user : NULL, &body, err);
    if (rc < 0)
        goto out;
    podman_call_init(&c, p, "POST", "%s", what);
    strbuf_addf(&c.path, "/containers/%s/exec", container);
    c.body = body.buf;
    c.body_len = body.len;
    rc = podman_call_do(p, &c, PODMAN_OK_201, &resp, err);
    if (rc < 0)
        goto out;
    reply = json_tokener_parse(strbuf_str(&resp.body));
    if (!cjson_get_string(reply, "Id") ||
        podman_check_ref("exec", cjson_get_string(reply, "Id"), NULL) < 0) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "host %s: %s: no exec Id in the reply",
                           podman_client_host(p), what);
        goto out;
    }
    snprintf(id, sizeof(id), "%s", cjson_get_string(reply, "Id"));
    tunnel_response_release(&resp);

    memset(&s, 0, sizeof(s));
    s.sink = sink;
    s.ctx = ctx;
    s.err_out = err_out;
    s.max_stderr = o && o->max_stderr ? o->max_stderr : PIPE_MAX_STDERR;
    omlop_err_clear(&s.sink_err);
    podman_call_init(&c, p, "POST", "%s", what);
    strbuf_addf(&c.path, "/exec/%s/start", id);
    c.body = "{\"Detach\":false,\"Tty\":false}";
    c.body_len = strlen(c.body);
    c.timeout_ms = o && o->timeout_ms ? o->timeout_ms : PIPE_TIMEOUT_MS;
    c.cancel = o ? o->cancel : NULL;
    c.on_data = pipe_exec_data;
    c.ud = &s;
    rc = podman_call_do(p, &c, PODMAN_OK_200, &resp, err);
    if (s.is_sink_err) {
        /* the sink's own words ("upload part 3: ..."): the caller names the step */
        *err = s.sink_err;
        rc = err->code ? err->code : OMLOP_EIO;
        goto out;
    }
    if (rc < 0)
        goto out;
    if (resp.is_cancelled) {
        rc = omlop_err_set(err, OMLOP_EUNAVAIL, "host %s: %s: cancelled", podman_client_host(p),
                           what);
    } else if (s.is_demux_err) {
        *err = s.sink_err;
        rc = omlop_err_prefix(err, "host %s: %s: ", podman_client_host(p), what);
    } else if (podman_demux_is_partial(&s.demux)) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "host %s: %s: the output stream was cut short",
                           podman_client_host(p), what);
    } else {
        rc = podman_exec_exit_code(p, id, what, PIPE_SETTLE_TRIES, exit_code, err);
    }
out:
    json_object_put(reply);
    strbuf_release(&body);
    tunnel_response_release(&resp);
    return rc;
}

struct archive_state {
    podman_sink_fn sink;
    void *ctx;
    int is_sink_err;
    omlop_err sink_err;
};

static int archive_data(void *ud, const char *data, size_t len)
{
    struct archive_state *s = ud;

    if (s->sink(s->ctx, data, len, &s->sink_err) < 0)
        s->is_sink_err = 1;
    return s->is_sink_err;
}

int podman_archive_get(podman_client *p, const char *container, const char *path,
                       const podman_pipe_opts *o, podman_sink_fn sink, void *ctx, omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    struct archive_state s;
    podman_call c;
    int rc = podman_check_ref("container", container, err);

    if (rc < 0)
        return rc;
    if (!path || path[0] != '/')
        return omlop_err_set(err, OMLOP_EINVAL,
                             "read from container '%s': path '%s' must be absolute", container,
                             path ? path : "");
    memset(&s, 0, sizeof(s));
    s.sink = sink;
    s.ctx = ctx;
    omlop_err_clear(&s.sink_err);
    podman_call_init(&c, p, "GET", "read files of container '%s'", container);
    strbuf_addf(&c.path, "/containers/%s/archive", container);
    podman_query_add(&c.path, "path", path);
    c.timeout_ms = o && o->timeout_ms ? o->timeout_ms : PIPE_TIMEOUT_MS;
    c.cancel = o ? o->cancel : NULL;
    c.on_data = archive_data;
    c.ud = &s;
    rc = podman_call_do(p, &c, PODMAN_OK_200, &resp, err);
    if (s.is_sink_err) {
        *err = s.sink_err;
        rc = err->code ? err->code : OMLOP_EIO;
    } else if (rc == 0 && resp.is_cancelled) {
        rc = omlop_err_set(err, OMLOP_EUNAVAIL, "host %s: read %s of container '%s': cancelled",
                           podman_client_host(p), path, container);
    }
    tunnel_response_release(&resp);
    return rc;
}

/* ---- streamed archive PUT ---------------------------------------------------------------- */

#define PUT_STALL_MS  (5L * 60 * 1000)
#define PUT_REPLY_MAX (64u * 1024)
#define PUT_POLL_MS   200

struct podman_put {
    podman_client *p;
    int fd;
    unsigned long long left; /* body bytes still announced */
    long stall_ms;
    atomic_int *cancel;
    char what[PODMAN_WHAT_MAX];
};

/* Wait until fd is ready for events; OMLOP_ETIMEOUT after stall_ms, OMLOP_EUNAVAIL on cancel. */
static int put_wait(podman_put *w, short events, omlop_err *err)
{
    long waited = 0;

    for (;;) {
        struct pollfd pfd = {.fd = w->fd, .events = events};
        int n;

        if (w->cancel && atomic_load(w->cancel))
            return omlop_err_set(err, OMLOP_EUNAVAIL, "host %s: %s: cancelled",
                                 podman_client_host(w->p), w->what);
        n = poll(&pfd, 1, PUT_POLL_MS);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return omlop_err_set(err, OMLOP_EIO, "host %s: %s: poll: %s", podman_client_host(w->p),
                                 w->what, strerror(errno));
        waited += PUT_POLL_MS;
        if (waited >= w->stall_ms)
            return omlop_err_set(err, OMLOP_ETIMEOUT, "host %s: %s: no progress for %ld s",
                                 podman_client_host(w->p), w->what, w->stall_ms / 1000);
    }
}

static int put_send(podman_put *w, const char *data, size_t len, omlop_err *err)
{
    while (len > 0) {
        ssize_t n;
        int rc = put_wait(w, POLLOUT, err);

        if (rc < 0)
            return rc;
        n = send(w->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            return omlop_err_set(err, OMLOP_EIO, "host %s: %s: the connection broke: %s",
                                 podman_client_host(w->p), w->what, strerror(errno));
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int podman_archive_put_open(podman_client *p, const char *container, const char *dir,
                            unsigned long long len, const podman_pipe_opts *o, podman_put **out,
                            omlop_err *err)
{
    strbuf path = STRBUF_INIT, head = STRBUF_INIT;
    char prefix[64];
    podman_put *w;
    int rc = podman_check_ref("container", container, err);

    *out = NULL;
    if (rc < 0)
        return rc;
    if (!dir || dir[0] != '/')
        return omlop_err_set(err, OMLOP_EINVAL,
                             "copy into container '%s': destination '%s' must be absolute",
                             container, dir ? dir : "");
    w = xcalloc(1, sizeof(*w));
    w->p = p;
    w->fd = -1;
    w->left = len;
    w->stall_ms = o && o->timeout_ms ? o->timeout_ms : PUT_STALL_MS;
    w->cancel = o ? o->cancel : NULL;
    snprintf(w->what, sizeof(w->what), "copy files into container '%s'", container);
    podman_client_api_prefix(p, prefix, sizeof(prefix));
    strbuf_addf(&path, "%s/containers/%s/archive", prefix, container);
    podman_query_add(&path, "path", dir);
    rc = tunnel_open_stream(podman_client_tunnel(p), &w->fd, err);
    if (rc < 0) {
        omlop_err_prefix(err, "%s: ", w->what);
        goto out;
    }
    strbuf_addf(&head,
                "PUT %s HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
                "Content-Length: %llu\r\nConnection: close\r\n\r\n",
                path.buf, len);
    rc = put_send(w, head.buf, head.len, err);
out:
    strbuf_release(&path);
    strbuf_release(&head);
    if (rc < 0)
        podman_put_abort(w);
    else
        *out = w;
    return rc;
}

int podman_put_write(podman_put *w, const void *data, size_t len, omlop_err *err)
{
    if (len > w->left)
        return omlop_err_set(err, OMLOP_EINVAL, "host %s: %s: %zu bytes more than announced",
                             podman_client_host(w->p), w->what, len - (size_t)w->left);
    w->left -= len;
    return put_send(w, data, len, err);
}

/* Whether reply holds its headers and the Content-Length bytes they announce. */
static int put_reply_complete(const strbuf *reply)
{
    const char *end = reply->buf ? strstr(reply->buf, "\r\n\r\n") : NULL;
    const char *cl = reply->buf ? strcasestr(reply->buf, "\r\nContent-Length:") : NULL;

    if (!end || !cl || cl > end)
        return 0;
    return reply->len >= (size_t)(end + 4 - reply->buf) + strtoul(cl + 17, NULL, 10);
}

int podman_put_finish(podman_put *w, omlop_err *err)
{
    strbuf reply = STRBUF_INIT;
    const char *body;
    long status = 0;
    int rc = 0;

    if (w->left)
        rc = omlop_err_set(err, OMLOP_EINVAL, "host %s: %s: %llu bytes of the body missing",
                           podman_client_host(w->p), w->what, w->left);
    /* the reply ends at its Content-Length, or when Podman closes (Connection: close) */
    while (rc == 0 && reply.len < PUT_REPLY_MAX && !put_reply_complete(&reply)) {
        char buf[4096];
        ssize_t n;

        if ((rc = put_wait(w, POLLIN, err)) < 0)
            break;
        n = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            break;
        strbuf_add(&reply, buf, (size_t)n);
    }
    if (rc < 0)
        goto out;
    if (!reply.buf || sscanf(reply.buf, "HTTP/1.%*d %ld", &status) != 1) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "host %s: %s: no HTTP answer",
                           podman_client_host(w->p), w->what);
        goto out;
    }
    if (status == 200)
        goto out;
    body = strstr(reply.buf, "\r\n\r\n");
    body = body ? body + 4 : "";
    rc = podman_error_from_response(podman_client_host(w->p), w->what, status, body, strlen(body),
                                    err);
out:
    strbuf_release(&reply);
    podman_put_abort(w);
    return rc;
}

void podman_put_abort(podman_put *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    free(w);
}
