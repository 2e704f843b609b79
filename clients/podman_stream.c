/* podman_stream: line and exec-multiplex decoders (see podman_stream.h). */
#include "clients/podman_stream.h"

#include <string.h>

#define LINE_MAX_DEFAULT (1024 * 1024)

static int emit_line(const char *p, size_t n, podman_line_fn fn, void *ud)
{
    if (n && p[n - 1] == '\r')
        n--;
    if (n == 0)
        return 0;
    return fn(ud, p, n) != 0;
}

int podman_lines_feed(podman_lines *l, const char *data, size_t len, podman_line_fn fn, void *ud,
                      omlop_err *err)
{
    size_t max = l->max_line ? l->max_line : LINE_MAX_DEFAULT;

    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) : len;

        if (l->partial.len + n > max) {
            strbuf_reset(&l->partial);
            return omlop_err_set(err, OMLOP_ELIMIT, "a stream line is longer than %zu bytes", max);
        }
        if (!nl) {
            strbuf_add(&l->partial, data, n);
            return 0;
        }
        if (l->partial.len) {
            int stop;

            strbuf_add(&l->partial, data, n);
            stop = emit_line(l->partial.buf, l->partial.len, fn, ud);
            strbuf_reset(&l->partial);
            if (stop)
                return 1;
        } else if (emit_line(data, n, fn, ud)) {
            return 1;
        }
        data += n + 1;
        len -= n + 1;
    }
    return 0;
}

int podman_lines_has_partial(const podman_lines *l)
{
    return l->partial.len > 0;
}

void podman_lines_release(podman_lines *l)
{
    strbuf_release(&l->partial);
}

int podman_demux_feed(podman_demux *d, const char *data, size_t len, podman_demux_fn fn, void *ud,
                      omlop_err *err)
{
    while (len > 0) {
        if (d->remaining == 0) {
            size_t take = 8 - d->hdr_len;

            if (take > len)
                take = len;
            memcpy(d->hdr + d->hdr_len, data, take);
            d->hdr_len += take;
            data += take;
            len -= take;
            if (d->hdr_len < 8)
                return 0;
            d->hdr_len = 0;
            if (d->hdr[0] > 2 || d->hdr[1] || d->hdr[2] || d->hdr[3])
                return omlop_err_set(err, OMLOP_EPROTO,
                                     "exec: the output stream is not multiplexed (header byte "
                                     "0x%02x)",
                                     d->hdr[0]);
            d->stream = d->hdr[0];
            d->remaining = ((size_t)d->hdr[4] << 24) | ((size_t)d->hdr[5] << 16) |
                           ((size_t)d->hdr[6] << 8) | d->hdr[7];
            continue;
        }
        {
            size_t take = d->remaining < len ? d->remaining : len;

            if (d->stream != 0)
                fn(ud, d->stream, data, take);
            d->remaining -= take;
            data += take;
            len -= take;
        }
    }
    return 0;
}

int podman_demux_is_partial(const podman_demux *d)
{
    return d->hdr_len > 0 || d->remaining > 0;
}
