/*
 * fake_acme: a small in-process ACME server (RFC 8555) for the acme client's unit tests, on
 * 127.0.0.1 over plain HTTP, one connection at a time (every answer says Connection: close).
 *
 * It is strict where the client can go wrong: every POST must be a flattened JWS whose
 * signature verifies (OpenSSL, from the jwk of newAccount), whose "url" is the URL posted to,
 * with "jwk" only for newAccount and "kid" = a known account URL otherwise, and with a nonce it
 * issued and that was never used. Knobs script the rest: badNonce answers, a forgotten
 * account, how long authorizations and the order stay pending/processing, Retry-After, a
 * problem for newOrder. http-01 "validation" compares what the test's solver recorded in
 * served[] with token "." thumbprint, the thumbprint computed here from the jwk. Header-only
 * (a .c under unit-tests/ would be linked into every test binary).
 */
#ifndef OMLOP_TEST_FAKE_ACME_H
#define OMLOP_TEST_FAKE_ACME_H

#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <unistd.h>

#include "lib/strbuf.h"
#include "unit-tests/fake_http.h"

#define FA_MAX_AUTHZ  4
#define FA_MAX_NONCES 4096

typedef struct fake_acme {
    int lfd;
    int port;
    char base[64];
    pthread_t th;
    atomic_int stop;
    pthread_mutex_t mu; /* guards everything below against the test thread */

    /* knobs, set before the client runs */
    int reject_nonces;             /* answer the next N valid POSTs with badNonce */
    int account_known;             /* onlyReturnExisting finds the key's account */
    int terms;                     /* the directory has meta.termsOfService */
    int authz_polls;               /* authorizations stay pending N polls after the challenge */
    int authz_valid;               /* authorizations are valid from the start (reused) */
    int order_polls;               /* the order stays processing N polls after finalize */
    const char *retry_after;       /* Retry-After on pending/processing answers, or NULL */
    const char *order_status_line; /* newOrder answers this ("429 Too Many Requests") ... */
    const char *order_problem;     /* ... with this problem document ... */
    const char *order_problem_retry_after; /* ... and this Retry-After */
    char *chain_pem;                       /* what the certificate URL serves */

    /* what the test's http-01 solver made reachable */
    char served_token[FA_MAX_AUTHZ][128];
    char served_ka[FA_MAX_AUTHZ][256];
    int n_served;

    /* observations */
    int posts, jws_verified, jws_bad, bad_nonces_sent, nonce_misuse, heads;
    int new_account_posts, accounts_created, challenges_posted, authz_posts, finalized;
    char jwk[600]; /* the account's JWK as newAccount sent it */
    int have_account;
    strbuf first_jws;   /* the first newAccount body, for the JWS test */
    strbuf kid_jws;     /* the last kid-signed body */
    strbuf reg_payload; /* the payload of the last registration (newAccount, not lookup) */
    strbuf order_trace; /* statuses served for the order, comma separated */
    char validation_detail[256];

    /* server state */
    int nonces_issued;
    unsigned char nonce_used[FA_MAX_NONCES];
    int n_authz;
    char authz_domain[FA_MAX_AUTHZ][128];
    char authz_token[FA_MAX_AUTHZ][64];
    int authz_state[FA_MAX_AUTHZ]; /* 0 pending, 1 challenge posted, 2 valid, 3 invalid */
    int authz_left[FA_MAX_AUTHZ];
    int order_exists;
    int order_left;
} fake_acme;

static inline int fa_b64url_decode(const char *in, strbuf *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned v = 0;
    int bits = 0;

    strbuf_reset(out);
    strbuf_grow(out, strlen(in));
    for (const char *p = in; *p; p++) {
        const char *q = strchr(tab, *p);

        if (!q)
            return -1;
        v = v << 6 | (unsigned)(q - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            strbuf_addch(out, (char)(v >> bits & 0xff));
        }
    }
    return 0;
}

static inline const char *fa_str(json_object *o, const char *k)
{
    json_object *v;

    if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* The public key of an EC P-256 or RSA JWK (OpenSSL), or NULL. */
static inline EVP_PKEY *fa_jwk_key(json_object *jwk)
{
    const char *kty = fa_str(jwk, "kty");
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    strbuf a = STRBUF_INIT, b = STRBUF_INIT;
    BIGNUM *n = NULL, *e = NULL;
    unsigned char pt[65]; /* the builder keeps a pointer to it until to_param */

    if (!kty)
        goto out;
    if (strcmp(kty, "EC") == 0 && fa_str(jwk, "x") && fa_str(jwk, "y") &&
        fa_b64url_decode(fa_str(jwk, "x"), &a) == 0 &&
        fa_b64url_decode(fa_str(jwk, "y"), &b) == 0 && a.len == 32 && b.len == 32) {
        pt[0] = 4;
        memcpy(pt + 1, a.buf, 32);
        memcpy(pt + 33, b.buf, 32);
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt));
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    } else if (strcmp(kty, "RSA") == 0 && fa_str(jwk, "n") && fa_str(jwk, "e") &&
               fa_b64url_decode(fa_str(jwk, "n"), &a) == 0 &&
               fa_b64url_decode(fa_str(jwk, "e"), &b) == 0) {
        n = BN_bin2bn((const unsigned char *)a.buf, (int)a.len, NULL);
        e = BN_bin2bn((const unsigned char *)b.buf, (int)b.len, NULL);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    } else {
        goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pk = NULL;
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    strbuf_release(&a);
    strbuf_release(&b);
    return pk;
}

/*
 * Verify a flattened JWS with OpenSSL: 1 when the signature over "protected.payload" is the
 * key's. ES256 signatures are r||s (64 bytes) and are turned back into DER here.
 */
static inline int fa_jws_verify(EVP_PKEY *key, const char *prot64, const char *payload64,
                                const char *sig64)
{
    strbuf sig = STRBUF_INIT, input = STRBUF_INIT;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    int ok = 0, dlen = 0;

    if (fa_b64url_decode(sig64, &sig) < 0)
        goto out;
    strbuf_addf(&input, "%s.%s", prot64, payload64);
    if (EVP_PKEY_is_a(key, "EC")) {
        ECDSA_SIG *es;

        if (sig.len != 64)
            goto out;
        es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn((unsigned char *)sig.buf, 32, NULL),
                       BN_bin2bn((unsigned char *)sig.buf + 32, 32, NULL));
        dlen = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
    } else {
        der = OPENSSL_malloc(sig.len);
        memcpy(der, sig.buf, sig.len);
        dlen = (int)sig.len;
    }
    ok = dlen > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
         EVP_DigestVerify(md, der, (size_t)dlen, (const unsigned char *)input.buf, input.len) == 1;
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    strbuf_release(&sig);
    strbuf_release(&input);
    return ok;
}

/* RFC 7638 thumbprint of an EC P-256 JWK computed here, independently of clients/acme. */
static inline void fa_thumbprint(json_object *jwk, char out[64])
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char md[32];
    strbuf s = STRBUF_INIT;
    int o = 0;

    strbuf_addf(&s, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                fa_str(jwk, "x"), fa_str(jwk, "y"));
    SHA256((unsigned char *)s.buf, s.len, md);
    for (int i = 0; i < 32; i += 3) {
        unsigned v = (unsigned)md[i] << 16 | (i + 1 < 32 ? (unsigned)md[i + 1] << 8 : 0) |
                     (i + 2 < 32 ? md[i + 2] : 0);
        int chars = i + 2 < 32 ? 4 : 3; /* 32 = 10*3 + 2: the last group has 2 bytes */

        for (int k = 0; k < chars; k++)
            out[o++] = tab[v >> (18 - 6 * k) & 63];
    }
    out[o] = '\0';
    strbuf_release(&s);
}

static inline void fa_send(fake_acme *f, int fd, const char *status, const char *ctype,
                           const char *extra, const char *body, int head)
{
    strbuf r = STRBUF_INIT;

    strbuf_addf(&r, "HTTP/1.1 %s\r\nReplay-Nonce: nonce-%d\r\nConnection: close\r\n", status,
                f->nonces_issued++);
    if (ctype)
        strbuf_addf(&r, "Content-Type: %s\r\n", ctype);
    if (extra)
        strbuf_adds(&r, extra);
    strbuf_addf(&r, "Content-Length: %zu\r\n\r\n", strlen(body));
    if (!head)
        strbuf_adds(&r, body);
    fake_http_send_all(fd, r.buf, r.len);
    strbuf_release(&r);
}

static inline void fa_problem(fake_acme *f, int fd, const char *status, const char *type,
                              const char *detail)
{
    strbuf b = STRBUF_INIT;

    strbuf_addf(&b, "{\"type\":\"urn:ietf:params:acme:error:%s\",\"detail\":\"%s\",\"status\":%d}",
                type, detail, atoi(status));
    fa_send(f, fd, status, "application/problem+json", NULL, b.buf, 0);
    strbuf_release(&b);
}

static inline const char *fa_order_status(fake_acme *f)
{
    int all_valid = 1;

    for (int i = 0; i < f->n_authz; i++) {
        if (f->authz_state[i] == 3)
            return "invalid";
        all_valid &= f->authz_state[i] == 2;
    }
    if (f->finalized)
        return f->order_left > 0 ? "processing" : "valid";
    return all_valid ? "ready" : "pending";
}

static inline void fa_send_order(fake_acme *f, int fd, const char *status_line, int poll)
{
    strbuf b = STRBUF_INIT, h = STRBUF_INIT;
    const char *st;

    st = fa_order_status(f);
    if (poll && f->finalized && f->order_left > 0)
        f->order_left--; /* this poll was answered "processing"; the next may be valid */
    strbuf_addf(&f->order_trace, "%s%s", f->order_trace.len ? "," : "", st);
    strbuf_addf(&b, "{\"status\":\"%s\",\"finalize\":\"%s/order/1/finalize\",\"authorizations\":[",
                st, f->base);
    for (int i = 0; i < f->n_authz; i++)
        strbuf_addf(&b, "%s\"%s/authz/%d\"", i ? "," : "", f->base, i);
    strbuf_adds(&b, "]");
    if (strcmp(st, "valid") == 0)
        strbuf_addf(&b, ",\"certificate\":\"%s/cert/1\"", f->base);
    if (strcmp(st, "invalid") == 0)
        strbuf_addf(&b, ",\"error\":{\"type\":\"urn:ietf:params:acme:error:unauthorized\","
                        "\"detail\":\"an authorization failed\"}");
    strbuf_adds(&b, "}");
    strbuf_addf(&h, "Location: %s/order/1\r\n", f->base);
    if (f->retry_after && (strcmp(st, "processing") == 0 || strcmp(st, "pending") == 0))
        strbuf_addf(&h, "Retry-After: %s\r\n", f->retry_after);
    fa_send(f, fd, status_line, "application/json", h.buf, b.buf, 0);
    strbuf_release(&b);
    strbuf_release(&h);
}

static inline void fa_send_authz(fake_acme *f, int fd, int i)
{
    static const char *names[] = {"pending", "pending", "valid", "invalid"};
    strbuf b = STRBUF_INIT, h = STRBUF_INIT;
    const char *chst = f->authz_state[i] == 0   ? "pending"
                       : f->authz_state[i] == 1 ? "processing"
                                                : names[f->authz_state[i]];

    strbuf_addf(&b,
                "{\"status\":\"%s\",\"identifier\":{\"type\":\"dns\",\"value\":\"%s\"},"
                "\"challenges\":[{\"type\":\"dns-01\",\"url\":\"%s/chall-dns/%d\",\"status\":"
                "\"pending\",\"token\":\"dnstoken\"},{\"type\":\"http-01\",\"url\":\"%s/chall/%d\","
                "\"status\":\"%s\",\"token\":\"%s\"",
                names[f->authz_state[i]], f->authz_domain[i], f->base, i, f->base, i, chst,
                f->authz_token[i]);
    if (f->authz_state[i] == 3)
        strbuf_addf(&b,
                    ",\"error\":{\"type\":\"urn:ietf:params:acme:error:unauthorized\","
                    "\"detail\":\"%s\",\"status\":403}",
                    f->validation_detail);
    strbuf_adds(&b, "}]}");
    if (f->retry_after && f->authz_state[i] == 1)
        strbuf_addf(&h, "Retry-After: %s\r\n", f->retry_after);
    fa_send(f, fd, "200 OK", "application/json", h.len ? h.buf : NULL, b.buf, 0);
    strbuf_release(&b);
    strbuf_release(&h);
}

/* One authorization poll after its challenge: count down, then check what was served. */
static inline void fa_authz_advance(fake_acme *f, int i)
{
    char want[256], thumb[64];
    json_object *jwk;

    if (f->authz_state[i] != 1)
        return;
    if (f->authz_left[i] > 0) {
        f->authz_left[i]--;
        return;
    }
    jwk = json_tokener_parse(f->jwk);
    fa_thumbprint(jwk, thumb);
    json_object_put(jwk);
    snprintf(want, sizeof(want), "%s.%s", f->authz_token[i], thumb);
    f->authz_state[i] = 3;
    for (int k = 0; k < f->n_served; k++)
        if (strcmp(f->served_token[k], f->authz_token[i]) == 0 &&
            strcmp(f->served_ka[k], want) == 0)
            f->authz_state[i] = 2;
    if (f->authz_state[i] == 3)
        snprintf(f->validation_detail, sizeof(f->validation_detail),
                 "Invalid response from http://%s/.well-known/acme-challenge/%s: 404",
                 f->authz_domain[i], f->authz_token[i]);
}

static inline void fa_new_order(fake_acme *f, int fd, json_object *payload)
{
    json_object *ids;

    if (f->order_status_line) {
        strbuf h = STRBUF_INIT;

        if (f->order_problem_retry_after)
            strbuf_addf(&h, "Retry-After: %s\r\n", f->order_problem_retry_after);
        fa_send(f, fd, f->order_status_line, "application/problem+json", h.len ? h.buf : NULL,
                f->order_problem, 0);
        strbuf_release(&h);
        return;
    }
    if (!json_object_object_get_ex(payload, "identifiers", &ids) ||
        json_object_array_length(ids) == 0 || json_object_array_length(ids) > FA_MAX_AUTHZ) {
        fa_problem(f, fd, "400 Bad Request", "malformed", "identifiers");
        return;
    }
    f->n_authz = (int)json_object_array_length(ids);
    for (int i = 0; i < f->n_authz; i++) {
        snprintf(f->authz_domain[i], sizeof(f->authz_domain[i]), "%s",
                 fa_str(json_object_array_get_idx(ids, (size_t)i), "value"));
        snprintf(f->authz_token[i], sizeof(f->authz_token[i]), "tok_%d-Ab9", i);
        f->authz_state[i] = f->authz_valid ? 2 : 0;
    }
    f->order_exists = 1;
    f->finalized = 0;
    fa_send_order(f, fd, "201 Created", 0);
}

static inline void fa_finalize(fake_acme *f, int fd, json_object *payload)
{
    strbuf der = STRBUF_INIT;
    const unsigned char *p;
    X509_REQ *req = NULL;

    if (strcmp(fa_order_status(f), "ready") != 0) {
        fa_problem(f, fd, "403 Forbidden", "orderNotReady", "order is not ready");
        return;
    }
    if (!fa_str(payload, "csr") || fa_b64url_decode(fa_str(payload, "csr"), &der) < 0 ||
        !(p = (const unsigned char *)der.buf, req = d2i_X509_REQ(NULL, &p, (long)der.len)) ||
        X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1) {
        fa_problem(f, fd, "400 Bad Request", "badCSR", "CSR does not parse or verify");
    } else {
        f->finalized = 1;
        f->order_left = f->order_polls;
        fa_send_order(f, fd, "200 OK", 0);
    }
    X509_REQ_free(req);
    strbuf_release(&der);
}

/* Check the JWS of a POST; answer its problem and return -1 when it is wrong. */
static inline int fa_check_jws(fake_acme *f, int fd, const char *target, const char *body,
                               json_object **payload_out, int *is_new_account)
{
    json_object *jws = json_tokener_parse(body), *prot = NULL, *jwk = NULL;
    strbuf pj = STRBUF_INIT, pl = STRBUF_INIT;
    const char *p64 = fa_str(jws, "protected"), *pay64 = fa_str(jws, "payload");
    const char *s64 = fa_str(jws, "signature"), *nonce, *url, *kid;
    char want_url[1200], acct[128];
    EVP_PKEY *key = NULL;
    int rc = -1, n = -1;

    snprintf(want_url, sizeof(want_url), "%s%s", f->base, target);
    snprintf(acct, sizeof(acct), "%s/acct/1", f->base);
    *is_new_account = strcmp(target, "/acct/new") == 0;
    if (!p64 || !pay64 || !s64 || fa_b64url_decode(p64, &pj) < 0 ||
        fa_b64url_decode(pay64, &pl) < 0 || !(prot = json_tokener_parse(pj.buf ? pj.buf : ""))) {
        fa_problem(f, fd, "400 Bad Request", "malformed", "not a flattened JWS");
        goto out;
    }
    nonce = fa_str(prot, "nonce");
    url = fa_str(prot, "url");
    kid = fa_str(prot, "kid");
    json_object_object_get_ex(prot, "jwk", &jwk);
    if (!url || strcmp(url, want_url) != 0 || !fa_str(prot, "alg") ||
        (*is_new_account ? !jwk || kid : jwk || !kid)) {
        fa_problem(f, fd, "400 Bad Request", "malformed", "bad protected header");
        goto out;
    }
    if (*is_new_account)
        key = fa_jwk_key(jwk);
    else if (strcmp(kid, acct) == 0 && f->have_account) {
        json_object *saved = json_tokener_parse(f->jwk);

        key = fa_jwk_key(saved);
        json_object_put(saved);
    } else {
        fa_problem(f, fd, "400 Bad Request", "accountDoesNotExist", "no such account");
        goto out;
    }
    /* the algorithm must be the key's: ES256 for EC P-256, RS256 for RSA */
    if (!key || strcmp(fa_str(prot, "alg"), EVP_PKEY_is_a(key, "EC") ? "ES256" : "RS256") != 0 ||
        !fa_jws_verify(key, p64, pay64, s64)) {
        f->jws_bad++;
        fa_problem(f, fd, "400 Bad Request", "malformed", "bad algorithm or signature");
        goto out;
    }
    f->jws_verified++;
    if (!nonce || sscanf(nonce, "nonce-%d", &n) != 1 || n < 0 || n >= f->nonces_issued ||
        n >= FA_MAX_NONCES || f->nonce_used[n]) {
        f->nonce_misuse++;
        fa_problem(f, fd, "400 Bad Request", "badNonce", "unknown or used nonce");
        goto out;
    }
    f->nonce_used[n] = 1;
    if (f->reject_nonces > 0) {
        f->reject_nonces--;
        f->bad_nonces_sent++;
        fa_problem(f, fd, "400 Bad Request", "badNonce", "JWS has an invalid anti-replay nonce");
        goto out;
    }
    if (*is_new_account) {
        snprintf(f->jwk, sizeof(f->jwk), "%s",
                 json_object_to_json_string_ext(jwk, JSON_C_TO_STRING_PLAIN));
        if (!f->first_jws.len)
            strbuf_adds(&f->first_jws, body);
    } else {
        strbuf_reset(&f->kid_jws);
        strbuf_adds(&f->kid_jws, body);
    }
    *payload_out = pl.len ? json_tokener_parse(pl.buf) : NULL;
    rc = 0;
out:
    EVP_PKEY_free(key);
    json_object_put(prot);
    json_object_put(jws);
    strbuf_release(&pj);
    strbuf_release(&pl);
    return rc;
}

static inline void fa_post(fake_acme *f, int fd, const char *target, const char *body)
{
    json_object *payload = NULL;
    int is_new_account, i;
    char loc[160];

    f->posts++;
    if (fa_check_jws(f, fd, target, body, &payload, &is_new_account) < 0)
        return;
    snprintf(loc, sizeof(loc), "Location: %s/acct/1\r\n", f->base);
    if (is_new_account) {
        json_object *ore;
        int only = json_object_object_get_ex(payload, "onlyReturnExisting", &ore) &&
                   json_object_get_boolean(ore);

        f->new_account_posts++;
        if (only && !f->account_known)
            fa_problem(f, fd, "400 Bad Request", "accountDoesNotExist", "no account for key");
        else if (only) {
            f->have_account = 1;
            fa_send(f, fd, "200 OK", "application/json", loc, "{\"status\":\"valid\"}", 0);
        } else {
            f->accounts_created++;
            f->have_account = 1;
            strbuf_reset(&f->reg_payload);
            strbuf_adds(&f->reg_payload,
                        json_object_to_json_string_ext(
                            payload, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
            f->account_known = 1;
            fa_send(f, fd, "201 Created", "application/json", loc, "{\"status\":\"valid\"}", 0);
        }
    } else if (strcmp(target, "/order/new") == 0) {
        fa_new_order(f, fd, payload);
    } else if (strcmp(target, "/order/1") == 0 && f->order_exists) {
        fa_send_order(f, fd, "200 OK", 1);
    } else if (strcmp(target, "/order/1/finalize") == 0 && f->order_exists) {
        fa_finalize(f, fd, payload);
    } else if (sscanf(target, "/authz/%d", &i) == 1 && i >= 0 && i < f->n_authz) {
        f->authz_posts++;
        fa_authz_advance(f, i);
        fa_send_authz(f, fd, i);
    } else if (sscanf(target, "/chall/%d", &i) == 1 && i >= 0 && i < f->n_authz) {
        strbuf b = STRBUF_INIT, h = STRBUF_INIT;

        f->challenges_posted++;
        if (f->authz_state[i] == 0) {
            f->authz_state[i] = 1;
            f->authz_left[i] = f->authz_polls;
        }
        strbuf_addf(&b, "{\"type\":\"http-01\",\"status\":\"processing\",\"token\":\"%s\"}",
                    f->authz_token[i]);
        if (f->retry_after)
            strbuf_addf(&h, "Retry-After: %s\r\n", f->retry_after);
        fa_send(f, fd, "200 OK", "application/json", h.len ? h.buf : NULL, b.buf, 0);
        strbuf_release(&b);
        strbuf_release(&h);
    } else if (strcmp(target, "/cert/1") == 0 && strcmp(fa_order_status(f), "valid") == 0) {
        fa_send(f, fd, "200 OK", "application/pem-certificate-chain", NULL,
                f->chain_pem ? f->chain_pem : "", 0);
    } else if (strcmp(target, "/acct/1") == 0) {
        fa_send(f, fd, "200 OK", "application/json", NULL, "{\"status\":\"valid\"}", 0);
    } else {
        fa_problem(f, fd, "404 Not Found", "malformed", "no such resource");
    }
    json_object_put(payload);
}

static inline void fa_handle(fake_acme *f, int fd)
{
    strbuf in = STRBUF_INIT, body = STRBUF_INIT, dir = STRBUF_INIT;
    char method[16], target[1024];

    if (fake_http_read_request(&f->stop, fd, &in, method, target, &body) < 0)
        goto out;
    pthread_mutex_lock(&f->mu);
    if (strcmp(method, "GET") == 0 && strcmp(target, "/dir") == 0) {
        strbuf_addf(&dir,
                    "{\"newNonce\":\"%s/nonce\",\"newAccount\":\"%s/acct/new\","
                    "\"newOrder\":\"%s/order/new\",\"revokeCert\":\"%s/revoke\"",
                    f->base, f->base, f->base, f->base);
        if (f->terms)
            strbuf_addf(&dir, ",\"meta\":{\"termsOfService\":\"%s/terms.pdf\"}", f->base);
        strbuf_adds(&dir, "}");
        fa_send(f, fd, "200 OK", "application/json", NULL, dir.buf, 0);
    } else if ((strcmp(method, "HEAD") == 0 || strcmp(method, "GET") == 0) &&
               strcmp(target, "/nonce") == 0) {
        f->heads++;
        fa_send(f, fd, "200 OK", NULL, "Cache-Control: no-store\r\n", "",
                strcmp(method, "HEAD") == 0);
    } else if (strcmp(method, "POST") == 0) {
        fa_post(f, fd, target, body.buf ? body.buf : "");
    } else {
        fa_send(f, fd, "404 Not Found", "text/plain", NULL, "no\n", 0);
    }
    pthread_mutex_unlock(&f->mu);
out:
    strbuf_release(&in);
    strbuf_release(&body);
    strbuf_release(&dir);
}

static inline void *fa_thread(void *arg)
{
    fake_acme *f = arg;

    while (!atomic_load(&f->stop)) {
        struct pollfd p = {f->lfd, POLLIN, 0};
        int fd;

        if (poll(&p, 1, 100) <= 0)
            continue;
        fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        fa_handle(f, fd);
        close(fd);
    }
    return NULL;
}

/* Start f (zeroed by the caller, knobs may be set) on an ephemeral port of 127.0.0.1. */
static inline void fake_acme_start(fake_acme *f)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int one = 1;

    pthread_mutex_init(&f->mu, NULL);
    atomic_store(&f->stop, 0);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(f->lfd, 16) < 0)
        abort();
    getsockname(f->lfd, (struct sockaddr *)&a, &len);
    f->port = ntohs(a.sin_port);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->port);
    pthread_create(&f->th, NULL, fa_thread, f);
}

static inline void fake_acme_stop(fake_acme *f)
{
    atomic_store(&f->stop, 1);
    pthread_join(f->th, NULL);
    close(f->lfd);
    pthread_mutex_destroy(&f->mu);
    strbuf_release(&f->first_jws);
    strbuf_release(&f->kid_jws);
    strbuf_release(&f->reg_payload);
    strbuf_release(&f->order_trace);
}

#endif
