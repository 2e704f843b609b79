/*
 * podman_exec: run a command in a running container and capture its stdout,
 * stderr (demultiplexed) and exit code; copy a tar archive into a container.
 * Part of the Podman client (podman.h); thread-safe like it.
 */
#ifndef OMLOP_PODMAN_EXEC_H
#define OMLOP_PODMAN_EXEC_H

#include <stddef.h>

#include "clients/podman.h"
#include "lib/err.h"
#include "lib/strbuf.h"

typedef struct podman_exec_opts {
    const char *const *env; /* "K=V", NULL-terminated, or NULL */
    const char *workdir;
    const char *user;
    long timeout_ms;   /* 0: 60 s */
    size_t max_output; /* per stream; 0: 1 MiB; more is an OMLOP_ELIMIT error */
} podman_exec_opts;

typedef struct podman_exec_result {
    int exit_code;
    strbuf out; /* stdout */
    strbuf err; /* stderr */
} podman_exec_result;

#define PODMAN_EXEC_RESULT_INIT                                                                    \
    {                                                                                              \
        -1, STRBUF_INIT, STRBUF_INIT                                                               \
    }

void podman_exec_result_release(podman_exec_result *r);

/* Run cmd in a running container; capture stdout, stderr and the exit code. */
int podman_exec(podman_client *p, const char *container, const char *const *cmd,
                const podman_exec_opts *o, podman_exec_result *res, omlop_err *err);

/*
 * Copy a tar archive (see podman_tar.h) into the container, unpacked under
 * dest_dir. Works on stopped containers too, and into volumes mounted there.
 */
int podman_copy_in(podman_client *p, const char *container, const char *dest_dir, const void *tar,
                   size_t len, omlop_err *err);

/*
 * The exit code of exec session id once Podman noticed its process ended (shortly after its
 * output did): polled every 20 ms, at most tries times (OMLOP_ETIMEOUT then). what names the
 * call in messages. Shared by podman_exec and podman_pipe's streaming exec.
 */
int podman_exec_exit_code(podman_client *p, const char *id, const char *what, int tries, int *code,
                          omlop_err *err);

#endif
