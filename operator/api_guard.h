/*
 * api_guard: what a request must look like before it is routed, so that a web
 * page in a browser on the same machine cannot use the API (api_conn.c runs it
 * on every request and websocket upgrade, before authentication):
 *
 *   - Host (DNS rebinding): without tokens, or when accept_hosts is set, the
 *     Host header must name a loopback address (localhost, 127.0.0.0/8, [::1],
 *     any port), the listen address, or match accept_hosts (an extended regular
 *     expression over the host without its port, matched whole, as kubectl
 *     proxy --accept-hosts). Requests on the unix socket and requests without a
 *     Host header (no browser sends one) are not checked.
 *   - Origin (cross-site requests, websockets included): an Origin header is
 *     accepted only when its host is loopback, the listen address or matches
 *     accept_hosts; "null" and unparsable origins are foreign. kubectl, curl and
 *     omlctl send no Origin.
 *   - Content-Type of writes (POST, PUT, PATCH, DELETE): a write with a body, or
 *     with a Content-Type at all, needs one of the API's body types (JSON, YAML,
 *     merge-patch, json-patch, strategic-merge-patch, apply-patch). A browser can
 *     send text/plain or a form cross-site without asking first; never these.
 *
 * Refusals are 403 Forbidden (Host, Origin) or 415 UnsupportedMediaType, with a
 * message that names the header and what to do. A guard is immutable once made
 * and may be shared between threads.
 */
#ifndef OMLOP_API_GUARD_H
#define OMLOP_API_GUARD_H

#include <stddef.h>

#include "lib/err.h"
#include "operator/api_request.h"

typedef struct api_guard api_guard;

/*
 * A guard. accept_hosts: extended regex or NULL; listen_host: the TCP listen
 * host ("" or NULL for none or a wildcard); check_host: 1 when Host must be
 * checked even without accept_hosts (no tokens). OMLOP_EINVAL naming
 * --accept-hosts when the regex does not compile.
 */
int api_guard_new(const char *accept_hosts, const char *listen_host, int check_host,
                  api_guard **out, omlop_err *err);

/* Free; NULL is fine. */
void api_guard_free(api_guard *g);

/*
 * Check req (its method, host, origin, content_type and is_unix, and has_body).
 * 0 when it may go on; otherwise the HTTP status (403 or 415) with the reason in
 * err->msg and a short word for the audit log in *what ("host", "origin",
 * "content-type").
 */
int api_guard_check(const api_guard *g, const api_request *req, int has_body, const char **what,
                    omlop_err *err);

/* Whether a media type (lowercased, no parameters) is one the API reads in a body. */
int api_guard_body_type_ok(const char *media_type);

/*
 * Split a Host header value ("name", "name:port", "[v6]", "[v6]:port") into host
 * (brackets removed). -1 when it is malformed or too long.
 */
int api_guard_split_host(const char *value, char *host, size_t n);

#endif
