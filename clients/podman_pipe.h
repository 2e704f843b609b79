/*
 * podman_pipe: streamed reads out of a container, for backups: a command's stdout handed to a
 * sink as it arrives (pg_dump -Fc, never held whole), and a directory read through the archive
 * API as a tar stream (GET /containers/{name}/archive). Part of the Podman client (podman.h);
 * thread-safe like it.
 *
 * The sink runs on the calling thread, inside the transfer: while it works (an S3 part upload)
 * nothing more is read from the tunnel, so the SSH channel's window holds the producer back and
 * memory stays bounded whatever the stream's size.
 */
#ifndef OMLOP_PODMAN_PIPE_H
#define OMLOP_PODMAN_PIPE_H

#include <stdatomic.h>
#include <stddef.h>

#include "clients/podman.h"
#include "lib/err.h"
#include "lib/strbuf.h"

/* Takes len bytes; return 0, or a negative OMLOP_E* code (err filled) to stop the stream. */
typedef int (*podman_sink_fn)(void *ctx, const char *data, size_t len, omlop_err *err);

typedef struct podman_pipe_opts {
    const char *const *env; /* "K=V", NULL-terminated, or NULL */
    const char *user;       /* or NULL: the image's */
    long timeout_ms;        /* whole stream; 0: 6 hours */
    size_t max_stderr;      /* bytes of stderr kept (the tail is dropped); 0: 64 KiB */
    atomic_int *cancel;     /* optional: set non-zero to stop */
} podman_pipe_opts;

/*
 * Run cmd in a running container, handing its stdout to sink piece by piece; stderr (bounded)
 * goes to err_out (may be NULL), the exit code to *exit_code once the command ended. A sink
 * error is returned as it is (its message untouched); a transport error names host and exec.
 */
int podman_exec_stream(podman_client *p, const char *container, const char *const *cmd,
                       const podman_pipe_opts *o, podman_sink_fn sink, void *ctx, int *exit_code,
                       strbuf *err_out, omlop_err *err);

/*
 * Stream path (a file or a directory) out of the container as a tar archive into sink. A path
 * that does not exist is OMLOP_ENOTFOUND.
 */
int podman_archive_get(podman_client *p, const char *container, const char *path,
                       const podman_pipe_opts *o, podman_sink_fn sink, void *ctx, omlop_err *err);

#endif
