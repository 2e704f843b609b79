/* api_history: the read-only endpoint of the Tenant rollout history. */
#include "operator/api_history.h"

#include <stdio.h>

#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/log.h"
#include "objects/history.h"
#include "objects/objects.h"
#include "operator/api_status.h"

void api_history_serve(api_rr *rr)
{
    strbuf key = STRBUF_INIT;
    store_kv kv = {0};
    store_list_result res = {STORE_KV_LIST_INIT, 0, 0};
    omlop_err err = OMLOP_ERR_INIT;
    json_object *tenant = NULL, *out = NULL, *meta, *items;
    char kind[64];

    rr->verb = "get";
    if (rr->req->method != API_METHOD_GET && rr->req->method != API_METHOD_HEAD) {
        api_status_respond(rr->resp, 405,
                           "%s/<name>/history is read-only; roll back with a write of the spec "
                           "(omlctl rollout undo)",
                           rr->kind->plural);
        goto out;
    }
    object_key(&key, rr->kind->plural, rr->name);
    if (store_get(rr->a->store, key.buf, &kv, &err) != 0) {
        api_rr_store_error(rr, rr->name, &err);
        goto out;
    }
    if (obj_from_kv(&kv, &tenant, &err) != 0 ||
        history_list(rr->a->store, rr->name, &res, &err) != 0) {
        api_status_respond_err(rr->resp, &err);
        goto out;
    }
    out = json_object_new_object();
    snprintf(kind, sizeof(kind), "%sHistory", rr->kind->kind);
    json_object_object_add(out, "apiVersion", json_object_new_string(OMLOP_API_VERSION));
    json_object_object_add(out, "kind", json_object_new_string(kind));
    meta = json_object_new_object();
    json_object_object_add(meta, "name", json_object_new_string(rr->name));
    json_object_object_add(
        meta, "resourceVersion",
        json_object_new_string(cjson_get_string(tenant, "metadata.resourceVersion")));
    json_object_object_add(out, "metadata", meta);
    json_object_object_add(out, "currentRevision",
                           json_object_new_int64(cjson_get_int(tenant, "metadata.generation", 1)));
    items = json_object_new_array();
    for (size_t i = 0; i < res.items.n; i++) {
        json_object *e = object_parse(res.items.items[i].value, res.items.items[i].value_len);

        if (!json_object_is_type(e, json_type_object)) {
            json_object_put(e);
            log_warn("history key=%s msg=\"not a JSON object; skipped\"", res.items.items[i].key);
            continue;
        }
        json_object_object_add(e, "revision",
                               json_object_new_int64(cjson_get_int(e, "generation", 0)));
        json_object_array_add(items, e);
    }
    json_object_object_add(out, "items", items);
    api_response_json(rr->resp, 200, out);
out:
    json_object_put(tenant);
    json_object_put(out);
    store_kv_release(&kv);
    store_list_result_release(&res);
    strbuf_release(&key);
}
