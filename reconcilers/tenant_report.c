/*
 * tenant_report: what a round tells: the Tenant's .status (written through the object write
 * path, status only) from the observation of every component, and the round's Events.
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

/* ---- status ------------------------------------------------------------------------------- */

static const char *state_of(const live_container *lc)
{
    if (!lc)
        return TENANT_STATE_MISSING;
    switch (lc->state) {
    case LIVE_STATE_RUNNING:
        return TENANT_STATE_RUNNING;
    case LIVE_STATE_CREATED:
        return TENANT_STATE_STARTING;
    case LIVE_STATE_PAUSED:
        return TENANT_STATE_STOPPED;
    case LIVE_STATE_EXITED:
        return lc->exit_code == 0 ? TENANT_STATE_STOPPED : TENANT_STATE_FAILED;
    case LIVE_STATE_DEAD:
        return TENANT_STATE_FAILED;
    case LIVE_STATE_REMOVING:
    case LIVE_STATE_UNKNOWN:
        break;
    }
    return TENANT_STATE_UNKNOWN;
}

/* The component's observation: live state after the plan ran, and what omlop did to it. */
static void observe_component(tenant_round *r, const tenant_host_round *h, const desired_host *dh,
                              const desired_container *c, tenant_obs_component *oc)
{
    const live_container *lc = h->is_reachable ? tenant_host_find(h, c->name) : NULL;
    const char *hash = lc ? live_container_label(lc, OMLOP_LABEL_SPEC_HASH) : NULL;

    memset(oc, 0, sizeof(*oc));
    oc->host = h->name;
    oc->name = c->component->name;
    oc->image = lc && lc->image ? lc->image : c->image;
    oc->state = h->is_reachable ? state_of(lc) : TENANT_STATE_UNKNOWN;
    oc->container_id = lc ? lc->id : NULL;
    oc->spec_hash = hash;
    oc->is_current = lc && lc->state == LIVE_STATE_RUNNING && hash &&
                     strcmp(hash, c->spec_hash) == 0 && imageref_equal(lc->image, c->image);
    if (h->is_reachable && lc && lc->state == LIVE_STATE_RUNNING && dh &&
        tenant_container_index(dh, c) < h->n_not_ready) {
        const char *nr = h->not_ready[tenant_container_index(dh, c)];

        if (!nr && c->ready.kind != DESIRED_READY_TCP)
            oc->readiness = TENANT_READINESS_PASSED; /* judged by running */
        else if (nr && !*nr)
            oc->readiness = TENANT_READINESS_PASSED;
        else if (nr) {
            oc->readiness = TENANT_READINESS_FAILED;
            oc->is_current = 0;
            oc->message = nr;
        }
    }
    if (!h->is_reachable)
        oc->message = "host unreachable";
    if (h->is_reachable && c->is_ha_active_only && h->ha != LIVE_HA_ACTIVE) {
        /* layout ha: stopped is right where the VIP is not (keepalived starts it there) */
        int is_spec =
            lc && hash && strcmp(hash, c->spec_hash) == 0 && imageref_equal(lc->image, c->image);

        oc->is_current = is_spec && h->ha == LIVE_HA_STANDBY && lc->state != LIVE_STATE_RUNNING;
        oc->message = h->ha == LIVE_HA_STANDBY
                          ? "active-only: stopped on this node, the OMniLeads VIP is on another"
                          : "active-only: not started, no node holds the OMniLeads VIP yet";
    }
    for (size_t i = 0; i < plan_count(r->pl); i++) {
        const plan_action *a = plan_at(r->pl, i);

        if (!a->container || strcmp(a->container, c->name) != 0 || strcmp(a->host, h->name) != 0)
            continue;
        if (r->res[i].is_done) {
            oc->is_restarted = a->kind == PLAN_START;
            oc->is_repaired = a->kind == PLAN_START || a->kind == PLAN_RECREATE;
            oc->is_created = a->kind == PLAN_CREATE;
        } else if (r->res[i].rc < 0)
            oc->message = r->res[i].msg;
        else if (r->res[i].is_skipped)
            oc->message = "waiting: the rollout stopped at an earlier failure";
    }
}

static int status_from_obs(const json_object *old_status, const void *ctx, const char *now,
                           json_object **out, omlop_err *err)
{
    return tenant_status_compute(old_status, ctx, now, out, err);
}

typedef struct status_change {
    tenant_status_fn fn;
    const void *ctx;
} status_change;

/* An obj_mutate_fn: next's status computed from cur's; OBJ_UNCHANGED when nothing is new. */
static int status_mutate(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    const status_change *sw = ctx;
    json_object *st = NULL;
    char now[32];
    int rc;

    object_time_format(time(NULL), now);
    if ((rc = sw->fn(cjson_get(cur, "status"), sw->ctx, now, &st, err)) < 0)
        return rc;
    if (tenant_status_is_unchanged(cjson_get(cur, "status"), st, time(NULL),
                                   TENANT_STATUS_REFRESH_S)) {
        json_object_put(st); /* nothing new: no write, no watcher woken */
        return OBJ_UNCHANGED;
    }
    json_object_object_add(next, "status", st);
    return 0;
}

/* Replace .status of the stored Tenant (compare-and-swap; retried on a concurrent write). */
int tenant_round_status_write(tenant_round *r, tenant_status_fn fn, const void *ctx, omlop_err *err)
{
    status_change sw = {fn, ctx};
    obj_update_opts o = {0};
    obj_result res = {0};
    int rc;

    /* the common case first, without the store: the status this round read is still right
     * (only this worker writes a tenant's status, so what it read at the start is current) */
    if (r->obj) {
        json_object *st = NULL;
        char now[32];
        int same;

        object_time_format(time(NULL), now);
        if (fn(cjson_get(r->obj, "status"), ctx, now, &st, err) == 0) {
            same = tenant_status_is_unchanged(cjson_get(r->obj, "status"), st, time(NULL),
                                              TENANT_STATUS_REFRESH_S);
            json_object_put(st);
            if (same)
                return 0;
        }
        omlop_err_clear(err);
    }
    /* deleted and created again meanwhile: that one gets its own reconcile */
    o.expect_uid = cjson_get_string(r->obj, "metadata.uid");
    o.is_status = 1;
    rc = obj_update(r->env->st, "tenants", r->tenant, &o, status_mutate, &sw, &res, err);
    obj_result_release(&res);
    if (rc == OMLOP_ENOTFOUND) {
        omlop_err_clear(err);
        rc = 0; /* deleted (or re-created) meanwhile: nothing to report on */
    }
    return rc;
}

static int status_write(tenant_round *r, const tenant_obs *obs, omlop_err *err)
{
    return tenant_round_status_write(r, status_from_obs, obs, err);
}

/* The plan's actions this round did not carry out (the live plan, status.plan); caller frees. */
static tenant_obs_action *pending_actions(const tenant_round *r, size_t *n)
{
    size_t total = r->pl ? plan_count(r->pl) : 0;
    tenant_obs_action *v = xcalloc(total + 1, sizeof(*v));

    *n = 0;
    for (size_t i = 0; v && i < total; i++) {
        const plan_action *a = plan_at(r->pl, i);
        const tenant_action_result *ar = &r->res[i];
        tenant_obs_action *p;

        if (ar->is_done)
            continue;
        p = &v[(*n)++];
        p->host = a->host;
        p->action = plan_kind_name(a->kind);
        p->container = a->container;
        p->path = a->path;
        p->component = a->component;
        p->image = a->image;
        p->reason = a->reason;
        if (ar->rc < 0)
            p->error = ar->msg;
        else if (ar->is_skipped)
            p->error = tenant_is_cancelled(r->env)
                           ? "not tried: omlopd is stopping"
                           : "not tried: the rollout stopped at an earlier failure";
    }
    return v;
}

/* The round's pair as the status sees it (status.tls). */
static void observe_tls(const tenant_round *r, tenant_obs_tls *t)
{
    const tls_result *x = &r->tls;

    memset(t, 0, sizeof(*t));
    t->mode = x->mode;
    t->secret = x->secret;
    t->secret_revision = x->secret_revision;
    t->digest = x->digest;
    t->has_pair = x->cert_pem && x->has_info;
    if (t->has_pair) {
        t->not_before = x->info.not_before;
        t->not_after = x->info.not_after;
        t->serial = x->info.serial;
        t->issuer = x->info.issuer;
        t->dns_names = (const char *const *)x->info.dns_names;
        t->n_dns = x->info.n_dns;
        t->ip_addrs = (const char *const *)x->info.ip_addrs;
        t->n_ips = x->info.n_ips;
    }
    t->next_renewal = x->next_renewal;
    t->is_issued = x->issued != TLS_KEEP;
    t->is_expiring_soon = x->is_expiring_soon;
    t->fail_reason = x->fail_reason;
    t->fail_message = x->fail_msg;
}

int tenant_round_write_status(tenant_round *r, const char *invalid, omlop_err *err)
{
    tenant_obs obs;
    tenant_obs_tls otls;
    tenant_obs_host *oh = xcalloc(r->n_hosts + 1, sizeof(*oh));
    tenant_obs_component *oc = NULL;
    tenant_obs_action *pending = NULL;
    size_t n_oc = 0, cap = 0;
    int rc;

    memset(&obs, 0, sizeof(obs));
    obs.generation = cjson_get_int(r->obj, "metadata.generation", 1);
    obs.invalid = invalid;
    for (size_t i = 0; i < r->n_hosts; i++) {
        const tenant_host_round *h = &r->hosts[i];
        const desired_host *dh = r->ds ? desired_host_find(r->ds, h->name) : NULL;

        oh[i].name = h->name;
        oh[i].is_reachable = h->is_reachable;
        oh[i].error = h->is_reachable ? NULL : h->err.msg;
        oh[i].reason = h->is_reachable ? NULL : h->reason;
        oh[i].fingerprint = h->info.fingerprint[0] ? h->info.fingerprint : NULL;
        for (size_t j = 0; dh && j < dh->n_containers; j++) {
            if (n_oc == cap) {
                size_t ncap = cap ? 2 * cap : 32;
                oc = xrealloc(oc, ncap * sizeof(*oc));
                cap = ncap;
            }
            observe_component(r, h, dh, &dh->containers[j], &oc[n_oc++]);
        }
    }
    obs.hosts = oh;
    obs.n_hosts = r->n_hosts;
    obs.components = oc;
    obs.n_components = n_oc;
    obs.n_applied = r->n_applied;
    obs.n_pending = r->n_pending;
    obs.failed = r->failed.len ? r->failed.buf : NULL;
    obs.failure = r->failure.len ? r->failure.buf : NULL;
    obs.plan = pending = pending_actions(r, &obs.n_plan);
    if (r->has_tls) {
        observe_tls(r, &otls);
        obs.tls = &otls;
    }
    obs.ha = ha_round_report(r);
    rc = status_write(r, &obs, err);
    free(oh);
    free(oc);
    free(pending);
    return rc;
}
