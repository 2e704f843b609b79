/*
 * podman_stream: the two framings of Podman's streamed responses, as
 * incremental decoders fed whatever pieces the network delivers:
 * newline-separated JSON (events, image pull progress) and exec's
 * multiplexed stdout/stderr (8-byte frame headers). Pure; unit-tested.
 */
#ifndef OMLOP_PODMAN_STREAM_H
#define OMLOP_PODMAN_STREAM_H

#include <stddef.h>

#include "lib/err.h"
#include "lib/strbuf.h"

/* Splits a byte stream into lines (without "\n"; "\r\n" also ends a line). */
typedef struct podman_lines {
    strbuf partial;
    size_t max_line; /* 0 = 1 MiB */
} podman_lines;

#define PODMAN_LINES_INIT                                                                          \
    {                                                                                              \
        STRBUF_INIT, 0                                                                             \
    }

/* Called per complete non-empty line; return non-zero to stop. */
typedef int (*podman_line_fn)(void *ud, const char *line, size_t len);

/*
 * Feed bytes; calls fn for each completed line. Returns 0, 1 when fn asked to
 * stop, or OMLOP_ELIMIT for a line longer than max_line.
 */
int podman_lines_feed(podman_lines *l, const char *data, size_t len, podman_line_fn fn, void *ud,
                      omlop_err *err);

/* Whether bytes of an unfinished line are left (a stream cut mid-line). */
int podman_lines_has_partial(const podman_lines *l);

void podman_lines_release(podman_lines *l);

/* Decodes exec's multiplexed stream: frames of [stream, 0, 0, 0, size32be] + payload. */
typedef struct podman_demux {
    unsigned char hdr[8];
    size_t hdr_len;
    int stream;       /* of the current frame: 0 stdin, 1 stdout, 2 stderr */
    size_t remaining; /* payload bytes left in the current frame */
} podman_demux;

#define PODMAN_DEMUX_INIT                                                                          \
    {                                                                                              \
        {0}, 0, 0, 0                                                                               \
    }

/* Called with each piece of payload and its stream (1 stdout, 2 stderr). */
typedef void (*podman_demux_fn)(void *ud, int stream, const char *data, size_t len);

/* Feed bytes; OMLOP_EPROTO on a header that is not a stream frame. */
int podman_demux_feed(podman_demux *d, const char *data, size_t len, podman_demux_fn fn, void *ud,
                      omlop_err *err);

/* Whether the stream ended in the middle of a frame. */
int podman_demux_is_partial(const podman_demux *d);

#endif
