/*
 * schema_files: read manifest paths (files, directories, "-" for stdin) and
 * decode every document with a schema_set, keeping each document's diags
 * next to it so a caller can report per document (omlctl validate, convert,
 * apply). The thin I/O shell around schema_set_decode.
 */
#ifndef OMLOP_SCHEMA_FILES_H
#define OMLOP_SCHEMA_FILES_H

#include <json-c/json.h>
#include <stddef.h>

#include "crds/diag.h"
#include "crds/schema.h"

/* One document read from a manifest path. */
typedef struct schema_doc {
    char *file;        /* source name as given ("-" for stdin) */
    int index;         /* 0-based document index within the file */
    json_object *obj;  /* decoded object, defaults applied; NULL when it had errors */
    size_t diag_first; /* its diags are diags[diag_first .. diag_first + n_diags) */
    size_t n_diags;
} schema_doc;

typedef struct schema_doc_list {
    schema_doc *docs;
    size_t n;
    size_t cap;
} schema_doc_list;

#define SCHEMA_DOC_LIST_INIT                                                                       \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/*
 * Load path with the default limits and decode each of its documents, appending
 * them to out. Reading problems (syntax, limits, a missing path) go to diags
 * first, then each document's. Returns 0 when everything read and decoded,
 * otherwise the first reading error code or OMLOP_EINVAL.
 */
int schema_files_decode(const schema_set *set, const char *path, schema_doc_list *out,
                        diag_list *diags);

/* Free every document and reset the list. */
void schema_doc_list_release(schema_doc_list *list);

#endif
