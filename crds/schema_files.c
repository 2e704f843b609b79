/* schema_files: load manifest paths and decode every document. */
#include "crds/schema_files.h"

#include <stdlib.h>
#include <string.h>

#include "crds/yamlio.h"
#include "lib/xalloc.h"

static schema_doc *push_doc(schema_doc_list *list)
{
    schema_doc *d;

    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;
        schema_doc *p = xrealloc(list->docs, cap * sizeof(*p));

        list->docs = p;
        list->cap = cap;
    }
    d = &list->docs[list->n++];
    memset(d, 0, sizeof(*d));
    return d;
}

int schema_files_decode(const schema_set *set, const char *path, schema_doc_list *out,
                        diag_list *diags)
{
    ydoc_list docs = YDOC_LIST_INIT;
    int rc = yaml_load_path(path, NULL, &docs, diags);

    for (size_t i = 0; i < docs.n; i++) {
        schema_doc *d;
        size_t before = diag_list_count(diags);

        if (!docs.docs[i].root)
            continue;
        d = push_doc(out);
        d->file = xstrdup(docs.docs[i].file);
        d->index = docs.docs[i].index;
        d->diag_first = before;
        if (schema_set_decode(set, docs.docs[i].root, docs.docs[i].file, &d->obj, diags) < 0 &&
            rc == 0)
            rc = OMLOP_EINVAL;
        d->n_diags = diag_list_count(diags) - before;
    }
    ydoc_list_release(&docs);
    return rc;
}

void schema_doc_list_release(schema_doc_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->docs[i].file);
        json_object_put(list->docs[i].obj);
    }
    free(list->docs);
    list->docs = NULL;
    list->n = list->cap = 0;
}
