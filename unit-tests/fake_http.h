/*
 * fake_http: reading one HTTP/1.1 request and writing the answer in the tests'
 * fake servers (the fake Podman services of test_podman_client and the tenant
 * reconciler tests). Header-only:
 * a .c under unit-tests/ would be linked into every test binary.
 */
#ifndef OMLOP_TEST_FAKE_HTTP_H
#define OMLOP_TEST_FAKE_HTTP_H

#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/strbuf.h"

/* recv() that gives up (returns 0) once *stop is set, checking every 100 ms. */
static inline ssize_t fake_http_recv(atomic_int *stop, int fd, char *buf, size_t size)
{
    while (!atomic_load(stop)) {
        struct pollfd p = {fd, POLLIN, 0};

        if (poll(&p, 1, 100) > 0)
            return recv(fd, buf, size, 0);
    }
    return 0;
}

/*
 * Read the next request on fd into method (16 bytes), target (1024 bytes) and
 * body (by Content-Length). in carries bytes across calls, so a pipelined
 * request that follows stays there. -1 on EOF, error, stop or a bad request line.
 */
static inline int fake_http_read_request(atomic_int *stop, int fd, strbuf *in, char *method,
                                         char *target, strbuf *body)
{
    char buf[4096];
    char *end;
    size_t clen = 0, head;
    const char *cl;
    ssize_t n;

    while (!(end = in->len ? strstr(in->buf, "\r\n\r\n") : NULL)) {
        n = fake_http_recv(stop, fd, buf, sizeof(buf));
        if (n <= 0)
            return -1;
        strbuf_add(in, buf, (size_t)n);
    }
    head = (size_t)(end - in->buf) + 4;
    if (sscanf(in->buf, "%15s %1023s", method, target) != 2)
        return -1;
    cl = strcasestr(in->buf, "\r\nContent-Length:");
    if (cl && cl < end)
        clen = strtoul(cl + 17, NULL, 10);
    while (in->len < head + clen) {
        n = fake_http_recv(stop, fd, buf, sizeof(buf));
        if (n <= 0)
            return -1;
        strbuf_add(in, buf, (size_t)n);
    }
    strbuf_reset(body);
    strbuf_add(body, in->buf + head, clen);
    memmove(in->buf, in->buf + head + clen, in->len - head - clen);
    strbuf_setlen(in, in->len - head - clen);
    return 0;
}

/* Send all n bytes of s (a peer that went away ends it quietly). */
static inline void fake_http_send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

#endif
