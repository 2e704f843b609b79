/* podman_exec: run commands in containers and copy files in (see podman_exec.h). */
#include "clients/podman_exec.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clients/podman_call.h"
#include "clients/podman_stream.h"
#include "lib/cjson.h"

#define EXEC_TIMEOUT_MS 60000L
#define EXEC_MAX_OUTPUT (1024u * 1024)
/* x 20 ms: how long an exec may still look "running" after its output ended */
#define EXEC_SETTLE_TRIES 100

void podman_exec_result_release(podman_exec_result *r)
{
    strbuf_release(&r->out);
    strbuf_release(&r->err);
    r->exit_code = -1;
}

struct exec_state {
    podman_demux demux;
    podman_exec_result *res;
    size_t max;
    int is_too_big;
    omlop_err demux_err;
    int is_demux_err;
};

static void exec_piece(void *ud, int stream, const char *data, size_t len)
{
    struct exec_state *s = ud;
    strbuf *sb = stream == 2 ? &s->res->err : &s->res->out;

    if (sb->len + len > s->max) {
        s->is_too_big = 1;
        return;
    }
    strbuf_add(sb, data, len);
}

static int exec_data(void *ud, const char *data, size_t len)
{
    struct exec_state *s = ud;

    if (podman_demux_feed(&s->demux, data, len, exec_piece, s, &s->demux_err) < 0) {
        s->is_demux_err = 1;
        return 1;
    }
    return s->is_too_big;
}

int podman_exec_exit_code(podman_client *p, const char *id, const char *what, int tries, int *code,
                          omlop_err *err)
{
    for (int i = 0; i < tries; i++) {
        tunnel_response resp = TUNNEL_RESPONSE_INIT;
        json_object *o = NULL, *running;
        podman_call c;
        int rc;

        podman_call_init(&c, p, "GET", "%s", what);
        strbuf_addf(&c.path, "/exec/%s/json", id);
        rc = podman_call_do(p, &c, PODMAN_OK_200, &resp, err);
        if (rc == 0)
            o = json_tokener_parse(strbuf_str(&resp.body));
        tunnel_response_release(&resp);
        if (rc < 0)
            return rc;
        running = cjson_get(o, "Running");
        if (!o || !running) {
            json_object_put(o);
            return omlop_err_set(err, OMLOP_EPROTO, "host %s: %s: no exec state in the reply",
                                 podman_client_host(p), what);
        }
        if (!json_object_get_boolean(running)) {
            *code = (int)cjson_get_int(o, "ExitCode", -1);
            json_object_put(o);
            return 0;
        }
        json_object_put(o);
        nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
    }
    return omlop_err_set(err, OMLOP_ETIMEOUT,
                         "host %s: %s: the command's output ended but it still runs",
                         podman_client_host(p), what);
}

int podman_exec(podman_client *p, const char *container, const char *const *cmd,
                const podman_exec_opts *o, podman_exec_result *res, omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    strbuf body = STRBUF_INIT;
    struct exec_state s;
    json_object *reply = NULL;
    char id[128] = "";
    char what[PODMAN_WHAT_MAX];
    podman_call c;
    int rc = podman_check_ref("container", container, err);

    strbuf_reset(&res->out);
    strbuf_reset(&res->err);
    res->exit_code = -1;
    if (rc < 0)
        return rc;
    snprintf(what, sizeof(what), "exec '%s' in container '%s'", cmd && cmd[0] ? cmd[0] : "",
             container);
    rc = podman_exec_body(cmd, o ? o->env : NULL, o ? o->workdir : NULL, o ? o->user : NULL, &body,
                          err);
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

    memset(&s, 0, sizeof(s));
    s.res = res;
    s.max = o && o->max_output ? o->max_output : EXEC_MAX_OUTPUT;
    podman_call_init(&c, p, "POST", "%s", what);
    strbuf_addf(&c.path, "/exec/%s/start", id);
    c.body = "{\"Detach\":false,\"Tty\":false}";
    c.body_len = strlen(c.body);
    c.timeout_ms = o && o->timeout_ms ? o->timeout_ms : EXEC_TIMEOUT_MS;
    c.on_data = exec_data;
    c.ud = &s;
    rc = podman_call_do(p, &c, PODMAN_OK_200, &resp, err);
    if (rc < 0)
        goto out;
    if (s.is_demux_err) {
        *err = s.demux_err;
        rc = omlop_err_prefix(err, "host %s: %s: ", podman_client_host(p), what);
    } else if (s.is_too_big) {
        rc = omlop_err_set(err, OMLOP_ELIMIT, "host %s: %s: more than %zu bytes of output",
                           podman_client_host(p), what, s.max);
    } else if (podman_demux_is_partial(&s.demux)) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "host %s: %s: the output stream was cut short",
                           podman_client_host(p), what);
    } else {
        rc = podman_exec_exit_code(p, id, what, EXEC_SETTLE_TRIES, &res->exit_code, err);
    }
out:
    json_object_put(reply);
    strbuf_release(&body);
    tunnel_response_release(&resp);
    return rc;
}

int podman_copy_in(podman_client *p, const char *container, const char *dest_dir, const void *tar,
                   size_t len, omlop_err *err)
{
    podman_call c;
    int rc = podman_check_ref("container", container, err);

    if (rc < 0)
        return rc;
    if (!dest_dir || dest_dir[0] != '/')
        return omlop_err_set(err, OMLOP_EINVAL,
                             "copy into container '%s': destination '%s' must be an absolute "
                             "path",
                             container, dest_dir ? dest_dir : "");
    podman_call_init(&c, p, "PUT", "copy files into container '%s'", container);
    strbuf_addf(&c.path, "/containers/%s/archive", container);
    podman_query_add(&c.path, "path", dest_dir);
    c.content_type = "application/x-tar";
    c.body = tar;
    c.body_len = len;
    c.timeout_ms = 300000;
    return podman_call_simple(p, &c, PODMAN_OK_200, err);
}
