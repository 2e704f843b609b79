/*
 * s3_xml: the S3 XML documents the client reads and writes, as pure functions (libxml2).
 *
 * Read: the error document (<Error><Code>, <Message>), ListObjectsV2 and ListMultipartUploads
 * pages, InitiateMultipartUploadResult, CompleteMultipartUploadResult (which can be an <Error>
 * although the status is 200) and DeleteResult. Elements are matched by local name, whatever
 * the namespace; no DTD, no entity expansion, no network. Written: the bodies of
 * CompleteMultipartUpload and Delete.
 *
 * Keys read are made relative to the client's prefix (prefix, "" for none) by dropping it; a key
 * that does not start with it is OMLOP_EPROTO (the client asked for that prefix only).
 */
#ifndef OMLOP_S3_XML_H
#define OMLOP_S3_XML_H

#include <stddef.h>

#include "clients/s3.h"
#include "lib/err.h"
#include "lib/strbuf.h"

/* An S3 error document's Code and Message (cut to fit, control characters replaced). */
typedef struct s3_xml_error {
    char code[64];
    char message[256];
} s3_xml_error;

/* 1 when xml is an <Error> document (out filled), 0 when it is something else or not XML. */
int s3_xml_parse_error(const char *xml, size_t len, s3_xml_error *out);

/* One ListObjectsV2 page: entries appended to out, *truncated from IsTruncated, next_token
 * (reset first) from NextContinuationToken. OMLOP_EPROTO when it is not such a page, or
 * truncated without a token. */
int s3_xml_parse_list_page(const char *xml, size_t len, const char *prefix, s3_list *out,
                           int *truncated, strbuf *next_token, omlop_err *err);

/* One ListMultipartUploads page: uploads appended to out; when truncated, the next markers. */
int s3_xml_parse_uploads_page(const char *xml, size_t len, const char *prefix, s3_pending_list *out,
                              int *truncated, strbuf *next_key, strbuf *next_upload_id,
                              omlop_err *err);

/* InitiateMultipartUploadResult's UploadId into upload_id (reset first). */
int s3_xml_parse_upload_id(const char *xml, size_t len, strbuf *upload_id, omlop_err *err);

/* CompleteMultipartUploadResult: 0 with its ETag (may be ""); 1 when the body is an <Error>
 * (then e filled); OMLOP_EPROTO when it is neither. */
int s3_xml_parse_complete(const char *xml, size_t len, char *etag, size_t etag_cap, s3_xml_error *e,
                          omlop_err *err);

/* DeleteResult: 0 when no <Error> entry; 1 with the first one's key (cut to key_cap) and e. */
int s3_xml_parse_delete_result(const char *xml, size_t len, char *key, size_t key_cap,
                               s3_xml_error *e, omlop_err *err);

/* Append s with &, <, >, " and ' escaped for XML text. */
void s3_xml_escape(strbuf *out, const char *s);

/* The CompleteMultipartUpload body for parts. */
void s3_xml_complete_body(strbuf *out, const s3_part *parts, size_t n);

/* The Delete body (Quiet) for full keys[0..n-1]. */
void s3_xml_delete_body(strbuf *out, const char *const *keys, size_t n);

#endif
