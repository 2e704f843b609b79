/* api_resources: dispatch of resource requests, reads (get, list, watch setup) and helpers. */
#include "api_resources.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crds/object.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "lib/xalloc.h"
#include "objects/history.h"
#include "objects/objects.h"
#include "operator/api_fields.h"
#include "operator/api_history.h"
#include "operator/api_patch.h"
#include "operator/api_proto.h"
#include "operator/api_select.h"
#include "operator/api_status.h"
#include "operator/api_sync.h"
#include "operator/api_table.h"
#include "operator/api_write.h"

#define MAX_CAUSE_TEXT 4096

/* "tenants.omlop.io" for messages, as Kubernetes writes a resource ("secrets" in core v1). */
static void resource_name(const api_rr *rr, char *out, size_t n)
{
    if (rr->is_core)
        snprintf(out, n, "%s", rr->kind->plural);
    else
        snprintf(out, n, "%s.%s", rr->kind->plural, OMLOP_GROUP);
}

/* The API group a Status names: core v1 is the empty group. */
static const char *rr_group(const api_rr *rr)
{
    return rr->is_core ? "" : OMLOP_GROUP;
}

void api_rr_not_found(api_rr *rr, const char *name)
{
    char res[160], msg[600];
    json_object *st;

    resource_name(rr, res, sizeof(res));
    snprintf(msg, sizeof(msg), "%s \"%s\" not found", res, name);
    st = api_status_new(404, "NotFound", msg);
    api_status_set_details(st, name, rr_group(rr), rr->kind->plural);
    api_status_respond_obj(rr->resp, st);
    json_object_put(st);
}

void api_rr_store_error(api_rr *rr, const char *name, const omlop_err *err)
{
    char res[160], msg[1400];
    const char *reason = NULL;
    int code = api_status_code_for_err(err->code, &reason);
    json_object *st;

    resource_name(rr, res, sizeof(res));
    if (err->code == OMLOP_ENOTFOUND) {
        api_rr_not_found(rr, name);
        return;
    }
    if (err->code == OMLOP_EEXIST)
        snprintf(msg, sizeof(msg), "%s \"%s\" already exists", res, name);
    else if (err->code == OMLOP_ECONFLICT)
        snprintf(msg, sizeof(msg),
                 "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                 "please apply your changes to the latest version and try again",
                 res, name);
    else
        snprintf(msg, sizeof(msg), "%s \"%s\": %s", res, name, err->msg);
    st = api_status_new(code, reason, msg);
    api_status_set_details(st, name, rr_group(rr), rr->kind->plural);
    api_status_respond_obj(rr->resp, st);
    json_object_put(st);
}

static void invalid_status(api_rr *rr, const char *name, json_object *st)
{
    json_object *causes = cjson_get(st, "details.causes");
    strbuf msg = STRBUF_INIT;
    size_t n = causes ? json_object_array_length(causes) : 0;

    if (rr->is_core)
        strbuf_addf(&msg, "%s \"%s\" is invalid: ", rr->kind->kind, name ? name : "");
    else
        strbuf_addf(&msg, "%s.%s \"%s\" is invalid: ", rr->kind->kind, OMLOP_GROUP,
                    name ? name : "");
    if (n > 1)
        strbuf_addch(&msg, '[');
    for (size_t i = 0; i < n && msg.len < MAX_CAUSE_TEXT; i++) {
        json_object *c = json_object_array_get_idx(causes, i);
        const char *field = cjson_get_string(c, "field");

        if (i)
            strbuf_adds(&msg, ", ");
        if (field && *field)
            strbuf_addf(&msg, "%s: ", field);
        strbuf_adds(&msg, cjson_get_string(c, "message") ? cjson_get_string(c, "message") : "");
    }
    if (n > 1)
        strbuf_addch(&msg, ']');
    json_object_object_add(st, "message", json_object_new_string(strbuf_str(&msg)));
    api_status_set_details(st, name, rr_group(rr), rr->kind->kind);
    api_status_respond_obj(rr->resp, st);
    strbuf_release(&msg);
}

void api_rr_invalid(api_rr *rr, const char *name, const diag_list *diags)
{
    json_object *st = api_status_new(422, "Invalid", "");

    api_status_add_diags(st, diags);
    invalid_status(rr, name, st);
    json_object_put(st);
}

void api_rr_invalid1(api_rr *rr, const char *name, const char *field, const char *reason,
                     const char *message)
{
    json_object *st = api_status_new(422, "Invalid", "");

    api_status_add_cause(st, field, reason, message);
    invalid_status(rr, name, st);
    json_object_put(st);
}

/* obj as JSON, or YAML when the Accept header asks for it. */
static void respond_plain(api_rr *rr, int code, const json_object *obj)
{
    if (api_accept_wants_yaml(rr->req->accept)) {
        omlop_err err = OMLOP_ERR_INIT;

        strbuf_reset(&rr->resp->body);
        if (yaml_emit_json(obj, &rr->resp->body, &err) == 0) {
            rr->resp->status = code;
            rr->resp->content_type = "application/yaml";
            return;
        }
    }
    api_response_json(rr->resp, code, obj);
}

void api_rr_respond_object(api_rr *rr, int code, const json_object *obj)
{
    if (api_accept_wants_table(rr->req->accept)) {
        int inc = api_include_object_parse(api_request_param(rr->req, "includeObject"));
        json_object *one = cjson_copy(obj), *t;
        const char *rv = cjson_get_string(obj, "metadata.resourceVersion");

        if (rr->is_core)
            object_core_view(one);
        t = api_table_build(rr->a->schemas, rr->kind, &one, 1, inc < 0 ? API_INCLUDE_METADATA : inc,
                            time(NULL));
        json_object_put(one);

        if (rv)
            json_object_object_add(json_object_object_get(t, "metadata"), "resourceVersion",
                                   json_object_new_string(rv));
        api_response_json(rr->resp, code, t);
        json_object_put(t);
        return;
    }
    if (rr->is_core && cjson_get_string(obj, "apiVersion") &&
        strcmp(cjson_get_string(obj, "apiVersion"), OMLOP_API_VERSION) == 0) {
        /* the stored object, shown by the core v1 view */
        json_object *core = cjson_copy(obj);

        object_core_view(core);
        respond_plain(rr, code, core);
        json_object_put(core);
        return;
    }
    respond_plain(rr, code, obj);
}

/* --- request bodies ---------------------------------------------------------------------- */

static int parse_json_body(api_rr *rr, json_object **out)
{
    json_tokener *tok = json_tokener_new_ex(API_JSON_MAX_DEPTH);
    json_object *obj;
    enum json_tokener_error jerr;

    if (!tok)
        abort();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, rr->req->body, (int)rr->req->body_len);
    jerr = json_tokener_get_error(tok);
    if (jerr == json_tokener_continue) {
        /* the whole body was read: an unfinished document is an error, not "more to come" */
        api_status_respond(rr->resp, 400,
                           "the request body is not valid JSON: it ends in the middle of a "
                           "value");
        json_tokener_free(tok);
        json_object_put(obj);
        return -1;
    }
    if (jerr != json_tokener_success) {
        api_status_respond(rr->resp, 400, "the request body is not valid JSON: %s at byte %zu",
                           json_tokener_error_desc(jerr), json_tokener_get_parse_end(tok));
        json_tokener_free(tok);
        return -1;
    }
    if (json_tokener_get_parse_end(tok) < rr->req->body_len) {
        size_t i = json_tokener_get_parse_end(tok);

        while (i < rr->req->body_len && strchr(" \t\r\n", rr->req->body[i]))
            i++;
        if (i < rr->req->body_len) {
            api_status_respond(rr->resp, 400,
                               "the request body is not valid JSON: unexpected data after the "
                               "value at byte %zu",
                               i);
            json_tokener_free(tok);
            json_object_put(obj);
            return -1;
        }
    }
    json_tokener_free(tok);
    *out = obj;
    return 0;
}

static int parse_yaml_body(api_rr *rr, json_object **out)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *diags = diag_list_new();
    yaml_limits lim;
    int rc = -1;

    yaml_limits_default(&lim);
    lim.max_input_bytes = rr->a->opts.max_body_bytes;
    lim.max_docs = 2;
    if (yaml_load_buffer("request body", rr->req->body, rr->req->body_len, &lim, &docs, diags) !=
        0) {
        strbuf msg = STRBUF_INIT;
        json_object *st;

        diag_list_format(diags, &msg);
        st = api_status_new(400, "BadRequest", "");
        json_object_object_add(st, "message",
                               json_object_new_string_len(msg.buf ? msg.buf : "",
                                                          msg.len > 2000 ? 2000 : (int)msg.len));
        api_status_add_diags(st, diags);
        api_status_respond_obj(rr->resp, st);
        json_object_put(st);
        strbuf_release(&msg);
        goto out;
    }
    if (docs.n != 1) {
        api_status_respond(rr->resp, 400,
                           "the request body must hold exactly one YAML document, it holds %zu",
                           docs.n);
        goto out;
    }
    *out =
        api_fields_from_yaml(docs.docs[0].root, api_fields_schema(rr->a->schemas, rr->kind->kind));
    rc = 0;
out:
    ydoc_list_release(&docs);
    diag_list_free(diags);
    return rc;
}

/* Request body types the API reads (PATCH checks its own three first). */
static int body_type_ok(const char *ct)
{
    static const char *const ok[] = {"application/json",
                                     "application/yaml",
                                     "application/x-yaml",
                                     "application/merge-patch+json",
                                     "application/strategic-merge-patch+json",
                                     "application/apply-patch+yaml",
                                     "*/*",
                                     NULL};

    for (size_t i = 0; ct && ok[i]; i++)
        if (strcmp(ct, ok[i]) == 0)
            return 1;
    return !ct;
}

int api_rr_parse_body(api_rr *rr, json_object **out)
{
    const char *ct = rr->req->content_type;
    json_object *obj = NULL;
    int rc;

    *out = NULL;
    if (ct && strcmp(ct, API_PROTO_MEDIA_TYPE) == 0 && rr->is_core && rr->req->body &&
        (rr->req->method == API_METHOD_POST || rr->req->method == API_METHOD_PUT)) {
        /* typed clients (kubectl 1.32+ create secret) send core kinds as protobuf */
        omlop_err err = OMLOP_ERR_INIT;

        if (api_proto_decode_secret((const unsigned char *)rr->req->body, rr->req->body_len, out,
                                    &err) != 0) {
            api_status_respond(rr->resp, 400, "%s", err.msg);
            return -1;
        }
        return 0;
    }
    if (!body_type_ok(ct)) {
        api_status_respond(rr->resp, 415,
                           "the request body must be application/json or application/yaml, not "
                           "%s",
                           ct);
        return -1;
    }
    if (!rr->req->body || rr->req->body_len == 0) {
        api_status_respond(rr->resp, 400, "the request has no body; send the object as JSON");
        return -1;
    }
    if (ct &&
        (strcmp(ct, "application/yaml") == 0 || strcmp(ct, "application/apply-patch+yaml") == 0 ||
         strcmp(ct, "application/x-yaml") == 0))
        rc = parse_yaml_body(rr, &obj);
    else
        rc = parse_json_body(rr, &obj);
    if (rc)
        return rc;
    if (!json_object_is_type(obj, json_type_object)) {
        api_status_respond(rr->resp, 400, "the request body must be a JSON object, not %s",
                           json_type_to_name(json_object_get_type(obj)));
        json_object_put(obj);
        return -1;
    }
    *out = obj;
    return 0;
}

int api_rr_field_validation(api_rr *rr, json_object *obj)
{
    const char *mode = api_request_param(rr->req, "fieldValidation");
    strbuf unknown = STRBUF_INIT;
    int n;

    if (mode && strcmp(mode, "Strict") != 0 && strcmp(mode, "Warn") != 0 &&
        strcmp(mode, "Ignore") != 0) {
        api_status_respond(rr->resp, 400, "fieldValidation '%s' is not one of Strict, Warn, Ignore",
                           mode);
        return -1;
    }
    n = api_fields_prune_unknown(obj, api_fields_schema(rr->a->schemas, rr->kind->kind), &unknown);
    if (n > 0 && mode && strcmp(mode, "Strict") == 0) {
        json_object *st = api_status_new(422, "Invalid", "");
        const char *p = unknown.buf;

        while (p && *p) {
            const char *nl = strchr(p, '\n');
            char field[512];

            snprintf(field, sizeof(field), "%.*s", (int)(nl - p), p);
            api_status_add_cause(st, field, "FieldValueInvalid",
                                 "unknown field (fieldValidation=Strict)");
            p = nl + 1;
        }
        invalid_status(rr, object_name(obj), st);
        json_object_put(st);
        strbuf_release(&unknown);
        return -1;
    }
    if (n > 0 && (!mode || strcmp(mode, "Warn") == 0)) {
        const char *p = unknown.buf;

        while (p && *p) {
            const char *nl = strchr(p, '\n');

            api_response_add_warning(rr->resp, "unknown field \"%.*s\"", (int)(nl - p), p);
            p = nl + 1;
        }
    }
    strbuf_release(&unknown);
    return 0;
}

int api_rr_check_type(api_rr *rr, json_object *obj)
{
    const char *av = cjson_get_string(obj, "apiVersion");
    const char *k = cjson_get_string(obj, "kind");

    /* the core view takes both names of its one object: a patch there is applied to the
     * stored (omlop.io) object before this check */
    if (av && strcmp(av, OMLOP_API_VERSION) != 0 && !(rr->is_core && strcmp(av, "v1") == 0)) {
        api_status_respond(rr->resp, 400,
                           "the API version in the data (%s) does not match the expected API "
                           "version (%s)",
                           av, rr->is_core ? "v1" : OMLOP_API_VERSION);
        return -1;
    }
    if (k && strcmp(k, rr->kind->kind) != 0) {
        api_status_respond(rr->resp, 400,
                           "the kind in the data (%s) does not match the kind of the path "
                           "/%s (%s)",
                           k, rr->kind->plural, rr->kind->kind);
        return -1;
    }
    if (rr->is_core) {
        const char *ns = cjson_get_string(obj, "metadata.namespace");

        if (ns && *ns && strcmp(ns, API_CORE_NAMESPACE) != 0) {
            api_status_respond(rr->resp, 400,
                               "the namespace of the provided object (%.64s) does not match the "
                               "namespace sent on the request (" API_CORE_NAMESPACE ")",
                               ns);
            return -1;
        }
    }
    json_object_object_add(obj, "apiVersion", json_object_new_string(OMLOP_API_VERSION));
    json_object_object_add(obj, "kind", json_object_new_string(rr->kind->kind));
    return 0;
}

/* --- continue tokens --------------------------------------------------------------------- */

/* base64url without padding of {"rv":N,"start":"<key>"} */
static void continue_encode(int64_t rv, const char *key, strbuf *out)
{
    json_object *o = json_object_new_object();
    const char *text;
    size_t n;
    unsigned char *b64;

    json_object_object_add(o, "rv", json_object_new_int64(rv));
    json_object_object_add(o, "start", json_object_new_string(key));
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    n = strlen(text);
    b64 = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock(b64, (const unsigned char *)text, (int)n);
    for (unsigned char *p = b64; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
        else if (*p == '=')
            *p = '\0';
    }
    strbuf_adds(out, (const char *)b64);
    free(b64);
    json_object_put(o);
}

/* The key to resume after; it must lie under prefix. NULL when the token is bad. */
static char *continue_decode(const char *token, const char *prefix)
{
    size_t n = strlen(token);
    strbuf b = STRBUF_INIT;
    unsigned char *raw;
    int len;
    json_object *o = NULL;
    const char *start;
    char *key = NULL;

    if (n == 0 || n > 4096)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = token[i];

        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '+' || c == '/'))
            goto out;
        strbuf_addch(&b, c);
    }
    while (b.len % 4)
        strbuf_addch(&b, '=');
    raw = xmalloc(b.len);
    len = EVP_DecodeBlock(raw, (const unsigned char *)b.buf, (int)b.len);
    while (len > 0 && raw[len - 1] == '\0')
        len--; /* EVP_DecodeBlock counts the padding as zero bytes */
    if (len > 0) {
        json_tokener *tok = json_tokener_new();

        if (!tok)
            abort();
        o = json_tokener_parse_ex(tok, (const char *)raw, len);
        if (json_tokener_get_error(tok) != json_tokener_success) {
            json_object_put(o);
            o = NULL;
        }
        json_tokener_free(tok);
    }
    free(raw);
    start = cjson_get_string(o, "start");
    if (start && strncmp(start, prefix, strlen(prefix)) == 0 && !strstr(start, "\n"))
        key = xstrdup(start);
    json_object_put(o);
out:
    strbuf_release(&b);
    return key;
}

/* --- get, list, watch -------------------------------------------------------------------- */

static void do_get(api_rr *rr)
{
    strbuf key = STRBUF_INIT;
    store_kv kv = {0};
    omlop_err err = OMLOP_ERR_INIT;
    json_object *obj = NULL;

    object_key(&key, rr->kind->plural, rr->name);
    if (store_get(rr->a->store, key.buf, &kv, &err) != 0) {
        api_rr_store_error(rr, rr->name, &err);
        goto out;
    }
    if (obj_from_kv(&kv, &obj, &err) != 0) {
        api_status_respond_err(rr->resp, &err);
        goto out;
    }
    api_rr_respond_object(rr, 200, obj);
out:
    json_object_put(obj);
    store_kv_release(&kv);
    strbuf_release(&key);
}

typedef struct list_filter {
    const api_selector *sel;
} list_filter;

static int list_keep(const store_kv *kv, void *ctx)
{
    list_filter *lf = ctx;
    json_object *obj;
    int keep;

    if (!lf->sel)
        return 1;
    obj = object_parse(kv->value, kv->value ? kv->value_len : 0);
    keep = obj && api_selector_match(lf->sel, obj);
    json_object_put(obj);
    return keep;
}

static int parse_selectors(api_rr *rr, const char *extra_field, api_selector **out)
{
    const char *labels = api_request_param(rr->req, "labelSelector");
    const char *fields = api_request_param(rr->req, "fieldSelector");
    strbuf f = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    int rc;

    if (fields && *fields)
        strbuf_adds(&f, fields);
    if (extra_field) {
        if (f.len)
            strbuf_addch(&f, ',');
        strbuf_adds(&f, extra_field);
    }
    rc = api_selector_parse(labels, strbuf_str(&f), out, &err);
    strbuf_release(&f);
    if (rc) {
        api_status_respond(rr->resp, 400, "%s", err.msg);
        return -1;
    }
    return 0;
}

static void do_list(api_rr *rr)
{
    const char *limit_s = api_request_param(rr->req, "limit");
    const char *cont = api_request_param(rr->req, "continue");
    api_selector *sel = NULL;
    strbuf prefix = STRBUF_INIT, list_kind = STRBUF_INIT, tok = STRBUF_INIT;
    store_list_opts lo = {0};
    store_list_result res = {0};
    list_filter lf;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *list = NULL, *items = NULL, *meta;
    json_object **objs = NULL;
    char *start = NULL;
    int64_t limit = 0;
    char rvbuf[32];

    if (limit_s && *limit_s) {
        limit = object_rv_parse(limit_s);
        if (limit < 0) {
            api_status_respond(rr->resp, 400, "limit '%s' is not a non-negative integer", limit_s);
            goto out;
        }
    }
    if (parse_selectors(rr, NULL, &sel))
        goto out;
    object_prefix(&prefix, rr->kind->plural);
    if (cont && *cont) {
        start = continue_decode(cont, prefix.buf);
        if (!start) {
            api_status_respond(rr->resp, 400,
                               "the continue token is not valid for %s; list again without it",
                               rr->kind->plural);
            goto out;
        }
    }
    lf.sel = sel;
    lo.prefix = prefix.buf;
    lo.start_after = start;
    lo.limit = (size_t)limit;
    lo.filter = list_keep;
    lo.filter_ctx = &lf;
    if (store_list(rr->a->store, &lo, &res, &err) != 0) {
        api_status_respond_err(rr->resp, &err);
        goto out;
    }
    objs = xcalloc(res.items.n ? res.items.n : 1, sizeof(*objs));
    for (size_t i = 0; i < res.items.n; i++) {
        if (obj_from_kv(&res.items.items[i], &objs[i], &err) != 0) {
            api_status_respond_err(rr->resp, &err);
            goto out;
        }
        if (rr->is_core)
            object_core_view(objs[i]);
    }
    snprintf(rvbuf, sizeof(rvbuf), "%lld", (long long)res.revision);
    if (res.has_more && res.items.n)
        continue_encode(res.revision, res.items.items[res.items.n - 1].key, &tok);
    if (api_accept_wants_table(rr->req->accept)) {
        int inc = api_include_object_parse(api_request_param(rr->req, "includeObject"));

        list = api_table_build(rr->a->schemas, rr->kind, objs, res.items.n,
                               inc < 0 ? API_INCLUDE_METADATA : inc, time(NULL));
        meta = json_object_object_get(list, "metadata");
    } else {
        const char *av = rr->is_core ? "v1" : OMLOP_API_VERSION;

        list = json_object_new_object();
        strbuf_adds(&list_kind, rr->kind->list_kind);
        json_object_object_add(list, "apiVersion", json_object_new_string(av));
        json_object_object_add(list, "kind", json_object_new_string(list_kind.buf));
        meta = json_object_new_object();
        json_object_object_add(list, "metadata", meta);
        items = json_object_new_array_ext((int)(res.items.n ? res.items.n : 1));
        for (size_t i = 0; i < res.items.n; i++) {
            json_object_array_add(items, objs[i]);
            objs[i] = NULL;
        }
        json_object_object_add(list, "items", items);
    }
    json_object_object_add(meta, "resourceVersion", json_object_new_string(rvbuf));
    if (tok.len)
        json_object_object_add(meta, "continue", json_object_new_string(tok.buf));
    if (api_accept_wants_yaml(rr->req->accept) && !api_accept_wants_table(rr->req->accept)) {
        strbuf_reset(&rr->resp->body);
        if (yaml_emit_json(list, &rr->resp->body, &err) == 0) {
            rr->resp->status = 200;
            rr->resp->content_type = "application/yaml";
            goto out;
        }
    }
    api_response_json(rr->resp, 200, list);
out:
    for (size_t i = 0; objs && i < res.items.n; i++)
        json_object_put(objs[i]);
    free(objs);
    json_object_put(list);
    store_list_result_release(&res);
    api_selector_free(sel);
    free(start);
    strbuf_release(&prefix);
    strbuf_release(&list_kind);
    strbuf_release(&tok);
}

static void do_watch(api_rr *rr)
{
    const char *rv = api_request_param(rr->req, "resourceVersion");
    const char *timeout = api_request_param(rr->req, "timeoutSeconds");
    api_selector *sel = NULL;
    api_watch_spec *spec;
    strbuf name_term = STRBUF_INIT;
    int inc;

    if (rr->name)
        strbuf_addf(&name_term, "metadata.name=%s", rr->name);
    if (parse_selectors(rr, rr->name ? name_term.buf : NULL, &sel))
        goto out;
    if (rv && *rv && object_rv_parse(rv) < 0) {
        api_status_respond(rr->resp, 400, "resourceVersion '%s' is not a revision number", rv);
        goto out;
    }
    if (timeout && *timeout && object_rv_parse(timeout) < 0) {
        api_status_respond(rr->resp, 400, "timeoutSeconds '%s' is not a number of seconds",
                           timeout);
        goto out;
    }
    inc = api_include_object_parse(api_request_param(rr->req, "includeObject"));
    if (inc < 0) {
        api_status_respond(rr->resp, 400, "includeObject must be None, Metadata or Object");
        goto out;
    }
    spec = xcalloc(1, sizeof(*spec));
    spec->kind = rr->kind;
    spec->resource_version = rv ? xstrdup(rv) : NULL;
    spec->label_selector = api_request_param(rr->req, "labelSelector")
                               ? xstrdup(api_request_param(rr->req, "labelSelector"))
                               : NULL;
    {
        const char *fs = api_request_param(rr->req, "fieldSelector");
        strbuf f = STRBUF_INIT;

        if (fs && *fs)
            strbuf_adds(&f, fs);
        if (rr->name) {
            if (f.len)
                strbuf_addch(&f, ',');
            strbuf_adds(&f, name_term.buf);
        }
        spec->field_selector = f.len ? strbuf_detach(&f, NULL) : NULL;
        strbuf_release(&f);
    }
    spec->want_table = api_accept_wants_table(rr->req->accept);
    spec->is_core = rr->is_core;
    spec->include_object = inc;
    spec->allow_bookmarks = api_request_flag(rr->req, "allowWatchBookmarks");
    spec->timeout_s = timeout && *timeout ? (int)object_rv_parse(timeout) : 0;
    rr->resp->watch = spec;
    rr->resp->status = 200;
out:
    api_selector_free(sel);
    strbuf_release(&name_term);
}

static int dry_run_param(api_rr *rr)
{
    const char *dr = api_request_param(rr->req, "dryRun");

    if (!dr || !*dr)
        return 0;
    if (strcmp(dr, "All") != 0) {
        api_status_respond(rr->resp, 400, "dryRun '%s' is not supported; the only value is All",
                           dr);
        return -1;
    }
    rr->is_dry_run = 1;
    return 0;
}

static void method_not_allowed(api_rr *rr)
{
    api_status_respond(rr->resp, 405, "%s is not supported on %s%s%s%s",
                       api_method_name(rr->req->method), rr->kind->plural,
                       rr->name ? "/<name>" : "", rr->is_status ? "/status" : "",
                       rr->name ? "" : " (the collection)");
}

void api_resources_core_events(api *a, const api_request *req, api_response *resp)
{
    api_rr rr;

    memset(&rr, 0, sizeof(rr));
    rr.a = a;
    rr.req = req;
    rr.resp = resp;
    rr.kind = schema_set_find_kind(a->schemas, "Event");
    rr.is_core = 1;
    if (!rr.kind) {
        api_status_respond(resp, 404, "this server records no events");
        return;
    }
    if (req->method != API_METHOD_GET && req->method != API_METHOD_HEAD) {
        api_status_respond(resp, 405,
                           "/api/v1/events is a read-only view; write Events under %s/events",
                           API_GROUP_PREFIX);
        return;
    }
    if (api_request_flag(req, "watch") || req->is_websocket) {
        api_status_respond(resp, 405, "watch Events under %s/events", API_GROUP_PREFIX);
        return;
    }
    do_list(&rr);
}

void api_resources_handle(api *a, const api_request *req, api_response *resp, const kind_info *kind,
                          const char *name, const char *sub, int is_core, const char **verb,
                          char *created, size_t createdsz)
{
    api_rr rr;
    int is_watch = api_request_flag(req, "watch") || req->is_websocket;

    memset(&rr, 0, sizeof(rr));
    rr.a = a;
    rr.req = req;
    rr.resp = resp;
    rr.kind = kind;
    rr.name = name;
    rr.is_core = is_core;
    rr.verb = "unknown";
    if (sub && req->is_websocket) {
        /* a websocket is answered before the upgrade, on the event loop: no store reads */
        api_status_respond(resp, 400, "a websocket on %s must be a watch", req->path);
        *verb = "get";
        return;
    }
    if (sub && name && strcmp(sub, API_HISTORY_SUBRES) == 0 && history_applies(kind)) {
        api_history_serve(&rr); /* the read-only rollout history (api_history.h) */
        *verb = rr.verb;
        return;
    }
    if (sub && name && strcmp(sub, API_SYNC_SUBRES) == 0 && strcmp(kind->kind, "GitSource") == 0) {
        api_sync_serve(&rr); /* a GitSource's sync request (api_sync.h) */
        *verb = rr.verb;
        return;
    }
    if (sub) {
        if (strcmp(sub, "status") != 0 || !kind->has_status) {
            api_status_respond(resp, 404, "%s has no subresource '%s'%s", kind->plural, sub,
                               kind->has_status ? "; the only one is status" : "");
            *verb = "get";
            return;
        }
        rr.is_status = 1;
    }
    if (dry_run_param(&rr)) {
        *verb = "unknown";
        return;
    }
    switch (req->method) {
    case API_METHOD_GET:
    case API_METHOD_HEAD:
        if (is_watch && !rr.is_status) {
            rr.verb = "watch";
            do_watch(&rr);
        } else if (name) {
            rr.verb = "get";
            do_get(&rr);
        } else if (!rr.is_status) {
            rr.verb = "list";
            do_list(&rr);
        }
        break;
    case API_METHOD_POST:
        rr.verb = "create";
        if (name)
            method_not_allowed(&rr);
        else
            api_write_create(&rr);
        if (created && createdsz)
            snprintf(created, createdsz, "%s", rr.created);
        break;
    case API_METHOD_PUT:
        rr.verb = "update";
        if (!name)
            method_not_allowed(&rr);
        else
            api_write_update(&rr);
        break;
    case API_METHOD_PATCH:
        rr.verb = "patch";
        if (!name)
            method_not_allowed(&rr);
        else
            api_write_patch(&rr);
        break;
    case API_METHOD_DELETE:
        rr.verb = "delete";
        if (!name || rr.is_status)
            method_not_allowed(&rr);
        else
            api_write_delete(&rr);
        break;
    default:
        method_not_allowed(&rr);
        break;
    }
    *verb = rr.verb;
}
