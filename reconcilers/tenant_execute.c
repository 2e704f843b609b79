/*
 * tenant_execute: the executing half of a round (tenant.h): the plan's actions run through the
 * Podman client and the host ops - pulls, files, directories, create/start/recreate/remove -
 * each waited for until its container runs and, where it has one, its TCP check answers.
 */
#include "reconcilers/tenant_round.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/imageref.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "objects/objects.h"
#include "reconcilers/desired.h"
#include "reconcilers/ha_round.h"
#include "reconcilers/plan.h"
#include "reconcilers/secrets.h"
#include "reconcilers/tenant_lifecycle.h"
#include "reconcilers/tenant_status.h"

#define READY_TIMEOUT_MS_DEFAULT 30000
#define READY_POLL_MS            200
#define READY_POLL_FIRST_MS      10
#define SERIAL_SETTLE_MAX_S      2

void tenant_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

int tenant_is_cancelled(const tenant_env *env)
{
    return env->cancel && atomic_load(env->cancel);
}

/*
 * Wait until c's readiness port accepts a TCP connection from its host
 * (bounded by the ready timeout). Without host ops, or for a component judged
 * by "running", there is nothing to wait for.
 */
int tenant_wait_tcp_ready(const tenant_env *env, const tenant_host_round *h,
                          const desired_container *c, omlop_err *err)
{
    long budget = env->ready_timeout_ms > 0 ? env->ready_timeout_ms : READY_TIMEOUT_MS_DEFAULT;
    long waited = 0, poll_ms = READY_POLL_FIRST_MS;

    if (c->ready.kind != DESIRED_READY_TCP || !c->ready.address || !h->ops || !h->ops->tcp_probe)
        return 0;
    for (;;) {
        omlop_err perr = OMLOP_ERR_INIT;
        int rc = h->ops->tcp_probe(h->ops_ctx, c->ready.address, c->ready.port, &perr);

        if (rc == 0)
            return 0;
        if (rc != OMLOP_EUNAVAIL)
            return omlop_err_set(err, rc, "%s readiness check on host %s: %s", c->name, h->name,
                                 perr.msg);
        if (waited >= budget || tenant_is_cancelled(env))
            return omlop_err_set(err, OMLOP_ETIMEOUT,
                                 "%s not ready: %s:%d accepted no connection within %ld ms (%s)",
                                 c->name, c->ready.address, c->ready.port, waited, perr.msg);
        /* most components are up within a few tens of ms: look again soon, then less often */
        tenant_sleep_ms(poll_ms);
        waited += poll_ms;
        poll_ms = poll_ms * 2 < READY_POLL_MS ? poll_ms * 2 : READY_POLL_MS;
    }
}

/* ---- executing the plan ------------------------------------------------------------------- */

/* Wait until name runs; if settle_s, it must still run settle_s later. */
static int wait_running(const tenant_env *env, podman_client *pc, const char *name, int settle_s,
                        omlop_err *err)
{
    long budget = env->ready_timeout_ms > 0 ? env->ready_timeout_ms : READY_TIMEOUT_MS_DEFAULT;
    long waited = 0, poll_ms = READY_POLL_FIRST_MS;
    int rc, seen_running = 0;

    for (;;) {
        podman_container c;

        memset(&c, 0, sizeof(c));
        rc = podman_container_inspect(pc, name, &c, err);
        if (rc < 0)
            return rc;
        if (c.is_running && (!settle_s || seen_running)) {
            podman_container_release(&c);
            return 0;
        }
        if (!c.is_running && (seen_running || (c.state && strcmp(c.state, "exited") == 0))) {
            rc = omlop_err_set(err, OMLOP_EUNAVAIL, "%s exited with code %d right after starting",
                               name, c.exit_code);
            podman_container_release(&c);
            return rc;
        }
        if (c.is_running) {
            seen_running = 1;
            podman_container_release(&c);
            tenant_sleep_ms(settle_s * 1000L);
            continue;
        }
        podman_container_release(&c);
        if (waited >= budget || tenant_is_cancelled(env))
            return omlop_err_set(err, OMLOP_ETIMEOUT, "%s not running after %ld ms", name, waited);
        /* most components are up within a few tens of ms: look again soon, then less often */
        tenant_sleep_ms(poll_ms);
        waited += poll_ms;
        poll_ms = poll_ms * 2 < READY_POLL_MS ? poll_ms * 2 : READY_POLL_MS;
    }
}

/*
 * Create and start the desired container c. Its env goes into the create call
 * (Podman's API takes no env file); env_hash (may be NULL) becomes the
 * omlop.io/env-hash label, the digest of the env file written for it.
 */
static int container_create(const tenant_host_round *h, secrets_ctx *sc, podman_client *pc,
                            const desired_container *c, const char *env_hash, int is_no_start,
                            omlop_err *err)
{
    desired_env_values ev = {NULL, 0};
    podman_kv *envkv = NULL, *labels = NULL;
    podman_mount *mounts = NULL;
    podman_create_spec spec;
    size_t n_labels = c->n_labels;
    int rc;

    if (c->n_files > 0 && (!h->ops || !h->ops->files_write))
        return omlop_err_set(err, OMLOP_EUNAVAIL,
                             "%s needs the host file %s, which cannot be written over this "
                             "host's connection",
                             c->name, c->files[0].path);
    rc = desired_env_resolve(c, secrets_lookup, sc, &ev, err);
    if (rc < 0)
        goto out;
    envkv = xcalloc(ev.n + 1, sizeof(*envkv));
    labels = xcalloc(c->n_labels + 3, sizeof(*labels));
    mounts = xcalloc(c->n_volumes + 1, sizeof(*mounts));
    for (size_t i = 0; i < ev.n; i++) {
        envkv[i].key = ev.items[i].key;
        envkv[i].value = ev.items[i].value;
    }
    for (size_t i = 0; i < c->n_labels; i++) {
        labels[i].key = c->labels[i].key;
        labels[i].value = c->labels[i].value;
    }
    if (env_hash) {
        labels[n_labels].key = OMLOP_LABEL_ENV_HASH;
        labels[n_labels++].value = env_hash;
    }
    if (c->tls_digest) { /* the TLS pair it reads (reconcilers/tls.h) */
        labels[n_labels].key = OMLOP_LABEL_TLS_HASH;
        labels[n_labels++].value = c->tls_digest;
    }
    for (size_t i = 0; i < c->n_volumes; i++) {
        mounts[i].type = c->volumes[i].is_named ? PODMAN_MOUNT_VOLUME : PODMAN_MOUNT_BIND;
        mounts[i].source = c->volumes[i].source;
        mounts[i].destination = c->volumes[i].target;
        mounts[i].is_readonly = c->volumes[i].is_readonly;
        mounts[i].options = c->volumes[i].options;
    }
    memset(&spec, 0, sizeof(spec));
    spec.name = c->name;
    spec.image = c->image;
    spec.command = c->n_command ? (const char *const *)c->command : NULL;
    spec.env = envkv;
    spec.n_env = ev.n;
    spec.labels = labels;
    spec.n_labels = n_labels;
    spec.mounts = mounts;
    spec.n_mounts = c->n_volumes;
    spec.is_host_network = c->is_host_network;
    spec.memory_limit_bytes = c->memory_limit;
    spec.restart_policy = c->restart_policy;
    spec.cap_add = c->n_cap_add ? (const char *const *)c->cap_add : NULL;
    rc = podman_container_create(pc, &spec, NULL, 0, err);
    if (rc < 0 || is_no_start)
        goto out;
    rc = podman_container_start(pc, c->name, err);
out:
    desired_env_values_release(&ev);
    free(envkv);
    free(labels);
    free(mounts);
    return rc;
}

tenant_host_round *tenant_round_host(tenant_round *r, const char *name)
{
    for (size_t i = 0; i < r->n_hosts; i++)
        if (strcmp(r->hosts[i].name, name) == 0)
            return &r->hosts[i];
    return NULL;
}

void tenant_round_event(tenant_round *r, const char *type, const char *reason, const char *fmt, ...)
{
    omlop_err err = OMLOP_ERR_INIT;
    strbuf msg = STRBUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    log_write(strcmp(type, EVENT_TYPE_WARNING) == 0 ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
              "tenant=%s reason=%s %s", r->tenant, reason, msg.buf);
    if (r->env->ev && r->obj &&
        events_record(r->env->ev, r->obj, type, reason, &err, "%s", msg.buf) < 0)
        log_warn("tenant=%s reason=%s recording the event failed: %s", r->tenant, reason, err.msg);
    strbuf_release(&msg);
}

static int pull_progress(void *ud, const char *line)
{
    const plan_action *a = ud;

    log_debug("host=%s image=%s pull: %s", a->host, a->image, line);
    return 0;
}

static int image_failed(const tenant_round *r, const char *host, const char *image)
{
    for (size_t i = 0; i < plan_count(r->pl); i++) {
        const plan_action *a = plan_at(r->pl, i);

        if (a->kind == PLAN_PULL && r->res[i].rc < 0 && strcmp(a->host, host) == 0 &&
            imageref_equal(a->image, image))
            return 1;
    }
    return 0;
}

static void note_failure(tenant_round *r, const plan_action *a, const char *msg)
{
    if (r->failed.len)
        return; /* the first failure is the one that stopped the rollout */
    if (a->component)
        strbuf_addf(&r->failed, "component %s on host %s", a->component, a->host);
    else
        strbuf_addf(&r->failed, "image %s on host %s", a->image ? a->image : "?", a->host);
    strbuf_adds(&r->failure, msg);
}

/*
 * Write the host files of actions [first, first + n) of the plan (all PLAN_WRITE
 * on host h) in one call: one exec on the host instead of one per file.
 */
static int write_files(tenant_round *r, tenant_host_round *h, size_t first, size_t n,
                       omlop_err *err)
{
    tenant_file_write *w;
    int rc;

    if (!h->ops || !h->ops->files_write)
        return omlop_err_set(err, OMLOP_EUNAVAIL,
                             "host %s: files cannot be written over this host's connection",
                             h->name);
    w = xcalloc(n, sizeof(*w));
    for (size_t i = 0; i < n; i++) {
        const plan_action *a = plan_at(r->pl, first + i);
        tenant_host_file *f = tenant_host_file_find(h, a->path);

        if (!f || !f->is_rendered) {
            free(w);
            return omlop_err_set(err, OMLOP_EINTERNAL, "host %s: no content for %s", h->name,
                                 a->path ? a->path : "?");
        }
        w[i].path = f->path;
        w[i].data = f->content.buf ? f->content.buf : "";
        w[i].len = f->content.len;
        w[i].mode = f->mode;
    }
    rc = h->ops->files_write(h->ops_ctx, w, n, err);
    free(w);
    return rc;
}

/* The record of the directories omlop made for the tenant on a host (tenant.h). */
static void dirs_record_path(const char *tenant, strbuf *out)
{
    strbuf_addf(out, "%s/%s", TENANT_DIRS_RECORD_DIR, tenant);
}

/* Make the missing directory of a PLAN_MKDIR on h, recorded for a Purge to take back. */
static int make_dir(tenant_round *r, tenant_host_round *h, const plan_action *a, omlop_err *err)
{
    tenant_dir d = {a->path, a->mode, NULL};
    strbuf record = STRBUF_INIT;
    int rc;

    if (!h->ops || !h->ops->dirs_make)
        return omlop_err_set(err, OMLOP_EUNAVAIL,
                             "host %s: directories cannot be made over this host's connection",
                             h->name);
    dirs_record_path(r->tenant, &record);
    rc = h->ops->dirs_make(h->ops_ctx, &d, 1, strbuf_str(&record), err);
    strbuf_release(&record);
    return rc;
}

int tenant_round_host_dirs_remove(tenant_round *r, tenant_host_round *h, omlop_err *err)
{
    strbuf record = STRBUF_INIT;
    tenant_held held;
    int rc;

    if (!h->ops || !h->ops->dirs_remove)
        return 0;
    rc = tenant_round_held_by_others(r, h, &held, err);
    if (rc == 0 && held.n > 0) {
        /* what another tenant's container mounts must stay; the record stays for later */
        log_info("tenant=%s host=%s directories kept: %s is held by tenant %s", r->tenant, h->name,
                 held.names[0], held.owners[0]);
        tenant_held_release(&held);
        return 0;
    }
    tenant_held_release(&held);
    dirs_record_path(r->tenant, &record);
    if (rc == 0)
        rc = h->ops->dirs_remove(h->ops_ctx, strbuf_str(&record), err);
    if (rc == 0)
        log_info("tenant=%s host=%s directories omlop made removed (deletionPolicy Purge)",
                 r->tenant, h->name);
    strbuf_release(&record);
    return rc;
}

/* Mark c ready for the rest of the round (its readiness check passed). */
static void mark_ready(tenant_round *r, tenant_host_round *h, const desired_container *c)
{
    const desired_host *dh = desired_host_find(r->ds, h->name);
    size_t i = dh ? tenant_container_index(dh, c) : 0;

    if (dh && i < h->n_not_ready && !h->not_ready[i])
        h->not_ready[i] = xstrdup("");
}

/*
 * Call fn for every desired component, on every reachable host with host ops,
 * that runs now, is judged by a TCP check and has not passed one this round
 * (h->not_ready[j] is not ""). Stops at fn's first error.
 */
int tenant_round_each_tcp_unconfirmed(tenant_round *r, tenant_tcp_visit_fn fn, void *ctx,
                                      omlop_err *err)
{
    for (size_t i = 0; i < r->n_hosts; i++) {
        tenant_host_round *h = &r->hosts[i];
        const desired_host *dh = desired_host_find(r->ds, h->name);

        if (!h->is_reachable || !dh || !h->ops || !h->ops->tcp_probe)
            continue;
        for (size_t j = 0; j < dh->n_containers && j < h->n_not_ready; j++) {
            const desired_container *c = &dh->containers[j];
            const live_container *lc = tenant_host_find(h, c->name);
            int rc;

            if ((h->not_ready[j] && !*h->not_ready[j]) || c->ready.kind != DESIRED_READY_TCP ||
                !c->ready.address || !lc || lc->state != LIVE_STATE_RUNNING)
                continue;
            if ((rc = fn(r, h, j, ctx, err)) < 0)
                return rc;
        }
    }
    return 0;
}

/* tenant_tcp_visit_fn: wait for a component that starts before the action ctx. */
static int wait_if_earlier(tenant_round *r, tenant_host_round *h, size_t j, void *ctx,
                           omlop_err *err)
{
    const plan_action *a = ctx;
    const desired_container *c = &desired_host_find(r->ds, h->name)->containers[j];
    int rc;

    if (c->component->order >= a->order)
        return 0;
    /* layout ha: an active-only component is stopped on the standby node by design (this
     * round's plan may just have stopped it, after the observation that says it runs): waiting
     * for it there would hold a later start (keepalived's) for the whole ready timeout */
    if (c->is_ha_active_only && h->ha == LIVE_HA_STANDBY)
        return 0;
    rc = tenant_wait_tcp_ready(r->env, h, c, err);
    if (rc < 0)
        return omlop_err_prefix(err, "waiting for %s on host %s: ", c->component->name, h->name);
    free(h->not_ready[j]);
    h->not_ready[j] = xstrdup("");
    return 0;
}

/*
 * Start order means "after the earlier components are ready": before acting
 * on a component, wait for every earlier one that runs (on any host) and has
 * not passed its readiness check this round. A rollout that stopped on a
 * component that never got ready must not go on past it in the next round.
 */
static int wait_earlier_ready(tenant_round *r, const plan_action *a, omlop_err *err)
{
    return tenant_round_each_tcp_unconfirmed(r, wait_if_earlier, (void *)a, err);
}

static int run_action(tenant_round *r, const plan_action *a, omlop_err *err)
{
    tenant_host_round *h = tenant_round_host(r, a->host);
    podman_client *pc = h ? h->pc : NULL;
    long stop_s = r->env->stop_timeout_s > 0
                      ? r->env->stop_timeout_s
                      : catalog_stop_timeout_s(a->desired ? a->desired->component : NULL);
    int settle = 0, rc = 0;

    if (!pc)
        return omlop_err_set(err, OMLOP_EUNAVAIL, "host %s is not connected", a->host);
    /* judged by "running" alone, an upgraded component must still run a moment later; one
     * with a TCP check proves itself by answering instead */
    if (a->desired && a->desired->ready.start_period_s > 0 &&
        !(a->desired->ready.kind == DESIRED_READY_TCP && h && h->ops && h->ops->tcp_probe))
        settle = a->desired->ready.start_period_s < SERIAL_SETTLE_MAX_S
                     ? a->desired->ready.start_period_s
                     : SERIAL_SETTLE_MAX_S;
    if ((a->kind == PLAN_CREATE || a->kind == PLAN_START || a->kind == PLAN_RECREATE) &&
        (rc = wait_earlier_ready(r, a, err)) < 0)
        return rc;
    switch (a->kind) {
    case PLAN_PULL: {
        podman_pull_opts po = {-1, 0, r->env->cancel};

        /* as kubelet does: a pull that takes long shows in describe while it runs */
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Pulling", "Pulling %s on host %s", a->image,
                           a->host);
        return podman_image_pull(pc, a->image, &po, pull_progress, (void *)a, NULL, 0, err);
    }
    case PLAN_WRITE:
        return write_files(r, h, (size_t)(a - plan_at(r->pl, 0)), 1, err);
    case PLAN_MKDIR:
        return make_dir(r, h, a, err);
    case PLAN_CREATE:
        rc = container_create(h, &r->sc, pc, a->desired, tenant_env_hash_of(h, a->desired),
                              a->is_no_start, err);
        if (rc == 0 && a->is_no_start)
            return 0; /* ha standby: keepalived's notify starts it when the VIP comes */
        if (rc == 0)
            rc = wait_running(r->env, pc, a->container, 0, err);
        break;
    case PLAN_STOP:
        /* keepalived's notify may have just started it here: never stop what the VIP serves */
        if (ha_round_holds_now(r, h) == 1) {
            log_info("tenant=%s host=%s %s: the VIP came here meanwhile, not stopped", r->tenant,
                     a->host, a->container);
            return 0;
        }
        rc = podman_container_stop(pc, a->container, (int)stop_s, err);
        return rc == OMLOP_ENOTFOUND ? 0 : rc;
    case PLAN_START:
        /* a paused container refuses start: it is resumed where it stopped */
        if (a->from_state == LIVE_STATE_PAUSED)
            rc = podman_container_unpause(pc, a->container, err);
        else
            rc = podman_container_start(pc, a->container, err);
        if (rc == 0)
            rc = wait_running(r->env, pc, a->container, 0, err);
        break;
    case PLAN_RECREATE:
        /* as a teardown does: what ignores its stop signal is killed, never waited on forever */
        rc = podman_container_stop_or_kill(pc, a->container, (int)stop_s, 0, NULL, err);
        if (rc == 0 || rc == OMLOP_ENOTFOUND)
            rc = podman_container_remove(pc, a->container, 1, 0, err);
        if (rc == OMLOP_ENOTFOUND)
            rc = 0;
        if (rc == 0)
            rc = container_create(h, &r->sc, pc, a->desired, tenant_env_hash_of(h, a->desired),
                                  a->is_no_start, err);
        if (rc == 0 && a->is_no_start)
            return 0;
        /* an upgrade goes one component at a time: this one must hold before the next */
        if (rc == 0)
            rc = wait_running(r->env, pc, a->container, a->is_serial ? settle : 0, err);
        break;
    case PLAN_REMOVE:
        rc = podman_container_remove(pc, a->container, 1, 0, err);
        return rc == OMLOP_ENOTFOUND ? 0 : rc;
    case PLAN_BLOCKED:
        return omlop_err_set(err, OMLOP_ECONFLICT, "%s", a->reason ? a->reason : "blocked");
    default:
        return omlop_err_set(err, OMLOP_EINTERNAL, "unknown plan action %d", (int)a->kind);
    }
    /* created, started or recreated: ready before the next component */
    if (rc == 0 && a->desired) {
        rc = tenant_wait_tcp_ready(r->env, h, a->desired, err);
        if (rc == 0)
            mark_ready(r, h, a->desired);
    }
    return rc;
}

static const char *fail_reason(plan_kind k)
{
    switch (k) {
    case PLAN_PULL:
        return "PullFailed";
    case PLAN_CREATE:
        return "CreateFailed";
    case PLAN_START:
        return "StartFailed";
    case PLAN_RECREATE:
        return "RecreateFailed";
    case PLAN_REMOVE:
        return "RemoveFailed";
    case PLAN_BLOCKED:
        return "NameConflict";
    case PLAN_WRITE:
        return "WriteFailed";
    case PLAN_MKDIR:
        return "MkdirFailed";
    case PLAN_STOP:
        return "StopFailed";
    }
    return "Failed";
}

static void report_done(tenant_round *r, const plan_action *a, long elapsed_ms)
{
    const char *why = a->reason ? a->reason : "";

    switch (a->kind) {
    case PLAN_PULL:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Pulled", "Pulled %s on host %s in %.3f s",
                           a->image, a->host, (double)elapsed_ms / 1000.0);
        break;
    case PLAN_CREATE:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Created", "Created %s on host %s: %s",
                           a->container, a->host, why);
        break;
    case PLAN_START:
        if (a->from_state == LIVE_STATE_PAUSED)
            tenant_round_event(r, EVENT_TYPE_NORMAL, "Unpaused", "Unpaused %s on host %s: %s",
                               a->container, a->host, why);
        else
            tenant_round_event(r, EVENT_TYPE_NORMAL, "Restarted", "Restarted %s on host %s: %s",
                               a->container, a->host, why);
        break;
    case PLAN_RECREATE:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Recreated", "Recreated %s on host %s: %s",
                           a->container, a->host, why);
        break;
    case PLAN_REMOVE:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Removed", "Removed %s on host %s: %s",
                           a->container, a->host, why);
        break;
    case PLAN_WRITE:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Wrote", "Wrote %s on host %s for %s: %s", a->path,
                           a->host, a->container, why);
        break;
    case PLAN_MKDIR:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "CreatedDirectory",
                           "Created directory %s on host %s for %s: %s", a->path, a->host,
                           a->container, why);
        break;
    case PLAN_STOP:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Stopped", "Stopped %s on host %s: %s",
                           a->container, a->host, why);
        break;
    case PLAN_BLOCKED:
        break;
    }
}

/*
 * Execute the plan in order. A failed pull skips the actions needing that
 * image; any other failure stops every later create/start/recreate (removals
 * of orphans still run: they cannot hurt the failing component).
 */
void tenant_round_run_plan(tenant_round *r)
{
    int is_stopped = 0;

    for (size_t i = 0; i < plan_count(r->pl); i++) {
        const plan_action *a = plan_at(r->pl, i);
        tenant_action_result *ar = &r->res[i];
        omlop_err err = OMLOP_ERR_INIT;
        size_t n = 1;
        long t0 = clock_now_ms();

        if (tenant_is_cancelled(r->env) || (is_stopped && a->kind != PLAN_REMOVE) ||
            (a->image && a->kind != PLAN_PULL && image_failed(r, a->host, a->image))) {
            ar->is_skipped = 1;
            r->n_pending++;
            continue;
        }
        if (a->kind == PLAN_WRITE) {
            /* the plan puts a host's writes together: one call for all of them */
            tenant_host_round *h = tenant_round_host(r, a->host);

            while (i + n < plan_count(r->pl) && plan_at(r->pl, i + n)->kind == PLAN_WRITE &&
                   strcmp(plan_at(r->pl, i + n)->host, a->host) == 0)
                n++;
            ar->rc = h && h->pc
                         ? write_files(r, h, i, n, &err)
                         : omlop_err_set(&err, OMLOP_EUNAVAIL, "host %s is not connected", a->host);
        } else
            ar->rc = run_action(r, a, &err);
        for (size_t k = 0; k < n; k++) {
            const plan_action *ak = plan_at(r->pl, i + k);
            tenant_action_result *rk = &r->res[i + k];

            rk->rc = ar->rc;
            rk->elapsed_ms = clock_now_ms() - t0;
            if (ar->rc == 0) {
                rk->is_done = 1;
                r->n_applied++;
                report_done(r, ak, rk->elapsed_ms);
                continue;
            }
            snprintf(rk->msg, sizeof(rk->msg), "%s", err.msg);
            r->n_pending++;
        }
        if (ar->rc < 0) {
            note_failure(r, a, err.msg);
            if (a->kind == PLAN_PULL)
                tenant_round_event(r, EVENT_TYPE_WARNING, "PullFailed",
                                   "Pulling %s on host %s failed: %s", a->image, a->host, err.msg);
            else
                tenant_round_event(r, EVENT_TYPE_WARNING, fail_reason(a->kind),
                                   "%s %s on host %s failed: %s", plan_kind_name(a->kind),
                                   a->kind == PLAN_WRITE || a->kind == PLAN_MKDIR ? a->path
                                   : a->container                                 ? a->container
                                                                                  : "",
                                   a->host, err.msg);
            if (a->kind != PLAN_PULL && a->kind != PLAN_REMOVE)
                is_stopped = 1;
        }
        i += n - 1;
    }
}
