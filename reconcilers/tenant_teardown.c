/*
 * tenant_teardown: the deletion half of the reconciler (see tenant.h and
 * tenant_lifecycle.h): a Tenant with metadata.deletionTimestamp, or one that
 * vanished without the finalizer, is removed from its hosts - containers,
 * named volumes with Purge, generated Secrets - before the finalizer goes.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/cjson.h"
#include "lib/log.h"
#include "operator/api_object.h"
#include "operator/events.h"
#include "reconcilers/secrets.h"
#include "reconcilers/tenant.h"
#include "reconcilers/tenant_lifecycle.h"
#include "reconcilers/tenant_round.h"
#include "reconcilers/tenant_status.h"

/* What a deletion in progress looks like: phase Deleting; blocked (ctx, or NULL) in Degraded. */
static int status_deleting(const json_object *old_status, const void *ctx, const char *now,
                           json_object **out, omlop_err *err)
{
    const char *blocked = ctx;
    json_object *st = NULL, *conds;

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
    json_object_object_add(st, "phase", json_object_new_string("Deleting"));
    if (blocked) /* built from an omlop_err: well under the CRD's 32768 */
        tenant_condition_set(conds, "Degraded", "True", "TeardownBlocked", blocked,
                             cjson_get_int(st, "observedGeneration", 0), now);
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
    int rc = 0;

    if (!dh || !h->ops || !h->ops->file_remove)
        return 0;
    rc = tenant_round_held_by_others(r, h, &held, err);
    for (size_t i = 0; rc == 0 && i < dh->n_containers; i++) {
        const desired_container *c = &dh->containers[i];
        const char *owner = tenant_held_owner(&held, c->name);

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

/* Remove this tenant's managed containers (and with is_purge its named volumes) from h. */
static int host_teardown(tenant_round *r, tenant_host_round *h, int is_purge, size_t *n_removed,
                         omlop_err *err)
{
    strbuf lbl = STRBUF_INIT;
    const char *labels[3];
    podman_filters f;
    char **vols = NULL;
    size_t n_vols = 0;
    int rc;

    strbuf_addf(&lbl, "%s=%s", OMLOP_LABEL_TENANT, r->tenant);
    labels[0] = OMLOP_LABEL_MANAGED_BY "=" OMLOP_MANAGER_NAME;
    labels[1] = lbl.buf;
    labels[2] = NULL;
    memset(&f, 0, sizeof(f));
    f.labels = labels;
    rc = podman_containers_list(h->pc, &f, 1, &h->list, err);
    for (size_t j = 0; rc == 0 && j < h->list.n; j++) {
        const char *cn = h->list.items[j].name;
        json_object *owner = NULL;

        /* the filter should only return ours; never remove another tenant's on trust */
        if (!json_object_object_get_ex(h->list.items[j].labels, OMLOP_LABEL_TENANT, &owner) ||
            strcmp(json_object_get_string(owner), r->tenant) != 0)
            continue;
        rc = podman_container_remove(h->pc, cn, 1, 0, err);
        if (rc == OMLOP_ENOTFOUND)
            rc = 0;
        if (rc == 0) {
            (*n_removed)++;
            log_info("tenant=%s host=%s container=%s removed (tenant deleted)", r->tenant, h->name,
                     cn);
        }
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
    strbuf_release(&lbl);
    if (rc < 0)
        omlop_err_prefix(err, "host %s: ", h->name);
    return rc;
}

/*
 * Tear the tenant of r->obj down on every host of its spec. A host that
 * cannot be reached or cleaned fails the whole teardown (retried: nothing is
 * leaked silently); the error names every such host.
 */
static int round_teardown(tenant_round *r, int is_purge, size_t *n_removed, omlop_err *err)
{
    json_object *hosts = cjson_get(r->obj, "spec.hosts");
    size_t n =
        hosts && json_object_is_type(hosts, json_type_array) ? json_object_array_length(hosts) : 0;
    strbuf why = STRBUF_INIT;
    int rc = 0;

    *n_removed = 0;
    r->hosts = calloc(n + 1, sizeof(*r->hosts));
    if (!r->hosts)
        return omlop_err_set(err, OMLOP_ENOMEM, "teardown of %s: out of memory", r->tenant);
    for (size_t i = 0; i < n; i++) {
        json_object *hs = json_object_array_get_idx(hosts, i);
        tenant_host_round *h = &r->hosts[r->n_hosts];
        omlop_err herr = OMLOP_ERR_INIT;
        int hrc;

        h->name = cjson_get_string(hs, "name");
        if (!h->name)
            continue;
        r->n_hosts++;
        tenant_round_host_connect(r->env, &r->sc, r->tenant, hs, h);
        if (!h->is_reachable) {
            hrc = h->err.code ? h->err.code : OMLOP_EUNAVAIL;
            omlop_err_set(&herr, hrc, "host %s unreachable: %s", h->name, h->err.msg);
        } else
            hrc = host_teardown(r, h, is_purge, n_removed, &herr);
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
    r->tenant = api_object_name(obj);
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
    rc = round_teardown(r, is_purge, &n_removed, err);
    if (rc == 0)
        rc = secrets_delete_generated(r->env->st, r->tenant, &n_secrets, err);
    if (rc < 0) {
        strbuf msg = STRBUF_INIT;
        omlop_err serr = OMLOP_ERR_INIT;

        strbuf_addf(&msg,
                    "Deleting tenant %s is blocked, retrying: %s. To give up on the hosts' "
                    "leftovers, remove the finalizer %s by hand (docs/reconcile.md)",
                    r->tenant, err->msg, TENANT_FINALIZER);
        tenant_round_event(r, EVENT_TYPE_WARNING, "TeardownBlocked", "%s", msg.buf);
        if (tenant_round_status_write(r, status_deleting, msg.buf, &serr) < 0)
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

    round_init_teardown(&r, env, api_object_parse(tenant_json, strlen(tenant_json)));
    if (!r.tenant) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "teardown: the last Tenant value has no name");
        goto out;
    }
    is_purge = tenant_is_purge(r.obj);
    round_desired_for_teardown(&r, is_purge);
    rc = round_teardown(&r, is_purge, &n_removed, err);
    if (rc == 0 && env->host_forget)
        env->host_forget(env->host_ctx, r.tenant, NULL);
out:
    tenant_round_release(&r);
    return rc;
}
