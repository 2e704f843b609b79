/*
 * schema_decode: turn an untyped ynode tree into a typed json-c value by a
 * compiled schema (schema_node.h), checking every keyword on the way.
 *
 * Typing rules (the schema decides, never YAML's guessing):
 *   - string: any scalar, plain or quoted, is its text ("240201.01", "on").
 *   - integer: a plain decimal scalar only; a quoted "22" is refused.
 *   - number: a plain integer or decimal/exponent float.
 *   - boolean: plain true or false only (not yes/on/True).
 *   - An explicit core tag decides like quoting: !!str is quoted, !!int/!!float/
 *     !!bool/!!null are plain; any other tag is quoted.
 *   - A plain null (null, ~, empty) where the schema is not nullable is dropped,
 *     as Kubernetes prunes it: the field counts as absent and gets its default.
 * Defaults follow Kubernetes: an absent property with a default gets it, and a
 * defaulted object gets its own children's defaults; absent objects without a
 * default stay absent. Unknown keys of closed objects are errors that suggest
 * the nearest known field. Every problem is a diag with position and path;
 * decoding continues past errors so all of them are reported.
 */
#ifndef OMLOP_SCHEMA_DECODE_H
#define OMLOP_SCHEMA_DECODE_H

#include <json-c/json.h>

#include "crds/diag.h"
#include "crds/schema_node.h"
#include "crds/ynode.h"
#include "lib/err.h"

/*
 * Decode node (path is its field path, "" for the root; file names the source,
 * may be NULL). Returns 0 when no diag was added, -OMLOP_EINVAL otherwise. *out
 * gets the decoded value: NULL when the node was a pruned null, or when it was
 * wrong; on errors inside an object or list, the parts that decoded cleanly.
 */
int schema_decode(const snode *schema, const ynode *node, const char *file, const char *path,
                  diag_list *diags, json_object **out);

/*
 * Decode every default in the tree by its own schema, so a CRD with a default
 * that its schema refuses fails when it loads. where names the schema in err.
 */
int schema_check_defaults(const snode *root, const char *where, omlop_err *err);

/* Levenshtein distance between a and b, ASCII case-insensitive; capped at 100. */
size_t schema_edit_distance(const char *a, const char *b);

/*
 * Among n candidates, the one closest to word within edit distance 2 (and less
 * than word's length); failing that, one that contains word or is contained in
 * it (4 characters or more: "sshPort" -> "port"); else NULL. For "did you mean".
 */
const char *schema_suggest(const char *word, const char *const *candidates, size_t n);

#endif
