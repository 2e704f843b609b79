/* api_discovery: discovery documents, OpenAPI v2, version and health endpoints. */
#include "api_discovery.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "lib/cjson.h"
#include "lib/version.h"
#include "operator/api_fields.h"
#include "operator/api_openapi.h"
#include "operator/api_patch.h"
#include "operator/api_status.h"

/* The Kubernetes API level omlop's wire format follows (for `kubectl version`). */
#define KUBE_MAJOR "1"
#define KUBE_MINOR "30"

/*
 * kubectl asks for application/com.github.proto-openapi.spec.v2@v1.0+protobuf; the
 * answer's type drops the '@', which Go's mime parser refuses (as the API server does).
 */
#define PROTOBUF_OPENAPI_V2_RESPONSE "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

static const char *const resource_verbs[] = {"create", "delete", "get",   "list",
                                             "patch",  "update", "watch", NULL};
static const char *const status_verbs[] = {"get", "patch", "update", NULL};

int api_discovery_is_public(const char *path)
{
    return strcmp(path, "/healthz") == 0 || strcmp(path, "/livez") == 0 ||
           strcmp(path, "/readyz") == 0 || strcmp(path, "/version") == 0;
}

static json_object *strings(const char *const *s)
{
    json_object *a = json_object_new_array();

    for (size_t i = 0; s[i]; i++)
        json_object_array_add(a, json_object_new_string(s[i]));
    return a;
}

static json_object *group_version(void)
{
    json_object *gv = json_object_new_object();

    json_object_object_add(gv, "groupVersion", json_object_new_string(OMLOP_API_VERSION));
    json_object_object_add(gv, "version", json_object_new_string(OMLOP_VERSION));
    return gv;
}

static json_object *api_group(void)
{
    json_object *g = json_object_new_object(), *versions = json_object_new_array();

    json_object_object_add(g, "name", json_object_new_string(OMLOP_GROUP));
    json_object_array_add(versions, group_version());
    json_object_object_add(g, "versions", versions);
    json_object_object_add(g, "preferredVersion", group_version());
    return g;
}

/* One resource of an APIResourceList; is_core: the core v1 view (no omlop short names). */
static json_object *resource_entry(const kind_info *k, int is_status, int is_core)
{
    json_object *r = json_object_new_object();
    char name[160];

    snprintf(name, sizeof(name), "%s%s", k->plural, is_status ? "/status" : "");
    json_object_object_add(r, "name", json_object_new_string(name));
    json_object_object_add(r, "singularName", json_object_new_string(is_status ? "" : k->singular));
    json_object_object_add(r, "namespaced", json_object_new_boolean(is_core));
    json_object_object_add(r, "kind", json_object_new_string(k->kind));
    json_object_object_add(r, "verbs", strings(is_status ? status_verbs : resource_verbs));
    if (!is_status && !is_core && k->n_short_names) {
        json_object *sn = json_object_new_array();

        for (size_t i = 0; i < k->n_short_names; i++)
            json_object_array_add(sn, json_object_new_string(k->short_names[i]));
        json_object_object_add(r, "shortNames", sn);
    }
    return r;
}

static json_object *resource_list(const schema_set *set)
{
    json_object *l = json_object_new_object(), *res = json_object_new_array();

    json_object_object_add(l, "kind", json_object_new_string("APIResourceList"));
    json_object_object_add(l, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(l, "groupVersion", json_object_new_string(OMLOP_API_VERSION));
    for (size_t i = 0; i < schema_set_kind_count(set); i++) {
        const kind_info *k = schema_set_kind_at(set, i);

        json_object_array_add(res, resource_entry(k, 0, 0));
        if (k->has_status)
            json_object_array_add(res, resource_entry(k, 1, 0));
    }
    json_object_object_add(l, "resources", res);
    return l;
}

/*
 * /api/v1: the core v1 view of omlop's Secrets (api_router.h), namespaced as
 * Kubernetes' Secrets are, in the one namespace "default" (api_object.h), since
 * kubectl's typed code (describe) cannot address a cluster-scoped Secret. An
 * empty list here makes kubectl's discovery fail
 * ("received empty response for: v1"). Events stay unlisted: /api/v1/events is
 * only the read-only list `kubectl describe` asks for.
 */
static json_object *core_resource_list(const schema_set *set)
{
    json_object *l = json_object_new_object(), *res = json_object_new_array();
    const kind_info *secret = schema_set_find_kind(set, "Secret");

    json_object_object_add(l, "kind", json_object_new_string("APIResourceList"));
    json_object_object_add(l, "groupVersion", json_object_new_string("v1"));
    if (secret)
        json_object_array_add(res, resource_entry(secret, 0, 1));
    json_object_object_add(l, "resources", res);
    return l;
}

static json_object *version_info(void)
{
    json_object *v = json_object_new_object();
    struct utsname u;
    char platform[128] = "linux/unknown";

    if (uname(&u) == 0)
        snprintf(platform, sizeof(platform), "linux/%s",
                 strcmp(u.machine, "x86_64") == 0    ? "amd64"
                 : strcmp(u.machine, "aarch64") == 0 ? "arm64"
                                                     : u.machine);
    json_object_object_add(v, "major", json_object_new_string(KUBE_MAJOR));
    json_object_object_add(v, "minor", json_object_new_string(KUBE_MINOR));
    json_object_object_add(
        v, "gitVersion",
        json_object_new_string("v" KUBE_MAJOR "." KUBE_MINOR ".0+omlop-" OMLOP_RELEASE));
    json_object_object_add(v, "gitCommit", json_object_new_string(""));
    json_object_object_add(v, "gitTreeState", json_object_new_string("clean"));
    json_object_object_add(v, "buildDate", json_object_new_string(""));
    json_object_object_add(v, "goVersion", json_object_new_string(""));
    json_object_object_add(v, "compiler", json_object_new_string("omlop"));
    json_object_object_add(v, "platform", json_object_new_string(platform));
    json_object_object_add(v, "omlopVersion", json_object_new_string(OMLOP_RELEASE));
    return v;
}

/* --- OpenAPI v2 -------------------------------------------------------------------------- */

/* OpenAPI v3 (CRD) to Swagger 2.0: nullable becomes x-nullable; the rest carries over. */
static void to_swagger(json_object *schema)
{
    json_object *v;

    if (!json_object_is_type(schema, json_type_object))
        return;
    if (json_object_object_get_ex(schema, "nullable", &v)) {
        json_object_object_add(schema, "x-nullable", json_object_get(v));
        json_object_object_del(schema, "nullable");
    }
    if (json_object_object_get_ex(schema, "properties", &v)) {
        json_object_object_foreach(v, key, prop)
        {
            (void)key;
            to_swagger(prop);
        }
    }
    if (json_object_object_get_ex(schema, "items", &v))
        to_swagger(v);
    if (json_object_object_get_ex(schema, "additionalProperties", &v))
        to_swagger(v);
}

static json_object *gvk(const char *kind)
{
    json_object *a = json_object_new_array(), *o = json_object_new_object();

    json_object_object_add(o, "group", json_object_new_string(OMLOP_GROUP));
    json_object_object_add(o, "kind", json_object_new_string(kind));
    json_object_object_add(o, "version", json_object_new_string(OMLOP_VERSION));
    json_object_array_add(a, o);
    return a;
}

static json_object *param(const char *name, const char *in, const char *type, int required,
                          const char *description)
{
    json_object *p = json_object_new_object();

    json_object_object_add(p, "name", json_object_new_string(name));
    json_object_object_add(p, "in", json_object_new_string(in));
    if (type)
        json_object_object_add(p, "type", json_object_new_string(type));
    json_object_object_add(p, "description", json_object_new_string(description));
    if (required)
        json_object_object_add(p, "required", json_object_new_boolean(1));
    return p;
}

static json_object *ref(const char *def)
{
    json_object *r = json_object_new_object();
    char buf[256];

    snprintf(buf, sizeof(buf), "#/definitions/%s", def);
    json_object_object_add(r, "$ref", json_object_new_string(buf));
    return r;
}

static json_object *operation(const char *action, const char *op_id, const char *kind,
                              const char *def, int has_body, int is_write, int is_list)
{
    json_object *op = json_object_new_object(), *params = json_object_new_array();
    json_object *responses = json_object_new_object(), *ok = json_object_new_object();
    static const char *const consumes_patch[] = {"application/merge-patch+json",
                                                 "application/strategic-merge-patch+json",
                                                 "application/apply-patch+yaml", NULL};
    static const char *const consumes_json[] = {"application/json", "application/yaml", NULL};
    static const char *const produces[] = {"application/json", "application/yaml", NULL};

    json_object_object_add(op, "operationId", json_object_new_string(op_id));
    json_object_object_add(op, "consumes",
                           strings(strcmp(action, "patch") == 0 ? consumes_patch : consumes_json));
    json_object_object_add(op, "produces", strings(produces));
    if (has_body) {
        json_object *body = param("body", "body", NULL, 1, "the object or patch");

        json_object_object_add(body, "schema",
                               strcmp(action, "patch") == 0 ? json_object_new_object() : ref(def));
        json_object_array_add(params, body);
    }
    if (is_write) {
        json_object_array_add(params, param("dryRun", "query", "string", 0,
                                            "All: validate and answer without storing"));
        json_object_array_add(params, param("fieldManager", "query", "string", 0,
                                            "the name of the writer (required for apply)"));
        json_object_array_add(params, param("fieldValidation", "query", "string", 0,
                                            "Strict, Warn (the default) or Ignore for unknown "
                                            "fields"));
    }
    if (is_list) {
        static const char *const list_params[] = {
            "labelSelector", "fieldSelector",       "limit",          "continue", "resourceVersion",
            "watch",         "allowWatchBookmarks", "timeoutSeconds", NULL};

        for (size_t i = 0; list_params[i]; i++)
            json_object_array_add(params,
                                  param(list_params[i], "query",
                                        strcmp(list_params[i], "limit") == 0 ||
                                                strcmp(list_params[i], "timeoutSeconds") == 0
                                            ? "integer"
                                        : strcmp(list_params[i], "watch") == 0 ||
                                                strcmp(list_params[i], "allowWatchBookmarks") == 0
                                            ? "boolean"
                                            : "string",
                                        0, list_params[i]));
    }
    json_object_object_add(op, "parameters", params);
    json_object_object_add(ok, "description", json_object_new_string("OK"));
    json_object_object_add(ok, "schema", ref(def));
    json_object_object_add(responses, "200", ok);
    json_object_object_add(op, "responses", responses);
    json_object_object_add(op, "x-kubernetes-action", json_object_new_string(action));
    json_object_object_add(op, "x-kubernetes-group-version-kind", gvk(kind));
    return op;
}

json_object *api_openapi_v2(const schema_set *set)
{
    json_object *doc = json_object_new_object(), *info = json_object_new_object();
    json_object *paths = json_object_new_object(), *defs = json_object_new_object();
    const char *meta_def = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

    json_object_object_add(doc, "swagger", json_object_new_string("2.0"));
    json_object_object_add(info, "title", json_object_new_string("omlop"));
    json_object_object_add(info, "version", json_object_new_string(OMLOP_RELEASE));
    json_object_object_add(doc, "info", info);
    json_object_object_add(defs, meta_def, api_openapi_object_meta());
    for (size_t i = 0; i < schema_set_kind_count(set); i++) {
        const kind_info *k = schema_set_kind_at(set, i);
        const json_object *schema = api_fields_schema(set, k->kind);
        json_object *def = schema ? cjson_copy(schema) : json_object_new_object();
        json_object *list = json_object_new_object(), *lprops = json_object_new_object();
        json_object *items = json_object_new_object();
        json_object *coll = json_object_new_object(), *one = json_object_new_object();
        char def_name[192], list_name[192], p[256], id[256];

        snprintf(def_name, sizeof(def_name), "io.omlop.%s.%s", OMLOP_VERSION, k->kind);
        snprintf(list_name, sizeof(list_name), "io.omlop.%s.%s", OMLOP_VERSION, k->list_kind);
        to_swagger(def);
        if (json_object_is_type(cjson_get(def, "properties"), json_type_object))
            json_object_object_add(cjson_get(def, "properties"), "metadata", ref(meta_def));
        json_object_object_add(def, "x-kubernetes-group-version-kind", gvk(k->kind));
        json_object_object_add(defs, def_name, def);

        json_object_object_add(list, "type", json_object_new_string("object"));
        json_object_object_add(items, "type", json_object_new_string("array"));
        json_object_object_add(items, "items", ref(def_name));
        json_object_object_add(lprops, "items", items);
        json_object_object_add(list, "properties", lprops);
        json_object_object_add(list, "x-kubernetes-group-version-kind", gvk(k->list_kind));
        json_object_object_add(defs, list_name, list);

        snprintf(id, sizeof(id), "listOmlopIo%s%s", "V1alpha1", k->kind);
        json_object_object_add(coll, "get", operation("list", id, k->kind, list_name, 0, 0, 1));
        snprintf(id, sizeof(id), "createOmlopIo%s%s", "V1alpha1", k->kind);
        json_object_object_add(coll, "post", operation("post", id, k->kind, def_name, 1, 1, 0));
        snprintf(p, sizeof(p), API_GROUP_PREFIX "/%s", k->plural);
        json_object_object_add(paths, p, coll);

        snprintf(id, sizeof(id), "readOmlopIo%s%s", "V1alpha1", k->kind);
        json_object_object_add(one, "get", operation("get", id, k->kind, def_name, 0, 0, 0));
        snprintf(id, sizeof(id), "replaceOmlopIo%s%s", "V1alpha1", k->kind);
        json_object_object_add(one, "put", operation("put", id, k->kind, def_name, 1, 1, 0));
        snprintf(id, sizeof(id), "patchOmlopIo%s%s", "V1alpha1", k->kind);
        json_object_object_add(one, "patch", operation("patch", id, k->kind, def_name, 1, 1, 0));
        snprintf(id, sizeof(id), "deleteOmlopIo%s%s", "V1alpha1", k->kind);
        json_object_object_add(one, "delete", operation("delete", id, k->kind, def_name, 0, 1, 0));
        json_object_object_add(one, "parameters", json_object_new_array());
        json_object_array_add(json_object_object_get(one, "parameters"),
                              param("name", "path", "string", 1, "the object's name"));
        snprintf(p, sizeof(p), API_GROUP_PREFIX "/%s/{name}", k->plural);
        json_object_object_add(paths, p, one);
        if (k->has_status) {
            json_object *st = json_object_new_object();

            snprintf(id, sizeof(id), "readOmlopIo%s%sStatus", "V1alpha1", k->kind);
            json_object_object_add(st, "get", operation("get", id, k->kind, def_name, 0, 0, 0));
            snprintf(id, sizeof(id), "replaceOmlopIo%s%sStatus", "V1alpha1", k->kind);
            json_object_object_add(st, "put", operation("put", id, k->kind, def_name, 1, 1, 0));
            snprintf(id, sizeof(id), "patchOmlopIo%s%sStatus", "V1alpha1", k->kind);
            json_object_object_add(st, "patch", operation("patch", id, k->kind, def_name, 1, 1, 0));
            json_object_object_add(st, "parameters", json_object_new_array());
            json_object_array_add(json_object_object_get(st, "parameters"),
                                  param("name", "path", "string", 1, "the object's name"));
            snprintf(p, sizeof(p), API_GROUP_PREFIX "/%s/{name}/status", k->plural);
            json_object_object_add(paths, p, st);
        }
    }
    json_object_object_add(doc, "paths", paths);
    json_object_object_add(doc, "definitions", defs);
    return doc;
}

/* Protobuf varint and length-delimited field, enough for the document header. */
static void pb_bytes(strbuf *out, int field, const char *data, size_t len)
{
    size_t v = len;

    strbuf_addch(out, (char)((field << 3) | 2));
    while (v >= 0x80) {
        strbuf_addch(out, (char)((v & 0x7f) | 0x80));
        v >>= 7;
    }
    strbuf_addch(out, (char)v);
    strbuf_add(out, data, len);
}

/* gnostic openapi_v2.Document{swagger: "2.0", info: {title, version}} */
static void openapi_v2_protobuf_header(strbuf *out)
{
    strbuf info = STRBUF_INIT;

    pb_bytes(&info, 1, "omlop", 5);
    pb_bytes(&info, 2, OMLOP_RELEASE, strlen(OMLOP_RELEASE));
    pb_bytes(out, 1, "2.0", 3);
    pb_bytes(out, 2, info.buf, info.len);
    strbuf_release(&info);
}

static void respond_text(api_response *resp, int code, const char *text)
{
    resp->status = code;
    resp->content_type = "text/plain; charset=utf-8";
    strbuf_reset(&resp->body);
    strbuf_adds(&resp->body, text);
}

static int is_read(const api_request *req, api_response *resp)
{
    if (req->method == API_METHOD_GET || req->method == API_METHOD_HEAD)
        return 1;
    api_status_respond(resp, 405, "%s is not supported on %s; use GET",
                       api_method_name(req->method), req->path);
    return 0;
}

static void respond_obj(api_response *resp, json_object *obj)
{
    api_response_json(resp, 200, obj);
    json_object_put(obj);
}

int api_discovery_handle(api *a, const api_request *req, api_response *resp)
{
    const char *p = req->path;

    if (strcmp(p, "/healthz") == 0 || strcmp(p, "/livez") == 0 || strcmp(p, "/readyz") == 0) {
        if (!is_read(req, resp))
            return 1;
        if (req->is_websocket) {
            /* answered before the upgrade, on the event loop, which never reads the store */
            api_status_respond(resp, 400, "a websocket on %s must be a watch", p);
            return 1;
        }
        if (strcmp(p, "/readyz") == 0) {
            int64_t rev;
            omlop_err err = OMLOP_ERR_INIT;

            if (a->is_shutting_down) {
                respond_text(resp, 503, "shutting down\n");
                return 1;
            }
            if (store_current_revision(a->store, &rev, &err) != 0) {
                char msg[OMLOP_ERR_MSG_MAX + 32];

                snprintf(msg, sizeof(msg), "store not ready: %s\n", err.msg);
                respond_text(resp, 503, msg);
                return 1;
            }
        }
        respond_text(resp, 200, "ok");
        return 1;
    }
    if (strcmp(p, "/version") == 0) {
        if (is_read(req, resp))
            respond_obj(resp, version_info());
        return 1;
    }
    if (strcmp(p, "/api") == 0) {
        json_object *v, *cidrs, *c;

        if (!is_read(req, resp))
            return 1;
        v = json_object_new_object();
        cidrs = json_object_new_array();
        c = json_object_new_object();
        json_object_object_add(v, "kind", json_object_new_string("APIVersions"));
        json_object_object_add(v, "versions", json_object_new_array());
        json_object_array_add(json_object_object_get(v, "versions"), json_object_new_string("v1"));
        json_object_object_add(c, "clientCIDR", json_object_new_string("0.0.0.0/0"));
        json_object_object_add(c, "serverAddress", json_object_new_string(""));
        json_object_array_add(cidrs, c);
        json_object_object_add(v, "serverAddressByClientCIDRs", cidrs);
        respond_obj(resp, v);
        return 1;
    }
    if (strcmp(p, "/api/v1") == 0) {
        if (is_read(req, resp))
            respond_obj(resp, core_resource_list(a->schemas));
        return 1;
    }
    if (strcmp(p, "/apis") == 0) {
        json_object *l, *groups;

        if (!is_read(req, resp))
            return 1;
        l = json_object_new_object();
        groups = json_object_new_array();
        json_object_object_add(l, "kind", json_object_new_string("APIGroupList"));
        json_object_object_add(l, "apiVersion", json_object_new_string("v1"));
        json_object_array_add(groups, api_group());
        json_object_object_add(l, "groups", groups);
        respond_obj(resp, l);
        return 1;
    }
    if (strcmp(p, "/apis/" OMLOP_GROUP) == 0) {
        json_object *g;

        if (!is_read(req, resp))
            return 1;
        g = api_group();
        json_object_object_add(g, "kind", json_object_new_string("APIGroup"));
        json_object_object_add(g, "apiVersion", json_object_new_string("v1"));
        respond_obj(resp, g);
        return 1;
    }
    if (strcmp(p, API_GROUP_PREFIX) == 0) {
        if (is_read(req, resp))
            respond_obj(resp, resource_list(a->schemas));
        return 1;
    }
    if (api_openapi_v3_handle(a, req, resp))
        return 1;
    if (strcmp(p, "/openapi/v2") == 0) {
        if (!is_read(req, resp))
            return 1;
        if (req->accept && strstr(req->accept, "protobuf") &&
            !api_accept_allows(req->accept, "application/json")) {
            resp->status = 200;
            resp->content_type = PROTOBUF_OPENAPI_V2_RESPONSE;
            strbuf_reset(&resp->body);
            openapi_v2_protobuf_header(&resp->body);
            return 1;
        }
        respond_obj(resp, api_openapi_v2(a->schemas));
        return 1;
    }
    return 0;
}
