/* api_guard: Host, Origin and Content-Type checks made before a request is routed. */
#include "api_guard.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "operator/api_server.h"

/* Host names and origins longer than this are refused rather than matched. */
#define HOST_MAX 256

#define BODY_TYPES                                                                                 \
    "a write needs Content-Type application/json or application/yaml (or, for PATCH, "             \
    "application/merge-patch+json, application/json-patch+json, "                                  \
    "application/strategic-merge-patch+json or application/apply-patch+yaml)"

struct api_guard {
    int has_regex;
    regex_t re;            /* accept_hosts, anchored at both ends */
    char listen[HOST_MAX]; /* "" for none or a wildcard address */
    int check_host;
};

int api_guard_new(const char *accept_hosts, const char *listen_host, int check_host,
                  api_guard **out, omlop_err *err)
{
    api_guard *g = xcalloc(1, sizeof(*g));
    strbuf anchored = STRBUF_INIT;
    int rc = 0;

    *out = NULL;
    g->check_host = check_host || (accept_hosts && *accept_hosts);
    if (listen_host && strcmp(listen_host, "0.0.0.0") != 0 && strcmp(listen_host, "::") != 0 &&
        strcmp(listen_host, "*") != 0)
        snprintf(g->listen, sizeof(g->listen), "%s", listen_host);
    if (accept_hosts && *accept_hosts) {
        char msg[256];
        int rerr;

        strbuf_addf(&anchored, "^(%s)$", accept_hosts);
        rerr = regcomp(&g->re, anchored.buf, REG_EXTENDED | REG_NOSUB | REG_ICASE);
        if (rerr) {
            regerror(rerr, &g->re, msg, sizeof(msg));
            rc = omlop_err_set(err, OMLOP_EINVAL,
                               "--accept-hosts '%s': not an extended regular expression: %s",
                               accept_hosts, msg);
            goto out;
        }
        g->has_regex = 1;
    }
    *out = g;
    g = NULL;
out:
    strbuf_release(&anchored);
    free(g);
    return rc;
}

void api_guard_free(api_guard *g)
{
    if (!g)
        return;
    if (g->has_regex)
        regfree(&g->re);
    free(g);
}

int api_guard_body_type_ok(const char *t)
{
    static const char *const ok[] = {"application/json", "application/yaml", "application/x-yaml",
                                     "application/merge-patch+json", "application/json-patch+json",
                                     "application/strategic-merge-patch+json",
                                     "application/apply-patch+yaml",
                                     /* kubectl 1.32+ creates core v1 Secrets in protobuf; the
                                      * core view decodes it, every other path answers 415. A
                                      * page cannot send it cross-origin without a preflight. */
                                     "application/vnd.kubernetes.protobuf", NULL};

    for (size_t i = 0; t && ok[i]; i++)
        if (strcmp(t, ok[i]) == 0)
            return 1;
    return 0;
}

int api_guard_split_host(const char *v, char *host, size_t n)
{
    const char *end;
    size_t len;

    if (!v || !*v)
        return -1;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');

        if (!close || (close[1] && close[1] != ':'))
            return -1;
        v++;
        len = (size_t)(close - v);
        end = close + 1;
    } else {
        const char *colon = strchr(v, ':');

        if (colon && strchr(colon + 1, ':'))
            return -1; /* an IPv6 address must be in brackets */
        len = colon ? (size_t)(colon - v) : strlen(v);
        end = v + len;
    }
    if (*end == ':') {
        /* the port: digits only */
        if (!end[1] || strspn(end + 1, "0123456789") != strlen(end + 1))
            return -1;
    } else if (*end) {
        return -1;
    }
    if (len == 0 || len >= n)
        return -1;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f || v[i] == '/' || v[i] == '@')
            return -1;
    memcpy(host, v, len);
    host[len] = '\0';
    return 0;
}

/* Whether a host name (no port, no brackets) is one this server answers to. */
static int host_allowed(const api_guard *g, const char *host)
{
    if (api_server_host_is_loopback(host))
        return 1;
    if (g->listen[0] && strcasecmp(host, g->listen) == 0)
        return 1;
    return g->has_regex && regexec(&g->re, host, 0, NULL, 0) == 0;
}

/* The host of an Origin "scheme://host[:port]", or -1 ("null", paths, garbage). */
static int origin_host(const char *origin, char *host, size_t n)
{
    const char *sep = strstr(origin, "://");
    char authority[HOST_MAX + 16];
    size_t len;

    if (!sep || sep == origin ||
        strspn(origin, "abcdefghijklmnopqrstuvwxyz0123456789+-.") != (size_t)(sep - origin))
        return -1;
    len = strlen(sep + 3);
    if (len >= sizeof(authority) || strchr(sep + 3, '/'))
        return -1;
    memcpy(authority, sep + 3, len + 1);
    return api_guard_split_host(authority, host, n);
}

static int is_write(api_method m)
{
    return m == API_METHOD_POST || m == API_METHOD_PUT || m == API_METHOD_PATCH ||
           m == API_METHOD_DELETE;
}

int api_guard_check(const api_guard *g, const api_request *req, int has_body, const char **what,
                    omlop_err *err)
{
    char host[HOST_MAX];
    int show_listen = g->listen[0] && !api_server_host_is_loopback(g->listen);

    *what = NULL;
    if (g->check_host && !req->is_unix && req->host) {
        if (api_guard_split_host(req->host, host, sizeof(host)) != 0 || !host_allowed(g, host)) {
            *what = "host";
            omlop_err_set(err, OMLOP_EPERM,
                          "the Host header '%.*s' is not an address of this server: omlopd "
                          "answers only requests for localhost, 127.0.0.1 or [::1]%s%s%s (a "
                          "defence against DNS rebinding); to reach it under another name, "
                          "add the name to --accept-hosts",
                          (int)strnlen(req->host, 200), req->host, show_listen ? " or " : "",
                          show_listen ? g->listen : "",
                          g->has_regex ? " or names matching --accept-hosts" : "");
            return 403;
        }
    }
    if (req->origin) {
        if (origin_host(req->origin, host, sizeof(host)) != 0 || !host_allowed(g, host)) {
            *what = "origin";
            omlop_err_set(err, OMLOP_EPERM,
                          "requests from web pages are refused: the Origin '%.*s' is not this "
                          "server or a loopback address (kubectl, omlctl and curl send no "
                          "Origin; a page that must use the API needs its host in "
                          "--accept-hosts)",
                          (int)strnlen(req->origin, 200), req->origin);
            return 403;
        }
    }
    if (is_write(req->method) && (has_body || req->content_type) &&
        !api_guard_body_type_ok(req->content_type)) {
        *what = "content-type";
        if (req->content_type)
            omlop_err_set(err, OMLOP_EINVAL, "%s with Content-Type '%.*s': " BODY_TYPES,
                          api_method_name(req->method), (int)strnlen(req->content_type, 100),
                          req->content_type);
        else
            omlop_err_set(err, OMLOP_EINVAL, "%s with a body and no Content-Type: " BODY_TYPES,
                          api_method_name(req->method));
        return 415;
    }
    return 0;
}
