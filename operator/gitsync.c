/* gitsync: one thread syncing every GitSource on its interval and on demand (gitsync.h). */
#include "operator/gitsync.h"

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crds/object.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "reconcilers/gitsource.h"

/* How long one wait on the watch lasts at most: the stop flag is looked at this often. */
#define GITSYNC_POLL_MS 500
/* Pause before listing again after the store failed. */
#define GITSYNC_RELIST_PAUSE_MS 2000

/* A source and when it is due; owned by the thread alone. */
typedef struct due {
    char *name;
    int64_t at_ms;
} due;

struct gitsync {
    gitsource_deps deps;
    pthread_t thread;
    int is_started;
    atomic_int stop;
    atomic_ulong count;
    /* the sources known; the thread alone reads and writes them */
    due *v;
    size_t n, cap;
};

int gitsync_new(store *st, events *ev, const schema_set *schemas, const char *data_dir,
                gitsync **out, omlop_err *err)
{
    gitsync *g;

    if (!data_dir || !*data_dir)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "GitSources need a data dir for their repository copies");
    g = xcalloc(1, sizeof(*g));
    g->deps.st = st;
    g->deps.ev = ev;
    g->deps.schemas = schemas;
    g->deps.data_dir = data_dir;
    atomic_init(&g->stop, 0);
    atomic_init(&g->count, 0);
    *out = g;
    return 0;
}

static due *find(gitsync *g, const char *name, int add)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->v[i].name, name) == 0)
            return &g->v[i];
    if (!add)
        return NULL;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 8;
        g->v = xrealloc(g->v, g->cap * sizeof(*g->v));
    }
    g->v[g->n].name = xstrdup(name);
    g->v[g->n].at_ms = 0; /* new: due now */
    return &g->v[g->n++];
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void forget(gitsync *g, const char *name)
{
    strbuf dir = STRBUF_INIT;

    for (size_t i = 0; i < g->n; i++) {
        if (strcmp(g->v[i].name, name) != 0)
            continue;
        free(g->v[i].name);
        g->v[i] = g->v[--g->n];
        break;
    }
    /* the copy is only a cache of the remote: a source made again fetches afresh */
    if (object_name_is_valid(name)) {
        strbuf_addf(&dir, "%s/gitsources/%s", g->deps.data_dir, name);
        nftw(dir.buf, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    }
    strbuf_release(&dir);
}

static void run_one(gitsync *g, due *d)
{
    gitsource_result res;
    omlop_err err = OMLOP_ERR_INIT;
    char *name = xstrdup(d->name);
    int64_t t0 = clock_now_ms();

    if (gitsource_sync(&g->deps, name, 0, &res, &err) < 0)
        log_warn("gitsource=%s sync failed: %s", name, err.msg);
    else if (res.n_files_read > 0 || (res.is_found && !res.is_applied && !res.is_suspended))
        /* a sync that read a commit or failed (an unchanged commit says nothing: every
         * interval would log) */
        log_info("gitsource=%s sync applied=%d files=%zu ms=%lld", name, res.is_applied,
                 res.n_files_read, (long long)(clock_now_ms() - t0));
    atomic_fetch_add(&g->count, 1);
    d = find(g, name, 0);
    if (d)
        d->at_ms = clock_now_ms() +
                   (res.interval_ms > 0 ? res.interval_ms : GITSOURCE_DEFAULT_INTERVAL_MS);
    free(name);
}

/* List every source: new ones become due now, ones asking for a sync too. */
static int relist(gitsync *g, int64_t *rev, omlop_err *err)
{
    strbuf prefix = STRBUF_INIT;
    store_list_opts lo = {0};
    store_list_result lr = {0};
    int rc;

    object_prefix(&prefix, GITSOURCE_PLURAL);
    lo.prefix = prefix.buf;
    rc = store_list(g->deps.st, &lo, &lr, err);
    if (rc == 0) {
        for (size_t i = 0; i < lr.items.n; i++) {
            json_object *o = object_parse(lr.items.items[i].value, lr.items.items[i].value_len);
            const char *name = object_name(o);

            if (name) {
                due *d = find(g, name, 1);

                if (gitsource_wants_sync(o))
                    d->at_ms = 0;
            }
            json_object_put(o);
        }
        *rev = lr.revision;
    }
    store_list_result_release(&lr);
    strbuf_release(&prefix);
    return rc;
}

static void on_event(gitsync *g, const store_event *ev)
{
    json_object *o = object_parse(ev->kv.value, ev->kv.value_len);
    const char *name = object_name(o);

    if (name && ev->type == STORE_EVENT_DELETED) {
        forget(g, name);
    } else if (name) {
        due *d = find(g, name, 1);

        if (gitsource_wants_sync(o))
            d->at_ms = 0;
    }
    json_object_put(o);
}

/* Run every due source; the wait until the next one is due (at most GITSYNC_POLL_MS). */
static int run_due(gitsync *g)
{
    int64_t now = clock_now_ms(), wait = GITSYNC_POLL_MS;

    for (size_t i = 0; i < g->n && !atomic_load(&g->stop); i++) {
        if (g->v[i].at_ms <= now) {
            run_one(g, &g->v[i]);
            now = clock_now_ms();
        }
    }
    for (size_t i = 0; i < g->n; i++)
        if (g->v[i].at_ms - now < wait)
            wait = g->v[i].at_ms - now;
    return wait < 0 ? 0 : (int)wait;
}

static void *gitsync_main(void *arg)
{
    gitsync *g = arg;

    while (!atomic_load(&g->stop)) {
        omlop_err err = OMLOP_ERR_INIT;
        store_watch *w = NULL;
        int64_t rev = 0;

        if (relist(g, &rev, &err) < 0 ||
            store_watch_open(g->deps.st, "/omlop/" GITSOURCE_PLURAL "/", rev, &w, &err) < 0) {
            log_warn("gitsync: listing or watching GitSources failed, retrying: %s", err.msg);
            for (int i = 0; i < GITSYNC_RELIST_PAUSE_MS / 100 && !atomic_load(&g->stop); i++)
                clock_sleep_ms(100);
            continue;
        }
        while (!atomic_load(&g->stop)) {
            store_event ev;
            int rc, wait = run_due(g);

            memset(&ev, 0, sizeof(ev));
            rc = store_watch_next(w, &ev, wait, &err);
            if (rc == 0) {
                on_event(g, &ev);
                store_event_release(&ev);
            } else if (rc != OMLOP_ETIMEOUT) {
                if (!atomic_load(&g->stop))
                    log_info("gitsync: watch ended (%s), listing again", err.msg);
                break;
            }
        }
        store_watch_close(w);
    }
    return NULL;
}

int gitsync_start(gitsync *g, omlop_err *err)
{
    int rc = pthread_create(&g->thread, NULL, gitsync_main, g);

    if (rc != 0)
        return omlop_err_set(err, OMLOP_EINTERNAL, "gitsync: cannot start its thread: %s",
                             strerror(rc));
    g->is_started = 1;
    return 0;
}

unsigned long gitsync_count(gitsync *g)
{
    return atomic_load(&g->count);
}

void gitsync_stop(gitsync *g)
{
    if (!g || !g->is_started)
        return;
    atomic_store(&g->stop, 1);
    pthread_join(g->thread, NULL);
    g->is_started = 0;
}

void gitsync_free(gitsync *g)
{
    if (!g)
        return;
    gitsync_stop(g);
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i].name);
    free(g->v);
    free(g);
}
