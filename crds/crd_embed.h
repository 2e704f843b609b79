/*
 * crd_embed: the CRD files of crds/, compiled into the binaries by the Makefile
 * (build/gen/crds_embed.c), so omlopd and omlctl never depend on finding them
 * on disk at run time.
 */
#ifndef OMLOP_CRD_EMBED_H
#define OMLOP_CRD_EMBED_H

#include <stddef.h>

typedef struct crd_embed {
    const char *name; /* file name, e.g. "tenant.yaml" */
    const char *data; /* contents, NUL-terminated */
    size_t len;       /* bytes, not counting the NUL */
} crd_embed;

extern const crd_embed crd_embedded[];
extern const size_t crd_embedded_count;

#endif
