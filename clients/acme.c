/* acme: transport, nonces, account and problem documents (see acme.h; JWK and JWS are
 * acme_jws.c, the order's state machine acme_order.c). */
#include "clients/acme.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clients/acme_int.h"
#include "lib/version.h"
#include "lib/xalloc.h"

#define ACME_ERROR_NS "urn:ietf:params:acme:error:"

int acme_key_authorization(const acme_client *c, const char *token, strbuf *out, omlop_err *err)
{
    /* the token goes into a URL path and a file name on the host: base64url only */
    if (!token || !*token ||
        strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789-_") != strlen(token) ||
        strlen(token) > 256)
        return omlop_err_set(err, OMLOP_EPROTO, "ACME challenge token is not base64url");
    strbuf_reset(out);
    strbuf_addf(out, "%s.%s", token, c->thumb);
    return 0;
}

/* --- problems ---------------------------------------------------------------------------- */

void acme_problem_free(acme_problem *p)
{
    if (!p)
        return;
    free(p->type);
    free(p->detail);
    free(p->document);
    for (size_t i = 0; i < p->n_sub; i++) {
        free(p->sub[i].type);
        free(p->sub[i].detail);
        free(p->sub[i].identifier);
    }
    free(p->sub);
    free(p);
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;

    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Fill type, detail and subproblems of p from a problem object. */
static void problem_fields(acme_problem *p, json_object *obj)
{
    json_object *subs;

    p->type = xstrdup(jstr(obj, "type") ? jstr(obj, "type") : "");
    p->detail = xstrdup(jstr(obj, "detail") ? jstr(obj, "detail") : "");
    if (obj && json_object_is_type(obj, json_type_object) &&
        json_object_object_get_ex(obj, "subproblems", &subs) &&
        json_object_is_type(subs, json_type_array)) {
        size_t n = json_object_array_length(subs);

        p->sub = xcalloc(n ? n : 1, sizeof(*p->sub));
        for (size_t i = 0; i < n && i < 100; i++) {
            json_object *s = json_object_array_get_idx(subs, i), *id = NULL;

            p->sub[p->n_sub].type = xstrdup(jstr(s, "type") ? jstr(s, "type") : "");
            p->sub[p->n_sub].detail = xstrdup(jstr(s, "detail"));
            if (json_object_is_type(s, json_type_object))
                json_object_object_get_ex(s, "identifier", &id);
            p->sub[p->n_sub].identifier = xstrdup(jstr(id, "value"));
            p->n_sub++;
        }
    }
}

acme_problem *acme_problem_from_json(json_object *obj)
{
    acme_problem *p = xcalloc(1, sizeof(*p));

    p->retry_after_s = -1;
    problem_fields(p, obj);
    p->document = xstrdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    return p;
}

acme_problem *acme_problem_dup(const acme_problem *p)
{
    acme_problem *d;

    if (!p)
        return NULL;
    d = xcalloc(1, sizeof(*d));
    d->http_status = p->http_status;
    d->type = xstrdup(p->type);
    d->detail = xstrdup(p->detail);
    d->document = xstrdup(p->document);
    d->retry_after_s = p->retry_after_s;
    d->sub = xcalloc(p->n_sub ? p->n_sub : 1, sizeof(*d->sub));
    for (size_t i = 0; i < p->n_sub; i++) {
        d->sub[i].type = xstrdup(p->sub[i].type);
        d->sub[i].detail = xstrdup(p->sub[i].detail);
        d->sub[i].identifier = xstrdup(p->sub[i].identifier);
    }
    d->n_sub = p->n_sub;
    return d;
}

int acme_problem_is(const acme_problem *p, const char *short_type)
{
    size_t ns = strlen(ACME_ERROR_NS);

    return p && p->type && short_type && strncmp(p->type, ACME_ERROR_NS, ns) == 0 &&
           strcmp(p->type + ns, short_type) == 0;
}

int acme_problem_code(const acme_problem *p)
{
    if (acme_problem_is(p, "rateLimited"))
        return OMLOP_ELIMIT;
    if (p->http_status == 0) /* a challenge's or an order's error: the CA said no */
        return OMLOP_EPERM;
    if (acme_problem_is(p, "badNonce") || p->http_status >= 500)
        return OMLOP_EUNAVAIL;
    if (acme_problem_is(p, "unauthorized") || acme_problem_is(p, "accountDoesNotExist") ||
        acme_problem_is(p, "badSignatureAlgorithm") || acme_problem_is(p, "userActionRequired"))
        return OMLOP_EAUTH;
    return OMLOP_EINVAL;
}

/* The first subproblem's identifier and detail, or "" (the useful part of a compound error). */
static void sub_summary(const acme_problem *p, char *out, size_t size)
{
    out[0] = '\0';
    if (p->n_sub > 0)
        snprintf(out, size, " (%s: %s)", p->sub[0].identifier ? p->sub[0].identifier : "?",
                 p->sub[0].detail ? p->sub[0].detail : p->sub[0].type);
}

/* Set err from a problem answered by url. */
static int problem_err(omlop_err *err, const acme_problem *p, const char *url)
{
    char sub[300];

    sub_summary(p, sub, sizeof(sub));
    return omlop_err_set(err, acme_problem_code(p), "ACME %s: HTTP %d %s: %s%s", url,
                         p->http_status, *p->type ? p->type : "(no problem type)", p->detail, sub);
}

static void set_problem(acme_client *c, acme_problem *p)
{
    acme_problem_free(c->problem);
    c->problem = p;
}

const acme_problem *acme_client_problem(const acme_client *c)
{
    return c->problem;
}

/* --- HTTP ----------------------------------------------------------------------------------- */

void acme_resp_release(acme_resp *r)
{
    strbuf_release(&r->body);
    free(r->location);
    free(r->nonce);
    free(r->retry_after);
    memset(r, 0, sizeof(*r));
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    acme_resp *r = ud;
    size_t n = size * nmemb;

    if (r->body.len + n > ACME_MAX_BODY) {
        r->overflow = 1;
        return 0;
    }
    strbuf_add(&r->body, ptr, n);
    return n;
}

/* Keep value of header line (name: value\r\n) in *slot when name matches. */
static void header_take(const char *line, size_t n, const char *name, char **slot)
{
    size_t nl = strlen(name);
    const char *v, *end = line + n;

    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    v = line + nl + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    free(*slot);
    *slot = xstrndup(v, (size_t)(end - v));
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    acme_resp *r = ud;
    size_t n = size * nmemb;

    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        /* a new answer (after a 100 Continue): forget the previous one's headers */
        free(r->location);
        free(r->nonce);
        free(r->retry_after);
        r->location = r->nonce = r->retry_after = NULL;
    }
    header_take(ptr, n, "Location", &r->location);
    header_take(ptr, n, "Replay-Nonce", &r->nonce);
    header_take(ptr, n, "Retry-After", &r->retry_after);
    return n;
}

/* One HTTP exchange. A transport failure is an error; any HTTP status is not. */
static int http_do(acme_client *c, const char *method, const char *url, const char *body,
                   const char *accept, acme_resp *r, omlop_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    char acc[128];
    CURLcode cc;
    int rc = 0;

    acme_resp_release(r);
    curl_easy_reset(c->easy);
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "omlop-acme/" OMLOP_RELEASE);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_pem) {
        struct curl_blob blob = {c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY};

        curl_easy_setopt(c->easy, CURLOPT_CAINFO_BLOB, &blob);
    } else if (c->ca_file) {
        curl_easy_setopt(c->easy, CURLOPT_CAINFO, c->ca_file);
    }
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, r);
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    snprintf(acc, sizeof(acc), "Accept: %s", accept ? accept : "application/json");
    hdrs = curl_slist_append(hdrs, acc);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c->easy, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "POST") == 0) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/jose+json");
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body);
    } else {
        curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, hdrs);
    c->stats.requests++;
    cc = curl_easy_perform(c->easy);
    if (r->overflow) {
        rc = omlop_err_set(err, OMLOP_ELIMIT, "ACME %s: answer larger than %d bytes", url,
                           ACME_MAX_BODY);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = omlop_err_set(err, OMLOP_ETIMEOUT, "ACME %s: no answer within %ld ms: %s", url,
                           c->timeout_ms, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else if (cc != CURLE_OK) {
        rc = omlop_err_set(err, OMLOP_EUNAVAIL, "ACME %s: %s", url,
                           errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &r->status);
    }
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    return rc;
}

int64_t acme_retry_after_parse(const char *value, int64_t now_s)
{
    struct tm tm;
    const char *end;
    char *num_end;
    long long v;

    if (!value || !*value)
        return -1;
    if (isdigit((unsigned char)value[0])) {
        v = strtoll(value, &num_end, 10);
        while (*num_end == ' ')
            num_end++;
        return *num_end == '\0' && v >= 0 ? (int64_t)v : -1;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return -1;
    v = (long long)timegm(&tm) - now_s;
    return v > 0 ? (int64_t)v : 0;
}

static int64_t now_s(const acme_client *c)
{
    return c->hooks.now_s ? c->hooks.now_s(c->hooks.ud) : (int64_t)time(NULL);
}

int64_t acme_wait_ms(const acme_client *c, const acme_resp *r)
{
    int64_t s = acme_retry_after_parse(r->retry_after, now_s(c));
    int64_t ms = s >= 0 ? s * 1000 : c->poll_interval_ms;

    return ms > c->max_wait_ms ? c->max_wait_ms : ms;
}

/* The problem of an answer >= 400 (type and detail empty when the body is no problem JSON). */
static acme_problem *problem_of(const acme_client *c, const acme_resp *r)
{
    acme_problem *p = xcalloc(1, sizeof(*p));
    json_object *obj = json_tokener_parse(strbuf_str(&r->body));

    p->http_status = (int)r->status;
    p->retry_after_s = acme_retry_after_parse(r->retry_after, now_s(c));
    problem_fields(p, json_object_is_type(obj, json_type_object) ? obj : NULL);
    p->document = xstrdup(strbuf_str(&r->body));
    json_object_put(obj);
    return p;
}

/* --- directory, nonces, signed requests --------------------------------------------------- */

static char *jdup(json_object *o, const char *key)
{
    return xstrdup(jstr(o, key));
}

int acme_directory(acme_client *c, omlop_err *err)
{
    acme_resp r = {0};
    json_object *d = NULL, *meta = NULL;
    int rc;

    if (c->have_dir)
        return 0;
    rc = http_do(c, "GET", c->directory_url, NULL, NULL, &r, err);
    if (rc < 0)
        goto out;
    if (r.status != 200) {
        set_problem(c, problem_of(c, &r));
        rc = problem_err(err, c->problem, c->directory_url);
        goto out;
    }
    d = json_tokener_parse(strbuf_str(&r.body));
    free(c->dir_new_nonce);
    free(c->dir_new_account);
    free(c->dir_new_order);
    free(c->dir_terms);
    c->dir_new_nonce = jdup(d, "newNonce");
    c->dir_new_account = jdup(d, "newAccount");
    c->dir_new_order = jdup(d, "newOrder");
    if (json_object_is_type(d, json_type_object))
        json_object_object_get_ex(d, "meta", &meta);
    c->dir_terms = jdup(meta, "termsOfService");
    if (!c->dir_new_nonce || !c->dir_new_account || !c->dir_new_order) {
        rc = omlop_err_set(err, OMLOP_EPROTO,
                           "ACME directory %s: not an ACME directory (newNonce, newAccount or "
                           "newOrder missing)",
                           c->directory_url);
        goto out;
    }
    c->have_dir = 1;
out:
    json_object_put(d);
    acme_resp_release(&r);
    return rc;
}

static int nonce_fetch(acme_client *c, omlop_err *err)
{
    acme_resp r = {0};
    int rc;

    c->stats.nonce_fetches++;
    rc = http_do(c, "HEAD", c->dir_new_nonce, NULL, NULL, &r, err);
    if (rc == 0 && (r.status != 200 && r.status != 204))
        rc = omlop_err_set(err, OMLOP_EPROTO, "ACME %s: HTTP %ld for a new nonce", c->dir_new_nonce,
                           r.status);
    else if (rc == 0 && (!r.nonce || !*r.nonce))
        rc = omlop_err_set(err, OMLOP_EPROTO, "ACME %s: no Replay-Nonce in the answer",
                           c->dir_new_nonce);
    if (rc == 0) {
        free(c->nonce);
        c->nonce = r.nonce;
        r.nonce = NULL;
    }
    acme_resp_release(&r);
    return rc;
}

/* Sign "protected.payload" with the account key; the signature in base64url into out. */
int acme_post(acme_client *c, const char *url, const char *payload, int use_jwk, const char *accept,
              acme_resp *r, omlop_err *err)
{
    strbuf jws = STRBUF_INIT;
    int rc = 0;

    if (!use_jwk && !c->account_url)
        return omlop_err_set(err, OMLOP_EINTERNAL, "ACME %s: no account yet", url);
    for (int attempt = 0;; attempt++) {
        if (!c->nonce) {
            rc = nonce_fetch(c, err);
            if (rc < 0)
                break;
        }
        rc = acme_jws_build(c, url, payload ? payload : "", use_jwk, &jws, err);
        free(c->nonce); /* used: never sent twice */
        c->nonce = NULL;
        if (rc < 0)
            break;
        rc = http_do(c, "POST", url, jws.buf, accept, r, err);
        if (rc < 0)
            break;
        if (r->nonce) {
            c->nonce = r->nonce;
            r->nonce = NULL;
        }
        if (r->status < 400) {
            set_problem(c, NULL);
            break;
        }
        set_problem(c, problem_of(c, r));
        if (acme_problem_is(c->problem, "badNonce") && attempt < c->max_nonce_retries) {
            c->stats.bad_nonce_retries++;
            continue;
        }
        rc = problem_err(err, c->problem, url);
        break;
    }
    strbuf_release(&jws);
    return rc;
}

int acme_post_as_get(acme_client *c, const char *url, strbuf *out, omlop_err *err)
{
    acme_resp r = {0};
    int rc = acme_post(c, url, NULL, 0, NULL, &r, err);

    strbuf_reset(out);
    if (rc == 0)
        strbuf_add(out, r.body.buf ? r.body.buf : "", r.body.len);
    acme_resp_release(&r);
    return rc;
}

/* --- account ------------------------------------------------------------------------------ */

int acme_account_lookup(acme_client *c, int *found, omlop_err *err)
{
    acme_resp r = {0};
    int rc;

    *found = 0;
    rc = acme_post(c, c->dir_new_account, "{\"onlyReturnExisting\":true}", 1, NULL, &r, err);
    if (rc < 0 && acme_problem_is(c->problem, "accountDoesNotExist")) {
        omlop_err_clear(err);
        rc = 0;
    } else if (rc == 0) {
        if (!r.location || !*r.location) {
            rc = omlop_err_set(err, OMLOP_EPROTO, "ACME %s: account found but no Location",
                               c->dir_new_account);
        } else {
            free(c->account_url);
            c->account_url = r.location;
            r.location = NULL;
            *found = 1;
        }
    }
    acme_resp_release(&r);
    return rc;
}

int acme_account_register(acme_client *c, omlop_err *err)
{
    strbuf payload = STRBUF_INIT;
    acme_resp r = {0};
    int rc;

    if (c->dir_terms && !c->terms_agreed)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "ACME %s: the CA's terms of service (%s) must be agreed to "
                             "(termsAgreed) before an account is registered",
                             c->directory_url, c->dir_terms);
    strbuf_addf(&payload, "{\"termsOfServiceAgreed\":%s", c->terms_agreed ? "true" : "false");
    if (c->email) {
        strbuf_adds(&payload, ",\"contact\":[");
        strbuf_adds(&payload, "\"mailto:");
        strbuf_adds(&payload, c->email); /* checked in acme_client_new: no quote, no escape */
        strbuf_adds(&payload, "\"]");
    }
    strbuf_addch(&payload, '}');
    rc = acme_post(c, c->dir_new_account, payload.buf, 1, NULL, &r, err);
    if (rc == 0 && (!r.location || !*r.location))
        rc = omlop_err_set(err, OMLOP_EPROTO, "ACME %s: account created but no Location",
                           c->dir_new_account);
    if (rc == 0) {
        free(c->account_url);
        c->account_url = r.location;
        r.location = NULL;
    }
    acme_resp_release(&r);
    strbuf_release(&payload);
    return rc;
}

int acme_client_account(acme_client *c, omlop_err *err)
{
    int found = 0, rc = acme_directory(c, err);

    if (rc < 0 || c->account_url)
        return rc;
    rc = acme_account_lookup(c, &found, err);
    if (rc < 0 || found)
        return rc;
    return acme_account_register(c, err);
}

const char *acme_client_account_url(const acme_client *c)
{
    return c->account_url;
}

void acme_client_stats(const acme_client *c, acme_stats *st)
{
    *st = c->stats;
}

/* --- lifecycle --------------------------------------------------------------------------- */

static int url_ok(const char *u)
{
    return u && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0) &&
           strlen(u) <= 2048 && !strpbrk(u, " \t\r\n\"\\");
}

static int email_ok(const char *e)
{
    const char *at = e ? strchr(e, '@') : NULL;

    if (!at || at == e || !at[1] || strlen(e) > 254)
        return 0;
    for (const char *p = e; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\' || *p == ',' || *p == 0x7f)
            return 0;
    return 1;
}

int acme_client_new(const acme_config *cfg, acme_client **out, omlop_err *err)
{
    acme_client *c;
    int rc;

    *out = NULL;
    if (!url_ok(cfg->directory_url))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "acme.server: want an https:// (or http://) directory URL");
    if (cfg->email && !email_ok(cfg->email))
        return omlop_err_set(err, OMLOP_EINVAL, "acme.email '%s': not an email address",
                             cfg->email);
    if (cfg->account_url && !url_ok(cfg->account_url))
        return omlop_err_set(err, OMLOP_EINVAL, "account URL: not an http(s) URL");
    if (cfg->ca_file && access(cfg->ca_file, R_OK) != 0)
        return omlop_err_set(err, OMLOP_EINVAL, "acme CA bundle %s: %s", cfg->ca_file,
                             strerror(errno));
    if (cfg->ca_pem && !strstr(cfg->ca_pem, "-----BEGIN CERTIFICATE-----"))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "acme CA bundle (caBundle): no PEM certificate in it");
    c = xcalloc(1, sizeof(*c));
    c->key = acme_key_load(cfg->account_key_pem, 0);
    if (!c->key) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "account key: not a PEM private key");
        goto fail;
    }
    rc = acme_jwk_of(c->key, &c->jwk, &c->alg, err);
    if (rc < 0)
        goto fail;
    acme_thumbprint(&c->jwk, c->thumb);
    c->directory_url = xstrdup(cfg->directory_url);
    c->ca_file = xstrdup(cfg->ca_file);
    c->ca_pem = xstrdup(cfg->ca_pem);
    c->email = xstrdup(cfg->email);
    c->account_url = xstrdup(cfg->account_url);
    c->terms_agreed = cfg->terms_agreed;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : ACME_DEFAULT_TIMEOUT_MS;
    c->connect_timeout_ms =
        cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : ACME_DEFAULT_CONNECT_TIMEOUT_MS;
    c->max_nonce_retries = cfg->max_nonce_retries == 0  ? ACME_DEFAULT_NONCE_RETRIES
                           : cfg->max_nonce_retries < 0 ? 0
                                                        : cfg->max_nonce_retries;
    c->max_polls = cfg->max_polls > 0 ? cfg->max_polls : ACME_DEFAULT_MAX_POLLS;
    c->poll_interval_ms =
        cfg->poll_interval_ms > 0 ? cfg->poll_interval_ms : ACME_DEFAULT_POLL_INTERVAL_MS;
    c->max_wait_ms = cfg->max_wait_ms > 0 ? cfg->max_wait_ms : ACME_DEFAULT_MAX_WAIT_MS;
    c->hooks = cfg->hooks;
    c->easy = curl_easy_init();
    if (!c->easy) {
        rc = omlop_err_set(err, OMLOP_EINTERNAL, "ACME: curl_easy_init failed");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    acme_client_free(c);
    return rc;
}

void acme_client_free(acme_client *c)
{
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    EVP_PKEY_free(c->key);
    strbuf_release(&c->jwk);
    free(c->directory_url);
    free(c->ca_file);
    free(c->ca_pem);
    free(c->email);
    free(c->account_url);
    free(c->nonce);
    free(c->dir_new_nonce);
    free(c->dir_new_account);
    free(c->dir_new_order);
    free(c->dir_terms);
    acme_problem_free(c->problem);
    free(c);
}
