/*
 * api_watch: the events of one watch stream, independent of the transport
 * (chunked HTTP or websocket, see api_conn.c), as newline-delimited JSON:
 *
 *     {"type":"ADDED","object":{...}}
 *     {"type":"MODIFIED","object":{...}}
 *     {"type":"DELETED","object":{... the last state, resourceVersion = the deletion}}
 *     {"type":"BOOKMARK","object":{"kind":"Tenant","apiVersion":"omlop.io/v1alpha1",
 *                                  "metadata":{"resourceVersion":"42"}}}
 *     {"type":"ERROR","object":{"kind":"Status",...,"code":410,"reason":"Gone"}}
 *
 * Where it starts (?resourceVersion=), as Kubernetes does:
 *   unset or "0"  an ADDED event for every matching object, then every change;
 *   N             every change after revision N; 410 Gone when N was compacted
 *                 (answered before streaming), or an ERROR event carrying a 410
 *                 Status when the store drops the watch later (the subscriber
 *                 fell behind, compaction, shutdown). The client re-lists.
 * Selectors filter each event by the object's state in it. With a Table Accept
 * header each event's object is a one-row Table.
 */
#ifndef OMLOP_API_WATCH_H
#define OMLOP_API_WATCH_H

#include <stdint.h>

#include "lib/err.h"
#include "lib/strbuf.h"
#include "operator/api.h"
#include "operator/api_request.h"

typedef struct api_stream api_stream;

/*
 * Open a stream for spec. OMLOP_EGONE (with a message for the 410 Status) when
 * the revision was compacted; OMLOP_EINVAL for a bad selector.
 */
int api_stream_open(api *a, const api_watch_spec *spec, api_stream **out, omlop_err *err);

/* The fd that polls readable while store events are pending. */
int api_stream_fd(const api_stream *s);

/*
 * Append the pending events as lines to out (the initial ADDED events first).
 * Returns 0 while the stream goes on, 1 when it has ended (an ERROR event was
 * appended, or the store closed the watch).
 */
int api_stream_pump(api_stream *s, strbuf *out);

/* Append a BOOKMARK event at the last revision delivered. */
void api_stream_bookmark(api_stream *s, strbuf *out);

/* The revision of the last event delivered (or the start). */
int64_t api_stream_revision(const api_stream *s);

/* Close the store watch and free; NULL is fine. */
void api_stream_free(api_stream *s);

#endif
