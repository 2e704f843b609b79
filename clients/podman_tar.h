/*
 * podman_tar: build a POSIX ustar archive in memory, for copying files into a
 * container (PUT /containers/{name}/archive). Paths are relative to the
 * destination directory; absolute paths, ".." and empty components are
 * refused, so an archive can never write outside its destination. Pure.
 */
#ifndef OMLOP_PODMAN_TAR_H
#define OMLOP_PODMAN_TAR_H

#include <stddef.h>

#include "lib/err.h"
#include "lib/strbuf.h"

#define PODMAN_TAR_BLOCK 512

typedef struct podman_tar_entry {
    const char *path; /* "etc/app.conf"; at most 255 bytes, splittable into ustar's 155+100 */
    const void *data; /* file contents (directories: ignored) */
    size_t len;
    unsigned mode; /* permission bits; 0 = 0644 for files, 0755 for directories */
    unsigned uid;
    unsigned gid;
    long long mtime; /* seconds since the epoch */
    int is_dir;
} podman_tar_entry;

/* Append one entry (header and padded data) to tar; errors name the path. */
int podman_tar_add(strbuf *tar, const podman_tar_entry *e, omlop_err *err);

/* Append only e's header block (e->len is the size it announces; e->data unused): for a file
 * whose contents are streamed after it, padded to PODMAN_TAR_BLOCK by the caller. */
int podman_tar_header(strbuf *tar, const podman_tar_entry *e, omlop_err *err);

/* Append the end-of-archive marker (two zero blocks). */
void podman_tar_finish(strbuf *tar);

#endif
