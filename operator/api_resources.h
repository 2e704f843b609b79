/*
 * api_resources: the verbs on /apis/omlop.io/v1alpha1/<plural>[/<name>[/status]].
 *
 * Reads (get, list with selectors and pages, Table output, watch requests that
 * the transport then streams) live in api_resources.c; writes (create, update,
 * patch, delete, the status subresource, finalizers, dry runs) in api_write.c.
 * Every answer is a Kubernetes object or a Status (api_status.h).
 */
#ifndef OMLOP_API_RESOURCES_H
#define OMLOP_API_RESOURCES_H

#include <json-c/json.h>

#include "crds/diag.h"
#include "operator/api.h"
#include "operator/api_request.h"
#include "store/store.h"

/* One request on a resource path, as the handlers share it. */
typedef struct api_rr {
    api *a;
    const api_request *req;
    api_response *resp;
    const kind_info *kind;
    const char *name;  /* NULL on the collection */
    int is_status;     /* the /status subresource */
    int is_dry_run;    /* ?dryRun=All */
    const char *verb;  /* Kubernetes verb for the audit log: get, list, create, ... */
    int is_core;       /* the core v1 view (/api/v1/...): objects shown as apiVersion v1 */
    char created[256]; /* the name a create chose (for the audit log) */
} api_rr;

/*
 * Serve one request on a resource path (sub is NULL or "status"). is_core: the
 * request came by the core v1 view of kind (/api/v1/secrets): the same stored
 * objects, read and written as apiVersion v1. *verb gets the Kubernetes verb;
 * created (size createdsz) the name a create chose.
 */
void api_resources_handle(api *a, const api_request *req, api_response *resp, const kind_info *kind,
                          const char *name, const char *sub, int is_core, const char **verb,
                          char *created, size_t createdsz);

/*
 * GET /api/v1/events and /api/v1/namespaces/<ns>/events: the Event kind listed
 * in the core v1 shape, which `kubectl describe` reads (with fieldSelector
 * involvedObject.name=X,involvedObject.kind=K,involvedObject.uid=U).
 */
void api_resources_core_events(api *a, const api_request *req, api_response *resp);

/* --- shared by api_resources.c and api_write.c ----------------------------------------- */

/* Answer 404 NotFound for the object of rr. */
void api_rr_not_found(api_rr *rr, const char *name);

/* Answer a Status for a store error err on the object name. */
void api_rr_store_error(api_rr *rr, const char *name, const omlop_err *err);

/* Answer 422 Invalid with every diagnostic as a cause. */
void api_rr_invalid(api_rr *rr, const char *name, const diag_list *diags);

/* Answer 422 Invalid with one cause. */
void api_rr_invalid1(api_rr *rr, const char *name, const char *field, const char *reason,
                     const char *message);

/* Answer with an object (or Table/YAML as the Accept header asks) and status code. */
void api_rr_respond_object(api_rr *rr, int code, const json_object *obj);

/*
 * Parse the request body by its Content-Type (JSON, YAML, merge and strategic
 * merge patches, apply patches) into *out; answers 400/415 itself and returns
 * nonzero on failure. want_object requires a JSON object.
 */
int api_rr_parse_body(api_rr *rr, json_object **out);

/*
 * Apply ?fieldValidation (Strict, Warn or Ignore; default Warn) to obj: unknown
 * fields are removed; Strict answers 422 and returns nonzero, Warn adds a
 * Warning header per field.
 */
int api_rr_field_validation(api_rr *rr, json_object *obj);

/*
 * Check that obj's apiVersion and kind are this kind's (filled in when absent);
 * the core v1 view also takes apiVersion v1. obj leaves with omlop's apiVersion.
 */
int api_rr_check_type(api_rr *rr, json_object *obj);

#endif
