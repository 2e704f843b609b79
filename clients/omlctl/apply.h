/*
 * apply: sending one manifest as kubectl's client-side apply (a create, or a
 * 3-way merge patch against the last-applied record), shared by `omlctl apply`
 * and `omlctl diff` (which sends the same request with dryRun=All, so what it
 * shows is exactly what apply would store).
 */
#ifndef OMLOP_OMLCTL_APPLY_H
#define OMLOP_OMLCTL_APPLY_H

#include <json-c/json.h>

#include "clients/apiclient.h"
#include "clients/omlctl/common.h"

typedef struct omlctl_apply_params {
    const char *field_manager; /* NULL = "omlctl" */
    int force;                 /* accepted for kubectl compatibility; no effect */
    int server_dry_run;        /* dryRun=All */
} omlctl_apply_params;

/*
 * GET the object, then POST the manifest with its last-applied record or PATCH
 * (application/merge-patch+json, live resourceVersion as precondition) the
 * 3-way patch, retrying on 409; *result is the object the server stored, or
 * would store under a dry run, or live when there was nothing to change
 * (caller puts).
 */
int omlctl_apply_send(apiclient *api, const omlctl_manifest *m, const omlctl_apply_params *o,
                      json_object **result, omlop_err *err);

#endif
