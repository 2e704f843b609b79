/* api_request: request/response values and the header parsing they need. */
#include "api_request.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

void api_request_init(api_request *req)
{
    memset(req, 0, sizeof(*req));
}

void api_request_release(api_request *req)
{
    free(req->path);
    for (size_t i = 0; i < req->n_params; i++) {
        free(req->params[i].key);
        free(req->params[i].value);
    }
    free(req->params);
    free(req->content_type);
    free(req->accept);
    if (req->authorization) {
        /* the bearer token: do not leave it in freed heap memory */
        memset(req->authorization, 0, strlen(req->authorization));
        free(req->authorization);
    }
    free(req->remote);
    free(req->host);
    free(req->origin);
    api_request_init(req);
}

static const char *const method_names[] = {"OTHER", "GET",   "HEAD",   "POST",
                                           "PUT",   "PATCH", "DELETE", "OPTIONS"};

api_method api_method_parse(const char *name)
{
    for (size_t i = 1; i < sizeof(method_names) / sizeof(method_names[0]); i++)
        if (strcmp(name, method_names[i]) == 0)
            return (api_method)i;
    return API_METHOD_OTHER;
}

const char *api_method_name(api_method m)
{
    if ((size_t)m >= sizeof(method_names) / sizeof(method_names[0]))
        return "OTHER";
    return method_names[m];
}

void api_request_add_param(api_request *req, const char *fragment)
{
    const char *eq = strchr(fragment, '=');
    api_param *p;

    if (!*fragment)
        return;
    p = xrealloc(req->params, (req->n_params + 1) * sizeof(*p));
    req->params = p;
    p = &req->params[req->n_params++];
    if (eq) {
        p->key = xstrndup(fragment, (size_t)(eq - fragment));
        p->value = xstrdup(eq + 1);
    } else {
        p->key = xstrdup(fragment);
        p->value = xstrdup("");
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode %XX and '+' (a space in form encoding, as Go's url.Values writes it). */
static void url_decode(strbuf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            strbuf_addch(out, (char)(hexval((unsigned char)s[i + 1]) * 16 +
                                     hexval((unsigned char)s[i + 2])));
            i += 2;
        } else if (s[i] == '+') {
            strbuf_addch(out, ' ');
        } else {
            strbuf_addch(out, s[i]);
        }
    }
}

void api_request_parse_query(api_request *req, const char *query)
{
    strbuf frag = STRBUF_INIT;
    const char *p = query;

    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);

        strbuf_reset(&frag);
        url_decode(&frag, p, n);
        if (frag.len && strlen(frag.buf) == frag.len) /* a decoded NUL makes no sense here */
            api_request_add_param(req, frag.buf);
        p = amp ? amp + 1 : NULL;
    }
    strbuf_release(&frag);
}

void api_request_set_content_type(api_request *req, const char *header)
{
    size_t n = 0;

    free(req->content_type);
    req->content_type = NULL;
    if (!header)
        return;
    while (*header == ' ' || *header == '\t')
        header++;
    while (header[n] && header[n] != ';' && header[n] != ' ' && header[n] != '\t')
        n++;
    if (!n)
        return;
    req->content_type = xstrndup(header, n);
    for (char *c = req->content_type; *c; c++)
        *c = (char)tolower((unsigned char)*c);
}

const char *api_request_param(const api_request *req, const char *key)
{
    for (size_t i = req->n_params; i > 0; i--)
        if (strcmp(req->params[i - 1].key, key) == 0)
            return req->params[i - 1].value;
    return NULL;
}

int api_request_flag(const api_request *req, const char *key)
{
    const char *v = api_request_param(req, key);

    return v && (!*v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/*
 * One media range of an Accept header, split into its type and the parameters
 * this server looks at. The Kubernetes clients send "application/json;as=Table;
 * v=v1;g=meta.k8s.io" and aggregated-discovery ranges (as=APIGroupDiscoveryList)
 * that this server does not produce and skips.
 */
typedef struct media_range {
    char type[96];
    char as[64];
    char g[64];
    char v[32];
} media_range;

static void trim_copy(char *dst, size_t dstsz, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= dstsz)
        n = dstsz - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)tolower((unsigned char)s[i]);
    dst[n] = '\0';
}

static void parse_range(const char *s, size_t n, media_range *mr)
{
    const char *semi = memchr(s, ';', n);
    size_t tn = semi ? (size_t)(semi - s) : n;

    memset(mr, 0, sizeof(*mr));
    trim_copy(mr->type, sizeof(mr->type), s, tn);
    while (semi) {
        const char *p = semi + 1;
        size_t rest = n - (size_t)(p - s);
        const char *next = memchr(p, ';', rest);
        size_t pn = next ? (size_t)(next - p) : rest;
        const char *eq = memchr(p, '=', pn);
        char key[16];

        if (eq) {
            trim_copy(key, sizeof(key), p, (size_t)(eq - p));
            if (strcmp(key, "as") == 0)
                trim_copy(mr->as, sizeof(mr->as), eq + 1, pn - (size_t)(eq + 1 - p));
            else if (strcmp(key, "g") == 0)
                trim_copy(mr->g, sizeof(mr->g), eq + 1, pn - (size_t)(eq + 1 - p));
            else if (strcmp(key, "v") == 0)
                trim_copy(mr->v, sizeof(mr->v), eq + 1, pn - (size_t)(eq + 1 - p));
        }
        semi = next;
    }
}

/* Visit the ranges in order; fn returns 1 (stop: yes), -1 (stop: no), 0 (next). */
static int accept_scan(const char *accept, int (*fn)(const media_range *, const void *),
                       const void *arg)
{
    const char *p = accept;

    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        media_range mr;
        int r;

        parse_range(p, n, &mr);
        r = fn(&mr, arg);
        if (r)
            return r > 0;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

static int is_json_like(const char *type)
{
    return strcmp(type, "application/json") == 0 || strcmp(type, "*/*") == 0 ||
           strcmp(type, "application/*") == 0;
}

static int table_fn(const media_range *mr, const void *arg)
{
    (void)arg;
    if (!is_json_like(mr->type) && strcmp(mr->type, "application/yaml") != 0)
        return 0;
    if (!mr->as[0])
        return -1;
    if (strcmp(mr->as, "table") == 0 && strcmp(mr->g, "meta.k8s.io") == 0 &&
        (strcmp(mr->v, "v1") == 0 || strcmp(mr->v, "v1beta1") == 0))
        return 1;
    return 0; /* another "as=" this server does not produce: try the next range */
}

int api_accept_wants_table(const char *accept)
{
    return accept_scan(accept, table_fn, NULL);
}

static int yaml_fn(const media_range *mr, const void *arg)
{
    (void)arg;
    if (mr->as[0])
        return 0;
    if (strcmp(mr->type, "application/yaml") == 0)
        return 1;
    if (is_json_like(mr->type))
        return -1;
    return 0;
}

int api_accept_wants_yaml(const char *accept)
{
    return accept_scan(accept, yaml_fn, NULL);
}

static int allows_fn(const media_range *mr, const void *arg)
{
    const char *want = arg;
    const char *slash = strchr(want, '/');

    if (strcmp(mr->type, "*/*") == 0 || strcmp(mr->type, want) == 0)
        return 1;
    if (slash && strncmp(mr->type, want, (size_t)(slash - want)) == 0 &&
        strcmp(mr->type + (slash - want), "/*") == 0)
        return 1;
    return 0;
}

int api_accept_allows(const char *accept, const char *media_type)
{
    if (!accept || !*accept)
        return 1;
    return accept_scan(accept, allows_fn, media_type);
}

void api_response_init(api_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = 200;
    resp->content_type = "application/json";
    strbuf_init(&resp->body);
    strbuf_init(&resp->warnings);
}

void api_response_release(api_response *resp)
{
    strbuf_release(&resp->body);
    strbuf_release(&resp->warnings);
    api_watch_spec_free(resp->watch);
    api_response_init(resp);
}

void api_response_json(api_response *resp, int status, const json_object *obj)
{
    resp->status = status;
    resp->content_type = "application/json";
    strbuf_reset(&resp->body);
    strbuf_adds(&resp->body,
                json_object_to_json_string_ext(
                    (json_object *)obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

void api_response_add_warning(api_response *resp, const char *fmt, ...)
{
    va_list ap;
    size_t start = resp->warnings.len;

    va_start(ap, fmt);
    strbuf_vaddf(&resp->warnings, fmt, ap);
    va_end(ap);
    /* one warning per line: a newline inside would split the header */
    for (size_t i = start; i < resp->warnings.len; i++)
        if (resp->warnings.buf[i] == '\n' || resp->warnings.buf[i] == '\r')
            resp->warnings.buf[i] = ' ';
    strbuf_addch(&resp->warnings, '\n');
}

void api_watch_spec_free(api_watch_spec *spec)
{
    if (!spec)
        return;
    free(spec->resource_version);
    free(spec->label_selector);
    free(spec->field_selector);
    free(spec);
}
