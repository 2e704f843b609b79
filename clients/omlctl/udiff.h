/*
 * udiff: a unified diff of two texts, line by line, as `diff -u` prints it.
 *
 * Myers' O((N+M)D) algorithm on the lines left after the common head and tail
 * are cut. Memory grows with D squared, so past OMLCTL_UDIFF_MAX_D differing
 * lines the changed middle is shown as one hunk deleting all of it and adding
 * all of it: still a correct diff, just not a minimal one. Pure: no I/O.
 */
#ifndef OMLOP_OMLCTL_UDIFF_H
#define OMLOP_OMLCTL_UDIFF_H

#include <stddef.h>

#include "lib/strbuf.h"

#define OMLCTL_UDIFF_MAX_D 2000

/*
 * Append the unified diff of a -> b to out, with "--- a_name" / "+++ b_name"
 * headers and context lines of context around each change. Returns 0 when the
 * texts are equal (nothing appended), 1 when they differ.
 */
int omlctl_udiff(const char *a, size_t alen, const char *b, size_t blen, const char *a_name,
                 const char *b_name, int context, strbuf *out);

#endif
