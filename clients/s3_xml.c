/* s3_xml: S3's XML documents read and written (libxml2, no DTD, no entities, no network). */
#include "clients/s3_xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

/* Parser options: no network, no DTD loading, errors not printed to stderr (they come back as
 * a NULL document and are reported with what was being read). */
#define S3_XML_OPTS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA)

static xmlDocPtr xml_read(const char *xml, size_t len)
{
    if (!xml || len == 0 || len > INT_MAX)
        return NULL;
    return xmlReadMemory(xml, (int)len, "s3.xml", NULL, S3_XML_OPTS);
}

static int is_elem(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *child(const xmlNode *parent, const char *name)
{
    for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
        if (is_elem(n, name))
            return n;
    return NULL;
}

/* The text of parent's child name into out (reset first); 0 when found. */
static int child_text(const xmlNode *parent, const char *name, strbuf *out)
{
    xmlNode *n = child(parent, name);
    xmlChar *t;

    strbuf_reset(out);
    if (!n)
        return -1;
    t = xmlNodeGetContent(n);
    if (t)
        strbuf_adds(out, (const char *)t);
    xmlFree(t);
    return 0;
}

/* Copy text to a fixed buffer, cut to fit, control characters turned into spaces: what S3 says
 * goes into one-line messages. */
static void copy_clean(char *dst, size_t cap, const char *src)
{
    size_t i = 0;

    for (; src && src[i] && i + 1 < cap; i++)
        dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? ' ' : src[i];
    dst[i] = '\0';
}

static void child_copy(const xmlNode *parent, const char *name, char *dst, size_t cap)
{
    strbuf t = STRBUF_INIT;

    child_text(parent, name, &t);
    copy_clean(dst, cap, strbuf_str(&t));
    strbuf_release(&t);
}

static void fill_error(const xmlNode *e, s3_xml_error *out)
{
    child_copy(e, "Code", out->code, sizeof(out->code));
    child_copy(e, "Message", out->message, sizeof(out->message));
}

int s3_xml_parse_error(const char *xml, size_t len, s3_xml_error *out)
{
    xmlDocPtr doc = xml_read(xml, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    int found = 0;

    memset(out, 0, sizeof(*out));
    if (is_elem(root, "Error")) {
        fill_error(root, out);
        found = out->code[0] != '\0';
    }
    xmlFreeDoc(doc);
    return found;
}

static int parse_bool(const char *s)
{
    return strcmp(s, "true") == 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!*s || *s == '-')
        return -1;
    v = strtoull(s, &end, 10);
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* The key of an entry, relative to the prefix; OMLOP_EPROTO when it is not under it. */
static int rel_key(const strbuf *key, const char *prefix, const char *what, char **out,
                   omlop_err *err)
{
    size_t strip = strlen(prefix);

    if (key->len == 0 || key->len < strip || strncmp(key->buf, prefix, strip) != 0)
        return omlop_err_set(err, OMLOP_EPROTO, "%s: key '%.200s' is not under the prefix", what,
                             strbuf_str(key));
    *out = xstrdup(key->buf + strip);
    return 0;
}

int s3_xml_parse_list_page(const char *xml, size_t len, const char *prefix, s3_list *out,
                           int *truncated, strbuf *next_token, omlop_err *err)
{
    xmlDocPtr doc = xml_read(xml, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    strbuf t = STRBUF_INIT;
    int rc = 0;

    strbuf_reset(next_token);
    *truncated = 0;
    if (!is_elem(root, "ListBucketResult")) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "list objects: the answer is not a ListBucketResult");
        goto out;
    }
    for (xmlNode *n = root->children; n; n = n->next) {
        s3_list_entry e = {0};

        if (!is_elem(n, "Contents"))
            continue;
        if (child_text(n, "Key", &t) != 0) {
            rc = omlop_err_set(err, OMLOP_EPROTO, "list objects: an entry without a Key");
            goto out;
        }
        rc = rel_key(&t, prefix, "list objects", &e.key, err);
        if (rc)
            goto out;
        if (child_text(n, "Size", &t) != 0 || parse_u64(t.buf, &e.size) != 0) {
            rc = omlop_err_set(err, OMLOP_EPROTO, "list objects: key '%.200s' has no valid Size",
                               e.key);
            free(e.key);
            goto out;
        }
        child_copy(n, "ETag", e.etag, sizeof(e.etag));
        child_copy(n, "LastModified", e.last_modified, sizeof(e.last_modified));
        if (out->n == out->alloc) {
            out->alloc = out->alloc ? out->alloc * 2 : 16;
            out->items = xrealloc(out->items, out->alloc * sizeof(*out->items));
        }
        out->items[out->n++] = e;
    }
    if (child_text(root, "IsTruncated", &t) == 0)
        *truncated = parse_bool(t.buf);
    if (*truncated &&
        (child_text(root, "NextContinuationToken", next_token) != 0 || next_token->len == 0))
        rc = omlop_err_set(err, OMLOP_EPROTO,
                           "list objects: a truncated page without NextContinuationToken");
out:
    strbuf_release(&t);
    xmlFreeDoc(doc);
    return rc;
}

int s3_xml_parse_uploads_page(const char *xml, size_t len, const char *prefix, s3_pending_list *out,
                              int *truncated, strbuf *next_key, strbuf *next_upload_id,
                              omlop_err *err)
{
    xmlDocPtr doc = xml_read(xml, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    strbuf t = STRBUF_INIT;
    int rc = 0;

    strbuf_reset(next_key);
    strbuf_reset(next_upload_id);
    *truncated = 0;
    if (!is_elem(root, "ListMultipartUploadsResult")) {
        rc =
            omlop_err_set(err, OMLOP_EPROTO,
                          "list multipart uploads: the answer is not a ListMultipartUploadsResult");
        goto out;
    }
    for (xmlNode *n = root->children; n; n = n->next) {
        s3_pending_upload u = {0};

        if (!is_elem(n, "Upload"))
            continue;
        if (child_text(n, "Key", &t) != 0) {
            rc = omlop_err_set(err, OMLOP_EPROTO, "list multipart uploads: an entry without a Key");
            goto out;
        }
        rc = rel_key(&t, prefix, "list multipart uploads", &u.key, err);
        if (rc)
            goto out;
        if (child_text(n, "UploadId", &t) != 0 || t.len == 0) {
            rc = omlop_err_set(err, OMLOP_EPROTO,
                               "list multipart uploads: key '%.200s' has no UploadId", u.key);
            free(u.key);
            goto out;
        }
        u.upload_id = xstrdup(t.buf);
        if (out->n == out->alloc) {
            out->alloc = out->alloc ? out->alloc * 2 : 8;
            out->items = xrealloc(out->items, out->alloc * sizeof(*out->items));
        }
        out->items[out->n++] = u;
    }
    if (child_text(root, "IsTruncated", &t) == 0)
        *truncated = parse_bool(t.buf);
    if (*truncated) {
        child_text(root, "NextKeyMarker", next_key);
        child_text(root, "NextUploadIdMarker", next_upload_id);
        if (next_key->len == 0)
            rc = omlop_err_set(err, OMLOP_EPROTO,
                               "list multipart uploads: a truncated page without NextKeyMarker");
    }
out:
    strbuf_release(&t);
    xmlFreeDoc(doc);
    return rc;
}

int s3_xml_parse_upload_id(const char *xml, size_t len, strbuf *upload_id, omlop_err *err)
{
    xmlDocPtr doc = xml_read(xml, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    int rc = 0;

    strbuf_reset(upload_id);
    if (!is_elem(root, "InitiateMultipartUploadResult") ||
        child_text(root, "UploadId", upload_id) != 0 || upload_id->len == 0)
        rc = omlop_err_set(err, OMLOP_EPROTO,
                           "create multipart upload: the answer holds no UploadId");
    xmlFreeDoc(doc);
    return rc;
}

int s3_xml_parse_complete(const char *xml, size_t len, char *etag, size_t etag_cap, s3_xml_error *e,
                          omlop_err *err)
{
    xmlDocPtr doc = xml_read(xml, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    int rc = 0;

    memset(e, 0, sizeof(*e));
    if (etag_cap)
        etag[0] = '\0';
    if (is_elem(root, "Error")) {
        fill_error(root, e);
        rc = 1;
    } else if (is_elem(root, "CompleteMultipartUploadResult")) {
        child_copy(root, "ETag", etag, etag_cap);
    } else {
        rc = omlop_err_set(err, OMLOP_EPROTO,
                           "complete multipart upload: the answer is not a "
                           "CompleteMultipartUploadResult");
    }
    xmlFreeDoc(doc);
    return rc;
}

int s3_xml_parse_delete_result(const char *xml, size_t len, char *key, size_t key_cap,
                               s3_xml_error *e, omlop_err *err)
{
    xmlDocPtr doc = xml_read(xml, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    int rc = 0;

    memset(e, 0, sizeof(*e));
    if (key_cap)
        key[0] = '\0';
    if (!is_elem(root, "DeleteResult")) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "delete objects: the answer is not a DeleteResult");
        goto out;
    }
    for (xmlNode *n = root->children; n; n = n->next) {
        if (!is_elem(n, "Error"))
            continue;
        child_copy(n, "Key", key, key_cap);
        fill_error(n, e);
        rc = 1;
        break;
    }
out:
    xmlFreeDoc(doc);
    return rc;
}

void s3_xml_escape(strbuf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            strbuf_adds(out, "&amp;");
            break;
        case '<':
            strbuf_adds(out, "&lt;");
            break;
        case '>':
            strbuf_adds(out, "&gt;");
            break;
        case '"':
            strbuf_adds(out, "&quot;");
            break;
        case '\'':
            strbuf_adds(out, "&apos;");
            break;
        default:
            strbuf_addch(out, *s);
        }
    }
}

void s3_xml_complete_body(strbuf *out, const s3_part *parts, size_t n)
{
    strbuf_adds(out, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < n; i++) {
        strbuf_addf(out, "<Part><PartNumber>%d</PartNumber><ETag>", parts[i].number);
        s3_xml_escape(out, parts[i].etag);
        strbuf_adds(out, "</ETag></Part>");
    }
    strbuf_adds(out, "</CompleteMultipartUpload>");
}

void s3_xml_delete_body(strbuf *out, const char *const *keys, size_t n)
{
    strbuf_adds(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>");
    for (size_t i = 0; i < n; i++) {
        strbuf_adds(out, "<Object><Key>");
        s3_xml_escape(out, keys[i]);
        strbuf_adds(out, "</Key></Object>");
    }
    strbuf_adds(out, "</Delete>");
}
