/*
 * api_server: the HTTP side of omlopd, on libwebsockets: one event loop thread
 * serving the API on a TCP address (plain or TLS) and/or a unix socket, the
 * requests that touch the store handed to api_options.workers API worker
 * threads (api_pool.h) so that the loop never waits on the store, with
 * the request limits of api_options (body size 413, header size 431, request
 * time 408, watch streams 429), watch streams as chunked HTTP or websockets,
 * and a graceful stop on SIGTERM/SIGINT: new requests get 503, requests being
 * served finish (up to shutdown_grace_s), watch streams end cleanly, then
 * api_server_run returns.
 *
 * Signals arrive through a signalfd: the caller must block SIGTERM and SIGINT
 * (pthread_sigmask) before it starts any thread, so no thread takes them.
 */
#ifndef OMLOP_API_SERVER_H
#define OMLOP_API_SERVER_H

#include "lib/err.h"
#include "operator/api.h"

typedef struct api_server_options {
    const char *listen;       /* "HOST:PORT" ("[::1]:8787"); NULL for no TCP listener */
    const char *socket_path;  /* unix socket, created mode 0600; NULL for none */
    const char *tls_cert;     /* PEM certificate (chain) for TCP; NULL for plain HTTP */
    const char *tls_key;      /* its private key */
    const char *accept_hosts; /* extra Host/Origin names, an extended regex (api_guard.h) */
} api_server_options;

typedef struct api_server api_server;

/* Listen as opts says. Errors name the address or file. */
int api_server_new(api *a, const api_server_options *opts, api_server **out, omlop_err *err);

/* Where it listens, for the start-up line: "https://127.0.0.1:8787, unix:/run/omlopd.sock". */
const char *api_server_describe(const api_server *s);

/* The TCP port actually bound (useful with port 0); 0 without TCP. */
int api_server_port(const api_server *s);

/* Serve until SIGTERM or SIGINT, then stop gracefully. */
int api_server_run(api_server *s, omlop_err *err);

/* Free (closes every connection); NULL is fine. */
void api_server_free(api_server *s);

/* Split "HOST:PORT" / "[V6]:PORT"; host may come back empty (all addresses). */
int api_server_parse_listen(const char *listen, char *host, size_t hostsz, int *port,
                            omlop_err *err);

/*
 * The address to listen on for a --listen host: an address or "" as it is, a
 * name resolved (its first IPv4 address, else IPv6). OMLOP_EINVAL naming the
 * host when it does not resolve.
 */
int api_server_resolve_host(const char *host, char *ip, size_t n, omlop_err *err);

/* Whether host is a loopback address or name (127.0.0.0/8, ::1, localhost). */
int api_server_host_is_loopback(const char *host);

#endif
