/*
 * ynode: a parsed YAML (or JSON) document as an untyped tree with positions.
 *
 * The loader keeps scalars as text plus their style, because YAML's own type
 * guessing is wrong for manifests ("on" is not a boolean, "240201.01" is an
 * image tag): the schema decides what a scalar is (see schema.h). Aliases are
 * already expanded (within a node budget) when a tree reaches its users, so a
 * tree is a plain tree: every node has exactly one parent.
 *
 * Struct fields are public and read-only for consumers; build and change trees
 * only through these functions.
 */
#ifndef OMLOP_YNODE_H
#define OMLOP_YNODE_H

#include <json-c/json.h>
#include <stddef.h>

#include "lib/strbuf.h"

typedef enum ynode_kind { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ } ynode_kind;

typedef struct ynode ynode;

typedef struct ynode_pair {
    char *key; /* map keys are always scalars */
    int line;  /* position of the key, 1-based; 0 = unknown */
    int col;
    ynode *value;
} ynode_pair;

struct ynode {
    ynode_kind kind;
    int line; /* 1-based position of the node; 0 when built from JSON */
    int col;

    /* YNODE_SCALAR */
    char *value; /* NUL-terminated text (may also contain NULs: see len) */
    size_t len;
    int is_plain; /* 1: plain (unquoted) scalar; 0: quoted or block scalar */
    char *tag;    /* explicit tag, or NULL. The loader stores it as libyaml resolves it:
                   * "!!str" arrives as "tag:yaml.org,2002:str", "!" stays "!", "!foo"
                   * stays "!foo". Compare with ynode_tag_is(), which accepts both forms.
                   * Tags on maps and sequences are not kept. */

    /* YNODE_MAP: pairs in source order; YNODE_SEQ: items */
    ynode_pair *pairs;
    ynode **items;
    size_t n;
    size_t cap;
};

/* New scalar node (copies value); is_plain as in the struct. */
ynode *ynode_new_scalar(const char *value, size_t len, int is_plain, int line, int col);

/* New empty map or sequence node. */
ynode *ynode_new_map(int line, int col);
ynode *ynode_new_seq(int line, int col);

/* Set the explicit tag of a scalar (copied). */
void ynode_set_tag(ynode *n, const char *tag);

/* Append to a map, taking ownership of value. Duplicate keys are the caller's check. */
void ynode_map_add_take(ynode *map, const char *key, int line, int col, ynode *value);

/* Append to a sequence, taking ownership of item. */
void ynode_seq_add_take(ynode *seq, ynode *item);

/* Map lookup by key; NULL when absent or when n is not a map. */
ynode *ynode_map_get(const ynode *map, const char *key);

/* Deep copy. */
ynode *ynode_clone(const ynode *n);

/* Count of nodes in the tree (for budgets). */
size_t ynode_count(const ynode *n);

/* Free a tree; NULL is fine. */
void ynode_free(ynode *n);

/*
 * Node at a field path such as "spec.hosts[1].sshPort" (the form diag paths
 * use); NULL when absent. Used to give cross-field errors a position.
 *
 * Grammar: segments are ".key" (the first one without the dot), "[N]" (a
 * sequence index) or ["key"] / ['key'] (a map key with any characters, with
 * backslash escaping the quote and backslash): metadata.labels["omlop.io/tenant"].
 * A bare key runs up to the next '.' or '['. NULL or "" is the root itself.
 */
const ynode *ynode_at_path(const ynode *root, const char *path);

/*
 * Append one map key to a field path in the form ynode_at_path reads: ".key"
 * (no dot when path is empty) for keys made of [A-Za-z0-9_-], else ["key"].
 */
void ynode_path_append_key(strbuf *path, const char *key);

/* Append a sequence index ("[3]") to a field path. */
void ynode_path_append_index(strbuf *path, size_t index);

/*
 * Whether n is a scalar whose explicit tag is the YAML core tag name ("str",
 * "int", "float", "bool", "null"), written either "!!name" or
 * "tag:yaml.org,2002:name".
 */
int ynode_tag_is(const ynode *n, const char *name);

/*
 * Append the YAML text of a double: the shortest form that reads back as the
 * same double, always with a '.' or exponent so YAML 1.1 and 1.2 readers both
 * see a float ("3.0", "1.0e+20"); ".nan", ".inf" and "-.inf" otherwise.
 */
void ynode_format_double(double d, strbuf *out);

/*
 * Build a tree from a json-c value (API request bodies): JSON strings become
 * quoted scalars, numbers/booleans/null plain scalars with their JSON text
 * (doubles as ynode_format_double writes them, so 3.0 stays a float).
 * Positions are 0.
 */
ynode *ynode_from_json(const json_object *obj);

/*
 * Untyped conversion to json-c using the YAML 1.2 core schema (plain null/~/empty
 * -> null, true/false -> boolean, decimal ints -> int, floats -> double, the rest
 * strings; quoted scalars are always strings). Used where no schema applies.
 *
 * Details: null is null|Null|NULL|~|""; booleans are true|True|TRUE and the same
 * for false; ints are [-+]?[0-9]+, 0x[0-9a-fA-F]+ and 0o[0-7]+. A decimal int
 * outside int64 becomes a double; a hex/octal one outside int64 stays a string.
 * Floats are [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)?; ones that overflow
 * to infinity, and .inf/.nan in any spelling, stay strings (JSON cannot hold them).
 * An explicit core tag decides the type (!!str -> string; !!int, !!float, !!bool,
 * !!null -> that type when the text parses as it, else string); any other tag
 * ("!", "!custom") gives a string. Keys stay strings; a repeated key keeps the
 * last value. NULL gives NULL (JSON null).
 */
json_object *ynode_to_json_core(const ynode *n);

#endif
