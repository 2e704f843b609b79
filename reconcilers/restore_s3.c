/* restore_s3: the real sides of a restore - the bucket over clients/s3 and the containers over
 * clients/podman_pipe (restore.h's interfaces). */
#include <string.h>

#include "clients/podman.h"
#include "clients/podman_pipe.h"
#include "clients/s3.h"
#include "reconcilers/restore.h"

#define STOP_TIMEOUT_S 30

static int b_get(void *ctx, const char *key, backup_sink_fn sink, void *sink_ctx,
                 s3_object_info *info, omlop_err *err)
{
    return s3_get(ctx, key, sink, sink_ctx, info, err);
}

static int b_head(void *ctx, const char *key, uint64_t *size, omlop_err *err)
{
    s3_object_info info;
    int rc;

    memset(&info, 0, sizeof(info));
    rc = s3_head(ctx, key, &info, err);
    *size = info.size;
    return rc;
}

static void b_location(void *ctx, const char *key, strbuf *out)
{
    s3_client_location(ctx, key, out);
}

int restore_bucket_s3_open(void *ctx, const s3_config *cfg, restore_bucket *out, omlop_err *err)
{
    s3_client *c = NULL;
    int rc = s3_client_new(cfg, &c, err);

    (void)ctx;
    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    out->get = b_get;
    out->head = b_head;
    out->location = b_location;
    out->ctx = c;
    return 0;
}

void restore_bucket_s3_close(void *ctx, restore_bucket *bk)
{
    (void)ctx;
    s3_client_free(bk->ctx);
    bk->ctx = NULL;
}

/* The client of the host that runs container. */
static podman_client *client_of(const restore_podman *rp, const char *container, omlop_err *err)
{
    for (size_t i = 0; i < rp->n; i++)
        if (strcmp(rp->containers[i], container) == 0)
            return rp->clients[i];
    omlop_err_set(err, OMLOP_EINTERNAL, "container %s: no host connection", container);
    return NULL;
}

static int io_exec(void *ctx, const char *container, const char *const *cmd, backup_sink_fn sink,
                   void *sink_ctx, int *exit_code, strbuf *err_out, omlop_err *err)
{
    restore_podman *rp = ctx;
    podman_client *pc = client_of(rp, container, err);
    podman_pipe_opts o;

    if (!pc)
        return err->code;
    memset(&o, 0, sizeof(o));
    o.cancel = rp->cancel;
    return podman_exec_stream(pc, container, cmd, &o, sink, sink_ctx, exit_code, err_out, err);
}

static int io_put_open(void *ctx, const char *container, const char *dir, uint64_t len, void **w,
                       omlop_err *err)
{
    restore_podman *rp = ctx;
    podman_client *pc = client_of(rp, container, err);
    podman_pipe_opts o;
    podman_put *p = NULL;
    int rc;

    *w = NULL;
    if (!pc)
        return err->code;
    memset(&o, 0, sizeof(o));
    o.cancel = rp->cancel;
    rc = podman_archive_put_open(pc, container, dir, (unsigned long long)len, &o, &p, err);
    *w = p;
    return rc;
}

static int io_put_write(void *w, const char *data, size_t len, omlop_err *err)
{
    return podman_put_write(w, data, len, err);
}

static int io_put_finish(void *w, omlop_err *err)
{
    return podman_put_finish(w, err);
}

static void io_put_abort(void *w)
{
    podman_put_abort(w);
}

static int io_stop(void *ctx, const char *container, omlop_err *err)
{
    restore_podman *rp = ctx;
    podman_client *pc = client_of(rp, container, err);

    if (!pc)
        return err->code;
    return podman_container_stop(pc, container,
                                 rp->stop_timeout_s ? rp->stop_timeout_s : STOP_TIMEOUT_S, err);
}

static int io_start(void *ctx, const char *container, omlop_err *err)
{
    restore_podman *rp = ctx;
    podman_client *pc = client_of(rp, container, err);

    if (!pc)
        return err->code;
    return podman_container_start(pc, container, err);
}

void restore_io_podman(restore_podman *rp, restore_io *out)
{
    memset(out, 0, sizeof(*out));
    out->exec_stream = io_exec;
    out->put_open = io_put_open;
    out->put_write = io_put_write;
    out->put_finish = io_put_finish;
    out->put_abort = io_put_abort;
    out->stop = io_stop;
    out->start = io_start;
    out->ctx = rp;
}
