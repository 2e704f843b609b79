/*
 * api_tls: HTTPS in front of libwebsockets. libwebsockets cannot count the custom headers of a
 * request nor answer when its header buffer overflows (see api_gate.h), and over TLS nothing can
 * read the headers before it does, unless TLS ends here: the TLS listening socket is ours, each
 * connection's handshake and records run in the event loop (OpenSSL, non-blocking, raw
 * descriptors), and the plaintext reaches libwebsockets over a socketpair.
 *
 * On the way in, every request of a kept-alive connection is framed: its header block is judged
 * with api_gate_judge (a block over --max-header-bytes or with too many lines is answered with
 * api_gate_refusal's 431, after the answers to the requests before it, and the connection
 * closes), then its Content-Length body passes; an Upgrade or an unclear framing (chunked, two
 * lengths) passes everything after it unjudged (libwebsockets answers those and closes). So
 * HTTPS connections keep alive between requests, each one measured. A handshake or a header
 * block that does not complete within the request timeout closes the connection.
 *
 * Everything runs on the event-loop thread; no locks.
 */
#ifndef OMLOP_API_TLS_H
#define OMLOP_API_TLS_H

#include <libwebsockets.h>
#include <stddef.h>

#include "lib/err.h"
#include "operator/api_server.h"

typedef struct api_tls api_tls;

/*
 * Load the certificate chain (PEM) and its private key. Errors name --tls-cert or --tls-key and
 * the file, never key material. TLS 1.2 at least, forward-secret AEAD ciphers, ALPN http/1.1.
 */
int api_tls_new(api_server *s, const char *cert_file, const char *key_file, api_tls **out,
                omlop_err *err);

/* Free (after the event loop's connections are closed); NULL is fine. */
void api_tls_free(api_tls *t);

/* Serve TLS on the listening socket fd (bound, listening); requests go to vh. Takes fd. */
int api_tls_listen(api_tls *t, struct lws_vhost *vh, int fd, omlop_err *err);

/*
 * Whether the libwebsockets connection on fd is the plaintext end of a TLS connection: 0 and
 * the client's address in peer, or -1 (not one; t may be NULL).
 */
int api_tls_peer(const api_tls *t, int fd, char *peer, size_t n);

/* The connection on fd has written its whole answer to a request (a refusal waits for it). */
void api_tls_answered(api_tls *t, int fd);

/* The lws protocols of the TLS listening sockets and of the connections (both their ends). */
int api_tls_listen_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);
int api_tls_conn_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len);

#define API_TLS_LISTEN_PROTOCOL "omlop-tls-listen"
#define API_TLS_CONN_PROTOCOL   "omlop-tls"

#endif
