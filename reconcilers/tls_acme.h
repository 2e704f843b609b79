/*
 * tls_acme: tls.mode acme - a certificate from an ACME (RFC 8555) CA with http-01 validation,
 * kept in the tenant's "<tenant>-tls" Secret and renewed before it expires (tls.h).
 *
 * A round (tls_acme_resolve, called by tls_resolve) keeps the pair in "<tenant>-tls" while it
 * came from this directory (annotation omlop.io/tls-source "acme <server>"), covers exactly
 * spec.network.fqdn, and is not due (tlspair_renew_at). Otherwise it runs one order:
 *
 *  - the account key lives in the Secret "<tenant>-acme-account" (key account.key, EC P-256,
 *    generated once; labels of a generated Secret: deleted with the tenant), with the account
 *    URL and the directory it belongs to as annotations;
 *  - http-01: for each token, the key authorization is written with the host file writer to
 *    TLS_ACME_CHALLENGE_ROOT/<tenant>/.well-known/acme-challenge/<token> on every reachable host
 *    of the tenant, and a short-lived solver container (TLS_ACME_SOLVER_PREFIX<tenant>: the
 *    image's /bin/busybox httpd on port 80, host network, that directory read-only) serves it
 *    there; the FQDN points at one of these hosts. The container and the files are removed
 *    when the order ends, whatever the outcome (the container also carries the tenant's labels,
 *    so a round after a crash removes it as an orphan);
 *  - CSR with a fresh key, finalize, the chain downloaded, and the pair stored.
 *
 * Bounded: the order runs inside the round for at most the budget (TLS_ACME_BUDGET_MS by
 * default: each request has its own timeouts, the polls are counted, a wait is never longer than
 * what is left). A failed or unfinished order keeps the pair there, reports the CA's problem
 * document verbatim in the Degraded condition, and is retried with an exponential back-off
 * (tls_acme_backoff_s; a rateLimited answer's Retry-After when longer): the failure count, the
 * time of the next attempt and the message are annotations of the account Secret, so a round
 * before that time does not contact the CA and reports the same failure, and the round asks the
 * manager to look again at that time (tls_result.retry_ms), never sooner.
 */
#ifndef OMLOP_TLS_ACME_H
#define OMLOP_TLS_ACME_H

#include <json-c/json.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "clients/podman.h"
#include "lib/err.h"
#include "lib/tlspair.h"
#include "reconcilers/tenant.h"
#include "reconcilers/tls.h"
#include "store/store.h"

#define TLS_ACME_ACCOUNT_SUFFIX "-acme-account"
/* The solver container on a host: TLS_ACME_SOLVER_PREFIX "<tenant>". */
#define TLS_ACME_SOLVER_PREFIX    "omlop-acme-solver-"
#define TLS_ACME_SOLVER_COMPONENT "acme-solver"
/* The challenge files: TLS_ACME_CHALLENGE_ROOT "/<tenant>/.well-known/acme-challenge/<token>". */
#define TLS_ACME_CHALLENGE_ROOT "/var/lib/omlop/acme"
/* The solver image when neither spec.tls.acme.solverImage nor omlopd's flag names one: it
 * must have /bin/busybox with the httpd applet. */
#define TLS_ACME_DEFAULT_SOLVER_IMAGE "docker.io/library/busybox:1.36"
/* The longest a round spends on one order. */
#define TLS_ACME_BUDGET_MS 60000
/* Back-off after a failed order: TLS_ACME_BACKOFF_MIN_S doubled per failure, at most _MAX_S. */
#define TLS_ACME_BACKOFF_MIN_S 30
#define TLS_ACME_BACKOFF_MAX_S (6 * 3600)

/* Annotations of the account Secret. */
#define TLS_ACME_ANN_ACCOUNT_URL "omlop.io/acme-account-url"
#define TLS_ACME_ANN_SERVER      "omlop.io/acme-server"
#define TLS_ACME_ANN_FAILURES    "omlop.io/acme-failures"
#define TLS_ACME_ANN_RETRY_AT    "omlop.io/acme-retry-at"   /* epoch seconds */
#define TLS_ACME_ANN_LAST_ERROR  "omlop.io/acme-last-error" /* "<reason> <message>" */

/* Condition reasons. */
#define TLS_REASON_ACME_CONFIG       "AcmeConfigInvalid"
#define TLS_REASON_ACME_FAILED       "AcmeOrderFailed"
#define TLS_REASON_ACME_RATE_LIMITED "AcmeRateLimited"

/* A reachable host of the tenant, where a solver may run (all borrowed). */
typedef struct tls_acme_host {
    const char *name;
    podman_client *pc;
    const tenant_host_ops *ops; /* NULL: no files can be placed there: the host is skipped */
    void *ops_ctx;
} tls_acme_host;

/* What an order needs besides the Tenant (tls_options.acme). */
typedef struct tls_acme_env {
    const tls_acme_host *hosts;
    size_t n_hosts;
    const char *solver_image; /* without spec.tls.acme.solverImage; NULL: the default above */
    int64_t budget_ms;        /* 0: TLS_ACME_BUDGET_MS */
    long request_timeout_ms;  /* per ACME request; 0: 15000 */
    int64_t poll_interval_ms; /* between polls without Retry-After; 0: 1000 */
    atomic_int *cancel;       /* shutdown: stop waiting; may be NULL */
} tls_acme_env;

/* The back-off after failures (>= 1) failed orders, at least retry_after_s (-1: none). Pure. */
int64_t tls_acme_backoff_s(int failures, int64_t retry_after_s);

/*
 * Whether the pair cur (NULL: none usable), whose source annotation is source (NULL: none),
 * is kept or issued again for fqdn from the directory server at now. Pure.
 */
tls_issue_why tls_acme_decide(const tlspair_info *cur, const char *source, const char *server,
                              const char *fqdn, int64_t now, double fraction);

/* Whether token is a base64url token (what may become a file name on a host). */
int tls_acme_token_ok(const char *token);

/* tls_resolve's acme part: see the top of this file. Returns like tls_resolve. */
int tls_acme_resolve(store *st, const char *tenant, const json_object *obj, const tls_options *o,
                     tls_result *r, omlop_err *err);

#endif
