/*
 * s3_int: what clients/s3.c (the operations) and clients/s3_http.c (one signed request with its
 * retries) share. Not for use outside clients/s3*.
 */
#ifndef OMLOP_S3_INT_H
#define OMLOP_S3_INT_H

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "clients/s3.h"
#include "lib/err.h"
#include "lib/strbuf.h"

struct s3_client {
    char *scheme;    /* "http" or "https" */
    char *authority; /* host[:port] of the endpoint */
    char *base_path; /* "" or "/path" (no trailing '/') */
    char *bucket;
    char *region;
    char *prefix; /* "" when none */
    char *access_key;
    char *secret_key; /* wiped by s3_client_free */
    char *ca_file;
    char sigv4[96];
    int path_style;
    int insecure;
    size_t part_size;
    long connect_ms, timeout_ms, transfer_ms, stall_ms, retry_pause_ms;
    int max_retries;
    int page_keys;
    size_t list_max;
    CURL *curl; /* reused so that connections are kept; one thread at a time */
};

/* One request: what to send, where the answer goes, what came back. */
typedef struct s3_req {
    const char *method;
    const char *op;    /* what the caller is doing, first in messages: "upload part 3" */
    const char *key;   /* relative key, NULL for the bucket itself */
    const char *query; /* built by s3_query_build, NULL for none */
    const void *body;  /* a body in memory (retryable) ... */
    size_t body_len;
    s3_read_fn read; /* ... or streamed from read (never retried) */
    void *read_ctx;
    uint64_t read_len;
    int has_body;
    const char *content_md5;
    const char *content_type;
    int idempotent;
    int is_transfer;  /* carries an object body: the long timeout */
    s3_write_fn sink; /* a 2xx body goes here ... */
    void *sink_ctx;
    EVP_MD_CTX *sink_sha; /* ... hashed on the way when set */
    strbuf *reply;        /* ... or here (bounded by S3_REPLY_MAX) */
    /* results */
    long status;
    char etag[128];
    uint64_t content_length;
    int has_length;
    uint64_t delivered;
} s3_req;

/* Send rq (retried as s3.h says when rq->idempotent); its results are filled in rq. A non-2xx
 * answer is an error "<rq->op>: <Code> (HTTP <status>): <Message> (s3://...)". */
int s3_perform(s3_client *c, s3_req *rq, omlop_err *err);

/* The OMLOP_E* code of an S3 error that came inside a 2xx answer (complete, delete objects). */
int s3_code_for_s3(const char *s3code);

#endif
