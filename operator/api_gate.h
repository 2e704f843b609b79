/*
 * api_gate: reads the header block of every plain-HTTP and unix-socket connection before
 * libwebsockets does. libwebsockets 4.1 keeps the headers it does not know (custom ones) out
 * of reach of any public count and, when its header buffer overflows, closes the connection
 * without an answer. So the listening sockets are ours: an accepted connection waits here (a
 * raw descriptor in the lws loop) until the blank line that ends its header block arrives,
 * and a block over --max-header-bytes is answered 431 with a Status and an audit line; a
 * block within it is handed to libwebsockets with the bytes already read. Such connections
 * carry one request each (api_conn answers them with Connection: close), so every request
 * passes here. TLS connections are decrypted by api_tls first, which judges each of their
 * requests with api_gate_judge and refuses with api_gate_refusal.
 */
#ifndef OMLOP_API_GATE_H
#define OMLOP_API_GATE_H

#include <libwebsockets.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/strbuf.h"
#include "operator/api_server.h"

/* Bytes libwebsockets adds per header line when it stores the line (custom headers). */
#define API_GATE_LWS_LINE_COST 8

/* Header lines plus query parameters libwebsockets takes in one request: its table of header
 * fragments has WSI_TOKEN_COUNT (95) slots, one per known header line and per parameter, and
 * it closes the connection without an answer when they run out. Custom lines count too here. */
#define API_GATE_MAX_FIELDS 88

typedef enum api_gate_verdict {
    API_GATE_MORE = 0,  /* the block is not complete yet */
    API_GATE_PASS,      /* complete and within the limits */
    API_GATE_TOO_LARGE, /* over the limit (or more than libwebsockets can hold): 431 */
    API_GATE_TOO_MANY   /* more header lines and query parameters than API_GATE_MAX_FIELDS */
} api_gate_verdict;

/*
 * The verdict on the first len bytes of a connection. The header block is the request line,
 * every header line and the blank line ending them, line ends included; it is too large when
 * longer than limit, or when, stored the libwebsockets way (each line plus
 * API_GATE_LWS_LINE_COST), it would not fit in room bytes. *scanned (0 at first) remembers how
 * far the search for the end went. *block gets the block's length on API_GATE_PASS.
 * API_GATE_TOO_MANY when the block has more than API_GATE_MAX_FIELDS header lines plus query
 * parameters.
 */
api_gate_verdict api_gate_judge(const char *buf, size_t len, size_t limit, size_t room,
                                size_t *scanned, size_t *block);

/*
 * The answer to a header block refused with why (API_GATE_TOO_LARGE or API_GATE_TOO_MANY): the
 * whole 431 response (head, Connection: close, Status body) appended to out, and the audit line
 * naming remote and the method and path of block[0..len). Plain, unix and TLS connections
 * (api_tls) answer with these same bytes.
 */
void api_gate_refusal(const api_server *s, api_gate_verdict why, const char *block, size_t len,
                      const char *remote, strbuf *out);

/* Watch the listening socket fd (bound and listening) in s's loop; connections go to vh.
 * Takes fd (closed on failure). */
int api_gate_listen(api_server *s, struct lws_vhost *vh, int fd, omlop_err *err);

/* The lws protocols of the listening sockets and of the connections waiting here. */
int api_gate_listen_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);
int api_gate_conn_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);

#define API_GATE_LISTEN_PROTOCOL "omlop-listen"
#define API_GATE_CONN_PROTOCOL   "omlop-gate"

#endif
