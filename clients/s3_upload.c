/* s3_upload: one part in memory at a time, multipart from the second part on. */
#include "clients/s3_upload.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/xalloc.h"

#define S3_UPLOAD_FIRST_BUF (64u * 1024) /* small objects (a manifest) need no full part */
#define S3_STREAM_CHUNK     (64u * 1024)

struct s3_upload {
    s3_client *c; /* borrowed */
    char *key;
    char *buf; /* the part being filled: len bytes of cap, cap <= part_size */
    size_t len, cap, part_size;
    strbuf upload_id; /* empty until the first part went up */
    s3_part *parts;
    size_t n_parts, parts_alloc;
    uint64_t size;
    EVP_MD_CTX *sha;
    int failed; /* the code of the first failure; writes stop there */
    omlop_err fail_err;
};

int s3_upload_new(s3_client *c, const char *key, s3_upload **out, omlop_err *err)
{
    s3_upload *u;

    *out = NULL;
    if (!key || !*key)
        return omlop_err_set(err, OMLOP_EINVAL, "upload: no key");
    u = xcalloc(1, sizeof(*u));
    u->c = c;
    u->key = xstrdup(key);
    u->part_size = s3_client_part_size(c);
    strbuf_init(&u->upload_id);
    u->sha = EVP_MD_CTX_new();
    if (!u->sha)
        xalloc_die(sizeof(void *));
    EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL);
    *out = u;
    return 0;
}

static void upload_free(s3_upload *u)
{
    if (!u)
        return;
    EVP_MD_CTX_free(u->sha);
    free(u->key);
    free(u->buf);
    free(u->parts);
    strbuf_release(&u->upload_id);
    free(u);
}

static int fail(s3_upload *u, int rc, const omlop_err *e, omlop_err *err)
{
    u->failed = rc;
    u->fail_err = *e;
    if (err)
        *err = *e;
    return rc;
}

/* Upload the buffered part (creating the multipart upload first when needed) and empty it. */
static int flush_part(s3_upload *u, omlop_err *err)
{
    omlop_err e = OMLOP_ERR_INIT;
    s3_part p;
    int rc;

    if (u->n_parts >= S3_MAX_PARTS)
        return fail(
            u, OMLOP_ELIMIT,
            &(omlop_err){OMLOP_ELIMIT, "upload: more than 10000 parts; raise the part size"}, err);
    if (u->upload_id.len == 0) {
        rc = s3_multipart_create(u->c, u->key, &u->upload_id, &e);
        if (rc)
            return fail(u, rc, &e, err);
    }
    rc = s3_multipart_upload_part_buf(u->c, u->key, u->upload_id.buf, (int)u->n_parts + 1, u->buf,
                                      u->len, &p, &e);
    if (rc)
        return fail(u, rc, &e, err);
    if (u->n_parts == u->parts_alloc) {
        u->parts_alloc = u->parts_alloc ? u->parts_alloc * 2 : 16;
        u->parts = xrealloc(u->parts, u->parts_alloc * sizeof(*u->parts));
    }
    u->parts[u->n_parts++] = p;
    u->len = 0;
    return 0;
}

int s3_upload_write(s3_upload *u, const void *buf, size_t len, omlop_err *err)
{
    const char *p = buf;

    if (u->failed) {
        if (err)
            *err = u->fail_err;
        return u->failed;
    }
    EVP_DigestUpdate(u->sha, buf, len);
    u->size += len;
    while (len > 0) {
        size_t room, n;

        if (u->len == u->part_size) {
            int rc = flush_part(u, err);

            if (rc)
                return rc;
        }
        if (u->len == u->cap) {
            /* grow towards one part; never beyond it */
            size_t cap = u->cap ? u->cap * 2 : S3_UPLOAD_FIRST_BUF;

            if (cap > u->part_size || cap < u->cap)
                cap = u->part_size;
            u->buf = xrealloc(u->buf, cap);
            u->cap = cap;
        }
        room = u->cap - u->len;
        n = len < room ? len : room;
        memcpy(u->buf + u->len, p, n);
        u->len += n;
        p += n;
        len -= n;
    }
    return 0;
}

uint64_t s3_upload_size(const s3_upload *u)
{
    return u->size;
}

int s3_upload_abort(s3_upload *u, omlop_err *err)
{
    int rc = 0;

    if (!u)
        return 0;
    if (u->upload_id.len)
        rc = s3_multipart_abort(u->c, u->key, u->upload_id.buf, err);
    upload_free(u);
    return rc;
}

int s3_upload_finish(s3_upload *u, s3_object_info *info, omlop_err *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    s3_object_info done = {0};
    int rc = u->failed;

    if (rc) {
        if (err)
            *err = u->fail_err;
        goto out;
    }
    if (u->upload_id.len == 0) {
        rc = s3_put(u->c, u->key, u->buf ? u->buf : "", u->len, &done, err);
    } else {
        /* the last part may be short (or, when the object is a whole number of parts, the
         * buffer is full): S3 allows any size for the last one */
        if (u->len > 0)
            rc = flush_part(u, err);
        if (rc == 0)
            rc = s3_multipart_complete(u->c, u->key, u->upload_id.buf, u->parts, u->n_parts, &done,
                                       err);
    }
out:
    if (rc && u->upload_id.len) {
        omlop_err ae = OMLOP_ERR_INIT;

        if (s3_multipart_abort(u->c, u->key, u->upload_id.buf, &ae) != 0 && err)
            omlop_err_prefix(err, "(and the abort failed: %.300s) ", ae.msg);
    }
    if (rc == 0 && info) {
        memset(info, 0, sizeof(*info));
        info->size = u->size;
        snprintf(info->etag, sizeof(info->etag), "%s", done.etag);
        EVP_DigestFinal_ex(u->sha, md, &mdlen);
        for (unsigned i = 0; i < mdlen && i < 32; i++)
            snprintf(info->sha256 + 2 * i, 3, "%02x", md[i]);
    }
    upload_free(u);
    return rc;
}

int s3_put_stream(s3_client *c, const char *key, s3_read_fn read, void *ctx, s3_object_info *info,
                  omlop_err *err)
{
    char *chunk = xmalloc(S3_STREAM_CHUNK);
    s3_upload *u = NULL;
    int rc = s3_upload_new(c, key, &u, err);

    while (rc == 0) {
        long got = read(ctx, chunk, S3_STREAM_CHUNK, err);

        if (got < 0) {
            rc = (int)got;
            omlop_err_prefix(err, "put object: reading the source: ");
            break;
        }
        if (got == 0)
            break;
        rc = s3_upload_write(u, chunk, (size_t)got, err);
    }
    if (rc == 0) {
        rc = s3_upload_finish(u, info, err);
    } else if (u) {
        omlop_err ae = OMLOP_ERR_INIT;

        if (s3_upload_abort(u, &ae) != 0 && err)
            omlop_err_prefix(err, "(and the abort failed: %.300s) ", ae.msg);
    }
    free(chunk);
    return rc;
}
