/* api_router: authentication, authorization, routing and the audit log. */
#include "api_router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crds/object.h"
#include "lib/log.h"
#include "operator/api_discovery.h"
#include "operator/api_resources.h"
#include "operator/api_status.h"

#define MAX_SEGMENTS 4

static int is_write(api_method m)
{
    return m == API_METHOD_POST || m == API_METHOD_PUT || m == API_METHOD_PATCH ||
           m == API_METHOD_DELETE;
}

static const char *verb_of(api_method m)
{
    switch (m) {
    case API_METHOD_POST:
        return "create";
    case API_METHOD_PUT:
        return "update";
    case API_METHOD_PATCH:
        return "patch";
    case API_METHOD_DELETE:
        return "delete";
    default:
        return "get";
    }
}

/* Split "a/b/c" into at most max segments; returns the count, or max+1 when more. */
static size_t split_path(char *p, char **seg, size_t max)
{
    size_t n = 0;

    while (*p) {
        char *slash = strchr(p, '/');

        if (n == max)
            return max + 1;
        seg[n++] = p;
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
        if (!*p)
            break; /* a trailing slash */
    }
    return n;
}

static void audit(const api_request *req, const api_response *resp, const char *verb,
                  const char *resource, const char *name)
{
    const char *dr = api_request_param(req, "dryRun");

    log_info("audit user=%s role=%s verb=%s resource=%s name=%s code=%d dryRun=%s remote=%s",
             req->who.name[0] ? req->who.name : "-", api_role_name(req->who.role), verb,
             resource ? resource : "-", name && *name ? name : "-", resp->status,
             dr && *dr ? "true" : "false", req->remote ? req->remote : "-");
}

static void forbidden(api_response *resp, const api_request *req, const char *verb,
                      const char *resource, const char *name)
{
    char msg[800];
    json_object *st;

    if (name)
        snprintf(msg, sizeof(msg),
                 "%s.%s \"%s\" is forbidden: User \"%s\" (role %s) cannot %s resource \"%s\" in "
                 "API group \"%s\"; this needs an admin token",
                 resource, OMLOP_GROUP, name, req->who.name, api_role_name(req->who.role), verb,
                 resource, OMLOP_GROUP);
    else
        snprintf(msg, sizeof(msg),
                 "%s.%s is forbidden: User \"%s\" (role %s) cannot %s resource \"%s\" in API "
                 "group \"%s\"; this needs an admin token",
                 resource, OMLOP_GROUP, req->who.name, api_role_name(req->who.role), verb, resource,
                 OMLOP_GROUP);
    st = api_status_new(403, "Forbidden", msg);
    api_status_set_details(st, name, OMLOP_GROUP, resource);
    api_status_respond_obj(resp, st);
    json_object_put(st);
}

static void compact(api *a, const api_request *req, api_response *resp)
{
    const char *r = api_request_param(req, "revision");
    int64_t rev = -1, cur = 0;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *st;
    char msg[128];

    if (req->method != API_METHOD_POST) {
        api_status_respond(resp, 405, "use POST /omlop/compact[?revision=N]");
        return;
    }
    if (store_current_revision(a->store, &cur, &err) != 0) {
        api_status_respond_err(resp, &err);
        return;
    }
    if (r && *r) {
        char *end;

        rev = strtoll(r, &end, 10);
        if (*end || rev <= 0) {
            api_status_respond(resp, 400, "revision '%s' is not a positive number", r);
            return;
        }
        if (rev > cur) {
            api_status_respond(resp, 400,
                               "revision %lld is in the future; the current revision is %lld",
                               (long long)rev, (long long)cur);
            return;
        }
    } else {
        rev = cur;
    }
    if (store_compact(a->store, rev, &err) != 0) {
        api_status_respond_err(resp, &err);
        return;
    }
    st = api_status_success(NULL, NULL, NULL);
    snprintf(msg, sizeof(msg), "compacted up to revision %lld", (long long)rev);
    json_object_object_add(st, "message", json_object_new_string(msg));
    api_response_json(resp, 200, st);
    json_object_put(st);
}

/* /api/v1/events or /api/v1/namespaces/<ns>/events */
static int is_core_events_path(const char *p)
{
    const char *ns = "/api/v1/namespaces/";
    size_t n = strlen(ns);

    if (strcmp(p, "/api/v1/events") == 0)
        return 1;
    if (strncmp(p, ns, n) != 0)
        return 0;
    p = strchr(p + n, '/');
    return p && strcmp(p, "/events") == 0;
}

static void not_found(api_response *resp, const char *path)
{
    json_object *st = api_status_new(404, "NotFound",
                                     "the server could not find the requested "
                                     "resource");

    (void)path;
    api_status_respond_obj(resp, st);
    json_object_put(st);
}

/*
 * Authorize and serve one request on kind (name and sub may be NULL); is_core
 * for the core v1 view of the same objects. Writes are audited.
 */
static void serve_kind(api *a, const api_request *req, api_response *resp, const kind_info *kind,
                       const char *name, const char *sub, int is_core)
{
    const char *verb = NULL;
    char created[256] = "";

    if (req->who.role != API_ROLE_ADMIN && strcmp(kind->kind, "Secret") == 0) {
        /* as Kubernetes' view role: reading secrets is writing-level trust */
        forbidden(resp, req, is_write(req->method) ? verb_of(req->method) : "get", kind->plural,
                  name);
        if (is_write(req->method))
            audit(req, resp, verb_of(req->method), kind->plural, name);
        return;
    }
    if (is_write(req->method) && req->who.role != API_ROLE_ADMIN) {
        forbidden(resp, req, verb_of(req->method), kind->plural, name);
        audit(req, resp, verb_of(req->method), kind->plural, name);
        return;
    }
    api_resources_handle(a, req, resp, kind, name, sub, is_core, &verb, created, sizeof(created));
    if (is_write(req->method))
        audit(req, resp, verb ? verb : verb_of(req->method), kind->plural, name ? name : created);
}

/*
 * /api/v1/...: the core v1 resources omlop serves as views of its own kinds.
 * secrets are the omlop.io Secrets, shown in the one namespace "default"
 * (api_object.h): typed clients such as `kubectl create secret` and kubectl's
 * describers address Secrets only by namespace. Any other namespace does not
 * exist; /api/v1/secrets lists the same objects (kubectl get -A).
 */
static void serve_core(api *a, const api_request *req, api_response *resp)
{
    char pathbuf[1024];
    char *seg[MAX_SEGMENTS + 2], **rest;
    size_t nseg, nrest;
    const kind_info *kind;

    if (strlen(req->path) >= sizeof(pathbuf)) {
        not_found(resp, req->path);
        return;
    }
    snprintf(pathbuf, sizeof(pathbuf), "%s", req->path + 8);
    nseg = split_path(pathbuf, seg, MAX_SEGMENTS + 1);
    rest = seg;
    nrest = nseg;
    if (nseg >= 3 && strcmp(seg[0], "namespaces") == 0) {
        if (strcmp(seg[1], API_CORE_NAMESPACE) != 0) {
            char msg[400];
            json_object *st;

            snprintf(msg, sizeof(msg),
                     "namespaces \"%.64s\" not found: omlop kinds are cluster-scoped; its core v1 "
                     "secrets are in namespace \"" API_CORE_NAMESPACE "\" only",
                     seg[1]);
            st = api_status_new(404, "NotFound", msg);
            api_status_set_details(st, seg[1], "", "namespaces");
            api_status_respond_obj(resp, st);
            json_object_put(st);
            return;
        }
        rest = seg + 2;
        nrest = nseg - 2;
    }
    if (nrest == 0 || nrest > 3 || strcmp(rest[0], "secrets") != 0 ||
        !(kind = schema_set_find_kind(a->schemas, "Secret"))) {
        api_status_respond(resp, 404,
                           "the server doesn't have a resource type \"%s\" in v1; omlop serves "
                           "only secrets there (kubectl api-resources lists them)",
                           nrest ? rest[0] : "");
        return;
    }
    if (nrest >= 2 && !*rest[1]) {
        not_found(resp, req->path);
        return;
    }
    serve_kind(a, req, resp, kind, nrest >= 2 ? rest[1] : NULL, nrest == 3 ? rest[2] : NULL, 1);
}

int api_route_needs_store(const api_request *req)
{
    static const char *const no_store[] = {
        "/healthz",           "/livez",         "/version", "/api", "/api/v1", "/apis",
        "/apis/" OMLOP_GROUP, API_GROUP_PREFIX, NULL};
    const char *p = req->path;

    if (!p || p[0] != '/')
        return 0; /* a 400 */
    for (size_t i = 0; no_store[i]; i++)
        if (strcmp(p, no_store[i]) == 0)
            return 0;
    return strcmp(p, "/openapi") != 0 && strncmp(p, "/openapi/", 9) != 0;
}

void api_handle(api *a, api_request *req, api_response *resp)
{
    omlop_err err = OMLOP_ERR_INIT;
    char pathbuf[1024];
    char *seg[MAX_SEGMENTS + 1];
    size_t nseg;
    const kind_info *kind;
    size_t plen = strlen(API_GROUP_PREFIX);

    if (!req->path || req->path[0] != '/') {
        api_status_respond(resp, 400, "the request path must start with '/'");
        return;
    }
    if (api_discovery_is_public(req->path)) {
        api_discovery_handle(a, req, resp);
        return;
    }
    if (!api_auth_enabled(a->auth) && !req->is_local) {
        /* config.c never listens beyond loopback without tokens; this is the second lock */
        api_status_respond(resp, 403,
                           "without --tokens omlopd serves only loopback and its unix socket");
        return;
    }
    if (api_auth_check(a->auth, req->authorization, &req->who, &err) != 0) {
        json_object *st = api_status_new(401, "Unauthorized", err.msg);

        api_status_respond_obj(resp, st);
        json_object_put(st);
        if (is_write(req->method))
            audit(req, resp, verb_of(req->method), NULL, NULL);
        return;
    }
    if (a->is_shutting_down && req->is_late) {
        api_status_respond(resp, 503, "omlopd is shutting down; retry against the new instance");
        return;
    }
    if (strcmp(req->path, "/omlop/compact") == 0) {
        if (req->who.role != API_ROLE_ADMIN)
            forbidden(resp, req, "compact", "store", NULL);
        else
            compact(a, req, resp);
        audit(req, resp, "compact", "store", NULL);
        return;
    }
    if (api_discovery_handle(a, req, resp))
        return;
    if (is_core_events_path(req->path)) {
        api_resources_core_events(a, req, resp);
        return;
    }
    if (strncmp(req->path, "/api/v1/", 8) == 0) {
        serve_core(a, req, resp);
        return;
    }
    if (strncmp(req->path, API_GROUP_PREFIX "/", plen + 1) != 0 ||
        strlen(req->path) >= sizeof(pathbuf)) {
        not_found(resp, req->path);
        return;
    }
    snprintf(pathbuf, sizeof(pathbuf), "%s", req->path + plen + 1);
    nseg = split_path(pathbuf, seg, MAX_SEGMENTS);
    if (nseg == 0 || nseg > 3) {
        not_found(resp, req->path);
        return;
    }
    kind = schema_set_find_kind(a->schemas, seg[0]);
    if (!kind || strcmp(kind->plural, seg[0]) != 0) {
        api_status_respond(resp, 404,
                           "the server doesn't have a resource type \"%s\" in %s (kubectl "
                           "api-resources lists them)",
                           seg[0], OMLOP_API_VERSION);
        return;
    }
    if (nseg >= 2 && !*seg[1]) {
        not_found(resp, req->path);
        return;
    }
    serve_kind(a, req, resp, kind, nseg >= 2 ? seg[1] : NULL, nseg == 3 ? seg[2] : NULL, 0);
}
