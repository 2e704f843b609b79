/* backup_schedule: scheduled Backups and retention (see backup_schedule.h). */
#include "reconcilers/backup_schedule.h"

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
#include "reconcilers/desired.h"

/* Missed fires are looked for from this far back first (hourly, daily, weekly schedules). */
#define MISSED_WINDOW_S (8 * 86400)
/* Bounds the walk over missed fires (a minutely schedule down for a year is 525,600). */
#define MISSED_WALK_MAX 20000

/* ---- the pure decisions ------------------------------------------------------------------ */

int backup_schedule_decide(const cron_expr *e, const tz *z, int64_t last, int64_t now,
                           backup_schedule_plan *out, omlop_err *err)
{
    int64_t s, n = 0, from;
    int rc, i;

    memset(out, 0, sizeof(*out));
    if ((rc = cron_next(e, z, last, &s, err)) < 0)
        return rc;
    if (s > now) {
        out->next = s;
        return 0;
    }
    /* missed (or just come): the latest fire <= now, walked from a recent point when the
     * schedule is dense, from the first missed one when it is sparse */
    from = now - MISSED_WINDOW_S > last ? now - MISSED_WINDOW_S : last;
    if ((rc = cron_next(e, z, from, &n, err)) < 0)
        return rc;
    if (n <= now)
        s = n;
    for (i = 0; i < MISSED_WALK_MAX; i++) {
        if ((rc = cron_next(e, z, s, &n, err)) < 0)
            return rc;
        if (n > now)
            break;
        s = n;
    }
    out->is_due = 1;
    out->slot = s;
    out->next = n > now ? n : now + 60;
    return 0;
}

void backup_schedule_name(const char *tenant, const tz *z, int64_t slot, char *out, size_t cap)
{
    int64_t local = slot + tz_offset_at(z, slot), days = local / 86400, y;
    int64_t sod = local - days * 86400;
    int m, d;

    if (sod < 0) {
        days--;
        sod += 86400;
    }
    tz_civil_from_days(days, &y, &m, &d);
    snprintf(out, cap, "%s-%04lld%02d%02d-%02d%02d", tenant, (long long)y, m, d, (int)(sod / 3600),
             (int)(sod % 3600 / 60));
}

static int phase_is(const backup_item *b, const char *phase)
{
    return b->phase && strcmp(b->phase, phase) == 0;
}

/* 1 when a is newer than b (later fire time; the name breaks ties). */
static int is_newer(const backup_item *a, const backup_item *b)
{
    return a->at != b->at ? a->at > b->at : strcmp(a->name, b->name) > 0;
}

size_t backup_retention_decide(const backup_item *items, size_t n, int retention, size_t *del)
{
    size_t *order = xcalloc(n + 1, sizeof(*order)), n_sched = 0, n_del = 0;
    int completed = 0, failed = 0, is_full = 0;

    for (size_t i = 0; i < n; i++)
        if (items[i].is_scheduled)
            order[n_sched++] = i;
    for (size_t i = 1; i < n_sched; i++) /* insertion sort, newest first */
        for (size_t j = i; j > 0 && is_newer(&items[order[j]], &items[order[j - 1]]); j--) {
            size_t t = order[j];

            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t k = 0; k < n_sched; k++) {
        const backup_item *b = &items[order[k]];

        if (phase_is(b, BACKUP_PHASE_COMPLETED)) {
            if (is_full)
                del[n_del++] = order[k];
            else if (++completed == retention)
                is_full = 1; /* everything older than this one goes */
        } else if (phase_is(b, BACKUP_PHASE_FAILED)) {
            if (is_full || ++failed > retention)
                del[n_del++] = order[k];
        }
    }
    free(order);
    return n_del;
}

/* ---- reading the tenant's Backups -------------------------------------------------------- */

static const char *label_of(const json_object *o, const char *key)
{
    json_object *v = json_object_object_get(cjson_get(o, "metadata.labels"), key);

    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static const char *annotation_of(const json_object *o, const char *key)
{
    json_object *v = json_object_object_get(cjson_get(o, "metadata.annotations"), key);

    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int is_scheduled(const json_object *b)
{
    const char *v = label_of(b, BACKUP_LABEL_SCHEDULED);

    return v && strcmp(v, "true") == 0;
}

/* The fire time of a scheduled Backup: its annotation, else its creation. */
static int64_t fire_time_of(const json_object *b)
{
    time_t t = 0;

    if (object_time_parse(annotation_of(b, BACKUP_ANNOTATION_SCHEDULED_AT), &t) == 0 ||
        object_time_parse(cjson_get_string(b, "metadata.creationTimestamp"), &t) == 0)
        return (int64_t)t;
    return 0;
}

typedef struct backup_list {
    json_object **objs;
    size_t n;
} backup_list;

static void backup_list_release(backup_list *l)
{
    backup_objects_free(l->objs, l->n);
    memset(l, 0, sizeof(*l));
}

static int list_of_tenant(const backup_env *env, const char *tenant, backup_list *out,
                          omlop_err *err)
{
    memset(out, 0, sizeof(*out));
    return backup_objects_of_tenant(env->st, BACKUP_KEY_PREFIX, tenant, &out->objs, &out->n, err);
}

/* ---- creating ---------------------------------------------------------------------------- */

static json_object *backup_new(const json_object *tobj, const char *name, int64_t slot)
{
    json_object *b = json_object_new_object(), *meta = json_object_new_object();
    json_object *labels = json_object_new_object(), *ann = json_object_new_object();
    json_object *owner = json_object_new_object(), *owners = json_object_new_array();
    json_object *spec = json_object_new_object(), *ref = json_object_new_object();
    const char *tenant = cjson_get_string(tobj, "metadata.name");
    char at[32];

    object_time_format((time_t)slot, at);
    json_object_object_add(b, "apiVersion", json_object_new_string("omlop.io/v1alpha1"));
    json_object_object_add(b, "kind", json_object_new_string("Backup"));
    json_object_object_add(meta, "name", json_object_new_string(name));
    json_object_object_add(labels, OMLOP_LABEL_TENANT, json_object_new_string(tenant));
    json_object_object_add(labels, BACKUP_LABEL_SCHEDULED, json_object_new_string("true"));
    json_object_object_add(meta, "labels", labels);
    json_object_object_add(ann, BACKUP_ANNOTATION_SCHEDULED_AT, json_object_new_string(at));
    json_object_object_add(meta, "annotations", ann);
    json_object_object_add(owner, "apiVersion", json_object_new_string("omlop.io/v1alpha1"));
    json_object_object_add(owner, "kind", json_object_new_string("Tenant"));
    json_object_object_add(owner, "name", json_object_new_string(tenant));
    json_object_object_add(owner, "uid",
                           json_object_new_string(cjson_get_string(tobj, "metadata.uid")
                                                      ? cjson_get_string(tobj, "metadata.uid")
                                                      : ""));
    json_object_object_add(owner, "controller", json_object_new_boolean(1));
    json_object_array_add(owners, owner);
    json_object_object_add(meta, "ownerReferences", owners);
    json_object_object_add(b, "metadata", meta);
    json_object_object_add(ref, "name", json_object_new_string(tenant));
    json_object_object_add(spec, "tenantRef", ref);
    json_object_object_add(b, "spec", spec);
    return b;
}

static int status_backup_mutate(json_object *next, const json_object *cur, void *ctx,
                                omlop_err *err)
{
    json_object *st = cjson_get(next, "status");

    (void)cur;
    (void)err;
    if (!st || !json_object_is_type(st, json_type_object)) {
        st = json_object_new_object();
        json_object_object_add(next, "status", st);
    }
    if (cjson_equal(cjson_get(st, "backup"), ctx))
        return OBJ_UNCHANGED;
    json_object_object_add(st, "backup", cjson_copy(ctx));
    return 0;
}

static int status_backup_write(const backup_env *env, const json_object *tobj, json_object *sb,
                               omlop_err *err)
{
    obj_update_opts o = {0};
    obj_result res = {0};
    int rc;

    if (cjson_equal(cjson_get(tobj, "status.backup"), sb))
        return 0;
    o.expect_uid = cjson_get_string(tobj, "metadata.uid");
    o.is_status = 1;
    rc = obj_update(env->st, "tenants", cjson_get_string(tobj, "metadata.name"), &o,
                    status_backup_mutate, sb, &res, err);
    obj_result_release(&res);
    if (rc == OMLOP_ENOTFOUND) {
        omlop_err_clear(err);
        rc = 0;
    }
    return rc;
}

/* The last fire acted on: the status, the newest scheduled Backup, the tenant's creation. */
static int64_t last_fire(const json_object *tobj, const backup_list *l)
{
    time_t t = 0;
    int64_t best = -1;

    if (object_time_parse(cjson_get_string(tobj, "status.backup.lastScheduleTime"), &t) == 0)
        return (int64_t)t;
    for (size_t i = 0; i < l->n; i++)
        if (is_scheduled(l->objs[i]) && fire_time_of(l->objs[i]) > best)
            best = fire_time_of(l->objs[i]);
    if (best >= 0)
        return best;
    if (object_time_parse(cjson_get_string(tobj, "metadata.creationTimestamp"), &t) == 0)
        return (int64_t)t;
    return 0;
}

static void set_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

int backup_schedule_tenant(const backup_env *env, const char *tenant, int64_t now_ms,
                           int64_t *next_ms, omlop_err *err)
{
    json_object *tobj = NULL, *sb = NULL, *b = NULL;
    const char *expr, *zone;
    backup_list l = {0};
    backup_schedule_plan p;
    cron_expr e;
    tz *z = NULL;
    omlop_err pe = OMLOP_ERR_INIT;
    char name[128], at[32], desc[256];
    int64_t now = now_ms / 1000;
    int rc;

    *next_ms = -1;
    if ((rc = obj_get(env->st, "tenants", tenant, &tobj, NULL, err)) < 0) {
        if (rc == OMLOP_ENOTFOUND) {
            omlop_err_clear(err);
            rc = 0;
        }
        goto out;
    }
    expr = cjson_get_string(tobj, "spec.backup.schedule");
    zone = cjson_get_string(tobj, "spec.timeZone");
    if (!zone || !*zone)
        zone = "UTC";
    if (cjson_get(tobj, "metadata.deletionTimestamp"))
        goto out;
    if (!expr || !*expr) { /* no schedule (any more): no next fire; the last one is kept */
        if (!cjson_get(tobj, "status.backup.nextScheduleTime"))
            goto out;
        sb = json_object_new_object();
        if (cjson_get_string(tobj, "status.backup.lastScheduleTime"))
            set_str(sb, "lastScheduleTime",
                    cjson_get_string(tobj, "status.backup.lastScheduleTime"));
        if (cjson_get_string(tobj, "status.backup.lastScheduledBackup"))
            set_str(sb, "lastScheduledBackup",
                    cjson_get_string(tobj, "status.backup.lastScheduledBackup"));
        rc = status_backup_write(env, tobj, sb, err);
        goto out;
    }
    snprintf(desc, sizeof(desc), "%s (%s)", expr, zone);
    sb = json_object_new_object();
    set_str(sb, "schedule", desc);
    if (cron_parse(expr, &e, &pe) < 0 || tz_load(zone, NULL, &z, &pe) < 0) {
        char msg[OMLOP_ERR_MSG_MAX + 64];

        snprintf(msg, sizeof(msg), "not scheduling: %s", pe.msg);
        set_str(sb, "message", msg);
        if (cjson_get_string(tobj, "status.backup.lastScheduleTime"))
            set_str(sb, "lastScheduleTime",
                    cjson_get_string(tobj, "status.backup.lastScheduleTime"));
        rc = status_backup_write(env, tobj, sb, err);
        goto out;
    }
    if ((rc = list_of_tenant(env, tenant, &l, err)) < 0)
        goto out;
    if ((rc = backup_schedule_decide(&e, z, last_fire(tobj, &l), now, &p, err)) < 0)
        goto out;
    if (cjson_get_string(tobj, "status.backup.lastScheduleTime"))
        set_str(sb, "lastScheduleTime", cjson_get_string(tobj, "status.backup.lastScheduleTime"));
    if (cjson_get_string(tobj, "status.backup.lastScheduledBackup"))
        set_str(sb, "lastScheduledBackup",
                cjson_get_string(tobj, "status.backup.lastScheduledBackup"));
    if (p.is_due) {
        obj_result res = {0};

        backup_schedule_name(tenant, z, p.slot, name, sizeof(name));
        b = backup_new(tobj, name, p.slot);
        rc = obj_create(env->st, "backups", b, 0, &res, err);
        obj_result_release(&res);
        if (rc == OMLOP_EEXIST) { /* made before a crash that lost the status write */
            omlop_err_clear(err);
            rc = 0;
        } else if (rc < 0) {
            omlop_err_prefix(err, "create Backup %s: ", name);
            goto out;
        } else {
            object_time_format((time_t)p.slot, at);
            log_info("tenant=%s backup=%s scheduled (%s)", tenant, name, desc);
            if (env->ev) {
                omlop_err ee = OMLOP_ERR_INIT;

                events_record(env->ev, tobj, EVENT_TYPE_NORMAL, "ScheduledBackupCreated", &ee,
                              "Backup %s for %s (schedule %s)", name, at, desc);
            }
        }
        object_time_format((time_t)p.slot, at);
        set_str(sb, "lastScheduleTime", at);
        set_str(sb, "lastScheduledBackup", name);
    }
    object_time_format((time_t)p.next, at);
    set_str(sb, "nextScheduleTime", at);
    set_str(sb, "message", "");
    if ((rc = status_backup_write(env, tobj, sb, err)) < 0)
        goto out;
    *next_ms = p.next * 1000 - now_ms;
    if (*next_ms < 1)
        *next_ms = 1;
out:
    json_object_put(b);
    json_object_put(sb);
    json_object_put(tobj);
    tz_free(z);
    backup_list_release(&l);
    return rc;
}

/* ---- retention --------------------------------------------------------------------------- */

/* Whether b is owned by the tenant object tobj (NULL: gone). */
static int is_owned_by(const json_object *b, const json_object *tobj)
{
    json_object *owners = cjson_get(b, "metadata.ownerReferences");
    const char *uid = cjson_get_string(tobj, "metadata.uid");

    if (!tobj)
        return 0;
    if (!owners || !json_object_is_type(owners, json_type_array))
        return 1; /* labelled by hand: the tenant it names */
    for (size_t i = 0; i < json_object_array_length(owners); i++) {
        const char *ou = cjson_get_string(json_object_array_get_idx(owners, i), "uid");

        if (ou && uid && strcmp(ou, uid) == 0)
            return 1;
    }
    return 0;
}

static int delete_backup(const backup_env *env, const json_object *b, omlop_err *err)
{
    obj_delete_opts o = {0};
    obj_result res = {0};
    int rc;

    o.expect_uid = cjson_get_string(b, "metadata.uid");
    rc = obj_delete(env->st, "backups", cjson_get_string(b, "metadata.name"), &o, &res, err);
    obj_result_release(&res);
    if (rc == OMLOP_ENOTFOUND || rc == OMLOP_ECONFLICT) {
        omlop_err_clear(err);
        rc = 0;
    }
    return rc;
}

int backup_retention_tenant(const backup_env *env, const char *tenant, omlop_err *err)
{
    json_object *tobj = NULL;
    backup_list l = {0};
    backup_item *items = NULL;
    size_t *del = NULL, n_del;
    int retention, rc;

    if ((rc = list_of_tenant(env, tenant, &l, err)) < 0)
        return rc;
    if (l.n == 0)
        goto out;
    if ((rc = obj_get(env->st, "tenants", tenant, &tobj, NULL, err)) < 0) {
        if (rc != OMLOP_ENOTFOUND)
            goto out;
        omlop_err_clear(err);
        rc = 0;
        tobj = NULL;
    }
    /* scheduled Backups of a gone (or re-created) tenant: the objects go, the files stay */
    for (size_t i = 0; i < l.n && rc == 0; i++)
        if (is_scheduled(l.objs[i]) && !is_owned_by(l.objs[i], tobj)) {
            const char *ph = cjson_get_string(l.objs[i], "status.phase");

            if (ph && strcmp(ph, BACKUP_PHASE_RUNNING) == 0)
                continue;
            log_info("tenant=%s backup=%s deleted: its tenant is gone (its files are kept)", tenant,
                     cjson_get_string(l.objs[i], "metadata.name"));
            rc = delete_backup(env, l.objs[i], err);
        }
    if (!tobj || rc < 0 || !cjson_get(tobj, "spec.backup") ||
        cjson_get(tobj, "metadata.deletionTimestamp"))
        goto out;
    retention = (int)cjson_get_int(tobj, "spec.backup.retention", 7);
    items = xcalloc(l.n, sizeof(*items));
    del = xcalloc(l.n, sizeof(*del));
    for (size_t i = 0; i < l.n; i++) {
        items[i].name = cjson_get_string(l.objs[i], "metadata.name");
        items[i].phase = cjson_get_string(l.objs[i], "status.phase");
        items[i].at = fire_time_of(l.objs[i]);
        items[i].is_scheduled = is_scheduled(l.objs[i]) && is_owned_by(l.objs[i], tobj) &&
                                !cjson_get(l.objs[i], "metadata.deletionTimestamp");
    }
    n_del = backup_retention_decide(items, l.n, retention, del);
    for (size_t k = 0; k < n_del; k++) {
        const json_object *b = l.objs[del[k]];
        const char *ts = cjson_get_string(b, "status.timestamp");
        size_t n_obj = 0;
        omlop_err pe = OMLOP_ERR_INIT;

        if (ts && backup_purge(env, tobj, ts, &n_obj, &pe) < 0) {
            /* kept: the next round tries again rather than orphan the files */
            log_warn("tenant=%s backup=%s not pruned: %s", tenant, items[del[k]].name, pe.msg);
            if (env->ev) {
                omlop_err ee = OMLOP_ERR_INIT;

                events_record(env->ev, tobj, EVENT_TYPE_WARNING, "BackupPruneFailed", &ee,
                              "Backup %s: %s", items[del[k]].name, pe.msg);
            }
            continue;
        }
        if ((rc = delete_backup(env, b, err)) < 0)
            break;
        log_info("tenant=%s backup=%s pruned (%s, %zu object(s) deleted; retention %d)", tenant,
                 items[del[k]].name, items[del[k]].phase, n_obj, retention);
        if (env->ev) {
            omlop_err ee = OMLOP_ERR_INIT;

            events_record(env->ev, tobj, EVENT_TYPE_NORMAL, "BackupPruned", &ee,
                          "Backup %s (%s) deleted with %zu object(s) in the bucket: retention "
                          "keeps %d",
                          items[del[k]].name, items[del[k]].phase, n_obj, retention);
        }
    }
out:
    free(items);
    free(del);
    json_object_put(tobj);
    backup_list_release(&l);
    return rc;
}
