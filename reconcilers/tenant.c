/*
 * tenant: one reconcile of one Tenant (see tenant.h) - its entry point and the round's
 * sequence. The round's parts are split by what they do, sharing the round's state
 * (tenant_round.h): observing the hosts (tenant_observe.c), executing the plan
 * (tenant_execute.c), telling what happened (tenant_report.c: status and events), and the
 * deletion half (tenant_teardown.c). Secret values come through reconcilers/secrets.h.
 */
#include "reconcilers/tenant.h"

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
#include "reconcilers/tenant_memo.h"
#include "reconcilers/tenant_round.h"
#include "reconcilers/tenant_status.h"
#include "reconcilers/tls.h"
#include "reconcilers/tls_acme.h"

#define READY_TIMEOUT_MS_DEFAULT 30000
#define READY_POLL_MS            200
#define READY_POLL_FIRST_MS      10
/* A recreated (upgraded) component must still run this long after it started, at most. */
#define SERIAL_SETTLE_MAX_S     2
#define REQUEUE_AFTER_CHANGE_MS 2000

/* ---- entry points ------------------------------------------------------------------------- */

static int is_paused(const json_object *obj)
{
    json_object *v = NULL;

    /* annotation keys hold dots: no dotted-path getter here */
    if (!json_object_object_get_ex(cjson_get(obj, "metadata.annotations"), TENANT_PAUSED_ANNOTATION,
                                   &v))
        return 0;
    return json_object_is_type(v, json_type_string) &&
           strcmp(json_object_get_string(v), "true") == 0;
}

static int is_restore_held(const json_object *obj)
{
    json_object *v = NULL;

    return json_object_object_get_ex(cjson_get(obj, "metadata.annotations"),
                                     TENANT_RESTORE_HOLD_ANNOTATION, &v) &&
           json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0;
}

/* desired_public_ip_fn: ask the round's host (connected first) for its public address. */
static int round_public_ip(void *ctx, const char *host, strbuf *out)
{
    tenant_round *r = ctx;
    tenant_host_round *h = tenant_round_host(r, host);
    omlop_err err = OMLOP_ERR_INIT;

    if (!h || !h->is_reachable || !h->ops || !h->ops->public_ip)
        return OMLOP_ENOTFOUND;
    if (h->ops->public_ip(h->ops_ctx, out, &err) < 0) {
        log_warn("tenant=%s host=%s public IP: %s", r->tenant, host, err.msg);
        return OMLOP_ENOTFOUND;
    }
    return 0;
}

/* Connect to every host of the spec (hosts with no connection stay unreachable). */
/* Connect to each host of hosts (spec.hosts); is_quiet: no event for an unreachable one (a
 * round that may stop early: the full round that follows reports it). */
static void round_connect(tenant_round *r, json_object *hosts, int is_quiet)
{
    size_t n =
        hosts && json_object_is_type(hosts, json_type_array) ? json_object_array_length(hosts) : 0;

    r->hosts = xcalloc(n + 1, sizeof(*r->hosts));
    for (size_t i = 0; i < n; i++) {
        json_object *hs = json_object_array_get_idx(hosts, i);
        tenant_host_round *h = &r->hosts[r->n_hosts];

        h->name = cjson_get_string(hs, "name");
        if (!h->name)
            continue;
        r->n_hosts++;
        tenant_round_host_connect(r->env, &r->sc, r->obj, r->tenant, hs, h);
        if (!h->is_reachable && !is_quiet)
            tenant_round_event(r, EVENT_TYPE_WARNING, h->reason ? h->reason : "HostUnreachable",
                               "%s", h->err.msg);
    }
    if (r->env->host_forget) {
        /* hosts removed from the spec: drop their cached connections */
        const char **keep = xcalloc(r->n_hosts + 1, sizeof(*keep));

        for (size_t i = 0; i < r->n_hosts; i++)
            keep[i] = r->hosts[i].name;
        r->env->host_forget(r->env->host_ctx, r->tenant, keep);
        free(keep);
    }
}

static int round_any_reachable(const tenant_round *r)
{
    for (size_t i = 0; i < r->n_hosts; i++)
        if (r->hosts[i].is_reachable)
            return 1;
    return 0;
}

/* Whether every desired image of dh was found on h (a full check, not assumed). */
static int images_all_present(const tenant_host_round *h, const desired_host *dh)
{
    for (size_t i = 0; dh && i < dh->n_containers; i++) {
        int found = 0;

        for (size_t k = 0; !found && dh->containers[i].image && k < h->n_images; k++)
            found = imageref_equal(h->images[k], dh->containers[i].image);
        if (dh->containers[i].image && !found)
            return 0;
    }
    return 1;
}

/*
 * Observe every reachable host; a listing failure makes the host unreachable this round.
 * Images are checked when is_check_images, or when the memo has no fresh check of the same
 * desired images; a full check that finds them all is remembered.
 */
static void round_observe(tenant_round *r, int is_check_images)
{
    for (size_t i = 0; i < r->n_hosts; i++) {
        tenant_host_round *h = &r->hosts[i];
        const desired_host *dh = desired_host_find(r->ds, h->name);
        char digest[CJSON_HASH_HEX_LEN + 1];
        int check;

        if (!h->is_reachable)
            continue;
        tenant_host_images_digest(dh, digest);
        check =
            is_check_images || !tenant_memo_is_fresh(r->env->memo, r->tenant, h->name,
                                                     TENANT_MEMO_IMAGES, digest, clock_now_ms());
        if (tenant_host_observe(h, r->tenant, dh, check, &h->err) < 0) {
            h->is_reachable = 0;
            tenant_round_event(r, EVENT_TYPE_WARNING, "HostUnreachable", "%s", h->err.msg);
            continue;
        }
        if (!check)
            continue;
        if (images_all_present(h, dh))
            tenant_memo_verified(r->env->memo, r->tenant, h->name, TENANT_MEMO_IMAGES, digest,
                                 clock_now_ms());
        else
            tenant_memo_invalidate(r->env->memo, r->tenant, h->name, TENANT_MEMO_IMAGES);
    }
}

static int round_images_assumed(const tenant_round *r)
{
    for (size_t i = 0; i < r->n_hosts; i++)
        if (r->hosts[i].is_reachable && r->hosts[i].is_images_assumed)
            return 1;
    return 0;
}

/* Render and read every reachable host's files; a host whose files cannot be read fails. */
static void round_files(tenant_round *r)
{
    for (size_t i = 0; i < r->n_hosts; i++) {
        tenant_host_round *h = &r->hosts[i];

        if (!h->is_reachable)
            continue;
        if (tenant_host_files(r, h, desired_host_find(r->ds, h->name), &h->err) < 0) {
            h->is_reachable = 0;
            tenant_round_event(r, EVENT_TYPE_WARNING, "HostUnreachable", "%s", h->err.msg);
        }
    }
}

/* tenant_tcp_visit_fn: check once; ctx counts the components that are not ready. */
static int probe_once(tenant_round *r, tenant_host_round *h, size_t j, void *ctx, omlop_err *err)
{
    const desired_container *c = &desired_host_find(r->ds, h->name)->containers[j];
    omlop_err perr = OMLOP_ERR_INIT;
    strbuf why = STRBUF_INIT;

    (void)err;
    free(h->not_ready[j]);
    if (h->ops->tcp_probe(h->ops_ctx, c->ready.address, c->ready.port, &perr) == 0) {
        h->not_ready[j] = xstrdup("");
        return 0;
    }
    strbuf_addf(&why, "not ready: %s:%d accepts no connection (%s)", c->ready.address,
                c->ready.port, perr.msg);
    h->not_ready[j] = strbuf_detach(&why, NULL);
    (*(size_t *)ctx)++;
    return 0;
}

/* A component due for a TCP check: its host and its index there. */
typedef struct probe_item {
    tenant_host_round *h;
    size_t j;
} probe_item;

typedef struct probe_list {
    probe_item *v;
    size_t n;
} probe_list;

/* tenant_tcp_visit_fn: collect the components to check. */
static int probe_collect(tenant_round *r, tenant_host_round *h, size_t j, void *ctx, omlop_err *err)
{
    probe_list *pl = ctx;

    (void)r;
    (void)err;
    pl->v = xrealloc(pl->v, (pl->n + 1) * sizeof(*pl->v));
    pl->v[pl->n].h = h;
    pl->v[pl->n++].j = j;
    return 0;
}

/*
 * Check the readiness of every running component with a TCP check that has
 * not passed one this round, once (no waiting): the status says which are not
 * ready. Returns how many are not. On a host where the same containers (by id) all passed
 * their checks less than the memo's cadence ago, they are taken as ready without a probe
 * (tenant_memo.h): a container that changed is a new id and is probed at once, and a hung
 * one is found within the cadence.
 */
static size_t round_probe_ready(tenant_round *r)
{
    probe_list pl = {NULL, 0};
    size_t n_failed = 0;

    tenant_round_each_tcp_unconfirmed(r, probe_collect, &pl, NULL);
    for (size_t i = 0; i < r->n_hosts; i++) {
        tenant_host_round *h = &r->hosts[i];
        const desired_host *dh = desired_host_find(r->ds, h->name);
        strbuf text = STRBUF_INIT;
        char digest[CJSON_HASH_HEX_LEN + 1];
        size_t n_here = 0, failed_here = 0;

        for (size_t k = 0; k < pl.n; k++) {
            const live_container *lc;

            if (pl.v[k].h != h)
                continue;
            lc = tenant_host_find(h, dh->containers[pl.v[k].j].name);
            strbuf_addf(&text, "%s %s\n", dh->containers[pl.v[k].j].name,
                        lc && lc->id ? lc->id : "");
            n_here++;
        }
        if (!n_here) {
            strbuf_release(&text);
            continue;
        }
        cjson_sha256_hex(text.buf, text.len, digest);
        strbuf_release(&text);
        if (tenant_memo_is_fresh(r->env->memo, r->tenant, h->name, TENANT_MEMO_READY, digest,
                                 clock_now_ms())) {
            for (size_t k = 0; k < pl.n; k++)
                if (pl.v[k].h == h) {
                    free(h->not_ready[pl.v[k].j]);
                    h->not_ready[pl.v[k].j] = xstrdup("");
                }
            continue;
        }
        for (size_t k = 0; k < pl.n; k++)
            if (pl.v[k].h == h)
                probe_once(r, h, pl.v[k].j, &failed_here, NULL);
        if (failed_here == 0)
            tenant_memo_verified(r->env->memo, r->tenant, h->name, TENANT_MEMO_READY, digest,
                                 clock_now_ms());
        else
            tenant_memo_invalidate(r->env->memo, r->tenant, h->name, TENANT_MEMO_READY);
        n_failed += failed_here;
    }
    free(pl.v);
    return n_failed;
}

/*
 * The certificate reconciler's part of the round (tls.h): which pair the readers get, before the
 * desired state (its digest is in their spec hash). Events for what changed.
 */
static int round_tls(tenant_round *r, omlop_err *err)
{
    tls_options o;
    tls_acme_env acme;
    tls_acme_host *hosts = xcalloc(r->n_hosts + 1, sizeof(*hosts));
    const char *kind;
    json_object *old = tenant_condition_find(cjson_get(r->obj, "status"), TLS_REASON_EXPIRING);
    const char *was = old ? cjson_get_string(old, "status") : NULL;
    tls_result *t = &r->tls;
    char until[32] = "";
    int rc;

    memset(&o, 0, sizeof(o));
    o.now = (int64_t)time(NULL); /* certificates are dated in wall-clock time */
    o.renew_fraction = r->env->tls_renew_fraction;
    o.lifetime_s = r->env->tls_lifetime_s;
    /* mode acme: the reachable hosts answer http-01 (tls_acme.h) */
    memset(&acme, 0, sizeof(acme));
    for (size_t i = 0; i < r->n_hosts; i++)
        if (r->hosts[i].is_reachable && r->hosts[i].pc) {
            hosts[acme.n_hosts].name = r->hosts[i].name;
            hosts[acme.n_hosts].pc = r->hosts[i].pc;
            hosts[acme.n_hosts].ops = r->hosts[i].ops;
            hosts[acme.n_hosts++].ops_ctx = r->hosts[i].ops_ctx;
        }
    acme.hosts = hosts;
    acme.solver_image = r->env->acme_solver_image;
    acme.cancel = r->env->cancel;
    o.acme = &acme;
    rc = tls_resolve(r->env->st, r->obj, &o, t, err);
    free(hosts);
    if (rc < 0)
        return rc;
    r->has_tls = 1;
    kind = strcmp(t->mode, "acme") == 0 ? "an ACME" : "a self-signed";
    if (t->has_info)
        object_time_format((time_t)t->info.not_after, until);
    if (t->issued != TLS_KEEP && t->has_info)
        tenant_round_event(r, EVENT_TYPE_NORMAL,
                           t->issued == TLS_ISSUE_MISSING ? "Issued" : "Renewed",
                           "%s %s certificate (%s) in Secret %s: serial %s, valid until %s",
                           t->issued == TLS_ISSUE_MISSING ? "Issued" : "Renewed", kind,
                           tls_issue_why_text(t->issued), t->secret, t->info.serial, until);
    if (t->fail_reason)
        tenant_round_event(r, EVENT_TYPE_WARNING, TLS_REASON_ISSUE_FAILED, "%s: %s", t->fail_reason,
                           t->fail_msg);
    if (t->is_expiring_soon && (!was || strcmp(was, "True") != 0))
        tenant_round_event(r, EVENT_TYPE_WARNING, TLS_REASON_EXPIRING,
                           "the certificate placed (serial %s) expires at %s, in less than 7 days",
                           t->info.serial, until);
    return 0;
}

/* A Placed event for each host the pair was written to this round. */
static void round_tls_placed(tenant_round *r)
{
    for (size_t i = 0; r->has_tls && r->pl && i < plan_count(r->pl); i++) {
        const plan_action *a = plan_at(r->pl, i);

        if (a->kind == PLAN_WRITE && r->res[i].is_done && a->path &&
            strcmp(a->path, DESIRED_CERT_FILE) == 0)
            tenant_round_event(r, EVENT_TYPE_NORMAL, "Placed",
                               "Placed the certificate (serial %s) on host %s in %s",
                               r->tls.has_info ? r->tls.info.serial : "?", a->host,
                               DESIRED_CERTS_DIR);
    }
}

/*
 * A round that finds what the last converged no-change round found may stop here (issue 11
 * item 5): the same Tenant and Secret revisions, every host reachable, the tenant's containers
 * as they were (tenant_memo.h, TENANT_MEMO_ROUND). That costs the store reads and one listing
 * per host; the rest of a round (desired state, env files, the certificate, the plan, the
 * status) would find nothing new. Layout ha is never skipped: who holds the VIP is observed on
 * each round. *left_ms: when the certificate's next moment comes (0: none).
 */
static int round_is_unchanged(tenant_round *r, int64_t rev, char *const *secret_names,
                              char sig[CJSON_HASH_HEX_LEN + 1], int64_t *left_ms)
{
    omlop_err err = OMLOP_ERR_INIT;
    const char *layout = r->obj ? cjson_get_string(r->obj, "spec.layout") : NULL;

    sig[0] = '\0';
    if (!r->env->memo || (layout && strcmp(layout, "ha") == 0) || r->n_hosts == 0)
        return 0;
    for (size_t i = 0; i < r->n_hosts; i++) {
        tenant_host_round *h = &r->hosts[i];

        if (!h->is_reachable)
            return 0;
        tenant_host_release_live(h);
        if (podman_containers_list(h->pc, NULL, 1, &h->list, &err) < 0)
            return 0; /* the full round reports it */
    }
    if (tenant_round_signature(r, rev, secret_names, sig, &err) < 0) {
        sig[0] = '\0';
        return 0;
    }
    {
        const char **hosts = xcalloc(r->n_hosts, sizeof(*hosts));
        int is_fresh;

        for (size_t i = 0; i < r->n_hosts; i++)
            hosts[i] = r->hosts[i].name;
        is_fresh = tenant_memo_round_fresh(r->env->memo, r->tenant, hosts, r->n_hosts, sig,
                                           clock_now_ms(), left_ms);
        free(hosts);
        return is_fresh;
    }
}

/*
 * The facts a stopped round needs from the Tenant (tenant_memo_round_facts_keep): its hosts'
 * access (spec.hosts) and the Secrets it may read, as JSON text.
 */
static void round_facts(const tenant_round *r, strbuf *out)
{
    json_object *facts = json_object_new_object(), *names = json_object_new_array();
    json_object *hosts = cjson_get(r->obj, "spec.hosts");
    char **v = secrets_referenced(r->obj);

    for (size_t i = 0; v && v[i]; i++)
        json_object_array_add(names, json_object_new_string(v[i]));
    secrets_names_free(v);
    json_object_object_add(facts, "hosts", hosts ? json_object_get(hosts) : NULL);
    json_object_object_add(facts, "secrets", names);
    strbuf_adds(out, json_object_to_json_string_ext(facts, JSON_C_TO_STRING_PLAIN));
    json_object_put(facts);
}

/* Drop what round_connect and a listing left in r (the full round connects afresh). */
static void round_disconnect(tenant_round *r)
{
    for (size_t i = 0; i < r->n_hosts; i++)
        tenant_host_release_live(&r->hosts[i]);
    free(r->hosts);
    r->hosts = NULL;
    r->n_hosts = 0;
}

/*
 * A round that stops before the Tenant is even parsed: the last round that recorded a
 * no-change round (tenant_memo_round_done) kept the facts it needs for this very revision, so
 * the Tenant is as it was then (not deleting, not paused, not ha). Connect, list and compare
 * the signature as round_is_unchanged does. On 0 nothing of it is left in r.
 */
static int round_is_unchanged_fast(tenant_round *r, int64_t rev, char sig[CJSON_HASH_HEX_LEN + 1],
                                   int64_t *left_ms)
{
    strbuf text = STRBUF_INIT;
    json_object *facts = NULL, *jnames;
    char **names = NULL;
    size_t n = 0;
    int is_unchanged = 0;

    if (!tenant_memo_round_facts(r->env->memo, r->tenant, rev, &text) ||
        !(facts = json_tokener_parse(text.buf)) ||
        !json_object_object_get_ex(facts, "secrets", &jnames) ||
        !json_object_is_type(jnames, json_type_array))
        goto out;
    n = json_object_array_length(jnames);
    names = xcalloc(n + 1, sizeof(*names));
    for (size_t i = 0; i < n; i++)
        names[i] = xstrdup(json_object_get_string(json_object_array_get_idx(jnames, i)));
    round_connect(r, cjson_get(facts, "hosts"), 1);
    is_unchanged = round_is_unchanged(r, rev, names, sig, left_ms);
out:
    secrets_names_free(names);
    strbuf_release(&text);
    if (is_unchanged) {
        r->facts = facts; /* the hosts' names point into it */
    } else {
        round_disconnect(r);
        json_object_put(facts);
        sig[0] = '\0';
    }
    return is_unchanged;
}

void tenant_round_release(tenant_round *r)
{
    for (size_t i = 0; i < r->n_hosts; i++) {
        tenant_host_release_live(&r->hosts[i]);
        tenant_host_release_files(&r->hosts[i]);
    }
    free(r->hosts);
    free(r->res);
    plan_free(r->pl);
    ha_round_free(r->ha);
    desired_free(r->ds);
    secrets_ctx_release(&r->sc);
    json_object_put(r->obj);
    json_object_put(r->facts);
    strbuf_release(&r->failed);
    strbuf_release(&r->failure);
    tls_result_release(&r->tls);
}

int tenant_reconcile(const tenant_env *env, const char *name, tenant_result *res, omlop_err *err)
{
    tenant_round r;
    strbuf key = STRBUF_INIT;
    store_kv kv = {0};
    live_host *live = NULL;
    size_t n_live = 0, n_down = 0, n_not_ready = 0;
    omlop_err berr = OMLOP_ERR_INIT;
    desired_options dopts;
    char sig[CJSON_HASH_HEX_LEN + 1] = "";
    char **names;
    int64_t left_ms = 0;
    int rc, is_unchanged;

    memset(&r, 0, sizeof(r));
    memset(res, 0, sizeof(*res));
    r.env = env;
    r.tenant = name;
    r.sc.st = env->st;
    r.sc.tenant = name;
    strbuf_init(&r.failed);
    strbuf_init(&r.failure);
    strbuf_addf(&key, "%s%s", TENANT_KEY_PREFIX, name);
    rc = store_get(env->st, key.buf, &kv, err);
    if (rc == OMLOP_ENOTFOUND) {
        res->is_gone = 1;
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    if (round_is_unchanged_fast(&r, kv.mod_revision, sig, &left_ms)) {
        res->is_converged = 1;
        res->is_unchanged = 1;
        res->requeue_ms = left_ms > 0 ? left_ms : 0;
        goto out;
    }
    if ((rc = obj_from_kv(&kv, &r.obj, err)) < 0)
        goto out;
    if (tenant_is_deleting(r.obj)) {
        rc = tenant_round_finalize(&r, res, err);
        goto out;
    }
    if (is_paused(r.obj)) {
        log_info("tenant=%s paused (annotation %s), not reconciled", name,
                 TENANT_PAUSED_ANNOTATION);
        goto out;
    }
    if (is_restore_held(r.obj)) {
        log_info("tenant=%s held by a restore (annotation %s), not reconciled", name,
                 TENANT_RESTORE_HOLD_ANNOTATION);
        goto out;
    }
    round_connect(&r, cjson_get(r.obj, "spec.hosts"), 0);
    names = secrets_referenced(r.obj);
    is_unchanged = round_is_unchanged(&r, kv.mod_revision, names, sig, &left_ms);
    secrets_names_free(names);
    if (is_unchanged) {
        res->is_converged = 1;
        res->is_unchanged = 1;
        res->requeue_ms = left_ms > 0 ? left_ms : 0;
        goto out;
    }
    /* like the generated Secrets, the pair is made once a host is reached: a tenant no host of
     * which ever was has no finalizer, and nothing would delete its Secret */
    if (round_any_reachable(&r) && (rc = round_tls(&r, err)) < 0)
        goto out;
    memset(&dopts, 0, sizeof(dopts));
    dopts.public_ip = round_public_ip;
    dopts.public_ip_ctx = &r;
    dopts.tls_digest = r.tls.digest[0] ? r.tls.digest : NULL;
    if (desired_build(r.obj, &dopts, &r.ds, &berr) < 0) {
        tenant_round_event(&r, EVENT_TYPE_WARNING, "InvalidSpec",
                           "Tenant %s cannot be converged: %s", name, berr.msg);
        rc = tenant_round_write_status(&r, berr.msg, err);
        /* a fact not learnt yet (a public IP) comes with retries; a bad spec waits for a
         * new spec */
        if (rc == 0 && berr.code == OMLOP_EUNAVAIL)
            rc = omlop_err_set(err, OMLOP_EUNAVAIL, "tenant %s: %s", name, berr.msg);
        goto out;
    }
    if (round_any_reachable(&r) && !tenant_has_finalizer(r.obj)) {
        /* before omlop touches a host: what it may create there, it must be able to remove.
         * A tenant no host of which was ever reached has nothing to tear down, and its
         * deletion must not wait for hosts that may never exist. */
        rc = tenant_finalizer_ensure(env->st, name, cjson_get_string(r.obj, "metadata.uid"), err);
        if (rc < 0)
            goto out;
    }
    round_observe(&r, 0);
    round_files(&r);
    ha_round_observe(&r); /* layout ha: who holds the VIP decides where active-only ones run */
again:
    free(live);
    n_live = n_down = 0;
    live = xcalloc(r.n_hosts + 1, sizeof(*live));
    for (size_t i = 0; i < r.n_hosts; i++) {
        tenant_host_round *h = &r.hosts[i];

        if (!h->is_reachable) {
            n_down++;
            continue;
        }
        live[n_live].host = h->name;
        live[n_live].containers = h->lc;
        live[n_live].n_containers = h->list.n;
        live[n_live].images = (const char *const *)h->images;
        live[n_live].n_images = h->n_images;
        live[n_live].files = h->lf;
        live[n_live].n_files = h->n_files;
        live[n_live].dirs = h->ld;
        live[n_live].n_dirs = h->n_dirs;
        live[n_live].ha = h->ha;
        live[n_live].ha_active = ha_round_active(&r);
        n_live++;
    }
    rc = plan_compute(r.ds, live, n_live, &r.pl, err);
    if (rc < 0)
        goto out;
    if (plan_count(r.pl) > 0 && round_images_assumed(&r)) {
        /* something is to be done: never from an image list the memo assumed */
        plan_free(r.pl);
        r.pl = NULL;
        round_observe(&r, 1);
        goto again;
    }
    /* layout ha: the PostgreSQL roles before the plan too, so a stopped server is rejoined
     * before the plan waits for it to answer (the start order) */
    ha_round_pg(&r);
    r.res = xcalloc(plan_count(r.pl) + 1, sizeof(*r.res));
    if (plan_count(r.pl) > 0) {
        strbuf ptext = STRBUF_INIT;

        plan_format(r.pl, &ptext);
        log_info("tenant=%s actions=%zu plan:\n%s", name, plan_count(r.pl), ptext.buf);
        strbuf_release(&ptext);
        tenant_round_run_plan(&r);
        round_tls_placed(&r);
        round_observe(&r, 1); /* the status reports what runs now, not what we meant to do */
        ha_round_pg(&r);      /* layout ha: again, with the containers the plan started */
    }
    n_not_ready = round_probe_ready(&r);
    rc = tenant_round_write_status(&r, NULL, err);
    if (rc < 0)
        goto out;
    res->is_converged = r.failed.len == 0 && n_down == 0 && r.n_pending == 0 &&
                        (plan_count(r.pl) == 0) && n_not_ready == 0;
    if (r.n_applied > 0 || n_not_ready > 0 || !ha_round_is_settled(&r))
        res->requeue_ms = REQUEUE_AFTER_CHANGE_MS; /* confirm it holds: a crash loop shows;
                                                     ha: look for the VIP and the
                                                     PostgreSQL roles again soon */
    /* the certificate's next moment (renewal, the 7-day warning, expiry), exactly: no polling */
    if (r.tls.has_info) {
        /* from the end of the round, not its start: the round itself took time */
        int64_t ms = tls_requeue_ms(&r.tls.info, r.tls.next_renewal > 0, env->tls_renew_fraction,
                                    tls_wall_now_ms());

        if (ms > 0 && (res->requeue_ms == 0 || ms < res->requeue_ms))
            res->requeue_ms = ms;
    }
    /* acme: a failed order's next attempt, at the back-off's end (never sooner) */
    if (r.tls.retry_ms > 0 && (res->requeue_ms == 0 || r.tls.retry_ms < res->requeue_ms))
        res->requeue_ms = r.tls.retry_ms;
    /* converged with nothing done: the next round may stop at the listing while it starts from
     * the same (the signature taken at this round's start; a status written this round changed
     * the Tenant's revision, so the next round is a full one and records afresh) */
    if (res->is_converged && sig[0] && !r.ha && r.n_applied == 0) {
        int64_t now = clock_now_ms();

        strbuf facts = STRBUF_INIT;

        tenant_memo_round_done(env->memo, name, sig, now,
                               res->requeue_ms > 0 ? now + res->requeue_ms : 0);
        round_facts(&r, &facts);
        tenant_memo_round_facts_keep(env->memo, name, kv.mod_revision, facts.buf);
        strbuf_release(&facts);
    }
    if (r.failed.len)
        rc = omlop_err_set(err, OMLOP_EUNAVAIL, "tenant %s: %s: %s", name, r.failed.buf,
                           r.failure.buf);
    else if (n_down)
        rc = omlop_err_set(err, OMLOP_EUNAVAIL, "tenant %s: %zu host(s) unreachable", name, n_down);
out:
    if (res->is_gone)
        tenant_memo_forget(env->memo, name);
    free(live);
    tenant_round_release(&r);
    store_kv_release(&kv);
    strbuf_release(&key);
    return rc;
}
