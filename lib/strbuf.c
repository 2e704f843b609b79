/* strbuf: growable strings. */
#include "strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

static char strbuf_empty[1];

void strbuf_init(strbuf *sb)
{
    sb->buf = NULL;
    sb->len = 0;
    sb->alloc = 0;
}

void strbuf_release(strbuf *sb)
{
    free(sb->buf);
    strbuf_init(sb);
}

void strbuf_grow(strbuf *sb, size_t extra)
{
    size_t want;
    char *p;

    if (extra > SIZE_MAX - sb->len - 1)
        abort();
    want = sb->len + extra + 1;
    if (want <= sb->alloc)
        return;
    if (want < sb->alloc * 2)
        want = sb->alloc * 2;
    if (want < 64)
        want = 64;
    p = xrealloc(sb->buf, want);
    sb->buf = p;
    sb->alloc = want;
    sb->buf[sb->len] = '\0';
}

void strbuf_add(strbuf *sb, const void *data, size_t len)
{
    strbuf_grow(sb, len);
    if (len)
        memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}

void strbuf_adds(strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void strbuf_addch(strbuf *sb, char c)
{
    strbuf_add(sb, &c, 1);
}

void strbuf_vaddf(strbuf *sb, const char *fmt, va_list ap)
{
    va_list cp;
    int n;

    strbuf_grow(sb, 64);
    va_copy(cp, ap);
    n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, cp);
    va_end(cp);
    if (n < 0)
        abort();
    if ((size_t)n >= sb->alloc - sb->len) {
        strbuf_grow(sb, (size_t)n);
        n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
    }
    sb->len += (size_t)n;
}

void strbuf_addf(strbuf *sb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(sb, fmt, ap);
    va_end(ap);
}

void strbuf_reset(strbuf *sb)
{
    strbuf_setlen(sb, 0);
}

void strbuf_setlen(strbuf *sb, size_t len)
{
    if (!sb->buf)
        return;
    if (len > sb->len)
        abort();
    sb->len = len;
    sb->buf[len] = '\0';
}

const char *strbuf_str(const strbuf *sb)
{
    return sb->buf ? sb->buf : strbuf_empty;
}

char *strbuf_detach(strbuf *sb, size_t *len)
{
    char *p;

    strbuf_grow(sb, 0);
    p = sb->buf;
    if (len)
        *len = sb->len;
    strbuf_init(sb);
    return p;
}

int strbuf_read_fd(strbuf *sb, int fd, size_t max_bytes, omlop_err *err)
{
    size_t start = sb->len;

    for (;;) {
        ssize_t n;

        strbuf_grow(sb, 8192);
        n = read(fd, sb->buf + sb->len, sb->alloc - sb->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return omlop_err_set(err, OMLOP_EIO, "read failed: %s", strerror(errno));
        }
        if (n == 0)
            break;
        sb->len += (size_t)n;
        sb->buf[sb->len] = '\0';
        if (sb->len - start > max_bytes)
            return omlop_err_set(err, OMLOP_ELIMIT, "input is larger than the %zu byte limit",
                                 max_bytes);
    }
    return 0;
}

int strbuf_read_file(strbuf *sb, const char *path, size_t max_bytes, omlop_err *err)
{
    struct stat st;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return omlop_err_set(err, errno == ENOENT ? OMLOP_ENOTFOUND : OMLOP_EIO,
                             "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > max_bytes) {
        close(fd);
        return omlop_err_set(err, OMLOP_ELIMIT, "%s: file is %lld bytes, over the %zu byte limit",
                             path, (long long)st.st_size, max_bytes);
    }
    rc = strbuf_read_fd(sb, fd, max_bytes, err);
    close(fd);
    if (rc < 0)
        omlop_err_prefix(err, "%s: ", path);
    return rc;
}
