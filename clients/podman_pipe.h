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

/*
 * A streamed PUT /containers/{name}/archive?path=dir: a tar of exactly len bytes (announced in
 * Content-Length) written piece by piece with podman_put_write, unpacked under dir by Podman.
 * For a restore: a dump downloaded from S3 goes into the container without being held whole.
 * It runs on a raw stream of the tunnel (tunnel_open_stream), outside libcurl, because the
 * body is pushed by a producer (an S3 download's callbacks) rather than pulled. Writes block
 * while the SSH channel's window is full (bounded memory); a stall of o->timeout_ms (0: 5 min)
 * or *o->cancel ends it. Works on stopped containers too.
 */
typedef struct podman_put podman_put;

int podman_archive_put_open(podman_client *p, const char *container, const char *dir,
                            unsigned long long len, const podman_pipe_opts *o, podman_put **out,
                            omlop_err *err);

/* Write the next bytes of the body; more than announced is OMLOP_EINVAL. */
int podman_put_write(podman_put *w, const void *data, size_t len, omlop_err *err);

/* After the whole body: Podman's answer (an error names host and container); frees w. */
int podman_put_finish(podman_put *w, omlop_err *err);

/* Drop the request (the connection closes before the body's end: Podman refuses it); frees w.
 * NULL is fine. */
void podman_put_abort(podman_put *w);

#endif
