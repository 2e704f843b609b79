/*
 * diag: a list of positioned diagnostics ("file:line:col: path: message").
 *
 * Validation reports every problem it finds, not just the first, so callers
 * collect them here and print or convert them (to Kubernetes Status causes)
 * at the end. Positions are 1-based; 0 means unknown and is not printed.
 */
#ifndef OMLOP_DIAG_H
#define OMLOP_DIAG_H

#include <stddef.h>

#include "lib/err.h"
#include "lib/strbuf.h"

typedef struct diag {
    char *file;    /* source name, or NULL ("-" for stdin) */
    int line;      /* 1-based, 0 when unknown */
    int col;       /* 1-based, 0 when unknown */
    char *path;    /* field path such as spec.hosts[0].sshPort, or NULL */
    char *message; /* what is wrong and, where useful, what is expected */
} diag;

typedef struct diag_list diag_list;

/* An empty list. Never NULL (aborts on OOM). */
diag_list *diag_list_new(void);

/* Free the list and its entries; NULL is fine. */
void diag_list_free(diag_list *dl);

/* Append a diagnostic; file and path may be NULL. */
void diag_add(diag_list *dl, const char *file, int line, int col, const char *path, const char *fmt,
              ...) OMLOP_PRINTF(6, 7);

/* Number of diagnostics collected. */
size_t diag_list_count(const diag_list *dl);

/* The i-th diagnostic (i < count). */
const diag *diag_list_at(const diag_list *dl, size_t i);

/* Remove every entry. */
void diag_list_clear(diag_list *dl);

/* Append one diagnostic as a single line without newline. */
void diag_format(const diag *d, strbuf *out);

/* Append all diagnostics, one per line. */
void diag_list_format(const diag_list *dl, strbuf *out);

#endif
