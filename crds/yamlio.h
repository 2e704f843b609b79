/*
 * yamlio: read manifests (YAML or JSON; files, directories, stdin) into ynode
 * trees with positions, under hard limits, and write json-c values as YAML.
 *
 * Reading rejects: syntax errors, duplicate keys, non-scalar keys, alias
 * expansion past the node budget (billion-laughs), nesting past max_depth,
 * input past max_input_bytes, more than max_docs documents. Every such error
 * is a diag with file:line:col.
 *
 * Positions are 1-based; columns count characters (libyaml's marks), not bytes.
 * Besides max_doc_nodes, alias copies are charged by text: one document may
 * hold at most max(16 * max_input_bytes, 1 MiB) bytes of keys and scalars after
 * expansion, so one big scalar aliased 10^5 times is refused as well. A limit
 * error stops the input at once; other errors skip to the next document so one
 * run reports them all (at most 50 diags per input).
 *
 * Implemented in yamlio.c (parsing), yamlio_path.c (files, directories, stdin)
 * and yamlio_emit.c (writing).
 */
#ifndef OMLOP_YAMLIO_H
#define OMLOP_YAMLIO_H

#include <json-c/json.h>
#include <stddef.h>

#include "crds/diag.h"
#include "crds/ynode.h"
#include "lib/err.h"
#include "lib/strbuf.h"

typedef struct yaml_limits {
    size_t max_input_bytes; /* one file or stdin; default 4 MiB */
    size_t max_doc_nodes;   /* nodes in one document after alias expansion; default 100000 */
    int max_depth;          /* nesting of maps/sequences; default 64 */
    size_t max_docs;        /* documents in one input; default 1000 */
    size_t max_files;       /* files under one directory; default 10000 */
} yaml_limits;

/* One loaded document: its tree and where it came from. */
typedef struct ydoc {
    char *file;  /* source name as given ("-" for stdin) */
    int index;   /* 0-based document index within the file, counting empty ones */
    ynode *root; /* NULL for an empty document (skipped by loaders) */
} ydoc;

typedef struct ydoc_list {
    ydoc *docs;
    size_t n;
    size_t cap;
} ydoc_list;

#define YDOC_LIST_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Fill limits with the defaults above. */
void yaml_limits_default(yaml_limits *limits);

/* Free every document and reset the list. */
void ydoc_list_release(ydoc_list *list);

/*
 * Parse buf (len bytes; YAML 1.1/1.2 or JSON) named file into documents appended
 * to out; empty documents are skipped. Problems go to diags; returns 0 when none
 * were added, else OMLOP_EINVAL or OMLOP_ELIMIT (the codes are negative already)
 * and out gets no document of this buffer. limits NULL means the defaults.
 * An aliased node is copied; the copy's root takes the alias's position.
 */
int yaml_load_buffer(const char *file, const char *buf, size_t len, const yaml_limits *limits,
                     ydoc_list *out, diag_list *diags);

/*
 * Load a path: "-" reads stdin; a directory is walked recursively (sorted, for
 * stable order) for *.yaml, *.yml and *.json; anything else is read as one file.
 *
 * Walk rules: entries are sorted by name (bytewise) per directory and
 * subdirectories are visited in that order; names starting with '.' are
 * skipped (.git, editor files, a ConfigMap volume's ..data); symlinks to files
 * count, symlinks to directories are not followed (no loops); at most 32 levels
 * and max_files files. Every file is loaded even after a bad one; out then holds
 * the documents of the files that loaded cleanly. Returns 0, or the first error:
 * OMLOP_ENOTFOUND (missing path, named in the diag), OMLOP_EIO, OMLOP_EINVAL,
 * OMLOP_ELIMIT.
 */
int yaml_load_path(const char *path, const yaml_limits *limits, ydoc_list *out, diag_list *diags);

/*
 * Append obj as one YAML document (block style, keys in the object's order) to
 * out. Strings that a YAML 1.1 or 1.2 reader would take for anything but a
 * string ("on", "22", "1.5", "null", "") are quoted, so re-reading gives the
 * same value whatever the reader.
 *
 * Multi-line strings are literal blocks (|) unless they hold CR or Unicode line
 * separators or other characters a block cannot carry, then double-quoted.
 * Doubles always carry a '.' ("3.0", "1.0e+20"); empty objects and arrays are
 * {} and []. After existing text in out the document starts with "---". On
 * error (invalid UTF-8, nesting past 256) out is unchanged.
 */
int yaml_emit_json(const json_object *obj, strbuf *out, omlop_err *err);

#endif
