/* api_proto: the protobuf Secret decoder on what kubectl sends, on every truncation and on lies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cjson.h"
#include "lib/strbuf.h"
#include "operator/api_proto.h"

/* Append a length-delimited field (lengths below 128 only: one varint byte). */
static void ld(strbuf *b, int field, const void *data, size_t n)
{
    assert_true(n < 128);
    strbuf_addch(b, (char)((field << 3) | 2));
    strbuf_addch(b, (char)n);
    strbuf_add(b, data, n);
}

static void entry(strbuf *b, int field, const char *k, const char *v)
{
    strbuf e = STRBUF_INIT;

    ld(&e, 1, k, strlen(k));
    ld(&e, 2, v, strlen(v));
    ld(b, field, e.buf, e.len);
    strbuf_release(&e);
}

/* "k8s\0" Unknown{TypeMeta{av, kind}, raw = secret} */
static void envelope(strbuf *out, const char *av, const char *kind, const strbuf *secret)
{
    strbuf tm = STRBUF_INIT;

    strbuf_add(out, "k8s", 4);
    ld(&tm, 1, av, strlen(av));
    ld(&tm, 2, kind, strlen(kind));
    ld(out, 1, tm.buf, tm.len);
    ld(out, 2, secret->buf, secret->len);
    strbuf_release(&tm);
}

static void full_secret(strbuf *s)
{
    strbuf meta = STRBUF_INIT;

    ld(&meta, 1, "ssh1", 4);
    ld(&meta, 3, "default", 7);
    entry(&meta, 11, "team", "voice");
    entry(&meta, 12, "note", "x");
    ld(&meta, 14, "omlop.io/keep", 13);
    ld(s, 1, meta.buf, meta.len);
    entry(s, 2, "ssh-privatekey", "\x01\x02\xff");
    ld(s, 3, "kubernetes.io/ssh-auth", 22);
    entry(s, 4, "plain", "text");
    strbuf_addch(s, (char)((5 << 3) | 0)); /* immutable: true */
    strbuf_addch(s, 1);
    strbuf_release(&meta);
}

static void test_decodes_every_field(void **state)
{
    strbuf s = STRBUF_INIT, body = STRBUF_INIT;
    json_object *o = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    full_secret(&s);
    envelope(&body, "v1", "Secret", &s);
    assert_int_equal(api_proto_decode_secret((const unsigned char *)body.buf, body.len, &o, &err),
                     0);
    assert_string_equal(cjson_get_string(o, "apiVersion"), "v1");
    assert_string_equal(cjson_get_string(o, "kind"), "Secret");
    assert_string_equal(cjson_get_string(o, "metadata.name"), "ssh1");
    assert_string_equal(cjson_get_string(o, "metadata.namespace"), "default");
    assert_string_equal(cjson_get_string(o, "metadata.labels.team"), "voice");
    assert_string_equal(cjson_get_string(o, "metadata.annotations.note"), "x");
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(cjson_get(o, "metadata.finalizers"), 0)),
        "omlop.io/keep");
    assert_string_equal(cjson_get_string(o, "data.ssh-privatekey"), "AQL/"); /* bytes, base64 */
    assert_string_equal(cjson_get_string(o, "stringData.plain"), "text");
    assert_string_equal(cjson_get_string(o, "type"), "kubernetes.io/ssh-auth");
    assert_true(json_object_get_boolean(cjson_get(o, "immutable")));
    json_object_put(o);
    strbuf_release(&s);
    strbuf_release(&body);
}

static void test_every_truncation_is_refused_or_decoded(void **state)
{
    strbuf s = STRBUF_INIT, body = STRBUF_INIT;

    (void)state;
    full_secret(&s);
    envelope(&body, "v1", "Secret", &s);
    for (size_t n = 0; n < body.len; n++) {
        json_object *o = NULL;
        omlop_err err = OMLOP_ERR_INIT;
        int rc = api_proto_decode_secret((const unsigned char *)body.buf, n, &o, &err);

        /* only the cut right after TypeMeta is whole (a Secret with nothing set); every
         * other cut is inside a length-delimited field */
        if (n == 4 + 2 + (size_t)body.buf[5]) {
            assert_int_equal(rc, 0);
            assert_null(cjson_get(o, "metadata"));
            json_object_put(o);
        } else {
            assert_int_equal(rc, OMLOP_EINVAL);
            assert_null(o);
        }
        assert_null(strstr(err.msg, "\x01\x02")); /* values never in messages */
    }
    strbuf_release(&s);
    strbuf_release(&body);
}

static void test_refuses_other_kinds_and_envelopes(void **state)
{
    static const struct {
        const char *av, *kind;
    } cases[] = {{"v1", "ConfigMap"}, {"omlop.io/v1alpha1", "Secret"}, {"v1", "Secrets"}, {"", ""}};
    strbuf s = STRBUF_INIT;
    json_object *o = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    full_secret(&s);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf body = STRBUF_INIT;

        envelope(&body, cases[i].av, cases[i].kind, &s);
        assert_int_equal(
            api_proto_decode_secret((const unsigned char *)body.buf, body.len, &o, &err),
            OMLOP_EINVAL);
        assert_null(o);
        assert_non_null(strstr(err.msg, "core v1 Secret"));
        strbuf_release(&body);
    }
    assert_int_equal(api_proto_decode_secret((const unsigned char *)"{\"a\":1}", 7, &o, &err),
                     OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "envelope"));
    /* a field number 0 and a group wire type are malformed */
    assert_int_equal(api_proto_decode_secret((const unsigned char *)"k8s\0\x02\x00", 6, &o, &err),
                     OMLOP_EINVAL);
    assert_int_equal(api_proto_decode_secret((const unsigned char *)"k8s\0\x0b", 5, &o, &err),
                     OMLOP_EINVAL);
    /* a length past the end */
    assert_int_equal(
        api_proto_decode_secret((const unsigned char *)"k8s\0\x12\x7f\x00", 7, &o, &err),
        OMLOP_EINVAL);
    strbuf_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes_every_field),
        cmocka_unit_test(test_every_truncation_is_refused_or_decoded),
        cmocka_unit_test(test_refuses_other_kinds_and_envelopes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
