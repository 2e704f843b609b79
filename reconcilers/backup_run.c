/* backup_run: one backup's execution, over the container and bucket interfaces (backup.h). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crds/object.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "reconcilers/backup.h"

#define CAPTURE_MAX  (1024u * 1024) /* psql's row counts, pg_dump --version */
#define STDERR_SHOWN 400            /* bytes of a failed command's stderr in the message */

/* Run with the tenant's database: the env of the postgres container names them. */
#define PG_ENV_PREFIX "U=\"${POSTGRES_USER:-postgres}\"; D=\"${POSTGRES_DB:-$U}\"; "

/* "schema.table|rows" for every table, by name: exact counts (count(*)), one statement. */
static const char counts_sql[] =
    "SELECT format('%s.%s', table_schema, table_name) || '|' || "
    "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', "
    "table_schema, table_name), false, true, '')))[1]::text "
    "FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
    "AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1";

backup_action backup_decide(const char *phase, int is_tenant_found, int is_tenant_ready)
{
    if (phase &&
        (strcmp(phase, BACKUP_PHASE_COMPLETED) == 0 || strcmp(phase, BACKUP_PHASE_FAILED) == 0))
        return BACKUP_ACT_NONE;
    /* Only the call that set Running runs the backup, and it ends it before returning: a
     * Running seen now was left by an omlopd that stopped in the middle. */
    if (phase && strcmp(phase, BACKUP_PHASE_RUNNING) == 0)
        return BACKUP_ACT_INTERRUPTED;
    if (!is_tenant_found)
        return BACKUP_ACT_FAIL_NOTENANT;
    return is_tenant_ready ? BACKUP_ACT_RUN : BACKUP_ACT_WAIT;
}

void backup_prefix(const char *tenant, const char *timestamp, strbuf *out)
{
    strbuf_reset(out);
    strbuf_addf(out, "%s/%s/", tenant, timestamp);
}

/* ---- capturing a small output ------------------------------------------------------------ */

static int capture_sink(void *ctx, const char *data, size_t len, omlop_err *err)
{
    strbuf *sb = ctx;

    if (sb->len + len > CAPTURE_MAX)
        return omlop_err_set(err, OMLOP_ELIMIT, "more than %u bytes of output", CAPTURE_MAX);
    strbuf_add(sb, data, len);
    return 0;
}

/* The first line(s) of stderr, bounded, for a message. */
static void stderr_summary(const strbuf *e, char *out, size_t cap)
{
    size_t n = e->len < STDERR_SHOWN ? e->len : STDERR_SHOWN;
    size_t j = 0;

    for (size_t i = 0; i < n && j + 1 < cap; i++)
        out[j++] = e->buf[i] == '\n' || e->buf[i] == '\r' ? ' ' : e->buf[i];
    while (j > 0 && out[j - 1] == ' ')
        j--;
    out[j] = '\0';
}

/* The error of a command that ran and failed: "exec STEP: exit status N: stderr". */
static int exit_error(const char *step, int code, const strbuf *e, omlop_err *err)
{
    char msg[STDERR_SHOWN + 1];

    stderr_summary(e, msg, sizeof(msg));
    return omlop_err_set(err, OMLOP_EIO, "exec %s: exit status %d%s%s", step, code,
                         msg[0] ? ": " : "", msg);
}

static int run_capture(const backup_io *io, const char *container, const char *step,
                       const char *const *cmd, strbuf *out, omlop_err *err)
{
    strbuf e = STRBUF_INIT;
    int code = -1;
    int rc = io->exec_stream(io->ctx, container, cmd, capture_sink, out, &code, &e, err);

    if (rc < 0)
        omlop_err_prefix(err, "exec %s: ", step);
    else if (code != 0)
        rc = exit_error(step, code, &e, err);
    strbuf_release(&e);
    return rc;
}

/* ---- streaming a part -------------------------------------------------------------------- */

typedef struct part_sink {
    const backup_bucket *bk;
    void *w;
    int is_failed; /* the bucket refused: the error is S3's, already naming the step */
} part_sink;

static int part_write(void *ctx, const char *data, size_t len, omlop_err *err)
{
    part_sink *ps = ctx;
    int rc = ps->bk->writer_write(ps->w, data, len, err);

    if (rc < 0)
        ps->is_failed = 1;
    return rc;
}

/* Finish w into part (name, key); on failure w is gone too. */
static int part_finish(const backup_bucket *bk, void *w, const char *name, const char *key,
                       backup_part *part, omlop_err *err)
{
    s3_object_info info;
    int rc;

    memset(&info, 0, sizeof(info));
    rc = bk->writer_finish(w, &info, err);
    if (rc < 0)
        return rc;
    snprintf(part->name, sizeof(part->name), "%s", name);
    snprintf(part->key, sizeof(part->key), "%s", key);
    part->size = info.size;
    snprintf(part->sha256, sizeof(part->sha256), "%s", info.sha256);
    return 0;
}

static int dump_part(const backup_job *job, const backup_io *io, const backup_bucket *bk,
                     const char *key, backup_part *part, omlop_err *err)
{
    static const char *const cmd[] = {"sh", "-c",
                                      PG_ENV_PREFIX "exec pg_dump -Fc -U \"$U\" -d \"$D\"", NULL};
    part_sink ps = {bk, NULL, 0};
    strbuf e = STRBUF_INIT;
    int code = -1;
    int rc = bk->writer_open(bk->ctx, key, &ps.w, err);

    if (rc < 0)
        goto out;
    rc = io->exec_stream(io->ctx, job->pg_container, cmd, part_write, &ps, &code, &e, err);
    if (rc < 0 && err->code == 0)
        omlop_err_set(err, rc, "exec pg_dump: failed");
    else if (rc < 0 && !ps.is_failed)
        omlop_err_prefix(err, "exec pg_dump: "); /* the transport, not the bucket */
    else if (rc == 0 && code != 0)
        rc = exit_error("pg_dump", code, &e, err);
    if (rc < 0) {
        omlop_err ae = OMLOP_ERR_INIT;

        bk->writer_abort(ps.w, &ae);
        goto out;
    }
    rc = part_finish(bk, ps.w, "database", key, part, err);
out:
    strbuf_release(&e);
    return rc;
}

/* One Asterisk directory as a tar part; *is_absent when the container has no such path. */
static int archive_part(const backup_job *job, const backup_io *io, const backup_bucket *bk,
                        const char *name, const char *path, const char *key, backup_part *part,
                        int *is_absent, omlop_err *err)
{
    part_sink ps = {bk, NULL, 0};
    int rc = bk->writer_open(bk->ctx, key, &ps.w, err);

    *is_absent = 0;
    if (rc < 0)
        return rc;
    if (job->asterisk_io)
        io = job->asterisk_io;
    rc = io->archive_get(io->ctx, job->asterisk_container, path, part_write, &ps, err);
    if (rc < 0) {
        omlop_err ae = OMLOP_ERR_INIT;

        bk->writer_abort(ps.w, &ae);
        /* 404 (Docker's documented answer); some Podman versions say it in a 500 */
        if (rc == OMLOP_ENOTFOUND || strstr(err->msg, "no such file or directory")) {
            omlop_err_clear(err);
            *is_absent = 1;
            return 0;
        }
        if (!ps.is_failed)
            omlop_err_prefix(err, "read %s: ", path);
        return rc;
    }
    return part_finish(bk, ps.w, name, key, part, err);
}

/* A part written: its size and time in the debug log (bench/backup_bench.sh reads them). */
static void part_logged(const backup_job *job, const backup_part *part, int64_t *t)
{
    int64_t now = clock_now_ms();

    log_debug("tenant=%s backup=%s backup_part=%s bytes=%llu ms=%lld", job->tenant, job->backup,
              part->name, (unsigned long long)part->size, (long long)(now - *t));
    *t = now;
}

/* ---- the manifest ------------------------------------------------------------------------ */

static json_object *jstr(const char *s)
{
    return json_object_new_string(s ? s : "");
}

/* psql's "schema.table|rows" lines into tables. */
static int counts_parse(const char *counts, json_object *tables, omlop_err *err)
{
    const char *line = counts ? counts : "";

    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char buf[512], *bar, *end;
        long long rows;

        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (len == 0)
            goto next;
        if (len >= sizeof(buf)) {
            return omlop_err_set(err, OMLOP_EPROTO, "row counts: a line of %zu bytes", len);
        }
        memcpy(buf, line, len);
        buf[len] = '\0';
        bar = strrchr(buf, '|');
        rows = bar && bar != buf ? strtoll(bar + 1, &end, 10) : -1;
        if (!bar || bar == buf || bar[1] == '\0' || *end != '\0' || rows < 0) {
            return omlop_err_set(err, OMLOP_EPROTO,
                                 "row counts: '%s' is not 'schema.table|rows' (psql's answer)",
                                 buf);
        }
        *bar = '\0';
        json_object_object_add(tables, buf, json_object_new_int64(rows));
    next:
        line += len;
        while (*line == '\r' || *line == '\n')
            line++;
    }
    return 0;
}

int backup_manifest_build(const backup_job *job, const backup_outcome *out, const char *counts,
                          const char *pg_dump_version, strbuf *json, omlop_err *err)
{
    json_object *m = json_object_new_object(), *parts = json_object_new_array();
    json_object *tables = json_object_new_object();
    int rc = counts_parse(counts, tables, err);

    if (rc < 0)
        goto out;
    for (size_t i = 0; i < out->n_parts; i++) {
        json_object *p = json_object_new_object();

        json_object_object_add(p, "name", jstr(out->parts[i].name));
        json_object_object_add(p, "key", jstr(out->parts[i].key));
        json_object_object_add(
            p, "format", jstr(strcmp(out->parts[i].name, "database") == 0 ? "pg_dump -Fc" : "tar"));
        json_object_object_add(p, "sizeBytes", json_object_new_int64((int64_t)out->parts[i].size));
        json_object_object_add(p, "sha256", jstr(out->parts[i].sha256));
        json_object_array_add(parts, p);
    }
    json_object_object_add(m, "apiVersion", jstr("omlop.io/v1alpha1"));
    json_object_object_add(m, "kind", jstr("BackupManifest"));
    json_object_object_add(m, "tenant", jstr(job->tenant));
    json_object_object_add(m, "backup", jstr(job->backup));
    json_object_object_add(m, "timestamp", jstr(job->timestamp));
    json_object_object_add(m, "tenantGeneration", json_object_new_int64(job->tenant_generation));
    json_object_object_add(m, "images",
                           job->images ? json_object_get((json_object *)job->images)
                                       : json_object_new_object());
    json_object_object_add(m, "pgDumpVersion", jstr(pg_dump_version));
    json_object_object_add(m, "startedAt", jstr(job->started_at));
    json_object_object_add(m, "finishedAt", jstr(out->finished_at));
    json_object_object_add(m, "parts", parts);
    parts = NULL;
    json_object_object_add(m, "tables", tables);
    tables = NULL;
    strbuf_reset(json);
    strbuf_adds(json, json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY |
                                                            JSON_C_TO_STRING_SPACED |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
    strbuf_addch(json, '\n');
out:
    json_object_put(parts);
    json_object_put(tables);
    json_object_put(m);
    return rc;
}

/* ---- the run ----------------------------------------------------------------------------- */

/* Remove what a failed run left under prefix; a failure here is added to err's message. */
static void cleanup(const backup_bucket *bk, const char *prefix, omlop_err *err)
{
    omlop_err ce = OMLOP_ERR_INIT;
    size_t n = 0;

    if (bk->abort_pending(bk->ctx, prefix, &n, &ce) < 0 ||
        bk->delete_prefix(bk->ctx, prefix, &n, &ce) < 0) {
        char first[OMLOP_ERR_MSG_MAX];

        snprintf(first, sizeof(first), "%s", err->msg);
        omlop_err_set(err, err->code, "%s; cleaning up %s failed too: %s", first, prefix, ce.msg);
    }
}

static const char *const counts_cmd[] = {
    "sh",
    "-c",
    PG_ENV_PREFIX "exec psql -X -A -t -q -v ON_ERROR_STOP=1 -U \"$U\" -d \"$D\" -c \"$1\"",
    "sh",
    counts_sql,
    NULL};

int backup_table_counts(const backup_io *io, const char *container, json_object **tables,
                        omlop_err *err)
{
    strbuf counts = STRBUF_INIT;
    int rc = run_capture(io, container, "psql (row counts)", counts_cmd, &counts, err);

    *tables = NULL;
    if (rc == 0) {
        *tables = json_object_new_object();
        if ((rc = counts_parse(counts.buf, *tables, err)) < 0) {
            json_object_put(*tables);
            *tables = NULL;
        }
    }
    strbuf_release(&counts);
    return rc;
}

int backup_run(const backup_job *job, const backup_io *io, const backup_bucket *bk,
               backup_outcome *out, omlop_err *err)
{
    static const char *const version_cmd[] = {"pg_dump", "--version", NULL};
    static const struct {
        const char *name, *path, *file;
    } dirs[] = {{"asterisk-custom", "/etc/asterisk/custom", "asterisk-custom.tar"},
                {"asterisk-override", "/etc/asterisk/override", "asterisk-override.tar"}};
    strbuf prefix = STRBUF_INIT, key = STRBUF_INIT, counts = STRBUF_INIT, version = STRBUF_INIT;
    strbuf manifest = STRBUF_INIT;
    s3_object_info info;
    int64_t t = clock_now_ms();
    int rc;

    memset(out, 0, sizeof(*out));
    backup_prefix(job->tenant, job->timestamp, &prefix);
    rc = run_capture(io, job->pg_container, "pg_dump --version", version_cmd, &version, err);
    if (rc < 0)
        goto out;
    while (version.len &&
           (version.buf[version.len - 1] == '\n' || version.buf[version.len - 1] == '\r'))
        strbuf_setlen(&version, version.len - 1);
    rc = run_capture(io, job->pg_container, "psql (row counts)", counts_cmd, &counts, err);
    if (rc < 0)
        goto out;
    /* counts that do not parse stop the backup before anything is uploaded */
    if ((rc = backup_manifest_build(job, out, counts.buf, version.buf, &manifest, err)) < 0)
        goto out;
    log_debug("tenant=%s backup=%s backup_step=\"version and row counts\" ms=%lld", job->tenant,
              job->backup, (long long)(clock_now_ms() - t));

    strbuf_reset(&key);
    strbuf_addf(&key, "%spgsql-backup-%s.sql", prefix.buf, job->timestamp);
    t = clock_now_ms();
    rc = dump_part(job, io, bk, key.buf, &out->parts[out->n_parts], err);
    if (rc < 0)
        goto fail;
    part_logged(job, &out->parts[out->n_parts], &t);
    out->n_parts++;
    for (size_t i = 0; job->asterisk_container && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        int is_absent = 0;

        strbuf_reset(&key);
        strbuf_addf(&key, "%s%s", prefix.buf, dirs[i].file);
        rc = archive_part(job, io, bk, dirs[i].name, dirs[i].path, key.buf,
                          &out->parts[out->n_parts], &is_absent, err);
        if (rc < 0)
            goto fail;
        if (!is_absent)
            part_logged(job, &out->parts[out->n_parts++], &t);
    }

    object_time_format(time(NULL), out->finished_at);
    rc = backup_manifest_build(job, out, counts.buf, version.buf, &manifest, err);
    if (rc < 0)
        goto fail;
    strbuf_reset(&key);
    strbuf_addf(&key, "%smanifest.json", prefix.buf);
    memset(&info, 0, sizeof(info));
    rc = bk->put(bk->ctx, key.buf, manifest.buf, manifest.len, &info, err);
    if (rc < 0)
        goto fail;
    log_debug("tenant=%s backup=%s backup_step=manifest ms=%lld", job->tenant, job->backup,
              (long long)(clock_now_ms() - t));
    snprintf(out->manifest_key, sizeof(out->manifest_key), "%s", key.buf);
    out->manifest_size = info.size;
    snprintf(out->manifest_sha256, sizeof(out->manifest_sha256), "%s", info.sha256);
    goto out;
fail:
    cleanup(bk, prefix.buf, err);
out:
    strbuf_release(&prefix);
    strbuf_release(&key);
    strbuf_release(&counts);
    strbuf_release(&version);
    strbuf_release(&manifest);
    return rc;
}
