/* restore: the Restore reconciler's shell: store reads, status writes, the tenant's hold. */
#include "reconcilers/restore.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "objects/objects.h"
#include "reconcilers/catalog.h"
#include "reconcilers/desired.h"
#include "reconcilers/secrets.h"

#define PG_COMPONENT       "postgresql"
#define ASTERISK_COMPONENT "asterisk"
#define MAX_CONTAINERS     64

/* The components that write the tenant's database (or read it and would see it half there):
 * stopped during a restore. The rest (MinIO, Redis, RabbitMQ, RTPengine, nginx, the
 * exporters, monitoring) do not touch it and keep running. */
static const char *const db_writers[] = {
    "fastagi", "asterisk", "asterisk_retrieve_conf", "kamailio", "astami", "websockets",
    "daphne",  "omlapp",   "interaction_processor",  "omlcron",  NULL};

static int is_db_writer(const char *component)
{
    for (size_t i = 0; db_writers[i]; i++)
        if (strcmp(db_writers[i], component) == 0)
            return 1;
    return 0;
}

static void set_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

/* An annotation's value (keys hold dots: no dotted-path getter), or NULL. */
static const char *annotation(const json_object *obj, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(cjson_get(obj, "metadata.annotations"), key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* ---- writes ------------------------------------------------------------------------------ */

/* Replace the Restore's status (only if it is still the object read: same uid). */
static int status_write(const restore_env *env, const json_object *robj, json_object *status,
                        omlop_err *err)
{
    return obj_status_replace(env->st, "restores", robj, status, err);
}

typedef struct hold_ctx {
    const char *restore; /* set the hold to it; NULL: remove a hold naming release */
    const char *release;
} hold_ctx;

static int hold_mutate(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    hold_ctx *h = ctx;
    json_object *md = cjson_get(next, "metadata"), *ann = cjson_get(next, "metadata.annotations");
    const char *now = annotation(cur, RESTORE_HOLD_ANNOTATION);

    (void)err;
    if (h->restore) {
        if (!ann || !json_object_is_type(ann, json_type_object)) {
            ann = json_object_new_object();
            json_object_object_add(md, "annotations", ann);
        }
        json_object_object_add(ann, RESTORE_HOLD_ANNOTATION, json_object_new_string(h->restore));
    } else if (ann && now && strcmp(now, h->release) == 0) {
        json_object_object_del(ann, RESTORE_HOLD_ANNOTATION);
    }
    return 0;
}

/* Hold the tenant for restore (a round leaves it alone), or (restore NULL) release the hold
 * that release put. */
static int tenant_hold(const restore_env *env, const char *tenant, const char *restore,
                       const char *release, omlop_err *err)
{
    hold_ctx h = {restore, release};
    obj_result res = {0};
    int rc = obj_update(env->st, "tenants", tenant, NULL, hold_mutate, &h, &res, err);

    obj_result_release(&res);
    if (rc == OMLOP_ENOTFOUND && !restore) {
        omlop_err_clear(err);
        rc = 0;
    }
    return rc;
}

static json_object *condition(const char *type, const char *status, const char *message,
                              const char *now)
{
    json_object *c = json_object_new_object();

    set_str(c, "type", type);
    set_str(c, "status", status);
    set_str(c, "reason", "RestoreFailed");
    set_str(c, "message", message);
    set_str(c, "lastTransitionTime", now);
    return c;
}

/* status.phase Degraded; conditions Ready False, Degraded True and Restored False (the
 * others kept), each with the message. The tenant's rounds rewrite them once the hold goes. */
static int degraded_mutate(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    static const char *const mine[] = {"Ready", "Degraded", "Restored"};
    json_object *s = cjson_get(cur, "status");
    json_object *conds = json_object_new_array();
    const json_object *old;
    char now[32];

    (void)err;
    s = s && json_object_is_type(s, json_type_object) ? cjson_copy(s) : json_object_new_object();
    old = cjson_get(s, "conditions");
    object_time_format(time(NULL), now);
    set_str(s, "phase", "Degraded");
    for (size_t i = 0;
         old && json_object_is_type(old, json_type_array) && i < json_object_array_length(old);
         i++) {
        const json_object *o = json_object_array_get_idx(old, i);
        const char *t = cjson_get_string(o, "type");
        int is_mine = 0;

        for (size_t k = 0; t && k < 3; k++)
            is_mine |= strcmp(t, mine[k]) == 0;
        if (!is_mine)
            json_object_array_add(conds, cjson_copy(o));
    }
    json_object_array_add(conds, condition("Ready", "False", ctx, now));
    json_object_array_add(conds, condition("Degraded", "True", ctx, now));
    json_object_array_add(conds, condition("Restored", "False", ctx, now));
    json_object_object_add(s, "conditions", conds);
    json_object_object_add(next, "status", s);
    return 0;
}

/* The tenant is Degraded: its database may be gone; the condition Restored says why. */
static void tenant_degraded(const restore_env *env, const char *tenant, const char *message)
{
    obj_update_opts o = {0};
    obj_result res = {0};
    omlop_err e = OMLOP_ERR_INIT;

    o.is_status = 1;
    if (obj_update(env->st, "tenants", tenant, &o, degraded_mutate, (void *)message, &res, &e) < 0)
        log_warn("tenant=%s writing Degraded failed: %s", tenant, e.msg);
    obj_result_release(&res);
}

static void event(const restore_env *env, const json_object *robj, const char *type,
                  const char *reason, const char *msg)
{
    omlop_err ee = OMLOP_ERR_INIT;

    if (env->ev)
        events_record(env->ev, robj, type, reason, &ee, "%s", msg);
}

static int write_failed(const restore_env *env, const json_object *robj, json_object *s,
                        const char *message, omlop_err *err)
{
    char now[32];
    int rc;

    object_time_format(time(NULL), now);
    set_str(s, "phase", RESTORE_PHASE_FAILED);
    set_str(s, "finishedAt", now);
    set_str(s, "message", message);
    rc = status_write(env, robj, s, err);
    event(env, robj, EVENT_TYPE_WARNING, "RestoreFailed", message);
    log_warn("restore=%s failed: %s", cjson_get_string(robj, "metadata.name"), message);
    return rc;
}

/* Failed before anything was touched (no steps): the status as it was, plus the failure. */
static int fail_early(const restore_env *env, const json_object *robj, const char *retry,
                      const char *message, omlop_err *err)
{
    json_object *s = json_object_new_object();
    int rc;

    json_object_object_add(s, "steps", json_object_new_array());
    if (retry)
        set_str(s, "retry", retry);
    rc = write_failed(env, robj, s, message, err);
    json_object_put(s);
    return rc;
}

/* ---- one restore ------------------------------------------------------------------------- */

typedef struct tenant_ctx {
    const restore_env *env;
    const char *tenant;
    json_object *tobj; /* the Tenant, or NULL */
    secrets_ctx sc;
} tenant_ctx;

/* What the Restore names: the manifest key (source tenant and timestamp) or a plain dump's. */
static int resolve_source(tenant_ctx *t, const json_object *robj, strbuf *manifest,
                          strbuf *object_key, omlop_err *err)
{
    const char *bref = cjson_get_string(robj, "spec.backupRef.name");
    const char *ts = cjson_get_string(robj, "spec.timestamp");
    const char *okey = cjson_get_string(robj, "spec.source.objectKey");
    const char *src_tenant = cjson_get_string(robj, "spec.source.tenant");
    json_object *bobj = NULL;
    int rc = 0;

    if (!!bref + !!ts + !!okey != 1)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "spec: exactly one of backupRef, timestamp and source.objectKey is "
                             "required");
    if (okey) {
        if (okey[0] == '/' || strstr(okey, ".."))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "spec.source.objectKey '%s': a key relative to the destination's "
                                 "prefix (pgsql-backup-NAME.sql), without '..'",
                                 okey);
        strbuf_adds(object_key, okey);
        return 0;
    }
    if (bref) {
        const char *phase;

        if (obj_get(t->env->st, "backups", bref, &bobj, NULL, err) < 0)
            return omlop_err_prefix(err, "spec.backupRef: ");
        phase = cjson_get_string(bobj, "status.phase");
        ts = cjson_get_string(bobj, "status.timestamp");
        src_tenant = cjson_get_string(bobj, "spec.tenantRef.name");
        if (!phase || strcmp(phase, BACKUP_PHASE_COMPLETED) != 0 || !ts || !src_tenant) {
            rc = omlop_err_set(err, OMLOP_EINVAL,
                               "spec.backupRef: Backup %s is %s, not Completed: nothing to "
                               "restore from",
                               bref, phase && *phase ? phase : "not run yet");
            goto out;
        }
    }
    if (!src_tenant)
        src_tenant = t->tenant;
    backup_prefix(src_tenant, ts, manifest);
    strbuf_adds(manifest, "manifest.json");
out:
    json_object_put(bobj);
    return rc;
}

/* The containers of the restore: postgres, asterisk (when asked), the writers in stop order. */
typedef struct plan {
    desired_state *ds;
    const char *pg, *ast;
    const char *pg_host, *ast_host;
    const char *stop[MAX_CONTAINERS];
    const char *stop_host[MAX_CONTAINERS];
    int stop_order[MAX_CONTAINERS];
    size_t n_stop;
} plan;

static int plan_make(tenant_ctx *t, const json_object *robj, plan *p, omlop_err *err)
{
    desired_options dopts;
    const desired_host *h = NULL;
    const desired_container *c;
    const json_object *inc = cjson_get(robj, "spec.includeAsteriskCustom");

    memset(&dopts, 0, sizeof(dopts));
    dopts.allow_unresolved = 1; /* only hosts and containers are read */
    if (desired_build(t->tobj, &dopts, &p->ds, err) < 0)
        return omlop_err_prefix(err, "tenant spec: ");
    if (!(c = backup_find_component(p->ds, PG_COMPONENT, &h)))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "tenant %s runs no %s (an external database is not restored by "
                             "omlop)",
                             t->tenant, PG_COMPONENT);
    p->pg = c->name;
    p->pg_host = h->name;
    if ((!inc || json_object_get_boolean(inc)) &&
        (c = backup_find_component(p->ds, ASTERISK_COMPONENT, &h))) {
        p->ast = c->name;
        p->ast_host = h->name;
    }
    for (size_t i = 0; i < desired_host_count(p->ds); i++) {
        const desired_host *dh = desired_host_at(p->ds, i);

        for (size_t j = 0; j < dh->n_containers; j++) {
            const desired_container *dc = &dh->containers[j];
            size_t k;

            if (!dc->component || !is_db_writer(dc->component->name))
                continue;
            if (p->n_stop == MAX_CONTAINERS)
                return omlop_err_set(err, OMLOP_ELIMIT, "more than %d components to stop",
                                     MAX_CONTAINERS);
            /* insertion by descending start order: the stop order */
            for (k = p->n_stop; k > 0 && p->stop_order[k - 1] < dc->component->order; k--) {
                p->stop[k] = p->stop[k - 1];
                p->stop_host[k] = p->stop_host[k - 1];
                p->stop_order[k] = p->stop_order[k - 1];
            }
            p->stop[k] = dc->name;
            p->stop_host[k] = dh->name;
            p->stop_order[k] = dc->component->order;
            p->n_stop++;
        }
    }
    return 0;
}

/* status.steps: the names of the steps done, in order. */
static json_object *steps_json(unsigned done)
{
    json_object *a = json_object_new_array();

    for (int s = 0; s < RESTORE_STEP_COUNT; s++)
        if (done & (1u << s))
            json_object_array_add(a, json_object_new_string(restore_step_name((restore_step)s)));
    return a;
}

static json_object *verification_json(const restore_outcome *o)
{
    json_object *v = json_object_new_object();

    set_str(v, "result", o->verdict);
    if (o->tables)
        json_object_object_add(v, "tables", json_object_get(o->tables));
    if (o->differ)
        json_object_object_add(v, "differ", json_object_get(o->differ));
    return v;
}

/* The Podman side over the hosts of the plan; arrays in rp's storage. */
typedef struct hosts {
    const char *containers[MAX_CONTAINERS + 2];
    podman_client *clients[MAX_CONTAINERS + 2];
    size_t n;
} hosts;

static int hosts_add(tenant_ctx *t, hosts *hs, const char *container, const char *host,
                     omlop_err *err)
{
    podman_client *pc;

    for (size_t i = 0; i < hs->n; i++)
        if (strcmp(hs->containers[i], container) == 0)
            return 0;
    backup_env be;

    memset(&be, 0, sizeof(be));
    be.st = t->env->st;
    be.host_get = t->env->host_get;
    be.host_ctx = t->env->host_ctx;
    pc = backup_host_connect(&be, &t->sc, t->tenant, t->tobj, host, err);
    if (!pc)
        return omlop_err_prefix(err, "connect: ");
    hs->containers[hs->n] = container;
    hs->clients[hs->n++] = pc;
    return 0;
}

static int run_one(tenant_ctx *t, const json_object *robj, const char *retry, omlop_err *err)
{
    const char *rname = cjson_get_string(robj, "metadata.name");
    const char *uid = cjson_get_string(robj, "metadata.uid");
    strbuf manifest = STRBUF_INIT, okey = STRBUF_INIT, loc = STRBUF_INIT, msg = STRBUF_INIT;
    backup_dest d;
    plan p;
    hosts hs;
    restore_podman rp;
    restore_io io;
    restore_bucket bk;
    restore_job job;
    restore_outcome out;
    json_object *s = NULL;
    omlop_err e = OMLOP_ERR_INIT;
    char now[32];
    int has_bucket = 0, rc;

    memset(&d, 0, sizeof(d));
    memset(&p, 0, sizeof(p));
    memset(&hs, 0, sizeof(hs));
    memset(&out, 0, sizeof(out));
    strbuf_init(&d.access);
    strbuf_init(&d.secret);
    /* everything that can fail without touching the tenant, first */
    if (resolve_source(t, robj, &manifest, &okey, &e) < 0 ||
        backup_dest_from_tenant(t->tobj, &t->sc, &d, &e) < 0 || plan_make(t, robj, &p, &e) < 0)
        goto failed_early;
    rc = t->env->bucket_open ? t->env->bucket_open(t->env->bucket_ctx, &d.cfg, &bk, &e)
                             : restore_bucket_s3_open(NULL, &d.cfg, &bk, &e);
    if (rc < 0) {
        omlop_err_prefix(&e, "destination: ");
        goto failed_early;
    }
    has_bucket = 1;
    if (t->env->io) {
        io = *t->env->io;
    } else {
        if (hosts_add(t, &hs, p.pg, p.pg_host, &e) < 0 ||
            (p.ast && hosts_add(t, &hs, p.ast, p.ast_host, &e) < 0))
            goto failed_early;
        for (size_t i = 0; i < p.n_stop; i++)
            if (hosts_add(t, &hs, p.stop[i], p.stop_host[i], &e) < 0)
                goto failed_early;
        memset(&rp, 0, sizeof(rp));
        rp.containers = hs.containers;
        rp.clients = hs.clients;
        rp.n = hs.n;
        rp.cancel = t->env->cancel;
        restore_io_podman(&rp, &io);
    }

    /* Running, then the hold: from here the tenant's rounds leave it alone */
    bk.location(bk.ctx, manifest.len ? manifest.buf : okey.buf, &loc);
    object_time_format(time(NULL), now);
    s = json_object_new_object();
    set_str(s, "phase", RESTORE_PHASE_RUNNING);
    set_str(s, "startedAt", now);
    set_str(s, "source", loc.buf);
    json_object_object_add(s, "steps", json_object_new_array());
    if (retry)
        set_str(s, "retry", retry);
    if ((rc = status_write(t->env, robj, s, err)) < 0)
        goto out;
    if ((rc = tenant_hold(t->env, t->tenant, rname, NULL, &e)) < 0) {
        omlop_err_prefix(&e, "hold the tenant: ");
        rc = write_failed(t->env, robj, s, e.msg, err);
        goto out;
    }
    strbuf_addf(&msg, "restoring tenant %s from %s", t->tenant, loc.buf);
    event(t->env, robj, EVENT_TYPE_NORMAL, "RestoreStarted", msg.buf);
    log_info("tenant=%s restore=%s started: %s", t->tenant, rname, loc.buf);

    memset(&job, 0, sizeof(job));
    job.tenant = t->tenant;
    job.id = uid && *uid ? uid : rname;
    job.manifest = manifest.len ? manifest.buf : NULL;
    job.object_key = okey.len ? okey.buf : NULL;
    job.pg_container = p.pg;
    job.asterisk_container = p.ast;
    job.stop = p.stop;
    job.n_stop = p.n_stop;
    rc = restore_run(&job, &io, &bk, &out, &e);
    json_object_object_add(s, "steps", steps_json(out.done));
    if (out.verdict)
        json_object_object_add(s, "verification", verification_json(&out));
    if (rc == 0) {
        object_time_format(time(NULL), now);
        set_str(s, "phase", RESTORE_PHASE_SUCCEEDED);
        set_str(s, "finishedAt", now);
        set_str(s, "message", "");
        /* the status first: a hold left by a failed release is lifted by the next call */
        rc = status_write(t->env, robj, s, err);
        if (rc == 0)
            rc = tenant_hold(t->env, t->tenant, NULL, rname, err);
        strbuf_reset(&msg);
        strbuf_addf(&msg, "tenant %s restored from %s; verification %s", t->tenant, loc.buf,
                    out.verdict);
        event(t->env, robj, EVENT_TYPE_NORMAL, "Restored", msg.buf);
        log_info("tenant=%s restore=%s succeeded", t->tenant, rname);
        goto out;
    }
    set_str(s, "failedStep", restore_step_name(out.failed));
    strbuf_reset(&msg);
    if (out.is_after_drop && out.failed != RESTORE_STEP_VERIFY) {
        /* the database may be gone: the tenant stays held (nothing restarts on an empty
         * database) and Degraded until a retry or a person lifts the hold */
        strbuf_addf(&msg,
                    "%s (the database was dropped: tenant %s held by annotation %s and "
                    "Degraded; annotate the Restore %s=<new value> to retry)",
                    e.msg, t->tenant, RESTORE_HOLD_ANNOTATION, RESTORE_RETRY_ANNOTATION);
        tenant_degraded(t->env, t->tenant, msg.buf);
    } else {
        strbuf_addf(&msg, "%s%s", e.msg,
                    out.is_after_drop ? "" : " (nothing was changed: the tenant runs as before)");
        if (tenant_hold(t->env, t->tenant, NULL, rname, err) < 0)
            log_warn("tenant=%s releasing the hold failed: %s", t->tenant, err->msg);
        omlop_err_clear(err);
    }
    rc = write_failed(t->env, robj, s, msg.buf, err);
    goto out;
failed_early:
    rc = fail_early(t->env, robj, retry, e.msg, err);
out:
    if (has_bucket) {
        if (t->env->bucket_close)
            t->env->bucket_close(t->env->bucket_ctx, &bk);
        else
            restore_bucket_s3_close(NULL, &bk);
    }
    restore_outcome_release(&out);
    json_object_put(s);
    desired_free(p.ds);
    backup_dest_release(&d);
    strbuf_release(&manifest);
    strbuf_release(&okey);
    strbuf_release(&loc);
    strbuf_release(&msg);
    return rc;
}

/* Running at the start of a call: omlopd stopped in the middle. */
static int interrupted(tenant_ctx *t, const json_object *robj, omlop_err *err)
{
    const char *rname = cjson_get_string(robj, "metadata.name");
    const json_object *steps = cjson_get(robj, "status.steps");
    json_object *s = cjson_copy(cjson_get(robj, "status"));
    strbuf msg = STRBUF_INIT;
    size_t n =
        steps && json_object_is_type(steps, json_type_array) ? json_object_array_length(steps) : 0;
    int rc;

    const char *hold = annotation(t->tobj, RESTORE_HOLD_ANNOTATION);

    /* the steps are written only at the end: a Running restore may have dropped the database */
    strbuf_addf(&msg,
                "interrupted: omlopd stopped during the restore (%zu step(s) recorded); the "
                "database may be half restored: tenant %s is Degraded%s; annotate the Restore "
                "%s=<new value> to retry",
                n, t->tenant,
                hold && rname && strcmp(hold, rname) == 0
                    ? " and stays held (annotation " RESTORE_HOLD_ANNOTATION ")"
                    : "",
                RESTORE_RETRY_ANNOTATION);
    if (!s || !json_object_is_type(s, json_type_object)) {
        json_object_put(s);
        s = json_object_new_object();
    }
    set_str(s, "failedStep", "interrupted");
    if (t->tobj)
        tenant_degraded(t->env, t->tenant, msg.buf);
    rc = write_failed(t->env, robj, s, msg.buf, err);
    log_warn("tenant=%s restore=%s interrupted", t->tenant, rname);
    json_object_put(s);
    strbuf_release(&msg);
    return rc;
}

/* ---- the entry point --------------------------------------------------------------------- */

int restore_reconcile_tenant(const restore_env *env, const char *tenant, int is_tenant_ready,
                             omlop_err *err)
{
    json_object **objs = NULL;
    tenant_ctx t;
    const char *hold = NULL;
    size_t n = 0;
    int rc;

    memset(&t, 0, sizeof(t));
    t.env = env;
    t.tenant = tenant;
    t.sc.st = env->st;
    t.sc.tenant = tenant;
    if ((rc = backup_objects_of_tenant(env->st, RESTORE_KEY_PREFIX, tenant, &objs, &n, err)) < 0)
        return rc;
    if (n == 0)
        goto out;
    if (obj_get(env->st, "tenants", tenant, &t.tobj, NULL, err) < 0) {
        if (err->code != OMLOP_ENOTFOUND) {
            rc = err->code;
            goto out;
        }
        omlop_err_clear(err);
        t.tobj = NULL;
    }
    hold = annotation(t.tobj, RESTORE_HOLD_ANNOTATION);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *rname = cjson_get_string(objs[i], "metadata.name");
        const char *phase = cjson_get_string(objs[i], "status.phase");
        const char *retry = annotation(objs[i], RESTORE_RETRY_ANNOTATION);
        json_object *s;
        char msg[OMLOP_ERR_MSG_MAX];
        int is_mine = hold && rname && strcmp(hold, rname) == 0;

        if (env->cancel && atomic_load(env->cancel))
            break;
        if (cjson_get(objs[i], "metadata.deletionTimestamp"))
            continue;
        if (is_mine && phase && strcmp(phase, RESTORE_PHASE_SUCCEEDED) == 0) {
            /* succeeded, but the call that lifts the hold did not get to it */
            rc = tenant_hold(env, tenant, NULL, rname, err);
            continue;
        }
        switch (restore_decide(phase, retry, cjson_get_string(objs[i], "status.retry"),
                               t.tobj != NULL, is_tenant_ready && !hold, is_mine)) {
        case RESTORE_ACT_NONE:
            break;
        case RESTORE_ACT_WAIT:
            if (phase && *phase)
                break;
            s = json_object_new_object();
            set_str(s, "phase", RESTORE_PHASE_PENDING);
            snprintf(msg, sizeof(msg), "waiting for tenant %s to be Ready", tenant);
            set_str(s, "message", msg);
            rc = status_write(env, objs[i], s, err);
            json_object_put(s);
            break;
        case RESTORE_ACT_FAIL_NOTENANT:
            snprintf(msg, sizeof(msg), "tenant %s not found", tenant);
            rc = fail_early(env, objs[i], retry, msg, err);
            break;
        case RESTORE_ACT_INTERRUPTED:
            rc = interrupted(&t, objs[i], err);
            break;
        case RESTORE_ACT_RUN:
            /* the request acted on is recorded (status.retry): it is not acted on again */
            rc = run_one(&t, objs[i], retry, err);
            /* one restore per call: the next waits for the tenant's round after it */
            goto out;
        }
    }
out:
    backup_objects_free(objs, n);
    secrets_ctx_release(&t.sc);
    json_object_put(t.tobj);
    return rc;
}

int restore_tenant_of(const char *value, size_t len, char *out, size_t cap)
{
    return backup_tenant_of(value, len, out, cap);
}
