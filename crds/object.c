/* object: keys, resourceVersions, uids and timestamps of stored objects. */
#include "object.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "crds/schema_format.h"
#include "lib/cjson.h"

void object_key(strbuf *out, const char *plural, const char *name)
{
    strbuf_addf(out, API_KEY_ROOT "%s/%s", plural, name);
}

void object_prefix(strbuf *out, const char *plural)
{
    strbuf_addf(out, API_KEY_ROOT "%s/", plural);
}

json_object *object_meta(json_object *obj)
{
    json_object *meta;

    if (json_object_object_get_ex(obj, "metadata", &meta) &&
        json_object_is_type(meta, json_type_object))
        return meta;
    meta = json_object_new_object();
    json_object_object_add(obj, "metadata", meta);
    return meta;
}

const char *object_name(const json_object *obj)
{
    return cjson_get_string(obj, "metadata.name");
}

void object_set_rv(json_object *obj, int64_t revision)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%lld", (long long)revision);
    json_object_object_add(object_meta(obj), "resourceVersion", json_object_new_string(buf));
}

json_object *object_parse(const char *text, size_t len)
{
    json_tokener *tok = json_tokener_new_ex(API_JSON_MAX_DEPTH);
    json_object *obj;

    if (!tok)
        abort();
    obj = json_tokener_parse_ex(tok, text ? text : "", (int)len);
    if (obj && (json_tokener_get_error(tok) != json_tokener_success ||
                !json_object_is_type(obj, json_type_object))) {
        json_object_put(obj);
        obj = NULL;
    }
    json_tokener_free(tok);
    return obj;
}

void object_store_text(const json_object *obj, strbuf *out)
{
    json_object *meta = json_object_object_get((json_object *)obj, "metadata");
    json_object *rv = NULL;

    /* drop the resourceVersion for the write and put it back: it is the revision */
    if (meta && json_object_object_get_ex(meta, "resourceVersion", &rv)) {
        json_object_get(rv);
        json_object_object_del(meta, "resourceVersion");
    }
    strbuf_adds(out,
                json_object_to_json_string_ext(
                    (json_object *)obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    if (rv)
        json_object_object_add(meta, "resourceVersion", rv);
}

void object_time_format(time_t t, char out[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int time_digits(const char *p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

int object_time_parse(const char *text, time_t *out)
{
    struct tm tm;
    int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
    char s[48]; /* the longest RFC 3339 time has 35 characters */
    size_t n = text ? strnlen(text, sizeof(s)) : 0;
    const char *p;
    time_t t;

    if (n < 20 || n >= sizeof(s))
        return OMLOP_EINVAL;
    memcpy(s, text, n + 1);
    memset(&tm, 0, sizeof(tm));
    if (time_digits(s, 4, &Y) || s[4] != '-' || time_digits(s + 5, 2, &M) || s[7] != '-' ||
        time_digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        time_digits(s + 11, 2, &h) || s[13] != ':' || time_digits(s + 14, 2, &m) || s[16] != ':' ||
        time_digits(s + 17, 2, &sec))
        return OMLOP_EINVAL;
    p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return OMLOP_EINVAL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        if (time_digits(p + 1, 2, &oh) || p[3] != ':' || time_digits(p + 4, 2, &om))
            return OMLOP_EINVAL;
        p += 6;
    } else {
        return OMLOP_EINVAL;
    }
    if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return OMLOP_EINVAL;
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    t = timegm(&tm);
    t -= sign * (oh * 3600 + om * 60);
    *out = t;
    return 0;
}

void object_uid_new(char out[37])
{
    unsigned char b[16];
    size_t got = 0;

    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            abort(); /* the kernel's CSPRNG failing is not survivable */
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

int object_name_is_valid(const char *name)
{
    return name && *name && schema_format_is_dns_subdomain(name);
}

int64_t object_rv_parse(const char *s)
{
    char *end;
    long long v;

    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < 0)
        return -1;
    return (int64_t)v;
}

void object_core_view(json_object *obj)
{
    json_object_object_add(obj, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(object_meta(obj), "namespace",
                           json_object_new_string(API_CORE_NAMESPACE));
}
