/*
 * s3_upload: a streaming writer into one S3 object, for bodies of unknown length (a pg_dump
 * piped from a container, a tar of the Asterisk files).
 *
 * Bytes written are gathered into one part (the client's part size) in memory; each full part
 * is uploaded (retried on 5xx and connection errors, since its bytes are still there) and its
 * buffer reused, so memory stays at one part whatever the object's size. The multipart upload
 * is created with the first full part: an object that ends within one part goes up as one
 * PutObject. The SHA-256 and size of the whole object are computed on the way, for the
 * backup manifest.
 *
 * s3_upload_finish and s3_upload_abort both end the writer and free it. A failed write leaves
 * it failed (later writes return the same error); the caller then calls s3_upload_abort (or
 * finish, which aborts), and no multipart upload is left behind in the bucket unless the abort
 * itself fails (its error says so).
 */
#ifndef OMLOP_S3_UPLOAD_H
#define OMLOP_S3_UPLOAD_H

#include <stddef.h>

#include "clients/s3.h"
#include "lib/err.h"

typedef struct s3_upload s3_upload;

/* A writer into key (relative to the client's prefix); c is borrowed and must outlive it. */
int s3_upload_new(s3_client *c, const char *key, s3_upload **out, omlop_err *err);

/* Append len bytes of buf; uploads a part each time one fills. */
int s3_upload_write(s3_upload *u, const void *buf, size_t len, omlop_err *err);

/* Upload what is left and complete the object; info (may be NULL) gets its size, ETag and
 * SHA-256. On failure the multipart upload is aborted. Frees u either way. */
int s3_upload_finish(s3_upload *u, s3_object_info *info, omlop_err *err);

/* Abort the multipart upload, if one was started, and free u (NULL accepted). */
int s3_upload_abort(s3_upload *u, omlop_err *err);

/* Bytes written so far. */
uint64_t s3_upload_size(const s3_upload *u);

/* Stream an object of unknown length from read into key through a writer: one PutObject when
 * it fits in one part, else a multipart upload (aborted on failure). info gets size, ETag and
 * SHA-256. */
int s3_put_stream(s3_client *c, const char *key, s3_read_fn read, void *ctx, s3_object_info *info,
                  omlop_err *err);

#endif
