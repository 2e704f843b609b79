/*
 * Tests for clients/s3 and clients/s3_upload against a real S3 API: OpenStack Swift with s3api
 * (e2e/parts/swift.sh), which checks SigV4 signatures, on free ports of 127.0.0.1. The group
 * setup starts it and the teardown stops it (swift.sh also stops it when this process dies).
 * Without Swift installed every test here fails, naming the packages: a missing test
 * dependency is not a pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clients/s3.h"
#include "clients/s3_upload.h"
#include "lib/err.h"
#include "lib/strbuf.h"

#define MIB        (1024u * 1024)
#define SECRET     "labsecret-T3st"
#define BAD_SECRET "not-the-secret-W9q"

/* ASan's count of live heap bytes (weak: the tests are always built with ASan). */
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

typedef struct swift_fx {
    char dir[64];
    char endpoint[64];
    int port;
    char why[600]; /* why Swift is not there, when it is not */
    int up;
} swift_fx;

static int port_free(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

    if (fd < 0)
        return 0;
    ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static const char *srcdir(void)
{
    const char *s = getenv("OMLOP_SRCDIR");

    return s && *s ? s : ".";
}

static int group_setup(void **state)
{
    swift_fx *fx = calloc(1, sizeof(*fx));
    char cmd[512], owner[32], buf[4096];
    strbuf lg = STRBUF_INIT;
    FILE *out;
    size_t n;
    int port = 0, rc;

    assert_non_null(fx);
    *state = fx;
    if (access("/usr/bin/swift-proxy-server", X_OK) != 0) {
        snprintf(fx->why, sizeof(fx->why),
                 "swift-proxy-server is not installed: `make deps` installs swift-proxy "
                 "swift-account swift-container swift-object");
        return 0;
    }
    /* the proxy on p, the storage servers on p+1..p+3 */
    for (int p = 18080; p < 18400 && !port; p += 10)
        if (port_free(p) && port_free(p + 1) && port_free(p + 2) && port_free(p + 3))
            port = p;
    if (!port) {
        snprintf(fx->why, sizeof(fx->why), "no 4 free ports in 18080-18400 on 127.0.0.1");
        return 0;
    }
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/omlop-s3-XXXXXX");
    if (!mkdtemp(fx->dir)) {
        snprintf(fx->why, sizeof(fx->why), "mkdtemp failed");
        return 0;
    }
    snprintf(owner, sizeof(owner), "%d", (int)getpid());
    setenv("SWIFT_OWNER_PID", owner, 1);
    setenv("SWIFT_SECRET", SECRET, 1);
    snprintf(cmd, sizeof(cmd),
             "timeout 120 sh '%s/e2e/parts/swift.sh' up '%s' %d 127.0.0.1 %d 2>&1", srcdir(),
             fx->dir, port, port + 1);
    out = popen(cmd, "r");
    if (!out) {
        snprintf(fx->why, sizeof(fx->why), "popen(swift.sh up) failed");
        return 0;
    }
    while ((n = fread(buf, 1, sizeof(buf), out)) > 0)
        if (lg.len < 64 * 1024)
            strbuf_add(&lg, buf, n);
    rc = pclose(out);
    if (rc != 0)
        snprintf(fx->why, sizeof(fx->why), "swift.sh up failed (status %d): %.450s", rc,
                 lg.len > 450 ? lg.buf + lg.len - 450 : strbuf_str(&lg));
    strbuf_release(&lg);
    if (rc != 0)
        return 0;
    snprintf(fx->endpoint, sizeof(fx->endpoint), "http://127.0.0.1:%d", port);
    fx->port = port;
    fx->up = 1;
    return 0;
}

static int group_teardown(void **state)
{
    swift_fx *fx = *state;
    char cmd[256];

    if (fx->dir[0]) {
        snprintf(cmd, sizeof(cmd), "sh '%s/e2e/parts/swift.sh' down '%s' >/dev/null 2>&1", srcdir(),
                 fx->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "swift.sh down %s failed\n", fx->dir);
    }
    free(fx);
    return 0;
}

/* A client of the fixture's Swift; fails the test when Swift is not there. */
static s3_client *client(swift_fx *fx, const char *secret, int page_keys)
{
    s3_config cfg = {.endpoint = fx->endpoint,
                     .bucket = "omlop-test",
                     .prefix = "backup/",
                     .access_key = "lab:backup",
                     .secret_key = secret,
                     .path_style = 1,
                     .part_size = 5 * MIB,
                     .list_page_keys = page_keys,
                     .list_max_keys = 100,
                     .retry_pause_ms = 50};
    s3_client *c = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    if (!fx->up)
        fail_msg("no S3 server to test against: %s", fx->why);
    if (s3_client_new(&cfg, &c, &err) != 0)
        fail_msg("s3_client_new: %s", err.msg);
    if (s3_bucket_create(c, &err) != 0) {
        s3_client_free(c);
        fail_msg("%s", err.msg);
    }
    return c;
}

static void sha256_of(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;

    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* A download into a strbuf (bounded) or only counted and hashed (keep = 0). */
typedef struct sink {
    strbuf got;
    int keep;
    uint64_t n;
    int fail_after; /* > 0: the sink fails once it has seen this many bytes */
} sink;

static int sink_write(void *ctx, const char *buf, size_t len, omlop_err *err)
{
    sink *s = ctx;

    s->n += len;
    if (s->fail_after > 0 && s->n >= (uint64_t)s->fail_after)
        return omlop_err_set(err, OMLOP_EIO, "disk full (test)");
    if (s->keep)
        strbuf_add(&s->got, buf, len);
    return 0;
}

/* A deterministic stream of total bytes, hashed as it goes; the heap's peak is sampled. */
typedef struct gen {
    uint64_t total, pos, fail_at;
    uint32_t x;
    EVP_MD_CTX *sha;
    size_t base, peak;
} gen;

static long gen_read(void *ctx, char *buf, size_t cap, omlop_err *err)
{
    gen *g = ctx;
    size_t n = cap, now;

    if (g->fail_at && g->pos >= g->fail_at)
        return omlop_err_set(err, OMLOP_EIO, "pg_dump exited with 1 (test)");
    if (n > g->total - g->pos)
        n = (size_t)(g->total - g->pos);
    for (size_t i = 0; i < n; i++) {
        g->x ^= g->x << 13;
        g->x ^= g->x >> 17;
        g->x ^= g->x << 5;
        buf[i] = (char)(g->x & 0xff);
    }
    EVP_DigestUpdate(g->sha, buf, n);
    g->pos += n;
    now = __sanitizer_get_current_allocated_bytes();
    if (now > g->base && now - g->base > g->peak)
        g->peak = now - g->base;
    return (long)n;
}

static void gen_init(gen *g, uint64_t total)
{
    memset(g, 0, sizeof(*g));
    g->total = total;
    g->x = 2463534242u;
    g->sha = EVP_MD_CTX_new();
    assert_non_null(g->sha);
    EVP_DigestInit_ex(g->sha, EVP_sha256(), NULL);
    if (!__sanitizer_get_current_allocated_bytes)
        fail_msg("built without ASan: the memory bound cannot be measured");
    g->base = __sanitizer_get_current_allocated_bytes();
}

static void gen_hex(gen *g, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;

    EVP_DigestFinal_ex(g->sha, md, &n);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(g->sha);
    g->sha = NULL;
}

static size_t pending_under(s3_client *c, const char *prefix)
{
    s3_pending_list l = {0};
    omlop_err err = OMLOP_ERR_INIT;
    size_t n;

    if (s3_multipart_list(c, prefix, &l, &err) != 0)
        fail_msg("list multipart uploads: %s", err.msg);
    n = l.n;
    s3_pending_list_release(&l);
    return n;
}

static size_t objects_under(s3_client *c, const char *prefix)
{
    s3_list l = {0};
    omlop_err err = OMLOP_ERR_INIT;
    size_t n;

    if (s3_list_objects(c, prefix, &l, &err) != 0)
        fail_msg("list objects: %s", err.msg);
    n = l.n;
    s3_list_release(&l);
    return n;
}

static void test_put_get_head_small_object(void **state)
{
    s3_client *c = client(*state, SECRET, 0);
    const char *key = "small/t1 a:b+c~d/manifest.json", *data = "{\"tenant\":\"t1\"}\n";
    s3_object_info put, got, head;
    sink s = {.keep = 1};
    omlop_err err = OMLOP_ERR_INIT;
    char want[65];

    sha256_of(data, strlen(data), want);
    assert_int_equal(s3_put(c, key, data, strlen(data), &put, &err), 0);
    assert_string_equal(put.sha256, want);
    assert_true(put.etag[0] == '"');
    assert_int_equal(s3_get(c, key, sink_write, &s, &got, &err), 0);
    assert_int_equal(s.got.len, strlen(data));
    assert_memory_equal(s.got.buf, data, strlen(data));
    assert_string_equal(got.sha256, want);
    assert_int_equal(got.size, strlen(data));
    assert_string_equal(got.etag, put.etag);
    assert_int_equal(s3_head(c, key, &head, &err), 0);
    assert_int_equal(head.size, strlen(data));
    assert_string_equal(head.etag, put.etag);
    strbuf_release(&s.got);
    s3_client_free(c);
}

static void test_get_missing_and_failing_sink(void **state)
{
    s3_client *c = client(*state, SECRET, 0);
    sink s = {.fail_after = 10};
    omlop_err err = OMLOP_ERR_INIT;
    char data[100];

    assert_int_equal(s3_get(c, "missing/nothing", sink_write, &s, NULL, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "get object: NoSuchKey (HTTP 404)"));
    assert_non_null(strstr(err.msg, "s3://omlop-test/backup/missing/nothing"));
    assert_int_equal(s3_head(c, "missing/nothing", NULL, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "head object: HTTP 404"));
    memset(data, 'x', sizeof(data));
    assert_int_equal(s3_put(c, "sink/x", data, sizeof(data), NULL, &err), 0);
    assert_int_equal(s3_get(c, "sink/x", sink_write, &s, NULL, &err), OMLOP_EIO);
    assert_non_null(strstr(err.msg, "get object: disk full (test)"));
    s3_client_free(c);
}

/* ~12 MiB in 5 MiB parts from a generator: three parts, the heap never holds the object. */
static void test_multipart_streamed_from_generator(void **state)
{
    s3_client *c = client(*state, SECRET, 0);
    const uint64_t total = 12 * MIB + 12345;
    s3_object_info put, got, head;
    sink s = {.keep = 0};
    omlop_err err = OMLOP_ERR_INIT;
    char want[65];
    gen g;

    gen_init(&g, total);
    if (s3_put_stream(c, "big/db.dump", gen_read, &g, &put, &err) != 0)
        fail_msg("put stream: %s", err.msg);
    gen_hex(&g, want);
    assert_int_equal(g.pos, total);
    assert_int_equal(put.size, total);
    assert_string_equal(put.sha256, want);
    print_message("heap growth during the %llu-byte upload: %zu bytes\n", (unsigned long long)total,
                  g.peak);
    /* one part (5 MiB) buffered and a little for curl and the read chunk: far below 12 MiB */
    if (g.peak > 5 * MIB + 2 * MIB)
        fail_msg("the heap grew by %zu bytes during the upload", g.peak);
    /* a multipart object's ETag ends in -<parts> */
    assert_non_null(strstr(put.etag, "-3\""));
    assert_int_equal(s3_head(c, "big/db.dump", &head, &err), 0);
    assert_int_equal(head.size, total);
    assert_int_equal(s3_get(c, "big/db.dump", sink_write, &s, &got, &err), 0);
    assert_int_equal(s.n, total);
    assert_string_equal(got.sha256, want);
    assert_int_equal(pending_under(c, "big/"), 0);
    s3_client_free(c);
}

/* Exactly one part's worth goes up as one PutObject; one byte more makes two parts. */
static void test_writer_part_boundary(void **state)
{
    s3_client *c = client(*state, SECRET, 0);
    char *buf = calloc(1, 5 * MIB + 1);
    s3_object_info info;
    s3_upload *u = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    assert_non_null(buf);
    assert_int_equal(s3_upload_new(c, "edge/exact", &u, &err), 0);
    assert_int_equal(s3_upload_write(u, buf, 5 * MIB, &err), 0);
    assert_int_equal(s3_upload_finish(u, &info, &err), 0);
    assert_int_equal(info.size, 5 * MIB);
    assert_null(strchr(info.etag + 1, '-')); /* not multipart */
    assert_int_equal(s3_upload_new(c, "edge/plus-one", &u, &err), 0);
    assert_int_equal(s3_upload_write(u, buf, 5 * MIB, &err), 0);
    assert_int_equal(s3_upload_write(u, buf, 1, &err), 0);
    assert_int_equal(s3_upload_size(u), 5 * MIB + 1);
    assert_int_equal(s3_upload_finish(u, &info, &err), 0);
    assert_non_null(strstr(info.etag, "-2\""));
    assert_int_equal(s3_head(c, "edge/plus-one", &info, &err), 0);
    assert_int_equal(info.size, 5 * MIB + 1);
    free(buf);
    s3_client_free(c);
}

/* 7 keys with 2 per page: four pages joined, in order, relative to the prefix; the bound. */
static void test_list_pages_with_continuation(void **state)
{
    s3_client *c = client(*state, SECRET, 2);
    s3_list l = {0};
    omlop_err err = OMLOP_ERR_INIT;
    char key[64];

    for (int i = 0; i < 7; i++) {
        snprintf(key, sizeof(key), "list/a/%02d", i);
        assert_int_equal(s3_put(c, key, "x", 1, NULL, &err), 0);
    }
    assert_int_equal(s3_put(c, "list/b/other", "y", 1, NULL, &err), 0);
    if (s3_list_objects(c, "list/a/", &l, &err) != 0)
        fail_msg("list: %s", err.msg);
    assert_int_equal(l.n, 7);
    for (size_t i = 0; i < l.n; i++) {
        snprintf(key, sizeof(key), "list/a/%02zu", i);
        assert_string_equal(l.items[i].key, key);
        assert_int_equal(l.items[i].size, 1);
    }
    s3_list_release(&l);
    s3_client_free(c);

    /* past the bound of keys a listing may hold */
    {
        s3_config cfg = {0};
        swift_fx *fx = *state;

        cfg.endpoint = fx->endpoint;
        cfg.bucket = "omlop-test";
        cfg.prefix = "backup/";
        cfg.access_key = "lab:backup";
        cfg.secret_key = SECRET;
        cfg.path_style = 1;
        cfg.list_page_keys = 2;
        cfg.list_max_keys = 5;
        assert_int_equal(s3_client_new(&cfg, &c, &err), 0);
        assert_int_equal(s3_list_objects(c, "list/a/", &l, &err), OMLOP_ELIMIT);
        assert_non_null(strstr(err.msg, "list objects: more than 5 keys"));
        s3_list_release(&l);
        s3_client_free(c);
    }
}

static void test_delete_and_delete_many(void **state)
{
    s3_client *c = client(*state, SECRET, 0);
    s3_list keys = {0};
    omlop_err err = OMLOP_ERR_INIT;
    char key[64];

    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "del/k&%d", i);
        assert_int_equal(s3_put(c, key, "z", 1, NULL, &err), 0);
    }
    assert_int_equal(objects_under(c, "del/"), 5);
    assert_int_equal(s3_delete(c, "del/k&0", &err), 0);
    assert_int_equal(s3_head(c, "del/k&0", NULL, &err), OMLOP_ENOTFOUND);
    assert_int_equal(s3_delete(c, "del/k&0", &err), 0); /* gone already: still fine */
    for (int i = 1; i < 5; i++) {
        snprintf(key, sizeof(key), "del/k&%d", i);
        s3_list_add(&keys, key);
    }
    s3_list_add(&keys, "del/never-was");
    if (s3_delete_many(c, &keys, &err) != 0)
        fail_msg("delete many: %s", err.msg);
    assert_int_equal(objects_under(c, "del/"), 0);
    s3_list_release(&keys);
    s3_client_free(c);
}

/* A wrong secret: 403 SignatureDoesNotMatch named with the operation, the secret never shown,
 * nothing left in the bucket, no multipart upload pending. */
static void test_wrong_secret_is_signature_error(void **state)
{
    s3_client *good = client(*state, SECRET, 0);
    s3_client *bad = NULL;
    s3_config cfg = {0};
    swift_fx *fx = *state;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf id = STRBUF_INIT;
    s3_part part;
    gen g;

    cfg.endpoint = fx->endpoint;
    cfg.bucket = "omlop-test";
    cfg.prefix = "backup/";
    cfg.access_key = "lab:backup";
    cfg.secret_key = BAD_SECRET;
    cfg.path_style = 1;
    cfg.part_size = 5 * MIB;
    assert_int_equal(s3_client_new(&cfg, &bad, &err), 0);
    assert_int_equal(s3_put(bad, "auth/small", "x", 1, NULL, &err), OMLOP_EAUTH);
    assert_non_null(strstr(err.msg, "put object: SignatureDoesNotMatch (HTTP 403)"));
    assert_null(strstr(err.msg, BAD_SECRET));
    assert_int_equal(s3_head(good, "auth/small", NULL, &err), OMLOP_ENOTFOUND);

    /* streamed, more than a part: the multipart upload cannot even start */
    gen_init(&g, 6 * MIB);
    assert_int_equal(s3_put_stream(bad, "auth/big", gen_read, &g, NULL, &err), OMLOP_EAUTH);
    assert_non_null(strstr(err.msg, "create multipart upload: SignatureDoesNotMatch (HTTP 403)"));
    assert_null(strstr(err.msg, BAD_SECRET));
    EVP_MD_CTX_free(g.sha);

    /* an upload started with the right key and a part sent with the wrong one */
    assert_int_equal(s3_multipart_create(good, "auth/mixed", &id, &err), 0);
    assert_int_equal(
        s3_multipart_upload_part_buf(bad, "auth/mixed", id.buf, 3, "abc", 3, &part, &err),
        OMLOP_EAUTH);
    assert_non_null(strstr(err.msg, "upload part 3: SignatureDoesNotMatch (HTTP 403)"));
    assert_null(strstr(err.msg, BAD_SECRET));
    assert_int_equal(s3_multipart_abort(good, "auth/mixed", id.buf, &err), 0);

    assert_int_equal(objects_under(good, "auth/"), 0);
    assert_int_equal(pending_under(good, "auth/"), 0);
    strbuf_release(&id);
    s3_client_free(bad);
    s3_client_free(good);
}

/* An upload given up (abort, or a source that fails) leaves no object and no pending upload. */
static void test_abort_leaves_nothing(void **state)
{
    s3_client *c = client(*state, SECRET, 0);
    char *buf = calloc(1, MIB);
    omlop_err err = OMLOP_ERR_INIT;
    s3_upload *u = NULL;
    s3_part part;
    strbuf id = STRBUF_INIT;
    gen g;

    assert_non_null(buf);
    assert_int_equal(s3_upload_new(c, "abort/w", &u, &err), 0);
    for (int i = 0; i < 6; i++) /* 6 MiB: the first part goes up */
        assert_int_equal(s3_upload_write(u, buf, MIB, &err), 0);
    assert_int_equal(pending_under(c, "abort/"), 1);
    assert_int_equal(s3_upload_abort(u, &err), 0);
    assert_int_equal(pending_under(c, "abort/"), 0);
    assert_int_equal(objects_under(c, "abort/"), 0);

    /* the source fails after two parts went up */
    gen_init(&g, 20 * MIB);
    g.fail_at = 11 * MIB;
    assert_int_equal(s3_put_stream(c, "abort/s", gen_read, &g, NULL, &err), OMLOP_EIO);
    assert_non_null(strstr(err.msg, "put object: reading the source: pg_dump exited with 1"));
    EVP_MD_CTX_free(g.sha);
    assert_int_equal(pending_under(c, "abort/"), 0);
    assert_int_equal(objects_under(c, "abort/"), 0);

    /* the low-level calls: a part streamed from a callback, then abort; abort twice is fine */
    assert_int_equal(s3_multipart_create(c, "abort/p", &id, &err), 0);
    gen_init(&g, MIB);
    assert_int_equal(
        s3_multipart_upload_part(c, "abort/p", id.buf, 1, gen_read, &g, MIB, &part, &err), 0);
    EVP_MD_CTX_free(g.sha);
    assert_true(part.etag[0] != '\0');
    assert_int_equal(pending_under(c, "abort/"), 1);
    assert_int_equal(s3_multipart_abort(c, "abort/p", id.buf, &err), 0);
    assert_int_equal(s3_multipart_abort(c, "abort/p", id.buf, &err), 0);
    assert_int_equal(pending_under(c, "abort/"), 0);
    assert_int_equal(objects_under(c, "abort/"), 0);
    strbuf_release(&id);
    free(buf);
    s3_client_free(c);
}

/* Virtual-host style: the bucket in the host name (curl resolves *.localhost to loopback, and
 * swift.sh sets s3api's storage_domain to localhost). */
static void test_virtual_host_style(void **state)
{
    swift_fx *fx = *state;
    s3_config cfg = {0};
    s3_client *c = NULL;
    s3_list l = {0};
    sink s = {.keep = 1};
    omlop_err err = OMLOP_ERR_INIT;
    char ep[64];

    if (!fx->up)
        fail_msg("no S3 server to test against: %s", fx->why);
    snprintf(ep, sizeof(ep), "http://localhost:%d", fx->port);
    cfg.endpoint = ep;
    cfg.bucket = "omlop-vhost";
    cfg.prefix = "backup/";
    cfg.access_key = "lab:backup";
    cfg.secret_key = SECRET;
    cfg.path_style = 0;
    assert_int_equal(s3_client_new(&cfg, &c, &err), 0);
    if (s3_bucket_create(c, &err) != 0)
        fail_msg("create bucket (virtual host): %s", err.msg);
    assert_int_equal(s3_put(c, "vh/one", "virtual", 7, NULL, &err), 0);
    assert_int_equal(s3_get(c, "vh/one", sink_write, &s, NULL, &err), 0);
    assert_int_equal(s.got.len, 7);
    assert_memory_equal(s.got.buf, "virtual", 7);
    if (s3_list_objects(c, "vh/", &l, &err) != 0)
        fail_msg("list (virtual host): %s", err.msg);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].key, "vh/one");
    assert_int_equal(s3_delete(c, "vh/one", &err), 0);
    assert_int_equal(s3_head(c, "vh/one", NULL, &err), OMLOP_ENOTFOUND);
    s3_list_release(&l);
    strbuf_release(&s.got);
    s3_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_head_small_object),
        cmocka_unit_test(test_get_missing_and_failing_sink),
        cmocka_unit_test(test_multipart_streamed_from_generator),
        cmocka_unit_test(test_writer_part_boundary),
        cmocka_unit_test(test_list_pages_with_continuation),
        cmocka_unit_test(test_delete_and_delete_many),
        cmocka_unit_test(test_wrong_secret_is_signature_error),
        cmocka_unit_test(test_abort_leaves_nothing),
        cmocka_unit_test(test_virtual_host_style),
    };

    s3_global_init();

    return cmocka_run_group_tests_name("s3 against Swift (s3api)", tests, group_setup,
                                       group_teardown);
}
