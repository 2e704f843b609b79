/*
 * store_etcd_http: the etcd backend's plumbing: parsing etcd:// locations,
 * base64 and JSON codecs for etcd's gateway (keys and values are base64,
 * int64 fields are JSON strings), and unary POSTs with endpoint failover.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "store/store_etcd.h"

#define ETCD_MAX_REPLY    (64u * 1024 * 1024)
#define ETCD_CALL_TIMEOUT 15000L
#define ETCD_CONNECT_MS   2000L
#define ETCD_DEFAULT_PORT 2379

/* --- small shared helpers ------------------------------------------------------------------ */

void etcd_conf_copy(etcd_conf *dst, const etcd_conf *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->endpoints = xcalloc(src->n_endpoints, sizeof(char *));
    for (size_t i = 0; i < src->n_endpoints; i++)
        dst->endpoints[i] = xstrdup(src->endpoints[i]);
    dst->n_endpoints = src->n_endpoints;
    dst->prefix = xstrdup(src->prefix);
    dst->tls_ca = xstrdup(src->tls_ca);
    dst->tls_cert = xstrdup(src->tls_cert);
    dst->tls_key = xstrdup(src->tls_key);
    atomic_store(&dst->preferred, atomic_load(&src->preferred));
}

void etcd_conf_free(etcd_conf *c)
{
    for (size_t i = 0; i < c->n_endpoints; i++)
        free(c->endpoints[i]);
    free(c->endpoints);
    free(c->prefix);
    free(c->tls_ca);
    free(c->tls_cert);
    free(c->tls_key);
    memset(c, 0, sizeof(*c));
}

void etcd_curl_setup(void *curl, const etcd_conf *c)
{
    CURL *h = curl;

    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ETCD_CONNECT_MS);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->tls_ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->tls_ca);
    if (c->tls_cert)
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->tls_cert);
    if (c->tls_key)
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->tls_key);
}

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void etcd_b64_encode(strbuf *out, const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i;

    strbuf_grow(out, (len + 2) / 3 * 4);
    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        strbuf_addch(out, b64_chars[v >> 18 & 63]);
        strbuf_addch(out, b64_chars[v >> 12 & 63]);
        strbuf_addch(out, b64_chars[v >> 6 & 63]);
        strbuf_addch(out, b64_chars[v & 63]);
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);

        strbuf_addch(out, b64_chars[v >> 18 & 63]);
        strbuf_addch(out, b64_chars[v >> 12 & 63]);
        strbuf_addch(out, i + 1 < len ? b64_chars[v >> 6 & 63] : '=');
        strbuf_addch(out, '=');
    }
}

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decode base64 (padding optional); -1 on a bad character. */
static int b64_decode(const char *in, size_t n, char **out, size_t *out_len)
{
    char *buf = xmalloc(n / 4 * 3 + 4);
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int v;

        if (in[i] == '=')
            break;
        v = b64_val((unsigned char)in[i]);
        if (v < 0) {
            free(buf);
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (char)(acc >> bits & 0xff);
        }
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return 0;
}

struct json_object *etcd_key_json(const etcd_conf *c, const char *key, size_t len)
{
    strbuf raw = STRBUF_INIT, enc = STRBUF_INIT;
    json_object *j;

    strbuf_adds(&raw, c->prefix);
    strbuf_add(&raw, key, len);
    etcd_b64_encode(&enc, raw.buf, raw.len);
    j = json_object_new_string_len(enc.buf, (int)enc.len);
    strbuf_release(&raw);
    strbuf_release(&enc);
    return j;
}

int64_t etcd_json_int(struct json_object *o, const char *field)
{
    json_object *v;

    if (!o || !json_object_object_get_ex(o, field, &v))
        return 0;
    if (json_object_is_type(v, json_type_string))
        return strtoll(json_object_get_string(v), NULL, 10);
    return json_object_get_int64(v);
}

int etcd_parse_kv(const etcd_conf *c, struct json_object *j, store_kv *kv, omlop_err *err)
{
    json_object *k, *v;
    size_t plen = strlen(c->prefix), n;
    char *raw;

    memset(kv, 0, sizeof(*kv));
    if (!json_object_object_get_ex(j, "key", &k) ||
        b64_decode(json_object_get_string(k), (size_t)json_object_get_string_len(k), &raw, &n) < 0)
        return omlop_err_set(err, OMLOP_EPROTO, "etcd: a key-value has no valid base64 key");
    if (n < plen || memcmp(raw, c->prefix, plen) != 0) {
        free(raw);
        return omlop_err_set(err, OMLOP_EPROTO, "etcd: key outside the prefix '%s' in a reply",
                             c->prefix);
    }
    memmove(raw, raw + plen, n - plen + 1);
    kv->key = raw;
    if (json_object_object_get_ex(j, "value", &v)) {
        if (b64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), &kv->value,
                       &kv->value_len) < 0) {
            int rc = omlop_err_set(err, OMLOP_EPROTO, "etcd: key '%s' has a bad base64 value", raw);

            store_kv_release(kv);
            return rc;
        }
    } else {
        /* The gateway omits empty fields: no "value" is the empty value. */
        kv->value = xcalloc(1, 1);
    }
    kv->create_revision = etcd_json_int(j, "create_revision");
    kv->mod_revision = etcd_json_int(j, "mod_revision");
    kv->version = etcd_json_int(j, "version");
    return 0;
}

/* --- HTTP ---------------------------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    strbuf *sb = arg;

    if (sb->len + size * n > ETCD_MAX_REPLY)
        return 0;
    strbuf_add(sb, data, size * n);
    return size * n;
}

/* Whether a transport failure means the request never reached the server. */
static int surely_not_sent(CURLcode c)
{
    return c == CURLE_COULDNT_CONNECT || c == CURLE_COULDNT_RESOLVE_HOST ||
           c == CURLE_SSL_CONNECT_ERROR;
}

static int grpc_code_to_omlop(int64_t code, const char *msg)
{
    switch (code) {
    case 11: /* OutOfRange */
        return strstr(msg, "compacted") ? OMLOP_EGONE : OMLOP_EINVAL;
    case 3: /* InvalidArgument */
    case 9: /* FailedPrecondition */
        return OMLOP_EINVAL;
    case 4:
        return OMLOP_ETIMEOUT;
    case 5:
        return OMLOP_ENOTFOUND;
    case 7:
        return OMLOP_EPERM;
    case 8:
        return OMLOP_ELIMIT;
    case 14:
        return OMLOP_EUNAVAIL;
    case 16:
        return OMLOP_EAUTH;
    default:
        return OMLOP_EPROTO;
    }
}

int etcd_call(etcd_conf *c, void *curl, const char *path, struct json_object *req, int idempotent,
              struct json_object **resp, omlop_err *err)
{
    const char *body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
    size_t start = atomic_load(&c->preferred);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    strbuf reply = STRBUF_INIT, tried = STRBUF_INIT, url = STRBUF_INIT;
    CURL *h = curl ? curl : curl_easy_init();
    int rc = 0;

    *resp = NULL;
    if (!h || !hdrs)
        abort();
    if (!curl)
        etcd_curl_setup(h, c);
    for (size_t i = 0; i < c->n_endpoints; i++) {
        size_t idx = (start + i) % c->n_endpoints;
        json_object *j, *e;
        CURLcode cc;
        long status = 0;

        strbuf_reset(&url);
        strbuf_addf(&url, "%s%s", c->endpoints[idx], path);
        strbuf_reset(&reply);
        curl_easy_setopt(h, CURLOPT_URL, url.buf);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ETCD_CALL_TIMEOUT);
        cc = curl_easy_perform(h);
        if (cc == CURLE_WRITE_ERROR) {
            rc = omlop_err_set(err, OMLOP_ELIMIT, "etcd %s: reply larger than %u bytes", url.buf,
                               ETCD_MAX_REPLY);
            goto out;
        }
        if (cc != CURLE_OK) {
            strbuf_addf(&tried, "%s%s: %s", tried.len ? "; " : "", c->endpoints[idx],
                        curl_easy_strerror(cc));
            if (idempotent || surely_not_sent(cc))
                continue;
            rc = omlop_err_set(err, OMLOP_EUNAVAIL,
                               "etcd %s: %s; the write may or may not have been applied, "
                               "re-read before retrying",
                               url.buf, curl_easy_strerror(cc));
            goto out;
        }
        atomic_store(&c->preferred, idx);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        j = json_tokener_parse(strbuf_str(&reply));
        if (!j || !json_object_is_type(j, json_type_object)) {
            json_object_put(j);
            rc = omlop_err_set(err, OMLOP_EPROTO, "etcd %s: HTTP %ld, reply is not JSON: %.120s",
                               url.buf, status, strbuf_str(&reply));
            goto out;
        }
        if (json_object_object_get_ex(j, "error", &e) || status != 200) {
            const char *msg = json_object_get_string(e ? e : j);

            rc = omlop_err_set(err, grpc_code_to_omlop(etcd_json_int(j, "code"), msg),
                               "etcd %s: %s", url.buf, msg);
            json_object_put(j);
            goto out;
        }
        *resp = j;
        goto out;
    }
    rc =
        omlop_err_set(err, OMLOP_EUNAVAIL, "etcd unreachable (%s); check the endpoints", tried.buf);
out:
    curl_slist_free_all(hdrs);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    if (!curl)
        curl_easy_cleanup(h);
    strbuf_release(&reply);
    strbuf_release(&tried);
    strbuf_release(&url);
    return rc;
}

/* --- etcd:// locations ------------------------------------------------------------------ */

static int parse_endpoint(const char *loc, const char *s, size_t n, int tls, char **out,
                          omlop_err *err)
{
    strbuf ep = STRBUF_INIT;
    size_t host_end = n, i;
    long port = ETCD_DEFAULT_PORT;

    if (n == 0)
        return omlop_err_set(err, OMLOP_EINVAL, "store URL etcd://%s: empty endpoint", loc);
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);

        if (!close)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "store URL etcd://%s: endpoint '%.*s' lacks ']'", loc, (int)n, s);
        host_end = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', n);

        host_end = colon ? (size_t)(colon - s) : n;
        for (i = 0; i < host_end; i++)
            if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
                return omlop_err_set(err, OMLOP_EINVAL,
                                     "store URL etcd://%s: endpoint '%.*s' has a bad host name",
                                     loc, (int)n, s);
        if (host_end == 0)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "store URL etcd://%s: endpoint '%.*s' has no host", loc, (int)n,
                                 s);
    }
    if (host_end < n) {
        char digits[8];
        size_t dn = n - host_end - 1;

        if (s[host_end] != ':' || dn == 0 || dn >= sizeof(digits))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "store URL etcd://%s: endpoint '%.*s' has a bad port", loc, (int)n,
                                 s);
        memcpy(digits, s + host_end + 1, dn);
        digits[dn] = '\0';
        for (i = 0; i < dn; i++)
            if (!isdigit((unsigned char)digits[i]))
                dn = 0;
        port = dn ? strtol(digits, NULL, 10) : 0;
        if (port < 1 || port > 65535)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "store URL etcd://%s: endpoint '%.*s': port must be 1-65535", loc,
                                 (int)n, s);
    }
    strbuf_addf(&ep, "%s://%.*s:%ld", tls ? "https" : "http", (int)host_end, s, port);
    *out = strbuf_detach(&ep, NULL);
    return 0;
}

int etcd_conf_parse(const char *loc, const store_options *opts, etcd_conf *c, omlop_err *err)
{
    const char *slash = strchr(loc, '/');
    size_t hosts_len = slash ? (size_t)(slash - loc) : strlen(loc);
    int tls = opts->tls_ca || opts->tls_cert || opts->tls_key;
    const char *p = loc;
    strbuf prefix = STRBUF_INIT;
    int rc;

    if (hosts_len == 0)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "store URL etcd://%s names no endpoint: use "
                             "etcd://HOST:PORT[,HOST:PORT...][/prefix]",
                             loc);
    while (p < loc + hosts_len) {
        const char *comma = memchr(p, ',', (size_t)(loc + hosts_len - p));
        size_t n = comma ? (size_t)(comma - p) : (size_t)(loc + hosts_len - p);
        char **eps = xrealloc(c->endpoints, (c->n_endpoints + 1) * sizeof(char *));

        c->endpoints = eps;
        if ((rc = parse_endpoint(loc, p, n, tls, &c->endpoints[c->n_endpoints], err)) < 0)
            return rc;
        c->n_endpoints++;
        p += n + (comma ? 1 : 0);
        if (comma && p == loc + hosts_len)
            return omlop_err_set(err, OMLOP_EINVAL, "store URL etcd://%s: empty endpoint", loc);
    }
    if (slash) {
        for (const char *q = slash; *q; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7f)
                return omlop_err_set(err, OMLOP_EINVAL,
                                     "store URL etcd://%s: the prefix has a control character",
                                     loc);
        strbuf_adds(&prefix, slash);
        while (prefix.len > 0 && prefix.buf[prefix.len - 1] == '/')
            strbuf_setlen(&prefix, prefix.len - 1);
    }
    c->prefix = strbuf_detach(&prefix, NULL);
    c->tls_ca = xstrdup(opts->tls_ca);
    c->tls_cert = xstrdup(opts->tls_cert);
    c->tls_key = xstrdup(opts->tls_key);
    return 0;
}
