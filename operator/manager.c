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
#include "clients/hostpool.h"
#include "clients/podman.h"
#include "clients/ssh.h"
#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "operator/config.h"
#include "operator/workqueue.h"
#include "reconcilers/backup.h"
#include "reconcilers/backup_schedule.h"
#include "reconcilers/restore.h"
#include "reconcilers/desired.h"
#include "reconcilers/secrets.h"
#include "reconcilers/tenant.h"
#include "reconcilers/tls_acme.h"
#include "reconcilers/tenant_memo.h"
#include "reconcilers/tenant_lifecycle.h"

#define CONNECT_TIMEOUT_MS_DEFAULT 10000
#define WATCH_POLL_MS              500
#define QUEUE_BACKOFF_BASE_MS      500
#define QUEUE_BACKOFF_MAX_MS       (5 * 60 * 1000)
#define RELIST_PAUSE_MS            1000
/* Expired events are looked for this often (and once at start). */
#define EVENT_GC_INTERVAL_MS (60 * 1000)

/* A tenant's reference to a pool host, for one of its spec's hosts. */
typedef struct host_view {
    struct host_view *next;
    manager *m;
    char *tenant;
    char *host; /* spec.hosts[].name */
    hostpool_host *h;
} host_view;

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
    pthread_t backups_thread;  /* the store watch on Backups (backups_main) */
    pthread_t restores_thread; /* the store watch on Restores (restores_main) */
    pthread_t *workers;
    int n_workers;
    int has_watch_thread;
    int has_secrets_thread;
    int has_backups_thread;
    int has_restores_thread;
    /* lock protects hosts (the views), seen, tombs and refs; never held across host or store
     * I/O */
    pthread_mutex_t lock;
    hostpool *pool;
    host_view *hosts;
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
    o->ssh_keepalive_ms = MANAGER_DEFAULT_SSH_KEEPALIVE_MS;
    o->ssh_keepalive_count = MANAGER_DEFAULT_SSH_KEEPALIVE_COUNT;
    o->ha_ssh_keepalive_ms = MANAGER_DEFAULT_HA_SSH_KEEPALIVE_MS;
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
                 "                                 long is deleted (3600)\n"
                 "  --verify-images SECONDS        verifyImages: a no-change round checks that a\n"
                 "                                 host still has the tenant's images this often\n"
                 "                                 (600; before any action: always)\n"
                 "  --verify-files SECONDS         verifyFiles: ... reads the digests of the\n"
                 "                                 host's env and config files and looks for its\n"
                 "                                 directories this often (300)\n"
                 "  --verify-ready SECONDS         verifyReady: ... repeats the TCP checks of\n"
                 "                                 unchanged running components this often (120)\n"
                 "  --ssh-threads N                sshThreads: threads that drive every host's\n"
                 "                                 SSH session (default: one per CPU)\n"
                 "  --ssh-keepalive DURATION       sshKeepalive: a keepalive goes to a host\n"
                 "                                 silent this long (10s; 500ms..600s)\n"
                 "  --ssh-keepalive-count N        sshKeepaliveCount: a host silent for N such\n"
                 "                                 intervals is lost: its rounds stop waiting\n"
                 "                                 and it is reconnected (3; 1..100)\n"
                 "  --ha-ssh-keepalive DURATION    haSSHKeepalive: the interval for the hosts\n"
                 "                                 of layout ha tenants, whose PostgreSQL\n"
                 "                                 failover waits for a cut-off primary's\n"
                 "                                 host to count as lost (2s; 500ms..600s)\n"
                 "  --tls-renew-before-fraction F  tlsRenewBeforeFraction: renew a certificate\n"
                 "                                 omlop issues (selfsigned, acme) when this\n"
                 "                                 fraction of its lifetime remains, strictly\n"
                 "                                 between 0 and 1 (default \"1/3\"; \"0.5\")\n"
                 "  --acme-solver-image IMAGE      acmeSolverImage: the http-01 solver of\n"
                 "                                 tls.mode acme, on port 80 during an order\n"
                 "                                 (its /bin/busybox httpd serves the token;\n"
                 "                                 default " TLS_ACME_DEFAULT_SOLVER_IMAGE ")\n");
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

static void requeue_fresh(manager *m, const char *tenant);

/* ---- host views: a tenant's references into the host pool (clients/hostpool.h) -------- */

/* hostpool_event_fn: an event on one of tenant's containers (the pool filtered it). */
static void on_host_event(void *ud, const char *tenant, const char *host, const podman_event *ev)
{
    manager *m = ud;

    log_info("tenant=%s host=%s container=%s event=%s requeued", tenant, host,
             ev->name ? ev->name : "?", ev->action ? ev->action : "?");
    workqueue_add(m->q, tenant);
}

/* hostpool_link_fn: told once per loss and once per recovery (not per retry). */
static void on_host_link(void *ud, const char *tenant, const char *host, int is_back,
                         const char *why)
{
    manager *m = ud;

    if (is_back) {
        /* Whatever happened on the host meanwhile (containers died, events we never saw)
         * needs no replay: the round re-reads every container (level-triggered). */
        log_info("tenant=%s host=%s host back: following its events again, tenant queued", tenant,
                 host);
        requeue_fresh(m, tenant);
        return;
    }
    log_warn("tenant=%s host=%s host lost (%s): self-healing paused, it resumes when the SSH "
             "connection is back",
             tenant, host, why);
    /* a round now shows it in the status (HostsReachable) instead of at the resync; the
     * failed rounds after it back off as usual */
    workqueue_add(m->q, tenant);
}

static void host_view_free(manager *m, host_view *v)
{
    if (!v)
        return;
    hostpool_release(m->pool, v->h, v->tenant, v->host);
    free(v->tenant);
    free(v->host);
    free(v);
}

static hostpool_access pool_access(const manager *m, const tenant_host_access *a)
{
    hostpool_access pa = {
        .name = a->host,
        .address = a->address,
        .port = a->port,
        .user = a->user,
        .identity = a->identity,
        .known_host_key = a->known_host_key,
        .socket = a->socket,
        .keepalive_interval_ms = a->is_ha ? m->opts.ha_ssh_keepalive_ms : 0,
    };

    return pa;
}

/* ---- host ops: files and TCP probes over the entry's SSH connection (clients/hostfs.h) --- */

/* the digests are handed through unchanged: both sides must agree on their size */
_Static_assert(TENANT_SHA256_HEX_LEN == HOSTFS_SHA256_HEX_LEN,
               "tenant_host_ops and hostfs disagree on the SHA-256 hex length");

static int ops_file_hashes(void *ctx, const char *const *paths, size_t n,
                           char (*hex)[TENANT_SHA256_HEX_LEN + 1], omlop_err *err)
{
    return hostfs_hashes(hostpool_host_ssh(((host_view *)ctx)->h), paths, n, hex, err);
}

static int ops_files_write(void *ctx, const tenant_file_write *files, size_t n, omlop_err *err)
{
    hostfs_file *hf = xcalloc(n ? n : 1, sizeof(*hf));
    int rc;

    for (size_t i = 0; i < n; i++)
        hf[i] = (hostfs_file){files[i].path, files[i].data, files[i].len, files[i].mode};
    rc = hostfs_write_many(hostpool_host_ssh(((host_view *)ctx)->h), hf, n, err);
    free(hf);
    return rc;
}

static int ops_file_remove(void *ctx, const char *path, omlop_err *err)
{
    return hostfs_remove(hostpool_host_ssh(((host_view *)ctx)->h), path, err);
}

/* The host's public IP, asked of it at most every MANAGER_PUBLIC_IP_TTL_S (cached by the
 * pool, for every tenant on the host). */
static int ops_public_ip(void *ctx, strbuf *out, omlop_err *err)
{
    host_view *v = ctx;
    const char *url =
        v->m->opts.public_ip_url ? v->m->opts.public_ip_url : MANAGER_DEFAULT_PUBLIC_IP_URL;

    return hostpool_host_public_ip(v->m->pool, v->h, url, MANAGER_PUBLIC_IP_TTL_S, out, err);
}

static int ops_dirs_present(void *ctx, const char *const *paths, size_t n, int *present,
                            omlop_err *err)
{
    return hostfs_dirs_present(hostpool_host_ssh(((host_view *)ctx)->h), paths, n, present, err);
}

static int ops_dirs_make(void *ctx, const tenant_dir *dirs, size_t n, const char *record,
                         omlop_err *err)
{
    hostfs_dir *hd = xcalloc(n ? n : 1, sizeof(*hd));
    int rc;

    for (size_t i = 0; i < n; i++)
        hd[i] = (hostfs_dir){dirs[i].path, dirs[i].mode, dirs[i].owner};
    rc = hostfs_dirs_make(hostpool_host_ssh(((host_view *)ctx)->h), hd, n, record, err);
    free(hd);
    return rc;
}

static int ops_dirs_remove(void *ctx, const char *record, omlop_err *err)
{
    return hostfs_dirs_remove(hostpool_host_ssh(((host_view *)ctx)->h), record, err);
}

static int ops_tcp_probe(void *ctx, const char *address, int port, omlop_err *err)
{
    return hostfs_probe_tcp(hostpool_host_ssh(((host_view *)ctx)->h), address, port, err);
}

/* ctx: the tenant's host view */
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

/* tenant_host_fn: the pool's host for these settings, acquiring or replacing it as needed. */
static int host_get(void *ctx, const tenant_host_access *a, tenant_host_conn *out,
                    tenant_host_info *info, omlop_err *err)
{
    manager *m = ctx;
    hostpool_access pa = pool_access(m, a);
    host_view **p, *v = NULL, *stale = NULL;
    ssh_conn_status st;
    int timeout =
        m->opts.connect_timeout_ms > 0 ? m->opts.connect_timeout_ms : CONNECT_TIMEOUT_MS_DEFAULT;
    int rc;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&m->lock);
    for (p = &m->hosts; *p; p = &(*p)->next)
        if (strcmp((*p)->tenant, a->tenant) == 0 && strcmp((*p)->host, a->host) == 0)
            break;
    if (*p && !hostpool_host_matches((*p)->h, &pa)) {
        stale = *p; /* the host's access changed: another pool host */
        *p = stale->next;
    } else if (*p)
        v = *p;
    pthread_mutex_unlock(&m->lock);
    /* Only this tenant's worker (one at a time, by the queue) adds or drops its views, so
     * using v outside the lock is safe. */
    host_view_free(m, stale);
    if (!v) {
        v = xcalloc(1, sizeof(*v));
        v->m = m;
        v->tenant = xstrdup(a->tenant);
        v->host = xstrdup(a->host);
        if ((rc = hostpool_acquire(m->pool, a->tenant, &pa, &v->h, err)) < 0) {
            free(v->tenant);
            free(v->host);
            free(v);
            return rc;
        }
        pthread_mutex_lock(&m->lock);
        v->next = m->hosts;
        m->hosts = v;
        pthread_mutex_unlock(&m->lock);
    }
    rc = hostpool_host_wait(m->pool, v->h, timeout, err);
    ssh_conn_get_status(hostpool_host_ssh(v->h), &st);
    if (info)
        snprintf(info->fingerprint, sizeof(info->fingerprint), "%s", st.host_key_fingerprint);
    if (rc < 0)
        return rc; /* "host NAME (user@address:port): why" from clients/ssh (lib/err.h) */
    out->pc = hostpool_host_podman(v->h);
    /* the view (and its reference) stays until this tenant's own worker drops it */
    out->ops = &host_ops;
    out->ops_ctx = v;
    return 0;
}

static int is_kept(const char *host, const char *const *keep)
{
    for (size_t i = 0; keep && keep[i]; i++)
        if (strcmp(keep[i], host) == 0)
            return 1;
    return 0;
}

/* tenant_host_forget_fn: drop a tenant's views of hosts not in keep. */
static void host_forget(void *ctx, const char *tenant, const char *const *keep)
{
    manager *m = ctx;
    host_view **p, *gone = NULL;

    pthread_mutex_lock(&m->lock);
    for (p = &m->hosts; *p;) {
        host_view *e = *p;

        if (strcmp(e->tenant, tenant) == 0 && !is_kept(e->host, keep)) {
            *p = e->next;
            e->next = gone;
            gone = e;
        } else
            p = &e->next;
    }
    pthread_mutex_unlock(&m->lock);
    while (gone) {
        host_view *n = gone->next;

        log_info("tenant=%s host=%s host released (it left the spec)", tenant, gone->host);
        host_view_free(m, gone);
        gone = n;
    }
}

/* ---- workers ------------------------------------------------------------------------------ */

static void backup_env_of(manager *m, backup_env *be)
{
    memset(be, 0, sizeof(*be));
    be->st = m->st;
    be->ev = m->ev;
    be->host_get = m->env.host_get;
    be->host_ctx = m->env.host_ctx;
    be->cancel = &m->stop;
}

/* The tenant's backup schedule, before its round so that a Backup is created at its fire time
 * (reconcilers/backup_schedule.h); queues the tenant for the next fire (no polling). */
static void schedule_one(manager *m, const char *name)
{
    backup_env be;
    omlop_err err = OMLOP_ERR_INIT;
    struct timespec now;
    int64_t next_ms = -1;

    backup_env_of(m, &be);
    clock_gettime(CLOCK_REALTIME, &now);
    if (backup_schedule_tenant(&be, name, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
                               &next_ms, &err) < 0)
        log_warn("tenant=%s backup schedule: %s", name, err.msg);
    if (next_ms > 0)
        workqueue_add_after(m->q, name, next_ms);
}

/* The tenant's Backups, after its round, in its worker (reconcilers/backup.h): same hosts;
 * then retention, which counts the ones that just completed. */
static void backups_one(manager *m, const char *name, int is_ready)
{
    backup_env be;
    omlop_err err = OMLOP_ERR_INIT;

    backup_env_of(m, &be);
    if (backup_reconcile_tenant(&be, name, is_ready, &err) < 0)
        log_warn("tenant=%s backups: %s", name, err.msg);
    omlop_err_clear(&err);
    if (backup_retention_tenant(&be, name, &err) < 0)
        log_warn("tenant=%s backup retention: %s", name, err.msg);
}

/* The tenant's Restores, after its backups, in its worker (reconcilers/restore.h). */
static void restores_one(manager *m, const char *name, int is_ready)
{
    restore_env re;
    omlop_err err = OMLOP_ERR_INIT;

    memset(&re, 0, sizeof(re));
    re.st = m->st;
    re.ev = m->ev;
    re.host_get = m->env.host_get;
    re.host_ctx = m->env.host_ctx;
    re.cancel = &m->stop;
    if (restore_reconcile_tenant(&re, name, is_ready, &err) < 0)
        log_warn("tenant=%s restores: %s", name, err.msg);
}

static void reconcile_one(manager *m, const char *name)
{
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    int64_t t0;
    int rc;

    schedule_one(m, name);
    t0 = clock_now_ns();
    rc = tenant_reconcile(&m->env, name, &res, &err);
    /* what a round costs, for bench/tenant_bench.sh and whoever tunes the cadences */
    log_debug("tenant=%s round_us=%lld unchanged=%d converged=%d rc=%d", name,
              (long long)((clock_now_ns() - t0) / 1000), res.is_unchanged, res.is_converged, rc);
    backups_one(m, name, rc == 0 && !res.is_gone && res.is_converged);
    restores_one(m, name, rc == 0 && !res.is_gone && res.is_converged);

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

/* Follow prefix (Backups, Restores): a new object queues its tenant (a missed one: the
 * resync); with is_modified_too a change does as well (a Restore's retry annotation). */
static void follow_prefix(manager *m, const char *prefix, int is_modified_too)
{
    while (!atomic_load(&m->stop)) {
        omlop_err err = OMLOP_ERR_INIT;
        store_watch *w = NULL;
        int64_t rev = 0;

        if (store_current_revision(m->st, &rev, &err) < 0 ||
            store_watch_open(m->st, prefix, rev, &w, &err) < 0) {
            log_warn("reconcile: watching %s failed, retrying: %s", prefix, err.msg);
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
                if ((ev.type == STORE_EVENT_ADDED ||
                     (is_modified_too && ev.type == STORE_EVENT_MODIFIED)) &&
                    ev.kv.value &&
                    backup_tenant_of(ev.kv.value, ev.kv.value_len, tenant, sizeof(tenant)) == 0)
                    workqueue_add(m->q, tenant);
                store_event_release(&ev);
            } else if (rc != OMLOP_ETIMEOUT) {
                break;
            }
        }
        store_watch_close(w);
    }
}

static void *backups_main(void *arg)
{
    follow_prefix(arg, BACKUP_KEY_PREFIX, 0);
    return NULL;
}

static void *restores_main(void *arg)
{
    follow_prefix(arg, RESTORE_KEY_PREFIX, 1);
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

/* An option left at 0 (or set below 1) takes its default. */
static void positive_or(int *v, int def)
{
    if (*v < 1)
        *v = def;
}

int manager_new(store *st, events *ev, const manager_options *o, manager **out, omlop_err *err)
{
    manager *m = xcalloc(1, sizeof(*m));
    workqueue_options qo;

    hostpool_options po;
    int rc;

    *out = NULL;
    m->st = st;
    m->ev = ev;
    if (o)
        m->opts = *o;
    else
        manager_options_default(&m->opts);
    positive_or(&m->opts.workers, MANAGER_DEFAULT_WORKERS);
    positive_or(&m->opts.resync_s, MANAGER_DEFAULT_RESYNC_S);
    positive_or(&m->opts.event_ttl_s, MANAGER_DEFAULT_EVENT_TTL_S);
    positive_or(&m->opts.ssh_keepalive_ms, MANAGER_DEFAULT_SSH_KEEPALIVE_MS);
    positive_or(&m->opts.ssh_keepalive_count, MANAGER_DEFAULT_SSH_KEEPALIVE_COUNT);
    positive_or(&m->opts.ha_ssh_keepalive_ms, MANAGER_DEFAULT_HA_SSH_KEEPALIVE_MS);
    workqueue_options_default(&qo);
    qo.backoff_base_ms = QUEUE_BACKOFF_BASE_MS;
    qo.backoff_max_ms = QUEUE_BACKOFF_MAX_MS;
    m->q = workqueue_new(&qo);
    memset(&po, 0, sizeof(po));
    po.shards = m->opts.ssh_threads;
    po.connect_timeout_ms = m->opts.connect_timeout_ms;
    po.keepalive_interval_ms = m->opts.ssh_keepalive_ms;
    po.keepalive_count_max = m->opts.ssh_keepalive_count;
    po.known_hosts_file = m->opts.known_hosts_file;
    po.tenant_label = OMLOP_LABEL_TENANT;
    po.filter_label = OMLOP_LABEL_MANAGED_BY "=" OMLOP_MANAGER_NAME;
    po.on_event = on_host_event;
    po.on_link = on_host_link;
    po.ud = m;
    if ((rc = hostpool_new(&po, &m->pool, err)) < 0) {
        workqueue_free(m->q);
        free(m);
        return rc;
    }
    atomic_init(&m->stop, 0);
    pthread_mutex_init(&m->lock, NULL);
    m->env.st = st;
    m->env.ev = ev;
    m->env.host_get = host_get;
    m->env.host_forget = host_forget;
    m->env.host_ctx = m;
    m->env.ready_timeout_ms = m->opts.ready_timeout_ms;
    m->env.cancel = &m->stop;
    m->env.tls_renew_fraction = m->opts.tls_renew_fraction;
    m->env.acme_solver_image = m->opts.acme_solver_image;
    /* cadences of the costly observations of a no-change round (docs/reconcile.md) */
    m->env.memo = tenant_memo_new((int64_t)m->opts.verify_images_s * 1000,
                                  (int64_t)m->opts.verify_files_s * 1000,
                                  (int64_t)m->opts.verify_ready_s * 1000);
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
    if (pthread_create(&m->restores_thread, NULL, restores_main, m) != 0) {
        manager_stop(m);
        return omlop_err_set(err, OMLOP_EINTERNAL, "manager: cannot start the restore watch");
    }
    m->has_restores_thread = 1;
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
    host_view *v;

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
    if (m->has_restores_thread)
        pthread_join(m->restores_thread, NULL);
    m->has_restores_thread = 0;
    for (int i = 0; i < m->n_workers; i++)
        pthread_join(m->workers[i], NULL);
    m->n_workers = 0;
    pthread_mutex_lock(&m->lock);
    v = m->hosts;
    m->hosts = NULL;
    pthread_mutex_unlock(&m->lock);
    while (v) {
        host_view *n = v->next;

        host_view_free(m, v);
        v = n;
    }
}

void manager_free(manager *m)
{
    if (!m)
        return;
    manager_stop(m);
    free(m->workers);
    hostpool_free(m->pool);
    workqueue_free(m->q);
    nv_free_all(&m->seen);
    nv_free_all(&m->tombs);
    nv_free_all(&m->refs);
    pthread_mutex_destroy(&m->lock);
    tenant_memo_free(m->env.memo);
    free(m);
}
