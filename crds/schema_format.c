/* schema_format: OpenAPI string formats and Kubernetes name grammars. */
#include "crds/schema_format.h"

#include <arpa/inet.h>
#include <string.h>

/* ASCII-only classes: <ctype.h> depends on the locale and on signedness of char. */
static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_lower_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z');
}

static int is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

int schema_format_parse_ipv4(const char *s, uint32_t *out)
{
    uint32_t addr = 0;

    for (int octet = 0; octet < 4; octet++) {
        unsigned v = 0;
        int digits = 0;

        if (octet > 0) {
            if (*s != '.')
                return 0;
            s++;
        }
        while (is_digit(*s) && digits < 4) {
            v = v * 10 + (unsigned)(*s - '0');
            s++;
            digits++;
        }
        /* A leading zero reads as octal to some parsers: refuse the ambiguity. */
        if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && s[-digits] == '0'))
            return 0;
        addr = (addr << 8) | v;
    }
    if (*s != '\0')
        return 0;
    if (out)
        *out = addr;
    return 1;
}

int schema_format_is_ipv6(const char *s)
{
    unsigned char buf[16];

    /* inet_pton also refuses zones ("%eth0") and plain IPv4, as the format should. */
    return strchr(s, ':') != NULL && inet_pton(AF_INET6, s, buf) == 1;
}

int schema_format_parse_cidr(const char *s, int *is_v4, uint32_t *addr, int *prefix)
{
    const char *slash = strrchr(s, '/');
    char host[64];
    size_t hlen;
    long p = 0;
    int v4;
    uint32_t a = 0;

    if (!slash)
        return 0;
    hlen = (size_t)(slash - s);
    if (hlen == 0 || hlen >= sizeof(host))
        return 0;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    slash++;
    if (!is_digit(slash[0]) || strlen(slash) > 3 || (slash[0] == '0' && slash[1] != '\0'))
        return 0;
    for (const char *q = slash; *q; q++) {
        if (!is_digit(*q))
            return 0;
        p = p * 10 + (*q - '0');
    }
    if (schema_format_parse_ipv4(host, &a)) {
        v4 = 1;
        if (p > 32)
            return 0;
    } else if (schema_format_is_ipv6(host)) {
        v4 = 0;
        if (p > 128)
            return 0;
    } else {
        return 0;
    }
    if (is_v4)
        *is_v4 = v4;
    if (addr)
        *addr = a;
    if (prefix)
        *prefix = (int)p;
    return 1;
}

/* One host-name label from s of n bytes: alphanumerics and inner hyphens, 1-63. */
static int is_hostname_label(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum(s[i]) && s[i] != '-')
            return 0;
    }
    return 1;
}

int schema_format_is_hostname(const char *s)
{
    size_t len = strlen(s);
    const char *p = s;

    if (len == 0 || len > 253)
        return 0;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);

        if (!is_hostname_label(p, n))
            return 0;
        if (!dot)
            return 1;
        p = dot + 1;
    }
}

int schema_format_is_email(const char *s)
{
    const char *at = strrchr(s, '@');
    size_t local_len;
    static const char local_specials[] = "!#$%&'*+/=?^_`{|}~.-";

    if (!at || strlen(s) > 254)
        return 0;
    local_len = (size_t)(at - s);
    if (local_len == 0 || local_len > 64 || s[0] == '.' || at[-1] == '.')
        return 0;
    for (size_t i = 0; i < local_len; i++) {
        if (!is_alnum(s[i]) && !strchr(local_specials, s[i]))
            return 0;
        if (s[i] == '.' && s[i + 1] == '.')
            return 0;
    }
    return strchr(at + 1, '.') != NULL && schema_format_is_hostname(at + 1);
}

/* Read exactly n digits from *p into *out. */
static int read_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int schema_format_parse_date_time(const char *s, int64_t *epoch)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int y, mo, d, h, mi, sec, off = 0;

    if (!read_digits(&p, 4, &y) || *p++ != '-' || !read_digits(&p, 2, &mo) || *p++ != '-' ||
        !read_digits(&p, 2, &d))
        return 0;
    if (*p != 'T' && *p != 't')
        return 0;
    p++;
    if (!read_digits(&p, 2, &h) || *p++ != ':' || !read_digits(&p, 2, &mi) || *p++ != ':' ||
        !read_digits(&p, 2, &sec))
        return 0;
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
        return 0;
    if (d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
        return 0;
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return 0;
        while (is_digit(*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;

        p++;
        if (!read_digits(&p, 2, &oh) || *p++ != ':' || !read_digits(&p, 2, &om) || oh > 23 ||
            om > 59)
            return 0;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return 0;
    }
    if (*p != '\0')
        return 0;
    if (epoch)
        *epoch = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    return 1;
}

static int is_b64(char c)
{
    return is_alnum(c) || c == '+' || c == '/';
}

int schema_format_is_byte(const char *s, size_t len)
{
    size_t n = 0, pad = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            pad++;
        } else if (!is_b64(c) || pad > 0) {
            return 0; /* a character after padding, or outside the alphabet */
        }
        n++;
    }
    return n % 4 == 0 && pad <= 2;
}

int schema_format_is_dns_label(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return 0;
    }
    return 1;
}

int schema_format_is_dns_subdomain(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 253 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_alnum(s[i]) && s[i] != '-' && s[i] != '.')
            return 0;
    }
    return 1;
}

/* The name part of a qualified name, or a label value (n bytes, n > 0). */
static int is_qualified_part(const char *s, size_t n)
{
    if (n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    }
    return 1;
}

int schema_format_is_qualified_name(const char *s, const char **why)
{
    const char *slash = strchr(s, '/');
    const char *name = s;

    if (slash) {
        size_t plen = (size_t)(slash - s);
        char prefix[254];

        if (plen == 0 || plen > 253) {
            *why = "the prefix before '/' must be a DNS subdomain of 1-253 characters";
            return 0;
        }
        memcpy(prefix, s, plen);
        prefix[plen] = '\0';
        if (!schema_format_is_dns_subdomain(prefix)) {
            *why = "the prefix before '/' must be a DNS subdomain (lowercase letters, digits, "
                   "'-' and '.', starting and ending alphanumeric)";
            return 0;
        }
        name = slash + 1;
    }
    if (*name == '\0') {
        *why = "the name part must not be empty";
        return 0;
    }
    if (strlen(name) > 63) {
        *why = "the name part must be at most 63 characters";
        return 0;
    }
    if (!is_qualified_part(name, strlen(name))) {
        *why = "the name part must consist of letters, digits, '-', '_' or '.', and start "
               "and end with a letter or digit";
        return 0;
    }
    return 1;
}

int schema_format_is_label_value(const char *s)
{
    size_t n = strlen(s);

    return n == 0 || is_qualified_part(s, n);
}

static const struct {
    const char *name;
    const char *expected;
} formats[] = {
    {"ipv4", "an IPv4 address such as 10.0.0.1"},
    {"ipv6", "an IPv6 address such as fd00::1"},
    {"hostname", "a host name such as oml.example.com (letters, digits, '-', dot-separated)"},
    {"cidr", "a network in CIDR form such as 172.16.101.0/24"},
    {"email", "a mail address such as admin@example.com"},
    {"date-time", "an RFC 3339 date-time such as 2024-05-01T12:00:00Z"},
    {"byte", "base64 (standard alphabet, padded with '=')"},
};

int schema_format_is_known(const char *format)
{
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (strcmp(format, formats[i].name) == 0)
            return 1;
    }
    return 0;
}

const char *schema_format_expected(const char *format)
{
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (strcmp(format, formats[i].name) == 0)
            return formats[i].expected;
    }
    return "a valid value";
}

int schema_format_check(const char *format, const char *s, size_t len)
{
    /* Only byte may hold arbitrary bytes; an embedded NUL fails the text formats. */
    if (strcmp(format, "byte") == 0)
        return schema_format_is_byte(s, len);
    if (strlen(s) != len)
        return schema_format_is_known(format) ? 0 : -1;
    if (strcmp(format, "ipv4") == 0)
        return schema_format_parse_ipv4(s, NULL);
    if (strcmp(format, "ipv6") == 0)
        return schema_format_is_ipv6(s);
    if (strcmp(format, "hostname") == 0)
        return schema_format_is_hostname(s);
    if (strcmp(format, "cidr") == 0)
        return schema_format_parse_cidr(s, NULL, NULL, NULL);
    if (strcmp(format, "email") == 0)
        return schema_format_is_email(s);
    if (strcmp(format, "date-time") == 0)
        return schema_format_parse_date_time(s, NULL);
    return -1;
}
