/* mergepatch: RFC 7386 JSON merge patch creation and application. */
#include "clients/omlctl/mergepatch.h"

#include <stdlib.h>

#include "lib/cjson.h"

static json_object *copy(const json_object *o)
{
    json_object *c = NULL;

    if (!o)
        return NULL;
    if (json_object_deep_copy((json_object *)o, &c, NULL) != 0)
        abort();
    return c;
}

json_object *omlctl_merge_patch_create(const json_object *from, const json_object *to)
{
    json_object *patch;

    if (!json_object_is_type(from, json_type_object) || !json_object_is_type(to, json_type_object))
        return copy(to);
    patch = json_object_new_object();
    json_object_object_foreach((json_object *)from, k, fv)
    {
        json_object *tv;

        (void)fv;
        if (!json_object_object_get_ex(to, k, &tv))
            json_object_object_add(patch, k, NULL); /* null: remove the key */
    }
    json_object_object_foreach((json_object *)to, key, tval)
    {
        json_object *fval;

        if (!json_object_object_get_ex(from, key, &fval)) {
            json_object_object_add(patch, key, copy(tval));
        } else if (json_object_is_type(fval, json_type_object) &&
                   json_object_is_type(tval, json_type_object)) {
            json_object *sub = omlctl_merge_patch_create(fval, tval);

            if (omlctl_merge_patch_is_empty(sub))
                json_object_put(sub);
            else
                json_object_object_add(patch, key, sub);
        } else if (!cjson_equal(fval, tval)) {
            json_object_object_add(patch, key, copy(tval));
        }
    }
    return patch;
}

json_object *omlctl_merge_patch_apply(const json_object *target, const json_object *patch)
{
    json_object *result;

    if (!json_object_is_type(patch, json_type_object))
        return copy(patch);
    result =
        json_object_is_type(target, json_type_object) ? copy(target) : json_object_new_object();
    json_object_object_foreach((json_object *)patch, k, pv)
    {
        json_object *cur = NULL;

        if (!pv) {
            json_object_object_del(result, k);
            continue;
        }
        json_object_object_get_ex(result, k, &cur);
        json_object_object_add(result, k, omlctl_merge_patch_apply(cur, pv));
    }
    return result;
}

int omlctl_merge_patch_is_empty(const json_object *patch)
{
    return json_object_is_type(patch, json_type_object) && json_object_object_length(patch) == 0;
}
