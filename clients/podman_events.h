/*
 * podman_events: Podman's event stream, with filters (label, type, event).
 * podman_events streams once; podman_events_follow survives breaks (Podman
 * restarted, SSH reconnected) by resuming with `since` the last event seen and
 * skipping what was already delivered. Part of the Podman client (podman.h).
 *
 * podman_events_stream is the same stream without a thread of its own: the
 * caller sends the request it builds over a byte stream to the Podman socket
 * and feeds it whatever comes back (clients/hostpool runs it on an SSH pump's
 * channel). It decodes the HTTP response (chunked or not), the JSON lines and
 * the events, and skips on a restart what the previous stream delivered.
 */
#ifndef OMLOP_PODMAN_EVENTS_H
#define OMLOP_PODMAN_EVENTS_H

#include <stdatomic.h>
#include <stdint.h>

#include "clients/podman.h"
#include "lib/err.h"

/* Called per event; return non-zero to stop the stream. */
typedef int (*podman_event_fn)(void *ud, const podman_event *ev);

/* Told about each break of a followed stream, before it is resumed. */
typedef void (*podman_break_fn)(void *ud, const omlop_err *why, unsigned attempt);

typedef struct podman_events_opts {
    const podman_filters *filters;
    int64_t since_nano;   /* replay from here (Podman's clock); 0: only new events */
    atomic_int *cancel;   /* set non-zero to end the stream (checked about every second) */
    unsigned max_resumes; /* follow: give up after this many breaks in a row; 0: never */
    long backoff_max_ms;  /* follow: cap of the wait between resumes; 0: 5000 */
    podman_break_fn on_break;
    void *break_ud;
} podman_events_opts;

/*
 * Stream events once: returns 0 when the callback or *cancel stopped it, an
 * error when the stream broke (Podman died, the host went away).
 */
int podman_events(podman_client *p, const podman_events_opts *o, podman_event_fn cb, void *ud,
                  omlop_err *err);

/*
 * Stream events and survive breaks: after an error, wait (exponential backoff)
 * and resume with `since` the last event seen, skipping events already
 * delivered, so each event is delivered once. Returns 0 when stopped by the
 * callback or *cancel, or the last error after max_resumes breaks in a row.
 */
int podman_events_follow(podman_client *p, const podman_events_opts *o, podman_event_fn cb,
                         void *ud, omlop_err *err);

/* An event stream decoded from raw bytes; not thread-safe (one feeder). */
typedef struct podman_events_stream podman_events_stream;

/* A decoder for host's events (host: for messages; copied), delivering to cb. */
podman_events_stream *podman_events_stream_new(const char *host, podman_event_fn cb, void *ud);
void podman_events_stream_free(podman_events_stream *s);

/*
 * Start a stream: reset the decoder and append to out the HTTP request for
 * prefix's (e.g. "/v4.0.0/libpod") events matching f (may be NULL). A restart
 * asks from the second of the last event delivered (or, before any, from the
 * first response's Date), so events of the gap are replayed once.
 */
void podman_events_stream_request(podman_events_stream *s, const char *prefix,
                                  const podman_filters *f, strbuf *out);

/*
 * Forget the resume point: the next request asks only for new events (after
 * the connection to the host was lost: a round re-reads everything anyway, a
 * replay of the outage would only queue the tenants again and again).
 */
void podman_events_stream_forget(podman_events_stream *s);

/*
 * Feed response bytes. Returns 0, or an error naming the host when the
 * response is not a 200 event stream or is malformed (then the stream is
 * useless: close it and start again later). One bad event line is skipped.
 */
int podman_events_stream_feed(podman_events_stream *s, const char *data, size_t len,
                              omlop_err *err);

#endif
