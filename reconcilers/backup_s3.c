/* backup_s3: the real sides of a backup - the bucket over clients/s3 and the containers over
 * clients/podman_pipe (backup.h's interfaces). */
#include <string.h>

#include "clients/podman_pipe.h"
#include "clients/s3.h"
#include "clients/s3_upload.h"
#include "reconcilers/backup.h"

static int w_open(void *ctx, const char *key, void **w, omlop_err *err)
{
    s3_upload *u = NULL;
    int rc = s3_upload_new(ctx, key, &u, err);

    *w = u;
    return rc;
}

static int w_write(void *w, const char *data, size_t len, omlop_err *err)
{
    return s3_upload_write(w, data, len, err);
}

static int w_finish(void *w, s3_object_info *info, omlop_err *err)
{
    return s3_upload_finish(w, info, err);
}

static int w_abort(void *w, omlop_err *err)
{
    return s3_upload_abort(w, err);
}

static int b_put(void *ctx, const char *key, const char *data, size_t len, s3_object_info *info,
                 omlop_err *err)
{
    return s3_put(ctx, key, data, len, info, err);
}

static int b_abort_pending(void *ctx, const char *prefix, size_t *n, omlop_err *err)
{
    s3_pending_list l = {0};
    int rc = s3_multipart_list(ctx, prefix, &l, err);

    *n = 0;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        rc = s3_multipart_abort(ctx, l.items[i].key, l.items[i].upload_id, err);
        if (rc == 0)
            (*n)++;
    }
    s3_pending_list_release(&l);
    return rc;
}

static int b_delete_prefix(void *ctx, const char *prefix, size_t *n, omlop_err *err)
{
    s3_list l = {0};
    int rc = s3_list_objects(ctx, prefix, &l, err);

    *n = 0;
    if (rc == 0 && l.n > 0) {
        rc = s3_delete_many(ctx, &l, err);
        if (rc == 0)
            *n = l.n;
    }
    s3_list_release(&l);
    return rc;
}

static void b_location(void *ctx, const char *key, strbuf *out)
{
    s3_client_location(ctx, key, out);
}

int backup_bucket_s3_open(void *ctx, const s3_config *cfg, backup_bucket *out, omlop_err *err)
{
    s3_client *c = NULL;
    int rc = s3_client_new(cfg, &c, err);

    (void)ctx;
    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    out->writer_open = w_open;
    out->writer_write = w_write;
    out->writer_finish = w_finish;
    out->writer_abort = w_abort;
    out->put = b_put;
    out->abort_pending = b_abort_pending;
    out->delete_prefix = b_delete_prefix;
    out->location = b_location;
    out->ctx = c;
    return 0;
}

void backup_bucket_s3_close(void *ctx, backup_bucket *bk)
{
    (void)ctx;
    s3_client_free(bk->ctx);
    bk->ctx = NULL;
}

static int io_exec(void *ctx, const char *container, const char *const *cmd, backup_sink_fn sink,
                   void *sink_ctx, int *exit_code, strbuf *err_out, omlop_err *err)
{
    backup_podman *bp = ctx;
    podman_pipe_opts o;

    memset(&o, 0, sizeof(o));
    o.cancel = bp->cancel;
    return podman_exec_stream(bp->pc, container, cmd, &o, sink, sink_ctx, exit_code, err_out, err);
}

static int io_archive(void *ctx, const char *container, const char *path, backup_sink_fn sink,
                      void *sink_ctx, omlop_err *err)
{
    backup_podman *bp = ctx;
    podman_pipe_opts o;

    memset(&o, 0, sizeof(o));
    o.cancel = bp->cancel;
    return podman_archive_get(bp->pc, container, path, &o, sink, sink_ctx, err);
}

void backup_io_podman(backup_podman *bp, backup_io *out)
{
    out->exec_stream = io_exec;
    out->archive_get = io_archive;
    out->ctx = bp;
}
