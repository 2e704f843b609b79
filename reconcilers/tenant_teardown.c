/*
 * tenant_teardown: the deletion half of the reconciler (see tenant.h and
 * tenant_lifecycle.h): a Tenant with metadata.deletionTimestamp, or one that
 * vanished without the finalizer, is removed from its hosts - containers,
 * named volumes with Purge, generated Secrets - before the finalizer goes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "objects/events.h"
#include "reconcilers/catalog.h"
#include "reconcilers/secrets.h"
#include "reconcilers/tenant.h"
#include "reconcilers/tenant_lifecycle.h"
#include "reconcilers/tenant_round.h"
#include "reconcilers/tenant_status.h"

/*
 * At most this many containers of one host are stopped at once. It holds every component of an
 * AIO host (the catalog has 21), so a host's teardown takes its slowest stop, not the sum of
 * them; each stop is one HTTP connection (one SSH channel) on the host's tunnel.
 */
#define TEARDOWN_PARALLEL_MAX 24

/* .status shows the progress of a host's stops at most this often. */
#define TEARDOWN_PROGRESS_MS 1000

/* The progress text names at most this many of the containers being stopped. */
#define TEARDOWN_PROGRESS_NAMES 3

/* What status_deleting writes: either may be NULL. */
typedef struct deleting_status {
    const char *blocked;  /* why the teardown cannot finish (Degraded) */
    const char *progress; /* what it is doing now (Progressing) */
} deleting_status;

/* What a deletion in progress looks like: phase Deleting, with ctx's blocked and progress. */
static int status_deleting(const json_object *old_status, const void *ctx, const char *now,
                           json_object **out, omlop_err *err)
{
    const deleting_status *ds = ctx;
    json_object *st = NULL, *conds;
    int64_t gen;

    if (old_status && json_object_deep_copy((json_object *)old_status, &st, NULL) != 0)
        st = NULL;
    if (!st || !json_object_is_type(st, json_type_object)) {
        json_object_put(st);
        st = json_object_new_object();
    }
    if (!st)
        return omlop_err_set(err, OMLOP_ENOMEM, "tenant status: out of memory");
    conds = cjson_get(st, "conditions");
    if (!conds || !json_object_is_type(conds, json_type_array)) {
        conds = json_object_new_array();
        json_object_object_add(st, "conditions", conds);
    }
    gen = cjson_get_int(st, "observedGeneration", 0);
    json_object_object_add(st, "phase", json_object_new_string("Deleting"));
    /* both built from an omlop_err or a bounded list: well under the CRD's 32768 */
    if (ds->blocked)
        tenant_condition_set(conds, "Degraded", "True", "TeardownBlocked", ds->blocked, gen, now);
    if (ds->progress)
        tenant_condition_set(conds, "Progressing", "True", "Deleting", ds->progress, gen, now);
    json_object_object_del(st, "plan"); /* no convergence plan while tearing down */
    json_object_object_add(st, "lastReconcileTime", json_object_new_string(now));
    *out = st;
    return 0;
}

/* Named volumes the desired state puts on host (Purge removes them), appended to *v. */
static int host_volumes(const desired_state *ds, const char *host, char ***v, size_t *n,
                        omlop_err *err)
{
    const desired_host *dh = ds ? desired_host_find(ds, host) : NULL;
    int rc;

    for (size_t i = 0; dh && i < dh->n_containers; i++)
        for (size_t j = 0; j < dh->containers[i].n_volumes; j++) {
            const desired_volume *dv = &dh->containers[i].volumes[j];

            if (dv->is_named && !tenant_strv_has(*v, *n, dv->source) &&
                (rc = tenant_strv_push(v, n, dv->source, err)) < 0)
                return rc;
        }
    return 0;
}

/*
 * Remove the env files and configs omlop wrote for the tenant on h: env files
 * hold its passwords, and nothing runs that reads them any more. Needs the
 * desired state of the last spec (r->ds) and host ops. The paths are per
 * component, not per tenant: a component whose container another tenant holds
 * (this one was refused the name) keeps its files - they are the holder's.
 */
static int host_files_remove(tenant_round *r, tenant_host_round *h, omlop_err *err)
{
    const desired_host *dh = r->ds ? desired_host_find(r->ds, h->name) : NULL;
    tenant_held held;
    int rc = 0, is_tls_done = 0;

    if (!dh || !h->ops || !h->ops->file_remove)
        return 0;
    rc = tenant_round_held_by_others(r, h, &held, err);
    for (size_t i = 0; rc == 0 && i < dh->n_containers; i++) {
        const desired_container *c = &dh->containers[i];
        const char *owner = tenant_held_owner(&held, c->name);

        /* the TLS pair (its key above all), placed with the host's first reader of the
         * certificates directory (reconcilers/tls.h): the holder's if that name is held */
        if (c->is_tls_reader && !is_tls_done) {
            is_tls_done = 1;
            if (!owner && (rc = h->ops->file_remove(h->ops_ctx, DESIRED_CERT_FILE, err)) == 0)
                rc = h->ops->file_remove(h->ops_ctx, DESIRED_KEY_FILE, err);
            if (rc < 0)
                break;
        }
        if (owner) {
            log_info("tenant=%s host=%s container=%s files kept: the name is held by tenant %s",
                     r->tenant, h->name, c->name, owner);
            continue;
        }
        if (c->env_file)
            rc = h->ops->file_remove(h->ops_ctx, c->env_file, err);
        for (size_t k = 0; rc == 0 && k < c->n_files; k++)
            rc = h->ops->file_remove(h->ops_ctx, c->files[k].path, err);
    }
    tenant_held_release(&held);
    if (rc == 0)
        log_info("tenant=%s host=%s env files and configs removed (tenant deleted)", r->tenant,
                 h->name);
    return rc;
}

/* Where one container's teardown is. */
typedef enum stop_step { STEP_QUEUED = 0, STEP_STOPPING, STEP_REMOVING, STEP_DONE } stop_step;

/* One container to stop and remove. */
typedef struct stop_job {
    const char *name; /* borrowed from the host's container list */
    int order;        /* its component's start order: the highest is stopped first */
    int timeout_s;    /* SIGTERM to SIGKILL */
    stop_step step;
    int is_killed; /* it outlived its stop timeout (Podman or omlop killed it) */
    int is_reported;
    int rc;
    omlop_err err;
} stop_job;

/* The containers of one host being stopped by a few workers, watched by the round's thread. */
typedef struct stop_set {
    podman_client *pc; /* thread-safe: each call takes its own connection */
    atomic_int *cancel;
    /* lock protects next, n_done and every job's step, is_killed, rc and err; changed is
     * signalled on each change. A job at STEP_DONE is no longer written by any worker. */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    stop_job *jobs;
    size_t n, next, n_done;
} stop_set;

static void job_step(stop_set *s, stop_job *j, stop_step step)
{
    pthread_mutex_lock(&s->lock);
    j->step = step;
    if (step == STEP_DONE)
        s->n_done++;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

/*
 * A worker: take the next job, stop it (killing it when the stop does not end
 * it), remove it. A slow container holds only its own worker.
 */
static void *stop_worker(void *arg)
{
    stop_set *s = arg;

    for (;;) {
        omlop_err e = OMLOP_ERR_INIT;
        int is_killed = 0, rc;
        stop_job *j;
        long t0;

        pthread_mutex_lock(&s->lock);
        j = s->next < s->n ? &s->jobs[s->next++] : NULL;
        pthread_mutex_unlock(&s->lock);
        if (!j)
            return NULL;
        if (s->cancel && atomic_load(s->cancel)) {
            j->rc = omlop_err_set(&j->err, OMLOP_EUNAVAIL,
                                  "container %s not stopped: omlopd is shutting down", j->name);
            job_step(s, j, STEP_DONE);
            continue;
        }
        job_step(s, j, STEP_STOPPING);
        t0 = clock_now_ms();
        rc = podman_container_stop_or_kill(s->pc, j->name, j->timeout_s, 0, &is_killed, &e);
        /* Podman sent SIGKILL itself when the stop took the whole timeout */
        is_killed = is_killed ||
                    (rc == 0 && j->timeout_s > 0 && clock_now_ms() - t0 >= j->timeout_s * 1000L);
        pthread_mutex_lock(&s->lock);
        j->is_killed = is_killed;
        pthread_mutex_unlock(&s->lock);
        job_step(s, j, STEP_REMOVING);
        /* also after a failed stop and kill: a forced removal is Podman's own last resort */
        rc = podman_container_remove(s->pc, j->name, 1, 0, &e);
        pthread_mutex_lock(&s->lock);
        j->rc = rc == OMLOP_ENOTFOUND ? 0 : rc;
        j->err = e;
        pthread_mutex_unlock(&s->lock);
        job_step(s, j, STEP_DONE);
    }
}

/* Highest start order first (reverse start order), then by name for a stable order. */
static int job_cmp(const void *a, const void *b)
{
    const stop_job *x = a, *y = b;

    if (x->order != y->order)
        return x->order > y->order ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* "stopping 3 of 12 containers on h1: oml-x (waiting up to 10s), ..."; under s->lock. */
static void progress_text(const stop_set *s, const char *host, strbuf *out)
{
    size_t shown = 0, n_stopping = 0;

    strbuf_reset(out);
    strbuf_addf(out, "stopping %zu of %zu containers on %s", s->n - s->n_done, s->n, host);
    for (size_t i = 0; i < s->n; i++) {
        const stop_job *j = &s->jobs[i];

        if (j->step != STEP_STOPPING && j->step != STEP_REMOVING)
            continue;
        n_stopping++;
        if (shown == TEARDOWN_PROGRESS_NAMES)
            continue;
        strbuf_addf(out, "%s%s", shown++ ? ", " : ": ", j->name);
        if (j->step == STEP_STOPPING)
            strbuf_addf(out, " (waiting up to %ds)", j->timeout_s);
        else
            strbuf_addf(out, " (%sremoving)", j->is_killed ? "killed, " : "");
    }
    if (n_stopping > shown)
        strbuf_addf(out, " and %zu more", n_stopping - shown);
}

/* Events for jobs finished since the last call; adds the removed ones to *n_removed. */
static void report_done(tenant_round *r, const char *host, stop_job **done, size_t n_done,
                        size_t *n_removed)
{
    for (size_t i = 0; i < n_done; i++) {
        const stop_job *j = done[i];

        if (j->is_killed)
            tenant_round_event(r, EVENT_TYPE_WARNING, "Killed",
                               "Container %s on host %s did not stop within %ds of its stop "
                               "signal and was killed",
                               j->name, host, j->timeout_s);
        if (j->rc == 0) {
            (*n_removed)++;
            log_info("tenant=%s host=%s container=%s removed (tenant deleted)", r->tenant, host,
                     j->name);
        }
    }
}

/*
 * Stop and remove the n jobs of s on host h, in parallel; the round's thread
 * records events and (is_status) the progress in .status while they run.
 * Returns the first job's error, every failure named in err.
 */
static int stop_all(tenant_round *r, tenant_host_round *h, stop_set *s, int is_status,
                    size_t *n_removed, omlop_err *err)
{
    size_t n_threads = s->n < TEARDOWN_PARALLEL_MAX ? s->n : TEARDOWN_PARALLEL_MAX, n_started = 0;
    pthread_t threads[TEARDOWN_PARALLEL_MAX];
    stop_job **done = xcalloc(s->n ? s->n : 1, sizeof(*done));
    strbuf text = STRBUF_INIT, last = STRBUF_INIT, why = STRBUF_INIT;
    long last_write = 0;
    int max_s = 0, rc = 0;

    for (size_t i = 0; i < s->n; i++)
        max_s = s->jobs[i].timeout_s > max_s ? s->jobs[i].timeout_s : max_s;
    tenant_round_event(r, EVENT_TYPE_NORMAL, "Stopping",
                       "Stopping %zu container(s) of tenant %s on host %s (killed if still "
                       "running after their stop timeout, at most %ds)",
                       s->n, r->tenant, h->name, max_s);
    while (n_started < n_threads && pthread_create(&threads[n_started], NULL, stop_worker, s) == 0)
        n_started++;
    if (n_started == 0) /* no thread to be had: one at a time, still each with its own timeout */
        stop_worker(s);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        size_t n_new = 0;
        int is_finished = s->n_done == s->n;
        struct timespec until;
        omlop_err serr = OMLOP_ERR_INIT;

        for (size_t i = 0; i < s->n; i++)
            if (s->jobs[i].step == STEP_DONE && !s->jobs[i].is_reported) {
                s->jobs[i].is_reported = 1;
                done[n_new++] = &s->jobs[i];
            }
        if (!is_finished)
            progress_text(s, h->name, &text);
        pthread_mutex_unlock(&s->lock);
        /* jobs at STEP_DONE are read without the lock: no worker writes them any more */
        report_done(r, h->name, done, n_new, n_removed);
        if (is_finished)
            break;
        if (is_status && strcmp(strbuf_str(&text), strbuf_str(&last)) != 0 &&
            clock_now_ms() - last_write >= TEARDOWN_PROGRESS_MS) {
            deleting_status ds = {NULL, strbuf_str(&text)};

            if (tenant_round_status_write(r, status_deleting, &ds, &serr) < 0)
                log_warn("tenant=%s status write failed: %s", r->tenant, serr.msg);
            last_write = clock_now_ms();
            strbuf_reset(&last);
            strbuf_add(&last, text.buf, text.len);
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&s->lock);
        if (s->n_done == s->n)
            continue; /* finished while the status was written: report it */
        pthread_cond_timedwait(&s->changed, &s->lock, &until);
    }
    for (size_t i = 0; i < n_started; i++)
        pthread_join(threads[i], NULL);
    for (size_t i = 0; i < s->n; i++)
        if (s->jobs[i].rc < 0) {
            strbuf_addf(&why, "%s%s", why.len ? "; " : "", s->jobs[i].err.msg);
            if (rc == 0)
                rc = s->jobs[i].rc;
        }
    if (rc < 0)
        omlop_err_set(err, rc, "%s", why.buf);
    else if (s->n)
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Removed",
                           "Removed %zu container(s) of tenant %s from host %s", s->n, r->tenant,
                           h->name);
    free(done);
    strbuf_release(&text);
    strbuf_release(&last);
    strbuf_release(&why);
    return rc;
}

/* The component's start order and stop timeout of live container c. */
static void job_of(const tenant_env *env, const podman_container *c, stop_job *j)
{
    json_object *comp = NULL;
    const catalog_component *cc = NULL;

    if (json_object_object_get_ex(c->labels, OMLOP_LABEL_COMPONENT, &comp))
        cc = catalog_find(json_object_get_string(comp));
    if (!cc)
        cc = catalog_find_container(c->name);
    memset(j, 0, sizeof(*j));
    j->name = c->name;
    /* not in the catalog (renamed or from a newer omlop): nothing known to depend on it */
    j->order = cc ? cc->order : 1 << 30;
    j->timeout_s = env->stop_timeout_s > 0 ? (int)env->stop_timeout_s : catalog_stop_timeout_s(cc);
}

/* Remove this tenant's managed containers (and with is_purge its named volumes) from h. */
static int host_teardown(tenant_round *r, tenant_host_round *h, int is_purge, int is_status,
                         size_t *n_removed, omlop_err *err)
{
    strbuf lbl = STRBUF_INIT;
    const char *labels[3];
    podman_filters f;
    stop_set s;
    char **vols = NULL;
    size_t n_vols = 0;
    int rc;

    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.changed, NULL);
    s.pc = h->pc;
    s.cancel = r->env->cancel;
    strbuf_addf(&lbl, "%s=%s", OMLOP_LABEL_TENANT, r->tenant);
    labels[0] = OMLOP_LABEL_MANAGED_BY "=" OMLOP_MANAGER_NAME;
    labels[1] = lbl.buf;
    labels[2] = NULL;
    memset(&f, 0, sizeof(f));
    f.labels = labels;
    rc = podman_containers_list(h->pc, &f, 1, &h->list, err);
    if (rc == 0 && h->list.n)
        s.jobs = xcalloc(h->list.n, sizeof(*s.jobs));
    for (size_t j = 0; rc == 0 && j < h->list.n; j++) {
        json_object *owner = NULL;

        /* the filter should only return ours; never remove another tenant's on trust */
        if (!json_object_object_get_ex(h->list.items[j].labels, OMLOP_LABEL_TENANT, &owner) ||
            strcmp(json_object_get_string(owner), r->tenant) != 0)
            continue;
        job_of(r->env, &h->list.items[j], &s.jobs[s.n++]);
    }
    if (rc == 0 && s.n) {
        qsort(s.jobs, s.n, sizeof(*s.jobs), job_cmp);
        rc = stop_all(r, h, &s, is_status, n_removed, err);
    }
    if (rc == 0 && is_purge)
        rc = host_volumes(r->ds, h->name, &vols, &n_vols, err);
    for (size_t j = 0; rc == 0 && j < n_vols; j++) {
        rc = podman_volume_remove(h->pc, vols[j], 0, err);
        if (rc == OMLOP_ENOTFOUND)
            rc = 0;
        if (rc == 0)
            log_info("tenant=%s host=%s volume=%s removed (deletionPolicy Purge)", r->tenant,
                     h->name, vols[j]);
    }
    for (size_t j = 0; j < n_vols; j++)
        free(vols[j]);
    free(vols);
    if (rc == 0)
        rc = host_files_remove(r, h, err);
    if (rc == 0 && is_purge)
        rc = tenant_round_host_dirs_remove(r, h, err);
    free(s.jobs);
    pthread_cond_destroy(&s.changed);
    pthread_mutex_destroy(&s.lock);
    strbuf_release(&lbl);
    return rc; /* the Podman client and hostfs name the host (lib/err.h) */
}

/*
 * Tear the tenant of r->obj down on every host of its spec. A host that
 * cannot be reached or cleaned fails the whole teardown (retried: nothing is
 * leaked silently); the error names every such host.
 */
static int round_teardown(tenant_round *r, int is_purge, int is_status, size_t *n_removed,
                          omlop_err *err)
{
    json_object *hosts = cjson_get(r->obj, "spec.hosts");
    size_t n =
        hosts && json_object_is_type(hosts, json_type_array) ? json_object_array_length(hosts) : 0;
    strbuf why = STRBUF_INIT;
    int rc = 0;

    *n_removed = 0;
    r->hosts = xcalloc(n + 1, sizeof(*r->hosts));
    for (size_t i = 0; i < n; i++) {
        json_object *hs = json_object_array_get_idx(hosts, i);
        tenant_host_round *h = &r->hosts[r->n_hosts];
        omlop_err herr = OMLOP_ERR_INIT;
        int hrc;

        h->name = cjson_get_string(hs, "name");
        if (!h->name)
            continue;
        r->n_hosts++;
        tenant_round_host_connect(r->env, &r->sc, r->obj, r->tenant, hs, h);
        if (!h->is_reachable) {
            hrc = h->err.code ? h->err.code : OMLOP_EUNAVAIL;
            omlop_err_set(&herr, hrc, "%s", h->err.msg); /* names the host (lib/err.h) */
        } else
            hrc = host_teardown(r, h, is_purge, is_status, n_removed, &herr);
        if (hrc < 0) {
            strbuf_addf(&why, "%s%s", why.len ? "; " : "", herr.msg);
            if (rc == 0)
                rc = hrc;
        }
    }
    if (rc < 0)
        omlop_err_set(err, rc, "teardown of tenant %s: %s", r->tenant, why.buf);
    strbuf_release(&why);
    return rc;
}

/* Prepare a round over the Tenant value obj (taken) for a teardown. */
static void round_init_teardown(tenant_round *r, const tenant_env *env, json_object *obj)
{
    memset(r, 0, sizeof(*r));
    strbuf_init(&r->failed);
    strbuf_init(&r->failure);
    r->env = env;
    r->obj = obj;
    r->tenant = object_name(obj);
    r->sc.st = env->st;
    r->sc.tenant = r->tenant;
}

/* The volume names (Purge) and host files come from the desired state of the last spec. */
static void round_desired_for_teardown(tenant_round *r, int is_purge)
{
    omlop_err berr = OMLOP_ERR_INIT;

    if (desired_build(r->obj, NULL, &r->ds, &berr) < 0) {
        r->ds = NULL;
        tenant_round_event(r, EVENT_TYPE_WARNING, "TeardownIncomplete",
                           "the env files%s of tenant %s cannot be worked out (%s); they are kept",
                           is_purge ? " and volumes (deletionPolicy Purge)" : "", r->tenant,
                           berr.msg);
    }
}

/*
 * A Tenant carrying metadata.deletionTimestamp: tear it down and release the
 * finalizer (tenant_lifecycle.h). A host that blocks it is an event and an
 * error (the manager retries with backoff).
 */
int tenant_round_finalize(tenant_round *r, tenant_result *res, omlop_err *err)
{
    int is_purge = tenant_is_purge(r->obj), is_removed = 0, rc;
    size_t n_removed = 0, n_secrets = 0;

    if (!tenant_has_finalizer(r->obj)) {
        log_info("tenant=%s being deleted, waiting for other finalizers", r->tenant);
        return 0;
    }
    round_desired_for_teardown(r, is_purge);
    rc = round_teardown(r, is_purge, 1, &n_removed, err);
    if (rc == 0)
        rc = secrets_delete_generated(r->env->st, r->tenant, &n_secrets, err);
    if (rc < 0) {
        strbuf msg = STRBUF_INIT;
        omlop_err serr = OMLOP_ERR_INIT;
        deleting_status ds = {NULL, NULL};

        strbuf_addf(&msg,
                    "Deleting tenant %s is blocked, retrying: %s. To give up on the hosts' "
                    "leftovers, remove the finalizer %s by hand (docs/reconcile.md)",
                    r->tenant, err->msg, TENANT_FINALIZER);
        tenant_round_event(r, EVENT_TYPE_WARNING, "TeardownBlocked", "%s", msg.buf);
        ds.blocked = msg.buf;
        if (tenant_round_status_write(r, status_deleting, &ds, &serr) < 0)
            log_warn("tenant=%s status write failed: %s", r->tenant, serr.msg);
        strbuf_release(&msg);
        return rc;
    }
    tenant_round_event(
        r, EVENT_TYPE_NORMAL, "TornDown",
        "Tenant %s torn down: %zu container(s) removed on %zu host(s), volumes %s, %zu "
        "generated Secret(s) deleted",
        r->tenant, n_removed, r->n_hosts, is_purge && r->ds ? "removed (Purge)" : "kept",
        n_secrets);
    if (r->env->host_forget)
        r->env->host_forget(r->env->host_ctx, r->tenant, NULL);
    rc = tenant_finalizer_release(r->env->st, r->tenant, cjson_get_string(r->obj, "metadata.uid"),
                                  &is_removed, err);
    if (rc == 0)
        res->is_gone = is_removed;
    return rc;
}

int tenant_teardown(const tenant_env *env, const char *tenant_json, omlop_err *err)
{
    tenant_round r;
    size_t n_removed = 0;
    int is_purge, rc;

    round_init_teardown(&r, env, object_parse(tenant_json, strlen(tenant_json)));
    if (!r.tenant) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "teardown: the last Tenant value has no name");
        goto out;
    }
    is_purge = tenant_is_purge(r.obj);
    round_desired_for_teardown(&r, is_purge);
    rc = round_teardown(&r, is_purge, 0, &n_removed, err); /* no stored object for a status */
    if (rc == 0 && env->host_forget)
        env->host_forget(env->host_ctx, r.tenant, NULL);
out:
    tenant_round_release(&r);
    return rc;
}
