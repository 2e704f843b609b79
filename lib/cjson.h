/*
 * cjson: canonical JSON text and its stable hash, plus small json-c helpers.
 *
 * The canonical form is what drift detection hashes: object keys sorted
 * bytewise, no insignificant white space, strings escaped minimally, integers
 * in decimal, doubles in their shortest round-trip form (an integral double
 * below 2^53 is written as an integer, so 1 and 1.0 hash alike). Two trees that
 * mean the same JSON give the same text; any change of value changes it.
 */
#ifndef OMLOP_CJSON_H
#define OMLOP_CJSON_H

#include <json-c/json.h>
#include <stdint.h>

#include "strbuf.h"

#define CJSON_HASH_HEX_LEN 64

/* Append the canonical text of obj (NULL is "null") to out. */
void cjson_canonical(const json_object *obj, strbuf *out);

/* cjson_add_quoted flag: also escape DEL (0x7f), so text shown on a terminal stays inert. */
#define CJSON_QUOTE_DEL 1u

/*
 * Append n bytes of s as a quoted JSON string: '"', '\\' and control bytes
 * escaped (short forms where JSON has them), everything else verbatim. The
 * canonical form uses flags 0; changing what it escapes changes every hash.
 */
void cjson_add_quoted(strbuf *out, const char *s, size_t n, unsigned flags);

/* SHA-256 of the canonical text, as 64 lowercase hex digits plus NUL. */
void cjson_hash(const json_object *obj, char out[CJSON_HASH_HEX_LEN + 1]);

/* SHA-256 of len bytes at data, as lowercase hex (what sha256sum prints). */
void cjson_sha256_hex(const void *data, size_t len, char out[CJSON_HASH_HEX_LEN + 1]);

/* Borrowed child at a dotted path ("metadata.name"); NULL when absent. */
json_object *cjson_get(const json_object *obj, const char *dotted_path);

/* String at a dotted path, or NULL when absent or not a string. */
const char *cjson_get_string(const json_object *obj, const char *dotted_path);

/* Integer at a dotted path, or def when absent or not an integer. */
int64_t cjson_get_int(const json_object *obj, const char *dotted_path, int64_t def);

/* Whether a and b hold the same JSON value (canonical texts equal). */
int cjson_equal(const json_object *a, const json_object *b);

/* A deep copy of v (caller puts); NULL for NULL. Aborts when out of memory. */
json_object *cjson_copy(const json_object *v);

#endif
