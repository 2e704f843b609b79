/* diag: collect positioned diagnostics. */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

struct diag_list {
    diag *items;
    size_t n, cap;
};

diag_list *diag_list_new(void)
{
    diag_list *dl = xcalloc(1, sizeof(*dl));

    return dl;
}

void diag_list_clear(diag_list *dl)
{
    for (size_t i = 0; i < dl->n; i++) {
        free(dl->items[i].file);
        free(dl->items[i].path);
        free(dl->items[i].message);
    }
    dl->n = 0;
}

void diag_list_free(diag_list *dl)
{
    if (!dl)
        return;
    diag_list_clear(dl);
    free(dl->items);
    free(dl);
}

void diag_add(diag_list *dl, const char *file, int line, int col, const char *path, const char *fmt,
              ...)
{
    strbuf msg = STRBUF_INIT;
    va_list ap;
    diag *d;

    if (dl->n == dl->cap) {
        size_t cap = dl->cap ? dl->cap * 2 : 8;
        diag *p = xrealloc(dl->items, cap * sizeof(*p));

        dl->items = p;
        dl->cap = cap;
    }
    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    d = &dl->items[dl->n++];
    d->file = xstrdup(file);
    d->line = line;
    d->col = col;
    d->path = path && *path ? xstrdup(path) : NULL;
    d->message = strbuf_detach(&msg, NULL);
}

size_t diag_list_count(const diag_list *dl)
{
    return dl->n;
}

const diag *diag_list_at(const diag_list *dl, size_t i)
{
    return i < dl->n ? &dl->items[i] : NULL;
}

void diag_format(const diag *d, strbuf *out)
{
    if (d->file) {
        strbuf_adds(out, d->file);
        if (d->line > 0) {
            strbuf_addf(out, ":%d", d->line);
            if (d->col > 0)
                strbuf_addf(out, ":%d", d->col);
        }
        strbuf_adds(out, ": ");
    }
    if (d->path)
        strbuf_addf(out, "%s: ", d->path);
    strbuf_adds(out, d->message);
}

void diag_list_format(const diag_list *dl, strbuf *out)
{
    for (size_t i = 0; i < dl->n; i++) {
        diag_format(&dl->items[i], out);
        strbuf_addch(out, '\n');
    }
}
