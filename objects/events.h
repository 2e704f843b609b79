/*
 * events: record Event objects (crds/event.yaml) about other objects, for
 * people reading `omlctl describe` / `kubectl describe` or `get events`.
 *
 * An event is identified by (involved object kind, name and uid, type, reason,
 * message key): recording the same one again raises its count and
 * lastTimestamp and takes the new message, instead of adding another object,
 * so a reconciler that retries every few seconds leaves one event with a
 * count, not thousands. The message key is the message with its volatile
 * parts masked (events_message_key): "channel 46" and "channel 52" of one host
 * error are one event. Events of a re-created object (a new uid) are others.
 * They expire: events_prune deletes those not raised again within a TTL
 * (omlopd's --event-ttl, operator/manager.h). Events are stored
 * under /omlop/events/<object>-<hash>, as the API would store them, so they are
 * listable per object with ?fieldSelector=involvedObject.name=X and watchable.
 *
 * Thread safety: an events recorder may be used from many threads at once
 * (the store is; the recorder holds no mutable state).
 */
#ifndef OMLOP_EVENTS_H
#define OMLOP_EVENTS_H

#include <json-c/json.h>
#include <time.h>

#include "crds/schema.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "store/store.h"

#define EVENT_TYPE_NORMAL  "Normal"
#define EVENT_TYPE_WARNING "Warning"

/* Longest message kept; longer ones are cut with "...". */
#define EVENT_MESSAGE_MAX 1024

typedef struct events events;

/*
 * A recorder writing to st as component (e.g. "omlopd"); schemas (may be NULL)
 * validates each event against the Event kind before it is stored.
 */
int events_new(store *st, const schema_set *schemas, const char *component, events **out,
               omlop_err *err);

/* Free; NULL is fine. */
void events_free(events *ev);

/*
 * Record that something happened to obj (an API object: its kind,
 * metadata.name, uid and resourceVersion are copied into involvedObject).
 * type is EVENT_TYPE_NORMAL or EVENT_TYPE_WARNING; reason is CamelCase.
 */
int events_record(events *ev, const json_object *obj, const char *type, const char *reason,
                  omlop_err *err, const char *fmt, ...) OMLOP_PRINTF(6, 7);

/* The same with an explicit time (for tests). */
int events_record_at(events *ev, const json_object *obj, const char *type, const char *reason,
                     time_t now, const char *message, omlop_err *err);

/*
 * Append message to out with every word that is all hex digits and holds a
 * digit ("46", "10.0.0.1" per part, "3f9a1c", a time) replaced by "#": what
 * stays is the part of the message that identifies the event.
 */
void events_message_key(const char *message, strbuf *out);

/* Delete events whose lastTimestamp is older than max_age_s; *deleted counts them. */
int events_prune(events *ev, time_t now, long max_age_s, size_t *deleted, omlop_err *err);

#endif
