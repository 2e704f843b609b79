/*
 * Tests for podman_events_stream (clients/podman_events.h), the decoder the
 * host pool feeds from an SSH channel: a chunked response cut at every byte
 * boundary gives the same events; a non-200 answer and a malformed chunk are
 * errors naming the host; the end of the stream is an error (Podman went
 * away); a restart asks from the last event's second (or the first
 * response's Date) and skips what was delivered before; after forget it asks
 * for new events only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "clients/podman_events.h"
#include "lib/strbuf.h"

static const char HEAD[] = "HTTP/1.1 200 OK\r\nDate: Fri, 05 Dec 2025 04:00:00 GMT\r\n"
                           "transfer-encoding: chunked\r\n\r\n";
#define EV1                                                                                        \
    "{\"Type\":\"container\",\"Action\":\"died\",\"Actor\":{\"ID\":\"i1\",\"Attributes\":"         \
    "{\"name\":\"one\"}},\"timeNano\":1764907205000000001}\n"
#define EV2                                                                                        \
    "{\"Type\":\"container\",\"Action\":\"remove\",\"Actor\":{\"ID\":\"i2\",\"Attributes\":"       \
    "{\"name\":\"two\"}},\"timeNano\":1764907206000000002}\n"

static int collect(void *ud, const podman_event *ev)
{
    strbuf_addf(ud, "%s:%s;", ev->name, ev->action);
    return 0;
}

/* HEAD + EV1 in two chunks (split mid-line) + EV2 in one. */
static void response(strbuf *r)
{
    const char *ev1 = EV1;
    size_t cut = 20;

    strbuf_adds(r, HEAD);
    strbuf_addf(r, "%zx\r\n%.*s\r\n", cut, (int)cut, ev1);
    strbuf_addf(r, "%zx;ext=1\r\n%s\r\n", strlen(ev1) - cut, ev1 + cut);
    strbuf_addf(r, "%zx\r\n%s\r\n", strlen(EV2), EV2);
}

static void test_stream_decodes_at_every_split(void **state)
{
    strbuf r = STRBUF_INIT;

    (void)state;
    response(&r);
    for (size_t split = 0; split <= r.len; split++) {
        strbuf got = STRBUF_INIT, req = STRBUF_INIT;
        podman_events_stream *s = podman_events_stream_new("h1", collect, &got);
        omlop_err err = OMLOP_ERR_INIT;

        podman_events_stream_request(s, NULL, NULL, &req);
        if (podman_events_stream_feed(s, r.buf, split, &err) < 0 ||
            podman_events_stream_feed(s, r.buf + split, r.len - split, &err) < 0)
            fail_msg("split %zu: %s", split, err.msg);
        assert_string_equal(strbuf_str(&got), "one:died;two:remove;");
        podman_events_stream_free(s);
        strbuf_release(&got);
        strbuf_release(&req);
    }
    strbuf_release(&r);
}

static void test_stream_restart_asks_since_and_skips_delivered(void **state)
{
    strbuf got = STRBUF_INIT, req = STRBUF_INIT, r = STRBUF_INIT;
    podman_events_stream *s = podman_events_stream_new("h1", collect, &got);
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    podman_events_stream_request(s, "/v4.0.0/libpod", NULL, &req);
    assert_non_null(strstr(req.buf, "GET /v4.0.0/libpod/events?stream=true"));
    assert_null(strstr(req.buf, "since="));
    /* before any event: a restart asks from the first response's Date */
    assert_int_equal(podman_events_stream_feed(s, HEAD, strlen(HEAD), &err), 0);
    strbuf_reset(&req);
    podman_events_stream_request(s, NULL, NULL, &req);
    assert_non_null(strstr(req.buf, "since=1764907200 "));
    /* after events: from the last one's second; a replay of it is skipped */
    response(&r);
    assert_int_equal(podman_events_stream_feed(s, r.buf, r.len, &err), 0);
    strbuf_reset(&req);
    podman_events_stream_request(s, NULL, NULL, &req);
    assert_non_null(strstr(req.buf, "since=1764907206 "));
    strbuf_reset(&got);
    assert_int_equal(podman_events_stream_feed(s, r.buf, r.len, &err), 0);
    assert_string_equal(strbuf_str(&got), "");
    /* after a lost connection: only new events, nothing replayed */
    podman_events_stream_forget(s);
    strbuf_reset(&req);
    podman_events_stream_request(s, NULL, NULL, &req);
    assert_null(strstr(req.buf, "since="));
    assert_int_equal(podman_events_stream_feed(s, r.buf, r.len, &err), 0);
    assert_string_equal(strbuf_str(&got), "one:died;two:remove;");
    podman_events_stream_free(s);
    strbuf_release(&got);
    strbuf_release(&req);
    strbuf_release(&r);
}

static void test_stream_errors_name_the_host(void **state)
{
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "host h1: events: HTTP 404"},
        {"garbage\r\n\r\n", "host h1: events: not an HTTP response"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XY", "bad chunk end"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "host h1: the event stream ended"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf got = STRBUF_INIT, req = STRBUF_INIT;
        podman_events_stream *s = podman_events_stream_new("h1", collect, &got);
        omlop_err err = OMLOP_ERR_INIT;

        podman_events_stream_request(s, NULL, NULL, &req);
        assert_true(podman_events_stream_feed(s, cases[i].in, strlen(cases[i].in), &err) < 0);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].want);
        podman_events_stream_free(s);
        strbuf_release(&got);
        strbuf_release(&req);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_decodes_at_every_split),
        cmocka_unit_test(test_stream_restart_asks_since_and_skips_delivered),
        cmocka_unit_test(test_stream_errors_name_the_host),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
