/* podman_pipe: streamed exec output and archive reads (see podman_pipe.h). */
#include "clients/podman_pipe.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clients/podman_call.h"
#include "clients/podman_exec.h"
#include "clients/podman_proto.h"
#include "clients/podman_stream.h"
#include "lib/cjson.h"

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
