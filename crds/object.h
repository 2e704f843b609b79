/*
 * object: the conventions every stored object follows.
 *
 * An object lives under the store key "/omlop/<plural>/<name>" as compact JSON
 * without metadata.resourceVersion: the resourceVersion is the key's
 * mod_revision and is added when the object is read (objects/objects.h: obj_from_kv).
 * uid is a random (v4) UUID, timestamps are RFC 3339 UTC with seconds.
 */
#ifndef OMLOP_OBJECT_H
#define OMLOP_OBJECT_H

#include <json-c/json.h>
#include <stdint.h>
#include <time.h>

#include "lib/err.h"
#include "lib/strbuf.h"

#define API_KEY_ROOT "/omlop/"

/* Append "/omlop/<plural>/<name>". */
void object_key(strbuf *out, const char *plural, const char *name);

/* Append "/omlop/<plural>/" (the list and watch prefix). */
void object_prefix(strbuf *out, const char *plural);

/* Deepest JSON nesting the API accepts in bodies and reads back from the store. */
#define API_JSON_MAX_DEPTH 64

/* Parse JSON text of len bytes into an object (caller puts); NULL when it is not one. */
json_object *object_parse(const char *text, size_t len);

/* Set metadata.resourceVersion to the decimal revision (creating metadata). */
void object_set_rv(json_object *obj, int64_t revision);

/* Append the stored form of obj: compact JSON without metadata.resourceVersion. */
void object_store_text(const json_object *obj, strbuf *out);

/* obj's metadata, created empty when missing or not an object (borrowed). */
json_object *object_meta(json_object *obj);

/*
 * The core v1 view's namespace: omlop's kinds are cluster-scoped, and the core
 * v1 view (/api/v1/secrets, api_router.h) shows them in this one namespace,
 * since typed Kubernetes clients address Secrets only by namespace.
 */
#define API_CORE_NAMESPACE "default"

/* Show obj (a stored object) as the core v1 view does: apiVersion v1, API_CORE_NAMESPACE. */
void object_core_view(json_object *obj);

/* metadata.name, or NULL. */
const char *object_name(const json_object *obj);

/* Format t as RFC 3339 UTC ("2025-01-02T03:04:05Z"). */
void object_time_format(time_t t, char out[32]);

/* Parse an RFC 3339 time ("2024-05-01T10:00:00Z", fractions and offsets too); OMLOP_EINVAL. */
int object_time_parse(const char *s, time_t *out);

/* A random version 4 UUID in its 36-character text form. */
void object_uid_new(char out[37]);

/*
 * Whether name is a valid object name (a DNS-1123 subdomain: lowercase
 * letters, digits, '-' and '.', at most 253, starting and ending alphanumeric).
 */
int object_name_is_valid(const char *name);

/* Parse a decimal resourceVersion; -1 when it is not one. */
int64_t object_rv_parse(const char *s);

#endif
