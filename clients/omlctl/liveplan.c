/* liveplan: status.plan as text (see liveplan.h). */
#include "clients/omlctl/liveplan.h"

#include "lib/cjson.h"

size_t omlctl_liveplan_format(const json_object *tenant, int indent, strbuf *out)
{
    json_object *plan = cjson_get(tenant, "status.plan");
    size_t n = 0;

    if (!plan || !json_object_is_type(plan, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(plan); i++) {
        json_object *a = json_object_array_get_idx(plan, i);
        const char *host = cjson_get_string(a, "host"), *action = cjson_get_string(a, "action");
        const char *container = cjson_get_string(a, "container");
        const char *component = cjson_get_string(a, "component");
        const char *image = cjson_get_string(a, "image");
        const char *reason = cjson_get_string(a, "reason");
        const char *error = cjson_get_string(a, "error");
        const char *path = cjson_get_string(a, "path");

        if (!host || !action)
            continue; /* the CRD requires both; skip rather than print half a line */
        strbuf_addf(out, "%*s%s: %s", indent, "", host, action);
        /* a pull names its image, a write its file; other actions their container */
        if (path)
            strbuf_addf(out, " %s", path);
        if (path && container)
            strbuf_addf(out, " (for %s)", container);
        else if (container)
            strbuf_addf(out, " %s", container);
        else if (image)
            strbuf_addf(out, " %s", image);
        if (!path && container && (component || image)) {
            strbuf_adds(out, " (");
            if (component)
                strbuf_adds(out, component);
            if (image)
                strbuf_addf(out, "%simage %s", component ? ", " : "", image);
            strbuf_adds(out, ")");
        }
        if (reason)
            strbuf_addf(out, ": %s", reason);
        strbuf_adds(out, "\n");
        if (error)
            strbuf_addf(out, "%*s  last attempt: %s\n", indent, "", error);
        n++;
    }
    return n;
}
