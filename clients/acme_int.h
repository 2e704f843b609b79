/*
 * acme_int: what acme.c (transport, account, problems), acme_jws.c (JWK, JWS) and acme_order.c
 * (the order state machine) share and nothing else may use.
 */
#ifndef OMLOP_ACME_INT_H
#define OMLOP_ACME_INT_H

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "clients/acme.h"

struct acme_client {
    char *directory_url;
    char *ca_file;
    char *ca_pem; /* CURLOPT_CAINFO_BLOB: a private CA's bundle held in memory */
    char *email;
    char *account_url; /* the kid; NULL until found or registered */
    int terms_agreed;
    long timeout_ms;
    long connect_timeout_ms;
    int max_nonce_retries;
    int max_polls;
    int64_t poll_interval_ms;
    int64_t max_wait_ms;
    acme_hooks hooks;

    EVP_PKEY *key;   /* the account key; never printed */
    const char *alg; /* "ES256" or "RS256" */
    strbuf jwk;      /* its public JWK, canonical member order */
    char thumb[44];  /* base64url SHA-256 of jwk */

    CURL *easy;  /* reused: one keep-alive connection to the CA */
    char *nonce; /* the next request's nonce (the last Replay-Nonce), or NULL */

    int have_dir; /* the directory was read */
    char *dir_new_nonce;
    char *dir_new_account;
    char *dir_new_order;
    char *dir_terms; /* meta.termsOfService, or NULL */

    acme_problem *problem; /* of the last failed request, or NULL */
    acme_stats stats;
};

/* One HTTP answer. */
typedef struct acme_resp {
    long status;
    strbuf body;
    char *location;
    char *nonce;
    char *retry_after;
    int overflow; /* the body passed ACME_MAX_BODY */
} acme_resp;

void acme_resp_release(acme_resp *r);

/* A private key, or (public_ok) also a public key, from PEM; NULL when neither. */
EVP_PKEY *acme_key_load(const char *pem, int public_ok);

/* The JWK of key (EC P-256 or RSA >= 2048) in RFC 7638 member order, and its JWS alg. */
int acme_jwk_of(EVP_PKEY *key, strbuf *jwk, const char **alg, omlop_err *err);

/* base64url(SHA-256(jwk)) into thumb. */
void acme_thumbprint(const strbuf *jwk, char thumb[44]);

/* The flattened JWS of payload ("" for POST-as-GET) to url, signed with c's key and nonce. */
int acme_jws_build(acme_client *c, const char *url, const char *payload, int use_jwk, strbuf *out,
                   omlop_err *err);

/* Read the directory once (GET). */
int acme_directory(acme_client *c, omlop_err *err);

/*
 * A JWS-signed POST of payload (NULL: POST-as-GET, empty payload) to url, with the jwk header
 * (use_jwk) or the kid. accept: an Accept header value or NULL. Retries badNonce; an answer
 * >= 400 returns its error with c->problem set. r is filled either way.
 */
int acme_post(acme_client *c, const char *url, const char *payload, int use_jwk, const char *accept,
              acme_resp *r, omlop_err *err);

/* newAccount with onlyReturnExisting: *found 1 with c->account_url set, or 0. */
int acme_account_lookup(acme_client *c, int *found, omlop_err *err);

/* newAccount with the contact and termsOfServiceAgreed; sets c->account_url. */
int acme_account_register(acme_client *c, omlop_err *err);

/* A problem from a JSON object (an "error" field): http_status 0, no Retry-After. */
acme_problem *acme_problem_from_json(json_object *obj);

/* A deep copy of p (NULL gives NULL). */
acme_problem *acme_problem_dup(const acme_problem *p);

void acme_problem_free(acme_problem *p);

/* The omlop code a problem maps to (ELIMIT for rateLimited, ...). */
int acme_problem_code(const acme_problem *p);

/* Milliseconds to wait before the next poll given an answer's Retry-After (or the interval). */
int64_t acme_wait_ms(const acme_client *c, const acme_resp *r);

#endif
