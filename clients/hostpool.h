/*
 * hostpool: the operator's host connections, shared by every tenant on a host.
 *
 * One pool host per (address, port, user, identity key, host-key settings,
 * Podman socket): one SSH session (clients/ssh.h), its tunnel and Podman
 * client, and one Podman event stream. Every tenant whose spec names that host
 * with those settings uses the same pool host: hostpool_acquire takes a
 * reference for (tenant, host name) and hostpool_release gives it back. A pool
 * host without users lingers (linger_ms) so a tenant that comes straight back
 * finds its session, then it is closed. A tenant whose access settings change
 * releases the old pool host and acquires another one: the settings are the
 * key, so it gets a new session (the old one stays while others use it).
 *
 * Events: the pool follows each host's Podman events once, for every omlop
 * container on it (filter_label), and hands each event to the callback once
 * per registered tenant it concerns (the event's tenant_label attribute names
 * it); events for containers of tenants not registered here are dropped.
 * Link: when a host's SSH connection is lost, and when it is back after a
 * loss, the pool logs one line for the host and calls on_link once for each
 * of its tenants (the manager logs and queues them; on "back" with the
 * backoff forgotten).
 *
 * Messages name a shared session by the host name under which it was first
 * opened, followed by user@address:port.
 *
 * Threads and locking: pool->lock (owned by the pool) protects the list of
 * pool hosts, each one's users and reference count and its public-IP cache;
 * it is never held while talking to a host. The callbacks are called with
 * pool->lock held: they must be quick and must not call the pool. The
 * sessions run on the pool's fixed set of SSH pump threads (an ssh_loop of
 * `shards` threads, see ssh.h), each host's event stream on its session's
 * thread (ssh_watch_ops); one more pool thread closes lingering hosts. No
 * thread is started per host or per tenant.
 */
#ifndef OMLOP_HOSTPOOL_H
#define OMLOP_HOSTPOOL_H

#include <stddef.h>

#include "clients/podman.h"
#include "clients/ssh.h"
#include "lib/err.h"
#include "lib/strbuf.h"

#define HOSTPOOL_DEFAULT_LINGER_MS    30000
#define HOSTPOOL_DEFAULT_RETRY_MAX_MS 5000

typedef struct hostpool hostpool;
typedef struct hostpool_host hostpool_host;

/* An event on host (the tenant's name for it) concerns tenant. */
typedef void (*hostpool_event_fn)(void *ud, const char *tenant, const char *host,
                                  const podman_event *ev);
/* host of tenant was lost (is_back 0; why) or is reachable again after a loss (is_back 1). */
typedef void (*hostpool_link_fn)(void *ud, const char *tenant, const char *host, int is_back,
                                 const char *why);

typedef struct hostpool_options {
    int shards;             /* SSH pump threads; 0: the number of online CPUs */
    int linger_ms;          /* a pool host without users is closed after this; 0: 30000 */
    int connect_timeout_ms; /* TCP connect + handshake + auth; 0: ssh.h's default */
    int retry_max_ms;       /* cap of the reconnect backoff; 0: 5000 (a host back is seen soon) */
    /* SSH liveness (ssh.h): a keepalive after this long without a sign of life, the host lost
     * after keepalive_count_max such intervals; 0: ssh.h's defaults (10000, 3) */
    int keepalive_interval_ms;
    int keepalive_count_max;
    const char *known_hosts_file; /* verifies hosts without a host key; NULL: refused (copied) */
    const char *tenant_label;     /* the container label naming its tenant (copied) */
    const char *filter_label;     /* "key=value" every followed container has; NULL: none */
    hostpool_event_fn on_event;   /* may be NULL */
    hostpool_link_fn on_link;     /* may be NULL */
    void *ud;
} hostpool_options;

/* How a tenant reaches a host; everything borrowed. */
typedef struct hostpool_access {
    const char *name; /* the tenant's name for the host (spec.hosts[].name) */
    const char *address;
    int port;
    const char *user;
    const char *identity;       /* private key text or its base64 */
    const char *known_host_key; /* expected host key(s), or NULL: known_hosts_file decides */
    const char *socket;         /* Podman socket on the host; NULL: the default */
    /* this user's keepalive interval (a layout ha tenant's shorter one); 0: the pool's. Part of
     * the settings: users asking for another interval get a pool host of their own */
    int keepalive_interval_ms;
} hostpool_access;

/* What the pool holds (tests, benchmarks). */
typedef struct hostpool_stats {
    size_t hosts; /* pool hosts, each with one SSH session */
    size_t users; /* (tenant, host) references */
    size_t idle;  /* pool hosts without users, lingering */
    int shards;   /* SSH pump threads */
} hostpool_stats;

int hostpool_new(const hostpool_options *o, hostpool **out, omlop_err *err);

/* Close every host and stop the pool's threads; NULL is fine. No host may be in use. */
void hostpool_free(hostpool *p);

/*
 * A reference to the pool host for a's settings, for tenant's host a->name:
 * the existing one, or a new one (connecting in the background). Config and
 * key errors are reported here, naming the host.
 */
int hostpool_acquire(hostpool *p, const char *tenant, const hostpool_access *a, hostpool_host **out,
                     omlop_err *err);

/* Give back tenant's reference for host name (as acquired); NULL h is fine. */
void hostpool_release(hostpool *p, hostpool_host *h, const char *tenant, const char *name);

/* Whether h is the pool host for a's settings (else release it and acquire again). */
int hostpool_host_matches(const hostpool_host *h, const hostpool_access *a);

/*
 * Wait until h's session is up (its error otherwise, naming the host; see
 * ssh_conn_wait_connected), and learn the host's Podman API prefix once for
 * its event stream.
 */
int hostpool_host_wait(hostpool *p, hostpool_host *h, int timeout_ms, omlop_err *err);

/* The host's SSH session and Podman client (valid while the reference is held). */
ssh_conn *hostpool_host_ssh(hostpool_host *h);
podman_client *hostpool_host_podman(hostpool_host *h);

/*
 * The host's public IPv4 address, asked of it (hostfs_public_ip with url) at
 * most every ttl_s seconds; after a failed ask the last answer, if any.
 */
int hostpool_host_public_ip(hostpool *p, hostpool_host *h, const char *url, long ttl_s, strbuf *out,
                            omlop_err *err);

void hostpool_get_stats(hostpool *p, hostpool_stats *st);

/*
 * How the pool reads a host's SSH connection over time (pure; one per pool
 * host). Start zeroed; feed every look at the connection's state and its
 * count of successful connections (ssh_conn_status.connects).
 */
typedef struct hostpool_link {
    unsigned connects; /* the count when last seen connected; 0: never */
    int is_lost;       /* seen down since then (the loss was reported) */
} hostpool_link;

typedef enum hostpool_link_change {
    HOSTPOOL_LINK_SAME = 0, /* nothing to report */
    HOSTPOOL_LINK_LOST = 1, /* just went down (or the first connection failed) */
    HOSTPOOL_LINK_BACK = 2, /* connected again after a loss or a reconnect between looks */
} hostpool_link_change;

/* Record one look at the connection; what changed since the last report. */
hostpool_link_change hostpool_link_observe(hostpool_link *l, ssh_conn_state state,
                                           unsigned connects);

#endif
