/*
 * err: omlop's error convention.
 *
 * Every fallible function returns 0 on success or a negative OMLOP_E* code, and
 * fills the caller's omlop_err (which may be NULL when the caller does not care)
 * with the code and a message that says what failed, on which object, and what
 * to do about it.
 *
 * Who adds which context (one rule, so no name is said twice): a message names
 * each object once, and the name is added by the lowest layer that knows it.
 * clients/ (ssh, hostfs, tunnel, podman) know their host and start with
 * "host NAME: " (ssh: "host NAME (user@address:port): "); a caller adds only
 * what its callee cannot know (which Secret, component, step or file) and
 * never the host again; code that gathers the errors of several hosts (a
 * tenant's status, its events) quotes each as it is. A layer that does not
 * know the host (reconcilers/secrets) leaves it to its caller, which knows.
 */
#ifndef OMLOP_ERR_H
#define OMLOP_ERR_H

#include <stdarg.h>

enum omlop_code {
    OMLOP_OK = 0,
    OMLOP_EINVAL = -1,    /* bad input: manifest, flag, argument */
    OMLOP_ENOMEM = -2,    /* allocation failed */
    OMLOP_EIO = -3,       /* file, socket or process I/O failed */
    OMLOP_ENOTFOUND = -4, /* object, file or host not found */
    OMLOP_EEXIST = -5,    /* object already exists */
    OMLOP_ECONFLICT = -6, /* compare-and-swap lost: stale resourceVersion */
    OMLOP_EGONE = -7,     /* revision compacted, or a watcher fell behind */
    OMLOP_ELIMIT = -8,    /* a size, depth, count or time limit was hit */
    OMLOP_EAUTH = -9,     /* missing or bad credential; host key refused */
    OMLOP_EPERM = -10,    /* credential valid but not allowed */
    OMLOP_ETIMEOUT = -11, /* deadline passed */
    OMLOP_EUNAVAIL = -12, /* peer unreachable or not ready; retry later */
    OMLOP_EPROTO = -13,   /* peer spoke something we do not understand */
    OMLOP_EINTERNAL = -14 /* a bug or an impossible state */
};

#define OMLOP_ERR_MSG_MAX 1024

typedef struct omlop_err {
    int code;
    char msg[OMLOP_ERR_MSG_MAX];
} omlop_err;

#define OMLOP_ERR_INIT                                                                             \
    {                                                                                              \
        0,                                                                                         \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

#if defined(__GNUC__)
#define OMLOP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define OMLOP_PRINTF(a, b)
#endif

/* Fill err (if not NULL) with code and a formatted message; returns code. */
int omlop_err_set(omlop_err *err, int code, const char *fmt, ...) OMLOP_PRINTF(3, 4);

/* va_list form of omlop_err_set. */
int omlop_err_vset(omlop_err *err, int code, const char *fmt, va_list ap) OMLOP_PRINTF(3, 0);

/* Prepend context ("host a: ") to the message already in err; returns err->code. */
int omlop_err_prefix(omlop_err *err, const char *fmt, ...) OMLOP_PRINTF(2, 3);

/* Reset err to OMLOP_OK with an empty message. */
void omlop_err_clear(omlop_err *err);

/* Short, stable name of a code ("EINVAL", "ECONFLICT", ...). */
const char *omlop_code_name(int code);

#endif
