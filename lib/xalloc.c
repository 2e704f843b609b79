/* xalloc: allocation that aborts on failure (see xalloc.h for the policy). */
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xalloc_die(size_t size)
{
    /* no allocation here: stdio on an unbuffered stderr, then the core dump says the rest */
    fprintf(stderr, "omlop: out of memory (allocating %zu bytes); aborting\n", size);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p)
        xalloc_die(size);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (!p)
        xalloc_die(n * size);
    return p;
}

void *xrealloc(void *p, size_t size)
{
    /* realloc(p, 0) may free p and return NULL: ask for one byte instead */
    void *q = realloc(p, size ? size : 1);

    if (!q)
        xalloc_die(size);
    return q;
}

char *xstrdup(const char *s)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        xalloc_die(strlen(s) + 1);
    return d;
}

char *xstrndup(const char *s, size_t n)
{
    char *d;

    if (!s)
        return NULL;
    d = strndup(s, n);
    if (!d)
        xalloc_die(strnlen(s, n) + 1);
    return d;
}
