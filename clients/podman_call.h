/*
 * podman_call: the one request helper behind every podman_* call (podman.c,
 * podman_exec.c, podman_events.c): it prefixes the libpod API path, runs the
 * request over the client's tunnel, and turns a status outside the accepted
 * set into Podman's error naming host and object. Internal to the client.
 */
#ifndef OMLOP_PODMAN_CALL_H
#define OMLOP_PODMAN_CALL_H

#include <stdatomic.h>

#include "clients/podman.h"
#include "clients/tunnel.h"
#include "lib/err.h"
#include "lib/strbuf.h"

#define PODMAN_WHAT_MAX 320

/* Accepted statuses, 0-terminated. 304: "already in that state" (start, stop). */
#define PODMAN_OK_200 ((const long[]){200, 0})
#define PODMAN_OK_201 ((const long[]){201, 200, 0})
#define PODMAN_OK_204 ((const long[]){204, 200, 0})
#define PODMAN_OK_304 ((const long[]){204, 304, 200, 0})

typedef struct podman_call {
    const char *method;
    strbuf path; /* starts as the API prefix ("/v4.0.0/libpod"); append the rest and the query */
    const char *content_type;
    const void *body;
    size_t body_len;
    long timeout_ms;
    tunnel_data_fn on_data;
    void *ud;
    atomic_int *cancel;
    char what[PODMAN_WHAT_MAX]; /* "start container 'x'", for messages */
} podman_call;

/*
 * Start a call to p; what_fmt has one %s, filled with obj ("" when NULL). The
 * path starts with p's API prefix (podman_client_api_prefix).
 */
void podman_call_init(podman_call *c, podman_client *p, const char *method, const char *what_fmt,
                      const char *obj);

/* Perform c (and release its path); the response stays in resp for the caller. */
int podman_call_do(podman_client *p, podman_call *c, const long *ok, tunnel_response *resp,
                   omlop_err *err);

/* podman_call_do for calls whose answer is only a status. */
int podman_call_simple(podman_client *p, podman_call *c, const long *ok, omlop_err *err);

#endif
