/*
 * api_status: Kubernetes Status objects, the body of every API error.
 *
 *   {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
 *    "message":"...","reason":"NotFound","code":404,
 *    "details":{"name":"t1","group":"omlop.io","kind":"tenants",
 *               "causes":[{"reason":"FieldValueInvalid","message":"...","field":"spec.x"}]}}
 *
 * kubectl prints "Error from server (<reason>): <message>" from these, so the
 * message names the object and says what to do.
 */
#ifndef OMLOP_API_STATUS_H
#define OMLOP_API_STATUS_H

#include <json-c/json.h>

#include "crds/diag.h"
#include "lib/err.h"
#include "operator/api_request.h"

/* A new Failure Status (caller puts). */
json_object *api_status_new(int code, const char *reason, const char *message);

/* Set details.name / group / kind (any may be NULL). */
void api_status_set_details(json_object *st, const char *name, const char *group, const char *kind);

/* Append one details.causes[] entry; field may be NULL. */
void api_status_add_cause(json_object *st, const char *field, const char *reason,
                          const char *message);

/* Append every diagnostic as a FieldValueInvalid cause. */
void api_status_add_diags(json_object *st, const diag_list *diags);

/* The standard reason for an HTTP status code ("NotFound" for 404). */
const char *api_status_reason(int code);

/* HTTP status and reason for an OMLOP_E* code (ENOTFOUND -> 404 NotFound). */
int api_status_code_for_err(int omlop_code, const char **reason);

/* Answer with a Status: code, its standard reason, a formatted message. */
void api_status_respond(api_response *resp, int code, const char *fmt, ...) OMLOP_PRINTF(3, 4);

/* Answer with a Status built by the caller (st is borrowed). */
void api_status_respond_obj(api_response *resp, const json_object *st);

/* Answer with the Status for err (its code mapped, its message). */
void api_status_respond_err(api_response *resp, const omlop_err *err);

/* A Success Status (for deletes of things that have no body to return). */
json_object *api_status_success(const char *name, const char *group, const char *kind);

#endif
