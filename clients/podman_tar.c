/* podman_tar: in-memory ustar writer (see podman_tar.h). */
#include "clients/podman_tar.h"

#include <stdio.h>
#include <string.h>

static const char zeros[PODMAN_TAR_BLOCK];

/* Octal field of width w: w-1 digits and a NUL; 0 when the value does not fit. */
static int put_octal(char *field, size_t w, unsigned long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%0*llo", (int)(w - 1), v);

    if (n < 0 || (size_t)n != w - 1)
        return -1;
    memcpy(field, tmp, w - 1);
    field[w - 1] = '\0';
    return 0;
}

/* Check the path and strip a leading "./"; copy the clean form into out. */
static int clean_path(const char *path, int is_dir, strbuf *out, omlop_err *err)
{
    const char *p = path;

    if (!p || !p[0])
        return omlop_err_set(err, OMLOP_EINVAL, "archive: empty path");
    if (p[0] == '/')
        return omlop_err_set(err, OMLOP_EINVAL,
                             "archive: '%s' must be relative to the destination directory", path);
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);

        if ((n == 0 && e && e[1] != '\0') || (n == 1 && s[0] == '.') ||
            (n == 2 && s[0] == '.' && s[1] == '.'))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "archive: '%s' has an empty, '.' or '..' component", path);
        s += n + (e ? 1 : 0);
    }
    if (!p[0])
        return omlop_err_set(err, OMLOP_EINVAL, "archive: '%s' names no file", path);
    strbuf_adds(out, p);
    while (out->len > 0 && out->buf[out->len - 1] == '/')
        strbuf_setlen(out, out->len - 1);
    if (is_dir)
        strbuf_addch(out, '/');
    return 0;
}

/* Put path into name (100) and prefix (155), splitting at a '/'. */
static int split_path(const char *path, char *name, char *prefix)
{
    size_t len = strlen(path);

    if (len <= 100) {
        memcpy(name, path, len);
        return 0;
    }
    for (size_t i = len - 1; i > 0; i--) {
        if (i <= 155 && path[i] == '/' && len - i - 1 <= 100 && len - i - 1 > 0) {
            memcpy(prefix, path, i);
            memcpy(name, path + i + 1, len - i - 1);
            return 0;
        }
    }
    return -1;
}

int podman_tar_add(strbuf *tar, const podman_tar_entry *e, omlop_err *err)
{
    size_t size = e->is_dir ? 0 : e->len;
    int rc = podman_tar_header(tar, e, err);

    if (rc == 0 && size) {
        size_t pad = (PODMAN_TAR_BLOCK - size % PODMAN_TAR_BLOCK) % PODMAN_TAR_BLOCK;

        strbuf_add(tar, e->data, size);
        strbuf_add(tar, zeros, pad);
    }
    return rc;
}

int podman_tar_header(strbuf *tar, const podman_tar_entry *e, omlop_err *err)
{
    char h[PODMAN_TAR_BLOCK];
    strbuf path = STRBUF_INIT;
    unsigned mode = e->mode ? e->mode : (e->is_dir ? 0755 : 0644);
    size_t size = e->is_dir ? 0 : e->len;
    unsigned sum = 0;
    int rc;

    rc = clean_path(e->path, e->is_dir, &path, err);
    if (rc < 0)
        return rc;
    memset(h, 0, sizeof(h));
    if (split_path(strbuf_str(&path), h, h + 345) < 0) {
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "archive: '%s' is too long for a tar header (255 bytes, and no "
                           "component over 100)",
                           e->path);
        goto out;
    }
    if (put_octal(h + 100, 8, mode & 07777) < 0 || put_octal(h + 108, 8, e->uid) < 0 ||
        put_octal(h + 116, 8, e->gid) < 0 || put_octal(h + 124, 12, size) < 0 ||
        put_octal(h + 136, 12, (unsigned long long)(e->mtime > 0 ? e->mtime : 0)) < 0) {
        rc =
            omlop_err_set(err, OMLOP_EINVAL,
                          "archive: '%s': size, owner or time too large for a tar header", e->path);
        goto out;
    }
    h[156] = e->is_dir ? '5' : '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    /* the checksum is computed with its own field read as spaces */
    memset(h + 148, ' ', 8);
    for (size_t i = 0; i < sizeof(h); i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
    h[155] = ' ';
    strbuf_add(tar, h, sizeof(h));
out:
    strbuf_release(&path);
    return rc;
}

void podman_tar_finish(strbuf *tar)
{
    strbuf_add(tar, zeros, PODMAN_TAR_BLOCK);
    strbuf_add(tar, zeros, PODMAN_TAR_BLOCK);
}
