/*
 * backup_schedule: the Backups a Tenant's spec.backup.schedule creates, and its retention
 * (docs/backups.md "Scheduled backups").
 *
 * Run by the worker that holds the tenant (operator/manager.c), after its round and its
 * Backups: backup_schedule_tenant creates the Backup of a fire time that has come, named
 * <tenant>-yyyymmdd-hhmm (the fire time on the tenant's wall clock, spec.timeZone), labelled
 * omlop.io/tenant=<tenant> and omlop.io/scheduled=true, annotated omlop.io/scheduled-at, owned
 * by the Tenant (ownerReferences); records status.backup.lastScheduleTime on the Tenant and
 * says in how long the next fire is (the manager queues the tenant for then: no polling).
 *
 * The last fire is status.backup.lastScheduleTime; without it, the newest scheduled Backup's
 * omlop.io/scheduled-at; without one, the Tenant's creation. Fires missed while omlopd was
 * down (all those after the last and up to now) make ONE Backup, for the latest of them. A
 * Backup's name is its fire time, so creating it twice (a crash between the create and the
 * status write) finds it there and goes on.
 *
 * Retention (backup_retention_tenant), over the tenant's scheduled Backups only: the newest
 * `retention` Completed ones are kept; once that many exist, every scheduled Backup older than
 * the oldest kept goes; of the Failed ones at most `retention` (the newest) are kept. Pending
 * and Running ones are never touched, nor Backups without the omlop.io/scheduled label (made by
 * hand). A pruned Backup's objects in the bucket are deleted first, then the Backup.
 * When the Tenant is gone (or re-created: another uid), its scheduled Backup objects are
 * deleted, and their files in the bucket are kept.
 *
 * The decisions are pure functions of their inputs (a clock passed in) for the tests.
 */
#ifndef OMLOP_BACKUP_SCHEDULE_H
#define OMLOP_BACKUP_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/cron.h"
#include "lib/err.h"
#include "lib/tz.h"
#include "reconcilers/backup.h"

#define BACKUP_LABEL_SCHEDULED         "omlop.io/scheduled"
#define BACKUP_ANNOTATION_SCHEDULED_AT "omlop.io/scheduled-at"

/* What the schedule asks for at now. */
typedef struct backup_schedule_plan {
    int is_due;   /* create the Backup of slot */
    int64_t slot; /* the latest fire time <= now (when is_due) */
    int64_t next; /* the first fire time > now */
} backup_schedule_plan;

/*
 * From the last fire acted on (last) and now (Unix seconds): is a fire due, which one (the
 * latest of those missed), and when the next is. Pure.
 */
int backup_schedule_decide(const cron_expr *e, const tz *z, int64_t last, int64_t now,
                           backup_schedule_plan *out, omlop_err *err);

/* "<tenant>-yyyymmdd-hhmm" of slot on z's wall clock. */
void backup_schedule_name(const char *tenant, const tz *z, int64_t slot, char *out, size_t cap);

/* One Backup as retention sees it. */
typedef struct backup_item {
    const char *name;
    const char *phase; /* NULL or "" = Pending */
    int64_t at;        /* its fire time (or creation) */
    int is_scheduled;
} backup_item;

/*
 * The indexes of items retention deletes, into del (room for n); returns how many. Pure; see
 * the header comment for the rule.
 */
size_t backup_retention_decide(const backup_item *items, size_t n, int retention, size_t *del);

/*
 * Create the Backup of tenant's fire time if one has come (now_ms: wall clock, ms) and record
 * it; *next_ms is how long until the next fire (-1: no schedule). A bad schedule or time zone
 * is written to status.backup.message (the API refuses them; this is for stored objects).
 */
int backup_schedule_tenant(const backup_env *env, const char *tenant, int64_t now_ms,
                           int64_t *next_ms, omlop_err *err);

/* Apply the tenant's retention (and delete the scheduled Backups of a gone tenant). */
int backup_retention_tenant(const backup_env *env, const char *tenant, omlop_err *err);

#endif
