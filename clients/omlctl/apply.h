/*
 * apply: sending one manifest as a server-side apply, shared by `omlctl apply`
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
    int force;                 /* force=true: take over fields other managers own */
    int server_dry_run;        /* dryRun=All */
} omlctl_apply_params;

/*
 * PATCH the object as application/apply-patch+yaml (falling back to GET + POST or
 * PUT when the server answers 415/405); *result is the object the server stored,
 * or would store under a dry run (caller puts).
 */
int omlctl_apply_send(apiclient *api, const omlctl_manifest *m, const omlctl_apply_params *o,
                      json_object **result, omlop_err *err);

#endif
