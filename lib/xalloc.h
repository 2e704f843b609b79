/*
 * xalloc: allocation that aborts the process on failure.
 *
 * The same policy as strbuf: an out-of-memory path that no test exercises is
 * worse than a clean abort, so callers never check these for NULL.
 */
#ifndef OMLOP_XALLOC_H
#define OMLOP_XALLOC_H

#include <stddef.h>

/* A copy of s (caller frees); NULL when s is NULL. */
char *xstrdup(const char *s);

/* n zeroed elements of size bytes (caller frees); never NULL, even for n == 0. */
void *xcalloc(size_t n, size_t size);

#endif
