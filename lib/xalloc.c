/* xalloc: allocation that aborts on failure (see xalloc.h). */
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

char *xstrdup(const char *s)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        abort();
    return d;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (!p)
        abort();
    return p;
}
