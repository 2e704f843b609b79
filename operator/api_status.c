/* api_status: build Kubernetes Status objects and map omlop errors onto them. */
#include "api_status.h"

#include <stdarg.h>
#include <stdio.h>

#include "lib/k8s_status.h"

json_object *api_status_new(int code, const char *reason, const char *message)
{
    json_object *st = json_object_new_object();

    json_object_object_add(st, "kind", json_object_new_string("Status"));
    json_object_object_add(st, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(st, "metadata", json_object_new_object());
    json_object_object_add(st, "status", json_object_new_string("Failure"));
    json_object_object_add(st, "message", json_object_new_string(message ? message : ""));
    json_object_object_add(st, "reason", json_object_new_string(reason ? reason : ""));
    json_object_object_add(st, "code", json_object_new_int(code));
    return st;
}

static json_object *details_of(json_object *st)
{
    json_object *d;

    if (json_object_object_get_ex(st, "details", &d))
        return d;
    d = json_object_new_object();
    json_object_object_add(st, "details", d);
    return d;
}

void api_status_set_details(json_object *st, const char *name, const char *group, const char *kind)
{
    json_object *d = details_of(st);

    if (name)
        json_object_object_add(d, "name", json_object_new_string(name));
    if (group)
        json_object_object_add(d, "group", json_object_new_string(group));
    if (kind)
        json_object_object_add(d, "kind", json_object_new_string(kind));
}

void api_status_add_cause(json_object *st, const char *field, const char *reason,
                          const char *message)
{
    json_object *d = details_of(st);
    json_object *causes, *c = json_object_new_object();

    if (!json_object_object_get_ex(d, "causes", &causes)) {
        causes = json_object_new_array();
        json_object_object_add(d, "causes", causes);
    }
    json_object_object_add(c, "reason", json_object_new_string(reason));
    json_object_object_add(c, "message", json_object_new_string(message));
    if (field)
        json_object_object_add(c, "field", json_object_new_string(field));
    json_object_array_add(causes, c);
}

void api_status_add_diags(json_object *st, const diag_list *diags)
{
    for (size_t i = 0; diags && i < diag_list_count(diags); i++) {
        const diag *dg = diag_list_at(diags, i);

        api_status_add_cause(st, dg->path, "FieldValueInvalid", dg->message);
    }
}

const char *api_status_reason(int code)
{
    const char *reason = k8s_status_reason(code);

    /* a Status must carry some reason: fall back on the class of the code */
    if (!reason)
        reason = code >= 500 ? "InternalError" : "BadRequest";
    return reason;
}

int api_status_code_for_err(int omlop_code, const char **reason)
{
    int code;

    switch (omlop_code) {
    case OMLOP_EINVAL:
        code = 400;
        break;
    case OMLOP_ENOTFOUND:
        code = 404;
        break;
    case OMLOP_EEXIST:
        code = 409;
        if (reason)
            *reason = "AlreadyExists";
        return code;
    case OMLOP_ECONFLICT:
        code = 409;
        break;
    case OMLOP_EGONE:
        code = 410;
        break;
    case OMLOP_ELIMIT:
        code = 413;
        break;
    case OMLOP_EAUTH:
        code = 401;
        break;
    case OMLOP_EPERM:
        code = 403;
        break;
    case OMLOP_ETIMEOUT:
        code = 504;
        break;
    case OMLOP_EUNAVAIL:
        code = 503;
        break;
    default:
        code = 500;
        break;
    }
    if (reason)
        *reason = api_status_reason(code);
    return code;
}

void api_status_respond_obj(api_response *resp, const json_object *st)
{
    json_object *c = json_object_object_get((json_object *)st, "code");

    api_response_json(resp, c ? json_object_get_int(c) : 500, st);
}

void api_status_respond(api_response *resp, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    json_object *st;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    st = api_status_new(code, api_status_reason(code), msg);
    api_status_respond_obj(resp, st);
    json_object_put(st);
}

void api_status_respond_err(api_response *resp, const omlop_err *err)
{
    const char *reason = NULL;
    int code = api_status_code_for_err(err->code, &reason);
    json_object *st = api_status_new(code, reason, err->msg);

    api_status_respond_obj(resp, st);
    json_object_put(st);
}

json_object *api_status_success(const char *name, const char *group, const char *kind)
{
    json_object *st = json_object_new_object();

    json_object_object_add(st, "kind", json_object_new_string("Status"));
    json_object_object_add(st, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(st, "metadata", json_object_new_object());
    json_object_object_add(st, "status", json_object_new_string("Success"));
    api_status_set_details(st, name, group, kind);
    return st;
}
