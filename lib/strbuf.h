/*
 * strbuf: a growable, always NUL-terminated byte string (after git's strbuf).
 *
 * The struct is transparent so callers can read buf/len directly; only these
 * functions change it. Allocation failure aborts the process: every caller
 * would otherwise need an OOM path that is never tested.
 */
#ifndef OMLOP_STRBUF_H
#define OMLOP_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

typedef struct strbuf {
    char *buf;    /* NUL-terminated once anything was added; NULL before */
    size_t len;   /* bytes used, not counting the NUL */
    size_t alloc; /* bytes allocated */
} strbuf;

#define STRBUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Make sb empty and owning nothing. */
void strbuf_init(strbuf *sb);

/* Free what sb owns and make it empty. */
void strbuf_release(strbuf *sb);

/* Ensure room for extra more bytes plus the NUL. */
void strbuf_grow(strbuf *sb, size_t extra);

/* Append len bytes of data. */
void strbuf_add(strbuf *sb, const void *data, size_t len);

/* Append a NUL-terminated string. */
void strbuf_adds(strbuf *sb, const char *s);

/* Append one byte. */
void strbuf_addch(strbuf *sb, char c);

/* Append printf-formatted text. */
void strbuf_addf(strbuf *sb, const char *fmt, ...) OMLOP_PRINTF(2, 3);

/* va_list form of strbuf_addf. */
void strbuf_vaddf(strbuf *sb, const char *fmt, va_list ap) OMLOP_PRINTF(2, 0);

/* Set length to 0, keeping the allocation. */
void strbuf_reset(strbuf *sb);

/* Shorten to len bytes (len <= sb->len). */
void strbuf_setlen(strbuf *sb, size_t len);

/* The contents as a C string; "" when nothing was added. */
const char *strbuf_str(const strbuf *sb);

/* Hand the buffer to the caller (free() it); sb becomes empty. Never NULL. */
char *strbuf_detach(strbuf *sb, size_t *len);

/* Append a file's bytes, refusing files larger than max_bytes. */
int strbuf_read_file(strbuf *sb, const char *path, size_t max_bytes, omlop_err *err);

/* Append everything from fd (a pipe, stdin) up to max_bytes. */
int strbuf_read_fd(strbuf *sb, int fd, size_t max_bytes, omlop_err *err);

#endif
