/*
 * api_request: one HTTP request and its answer, as the API layer sees them,
 * independent of the HTTP library (api_conn fills a request from libwebsockets,
 * the fuzz target and unit tests build them by hand).
 *
 * The router (api_router.h) turns an api_request into an api_response; the
 * transport writes the response back. Both structs are transparent: the
 * transport fills the request and reads the response.
 */
#ifndef OMLOP_API_REQUEST_H
#define OMLOP_API_REQUEST_H

#include <json-c/json.h>
#include <stddef.h>

#include "crds/schema.h"
#include "lib/err.h"
#include "lib/strbuf.h"

typedef enum api_method {
    API_METHOD_OTHER = 0,
    API_METHOD_GET,
    API_METHOD_HEAD,
    API_METHOD_POST,
    API_METHOD_PUT,
    API_METHOD_PATCH,
    API_METHOD_DELETE,
    API_METHOD_OPTIONS
} api_method;

typedef enum api_role { API_ROLE_NONE = 0, API_ROLE_VIEW = 1, API_ROLE_ADMIN = 2 } api_role;

/* Who sent a request: the token's name and role ("local"/admin without tokens). */
typedef struct api_principal {
    char name[128];
    api_role role;
} api_principal;

typedef struct api_param {
    char *key;
    char *value; /* "" for a bare "?key" */
} api_param;

typedef struct api_request {
    api_method method;
    char *path;        /* URL-decoded path without the query */
    api_param *params; /* query parameters in order, URL-decoded */
    size_t n_params;
    char *content_type;  /* media type, lowercased, parameters dropped; NULL if absent */
    char *accept;        /* Accept header as sent, or NULL */
    char *authorization; /* Authorization header as sent, or NULL (never logged) */
    char *remote;        /* peer address for logs ("127.0.0.1", "unix") */
    char *host;          /* Host header as sent, or NULL (api_guard.h) */
    char *origin;        /* Origin header as sent, or NULL (api_guard.h) */
    const char *body;    /* borrowed request body, or NULL */
    size_t body_len;
    int is_websocket;  /* the request is a websocket upgrade (watch only) */
    int is_local;      /* arrived on a loopback address or the unix socket */
    int is_unix;       /* arrived on the unix socket */
    int is_late;       /* began after a graceful stop started: answered 503 */
    api_principal who; /* filled by the router's authentication */
} api_request;

/* What a watch request asks for; the transport opens the stream (api_watch.h). */
typedef struct api_watch_spec {
    const kind_info *kind;  /* the watched kind (borrowed from the schema set) */
    char *resource_version; /* as sent, or NULL */
    char *label_selector;   /* or NULL */
    char *field_selector;   /* or NULL (metadata.name=X for a named watch) */
    int want_table;         /* each event's object is a meta.k8s.io/v1 Table */
    int include_object;     /* Table rows: 0 None, 1 Metadata, 2 Object */
    int allow_bookmarks;
    int timeout_s; /* end the stream cleanly after this long; 0 = no limit */
    int is_core;   /* the core v1 view: objects shown with apiVersion v1 */
} api_watch_spec;

typedef struct api_response {
    int status;               /* HTTP status code */
    const char *content_type; /* static string */
    strbuf body;
    strbuf warnings;       /* Warning header texts, one per line */
    int close_connection;  /* answer, then close (body left unread, fatal errors) */
    api_watch_spec *watch; /* non-NULL: the request becomes a watch stream */
} api_response;

/* Make req empty. */
void api_request_init(api_request *req);

/* Free what req owns (not body) and make it empty. */
void api_request_release(api_request *req);

/* Method from its name ("GET"); API_METHOD_OTHER if unknown. */
api_method api_method_parse(const char *name);

/* Name of a method ("GET"). */
const char *api_method_name(api_method m);

/* Add one query fragment "key=value" (already URL-decoded) or "key". */
void api_request_add_param(api_request *req, const char *fragment);

/* Parse a raw query string "a=1&b=%20x" (URL-decoding it) into params. */
void api_request_parse_query(api_request *req, const char *query);

/* Set content_type from a Content-Type header value (NULL clears). */
void api_request_set_content_type(api_request *req, const char *header);

/* Value of the last parameter key, or NULL when absent. */
const char *api_request_param(const api_request *req, const char *key);

/* Whether a boolean parameter is set ("true", "1", or a bare "?key"). */
int api_request_flag(const api_request *req, const char *key);

/* Whether the Accept header asks for a meta.k8s.io Table first. */
int api_accept_wants_table(const char *accept);

/* Whether the Accept header asks for YAML (application/yaml) before JSON. */
int api_accept_wants_yaml(const char *accept);

/* Whether the Accept header allows a media type (exactly, or by a wildcard range). */
int api_accept_allows(const char *accept, const char *media_type);

/* Make resp empty (status 200, JSON). */
void api_response_init(api_response *resp);

/* Free what resp owns and make it empty. */
void api_response_release(api_response *resp);

/* Set status and a JSON body (compact text of obj; obj is borrowed). */
void api_response_json(api_response *resp, int status, const json_object *obj);

/* Add one Warning text (sent as: Warning: 299 - "text"). */
void api_response_add_warning(api_response *resp, const char *fmt, ...) OMLOP_PRINTF(2, 3);

/* Free a watch spec; NULL is fine. */
void api_watch_spec_free(api_watch_spec *spec);

#endif
