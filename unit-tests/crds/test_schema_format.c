/* Tests for crds/schema_format: every format, good and bad, and the name grammars. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "crds/schema_format.h"

typedef struct fmt_case {
    const char *format;
    const char *value;
    int valid;
} fmt_case;

static const fmt_case cases[] = {
    {"ipv4", "10.0.0.1", 1},
    {"ipv4", "255.255.255.255", 1},
    {"ipv4", "0.0.0.0", 1},
    {"ipv4", "10.0.0.256", 0},
    {"ipv4", "10.0.0", 0},
    {"ipv4", "10.0.0.1.2", 0},
    {"ipv4", "010.0.0.1", 0}, /* leading zero: octal to some parsers */
    {"ipv4", "10.0.0.1 ", 0},
    {"ipv4", "", 0},
    {"ipv4", "::1", 0},
    {"ipv4", "a.b.c.d", 0},
    {"ipv6", "::1", 1},
    {"ipv6", "fd00::1", 1},
    {"ipv6", "2001:db8:0:0:1:0:0:1", 1},
    {"ipv6", "::ffff:10.0.0.1", 1},
    {"ipv6", "10.0.0.1", 0},
    {"ipv6", "fe80::1%eth0", 0},
    {"ipv6", "2001:db8::1::2", 0},
    {"ipv6", "gggg::1", 0},
    {"hostname", "oml.example.com", 1},
    {"hostname", "localhost", 1},
    {"hostname", "a-b.c", 1},
    {"hostname", "190.19.150.18", 1}, /* digits-only labels are allowed by RFC 1123 */
    {"hostname", "-bad.example.com", 0},
    {"hostname", "bad-.example.com", 0},
    {"hostname", "a..b", 0},
    {"hostname", "under_score.example.com", 0},
    {"hostname", "trailing.dot.", 0},
    {"hostname", "", 0},
    {"cidr", "172.16.101.0/24", 1},
    {"cidr", "172.16.101.0/16", 1}, /* host bits set, as the reference inventory writes it */
    {"cidr", "0.0.0.0/0", 1},
    {"cidr", "fd00::/8", 1},
    {"cidr", "10.0.0.0/33", 0},
    {"cidr", "10.0.0.0", 0},
    {"cidr", "10.0.0.0/", 0},
    {"cidr", "10.0.0.0/08", 0},
    {"cidr", "fd00::/129", 0},
    {"cidr", "/24", 0},
    {"email", "admin@example.com", 1},
    {"email", "your_email@domain.com", 1},
    {"email", "a.b+tag@mail.example.org", 1},
    {"email", "no-at.example.com", 0},
    {"email", "@example.com", 0},
    {"email", "a@localhost", 0},
    {"email", "a..b@example.com", 0},
    {"email", ".a@example.com", 0},
    {"email", "a b@example.com", 0},
    {"date-time", "2024-05-01T12:00:00Z", 1},
    {"date-time", "2024-05-01T12:00:00.123456Z", 1},
    {"date-time", "2024-02-29T00:00:00+03:00", 1},
    {"date-time", "2024-05-01t12:00:00z", 1},
    {"date-time", "2023-02-29T00:00:00Z", 0}, /* not a leap year */
    {"date-time", "2024-13-01T00:00:00Z", 0},
    {"date-time", "2024-05-01 12:00:00Z", 0},
    {"date-time", "2024-05-01T12:00:00", 0}, /* no offset */
    {"date-time", "2024-05-01T24:00:00Z", 0},
    {"date-time", "2024-05-01", 0},
    {"byte", "", 1},
    {"byte", "aGVsbG8=", 1},
    {"byte", "aGVsbG8h", 1},
    {"byte", "aGk=\n", 1},
    {"byte", "aGVsbG8", 0},   /* not padded */
    {"byte", "aGVs bG8=", 0}, /* space */
    {"byte", "aGVsbG8*", 0},
    {"byte", "a===", 0},
    {"byte", "aG=k", 0}, /* data after padding */
};

static void test_format_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = schema_format_check(cases[i].format, cases[i].value, strlen(cases[i].value));

        if (got != cases[i].valid)
            fail_msg("format %s value \"%s\": got %d, want %d", cases[i].format, cases[i].value,
                     got, cases[i].valid);
    }
}

static void test_format_unknown_and_expected(void **state)
{
    (void)state;
    assert_int_equal(schema_format_check("uri", "http://x", 8), -1);
    assert_false(schema_format_is_known("uri"));
    assert_true(schema_format_is_known("cidr"));
    assert_non_null(strstr(schema_format_expected("ipv4"), "IPv4"));
    /* An embedded NUL never passes a text format. */
    assert_int_equal(schema_format_check("hostname", "a\0b", 3), 0);
}

static void test_format_parse_values(void **state)
{
    uint32_t a = 0;
    int is_v4 = 0, prefix = 0;
    int64_t t = 0, t2 = 0;

    (void)state;
    assert_true(schema_format_parse_ipv4("172.16.101.44", &a));
    assert_int_equal(a, (172u << 24) | (16u << 16) | (101u << 8) | 44u);
    assert_true(schema_format_parse_cidr("172.16.101.0/24", &is_v4, &a, &prefix));
    assert_true(is_v4);
    assert_int_equal(prefix, 24);
    assert_true(schema_format_parse_cidr("fd00::/8", &is_v4, NULL, &prefix));
    assert_false(is_v4);
    assert_true(schema_format_parse_date_time("1970-01-01T00:00:00Z", &t));
    assert_int_equal(t, 0);
    assert_true(schema_format_parse_date_time("2023-04-12T17:09:51Z", &t));
    assert_int_equal(t, 1681319391);
    assert_true(schema_format_parse_date_time("2023-04-12T20:09:51+03:00", &t2));
    assert_int_equal(t2, t);
}

static void test_names(void **state)
{
    const char *why = NULL;

    (void)state;
    assert_true(schema_format_is_dns_label("tenant-1"));
    assert_false(schema_format_is_dns_label("Tenant"));
    assert_false(schema_format_is_dns_label("tenant_1"));
    assert_false(schema_format_is_dns_label("-a"));
    assert_false(schema_format_is_dns_label(
        "a234567890123456789012345678901234567890123456789012345678901234")); /* 64 */
    assert_true(schema_format_is_dns_subdomain("omlop.io"));
    assert_false(schema_format_is_dns_subdomain("omlop..io."));
    assert_true(schema_format_is_qualified_name("app", &why));
    assert_true(schema_format_is_qualified_name("omlop.io/tenant", &why));
    assert_true(schema_format_is_qualified_name("app.kubernetes.io/Name_x", &why));
    assert_false(schema_format_is_qualified_name("/x", &why));
    assert_non_null(strstr(why, "prefix"));
    assert_false(schema_format_is_qualified_name("Bad_Prefix/x", &why));
    assert_false(schema_format_is_qualified_name("omlop.io/", &why));
    assert_false(schema_format_is_qualified_name("-x", &why));
    assert_non_null(strstr(why, "start"));
    assert_true(schema_format_is_label_value(""));
    assert_true(schema_format_is_label_value("v1.2_x-y"));
    assert_false(schema_format_is_label_value("a b"));
    assert_false(schema_format_is_label_value(
        "a234567890123456789012345678901234567890123456789012345678901234"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_table),
        cmocka_unit_test(test_format_unknown_and_expected),
        cmocka_unit_test(test_format_parse_values),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
