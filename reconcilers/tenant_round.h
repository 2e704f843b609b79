/*
 * tenant_round: the state of one reconcile round of one Tenant, shared by the
 * two halves of the reconciler - tenant.c (observe, plan, execute, status)
 * and tenant_teardown.c (deletion through the finalizer). Internal to
 * reconcilers/: the public entry points are in tenant.h.
 */
#ifndef OMLOP_TENANT_ROUND_H
#define OMLOP_TENANT_ROUND_H

#include <json-c/json.h>
#include <stddef.h>

#include "clients/podman.h"
#include "lib/cjson.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "reconcilers/desired.h"
#include "reconcilers/plan.h"
#include "reconcilers/secrets.h"
#include "reconcilers/tenant.h"
#include "reconcilers/tls.h"

/* A host file this round (env file or config): what omlop writes and what the host has. */
typedef struct tenant_host_file {
    const char *path;           /* borrowed from the desired container */
    const desired_container *c; /* the container that reads it */
    strbuf content;             /* may hold Secret values: wiped on release */
    unsigned mode;              /* 0600 for env files, 0644 for configs */
    int is_env_file;
    int is_rendered; /* content known (a missing Secret leaves it unknown) */
    char want[CJSON_HASH_HEX_LEN + 1];
    char live[CJSON_HASH_HEX_LEN + 1]; /* "" when absent on the host */
    int is_observed;                   /* live was read */
} tenant_host_file;

/* One host this round. */
typedef struct tenant_host_round {
    const char *name;
    podman_client *pc;          /* borrowed from the provider; NULL when unreachable */
    const tenant_host_ops *ops; /* files and probes on the host; NULL when not available */
    void *ops_ctx;
    int is_reachable;
    omlop_err err;      /* why not */
    const char *reason; /* why not, as a condition reason; NULL: HostUnreachable */
    tenant_host_info info;
    podman_container_list list;
    live_container *lc;
    live_label *labels; /* storage for every lc's labels */
    char **images;      /* image references present on the host (of those we asked about) */
    size_t n_images;
    tenant_host_file *files; /* the desired containers' host files */
    size_t n_files;
    live_file *lf; /* the same, as the plan reads them */
    live_dir *ld;  /* the bind-mount directories omlop makes, as observed (paths borrowed) */
    size_t n_dirs;
    /* readiness seen at the end of the round, per desired container of the host (dh order):
     * NULL when not probed; else "" ready, or why not */
    char **not_ready;
    size_t n_not_ready;
    /* the observations this round took from the memo (tenant_memo.h) instead of the host */
    int is_images_assumed, is_files_assumed;
    live_ha ha; /* layout ha: whether the active-only components run here (ha_round.h) */
} tenant_host_round;

/* What happened to one action, for the status and the events. */
typedef struct tenant_action_result {
    int is_done;
    int is_skipped;
    int rc;
    long elapsed_ms; /* how long it took */
    char msg[OMLOP_ERR_MSG_MAX];
} tenant_action_result;

typedef struct tenant_round {
    const tenant_env *env;
    const char *tenant;
    json_object *obj;   /* the Tenant as read (with resourceVersion), for events; owned */
    json_object *facts; /* a round stopped before parsing it: what it used instead; owned */
    secrets_ctx sc;
    desired_state *ds;
    tenant_host_round *hosts;
    size_t n_hosts;
    plan *pl;
    tenant_action_result *res;
    size_t n_applied, n_pending;
    strbuf failed, failure;
    tls_result tls;      /* the certificate reconciler's answer (tls.h) */
    int has_tls;         /* tls was resolved this round */
    struct ha_round *ha; /* layout ha: the VIPs observed this round (ha_round.h); else NULL */
} tenant_round;

/* Makes the new .status from the stored one (NULL when none) at now; *out is new. */
typedef int (*tenant_status_fn)(const json_object *old_status, const void *ctx, const char *now,
                                json_object **out, omlop_err *err);

/* Whether s is one of the n strings of v. */
int tenant_strv_has(char *const *v, size_t n, const char *s);

/* Append a copy of s to *v (n entries); OMLOP_ENOMEM when out of memory. */
int tenant_strv_push(char ***v, size_t *n, const char *s, omlop_err *err);

/* Desired containers of a host held by a container that is not the tenant's: their names and who
 * holds each (the other tenant, or "(a container omlop does not manage)"). */
typedef struct tenant_held {
    char **names;
    char **owners;
    size_t n;
} tenant_held;

/*
 * List every container on h and note which of the tenant's desired container names
 * are held by a container that is not the tenant's. Host files are per component,
 * not per tenant (/etc/default/<x>.env): such a component's files and directories
 * are the holder's, and the tenant must neither write nor remove them.
 */
int tenant_round_held_by_others(tenant_round *r, tenant_host_round *h, tenant_held *out,
                                omlop_err *err);

/*
 * deletionPolicy Purge: remove the directories omlop made on h for the tenant
 * (its record), those still empty. Kept, and logged, when another tenant's
 * container holds one of the tenant's component names on h (it may mount them).
 */
int tenant_round_host_dirs_remove(tenant_round *r, tenant_host_round *h, omlop_err *err);

/* Who holds container name (NULL when nobody else does). */
const char *tenant_held_owner(const tenant_held *held, const char *name);

void tenant_held_release(tenant_held *held);

/* Connect to the host of spec.hosts[] entry hspec of Tenant tobj (its name tenant) through the
 * provider; failures go to h->err. */
void tenant_round_host_connect(const tenant_env *env, secrets_ctx *sc, const json_object *tobj,
                               const char *tenant, const json_object *hspec, tenant_host_round *h);

/* Log and record an Event about r->obj (when the env has a recorder). */
void tenant_round_event(tenant_round *r, const char *type, const char *reason, const char *fmt, ...)
    OMLOP_PRINTF(4, 5);

/* Replace .status of the stored Tenant with fn's answer (compare-and-swap, retried). */
int tenant_round_status_write(tenant_round *r, tenant_status_fn fn, const void *ctx,
                              omlop_err *err);

/* Free everything the round holds (r itself is the caller's). */
void tenant_round_release(tenant_round *r);

/*
 * r->obj carries metadata.deletionTimestamp: tear the tenant down and release
 * the finalizer (tenant_teardown.c). res->is_gone when the object left the store.
 */
int tenant_round_finalize(tenant_round *r, tenant_result *res, omlop_err *err);

/* ---- shared by the parts of a round: tenant.c, tenant_observe.c, tenant_execute.c and
 * tenant_report.c ---- */

/* Called for a component that runs and has a TCP check the host can make (see below). */
typedef int (*tenant_tcp_visit_fn)(tenant_round *r, tenant_host_round *h, size_t j, void *ctx,
                                   omlop_err *err);

/* Free what the host's listing holds (containers, labels, images). */
void tenant_host_release_live(tenant_host_round *h);

/*
 * List everything the host runs (all tenants: a desired name taken by another
 * container must be seen) and, when check_images, which of the images that matter are
 * present. Without check_images the desired images are taken as present
 * (h->is_images_assumed): the memo verified them recently, and a round whose plan has
 * actions observes again with the check.
 */
int tenant_host_observe(tenant_host_round *h, const char *tenant, const desired_host *dh,
                        int check_images, omlop_err *err);

/* The digest of what an image check of h verifies: the desired images of dh, in order. */
void tenant_host_images_digest(const desired_host *dh, char out[CJSON_HASH_HEX_LEN + 1]);

/* Free the host's files, wiping their contents (Secret values). */
void tenant_host_release_files(tenant_host_round *h);

/* The round's file at path on h, or NULL. */
tenant_host_file *tenant_host_file_find(tenant_host_round *h, const char *path);

/* The digest of c's env file as this round renders it, or NULL when unknown. */
const char *tenant_env_hash_of(tenant_host_round *h, const desired_container *c);

/*
 * Render every host file the host's desired containers read (env files with
 * their Secret values, configs) and, when the transport allows, read the
 * digests of what the host has. A file that cannot be rendered (a Secret is
 * missing) gets no digest: nothing is written, and the container's create
 * reports the Secret. Failing to read the host's files fails the host.
 */
int tenant_host_files(tenant_round *r, tenant_host_round *h, const desired_host *dh,
                      omlop_err *err);

/* Index of c among its host's desired containers, for not_ready[]. */
size_t tenant_container_index(const desired_host *dh, const desired_container *c);

/*
 * Wait until c's readiness port accepts a TCP connection from its host
 * (bounded by the ready timeout). Without host ops, or for a component judged
 * by "running", there is nothing to wait for.
 */
int tenant_wait_tcp_ready(const tenant_env *env, const tenant_host_round *h,
                          const desired_container *c, omlop_err *err);

/* The container name as h's listing this round saw it, or NULL. */
const live_container *tenant_host_find(const tenant_host_round *h, const char *name);

/* Sleep ms milliseconds (the bounded waits of a round). */
void tenant_sleep_ms(long ms);

/* Whether omlopd is stopping (env->cancel set): waits end early. */
int tenant_is_cancelled(const tenant_env *env);

/* The round's host called name, or NULL. */
tenant_host_round *tenant_round_host(tenant_round *r, const char *name);

/*
 * Call fn for every desired component, on every reachable host with host ops,
 * that runs now, is judged by a TCP check and has not passed one this round
 * (h->not_ready[j] is not ""). Stops at fn's first error.
 */
int tenant_round_each_tcp_unconfirmed(tenant_round *r, tenant_tcp_visit_fn fn, void *ctx,
                                      omlop_err *err);

/*
 * Execute the plan in order. A failed pull skips the actions needing that
 * image; any other failure stops every later create/start/recreate (removals
 * of orphans still run: they cannot hurt the failing component).
 */
void tenant_round_run_plan(tenant_round *r);

/*
 * The signature of what the round starts from (tenant_signature.c): the Tenant's revision,
 * the revisions of the Secrets it may read (secret_names: secrets_referenced), each host's
 * reachability and the tenant's containers there as r->hosts[].list holds them. Only a store
 * failure fails it.
 */
int tenant_round_signature(tenant_round *r, int64_t tenant_revision, char *const *secret_names,
                           char out[CJSON_HASH_HEX_LEN + 1], omlop_err *err);

/* Write the round's .status (invalid: why the spec cannot be acted on, or NULL). */
int tenant_round_write_status(tenant_round *r, const char *invalid, omlop_err *err);

#endif
