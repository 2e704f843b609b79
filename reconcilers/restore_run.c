/* restore_run: one restore's execution, over the container and bucket interfaces (restore.h). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/podman_tar.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "reconcilers/restore.h"

#define MANIFEST_MAX (4u * 1024 * 1024)
#define STDERR_SHOWN 400
#define DUMP_DIR     "/tmp"

/* As backup_run's: the database and user from the postgres container's own env. */
#define PG_ENV_PREFIX "U=\"${POSTGRES_USER:-postgres}\"; D=\"${POSTGRES_DB:-$U}\"; "

static const char *const step_names[RESTORE_STEP_COUNT] = {"download",
                                                           "stop components",
                                                           "drop database",
                                                           "restore database",
                                                           "restore asterisk files",
                                                           "start components",
                                                           "verify"};

const char *restore_step_name(restore_step s)
{
    return s < RESTORE_STEP_COUNT ? step_names[s] : "?";
}

/* Mark step done; its duration goes to the debug log (bench/backup_bench.sh reads it). */
static void step_done(const restore_job *job, restore_outcome *out, restore_step step, int64_t *t)
{
    int64_t now = clock_now_ms();

    out->done |= 1u << step;
    log_debug("tenant=%s restore_step=\"%s\" ms=%lld", job->tenant, step_names[step],
              (long long)(now - *t));
    *t = now;
}

void restore_outcome_release(restore_outcome *o)
{
    json_object_put(o->tables);
    json_object_put(o->differ);
    o->tables = NULL;
    o->differ = NULL;
}

/* ---- sinks ------------------------------------------------------------------------------- */

typedef struct capture {
    strbuf *sb;
    size_t max;
} capture;

static int capture_sink(void *ctx, const char *data, size_t len, omlop_err *err)
{
    capture *c = ctx;

    if (c->sb->len + len > c->max)
        return omlop_err_set(err, OMLOP_ELIMIT, "more than %zu bytes", c->max);
    strbuf_add(c->sb, data, len);
    return 0;
}

static int discard_sink(void *ctx, const char *data, size_t len, omlop_err *err)
{
    (void)ctx;
    (void)data;
    (void)len;
    (void)err;
    return 0;
}

/* Bytes from the bucket into a PUT of the container, at most left of them. */
typedef struct put_sink {
    const restore_io *io;
    void *w;
    uint64_t left;
} put_sink;

static int put_write(void *ctx, const char *data, size_t len, omlop_err *err)
{
    put_sink *ps = ctx;

    if (len > ps->left)
        return omlop_err_set(err, OMLOP_EPROTO, "the object is longer than its size");
    ps->left -= len;
    return ps->io->put_write(ps->w, data, len, err);
}

/* ---- commands ---------------------------------------------------------------------------- */

/* Run cmd in container; a failure names step: "STEP: exit status N: stderr". */
static int run_cmd(const restore_io *io, const char *container, const char *step,
                   const char *const *cmd, omlop_err *err)
{
    strbuf out = STRBUF_INIT, e = STRBUF_INIT;
    capture c = {&out, 64u * 1024};
    int code = -1;
    int rc = io->exec_stream(io->ctx, container, cmd, capture_sink, &c, &code, &e, err);

    if (rc < 0) {
        omlop_err_prefix(err, "%s: ", step);
    } else if (code != 0) {
        char msg[STDERR_SHOWN + 1] = "";
        size_t n = e.len < STDERR_SHOWN ? e.len : STDERR_SHOWN, j = 0;

        for (size_t i = 0; i < n; i++)
            msg[j++] = e.buf[i] == '\n' || e.buf[i] == '\r' ? ' ' : e.buf[i];
        while (j > 0 && msg[j - 1] == ' ')
            j--;
        msg[j] = '\0';
        rc =
            omlop_err_set(err, OMLOP_EIO, "%s: exit status %d%s%s", step, code, j ? ": " : "", msg);
    }
    strbuf_release(&out);
    strbuf_release(&e);
    return rc;
}

static void remove_file(const restore_io *io, const char *container, const char *path)
{
    const char *const cmd[] = {"rm", "-f", path, NULL};
    omlop_err e = OMLOP_ERR_INIT;

    run_cmd(io, container, "remove the dump", cmd, &e);
}

/* ---- the manifest ------------------------------------------------------------------------ */

typedef struct src_part {
    const char *name, *key, *sha256; /* borrowed from the manifest */
    uint64_t size;
} src_part;

typedef struct source {
    json_object *manifest; /* owned; NULL for a plain dump */
    src_part db;
    src_part ast[2];
    size_t n_ast;
    int is_plain;
} source;

static int manifest_read(const restore_job *job, const restore_bucket *bk, source *src,
                         omlop_err *err)
{
    strbuf text = STRBUF_INIT;
    capture c = {&text, MANIFEST_MAX};
    s3_object_info info;
    const json_object *parts;
    size_t n;
    int rc;

    memset(&info, 0, sizeof(info));
    rc = bk->get(bk->ctx, job->manifest, capture_sink, &c, &info, err);
    if (rc < 0) {
        omlop_err_prefix(err, "manifest %s: ", job->manifest);
        goto out;
    }
    src->manifest = json_tokener_parse(text.buf ? text.buf : "");
    parts = cjson_get(src->manifest, "parts");
    if (!src->manifest || !parts || !json_object_is_type(parts, json_type_array)) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "manifest %s: not a backup manifest (no parts[])",
                           job->manifest);
        goto out;
    }
    n = json_object_array_length(parts);
    for (size_t i = 0; i < n; i++) {
        const json_object *p = json_object_array_get_idx(parts, i);
        src_part sp;

        sp.name = cjson_get_string(p, "name");
        sp.key = cjson_get_string(p, "key");
        sp.sha256 = cjson_get_string(p, "sha256");
        sp.size = (uint64_t)cjson_get_int(p, "sizeBytes", -1);
        if (!sp.name || !sp.key || !sp.sha256 || strlen(sp.sha256) != S3_SHA256_HEX_LEN ||
            cjson_get_int(p, "sizeBytes", -1) < 0) {
            rc = omlop_err_set(err, OMLOP_EPROTO,
                               "manifest %s: parts[%zu] lacks name, key, sha256 or sizeBytes",
                               job->manifest, i);
            goto out;
        }
        if (strcmp(sp.name, "database") == 0)
            src->db = sp;
        else if (strncmp(sp.name, "asterisk-", 9) == 0 && src->n_ast < 2)
            src->ast[src->n_ast++] = sp;
    }
    if (!src->db.key)
        rc = omlop_err_set(err, OMLOP_EPROTO, "manifest %s: no database part", job->manifest);
out:
    strbuf_release(&text);
    return rc;
}

/* ---- steps ------------------------------------------------------------------------------- */

static int sha_check(const src_part *p, const s3_object_info *info, omlop_err *err)
{
    if (!p->sha256 || strcmp(p->sha256, info->sha256) == 0)
        return 0;
    return omlop_err_set(err, OMLOP_EPROTO,
                         "part %s (%s): SHA-256 %s, the manifest says %s: the backup is damaged",
                         p->name, p->key, info->sha256, p->sha256);
}

/* Stream object p from the bucket into a tar of one file or (is_tar) as the tar itself, put
 * into container under dir; checked against the manifest's SHA-256 when it has one. */
static int stream_in(const restore_io *io, const restore_bucket *bk, const src_part *p,
                     const char *container, const char *dir, const char *file_name, omlop_err *err)
{
    static const char zeros[PODMAN_TAR_BLOCK * 2];
    strbuf head = STRBUF_INIT;
    put_sink ps = {io, NULL, p->size};
    s3_object_info info;
    uint64_t total = p->size;
    size_t pad = 0;
    int rc = 0;

    if (file_name) {
        podman_tar_entry te;

        memset(&te, 0, sizeof(te));
        te.path = file_name;
        te.len = (size_t)p->size;
        te.mode = 0644;
        if ((rc = podman_tar_header(&head, &te, err)) < 0)
            goto out;
        pad = (PODMAN_TAR_BLOCK - p->size % PODMAN_TAR_BLOCK) % PODMAN_TAR_BLOCK;
        total = head.len + p->size + pad + sizeof(zeros);
    }
    if ((rc = io->put_open(io->ctx, container, dir, total, &ps.w, err)) < 0)
        goto out;
    if (head.len && (rc = io->put_write(ps.w, head.buf, head.len, err)) < 0)
        goto abort;
    memset(&info, 0, sizeof(info));
    if ((rc = bk->get(bk->ctx, p->key, put_write, &ps, &info, err)) < 0)
        goto abort;
    if (ps.left) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "part %s (%s): %llu bytes, the size was %llu",
                           p->name, p->key, (unsigned long long)(p->size - ps.left),
                           (unsigned long long)p->size);
        goto abort;
    }
    if (file_name && ((rc = io->put_write(ps.w, zeros, pad, err)) < 0 ||
                      (rc = io->put_write(ps.w, zeros, sizeof(zeros), err)) < 0))
        goto abort;
    rc = io->put_finish(ps.w, err);
    ps.w = NULL;
    if (rc == 0)
        rc = sha_check(p, &info, err);
    goto out;
abort:
    io->put_abort(ps.w);
out:
    strbuf_release(&head);
    return rc;
}

static int step_download(const restore_job *job, const restore_io *io, const restore_bucket *bk,
                         source *src, const char *dump_path, omlop_err *err)
{
    int64_t t;
    int rc;

    if (job->manifest) {
        if ((rc = manifest_read(job, bk, src, err)) < 0)
            return rc;
    } else {
        src->is_plain = 1;
        src->db.name = "database";
        src->db.key = job->object_key;
        if ((rc = bk->head(bk->ctx, job->object_key, &src->db.size, err)) < 0)
            return omlop_err_prefix(err, "object %s: ", job->object_key);
    }
    /* the tars first: checked (and nothing more) before anything is put anywhere */
    for (size_t i = 0; i < src->n_ast; i++) {
        s3_object_info info;

        memset(&info, 0, sizeof(info));
        if ((rc = bk->get(bk->ctx, src->ast[i].key, discard_sink, NULL, &info, err)) < 0 ||
            (rc = sha_check(&src->ast[i], &info, err)) < 0)
            return rc;
    }
    t = clock_now_ms();
    rc = stream_in(io, bk, &src->db, job->pg_container, DUMP_DIR, strrchr(dump_path, '/') + 1, err);
    if (rc < 0)
        remove_file(io, job->pg_container, dump_path);
    else
        log_debug("tenant=%s restore_part=database bytes=%llu ms=%lld", job->tenant,
                  (unsigned long long)src->db.size, (long long)(clock_now_ms() - t));
    return rc;
}

static int step_drop(const restore_job *job, const restore_io *io, omlop_err *err)
{
    /* psql interpolates :"db" only in what it reads, not in -c: the SQL goes in on stdin */
    const char *const cmd[] = {"sh",
                               "-c",
                               PG_ENV_PREFIX
                               "printf '%s\\n' \"$1\" \"$2\" | psql -X -q -v ON_ERROR_STOP=1 "
                               "-v db=\"$D\" -v u=\"$U\" -U \"$U\" -d template1",
                               "sh",
                               "DROP DATABASE IF EXISTS :\"db\" WITH (FORCE);",
                               "CREATE DATABASE :\"db\" OWNER :\"u\";",
                               NULL};

    return run_cmd(io, job->pg_container, "drop database", cmd, err);
}

static int step_restore_db(const restore_job *job, const restore_io *io, int is_plain,
                           const char *dump_path, omlop_err *err)
{
    /* the file goes whatever the outcome: no dump left in the container */
    const char *const cmd_fc[] = {
        "sh",
        "-c",
        PG_ENV_PREFIX "pg_restore --no-owner --no-acl --exit-on-error -U \"$U\" -d \"$D\" \"$1\"; "
                      "rc=$?; rm -f \"$1\"; exit $rc",
        "sh",
        dump_path,
        NULL};
    const char *const cmd_sql[] = {
        "sh",
        "-c",
        PG_ENV_PREFIX "psql -X -q -v ON_ERROR_STOP=1 -U \"$U\" -d \"$D\" -f \"$1\" >/dev/null; "
                      "rc=$?; rm -f \"$1\"; exit $rc",
        "sh",
        dump_path,
        NULL};

    return run_cmd(io, job->pg_container,
                   is_plain ? "restore database (psql)" : "restore database (pg_restore)",
                   is_plain ? cmd_sql : cmd_fc, err);
}

static int start_all(const restore_job *job, const restore_io *io, size_t n, omlop_err *err)
{
    int rc = 0;

    /* start order: the reverse of the stop order */
    for (size_t i = n; i-- > 0;) {
        if (io->start(io->ctx, job->stop[i], err) < 0) {
            omlop_err_prefix(err, "start %s: ", job->stop[i]);
            rc = err->code ? err->code : OMLOP_EIO;
            break;
        }
    }
    return rc;
}

/* Compare the counts after the restore with the manifest's tables. */
static int step_verify(const restore_job *job, const restore_io *io, const source *src,
                       restore_outcome *out, omlop_err *err)
{
    backup_io bio;
    const json_object *want = cjson_get(src->manifest, "tables");
    strbuf list = STRBUF_INIT;
    size_t n_differ = 0;
    int rc;

    memset(&bio, 0, sizeof(bio));
    bio.exec_stream = io->exec_stream;
    bio.ctx = io->ctx;
    if ((rc = backup_table_counts(&bio, job->pg_container, &out->tables, err)) < 0)
        return omlop_err_prefix(err, "verify: ");
    if (src->is_plain) {
        out->verdict = RESTORE_VERIFY_SKIPPED;
        return 0;
    }
    out->differ = json_object_new_array();
    if (want && json_object_is_type(want, json_type_object)) {
        json_object_object_foreach((json_object *)want, table, v)
        {
            json_object *got = NULL;
            int64_t expected = json_object_get_int64(v);
            int64_t actual = json_object_object_get_ex(out->tables, table, &got)
                                 ? json_object_get_int64(got)
                                 : -1;

            if (actual != expected) {
                json_object *d = json_object_new_object();

                json_object_object_add(d, "table", json_object_new_string(table));
                json_object_object_add(d, "expected", json_object_new_int64(expected));
                json_object_object_add(d, "actual",
                                       actual < 0 ? NULL : json_object_new_int64(actual));
                json_object_array_add(out->differ, d);
                if (n_differ++ < 8)
                    strbuf_addf(&list, "%s%s %lld != %s%lld", n_differ > 1 ? ", " : "", table,
                                (long long)expected, actual < 0 ? "missing " : "",
                                (long long)(actual < 0 ? 0 : actual));
            }
        }
    }
    if (n_differ) {
        out->verdict = RESTORE_VERIFY_FAILED;
        rc = omlop_err_set(err, OMLOP_EPROTO,
                           "verify: %zu table(s) differ from the manifest (expected != "
                           "actual): %s%s",
                           n_differ, list.buf, n_differ > 8 ? ", ..." : "");
    } else {
        out->verdict = RESTORE_VERIFY_PASSED;
    }
    strbuf_release(&list);
    return rc;
}

/* ---- the run ----------------------------------------------------------------------------- */

int restore_run(const restore_job *job, const restore_io *io, const restore_bucket *bk,
                restore_outcome *out, omlop_err *err)
{
    source src;
    char dump_path[256];
    size_t n_stopped = 0;
    int64_t t = clock_now_ms();
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&src, 0, sizeof(src));
    snprintf(dump_path, sizeof(dump_path), DUMP_DIR "/omlop-restore-%s.%s", job->id,
             job->manifest ? "dump" : "sql");

    out->failed = RESTORE_STEP_DOWNLOAD;
    if ((rc = step_download(job, io, bk, &src, dump_path, err)) < 0) {
        omlop_err_prefix(err, "download: ");
        goto out;
    }
    snprintf(out->source_version, sizeof(out->source_version), "%s",
             cjson_get_string(src.manifest, "pgDumpVersion")
                 ? cjson_get_string(src.manifest, "pgDumpVersion")
                 : "");
    step_done(job, out, RESTORE_STEP_DOWNLOAD, &t);

    out->failed = RESTORE_STEP_STOP;
    for (; n_stopped < job->n_stop; n_stopped++)
        if ((rc = io->stop(io->ctx, job->stop[n_stopped], err)) < 0) {
            omlop_err e2 = OMLOP_ERR_INIT;

            omlop_err_prefix(err, "stop components: %s: ", job->stop[n_stopped]);
            /* before the drop a failure changes nothing: back as they were */
            start_all(job, io, n_stopped, &e2);
            remove_file(io, job->pg_container, dump_path);
            goto out;
        }
    step_done(job, out, RESTORE_STEP_STOP, &t);

    out->failed = RESTORE_STEP_DROP;
    out->is_after_drop = 1;
    if ((rc = step_drop(job, io, err)) < 0) {
        remove_file(io, job->pg_container, dump_path);
        goto out;
    }
    step_done(job, out, RESTORE_STEP_DROP, &t);

    out->failed = RESTORE_STEP_RESTORE_DB;
    if ((rc = step_restore_db(job, io, src.is_plain, dump_path, err)) < 0)
        goto out;
    step_done(job, out, RESTORE_STEP_RESTORE_DB, &t);

    out->failed = RESTORE_STEP_ASTERISK;
    for (size_t i = 0; job->asterisk_container && i < src.n_ast; i++)
        if ((rc = stream_in(io, bk, &src.ast[i], job->asterisk_container, "/etc/asterisk", NULL,
                            err)) < 0) {
            omlop_err_prefix(err, "restore asterisk files: ");
            goto out;
        }
    step_done(job, out, RESTORE_STEP_ASTERISK, &t);

    out->failed = RESTORE_STEP_START;
    if ((rc = start_all(job, io, job->n_stop, err)) < 0) {
        omlop_err_prefix(err, "start components: ");
        goto out;
    }
    step_done(job, out, RESTORE_STEP_START, &t);

    out->failed = RESTORE_STEP_VERIFY;
    if ((rc = step_verify(job, io, &src, out, err)) < 0)
        goto out;
    step_done(job, out, RESTORE_STEP_VERIFY, &t);
out:
    json_object_put(src.manifest);
    return rc;
}

restore_action restore_decide(const char *phase, const char *retry, const char *retried,
                              int is_tenant_found, int is_tenant_ready, int is_held_by_me)
{
    if (phase && strcmp(phase, RESTORE_PHASE_SUCCEEDED) == 0)
        return RESTORE_ACT_NONE;
    /* only the call that set Running runs the restore: a Running seen now was left by an
     * omlopd that stopped in the middle */
    if (phase && strcmp(phase, RESTORE_PHASE_RUNNING) == 0)
        return RESTORE_ACT_INTERRUPTED;
    if (phase && strcmp(phase, RESTORE_PHASE_FAILED) == 0) {
        /* again only on a request not yet acted on: never in a loop */
        if (!retry || !*retry || (retried && strcmp(retry, retried) == 0))
            return RESTORE_ACT_NONE;
    }
    if (!is_tenant_found)
        return RESTORE_ACT_FAIL_NOTENANT;
    return is_tenant_ready || is_held_by_me ? RESTORE_ACT_RUN : RESTORE_ACT_WAIT;
}
