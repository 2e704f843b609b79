/*
 * api_discovery: what a Kubernetes client asks before it sends anything else.
 *
 *   /api                          APIVersions (core v1)
 *   /api/v1                       APIResourceList: secrets, the core v1 view of
 *                                 omlop's Secrets (in namespace default, api_router.h)
 *   /apis                         APIGroupList with omlop.io
 *   /apis/omlop.io                APIGroup
 *   /apis/omlop.io/v1alpha1       APIResourceList: every kind with its plural,
 *                                 singular, short names, verbs and status subresource
 *   /openapi/v2                   Swagger 2.0 generated from the CRD schemas (JSON);
 *                                 a client that only accepts protobuf (kubectl) gets
 *                                 the document header in protobuf, which tells it to
 *                                 rely on server-side validation (fieldValidation)
 *   /openapi/v3[/...]             OpenAPI v3 per group-version (api_openapi.h),
 *                                 which kubectl explain reads
 *   /version                      version.Info
 *   /healthz /livez /readyz       "ok" (readyz: the store answers and no shutdown)
 *
 * kubectl asks for aggregated discovery first; these answers are the legacy
 * form (Content-Type application/json), which every client falls back to.
 */
#ifndef OMLOP_API_DISCOVERY_H
#define OMLOP_API_DISCOVERY_H

#include "operator/api.h"
#include "operator/api_request.h"

/* Serve path if it is a discovery or health path: returns 1 when it answered. */
int api_discovery_handle(api *a, const api_request *req, api_response *resp);

/* Whether path may be read without credentials (health and version). */
int api_discovery_is_public(const char *path);

/* The OpenAPI v2 (Swagger) document for every kind (caller puts). */
json_object *api_openapi_v2(const schema_set *set);

#endif
