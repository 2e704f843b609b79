/* cjson: canonical serialisation and hashing of json-c trees. */
#include "cjson.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void cjson_add_quoted(strbuf *out, const char *s, size_t n, unsigned flags)
{
    strbuf_addch(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        switch (c) {
        case '"':
            strbuf_adds(out, "\\\"");
            break;
        case '\\':
            strbuf_adds(out, "\\\\");
            break;
        case '\b':
            strbuf_adds(out, "\\b");
            break;
        case '\f':
            strbuf_adds(out, "\\f");
            break;
        case '\n':
            strbuf_adds(out, "\\n");
            break;
        case '\r':
            strbuf_adds(out, "\\r");
            break;
        case '\t':
            strbuf_adds(out, "\\t");
            break;
        default:
            if (c < 0x20 || (c == 0x7f && (flags & CJSON_QUOTE_DEL)))
                strbuf_addf(out, "\\u%04x", c);
            else
                strbuf_addch(out, (char)c);
        }
    }
    strbuf_addch(out, '"');
}

static void add_double(strbuf *out, double d)
{
    char tmp[40];

    if (!isfinite(d)) {
        /* JSON has no NaN/Inf; json-c never parses them, so this is a bug path. */
        strbuf_adds(out, "null");
        return;
    }
    if (d == floor(d) && fabs(d) < 9007199254740992.0) {
        strbuf_addf(out, "%lld", (long long)d);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    strbuf_adds(out, tmp);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void cjson_canonical(const json_object *cobj, strbuf *out)
{
    json_object *obj = (json_object *)cobj; /* json-c's getters are not const-correct */

    switch (json_object_get_type(obj)) {
    case json_type_null:
        strbuf_adds(out, "null");
        break;
    case json_type_boolean:
        strbuf_adds(out, json_object_get_boolean(obj) ? "true" : "false");
        break;
    case json_type_int:
        strbuf_addf(out, "%lld", (long long)json_object_get_int64(obj));
        break;
    case json_type_double:
        add_double(out, json_object_get_double(obj));
        break;
    case json_type_string:
        cjson_add_quoted(out, json_object_get_string(obj), (size_t)json_object_get_string_len(obj),
                         0);
        break;
    case json_type_array: {
        size_t n = json_object_array_length(obj);

        strbuf_addch(out, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                strbuf_addch(out, ',');
            cjson_canonical(json_object_array_get_idx(obj, i), out);
        }
        strbuf_addch(out, ']');
        break;
    }
    case json_type_object: {
        size_t n = (size_t)json_object_object_length(obj), i = 0;
        const char **keys = xcalloc(n, sizeof(*keys));

        json_object_object_foreach(obj, k, v)
        {
            (void)v;
            keys[i++] = k;
        }
        qsort(keys, n, sizeof(*keys), key_cmp);
        strbuf_addch(out, '{');
        for (i = 0; i < n; i++) {
            if (i)
                strbuf_addch(out, ',');
            cjson_add_quoted(out, keys[i], strlen(keys[i]), 0);
            strbuf_addch(out, ':');
            cjson_canonical(json_object_object_get(obj, keys[i]), out);
        }
        strbuf_addch(out, '}');
        free(keys);
        break;
    }
    }
}

void cjson_sha256_hex(const void *data, size_t len, char out[CJSON_HASH_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        abort();
    for (unsigned int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[CJSON_HASH_HEX_LEN] = '\0';
}

void cjson_hash(const json_object *obj, char out[CJSON_HASH_HEX_LEN + 1])
{
    strbuf text = STRBUF_INIT;

    cjson_canonical(obj, &text);
    cjson_sha256_hex(text.buf ? text.buf : "", text.len, out);
    strbuf_release(&text);
}

json_object *cjson_get(const json_object *obj, const char *dotted_path)
{
    json_object *cur = (json_object *)obj;
    char key[256];
    const char *p = dotted_path;

    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);

        if (n >= sizeof(key) || !json_object_is_type(cur, json_type_object))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        if (!json_object_object_get_ex(cur, key, &cur))
            return NULL;
        p = dot ? dot + 1 : p + n;
    }
    return cur;
}

const char *cjson_get_string(const json_object *obj, const char *dotted_path)
{
    json_object *v = cjson_get(obj, dotted_path);

    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t cjson_get_int(const json_object *obj, const char *dotted_path, int64_t def)
{
    json_object *v = cjson_get(obj, dotted_path);

    return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : def;
}

int cjson_equal(const json_object *a, const json_object *b)
{
    strbuf x = STRBUF_INIT, y = STRBUF_INIT;
    int same;

    cjson_canonical(a, &x);
    cjson_canonical(b, &y);
    same = x.len == y.len && memcmp(strbuf_str(&x), strbuf_str(&y), x.len) == 0;
    strbuf_release(&x);
    strbuf_release(&y);
    return same;
}

json_object *cjson_copy(const json_object *v)
{
    json_object *out = NULL;

    if (!v)
        return NULL;
    if (json_object_deep_copy((json_object *)v, &out, NULL) != 0)
        abort(); /* only fails on allocation */
    return out;
}
