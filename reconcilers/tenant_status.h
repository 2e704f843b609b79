/*
 * tenant_status: what one reconcile observed -> the Tenant's .status object.
 * A pure function of the previous status, the observation and the time, so
 * the rules are unit-tested without hosts:
 *
 *   conditions Ready, Progressing, Degraded, HostsReachable (and HAHealthy with status.ha for
 *   layout ha, reconcilers/ha.h), each with reason,
 *   message and observedGeneration; lastTransitionTime changes only when the
 *   condition's status flips (True <-> False <-> Unknown), never on a mere
 *   reason or message change. A host that could not even be tried because of
 *   its Secret (tenant_obs_host.reason: SecretNotFound, InvalidSecret) makes
 *   that the reason of Ready, Degraded and Progressing (False: nothing
 *   progresses until the user fixes the Secret), and HostsReachable Unknown
 *   unless another host is really unreachable;
 *   hosts[]: reachable, lastError, lastContactTime (kept from before while a
 *   host is unreachable), hostKeyFingerprint, and components[] with image,
 *   state, containerID, restarts (counted by omlop across reconciles),
 *   specHash and lastDriftRepaired;
 *   phase, observedGeneration, lastReconcileTime;
 *   plan[]: the actions still pending (host, action, container, component,
 *   image, reason, error), at most TENANT_STATUS_PLAN_MAX; absent when none;
 *   tls: mode, secretName, digest, notBefore, notAfter, serial, issuer, dnsNames,
 *   ipAddresses, lastRenewal (when the digest last changed, or the pair was issued),
 *   nextRenewal; a pair that cannot be used (tenant_obs_tls.fail_reason) makes Degraded True
 *   with that reason (phase Degraded; Ready still says whether the components run, on the
 *   pair placed before) and keeps the previous block; condition CertificateExpiringSoon.
 *
 * Only fields the Tenant CRD's status schema defines are written (the API
 * re-validates the stored status on every later spec update).
 */
#ifndef OMLOP_TENANT_STATUS_H
#define OMLOP_TENANT_STATUS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/err.h"

/* status.plan holds at most this many actions (the CRD's maxItems). */
#define TENANT_STATUS_PLAN_MAX 256

/* Component states of status.hosts[].components[].state (the CRD's enum). */
#define TENANT_STATE_RUNNING  "Running"
#define TENANT_STATE_STARTING "Starting"
#define TENANT_STATE_STOPPED  "Stopped"
#define TENANT_STATE_MISSING  "Missing"
#define TENANT_STATE_FAILED   "Failed"
#define TENANT_STATE_UNKNOWN  "Unknown"

/* One host as the reconcile saw it. Strings are borrowed. */
typedef struct tenant_obs_host {
    const char *name;
    int is_reachable;
    const char *error;       /* why it was not reachable (or NULL); names the host (lib/err.h) */
    const char *fingerprint; /* SHA256:... of its host key, or NULL */
    const char *reason;      /* why, as a condition reason (SecretNotFound...); NULL: unreachable */
} tenant_obs_host;

typedef enum tenant_readiness {
    TENANT_READINESS_UNCHECKED = 0, /* not running, host unreachable */
    TENANT_READINESS_PASSED,
    TENANT_READINESS_FAILED
} tenant_readiness;

/* One desired component on one host, after the plan ran. Strings are borrowed. */
typedef struct tenant_obs_component {
    const char *host;
    const char *name;           /* catalog name ("asterisk") */
    const char *image;          /* what runs (or the desired image when nothing does) */
    const char *state;          /* TENANT_STATE_* */
    const char *container_id;   /* or NULL */
    const char *spec_hash;      /* the live container's omlop.io/spec-hash, or NULL */
    int is_current;             /* running with the desired spec hash, and ready */
    tenant_readiness readiness; /* its readiness check at the end of the round */
    int is_restarted;           /* omlop started it again after it died (counts a restart) */
    int is_repaired;            /* omlop repaired drift on it this round */
    int is_created;             /* omlop created it this round (a repair if it existed before) */
    const char *message;        /* why it is not as desired, or NULL */
} tenant_obs_component;

/* One action of the plan still pending after the round (status.plan). Strings are borrowed. */
typedef struct tenant_obs_action {
    const char *host;
    const char *action; /* plan_kind_name: pull, create, start, recreate, remove, blocked, write */
    const char *container;
    const char *component;
    const char *image;
    const char *reason; /* why it is needed */
    const char *error;  /* why it did not happen this round, or NULL */
    const char *path;   /* write: the host file, else NULL */
} tenant_obs_action;

/* The tenant's TLS pair this round (status.tls). Strings are borrowed; times epoch seconds. */
typedef struct tenant_obs_tls {
    const char *mode;        /* spec.tls.mode */
    const char *secret;      /* the Secret the pair comes from, or NULL */
    int64_t secret_revision; /* its revision: a pair accepted from it is not checked again */
    const char *digest;      /* SHA-256 of the placed cert.pem ("" or NULL: none) */
    int has_pair;            /* the fields below describe the pair placed this round; 0: the pair
                                placed before (status.tls as it was) stays */
    int64_t not_before, not_after;
    const char *serial, *issuer;
    const char *const *dns_names;
    size_t n_dns;
    const char *const *ip_addrs;
    size_t n_ips;
    int64_t next_renewal;     /* when omlop issues the next one; 0: not omlop's to renew */
    int is_issued;            /* omlop issued this pair this round */
    int is_expiring_soon;     /* fewer than 7 days left: condition CertificateExpiringSoon */
    const char *fail_reason;  /* the pair cannot be used: Degraded with this reason, or NULL */
    const char *fail_message; /* */
} tenant_obs_tls;

/* Everything one reconcile learnt. */
typedef struct tenant_obs {
    int64_t generation; /* metadata.generation of the spec reconciled */
    const tenant_obs_host *hosts;
    size_t n_hosts;
    const tenant_obs_component *components;
    size_t n_components;
    size_t n_applied;              /* actions executed successfully this round */
    size_t n_pending;              /* actions still to do (skipped after a failure, blocked) */
    const char *failed;            /* "component asterisk on host h1" that stopped the rollout */
    const char *failure;           /* its error */
    const char *invalid;           /* the spec cannot be turned into containers: why */
    const tenant_obs_action *plan; /* pending actions (status.plan; none: removed) */
    size_t n_plan;
    const tenant_obs_tls *tls;  /* NULL: status.tls and the certificate conditions untouched */
    const struct ha_report *ha; /* layout ha: status.ha and HAHealthy (reconcilers/ha.h); or
                                   NULL (no status.ha, no HAHealthy) */
} tenant_obs;

/*
 * Build the new status from old_status (the current .status, or NULL) and obs,
 * at now (RFC 3339). *out is a new object the caller puts.
 */
int tenant_status_compute(const json_object *old_status, const tenant_obs *obs, const char *now,
                          json_object **out, omlop_err *err);

/*
 * Set condition type in conds (an array, changed in place): add it, or update
 * it keeping lastTransitionTime unless status differs from the current one.
 */
void tenant_condition_set(json_object *conds, const char *type, const char *status,
                          const char *reason, const char *message, int64_t generation,
                          const char *now);

/* How long a status that changed in nothing but its times is left unwritten. */
#define TENANT_STATUS_REFRESH_S 300

/*
 * Whether writing next over old (both .status objects) can be skipped: they
 * differ only in lastReconcileTime and hosts[].lastContactTime, and old's
 * lastReconcileTime is less than refresh_s before now. A resync that finds
 * nothing new then writes nothing, so watchers of the tenants are not woken
 * every minute; the times are refreshed every refresh_s at least.
 */
int tenant_status_is_unchanged(const json_object *old, const json_object *next, time_t now,
                               int refresh_s);

/* The condition of that type in a status object, or NULL (borrowed). */
json_object *tenant_condition_find(const json_object *status, const char *type);

#endif
