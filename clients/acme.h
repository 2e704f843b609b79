/*
 * acme: an ACME (RFC 8555) client on libcurl, OpenSSL 3 and json-c, for tls.mode acme.
 *
 * It gets a certificate for a few DNS names with http-01 validation: directory, account (found
 * by onlyReturnExisting, else registered with the contact email and termsOfServiceAgreed; a
 * stored account URL the server no longer knows, accountDoesNotExist, is looked up or
 * registered again), newOrder, authorizations, the http-01 challenges, finalize with a CSR made
 * from the certificate key, and the chain's download in PEM. Requests are JWS (RFC 7515,
 * flattened JSON serialization) signed with the account key: ES256 for an EC P-256 key (the
 * default; the DER signature is converted to the r||s form JWS wants) or RS256 for RSA; the
 * "jwk" header for newAccount, "kid" (the account URL) afterwards.
 *
 * Design: a step-wise state machine, not one call with callbacks. acme_order_step() makes at
 * most one request plus its bounded badNonce retries, and says when to call again
 * (Retry-After, honoured, or the poll interval). The reconciler can run the step from a worker
 * thread and requeue the tenant at that time instead of sleeping there, so one slow CA holds a
 * worker for at most one step: a request, a nonce fetch and the badNonce retries, each with a
 * connect timeout and a total timeout; every wait is a bounded number of polls. A failed step
 * is final (a new order is needed) or transient (retry the same step after a back-off), which
 * acme_order_step says. acme_order_run() is the same
 * machine driven to the end with the config's sleep hook, for tools, tests and benches.
 *
 * http-01: for each pending authorization the client computes the key authorization
 * (token "." base64url(SHA-256 JWK thumbprint, RFC 7638)) and calls the caller's present()
 * with (domain, token, key authorization); present() makes
 * http://DOMAIN/.well-known/acme-challenge/TOKEN answer it on port 80 (the reconciler places
 * it on the host; tests serve it themselves) and returns once it is reachable. cleanup(), when
 * given, is called once for each presented token when the order ends (valid, failed or freed).
 *
 * Nonces: the Replay-Nonce of every answer is kept for the next request; without one, a HEAD
 * to newNonce fetches one. An answer with urn:ietf:params:acme:error:badNonce is retried with
 * the nonce it carries, at most max_nonce_retries times per request; then the badNonce problem
 * is returned.
 *
 * Problems: an error answer (RFC 7807 problem document) or the error of an invalid challenge
 * or order is kept verbatim in an acme_problem (HTTP status, type, detail, subproblems,
 * Retry-After, the JSON text) so the reconciler can surface it in a condition and back off;
 * rateLimited gives OMLOP_ELIMIT with the server's Retry-After. The omlop_err message quotes
 * type and detail too.
 *
 * Transport: TLS verification is always on (no option turns it off); ca_file replaces the
 * system store with a bundle, for a private ACME server (pebble). An http:// directory is
 * accepted for lab and test servers (the Tenant schema's pattern allows it); production
 * directories are https. Answers are bounded (ACME_MAX_BODY bytes).
 *
 * Secrets: the account key and the certificate key never appear in a message or a log; the
 * account key is kept only as an OpenSSL key object, the certificate key's PEM copy an order
 * keeps is wiped when the order is freed.
 *
 * Threads: an acme_client and its orders are driven by one thread at a time (the libcurl easy
 * handle and the nonce are not locked); different clients are independent. libcurl's global
 * initialisation is implicit and thread-safe from libcurl 7.84 on (Debian 12 has 7.88); a
 * program may still call curl_global_init() once at start.
 */
#ifndef OMLOP_ACME_H
#define OMLOP_ACME_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/strbuf.h"

#define ACME_MAX_BODY                   (1024 * 1024)
#define ACME_DEFAULT_TIMEOUT_MS         30000L
#define ACME_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define ACME_DEFAULT_NONCE_RETRIES      5
#define ACME_DEFAULT_MAX_POLLS          30
#define ACME_DEFAULT_POLL_INTERVAL_MS   2000
#define ACME_DEFAULT_MAX_WAIT_MS        (5 * 60 * 1000)

/* Let's Encrypt's directories (the Tenant default, and the staging one to try things on). */
#define ACME_LETSENCRYPT_PRODUCTION "https://acme-v02.api.letsencrypt.org/directory"
#define ACME_LETSENCRYPT_STAGING    "https://acme-staging-v02.api.letsencrypt.org/directory"

/* Clock hooks: tests pass fakes so nothing sleeps; NULL members mean the real clock. */
typedef struct acme_hooks {
    int64_t (*now_s)(void *ud);             /* wall clock, epoch s (Retry-After dates) */
    void (*sleep_ms)(void *ud, int64_t ms); /* acme_order_run's waits */
    void *ud;
} acme_hooks;

typedef struct acme_config {
    const char *directory_url;   /* required: https:// (http:// for lab servers) */
    const char *ca_file;         /* PEM bundle to verify the server with; NULL: system store */
    const char *ca_pem;          /* the same as text (spec.tls.acme.caBundle); wins over ca_file */
    const char *account_key_pem; /* required: EC P-256 (ES256) or RSA >= 2048 (RS256) */
    const char *account_url;     /* a stored account URL, or NULL: look up / register */
    const char *email;           /* contact ("mailto:" is added); NULL: none */
    int terms_agreed;            /* termsOfServiceAgreed, required when the CA has terms */
    long timeout_ms;             /* per request, whole transfer; 0: default */
    long connect_timeout_ms;     /* 0: default */
    int max_nonce_retries;       /* badNonce retries per request; 0: default, <0: none */
    int max_polls;               /* polls of one authorization or order; 0: default */
    int64_t poll_interval_ms;    /* wait between polls without Retry-After; 0: default */
    int64_t max_wait_ms;         /* a longer Retry-After is cut to this; 0: default */
    acme_hooks hooks;
} acme_config;

typedef struct acme_subproblem {
    char *type;       /* full URN */
    char *detail;     /* may be NULL */
    char *identifier; /* the identifier's value, may be NULL */
} acme_subproblem;

/* A problem document as the server sent it (RFC 7807, RFC 8555 section 6.7). */
typedef struct acme_problem {
    int http_status;       /* of the answer; 0 when the problem was an object's "error" field */
    char *type;            /* "urn:ietf:params:acme:error:rateLimited"; "" when absent */
    char *detail;          /* "" when absent */
    char *document;        /* the JSON text verbatim (an "error" field: as json-c prints it) */
    int64_t retry_after_s; /* seconds from the answer's Retry-After, -1 when none */
    acme_subproblem *sub;  /* subproblems */
    size_t n_sub;          /* */
} acme_problem;

/* Whether p's type is urn:ietf:params:acme:error:<short_type> ("rateLimited"); 1 or 0. */
int acme_problem_is(const acme_problem *p, const char *short_type);

typedef struct acme_client acme_client;

/* A client for one account on one directory; nothing is sent yet. EINVAL names the field. */
int acme_client_new(const acme_config *cfg, acme_client **out, omlop_err *err);

/* Free c (NULL is fine); its orders must be freed first. */
void acme_client_free(acme_client *c);

/*
 * Fetch the directory and find or register the account (a few blocking requests). A stored
 * account URL (acme_config.account_url) is trusted as is: an order whose server answers
 * accountDoesNotExist looks the account up or registers it again.
 */
int acme_client_account(acme_client *c, omlop_err *err);

/* The account URL once known (to store with the account key), else NULL. Borrowed. */
const char *acme_client_account_url(const acme_client *c);

/* The problem document of the last failed request, or NULL. Borrowed until the next request. */
const acme_problem *acme_client_problem(const acme_client *c);

/* Counters, for tests and metrics. */
typedef struct acme_stats {
    unsigned long requests;          /* HTTP requests sent */
    unsigned long bad_nonce_retries; /* badNonce answers retried */
    unsigned long nonce_fetches;     /* HEAD newNonce requests */
} acme_stats;

/* Copy c's counters into *st. */
void acme_client_stats(const acme_client *c, acme_stats *st);

/* token "." base64url(JWK thumbprint) into out (reset first). */
int acme_key_authorization(const acme_client *c, const char *token, strbuf *out, omlop_err *err);

/*
 * A signed POST-as-GET of url (an order, authorization or certificate URL of this account);
 * the body into out (reset first). Needs the account (acme_client_account).
 */
int acme_post_as_get(acme_client *c, const char *url, strbuf *out, omlop_err *err);

/* The caller's http-01 solver: make token answer key_authorization for domain. 0 or <0. */
typedef int (*acme_http01_fn)(void *ud, const char *domain, const char *token,
                              const char *key_authorization, omlop_err *err);

typedef struct acme_order_req {
    const char *const *domains; /* DNS names, first is the CN; 1..ACME_MAX_DOMAINS */
    size_t n_domains;           /* */
    const char *cert_key_pem;   /* the certificate's key: the CSR is signed with it */
    acme_http01_fn present;     /* required */
    acme_http01_fn cleanup;     /* optional; called with the same arguments */
    void *ud;                   /* passed to present and cleanup */
} acme_order_req;

#define ACME_MAX_DOMAINS 100

typedef struct acme_order acme_order;

/* An order for req's names, driven by acme_order_step; req's strings are copied. */
int acme_order_new(acme_client *c, const acme_order_req *req, acme_order **out, omlop_err *err);

/* Free o, calling cleanup for tokens still presented (NULL is fine). */
void acme_order_free(acme_order *o);

/*
 * One step: at most one request (plus its badNonce retries). 0 with *wait_ms the time to wait
 * before the next step (0: at once) while the order is in progress; 0 with
 * acme_order_is_done() once the chain is there. Negative when the step failed, in two kinds:
 *  - acme_order_is_failed(): the order is over (the CA refused a request with a 4xx problem,
 *    an authorization or the order became invalid, the polls ran out, the CA spoke nonsense);
 *    later steps return the same code and message; start a new order after a back-off;
 *  - otherwise transient (the network, a timeout, a 5xx, badNonce retries used up, or
 *    rateLimited: OMLOP_EUNAVAIL, OMLOP_ETIMEOUT, OMLOP_ELIMIT): the state is kept and the
 *    same step can be called again after a back-off (the problem's retry_after_s when set).
 * acme_order_problem() is the problem document that said why, when one did.
 */
int acme_order_step(acme_order *o, int64_t *wait_ms, omlop_err *err);

/* Whether the chain has been downloaded. */
int acme_order_is_done(const acme_order *o);

/* Whether the order failed for good (a new order is needed). */
int acme_order_is_failed(const acme_order *o);

/* Where the order is: "directory", "account-lookup", ..., "valid", "failed". */
const char *acme_order_state(const acme_order *o);

/* Step until done or until a step fails (either kind), waiting with the sleep hook. */
int acme_order_run(acme_order *o, omlop_err *err);

/* The certificate chain in PEM (leaf first) once done, else NULL. Borrowed. */
const char *acme_order_chain(const acme_order *o);

/* The order URL once created (for logs and status), else NULL. Borrowed. */
const char *acme_order_url(const acme_order *o);

/* The problem document of the last failed step (final or transient), or NULL. Borrowed. */
const acme_problem *acme_order_problem(const acme_order *o);

/* Append base64url (RFC 4648 section 5, no padding) of n bytes. */
void acme_b64url(strbuf *out, const void *data, size_t n);

/*
 * The JWK (RFC 7517) of a key's public part, in the canonical member order of RFC 7638, into
 * jwk, and its thumbprint (base64url SHA-256) into thumb. key_pem: a private key or a PUBLIC
 * KEY; EC P-256 or RSA.
 */
int acme_jwk(const char *key_pem, strbuf *jwk, char thumb[44], omlop_err *err);

/* Seconds a Retry-After value asks for (delta-seconds or an HTTP-date vs now_s); -1 if bad. */
int64_t acme_retry_after_parse(const char *value, int64_t now_s);

#endif
