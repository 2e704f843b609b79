/*
 * apiclient: a small libcurl client for omlopd's Kubernetes-style HTTP API.
 *
 * It knows the transport and the wire conventions, nothing about verbs:
 *   - server URLs http://HOST:PORT[/prefix], https://... (CA file or
 *     insecure-skip-verify) and unix:///path/to.sock (HTTP over a unix socket);
 *   - a bearer token, sent as "Authorization: Bearer" and never logged;
 *   - bounded responses and timeouts (connect, whole request);
 *   - Kubernetes Status error bodies turned into omlop_err messages that carry
 *     the HTTP code, the reason, the message and every cause ("field: message"),
 *     with the code mapped to an OMLOP_E* value (404 -> ENOTFOUND, 409 Conflict ->
 *     ECONFLICT, 409 AlreadyExists -> EEXIST, 410 -> EGONE, 401 -> EAUTH, ...);
 *   - watch streams (?watch=true): chunked newline-delimited JSON events read one
 *     at a time with a timeout, the in-stream ERROR event turned into an error.
 *
 * One apiclient is used by one thread at a time (it reuses one curl handle so
 * requests share a keep-alive connection). Each apiclient_watch owns its own handle.
 *
 * Implemented in apiclient.c (requests, errors, paths) and apiclient_watch.c
 * (watch streams); apiclient_int.h is what the two share.
 */
#ifndef OMLOP_APICLIENT_H
#define OMLOP_APICLIENT_H

#include <json-c/json.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/strbuf.h"

#define APICLIENT_PREFIX "/apis/omlop.io/v1alpha1"

typedef struct apiclient apiclient;
typedef struct apiclient_watch apiclient_watch;

typedef struct apiclient_opts {
    const char *server;       /* http(s)://HOST:PORT[/prefix] or unix:///path/to.sock */
    const char *token;        /* bearer token, or NULL for none */
    const char *ca_file;      /* PEM bundle that signs the https server, or NULL (system) */
    int insecure_skip_verify; /* https without checking the certificate (tests only) */
    long connect_timeout_ms;  /* default 10 s */
    long timeout_ms;          /* whole request (not watches); 0 = no limit; default 60 s */
    size_t max_response;      /* bytes of one response body; default 64 MiB */
    size_t max_event;         /* bytes of one watch event line; default 8 MiB */
} apiclient_opts;

typedef struct apiclient_response {
    long code;        /* HTTP status; 0 before a response arrived */
    strbuf body;      /* the response body */
    strbuf warnings;  /* Warning: header values, one per line */
    char *content_ty; /* Content-Type of the response, or NULL */
} apiclient_response;

#define APICLIENT_RESPONSE_INIT                                                                    \
    {                                                                                              \
        0, STRBUF_INIT, STRBUF_INIT, NULL                                                          \
    }

typedef enum apiclient_event_type {
    APICLIENT_EVENT_END = 0, /* the server closed the stream cleanly; re-watch from the last RV */
    APICLIENT_EVENT_ADDED,
    APICLIENT_EVENT_MODIFIED,
    APICLIENT_EVENT_DELETED,
    APICLIENT_EVENT_BOOKMARK
} apiclient_event_type;

typedef struct apiclient_event {
    apiclient_event_type type;
    json_object *object; /* owned by the event; NULL for APICLIENT_EVENT_END */
} apiclient_event;

/* Fill opts with the defaults above (server and token NULL). */
void apiclient_opts_default(apiclient_opts *opts);

/* A client for opts->server; OMLOP_EINVAL naming the URL when it is malformed. */
int apiclient_new(const apiclient_opts *opts, apiclient **out, omlop_err *err);

/* Free; NULL is fine. */
void apiclient_free(apiclient *c);

/* The server URL as given (for messages). */
const char *apiclient_server(const apiclient *c);

/*
 * Send one request. path is the part after the server URL, starting with "/"
 * (query included, already escaped: see apiclient_query_add). body may be NULL.
 * Returns 0 whenever the server answered, whatever the HTTP code (look at
 * resp->code); a negative code when it could not be reached or the answer was
 * too large or too slow. resp is reset first; release it with apiclient_response_release.
 */
int apiclient_do(apiclient *c, const char *method, const char *path, const char *content_type,
                 const char *body, size_t body_len, apiclient_response *resp, omlop_err *err);

/*
 * A request whose answer is JSON: on 2xx *out (when out is not NULL) is the parsed
 * body (caller puts; NULL for an empty body) and 0 is returned; otherwise the
 * error from the Status body (apiclient_status_error). body may be NULL. Server warnings
 * are written to stderr as "Warning: ..." lines, as kubectl does.
 */
int apiclient_json(apiclient *c, const char *method, const char *path, const char *content_type,
                   const json_object *body, json_object **out, omlop_err *err);

/* Write the response's Warning headers to stderr as "Warning: text" lines. */
void apiclient_print_warnings(const apiclient_response *resp);

/* Free what a response owns and reset it. */
void apiclient_response_release(apiclient_response *resp);

/*
 * Turn an error answer (code >= 300) into err: the Status object's reason, message
 * and causes when the body is one, otherwise the first bytes of the body. The
 * message reads "omlopd answered 422 Invalid: <message>" followed by one
 * "\n  <field>: <message>" line per cause. Returns the mapped negative code.
 */
int apiclient_status_error(long code, const char *body, size_t len, omlop_err *err);

/* The OMLOP_E* code for an HTTP error code and Status reason (reason may be NULL). */
int apiclient_code_from_http(long code, const char *reason);

/* Append "/apis/omlop.io/v1alpha1/<plural>[/<name>[/<sub>]]", name percent-escaped. */
void apiclient_path(strbuf *out, const char *plural, const char *name, const char *sub);

/* Append "?key=value" (or "&key=value" when the path already has a query), value escaped. */
void apiclient_query_add(strbuf *path, const char *key, const char *value);

/*
 * Open a watch: path must carry watch=true (apiclient_query_add). Waits until the
 * server answered the request; a non-200 answer is an error as apiclient_json
 * reports it (410 -> OMLOP_EGONE).
 */
int apiclient_watch_open(apiclient *c, const char *path, apiclient_watch **out, omlop_err *err);

/*
 * Next event, waiting up to timeout_ms (-1 = no limit). Returns 0 with *ev filled
 * (release with apiclient_event_release); OMLOP_ETIMEOUT when no event came in time;
 * the error of an in-stream ERROR event (410 Expired -> OMLOP_EGONE); OMLOP_EPROTO
 * for a line that is not a watch event; OMLOP_ELIMIT for an oversized line.
 */
int apiclient_watch_next(apiclient_watch *w, int timeout_ms, apiclient_event *ev, omlop_err *err);

/* Stop watching and free; NULL is fine. */
void apiclient_watch_close(apiclient_watch *w);

/* Free the event's object and reset it. */
void apiclient_event_release(apiclient_event *ev);

/* "ADDED", "MODIFIED", "DELETED", "BOOKMARK" or "END". */
const char *apiclient_event_type_name(apiclient_event_type t);

#endif
