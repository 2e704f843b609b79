/* backup: the Backup reconciler's shell: store reads, status writes, destinations, hosts. */
#include "reconcilers/backup.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
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
#include "reconcilers/tenant_round.h"

#define PG_COMPONENT       "postgresql"
#define ASTERISK_COMPONENT "asterisk"

int backup_tenant_of(const char *value, size_t len, char *out, size_t cap)
{
    json_object *o = value ? json_tokener_parse(value) : NULL;
    const char *t = cjson_get_string(o, "spec.tenantRef.name");
    int rc = t && strlen(t) < cap ? 0 : OMLOP_EINVAL;

    (void)len;
    if (rc == 0)
        snprintf(out, cap, "%s", t);
    json_object_put(o);
    return rc;
}

/* ---- status ------------------------------------------------------------------------------ */

/* Replace the Backup's status (only if it is still the object read: same uid). */
static int status_write(const backup_env *env, const json_object *bobj, json_object *status,
                        omlop_err *err)
{
    return obj_status_replace(env->st, "backups", bobj, status, err);
}

/* The status as read, copied (or a new object), for a change of some fields. */
static json_object *status_copy(const json_object *bobj)
{
    json_object *s = cjson_get(bobj, "status");

    return s && json_object_is_type(s, json_type_object) ? cjson_copy(s) : json_object_new_object();
}

static void set_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static void now_rfc3339(char out[32])
{
    object_time_format(time(NULL), out);
}

static int write_failed(const backup_env *env, const json_object *bobj, const char *message,
                        omlop_err *err)
{
    json_object *s = status_copy(bobj);
    char now[32];
    int rc;

    now_rfc3339(now);
    set_str(s, "phase", BACKUP_PHASE_FAILED);
    if (!cjson_get(s, "finishedAt"))
        set_str(s, "finishedAt", now);
    set_str(s, "message", message);
    rc = status_write(env, bobj, s, err);
    json_object_put(s);
    if (env->ev) {
        omlop_err ee = OMLOP_ERR_INIT;

        events_record(env->ev, bobj, EVENT_TYPE_WARNING, "BackupFailed", &ee, "%s", message);
    }
    log_warn("backup=%s failed: %s", cjson_get_string(bobj, "metadata.name"), message);
    return rc;
}

/* ---- the destination --------------------------------------------------------------------- */

typedef backup_dest dest;

void backup_dest_release(backup_dest *d)
{
    if (d->secret.buf)
        OPENSSL_cleanse(d->secret.buf, d->secret.len);
    strbuf_release(&d->secret);
    strbuf_release(&d->access);
}

int backup_dest_from_tenant(const json_object *tenant, secrets_ctx *sc, backup_dest *d,
                            omlop_err *err)
{
    const char *name = cjson_get_string(tenant, "metadata.name");
    const json_object *bd = cjson_get(tenant, "spec.backup.destination");
    const json_object *os = cjson_get(tenant, "spec.objectStorage");
    const char *url = cjson_get_string(bd, "bucketURL");
    const json_object *src = bd;
    const char *field = "spec.backup.destination";
    const char *secret;
    char gen[128];
    int rc;

    memset(d, 0, sizeof(*d));
    strbuf_init(&d->access);
    strbuf_init(&d->secret);
    if (!url || !*url) {
        src = os;
        field = "spec.objectStorage";
        url = cjson_get_string(os, "bucketURL");
    }
    if (!url || !*url)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "destination: tenant %s has no bucketURL (spec.objectStorage or "
                             "spec.backup.destination): omlopd cannot reach an in-tenant MinIO",
                             name);
    d->cfg.endpoint = url;
    d->cfg.bucket = cjson_get_string(src, "bucketName");
    if (!d->cfg.bucket && src == bd)
        d->cfg.bucket = cjson_get_string(os, "bucketName");
    if (!d->cfg.bucket)
        d->cfg.bucket = "omnileads";
    d->cfg.region = cjson_get_string(src, "region");
    d->cfg.prefix = src == bd ? cjson_get_string(bd, "prefix") : NULL;
    if (!d->cfg.prefix)
        d->cfg.prefix = "backup/";
    d->cfg.path_style = 1;
    d->cfg.insecure_skip_verify = json_object_get_boolean(cjson_get(os, "insecureSkipTLSVerify"));
    secret = cjson_get_string(src, "credentialsSecretRef.name");
    if (!secret) {
        snprintf(gen, sizeof(gen), "%s%s", name, DESIRED_SECRET_OBJECTSTORAGE);
        secret = gen;
    }
    if ((rc = secrets_lookup(sc, secret, "accessKey", &d->access, err)) < 0 ||
        (rc = secrets_lookup(sc, secret, "secretKey", &d->secret, err)) < 0)
        return omlop_err_prefix(err, "destination (%s): ", field);
    d->cfg.access_key = d->access.buf;
    d->cfg.secret_key = d->secret.buf;
    return 0;
}

/* ---- one tenant's context: destination, hosts, containers --------------------------------- */

typedef struct tenant_ctx {
    const backup_env *env;
    const char *tenant;
    json_object *tobj; /* the Tenant, or NULL */
    secrets_ctx sc;
    dest d;
    int has_dest;
    omlop_err dest_err;
    backup_bucket bk;
    int has_bucket;
} tenant_ctx;

static int bucket_open(tenant_ctx *t, omlop_err *err)
{
    int rc;

    if (t->has_bucket)
        return 0;
    if (!t->has_dest) {
        *err = t->dest_err;
        return err->code ? err->code : OMLOP_EINVAL;
    }
    rc = t->env->bucket_open ? t->env->bucket_open(t->env->bucket_ctx, &t->d.cfg, &t->bk, err)
                             : backup_bucket_s3_open(NULL, &t->d.cfg, &t->bk, err);
    if (rc == 0)
        t->has_bucket = 1;
    else
        omlop_err_prefix(err, "destination: ");
    return rc;
}

static void tenant_ctx_release(tenant_ctx *t)
{
    if (t->has_bucket) {
        if (t->env->bucket_close)
            t->env->bucket_close(t->env->bucket_ctx, &t->bk);
        else
            backup_bucket_s3_close(NULL, &t->bk);
    }
    backup_dest_release(&t->d);
    secrets_ctx_release(&t->sc);
    json_object_put(t->tobj);
}

/* The spec.hosts[] entry named host. */
static const json_object *host_spec(const json_object *tenant, const char *host)
{
    const json_object *hosts = cjson_get(tenant, "spec.hosts");
    size_t n =
        hosts && json_object_is_type(hosts, json_type_array) ? json_object_array_length(hosts) : 0;

    for (size_t i = 0; i < n; i++) {
        const json_object *h = json_object_array_get_idx(hosts, i);
        const char *nm = cjson_get_string(h, "name");

        if (nm && strcmp(nm, host) == 0)
            return h;
    }
    return NULL;
}

const desired_container *backup_find_component(const desired_state *ds, const char *component,
                                               const desired_host **host)
{
    for (size_t i = 0; i < desired_host_count(ds); i++) {
        const desired_host *h = desired_host_at(ds, i);

        for (size_t j = 0; j < h->n_containers; j++)
            if (h->containers[j].component &&
                strcmp(h->containers[j].component->name, component) == 0) {
                *host = h;
                return &h->containers[j];
            }
    }
    return NULL;
}

podman_client *backup_host_connect(const backup_env *env, secrets_ctx *sc, const char *tenant,
                                   const json_object *tobj, const char *host, omlop_err *err)
{
    tenant_env te;
    tenant_host_round h;
    const json_object *hs = host_spec(tobj, host);

    if (!hs) {
        omlop_err_set(err, OMLOP_EINVAL, "host %s is not in the tenant's spec.hosts", host);
        return NULL;
    }
    memset(&te, 0, sizeof(te));
    te.st = env->st;
    te.host_get = env->host_get;
    te.host_ctx = env->host_ctx;
    memset(&h, 0, sizeof(h));
    h.name = host;
    tenant_round_host_connect(&te, sc, tobj, tenant, hs, &h);
    if (!h.is_reachable) {
        *err = h.err;
        if (!err->code)
            omlop_err_set(err, OMLOP_EUNAVAIL, "host %s unreachable", host);
        return NULL;
    }
    return h.pc;
}

/* ---- the actions ------------------------------------------------------------------------- */

static void interrupted(tenant_ctx *t, const json_object *bobj, omlop_err *err)
{
    const char *ts = cjson_get_string(bobj, "status.timestamp");
    strbuf prefix = STRBUF_INIT, msg = STRBUF_INIT;
    omlop_err e = OMLOP_ERR_INIT;

    strbuf_adds(&msg, "interrupted: omlopd stopped during the backup");
    if (ts && bucket_open(t, &e) == 0) {
        size_t na = 0, nd = 0;

        backup_prefix(t->tenant, ts, &prefix);
        if (t->bk.abort_pending(t->bk.ctx, prefix.buf, &na, &e) < 0 ||
            t->bk.delete_prefix(t->bk.ctx, prefix.buf, &nd, &e) < 0)
            strbuf_addf(&msg, "; cleaning up its objects failed: %s", e.msg);
        else
            strbuf_addf(&msg, "; %zu pending upload(s) aborted, %zu object(s) deleted", na, nd);
    } else if (ts) {
        strbuf_addf(&msg, "; its objects were not cleaned up: %s", e.msg);
    }
    write_failed(t->env, bobj, msg.buf, err);
    strbuf_release(&prefix);
    strbuf_release(&msg);
}

/* The images of every component of ds: {"component": "image"}. */
static json_object *images_of(const desired_state *ds)
{
    json_object *o = json_object_new_object();

    for (size_t i = 0; i < desired_host_count(ds); i++) {
        const desired_host *h = desired_host_at(ds, i);

        for (size_t j = 0; j < h->n_containers; j++)
            if (h->containers[j].component)
                json_object_object_add(o, h->containers[j].component->name,
                                       json_object_new_string(h->containers[j].image));
    }
    return o;
}

/* A timestamp id not taken by another Backup of the tenant (two within a second). */
static void pick_timestamp(const char *const *taken, size_t n, char out[32])
{
    long long ts = (long long)time(NULL);

    for (int again = 1; again;) {
        again = 0;
        snprintf(out, 32, "%lld", ts);
        for (size_t i = 0; i < n; i++)
            if (taken[i] && strcmp(taken[i], out) == 0) {
                ts++;
                again = 1;
            }
    }
}

static json_object *parts_json(tenant_ctx *t, const backup_outcome *o, uint64_t *total)
{
    json_object *a = json_object_new_array();
    strbuf loc = STRBUF_INIT;

    *total = 0;
    for (size_t i = 0; i < o->n_parts; i++) {
        json_object *p = json_object_new_object();

        strbuf_reset(&loc);
        t->bk.location(t->bk.ctx, o->parts[i].key, &loc);
        set_str(p, "name", o->parts[i].name);
        set_str(p, "location", loc.buf);
        json_object_object_add(p, "sizeBytes", json_object_new_int64((int64_t)o->parts[i].size));
        set_str(p, "sha256", o->parts[i].sha256);
        json_object_array_add(a, p);
        *total += o->parts[i].size;
    }
    strbuf_release(&loc);
    return a;
}

static int run_one(tenant_ctx *t, const json_object *bobj, const char *const *taken, size_t n_taken,
                   omlop_err *err)
{
    const char *bname = cjson_get_string(bobj, "metadata.name");
    desired_state *ds = NULL;
    desired_options dopts;
    const desired_host *pg_host = NULL, *ast_host = NULL;
    const desired_container *pg, *ast = NULL;
    backup_podman bp_pg, bp_ast;
    backup_io io_pg, io_ast;
    backup_job job;
    backup_outcome out;
    json_object *images = NULL, *s = NULL;
    strbuf prefix = STRBUF_INIT, loc = STRBUF_INIT;
    omlop_err e = OMLOP_ERR_INIT;
    char ts[32], started[32];
    uint64_t total = 0;
    int rc;

    memset(&dopts, 0, sizeof(dopts));
    dopts.allow_unresolved = 1; /* only hosts and containers are read */
    if (desired_build(t->tobj, &dopts, &ds, &e) < 0) {
        omlop_err_prefix(&e, "tenant spec: ");
        goto failed_early;
    }
    pg = backup_find_component(ds, PG_COMPONENT, &pg_host);
    if (!pg) {
        omlop_err_set(&e, OMLOP_EINVAL,
                      "tenant %s runs no %s (an external database is not "
                      "backed up by omlop)",
                      t->tenant, PG_COMPONENT);
        goto failed_early;
    }
    if (json_object_get_boolean(cjson_get(bobj, "spec.includeAsteriskCustom")) ||
        !cjson_get(bobj, "spec.includeAsteriskCustom"))
        ast = backup_find_component(ds, ASTERISK_COMPONENT, &ast_host);
    if (bucket_open(t, &e) < 0)
        goto failed_early;
    if (t->env->io) {
        io_pg = *t->env->io;
        io_ast = *t->env->io;
    } else {
        bp_pg.pc = backup_host_connect(t->env, &t->sc, t->tenant, t->tobj, pg_host->name, &e);
        bp_pg.cancel = t->env->cancel;
        if (!bp_pg.pc) {
            omlop_err_prefix(&e, "connect: ");
            goto failed_early;
        }
        backup_io_podman(&bp_pg, &io_pg);
        io_ast = io_pg;
        if (ast && strcmp(ast_host->name, pg_host->name) != 0) {
            bp_ast.pc = backup_host_connect(t->env, &t->sc, t->tenant, t->tobj, ast_host->name, &e);
            bp_ast.cancel = t->env->cancel;
            if (!bp_ast.pc) {
                omlop_err_prefix(&e, "connect: ");
                goto failed_early;
            }
            backup_io_podman(&bp_ast, &io_ast);
        }
    }

    /* Running, with the id, before the first byte goes out: a restart finds the prefix */
    pick_timestamp(taken, n_taken, ts);
    now_rfc3339(started);
    backup_prefix(t->tenant, ts, &prefix);
    t->bk.location(t->bk.ctx, prefix.buf, &loc);
    s = json_object_new_object();
    set_str(s, "phase", BACKUP_PHASE_RUNNING);
    set_str(s, "timestamp", ts);
    set_str(s, "startedAt", started);
    set_str(s, "location", loc.buf);
    if ((rc = status_write(t->env, bobj, s, err)) < 0)
        goto out;
    log_info("tenant=%s backup=%s started: %s", t->tenant, bname, loc.buf);

    images = images_of(ds);
    memset(&job, 0, sizeof(job));
    job.tenant = t->tenant;
    job.backup = bname;
    job.timestamp = ts;
    job.tenant_generation = cjson_get_int(t->tobj, "metadata.generation", 0);
    job.pg_container = pg->name;
    job.asterisk_container = ast ? ast->name : NULL;
    job.asterisk_io = ast ? &io_ast : NULL;
    job.images = images;
    job.started_at = started;
    if (backup_run(&job, &io_pg, &t->bk, &out, &e) < 0) {
        /* re-read: the Running status we wrote is what the Failed one replaces */
        json_object *fresh = NULL;

        if (obj_get(t->env->st, "backups", bname, &fresh, NULL, err) == 0) {
            rc = write_failed(t->env, fresh, e.msg, err);
            json_object_put(fresh);
        } else {
            rc = 0;
            omlop_err_clear(err);
        }
        goto out;
    }
    json_object_object_add(s, "parts", parts_json(t, &out, &total));
    strbuf_reset(&loc);
    t->bk.location(t->bk.ctx, out.manifest_key, &loc);
    json_object_object_add(s, "manifest", json_object_new_object());
    set_str(cjson_get(s, "manifest"), "location", loc.buf);
    set_str(cjson_get(s, "manifest"), "sha256", out.manifest_sha256);
    json_object_object_add(s, "sizeBytes", json_object_new_int64((int64_t)total));
    set_str(s, "phase", BACKUP_PHASE_COMPLETED);
    set_str(s, "finishedAt", out.finished_at);
    set_str(s, "message", "");
    rc = status_write(t->env, bobj, s, err);
    if (rc == 0 && t->env->ev) {
        omlop_err ee = OMLOP_ERR_INIT;

        events_record(t->env->ev, bobj, EVENT_TYPE_NORMAL, "BackupCompleted", &ee,
                      "%zu part(s), %llu bytes, at %s", out.n_parts, (unsigned long long)total,
                      loc.buf);
    }
    log_info("tenant=%s backup=%s completed: %zu part(s), %llu bytes", t->tenant, bname,
             out.n_parts, (unsigned long long)total);
    goto out;
failed_early:
    rc = write_failed(t->env, bobj, e.msg, err);
out:
    json_object_put(s);
    json_object_put(images);
    desired_free(ds);
    strbuf_release(&prefix);
    strbuf_release(&loc);
    return rc;
}

int backup_purge(const backup_env *env, const json_object *tobj, const char *timestamp, size_t *n,
                 omlop_err *err)
{
    tenant_ctx t;
    strbuf prefix = STRBUF_INIT;
    size_t na = 0;
    int rc;

    *n = 0;
    memset(&t, 0, sizeof(t));
    t.env = env;
    t.tenant = cjson_get_string(tobj, "metadata.name");
    t.sc.st = env->st;
    t.sc.tenant = t.tenant;
    if ((rc = backup_dest_from_tenant(tobj, &t.sc, &t.d, err)) < 0)
        goto out;
    t.has_dest = 1;
    if ((rc = bucket_open(&t, err)) < 0)
        goto out;
    backup_prefix(t.tenant, timestamp, &prefix);
    if ((rc = t.bk.abort_pending(t.bk.ctx, prefix.buf, &na, err)) == 0)
        rc = t.bk.delete_prefix(t.bk.ctx, prefix.buf, n, err);
out:
    strbuf_release(&prefix);
    t.tobj = NULL; /* borrowed */
    tenant_ctx_release(&t);
    return rc;
}

int backup_objects_of_tenant(store *st, const char *prefix, const char *tenant, json_object ***objs,
                             size_t *n, omlop_err *err)
{
    store_list_opts lo = {0};
    store_list_result lr;
    int rc;

    *objs = NULL;
    *n = 0;
    memset(&lr, 0, sizeof(lr));
    lo.prefix = prefix;
    if ((rc = store_list(st, &lo, &lr, err)) < 0)
        return rc;
    *objs = xcalloc(lr.items.n + 1, sizeof(**objs));
    for (size_t i = 0; i < lr.items.n; i++) {
        json_object *o = NULL;
        const char *tn;

        if (obj_from_kv(&lr.items.items[i], &o, NULL) < 0)
            continue;
        tn = cjson_get_string(o, "spec.tenantRef.name");
        if (tn && strcmp(tn, tenant) == 0)
            (*objs)[(*n)++] = o;
        else
            json_object_put(o);
    }
    store_list_result_release(&lr);
    return 0;
}

void backup_objects_free(json_object **objs, size_t n)
{
    for (size_t i = 0; objs && i < n; i++)
        json_object_put(objs[i]);
    free(objs);
}

/* ---- the entry point --------------------------------------------------------------------- */

int backup_reconcile_tenant(const backup_env *env, const char *tenant, int is_tenant_ready,
                            omlop_err *err)
{
    json_object **objs = NULL;
    const char **taken = NULL;
    tenant_ctx t;
    size_t n = 0;
    int rc;

    memset(&t, 0, sizeof(t));
    t.env = env;
    t.tenant = tenant;
    t.sc.st = env->st;
    t.sc.tenant = tenant;
    if ((rc = backup_objects_of_tenant(env->st, BACKUP_KEY_PREFIX, tenant, &objs, &n, err)) < 0)
        return rc;
    taken = xcalloc(n + 1, sizeof(*taken));
    for (size_t i = 0; i < n; i++)
        taken[i] = cjson_get_string(objs[i], "status.timestamp");
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
    omlop_err_clear(&t.dest_err);
    if (t.tobj)
        t.has_dest = backup_dest_from_tenant(t.tobj, &t.sc, &t.d, &t.dest_err) == 0;
    else
        omlop_err_set(&t.dest_err, OMLOP_ENOTFOUND, "tenant %s not found: no destination", tenant);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *phase = cjson_get_string(objs[i], "status.phase");
        json_object *s;
        char msg[OMLOP_ERR_MSG_MAX];

        if (env->cancel && atomic_load(env->cancel))
            break;
        if (cjson_get(objs[i], "metadata.deletionTimestamp"))
            continue;
        switch (backup_decide(phase, t.tobj != NULL, is_tenant_ready)) {
        case BACKUP_ACT_NONE:
            break;
        case BACKUP_ACT_WAIT:
            if (phase && *phase)
                break;
            s = json_object_new_object();
            set_str(s, "phase", BACKUP_PHASE_PENDING);
            snprintf(msg, sizeof(msg), "waiting for tenant %s to be Ready", tenant);
            set_str(s, "message", msg);
            rc = status_write(env, objs[i], s, err);
            json_object_put(s);
            break;
        case BACKUP_ACT_FAIL_NOTENANT:
            snprintf(msg, sizeof(msg), "tenant %s not found", tenant);
            rc = write_failed(env, objs[i], msg, err);
            break;
        case BACKUP_ACT_INTERRUPTED:
            interrupted(&t, objs[i], err);
            rc = err->code;
            break;
        case BACKUP_ACT_RUN:
            rc = run_one(&t, objs[i], taken, n, err);
            break;
        }
    }
out:
    backup_objects_free(objs, n);
    free(taken);
    tenant_ctx_release(&t);
    return rc;
}
