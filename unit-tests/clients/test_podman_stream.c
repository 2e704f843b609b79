/*
 * Tests for clients/podman_stream: the line splitter used for events and pull
 * progress, and the exec output demultiplexer, fed in every possible split so
 * that pieces arriving at any boundary decode the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "clients/podman_stream.h"
#include "lib/err.h"
#include "lib/strbuf.h"

struct collected {
    strbuf text; /* lines joined with '|' */
    int n;
    int stop_after;
};

static int collect_line(void *ud, const char *line, size_t len)
{
    struct collected *c = ud;

    if (c->n++)
        strbuf_addch(&c->text, '|');
    strbuf_add(&c->text, line, len);
    return c->stop_after && c->n >= c->stop_after;
}

static void test_lines_split_anywhere_give_the_same_lines(void **state)
{
    static const char input[] = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":\"x y\"}\n{\"d\"";

    (void)state;
    for (size_t cut1 = 0; cut1 <= sizeof(input) - 1; cut1++) {
        for (size_t cut2 = cut1; cut2 <= sizeof(input) - 1; cut2++) {
            podman_lines l = PODMAN_LINES_INIT;
            struct collected c = {STRBUF_INIT, 0, 0};
            omlop_err err = OMLOP_ERR_INIT;

            assert_int_equal(podman_lines_feed(&l, input, cut1, collect_line, &c, &err), 0);
            assert_int_equal(
                podman_lines_feed(&l, input + cut1, cut2 - cut1, collect_line, &c, &err), 0);
            assert_int_equal(podman_lines_feed(&l, input + cut2, sizeof(input) - 1 - cut2,
                                               collect_line, &c, &err),
                             0);
            assert_string_equal(strbuf_str(&c.text), "{\"a\":1}|{\"b\":2}|{\"c\":\"x y\"}");
            /* the unfinished last line is kept, and visible as a partial line */
            assert_true(podman_lines_has_partial(&l));
            strbuf_release(&c.text);
            podman_lines_release(&l);
        }
    }
}

static void test_lines_callback_can_stop(void **state)
{
    podman_lines l = PODMAN_LINES_INIT;
    struct collected c = {STRBUF_INIT, 0, 2};
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(podman_lines_feed(&l, "1\n2\n3\n", 6, collect_line, &c, &err), 1);
    assert_string_equal(strbuf_str(&c.text), "1|2");
    strbuf_release(&c.text);
    podman_lines_release(&l);
}

static void test_lines_refuse_overlong_line(void **state)
{
    podman_lines l = PODMAN_LINES_INIT;
    struct collected c = {STRBUF_INIT, 0, 0};
    omlop_err err = OMLOP_ERR_INIT;
    char big[100];

    (void)state;
    memset(big, 'x', sizeof(big));
    l.max_line = 64;
    assert_int_equal(podman_lines_feed(&l, big, 50, collect_line, &c, &err), 0);
    assert_int_equal(podman_lines_feed(&l, big, 50, collect_line, &c, &err), OMLOP_ELIMIT);
    assert_non_null(strstr(err.msg, "longer than 64 bytes"));
    assert_int_equal(c.n, 0);
    strbuf_release(&c.text);
    podman_lines_release(&l);
}

struct demuxed {
    strbuf out;
    strbuf err;
};

static void collect_piece(void *ud, int stream, const char *data, size_t len)
{
    struct demuxed *d = ud;

    strbuf_add(stream == 2 ? &d->err : &d->out, data, len);
}

/* Append one frame: [stream, 0, 0, 0, size big-endian] then the payload. */
static void frame(strbuf *sb, int stream, const char *payload, size_t len)
{
    unsigned char h[8] = {(unsigned char)stream,
                          0,
                          0,
                          0,
                          (unsigned char)(len >> 24),
                          (unsigned char)(len >> 16),
                          (unsigned char)(len >> 8),
                          (unsigned char)len};

    strbuf_add(sb, h, sizeof(h));
    strbuf_add(sb, payload, len);
}

static void test_demux_separates_streams_at_any_split(void **state)
{
    strbuf in = STRBUF_INIT;
    char big[70000];

    (void)state;
    memset(big, 'b', sizeof(big));
    /* as Podman 4.3 sent it for: sh -c 'echo out; echo err >&2' */
    frame(&in, 1, "out\n", 4);
    frame(&in, 2, "err\n", 4);
    frame(&in, 1, "", 0);
    frame(&in, 1, big, sizeof(big)); /* a size needing all four length bytes' width */
    for (size_t cut = 0; cut <= 40; cut++) {
        podman_demux d = PODMAN_DEMUX_INIT;
        struct demuxed got = {STRBUF_INIT, STRBUF_INIT};
        omlop_err err = OMLOP_ERR_INIT;

        assert_int_equal(podman_demux_feed(&d, in.buf, cut, collect_piece, &got, &err), 0);
        /* the rest byte by byte for the first few hundred, then in one go */
        for (size_t i = cut; i < cut + 300 && i < in.len; i++)
            assert_int_equal(podman_demux_feed(&d, in.buf + i, 1, collect_piece, &got, &err), 0);
        if (cut + 300 < in.len)
            assert_int_equal(podman_demux_feed(&d, in.buf + cut + 300, in.len - cut - 300,
                                               collect_piece, &got, &err),
                             0);
        assert_false(podman_demux_is_partial(&d));
        assert_int_equal(got.out.len, 4 + sizeof(big));
        assert_memory_equal(got.out.buf, "out\n", 4);
        assert_string_equal(strbuf_str(&got.err), "err\n");
        strbuf_release(&got.out);
        strbuf_release(&got.err);
    }
    strbuf_release(&in);
}

static void test_demux_reports_cut_and_garbage(void **state)
{
    podman_demux d = PODMAN_DEMUX_INIT;
    struct demuxed got = {STRBUF_INIT, STRBUF_INIT};
    omlop_err err = OMLOP_ERR_INIT;
    strbuf in = STRBUF_INIT;

    (void)state;
    frame(&in, 1, "hello", 5);
    assert_int_equal(podman_demux_feed(&d, in.buf, in.len - 2, collect_piece, &got, &err), 0);
    assert_true(podman_demux_is_partial(&d)); /* the stream ended mid-frame */
    assert_string_equal(strbuf_str(&got.out), "hel");
    /* a TTY-style raw stream is not multiplexed: say so instead of printing garbage */
    podman_demux d2 = PODMAN_DEMUX_INIT;
    assert_int_equal(podman_demux_feed(&d2, "total 0\ndrwx", 12, collect_piece, &got, &err),
                     OMLOP_EPROTO);
    assert_non_null(strstr(err.msg, "not multiplexed"));
    strbuf_release(&in);
    strbuf_release(&got.out);
    strbuf_release(&got.err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_split_anywhere_give_the_same_lines),
        cmocka_unit_test(test_lines_callback_can_stop),
        cmocka_unit_test(test_lines_refuse_overlong_line),
        cmocka_unit_test(test_demux_separates_streams_at_any_split),
        cmocka_unit_test(test_demux_reports_cut_and_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
