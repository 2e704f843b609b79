/*
 * Watch tests against a real omlopd: chunked HTTP and websocket streams,
 * resuming from a revision, the initial state, selectors, Table events,
 * bookmarks, timeoutSeconds, 410 Gone after compaction, the watch limit (429)
 * and watches ending cleanly on SIGTERM.
 */
#include "api_harness.h"
#include "lib/cjson.h"

#include <openssl/evp.h>

#define BK "/apis/omlop.io/v1alpha1/backups"

static omlopd_proc proc;

static int setup(void **state)
{
    /* the API alone: reconcilers writing the status of the test's objects would add events */
    static const char *const flags[] = {"--bookmark-interval", "1", "--no-reconcile", NULL};

    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    omlopd_start(&proc, flags);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    omlopd_stop(&proc);
    curl_global_cleanup();
    return 0;
}

/* --- a chunked watch client on a raw socket --------------------------------------------- */

typedef struct watch_client {
    int fd;
    strbuf raw;   /* bytes received, not yet decoded */
    strbuf lines; /* decoded body, not yet returned as lines */
    int is_ws;
    int status;
    int has_ended; /* final chunk or close frame seen */
    char headers[4096];
} watch_client;

static void send_request(watch_client *w, const char *path, const char *extra_headers)
{
    char req[2048];

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n", path,
             extra_headers ? extra_headers : "");
    assert_int_equal(raw_send(w->fd, req, strlen(req)), 0);
}

/* Read the response head; returns the status code. */
static int read_head(watch_client *w)
{
    char *end;

    raw_recv(w->fd, &w->raw, "\r\n\r\n", 10000);
    end = strstr(strbuf_str(&w->raw), "\r\n\r\n");
    assert_non_null(end);
    snprintf(w->headers, sizeof(w->headers), "%.*s", (int)(end - w->raw.buf), w->raw.buf);
    w->status = atoi(w->raw.buf + 9);
    {
        size_t hl = (size_t)(end + 4 - w->raw.buf);

        memmove(w->raw.buf, w->raw.buf + hl, w->raw.len - hl);
        strbuf_setlen(&w->raw, w->raw.len - hl);
    }
    return w->status;
}

static void watch_open_ex(watch_client *w, const char *path, const char *headers)
{
    memset(w, 0, sizeof(*w));
    w->fd = raw_connect(proc.port);
    send_request(w, path, headers);
    read_head(w);
}

static void watch_open(watch_client *w, const char *path)
{
    watch_open_ex(w, path, NULL);
    assert_int_equal(w->status, 200);
    assert_non_null(strcasestr(w->headers, "transfer-encoding: chunked"));
}

/* Decode whole chunks of raw into lines. */
static void decode_chunks(watch_client *w)
{
    for (;;) {
        char *crlf = strstr(strbuf_str(&w->raw), "\r\n");
        size_t n, hl;

        if (!crlf)
            return;
        n = strtoul(w->raw.buf, NULL, 16);
        hl = (size_t)(crlf + 2 - w->raw.buf);
        if (w->raw.len < hl + n + 2)
            return;
        if (n == 0)
            w->has_ended = 1;
        strbuf_add(&w->lines, w->raw.buf + hl, n);
        memmove(w->raw.buf, w->raw.buf + hl + n + 2, w->raw.len - hl - n - 2);
        strbuf_setlen(&w->raw, w->raw.len - hl - n - 2);
    }
}

/* Decode server websocket frames (unmasked) into lines. */
static void decode_frames(watch_client *w)
{
    for (;;) {
        const unsigned char *b = (const unsigned char *)w->raw.buf;
        size_t hl = 2, n;

        if (w->raw.len < 2)
            return;
        n = b[1] & 0x7f;
        if (n == 126) {
            if (w->raw.len < 4)
                return;
            n = ((size_t)b[2] << 8) | b[3];
            hl = 4;
        } else if (n == 127) {
            if (w->raw.len < 10)
                return;
            n = 0;
            for (int i = 0; i < 8; i++)
                n = (n << 8) | b[2 + i];
            hl = 10;
        }
        if (w->raw.len < hl + n)
            return;
        if ((b[0] & 0x0f) == 0x8) {
            w->has_ended = 1;
        } else if ((b[0] & 0x0f) == 0x1) {
            strbuf_add(&w->lines, w->raw.buf + hl, n);
            strbuf_addch(&w->lines, '\n');
        }
        memmove(w->raw.buf, w->raw.buf + hl + n, w->raw.len - hl - n);
        strbuf_setlen(&w->raw, w->raw.len - hl - n);
    }
}

/* The next event (caller puts), or NULL when none came within timeout_ms. */
static json_object *next_event(watch_client *w, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        char *nl;

        if (w->is_ws)
            decode_frames(w);
        else
            decode_chunks(w);
        nl = w->lines.len ? memchr(w->lines.buf, '\n', w->lines.len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - w->lines.buf);
            json_object *ev;

            *nl = '\0';
            ev = json_tokener_parse(w->lines.buf);
            memmove(w->lines.buf, nl + 1, w->lines.len - n - 1);
            strbuf_setlen(&w->lines, w->lines.len - n - 1);
            assert_non_null(ev);
            return ev;
        }
        if (w->has_ended || harness_now_ms() >= deadline)
            return NULL;
        if (raw_recv(w->fd, &w->raw, NULL, 100) == 0 && w->raw.len == 0) {
            /* nothing yet, or closed: raw_recv returns 0 for both; try until the deadline */
        }
    }
}

/* Expect an event of type for object name; returns its resourceVersion (static). */
static const char *expect_event(watch_client *w, const char *type, const char *name)
{
    static char rv[32];
    json_object *ev = next_event(w, 10000);

    if (!ev)
        fail_msg("no %s event for %s within 10 s", type, name ? name : "-");
    assert_string_equal(json_object_get_string(json_object_object_get(ev, "type")), type);
    if (name)
        assert_string_equal(cjson_get_string(ev, "object.metadata.name"), name);
    snprintf(rv, sizeof(rv), "%s",
             cjson_get_string(ev, "object.metadata.resourceVersion")
                 ? cjson_get_string(ev, "object.metadata.resourceVersion")
                 : "");
    json_object_put(ev);
    return rv;
}

static void watch_close(watch_client *w)
{
    close(w->fd);
    strbuf_release(&w->raw);
    strbuf_release(&w->lines);
}

static void create_backup(const char *name, const char *team, char *rv, size_t rvsz)
{
    char body[512];
    http_resp r;

    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
             "\"%s\",\"labels\":{\"team\":\"%s\"}},\"spec\":{\"tenantRef\":{\"name\":\"t\"}}}",
             name, team);
    assert_int_equal(http_do(&proc, "POST", BK, body, NULL, &r), 201);
    if (rv)
        snprintf(rv, rvsz, "%s", resp_str(&r, "metadata.resourceVersion"));
    http_resp_release(&r);
}

static void patch_backup(const char *name, const char *patch)
{
    char path[256];
    http_resp r;
    http_opts mp = {.content_type = "application/merge-patch+json"};

    snprintf(path, sizeof(path), BK "/%s", name);
    assert_int_equal(http_do(&proc, "PATCH", path, patch, &mp, &r), 200);
    http_resp_release(&r);
}

static void delete_backup(const char *name)
{
    char path[256];
    http_resp r;

    snprintf(path, sizeof(path), BK "/%s", name);
    assert_int_equal(http_do(&proc, "DELETE", path, NULL, NULL, &r), 200);
    http_resp_release(&r);
}

static void test_chunked_watch_resumes_from_revision(void **state)
{
    watch_client w;
    char rv0[32], path[256], mid[32];

    (void)state;
    create_backup("w-one", "w", rv0, sizeof(rv0));
    snprintf(path, sizeof(path), BK "?watch=true&resourceVersion=%s", rv0);
    watch_open(&w, path);
    create_backup("w-two", "w", NULL, 0);
    patch_backup("w-one", "{\"spec\":{\"includeRecordings\":true}}");
    delete_backup("w-two");
    snprintf(mid, sizeof(mid), "%s", expect_event(&w, "ADDED", "w-two"));
    expect_event(&w, "MODIFIED", "w-one");
    expect_event(&w, "DELETED", "w-two");
    watch_close(&w);

    /* resuming after the ADDED event replays only what came after it */
    snprintf(path, sizeof(path), BK "?watch=1&resourceVersion=%s", mid);
    watch_open(&w, path);
    expect_event(&w, "MODIFIED", "w-one");
    expect_event(&w, "DELETED", "w-two");
    assert_null(next_event(&w, 300));
    watch_close(&w);
}

static void test_watch_without_revision_starts_with_state(void **state)
{
    watch_client w;
    json_object *ev;
    int seen = 0;

    (void)state;
    create_backup("init-a", "init", NULL, 0);
    create_backup("init-b", "init", NULL, 0);
    create_backup("init-c", "other", NULL, 0);
    watch_open(&w, BK "?watch=true&labelSelector=team%3Dinit");
    while ((ev = next_event(&w, 1000)) != NULL) {
        assert_string_equal(json_object_get_string(json_object_object_get(ev, "type")), "ADDED");
        assert_int_equal(strncmp(cjson_get_string(ev, "object.metadata.name"), "init-", 5), 0);
        assert_string_equal(cjson_get_string(ev, "object.metadata.labels.team"), "init");
        json_object_put(ev);
        seen++;
    }
    assert_int_equal(seen, 2);
    /* a change to a non-matching object is not shown; a matching one is */
    patch_backup("init-c", "{\"spec\":{\"includeRecordings\":true}}");
    patch_backup("init-b", "{\"spec\":{\"includeRecordings\":true}}");
    expect_event(&w, "MODIFIED", "init-b");
    watch_close(&w);
}

/* As Kubernetes: a change that takes an object out of a selection is DELETED for that
 * watch, one that brings it in is ADDED; also on a watch from a revision. */
static void test_selector_watch_follows_objects_in_and_out(void **state)
{
    watch_client w;
    char rv[32], path[256];

    (void)state;
    create_backup("sel-a", "blue", NULL, 0);
    create_backup("sel-b", "red", NULL, 0);
    watch_open(&w, BK "?watch=true&labelSelector=team%3Dblue");
    expect_event(&w, "ADDED", "sel-a");
    patch_backup("sel-b", "{\"metadata\":{\"labels\":{\"team\":\"blue\"}}}");
    expect_event(&w, "ADDED", "sel-b");
    patch_backup("sel-a", "{\"metadata\":{\"labels\":{\"team\":\"red\"}}}");
    expect_event(&w, "DELETED", "sel-a");
    patch_backup("sel-a", "{\"spec\":{\"includeRecordings\":true}}"); /* still out */
    patch_backup("sel-b", "{\"spec\":{\"includeRecordings\":true}}");
    expect_event(&w, "MODIFIED", "sel-b");
    delete_backup("sel-b");
    expect_event(&w, "DELETED", "sel-b");
    assert_null(next_event(&w, 300));
    watch_close(&w);

    /* from a revision: what matches then is known, so leaving is still DELETED */
    create_backup("sel-c", "other", rv, sizeof(rv));
    snprintf(path, sizeof(path), BK "?watch=true&labelSelector=team%%3Dred&resourceVersion=%s", rv);
    watch_open(&w, path);
    patch_backup("sel-a", "{\"metadata\":{\"labels\":{\"team\":\"blue\"}}}");
    expect_event(&w, "DELETED", "sel-a");
    patch_backup("sel-c", "{\"metadata\":{\"labels\":{\"team\":\"red\"}}}");
    expect_event(&w, "ADDED", "sel-c");
    assert_null(next_event(&w, 300));
    watch_close(&w);
}

static void test_named_watch_and_table_events(void **state)
{
    watch_client w;
    json_object *ev;

    (void)state;
    create_backup("tw", "t", NULL, 0);
    watch_open_ex(&w, BK "?watch=true&fieldSelector=metadata.name%3Dtw",
                  "Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json\r\n");
    assert_int_equal(w.status, 200);
    ev = next_event(&w, 10000);
    assert_non_null(ev);
    assert_string_equal(cjson_get_string(ev, "type"), "ADDED");
    assert_string_equal(cjson_get_string(ev, "object.kind"), "Table");
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(
            cjson_get(json_object_array_get_idx(cjson_get(ev, "object.rows"), 0), "cells"), 0)),
        "tw");
    json_object_put(ev);
    watch_close(&w);
}

static void test_bookmarks_and_timeout(void **state)
{
    watch_client w;
    json_object *ev;
    char rv[32], path[256];
    int64_t t0;

    (void)state;
    create_backup("bm", "bm", rv, sizeof(rv));
    snprintf(path, sizeof(path),
             BK "?watch=true&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=3", rv);
    t0 = harness_now_ms();
    watch_open(&w, path);
    ev = next_event(&w, 5000);
    assert_non_null(ev);
    assert_string_equal(cjson_get_string(ev, "type"), "BOOKMARK");
    assert_string_equal(cjson_get_string(ev, "object.kind"), "Backup");
    assert_string_equal(cjson_get_string(ev, "object.metadata.resourceVersion"), rv);
    json_object_put(ev);
    /* timeoutSeconds: the server ends the stream with the last chunk */
    while ((ev = next_event(&w, 6000)) != NULL)
        json_object_put(ev);
    assert_true(w.has_ended);
    assert_true(harness_now_ms() - t0 < 8000);
    watch_close(&w);
}

static void test_compacted_revision_is_gone(void **state)
{
    watch_client w;
    http_resp r;
    char rv[32], path[256];

    (void)state;
    create_backup("gone-1", "g", rv, sizeof(rv));
    create_backup("gone-2", "g", NULL, 0);
    assert_int_equal(http_do(&proc, "POST", "/omlop/compact", "", NULL, &r), 200);
    http_resp_release(&r);
    snprintf(path, sizeof(path), BK "?watch=true&resourceVersion=%s", rv);
    watch_open_ex(&w, path, NULL);
    assert_int_equal(w.status, 410);
    watch_close(&w);
    http_do(&proc, "GET", path, NULL, NULL, &r);
    assert_int_equal(r.code, 410);
    assert_string_equal(resp_str(&r, "kind"), "Status");
    assert_string_equal(resp_str(&r, "reason"), "Gone");
    assert_non_null(strstr(resp_str(&r, "message"), "too old resource version"));
    http_resp_release(&r);
    /* a compaction revision in the future or not a number */
    http_do(&proc, "POST", "/omlop/compact?revision=99999999", "", NULL, &r);
    assert_int_equal(r.code, 400);
    http_resp_release(&r);
    http_do(&proc, "POST", "/omlop/compact?revision=abc", "", NULL, &r);
    assert_int_equal(r.code, 400);
    http_resp_release(&r);
    /* a bad resourceVersion is a 400 */
    http_do(&proc, "GET", BK "?watch=true&resourceVersion=x1", NULL, NULL, &r);
    assert_int_equal(r.code, 400);
    http_resp_release(&r);
}

static void ws_handshake(watch_client *w, const char *path, const char *extra)
{
    unsigned char key[16];
    char b64[32], headers[1024];

    for (int i = 0; i < 16; i++)
        key[i] = (unsigned char)(i * 7 + 3);
    EVP_EncodeBlock((unsigned char *)b64, key, 16);
    snprintf(headers, sizeof(headers),
             "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
             "Sec-WebSocket-Version: 13\r\n%s",
             b64, extra ? extra : "");
    memset(w, 0, sizeof(*w));
    w->is_ws = 1;
    w->fd = raw_connect(proc.port);
    send_request(w, path, headers);
    read_head(w);
}

static void test_websocket_watch(void **state)
{
    watch_client w;
    char rv[32], path[256];

    (void)state;
    create_backup("ws-1", "ws", rv, sizeof(rv));
    snprintf(path, sizeof(path), BK "?watch=true&resourceVersion=%s", rv);
    ws_handshake(&w, path, NULL);
    assert_int_equal(w.status, 101);
    create_backup("ws-2", "ws", NULL, 0);
    delete_backup("ws-1");
    expect_event(&w, "ADDED", "ws-2");
    expect_event(&w, "DELETED", "ws-1");
    watch_close(&w);

    /* a websocket that is not a watch is refused with an HTTP answer */
    ws_handshake(&w, "/apis/omlop.io/v1alpha1/nothings?watch=true", NULL);
    assert_int_equal(w.status, 404);
    watch_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_watch_resumes_from_revision),
        cmocka_unit_test(test_watch_without_revision_starts_with_state),
        cmocka_unit_test(test_named_watch_and_table_events),
        cmocka_unit_test(test_selector_watch_follows_objects_in_and_out),
        cmocka_unit_test(test_bookmarks_and_timeout),
        cmocka_unit_test(test_compacted_revision_is_gone),
        cmocka_unit_test(test_websocket_watch),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
