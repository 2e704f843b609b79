/*
 * Tests for clients/acme against the in-process fake ACME server (fake_acme.h): JWS signing
 * verified with OpenSSL, the RFC 7638 thumbprint, badNonce retries and their bound, the order
 * state machine, problem documents, Retry-After and the account cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/pem.h>

#include "clients/acme.h"
#include "lib/clock.h"
#include "lib/tlspair.h"
#include "unit-tests/clients/fake_acme.h"

#define FIXED_NOW 1800000000LL

/* The test's clock: time stands still, sleeps are recorded. */
typedef struct clk {
    int n_sleeps;
    int64_t slept[64];
    int64_t total;
} clk;

static int64_t clk_now(void *ud)
{
    (void)ud;
    return FIXED_NOW;
}

static void clk_sleep(void *ud, int64_t ms)
{
    clk *c = ud;

    if (c->n_sleeps < 64)
        c->slept[c->n_sleeps] = ms;
    c->n_sleeps++;
    c->total += ms;
}

/* The test's http-01 solver: records (token, key authorization) where the fake looks. */
typedef struct solver {
    fake_acme *f;
    int serve; /* 0: present() succeeds but nothing is served (validation fails) */
    int presented, cleaned;
    char domains[8][64];
} solver;

static int solver_present(void *ud, const char *domain, const char *token, const char *ka,
                          omlop_err *err)
{
    solver *s = ud;

    (void)err;
    if (s->presented < 8)
        snprintf(s->domains[s->presented], sizeof(s->domains[0]), "%s", domain);
    s->presented++;
    if (!s->serve)
        return 0;
    pthread_mutex_lock(&s->f->mu);
    snprintf(s->f->served_token[s->f->n_served], 128, "%s", token);
    snprintf(s->f->served_ka[s->f->n_served], 256, "%s", ka);
    s->f->n_served++;
    pthread_mutex_unlock(&s->f->mu);
    return 0;
}

static int solver_cleanup(void *ud, const char *domain, const char *token, const char *ka,
                          omlop_err *err)
{
    solver *s = ud;

    (void)domain, (void)token, (void)ka, (void)err;
    s->cleaned++;
    return 0;
}

typedef struct fx {
    fake_acme f;
    clk clock;
    solver sol;
    char *account_key;
    char *cert_key;
    char dir[96];
    acme_config cfg;
    acme_client *c;
} fx;

static int fx_setup(void **state)
{
    fx *x = calloc(1, sizeof(*x));
    const char *dns[] = {"t1.example.com"};
    tlspair_selfsigned_opts o = {
        TLSPAIR_KEY_EC_P256, "t1.example.com", dns, 1, NULL, 0, FIXED_NOW, 0};
    char *k;

    assert_int_equal(tlspair_key_generate(TLSPAIR_KEY_EC_P256, &x->account_key, NULL), 0);
    assert_int_equal(tlspair_key_generate(TLSPAIR_KEY_EC_P256, &x->cert_key, NULL), 0);
    assert_int_equal(tlspair_selfsigned(&o, &x->f.chain_pem, &k, NULL), 0);
    tlspair_free_secret(k);
    fake_acme_start(&x->f);
    snprintf(x->dir, sizeof(x->dir), "%s/dir", x->f.base);
    x->cfg.directory_url = x->dir;
    x->cfg.account_key_pem = x->account_key;
    x->cfg.email = "ops@example.com";
    x->cfg.terms_agreed = 1;
    x->cfg.timeout_ms = 5000;
    x->cfg.hooks.now_s = clk_now;
    x->cfg.hooks.sleep_ms = clk_sleep;
    x->cfg.hooks.ud = &x->clock;
    x->sol.f = &x->f;
    x->sol.serve = 1;
    *state = x;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *x = *state;

    acme_client_free(x->c);
    fake_acme_stop(&x->f);
    free(x->f.chain_pem);
    tlspair_free_secret(x->account_key);
    tlspair_free_secret(x->cert_key);
    free(x);
    return 0;
}

static void fx_client(fx *x)
{
    omlop_err err = OMLOP_ERR_INIT;

    acme_client_free(x->c);
    x->c = NULL;
    if (acme_client_new(&x->cfg, &x->c, &err) < 0)
        fail_msg("acme_client_new: %s", err.msg);
}

static acme_order *fx_order(fx *x, const char *const *domains, size_t n)
{
    acme_order_req req = {domains, n, x->cert_key, solver_present, solver_cleanup, &x->sol};
    acme_order *o = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(acme_order_new(x->c, &req, &o, &err), 0);
    return o;
}

/* --- pure helpers -------------------------------------------------------------------------- */

static void test_acme_b64url_matches_rfc4648_vectors(void **state)
{
    static const struct {
        const char *in, *out;
    } t[] = {{"", ""},
             {"f", "Zg"},
             {"fo", "Zm8"},
             {"foo", "Zm9v"},
             {"foob", "Zm9vYg"},
             {"fooba", "Zm9vYmE"},
             {"foobar", "Zm9vYmFy"},
             {"\xfb\xff", "-_8"},
             {"\xff\xfe\xfd", "__79"}};

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        strbuf sb = STRBUF_INIT;

        acme_b64url(&sb, t[i].in, strlen(t[i].in));
        assert_string_equal(strbuf_str(&sb), t[i].out);
        strbuf_release(&sb);
    }
}

/* RFC 7638 section 3.1: the example RSA key and its thumbprint. */
static void test_acme_jwk_thumbprint_matches_rfc7638_example(void **state)
{
    static const char n64[] =
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
        "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
        "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
        "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    json_object *jwk = json_object_new_object();
    EVP_PKEY *pk;
    BIO *b = BIO_new(BIO_s_mem());
    strbuf pem = STRBUF_INIT, out = STRBUF_INIT;
    char thumb[44], *data;
    long len;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    json_object_object_add(jwk, "kty", json_object_new_string("RSA"));
    json_object_object_add(jwk, "n", json_object_new_string(n64));
    json_object_object_add(jwk, "e", json_object_new_string("AQAB"));
    pk = fa_jwk_key(jwk);
    assert_non_null(pk);
    PEM_write_bio_PUBKEY(b, pk);
    len = BIO_get_mem_data(b, &data);
    strbuf_add(&pem, data, (size_t)len);
    assert_int_equal(acme_jwk(pem.buf, &out, thumb, &err), 0);
    assert_string_equal(thumb, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    assert_true(strncmp(out.buf, "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"0vx7ag", 34) == 0);
    EVP_PKEY_free(pk);
    BIO_free(b);
    json_object_put(jwk);
    strbuf_release(&pem);
    strbuf_release(&out);
}

static void test_acme_retry_after_parses_seconds_and_dates(void **state)
{
    (void)state;
    assert_int_equal(acme_retry_after_parse("120", 0), 120);
    assert_int_equal(acme_retry_after_parse("0", 0), 0);
    assert_int_equal(acme_retry_after_parse("-5", 0), -1);
    assert_int_equal(acme_retry_after_parse("12x", 0), -1);
    assert_int_equal(acme_retry_after_parse("", 0), -1);
    assert_int_equal(acme_retry_after_parse(NULL, 0), -1);
    /* 1800000000 is Fri, 15 Jan 2027 08:00:00 GMT */
    assert_int_equal(acme_retry_after_parse("Fri, 15 Jan 2027 08:00:12 GMT", FIXED_NOW), 12);
    assert_int_equal(acme_retry_after_parse("Fri, 15 Jan 2027 07:00:00 GMT", FIXED_NOW), 0);
    assert_int_equal(acme_retry_after_parse("tomorrow", FIXED_NOW), -1);
}

static void test_acme_client_new_refuses_bad_config_naming_the_field(void **state)
{
    fx *x = *state;
    acme_config cfg = x->cfg;
    acme_client *c = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    BIO *b = BIO_new(BIO_s_mem());
    strbuf pem = STRBUF_INIT;
    char *data;
    long len;

    cfg.directory_url = "ftp://x/dir";
    assert_int_equal(acme_client_new(&cfg, &c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "acme.server"));
    cfg.directory_url = x->dir;
    cfg.email = "no-at-sign";
    assert_int_equal(acme_client_new(&cfg, &c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "acme.email"));
    cfg.email = "a\"@b";
    assert_int_equal(acme_client_new(&cfg, &c, &err), OMLOP_EINVAL);
    cfg.email = NULL;
    cfg.ca_file = "/nonexistent/ca.pem";
    assert_int_equal(acme_client_new(&cfg, &c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "acme CA bundle /nonexistent/ca.pem"));
    cfg.ca_file = NULL;
    cfg.account_key_pem = "not a key";
    assert_int_equal(acme_client_new(&cfg, &c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "account key"));
    PEM_write_bio_PrivateKey(b, p384, NULL, NULL, 0, NULL, NULL);
    len = BIO_get_mem_data(b, &data);
    strbuf_add(&pem, data, (size_t)len);
    cfg.account_key_pem = pem.buf;
    assert_int_equal(acme_client_new(&cfg, &c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "P-256"));
    assert_null(strstr(err.msg, "PRIVATE KEY"));
    assert_null(c);
    strbuf_release(&pem);
    BIO_free(b);
    EVP_PKEY_free(p384);
}

/* --- JWS ----------------------------------------------------------------------------------- */

/* Verify a captured flattened JWS with OpenSSL; returns its protected header (caller puts). */
static json_object *verify_captured(const char *body, EVP_PKEY *key)
{
    json_object *jws = json_tokener_parse(body), *prot;
    strbuf pj = STRBUF_INIT, sig = STRBUF_INIT;
    const char *p64 = fa_str(jws, "protected"), *pay = fa_str(jws, "payload");
    const char *s64 = fa_str(jws, "signature");

    assert_non_null(p64);
    assert_non_null(pay);
    assert_non_null(s64);
    assert_int_equal(fa_b64url_decode(s64, &sig), 0);
    assert_int_equal(sig.len, 64); /* r||s, not DER */
    assert_int_equal(fa_jws_verify(key, p64, pay, s64), 1);
    /* the verifier is not trivially true: another payload does not verify */
    assert_int_equal(fa_jws_verify(key, p64, "e30", s64), 0);
    assert_int_equal(fa_b64url_decode(p64, &pj), 0);
    prot = json_tokener_parse(pj.buf);
    assert_non_null(prot);
    strbuf_release(&pj);
    strbuf_release(&sig);
    json_object_put(jws);
    return prot;
}

static void test_acme_jws_signature_verifies_with_openssl(void **state)
{
    fx *x = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *prot, *jwk = NULL;
    EVP_PKEY *key;
    strbuf out = STRBUF_INIT, ka = STRBUF_INIT;
    char want_url[128], acct[128], thumb[64];

    fx_client(x);
    assert_int_equal(acme_client_account(x->c, &err), 0);
    snprintf(acct, sizeof(acct), "%s/acct/1", x->f.base);
    assert_string_equal(acme_client_account_url(x->c), acct);

    /* newAccount: jwk, no kid, the url posted to, a nonce */
    {
        json_object *jws = json_tokener_parse(x->f.first_jws.buf);
        strbuf pj = STRBUF_INIT;

        assert_int_equal(fa_b64url_decode(fa_str(jws, "protected"), &pj), 0);
        prot = json_tokener_parse(pj.buf);
        assert_true(json_object_object_get_ex(prot, "jwk", &jwk));
        key = fa_jwk_key(jwk);
        assert_non_null(key);
        fa_thumbprint(jwk, thumb);
        json_object_put(prot);
        json_object_put(jws);
        strbuf_release(&pj);
    }
    prot = verify_captured(x->f.first_jws.buf, key);
    snprintf(want_url, sizeof(want_url), "%s/acct/new", x->f.base);
    assert_string_equal(fa_str(prot, "alg"), "ES256");
    assert_string_equal(fa_str(prot, "url"), want_url);
    assert_non_null(fa_str(prot, "nonce"));
    assert_null(fa_str(prot, "kid"));
    json_object_put(prot);

    /* afterwards: kid = the account URL, no jwk */
    assert_int_equal(acme_post_as_get(x->c, acct, &out, &err), 0);
    assert_string_equal(out.buf, "{\"status\":\"valid\"}");
    prot = verify_captured(x->f.kid_jws.buf, key);
    assert_string_equal(fa_str(prot, "kid"), acct);
    assert_false(json_object_object_get_ex(prot, "jwk", NULL));
    assert_string_equal(fa_str(prot, "url"), acct);
    json_object_put(prot);

    /* the key authorization is token "." the thumbprint computed from that jwk */
    assert_int_equal(acme_key_authorization(x->c, "tok_1-x", &ka, &err), 0);
    assert_true(strncmp(ka.buf, "tok_1-x.", 8) == 0);
    assert_string_equal(ka.buf + 8, thumb);
    assert_int_equal(acme_key_authorization(x->c, "../etc", &ka, &err), OMLOP_EPROTO);

    assert_int_equal(x->f.jws_bad, 0);
    assert_int_equal(x->f.jws_verified, x->f.posts);
    EVP_PKEY_free(key);
    strbuf_release(&out);
    strbuf_release(&ka);
}

static void test_acme_rsa_account_key_signs_rs256(void **state)
{
    fx *x = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *jws, *prot;
    strbuf pj = STRBUF_INIT;
    char *rsa = NULL;

    assert_int_equal(tlspair_key_generate(TLSPAIR_KEY_RSA_2048, &rsa, NULL), 0);
    x->cfg.account_key_pem = rsa;
    fx_client(x);
    assert_int_equal(acme_client_account(x->c, &err), 0);
    assert_int_equal(x->f.jws_bad, 0);
    assert_true(x->f.jws_verified >= 2); /* the lookup and the registration */
    jws = json_tokener_parse(x->f.first_jws.buf);
    assert_int_equal(fa_b64url_decode(fa_str(jws, "protected"), &pj), 0);
    prot = json_tokener_parse(pj.buf);
    assert_string_equal(fa_str(prot, "alg"), "RS256");
    json_object_put(prot);
    json_object_put(jws);
    strbuf_release(&pj);
    acme_client_free(x->c);
    x->c = NULL;
    tlspair_free_secret(rsa);
}

/* --- nonces -------------------------------------------------------------------------------- */

static void test_acme_bad_nonce_is_retried_with_the_nonce_it_carries(void **state)
{
    fx *x = *state;
    omlop_err err = OMLOP_ERR_INIT;
    acme_stats st;

    x->f.reject_nonces = 3;
    fx_client(x);
    assert_int_equal(acme_client_account(x->c, &err), 0);
    acme_client_stats(x->c, &st);
    assert_int_equal(st.bad_nonce_retries, 3);
    assert_int_equal(x->f.bad_nonces_sent, 3);
    assert_int_equal(st.nonce_fetches, 1); /* later nonces came in Replay-Nonce */
    assert_int_equal(x->f.heads, 1);
    assert_int_equal(x->f.nonce_misuse, 0); /* never a used or unknown nonce */
    assert_null(acme_client_problem(x->c));
}

static void test_acme_bad_nonce_retries_are_bounded(void **state)
{
    fx *x = *state;
    omlop_err err = OMLOP_ERR_INIT;
    const acme_problem *p;
    acme_stats st;

    /* at the bound: 2 retries allowed, 2 rejections: succeeds */
    x->cfg.max_nonce_retries = 2;
    x->f.reject_nonces = 2;
    fx_client(x);
    assert_int_equal(acme_client_account(x->c, &err), 0);
    /* past it: 3 rejections, exactly 3 tries, then the badNonce problem */
    x->cfg.account_url = NULL;
    fx_client(x);
    x->f.reject_nonces = 3;
    x->f.new_account_posts = 0;
    assert_int_equal(acme_client_account(x->c, &err), OMLOP_EUNAVAIL);
    assert_int_equal(x->f.new_account_posts, 0); /* rejected before reaching the handler */
    assert_int_equal(x->f.reject_nonces, 0);
    acme_client_stats(x->c, &st);
    assert_int_equal(st.bad_nonce_retries, 2);
    p = acme_client_problem(x->c);
    assert_non_null(p);
    assert_true(acme_problem_is(p, "badNonce"));
    assert_int_equal(p->http_status, 400);
    assert_non_null(strstr(err.msg, "badNonce"));
    /* no retries at all */
    x->cfg.max_nonce_retries = -1;
    fx_client(x);
    x->f.reject_nonces = 1;
    assert_int_equal(acme_client_account(x->c, &err), OMLOP_EUNAVAIL);
    assert_int_equal(x->f.reject_nonces, 0);
}

/* --- the order ----------------------------------------------------------------------------- */

static void test_acme_order_walks_pending_ready_processing_valid(void **state)
{
    fx *x = *state;
    const char *domains[] = {"t1.example.com", "www.t1.example.com"};
    static const char *const want[] = {"account-lookup",     "account-register",
                                       "new-order",          "authorization",
                                       "challenge",          "authorization-poll",
                                       "authorization",      "challenge",
                                       "authorization-poll", "order-poll",
                                       "finalize",           "order-poll",
                                       "download",           "valid"};
    const char *seen[64];
    int n_seen = 0, n_waits = 0, steps = 0;
    omlop_err err = OMLOP_ERR_INIT;
    acme_order *o;

    x->f.authz_polls = 2;
    x->f.order_polls = 2;
    x->f.retry_after = "3";
    fx_client(x);
    o = fx_order(x, domains, 2);
    assert_string_equal(acme_order_state(o), "directory");
    while (!acme_order_is_done(o)) {
        int64_t wait = -1;
        int rc = acme_order_step(o, &wait, &err);

        if (rc < 0)
            fail_msg("step in %s: %s", acme_order_state(o), err.msg);
        assert_true(wait == 0 || wait == 3000); /* Retry-After: 3 */
        n_waits += wait > 0;
        if (n_seen == 0 || strcmp(seen[n_seen - 1], acme_order_state(o)) != 0)
            seen[n_seen++] = acme_order_state(o);
        assert_true(++steps < 60);
    }
    assert_int_equal(n_seen, sizeof(want) / sizeof(want[0]));
    for (int i = 0; i < n_seen; i++)
        assert_string_equal(seen[i], want[i]);
    /* what the CA said about the order, in order */
    assert_string_equal(x->f.order_trace.buf,
                        "pending,ready,processing,processing,processing,valid");
    /* 2 challenge answers + 2x2 pending authorization polls + the processing answers to
     * finalize and to 2 order polls */
    assert_int_equal(n_waits, 9);
    assert_int_equal(x->f.challenges_posted, 2);
    assert_string_equal(acme_order_chain(o), x->f.chain_pem);
    assert_int_equal(x->sol.presented, 2);
    assert_string_equal(x->sol.domains[1], "www.t1.example.com");
    assert_int_equal(x->sol.cleaned, 2); /* cleaned up once the chain was there */
    assert_int_equal(x->f.jws_bad + x->f.nonce_misuse, 0);
    /* a finished order stays finished */
    {
        int64_t wait = -1;

        assert_int_equal(acme_order_step(o, &wait, &err), 0);
        assert_int_equal(wait, 0);
    }
    acme_order_free(o);
    assert_int_equal(x->sol.cleaned, 2); /* not twice */
}

static void test_acme_order_run_honours_retry_after(void **state)
{
    fx *x = *state;
    const char *domains[] = {"t1.example.com"};
    omlop_err err = OMLOP_ERR_INIT;
    acme_order *o;

    x->f.authz_polls = 1;
    x->f.order_polls = 1;
    x->f.retry_after = "Fri, 15 Jan 2027 08:00:12 GMT"; /* FIXED_NOW + 12 s */
    fx_client(x);
    o = fx_order(x, domains, 1);
    assert_int_equal(acme_order_run(o, &err), 0);
    /* challenge, one pending authorization poll, finalize and one order poll answered
     * processing: 12 s each */
    assert_int_equal(x->clock.n_sleeps, 4);
    for (int i = 0; i < x->clock.n_sleeps; i++)
        assert_int_equal(x->clock.slept[i], 12000);
    acme_order_free(o);

    /* no Retry-After: the poll interval; a long one: cut to max_wait_ms */
    memset(&x->clock, 0, sizeof(x->clock));
    x->f.retry_after = NULL;
    x->cfg.poll_interval_ms = 250;
    fx_client(x);
    o = fx_order(x, domains, 1);
    assert_int_equal(acme_order_run(o, &err), 0);
    assert_int_equal(x->clock.n_sleeps, 4);
    assert_int_equal(x->clock.total, 1000);
    acme_order_free(o);

    memset(&x->clock, 0, sizeof(x->clock));
    x->f.retry_after = "86400";
    x->cfg.max_wait_ms = 5000;
    fx_client(x);
    o = fx_order(x, domains, 1);
    assert_int_equal(acme_order_run(o, &err), 0);
    assert_int_equal(x->clock.n_sleeps, 4);
    assert_int_equal(x->clock.total, 20000);
    acme_order_free(o);
}

static void test_acme_reused_authorizations_go_straight_to_finalize(void **state)
{
    fx *x = *state;
    const char *domains[] = {"t1.example.com"};
    omlop_err err = OMLOP_ERR_INIT;
    acme_order *o;

    x->f.authz_valid = 1; /* the CA remembers an earlier validation: the order is ready */
    fx_client(x);
    o = fx_order(x, domains, 1);
    assert_int_equal(acme_order_run(o, &err), 0);
    assert_int_equal(x->sol.presented, 0);
    assert_int_equal(x->f.challenges_posted, 0);
    assert_int_equal(x->f.authz_posts, 0);
    assert_string_equal(x->f.order_trace.buf, "ready,valid");
    assert_non_null(acme_order_chain(o));
    acme_order_free(o);
}

static void test_acme_polls_are_bounded(void **state)
{
    fx *x = *state;
    const char *domains[] = {"t1.example.com"};
    omlop_err err = OMLOP_ERR_INIT;
    acme_order *o;
    int64_t wait;

    x->f.authz_polls = 100;
    x->cfg.max_polls = 3;
    fx_client(x);
    o = fx_order(x, domains, 1);
    assert_int_equal(acme_order_run(o, &err), OMLOP_ETIMEOUT);
    assert_non_null(strstr(err.msg, "still pending after 3 polls"));
    /* one read of the authorization before the challenge, then exactly 3 polls */
    assert_int_equal(x->f.authz_posts, 1 + 3);
    assert_string_equal(acme_order_state(o), "failed");
    assert_int_equal(x->sol.cleaned, 1);
    /* a failed order stays failed, with the same error, and sends nothing more */
    omlop_err_clear(&err);
    assert_int_equal(acme_order_step(o, &wait, &err), OMLOP_ETIMEOUT);
    assert_non_null(strstr(err.msg, "after 3 polls"));
    assert_int_equal(x->f.authz_posts, 4);
    acme_order_free(o);
}

static void test_acme_invalid_authorization_fails_with_the_challenge_error(void **state)
{
    fx *x = *state;
    const char *domains[] = {"t1.example.com"};
    omlop_err err = OMLOP_ERR_INIT;
    const acme_problem *p;
    acme_order *o;

    x->sol.serve = 0; /* present() says yes but nothing answers on port 80 */
    fx_client(x);
    o = fx_order(x, domains, 1);
    assert_int_equal(acme_order_run(o, &err), OMLOP_EPERM);
    p = acme_order_problem(o);
    assert_non_null(p);
    assert_true(acme_problem_is(p, "unauthorized"));
    assert_string_equal(p->detail, x->f.validation_detail);
    assert_non_null(strstr(p->document, "acme-challenge/tok_0-Ab9: 404"));
    assert_int_equal(p->http_status, 0);
    assert_non_null(strstr(err.msg, "authorization for t1.example.com is invalid"));
    assert_non_null(strstr(err.msg, x->f.validation_detail));
    assert_int_equal(x->f.finalized, 0);
    assert_int_equal(x->sol.cleaned, 1);
    assert_string_equal(acme_order_state(o), "failed");
    assert_null(acme_order_chain(o));
    acme_order_free(o);
}

static void test_acme_problem_documents_surface_verbatim(void **state)
{
    fx *x = *state;
    const char *domains[] = {"t1.example.com"};
    static const char doc[] =
        "{\"type\":\"urn:ietf:params:acme:error:rateLimited\",\"detail\":\"Error creating new "
        "order :: too many certificates already issued for \\\"example.com\\\"\",\"status\":429,"
        "\"subproblems\":[{\"type\":\"urn:ietf:params:acme:error:rateLimited\",\"detail\":\"5 "
        "per week\",\"identifier\":{\"type\":\"dns\",\"value\":\"t1.example.com\"}}]}";
    omlop_err err = OMLOP_ERR_INIT;
    const acme_problem *p;
    acme_order *o;

    x->f.order_status_line = "429 Too Many Requests";
    x->f.order_problem = doc;
    x->f.order_problem_retry_after = "3600";
    fx_client(x);
    o = fx_order(x, domains, 1);
    assert_int_equal(acme_order_run(o, &err), OMLOP_ELIMIT);
    p = acme_order_problem(o);
    assert_non_null(p);
    assert_string_equal(p->document, doc); /* byte for byte */
    assert_int_equal(p->http_status, 429);
    assert_true(acme_problem_is(p, "rateLimited"));
    assert_false(acme_problem_is(p, "badNonce"));
    assert_string_equal(p->detail, "Error creating new order :: too many certificates already "
                                   "issued for \"example.com\"");
    assert_int_equal(p->retry_after_s, 3600);
    assert_int_equal(p->n_sub, 1);
    assert_string_equal(p->sub[0].identifier, "t1.example.com");
    assert_string_equal(p->sub[0].detail, "5 per week");
    assert_non_null(strstr(err.msg, "HTTP 429 urn:ietf:params:acme:error:rateLimited"));
    assert_non_null(strstr(err.msg, "too many certificates"));
    assert_non_null(strstr(err.msg, "(t1.example.com: 5 per week)"));
    assert_int_equal(x->clock.n_sleeps, 0); /* the caller backs off, not the client */
    /* a rate limit is transient: the order waits in new-order and goes on when allowed */
    assert_false(acme_order_is_failed(o));
    assert_string_equal(acme_order_state(o), "new-order");
    x->f.order_status_line = NULL;
    assert_int_equal(acme_order_run(o, &err), 0);
    assert_null(acme_order_problem(o));
    assert_non_null(acme_order_chain(o));
    acme_order_free(o);
}

static void test_acme_transient_failures_keep_the_order_final_ones_end_it(void **state)
{
    fx *x = *state;
    const char *domains[] = {"t1.example.com"};
    static const char unavailable[] =
        "{\"type\":\"urn:ietf:params:acme:error:serverInternal\",\"detail\":\"try later\"}";
    static const char rejected[] =
        "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\",\"detail\":\"policy "
        "forbids this name\"}";
    omlop_err err = OMLOP_ERR_INIT;
    acme_order *o;
    int64_t wait;

    fx_client(x);
    o = fx_order(x, domains, 1);
    x->f.order_status_line = "503 Service Unavailable";
    x->f.order_problem = unavailable;
    assert_int_equal(acme_order_run(o, &err), OMLOP_EUNAVAIL);
    assert_false(acme_order_is_failed(o));
    assert_int_equal(acme_order_problem(o)->http_status, 503);
    x->f.order_status_line = "400 Bad Request";
    x->f.order_problem = rejected;
    assert_int_equal(acme_order_step(o, &wait, &err), OMLOP_EINVAL);
    assert_true(acme_order_is_failed(o));
    assert_true(acme_problem_is(acme_order_problem(o), "rejectedIdentifier"));
    assert_non_null(strstr(err.msg, "policy forbids this name"));
    /* final: the CA is fine again, the order stays failed and sends nothing */
    x->f.order_status_line = NULL;
    x->f.posts = 0;
    assert_int_equal(acme_order_step(o, &wait, &err), OMLOP_EINVAL);
    assert_int_equal(x->f.posts, 0);
    acme_order_free(o);

    /* a CA that cannot be reached at all: transient, in the directory state */
    fx_client(x);
    fake_acme_stop(&x->f);
    o = fx_order(x, domains, 1);
    assert_int_equal(acme_order_step(o, &wait, &err), OMLOP_EUNAVAIL);
    assert_false(acme_order_is_failed(o));
    assert_string_equal(acme_order_state(o), "directory");
    assert_null(acme_order_problem(o));
    acme_order_free(o);
    fake_acme_start(&x->f); /* for the teardown */
}

static void test_acme_a_silent_server_times_out_within_the_bound(void **state)
{
    fx *x = *state;
    const char *domains[] = {"t1.example.com"};
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    omlop_err err = OMLOP_ERR_INIT;
    char url[64];
    acme_order *o;
    int64_t wait, t0;

    /* a listener that never accepts: the kernel completes the handshake, nobody answers */
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    getsockname(lfd, (struct sockaddr *)&a, &len);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/dir", ntohs(a.sin_port));
    x->cfg.directory_url = url;
    x->cfg.timeout_ms = 300;
    fx_client(x);
    o = fx_order(x, domains, 1);
    t0 = clock_now_ms();
    assert_int_equal(acme_order_step(o, &wait, &err), OMLOP_ETIMEOUT);
    assert_true(clock_now_ms() - t0 < 3000);
    assert_true(clock_now_ms() - t0 >= 300);
    assert_non_null(strstr(err.msg, "no answer within 300 ms"));
    assert_false(acme_order_is_failed(o)); /* transient: try again later */
    acme_order_free(o);
    close(lfd);
}

static void test_acme_stored_account_unknown_is_registered_again(void **state)
{
    fx *x = *state;
    const char *domains[] = {"t1.example.com"};
    omlop_err err = OMLOP_ERR_INIT;
    char stale[128], acct[128];
    acme_order *o;

    snprintf(stale, sizeof(stale), "%s/acct/99", x->f.base);
    snprintf(acct, sizeof(acct), "%s/acct/1", x->f.base);
    x->cfg.account_url = stale;
    fx_client(x);
    o = fx_order(x, domains, 1);
    assert_int_equal(acme_order_run(o, &err), 0);
    assert_string_equal(acme_client_account_url(x->c), acct);
    assert_int_equal(x->f.accounts_created, 1);
    assert_int_equal(x->f.new_account_posts, 2); /* onlyReturnExisting, then registration */
    assert_non_null(acme_order_chain(o));
    acme_order_free(o);
}

static void test_acme_existing_account_is_found_not_registered(void **state)
{
    fx *x = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *jws, *payload;
    strbuf pl = STRBUF_INIT;

    x->f.account_known = 1;
    fx_client(x);
    assert_int_equal(acme_client_account(x->c, &err), 0);
    assert_int_equal(x->f.accounts_created, 0);
    assert_int_equal(x->f.new_account_posts, 1);
    jws = json_tokener_parse(x->f.first_jws.buf);
    assert_int_equal(fa_b64url_decode(fa_str(jws, "payload"), &pl), 0);
    payload = json_tokener_parse(pl.buf);
    assert_true(json_object_get_boolean(json_object_object_get(payload, "onlyReturnExisting")));
    json_object_put(payload);
    json_object_put(jws);
    strbuf_release(&pl);
}

static void test_acme_registration_sends_contact_and_needs_terms_agreed(void **state)
{
    fx *x = *state;
    omlop_err err = OMLOP_ERR_INIT;

    x->f.terms = 1;
    x->cfg.terms_agreed = 0;
    fx_client(x);
    assert_int_equal(acme_client_account(x->c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "terms of service"));
    assert_non_null(strstr(err.msg, "/terms.pdf"));
    assert_int_equal(x->f.accounts_created, 0);

    x->cfg.terms_agreed = 1;
    fx_client(x);
    assert_int_equal(acme_client_account(x->c, &err), 0);
    assert_int_equal(x->f.accounts_created, 1);
    assert_string_equal(x->f.reg_payload.buf,
                        "{\"termsOfServiceAgreed\":true,\"contact\":[\"mailto:ops@example.com\"]}");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acme_b64url_matches_rfc4648_vectors),
        cmocka_unit_test(test_acme_jwk_thumbprint_matches_rfc7638_example),
        cmocka_unit_test(test_acme_retry_after_parses_seconds_and_dates),
        T(test_acme_client_new_refuses_bad_config_naming_the_field),
        T(test_acme_jws_signature_verifies_with_openssl),
        T(test_acme_rsa_account_key_signs_rs256),
        T(test_acme_bad_nonce_is_retried_with_the_nonce_it_carries),
        T(test_acme_bad_nonce_retries_are_bounded),
        T(test_acme_order_walks_pending_ready_processing_valid),
        T(test_acme_order_run_honours_retry_after),
        T(test_acme_reused_authorizations_go_straight_to_finalize),
        T(test_acme_polls_are_bounded),
        T(test_acme_invalid_authorization_fails_with_the_challenge_error),
        T(test_acme_problem_documents_surface_verbatim),
        T(test_acme_transient_failures_keep_the_order_final_ones_end_it),
        T(test_acme_a_silent_server_times_out_within_the_bound),
        T(test_acme_stored_account_unknown_is_registered_again),
        T(test_acme_existing_account_is_found_not_registered),
        T(test_acme_registration_sends_contact_and_needs_terms_agreed),
    };
#undef T

    curl_global_init(CURL_GLOBAL_ALL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
