/* podman: libpod REST calls over a tunnel (see podman.h). */
#include "clients/podman.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/podman_call.h"
#include "clients/podman_stream.h"
#include "lib/cjson.h"
#include "lib/xalloc.h"

#define PULL_TIMEOUT_MS (30L * 60 * 1000)

struct podman_client {
    tunnel *t;
    char *host;
    /* lock protects the learnt API prefix */
    pthread_mutex_t lock;
    char prefix[PODMAN_PREFIX_MAX];
    int has_prefix;
};

int podman_client_new(tunnel *t, podman_client **out, omlop_err *err)
{
    podman_client *p = xcalloc(1, sizeof(*p));

    (void)err; /* cannot fail today (out of memory aborts); the API keeps room for it */
    *out = NULL;
    p->host = xstrdup(tunnel_host(t));
    p->t = t;
    pthread_mutex_init(&p->lock, NULL);
    *out = p;
    return 0;
}

void podman_client_free(podman_client *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p->host);
    free(p);
}

const char *podman_client_host(const podman_client *p)
{
    return p->host;
}

tunnel *podman_client_tunnel(const podman_client *p)
{
    return p->t;
}

void podman_client_api_prefix(podman_client *p, char *out, size_t size)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    tunnel_request req = {.method = "GET", .path = "/libpod/_ping", .timeout_ms = 15000};
    int major = 0, minor = 0, patch = 0;

    pthread_mutex_lock(&p->lock);
    if (p->has_prefix) {
        snprintf(out, size, "%s", p->prefix);
        pthread_mutex_unlock(&p->lock);
        return;
    }
    pthread_mutex_unlock(&p->lock);
    snprintf(out, size, "%s", PODMAN_API_PREFIX);
    /* a transport failure shows again, with its message, in the call that follows */
    if (tunnel_http(p->t, &req, &resp, NULL) < 0) {
        tunnel_response_release(&resp);
        return;
    }
    /* any answer settles it: only a Podman 3 header changes the v4 default */
    if (resp.status == 200 && podman_parse_version(resp.api_version, &major, &minor, &patch) == 0 &&
        major == 3)
        snprintf(out, size, "/v%d.%d.%d/libpod", major, minor, patch);
    tunnel_response_release(&resp);
    pthread_mutex_lock(&p->lock);
    snprintf(p->prefix, sizeof(p->prefix), "%s", out);
    p->has_prefix = 1;
    pthread_mutex_unlock(&p->lock);
}

/* Add the list filters (f may be NULL: no filtering) to the call's query. */
static void add_filters(podman_call *c, const podman_filters *f)
{
    strbuf filters = STRBUF_INIT;

    if (!f)
        return;
    podman_filters_json(f, &filters);
    podman_query_add(&c->path, "filters", strbuf_str(&filters));
    strbuf_release(&filters);
}

/* --- system ------------------------------------------------------------------------------ */

int podman_ping(podman_client *p, char *api_version, size_t size, omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    podman_call c;
    int rc;

    podman_call_init(&c, p, "GET", "ping the Podman service%s", NULL);
    strbuf_adds(&c.path, "/_ping");
    c.timeout_ms = 15000;
    rc = podman_call_do(p, &c, PODMAN_OK_200, &resp, err);
    if (rc == 0 && api_version && size)
        snprintf(api_version, size, "%s", resp.api_version);
    tunnel_response_release(&resp);
    return rc;
}

int podman_info(podman_client *p, podman_host_info *out, omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    podman_call c;
    int rc;

    podman_call_init(&c, p, "GET", "read Podman's info%s", NULL);
    strbuf_adds(&c.path, "/info");
    rc = podman_call_do(p, &c, PODMAN_OK_200, &resp, err);
    if (rc == 0) {
        rc = podman_parse_info(resp.body.buf, resp.body.len, out, err);
        if (rc < 0)
            omlop_err_prefix(err, "host %s: ", p->host);
    }
    tunnel_response_release(&resp);
    return rc;
}

/* --- containers ----------------------------------------------------------------------- */

int podman_containers_list(podman_client *p, const podman_filters *f, int is_all,
                           podman_container_list *out, omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    podman_call c;
    int rc;

    memset(out, 0, sizeof(*out));
    podman_call_init(&c, p, "GET", "list containers%s", NULL);
    strbuf_adds(&c.path, "/containers/json");
    podman_query_add(&c.path, "all", is_all ? "true" : "false");
    add_filters(&c, f);
    rc = podman_call_do(p, &c, PODMAN_OK_200, &resp, err);
    if (rc == 0) {
        rc = podman_parse_container_list(resp.body.buf, resp.body.len, out, err);
        if (rc < 0)
            omlop_err_prefix(err, "host %s: ", p->host);
    }
    tunnel_response_release(&resp);
    return rc;
}

int podman_container_inspect(podman_client *p, const char *name, podman_container *out,
                             omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    podman_call c;
    int rc = podman_check_ref("container", name, err);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    podman_call_init(&c, p, "GET", "inspect container '%s'", name);
    strbuf_addf(&c.path, "/containers/%s/json", name);
    rc = podman_call_do(p, &c, PODMAN_OK_200, &resp, err);
    if (rc == 0) {
        rc = podman_parse_container_inspect(resp.body.buf, resp.body.len, out, err);
        if (rc < 0)
            omlop_err_prefix(err, "host %s: container '%s': ", p->host, name);
    }
    tunnel_response_release(&resp);
    return rc;
}

int podman_container_create(podman_client *p, const podman_create_spec *spec, char *id,
                            size_t id_size, omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    strbuf body = STRBUF_INIT;
    json_object *o = NULL;
    podman_call c;
    int rc = podman_create_body(spec, &body, err);

    if (rc < 0) {
        strbuf_release(&body);
        return omlop_err_prefix(err, "host %s: ", p->host);
    }
    podman_call_init(&c, p, "POST", "create container '%s'", spec->name);
    strbuf_adds(&c.path, "/containers/create");
    c.body = body.buf;
    c.body_len = body.len;
    rc = podman_call_do(p, &c, PODMAN_OK_201, &resp, err);
    if (rc == 0 && id && id_size) {
        const char *s;

        o = json_tokener_parse(strbuf_str(&resp.body));
        s = cjson_get_string(o, "Id");
        if (!s)
            rc = omlop_err_set(err, OMLOP_EPROTO,
                               "host %s: create container '%s': no Id in "
                               "the reply",
                               p->host, spec->name);
        else
            snprintf(id, id_size, "%s", s);
    }
    json_object_put(o);
    strbuf_release(&body);
    tunnel_response_release(&resp);
    return rc;
}

/*
 * POST /containers/<name>/<action>, with ?<tname>=<timeout_s> when tname is
 * set and timeout_s >= 0; the HTTP call then waits timeout_s + grace_ms.
 */
static int container_action(podman_client *p, const char *name, const char *action,
                            const char *verb, const char *tname, int timeout_s, long grace_ms,
                            omlop_err *err)
{
    char t[16];
    podman_call c;
    int rc = podman_check_ref("container", name, err);

    if (rc < 0)
        return rc;
    podman_call_init(&c, p, "POST", verb, name);
    strbuf_addf(&c.path, "/containers/%s/%s", name, action);
    if (tname && timeout_s >= 0) {
        snprintf(t, sizeof(t), "%d", timeout_s);
        podman_query_add(&c.path, tname, t);
        /* Podman waits timeout_s before SIGKILL: the HTTP call must wait longer than that */
        c.timeout_ms = timeout_s * 1000L + (grace_ms > 0 ? grace_ms : PODMAN_STOP_GRACE_MS);
    }
    return podman_call_simple(p, &c, PODMAN_OK_304, err);
}

int podman_container_start(podman_client *p, const char *name, omlop_err *err)
{
    return container_action(p, name, "start", "start container '%s'", NULL, -1, 0, err);
}

int podman_container_unpause(podman_client *p, const char *name, omlop_err *err)
{
    return container_action(p, name, "unpause", "unpause container '%s'", NULL, -1, 0, err);
}

int podman_container_stop(podman_client *p, const char *name, int timeout_s, omlop_err *err)
{
    return container_action(p, name, "stop", "stop container '%s'", "timeout", timeout_s, 0, err);
}

int podman_container_restart(podman_client *p, const char *name, int timeout_s, omlop_err *err)
{
    return container_action(p, name, "restart", "restart container '%s'", "t", timeout_s, 0, err);
}

int podman_container_kill(podman_client *p, const char *name, const char *signal, omlop_err *err)
{
    podman_call c;
    int rc = podman_check_ref("container", name, err);

    if (rc < 0)
        return rc;
    podman_call_init(&c, p, "POST", "kill container '%s'", name);
    strbuf_addf(&c.path, "/containers/%s/kill", name);
    podman_query_add(&c.path, "signal", signal);
    rc = podman_call_simple(p, &c, PODMAN_OK_204, err);
    /* 409: "can only kill running containers" - it is stopped, which is what a kill wants */
    return rc == OMLOP_ECONFLICT ? 0 : rc;
}

int podman_container_stop_or_kill(podman_client *p, const char *name, int timeout_s, long grace_ms,
                                  int *is_killed, omlop_err *err)
{
    omlop_err serr = OMLOP_ERR_INIT, kerr = OMLOP_ERR_INIT;
    int rc;

    if (is_killed)
        *is_killed = 0;
    rc = container_action(p, name, "stop", "stop container '%s'", "timeout", timeout_s, grace_ms,
                          &serr);
    if (rc == 0)
        return 0;
    if (rc == OMLOP_ENOTFOUND || rc == OMLOP_EINVAL) {
        if (err)
            *err = serr;
        return rc;
    }
    /* the stop timed out or failed: Podman kills a container in "stopping" state too */
    rc = podman_container_kill(p, name, "SIGKILL", &kerr);
    if (rc == 0) {
        if (is_killed)
            *is_killed = 1;
        return 0;
    }
    if (rc == OMLOP_ENOTFOUND) { /* gone meanwhile */
        if (err)
            *err = kerr;
        return rc;
    }
    return omlop_err_set(err, rc, "%s (and the SIGKILL that followed: %s)", serr.msg, kerr.msg);
}

/* Podman 4 answers a removal with a list of reports, each with an Err. */
static int check_reports(podman_client *p, const char *what, const tunnel_response *resp,
                         omlop_err *err)
{
    json_object *a = resp->body.len ? json_tokener_parse(resp->body.buf) : NULL;
    int rc = 0;

    if (a && json_object_is_type(a, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            const char *e = cjson_get_string(json_object_array_get_idx(a, i), "Err");

            if (e && e[0]) {
                rc = omlop_err_set(err, OMLOP_EIO, "host %s: %s: %s", p->host, what, e);
                break;
            }
        }
    }
    json_object_put(a);
    return rc;
}

int podman_container_remove(podman_client *p, const char *name, int is_force, int is_volumes,
                            omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    podman_call c;
    int rc = podman_check_ref("container", name, err);

    if (rc < 0)
        return rc;
    podman_call_init(&c, p, "DELETE", "remove container '%s'", name);
    strbuf_addf(&c.path, "/containers/%s", name);
    podman_query_add(&c.path, "force", is_force ? "true" : "false");
    podman_query_add(&c.path, "v", is_volumes ? "true" : "false");
    c.timeout_ms = 120000; /* force stops it first */
    rc = podman_call_do(p, &c, PODMAN_OK_204, &resp, err);
    if (rc == 0)
        rc = check_reports(p, c.what, &resp, err);
    tunnel_response_release(&resp);
    return rc;
}

int podman_container_wait(podman_client *p, const char *name, long timeout_ms, int *exit_code,
                          omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    podman_call c;
    int rc = podman_check_ref("container", name, err);

    if (rc < 0)
        return rc;
    podman_call_init(&c, p, "POST", "wait for container '%s'", name);
    strbuf_addf(&c.path, "/containers/%s/wait", name);
    c.timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
    rc = podman_call_do(p, &c, PODMAN_OK_200, &resp, err);
    if (rc == 0) {
        char *end;
        long v = strtol(strbuf_str(&resp.body), &end, 10);

        if (end == resp.body.buf)
            rc = omlop_err_set(err, OMLOP_EPROTO, "host %s: %s: the reply is not an exit code",
                               p->host, c.what);
        else if (exit_code)
            *exit_code = (int)v;
    }
    tunnel_response_release(&resp);
    return rc;
}

/* --- images ----------------------------------------------------------------------------- */

int podman_image_exists(podman_client *p, const char *ref, int *exists, omlop_err *err)
{
    omlop_err e = OMLOP_ERR_INIT;
    podman_call c;
    int rc = podman_check_ref("image", ref, err);

    *exists = 0;
    if (rc < 0)
        return rc;
    podman_call_init(&c, p, "GET", "check image '%s'", ref);
    strbuf_addf(&c.path, "/images/%s/exists", ref);
    rc = podman_call_simple(p, &c, PODMAN_OK_204, &e);
    if (rc == 0)
        *exists = 1;
    else if (rc == OMLOP_ENOTFOUND)
        rc = 0;
    else if (err)
        *err = e;
    return rc;
}

struct pull_state {
    podman_lines lines;
    podman_progress_fn progress;
    void *ud;
    strbuf error;
    strbuf id;
    omlop_err line_err;
    int is_line_err;
};

static int pull_line(void *ud, const char *line, size_t len)
{
    struct pull_state *s = ud;
    podman_pull_line pl;

    if (podman_parse_pull_line(line, len, &pl, &s->line_err) < 0) {
        s->is_line_err = 1;
        return 1;
    }
    if (pl.error && !s->error.len)
        strbuf_adds(&s->error, pl.error);
    if (pl.id) {
        strbuf_reset(&s->id);
        strbuf_adds(&s->id, pl.id);
    }
    if (pl.stream && s->progress && s->progress(s->ud, pl.stream) != 0) {
        podman_pull_line_release(&pl);
        return 1;
    }
    podman_pull_line_release(&pl);
    return 0;
}

static int pull_data(void *ud, const char *data, size_t len)
{
    struct pull_state *s = ud;
    int rc = podman_lines_feed(&s->lines, data, len, pull_line, s, &s->line_err);

    if (rc < 0)
        s->is_line_err = 1;
    return rc != 0;
}

int podman_image_pull(podman_client *p, const char *ref, const podman_pull_opts *o,
                      podman_progress_fn progress, void *ud, char *id, size_t id_size,
                      omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    struct pull_state s;
    podman_call c;
    int rc = podman_check_ref("image", ref, err);

    if (rc < 0)
        return rc;
    memset(&s, 0, sizeof(s));
    s.progress = progress;
    s.ud = ud;
    podman_call_init(&c, p, "POST", "pull image '%s'", ref);
    strbuf_adds(&c.path, "/images/pull");
    podman_query_add(&c.path, "reference", ref);
    podman_query_add(&c.path, "quiet", "false");
    /* only when asked: an explicit tlsVerify overrides "insecure" in registries.conf */
    if (o && o->tls_verify >= 0)
        podman_query_add(&c.path, "tlsVerify", o->tls_verify ? "true" : "false");
    c.timeout_ms = o && o->timeout_ms ? o->timeout_ms : PULL_TIMEOUT_MS;
    c.cancel = o ? o->cancel : NULL;
    c.on_data = pull_data;
    c.ud = &s;
    rc = podman_call_do(p, &c, PODMAN_OK_200, &resp, err);
    if (rc < 0)
        goto out;
    if (s.is_line_err) {
        *err = s.line_err;
        rc = omlop_err_prefix(err, "host %s: pull image '%s': ", p->host, ref);
    } else if (s.error.len) {
        /* Podman reports pull failures in-band, after a 200 */
        rc = omlop_err_set(err,
                           strstr(strbuf_str(&s.error), "not found") ||
                                   strstr(strbuf_str(&s.error), "manifest unknown")
                               ? OMLOP_ENOTFOUND
                               : OMLOP_EIO,
                           "host %s: pull image '%s': %s", p->host, ref, strbuf_str(&s.error));
    } else if (resp.is_stopped || resp.is_cancelled) {
        rc =
            omlop_err_set(err, OMLOP_EUNAVAIL, "host %s: pull image '%s': cancelled", p->host, ref);
    } else if (!s.id.len) {
        rc = omlop_err_set(err, OMLOP_EPROTO,
                           "host %s: pull image '%s': the stream ended without an image ID",
                           p->host, ref);
    } else if (id && id_size) {
        snprintf(id, id_size, "%s", strbuf_str(&s.id));
    }
out:
    podman_lines_release(&s.lines);
    strbuf_release(&s.error);
    strbuf_release(&s.id);
    tunnel_response_release(&resp);
    return rc;
}

int podman_image_remove(podman_client *p, const char *ref, int is_force, omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    json_object *o = NULL, *errs;
    podman_call c;
    int rc = podman_check_ref("image", ref, err);

    if (rc < 0)
        return rc;
    podman_call_init(&c, p, "DELETE", "remove image '%s'", ref);
    strbuf_addf(&c.path, "/images/%s", ref);
    podman_query_add(&c.path, "force", is_force ? "true" : "false");
    rc = podman_call_do(p, &c, PODMAN_OK_200, &resp, err);
    if (rc == 0 && resp.body.len)
        o = json_tokener_parse(resp.body.buf);
    errs = o ? cjson_get(o, "Errors") : NULL;
    if (rc == 0 && errs && json_object_is_type(errs, json_type_array) &&
        json_object_array_length(errs) > 0) {
        json_object *e0 = json_object_array_get_idx(errs, 0);

        rc = omlop_err_set(err, OMLOP_EIO, "host %s: %s: %s", p->host, c.what,
                           json_object_get_string(e0));
    }
    json_object_put(o);
    tunnel_response_release(&resp);
    return rc;
}

/* --- volumes ---------------------------------------------------------------------------- */

int podman_volume_create(podman_client *p, const char *name, const podman_kv *labels,
                         size_t n_labels, omlop_err *err)
{
    json_object *o, *l;
    strbuf body = STRBUF_INIT;
    podman_call c;
    int rc = podman_check_ref("volume", name, err);

    if (rc < 0)
        return rc;
    o = json_object_new_object();
    l = json_object_new_object();
    json_object_object_add(o, "Name", json_object_new_string(name));
    for (size_t i = 0; i < n_labels; i++)
        json_object_object_add(l, labels[i].key, json_object_new_string(labels[i].value));
    json_object_object_add(o, "Label", l);
    strbuf_adds(&body, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    podman_call_init(&c, p, "POST", "create volume '%s'", name);
    strbuf_adds(&c.path, "/volumes/create");
    c.body = body.buf;
    c.body_len = body.len;
    rc = podman_call_simple(p, &c, PODMAN_OK_201, err);
    strbuf_release(&body);
    return rc;
}

int podman_volumes_list(podman_client *p, const podman_filters *f, podman_volume_list *out,
                        omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    podman_call c;
    int rc;

    memset(out, 0, sizeof(*out));
    podman_call_init(&c, p, "GET", "list volumes%s", NULL);
    strbuf_adds(&c.path, "/volumes/json");
    add_filters(&c, f);
    rc = podman_call_do(p, &c, PODMAN_OK_200, &resp, err);
    if (rc == 0) {
        rc = podman_parse_volume_list(resp.body.buf, resp.body.len, out, err);
        if (rc < 0)
            omlop_err_prefix(err, "host %s: ", p->host);
    }
    tunnel_response_release(&resp);
    return rc;
}

int podman_volume_remove(podman_client *p, const char *name, int is_force, omlop_err *err)
{
    podman_call c;
    int rc = podman_check_ref("volume", name, err);

    if (rc < 0)
        return rc;
    podman_call_init(&c, p, "DELETE", "remove volume '%s'", name);
    strbuf_addf(&c.path, "/volumes/%s", name);
    podman_query_add(&c.path, "force", is_force ? "true" : "false");
    return podman_call_simple(p, &c, PODMAN_OK_204, err);
}
