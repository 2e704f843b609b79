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
 * Host connections are cached, one SSH connection + tunnel + Podman client
 * (+ its event follower) per tenant host, reused by every round and replaced
 * when the host's address, user, key, host key or socket change; a round also
 * gets file and TCP-probe ops over the same SSH connection (clients/hostfs.h,
 * as reconcilers/tenant.h's tenant_host_ops). The follower outlives a lost
 * host: it waits for the SSH connection (which reconnects by itself, retrying
 * at least every 5 s) and follows again, logging once per loss and recovery.
 *
 * The same watch thread deletes Events not raised again within event_ttl_s
 * (operator/events.h: events_prune), every minute.
 *
 * Threads and locks: m->lock (owned by the manager) protects the host cache
 * list, the spec-hash table, the tombstones and each tenant's Secret names; it is never held while
 * talking to a host or the store. The watch thread alone reads the store
 * watch. manager_stop cancels everything and joins every thread.
 */
#ifndef OMLOP_MANAGER_H
#define OMLOP_MANAGER_H

#include <stdio.h>

#include "clients/ssh.h"
#include "lib/err.h"
#include "objects/events.h"
#include "store/store.h"

#define MANAGER_DEFAULT_WORKERS  2
#define MANAGER_DEFAULT_RESYNC_S 60
#define MANAGER_MAX_WORKERS      64
/* Events are kept this long after they were last raised (kube-apiserver's --event-ttl). */
#define MANAGER_DEFAULT_EVENT_TTL_S 3600

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

/*
 * How a follower reads its host's SSH connection over time (pure; the follower
 * keeps one per host). Start zeroed; feed every look at the connection's state
 * and its count of successful connections (ssh_conn_status.connects).
 */
typedef struct manager_link {
    unsigned connects; /* the count when last seen connected; 0: never */
    int is_lost;       /* seen down since then (the loss was reported) */
} manager_link;

typedef enum manager_link_change {
    MANAGER_LINK_SAME = 0, /* nothing to report */
    MANAGER_LINK_LOST = 1, /* just went down (or the first connection failed) */
    MANAGER_LINK_BACK = 2, /* connected again after a loss or a reconnect between looks */
} manager_link_change;

/* Record one look at the connection; what changed since the last report. */
manager_link_change manager_link_observe(manager_link *l, ssh_conn_state state, unsigned connects);

/* Stop every thread (a round in progress stops between actions) and close host connections. */
void manager_stop(manager *m);

/* Stop (if running) and free; NULL is fine. */
void manager_free(manager *m);

#endif
