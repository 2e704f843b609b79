/*
 * manager: workers, triggers and the host connection cache (see manager.h).
 */
#include "operator/manager.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/hostfs.h"
#include "clients/podman.h"
#include "clients/podman_events.h"
#include "clients/ssh.h"
#include "clients/tunnel.h"
#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "operator/config.h"
#include "operator/workqueue.h"
#include "reconcilers/backup.h"
#include "reconcilers/desired.h"
#include "reconcilers/secrets.h"
#include "reconcilers/tenant.h"
#include "reconcilers/tenant_memo.h"
#include "reconcilers/tenant_lifecycle.h"

#define CONNECT_TIMEOUT_MS_DEFAULT 10000
#define WATCH_POLL_MS              500
#define QUEUE_BACKOFF_BASE_MS      500
#define QUEUE_BACKOFF_MAX_MS       (5 * 60 * 1000)
#define RELIST_PAUSE_MS            1000
/* The follower looks at a lost host's SSH connection this often (and checks cancel). */
#define LINK_POLL_MS 200
/* Cap of the SSH reconnect backoff: a host that is back is noticed within this (ssh.h's
 * default, 30 s, would add up to that much to every recovery). */
#define HOST_RETRY_MAX_MS 5000
/* The pause after a follow ended without a loss (should not happen), so it cannot spin. */
#define FOLLOW_PAUSE_MS 1000
/* Expired events are looked for this often (and once at start). */
#define EVENT_GC_INTERVAL_MS (60 * 1000)

/* One cached host: the SSH connection, its tunnel and Podman client, and the event follower. */
typedef struct host_entry {
    struct host_entry *next;
    manager *m;
    char *tenant;
    char *host;
    char cfg_hash[CJSON_HASH_HEX_LEN + 1]; /* of everything that decides how to connect */
    ssh_conn *conn;
    tunnel *tun;
    podman_client *pc;
    pthread_t events_thread;
    int has_events_thread;
    atomic_int cancel;      /* ends the event follower */
    atomic_int stop_follow; /* ends one follow: set with cancel, or when the host is lost */
    /* the follower's alone: what it last saw of the SSH connection */
    manager_link link;
    unsigned follow_connects; /* the connection count the current follow runs on */
    char public_ip[64];       /* the host's public IPv4 address, once asked (its worker's) */
    time_t public_ip_at;
} host_entry;

/* Last seen "spec" hash (everything but .status) of a tenant, and tombstones of deleted ones. */
typedef struct name_val {
    struct name_val *next;
    char *name;
    char *val;
} name_val;

struct manager {
    store *st;
    events *ev;
    manager_options opts;
    workqueue *q;
    tenant_env env;
    atomic_int stop; /* also the reconciles' cancel flag */
    pthread_t watch_thread;
    pthread_t secrets_thread;
    pthread_t backups_thread; /* the store watch on Backups (backups_main) */
    pthread_t *workers;
    int n_workers;
    int has_watch_thread;
    int has_secrets_thread;
    int has_backups_thread;
    /* lock protects hosts, seen, tombs and refs; never held across host or store I/O */
    pthread_mutex_t lock;
    host_entry *hosts;
    name_val *seen;
    name_val *tombs;
    /* tenant -> the Secrets it reads, "\nname\nname\n" (secrets_referenced) */
    name_val *refs;
};

/* ---- options ------------------------------------------------------------------------------ */

void manager_options_default(manager_options *o)
{
    memset(o, 0, sizeof(*o));
    o->is_enabled = 1;
    o->workers = MANAGER_DEFAULT_WORKERS;
    o->resync_s = MANAGER_DEFAULT_RESYNC_S;
    o->event_ttl_s = MANAGER_DEFAULT_EVENT_TTL_S;
}

void manager_usage(FILE *out)
{
    fprintf(out, "\nReconciling (operator/manager.h; also config keys, flags win):\n"
                 "  --reconcile / --no-reconcile   reconcile: true|false - run the tenant\n"
                 "                                 reconcile loop (default: true)\n"
                 "  --workers N                    workers: tenants reconciled in parallel (2)\n"
                 "  --resync SECONDS               resync: look at every tenant this often (60)\n"
                 "  --ready-timeout DURATION       readyTimeout: a started component must be\n"
                 "                                 running and ready within (30s; \"500ms\")\n"
                 "  --connect-timeout DURATION     connectTimeout: reaching a host over SSH\n"
                 "                                 in a round (10s)\n"
                 "  --public-ip-url URL            publicIPURL: what hosts ask for their public\n"
                 "                                 IPv4 address when the spec gives none\n"
                 "                                 (" MANAGER_DEFAULT_PUBLIC_IP_URL ")\n"
                 "  --known-hosts FILE             knownHostsFile: OpenSSH known_hosts that\n"
                 "                                 verifies hosts whose spec has no\n"
                 "                                 knownHostKey (without it they are refused)\n"
                 "  --event-ttl SECONDS            eventTTL: an Event not raised again for this\n"
                 "                                 long is deleted (3600)\n");
}

/* ---- small tables ------------------------------------------------------------------------- */

static name_val **nv_find(name_val **head, const char *name)
{
    for (; *head; head = &(*head)->next)
        if (strcmp((*head)->name, name) == 0)
            return head;
    return NULL;
}

/* Set name's value (taking val); returns 1 when it changed. */
static int nv_set_take(name_val **head, const char *name, char *val)
{
    name_val **p = nv_find(head, name), *n;

    if (p) {
        int changed = strcmp((*p)->val, val) != 0;

        free((*p)->val);
        (*p)->val = val;
        return changed;
    }
    n = xcalloc(1, sizeof(*n));
    n->name = xstrdup(name);
    n->val = val;
    n->next = *head;
    *head = n;
    return 1;
}

/* Remove name and return its value (caller frees), or NULL. */
static char *nv_take(name_val **head, const char *name)
{
    name_val **p = nv_find(head, name), *n;
    char *v;

    if (!p)
        return NULL;
    n = *p;
    *p = n->next;
    v = n->val;
    free(n->name);
    free(n);
    return v;
}

static void nv_free_all(name_val **head)
{
    while (*head)
        free(nv_take(head, (*head)->name));
}

/* ---- host cache --------------------------------------------------------------------------- */

static int on_podman_event(void *ud, const podman_event *ev)
{
    host_entry *e = ud;
    json_object *owner = NULL;

    /* the label filter should only pass this tenant's containers; check, it is cheap */
    if (json_object_object_get_ex(ev->attributes, OMLOP_LABEL_TENANT, &owner) &&
        strcmp(json_object_get_string(owner), e->tenant) != 0)
        return 0;
    log_info("tenant=%s host=%s container=%s event=%s requeued", e->tenant, e->host,
             ev->name ? ev->name : "?", ev->action ? ev->action : "?");
    workqueue_add(e->m->q, e->tenant);
    return 0;
}

manager_link_change manager_link_observe(manager_link *l, ssh_conn_state state, unsigned connects)
{
    switch (state) {
    case SSH_CONN_CONNECTED: {
        /* a count that moved means it dropped and reconnected between two looks */
        int is_back = l->is_lost || (l->connects && connects != l->connects);

        l->is_lost = 0;
        l->connects = connects;
        return is_back ? MANAGER_LINK_BACK : MANAGER_LINK_SAME;
    }
    case SSH_CONN_DOWN:
        if (l->is_lost)
            return MANAGER_LINK_SAME;
        l->is_lost = 1;
        return MANAGER_LINK_LOST;
    default: /* the first attempt still running, or being freed: nothing learned */
        return MANAGER_LINK_SAME;
    }
}

/* Sleep ms in short slices; 1 when the entry was cancelled meanwhile. */
static int pause_cancellable(host_entry *e, long ms)
{
    while (ms > 0 && !atomic_load(&e->cancel)) {
        long step = ms < 100 ? ms : 100;
        struct timespec ts = {0, step * 1000000L};

        nanosleep(&ts, NULL);
        ms -= step;
    }
    return atomic_load(&e->cancel) != 0;
}

/*
 * Wait until the host's SSH connection is up (the connection retries by itself; this only
 * looks, in short slices so cancel is seen). Reports a loss and a recovery once each, and
 * queues the tenant on both. Returns 1 when cancelled.
 */
static int follower_wait_link(host_entry *e)
{
    for (;;) {
        omlop_err err = OMLOP_ERR_INIT;
        ssh_conn_status st;

        if (atomic_load(&e->cancel))
            return 1;
        /* returns at once unless the first attempt is still running; then it waits for it */
        (void)ssh_conn_wait_connected(e->conn, LINK_POLL_MS, &err);
        ssh_conn_get_status(e->conn, &st);
        switch (manager_link_observe(&e->link, st.state, st.connects)) {
        case MANAGER_LINK_LOST:
            log_warn("tenant=%s host=%s host lost (%s): self-healing paused, it resumes when "
                     "the SSH connection is back",
                     e->tenant, e->host, st.last_error[0] ? st.last_error : "not connected");
            /* a round now shows it in the status (HostsReachable) instead of at the resync;
             * the failed rounds after it back off as usual */
            workqueue_add(e->m->q, e->tenant);
            break;
        case MANAGER_LINK_BACK:
            /* Whatever happened on the host meanwhile (containers died, events we never saw)
             * needs no replay: the round re-reads every container (level-triggered). The new
             * stream starts from the host's current second, so only a death between that
             * round's read and the stream's start would wait for the resync. */
            log_info("tenant=%s host=%s host back: following its events again, tenant queued",
                     e->tenant, e->host);
            manager_host_back(e->m, e->tenant);
            break;
        case MANAGER_LINK_SAME:
            break;
        }
        if (st.state == SSH_CONN_CONNECTED) {
            e->follow_connects = st.connects;
            return 0;
        }
        if (st.state != SSH_CONN_CONNECTING && pause_cancellable(e, LINK_POLL_MS))
            return 1;
    }
}

/*
 * podman_break_fn: a break while SSH stays up (Podman restarted) is resumed by the follow
 * itself, replaying what it missed; a break that comes from a lost (or replaced) SSH
 * connection ends the follow, so the loop below waits for the host and reports it.
 */
static void on_follow_break(void *ud, const omlop_err *why, unsigned attempt)
{
    host_entry *e = ud;
    ssh_conn_status st;

    (void)why;
    (void)attempt;
    ssh_conn_get_status(e->conn, &st);
    if (st.state != SSH_CONN_CONNECTED || st.connects != e->follow_connects)
        atomic_store(&e->stop_follow, 1);
}

/* The event follower: follows the host's events, and again whenever the host comes back. */
static void *events_main(void *arg)
{
    host_entry *e = arg;
    strbuf lbl = STRBUF_INIT;
    const char *labels[3], *types[] = {"container", NULL};
    const char *actions[] = {"died", "remove", "oom", "health_status", NULL};
    podman_filters f;
    podman_events_opts o;

    strbuf_addf(&lbl, "%s=%s", OMLOP_LABEL_TENANT, e->tenant);
    labels[0] = lbl.buf;
    labels[1] = OMLOP_LABEL_MANAGED_BY "=" OMLOP_MANAGER_NAME;
    labels[2] = NULL;
    memset(&f, 0, sizeof(f));
    f.labels = labels;
    f.types = types;
    f.events = actions;
    memset(&o, 0, sizeof(o));
    o.filters = &f;
    o.cancel = &e->stop_follow;
    o.on_break = on_follow_break;
    o.break_ud = e;
    /* Bounded by cancel: each pass either follows until a loss or waits for the host. */
    while (!atomic_load(&e->cancel)) {
        omlop_err err = OMLOP_ERR_INIT;
        int rc;

        if (follower_wait_link(e))
            break;
        /* cleared before cancel is read: host_entry_free sets cancel, then stop_follow */
        atomic_store(&e->stop_follow, 0);
        if (atomic_load(&e->cancel))
            break;
        rc = podman_events_follow(e->pc, &o, on_podman_event, e, &err);
        if (atomic_load(&e->cancel))
            break;
        if (atomic_load(&e->stop_follow))
            continue; /* the host was lost: follower_wait_link reports it and waits */
        /* the follow gave up on its own (it should not: no max_resumes); do not spin */
        if (rc < 0)
            log_warn("tenant=%s host=%s event stream ended: %s", e->tenant, e->host, err.msg);
        if (pause_cancellable(e, FOLLOW_PAUSE_MS))
            break;
    }
    strbuf_release(&lbl);
    return NULL;
}

static void host_entry_free(host_entry *e)
{
    if (!e)
        return;
    atomic_store(&e->cancel, 1);
    atomic_store(&e->stop_follow, 1);
    if (e->has_events_thread)
        pthread_join(e->events_thread, NULL);
    podman_client_free(e->pc);
    tunnel_free(e->tun);
    ssh_conn_free(e->conn);
    free(e->tenant);
    free(e->host);
    free(e);
}

static void access_hash(const tenant_host_access *a, char out[CJSON_HASH_HEX_LEN + 1])
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "address", json_object_new_string(a->address ? a->address : ""));
    json_object_object_add(o, "port", json_object_new_int(a->port));
    json_object_object_add(o, "user", json_object_new_string(a->user ? a->user : ""));
    json_object_object_add(o, "identity", json_object_new_string(a->identity ? a->identity : ""));
    json_object_object_add(o, "hostKey",
                           json_object_new_string(a->known_host_key ? a->known_host_key : ""));
    json_object_object_add(o, "socket", json_object_new_string(a->socket ? a->socket : ""));
    cjson_hash(o, out);
    json_object_put(o);
}

static int host_entry_new(manager *m, const tenant_host_access *a, const char *hash,
                          host_entry **out, omlop_err *err)
{
    host_entry *e = xcalloc(1, sizeof(*e));
    ssh_host_config cfg;
    int rc;

    *out = NULL;
    e->m = m;
    e->tenant = xstrdup(a->tenant);
    e->host = xstrdup(a->host);
    memcpy(e->cfg_hash, hash, sizeof(e->cfg_hash));
    atomic_init(&e->cancel, 0);
    atomic_init(&e->stop_follow, 0);
    memset(&cfg, 0, sizeof(cfg));
    cfg.name = a->host;
    cfg.address = a->address;
    cfg.port = a->port;
    cfg.user = a->user;
    cfg.identity_data = a->identity;
    cfg.host_key = a->known_host_key;
    /* a key in the spec wins; without one, the operator-wide known_hosts (if any) decides */
    if (!a->known_host_key || !*a->known_host_key)
        cfg.known_hosts_file = m->opts.known_hosts_file;
    cfg.connect_timeout_ms = m->opts.connect_timeout_ms;
    cfg.is_spec_advice = 1; /* the user fixes the Tenant's spec or omlopd's config, not flags */
    cfg.backoff_max_ms = HOST_RETRY_MAX_MS;
    if ((rc = ssh_conn_new(&cfg, &e->conn, err)) < 0 ||
        (rc = tunnel_new_ssh(e->conn, a->socket, &e->tun, err)) < 0 ||
        (rc = podman_client_new(e->tun, &e->pc, err)) < 0) {
        /* the clients name the host themselves (lib/err.h) */
        host_entry_free(e);
        return rc;
    }
    if (pthread_create(&e->events_thread, NULL, events_main, e) == 0)
        e->has_events_thread = 1;
    else
        log_warn("tenant=%s host=%s no event follower (thread): self-healing waits for resync",
                 a->tenant, a->host);
    *out = e;
    return 0;
}

/* ---- host ops: files and TCP probes over the entry's SSH connection (clients/hostfs.h) --- */

/* the digests are handed through unchanged: both sides must agree on their size */
_Static_assert(TENANT_SHA256_HEX_LEN == HOSTFS_SHA256_HEX_LEN,
               "tenant_host_ops and hostfs disagree on the SHA-256 hex length");

static int ops_file_hashes(void *ctx, const char *const *paths, size_t n,
                           char (*hex)[TENANT_SHA256_HEX_LEN + 1], omlop_err *err)
{
    return hostfs_hashes(((host_entry *)ctx)->conn, paths, n, hex, err);
}

static int ops_files_write(void *ctx, const tenant_file_write *files, size_t n, omlop_err *err)
{
    hostfs_file *hf = xcalloc(n ? n : 1, sizeof(*hf));
    int rc;

    for (size_t i = 0; i < n; i++)
        hf[i] = (hostfs_file){files[i].path, files[i].data, files[i].len, files[i].mode};
    rc = hostfs_write_many(((host_entry *)ctx)->conn, hf, n, err);
    free(hf);
    return rc;
}

static int ops_file_remove(void *ctx, const char *path, omlop_err *err)
{
    return hostfs_remove(((host_entry *)ctx)->conn, path, err);
}

/* The host's public IP, asked of it at most every MANAGER_PUBLIC_IP_TTL_S (only its tenant's
 * worker uses the entry, one round at a time, so the cache needs no lock). */
static int ops_public_ip(void *ctx, strbuf *out, omlop_err *err)
{
    host_entry *e = ctx;
    const char *url =
        e->m->opts.public_ip_url ? e->m->opts.public_ip_url : MANAGER_DEFAULT_PUBLIC_IP_URL;
    time_t now = time(NULL);
    strbuf ip = STRBUF_INIT;
    int rc;

    if (e->public_ip[0] && now - e->public_ip_at < MANAGER_PUBLIC_IP_TTL_S) {
        strbuf_adds(out, e->public_ip);
        return 0;
    }
    rc = hostfs_public_ip(e->conn, url, &ip, err);
    if (rc == 0) {
        snprintf(e->public_ip, sizeof(e->public_ip), "%s", strbuf_str(&ip));
        e->public_ip_at = now;
        log_info("tenant=%s host=%s public IP %s (from %s)", e->tenant, e->host, e->public_ip, url);
        strbuf_adds(out, e->public_ip);
    } else if (e->public_ip[0]) {
        strbuf_adds(out, e->public_ip); /* the last answer beats none */
        rc = 0;
    }
    strbuf_release(&ip);
    return rc;
}

static int ops_dirs_present(void *ctx, const char *const *paths, size_t n, int *present,
                            omlop_err *err)
{
    return hostfs_dirs_present(((host_entry *)ctx)->conn, paths, n, present, err);
}

static int ops_dirs_make(void *ctx, const tenant_dir *dirs, size_t n, const char *record,
                         omlop_err *err)
{
    hostfs_dir *hd = xcalloc(n ? n : 1, sizeof(*hd));
    int rc;

    for (size_t i = 0; i < n; i++)
        hd[i] = (hostfs_dir){dirs[i].path, dirs[i].mode, dirs[i].owner};
    rc = hostfs_dirs_make(((host_entry *)ctx)->conn, hd, n, record, err);
    free(hd);
    return rc;
}

static int ops_dirs_remove(void *ctx, const char *record, omlop_err *err)
{
    return hostfs_dirs_remove(((host_entry *)ctx)->conn, record, err);
}

static int ops_tcp_probe(void *ctx, const char *address, int port, omlop_err *err)
{
    return hostfs_probe_tcp(((host_entry *)ctx)->conn, address, port, err);
}

/* ctx: the host entry's ssh_conn */
static const tenant_host_ops host_ops = {
    .file_hashes = ops_file_hashes,
    .files_write = ops_files_write,
    .file_remove = ops_file_remove,
    .dirs_present = ops_dirs_present,
    .dirs_make = ops_dirs_make,
    .dirs_remove = ops_dirs_remove,
    .public_ip = ops_public_ip,
    .tcp_probe = ops_tcp_probe,
};

/* tenant_host_fn: the cached client for this host, connecting or replacing it as needed. */
static int host_get(void *ctx, const tenant_host_access *a, tenant_host_conn *out,
                    tenant_host_info *info, omlop_err *err)
{
    manager *m = ctx;
    char hash[CJSON_HASH_HEX_LEN + 1];
    host_entry **p, *e = NULL, *stale = NULL;
    ssh_conn_status st;
    int timeout =
        m->opts.connect_timeout_ms > 0 ? m->opts.connect_timeout_ms : CONNECT_TIMEOUT_MS_DEFAULT;
    int rc;

    memset(out, 0, sizeof(*out));
    access_hash(a, hash);
    pthread_mutex_lock(&m->lock);
    for (p = &m->hosts; *p; p = &(*p)->next)
        if (strcmp((*p)->tenant, a->tenant) == 0 && strcmp((*p)->host, a->host) == 0)
            break;
    if (*p && strcmp((*p)->cfg_hash, hash) != 0) {
        stale = *p; /* the host's access changed: start over */
        *p = stale->next;
    } else if (*p)
        e = *p;
    pthread_mutex_unlock(&m->lock);
    /* Only this tenant's worker (one at a time, by the queue) adds or drops its entries, so
     * using e outside the lock is safe. */
    host_entry_free(stale);
    if (!e) {
        if ((rc = host_entry_new(m, a, hash, &e, err)) < 0)
            return rc;
        pthread_mutex_lock(&m->lock);
        e->next = m->hosts;
        m->hosts = e;
        pthread_mutex_unlock(&m->lock);
    }
    rc = ssh_conn_wait_connected(e->conn, timeout, err);
    ssh_conn_get_status(e->conn, &st);
    if (info)
        snprintf(info->fingerprint, sizeof(info->fingerprint), "%s", st.host_key_fingerprint);
    if (rc < 0)
        return rc; /* "host NAME (user@address:port): why" from clients/ssh (lib/err.h) */
    out->pc = e->pc;
    /* the entry (and its connection) stays until this tenant's own worker drops it */
    out->ops = &host_ops;
    out->ops_ctx = e;
    return 0;
}

static int is_kept(const char *host, const char *const *keep)
{
    for (size_t i = 0; keep && keep[i]; i++)
        if (strcmp(keep[i], host) == 0)
            return 1;
    return 0;
}

/* tenant_host_forget_fn: drop a tenant's entries for hosts not in keep. */
static void host_forget(void *ctx, const char *tenant, const char *const *keep)
{
    manager *m = ctx;
    host_entry **p, *gone = NULL;

    pthread_mutex_lock(&m->lock);
    for (p = &m->hosts; *p;) {
        host_entry *e = *p;

        if (strcmp(e->tenant, tenant) == 0 && !is_kept(e->host, keep)) {
            *p = e->next;
            e->next = gone;
            gone = e;
        } else
            p = &e->next;
    }
    pthread_mutex_unlock(&m->lock);
    while (gone) {
        host_entry *n = gone->next;

        log_info("tenant=%s host=%s connection closed (host left the spec)", tenant, gone->host);
        host_entry_free(gone);
        gone = n;
    }
}

/* ---- workers ------------------------------------------------------------------------------ */

/* The tenant's Backups, after its round, in its worker (reconcilers/backup.h): same hosts. */
static void backups_one(manager *m, const char *name, int is_ready)
{
    backup_env be;
    omlop_err err = OMLOP_ERR_INIT;

    memset(&be, 0, sizeof(be));
    be.st = m->st;
    be.ev = m->ev;
    be.host_get = m->env.host_get;
    be.host_ctx = m->env.host_ctx;
    be.cancel = &m->stop;
    if (backup_reconcile_tenant(&be, name, is_ready, &err) < 0)
        log_warn("tenant=%s backups: %s", name, err.msg);
}

static void reconcile_one(manager *m, const char *name)
{
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    int rc = tenant_reconcile(&m->env, name, &res, &err);

    backups_one(m, name, rc == 0 && !res.is_gone && res.is_converged);

    if (rc == 0 && res.is_gone) {
        char *tomb;

        pthread_mutex_lock(&m->lock);
        tomb = nv_take(&m->tombs, name);
        pthread_mutex_unlock(&m->lock);
        if (!tomb) {
            host_forget(m, name, NULL);
            workqueue_forget(m->q, name);
            return;
        }
        rc = tenant_teardown(&m->env, tomb, &err);
        if (rc < 0) {
            log_warn("tenant=%s teardown failed, retrying: %s", name, err.msg);
            pthread_mutex_lock(&m->lock);
            if (!nv_find(&m->tombs, name))
                nv_set_take(&m->tombs, name, tomb);
            else
                free(tomb);
            pthread_mutex_unlock(&m->lock);
            workqueue_add_rate_limited(m->q, name);
            return;
        }
        log_info("tenant=%s deleted: its containers are removed", name);
        free(tomb);
        workqueue_forget(m->q, name);
        return;
    }
    if (rc < 0) {
        log_warn("tenant=%s reconcile failed (retry in %lld ms): %s", name,
                 (long long)workqueue_backoff_ms(m->q, name), err.msg);
        workqueue_add_rate_limited(m->q, name);
        return;
    }
    workqueue_forget(m->q, name);
    if (res.requeue_ms > 0)
        workqueue_add_after(m->q, name, res.requeue_ms);
}

static void *worker_main(void *arg)
{
    manager *m = arg;
    char *key;

    while ((key = workqueue_get(m->q, -1)) != NULL) {
        if (!atomic_load(&m->stop))
            reconcile_one(m, key);
        workqueue_done(m->q, key);
        free(key);
    }
    return NULL;
}

/* ---- store watch and resync --------------------------------------------------------------- */

/* The tenant name of a store key, or NULL. */
static const char *key_name(const char *key)
{
    size_t pl = strlen(TENANT_KEY_PREFIX);

    if (!key || strncmp(key, TENANT_KEY_PREFIX, pl) != 0 || !key[pl] || strchr(key + pl, '/'))
        return NULL;
    return key + pl;
}

/* Drop omlop's own finalizer from o's list (a no-op when absent). */
static void drop_own_finalizer(json_object *o)
{
    json_object *f = cjson_get(o, "metadata.finalizers"), *keep;

    if (!f || !json_object_is_type(f, json_type_array))
        return;
    keep = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(f); i++) {
        json_object *e = json_object_array_get_idx(f, i);
        const char *s = json_object_get_string(e);

        if (!s || strcmp(s, TENANT_FINALIZER) != 0)
            json_object_array_add(keep, json_object_get(e));
    }
    if (json_object_array_length(keep) == 0) {
        json_object_put(keep); /* [] and no list at all must hash the same */
        json_object_object_del(cjson_get(o, "metadata"), "finalizers");
        return;
    }
    json_object_object_add(cjson_get(o, "metadata"), "finalizers", keep);
}

/*
 * Hash of a stored Tenant o without .status and without omlop's finalizer:
 * what the reconciler must react to (its own writes of either do not wake it
 * again; a PUT that drops the finalizer is repaired at the next round or
 * resync). Changes o.
 */
static char *spec_hash(json_object *o)
{
    char h[CJSON_HASH_HEX_LEN + 1];

    if (!o)
        return xstrdup("unparsable");
    json_object_object_del(o, "status");
    drop_own_finalizer(o);
    cjson_hash(o, h);
    return xstrdup(h);
}

/* The Secrets tenant o reads, as "\nname\n...\n" (so "\nNAME\n" finds one). */
static char *refs_text(const json_object *o)
{
    char **names = o ? secrets_referenced(o) : NULL;
    strbuf t = STRBUF_INIT;

    strbuf_addch(&t, '\n');
    for (size_t i = 0; names && names[i]; i++)
        strbuf_addf(&t, "%s\n", names[i]);
    secrets_names_free(names);
    return strbuf_detach(&t, NULL);
}

/* Note the tenant's current value; queue it when it is new or its spec changed (or always). */
static void observe(manager *m, const char *name, const char *value, size_t len, int is_always)
{
    json_object *o = object_parse(value, len);
    char *refs = refs_text(o), *h = spec_hash(o);
    int changed;

    json_object_put(o);
    pthread_mutex_lock(&m->lock);
    changed = nv_set_take(&m->seen, name, h);
    nv_set_take(&m->refs, name, refs);
    free(nv_take(&m->tombs, name)); /* it exists again */
    pthread_mutex_unlock(&m->lock);
    if (changed || is_always)
        workqueue_add(m->q, name);
}

/* List every tenant and queue each; *revision = the list's revision. */
static int resync(manager *m, int64_t *revision, omlop_err *err)
{
    store_list_opts lo;
    store_list_result res;
    int rc;

    memset(&lo, 0, sizeof(lo));
    memset(&res, 0, sizeof(res));
    lo.prefix = TENANT_KEY_PREFIX;
    rc = store_list(m->st, &lo, &res, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < res.items.n; i++) {
        const store_kv *kv = &res.items.items[i];
        const char *name = key_name(kv->key);

        if (name && kv->value)
            observe(m, name, kv->value, kv->value_len, 1);
    }
    if (revision)
        *revision = res.revision;
    store_list_result_release(&res);
    return 0;
}

/* Whether a deleted Tenant's last value went through the finalizer (had a deletionTimestamp). */
static int was_finalized(const char *value, size_t len)
{
    json_object *o = object_parse(value, len);
    int is_deleting = o && tenant_is_deleting(o);

    json_object_put(o);
    return is_deleting;
}

static void on_store_event(manager *m, const store_event *ev)
{
    const char *name = key_name(ev->kv.key);

    if (!name)
        return;
    if (ev->type == STORE_EVENT_DELETED) {
        pthread_mutex_lock(&m->lock);
        free(nv_take(&m->seen, name));
        free(nv_take(&m->refs, name));
        /* Deleted through the finalizer (torn down already, or the finalizer was removed by
         * hand to force it): nothing left to do. Otherwise tear down from the last value. */
        if (ev->kv.value && !was_finalized(ev->kv.value, ev->kv.value_len))
            nv_set_take(&m->tombs, name, xstrdup(ev->kv.value));
        pthread_mutex_unlock(&m->lock);
        workqueue_add(m->q, name);
        return;
    }
    if (ev->kv.value)
        observe(m, name, ev->kv.value, ev->kv.value_len, 0);
}

/* Delete the events not raised again within the TTL (kube-apiserver's --event-ttl). */
static void events_gc(manager *m)
{
    omlop_err err = OMLOP_ERR_INIT;
    size_t n = 0;

    if (!m->ev || m->opts.event_ttl_s <= 0)
        return;
    if (events_prune(m->ev, time(NULL), m->opts.event_ttl_s, &n, &err) < 0)
        log_warn("reconcile: deleting expired events failed: %s", err.msg);
    else if (n)
        log_info("events=%zu ttl_s=%d expired events deleted", n, m->opts.event_ttl_s);
}

static void *watch_main(void *arg)
{
    manager *m = arg;
    int64_t next_gc = 0;

    while (!atomic_load(&m->stop)) {
        omlop_err err = OMLOP_ERR_INIT;
        store_watch *w = NULL;
        int64_t rev = 0, next_resync;

        if (resync(m, &rev, &err) < 0 ||
            store_watch_open(m->st, TENANT_KEY_PREFIX, rev, &w, &err) < 0) {
            log_warn("reconcile: listing or watching tenants failed, retrying: %s", err.msg);
            for (int i = 0; i < RELIST_PAUSE_MS / 100 && !atomic_load(&m->stop); i++) {
                struct timespec ts = {0, 100 * 1000000L};

                nanosleep(&ts, NULL);
            }
            continue;
        }
        next_resync = clock_now_ms() + (int64_t)m->opts.resync_s * 1000;
        while (!atomic_load(&m->stop)) {
            store_event ev;
            int rc;

            memset(&ev, 0, sizeof(ev));
            rc = store_watch_next(w, &ev, WATCH_POLL_MS, &err);
            if (rc == 0) {
                on_store_event(m, &ev);
                store_event_release(&ev);
            } else if (rc != OMLOP_ETIMEOUT) {
                if (!atomic_load(&m->stop))
                    log_info("reconcile: tenant watch ended (%s), listing again", err.msg);
                break; /* EGONE: list again and watch from there */
            }
            if (clock_now_ms() >= next_gc) {
                events_gc(m);
                next_gc = clock_now_ms() + EVENT_GC_INTERVAL_MS;
            }
            if (clock_now_ms() >= next_resync) {
                if (resync(m, NULL, &err) < 0)
                    log_warn("reconcile: resync failed: %s", err.msg);
                next_resync = clock_now_ms() + (int64_t)m->opts.resync_s * 1000;
            }
        }
        store_watch_close(w);
    }
    return NULL;
}

/* ---- Secrets: a changed Secret wakes the tenants that read it ------------------------------ */

/* Queue tenant now, forgetting its backoff (it may have been failing on what just changed). */
static void requeue_fresh(manager *m, const char *tenant)
{
    /* forget first: the add cancels the pending delayed retry, the forget makes the next
     * failure (if it is still not right) start again at the base backoff */
    workqueue_forget(m->q, tenant);
    workqueue_add(m->q, tenant);
}

size_t manager_secret_changed(manager *m, const char *secret)
{
    strbuf needle = STRBUF_INIT;
    char **hit = NULL;
    size_t n = 0;

    strbuf_addf(&needle, "\n%s\n", secret);
    pthread_mutex_lock(&m->lock);
    for (name_val *p = m->refs; p; p = p->next)
        if (strstr(p->val, needle.buf)) {
            hit = xrealloc(hit, (n + 1) * sizeof(*hit));
            hit[n++] = xstrdup(p->name);
        }
    pthread_mutex_unlock(&m->lock);
    for (size_t i = 0; i < n; i++) {
        log_info("tenant=%s secret=%s secret changed: tenant queued", hit[i], secret);
        requeue_fresh(m, hit[i]);
        free(hit[i]);
    }
    free(hit);
    strbuf_release(&needle);
    return n;
}

int manager_failures(manager *m, const char *tenant)
{
    return workqueue_failures(m->q, tenant);
}

/*
 * Follow /omlop/secrets/ from now on. After a break (compaction, a slow reader) it follows
 * again from the current revision: a change in the gap is picked up by the resync.
 */
static void *secrets_main(void *arg)
{
    manager *m = arg;
    size_t pl = strlen(SECRETS_KEY_PREFIX);

    while (!atomic_load(&m->stop)) {
        omlop_err err = OMLOP_ERR_INIT;
        store_watch *w = NULL;
        int64_t rev = 0;

        if (store_current_revision(m->st, &rev, &err) < 0 ||
            store_watch_open(m->st, SECRETS_KEY_PREFIX, rev, &w, &err) < 0) {
            log_warn("reconcile: watching secrets failed, retrying: %s", err.msg);
            for (int i = 0; i < RELIST_PAUSE_MS / 100 && !atomic_load(&m->stop); i++) {
                struct timespec ts = {0, 100 * 1000000L};

                nanosleep(&ts, NULL);
            }
            continue;
        }
        while (!atomic_load(&m->stop)) {
            store_event ev;
            int rc;

            memset(&ev, 0, sizeof(ev));
            rc = store_watch_next(w, &ev, WATCH_POLL_MS, &err);
            if (rc == 0) {
                const char *k = ev.kv.key;

                if (k && strncmp(k, SECRETS_KEY_PREFIX, pl) == 0 && k[pl] && !strchr(k + pl, '/'))
                    manager_secret_changed(m, k + pl);
                store_event_release(&ev);
            } else if (rc != OMLOP_ETIMEOUT) {
                if (!atomic_load(&m->stop))
                    log_info("reconcile: secret watch ended (%s), watching again", err.msg);
                break;
            }
        }
        store_watch_close(w);
    }
    return NULL;
}

/* Follow /omlop/backups/: a new Backup queues its tenant (a missed one: the resync). */
static void *backups_main(void *arg)
{
    manager *m = arg;

    while (!atomic_load(&m->stop)) {
        omlop_err err = OMLOP_ERR_INIT;
        store_watch *w = NULL;
        int64_t rev = 0;

        if (store_current_revision(m->st, &rev, &err) < 0 ||
            store_watch_open(m->st, BACKUP_KEY_PREFIX, rev, &w, &err) < 0) {
            log_warn("reconcile: watching backups failed, retrying: %s", err.msg);
            for (int i = 0; i < RELIST_PAUSE_MS / 100 && !atomic_load(&m->stop); i++)
                clock_sleep_ms(100);
            continue;
        }
        while (!atomic_load(&m->stop)) {
            store_event ev;
            char tenant[256];
            int rc;

            memset(&ev, 0, sizeof(ev));
            rc = store_watch_next(w, &ev, WATCH_POLL_MS, &err);
            if (rc == 0) {
                if (ev.type == STORE_EVENT_ADDED && ev.kv.value &&
                    backup_tenant_of(ev.kv.value, ev.kv.value_len, tenant, sizeof(tenant)) == 0)
                    workqueue_add(m->q, tenant);
                store_event_release(&ev);
            } else if (rc != OMLOP_ETIMEOUT) {
                break;
            }
        }
        store_watch_close(w);
    }
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

int manager_new(store *st, events *ev, const manager_options *o, manager **out, omlop_err *err)
{
    manager *m = xcalloc(1, sizeof(*m));
    workqueue_options qo;

    (void)err; /* nothing here fails today (out of memory aborts); the API keeps room for it */
    *out = NULL;
    m->st = st;
    m->ev = ev;
    if (o)
        m->opts = *o;
    else
        manager_options_default(&m->opts);
    if (m->opts.workers < 1)
        m->opts.workers = MANAGER_DEFAULT_WORKERS;
    if (m->opts.resync_s < 1)
        m->opts.resync_s = MANAGER_DEFAULT_RESYNC_S;
    if (m->opts.event_ttl_s < 1)
        m->opts.event_ttl_s = MANAGER_DEFAULT_EVENT_TTL_S;
    workqueue_options_default(&qo);
    qo.backoff_base_ms = QUEUE_BACKOFF_BASE_MS;
    qo.backoff_max_ms = QUEUE_BACKOFF_MAX_MS;
    m->q = workqueue_new(&qo);
    atomic_init(&m->stop, 0);
    pthread_mutex_init(&m->lock, NULL);
    m->env.st = st;
    m->env.ev = ev;
    m->env.host_get = host_get;
    m->env.host_forget = host_forget;
    m->env.host_ctx = m;
    m->env.ready_timeout_ms = m->opts.ready_timeout_ms;
    m->env.cancel = &m->stop;
    m->env.memo = tenant_memo_new(0, 0, 0); /* the default cadences (docs/reconcile.md) */
    *out = m;
    return 0;
}

int manager_start(manager *m, omlop_err *err)
{
    m->workers = xcalloc((size_t)m->opts.workers, sizeof(*m->workers));
    if (pthread_create(&m->watch_thread, NULL, watch_main, m) != 0)
        return omlop_err_set(err, OMLOP_EINTERNAL, "manager: cannot start the watch thread");
    m->has_watch_thread = 1;
    if (pthread_create(&m->secrets_thread, NULL, secrets_main, m) != 0) {
        manager_stop(m);
        return omlop_err_set(err, OMLOP_EINTERNAL, "manager: cannot start the secret watch");
    }
    m->has_secrets_thread = 1;
    if (pthread_create(&m->backups_thread, NULL, backups_main, m) != 0) {
        manager_stop(m);
        return omlop_err_set(err, OMLOP_EINTERNAL, "manager: cannot start the backup watch");
    }
    m->has_backups_thread = 1;
    for (int i = 0; i < m->opts.workers; i++) {
        if (pthread_create(&m->workers[i], NULL, worker_main, m) != 0) {
            manager_stop(m);
            return omlop_err_set(err, OMLOP_EINTERNAL, "manager: cannot start worker %d", i);
        }
        m->n_workers++;
    }
    log_info("workers=%d resync_s=%d reconcile loop started", m->opts.workers, m->opts.resync_s);
    return 0;
}

void manager_enqueue(manager *m, const char *tenant)
{
    workqueue_add(m->q, tenant);
}

void manager_host_back(manager *m, const char *tenant)
{
    requeue_fresh(m, tenant);
}

void manager_stop(manager *m)
{
    host_entry *e;

    if (!m)
        return;
    atomic_store(&m->stop, 1);
    workqueue_shutdown(m->q);
    if (m->has_watch_thread)
        pthread_join(m->watch_thread, NULL);
    m->has_watch_thread = 0;
    if (m->has_secrets_thread)
        pthread_join(m->secrets_thread, NULL);
    m->has_secrets_thread = 0;
    if (m->has_backups_thread)
        pthread_join(m->backups_thread, NULL);
    m->has_backups_thread = 0;
    for (int i = 0; i < m->n_workers; i++)
        pthread_join(m->workers[i], NULL);
    m->n_workers = 0;
    pthread_mutex_lock(&m->lock);
    e = m->hosts;
    m->hosts = NULL;
    pthread_mutex_unlock(&m->lock);
    while (e) {
        host_entry *n = e->next;

        host_entry_free(e);
        e = n;
    }
}

void manager_free(manager *m)
{
    if (!m)
        return;
    manager_stop(m);
    free(m->workers);
    workqueue_free(m->q);
    nv_free_all(&m->seen);
    nv_free_all(&m->tombs);
    nv_free_all(&m->refs);
    pthread_mutex_destroy(&m->lock);
    tenant_memo_free(m->env.memo);
    free(m);
}
