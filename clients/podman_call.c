/* podman_call: run one libpod request and map its status (see podman_call.h). */
#include "clients/podman_call.h"

#include <stdio.h>
#include <string.h>

#include "clients/podman_proto.h"

void podman_call_init(podman_call *c, podman_client *p, const char *method, const char *what_fmt,
                      const char *obj)
{
    char prefix[PODMAN_PREFIX_MAX];

    memset(c, 0, sizeof(*c));
    c->method = method;
    strbuf_init(&c->path);
    podman_client_api_prefix(p, prefix, sizeof(prefix));
    strbuf_adds(&c->path, prefix);
    snprintf(c->what, sizeof(c->what), what_fmt, obj ? obj : "");
}

/*
 * Perform c; a status in ok (0-terminated) is success, anything else becomes
 * Podman's error. The response stays in resp for the caller.
 */
int podman_call_do(podman_client *p, podman_call *c, const long *ok, tunnel_response *resp,
                   omlop_err *err)
{
    tunnel_request req = {
        .method = c->method,
        .path = strbuf_str(&c->path),
        .content_type = c->content_type,
        .body = c->body,
        .body_len = c->body_len,
        .timeout_ms = c->timeout_ms,
        .on_data = c->on_data,
        .ud = c->ud,
        .cancel = c->cancel,
    };
    int rc = tunnel_http(podman_client_tunnel(p), &req, resp, err);

    strbuf_release(&c->path);
    if (rc < 0)
        return rc;
    for (const long *s = ok; *s; s++) {
        if (resp->status == *s)
            return 0;
    }
    if (resp->status == 0)
        return omlop_err_set(err, OMLOP_EUNAVAIL, "host %s: %s: no HTTP answer",
                             podman_client_host(p), c->what);
    return podman_error_from_response(podman_client_host(p), c->what, resp->status, resp->body.buf,
                                      resp->body.len, err);
}

/* For calls whose answer is only a status. */
int podman_call_simple(podman_client *p, podman_call *c, const long *ok, omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    int rc = podman_call_do(p, c, ok, &resp, err);

    tunnel_response_release(&resp);
    return rc;
}
