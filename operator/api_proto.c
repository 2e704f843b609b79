/* api_proto: a core v1 Secret in Kubernetes' protobuf encoding, read into JSON. */
#include "api_proto.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

/* A bounded view of protobuf bytes. */
typedef struct pb {
    const unsigned char *p, *end;
} pb;

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

static int pb_varint(pb *b, uint64_t *v)
{
    uint64_t r = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        unsigned char c;

        if (b->p >= b->end)
            return -1;
        c = *b->p++;
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/*
 * The next field of b: its number and wire type; a length-delimited value in
 * *sub, a varint in *val, fixed-size values skipped. 1 at the end, -1 malformed.
 */
static int pb_next(pb *b, uint32_t *field, int *wire, pb *sub, uint64_t *val)
{
    uint64_t key, len;

    if (b->p == b->end)
        return 1;
    if (pb_varint(b, &key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
        return -1;
    *field = (uint32_t)(key >> 3);
    *wire = (int)(key & 7);
    *val = 0;
    switch (*wire) {
    case PB_VARINT:
        return pb_varint(b, val);
    case PB_I64:
        if (b->end - b->p < 8)
            return -1;
        b->p += 8;
        return 0;
    case PB_I32:
        if (b->end - b->p < 4)
            return -1;
        b->p += 4;
        return 0;
    case PB_LEN:
        if (pb_varint(b, &len) || len > (uint64_t)(b->end - b->p))
            return -1;
        sub->p = b->p;
        sub->end = b->p + len;
        b->p += len;
        return 0;
    default:
        return -1; /* groups: not in any Kubernetes type */
    }
}

static json_object *pb_string(const pb *s)
{
    return json_object_new_string_len((const char *)s->p, (int)(s->end - s->p));
}

static json_object *pb_base64(const pb *s)
{
    size_t n = (size_t)(s->end - s->p);
    char *b64 = xcalloc(1, 4 * ((n + 2) / 3) + 1);
    json_object *o;

    EVP_EncodeBlock((unsigned char *)b64, s->p, (int)n);
    o = json_object_new_string(b64);
    free(b64);
    return o;
}

/* One map<string, string|bytes> entry into map; is_bytes: the value as base64. */
static int pb_map_entry(pb e, json_object *map, int is_bytes)
{
    pb key = {NULL, NULL}, value = {NULL, NULL}, sub;
    uint32_t f;
    int w, rc;
    uint64_t v;
    char *k;

    while ((rc = pb_next(&e, &f, &w, &sub, &v)) == 0) {
        if (w != PB_LEN)
            continue;
        if (f == 1)
            key = sub;
        else if (f == 2)
            value = sub;
    }
    if (rc < 0)
        return -1;
    k = xcalloc(1, (key.p ? (size_t)(key.end - key.p) : 0) + 1);
    if (key.p)
        memcpy(k, key.p, (size_t)(key.end - key.p));
    if (!value.p)
        value.p = value.end = (const unsigned char *)"";
    json_object_object_add(map, k, is_bytes ? pb_base64(&value) : pb_string(&value));
    free(k);
    return 0;
}

/* Add a map field: the object under name is created on the first entry. */
static int add_map_entry(json_object *parent, const char *name, pb e, int is_bytes)
{
    json_object *m;

    if (!json_object_object_get_ex(parent, name, &m)) {
        m = json_object_new_object();
        json_object_object_add(parent, name, m);
    }
    return pb_map_entry(e, m, is_bytes);
}

static int decode_meta(pb b, json_object *meta)
{
    static const char *const strings[] = {
        [1] = "name", [2] = "generateName", [3] = "namespace", [6] = "resourceVersion"};
    pb sub;
    uint32_t f;
    int w, rc;
    uint64_t v;

    while ((rc = pb_next(&b, &f, &w, &sub, &v)) == 0) {
        if (w != PB_LEN)
            continue;
        if (f < sizeof(strings) / sizeof(strings[0]) && strings[f]) {
            if (sub.end > sub.p) /* proto3 writes empty strings; JSON leaves them out */
                json_object_object_add(meta, strings[f], pb_string(&sub));
        } else if (f == 11 || f == 12) {
            if (add_map_entry(meta, f == 11 ? "labels" : "annotations", sub, 0))
                return -1;
        } else if (f == 14) {
            json_object *a;

            if (!json_object_object_get_ex(meta, "finalizers", &a)) {
                a = json_object_new_array();
                json_object_object_add(meta, "finalizers", a);
            }
            json_object_array_add(a, pb_string(&sub));
        }
    }
    return rc < 0 ? -1 : 0;
}

/* Secret{metadata=1, data=2, type=3, stringData=4, immutable=5}; *where names a bad part. */
static int decode_secret(pb b, json_object *obj, const char **where)
{
    pb sub;
    uint32_t f;
    int w, rc;
    uint64_t v;

    while ((rc = pb_next(&b, &f, &w, &sub, &v)) == 0) {
        if (f == 5 && w == PB_VARINT) {
            json_object_object_add(obj, "immutable", json_object_new_boolean(v != 0));
            continue;
        }
        if (w != PB_LEN)
            continue;
        if (f == 1) {
            json_object *meta = json_object_new_object();

            json_object_object_add(obj, "metadata", meta);
            if (decode_meta(sub, meta)) {
                *where = "metadata";
                return -1;
            }
        } else if (f == 2 || f == 4) {
            if (add_map_entry(obj, f == 2 ? "data" : "stringData", sub, f == 2)) {
                *where = f == 2 ? "data" : "stringData";
                return -1;
            }
        } else if (f == 3 && sub.end > sub.p) {
            json_object_object_add(obj, "type", pb_string(&sub));
        }
    }
    *where = "the Secret";
    return rc < 0 ? -1 : 0;
}

static int pb_equals(const pb *s, const char *want)
{
    size_t n = strlen(want);

    return s->p && (size_t)(s->end - s->p) == n && memcmp(s->p, want, n) == 0;
}

int api_proto_decode_secret(const unsigned char *buf, size_t len, json_object **out, omlop_err *err)
{
    static const unsigned char magic[4] = {'k', '8', 's', 0};
    pb b = {buf + 4, buf + len}, sub, raw = {NULL, NULL}, av = {NULL, NULL}, kind = {NULL, NULL};
    pb enc = {NULL, NULL};
    uint32_t f;
    int w, rc;
    uint64_t v;
    const char *where = "the envelope";
    json_object *obj;

    *out = NULL;
    if (len < 4 || memcmp(buf, magic, 4) != 0)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "the protobuf body does not start with the Kubernetes envelope "
                             "\"k8s\\0\"; send the object as JSON");
    while ((rc = pb_next(&b, &f, &w, &sub, &v)) == 0) {
        if (w != PB_LEN)
            continue;
        if (f == 1) { /* TypeMeta{apiVersion=1, kind=2} */
            pb t = sub, s2;
            uint32_t f2;
            int w2, rc2;

            while ((rc2 = pb_next(&t, &f2, &w2, &s2, &v)) == 0)
                if (w2 == PB_LEN && f2 == 1)
                    av = s2;
                else if (w2 == PB_LEN && f2 == 2)
                    kind = s2;
            if (rc2 < 0) {
                rc = -1;
                break;
            }
        } else if (f == 2) {
            raw = sub;
        } else if (f == 3) {
            enc = sub;
        }
    }
    if (rc < 0)
        return omlop_err_set(err, OMLOP_EINVAL, "the protobuf body is malformed (%s)", where);
    if (!pb_equals(&av, "v1") || !pb_equals(&kind, "Secret"))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "a protobuf body is read only for a core v1 Secret; send other "
                             "objects as JSON");
    if (enc.p && enc.end > enc.p)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "the protobuf body's contentEncoding is not supported; send it "
                             "unencoded");
    obj = json_object_new_object();
    json_object_object_add(obj, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(obj, "kind", json_object_new_string("Secret"));
    if (raw.p && decode_secret(raw, obj, &where)) {
        json_object_put(obj);
        return omlop_err_set(err, OMLOP_EINVAL, "the protobuf body is malformed (in %s)", where);
    }
    *out = obj;
    return 0;
}
