/*
 * Tests for the Backup reconciler (reconcilers/backup.h) with fakes for the container side
 * (exec and archive streams) and the bucket (objects and pending uploads in memory): the state
 * machine, the manifest, the step-named errors, cleanup after a failure, and the restart case
 * (a Backup left Running by a stopped omlopd is marked Failed and its uploads aborted).
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
#include "reconcilers/backup.h"
#include "reconcilers/secrets.h"
#include "store/store.h"

/* ---- the fake bucket --------------------------------------------------------------------- */

#define FB_MAX 32

typedef struct fobj {
    char key[S3_MAX_KEY];
    strbuf data;
} fobj;

typedef struct fbucket {
    fobj objs[FB_MAX];
    size_t n_objs;
    char pending[FB_MAX][S3_MAX_KEY];
    size_t n_pending;
    int aborts;        /* writer aborts */
    int fail_at_write; /* the n-th write (1-based, over all writers) fails; 0: never */
    int writes;
    const char *fail_op;            /* the S3 operation the failure names; NULL: "upload part 3" */
    char endpoint[256], access[64]; /* what the destination resolved to */
} fbucket;

typedef struct fwriter {
    fbucket *fb;
    char key[S3_MAX_KEY];
    strbuf data;
} fwriter;

static void pending_drop(fbucket *fb, const char *key)
{
    for (size_t i = 0; i < fb->n_pending; i++)
        if (strcmp(fb->pending[i], key) == 0) {
            memmove(fb->pending[i], fb->pending[i + 1],
                    (fb->n_pending - i - 1) * sizeof(fb->pending[0]));
            fb->n_pending--;
            return;
        }
}

static int fb_open(void *ctx, const char *key, void **w, omlop_err *err)
{
    fbucket *fb = ctx;
    fwriter *fw = calloc(1, sizeof(*fw));

    (void)err;
    fw->fb = fb;
    snprintf(fw->key, sizeof(fw->key), "%s", key);
    strbuf_init(&fw->data);
    snprintf(fb->pending[fb->n_pending++], S3_MAX_KEY, "%s", key);
    *w = fw;
    return 0;
}

static int fb_write(void *w, const char *data, size_t len, omlop_err *err)
{
    fwriter *fw = w;

    if (fw->fb->fail_at_write && ++fw->fb->writes == fw->fb->fail_at_write)
        return omlop_err_set(err, OMLOP_EAUTH,
                             "%s: SignatureDoesNotMatch (HTTP 403): The request "
                             "signature we calculated does not match (s3://b/backup/%s)",
                             fw->fb->fail_op ? fw->fb->fail_op : "upload part 3", fw->key);
    strbuf_add(&fw->data, data, len);
    return 0;
}

static void fobj_add(fbucket *fb, const char *key, const char *data, size_t len)
{
    fobj *o = &fb->objs[fb->n_objs++];

    snprintf(o->key, sizeof(o->key), "%s", key);
    strbuf_init(&o->data);
    strbuf_add(&o->data, data, len);
}

static int fb_finish(void *w, s3_object_info *info, omlop_err *err)
{
    fwriter *fw = w;

    (void)err;
    fobj_add(fw->fb, fw->key, fw->data.buf ? fw->data.buf : "", fw->data.len);
    pending_drop(fw->fb, fw->key);
    info->size = fw->data.len;
    cjson_sha256_hex(fw->data.buf ? fw->data.buf : "", fw->data.len, info->sha256);
    strbuf_release(&fw->data);
    free(fw);
    return 0;
}

static int fb_abort(void *w, omlop_err *err)
{
    fwriter *fw = w;

    (void)err;
    fw->fb->aborts++;
    pending_drop(fw->fb, fw->key);
    strbuf_release(&fw->data);
    free(fw);
    return 0;
}

static int fb_put(void *ctx, const char *key, const char *data, size_t len, s3_object_info *info,
                  omlop_err *err)
{
    (void)err;
    fobj_add(ctx, key, data, len);
    info->size = len;
    cjson_sha256_hex(data, len, info->sha256);
    return 0;
}

static int fb_abort_pending(void *ctx, const char *prefix, size_t *n, omlop_err *err)
{
    fbucket *fb = ctx;

    (void)err;
    *n = 0;
    for (size_t i = 0; i < fb->n_pending;)
        if (strncmp(fb->pending[i], prefix, strlen(prefix)) == 0) {
            pending_drop(fb, fb->pending[i]);
            (*n)++;
        } else
            i++;
    return 0;
}

static int fb_delete_prefix(void *ctx, const char *prefix, size_t *n, omlop_err *err)
{
    fbucket *fb = ctx;

    (void)err;
    *n = 0;
    for (size_t i = 0; i < fb->n_objs;)
        if (strncmp(fb->objs[i].key, prefix, strlen(prefix)) == 0) {
            strbuf_release(&fb->objs[i].data);
            memmove(&fb->objs[i], &fb->objs[i + 1], (fb->n_objs - i - 1) * sizeof(fobj));
            fb->n_objs--;
            (*n)++;
        } else
            i++;
    return 0;
}

static void fb_location(void *ctx, const char *key, strbuf *out)
{
    (void)ctx;
    strbuf_addf(out, "s3://b/backup/%s", key);
}

static void fb_init(fbucket *fb, backup_bucket *bk)
{
    memset(bk, 0, sizeof(*bk));
    bk->writer_open = fb_open;
    bk->writer_write = fb_write;
    bk->writer_finish = fb_finish;
    bk->writer_abort = fb_abort;
    bk->put = fb_put;
    bk->abort_pending = fb_abort_pending;
    bk->delete_prefix = fb_delete_prefix;
    bk->location = fb_location;
    bk->ctx = fb;
}

static void fb_release(fbucket *fb)
{
    for (size_t i = 0; i < fb->n_objs; i++)
        strbuf_release(&fb->objs[i].data);
    fb->n_objs = 0;
}

static const fobj *fb_find(const fbucket *fb, const char *key)
{
    for (size_t i = 0; i < fb->n_objs; i++)
        if (strcmp(fb->objs[i].key, key) == 0)
            return &fb->objs[i];
    return NULL;
}

static int fb_bucket_open(void *ctx, const s3_config *cfg, backup_bucket *out, omlop_err *err)
{
    fbucket *fb = ctx;

    (void)err;
    snprintf(fb->endpoint, sizeof(fb->endpoint), "%s", cfg->endpoint);
    snprintf(fb->access, sizeof(fb->access), "%s", cfg->access_key);
    fb_init(fb, out);
    return 0;
}

static void fb_bucket_close(void *ctx, backup_bucket *bk)
{
    (void)ctx;
    (void)bk;
}

/* ---- the fake containers ----------------------------------------------------------------- */

static const char dump_pieces[3][16] = {"PGDMP\x01\x0e", "-rows-of-data-", "-end"};
#define DUMP_TEXT "PGDMP\x01\x0e-rows-of-data--end"

typedef struct fio {
    int dump_exit;      /* pg_dump's exit status */
    int counts_garbage; /* psql answers something that is not counts */
    char containers[8][64];
    int n_exec;
} fio;

static int cmd_has(const char *const *cmd, const char *s)
{
    for (size_t i = 0; cmd[i]; i++)
        if (strstr(cmd[i], s))
            return 1;
    return 0;
}

static int fio_exec(void *ctx, const char *container, const char *const *cmd, backup_sink_fn sink,
                    void *sink_ctx, int *exit_code, strbuf *err_out, omlop_err *err)
{
    fio *f = ctx;
    const char *out = "";
    int rc;

    if (f->n_exec < 8)
        snprintf(f->containers[f->n_exec++], 64, "%s", container);
    *exit_code = 0;
    if (strcmp(cmd[0], "pg_dump") == 0)
        out = "pg_dump (PostgreSQL) 15.10 (Debian 15.10-0+deb12u1)\n";
    else if (cmd_has(cmd, "psql"))
        out = f->counts_garbage ? "ERROR-ish\n" : "public.agents|2\npublic.calls|3\n";
    else if (cmd_has(cmd, "pg_dump -Fc")) {
        if (f->dump_exit) {
            strbuf_adds(err_out, "pg_dump: error: connection to server failed\n");
            *exit_code = f->dump_exit;
            return 0;
        }
        for (int i = 0; i < 3; i++)
            if ((rc = sink(sink_ctx, dump_pieces[i], strlen(dump_pieces[i]), err)) < 0)
                return rc;
        return 0;
    }
    return sink(sink_ctx, out, strlen(out), err);
}

static int fio_archive(void *ctx, const char *container, const char *path, backup_sink_fn sink,
                       void *sink_ctx, omlop_err *err)
{
    (void)ctx;
    if (strcmp(path, "/etc/asterisk/custom") != 0)
        return omlop_err_set(err, OMLOP_ENOTFOUND, "no %s in %s", path, container);
    return sink(sink_ctx, "custom-tar", 10, err);
}

static void fio_init(fio *f, backup_io *io)
{
    memset(io, 0, sizeof(*io));
    io->exec_stream = fio_exec;
    io->archive_get = fio_archive;
    io->ctx = f;
}

/* ---- backup_decide ----------------------------------------------------------------------- */

static void test_decide_table(void **state)
{
    static const struct {
        const char *phase;
        int found, ready;
        backup_action want;
    } rows[] = {
        {NULL, 1, 1, BACKUP_ACT_RUN},
        {"", 1, 1, BACKUP_ACT_RUN},
        {"Pending", 1, 1, BACKUP_ACT_RUN},
        {"Pending", 1, 0, BACKUP_ACT_WAIT},
        {NULL, 1, 0, BACKUP_ACT_WAIT},
        {NULL, 0, 0, BACKUP_ACT_FAIL_NOTENANT},
        {"Pending", 0, 1, BACKUP_ACT_FAIL_NOTENANT},
        {"Running", 1, 1, BACKUP_ACT_INTERRUPTED}, /* never resumed as if still running */
        {"Running", 0, 0, BACKUP_ACT_INTERRUPTED},
        {"Completed", 1, 1, BACKUP_ACT_NONE},
        {"Completed", 0, 0, BACKUP_ACT_NONE},
        {"Failed", 1, 1, BACKUP_ACT_NONE}, /* never retried in a loop */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        backup_action a = backup_decide(rows[i].phase, rows[i].found, rows[i].ready);

        if (a != rows[i].want)
            fail_msg("row %zu (%s, found %d, ready %d): got %d, want %d", i,
                     rows[i].phase ? rows[i].phase : "(none)", rows[i].found, rows[i].ready, a,
                     rows[i].want);
    }
}

/* ---- backup_run and the manifest --------------------------------------------------------- */

static void job_init(backup_job *job)
{
    memset(job, 0, sizeof(*job));
    job->tenant = "t1";
    job->backup = "b1";
    job->timestamp = "1700000000";
    job->tenant_generation = 4;
    job->pg_container = "oml-postgresql-server";
    job->asterisk_container = "oml-asterisk-server";
    job->started_at = "2026-01-01T00:00:00Z";
}

static void test_run_streams_parts_and_writes_manifest(void **state)
{
    fbucket fb;
    fio f;
    backup_bucket bk;
    backup_io io;
    backup_job job;
    backup_outcome out;
    omlop_err err = OMLOP_ERR_INIT;
    const fobj *m, *d, *c;
    json_object *mj;
    char sha[65];

    (void)state;
    memset(&fb, 0, sizeof(fb));
    memset(&f, 0, sizeof(f));
    fb_init(&fb, &bk);
    fio_init(&f, &io);
    job_init(&job);
    if (backup_run(&job, &io, &bk, &out, &err) < 0)
        fail_msg("backup_run: %s", err.msg);
    /* the dump and the custom tar; the override directory is absent: no part for it */
    assert_int_equal(out.n_parts, 2);
    assert_string_equal(out.parts[0].name, "database");
    assert_string_equal(out.parts[0].key, "t1/1700000000/pgsql-backup-1700000000.sql");
    assert_string_equal(out.parts[1].name, "asterisk-custom");
    assert_string_equal(out.parts[1].key, "t1/1700000000/asterisk-custom.tar");
    assert_int_equal(fb.n_objs, 3);
    assert_int_equal(fb.n_pending, 0);
    assert_int_equal(fb.aborts, 1); /* the override writer, opened before it was found absent */
    d = fb_find(&fb, out.parts[0].key);
    assert_non_null(d);
    assert_int_equal(d->data.len, strlen(DUMP_TEXT));
    assert_memory_equal(d->data.buf, DUMP_TEXT, strlen(DUMP_TEXT));
    cjson_sha256_hex(DUMP_TEXT, strlen(DUMP_TEXT), sha);
    assert_string_equal(out.parts[0].sha256, sha);
    c = fb_find(&fb, out.parts[1].key);
    assert_non_null(c);
    assert_int_equal(c->data.len, 10);
    m = fb_find(&fb, "t1/1700000000/manifest.json");
    assert_non_null(m);
    assert_string_equal(out.manifest_key, "t1/1700000000/manifest.json");
    /* the manifest: what the issue lists, checksums equal to the objects' */
    mj = json_tokener_parse(m->data.buf);
    assert_non_null(mj);
    assert_string_equal(cjson_get_string(mj, "tenant"), "t1");
    assert_string_equal(cjson_get_string(mj, "backup"), "b1");
    assert_string_equal(cjson_get_string(mj, "timestamp"), "1700000000");
    assert_int_equal(cjson_get_int(mj, "tenantGeneration", -1), 4);
    assert_string_equal(cjson_get_string(mj, "pgDumpVersion"),
                        "pg_dump (PostgreSQL) 15.10 (Debian 15.10-0+deb12u1)");
    assert_string_equal(cjson_get_string(mj, "startedAt"), "2026-01-01T00:00:00Z");
    assert_non_null(cjson_get_string(mj, "finishedAt"));
    assert_int_equal(json_object_get_int64(json_object_object_get(
                         json_object_object_get(mj, "tables"), "public.calls")),
                     3);
    assert_int_equal(json_object_get_int64(json_object_object_get(
                         json_object_object_get(mj, "tables"), "public.agents")),
                     2);
    assert_int_equal(json_object_array_length(json_object_object_get(mj, "parts")), 2);
    {
        json_object *p0 = json_object_array_get_idx(json_object_object_get(mj, "parts"), 0);

        assert_string_equal(cjson_get_string(p0, "sha256"), sha);
        assert_int_equal(cjson_get_int(p0, "sizeBytes", -1), (int64_t)strlen(DUMP_TEXT));
        assert_string_equal(cjson_get_string(p0, "format"), "pg_dump -Fc");
    }
    json_object_put(mj);
    /* every exec ran in the postgres container */
    for (int i = 0; i < f.n_exec; i++)
        assert_string_equal(f.containers[i], "oml-postgresql-server");
    fb_release(&fb);
}

/* The debug log times the dump part and the manifest: bench/backup_bench.sh reads them. */
static void test_run_logs_part_times(void **state)
{
    fbucket fb;
    fio f;
    backup_bucket bk;
    backup_io io;
    backup_job job;
    backup_outcome out;
    omlop_err err = OMLOP_ERR_INIT;
    char *logbuf = NULL, want[128];
    size_t loglen = 0;
    FILE *lf = open_memstream(&logbuf, &loglen);
    int rc;

    (void)state;
    assert_non_null(lf);
    memset(&fb, 0, sizeof(fb));
    memset(&f, 0, sizeof(f));
    fb_init(&fb, &bk);
    fio_init(&f, &io);
    job_init(&job);
    log_configure(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, lf);
    rc = backup_run(&job, &io, &bk, &out, &err);
    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    fclose(lf);
    if (rc < 0)
        fail_msg("backup_run: %s", err.msg);
    snprintf(want, sizeof(want),
             " tenant=t1 backup=b1 backup_part=database bytes=%zu ms=", strlen(DUMP_TEXT));
    assert_non_null(strstr(logbuf, want));
    assert_non_null(
        strstr(logbuf, " tenant=t1 backup=b1 backup_part=asterisk-custom bytes=10 ms="));
    assert_non_null(strstr(logbuf, " tenant=t1 backup=b1 backup_step=manifest ms="));
    free(logbuf);
    fb_release(&fb);
}

static void test_manifest_refuses_bad_counts(void **state)
{
    backup_job job;
    backup_outcome out;
    strbuf js = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    static const char *const bad[] = {"public.a|x\n", "public.a\n", "|3\n", "public.a|-1\n",
                                      "public.a|\n"};

    (void)state;
    job_init(&job);
    memset(&out, 0, sizeof(out));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        omlop_err_clear(&err);
        assert_int_equal(backup_manifest_build(&job, &out, bad[i], "v", &js, &err), OMLOP_EPROTO);
        assert_non_null(strstr(err.msg, "row counts"));
    }
    /* at the edge: empty counts (a database without tables), a table name with '|' */
    assert_int_equal(backup_manifest_build(&job, &out, "", "v", &js, &err), 0);
    assert_int_equal(backup_manifest_build(&job, &out, "public.a|b|0\r\n", "v", &js, &err), 0);
    assert_non_null(strstr(js.buf, "\"public.a|b\": 0"));
    strbuf_release(&js);
}

static void test_run_pg_dump_failure_names_step_and_leaves_nothing(void **state)
{
    fbucket fb;
    fio f;
    backup_bucket bk;
    backup_io io;
    backup_job job;
    backup_outcome out;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    memset(&fb, 0, sizeof(fb));
    memset(&f, 0, sizeof(f));
    f.dump_exit = 1;
    fb_init(&fb, &bk);
    fio_init(&f, &io);
    job_init(&job);
    assert_true(backup_run(&job, &io, &bk, &out, &err) < 0);
    assert_string_equal(err.msg,
                        "exec pg_dump: exit status 1: pg_dump: error: connection to server failed");
    assert_int_equal(fb.n_objs, 0);
    assert_int_equal(fb.n_pending, 0);
    assert_int_equal(fb.aborts, 1);
}

static void test_run_upload_failure_names_part_and_leaves_nothing(void **state)
{
    fbucket fb;
    fio f;
    backup_bucket bk;
    backup_io io;
    backup_job job;
    backup_outcome out;
    omlop_err err = OMLOP_ERR_INIT;

    static const char *const ops[] = {"upload part 3", "create multipart upload"};

    (void)state;
    for (int at = 1; at <= 8; at++) { /* each dump piece, then the custom tar; two S3 steps */
        const char *op = ops[(at - 1) / 4];
        char want[128];

        memset(&fb, 0, sizeof(fb));
        memset(&f, 0, sizeof(f));
        fb.fail_at_write = (at - 1) % 4 + 1;
        fb.fail_op = op;
        fb_init(&fb, &bk);
        fio_init(&f, &io);
        job_init(&job);
        assert_true(backup_run(&job, &io, &bk, &out, &err) < 0);
        assert_int_equal(err.code, OMLOP_EAUTH);
        /* S3's words first, as they are: no "exec pg_dump:" before a bucket error */
        snprintf(want, sizeof(want), "%s: SignatureDoesNotMatch (HTTP 403)", op);
        if (strncmp(err.msg, want, strlen(want)) != 0)
            fail_msg("write %d: %s", at, err.msg);
        /* the dump written before the tar failed is deleted too: no half backup */
        if (fb.n_objs != 0 || fb.n_pending != 0)
            fail_msg("write %d: %zu object(s), %zu pending left", at, fb.n_objs, fb.n_pending);
        fb_release(&fb);
    }
}

static void test_run_bad_counts_fail_before_any_upload(void **state)
{
    fbucket fb;
    fio f;
    backup_bucket bk;
    backup_io io;
    backup_job job;
    backup_outcome out;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    memset(&fb, 0, sizeof(fb));
    memset(&f, 0, sizeof(f));
    f.counts_garbage = 1;
    fb_init(&fb, &bk);
    fio_init(&f, &io);
    job_init(&job);
    assert_true(backup_run(&job, &io, &bk, &out, &err) < 0);
    assert_non_null(strstr(err.msg, "row counts"));
    assert_int_equal(fb.n_objs, 0);
    assert_int_equal(fb.n_pending, 0);
}

/* ---- backup_reconcile_tenant over a store ------------------------------------------------ */

typedef struct fixture {
    char dir[64];
    store *st;
    fbucket fb;
    fio f;
    backup_io io;
    backup_env env;
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
    "\"images\":{\"registry\":\"reg.test:5000\"}}}";

static const char secret_json[] =
    "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"t1-s3\"},"
    "\"stringData\":{\"accessKey\":\"lab:backup\",\"secretKey\":\"s3cret\"}}";

static void put(store *st, const char *key, const char *text)
{
    omlop_err err = OMLOP_ERR_INIT;

    if (store_create(st, key, text, strlen(text), NULL, &err) < 0)
        fail_msg("store_create %s: %s", key, err.msg);
}

static void put_backup(store *st, const char *name, const char *tenant, const char *status)
{
    char text[1024];
    char key[128];

    snprintf(text, sizeof(text),
             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
             "\"%s\",\"uid\":\"ub-%s\",\"generation\":1},\"spec\":{\"tenantRef\":{\"name\":\"%s\"}}"
             "%s%s}",
             name, name, tenant, status ? ",\"status\":" : "", status ? status : "");
    snprintf(key, sizeof(key), "%s%s", BACKUP_KEY_PREFIX, name);
    put(st, key, text);
}

static json_object *get_backup(fixture *fx, const char *name)
{
    json_object *o = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    if (obj_get(fx->st, "backups", name, &o, NULL, &err) < 0)
        fail_msg("get backup %s: %s", name, err.msg);
    return o;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    store_options so;
    omlop_err err = OMLOP_ERR_INIT;

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/omlop-backup-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    store_options_default(&so);
    so.data_dir = fx->dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &fx->st, &err) < 0)
        fail_msg("store: %s", err.msg);
    put(fx->st, "/omlop/tenants/t1", tenant_json);
    put(fx->st, SECRETS_KEY_PREFIX "t1-s3", secret_json);
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
    store_close(fx->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", fx->dir);
    free(fx);
    return 0;
}

static void test_reconcile_pending_to_completed(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *b, *parts;
    const char *ts;
    char key[256];

    put_backup(fx->st, "b1", "t1", NULL);
    put_backup(fx->st, "other", "t2", NULL); /* another tenant's: not touched */
    if (backup_reconcile_tenant(&fx->env, "t1", 1, &err) < 0)
        fail_msg("reconcile: %s", err.msg);
    /* the destination: the tenant's objectStorage and its Secret */
    assert_string_equal(fx->fb.endpoint, "http://s3.test:8080");
    assert_string_equal(fx->fb.access, "lab:backup");
    b = get_backup(fx, "b1");
    assert_string_equal(cjson_get_string(b, "status.phase"), "Completed");
    ts = cjson_get_string(b, "status.timestamp");
    assert_non_null(ts);
    assert_non_null(cjson_get_string(b, "status.startedAt"));
    assert_non_null(cjson_get_string(b, "status.finishedAt"));
    assert_int_equal(cjson_get_int(b, "status.observedGeneration", -1), 1);
    parts = cjson_get(b, "status.parts");
    assert_int_equal(json_object_array_length(parts), 2);
    snprintf(key, sizeof(key), "s3://b/backup/t1/%s/pgsql-backup-%s.sql", ts, ts);
    assert_string_equal(cjson_get_string(json_object_array_get_idx(parts, 0), "location"), key);
    assert_int_equal(cjson_get_int(b, "status.sizeBytes", -1), (int64_t)strlen(DUMP_TEXT) + 10);
    snprintf(key, sizeof(key), "t1/%s/manifest.json", ts);
    assert_non_null(fb_find(&fx->fb, key));
    json_object_put(b);
    b = get_backup(fx, "other");
    assert_null(cjson_get(b, "status"));
    json_object_put(b);
    /* a second call does nothing more: Completed is final */
    assert_int_equal(backup_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    assert_int_equal(fx->fb.n_objs, 3);
}

static void test_reconcile_failure_is_failed_with_step(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *b;

    fx->fb.fail_at_write = 2;
    put_backup(fx->st, "b1", "t1", NULL);
    assert_int_equal(backup_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    b = get_backup(fx, "b1");
    assert_string_equal(cjson_get_string(b, "status.phase"), "Failed");
    assert_non_null(strstr(cjson_get_string(b, "status.message"),
                           "upload part 3: SignatureDoesNotMatch (HTTP 403)"));
    assert_null(cjson_get(b, "status.parts"));
    assert_non_null(cjson_get_string(b, "status.timestamp"));
    json_object_put(b);
    assert_int_equal(fx->fb.n_objs, 0);
    assert_int_equal(fx->fb.n_pending, 0);
}

static void test_reconcile_waits_for_tenant_and_fails_without_one(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *b;

    put_backup(fx->st, "b1", "t1", NULL);
    put_backup(fx->st, "orphan", "nosuch", NULL);
    assert_int_equal(backup_reconcile_tenant(&fx->env, "t1", 0, &err), 0);
    b = get_backup(fx, "b1");
    assert_string_equal(cjson_get_string(b, "status.phase"), "Pending");
    assert_string_equal(cjson_get_string(b, "status.message"), "waiting for tenant t1 to be Ready");
    json_object_put(b);
    assert_int_equal(fx->fb.n_objs, 0);
    assert_int_equal(backup_reconcile_tenant(&fx->env, "nosuch", 0, &err), 0);
    b = get_backup(fx, "orphan");
    assert_string_equal(cjson_get_string(b, "status.phase"), "Failed");
    assert_string_equal(cjson_get_string(b, "status.message"), "tenant nosuch not found");
    json_object_put(b);
    /* once Ready, the Pending one runs */
    assert_int_equal(backup_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    b = get_backup(fx, "b1");
    assert_string_equal(cjson_get_string(b, "status.phase"), "Completed");
    json_object_put(b);
}

/* omlopd killed mid-backup: the restart finds it Running, with an upload pending and a part
 * already written under its prefix */
static void test_reconcile_running_after_restart_is_failed_and_cleaned(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *b;

    put_backup(fx->st, "b1", "t1",
               "{\"phase\":\"Running\",\"timestamp\":\"1600000000\","
               "\"startedAt\":\"2020-09-13T12:26:40Z\"}");
    fobj_add(&fx->fb, "t1/1600000000/asterisk-custom.tar", "x", 1);
    fobj_add(&fx->fb, "t1/1599999999/manifest.json", "{}", 2); /* another backup's: kept */
    snprintf(fx->fb.pending[fx->fb.n_pending++], S3_MAX_KEY,
             "t1/1600000000/pgsql-backup-1600000000.sql");
    snprintf(fx->fb.pending[fx->fb.n_pending++], S3_MAX_KEY, "t1/1599999998/x");
    assert_int_equal(backup_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    b = get_backup(fx, "b1");
    assert_string_equal(cjson_get_string(b, "status.phase"), "Failed");
    assert_string_equal(cjson_get_string(b, "status.message"),
                        "interrupted: omlopd stopped during the backup; 1 pending upload(s) "
                        "aborted, 1 object(s) deleted");
    assert_non_null(cjson_get_string(b, "status.finishedAt"));
    json_object_put(b);
    assert_int_equal(fx->fb.n_pending, 1);
    assert_string_equal(fx->fb.pending[0], "t1/1599999998/x");
    assert_int_equal(fx->fb.n_objs, 1);
    assert_string_equal(fx->fb.objs[0].key, "t1/1599999999/manifest.json");
    /* and it is not run again: Failed is final */
    assert_int_equal(backup_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    assert_int_equal(fx->fb.n_objs, 1);
}

/* the same with the tenant gone meanwhile: Failed all the same, saying what was not done */
static void test_reconcile_running_of_a_gone_tenant_is_failed(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *b;

    put_backup(fx->st, "b1", "gone", "{\"phase\":\"Running\",\"timestamp\":\"1600000000\"}");
    assert_int_equal(backup_reconcile_tenant(&fx->env, "gone", 0, &err), 0);
    b = get_backup(fx, "b1");
    assert_string_equal(cjson_get_string(b, "status.phase"), "Failed");
    assert_string_equal(cjson_get_string(b, "status.message"),
                        "interrupted: omlopd stopped during the backup; its objects were not "
                        "cleaned up: tenant gone not found: no destination");
    json_object_put(b);
}

static void test_reconcile_destination_secret_missing(void **state)
{
    fixture *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    const char *msg;
    json_object *b;
    store_kv kv = {0};

    assert_int_equal(store_get(fx->st, SECRETS_KEY_PREFIX "t1-s3", &kv, &err), 0);
    assert_int_equal(store_delete(fx->st, kv.key, 0, NULL, &err), 0);
    store_kv_release(&kv);
    put_backup(fx->st, "b1", "t1", NULL);
    assert_int_equal(backup_reconcile_tenant(&fx->env, "t1", 1, &err), 0);
    b = get_backup(fx, "b1");
    assert_string_equal(cjson_get_string(b, "status.phase"), "Failed");
    msg = cjson_get_string(b, "status.message");
    if (!strstr(msg, "destination (spec.objectStorage)") || !strstr(msg, "t1-s3"))
        fail_msg("message: %s", msg);
    json_object_put(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_table),
        cmocka_unit_test(test_run_streams_parts_and_writes_manifest),
        cmocka_unit_test(test_run_logs_part_times),
        cmocka_unit_test(test_manifest_refuses_bad_counts),
        cmocka_unit_test(test_run_pg_dump_failure_names_step_and_leaves_nothing),
        cmocka_unit_test(test_run_upload_failure_names_part_and_leaves_nothing),
        cmocka_unit_test(test_run_bad_counts_fail_before_any_upload),
        cmocka_unit_test_setup_teardown(test_reconcile_pending_to_completed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_failure_is_failed_with_step, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_waits_for_tenant_and_fails_without_one,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_running_after_restart_is_failed_and_cleaned,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_running_of_a_gone_tenant_is_failed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_destination_secret_missing, setup, teardown),
    };

    return cmocka_run_group_tests_name("backup reconciler", tests, NULL, NULL);
}
