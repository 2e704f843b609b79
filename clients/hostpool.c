/*
 * hostpool: shared, reference-counted host connections and their event
 * streams (see hostpool.h).
 */
#include "clients/hostpool.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/hostfs.h"
#include "clients/podman_events.h"
#include "clients/tunnel.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* The janitor looks for lingering hosts this often. */
#define JANITOR_TICK_MS 100

/* One (tenant, host name) using a pool host. */
struct user {
    struct user *next;
    char *tenant;
    char *name;
};

struct hostpool_host {
    struct hostpool_host *next; /* pool->lock */
    hostpool *pool;
    char key[CJSON_HASH_HEX_LEN + 1]; /* of the access settings; read-only */
    char *label;                      /* the name it was first opened under; read-only */
    ssh_conn *conn;
    tunnel *tun;
    podman_client *pc;
    /* pool->lock protects these */
    struct user *users;
    size_t refs;
    long long idle_since_ms; /* when refs fell to 0 */
    char prefix[64];         /* the Podman API prefix for the event stream; "" = default */
    char public_ip[64];
    time_t public_ip_at;
    hostpool_link link; /* what the last state change told (pump thread, under pool->lock) */
    char lost_why[OMLOP_ERR_MSG_MAX]; /* while link.is_lost: why */
    /* the pump thread's alone (watch callbacks) */
    podman_events_stream *events;
};

struct hostpool {
    hostpool_options o; /* strings below are copies */
    char *known_hosts_file;
    char *tenant_label;
    char *filter_label;
    ssh_loop *loop; /* the pump threads every session runs on */
    /* lock protects hosts and every host's users, refs, prefix and public-IP cache */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* wakes the janitor to stop */
    hostpool_host *hosts;
    int is_stopping;
    pthread_t janitor;
    int has_janitor;
};

/* ---- link ----------------------------------------------------------------------------- */

hostpool_link_change hostpool_link_observe(hostpool_link *l, ssh_conn_state state,
                                           unsigned connects)
{
    switch (state) {
    case SSH_CONN_CONNECTED: {
        /* a count that moved means it dropped and reconnected between two looks */
        int is_back = l->is_lost || (l->connects && connects != l->connects);

        l->is_lost = 0;
        l->connects = connects;
        return is_back ? HOSTPOOL_LINK_BACK : HOSTPOOL_LINK_SAME;
    }
    case SSH_CONN_DOWN:
        if (l->is_lost)
            return HOSTPOOL_LINK_SAME;
        l->is_lost = 1;
        return HOSTPOOL_LINK_LOST;
    default: /* the first attempt still running, or being freed: nothing learned */
        return HOSTPOOL_LINK_SAME;
    }
}

/* ssh_state_fn (pump thread): report a loss and a recovery once each, to every tenant. */
static void on_state(void *ud, ssh_conn_state state, unsigned connects, const char *why)
{
    hostpool_host *h = ud;
    hostpool *p = h->pool;
    size_t n = 0;

    /* on the stream's own thread: after a loss the stream starts afresh (no replay) */
    if (state == SSH_CONN_DOWN)
        podman_events_stream_forget(h->events);
    pthread_mutex_lock(&p->lock);
    switch (hostpool_link_observe(&h->link, state, connects)) {
    case HOSTPOOL_LINK_LOST:
        snprintf(h->lost_why, sizeof(h->lost_why), "%s", why && why[0] ? why : "not connected");
        for (struct user *u = h->users; u; u = u->next, n++)
            if (p->o.on_link)
                p->o.on_link(p->o.ud, u->tenant, u->name, 0, why && why[0] ? why : "not connected");
        log_info("host=%s host lost: %zu tenant(s) told", h->label, n);
        break;
    case HOSTPOOL_LINK_BACK:
        /* Whatever happened on the host meanwhile needs no replay: a round re-reads every
         * container (level-triggered), and the stream starts again at once. */
        for (struct user *u = h->users; u; u = u->next, n++)
            if (p->o.on_link)
                p->o.on_link(p->o.ud, u->tenant, u->name, 1, "");
        log_info("host=%s host back: following its events again, %zu tenant(s) told", h->label, n);
        break;
    case HOSTPOOL_LINK_SAME:
        break;
    }
    pthread_mutex_unlock(&p->lock);
}

/* ---- events (pump thread) ------------------------------------------------------------- */

/* podman_event_fn: hand the event to each registered tenant it concerns. */
static int on_event(void *ud, const podman_event *ev)
{
    hostpool_host *h = ud;
    hostpool *p = h->pool;
    json_object *owner = NULL;
    const char *tenant;

    if (!p->tenant_label || !json_object_object_get_ex(ev->attributes, p->tenant_label, &owner))
        return 0;
    tenant = json_object_get_string(owner);
    if (!tenant)
        return 0;
    pthread_mutex_lock(&p->lock);
    for (struct user *u = h->users; u; u = u->next)
        if (strcmp(u->tenant, tenant) == 0 && p->o.on_event)
            p->o.on_event(p->o.ud, u->tenant, u->name, ev);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void watch_open(void *ud, strbuf *out)
{
    hostpool_host *h = ud;
    hostpool *p = h->pool;
    const char *labels[] = {p->filter_label, NULL};
    const char *types[] = {"container", NULL};
    const char *actions[] = {"died", "remove", "oom", "health_status", NULL};
    podman_filters f = {
        .labels = p->filter_label ? labels : NULL, .types = types, .events = actions};
    char prefix[sizeof(h->prefix)];

    pthread_mutex_lock(&p->lock);
    memcpy(prefix, h->prefix, sizeof(prefix));
    pthread_mutex_unlock(&p->lock);
    podman_events_stream_request(h->events, prefix[0] ? prefix : NULL, &f, out);
}

static int watch_data(void *ud, const char *data, size_t len)
{
    hostpool_host *h = ud;
    omlop_err err = OMLOP_ERR_INIT;

    if (podman_events_stream_feed(h->events, data, len, &err) < 0) {
        log_warn("host=%s podman: %s; following the events again shortly", h->label, err.msg);
        return 1;
    }
    return 0;
}

static void watch_end(void *ud, const omlop_err *why)
{
    hostpool_host *h = ud;

    log_info("host=%s podman: event stream broke (%s); resuming", h->label, why->msg);
}

/* ---- hosts ---------------------------------------------------------------------------- */

static int access_keepalive_ms(const hostpool *p, const hostpool_access *a)
{
    return a->keepalive_interval_ms > 0 ? a->keepalive_interval_ms : p->o.keepalive_interval_ms;
}

static void access_key(const hostpool *p, const hostpool_access *a,
                       char out[CJSON_HASH_HEX_LEN + 1])
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "address", json_object_new_string(a->address ? a->address : ""));
    json_object_object_add(o, "port", json_object_new_int(a->port ? a->port : SSH_DEFAULT_PORT));
    json_object_object_add(
        o, "user", json_object_new_string(a->user && a->user[0] ? a->user : SSH_DEFAULT_USER));
    json_object_object_add(o, "identity", json_object_new_string(a->identity ? a->identity : ""));
    json_object_object_add(o, "hostKey",
                           json_object_new_string(a->known_host_key ? a->known_host_key : ""));
    json_object_object_add(o, "socket", json_object_new_string(a->socket ? a->socket : ""));
    json_object_object_add(o, "keepalive", json_object_new_int(access_keepalive_ms(p, a)));
    cjson_hash(o, out);
    json_object_put(o);
}

static void users_free(struct user *u)
{
    while (u) {
        struct user *n = u->next;

        free(u->tenant);
        free(u->name);
        free(u);
        u = n;
    }
}

/* Close everything of h; the caller has unlinked it and holds no pool lock. */
static void host_free(hostpool_host *h)
{
    if (!h)
        return;
    podman_client_free(h->pc);
    tunnel_free(h->tun);
    ssh_conn_free(h->conn); /* its last callbacks run here: h must still be whole */
    podman_events_stream_free(h->events);
    users_free(h->users);
    free(h->label);
    free(h);
}

static int host_new(hostpool *p, const hostpool_access *a, const char *key, hostpool_host **out,
                    omlop_err *err)
{
    hostpool_host *h = xcalloc(1, sizeof(*h));
    ssh_watch_ops wo = {.on_open = watch_open, .on_data = watch_data, .on_end = watch_end};
    ssh_host_config cfg;
    int rc;

    *out = NULL;
    h->pool = p;
    memcpy(h->key, key, sizeof(h->key));
    h->label = xstrdup(a->name && a->name[0] ? a->name : a->address ? a->address : "?");
    h->events = podman_events_stream_new(h->label, on_event, h);
    wo.ud = h;
    memset(&cfg, 0, sizeof(cfg));
    cfg.name = h->label;
    cfg.address = a->address;
    cfg.port = a->port;
    cfg.user = a->user;
    cfg.identity_data = a->identity;
    cfg.host_key = a->known_host_key;
    /* a key in the spec wins; without one, the operator-wide known_hosts (if any) decides */
    if (!a->known_host_key || !*a->known_host_key)
        cfg.known_hosts_file = p->known_hosts_file;
    cfg.connect_timeout_ms = p->o.connect_timeout_ms;
    cfg.is_spec_advice = 1; /* the user fixes the Tenant's spec or omlopd's config, not flags */
    cfg.backoff_max_ms = p->o.retry_max_ms;
    cfg.keepalive_interval_ms = access_keepalive_ms(p, a);
    cfg.keepalive_count_max = p->o.keepalive_count_max;
    cfg.loop = p->loop;
    cfg.on_state = on_state;
    cfg.state_ud = h;
    cfg.watch_socket = a->socket && a->socket[0] ? a->socket : TUNNEL_DEFAULT_SOCKET;
    cfg.watch_ops = &wo;
    if ((rc = ssh_conn_new(&cfg, &h->conn, err)) < 0 ||
        (rc = tunnel_new_ssh(h->conn, a->socket, &h->tun, err)) < 0 ||
        (rc = podman_client_new(h->tun, &h->pc, err)) < 0) {
        /* the clients name the host themselves (lib/err.h) */
        host_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

static hostpool_host *host_find(hostpool *p, const char *key)
{
    for (hostpool_host *h = p->hosts; h; h = h->next)
        if (strcmp(h->key, key) == 0)
            return h;
    return NULL;
}

/* Under pool->lock. A tenant joining a host that is down is told at once, as the others were. */
static void user_add(hostpool *p, hostpool_host *h, const char *tenant, const char *name)
{
    struct user *u = xcalloc(1, sizeof(*u));

    u->tenant = xstrdup(tenant);
    u->name = xstrdup(name ? name : h->label);
    u->next = h->users;
    h->users = u;
    h->refs++;
    h->idle_since_ms = 0;
    if (h->link.is_lost && p->o.on_link)
        p->o.on_link(p->o.ud, u->tenant, u->name, 0, h->lost_why);
}

int hostpool_acquire(hostpool *p, const char *tenant, const hostpool_access *a, hostpool_host **out,
                     omlop_err *err)
{
    char key[CJSON_HASH_HEX_LEN + 1];
    hostpool_host *h, *made = NULL;
    int rc;

    *out = NULL;
    access_key(p, a, key);
    pthread_mutex_lock(&p->lock);
    h = host_find(p, key);
    if (h)
        user_add(p, h, tenant, a->name);
    pthread_mutex_unlock(&p->lock);
    if (h) {
        *out = h;
        return 0;
    }
    /* made outside the lock: it does not wait for the host, but it waits for its pump */
    if ((rc = host_new(p, a, key, &made, err)) < 0)
        return rc;
    pthread_mutex_lock(&p->lock);
    h = host_find(p, key); /* another worker may have made the same one meanwhile */
    if (!h) {
        h = made;
        made = NULL;
        h->next = p->hosts;
        p->hosts = h;
    }
    user_add(p, h, tenant, a->name);
    pthread_mutex_unlock(&p->lock);
    host_free(made);
    *out = h;
    return 0;
}

void hostpool_release(hostpool *p, hostpool_host *h, const char *tenant, const char *name)
{
    if (!h)
        return;
    pthread_mutex_lock(&p->lock);
    for (struct user **pp = &h->users; *pp; pp = &(*pp)->next) {
        struct user *u = *pp;

        if (strcmp(u->tenant, tenant) == 0 && strcmp(u->name, name ? name : h->label) == 0) {
            *pp = u->next;
            u->next = NULL;
            users_free(u);
            h->refs--;
            break;
        }
    }
    if (h->refs == 0)
        h->idle_since_ms = clock_now_ms();
    pthread_mutex_unlock(&p->lock);
}

ssh_conn *hostpool_host_ssh(hostpool_host *h)
{
    return h->conn;
}

podman_client *hostpool_host_podman(hostpool_host *h)
{
    return h->pc;
}

int hostpool_host_matches(const hostpool_host *h, const hostpool_access *a)
{
    char key[CJSON_HASH_HEX_LEN + 1];

    access_key(h->pool, a, key);
    return strcmp(key, h->key) == 0;
}

int hostpool_host_wait(hostpool *p, hostpool_host *h, int timeout_ms, omlop_err *err)
{
    char prefix[64];
    int rc = ssh_conn_wait_connected(h->conn, timeout_ms, err);

    if (rc < 0)
        return rc;
    /* the event stream needs the host's API prefix (Podman 3 wants its own version's): the
     * client learns it with one ping and keeps it (until a ping answers, it says the v4
     * default and asks again next time) */
    podman_client_api_prefix(h->pc, prefix, sizeof(prefix));
    pthread_mutex_lock(&p->lock);
    snprintf(h->prefix, sizeof(h->prefix), "%s", prefix);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int hostpool_host_public_ip(hostpool *p, hostpool_host *h, const char *url, long ttl_s, strbuf *out,
                            omlop_err *err)
{
    time_t now = time(NULL);
    char ip_now[64] = "";
    strbuf ip = STRBUF_INIT;
    int rc;

    pthread_mutex_lock(&p->lock);
    if (h->public_ip[0] && now - h->public_ip_at < ttl_s) {
        strbuf_adds(out, h->public_ip);
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    pthread_mutex_unlock(&p->lock);
    rc = hostfs_public_ip(h->conn, url, &ip, err);
    pthread_mutex_lock(&p->lock);
    if (rc == 0) {
        snprintf(h->public_ip, sizeof(h->public_ip), "%s", strbuf_str(&ip));
        h->public_ip_at = now;
        snprintf(ip_now, sizeof(ip_now), "%s", h->public_ip);
        strbuf_adds(out, h->public_ip);
    } else if (h->public_ip[0]) {
        strbuf_adds(out, h->public_ip); /* the last answer beats none */
        rc = 0;
    }
    pthread_mutex_unlock(&p->lock);
    if (ip_now[0])
        log_info("host=%s public IP %s (from %s)", h->label, ip_now, url);
    strbuf_release(&ip);
    return rc;
}

void hostpool_get_stats(hostpool *p, hostpool_stats *st)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&p->lock);
    for (hostpool_host *h = p->hosts; h; h = h->next) {
        st->hosts++;
        st->users += h->refs;
        st->idle += h->refs == 0;
    }
    pthread_mutex_unlock(&p->lock);
    st->shards = p->loop ? ssh_loop_threads(p->loop) : 0;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

/* Close the hosts whose last user left more than linger_ms ago. */
static void *janitor_main(void *arg)
{
    hostpool *p = arg;

    pthread_mutex_lock(&p->lock);
    while (!p->is_stopping) {
        struct timespec ts;
        hostpool_host *gone = NULL;
        long long now = clock_now_ms();

        for (hostpool_host **pp = &p->hosts; *pp;) {
            hostpool_host *h = *pp;

            if (h->refs == 0 && now - h->idle_since_ms >= p->o.linger_ms) {
                *pp = h->next;
                h->next = gone;
                gone = h;
            } else {
                pp = &h->next;
            }
        }
        if (gone) {
            pthread_mutex_unlock(&p->lock);
            while (gone) {
                hostpool_host *n = gone->next;

                log_info("host=%s connection closed (no tenant uses it)", gone->label);
                host_free(gone);
                gone = n;
            }
            pthread_mutex_lock(&p->lock);
            continue;
        }
        clock_deadline_after(&ts, JANITOR_TICK_MS);
        pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int hostpool_new(const hostpool_options *o, hostpool **out, omlop_err *err)
{
    hostpool *p = xcalloc(1, sizeof(*p));
    pthread_condattr_t ca;
    int rc;

    *out = NULL;
    if (o)
        p->o = *o;
    if (p->o.linger_ms <= 0)
        p->o.linger_ms = HOSTPOOL_DEFAULT_LINGER_MS;
    if (p->o.retry_max_ms <= 0)
        p->o.retry_max_ms = HOSTPOOL_DEFAULT_RETRY_MAX_MS;
    p->known_hosts_file = p->o.known_hosts_file ? xstrdup(p->o.known_hosts_file) : NULL;
    p->tenant_label = p->o.tenant_label ? xstrdup(p->o.tenant_label) : NULL;
    p->filter_label = p->o.filter_label ? xstrdup(p->o.filter_label) : NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    rc = ssh_loop_new(p->o.shards, &p->loop, err);
    if (rc < 0) {
        hostpool_free(p);
        return rc;
    }
    if (pthread_create(&p->janitor, NULL, janitor_main, p) != 0) {
        hostpool_free(p);
        return omlop_err_set(err, OMLOP_EINTERNAL, "host pool: cannot start its thread");
    }
    p->has_janitor = 1;
    *out = p;
    return 0;
}

void hostpool_free(hostpool *p)
{
    hostpool_host *h;

    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->is_stopping = 1;
    pthread_cond_broadcast(&p->cond);
    h = p->hosts;
    p->hosts = NULL;
    pthread_mutex_unlock(&p->lock);
    if (p->has_janitor)
        pthread_join(p->janitor, NULL);
    while (h) {
        hostpool_host *n = h->next;

        host_free(h);
        h = n;
    }
    ssh_loop_free(p->loop); /* after the sessions on it */
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->known_hosts_file);
    free(p->tenant_label);
    free(p->filter_label);
    free(p);
}
