/* Tests for lib/strbuf, lib/err and lib/log formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/strbuf.h"

static void test_strbuf_grows_and_formats(void **state)
{
    strbuf sb = STRBUF_INIT;
    char *p;
    size_t len;

    (void)state;
    assert_string_equal(strbuf_str(&sb), "");
    for (int i = 0; i < 1000; i++)
        strbuf_addf(&sb, "%d,", i);
    assert_true(sb.len > 3000);
    assert_memory_equal(sb.buf, "0,1,2,", 6);
    strbuf_setlen(&sb, 2);
    strbuf_adds(&sb, "x");
    strbuf_addch(&sb, 'y');
    assert_string_equal(strbuf_str(&sb), "0,xy");
    p = strbuf_detach(&sb, &len);
    assert_int_equal(len, 4);
    assert_null(sb.buf);
    free(p);
}

static void test_strbuf_read_file_limit(void **state)
{
    char path[] = "/tmp/omlop-test-XXXXXX";
    int fd = mkstemp(path);
    strbuf sb = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello world", 11), 11);
    close(fd);
    assert_int_equal(strbuf_read_file(&sb, path, 100, &err), 0);
    assert_string_equal(strbuf_str(&sb), "hello world");
    strbuf_reset(&sb);
    assert_int_equal(strbuf_read_file(&sb, path, 5, &err), OMLOP_ELIMIT);
    assert_non_null(strstr(err.msg, path));
    unlink(path);
    assert_int_equal(strbuf_read_file(&sb, path, 5, &err), OMLOP_ENOTFOUND);
    strbuf_release(&sb);
}

static void test_err_prefix_keeps_message(void **state)
{
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(omlop_err_set(&err, OMLOP_EIO, "connect: %s", "refused"), OMLOP_EIO);
    omlop_err_prefix(&err, "host %s: ", "h1");
    assert_string_equal(err.msg, "host h1: connect: refused");
    assert_string_equal(omlop_code_name(err.code), "EIO");
    assert_int_equal(omlop_err_set(NULL, OMLOP_EINVAL, "x"), OMLOP_EINVAL);
}

static void test_log_json_fields(void **state)
{
    char line[512];

    (void)state;
    log_format_line(line, sizeof(line), LOG_FORMAT_JSON, LOG_LEVEL_WARN, "T",
                    "tenant=t1 host=\"a b\" container died");
    assert_string_equal(line, "{\"ts\":\"T\",\"level\":\"warn\",\"tenant\":\"t1\",\"host\":\"a b\","
                              "\"msg\":\"container died\"}");
    log_format_line(line, sizeof(line), LOG_FORMAT_TEXT, LOG_LEVEL_INFO, "T", "x=1 hello");
    assert_string_equal(line, "T info  x=1 hello");
}

static void test_log_level_parse(void **state)
{
    log_level lv;
    log_format fmt;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(log_level_parse("debug", &lv, &err), 0);
    assert_int_equal(lv, LOG_LEVEL_DEBUG);
    assert_int_equal(log_level_parse("loud", &lv, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "loud"));
    assert_int_equal(log_format_parse("json", &fmt, &err), 0);
    assert_int_equal(log_format_parse("xml", &fmt, &err), OMLOP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strbuf_grows_and_formats),
        cmocka_unit_test(test_strbuf_read_file_limit),
        cmocka_unit_test(test_err_prefix_keeps_message),
        cmocka_unit_test(test_log_json_fields),
        cmocka_unit_test(test_log_level_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
