/*
 * Tests for clients/s3 and clients/s3_xml without a server: the encoding and ordering curl 7.88
 * needs for SigV4, URLs in both styles, configuration errors, the XML documents, and the
 * bounded retries and timeouts against sockets that refuse or never answer. The same client
 * against a real S3 (Swift) is test_s3_swift.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients/s3.h"
#include "clients/s3_upload.h"
#include "clients/s3_xml.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/strbuf.h"

#define SECRET "very-secret-Q7xZ"

static s3_config base_cfg(void)
{
    s3_config cfg = {.endpoint = "http://127.0.0.1:18080",
                     .bucket = "bkt",
                     .prefix = "backup/",
                     .access_key = "lab:backup",
                     .secret_key = SECRET,
                     .path_style = 1};
    return cfg;
}

static void test_uri_encode_keeps_unreserved_and_slash(void **state)
{
    strbuf sb = STRBUF_INIT;
    const char *k = "t1/a b:c+d~e_f.g-h/\xc3\xa9";

    (void)state;
    s3_uri_encode(&sb, k, strlen(k), 1);
    assert_string_equal(sb.buf, "t1/a%20b%3Ac%2Bd~e_f.g-h/%C3%A9");
    strbuf_reset(&sb);
    s3_uri_encode(&sb, "a/b=c&d", 7, 0);
    assert_string_equal(sb.buf, "a%2Fb%3Dc%26d");
    strbuf_release(&sb);
}

static void test_query_sorted_by_name_and_encoded(void **state)
{
    s3_query_param q[] = {{"uploadId", "x/y+z="}, {"partNumber", "3"}};
    s3_query_param l[] = {{"prefix", "backup/t 1/"},
                          {"list-type", "2"},
                          {"max-keys", "2"},
                          {"continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="}};
    s3_query_param u[] = {{"uploads", NULL}};
    strbuf sb = STRBUF_INIT;

    (void)state;
    s3_query_build(&sb, q, 2);
    assert_string_equal(sb.buf, "partNumber=3&uploadId=x%2Fy%2Bz%3D");
    strbuf_reset(&sb);
    s3_query_build(&sb, l, 4);
    assert_string_equal(sb.buf,
                        "continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36Hy4vbOwM%"
                        "3D&list-type=2&max-keys=2&prefix=backup%2Ft%201%2F");
    strbuf_reset(&sb);
    /* a parameter without a value is signed as "name=" */
    s3_query_build(&sb, u, 1);
    assert_string_equal(sb.buf, "uploads=");
    strbuf_release(&sb);
}

static void test_query_same_name_sorted_by_value(void **state)
{
    s3_query_param q[] = {{"b", "2"}, {"a", "z"}, {"b", "1"}, {"A", "0"}};
    strbuf sb = STRBUF_INIT;

    (void)state;
    s3_query_build(&sb, q, 4);
    assert_string_equal(sb.buf, "A=0&a=z&b=1&b=2"); /* byte order: upper case first */
    strbuf_release(&sb);
}

static void test_url_path_style(void **state)
{
    s3_config cfg = base_cfg();
    s3_client *c = NULL;
    strbuf sb = STRBUF_INIT;

    (void)state;
    assert_int_equal(s3_client_new(&cfg, &c, NULL), 0);
    s3_url_build(c, "t1/1700000000/db dump", NULL, &sb);
    assert_string_equal(sb.buf, "http://127.0.0.1:18080/bkt/backup/t1/1700000000/db%20dump");
    strbuf_reset(&sb);
    s3_url_build(c, NULL, "list-type=2", &sb);
    assert_string_equal(sb.buf, "http://127.0.0.1:18080/bkt?list-type=2");
    s3_client_free(c);

    /* a base path, trailing slashes dropped; no prefix */
    cfg.endpoint = "https://s3.example.com/storage//";
    cfg.prefix = NULL;
    assert_int_equal(s3_client_new(&cfg, &c, NULL), 0);
    strbuf_reset(&sb);
    s3_url_build(c, "k", "uploads=", &sb);
    assert_string_equal(sb.buf, "https://s3.example.com/storage/bkt/k?uploads=");
    strbuf_reset(&sb);
    s3_client_location(c, "k", &sb);
    assert_string_equal(sb.buf, "s3://bkt/k");
    s3_client_free(c);
    strbuf_release(&sb);
}

static void test_url_virtual_host_style(void **state)
{
    s3_config cfg = base_cfg();
    s3_client *c = NULL;
    strbuf sb = STRBUF_INIT;

    (void)state;
    cfg.endpoint = "https://sfo3.digitaloceanspaces.com";
    cfg.path_style = 0;
    assert_int_equal(s3_client_new(&cfg, &c, NULL), 0);
    s3_url_build(c, "t1/x", NULL, &sb);
    assert_string_equal(sb.buf, "https://bkt.sfo3.digitaloceanspaces.com/backup/t1/x");
    strbuf_reset(&sb);
    s3_url_build(c, NULL, "delete=", &sb);
    assert_string_equal(sb.buf, "https://bkt.sfo3.digitaloceanspaces.com/?delete=");
    strbuf_reset(&sb);
    s3_client_location(c, "t1/x", &sb);
    assert_string_equal(sb.buf, "s3://bkt/backup/t1/x");
    s3_client_free(c);
    strbuf_release(&sb);
}

/* Each bad field is EINVAL naming it, and the secret never shows. */
static void test_config_errors_name_the_field(void **state)
{
    struct {
        const char *field, *value, *want;
    } cases[] = {
        {"endpoint", NULL, "s3 endpoint: required"},
        {"endpoint", "ftp://h", "must start with http:// or https://"},
        {"endpoint", "http://u:p@h", "no query, fragment, user info"},
        {"endpoint", "http://h/?x=1", "no query"},
        {"endpoint", "http:///x", "no host"},
        {"bucket", "ab", "s3 bucket 'ab'"},
        {"bucket", "Bad_Bucket", "s3 bucket 'Bad_Bucket'"},
        {"bucket", "-abc", "s3 bucket '-abc'"},
        {"region", "us:east", "s3 region 'us:east'"},
        {"prefix", "a\nb", "s3 prefix"},
        {"access", "", "s3 access key: required"},
        {"secret", "", "s3 secret key: required"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s3_config cfg = base_cfg();
        s3_client *c = (s3_client *)1;
        omlop_err err = OMLOP_ERR_INIT;

        if (strcmp(cases[i].field, "endpoint") == 0)
            cfg.endpoint = cases[i].value;
        else if (strcmp(cases[i].field, "bucket") == 0)
            cfg.bucket = cases[i].value;
        else if (strcmp(cases[i].field, "region") == 0)
            cfg.region = cases[i].value;
        else if (strcmp(cases[i].field, "prefix") == 0)
            cfg.prefix = cases[i].value;
        else if (strcmp(cases[i].field, "access") == 0)
            cfg.access_key = cases[i].value;
        else
            cfg.secret_key = cases[i].value;
        assert_int_equal(s3_client_new(&cfg, &c, &err), OMLOP_EINVAL);
        assert_null(c);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: '%s' does not contain '%s'", i, err.msg, cases[i].want);
        assert_null(strstr(err.msg, SECRET));
    }
}

static void test_part_size_bounds(void **state)
{
    s3_config cfg = base_cfg();
    s3_client *c = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    cfg.part_size = S3_MIN_PART_SIZE - 1;
    assert_int_equal(s3_client_new(&cfg, &c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "s3 part size 5242879"));
    cfg.part_size = S3_MIN_PART_SIZE;
    assert_int_equal(s3_client_new(&cfg, &c, &err), 0);
    assert_int_equal(s3_client_part_size(c), S3_MIN_PART_SIZE);
    s3_client_free(c);
    cfg.part_size = S3_MAX_PART_SIZE + 1;
    assert_int_equal(s3_client_new(&cfg, &c, &err), OMLOP_EINVAL);
    cfg.part_size = 0;
    assert_int_equal(s3_client_new(&cfg, &c, &err), 0);
    assert_int_equal(s3_client_part_size(c), S3_DEFAULT_PART_SIZE);
    s3_client_free(c);
    cfg.list_page_keys = 1001;
    assert_int_equal(s3_client_new(&cfg, &c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "list page size 1001"));
}

static void test_bad_keys_refused_before_sending(void **state)
{
    s3_config cfg = base_cfg();
    s3_client *c = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    char long_key[S3_MAX_KEY + 2];

    (void)state;
    cfg.endpoint = "http://127.0.0.1:1"; /* nothing is sent: no connection error expected */
    assert_int_equal(s3_client_new(&cfg, &c, NULL), 0);
    assert_int_equal(s3_put(c, "", "x", 1, NULL, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "put object: key ''"));
    assert_int_equal(s3_delete(c, "a\nb", &err), OMLOP_EINVAL);
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[S3_MAX_KEY - strlen("backup/") + 1] = '\0'; /* one byte past the limit */
    assert_int_equal(s3_head(c, long_key, NULL, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "head object: key"));
    s3_client_free(c);
}

/* What Swift's s3api answered to a request signed with a wrong secret (shortened). */
static const char swift_403[] =
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does "
    "not match the signature you provided. Check your key and signing method.</Message>"
    "<RequestId>tx04bd768d75d840e9accec-006b1392e2</RequestId><AWSAccessKeyId>lab:backup"
    "</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n20261205T042818Z\n</StringToSign>"
    "<CanonicalRequest>POST\n/bkt/big2\nuploads=\n</CanonicalRequest></Error>";

static void test_xml_error_document(void **state)
{
    s3_xml_error e;
    char big[2048];
    int n;

    (void)state;
    assert_int_equal(s3_xml_parse_error(swift_403, strlen(swift_403), &e), 1);
    assert_string_equal(e.code, "SignatureDoesNotMatch");
    assert_non_null(strstr(e.message, "does not match the signature you provided"));
    /* AWS's namespace, a newline in the message, and a message longer than we keep */
    n = snprintf(big, sizeof(big),
                 "<Error xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Code>NoSuchKey</Code>"
                 "<Message>line one\nline two %0400d</Message></Error>",
                 7);
    assert_int_equal(s3_xml_parse_error(big, (size_t)n, &e), 1);
    assert_string_equal(e.code, "NoSuchKey");
    assert_non_null(strstr(e.message, "line one line two"));
    assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
    /* not an error document, not XML, empty, an <Error> without Code */
    assert_int_equal(s3_xml_parse_error("<ListBucketResult/>", 19, &e), 0);
    assert_int_equal(s3_xml_parse_error("Internal Server Error", 21, &e), 0);
    assert_int_equal(s3_xml_parse_error("", 0, &e), 0);
    assert_int_equal(s3_xml_parse_error("<Error><Message>m</Message></Error>", 35, &e), 0);
}

/* An external entity is never fetched nor expanded. */
static void test_xml_entities_not_expanded(void **state)
{
    const char *doc = "<?xml version=\"1.0\"?><!DOCTYPE Error [<!ENTITY e SYSTEM "
                      "\"file:///etc/passwd\">]><Error><Code>X&e;</Code></Error>";
    s3_xml_error e;

    (void)state;
    s3_xml_parse_error(doc, strlen(doc), &e);
    assert_null(strstr(e.code, "root"));
}

static const char list_page1[] =
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bkt</Name>"
    "<Prefix>backup/t1/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
    "<IsTruncated>true</IsTruncated><NextContinuationToken>tok/2+=</NextContinuationToken>"
    "<Contents><Key>backup/t1/1700/db.dump</Key><LastModified>2026-12-05T04:28:19.000Z"
    "</LastModified><ETag>\"b1946ac92492d2347c6235b4d2611184-3\"</ETag><Size>12582912</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>backup/t1/1700/a &amp; b.json</Key><ETag>\"e\"</ETag><Size>0</Size>"
    "</Contents></ListBucketResult>";

static void test_xml_list_page(void **state)
{
    s3_list l = {0};
    strbuf tok = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    int truncated = 0;
    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                       "<Contents><Key>backup/t1/z</Key><Size>5</Size></Contents>"
                       "</ListBucketResult>";

    (void)state;
    assert_int_equal(s3_xml_parse_list_page(list_page1, strlen(list_page1), "backup/", &l,
                                            &truncated, &tok, &err),
                     0);
    assert_true(truncated);
    assert_string_equal(tok.buf, "tok/2+=");
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].key, "t1/1700/db.dump");
    assert_int_equal(l.items[0].size, 12582912);
    assert_string_equal(l.items[0].etag, "\"b1946ac92492d2347c6235b4d2611184-3\"");
    assert_string_equal(l.items[0].last_modified, "2026-12-05T04:28:19.000Z");
    assert_string_equal(l.items[1].key, "t1/1700/a & b.json");
    assert_int_equal(l.items[1].size, 0);
    /* the last page appends and clears the token */
    assert_int_equal(
        s3_xml_parse_list_page(last, strlen(last), "backup/", &l, &truncated, &tok, &err), 0);
    assert_false(truncated);
    assert_int_equal(tok.len, 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[2].key, "t1/z");
    s3_list_release(&l);
    strbuf_release(&tok);
}

static void test_xml_list_page_refuses_bad_pages(void **state)
{
    struct {
        const char *xml, *want;
    } cases[] = {
        {"<Error><Code>X</Code></Error>", "not a ListBucketResult"},
        {"not xml", "not a ListBucketResult"},
        {"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
         "without NextContinuationToken"},
        {"<ListBucketResult><Contents><Key>other/x</Key><Size>1</Size></Contents>"
         "</ListBucketResult>",
         "key 'other/x' is not under the prefix"},
        {"<ListBucketResult><Contents><Key>backup/x</Key><Size>-1</Size></Contents>"
         "</ListBucketResult>",
         "key 'x' has no valid Size"},
        {"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
         "an entry without a Key"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s3_list l = {0};
        strbuf tok = STRBUF_INIT;
        omlop_err err = OMLOP_ERR_INIT;
        int truncated;

        assert_int_equal(s3_xml_parse_list_page(cases[i].xml, strlen(cases[i].xml), "backup/", &l,
                                                &truncated, &tok, &err),
                         OMLOP_EPROTO);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: '%s' does not contain '%s'", i, err.msg, cases[i].want);
        s3_list_release(&l);
        strbuf_release(&tok);
    }
}

static void test_xml_uploads_page(void **state)
{
    const char *xml =
        "<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Bucket>bkt</Bucket><IsTruncated>true</IsTruncated><NextKeyMarker>backup/b"
        "</NextKeyMarker><NextUploadIdMarker>id2</NextUploadIdMarker>"
        "<Upload><Key>backup/a</Key><UploadId>id1</UploadId></Upload>"
        "<Upload><Key>backup/b</Key><UploadId>id2</UploadId></Upload>"
        "</ListMultipartUploadsResult>";
    s3_pending_list l = {0};
    strbuf km = STRBUF_INIT, im = STRBUF_INIT;
    int truncated = 0;

    (void)state;
    assert_int_equal(
        s3_xml_parse_uploads_page(xml, strlen(xml), "backup/", &l, &truncated, &km, &im, NULL), 0);
    assert_true(truncated);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[1].key, "b");
    assert_string_equal(l.items[1].upload_id, "id2");
    assert_string_equal(km.buf, "backup/b");
    assert_string_equal(im.buf, "id2");
    s3_pending_list_release(&l);
    strbuf_release(&km);
    strbuf_release(&im);
}

static void test_xml_upload_id_complete_and_delete_results(void **state)
{
    const char *init = "<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key>"
                       "<UploadId>OTM0Mzky</UploadId></InitiateMultipartUploadResult>";
    const char *done = "<CompleteMultipartUploadResult><ETag>\"abc-3\"</ETag>"
                       "</CompleteMultipartUploadResult>";
    const char *late = "<?xml version='1.0'?>\n\n  <Error><Code>InvalidPart</Code>"
                       "<Message>One or more of the parts could not be found</Message></Error>";
    const char *dels = "<DeleteResult><Deleted><Key>backup/a</Key></Deleted><Error>"
                       "<Key>backup/b</Key><Code>AccessDenied</Code><Message>no</Message></Error>"
                       "</DeleteResult>";
    strbuf id = STRBUF_INIT;
    s3_xml_error e;
    char etag[128], key[64];
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(s3_xml_parse_upload_id(init, strlen(init), &id, &err), 0);
    assert_string_equal(id.buf, "OTM0Mzky");
    assert_int_equal(s3_xml_parse_upload_id("<X/>", 4, &id, &err), OMLOP_EPROTO);
    assert_non_null(strstr(err.msg, "create multipart upload: the answer holds no UploadId"));
    assert_int_equal(s3_xml_parse_complete(done, strlen(done), etag, sizeof(etag), &e, &err), 0);
    assert_string_equal(etag, "\"abc-3\"");
    /* a 200 whose body is an error */
    assert_int_equal(s3_xml_parse_complete(late, strlen(late), etag, sizeof(etag), &e, &err), 1);
    assert_string_equal(e.code, "InvalidPart");
    assert_int_equal(s3_xml_parse_complete("<X/>", 4, etag, sizeof(etag), &e, &err), OMLOP_EPROTO);
    assert_int_equal(s3_xml_parse_delete_result(dels, strlen(dels), key, sizeof(key), &e, &err), 1);
    assert_string_equal(key, "backup/b");
    assert_string_equal(e.code, "AccessDenied");
    assert_int_equal(s3_xml_parse_delete_result("<DeleteResult/>", 15, key, sizeof(key), &e, &err),
                     0);
    strbuf_release(&id);
}

static void test_xml_bodies_escape(void **state)
{
    s3_part parts[2] = {{1, "\"e1\""}, {2, "\"e2\""}};
    const char *keys[] = {"backup/a&b", "backup/<c>"};
    strbuf sb = STRBUF_INIT;

    (void)state;
    s3_xml_complete_body(&sb, parts, 2);
    assert_string_equal(sb.buf, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"
                                "&quot;e1&quot;</ETag></Part><Part><PartNumber>2</PartNumber>"
                                "<ETag>&quot;e2&quot;</ETag></Part></CompleteMultipartUpload>");
    strbuf_reset(&sb);
    s3_xml_delete_body(&sb, keys, 2);
    assert_non_null(strstr(sb.buf, "<Quiet>true</Quiet><Object><Key>backup/a&amp;b</Key></Object>"
                                   "<Object><Key>backup/&lt;c&gt;</Key></Object></Delete>"));
    strbuf_release(&sb);
}

/* A listening socket that never accepts: connect succeeds (backlog), no answer ever comes. */
static int silent_listener(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Idempotent requests are retried a bounded number of times; a POST is not retried. */
static void test_connection_refused_retried_bounded(void **state)
{
    s3_config cfg = base_cfg();
    s3_client *c = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf id = STRBUF_INIT;
    char ep[64];
    int port, fd = silent_listener(&port);
    int64_t t0;

    (void)state;
    close(fd); /* now nothing listens there */
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
    cfg.endpoint = ep;
    cfg.max_retries = 2;
    cfg.retry_pause_ms = 20;
    assert_int_equal(s3_client_new(&cfg, &c, NULL), 0);
    t0 = clock_now_ms();
    assert_int_equal(s3_head(c, "x", NULL, &err), OMLOP_EUNAVAIL);
    assert_true(clock_now_ms() - t0 >= 20 + 40); /* both pauses were taken */
    assert_non_null(strstr(err.msg, "after 3 attempts: head object: "));
    assert_non_null(strstr(err.msg, "s3://bkt/backup/x"));
    assert_null(strstr(err.msg, SECRET));
    assert_int_equal(s3_multipart_create(c, "x", &id, &err), OMLOP_EUNAVAIL);
    assert_null(strstr(err.msg, "attempts"));
    assert_non_null(strstr(err.msg, "create multipart upload: "));
    s3_client_free(c);
    strbuf_release(&id);
}

static void test_silent_server_times_out(void **state)
{
    s3_config cfg = base_cfg();
    s3_client *c = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    char ep[64];
    int port, fd = silent_listener(&port);
    int64_t t0, took;

    (void)state;
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
    cfg.endpoint = ep;
    cfg.timeout_ms = 300;
    cfg.max_retries = -1;
    assert_int_equal(s3_client_new(&cfg, &c, NULL), 0);
    t0 = clock_now_ms();
    assert_int_equal(s3_head(c, "x", NULL, &err), OMLOP_ETIMEOUT);
    took = clock_now_ms() - t0;
    assert_true(took >= 250 && took < 3000);
    assert_non_null(strstr(err.msg, "head object: Timeout was reached"));
    s3_client_free(c);
    close(fd);
}

/* --- a scripted HTTP server: answers requests in order, records what it got ------------- */

#define FAKE_MAX 8

typedef struct fake_answer {
    int status;
    const char *body;
    long short_body; /* > 0: announce this Content-Length, send body, then close */
} fake_answer;

typedef struct fake_s3 {
    int fd, port;
    atomic_int stop;
    pthread_t thread;
    fake_answer answers[FAKE_MAX];
    int n_answers;
    int n_requests; /* read by the test after fake_stop */
    strbuf heads[FAKE_MAX];
    strbuf bodies[FAKE_MAX];
} fake_s3;

static int fake_read(fake_s3 *f, int fd, strbuf *in, strbuf *head, strbuf *body)
{
    char buf[8192], *end;
    size_t hlen, clen = 0;
    const char *cl;

    while (!(end = in->len ? strstr(in->buf, "\r\n\r\n") : NULL)) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;

        if (atomic_load(&f->stop))
            return -1;
        if (poll(&p, 1, 100) <= 0)
            continue;
        n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            return -1;
        strbuf_add(in, buf, (size_t)n);
    }
    hlen = (size_t)(end - in->buf) + 4;
    strbuf_add(head, in->buf, hlen);
    cl = strcasestr(head->buf, "\r\nContent-Length:");
    if (cl)
        clen = strtoul(cl + 17, NULL, 10);
    while (in->len < hlen + clen) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);

        if (n <= 0)
            return -1;
        strbuf_add(in, buf, (size_t)n);
    }
    strbuf_add(body, in->buf + hlen, clen);
    memmove(in->buf, in->buf + hlen + clen, in->len - hlen - clen);
    strbuf_setlen(in, in->len - hlen - clen);
    return 0;
}

static void *fake_main(void *arg)
{
    fake_s3 *f = arg;

    while (!atomic_load(&f->stop)) {
        struct pollfd p = {f->fd, POLLIN, 0};
        strbuf in = STRBUF_INIT;
        int c;

        if (poll(&p, 1, 100) <= 0)
            continue;
        c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        while (f->n_requests < FAKE_MAX) {
            int i = f->n_requests;
            const fake_answer *a = &f->answers[i < f->n_answers ? i : f->n_answers - 1];
            strbuf out = STRBUF_INIT;
            size_t blen = strlen(a->body);
            int close_after = a->short_body > 0;

            if (fake_read(f, c, &in, &f->heads[i], &f->bodies[i]) != 0)
                break;
            f->n_requests++;
            strbuf_addf(&out, "HTTP/1.1 %d X\r\nContent-Length: %ld\r\nETag: \"e%d\"\r\n\r\n",
                        a->status, a->short_body > 0 ? a->short_body : (long)blen, i);
            if (!strstr(f->heads[i].buf, "HEAD "))
                strbuf_add(&out, a->body, blen);
            if (send(c, out.buf, out.len, MSG_NOSIGNAL) < 0)
                close_after = 1;
            strbuf_release(&out);
            if (close_after)
                break;
        }
        strbuf_release(&in);
        close(c);
    }
    return NULL;
}

static void fake_start(fake_s3 *f, const fake_answer *answers, int n)
{
    memset(f, 0, sizeof(*f));
    memcpy(f->answers, answers, (size_t)n * sizeof(*answers));
    f->n_answers = n;
    f->fd = silent_listener(&f->port);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(fake_s3 *f)
{
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    close(f->fd);
}

static void fake_free(fake_s3 *f)
{
    for (int i = 0; i < FAKE_MAX; i++) {
        strbuf_release(&f->heads[i]);
        strbuf_release(&f->bodies[i]);
    }
}

static s3_client *fake_client(const fake_s3 *f, int max_retries)
{
    s3_config cfg = base_cfg();
    s3_client *c = NULL;
    char ep[64];

    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", f->port);
    cfg.endpoint = ep;
    cfg.max_retries = max_retries;
    cfg.retry_pause_ms = 10;
    cfg.timeout_ms = 5000;
    assert_int_equal(s3_client_new(&cfg, &c, NULL), 0);
    return c;
}

static const char xml_500[] =
    "<Error><Code>InternalError</Code><Message>try again</Message></Error>";

/* What every request carries: SigV4 with the whole access key, the unsigned payload header,
 * never the secret. */
static void test_requests_are_signed_without_the_secret(void **state)
{
    fake_answer a[] = {{200, "", 0}};
    fake_s3 f;
    s3_client *c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    fake_start(&f, a, 1);
    c = fake_client(&f, -1);
    assert_int_equal(s3_put(c, "t1/x", "hello", 5, NULL, &err), 0);
    fake_stop(&f);
    assert_int_equal(f.n_requests, 1);
    assert_non_null(strstr(f.heads[0].buf, "PUT /bkt/backup/t1/x HTTP/1.1\r\n"));
    assert_non_null(strstr(f.heads[0].buf, "Authorization: AWS4-HMAC-SHA256 "
                                           "Credential=lab:backup/"));
    assert_non_null(strstr(f.heads[0].buf, "/us-east-1/s3/aws4_request"));
    assert_non_null(strstr(f.heads[0].buf, "x-amz-content-sha256: UNSIGNED-PAYLOAD\r\n"));
    assert_null(strstr(f.heads[0].buf, SECRET));
    assert_string_equal(f.bodies[0].buf, "hello");
    s3_client_free(c);
    fake_free(&f);
}

/* A 5xx is retried and the memory body sent again whole; the retries are bounded. */
static void test_5xx_retried_with_the_body_again(void **state)
{
    fake_answer a[] = {{503, xml_500, 0}, {500, xml_500, 0}, {200, "", 0}};
    fake_answer bad[] = {{500, xml_500, 0}};
    fake_s3 f;
    s3_client *c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    fake_start(&f, a, 3);
    c = fake_client(&f, 3);
    assert_int_equal(s3_put(c, "t1/x", "hello", 5, NULL, &err), 0);
    fake_stop(&f);
    assert_int_equal(f.n_requests, 3);
    assert_string_equal(f.bodies[2].buf, "hello");
    s3_client_free(c);
    fake_free(&f);

    fake_start(&f, bad, 1);
    c = fake_client(&f, 2);
    assert_int_equal(s3_put(c, "t1/x", "hello", 5, NULL, &err), OMLOP_EUNAVAIL);
    fake_stop(&f);
    assert_int_equal(f.n_requests, 3);
    assert_string_equal(err.msg, "after 3 attempts: put object: InternalError (HTTP 500): try "
                                 "again (s3://bkt/backup/t1/x)");
    s3_client_free(c);
    fake_free(&f);
}

static long read_abc(void *ctx, char *buf, size_t cap, omlop_err *err)
{
    int *left = ctx;

    (void)err;
    if (*left == 0 || cap == 0)
        return 0;
    buf[0] = 'a';
    (*left)--;
    return 1;
}

static int count_sink(void *ctx, const char *buf, size_t len, omlop_err *err)
{
    (void)buf;
    (void)err;
    *(size_t *)ctx += len;
    return 0;
}

/* Not retried: a POST, a part streamed from a callback, a download that delivered bytes. */
static void test_non_idempotent_not_retried(void **state)
{
    fake_answer a[] = {{500, xml_500, 0}};
    fake_answer cut[] = {{200, "0123456789", 100}};
    s3_part parts[1] = {{1, "\"e\""}};
    fake_s3 f;
    s3_client *c;
    s3_part p;
    omlop_err err = OMLOP_ERR_INIT;
    int left = 3;
    size_t got = 0;

    (void)state;
    fake_start(&f, a, 1);
    c = fake_client(&f, 3);
    assert_int_equal(s3_multipart_complete(c, "k", "id", parts, 1, NULL, &err), OMLOP_EUNAVAIL);
    assert_int_equal(f.n_requests, 1);
    assert_int_equal(s3_multipart_upload_part(c, "k", "id", 1, read_abc, &left, 3, &p, &err),
                     OMLOP_EUNAVAIL);
    assert_non_null(strstr(err.msg, "upload part 1: InternalError (HTTP 500): try again"));
    fake_stop(&f);
    assert_int_equal(f.n_requests, 2);
    assert_string_equal(f.bodies[1].buf, "aaa");
    s3_client_free(c);
    fake_free(&f);

    /* 10 of 100 announced bytes, then the connection closes */
    fake_start(&f, cut, 1);
    c = fake_client(&f, 3);
    assert_int_equal(s3_get(c, "k", count_sink, &got, NULL, &err), OMLOP_EUNAVAIL);
    assert_int_equal(got, 10);
    assert_non_null(strstr(err.msg, "get object: Transferred a partial file"));
    assert_null(strstr(err.msg, "attempts"));
    fake_stop(&f);
    assert_int_equal(f.n_requests, 1);
    s3_client_free(c);
    fake_free(&f);
}

/* CompleteMultipartUpload can answer 200 with an <Error> body: that is a failure. */
static void test_complete_error_inside_200(void **state)
{
    fake_answer a[] = {{200,
                        "<?xml version='1.0'?>\n  <Error><Code>InternalError</Code>"
                        "<Message>We encountered an internal error</Message></Error>",
                        0}};
    s3_part parts[1] = {{1, "\"e\""}};
    fake_s3 f;
    s3_client *c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    fake_start(&f, a, 1);
    c = fake_client(&f, 3);
    assert_int_equal(s3_multipart_complete(c, "k", "id", parts, 1, NULL, &err), OMLOP_EUNAVAIL);
    assert_non_null(strstr(err.msg, "complete multipart upload: InternalError (HTTP 200): We "
                                    "encountered an internal error (s3://bkt/backup/k)"));
    fake_stop(&f);
    assert_non_null(strstr(f.heads[0].buf, "POST /bkt/backup/k?uploadId=id HTTP/1.1"));
    assert_non_null(strstr(f.bodies[0].buf, "<PartNumber>1</PartNumber>"));
    s3_client_free(c);
    fake_free(&f);
}

/* DeleteObjects sends Content-MD5 of its body and names the first key refused. */
static void test_delete_many_md5_and_refused_key(void **state)
{
    fake_answer a[] = {{200,
                        "<DeleteResult><Error><Key>backup/b</Key><Code>AccessDenied</Code>"
                        "<Message>Access Denied</Message></Error></DeleteResult>",
                        0}};
    fake_s3 f;
    s3_client *c;
    omlop_err err = OMLOP_ERR_INIT;
    s3_list keys = {0};
    unsigned char md[16];
    unsigned int n = 0;
    char want[64] = "Content-MD5: ";

    (void)state;
    s3_list_add(&keys, "a");
    s3_list_add(&keys, "b");
    fake_start(&f, a, 1);
    c = fake_client(&f, -1);
    assert_int_equal(s3_delete_many(c, &keys, &err), OMLOP_EPERM);
    assert_string_equal(err.msg, "delete objects: AccessDenied: Access Denied (s3://bkt/backup/b)");
    fake_stop(&f);
    assert_non_null(strstr(f.heads[0].buf, "POST /bkt?delete= HTTP/1.1"));
    EVP_Digest(f.bodies[0].buf, f.bodies[0].len, md, &n, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)want + strlen(want), md, (int)n);
    assert_non_null(strstr(f.heads[0].buf, want));
    s3_client_free(c);
    fake_free(&f);
    s3_list_release(&keys);
}

/* A part that fails: the writer stays failed and finishing it aborts the multipart upload. */
static void test_writer_part_failure_aborts_upload(void **state)
{
    fake_answer a[] = {{200,
                        "<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>backup/k</Key>"
                        "<UploadId>up-1</UploadId></InitiateMultipartUploadResult>",
                        0},
                       {503, xml_500, 0},
                       {204, "", 0}};
    s3_config cfg = base_cfg();
    fake_s3 f;
    s3_client *c = NULL;
    s3_upload *u = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    char *buf = calloc(1, S3_MIN_PART_SIZE);
    char ep[64];

    (void)state;
    assert_non_null(buf);
    fake_start(&f, a, 3);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", f.port);
    cfg.endpoint = ep;
    cfg.part_size = S3_MIN_PART_SIZE;
    cfg.max_retries = -1;
    assert_int_equal(s3_client_new(&cfg, &c, NULL), 0);
    assert_int_equal(s3_upload_new(c, "k", &u, &err), 0);
    assert_int_equal(s3_upload_write(u, buf, S3_MIN_PART_SIZE, &err), 0);
    assert_int_equal(f.n_requests, 0); /* one part buffered, nothing sent yet */
    assert_int_equal(s3_upload_write(u, "x", 1, &err), OMLOP_EUNAVAIL);
    assert_non_null(strstr(err.msg, "upload part 1: InternalError (HTTP 503)"));
    omlop_err_clear(&err);
    assert_int_equal(s3_upload_write(u, "x", 1, &err), OMLOP_EUNAVAIL); /* still failed */
    assert_non_null(strstr(err.msg, "upload part 1: InternalError (HTTP 503)"));
    assert_int_equal(s3_upload_finish(u, NULL, &err), OMLOP_EUNAVAIL);
    fake_stop(&f);
    assert_int_equal(f.n_requests, 3);
    assert_non_null(strstr(f.heads[0].buf, "POST /bkt/backup/k?uploads= HTTP/1.1"));
    assert_non_null(strstr(f.heads[1].buf, "PUT /bkt/backup/k?partNumber=1&uploadId=up-1 "));
    assert_int_equal(f.bodies[1].len, S3_MIN_PART_SIZE);
    assert_non_null(strstr(f.heads[2].buf, "DELETE /bkt/backup/k?uploadId=up-1 HTTP/1.1"));
    s3_client_free(c);
    fake_free(&f);
    free(buf);
}

/* --- TLS: verified by default, a CA bundle accepted, verification off on request ---------- */

typedef struct tls_srv {
    char dir[64];
    pid_t pid;
    int port;
} tls_srv;

/* openssl s_server -WWW serves files of its cwd: GET /bkt/backup/x reads DIR/bkt/backup/x. */
static void tls_start(tls_srv *t)
{
    char cmd[1024];
    int fd;

    snprintf(t->dir, sizeof(t->dir), "/tmp/omlop-s3tls-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem "
             "-days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 && "
             "mkdir -p bkt/backup && printf tls-ok > bkt/backup/x",
             t->dir);
    assert_int_equal(system(cmd), 0);
    fd = silent_listener(&t->port);
    close(fd);
    t->pid = fork();
    assert_true(t->pid >= 0);
    if (t->pid == 0) {
        char port[16];

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (chdir(t->dir) != 0)
            _exit(127);
        snprintf(port, sizeof(port), "%d", t->port);
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execlp("openssl", "openssl", "s_server", "-quiet", "-accept", port, "-cert", "cert.pem",
               "-key", "key.pem", "-WWW", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) { /* up to 10 s for it to listen */
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                 .sin_port = htons((uint16_t)t->port)};
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

        ok = connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(s);
        if (ok)
            return;
        clock_sleep_ms(100);
    }
    fail_msg("openssl s_server did not listen on %d", t->port);
}

static void tls_stop(tls_srv *t)
{
    char cmd[128];

    kill(t->pid, SIGKILL);
    waitpid(t->pid, NULL, 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
}

static void test_tls_verified_by_default_ca_and_insecure(void **state)
{
    s3_config cfg = base_cfg();
    s3_client *c = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    char ep[64], ca[128];
    s3_object_info info;
    size_t got = 0;
    tls_srv t = {0};

    (void)state;
    tls_start(&t);
    snprintf(ep, sizeof(ep), "https://127.0.0.1:%d", t.port);
    snprintf(ca, sizeof(ca), "%s/cert.pem", t.dir);
    cfg.endpoint = ep;
    cfg.max_retries = -1;
    cfg.timeout_ms = 5000;
    assert_int_equal(s3_client_new(&cfg, &c, NULL), 0);
    assert_int_equal(s3_get(c, "x", count_sink, &got, NULL, &err), OMLOP_EUNAVAIL);
    assert_non_null(
        strstr(err.msg, "get object: SSL peer certificate or SSH remote key was not OK"));
    s3_client_free(c);

    cfg.ca_file = ca;
    assert_int_equal(s3_client_new(&cfg, &c, NULL), 0);
    if (s3_get(c, "x", count_sink, &got, &info, &err) != 0)
        fail_msg("with the CA: %s", err.msg);
    assert_int_equal(got, 6);
    s3_client_free(c);

    cfg.ca_file = NULL;
    cfg.insecure_skip_verify = 1;
    got = 0;
    assert_int_equal(s3_client_new(&cfg, &c, NULL), 0);
    if (s3_get(c, "x", count_sink, &got, &info, &err) != 0)
        fail_msg("insecure: %s", err.msg);
    assert_int_equal(got, 6);
    s3_client_free(c);
    tls_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_encode_keeps_unreserved_and_slash),
        cmocka_unit_test(test_query_sorted_by_name_and_encoded),
        cmocka_unit_test(test_query_same_name_sorted_by_value),
        cmocka_unit_test(test_url_path_style),
        cmocka_unit_test(test_url_virtual_host_style),
        cmocka_unit_test(test_config_errors_name_the_field),
        cmocka_unit_test(test_part_size_bounds),
        cmocka_unit_test(test_bad_keys_refused_before_sending),
        cmocka_unit_test(test_xml_error_document),
        cmocka_unit_test(test_xml_entities_not_expanded),
        cmocka_unit_test(test_xml_list_page),
        cmocka_unit_test(test_xml_list_page_refuses_bad_pages),
        cmocka_unit_test(test_xml_uploads_page),
        cmocka_unit_test(test_xml_upload_id_complete_and_delete_results),
        cmocka_unit_test(test_xml_bodies_escape),
        cmocka_unit_test(test_connection_refused_retried_bounded),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_requests_are_signed_without_the_secret),
        cmocka_unit_test(test_5xx_retried_with_the_body_again),
        cmocka_unit_test(test_non_idempotent_not_retried),
        cmocka_unit_test(test_complete_error_inside_200),
        cmocka_unit_test(test_delete_many_md5_and_refused_key),
        cmocka_unit_test(test_writer_part_failure_aborts_upload),
        cmocka_unit_test(test_tls_verified_by_default_ca_and_insecure),
    };

    s3_global_init();

    return cmocka_run_group_tests_name("s3 without a server", tests, NULL, NULL);
}
