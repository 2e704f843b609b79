/*
 * Tests for reconcilers/backup_schedule: the pure decisions with a fake clock (what fire is
 * due, the one Backup for fires missed while omlopd was down, the names on the tenant's wall
 * clock, what retention deletes), then the shell over a SQLite store and a fake bucket: the
 * Backup created with its labels and owner, status.backup, no second Backup for the same
 * fire, and retention deleting objects and bucket folders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/log.h"
#include "objects/objects.h"
#include "reconcilers/backup.h"
#include "reconcilers/backup_schedule.h"
#include "reconcilers/secrets.h"
#include "store/store.h"

static int64_t at(int64_t y, int m, int d, int h, int mi)
{
    return tz_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60;
}

static tz *load(const char *name)
{
    omlop_err err = OMLOP_ERR_INIT;
    tz *z = NULL;

    if (tz_load(name, NULL, &z, &err) < 0)
        fail_msg("%s", err.msg);
    return z;
}

static backup_schedule_plan decide(const char *expr, const char *zone, int64_t last, int64_t now)
{
    omlop_err err = OMLOP_ERR_INIT;
    backup_schedule_plan p;
    cron_expr e;
    tz *z = load(zone);

    if (cron_parse(expr, &e, &err) < 0 || backup_schedule_decide(&e, z, last, now, &p, &err) < 0)
        fail_msg("%s: %s", expr, err.msg);
    tz_free(z);
    return p;
}

/* ---- what is due ------------------------------------------------------------------------- */

static void test_schedule_not_due_before_the_fire_and_due_at_it(void **state)
{
    int64_t last = at(2026, 12, 5, 10, 0);
    backup_schedule_plan p;

    (void)state;
    p = decide("* * * * *", "UTC", last, last + 59);
    assert_false(p.is_due);
    assert_int_equal(p.next, last + 60);
    p = decide("* * * * *", "UTC", last, last + 60); /* at the second */
    assert_true(p.is_due);
    assert_int_equal(p.slot, last + 60);
    assert_int_equal(p.next, last + 120);
    p = decide("0 3 * * *", "UTC", at(2026, 12, 5, 3, 0), at(2026, 12, 6, 2, 59));
    assert_false(p.is_due);
    assert_int_equal(p.next, at(2026, 12, 6, 3, 0));
}

static void test_schedule_missed_fires_make_one_backup_for_the_latest(void **state)
{
    backup_schedule_plan p;

    (void)state;
    /* hourly, down from 10:00 to 13:30: one Backup, for 13:00; next 14:00 */
    p = decide("0 * * * *", "UTC", at(2026, 12, 5, 10, 0), at(2026, 12, 5, 13, 30));
    assert_true(p.is_due);
    assert_int_equal(p.slot, at(2026, 12, 5, 13, 0));
    assert_int_equal(p.next, at(2026, 12, 5, 14, 0));
    /* monthly, down for five months: June's */
    p = decide("@monthly", "UTC", at(2026, 1, 1, 0, 0), at(2026, 6, 15, 8, 0));
    assert_true(p.is_due);
    assert_int_equal(p.slot, at(2026, 6, 1, 0, 0));
    assert_int_equal(p.next, at(2026, 7, 1, 0, 0));
    /* every minute, down for 40 days (past the walk's window): the minute just gone */
    p = decide("* * * * *", "UTC", at(2026, 10, 1, 0, 0), at(2026, 11, 10, 7, 7) + 30);
    assert_true(p.is_due);
    assert_int_equal(p.slot, at(2026, 11, 10, 7, 7));
    assert_int_equal(p.next, at(2026, 11, 10, 7, 8));
    /* daily at 02:30 Madrid, down over the spring change: the gap's fire is 03:00 CEST */
    p = decide("30 2 * * *", "Europe/Madrid", at(2024, 3, 30, 12, 0), at(2024, 3, 31, 5, 0));
    assert_true(p.is_due);
    assert_int_equal(p.slot, 1711846800);
    assert_int_equal(p.next, at(2024, 4, 1, 0, 30));
}

static void test_schedule_names_on_the_tenant_wall_clock(void **state)
{
    tz *madrid = load("Europe/Madrid"), *ba = load("America/Argentina/Buenos_Aires");
    tz *utc = load("UTC");
    char name[80];

    (void)state;
    backup_schedule_name("acme", madrid, at(2026, 7, 1, 0, 0), name, sizeof(name));
    assert_string_equal(name, "acme-20260701-0200");
    backup_schedule_name("acme", ba, at(2026, 7, 1, 2, 5), name, sizeof(name));
    assert_string_equal(name, "acme-20260630-2305");
    backup_schedule_name("acme", utc, at(2026, 12, 31, 23, 59), name, sizeof(name));
    assert_string_equal(name, "acme-20261231-2359");
    backup_schedule_name("acme", madrid, 1711846800, name, sizeof(name)); /* the gap's end */
    assert_string_equal(name, "acme-20240331-0300");
    tz_free(madrid);
    tz_free(ba);
    tz_free(utc);
}

/* ---- retention --------------------------------------------------------------------------- */

#define C BACKUP_PHASE_COMPLETED
#define F BACKUP_PHASE_FAILED
#define R BACKUP_PHASE_RUNNING

static char *deleted(const backup_item *items, size_t n, int retention)
{
    static char out[256];
    size_t del[32], k = backup_retention_decide(items, n, retention, del);

    out[0] = '\0';
    for (size_t i = 0; i < k; i++) {
        strcat(out, items[del[i]].name);
        strcat(out, " ");
    }
    return out;
}

static void test_retention_keeps_the_newest_completed(void **state)
{
    const backup_item three[] = {{"b1", C, 100, 1}, {"b3", C, 300, 1}, {"b2", C, 200, 1}};
    const backup_item with_manual[] = {
        {"m0", C, 50, 0}, {"b1", C, 100, 1}, {"b2", C, 200, 1}, {"m9", C, 900, 0}};
    const backup_item active[] = {{"p0", NULL, 10, 1},
                                  {"r0", R, 20, 1},
                                  {"b1", C, 100, 1},
                                  {"b2", C, 200, 1},
                                  {"b3", C, 300, 1}};

    (void)state;
    assert_string_equal(deleted(three, 3, 2), "b1 ");
    assert_string_equal(deleted(three, 3, 3), "");
    assert_string_equal(deleted(three, 3, 1), "b2 b1 ");
    assert_string_equal(deleted(three, 2, 2), ""); /* two: at the limit */
    /* made by hand: never, however old */
    assert_string_equal(deleted(with_manual, 4, 1), "b1 ");
    /* Pending and Running: never */
    assert_string_equal(deleted(active, 5, 2), "b1 ");
}

static void test_retention_failed_ones(void **state)
{
    const backup_item mixed[] = {{"b1", C, 100, 1}, {"f2", F, 200, 1}, {"b3", C, 300, 1},
                                 {"f4", F, 400, 1}, {"b5", C, 500, 1}, {"f6", F, 600, 1}};
    const backup_item all_failed[] = {
        {"f1", F, 100, 1}, {"f2", F, 200, 1}, {"f3", F, 300, 1}, {"f4", F, 400, 1}};
    const backup_item ties[] = {{"t-a", C, 100, 1}, {"t-c", C, 100, 1}, {"t-b", C, 100, 1}};

    (void)state;
    /* keep b5 b3; f6 f4 are newer than b3 and within 2 failures; b1 f2 are older than b3 */
    assert_string_equal(deleted(mixed, 6, 2), "f2 b1 ");
    /* keep b5; f6 newer (1 failure); the rest older */
    assert_string_equal(deleted(mixed, 6, 1), "f4 b3 f2 b1 ");
    /* no Completed: at most N failures */
    assert_string_equal(deleted(all_failed, 4, 2), "f2 f1 ");
    assert_string_equal(deleted(all_failed, 4, 4), "");
    assert_string_equal(deleted(ties, 3, 2), "t-a ");
}

/* ---- the shell over a store -------------------------------------------------------------- */

typedef struct fbucket {
    char purged[16][128];
    size_t n_purged;
    int aborts;
    int fail;
} fbucket;

static int fb_abort(void *ctx, const char *prefix, size_t *n, omlop_err *err)
{
    fbucket *fb = ctx;

    (void)prefix;
    (void)err;
    fb->aborts++;
    *n = 0;
    return 0;
}

static int fb_delete(void *ctx, const char *prefix, size_t *n, omlop_err *err)
{
    fbucket *fb = ctx;

    if (fb->fail)
        return omlop_err_set(err, OMLOP_EIO, "list objects: InternalError (HTTP 500)");
    snprintf(fb->purged[fb->n_purged++], 128, "%s", prefix);
    *n = 4;
    return 0;
}

static void fb_location(void *ctx, const char *key, strbuf *out)
{
    (void)ctx;
    strbuf_addf(out, "s3://b/%s", key);
}

static int fb_open(void *ctx, const s3_config *cfg, backup_bucket *out, omlop_err *err)
{
    (void)cfg;
    (void)err;
    memset(out, 0, sizeof(*out));
    out->abort_pending = fb_abort;
    out->delete_prefix = fb_delete;
    out->location = fb_location;
    out->ctx = ctx;
    return 0;
}

static void fb_close(void *ctx, backup_bucket *bk)
{
    (void)ctx;
    (void)bk;
}

typedef struct fixture {
    char dir[64];
    store *st;
    fbucket fb;
    backup_env env;
} fixture;

static void put(store *st, const char *key, const char *text)
{
    omlop_err err = OMLOP_ERR_INIT;

    if (store_create(st, key, text, strlen(text), NULL, &err) < 0)
        fail_msg("store_create %s: %s", key, err.msg);
}

static void put_tenant(fixture *fx, const char *uid, const char *schedule, const char *status)
{
    char text[2048];

    snprintf(text, sizeof(text),
             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\","
             "\"metadata\":{\"name\":\"t1\",\"uid\":\"%s\",\"generation\":1,"
             "\"creationTimestamp\":\"2026-12-05T09:00:30Z\"},"
             "\"spec\":{\"layout\":\"aio\",\"timeZone\":\"Europe/Madrid\","
             "\"objectStorage\":{\"bucketURL\":\"http://s3.test:8080\","
             "\"credentialsSecretRef\":{\"name\":\"t1-s3\"}},"
             "\"backup\":{\"schedule\":\"%s\",\"retention\":2}}%s%s}",
             uid, schedule, status ? ",\"status\":" : "", status ? status : "");
    put(fx->st, "/omlop/tenants/t1", text);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    store_options so;
    omlop_err err = OMLOP_ERR_INIT;

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/omlop-bsched-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    store_options_default(&so);
    so.data_dir = fx->dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &fx->st, &err) < 0)
        fail_msg("store: %s", err.msg);
    put(fx->st, SECRETS_KEY_PREFIX "t1-s3",
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
        "\"t1-s3\"},\"stringData\":{\"accessKey\":\"a\",\"secretKey\":\"s\"}}");
    fx->env.st = fx->st;
    fx->env.bucket_open = fb_open;
    fx->env.bucket_close = fb_close;
    fx->env.bucket_ctx = &fx->fb;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char cmd[96];

    store_close(fx->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", fx->dir);
    free(fx);
    return 0;
}

static size_t count_backups(fixture *fx)
{
    store_list_opts lo = {0};
    store_list_result lr;
    omlop_err err = OMLOP_ERR_INIT;
    size_t n;

    memset(&lr, 0, sizeof(lr));
    lo.prefix = BACKUP_KEY_PREFIX;
    if (store_list(fx->st, &lo, &lr, &err) < 0)
        fail_msg("%s", err.msg);
    n = lr.items.n;
    store_list_result_release(&lr);
    return n;
}

static json_object *get(fixture *fx, const char *plural, const char *name)
{
    json_object *o = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    if (obj_get(fx->st, plural, name, &o, NULL, &err) < 0)
        return NULL;
    return o;
}

static int64_t run_schedule(fixture *fx, int64_t now)
{
    omlop_err err = OMLOP_ERR_INIT;
    int64_t next_ms = 0;

    if (backup_schedule_tenant(&fx->env, "t1", now * 1000 + 250, &next_ms, &err) < 0)
        fail_msg("schedule: %s", err.msg);
    return next_ms;
}

static void set_phase(fixture *fx, const char *name, const char *phase, const char *ts)
{
    json_object *b = get(fx, "backups", name), *s = json_object_new_object();
    char key[128];
    const char *text;
    omlop_err err = OMLOP_ERR_INIT;

    assert_non_null(b);
    json_object_object_add(s, "phase", json_object_new_string(phase));
    json_object_object_add(s, "timestamp", json_object_new_string(ts));
    json_object_object_add(b, "status", s);
    json_object_object_del(json_object_object_get(b, "metadata"), "resourceVersion");
    text = json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN);
    snprintf(key, sizeof(key), "%s%s", BACKUP_KEY_PREFIX, name);
    if (store_update(fx->st, key, text, strlen(text), 0, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    json_object_put(b);
}

static void test_shell_creates_one_backup_per_fire_with_owner_and_labels(void **state)
{
    fixture *fx = *state;
    int64_t t0 = at(2026, 12, 5, 9, 1); /* 10:01 in Madrid */
    json_object *b, *t;
    int64_t next_ms;

    (void)state;
    put_tenant(fx, "u-1", "* * * * *", NULL);
    /* created at 09:00:30: the 09:01 fire is due at 09:01 */
    next_ms = run_schedule(fx, t0 - 1);
    assert_int_equal(count_backups(fx), 0);
    assert_int_equal(next_ms, 750); /* 09:00:59.250 -> 09:01:00 */
    next_ms = run_schedule(fx, t0);
    assert_int_equal(count_backups(fx), 1);
    assert_int_equal(next_ms, 59750);
    b = get(fx, "backups", "t1-20261205-1001");
    assert_non_null(b);
    assert_string_equal(cjson_get_string(b, "spec.tenantRef.name"), "t1");
    assert_string_equal(json_object_get_string(json_object_object_get(
                            cjson_get(b, "metadata.labels"), BACKUP_LABEL_SCHEDULED)),
                        "true");
    assert_string_equal(json_object_get_string(json_object_object_get(
                            cjson_get(b, "metadata.labels"), "omlop.io/tenant")),
                        "t1");
    assert_string_equal(
        cjson_get_string(json_object_array_get_idx(cjson_get(b, "metadata.ownerReferences"), 0),
                         "uid"),
        "u-1");
    json_object_put(b);
    t = get(fx, "tenants", "t1");
    assert_string_equal(cjson_get_string(t, "status.backup.lastScheduleTime"),
                        "2026-12-05T09:01:00Z");
    assert_string_equal(cjson_get_string(t, "status.backup.lastScheduledBackup"),
                        "t1-20261205-1001");
    assert_string_equal(cjson_get_string(t, "status.backup.nextScheduleTime"),
                        "2026-12-05T09:02:00Z");
    json_object_put(t);
    /* the same fire again (a requeue a little early or late): nothing new */
    run_schedule(fx, t0 + 30);
    assert_int_equal(count_backups(fx), 1);
    /* omlopd down for ten minutes: one Backup, for the last fire */
    run_schedule(fx, t0 + 600 + 5);
    assert_int_equal(count_backups(fx), 2);
    b = get(fx, "backups", "t1-20261205-1011");
    assert_non_null(b);
    json_object_put(b);
    run_schedule(fx, t0 + 600 + 50);
    assert_int_equal(count_backups(fx), 2);
}

static void test_shell_without_status_uses_the_newest_scheduled_backup(void **state)
{
    fixture *fx = *state;
    int64_t t0 = at(2026, 12, 5, 9, 1);

    (void)state;
    put_tenant(fx, "u-1", "* * * * *", NULL);
    run_schedule(fx, t0 + 5); /* creates 10:01 and records it */
    /* the status lost (a restored store): the Backup's annotation says 09:01 was done */
    {
        json_object *t = get(fx, "tenants", "t1");
        const char *text;
        omlop_err err = OMLOP_ERR_INIT;

        json_object_object_del(t, "status");
        json_object_object_del(json_object_object_get(t, "metadata"), "resourceVersion");
        text = json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN);
        if (store_update(fx->st, "/omlop/tenants/t1", text, strlen(text), 0, NULL, &err) < 0)
            fail_msg("%s", err.msg);
        json_object_put(t);
    }
    run_schedule(fx, t0 + 30);
    assert_int_equal(count_backups(fx), 1);
    run_schedule(fx, t0 + 61);
    assert_int_equal(count_backups(fx), 2);
}

static void test_shell_retention_deletes_objects_and_folders(void **state)
{
    fixture *fx = *state;
    int64_t t0 = at(2026, 12, 5, 9, 1);
    omlop_err err = OMLOP_ERR_INIT;
    json_object *b;

    (void)state;
    put_tenant(fx, "u-1", "* * * * *", NULL);
    run_schedule(fx, t0);
    run_schedule(fx, t0 + 60);
    run_schedule(fx, t0 + 120);
    assert_int_equal(count_backups(fx), 3);
    put(fx->st, BACKUP_KEY_PREFIX "by-hand",
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
        "\"by-hand\",\"uid\":\"h\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},"
        "\"spec\":{\"tenantRef\":{\"name\":\"t1\"}},\"status\":{\"phase\":\"Completed\","
        "\"timestamp\":\"1700000000\"}}");
    /* two Completed, one still Running: nothing to prune yet */
    set_phase(fx, "t1-20261205-1001", "Completed", "1796461260");
    set_phase(fx, "t1-20261205-1002", "Completed", "1796461320");
    set_phase(fx, "t1-20261205-1003", "Running", "1796461380");
    assert_int_equal(backup_retention_tenant(&fx->env, "t1", &err), 0);
    assert_int_equal(count_backups(fx), 4);
    assert_int_equal(fx->fb.n_purged, 0);
    /* the third completes: the oldest goes, its folder first; the one by hand stays */
    set_phase(fx, "t1-20261205-1003", "Completed", "1796461380");
    fx->fb.fail = 1; /* the bucket fails: the object is kept for the next round */
    assert_int_equal(backup_retention_tenant(&fx->env, "t1", &err), 0);
    assert_int_equal(count_backups(fx), 4);
    fx->fb.fail = 0;
    assert_int_equal(backup_retention_tenant(&fx->env, "t1", &err), 0);
    assert_int_equal(count_backups(fx), 3);
    assert_int_equal(fx->fb.n_purged, 1);
    assert_string_equal(fx->fb.purged[0], "t1/1796461260/");
    assert_null(get(fx, "backups", "t1-20261205-1001"));
    b = get(fx, "backups", "by-hand");
    assert_non_null(b);
    json_object_put(b);
}

static void test_shell_gone_tenant_scheduled_objects_deleted_files_kept(void **state)
{
    fixture *fx = *state;
    int64_t t0 = at(2026, 12, 5, 9, 1);
    omlop_err err = OMLOP_ERR_INIT;
    json_object *b;

    (void)state;
    put_tenant(fx, "u-1", "* * * * *", NULL);
    run_schedule(fx, t0);
    set_phase(fx, "t1-20261205-1001", "Completed", "1796461260");
    put(fx->st, BACKUP_KEY_PREFIX "by-hand",
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
        "\"by-hand\",\"uid\":\"h\"},\"spec\":{\"tenantRef\":{\"name\":\"t1\"}}}");
    if (store_delete(fx->st, "/omlop/tenants/t1", 0, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(backup_retention_tenant(&fx->env, "t1", &err), 0);
    assert_int_equal(count_backups(fx), 1);
    assert_int_equal(fx->fb.n_purged, 0);
    b = get(fx, "backups", "by-hand");
    assert_non_null(b);
    json_object_put(b);
}

static void test_shell_schedule_removed_no_next_fire(void **state)
{
    fixture *fx = *state;
    json_object *t;
    int64_t next_ms;

    (void)state;
    put_tenant(fx, "u-1", "* * * * *", NULL);
    run_schedule(fx, at(2026, 12, 5, 9, 1));
    /* the same tenant without spec.backup, its status kept */
    t = get(fx, "tenants", "t1");
    {
        const char *text;
        omlop_err err = OMLOP_ERR_INIT;

        json_object_object_del(json_object_object_get(t, "spec"), "backup");
        json_object_object_del(json_object_object_get(t, "metadata"), "resourceVersion");
        text = json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN);
        if (store_update(fx->st, "/omlop/tenants/t1", text, strlen(text), 0, NULL, &err) < 0)
            fail_msg("%s", err.msg);
    }
    json_object_put(t);
    next_ms = run_schedule(fx, at(2026, 12, 5, 9, 5));
    assert_int_equal(next_ms, -1);
    assert_int_equal(count_backups(fx), 1);
    t = get(fx, "tenants", "t1");
    assert_null(cjson_get(t, "status.backup.nextScheduleTime"));
    assert_string_equal(cjson_get_string(t, "status.backup.lastScheduleTime"),
                        "2026-12-05T09:01:00Z");
    json_object_put(t);
}

static void test_shell_bad_schedule_is_reported_not_acted_on(void **state)
{
    fixture *fx = *state;
    json_object *t;
    int64_t next_ms;

    (void)state;
    put_tenant(fx, "u-1", "0 25 * * *", NULL);
    next_ms = run_schedule(fx, at(2026, 12, 5, 10, 0));
    assert_int_equal(next_ms, -1);
    assert_int_equal(count_backups(fx), 0);
    t = get(fx, "tenants", "t1");
    assert_string_equal(cjson_get_string(t, "status.backup.message"),
                        "not scheduling: field 2 (hour): 25 out of range 0-23");
    json_object_put(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_not_due_before_the_fire_and_due_at_it),
        cmocka_unit_test(test_schedule_missed_fires_make_one_backup_for_the_latest),
        cmocka_unit_test(test_schedule_names_on_the_tenant_wall_clock),
        cmocka_unit_test(test_retention_keeps_the_newest_completed),
        cmocka_unit_test(test_retention_failed_ones),
        cmocka_unit_test_setup_teardown(
            test_shell_creates_one_backup_per_fire_with_owner_and_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shell_without_status_uses_the_newest_scheduled_backup,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_shell_retention_deletes_objects_and_folders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shell_gone_tenant_scheduled_objects_deleted_files_kept,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_shell_schedule_removed_no_next_fire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shell_bad_schedule_is_reported_not_acted_on, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
