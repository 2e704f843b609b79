/*
 * Tests for the Restore reconciler (reconcilers/restore.h) with fakes for the bucket (objects
 * in memory, SHA-256 computed on the way like the S3 client's) and the containers (a log of
 * what was done and a pretend database): the steps in order, a damaged part changing nothing,
 * a failure at each step naming it (and leaving the tenant held and Degraded only after the
 * drop), verification, the plain-dump case, retries on request only, another tenant's backup.
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
#include "lib/strbuf.h"
#include "objects/objects.h"
#include "reconcilers/restore.h"
#include "reconcilers/secrets.h"
#include "store/store.h"

/* ---- the fake bucket --------------------------------------------------------------------- */

#define FB_MAX 16

typedef struct fobj {
    char key[S3_MAX_KEY];
    strbuf data;
} fobj;

typedef struct fbucket {
    fobj objs[FB_MAX];
    size_t n;
    int gets;
    char endpoint[256];
} fbucket;

static void fb_add(fbucket *fb, const char *key, const char *data, size_t len)
{
    fobj *o = &fb->objs[fb->n++];

    snprintf(o->key, sizeof(o->key), "%s", key);
    strbuf_init(&o->data);
    strbuf_add(&o->data, data, len);
}

static const fobj *fb_find(const fbucket *fb, const char *key)
{
    for (size_t i = 0; i < fb->n; i++)
        if (strcmp(fb->objs[i].key, key) == 0)
            return &fb->objs[i];
    return NULL;
}

static int fb_get(void *ctx, const char *key, backup_sink_fn sink, void *sink_ctx,
                  s3_object_info *info, omlop_err *err)
{
    fbucket *fb = ctx;
    const fobj *o = fb_find(fb, key);
    int rc;

    fb->gets++;
    if (!o)
        return omlop_err_set(err, OMLOP_ENOTFOUND, "get object: NoSuchKey (HTTP 404) (%s)", key);
    /* in two pieces, as a network would */
    for (size_t off = 0; off < o->data.len;) {
        size_t n = o->data.len - off > 7 ? 7 : o->data.len - off;

        if ((rc = sink(sink_ctx, o->data.buf + off, n, err)) < 0)
            return rc;
        off += n;
    }
    info->size = o->data.len;
    cjson_sha256_hex(o->data.buf ? o->data.buf : "", o->data.len, info->sha256);
    return 0;
}

static int fb_head(void *ctx, const char *key, uint64_t *size, omlop_err *err)
{
    const fobj *o = fb_find(ctx, key);

    if (!o)
        return omlop_err_set(err, OMLOP_ENOTFOUND, "head object: NotFound (HTTP 404) (%s)", key);
    *size = o->data.len;
    return 0;
}

static void fb_location(void *ctx, const char *key, strbuf *out)
{
    (void)ctx;
    strbuf_addf(out, "s3://b/backup/%s", key);
}

static void fb_init(fbucket *fb, restore_bucket *bk)
{
    memset(bk, 0, sizeof(*bk));
    bk->get = fb_get;
    bk->head = fb_head;
    bk->location = fb_location;
    bk->ctx = fb;
}

static void fb_release(fbucket *fb)
{
    for (size_t i = 0; i < fb->n; i++)
        strbuf_release(&fb->objs[i].data);
    fb->n = 0;
}

static int fb_bucket_open(void *ctx, const s3_config *cfg, restore_bucket *out, omlop_err *err)
{
    fbucket *fb = ctx;

    (void)err;
    snprintf(fb->endpoint, sizeof(fb->endpoint), "%s", cfg->endpoint);
    fb_init(fb, out);
    return 0;
}

static void fb_bucket_close(void *ctx, restore_bucket *bk)
{
    (void)ctx;
    (void)bk;
}

/* ---- the fake containers ----------------------------------------------------------------- */

#define DUMP_TEXT "PGDMP-the-whole-database-in-custom-format"
#define TAR_TEXT  "custom/extensions_custom.conf tar bytes"
#define SQL_TEXT  "CREATE TABLE agent (id int);\nINSERT INTO agent VALUES (1);\n"

typedef struct fio {
    strbuf log;         /* "op arg\n" per operation */
    const char *fail;   /* the op that fails: "stop X", "start X", "drop", "restore", ... */
    const char *counts; /* psql's answer to the counts */
    char db[32];        /* original, dropped, restored */
    int has_file;       /* the dump file is in the postgres container */
    strbuf put;         /* the bytes of the last PUT into the postgres container */
    uint64_t put_len;   /* announced */
    int n_exec;
} fio;

typedef struct fput {
    fio *f;
    char container[64], dir[64];
} fput;

static int cmd_has(const char *const *cmd, const char *s)
{
    for (size_t i = 0; cmd[i]; i++)
        if (strstr(cmd[i], s))
            return 1;
    return 0;
}

static int failing(fio *f, const char *op, omlop_err *err)
{
    if (f->fail && strcmp(f->fail, op) == 0)
        return omlop_err_set(err, OMLOP_EUNAVAIL, "host h1: %s: refused", op);
    return 0;
}

static int fio_exec(void *ctx, const char *container, const char *const *cmd, backup_sink_fn sink,
                    void *sink_ctx, int *exit_code, strbuf *err_out, omlop_err *err)
{
    fio *f = ctx;
    const char *op = cmd_has(cmd, "DROP DATABASE") ? "drop"
                     : cmd_has(cmd, "pg_restore")  ? "restore"
                     : cmd_has(cmd, "-f \"$1\"")   ? "psql"
                     : cmd_has(cmd, "count(*)")    ? "counts"
                     : strcmp(cmd[0], "rm") == 0   ? "rm"
                                                   : "other";
    int rc;

    f->n_exec++;
    *exit_code = 0;
    strbuf_addf(&f->log, "exec %s %s\n", op, container);
    if (f->fail && strcmp(f->fail, op) == 0) {
        strbuf_adds(err_out, "psql: error: something went wrong\n");
        *exit_code = 1;
        if (strcmp(op, "restore") == 0 || strcmp(op, "psql") == 0)
            f->has_file = 0; /* the command removes it either way */
        if (strcmp(op, "drop") == 0)
            snprintf(f->db, sizeof(f->db), "dropped");
        return 0;
    }
    if (strcmp(op, "drop") == 0)
        snprintf(f->db, sizeof(f->db), "dropped");
    else if (strcmp(op, "restore") == 0 || strcmp(op, "psql") == 0) {
        if (!f->has_file)
            return omlop_err_set(err, OMLOP_EIO, "no dump file");
        snprintf(f->db, sizeof(f->db), "restored");
        f->has_file = 0;
    } else if (strcmp(op, "rm") == 0) {
        f->has_file = 0;
    } else if (strcmp(op, "counts") == 0) {
        const char *out = f->counts ? f->counts : "public.agent|12\npublic.call_log|1000\n";

        if ((rc = sink(sink_ctx, out, strlen(out), err)) < 0)
            return rc;
    }
    return 0;
}

static int fio_put_open(void *ctx, const char *container, const char *dir, uint64_t len, void **w,
                        omlop_err *err)
{
    fio *f = ctx;
    fput *p;
    char op[128];

    snprintf(op, sizeof(op), "put %s", container);
    strbuf_addf(&f->log, "put %s %s\n", container, dir);
    if (failing(f, op, err) < 0)
        return err->code;
    p = calloc(1, sizeof(*p));
    p->f = f;
    snprintf(p->container, sizeof(p->container), "%s", container);
    snprintf(p->dir, sizeof(p->dir), "%s", dir);
    if (strcmp(container, "oml-postgresql-server") == 0) {
        strbuf_reset(&f->put);
        f->put_len = len;
    }
    *w = p;
    return 0;
}

static int fio_put_write(void *w, const char *data, size_t len, omlop_err *err)
{
    fput *p = w;

    (void)err;
    if (strcmp(p->container, "oml-postgresql-server") == 0)
        strbuf_add(&p->f->put, data, len);
    return 0;
}

static int fio_put_finish(void *w, omlop_err *err)
{
    fput *p = w;

    (void)err;
    if (strcmp(p->container, "oml-postgresql-server") == 0) {
        if (p->f->put.len != p->f->put_len) {
            free(p);
            return omlop_err_set(err, OMLOP_EPROTO, "announced and written lengths differ");
        }
        p->f->has_file = 1; /* Podman unpacks what it got */
    }
    free(p);
    return 0;
}

static void fio_put_abort(void *w)
{
    free(w);
}

static int fio_stop(void *ctx, const char *container, omlop_err *err)
{
    fio *f = ctx;
    char op[128];

    snprintf(op, sizeof(op), "stop %s", container);
    strbuf_addf(&f->log, "%s\n", op);
    return failing(f, op, err);
}

static int fio_start(void *ctx, const char *container, omlop_err *err)
{
    fio *f = ctx;
    char op[128];

    snprintf(op, sizeof(op), "start %s", container);
    strbuf_addf(&f->log, "%s\n", op);
    return failing(f, op, err);
}

static void fio_init(fio *f, restore_io *io)
{
    memset(io, 0, sizeof(*io));
    io->exec_stream = fio_exec;
    io->put_open = fio_put_open;
    io->put_write = fio_put_write;
    io->put_finish = fio_put_finish;
    io->put_abort = fio_put_abort;
    io->stop = fio_stop;
    io->start = fio_start;
    io->ctx = f;
    snprintf(f->db, sizeof(f->db), "original");
}

static void fio_release(fio *f)
{
    strbuf_release(&f->log);
    strbuf_release(&f->put);
}

/* ---- a backup in the bucket -------------------------------------------------------------- */

/* Put a backup of tenant at ts: dump, tar and a manifest; damaged: the part whose bytes are not
 * the manifest's ("database", "asterisk-custom" or NULL). */
static void seed_backup(fbucket *fb, const char *tenant, const char *ts, const char *damaged)
{
    char sha_db[65], sha_tar[65], key[256], manifest[2048];

    cjson_sha256_hex(DUMP_TEXT, strlen(DUMP_TEXT), sha_db);
    cjson_sha256_hex(TAR_TEXT, strlen(TAR_TEXT), sha_tar);
    snprintf(manifest, sizeof(manifest),
             "{\"tenant\":\"%s\",\"timestamp\":\"%s\",\"pgDumpVersion\":\"pg_dump (PostgreSQL) "
             "15.10\",\"parts\":["
             "{\"name\":\"database\",\"key\":\"%s/%s/pgsql-backup-%s.sql\",\"sizeBytes\":%zu,"
             "\"sha256\":\"%s\"},"
             "{\"name\":\"asterisk-custom\",\"key\":\"%s/%s/asterisk-custom.tar\",\"sizeBytes\":"
             "%zu,\"sha256\":\"%s\"}],"
             "\"tables\":{\"public.agent\":12,\"public.call_log\":1000}}",
             tenant, ts, tenant, ts, ts, strlen(DUMP_TEXT), sha_db, tenant, ts, strlen(TAR_TEXT),
             sha_tar);
    snprintf(key, sizeof(key), "%s/%s/pgsql-backup-%s.sql", tenant, ts, ts);
    if (damaged && strcmp(damaged, "database") == 0)
        fb_add(fb, key, "PGDMP-the-whole-database-in-custom-formaX", strlen(DUMP_TEXT));
    else
        fb_add(fb, key, DUMP_TEXT, strlen(DUMP_TEXT));
    snprintf(key, sizeof(key), "%s/%s/asterisk-custom.tar", tenant, ts);
    if (damaged && strcmp(damaged, "asterisk-custom") == 0)
        fb_add(fb, key, "not the tar", 11);
    else
        fb_add(fb, key, TAR_TEXT, strlen(TAR_TEXT));
    snprintf(key, sizeof(key), "%s/%s/manifest.json", tenant, ts);
    fb_add(fb, key, manifest, strlen(manifest));
}

static const char *const stop_order[] = {"oml-omlapp-server", "oml-asterisk-server", NULL};

static void job_init(restore_job *job)
{
    memset(job, 0, sizeof(*job));
    job->tenant = "t1";
    job->id = "uid-1";
    job->manifest = "t1/1700000000/manifest.json";
    job->pg_container = "oml-postgresql-server";
    job->asterisk_container = "oml-asterisk-server";
    job->stop = stop_order;
    job->n_stop = 2;
}

typedef struct run_fx {
    fbucket fb;
    restore_bucket bk;
    fio f;
    restore_io io;
    restore_job job;
    restore_outcome out;
    omlop_err err;
} run_fx;

static int run_setup(void **state)
{
    run_fx *fx = calloc(1, sizeof(*fx));

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    fb_init(&fx->fb, &fx->bk);
    fio_init(&fx->f, &fx->io);
    job_init(&fx->job);
    omlop_err_clear(&fx->err);
    seed_backup(&fx->fb, "t1", "1700000000", NULL);
    *state = fx;
    return 0;
}

static int run_teardown(void **state)
{
    run_fx *fx = *state;

    restore_outcome_release(&fx->out);
    fb_release(&fx->fb);
    fio_release(&fx->f);
    free(fx);
    return 0;
}

static int run(run_fx *fx)
{
    return restore_run(&fx->job, &fx->io, &fx->bk, &fx->out, &fx->err);
}

/* ---- restore_run ------------------------------------------------------------------------- */

static void test_run_all_steps_in_order(void **state)
{
    run_fx *fx = *state;

    if (run(fx) < 0)
        fail_msg("run: %s", fx->err.msg);
    assert_string_equal(fx->f.log.buf, "put oml-postgresql-server /tmp\n"
                                       "stop oml-omlapp-server\n"
                                       "stop oml-asterisk-server\n"
                                       "exec drop oml-postgresql-server\n"
                                       "exec restore oml-postgresql-server\n"
                                       "put oml-asterisk-server /etc/asterisk\n"
                                       "start oml-asterisk-server\n"
                                       "start oml-omlapp-server\n"
                                       "exec counts oml-postgresql-server\n");
    assert_int_equal(fx->out.done, (1u << RESTORE_STEP_COUNT) - 1);
    assert_string_equal(fx->out.verdict, RESTORE_VERIFY_PASSED);
    assert_int_equal(json_object_array_length(fx->out.differ), 0);
    assert_string_equal(fx->f.db, "restored");
    assert_int_equal(fx->f.has_file, 0);
    assert_string_equal(fx->out.source_version, "pg_dump (PostgreSQL) 15.10");
    /* the dump went in as one tar file: header, the bytes, padding, the end marker */
    assert_int_equal(fx->f.put.len, 512 + 512 + 1024);
    assert_memory_equal(fx->f.put.buf, "omlop-restore-uid-1.dump", 25);
    assert_memory_equal(fx->f.put.buf + 512, DUMP_TEXT, strlen(DUMP_TEXT));
}

/* The debug log times the dump's download and every step: bench/backup_bench.sh reads them. */
static void test_run_logs_step_times(void **state)
{
    run_fx *fx = *state;
    char *logbuf = NULL, want[128];
    size_t loglen = 0;
    FILE *lf = open_memstream(&logbuf, &loglen);
    int rc;

    assert_non_null(lf);
    log_configure(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, lf);
    rc = run(fx);
    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    fclose(lf);
    if (rc < 0)
        fail_msg("run: %s", fx->err.msg);
    snprintf(want, sizeof(want),
             " tenant=t1 restore_part=database bytes=%zu ms=", strlen(DUMP_TEXT));
    assert_non_null(strstr(logbuf, want));
    for (int i = 0; i < RESTORE_STEP_COUNT; i++) {
        snprintf(want, sizeof(want),
                 " tenant=t1 restore_step=\"%s\" ms=", restore_step_name((restore_step)i));
        if (!strstr(logbuf, want))
            fail_msg("no '%s' in the log: %s", want, logbuf);
    }
    free(logbuf);
}

static void test_run_damaged_dump_changes_nothing(void **state)
{
    run_fx *fx = *state;

    fb_release(&fx->fb);
    seed_backup(&fx->fb, "t1", "1700000000", "database");
    assert_true(run(fx) < 0);
    assert_int_equal(fx->out.failed, RESTORE_STEP_DOWNLOAD);
    assert_false(fx->out.is_after_drop);
    assert_int_equal(fx->out.done, 0);
    if (!strstr(fx->err.msg, "download: part database (t1/1700000000/pgsql-backup-1700000000.sql)"
                             ": SHA-256") ||
        !strstr(fx->err.msg, "the backup is damaged"))
        fail_msg("message: %s", fx->err.msg);
    /* nothing stopped, nothing dropped, the file put in removed again */
    assert_null(strstr(fx->f.log.buf, "stop "));
    assert_null(strstr(fx->f.log.buf, "drop"));
    assert_non_null(strstr(fx->f.log.buf, "exec rm oml-postgresql-server"));
    assert_string_equal(fx->f.db, "original");
    assert_int_equal(fx->f.has_file, 0);
}

static void test_run_damaged_tar_fails_before_anything_is_put(void **state)
{
    run_fx *fx = *state;

    fb_release(&fx->fb);
    seed_backup(&fx->fb, "t1", "1700000000", "asterisk-custom");
    assert_true(run(fx) < 0);
    assert_int_equal(fx->out.failed, RESTORE_STEP_DOWNLOAD);
    assert_false(fx->out.is_after_drop);
    if (!strstr(fx->err.msg, "part asterisk-custom (t1/1700000000/asterisk-custom.tar): SHA-256"))
        fail_msg("message: %s", fx->err.msg);
    assert_null(fx->f.log.buf); /* not a single operation on a container */
    assert_string_equal(fx->f.db, "original");
}

static void test_run_missing_manifest_names_it(void **state)
{
    run_fx *fx = *state;

    fx->job.manifest = "t1/1600000000/manifest.json";
    assert_true(run(fx) < 0);
    assert_int_equal(fx->out.failed, RESTORE_STEP_DOWNLOAD);
    if (!strstr(fx->err.msg, "download: manifest t1/1600000000/manifest.json: get object: "
                             "NoSuchKey (HTTP 404)"))
        fail_msg("message: %s", fx->err.msg);
    assert_null(fx->f.log.buf);
}

/* A failure at each step: its name, whether the drop had begun, what was left. */
static void test_run_failure_at_each_step(void **state)
{
    static const struct {
        const char *fail;
        restore_step step;
        int after_drop;
        const char *msg;
        const char *db;
    } rows[] = {
        {"put oml-postgresql-server", RESTORE_STEP_DOWNLOAD, 0, "download: host h1: put",
         "original"},
        {"stop oml-asterisk-server", RESTORE_STEP_STOP, 0,
         "stop components: oml-asterisk-server: host h1: stop", "original"},
        {"drop", RESTORE_STEP_DROP, 1, "drop database: exit status 1: psql: error", "dropped"},
        {"restore", RESTORE_STEP_RESTORE_DB, 1,
         "restore database (pg_restore): exit status 1: psql: error", "dropped"},
        {"put oml-asterisk-server", RESTORE_STEP_ASTERISK, 1, "restore asterisk files: host h1",
         "restored"},
        {"start oml-omlapp-server", RESTORE_STEP_START, 1,
         "start components: start oml-omlapp-server: host h1", "restored"},
        {"counts", RESTORE_STEP_VERIFY, 1, "verify: exec psql (row counts): exit status 1",
         "restored"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        run_fx *fx = NULL;
        int rc;

        run_setup((void **)&fx);
        fx->f.fail = rows[i].fail;
        rc = run(fx);
        if (rc >= 0 || fx->out.failed != rows[i].step ||
            fx->out.is_after_drop != rows[i].after_drop || !strstr(fx->err.msg, rows[i].msg) ||
            strcmp(fx->f.db, rows[i].db) != 0)
            fail_msg("row %zu (%s): rc %d, step %d, after drop %d, db %s, message: %s", i,
                     rows[i].fail, rc, fx->out.failed, fx->out.is_after_drop, fx->f.db,
                     fx->err.msg);
        /* the steps before are done, that one and those after not */
        assert_int_equal(fx->out.done, (1u << rows[i].step) - 1);
        /* no dump file outlives a failure */
        assert_int_equal(fx->f.has_file, 0);
        if (rows[i].step == RESTORE_STEP_STOP) {
            /* before the drop: the one stopped is started again */
            assert_non_null(strstr(fx->f.log.buf, "stop oml-omlapp-server\n"
                                                  "stop oml-asterisk-server\n"
                                                  "start oml-omlapp-server\n"));
            assert_null(strstr(fx->f.log.buf, "start oml-asterisk-server"));
        }
        run_teardown((void **)&fx);
    }
}

static void test_run_verification_mismatch_is_failed(void **state)
{
    run_fx *fx = *state;
    const json_object *d;

    fx->f.counts = "public.agent|12\npublic.call_log|998\n";
    assert_true(run(fx) < 0);
    assert_int_equal(fx->out.failed, RESTORE_STEP_VERIFY);
    assert_string_equal(fx->out.verdict, RESTORE_VERIFY_FAILED);
    assert_int_equal(json_object_array_length(fx->out.differ), 1);
    d = json_object_array_get_idx(fx->out.differ, 0);
    assert_string_equal(cjson_get_string(d, "table"), "public.call_log");
    assert_int_equal(cjson_get_int(d, "expected", -1), 1000);
    assert_int_equal(cjson_get_int(d, "actual", -1), 998);
    if (!strstr(fx->err.msg, "verify: 1 table(s) differ") ||
        !strstr(fx->err.msg, "public.call_log 1000 != 998"))
        fail_msg("message: %s", fx->err.msg);
    /* a table missing after the restore differs too */
    restore_outcome_release(&fx->out);
    fio_release(&fx->f);
    fio_init(&fx->f, &fx->io);
    fx->f.counts = "public.agent|12\n";
    assert_true(run(fx) < 0);
    if (!strstr(fx->err.msg, "public.call_log 1000 != missing 0"))
        fail_msg("message: %s", fx->err.msg);
}

static void test_run_plain_dump_counts_only(void **state)
{
    run_fx *fx = *state;

    fb_add(&fx->fb, "pgsql-backup-old.sql", SQL_TEXT, strlen(SQL_TEXT));
    fx->job.manifest = NULL;
    fx->job.object_key = "pgsql-backup-old.sql";
    fx->f.counts = "public.agent|1\n";
    if (run(fx) < 0)
        fail_msg("run: %s", fx->err.msg);
    assert_string_equal(fx->out.verdict, RESTORE_VERIFY_SKIPPED);
    assert_int_equal(cjson_get_int(fx->out.tables, "public\\.agent", -1) >= 0 ||
                         json_object_object_get_ex(fx->out.tables, "public.agent", NULL),
                     1);
    assert_non_null(strstr(fx->f.log.buf, "exec psql oml-postgresql-server"));
    assert_null(strstr(fx->f.log.buf, "pg_restore"));
    assert_null(strstr(fx->f.log.buf, "put oml-asterisk-server")); /* no tars in a plain dump */
    assert_memory_equal(fx->f.put.buf, "omlop-restore-uid-1.sql", 24);
    assert_memory_equal(fx->f.put.buf + 512, SQL_TEXT, strlen(SQL_TEXT));
    /* a key that is not there: download names it */
    restore_outcome_release(&fx->out);
    fx->job.object_key = "pgsql-backup-nosuch.sql";
    assert_true(run(fx) < 0);
    if (!strstr(fx->err.msg, "download: object pgsql-backup-nosuch.sql: head object"))
        fail_msg("message: %s", fx->err.msg);
}

static void test_decide_table(void **state)
{
    static const struct {
        const char *phase, *retry, *retried;
        int found, ready, mine;
        restore_action want;
    } rows[] = {
        {NULL, NULL, NULL, 1, 1, 0, RESTORE_ACT_RUN},
        {"Pending", NULL, NULL, 1, 1, 0, RESTORE_ACT_RUN},
        {"Pending", NULL, NULL, 1, 0, 0, RESTORE_ACT_WAIT},
        {NULL, NULL, NULL, 0, 0, 0, RESTORE_ACT_FAIL_NOTENANT},
        {"Running", NULL, NULL, 1, 1, 0, RESTORE_ACT_INTERRUPTED},
        {"Succeeded", "2", NULL, 1, 1, 0, RESTORE_ACT_NONE},
        {"Failed", NULL, NULL, 1, 1, 1, RESTORE_ACT_NONE}, /* never in a loop */
        {"Failed", "1", "1", 1, 1, 1, RESTORE_ACT_NONE},   /* that request was acted on */
        {"Failed", "", NULL, 1, 1, 1, RESTORE_ACT_NONE},   /* an empty value asks nothing */
        {"Failed", "2", "1", 1, 0, 1, RESTORE_ACT_RUN},    /* a new request, tenant held */
        {"Failed", "2", NULL, 1, 1, 0, RESTORE_ACT_RUN},   /* a new request, tenant Ready */
        {"Failed", "2", "1", 1, 0, 0, RESTORE_ACT_WAIT},   /* held by another, not Ready */
        {"Failed", "2", "1", 0, 0, 0, RESTORE_ACT_FAIL_NOTENANT},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        restore_action a = restore_decide(rows[i].phase, rows[i].retry, rows[i].retried,
                                          rows[i].found, rows[i].ready, rows[i].mine);

        if (a != rows[i].want)
            fail_msg("row %zu: got %d, want %d", i, a, rows[i].want);
    }
}

/* ---- restore_reconcile_tenant: status, the hold, Degraded, retries ------------------------ */

typedef struct fixture {
    char dir[64];
    store *st;
    fbucket fb;
    fio f;
    restore_io io;
    restore_env env;
} fixture;

static const char tenant_json[] =
    "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\","
    "\"metadata\":{\"name\":\"t1\",\"uid\":\"u-1\",\"generation\":3},"
    "\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"h1\",\"lanIP\":\"10.0.0.5\","
    "\"ssh\":{\"address\":\"10.0.0.5\",\"identitySecretRef\":{\"name\":\"t1-ssh\"}}}],"
    "\"network\":{\"infraEnv\":\"lan\",\"fqdn\":\"t1.example.com\"},"
    "\"objectStorage\":{\"bucketURL\":\"http://s3.test:8080\",\"bucketName\":\"omnileads\","
    "\"credentialsSecretRef\":{\"name\":\"t1-s3\"}},"
    "\"observability\":{\"enabled\":false},"
    "\"images\":{\"registry\":\"reg.test:5000\"}},"
    "\"status\":{\"phase\":\"Ready\"}}";

static const char secret_json[] =
    "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"t1-s3\"},"
    "\"stringData\":{\"accessKey\":\"lab:backup\",\"secretKey\":\"s3cret\"}}";

static void put(store *st, const char *key, const char *text)
{
    omlop_err err = OMLOP_ERR_INIT;

    if (store_create(st, key, text, strlen(text), NULL, &err) < 0)
        fail_msg("store_create %s: %s", key, err.msg);
}

static void put_restore(store *st, const char *name, const char *spec, const char *annotations,
                        const char *status)
{
    char text[2048], key[128];

    snprintf(text, sizeof(text),
             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Restore\",\"metadata\":{\"name\":"
             "\"%s\",\"uid\":\"ur-%s\",\"generation\":1%s%s},\"spec\":{\"tenantRef\":{\"name\":"
             "\"t1\"},%s}%s%s}",
             name, name, annotations ? ",\"annotations\":" : "", annotations ? annotations : "",
             spec, status ? ",\"status\":" : "", status ? status : "");
    snprintf(key, sizeof(key), "%s%s", RESTORE_KEY_PREFIX, name);
    put(st, key, text);
}

static json_object *get(fixture *fx, const char *plural, const char *name)
{
    json_object *o = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    if (obj_get(fx->st, plural, name, &o, NULL, &err) < 0)
        fail_msg("get %s %s: %s", plural, name, err.msg);
    return o;
}

/* The tenant's hold ("" when none) into out. */
static void hold_of(fixture *fx, char *out, size_t cap)
{
    json_object *t = get(fx, "tenants", "t1"), *v = NULL;

    snprintf(
        out, cap, "%s",
        json_object_object_get_ex(cjson_get(t, "metadata.annotations"), RESTORE_HOLD_ANNOTATION, &v)
            ? json_object_get_string(v)
            : "");
    json_object_put(t);
}

static void set_retry(fixture *fx, const char *name, const char *value)
{
    json_object *o = get(fx, "restores", name), *ann = json_object_new_object();
    const char *text;
    omlop_err err = OMLOP_ERR_INIT;
    store_kv kv = {0};
    char key[128];

    json_object_object_add(ann, RESTORE_RETRY_ANNOTATION, json_object_new_string(value));
    json_object_object_add(cjson_get(o, "metadata"), "annotations", ann);
    text = json_object_to_json_string(o);
    snprintf(key, sizeof(key), "%s%s", RESTORE_KEY_PREFIX, name);
    assert_int_equal(store_get(fx->st, key, &kv, &err), 0);
    if (store_update(fx->st, key, text, strlen(text), kv.mod_revision, NULL, &err) < 0)
        fail_msg("update: %s", err.msg);
    store_kv_release(&kv);
    json_object_put(o);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    store_options so;
    omlop_err err = OMLOP_ERR_INIT;

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/omlop-restore-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    store_options_default(&so);
    so.data_dir = fx->dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &fx->st, &err) < 0)
        fail_msg("store: %s", err.msg);
    put(fx->st, "/omlop/tenants/t1", tenant_json);
    put(fx->st, SECRETS_KEY_PREFIX "t1-s3", secret_json);
    seed_backup(&fx->fb, "t1", "1700000000", NULL);
    fio_init(&fx->f, &fx->io);
    fx->env.st = fx->st;
    fx->env.bucket_open = fb_bucket_open;
    fx->env.bucket_close = fb_bucket_close;
    fx->env.bucket_ctx = &fx->fb;
    fx->env.io = &fx->io;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char cmd[96];

    fb_release(&fx->fb);
    fio_release(&fx->f);
    store_close(fx->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", fx->dir);
    free(fx);
    return 0;
}

static void test_reconcile_succeeds_and_releases(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *r, *steps;
    char hold[64];

    put_restore(fx->st, "r1", "\"timestamp\":\"1700000000\"", NULL, NULL);
    if (restore_reconcile_tenant(&fx->env, "t1", 1, &err) < 0)
        fail_msg("reconcile: %s", err.msg);
    assert_string_equal(fx->fb.endpoint, "http://s3.test:8080");
    r = get(fx, "restores", "r1");
    assert_string_equal(cjson_get_string(r, "status.phase"), "Succeeded");
    assert_string_equal(cjson_get_string(r, "status.source"),
                        "s3://b/backup/t1/1700000000/manifest.json");
    assert_string_equal(cjson_get_string(r, "status.verification.result"), "Passed");
    steps = cjson_get(r, "status.steps");
    assert_int_equal(json_object_array_length(steps), RESTORE_STEP_COUNT);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(steps, 2)),
                        "drop database");
    json_object_put(r);
    hold_of(fx, hold, sizeof(hold));
    assert_string_equal(hold, "");
    /* the AIO tenant's writers, stopped in reverse start order, started in start order */
    assert_non_null(strstr(fx->f.log.buf, "put oml-postgresql-server /tmp\n"
                                          "stop oml-cron-server\n"
                                          "stop oml-interaction_processor-server\n"
                                          "stop oml-uwsgi-server\n"
                                          "stop oml-daphne-server\n"
                                          "stop oml-websockets-server\n"
                                          "stop oml-ami-server\n"
                                          "stop oml-kamailio-server\n"
                                          "stop oml-asterisk-retrieve-conf\n"
                                          "stop oml-asterisk-server\n"
                                          "stop oml-fastagi-server\n"
                                          "exec drop oml-postgresql-server\n"));
    assert_non_null(strstr(fx->f.log.buf, "start oml-fastagi-server\n"
                                          "start oml-asterisk-server\n"
                                          "start oml-asterisk-retrieve-conf\n"
                                          "start oml-kamailio-server\n"
                                          "start oml-ami-server\n"
                                          "start oml-websockets-server\n"
                                          "start oml-daphne-server\n"
                                          "start oml-uwsgi-server\n"
                                          "start oml-interaction_processor-server\n"
                                          "start oml-cron-server\n"
                                          "exec counts"));
    assert_null(strstr(fx->f.log.buf, "stop oml-postgresql-server"));
    assert_null(strstr(fx->f.log.buf, "stop oml-redis-server"));
    /* Succeeded is final */
    strbuf_reset(&fx->f.log);
    assert_int_equal(restore_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    assert_int_equal(fx->f.log.len, 0);
}

static void test_reconcile_failure_after_drop_holds_and_degrades_until_retry(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *r, *t;
    char hold[64];
    int n_exec;

    fx->f.fail = "restore";
    put_restore(fx->st, "r1", "\"timestamp\":\"1700000000\"", NULL, NULL);
    assert_int_equal(restore_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    r = get(fx, "restores", "r1");
    assert_string_equal(cjson_get_string(r, "status.phase"), "Failed");
    assert_string_equal(cjson_get_string(r, "status.failedStep"), "restore database");
    if (!strstr(cjson_get_string(r, "status.message"), "restore database (pg_restore): exit "
                                                       "status 1") ||
        !strstr(cjson_get_string(r, "status.message"), "omlop.io/retry"))
        fail_msg("message: %s", cjson_get_string(r, "status.message"));
    json_object_put(r);
    hold_of(fx, hold, sizeof(hold));
    assert_string_equal(hold, "r1");
    t = get(fx, "tenants", "t1");
    assert_string_equal(cjson_get_string(t, "status.phase"), "Degraded");
    {
        const json_object *c = cjson_get(t, "status.conditions");
        int seen = 0;

        for (size_t i = 0; c && i < json_object_array_length(c); i++) {
            const json_object *e = json_object_array_get_idx(c, i);
            const char *type = cjson_get_string(e, "type"), *st = cjson_get_string(e, "status");

            seen += strcmp(type, "Ready") == 0 && strcmp(st, "False") == 0;
            seen += strcmp(type, "Degraded") == 0 && strcmp(st, "True") == 0;
            seen += strcmp(type, "Restored") == 0 && strcmp(st, "False") == 0 &&
                    strstr(cjson_get_string(e, "message"), "restore database");
        }
        assert_int_equal(seen, 3);
    }
    json_object_put(t);
    /* not again by itself, not even with the tenant "Ready" */
    n_exec = fx->f.n_exec;
    assert_int_equal(restore_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    assert_int_equal(restore_reconcile_tenant(&fx->env, "t1", 0, &err), 0);
    assert_int_equal(fx->f.n_exec, n_exec);
    /* a retry request runs it (the tenant is held, so not Ready) and it goes through */
    fx->f.fail = NULL;
    set_retry(fx, "r1", "1");
    assert_int_equal(restore_reconcile_tenant(&fx->env, "t1", 0, &err), 0);
    r = get(fx, "restores", "r1");
    assert_string_equal(cjson_get_string(r, "status.phase"), "Succeeded");
    assert_string_equal(cjson_get_string(r, "status.retry"), "1");
    json_object_put(r);
    hold_of(fx, hold, sizeof(hold));
    assert_string_equal(hold, "");
}

static void test_reconcile_failure_before_drop_changes_nothing(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *r, *t;
    char hold[64];

    fb_release(&fx->fb);
    seed_backup(&fx->fb, "t1", "1700000000", "database");
    put_restore(fx->st, "r1", "\"timestamp\":\"1700000000\"", "{\"omlop.io/retry\":\"a\"}", NULL);
    assert_int_equal(restore_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    r = get(fx, "restores", "r1");
    assert_string_equal(cjson_get_string(r, "status.phase"), "Failed");
    assert_string_equal(cjson_get_string(r, "status.failedStep"), "download");
    assert_non_null(strstr(cjson_get_string(r, "status.message"), "nothing was changed"));
    assert_int_equal(json_object_array_length(cjson_get(r, "status.steps")), 0);
    /* a retry annotation there from the start is not a new request */
    assert_string_equal(cjson_get_string(r, "status.retry"), "a");
    json_object_put(r);
    hold_of(fx, hold, sizeof(hold));
    assert_string_equal(hold, "");
    t = get(fx, "tenants", "t1");
    assert_string_equal(cjson_get_string(t, "status.phase"), "Ready");
    json_object_put(t);
    assert_string_equal(fx->f.db, "original");
    fx->f.n_exec = 0;
    assert_int_equal(restore_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    assert_int_equal(fx->f.n_exec, 0);
}

static void test_reconcile_verification_failure_releases_the_tenant(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *r;
    char hold[64];

    fx->f.counts = "public.agent|11\npublic.call_log|1000\n";
    put_restore(fx->st, "r1", "\"timestamp\":\"1700000000\"", NULL, NULL);
    assert_int_equal(restore_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    r = get(fx, "restores", "r1");
    assert_string_equal(cjson_get_string(r, "status.phase"), "Failed");
    assert_string_equal(cjson_get_string(r, "status.failedStep"), "verify");
    assert_string_equal(cjson_get_string(r, "status.verification.result"), "Failed");
    assert_string_equal(
        cjson_get_string(json_object_array_get_idx(cjson_get(r, "status.verification.differ"), 0),
                         "table"),
        "public.agent");
    json_object_put(r);
    /* the components run again: nothing to hold them for */
    hold_of(fx, hold, sizeof(hold));
    assert_string_equal(hold, "");
}

static void test_reconcile_another_tenants_backup(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *r;

    seed_backup(&fx->fb, "other", "1690000000", NULL);
    put(fx->st, BACKUP_KEY_PREFIX "other-bk",
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
        "\"other-bk\",\"uid\":\"ub\"},\"spec\":{\"tenantRef\":{\"name\":\"other\"}},"
        "\"status\":{\"phase\":\"Completed\",\"timestamp\":\"1690000000\"}}");
    put(fx->st, BACKUP_KEY_PREFIX "half",
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
        "\"half\",\"uid\":\"uh\"},\"spec\":{\"tenantRef\":{\"name\":\"t1\"}},"
        "\"status\":{\"phase\":\"Failed\",\"timestamp\":\"1690000001\"}}");
    put_restore(fx->st, "r1", "\"backupRef\":{\"name\":\"other-bk\"}", NULL, NULL);
    assert_int_equal(restore_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    r = get(fx, "restores", "r1");
    assert_string_equal(cjson_get_string(r, "status.phase"), "Succeeded");
    assert_string_equal(cjson_get_string(r, "status.source"),
                        "s3://b/backup/other/1690000000/manifest.json");
    json_object_put(r);
    /* by timestamp and source.tenant too */
    put_restore(fx->st, "r2", "\"timestamp\":\"1690000000\",\"source\":{\"tenant\":\"other\"}",
                NULL, NULL);
    assert_int_equal(restore_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    r = get(fx, "restores", "r2");
    assert_string_equal(cjson_get_string(r, "status.phase"), "Succeeded");
    json_object_put(r);
    /* a Backup that did not complete is nothing to restore from: Failed, nothing touched */
    put_restore(fx->st, "r3", "\"backupRef\":{\"name\":\"half\"}", NULL, NULL);
    strbuf_reset(&fx->f.log);
    assert_int_equal(restore_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    r = get(fx, "restores", "r3");
    assert_string_equal(cjson_get_string(r, "status.phase"), "Failed");
    assert_non_null(strstr(cjson_get_string(r, "status.message"), "Backup half is Failed"));
    json_object_put(r);
    assert_int_equal(fx->f.log.len, 0);
}

/* A Succeeded restore whose hold was not lifted (the release failed): the next call lifts it. */
static void test_reconcile_lifts_a_stale_hold(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *t = get(fx, "tenants", "t1");
    const char *text;
    store_kv kv = {0};
    char hold[64];

    json_object_object_add(cjson_get(t, "metadata"), "annotations", json_object_new_object());
    json_object_object_add(cjson_get(t, "metadata.annotations"), RESTORE_HOLD_ANNOTATION,
                           json_object_new_string("r1"));
    text = json_object_to_json_string(t);
    assert_int_equal(store_get(fx->st, "/omlop/tenants/t1", &kv, &err), 0);
    assert_int_equal(
        store_update(fx->st, "/omlop/tenants/t1", text, strlen(text), kv.mod_revision, NULL, &err),
        0);
    store_kv_release(&kv);
    json_object_put(t);
    put_restore(fx->st, "r1", "\"timestamp\":\"1700000000\"", NULL, "{\"phase\":\"Succeeded\"}");
    assert_int_equal(restore_reconcile_tenant(&fx->env, "t1", 0, &err), 0);
    hold_of(fx, hold, sizeof(hold));
    assert_string_equal(hold, "");
    assert_null(fx->f.log.buf); /* and nothing run */
}

static void test_reconcile_interrupted_is_failed_and_degraded(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *r, *t;

    put_restore(fx->st, "r1", "\"timestamp\":\"1700000000\"", NULL,
                "{\"phase\":\"Running\",\"steps\":[]}");
    assert_int_equal(restore_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    r = get(fx, "restores", "r1");
    assert_string_equal(cjson_get_string(r, "status.phase"), "Failed");
    assert_string_equal(cjson_get_string(r, "status.failedStep"), "interrupted");
    assert_non_null(strstr(cjson_get_string(r, "status.message"), "interrupted: omlopd stopped"));
    json_object_put(r);
    t = get(fx, "tenants", "t1");
    assert_string_equal(cjson_get_string(t, "status.phase"), "Degraded");
    json_object_put(t);
    assert_null(fx->f.log.buf); /* never resumed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_table),
        cmocka_unit_test_setup_teardown(test_run_all_steps_in_order, run_setup, run_teardown),
        cmocka_unit_test_setup_teardown(test_run_logs_step_times, run_setup, run_teardown),
        cmocka_unit_test_setup_teardown(test_run_damaged_dump_changes_nothing, run_setup,
                                        run_teardown),
        cmocka_unit_test_setup_teardown(test_run_damaged_tar_fails_before_anything_is_put,
                                        run_setup, run_teardown),
        cmocka_unit_test_setup_teardown(test_run_missing_manifest_names_it, run_setup,
                                        run_teardown),
        cmocka_unit_test(test_run_failure_at_each_step),
        cmocka_unit_test_setup_teardown(test_run_verification_mismatch_is_failed, run_setup,
                                        run_teardown),
        cmocka_unit_test_setup_teardown(test_run_plain_dump_counts_only, run_setup, run_teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_succeeds_and_releases, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_reconcile_failure_after_drop_holds_and_degrades_until_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_failure_before_drop_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_verification_failure_releases_the_tenant,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_another_tenants_backup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_interrupted_is_failed_and_degraded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_lifts_a_stale_hold, setup, teardown),
    };

    return cmocka_run_group_tests_name("restore reconciler", tests, NULL, NULL);
}
