/* api_openapi: OpenAPI v3 from the CRD schemas, for kubectl explain. */
#include "api_openapi.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "lib/cjson.h"
#include "lib/version.h"
#include "operator/api_fields.h"
#include "operator/api_patch.h"
#include "operator/api_status.h"

#define META_SCHEMA "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
#define SCHEMA_REF  "#/components/schemas/"

/* One group-version the index lists: where its kinds' schemas are named and served. */
typedef struct gv_view {
    const char *gv_path;     /* "apis/omlop.io/v1alpha1" */
    const char *group;       /* "" for core */
    const char *version;     /* "v1alpha1" */
    const char *prefix;      /* schema names: "io.omlop.v1alpha1." */
    const char *url_prefix;  /* resource paths: "/apis/omlop.io/v1alpha1" */
    const char *only_kind;   /* the one kind the view shows, or NULL for all */
    const char *api_version; /* what apiVersion says in this view */
} gv_view;

static const gv_view views[] = {
    {API_OPENAPI_OMLOP_GV, OMLOP_GROUP, OMLOP_VERSION, "io.omlop." OMLOP_VERSION ".",
     API_GROUP_PREFIX, NULL, OMLOP_API_VERSION},
    {API_OPENAPI_CORE_GV, "", "v1", "io.k8s.api.core.v1.", "/api/v1", "Secret", "v1"},
};

static const gv_view *view_find(const char *gv_path)
{
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
        if (strcmp(views[i].gv_path, gv_path) == 0)
            return &views[i];
    return NULL;
}

static json_object *str(const char *s)
{
    return json_object_new_string(s);
}

static json_object *typed(const char *type)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "type", str(type));
    return o;
}

json_object *api_openapi_object_meta(void)
{
    json_object *d = typed("object"), *props = json_object_new_object();
    static const char *const str_fields[] = {
        "name", "generateName", "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
        NULL};
    json_object *g = typed("integer"), *f = typed("array");

    json_object_object_add(d, "description",
                           str("Standard object metadata (Kubernetes ObjectMeta); omlop kinds "
                               "are cluster-scoped."));
    for (size_t i = 0; str_fields[i]; i++)
        json_object_object_add(props, str_fields[i], typed("string"));
    json_object_object_add(g, "format", str("int64"));
    json_object_object_add(props, "generation", g);
    for (int i = 0; i < 2; i++) {
        json_object *m = typed("object");

        json_object_object_add(m, "additionalProperties", typed("string"));
        json_object_object_add(props, i ? "annotations" : "labels", m);
    }
    json_object_object_add(f, "items", typed("string"));
    json_object_object_add(props, "finalizers", f);
    json_object_object_add(d, "properties", props);
    return d;
}

static json_object *ref(const char *prefix, const char *name)
{
    json_object *r = json_object_new_object();
    char buf[256];

    snprintf(buf, sizeof(buf), SCHEMA_REF "%s%s", prefix, name);
    json_object_object_add(r, "$ref", str(buf));
    return r;
}

/* {group, version, kind}: an object on operations, a one-element array on schemas. */
static json_object *gvk(const gv_view *v, const char *kind)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "group", str(v->group));
    json_object_object_add(o, "kind", str(kind));
    json_object_object_add(o, "version", str(v->version));
    return o;
}

static json_object *gvk_list(const gv_view *v, const char *kind)
{
    json_object *a = json_object_new_array();

    json_object_array_add(a, gvk(v, kind));
    return a;
}

/* The kind's CRD schema with metadata a reference to ObjectMeta (as Kubernetes serves CRDs). */
static json_object *kind_schema(const schema_set *set, const gv_view *v, const kind_info *k)
{
    const json_object *crd = api_fields_schema(set, k->kind);
    json_object *s = crd ? cjson_copy(crd) : typed("object");
    json_object *props = cjson_get(s, "properties");

    if (json_object_is_type(props, json_type_object)) {
        json_object *meta = json_object_new_object(), *all_of = json_object_new_array();
        const char *desc = cjson_get_string(props, "metadata.description");
        char av_desc[160];

        json_object_array_add(all_of, ref("", META_SCHEMA));
        json_object_object_add(meta, "allOf", all_of);
        json_object_object_add(meta, "description", str(desc ? desc : "Standard object metadata."));
        json_object_object_add(props, "metadata", meta);
        if (v->only_kind) {
            /* the view's own apiVersion; the object is the same either way */
            json_object *av = typed("string");

            snprintf(av_desc, sizeof(av_desc), "%s here; the same object is %s %s in the %s group.",
                     v->api_version, OMLOP_API_VERSION, k->kind, OMLOP_GROUP);
            json_object_object_add(av, "description", str(av_desc));
            json_object_object_add(props, "apiVersion", av);
        }
    }
    json_object_object_add(s, "x-kubernetes-group-version-kind", gvk_list(v, k->kind));
    return s;
}

static json_object *list_schema(const gv_view *v, const kind_info *k)
{
    json_object *l = typed("object"), *props = json_object_new_object();
    json_object *items = typed("array"), *req = json_object_new_array();
    char desc[160];

    snprintf(desc, sizeof(desc), "A list of %s objects.", k->kind);
    json_object_object_add(l, "description", str(desc));
    json_object_object_add(props, "apiVersion", typed("string"));
    json_object_object_add(props, "kind", typed("string"));
    json_object_object_add(props, "metadata", typed("object"));
    json_object_object_add(items, "items", ref(v->prefix, k->kind));
    json_object_object_add(props, "items", items);
    json_object_object_add(l, "properties", props);
    json_object_array_add(req, str("items"));
    json_object_object_add(l, "required", req);
    json_object_object_add(l, "x-kubernetes-group-version-kind", gvk_list(v, k->list_kind));
    return l;
}

static json_object *json_content(json_object *schema)
{
    json_object *c = json_object_new_object(), *mt = json_object_new_object();

    json_object_object_add(mt, "schema", schema);
    json_object_object_add(c, "application/json", mt);
    return c;
}

/* One operation: action is Kubernetes' x-kubernetes-action (get, list, post, put, patch...). */
static json_object *operation(const gv_view *v, const kind_info *k, const char *action,
                              const char *op_verb, const char *suffix, int is_list, int has_body)
{
    json_object *op = json_object_new_object(), *responses = json_object_new_object();
    json_object *ok = json_object_new_object();
    char id[256];
    const char *schema_name = is_list ? k->list_kind : k->kind;

    snprintf(id, sizeof(id), "%s%s%s%s", op_verb, v->only_kind ? "CoreV1" : "OmlopIoV1alpha1",
             k->kind, suffix);
    json_object_object_add(op, "operationId", str(id));
    if (has_body) {
        json_object *body = json_object_new_object();

        json_object_object_add(body, "content",
                               json_content(strcmp(action, "patch") == 0
                                                ? typed("object")
                                                : ref(v->prefix, schema_name)));
        json_object_object_add(body, "required", json_object_new_boolean(1));
        json_object_object_add(op, "requestBody", body);
    }
    json_object_object_add(ok, "description", str("OK"));
    json_object_object_add(ok, "content", json_content(ref(v->prefix, schema_name)));
    json_object_object_add(responses, "200", ok);
    json_object_object_add(op, "responses", responses);
    json_object_object_add(op, "x-kubernetes-action", str(action));
    json_object_object_add(op, "x-kubernetes-group-version-kind", gvk(v, k->kind));
    return op;
}

static void add_paths(json_object *paths, const gv_view *v, const kind_info *k)
{
    json_object *coll = json_object_new_object(), *one = json_object_new_object();
    char p[256];

    json_object_object_add(coll, "get", operation(v, k, "list", "list", "", 1, 0));
    json_object_object_add(coll, "post", operation(v, k, "post", "create", "", 0, 1));
    snprintf(p, sizeof(p), "%s/%s", v->url_prefix, k->plural);
    json_object_object_add(paths, p, coll);
    json_object_object_add(one, "get", operation(v, k, "get", "read", "", 0, 0));
    json_object_object_add(one, "put", operation(v, k, "put", "replace", "", 0, 1));
    json_object_object_add(one, "patch", operation(v, k, "patch", "patch", "", 0, 1));
    json_object_object_add(one, "delete", operation(v, k, "delete", "delete", "", 0, 0));
    snprintf(p, sizeof(p), "%s/%s/{name}", v->url_prefix, k->plural);
    json_object_object_add(paths, p, one);
    if (k->has_status) {
        json_object *st = json_object_new_object();

        json_object_object_add(st, "get", operation(v, k, "get", "read", "Status", 0, 0));
        json_object_object_add(st, "put", operation(v, k, "put", "replace", "Status", 0, 1));
        json_object_object_add(st, "patch", operation(v, k, "patch", "patch", "Status", 0, 1));
        snprintf(p, sizeof(p), "%s/%s/{name}/status", v->url_prefix, k->plural);
        json_object_object_add(paths, p, st);
    }
}

json_object *api_openapi_v3_doc(const schema_set *set, const char *gv_path)
{
    const gv_view *v = view_find(gv_path);
    json_object *doc, *info, *paths, *components, *schemas;
    size_t n_kinds = 0;

    if (!v)
        return NULL;
    doc = json_object_new_object();
    info = json_object_new_object();
    paths = json_object_new_object();
    components = json_object_new_object();
    schemas = json_object_new_object();
    json_object_object_add(doc, "openapi", str("3.0.0"));
    json_object_object_add(info, "title", str("omlop"));
    json_object_object_add(info, "version", str(OMLOP_RELEASE));
    json_object_object_add(doc, "info", info);
    json_object_object_add(schemas, META_SCHEMA, api_openapi_object_meta());
    for (size_t i = 0; i < schema_set_kind_count(set); i++) {
        const kind_info *k = schema_set_kind_at(set, i);
        char name[192];

        if (v->only_kind && strcmp(k->kind, v->only_kind) != 0)
            continue;
        n_kinds++;
        snprintf(name, sizeof(name), "%s%s", v->prefix, k->kind);
        json_object_object_add(schemas, name, kind_schema(set, v, k));
        snprintf(name, sizeof(name), "%s%s", v->prefix, k->list_kind);
        json_object_object_add(schemas, name, list_schema(v, k));
        add_paths(paths, v, k);
    }
    json_object_object_add(doc, "paths", paths);
    json_object_object_add(components, "schemas", schemas);
    json_object_object_add(doc, "components", components);
    if (n_kinds == 0) {
        /* a core view whose kind this schema set lacks: the group-version is not served */
        json_object_put(doc);
        return NULL;
    }
    return doc;
}

/* Upper-case hex SHA-256 of doc's JSON text (what the index's ?hash= names). */
static void doc_hash(const json_object *doc, char *out, size_t outsz)
{
    const char *text = json_object_to_json_string_ext((json_object *)doc, JSON_C_TO_STRING_PLAIN);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    out[0] = '\0';
    if (!EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL))
        return;
    for (unsigned int i = 0; i < mdlen && 2 * i + 2 < outsz; i++)
        snprintf(out + 2 * i, 3, "%02X", md[i]);
}

json_object *api_openapi_v3_index(const schema_set *set)
{
    json_object *idx = json_object_new_object(), *paths = json_object_new_object();

    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
        json_object *doc = api_openapi_v3_doc(set, views[i].gv_path), *e;
        char hash[2 * EVP_MAX_MD_SIZE + 1], url[512];

        if (!doc)
            continue;
        doc_hash(doc, hash, sizeof(hash));
        json_object_put(doc);
        snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%s", views[i].gv_path, hash);
        e = json_object_new_object();
        json_object_object_add(e, "serverRelativeURL", str(url));
        json_object_object_add(paths, views[i].gv_path, e);
    }
    json_object_object_add(idx, "paths", paths);
    return idx;
}

int api_openapi_v3_handle(api *a, const api_request *req, api_response *resp)
{
    const char *p = req->path;
    json_object *doc;

    if (strcmp(p, "/openapi/v3") != 0 && strncmp(p, "/openapi/v3/", 12) != 0)
        return 0;
    if (req->method != API_METHOD_GET && req->method != API_METHOD_HEAD) {
        api_status_respond(resp, 405, "%s is not supported on %s; use GET",
                           api_method_name(req->method), p);
        return 1;
    }
    if (req->accept && *req->accept && !api_accept_allows(req->accept, "application/json")) {
        api_status_respond(resp, 406, "%s is served as application/json only, not %s", p,
                           req->accept);
        return 1;
    }
    doc = strcmp(p, "/openapi/v3") == 0 ? api_openapi_v3_index(a->schemas)
                                        : api_openapi_v3_doc(a->schemas, p + 12);
    if (!doc) {
        api_status_respond(resp, 404, "no OpenAPI v3 document for %s; /openapi/v3 lists them",
                           p + 12);
        return 1;
    }
    api_response_json(resp, 200, doc);
    json_object_put(doc);
    return 1;
}
