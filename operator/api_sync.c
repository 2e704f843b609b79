/* api_sync: POST .../gitsources/<name>/sync marks a sync request (api_sync.h). */
#include "operator/api_sync.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crds/object.h"
#include "lib/clock.h"
#include "objects/objects.h"
#include "operator/api_status.h"
#include "reconcilers/gitsource.h"

static int set_request(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    json_object *meta = object_meta(next), *ann;

    (void)cur;
    (void)err;
    if (!json_object_object_get_ex(meta, "annotations", &ann) ||
        !json_object_is_type(ann, json_type_object)) {
        ann = json_object_new_object();
        json_object_object_add(meta, "annotations", ann);
    }
    json_object_object_add(ann, GITSOURCE_SYNC_ANNOTATION, json_object_new_string(ctx));
    return 0;
}

void api_sync_serve(api_rr *rr)
{
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;
    int64_t now_ms = clock_now_ms();
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    char stamp[48];

    rr->verb = "update";
    if (rr->req->method != API_METHOD_POST) {
        api_status_respond(rr->resp, 405, "POST %s/%s/sync asks for a sync; nothing else is served",
                           rr->kind->plural, rr->name);
        return;
    }
    gmtime_r(&secs, &tm);
    snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now_ms % 1000));
    if (obj_update(rr->a->store, rr->kind->plural, rr->name, NULL, set_request, stamp, &res, &err) <
        0) {
        api_status_respond_err(rr->resp, &err);
        return;
    }
    api_response_json(rr->resp, 202, res.obj);
    obj_result_release(&res);
}
