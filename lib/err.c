/* err: fill and decorate omlop_err values. */
#include "err.h"

#include <stdio.h>
#include <string.h>

int omlop_err_vset(omlop_err *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return code;
}

int omlop_err_set(omlop_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    omlop_err_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int omlop_err_prefix(omlop_err *err, const char *fmt, ...)
{
    char prefix[256];
    size_t plen, olen;
    va_list ap;

    if (!err)
        return OMLOP_EINTERNAL;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    plen = strlen(prefix);
    olen = strnlen(err->msg, sizeof(err->msg) - 1);
    if (plen + olen > sizeof(err->msg) - 1)
        olen = sizeof(err->msg) - 1 - plen; /* keep the context, cut the tail */
    memmove(err->msg + plen, err->msg, olen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + olen] = '\0';
    return err->code;
}

void omlop_err_clear(omlop_err *err)
{
    if (!err)
        return;
    err->code = OMLOP_OK;
    err->msg[0] = '\0';
}

const char *omlop_code_name(int code)
{
    switch (code) {
    case OMLOP_OK:
        return "OK";
    case OMLOP_EINVAL:
        return "EINVAL";
    case OMLOP_ENOMEM:
        return "ENOMEM";
    case OMLOP_EIO:
        return "EIO";
    case OMLOP_ENOTFOUND:
        return "ENOTFOUND";
    case OMLOP_EEXIST:
        return "EEXIST";
    case OMLOP_ECONFLICT:
        return "ECONFLICT";
    case OMLOP_EGONE:
        return "EGONE";
    case OMLOP_ELIMIT:
        return "ELIMIT";
    case OMLOP_EAUTH:
        return "EAUTH";
    case OMLOP_EPERM:
        return "EPERM";
    case OMLOP_ETIMEOUT:
        return "ETIMEOUT";
    case OMLOP_EUNAVAIL:
        return "EUNAVAIL";
    case OMLOP_EPROTO:
        return "EPROTO";
    case OMLOP_EINTERNAL:
        return "EINTERNAL";
    }
    return "EUNKNOWN";
}
