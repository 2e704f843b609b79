/*
 * yamlio: read manifests (YAML or JSON; files, directories, stdin) into ynode
 * trees with positions, under hard limits, and write json-c values as YAML.
 *
 * Reading rejects: syntax errors, duplicate keys, non-scalar keys, alias
 * expansion past the node budget (billion-laughs), nesting past max_depth,
 * documents past max_doc_bytes, more than max_docs documents. Every such error
 * is a diag with file:line:col.
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
    int index;   /* 0-based document index within the file */
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
 * were added, -OMLOP_EINVAL / -OMLOP_ELIMIT otherwise.
 */
int yaml_load_buffer(const char *file, const char *buf, size_t len, const yaml_limits *limits,
                     ydoc_list *out, diag_list *diags);

/*
 * Load a path: "-" reads stdin; a directory is walked recursively (sorted, for
 * stable order) for *.yaml, *.yml and *.json; anything else is read as one file.
 */
int yaml_load_path(const char *path, const yaml_limits *limits, ydoc_list *out, diag_list *diags);

/*
 * Append obj as one YAML document (block style, keys in the object's order) to
 * out. Strings that a YAML 1.1 or 1.2 reader would take for anything but a
 * string ("on", "22", "1.5", "null", "") are quoted, so re-reading gives the
 * same value whatever the reader.
 */
int yaml_emit_json(const json_object *obj, strbuf *out, omlop_err *err);

#endif
