/*
 * api_conn: one client connection of the API server (internal to api_server.c,
 * api_conn.c and api_conn_watch.c): the libwebsockets protocol callbacks that
 * read a request under the limits, hand it to the router and write the answer
 * back (api_conn.c), and watch streams over chunked HTTP or a websocket with
 * the store watch's fd adopted into the event loop (api_conn_watch.c).
 *
 * Everything here runs on the event-loop thread; no locks. A request that needs
 * the store is handed to the API workers (api_pool.h) whole, and its answer comes
 * back through api_conn_jobs_done: the loop never waits on the store.
 */
#ifndef OMLOP_API_CONN_H
#define OMLOP_API_CONN_H

#include <libwebsockets.h>

#include "lib/strbuf.h"
#include "operator/api_request.h"
#include "operator/api.h"
#include "operator/api_guard.h"
#include "operator/api_pool.h"
#include "operator/api_server.h"

typedef struct api_conn api_conn;

/* Bytes written per writeable callback, so one big answer cannot hog the loop. */
#define API_CONN_WRITE_CHUNK (32 * 1024)
/* Room for the response headers (status, type, length, warnings). */
#define API_CONN_HEADER_ROOM 8192

typedef enum conn_phase {
    PH_IDLE = 0, /* between requests on a keep-alive connection */
    PH_BODY,     /* reading the request body */
    PH_WORK,     /* an API worker serves the request (c->job) */
    PH_RESPOND,  /* writing an answer */
    PH_STREAM,   /* a watch stream */
    PH_CLOSING,  /* answer written; close once it is flushed */
    PH_FLUSHING  /* answer written on a kept-alive TLS connection; done once it is flushed */
} conn_phase;

struct api_conn {
    api_server *srv;
    struct lws *wsi;
    api_conn *prev, *next;
    int is_ws;
    int is_tls; /* the plaintext end of a TLS connection (api_tls judges each request) */
    conn_phase phase;
    api_request req;
    strbuf body;
    int64_t content_length;
    int is_head;
    api_response resp;
    size_t sent;
    int headers_sent;
    lws_sorted_usec_list_t sul_timeout; /* request timeout */
    int64_t deadline_ms;                /* clock_now_ms() when the request timeout ends */
    api_job *job; /* PH_WORK: the job a worker serves (its req and body moved there) */

    /* watch streams */
    struct api_stream *stream;
    struct lws *fd_wsi; /* the adopted dup of the store watch fd */
    int is_fd_paused;
    strbuf out; /* event lines not yet written */
    size_t out_off;
    int is_stream_done; /* no more events: finish once out is written */
    lws_sorted_usec_list_t sul_bookmark;
    lws_sorted_usec_list_t sul_deadline;
    lws_sorted_usec_list_t sul_alive;
};

/* The server state the connections share (owned by api_server.c). */
struct api_server {
    api *a;           /* borrowed */
    api_guard *guard; /* Host, Origin and Content-Type checks before routing */
    struct lws_context *ctx;
    struct lws_vhost *vh_tcp; /* NULL without TCP */
    struct lws_vhost *vh_unix;
    struct api_tls *tls; /* TLS in front of vh_tcp (api_tls.h); NULL for plain HTTP */
    api_pool *pool;      /* the workers that serve requests touching the store */
    int port;
    int is_tcp_local;   /* the TCP address is loopback */
    size_t header_room; /* lws's header buffer (max_http_header_data) */
    int sig_fd;         /* signalfd for SIGTERM/SIGINT, adopted into the loop */
    char describe[1024];
    api_conn *conns; /* every live connection, to drain them on shutdown */
    int is_stopping; /* a signal came: draining */
    int is_done;     /* drained (or grace over): the loop ends */
    int64_t stop_deadline_us;
    lws_sorted_usec_list_t sul_stop;
};

/* The protocol table every vhost serves: HTTP + websocket, watch fds, the signal fd. */
extern const struct lws_protocols api_conn_protocols[];

/* The name of the protocol used to adopt the signalfd. */
#define API_CONN_SIGNAL_PROTOCOL "omlop-signal"

/* Answer with a Status now (before or instead of the router); close afterwards if asked. */
void api_conn_respond_status(api_conn *c, int code, int close, const char *msg);

/* After the last byte of an answer: close, or get ready for the next request. */
int api_conn_finish(api_conn *c);

/* Deliver the answers of the jobs the workers finished (the loop was woken for them). */
void api_conn_jobs_done(api_server *srv);

/* --- api_conn_watch.c ------------------------------------------------------------------ */

/* End c's stream: stop its timers, detach the store watch fd, free the stream. */
void api_conn_stream_stop(api_conn *c);

/* Write the next piece of an HTTP (chunked) or websocket stream. */
int api_conn_stream_write_http(api_conn *c);
int api_conn_stream_write_ws(api_conn *c);

/* The callback of the adopted store watch fds. */
int api_conn_watchfd_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len);

/* Start c's watch stream from the store watch a worker opened (taken), or answer 429. */
void api_conn_stream_begin(api_conn *c, struct api_stream *stream);

/* Begin draining: end every watch stream; returns how many connections are busy. */
int api_conn_drain(api_server *srv);

/* Connections in the middle of a request or response (not idle keep-alives). */
int api_conn_busy(const api_server *srv);

#endif
