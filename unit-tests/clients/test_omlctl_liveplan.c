/*
 * Tests for clients/omlctl/liveplan.c (status.plan as text, shown by omlctl
 * describe and omlctl diff). Compiled in directly: the omlctl sources are not
 * part of libomlop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/omlctl/liveplan.h"

static size_t format(const char *json, int indent, strbuf *out)
{
    json_object *t = json_tokener_parse(json);
    size_t n;

    assert_non_null(t);
    n = omlctl_liveplan_format(t, indent, out);
    json_object_put(t);
    return n;
}

static void test_liveplan_lists_each_action_with_host_and_error(void **state)
{
    strbuf out = STRBUF_INIT;

    (void)state;
    assert_int_equal(
        format("{\"status\":{\"plan\":["
               "{\"host\":\"h1\",\"action\":\"pull\",\"image\":\"reg/nginx:2\","
               "\"component\":\"nginx\",\"reason\":\"image not on the host\","
               "\"error\":\"manifest unknown\"},"
               "{\"host\":\"h1\",\"action\":\"create\",\"container\":\"oml-nginx-server\","
               "\"component\":\"nginx\",\"image\":\"reg/nginx:2\",\"reason\":\"missing\","
               "\"error\":\"not tried: the rollout stopped at an earlier failure\"},"
               "{\"host\":\"h2\",\"action\":\"remove\",\"container\":\"oml-old\","
               "\"reason\":\"no longer desired\"},"
               "{\"host\":\"h2\",\"action\":\"write\",\"container\":\"oml-redis-server\","
               "\"component\":\"redis\",\"path\":\"/etc/default/redis.env\","
               "\"reason\":\"missing\"}]}}",
               2, &out),
        4);
    assert_string_equal(out.buf,
                        "  h1: pull reg/nginx:2: image not on the host\n"
                        "    last attempt: manifest unknown\n"
                        "  h1: create oml-nginx-server (nginx, image reg/nginx:2): missing\n"
                        "    last attempt: not tried: the rollout stopped at an earlier failure\n"
                        "  h2: remove oml-old: no longer desired\n"
                        "  h2: write /etc/default/redis.env (for oml-redis-server): missing\n");
    strbuf_release(&out);
}

static void test_liveplan_empty_or_absent_prints_nothing(void **state)
{
    strbuf out = STRBUF_INIT;

    (void)state;
    assert_int_equal(format("{\"status\":{\"phase\":\"Ready\"}}", 2, &out), 0);
    assert_int_equal(format("{\"status\":{\"plan\":[]}}", 2, &out), 0);
    assert_int_equal(format("{\"spec\":{}}", 2, &out), 0);
    /* an entry without host or action (not valid per the CRD) is skipped, not half-printed */
    assert_int_equal(format("{\"status\":{\"plan\":[{\"action\":\"pull\"}]}}", 2, &out), 0);
    assert_int_equal(out.len, 0);
    strbuf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_liveplan_lists_each_action_with_host_and_error),
        cmocka_unit_test(test_liveplan_empty_or_absent_prints_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
