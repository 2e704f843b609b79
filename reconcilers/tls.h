/*
 * tls: the certificate reconciler (issue 12): which key pair a tenant's HTTPS/WSS readers
 * (nginx, kamailio: the components that mount DESIRED_CERTS_DIR) get, from spec.tls.mode.
 *
 *   selfsigned: omlop keeps a pair it generated (lib/tlspair.h) in the Secret
 *     "<tenant>-tls" (keys tls.crt, tls.key; labels omlop.io/tenant and
 *     omlop.io/managed-by=omlop, deleted with the tenant), issued when absent or unusable and
 *     issued again when tlspair_renew_at says it is due or its SANs no longer match the spec
 *     (network.fqdn, every host's lanIP, the HA omnileadsVIP);
 *   custom: the user's Secret spec.tls.secretRef (tls.crt, tls.key, optional ca.crt), checked
 *     with tlspair_validate before it is used. A pair that fails is never placed: the round
 *     reports the check's reason (Degraded) and keeps the digest of the pair placed before
 *     (status.tls.digest), so the readers are not recreated and the hosts keep the old files;
 *   acme: a pair from an ACME CA with http-01 validation, kept in "<tenant>-tls" and renewed
 *     like a self-signed one (tls_acme.h).
 *
 * The round places the chosen pair as host files (DESIRED_CERT_FILE 0644, DESIRED_KEY_FILE
 * 0600) on every host with a reader, and its digest (SHA-256 of the chain's PEM) is the
 * readers' omlop.io/tls-hash label, set when they are created and compared by the plan like the
 * env file's digest (not part of the spec hash: `omlctl render` cannot know the pair): a new
 * pair recreates them, one at a time, as any recreation is.
 *
 * Renewal is scheduled, not polled: tls_requeue_ms says when the next thing happens to the pair
 * (renewal due, the 7-day warning, expiry) and the round asks the manager to look again then.
 *
 * Times are wall-clock epoch seconds passed in by the caller (certificates are dated in wall
 * time; lib/clock.h is monotonic). No message contains key material.
 */
#ifndef OMLOP_TLS_H
#define OMLOP_TLS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cjson.h"
#include "lib/err.h"
#include "lib/tlspair.h"
#include "store/store.h"

/* The Secret of a self-signed pair: "<tenant>" TLS_SECRET_SUFFIX. */
#define TLS_SECRET_SUFFIX "-tls"
/* Less than this left before notAfter: the CertificateExpiringSoon warning and condition. */
#define TLS_EXPIRING_SOON_S (7 * 24 * 3600LL)

/* Condition / event reasons of the certificate reconciler. */
#define TLS_REASON_EXPIRING     "CertificateExpiringSoon"
#define TLS_REASON_NOT_OWNED    "SecretNotOwned"
#define TLS_REASON_ISSUE_FAILED "IssueFailed"
#define TLS_REASON_NO_SECRETREF "SecretRefMissing"

/* The names a tenant's certificate must carry. */
typedef struct tls_sans {
    char **dns; /* spec.network.fqdn when set */
    size_t n_dns;
    char **ips; /* every spec.hosts[].lanIP, then spec.ha.omnileadsVIP; each once */
    size_t n_ips;
} tls_sans;

/* The SANs of tenant (an API object); pure. Release with tls_sans_release. */
void tls_sans_of(const json_object *tenant, tls_sans *out);
void tls_sans_release(tls_sans *s);

/* Why a self-signed pair is (re-)issued. */
typedef enum tls_issue_why {
    TLS_KEEP = 0,        /* the pair stays */
    TLS_ISSUE_MISSING,   /* no pair, or one that does not parse or whose key does not match */
    TLS_ISSUE_DUE,       /* now >= tlspair_renew_at */
    TLS_ISSUE_SANS,      /* its SANs are not exactly what the spec asks for */
    TLS_ISSUE_NOT_OWNED, /* never issued: the Secret is someone else's (not generated) */
    TLS_ISSUE_SOURCE     /* acme: the pair is not from the tenant's ACME directory */
} tls_issue_why;

/* What each tls_issue_why means, for events ("renewal due"); never NULL. */
const char *tls_issue_why_text(tls_issue_why why);

/*
 * Whether the self-signed pair described by cur (NULL: none usable) is kept or issued again,
 * at now, renewing when no more than fraction of its lifetime remains. Pure.
 */
tls_issue_why tls_selfsigned_decide(const tlspair_info *cur, const tls_sans *want, int64_t now,
                                    double fraction);

/*
 * How long until the round should look at the pair again, in ms from now_ms (epoch ms): the
 * earliest of its renewal time (when is_renewable: omlop issues it), the moment fewer than
 * TLS_EXPIRING_SOON_S remain, and notAfter, that is still ahead. 0 when none is (an expired
 * pair is only looked at again on the next trigger).
 */
int64_t tls_requeue_ms(const tlspair_info *info, int is_renewable, double fraction, int64_t now_ms);

/* The wall clock in epoch milliseconds (what tls_requeue_ms counts from). */
int64_t tls_wall_now_ms(void);

struct tls_acme_env;

/* How the round resolves the pair. */
typedef struct tls_options {
    int64_t now;                     /* epoch seconds */
    double renew_fraction;           /* 0: TLSPAIR_RENEW_FRACTION */
    int64_t lifetime_s;              /* of a self-signed pair; 0: TLSPAIR_DEFAULT_LIFETIME_S */
    const struct tls_acme_env *acme; /* mode acme: the hosts for the solver (tls_acme.h); NULL:
                                        no order can run this round (nothing reachable) */
} tls_options;

/* What the certificate reconciler decided this round. */
typedef struct tls_result {
    char mode[16];           /* spec.tls.mode (selfsigned by default) */
    char *secret;            /* the Secret the pair comes from, or NULL */
    int64_t secret_revision; /* its revision as read (or written) this round; 0: none */
    char *cert_pem;          /* the pair to place this round, or NULL: nothing is placed */
    char *key_pem;           /* wiped on release */
    char digest[CJSON_HASH_HEX_LEN + 1]; /* of cert_pem; without a pair the one placed before
                                            (status.tls.digest) or "" */
    int has_info;                        /* info describes cert_pem */
    tlspair_info info;
    int64_t next_renewal;    /* epoch seconds when omlop issues again; 0: not omlop's */
    int64_t requeue_ms;      /* tls_requeue_ms of the pair; 0: none */
    int64_t retry_ms;        /* acme: the next attempt after a failed order, ms from now; 0 */
    tls_issue_why issued;    /* != TLS_KEEP: a pair was issued this round, and why */
    int is_expiring_soon;    /* fewer than TLS_EXPIRING_SOON_S left */
    const char *fail_reason; /* the pair cannot be used (Degraded), or NULL */
    char fail_msg[OMLOP_ERR_MSG_MAX];
} tls_result;

/*
 * Resolve tenant's pair (see the top of this file), creating or updating the self-signed
 * Secret through objects/objects.h. A problem with the pair itself (a custom Secret missing or
 * invalid, an issue that failed) is not an error: it is out->fail_reason/fail_msg and the
 * function returns 0. A negative return is a store failure worth a retry.
 */
int tls_resolve(store *st, const json_object *tenant, const tls_options *o, tls_result *out,
                omlop_err *err);

/* Free what r holds (the key wiped) and zero it. */
void tls_result_release(tls_result *r);

#endif
