/*
 * s3: an S3 client on libcurl, signing with libcurl's SigV4 (CURLOPT_AWS_SIGV4).
 *
 * What backups need and no more: objects put from memory, got and listed, deleted one by one
 * or in batches, and multipart uploads (create, upload part, complete, abort, list pending) for
 * the streamed parts of a backup (clients/s3_upload.h builds a streaming writer on them).
 *
 * Signing is left to libcurl 7.88, which needs help (docs/backups.md): every request carries
 * `x-amz-content-sha256: UNSIGNED-PAYLOAD` (so bodies can stream), the query string is built
 * here already URI-encoded and sorted by name (curl signs it as given), keys are URI-encoded
 * here with '/' kept, and the access key goes in CURLOPT_USERNAME (not CURLOPT_USERPWD: Swift's
 * keys are `account:user`). The secret is only ever handed to libcurl: no message, URL or log
 * line holds it.
 *
 * Keys given to every call are relative to cfg.prefix ("backup/" + "t1/123/db.dump");
 * listings return them relative to it too.
 *
 * Errors: OMLOP_E* with a message "<operation>: <S3 Code> (HTTP <status>): <S3 Message>
 * (s3://bucket/key)", e.g. "upload part 3: SignatureDoesNotMatch (HTTP 403): ...". 403
 * SignatureDoesNotMatch and InvalidAccessKeyId are OMLOP_EAUTH, AccessDenied OMLOP_EPERM, 404
 * OMLOP_ENOTFOUND, 5xx and connection failures OMLOP_EUNAVAIL, timeouts OMLOP_ETIMEOUT.
 *
 * Every request has a connect timeout, a stall timeout (less than 1 byte/s for stall_ms) and
 * a total timeout (timeout_ms; transfer_timeout_ms for requests that carry an object's body).
 * Idempotent requests (GET, HEAD, DELETE, PUT of a body held in memory, list) are retried up to
 * max_retries times on 5xx and connection errors, with a short growing pause; a body streamed
 * from a callback, a POST and a GET that already delivered bytes are never retried.
 *
 * An s3_client is used by one thread at a time (it keeps one curl handle, so connections are
 * reused).
 */
#ifndef OMLOP_S3_H
#define OMLOP_S3_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/strbuf.h"

#define S3_MIN_PART_SIZE     (5u * 1024 * 1024)   /* S3's minimum for every part but the last */
#define S3_MAX_PART_SIZE     (512u * 1024 * 1024) /* ours: one part is held in memory */
#define S3_DEFAULT_PART_SIZE (8u * 1024 * 1024)
#define S3_MAX_PARTS         10000 /* S3's limit on parts per upload */
#define S3_MAX_KEY           1024  /* bytes of a full key (prefix included) */
#define S3_SHA256_HEX_LEN    64

/* Where and how to talk; strings are copied by s3_client_new. */
typedef struct s3_config {
    const char *endpoint;     /* http(s)://host[:port][/path], no query; required */
    const char *bucket;       /* 3-63 of [a-z0-9.-]; required */
    const char *region;       /* NULL or "": us-east-1 */
    const char *prefix;       /* prepended to every key, e.g. "backup/"; NULL: none */
    const char *access_key;   /* required; may hold ':' (Swift: account:user) */
    const char *secret_key;   /* required; never printed */
    int path_style;           /* 1: endpoint/bucket/key; 0: bucket.host/key (virtual host) */
    int insecure_skip_verify; /* 1: accept any TLS certificate (off by default) */
    const char *ca_file;      /* PEM bundle to verify the server with; NULL: system CAs */
    size_t part_size;         /* multipart part size; 0: S3_DEFAULT_PART_SIZE */
    long connect_timeout_ms;  /* 0: 10 s */
    long timeout_ms;          /* whole request without an object body; 0: 60 s */
    long transfer_timeout_ms; /* whole request with an object body; 0: 30 min */
    long stall_ms;            /* abort below 1 byte/s for this long; 0: 60 s */
    int max_retries;          /* retries of an idempotent request; 0: 3, negative: none */
    long retry_pause_ms;      /* first pause between retries, doubled each time; 0: 200 ms */
    int list_page_keys;       /* max-keys per ListObjectsV2 page; 0: 1000 */
    size_t list_max_keys;     /* a listing longer than this is OMLOP_ELIMIT; 0: 1000000 */
} s3_config;

typedef struct s3_client s3_client;

/* Size, ETag (quotes included, as S3 sends it) and, when the call computed it, SHA-256. */
typedef struct s3_object_info {
    uint64_t size;
    char etag[128];
    char sha256[S3_SHA256_HEX_LEN + 1]; /* "" when not computed */
} s3_object_info;

/* One object of a listing; key relative to cfg.prefix. */
typedef struct s3_list_entry {
    char *key;
    uint64_t size;
    char etag[128];
    char last_modified[40];
} s3_list_entry;

/* A listing (s3_list) or a batch of keys (s3_delete_many takes n keys). */
typedef struct s3_list {
    s3_list_entry *items;
    size_t n, alloc;
} s3_list;

/* A multipart upload in progress (s3_multipart_list); key relative to cfg.prefix. */
typedef struct s3_pending_upload {
    char *key;
    char *upload_id;
} s3_pending_upload;

typedef struct s3_pending_list {
    s3_pending_upload *items;
    size_t n, alloc;
} s3_pending_list;

/* One uploaded part, for complete. */
typedef struct s3_part {
    int number;     /* 1..S3_MAX_PARTS */
    char etag[128]; /* as the upload returned it */
} s3_part;

/* Source of a streamed body: copy up to cap bytes into buf; return the count, 0 at the end,
 * negative (an OMLOP_E* code, message in err) to abort. */
typedef long (*s3_read_fn)(void *ctx, char *buf, size_t cap, omlop_err *err);

/* Sink of a streamed download: take len bytes; return 0, or negative to abort. */
typedef int (*s3_write_fn)(void *ctx, const char *buf, size_t len, omlop_err *err);

/* Once from main before any thread starts: libcurl's and libxml2's one-time set-up, neither of
 * them thread-safe on first use. (s3_client_new repeats libxml2's, which is then a no-op.) */
void s3_global_init(void);

/* Validate cfg (OMLOP_EINVAL naming the field) and make a client; *out owned by the caller. */
int s3_client_new(const s3_config *cfg, s3_client **out, omlop_err *err);

/* Free c (NULL accepted); the secret's copy is wiped. */
void s3_client_free(s3_client *c);

/* The part size in use (cfg.part_size or the default). */
size_t s3_client_part_size(const s3_client *c);

/* "s3://bucket/<prefix><key>" (key NULL: "s3://bucket"), for status and messages. */
void s3_client_location(const s3_client *c, const char *key, strbuf *out);

/* Create the bucket (for labs and tests; a bucket the caller already owns is 0). */
int s3_bucket_create(s3_client *c, omlop_err *err);

/* PutObject from memory (retried). info (may be NULL) gets size, ETag and SHA-256. */
int s3_put(s3_client *c, const char *key, const void *data, size_t len, s3_object_info *info,
           omlop_err *err);

/* (An object of unknown length, streamed: s3_put_stream and the writer in s3_upload.h.) */

/* GetObject streamed to write; info (may be NULL) gets size, ETag and the SHA-256 of what was
 * received. A short body (connection cut) is OMLOP_EIO. */
int s3_get(s3_client *c, const char *key, s3_write_fn write, void *ctx, s3_object_info *info,
           omlop_err *err);

/* HeadObject: size and ETag; a missing object is OMLOP_ENOTFOUND. */
int s3_head(s3_client *c, const char *key, s3_object_info *info, omlop_err *err);

/* ListObjectsV2 of cfg.prefix + prefix, every page (continuation tokens), appended to out. */
int s3_list_objects(s3_client *c, const char *prefix, s3_list *out, omlop_err *err);

/* Free what a listing owns and make it empty. */
void s3_list_release(s3_list *l);

/* Append a key (copied) to a list, e.g. to build the batch for s3_delete_many. */
void s3_list_add(s3_list *l, const char *key);

/* DeleteObject; a missing key is not an error (S3 says 204 either way). */
int s3_delete(s3_client *c, const char *key, omlop_err *err);

/* DeleteObjects of keys->items[*].key in batches of 1000 (Content-MD5 sent); the first key S3
 * refuses is the error. */
int s3_delete_many(s3_client *c, const s3_list *keys, omlop_err *err);

/* CreateMultipartUpload: the upload id into upload_id. */
int s3_multipart_create(s3_client *c, const char *key, strbuf *upload_id, omlop_err *err);

/* UploadPart number (1..S3_MAX_PARTS) of exactly len bytes streamed from read (not retried);
 * the part's ETag into part->etag. */
int s3_multipart_upload_part(s3_client *c, const char *key, const char *upload_id, int number,
                             s3_read_fn read, void *ctx, uint64_t len, s3_part *part,
                             omlop_err *err);

/* UploadPart from memory (retried: the bytes are still there). */
int s3_multipart_upload_part_buf(s3_client *c, const char *key, const char *upload_id, int number,
                                 const void *data, size_t len, s3_part *part, omlop_err *err);

/* CompleteMultipartUpload of parts (ascending numbers); info (may be NULL) gets the ETag. */
int s3_multipart_complete(s3_client *c, const char *key, const char *upload_id,
                          const s3_part *parts, size_t n, s3_object_info *info, omlop_err *err);

/* AbortMultipartUpload; an upload already gone (NoSuchUpload) is not an error. */
int s3_multipart_abort(s3_client *c, const char *key, const char *upload_id, omlop_err *err);

/* ListMultipartUploads under cfg.prefix + prefix (every page), appended to out. */
int s3_multipart_list(s3_client *c, const char *prefix, s3_pending_list *out, omlop_err *err);

/* Free what a pending list owns and make it empty. */
void s3_pending_list_release(s3_pending_list *l);

/* --- pure helpers, public for the tests ------------------------------------------------- */

/* One query parameter; value NULL is sent as "name=" (S3's "?uploads" must be signed so). */
typedef struct s3_query_param {
    const char *name;
    const char *value;
} s3_query_param;

/* Append s URI-encoded as SigV4 wants: unreserved bytes as they are, every other byte %XX
 * (upper case); '/' kept when keep_slash. */
void s3_uri_encode(strbuf *out, const char *s, size_t len, int keep_slash);

/* Append "a=1&b=2" from params, encoded and sorted by name (then value) as SigV4's canonical
 * query string, which curl 7.88 signs as it finds it in the URL. */
void s3_query_build(strbuf *out, const s3_query_param *params, size_t n);

/* The request URL for key (NULL: the bucket itself) with the already built query (NULL or ""
 * for none), path or virtual-host style. */
void s3_url_build(const s3_client *c, const char *key, const char *query, strbuf *out);

#endif
