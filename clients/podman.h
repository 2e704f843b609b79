/*
 * podman: a client for one host's libpod REST API (v4.0.0 paths; Podman >= 3
 * where the API allows: for Podman 3 its own version's paths, see
 * podman_client_api_prefix), over a tunnel (clients/tunnel.h: SSH or local).
 *
 * Every call returns 0 or a negative OMLOP_E* code with a message that names
 * the host and the object ("host h1: start container 'omlapp': no container
 * with name or ID "omlapp" found (HTTP 404)"). "Already in that state"
 * answers (start of a running container, stop of a stopped one) are success.
 *
 * Exec and copy-in are in podman_exec.h, event streams in podman_events.h.
 *
 * Thread-safe: calls may run concurrently (each takes its own HTTP connection
 * from the tunnel's pool). Streams (pull progress, events) run in the calling
 * thread until they end, the callback asks to stop, or *cancel is set.
 */
#ifndef OMLOP_PODMAN_H
#define OMLOP_PODMAN_H

#include <stdatomic.h>
#include <stdint.h>

#include "clients/podman_proto.h"
#include "clients/tunnel.h"
#include "lib/err.h"
#include "lib/strbuf.h"

/* The oldest Podman omlop drives (as the reference tool requires). */
#define PODMAN_MIN_MAJOR 3

typedef struct podman_client podman_client;

/* A client over t (borrowed: it must outlive the client). */
int podman_client_new(tunnel *t, podman_client **out, omlop_err *err);
void podman_client_free(podman_client *p);

/* The host label used in messages. */
const char *podman_client_host(const podman_client *p);

/* The tunnel the client talks through (borrowed). */
tunnel *podman_client_tunnel(const podman_client *p);

#define PODMAN_PREFIX_MAX 48

/*
 * The libpod path prefix for this host, into out: "/v4.0.0/libpod" for
 * Podman 4 and later, "/vX.Y.Z/libpod" (the server's own API version) for
 * Podman 3, which refuses paths of versions newer than itself. Learnt once
 * from the Libpod-Api-Version header of an unversioned /libpod/_ping; until
 * that succeeds the v4 prefix is used.
 */
void podman_client_api_prefix(podman_client *p, char *out, size_t size);

/* --- system ----------------------------------------------------------------------------- */

/* GET /_ping; the Libpod-Api-Version header goes to api_version (may be NULL). */
int podman_ping(podman_client *p, char *api_version, size_t size, omlop_err *err);

/* GET /info, parsed. */
int podman_info(podman_client *p, podman_host_info *out, omlop_err *err);

/* --- containers ------------------------------------------------------------------------- */

/* List containers (all states when is_all) matching f (may be NULL). */
int podman_containers_list(podman_client *p, const podman_filters *f, int is_all,
                           podman_container_list *out, omlop_err *err);

/* Inspect one container by name or ID; OMLOP_ENOTFOUND when there is none. */
int podman_container_inspect(podman_client *p, const char *name, podman_container *out,
                             omlop_err *err);

/* Create; the new container's ID goes to id (may be NULL). OMLOP_EEXIST if the name is taken. */
int podman_container_create(podman_client *p, const podman_create_spec *spec, char *id,
                            size_t id_size, omlop_err *err);

int podman_container_start(podman_client *p, const char *name, omlop_err *err);

/* Resume a paused container (a paused one does not start: it must be unpaused). */
int podman_container_unpause(podman_client *p, const char *name, omlop_err *err);

/*
 * Stop, sending SIGKILL after timeout_s (< 0: the container's own stop timeout).
 * The HTTP call waits timeout_s plus PODMAN_STOP_GRACE_MS for Podman's answer.
 */
int podman_container_stop(podman_client *p, const char *name, int timeout_s, omlop_err *err);

/*
 * How long past a stop's timeout_s the call waits for Podman's answer before
 * omlop sends SIGKILL itself. Podman answers a stop about 0.5 s after its own
 * SIGKILL; a kill sent while Podman's is under way is harmless (409 = stopped),
 * so a short grace bounds a teardown by its stop timeout plus a few seconds.
 */
#define PODMAN_STOP_GRACE_MS 5000L

/* Send signal ("SIGKILL") to the container; one that is not running (HTTP 409) is success. */
int podman_container_kill(podman_client *p, const char *name, const char *signal, omlop_err *err);

/*
 * Stop and make sure it stopped: a stop (SIGTERM, then SIGKILL after
 * timeout_s; < 0: the container's own) that gets no answer within timeout_s plus grace_ms (0:
 * PODMAN_STOP_GRACE_MS), or fails (a container stuck in "stopping", a process
 * that did not die), is followed by a kill. *is_killed (may be NULL) is set
 * when that kill was needed. OMLOP_ENOTFOUND when there is no such container;
 * an error only when the kill fails too (its message says both).
 */
int podman_container_stop_or_kill(podman_client *p, const char *name, int timeout_s, long grace_ms,
                                  int *is_killed, omlop_err *err);

int podman_container_restart(podman_client *p, const char *name, int timeout_s, omlop_err *err);

/* Remove; is_force also stops it, is_volumes removes its anonymous volumes. */
int podman_container_remove(podman_client *p, const char *name, int is_force, int is_volumes,
                            omlop_err *err);

/* Wait until the container stops (at most timeout_ms; < 0 forever); its exit code to *exit_code. */
int podman_container_wait(podman_client *p, const char *name, long timeout_ms, int *exit_code,
                          omlop_err *err);

/* --- images ----------------------------------------------------------------------------- */

int podman_image_exists(podman_client *p, const char *ref, int *exists, omlop_err *err);

typedef struct podman_pull_opts {
    int tls_verify;  /* -1: as the host's registries.conf says; 0 no; 1 yes */
    long timeout_ms; /* 0: 30 minutes */
    atomic_int *cancel;
} podman_pull_opts;

/* Called with each progress line of a pull; return non-zero to stop. */
typedef int (*podman_progress_fn)(void *ud, const char *line);

/* Pull ref; progress (may be NULL) sees each line; the image ID goes to id (may be NULL). */
int podman_image_pull(podman_client *p, const char *ref, const podman_pull_opts *o,
                      podman_progress_fn progress, void *ud, char *id, size_t id_size,
                      omlop_err *err);

int podman_image_remove(podman_client *p, const char *ref, int is_force, omlop_err *err);

/* --- volumes ---------------------------------------------------------------------------- */

/* Create a named volume with labels; OMLOP_EEXIST when it exists. */
int podman_volume_create(podman_client *p, const char *name, const podman_kv *labels,
                         size_t n_labels, omlop_err *err);

int podman_volumes_list(podman_client *p, const podman_filters *f, podman_volume_list *out,
                        omlop_err *err);

int podman_volume_remove(podman_client *p, const char *name, int is_force, omlop_err *err);

#endif
