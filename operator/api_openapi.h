/*
 * api_openapi: OpenAPI v3 documents generated from the compiled-in CRD schemas,
 * which `kubectl explain` reads (1.27 and later ask /openapi/v3 first and fall
 * back to /openapi/v2 only when it is missing):
 *
 *   /openapi/v3                          the index: one entry per group-version,
 *                                        {"paths": {"apis/omlop.io/v1alpha1":
 *                                        {"serverRelativeURL": "/openapi/v3/apis/
 *                                        omlop.io/v1alpha1?hash=H"}, "api/v1": ...}}
 *   /openapi/v3/apis/omlop.io/v1alpha1   every kind's schema, with its
 *                                        x-kubernetes-group-version-kind, and paths
 *   /openapi/v3/api/v1                   the core v1 view: Secret (api_router.h)
 *
 * H is a hash of the document, so a client's cache is right across releases.
 */
#ifndef OMLOP_API_OPENAPI_H
#define OMLOP_API_OPENAPI_H

#include <json-c/json.h>

#include "crds/schema.h"
#include "operator/api.h"
#include "operator/api_request.h"

/* The group-version path of the core v1 view in the index ("api/v1"). */
#define API_OPENAPI_CORE_GV "api/v1"

/* The group-version path of omlop.io in the index ("apis/omlop.io/v1alpha1"). */
#define API_OPENAPI_OMLOP_GV "apis/" OMLOP_GROUP "/" OMLOP_VERSION

/* Serve path if it is /openapi/v3 or below: returns 1 when it answered. */
int api_openapi_v3_handle(api *a, const api_request *req, api_response *resp);

/* The /openapi/v3 index (caller puts). */
json_object *api_openapi_v3_index(const schema_set *set);

/*
 * The OpenAPI v3 document of one group-version path (API_OPENAPI_OMLOP_GV or
 * API_OPENAPI_CORE_GV); NULL when the server has no such group-version.
 */
json_object *api_openapi_v3_doc(const schema_set *set, const char *gv_path);

/* The Kubernetes ObjectMeta schema as omlop keeps it, without references (caller puts). */
json_object *api_openapi_object_meta(void);

#endif
