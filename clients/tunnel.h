/*
 * tunnel: HTTP/1.1 to a host's Podman socket, with libcurl.
 *
 * Two transports: "ssh" forwards a private local unix socket to the host's
 * Podman socket over a shared ssh_conn (clients/ssh.h, like "ssh -L"; each
 * HTTP connection becomes one direct-streamlocal channel); "local" talks to a
 * unix socket on this machine. libcurl connects to either with
 * CURLOPT_UNIX_SOCKET_PATH, so everything above the socket - keep-alive reuse,
 * chunked bodies, timeouts - is libcurl's. (Handing curl a ready stream through
 * CURLOPT_OPENSOCKETFUNCTION does not work with the libcurl 7.88 of Debian 12:
 * it ignores CURL_SOCKOPT_ALREADY_CONNECTED and calls connect() anyway.)
 *
 * Keep-alive: a tunnel keeps a small pool of curl handles, each holding its
 * idle connection (one SSH channel) for the next request; concurrent requests
 * take different handles, so calls from several threads run in parallel.
 *
 * Streaming: with on_data set, a 2xx body is handed over as it arrives (the
 * callback can stop it); a non-2xx body is always collected for the error.
 * A stream ends with an error when the socket closes mid-body (the Podman
 * service died, the SSH connection was lost), never by hanging: the SSH side
 * closes every channel of a dead connection (see ssh.h keepalives).
 *
 * Debugging: OMLOP_CURL_VERBOSE=1 in the environment makes libcurl print each
 * exchange's headers to stderr (never bodies; no secrets travel in headers).
 *
 * Thread-safe. libcurl's global init is reference-counted by tunnel_new_* and
 * tunnel_free (thread-safe since libcurl 7.84; Debian 12 has 7.88).
 */
#ifndef OMLOP_TUNNEL_H
#define OMLOP_TUNNEL_H

#include <stdatomic.h>
#include <stddef.h>

#include "clients/ssh.h"
#include "lib/err.h"
#include "lib/strbuf.h"

#define TUNNEL_DEFAULT_SOCKET     "/run/podman/podman.sock"
#define TUNNEL_DEFAULT_TIMEOUT_MS 60000
#define TUNNEL_DEFAULT_MAX_BODY   (16u * 1024 * 1024)

typedef struct tunnel tunnel;

/* A tunnel over conn (borrowed: it must outlive the tunnel); NULL socket_path = default. */
int tunnel_new_ssh(ssh_conn *conn, const char *socket_path, tunnel **out, omlop_err *err);

/* A tunnel to a unix socket on this machine; NULL socket_path = default. */
int tunnel_new_local(const char *socket_path, tunnel **out, omlop_err *err);

/* Close idle connections and free; NULL is fine. No request may be running. */
void tunnel_free(tunnel *t);

/* Open one raw byte stream to the socket, outside HTTP (tests, tools); caller closes fd. */
int tunnel_open_stream(tunnel *t, int *fd, omlop_err *err);

/* The host label for messages ("local" for the local transport). */
const char *tunnel_host(const tunnel *t);

/* The socket path on the host. */
const char *tunnel_socket(const tunnel *t);

/* "ssh://root@10.0.0.1:22/run/podman/podman.sock" or "unix:///run/podman/podman.sock". */
const char *tunnel_describe(const tunnel *t);

/* The SSH connection, or NULL for the local transport. */
ssh_conn *tunnel_ssh(const tunnel *t);

/* Called with each piece of a streamed 2xx body; return non-zero to stop the transfer. */
typedef int (*tunnel_data_fn)(void *ud, const char *data, size_t len);

typedef struct tunnel_request {
    const char *method;       /* "GET", "POST", "PUT", "DELETE" */
    const char *path;         /* "/v4.0.0/libpod/..." with the query, already escaped */
    const char *content_type; /* of body; NULL: application/json when there is a body */
    const void *body;
    size_t body_len;
    long timeout_ms;        /* whole request; 0: TUNNEL_DEFAULT_TIMEOUT_MS; <0: none */
    tunnel_data_fn on_data; /* stream the 2xx body here instead of collecting it */
    void *ud;
    atomic_int *cancel; /* optional: set non-zero from any thread to end the request */
    size_t max_body;    /* cap on a collected body; 0: TUNNEL_DEFAULT_MAX_BODY */
} tunnel_request;

typedef struct tunnel_response {
    long status;          /* HTTP status; 0 if none arrived */
    strbuf body;          /* the collected body (always, for non-2xx) */
    char api_version[32]; /* the Libpod-Api-Version header, if any */
    long long date;       /* the Date header as Unix seconds (the host's clock), or 0 */
    int is_stopped;       /* on_data asked to stop */
    int is_cancelled;     /* *cancel was set */
} tunnel_response;

#define TUNNEL_RESPONSE_INIT                                                                       \
    {                                                                                              \
        0, STRBUF_INIT, {0}, 0, 0, 0                                                               \
    }

/* Free the body and reset. */
void tunnel_response_release(tunnel_response *r);

/*
 * Perform one request. Returns 0 when an HTTP response arrived (whatever its
 * status: mapping statuses is the caller's business), or when on_data / cancel
 * ended it; a negative code when the transport failed - unreachable host,
 * refused socket, timeout, or the connection broke mid-body - with a message
 * naming host, method and path.
 */
int tunnel_http(tunnel *t, const tunnel_request *req, tunnel_response *resp, omlop_err *err);

#endif
