/*
 * omlopd: the omlop daemon. Reads its settings (config.h), opens the store and
 * the resource model, and serves the Kubernetes-style API (api_server.h) until
 * SIGTERM or SIGINT, then stops gracefully: requests being served finish,
 * watches are closed, the store is closed last.
 *
 * Exit status: 0 after a clean stop; 2 for a usage error (a bad flag, config
 * setting or combination, or a file they name that cannot be read or parsed);
 * 1 when it cannot run (store, listen address in use, resource model).
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/s3.h"
#include "crds/schema.h"
#include "lib/log.h"
#include "lib/version.h"
#include "objects/events.h"
#include "operator/api.h"
#include "operator/api_auth.h"
#include "operator/api_server.h"
#include "operator/config.h"
#include "operator/gitsync.h"
#include "operator/manager.h"
#include "store/store.h"

/* Block the stop signals in every thread; the API server reads them from a signalfd. */
static void block_stop_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client gone mid-answer is an error return, not a death */
}

/*
 * glibc gives each thread that allocates an arena of its own (up to 8 per CPU), and memory
 * freed into one stays there: with omlopd's fixed set of about 16 threads, VmRSS at 1,000
 * tenants was 61 MiB instead of 45 (bench/rss_bench.sh). Two arenas are enough for threads
 * that mostly wait on the network. MALLOC_ARENA_MAX in the environment still decides.
 */
static void limit_malloc_arenas(void)
{
#ifdef M_ARENA_MAX
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 2);
#endif
}

static int open_store(const omlopd_config *cfg, store **out, omlop_err *err)
{
    store_options so;

    store_options_default(&so);
    so.data_dir = cfg->data_dir;
    so.tls_ca = cfg->store_ca;
    so.tls_cert = cfg->store_cert;
    so.tls_key = cfg->store_key;
    so.compact_keep = cfg->compact_keep;
    so.compact_interval_s = cfg->compact_interval_s;
    so.watch_buffer = (size_t)cfg->watch_buffer;
    return store_open(cfg->store, &so, out, err);
}

int main(int argc, char **argv)
{
    omlopd_config cfg;
    omlop_err err = OMLOP_ERR_INIT;
    schema_set *schemas = NULL;
    api_auth *auth = NULL;
    store *st = NULL;
    api *a = NULL;
    api_server *srv = NULL;
    api_server_options so;
    events *ev = NULL;
    manager *mgr = NULL;
    gitsync *gs = NULL;
    int rc = 1;

    limit_malloc_arenas(); /* before any thread allocates */
    block_stop_signals();
    s3_global_init(); /* libcurl's and libxml2's one-time set-up, before any thread (backups) */
    log_configure(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, stderr);
    config_init(&cfg);
    if (config_parse_args(&cfg, argc, argv, &err) != 0) {
        fprintf(stderr, "omlopd: %s\n", err.msg);
        rc = 2;
        goto out;
    }
    if (cfg.want_help) {
        config_usage(stdout);
        manager_usage(stdout);
        rc = 0;
        goto out;
    }
    if (cfg.want_version) {
        printf("omlopd %s\n", OMLOP_RELEASE);
        rc = 0;
        goto out;
    }
    log_configure(cfg.log_level, cfg.log_format, stderr);
    if (config_check(&cfg, &err) != 0 || config_check_files(&cfg, &err) != 0) {
        fprintf(stderr, "omlopd: %s\n", err.msg);
        rc = 2;
        goto out;
    }
    /* a tokens file that does not parse is a usage error too (exit 2), as a bad flag */
    if (cfg.tokens) {
        if (api_auth_load(cfg.tokens, &auth, &err) != 0) {
            fprintf(stderr, "omlopd: %s\n", err.msg);
            rc = 2;
            goto out;
        }
    } else {
        auth = api_auth_new_open();
    }
    if (schema_set_new_builtin(&schemas, &err) != 0) {
        fprintf(stderr, "omlopd: loading the resource model: %s\n", err.msg);
        goto out;
    }
    if (open_store(&cfg, &st, &err) != 0) {
        fprintf(stderr, "omlopd: store %s: %s\n", cfg.store, err.msg);
        goto out;
    }
    if (api_new(&cfg.api, st, schemas, auth, &a, &err) != 0) {
        fprintf(stderr, "omlopd: %s\n", err.msg);
        goto out;
    }
    memset(&so, 0, sizeof(so));
    so.listen = cfg.listen;
    so.socket_path = cfg.socket_path;
    so.tls_cert = cfg.tls_cert;
    so.tls_key = cfg.tls_key;
    so.accept_hosts = cfg.accept_hosts;
    if (api_server_new(a, &so, &srv, &err) != 0) {
        fprintf(stderr, "omlopd: %s\n", err.msg);
        goto out;
    }
    if (cfg.reconcile.is_enabled &&
        (events_new(st, schemas, "omlopd", &ev, &err) != 0 ||
         manager_new(st, ev, &cfg.reconcile, &mgr, &err) != 0 || manager_start(mgr, &err) != 0)) {
        fprintf(stderr, "omlopd: reconcile loop: %s\n", err.msg);
        goto out;
    }
    /* GitSources (issue 15): their own thread; what they apply reaches the manager's watch */
    if (cfg.reconcile.is_enabled && (gitsync_new(st, ev, schemas, cfg.data_dir, &gs, &err) != 0 ||
                                     gitsync_start(gs, &err) != 0)) {
        fprintf(stderr, "omlopd: GitSource sync: %s\n", err.msg);
        goto out;
    }
    printf("omlopd %s listening on %s, store %s, %s\n", OMLOP_RELEASE, api_server_describe(srv),
           store_describe(st),
           api_auth_enabled(auth) ? "bearer tokens required" : "no tokens (local admin access)");
    fflush(stdout);
    log_info("listen=\"%s\" store=%s tokens=%zu omlopd started", api_server_describe(srv),
             store_describe(st), api_auth_count(auth));
    if (api_server_run(srv, &err) != 0) {
        fprintf(stderr, "omlopd: %s\n", err.msg);
        goto out;
    }
    rc = 0;
    log_info("omlopd stopped");
out:
    gitsync_free(gs);  /* before the manager: a sync may be writing tenants */
    manager_free(mgr); /* stops the reconciles before the store goes */
    events_free(ev);
    api_server_free(srv); /* closes the connections and their watches first */
    api_free(a);
    store_close(st); /* waits for in-flight store writes */
    api_auth_free(auth);
    schema_set_free(schemas);
    config_release(&cfg);
    return rc;
}
