/*
 * xalloc: allocation that aborts the process on failure.
 *
 * The out-of-memory policy of all of omlop: production code allocates only through these
 * (deploy/lint-alloc.sh, run by `make lint`, refuses a bare malloc/calloc/realloc/strdup), and
 * running out of memory prints one line to stderr and aborts, so callers never check for NULL
 * and no function returns OMLOP_ENOMEM. The reason: an out-of-memory path that no test
 * exercises is worse than a clean abort, and systemd restarts the daemon. (json-c's own
 * allocations are outside this policy; strbuf shares it.)
 */
#ifndef OMLOP_XALLOC_H
#define OMLOP_XALLOC_H

#include <stddef.h>

/* size bytes, uninitialised (caller frees); never NULL, even for size == 0. */
void *xmalloc(size_t size);

/* n zeroed elements of size bytes (caller frees); never NULL, even for n == 0. */
void *xcalloc(size_t n, size_t size);

/* p resized to size bytes (p may be NULL); never NULL, even for size == 0. */
void *xrealloc(void *p, size_t size);

/* A copy of s (caller frees); NULL when s is NULL. */
char *xstrdup(const char *s);

/* A copy of at most n bytes of s, NUL-terminated (caller frees); NULL when s is NULL. */
char *xstrndup(const char *s, size_t n);

/* Print "out of memory" with the size wanted, then abort(): for allocators outside this file. */
_Noreturn void xalloc_die(size_t size);

#endif
