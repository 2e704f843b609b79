/* s3_http: one S3 request over libcurl with SigV4, its retries, and S3's error documents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clients/s3_int.h"
#include "clients/s3_xml.h"
#include "lib/clock.h"

#define S3_ERRBODY_MAX (64u * 1024)        /* an error document; the rest is dropped */
#define S3_REPLY_MAX   (16u * 1024 * 1024) /* a listing page or a result document */

/* State of one attempt, seen by curl's callbacks. */
typedef struct xfer {
    s3_req *rq;
    CURL *curl;
    size_t body_off;
    uint64_t sent;
    strbuf errbody;
    int too_big;
    int cb_rc; /* a caller callback failed: its code, message in cb_err */
    omlop_err cb_err;
} xfer;

/* --- curl callbacks ---------------------------------------------------------------------- */

static int is_2xx(long st)
{
    return st >= 200 && st < 300;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    s3_req *rq = x->rq;
    size_t len = size * nmemb;
    long st = 0;

    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &st);
    if (!is_2xx(st)) {
        if (x->errbody.len < S3_ERRBODY_MAX)
            strbuf_add(&x->errbody, data,
                       len < S3_ERRBODY_MAX - x->errbody.len ? len
                                                             : S3_ERRBODY_MAX - x->errbody.len);
        return len;
    }
    if (rq->sink) {
        int rc;

        if (rq->sink_sha)
            EVP_DigestUpdate(rq->sink_sha, data, len);
        rc = rq->sink(rq->sink_ctx, data, len, &x->cb_err);
        if (rc < 0) {
            x->cb_rc = rc;
            return 0; /* curl stops with CURLE_WRITE_ERROR */
        }
        rq->delivered += len;
        return len;
    }
    if (rq->reply) {
        if (rq->reply->len + len > S3_REPLY_MAX) {
            x->too_big = 1;
            return 0;
        }
        strbuf_add(rq->reply, data, len);
    }
    return len;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    s3_req *rq = x->rq;
    size_t cap = size * nmemb;

    if (!rq->read) {
        size_t n = rq->body_len - x->body_off;

        if (n > cap)
            n = cap;
        if (n)
            memcpy(buf, (const char *)rq->body + x->body_off, n);
        x->body_off += n;
        return n;
    }
    {
        uint64_t left = rq->read_len - x->sent;
        long got;

        if (left == 0)
            return 0;
        if (cap > left)
            cap = (size_t)left;
        got = rq->read(rq->read_ctx, buf, cap, &x->cb_err);
        if (got < 0) {
            x->cb_rc = (int)got;
            return CURL_READFUNC_ABORT;
        }
        if (got == 0 || (size_t)got > cap) {
            x->cb_rc =
                omlop_err_set(&x->cb_err, OMLOP_EIO, "the source ended after %llu of %llu bytes",
                              (unsigned long long)x->sent, (unsigned long long)rq->read_len);
            return CURL_READFUNC_ABORT;
        }
        x->sent += (uint64_t)got;
        return (size_t)got;
    }
}

/* Memory bodies can be sent again (curl rewinds on a redirect or an auth retry). */
static int on_seek(void *ud, curl_off_t off, int origin)
{
    xfer *x = ud;

    if (x->rq->read || origin != SEEK_SET || off < 0 || (size_t)off > x->rq->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->body_off = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static int hdr_is(const char *line, size_t len, const char *name, const char **val, size_t *vlen)
{
    size_t n = strlen(name);

    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return 0;
    line += n + 1;
    len -= n + 1;
    while (len && (*line == ' ' || *line == '\t'))
        line++, len--;
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
        len--;
    *val = line;
    *vlen = len;
    return 1;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    s3_req *rq = x->rq;
    size_t len = size * nmemb;
    const char *v;
    size_t vlen;

    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* a new response (after a 100 Continue): forget the previous one's headers */
        rq->etag[0] = '\0';
        rq->has_length = 0;
    } else if (hdr_is(data, len, "ETag", &v, &vlen)) {
        if (vlen >= sizeof(rq->etag))
            vlen = sizeof(rq->etag) - 1;
        memcpy(rq->etag, v, vlen);
        rq->etag[vlen] = '\0';
    } else if (hdr_is(data, len, "Content-Length", &v, &vlen)) {
        char num[32];
        char *end;

        if (vlen > 0 && vlen < sizeof(num)) {
            memcpy(num, v, vlen);
            num[vlen] = '\0';
            rq->content_length = strtoull(num, &end, 10);
            rq->has_length = *end == '\0';
        }
    }
    return len;
}

/* --- the request ------------------------------------------------------------------------ */

static int code_for(long st, const char *s3code)
{
    if (st == 403 &&
        (strcmp(s3code, "SignatureDoesNotMatch") == 0 ||
         strcmp(s3code, "InvalidAccessKeyId") == 0 || strcmp(s3code, "InvalidSecurity") == 0))
        return OMLOP_EAUTH;
    if (st == 401)
        return OMLOP_EAUTH;
    if (st == 403)
        return OMLOP_EPERM;
    if (st == 404)
        return OMLOP_ENOTFOUND;
    if (st == 409)
        return OMLOP_ECONFLICT;
    if (st == 408)
        return OMLOP_ETIMEOUT;
    if (st >= 500)
        return OMLOP_EUNAVAIL;
    return OMLOP_EPROTO;
}

/* The code of an S3 error that came inside a 2xx answer (complete, delete objects). */
int s3_code_for_s3(const char *s3code)
{
    if (strcmp(s3code, "AccessDenied") == 0)
        return OMLOP_EPERM;
    if (strcmp(s3code, "InternalError") == 0 || strcmp(s3code, "SlowDown") == 0 ||
        strcmp(s3code, "ServiceUnavailable") == 0)
        return OMLOP_EUNAVAIL;
    if (strcmp(s3code, "NoSuchUpload") == 0 || strcmp(s3code, "NoSuchKey") == 0)
        return OMLOP_ENOTFOUND;
    return OMLOP_EINVAL; /* InvalidPart, InvalidPartOrder, EntityTooSmall, ... */
}

/* The S3 error of a non-2xx answer into err: "op: Code (HTTP st): Message (s3://...)". */
static int http_error(const s3_client *c, const s3_req *rq, const strbuf *body, omlop_err *err)
{
    s3_xml_error e;
    strbuf loc = STRBUF_INIT;
    int rc;

    s3_client_location(c, rq->key, &loc);
    if (body->len && s3_xml_parse_error(body->buf, body->len, &e))
        rc = omlop_err_set(err, code_for(rq->status, e.code), "%s: %s (HTTP %ld)%s%s (%s)", rq->op,
                           e.code, rq->status, e.message[0] ? ": " : "", e.message, loc.buf);
    else
        rc = omlop_err_set(err, code_for(rq->status, ""), "%s: HTTP %ld with no S3 error (%s)",
                           rq->op, rq->status, loc.buf);
    strbuf_release(&loc);
    return rc;
}

static void set_common(const s3_client *c, CURL *h, const s3_req *rq, xfer *x, char *errbuf)
{
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L); /* keys like a/./b are S3 names, not paths */
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
    /* not CURLOPT_USERPWD: Swift's access keys hold a ':' */
    curl_easy_setopt(h, CURLOPT_USERNAME, c->access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret_key);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->is_transfer ? c->transfer_ms : c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (c->stall_ms + 999) / 1000);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (c->ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
}

static int is_transient(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
        return 1;
    default:
        return 0;
    }
}

/* One attempt; *retry set when it failed in a way worth trying again. */
static int attempt(s3_client *c, s3_req *rq, int *retry, omlop_err *err)
{
    CURL *h = c->curl;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    char line[160];
    strbuf url = STRBUF_INIT;
    xfer x = {.rq = rq, .curl = h};
    CURLcode cc;
    int rc = 0;

    *retry = 0;
    rq->status = 0;
    rq->etag[0] = '\0';
    rq->has_length = 0;
    if (rq->reply)
        strbuf_reset(rq->reply);
    curl_easy_reset(h);
    set_common(c, h, rq, &x, errbuf);
    s3_url_build(c, rq->key, rq->query, &url);
    curl_easy_setopt(h, CURLOPT_URL, url.buf);
    /* curl 7.88 signs this header as the payload hash; without it S3 answers 400 */
    hdrs = curl_slist_append(hdrs, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (rq->content_md5) {
        snprintf(line, sizeof(line), "Content-MD5: %s", rq->content_md5);
        hdrs = curl_slist_append(hdrs, line);
    }
    /* only a real value: curl 7.88 signs a "Content-Type:" removal line as an empty header it
     * then does not send, and the signature no longer matches */
    if (rq->content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s", rq->content_type);
        hdrs = curl_slist_append(hdrs, line);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(rq->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)(rq->read ? rq->read_len : rq->body_len));
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(rq->read ? rq->read_len : rq->body_len));
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    if (rq->has_body || strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
    }
    cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rq->status);
    if (x.cb_rc) {
        rc = omlop_err_set(err, x.cb_rc, "%s: %s", rq->op, x.cb_err.msg);
    } else if (x.too_big) {
        rc = omlop_err_set(err, OMLOP_ELIMIT, "%s: the answer is larger than %u bytes", rq->op,
                           S3_REPLY_MAX);
    } else if (cc != CURLE_OK && !(rq->status >= 300 && x.errbody.len)) {
        strbuf loc = STRBUF_INIT;

        s3_client_location(c, rq->key, &loc);
        rc = omlop_err_set(err, cc == CURLE_OPERATION_TIMEDOUT ? OMLOP_ETIMEOUT : OMLOP_EUNAVAIL,
                           "%s: %s: %s (%s at %s://%s)", rq->op, curl_easy_strerror(cc),
                           errbuf[0] ? errbuf : "no detail", loc.buf, c->scheme, c->authority);
        strbuf_release(&loc);
        *retry = is_transient(cc) && rq->delivered == 0;
    } else if (!is_2xx(rq->status)) {
        rc = http_error(c, rq, &x.errbody, err);
        *retry = rq->status >= 500 && rq->delivered == 0;
    }
    strbuf_release(&x.errbody);
    strbuf_release(&url);
    curl_slist_free_all(hdrs);
    if (rq->read)
        *retry = 0; /* the source cannot be read twice */
    return rc;
}

int s3_perform(s3_client *c, s3_req *rq, omlop_err *err)
{
    int tries = rq->idempotent ? c->max_retries : 0;
    long pause = c->retry_pause_ms;
    int rc, retry;

    for (int i = 0;; i++) {
        rc = attempt(c, rq, &retry, err);
        if (rc == 0 || !retry || i >= tries)
            break;
        clock_sleep_ms(pause);
        pause *= 2;
    }
    if (rc && tries > 0 && retry)
        omlop_err_prefix(err, "after %d attempts: ", tries + 1);
    return rc;
}
