/*
 * manager: the controller loop that keeps every Tenant converged.
 *
 * N worker threads take tenant names from a work queue (operator/workqueue.h:
 * deduplicated, never two workers on one tenant, per-tenant backoff after a
 * failed round) and run one reconcile each (reconcilers/tenant.h). What puts
 * a tenant on the queue - only ever "look at it again", never what changed:
 *   - a store watch on /omlop/tenants/: a tenant added, deleted, or changed in
 *     anything but .status (the reconciler's own status writes do not wake it);
 *   - a periodic resync of every tenant (default 60 s);
 *   - Podman events on each host (a managed container of the tenant died, was
 *     removed, ran out of memory or turned unhealthy): the self-healing path;
 *   - a host lost (its SSH connection dropped or cannot be made), so the
 *     status says so at once;
 *   - a Secret created, changed or deleted (a store watch on /omlop/secrets/):
 *     every tenant whose spec names it (any secretRef: SSH identity, database,
 *     object storage, TLS, AMI, ...; and the Secrets omlop generates for it)
 *     is queued at once with its backoff forgotten, so fixing a missing or
 *     malformed Secret takes effect now, not after a backoff of minutes;
 *   - a host coming back (its SSH connection is up again after a loss, or up
 *     for the first time after failing): the tenant is queued at once with its
 *     backoff forgotten, so a long outage does not leave it waiting up to the
 *     5 min backoff cap; the events missed meanwhile need no replay, the round
 *     re-reads everything;
 *   - a failed round (backoff) or a round that changed something (a re-check
 *     shortly after, so a crash loop shows).
 * Deletion goes through the finalizer omlop.io/teardown (reconcilers/
 * tenant_lifecycle.h): the round that sees metadata.deletionTimestamp tears
 * the tenant down and releases it, also after omlopd was down (the first
 * listing finds it). A tenant that vanished without it (never reconciled, or
 * a PUT dropped the finalizer just before the DELETE) is torn down from the
 * last value the watch delivered (tenant_teardown).
 *
 * Host connections live in the host pool (clients/hostpool.h): one SSH
 * session + tunnel + Podman client + event stream per host and access
 * settings, shared by every tenant on that host. The manager keeps, per
 * tenant, a view of the pool hosts its spec names (a reference each), reused
 * by every round and replaced when the host's address, user, key, host key or
 * socket change; a round also gets file and TCP-probe ops over the same SSH
 * session (clients/hostfs.h, as reconcilers/tenant.h's tenant_host_ops). The
 * pool follows each host's Podman events once and hands the manager those of
 * each tenant's containers (queueing it), and tells it when a host is lost
 * and back (logged once per host by the pool).
 *
 * The same watch thread deletes Events not raised again within event_ttl_s
 * (objects/events.h: events_prune), every minute.
 *
 * Threads and locks: m->lock (owned by the manager) protects the host views,
 * the spec-hash table, the tombstones and each tenant's Secret names; it is never held while
 * talking to a host or the store. The watch thread alone reads the store
 * watch. manager_stop cancels everything and joins every thread.
 */
#ifndef OMLOP_MANAGER_H
#define OMLOP_MANAGER_H

#include <stdio.h>

#include "lib/err.h"
#include "objects/events.h"
#include "store/store.h"

#define MANAGER_DEFAULT_WORKERS  2
#define MANAGER_DEFAULT_RESYNC_S 60
#define MANAGER_MAX_WORKERS      64
/* Events are kept this long after they were last raised (kube-apiserver's --event-ttl). */
#define MANAGER_DEFAULT_EVENT_TTL_S 3600
/* 30 s of silence before a host counts as lost; 6 s for the hosts of a layout ha tenant */
#define MANAGER_DEFAULT_SSH_KEEPALIVE_MS    10000
#define MANAGER_DEFAULT_SSH_KEEPALIVE_COUNT 3
#define MANAGER_DEFAULT_HA_SSH_KEEPALIVE_MS 2000

typedef struct manager manager;

typedef struct manager_options {
    int is_enabled;         /* run the loop at all (--reconcile / --no-reconcile) */
    int workers;            /* reconciles in parallel */
    int resync_s;           /* every tenant is looked at again this often */
    int connect_timeout_ms; /* waiting for a host's SSH connection in a round; 0: 10000 */
    int ready_timeout_ms;   /* waiting for a started container to run; 0: 30000 */
    char *public_ip_url;    /* what hosts ask for their public IP; NULL: the default (borrowed) */
    char *known_hosts_file; /* verifies hosts whose spec has no knownHostKey; NULL: refused */
    int event_ttl_s;        /* an Event not raised again for this long is deleted; 0: 3600 */
    int ssh_threads;        /* SSH pump threads shared by every host; 0: one per CPU */
    /* SSH liveness: a keepalive after ssh_keepalive_ms without a sign of life from a host, the
     * host lost after ssh_keepalive_count such intervals (clients/ssh.h); the hosts of layout
     * ha tenants use ha_ssh_keepalive_ms instead: a primary cut off is failed over only once
     * omlopd counts its host lost (reconcilers/ha_pg.h) */
    int ssh_keepalive_ms;    /* 0: MANAGER_DEFAULT_SSH_KEEPALIVE_MS */
    int ssh_keepalive_count; /* 0: MANAGER_DEFAULT_SSH_KEEPALIVE_COUNT */
    int ha_ssh_keepalive_ms; /* 0: MANAGER_DEFAULT_HA_SSH_KEEPALIVE_MS */
    /* how old a verification of a host's images, files and readiness may be before a
     * no-change round repeats it (reconcilers/tenant_memo.h); 0: the defaults 600, 300, 120 */
    int verify_images_s, verify_files_s, verify_ready_s;
    /* renew a certificate omlop issues when this fraction of its lifetime remains, in (0, 1);
     * 0: 1/3 (--tls-renew-before-fraction) */
    double tls_renew_fraction;
    char *acme_solver_image; /* tls.mode acme's http-01 solver image; NULL: the default */
} manager_options;

/* Where hosts learn their public IPv4 address (plain text answer), unless configured. */
#define MANAGER_DEFAULT_PUBLIC_IP_URL "https://ipinfo.io/ip"
/* A host's public IP is asked for again after this long. */
#define MANAGER_PUBLIC_IP_TTL_S 600

/* Defaults: enabled, 2 workers, resync 60 s. */
void manager_options_default(manager_options *o);

/* The --help lines of the reconcile flags (parsed by operator/config.h). */
void manager_usage(FILE *out);

/* A manager over st recording events through ev (may be NULL); nothing runs yet. */
int manager_new(store *st, events *ev, const manager_options *o, manager **out, omlop_err *err);

/* Start the watch and worker threads. */
int manager_start(manager *m, omlop_err *err);

/* Queue one tenant for a reconcile (tests, tools). */
void manager_enqueue(manager *m, const char *tenant);

/* A host of tenant is reachable again after a loss: queue tenant now, forgetting its backoff. */
void manager_host_back(manager *m, const char *tenant);

/*
 * Secret secret (its name) was created, changed or deleted: queue every tenant
 * that reads it at once, its backoff forgotten. Returns how many were queued.
 */
size_t manager_secret_changed(manager *m, const char *secret);

/* How many failed rounds tenant has had since its last success or reset (tests, tools). */
int manager_failures(manager *m, const char *tenant);

/* Stop every thread (a round in progress stops between actions) and close host connections. */
void manager_stop(manager *m);

/* Stop (if running) and free; NULL is fine. */
void manager_free(manager *m);

#endif
