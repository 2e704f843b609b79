/* apiclient: libcurl transport and Kubernetes wire conventions for omlopd's API. */
#include "clients/apiclient.h"
#include "clients/apiclient_int.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/k8s_status.h"
#include "lib/log.h"
#include "lib/version.h"
#include "lib/xalloc.h"

typedef struct sink {
    strbuf *body;
    size_t max;
    int overflow;
} sink;

typedef struct header_sink {
    apiclient_response *resp;
} header_sink;

void apiclient_opts_default(apiclient_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->connect_timeout_ms = 10000;
    opts->timeout_ms = 60000;
    opts->max_response = 64u << 20;
    opts->max_event = 8u << 20;
}

static int has_ctl_or_space(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return 1;
    }
    return 0;
}

int apiclient_new(const apiclient_opts *opts, apiclient **out, omlop_err *err)
{
    apiclient *c;
    const char *server = opts->server;
    strbuf sb = STRBUF_INIT;

    *out = NULL;
    if (!server || !*server)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "no server URL: pass --server, set OMLOP_SERVER or run "
                             "'omlctl config set server URL'");
    if (has_ctl_or_space(server))
        return omlop_err_set(err, OMLOP_EINVAL, "server URL '%s' contains spaces or control bytes",
                             server);
    if (opts->token && (strchr(opts->token, '\n') || strchr(opts->token, '\r')))
        return omlop_err_set(err, OMLOP_EINVAL, "the bearer token contains a line break");
    c = xcalloc(1, sizeof(*c));
    c->server = xstrdup(server);
    if (strncmp(server, "unix://", 7) == 0) {
        if (server[7] != '/') {
            apiclient_free(c);
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "server URL '%s': a unix socket URL is unix:///absolute/path",
                                 server);
        }
        c->unix_path = xstrdup(server + 7);
        c->base = xstrdup("http://localhost");
    } else if (strncmp(server, "http://", 7) == 0 || strncmp(server, "https://", 8) == 0) {
        const char *host = strstr(server, "://") + 3;

        if (!*host || *host == '/') {
            apiclient_free(c);
            return omlop_err_set(err, OMLOP_EINVAL, "server URL '%s' has no host", server);
        }
        strbuf_adds(&sb, server);
        while (sb.len && sb.buf[sb.len - 1] == '/')
            strbuf_setlen(&sb, sb.len - 1);
        c->base = strbuf_detach(&sb, NULL);
    } else {
        apiclient_free(c);
        return omlop_err_set(err, OMLOP_EINVAL,
                             "server URL '%s' must start with http://, https:// or unix:// "
                             "(e.g. http://127.0.0.1:8787)",
                             server);
    }
    if (opts->token && *opts->token) {
        strbuf_addf(&sb, "Authorization: Bearer %s", opts->token);
        c->auth_header = strbuf_detach(&sb, NULL);
    }
    c->ca_file = xstrdup(opts->ca_file);
    c->insecure = opts->insecure_skip_verify;
    c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000;
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 0;
    c->max_response = opts->max_response ? opts->max_response : (64u << 20);
    c->max_event = opts->max_event ? opts->max_event : (8u << 20);
    c->easy = curl_easy_init();
    if (!c->easy) {
        apiclient_free(c);
        return omlop_err_set(err, OMLOP_ENOMEM, "curl_easy_init failed");
    }
    *out = c;
    return 0;
}

void apiclient_free(apiclient *c)
{
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    free(c->server);
    free(c->base);
    free(c->unix_path);
    if (c->auth_header) {
        /* The token should not outlive its use in freed heap memory. */
        memset(c->auth_header, 0, strlen(c->auth_header));
        free(c->auth_header);
    }
    free(c->ca_file);
    free(c);
}

const char *apiclient_server(const apiclient *c)
{
    return c->server;
}

void apiclient_response_release(apiclient_response *resp)
{
    strbuf_release(&resp->body);
    strbuf_release(&resp->warnings);
    free(resp->content_ty);
    resp->content_ty = NULL;
    resp->code = 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t n = size * nmemb;

    if (s->body->len + n > s->max) {
        s->overflow = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    strbuf_add(s->body, ptr, n);
    return n;
}

/* Trim a header value of its line end and surrounding blanks; returns a copy. */
static char *header_value(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
        n--;
    return xstrndup(p, n);
}

static size_t header_cb(char *ptr, size_t size, size_t nitems, void *userdata)
{
    header_sink *h = userdata;
    size_t n = size * nitems;

    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): forget the previous one's headers. */
        strbuf_reset(&h->resp->warnings);
        free(h->resp->content_ty);
        h->resp->content_ty = NULL;
    } else if (n > 8 && strncasecmp(ptr, "Warning:", 8) == 0) {
        char *v = header_value(ptr + 8, n - 8);

        if (v) {
            if (h->resp->warnings.len)
                strbuf_addch(&h->resp->warnings, '\n');
            strbuf_adds(&h->resp->warnings, v);
        }
        free(v);
    } else if (n > 13 && strncasecmp(ptr, "Content-Type:", 13) == 0) {
        free(h->resp->content_ty);
        h->resp->content_ty = header_value(ptr + 13, n - 13);
    }
    return n;
}

/* Options shared by unary requests and watches. */
struct curl_slist *apiclient_setup_handle(const apiclient *c, CURL *h, const char *url,
                                          const char *content_type, char *errbuf)
{
    struct curl_slist *hdrs = NULL;
    char ct[256];

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "omlctl/" OMLOP_RELEASE);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->unix_path)
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->unix_path);
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    /* No "Expect: 100-continue" round trip for larger bodies. */
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (content_type) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, ct);
    }
    if (c->auth_header)
        hdrs = curl_slist_append(hdrs, c->auth_header);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    return hdrs;
}

static int curl_failure(const apiclient *c, CURLcode rc, const char *errbuf, const char *method,
                        const char *path, omlop_err *err)
{
    const char *detail = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);

    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        return omlop_err_set(err, OMLOP_EUNAVAIL,
                             "cannot reach omlopd at %s (%s %s): %s; is omlopd running and is "
                             "--server right?",
                             c->server, method, path, detail);
    case CURLE_OPERATION_TIMEDOUT:
        return omlop_err_set(err, OMLOP_ETIMEOUT, "%s %s on %s timed out: %s", method, path,
                             c->server, detail);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
        return omlop_err_set(err, OMLOP_EAUTH,
                             "TLS with %s failed: %s; pass --ca-file with the CA that signed the "
                             "server certificate",
                             c->server, detail);
    default:
        return omlop_err_set(err, OMLOP_EIO, "%s %s on %s failed: %s", method, path, c->server,
                             detail);
    }
}

int apiclient_do(apiclient *c, const char *method, const char *path, const char *content_type,
                 const char *body, size_t body_len, apiclient_response *resp, omlop_err *err)
{
    strbuf url = STRBUF_INIT;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE] = "";
    sink s = {&resp->body, c->max_response, 0};
    header_sink hs = {resp};
    CURLcode rc;
    int64_t t0, t1;
    int ret = 0;

    apiclient_response_release(resp);
    strbuf_addf(&url, "%s%s", c->base, path);
    curl_easy_reset(c->easy);
    hdrs = apiclient_setup_handle(c, c->easy, url.buf, content_type, errbuf);
    if (c->timeout_ms > 0)
        curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, &hs);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L);
    } else {
        if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
            strcmp(method, "PATCH") == 0) {
            curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
            curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body ? body : "");
        }
        curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, method);
    }
    t0 = clock_now_ms();
    rc = curl_easy_perform(c->easy);
    t1 = clock_now_ms();
    if (s.overflow) {
        ret = omlop_err_set(err, OMLOP_ELIMIT,
                            "%s %s on %s: the answer is larger than %zu bytes; narrow the request "
                            "(a label selector or a name)",
                            method, path, c->server, c->max_response);
        goto out;
    }
    if (rc != CURLE_OK) {
        ret = curl_failure(c, rc, errbuf, method, path, err);
        goto out;
    }
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &resp->code);
    log_debug("api=request method=%s path=%s code=%ld ms=%ld", method, path, resp->code,
              (long)(t1 - t0));
out:
    curl_slist_free_all(hdrs);
    strbuf_release(&url);
    return ret;
}

/* Copy at most max bytes of s into out, replacing control bytes, for a message. */
static void add_sanitized(strbuf *out, const char *s, size_t len, size_t max)
{
    size_t i;

    for (i = 0; i < len && i < max; i++) {
        unsigned char ch = (unsigned char)s[i];

        strbuf_addch(out, (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch);
    }
    if (len > max)
        strbuf_adds(out, "...");
}

/* The reason for a code when the answer carries no Status: the standard one, else its class. */
static const char *http_reason(long code)
{
    const char *reason = k8s_status_reason(code);

    if (!reason)
        reason = code >= 500 ? "ServerError" : "Error";
    return reason;
}

int apiclient_code_from_http(long code, const char *reason)
{
    switch (code) {
    case 400:
    case 422:
        return OMLOP_EINVAL;
    case 401:
        return OMLOP_EAUTH;
    case 403:
        return OMLOP_EPERM;
    case 404:
        return OMLOP_ENOTFOUND;
    case 408:
    case 504:
        return OMLOP_ETIMEOUT;
    case 409:
        return reason && strcmp(reason, "AlreadyExists") == 0 ? OMLOP_EEXIST : OMLOP_ECONFLICT;
    case 410:
        return OMLOP_EGONE;
    case 413:
    case 429:
        return OMLOP_ELIMIT;
    case 405:
    case 406:
    case 415:
        return OMLOP_EPROTO;
    case 502:
    case 503:
        return OMLOP_EUNAVAIL;
    }
    if (code >= 500)
        return OMLOP_EINTERNAL;
    if (code >= 400)
        return OMLOP_EINVAL;
    return OMLOP_EPROTO; /* 3xx: we never follow redirects */
}

int apiclient_status_error(long code, const char *body, size_t len, omlop_err *err)
{
    json_tokener *tok = json_tokener_new();
    json_object *st = NULL;
    const char *reason = NULL, *message = NULL;
    json_object *causes;
    strbuf msg = STRBUF_INIT;
    int rc;

    if (!tok)
        abort();
    if (len > 0 && len < APICLIENT_ERROR_BODY_MAX)
        st = json_tokener_parse_ex(tok, body, (int)len);
    json_tokener_free(tok);
    if (st && json_object_is_type(st, json_type_object)) {
        const char *kind = cjson_get_string(st, "kind");

        if (kind && strcmp(kind, "Status") == 0) {
            reason = json_object_get_string(json_object_object_get(st, "reason"));
            message = json_object_get_string(json_object_object_get(st, "message"));
        }
    }
    if (!reason || !*reason)
        reason = http_reason(code);
    strbuf_addf(&msg, "omlopd answered %ld %s", code, reason);
    if (message && *message) {
        strbuf_adds(&msg, ": ");
        strbuf_adds(&msg, message);
    } else if (!st && len) {
        strbuf_adds(&msg, ": ");
        add_sanitized(&msg, body, len, 200);
    }
    causes = st ? json_object_object_get(json_object_object_get(st, "details"), "causes") : NULL;
    if (causes && json_object_is_type(causes, json_type_array)) {
        size_t n = json_object_array_length(causes);

        for (size_t i = 0; i < n; i++) {
            json_object *cause = json_object_array_get_idx(causes, i);
            const char *field = json_object_get_string(json_object_object_get(cause, "field"));
            const char *cmsg = json_object_get_string(json_object_object_get(cause, "message"));

            strbuf_adds(&msg, "\n  ");
            if (field && *field)
                strbuf_addf(&msg, "%s: ", field);
            strbuf_adds(&msg, cmsg ? cmsg : "(no message)");
        }
    }
    rc = omlop_err_set(err, apiclient_code_from_http(code, reason), "%s", msg.buf);
    strbuf_release(&msg);
    json_object_put(st);
    return rc;
}

void apiclient_print_warnings(const apiclient_response *resp)
{
    const char *p = strbuf_str(&resp->warnings);

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *q = p;

        /* RFC 7234 form: 299 - "text"; show just the text as kubectl does. */
        if (n > 6 && strncmp(q, "299 - ", 6) == 0) {
            q += 6;
            n -= 6;
            if (n >= 2 && q[0] == '"' && q[n - 1] == '"') {
                q++;
                n -= 2;
            }
        }
        fprintf(stderr, "Warning: %.*s\n", (int)n, q);
        p += (nl ? (size_t)(nl - p) + 1 : strlen(p));
    }
}

int apiclient_json(apiclient *c, const char *method, const char *path, const char *content_type,
                   const json_object *body, json_object **out, omlop_err *err)
{
    apiclient_response resp = APICLIENT_RESPONSE_INIT;
    const char *text = NULL;
    size_t text_len = 0;
    int rc;

    if (out)
        *out = NULL;
    if (body) {
        text = json_object_to_json_string_ext(
            (json_object *)body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        text_len = strlen(text);
        if (!content_type)
            content_type = "application/json";
    }
    rc = apiclient_do(c, method, path, content_type, text, text_len, &resp, err);
    if (rc < 0)
        goto out;
    apiclient_print_warnings(&resp);
    if (resp.code < 200 || resp.code >= 300) {
        rc = apiclient_status_error(resp.code, resp.body.buf, resp.body.len, err);
        goto out;
    }
    if (out && resp.body.len) {
        json_tokener *tok = json_tokener_new();

        if (!tok)
            abort();
        *out = json_tokener_parse_ex(tok, resp.body.buf, (int)resp.body.len);
        if (!*out || json_tokener_get_error(tok) != json_tokener_success) {
            json_object_put(*out);
            *out = NULL;
            rc = omlop_err_set(err, OMLOP_EPROTO, "%s %s on %s: the %ld answer is not JSON: %s",
                               method, path, c->server, resp.code,
                               json_tokener_error_desc(json_tokener_get_error(tok)));
        }
        json_tokener_free(tok);
    }
out:
    apiclient_response_release(&resp);
    return rc;
}

void apiclient_path(strbuf *out, const char *plural, const char *name, const char *sub)
{
    strbuf_adds(out, APICLIENT_PREFIX "/");
    strbuf_adds(out, plural);
    if (name) {
        strbuf_addch(out, '/');
        apiclient_query_add(out, NULL, name);
    }
    if (name && sub) {
        strbuf_addch(out, '/');
        strbuf_adds(out, sub);
    }
}

static int is_unreserved(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* key NULL: append just the escaped value (used for path segments). */
void apiclient_query_add(strbuf *path, const char *key, const char *value)
{
    if (key) {
        strbuf_addch(path, strchr(strbuf_str(path), '?') ? '&' : '?');
        strbuf_adds(path, key);
        strbuf_addch(path, '=');
    }
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (is_unreserved(*p))
            strbuf_addch(path, (char)*p);
        else
            strbuf_addf(path, "%%%02X", *p);
    }
}
