/* s3: S3 requests on libcurl with SigV4; see s3.h for what curl 7.88 needs from us. */
#include "clients/s3.h"

#include <ctype.h>
#include <curl/curl.h>
#include <libxml/parser.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/s3_int.h"
#include "clients/s3_xml.h"
#include "lib/xalloc.h"

#define S3_MAX_PAGES    100000 /* a listing that never ends stops here */
#define S3_DELETE_BATCH 1000   /* DeleteObjects' limit per request */

/* --- pure helpers ----------------------------------------------------------------------- */

static int is_unreserved(unsigned char ch)
{
    return isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

void s3_uri_encode(strbuf *out, const char *s, size_t len, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (is_unreserved(ch) || (keep_slash && ch == '/')) {
            strbuf_addch(out, (char)ch);
        } else {
            strbuf_addch(out, '%');
            strbuf_addch(out, hex[ch >> 4]);
            strbuf_addch(out, hex[ch & 15]);
        }
    }
}

typedef struct enc_param {
    char *name;
    char *value;
} enc_param;

static int cmp_param(const void *a, const void *b)
{
    const enc_param *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : strcmp(x->value, y->value);
}

void s3_query_build(strbuf *out, const s3_query_param *params, size_t n)
{
    enc_param *enc = xcalloc(n, sizeof(*enc));

    /* sorted by the encoded names, as SigV4's canonical query string is */
    for (size_t i = 0; i < n; i++) {
        strbuf sb = STRBUF_INIT;

        s3_uri_encode(&sb, params[i].name, strlen(params[i].name), 0);
        enc[i].name = strbuf_detach(&sb, NULL);
        if (params[i].value)
            s3_uri_encode(&sb, params[i].value, strlen(params[i].value), 0);
        enc[i].value = strbuf_detach(&sb, NULL);
    }
    qsort(enc, n, sizeof(*enc), cmp_param);
    for (size_t i = 0; i < n; i++) {
        strbuf_addf(out, "%s%s=%s", i ? "&" : "", enc[i].name, enc[i].value);
        free(enc[i].name);
        free(enc[i].value);
    }
    free(enc);
}

void s3_url_build(const s3_client *c, const char *key, const char *query, strbuf *out)
{
    if (c->path_style)
        strbuf_addf(out, "%s://%s%s/%s", c->scheme, c->authority, c->base_path, c->bucket);
    else
        strbuf_addf(out, "%s://%s.%s%s", c->scheme, c->bucket, c->authority, c->base_path);
    if (key) {
        strbuf_addch(out, '/');
        s3_uri_encode(out, c->prefix, strlen(c->prefix), 1);
        s3_uri_encode(out, key, strlen(key), 1);
    } else if (!c->path_style) {
        strbuf_addch(out, '/');
    }
    if (query && *query)
        strbuf_addf(out, "?%s", query);
}

/* --- configuration ---------------------------------------------------------------------- */

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int bucket_valid(const char *b)
{
    size_t n = strlen(b);

    if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '.' ||
              b[i] == '-'))
            return 0;
    return 1;
}

/* Split endpoint into scheme, authority and base path; OMLOP_EINVAL naming what is wrong. */
static int endpoint_parse(s3_client *c, const char *ep, omlop_err *err)
{
    const char *rest, *slash;
    size_t alen, plen;

    if (strncmp(ep, "https://", 8) == 0) {
        c->scheme = xstrdup("https");
        rest = ep + 8;
    } else if (strncmp(ep, "http://", 7) == 0) {
        c->scheme = xstrdup("http");
        rest = ep + 7;
    } else {
        return omlop_err_set(err, OMLOP_EINVAL,
                             "s3 endpoint '%.200s': must start with http:// or https://", ep);
    }
    if (strpbrk(ep, "?#@ \t") || has_ctl(ep))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "s3 endpoint '%.200s': no query, fragment, user info or spaces "
                             "allowed (credentials come from the Secret)",
                             ep);
    slash = strchr(rest, '/');
    alen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (alen == 0 || rest[0] == ':')
        return omlop_err_set(err, OMLOP_EINVAL, "s3 endpoint '%.200s': no host", ep);
    c->authority = xstrndup(rest, alen);
    plen = slash ? strlen(slash) : 0;
    while (plen > 0 && slash[plen - 1] == '/')
        plen--;
    c->base_path = xstrndup(slash ? slash : "", plen);
    return 0;
}

void s3_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    xmlInitParser();
}

int s3_client_new(const s3_config *cfg, s3_client **out, omlop_err *err)
{
    s3_client *c = xcalloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    if (!cfg->endpoint || !*cfg->endpoint) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "s3 endpoint: required (http(s)://host[:port])");
        goto out;
    }
    rc = endpoint_parse(c, cfg->endpoint, err);
    if (rc)
        goto out;
    if (!cfg->bucket || !bucket_valid(cfg->bucket)) {
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "s3 bucket '%.80s': 3-63 characters of a-z, 0-9, '.' and '-', "
                           "starting and ending with a letter or digit",
                           cfg->bucket ? cfg->bucket : "");
        goto out;
    }
    if (cfg->region &&
        (strlen(cfg->region) > 64 || strpbrk(cfg->region, ": /") || has_ctl(cfg->region))) {
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "s3 region '%.80s': at most 64 characters, no ':', '/' or spaces",
                           cfg->region);
        goto out;
    }
    if (cfg->prefix && (strlen(cfg->prefix) > 512 || has_ctl(cfg->prefix))) {
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "s3 prefix: at most 512 bytes and no control characters");
        goto out;
    }
    if (!cfg->access_key || !*cfg->access_key || has_ctl(cfg->access_key)) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "s3 access key: required, no control characters");
        goto out;
    }
    if (!cfg->secret_key || !*cfg->secret_key) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "s3 secret key: required");
        goto out;
    }
    c->part_size = cfg->part_size ? cfg->part_size : S3_DEFAULT_PART_SIZE;
    if (c->part_size < S3_MIN_PART_SIZE || c->part_size > S3_MAX_PART_SIZE) {
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "s3 part size %zu: must be between %u (S3's minimum) and %u bytes",
                           c->part_size, S3_MIN_PART_SIZE, S3_MAX_PART_SIZE);
        goto out;
    }
    if (cfg->list_page_keys < 0 || cfg->list_page_keys > 1000) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "s3 list page size %d: must be 1-1000",
                           cfg->list_page_keys);
        goto out;
    }
    c->bucket = xstrdup(cfg->bucket);
    c->region = xstrdup(cfg->region && *cfg->region ? cfg->region : "us-east-1");
    c->prefix = xstrdup(cfg->prefix ? cfg->prefix : "");
    c->access_key = xstrdup(cfg->access_key);
    c->secret_key = xstrdup(cfg->secret_key);
    c->ca_file = xstrdup(cfg->ca_file);
    snprintf(c->sigv4, sizeof(c->sigv4), "aws:amz:%s:s3", c->region);
    c->path_style = cfg->path_style != 0;
    c->insecure = cfg->insecure_skip_verify != 0;
    c->connect_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 60000;
    c->transfer_ms = cfg->transfer_timeout_ms > 0 ? cfg->transfer_timeout_ms : 30L * 60 * 1000;
    c->stall_ms = cfg->stall_ms > 0 ? cfg->stall_ms : 60000;
    c->max_retries = cfg->max_retries == 0 ? 3 : (cfg->max_retries < 0 ? 0 : cfg->max_retries);
    c->retry_pause_ms = cfg->retry_pause_ms > 0 ? cfg->retry_pause_ms : 200;
    c->page_keys = cfg->list_page_keys ? cfg->list_page_keys : 1000;
    c->list_max = cfg->list_max_keys ? cfg->list_max_keys : 1000000;
    c->curl = curl_easy_init();
    if (!c->curl) {
        rc = omlop_err_set(err, OMLOP_EINTERNAL, "s3: curl_easy_init failed");
        goto out;
    }
    /* libxml2's one-time set-up, before any parse (it is not thread-safe on first use) */
    xmlInitParser();
    *out = c;
    c = NULL;
out:
    s3_client_free(c);
    return rc;
}

void s3_client_free(s3_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    if (c->secret_key) {
        volatile char *p = c->secret_key;

        while (*p)
            *p++ = 0;
    }
    free(c->scheme);
    free(c->authority);
    free(c->base_path);
    free(c->bucket);
    free(c->region);
    free(c->prefix);
    free(c->access_key);
    free(c->secret_key);
    free(c->ca_file);
    free(c);
}

size_t s3_client_part_size(const s3_client *c)
{
    return c->part_size;
}

void s3_client_location(const s3_client *c, const char *key, strbuf *out)
{
    if (key)
        strbuf_addf(out, "s3://%s/%s%s", c->bucket, c->prefix, key);
    else
        strbuf_addf(out, "s3://%s", c->bucket);
}

/* Key checks shared by every call: non-empty, no control characters, fits with the prefix. */
static int key_check(const s3_client *c, const char *op, const char *key, omlop_err *err)
{
    if (!key || !*key || has_ctl(key) || strlen(c->prefix) + strlen(key) > S3_MAX_KEY)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "%s: key '%.200s': must be 1-%d bytes with the prefix and hold no "
                             "control characters",
                             op, key ? key : "", S3_MAX_KEY);
    return 0;
}

/* --- operations -------------------------------------------------------------------------- */

static void sha256_hex(const unsigned char *md, char out[S3_SHA256_HEX_LEN + 1])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int s3_bucket_create(s3_client *c, omlop_err *err)
{
    strbuf body = STRBUF_INIT;
    s3_req rq = {.method = "PUT", .op = "create bucket", .idempotent = 1, .has_body = 1};
    omlop_err e = OMLOP_ERR_INIT;
    int rc;

    if (strcmp(c->region, "us-east-1") != 0) {
        strbuf_adds(&body, "<CreateBucketConfiguration><LocationConstraint>");
        s3_xml_escape(&body, c->region);
        strbuf_adds(&body, "</LocationConstraint></CreateBucketConfiguration>");
        rq.content_type = "application/xml";
    }
    rq.body = body.buf;
    rq.body_len = body.len;
    rc = s3_perform(c, &rq, &e);
    if (rc && rq.status == 409 && strstr(e.msg, "BucketAlreadyOwnedByYou"))
        rc = 0;
    else if (rc)
        omlop_err_set(err, e.code, "%s", e.msg);
    strbuf_release(&body);
    return rc;
}

int s3_put(s3_client *c, const char *key, const void *data, size_t len, s3_object_info *info,
           omlop_err *err)
{
    s3_req rq = {.method = "PUT",
                 .op = "put object",
                 .key = key,
                 .body = data,
                 .body_len = len,
                 .has_body = 1,
                 .idempotent = 1,
                 .is_transfer = 1,
                 .content_type = "application/octet-stream"};
    int rc = key_check(c, rq.op, key, err);

    if (rc)
        return rc;
    rc = s3_perform(c, &rq, err);
    if (rc == 0 && info) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;

        memset(info, 0, sizeof(*info));
        info->size = len;
        snprintf(info->etag, sizeof(info->etag), "%s", rq.etag);
        EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
        sha256_hex(md, info->sha256);
    }
    return rc;
}

int s3_get(s3_client *c, const char *key, s3_write_fn write, void *ctx, s3_object_info *info,
           omlop_err *err)
{
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    s3_req rq = {.method = "GET",
                 .op = "get object",
                 .key = key,
                 .idempotent = 1,
                 .is_transfer = 1,
                 .sink = write,
                 .sink_ctx = ctx,
                 .sink_sha = sha};
    int rc = key_check(c, rq.op, key, err);

    if (rc)
        goto out;
    if (!sha)
        xalloc_die(sizeof(void *));
    EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
    rc = s3_perform(c, &rq, err);
    if (rc == 0 && rq.has_length && rq.content_length != rq.delivered)
        rc = omlop_err_set(err, OMLOP_EIO, "get object: the body ended after %llu of %llu bytes",
                           (unsigned long long)rq.delivered, (unsigned long long)rq.content_length);
    if (rc == 0 && info) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;

        memset(info, 0, sizeof(*info));
        info->size = rq.delivered;
        snprintf(info->etag, sizeof(info->etag), "%s", rq.etag);
        EVP_DigestFinal_ex(sha, md, &mdlen);
        sha256_hex(md, info->sha256);
    }
out:
    EVP_MD_CTX_free(sha);
    return rc;
}

int s3_head(s3_client *c, const char *key, s3_object_info *info, omlop_err *err)
{
    s3_req rq = {.method = "HEAD", .op = "head object", .key = key, .idempotent = 1};
    int rc = key_check(c, rq.op, key, err);

    if (rc)
        return rc;
    rc = s3_perform(c, &rq, err);
    if (rc == 0 && info) {
        memset(info, 0, sizeof(*info));
        info->size = rq.content_length;
        snprintf(info->etag, sizeof(info->etag), "%s", rq.etag);
    }
    return rc;
}

/* cfg.prefix + sub, the full prefix a listing asks for. */
static char *full_prefix(const s3_client *c, const char *sub)
{
    strbuf p = STRBUF_INIT;

    strbuf_adds(&p, c->prefix);
    strbuf_adds(&p, sub ? sub : "");
    return strbuf_detach(&p, NULL);
}

int s3_list_objects(s3_client *c, const char *prefix, s3_list *out, omlop_err *err)
{
    char *fp = full_prefix(c, prefix);
    char max_keys[16];
    strbuf token = STRBUF_INIT, query = STRBUF_INIT, reply = STRBUF_INIT;
    size_t start = out->n;
    int rc = 0, truncated = 1;

    snprintf(max_keys, sizeof(max_keys), "%d", c->page_keys);
    for (int page = 0; truncated; page++) {
        s3_query_param q[4] = {{"list-type", "2"}, {"max-keys", max_keys}, {"prefix", fp}};
        s3_req rq = {.method = "GET", .op = "list objects", .idempotent = 1, .reply = &reply};
        size_t nq = 3;

        if (page >= S3_MAX_PAGES || out->n - start > c->list_max) {
            rc = omlop_err_set(err, OMLOP_ELIMIT,
                               "list objects: more than %zu keys under '%.200s' (or %d pages)",
                               c->list_max, fp, S3_MAX_PAGES);
            break;
        }
        if (token.len)
            q[nq++] = (s3_query_param){"continuation-token", token.buf};
        strbuf_reset(&query);
        s3_query_build(&query, q, nq);
        rq.query = query.buf;
        rc = s3_perform(c, &rq, err);
        if (rc == 0)
            rc = s3_xml_parse_list_page(reply.buf, reply.len, c->prefix, out, &truncated, &token,
                                        err);
        if (rc)
            break;
    }
    if (rc == 0 && out->n - start > c->list_max)
        rc = omlop_err_set(err, OMLOP_ELIMIT, "list objects: more than %zu keys under '%.200s'",
                           c->list_max, fp);
    strbuf_release(&token);
    strbuf_release(&query);
    strbuf_release(&reply);
    free(fp);
    return rc;
}

void s3_list_release(s3_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].key);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

void s3_list_add(s3_list *l, const char *key)
{
    if (l->n == l->alloc) {
        l->alloc = l->alloc ? l->alloc * 2 : 16;
        l->items = xrealloc(l->items, l->alloc * sizeof(*l->items));
    }
    memset(&l->items[l->n], 0, sizeof(l->items[l->n]));
    l->items[l->n++].key = xstrdup(key);
}

int s3_delete(s3_client *c, const char *key, omlop_err *err)
{
    s3_req rq = {.method = "DELETE", .op = "delete object", .key = key, .idempotent = 1};
    int rc = key_check(c, rq.op, key, err);

    return rc ? rc : s3_perform(c, &rq, err);
}

static void md5_base64(const void *data, size_t len, char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen); /* 16 bytes -> 24 chars + NUL */
}

int s3_delete_many(s3_client *c, const s3_list *keys, omlop_err *err)
{
    s3_query_param qp = {"delete", NULL};
    strbuf query = STRBUF_INIT, body = STRBUF_INIT, reply = STRBUF_INIT;
    const char **full = xcalloc(S3_DELETE_BATCH, sizeof(*full));
    int rc = 0;

    s3_query_build(&query, &qp, 1);
    for (size_t i = 0; i < keys->n && rc == 0; i++)
        rc = key_check(c, "delete objects", keys->items[i].key, err);
    for (size_t at = 0; rc == 0 && at < keys->n; at += S3_DELETE_BATCH) {
        size_t n = keys->n - at < S3_DELETE_BATCH ? keys->n - at : S3_DELETE_BATCH;
        char md5[32], bad[S3_MAX_KEY + 1];
        s3_xml_error e;
        s3_req rq = {.method = "POST",
                     .op = "delete objects",
                     .query = query.buf,
                     .has_body = 1,
                     .content_type = "application/xml",
                     .content_md5 = md5,
                     .idempotent = 1, /* deleting twice deletes the same */
                     .reply = &reply};

        for (size_t i = 0; i < n; i++) {
            strbuf k = STRBUF_INIT;

            strbuf_adds(&k, c->prefix);
            strbuf_adds(&k, keys->items[at + i].key);
            full[i] = strbuf_detach(&k, NULL);
        }
        strbuf_reset(&body);
        s3_xml_delete_body(&body, full, n);
        for (size_t i = 0; i < n; i++)
            free((char *)full[i]);
        md5_base64(body.buf, body.len, md5);
        rq.body = body.buf;
        rq.body_len = body.len;
        rc = s3_perform(c, &rq, err);
        if (rc == 0) {
            rc = s3_xml_parse_delete_result(reply.buf, reply.len, bad, sizeof(bad), &e, err);
            if (rc == 1)
                rc = omlop_err_set(err, s3_code_for_s3(e.code),
                                   "delete objects: %s: %s (s3://%s/%s)", e.code, e.message,
                                   c->bucket, bad);
        }
    }
    free(full);
    strbuf_release(&query);
    strbuf_release(&body);
    strbuf_release(&reply);
    return rc;
}

int s3_multipart_create(s3_client *c, const char *key, strbuf *upload_id, omlop_err *err)
{
    s3_query_param qp = {"uploads", NULL};
    strbuf query = STRBUF_INIT, reply = STRBUF_INIT;
    s3_req rq = {.method = "POST",
                 .op = "create multipart upload",
                 .key = key,
                 .reply = &reply,
                 .content_type = "application/octet-stream"};
    int rc = key_check(c, rq.op, key, err);

    if (rc)
        goto out;
    s3_query_build(&query, &qp, 1);
    rq.query = query.buf;
    rc = s3_perform(c, &rq, err);
    if (rc == 0)
        rc = s3_xml_parse_upload_id(reply.buf, reply.len, upload_id, err);
out:
    strbuf_release(&query);
    strbuf_release(&reply);
    return rc;
}

/* UploadPart from read or from memory. */
static int upload_part(s3_client *c, const char *key, const char *upload_id, int number, s3_req *rq,
                       s3_part *part, omlop_err *err)
{
    char num[16], op[48];
    s3_query_param q[2] = {{"partNumber", num}, {"uploadId", upload_id}};
    strbuf query = STRBUF_INIT;
    int rc;

    snprintf(op, sizeof(op), "upload part %d", number);
    rc = key_check(c, op, key, err);
    if (rc)
        return rc;
    if (number < 1 || number > S3_MAX_PARTS || !upload_id || !*upload_id)
        return omlop_err_set(err, OMLOP_EINVAL, "%s: part numbers are 1-%d, with an upload id", op,
                             S3_MAX_PARTS);
    snprintf(num, sizeof(num), "%d", number);
    s3_query_build(&query, q, 2);
    rq->method = "PUT";
    rq->op = op;
    rq->key = key;
    rq->query = query.buf;
    rq->has_body = 1;
    rq->is_transfer = 1;
    rc = s3_perform(c, rq, err);
    if (rc == 0 && !rq->etag[0])
        rc = omlop_err_set(err, OMLOP_EPROTO, "%s: the answer has no ETag", op);
    if (rc == 0) {
        part->number = number;
        snprintf(part->etag, sizeof(part->etag), "%s", rq->etag);
    }
    strbuf_release(&query);
    return rc;
}

int s3_multipart_upload_part(s3_client *c, const char *key, const char *upload_id, int number,
                             s3_read_fn read, void *ctx, uint64_t len, s3_part *part,
                             omlop_err *err)
{
    s3_req rq = {.read = read, .read_ctx = ctx, .read_len = len};

    return upload_part(c, key, upload_id, number, &rq, part, err);
}

int s3_multipart_upload_part_buf(s3_client *c, const char *key, const char *upload_id, int number,
                                 const void *data, size_t len, s3_part *part, omlop_err *err)
{
    s3_req rq = {.body = data, .body_len = len, .idempotent = 1};

    return upload_part(c, key, upload_id, number, &rq, part, err);
}

int s3_multipart_complete(s3_client *c, const char *key, const char *upload_id,
                          const s3_part *parts, size_t n, s3_object_info *info, omlop_err *err)
{
    s3_query_param qp = {"uploadId", upload_id};
    strbuf query = STRBUF_INIT, body = STRBUF_INIT, reply = STRBUF_INIT;
    char etag[128];
    s3_xml_error e;
    s3_req rq = {.method = "POST",
                 .op = "complete multipart upload",
                 .key = key,
                 .has_body = 1,
                 .content_type = "application/xml",
                 .reply = &reply,
                 .is_transfer = 1}; /* the server may take long to join big parts */
    int rc = key_check(c, rq.op, key, err);

    if (rc)
        goto out;
    if (n == 0 || n > S3_MAX_PARTS || !upload_id || !*upload_id) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "%s: 1-%d parts and an upload id", rq.op,
                           S3_MAX_PARTS);
        goto out;
    }
    s3_query_build(&query, &qp, 1);
    s3_xml_complete_body(&body, parts, n);
    rq.query = query.buf;
    rq.body = body.buf;
    rq.body_len = body.len;
    rc = s3_perform(c, &rq, err);
    if (rc)
        goto out;
    /* a 200 can still carry an <Error>: S3 sends the status before it has joined the parts */
    rc = s3_xml_parse_complete(reply.buf, reply.len, etag, sizeof(etag), &e, err);
    if (rc == 1) {
        strbuf loc = STRBUF_INIT;

        s3_client_location(c, key, &loc);
        rc = omlop_err_set(err, s3_code_for_s3(e.code), "%s: %s (HTTP %ld): %s (%s)", rq.op, e.code,
                           rq.status, e.message, loc.buf);
        strbuf_release(&loc);
    }
    if (rc == 0 && info) {
        memset(info, 0, sizeof(*info));
        snprintf(info->etag, sizeof(info->etag), "%s", etag);
    }
out:
    strbuf_release(&query);
    strbuf_release(&body);
    strbuf_release(&reply);
    return rc;
}

int s3_multipart_abort(s3_client *c, const char *key, const char *upload_id, omlop_err *err)
{
    s3_query_param qp = {"uploadId", upload_id};
    strbuf query = STRBUF_INIT;
    s3_req rq = {.method = "DELETE", .op = "abort multipart upload", .key = key, .idempotent = 1};
    omlop_err e = OMLOP_ERR_INIT;
    int rc = key_check(c, rq.op, key, err);

    if (rc)
        return rc;
    if (!upload_id || !*upload_id)
        return omlop_err_set(err, OMLOP_EINVAL, "%s: no upload id", rq.op);
    s3_query_build(&query, &qp, 1);
    rq.query = query.buf;
    rc = s3_perform(c, &rq, &e);
    if (rc && rq.status == 404 && strstr(e.msg, "NoSuchUpload"))
        rc = 0; /* already aborted or completed: nothing left to clean */
    else if (rc)
        omlop_err_set(err, e.code, "%s", e.msg);
    strbuf_release(&query);
    return rc;
}

int s3_multipart_list(s3_client *c, const char *prefix, s3_pending_list *out, omlop_err *err)
{
    char *fp = full_prefix(c, prefix);
    char max_uploads[16];
    strbuf key_marker = STRBUF_INIT, id_marker = STRBUF_INIT, query = STRBUF_INIT;
    strbuf reply = STRBUF_INIT;
    size_t start = out->n;
    int rc = 0, truncated = 1;

    snprintf(max_uploads, sizeof(max_uploads), "%d", c->page_keys);
    for (int page = 0; truncated; page++) {
        s3_query_param q[5] = {{"uploads", NULL}, {"prefix", fp}, {"max-uploads", max_uploads}};
        s3_req rq = {
            .method = "GET", .op = "list multipart uploads", .idempotent = 1, .reply = &reply};
        size_t nq = 3;

        if (page >= S3_MAX_PAGES || out->n - start > c->list_max) {
            rc = omlop_err_set(err, OMLOP_ELIMIT,
                               "list multipart uploads: more than %zu under '%.200s'", c->list_max,
                               fp);
            break;
        }
        if (key_marker.len) {
            q[nq++] = (s3_query_param){"key-marker", key_marker.buf};
            if (id_marker.len)
                q[nq++] = (s3_query_param){"upload-id-marker", id_marker.buf};
        }
        strbuf_reset(&query);
        s3_query_build(&query, q, nq);
        rq.query = query.buf;
        rc = s3_perform(c, &rq, err);
        if (rc == 0)
            rc = s3_xml_parse_uploads_page(reply.buf, reply.len, c->prefix, out, &truncated,
                                           &key_marker, &id_marker, err);
        if (rc)
            break;
    }
    strbuf_release(&key_marker);
    strbuf_release(&id_marker);
    strbuf_release(&query);
    strbuf_release(&reply);
    free(fp);
    return rc;
}

void s3_pending_list_release(s3_pending_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].upload_id);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}
