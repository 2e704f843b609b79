/* api_patch: RFC 7386 merge patch and the strategic-merge subset custom resources use. */
#include "api_patch.h"

#include <stdlib.h>
#include <string.h>

#include "lib/cjson.h"

json_object *api_merge_patch(const json_object *target, const json_object *patch)
{
    json_object *result;

    if (!json_object_is_type((json_object *)patch, json_type_object))
        return cjson_copy(patch);
    if (json_object_is_type((json_object *)target, json_type_object))
        result = cjson_copy(target);
    else
        result = json_object_new_object();
    json_object_object_foreach((json_object *)patch, key, value)
    {
        if (!value) {
            json_object_object_del(result, key);
        } else {
            json_object *cur = json_object_object_get(result, key);

            json_object_object_add(result, key, api_merge_patch(cur, value));
        }
    }
    return result;
}

static int directive_is(const json_object *map, const char *what)
{
    json_object *d = json_object_object_get((json_object *)map, "$patch");

    return d && json_object_is_type(d, json_type_string) &&
           strcmp(json_object_get_string(d), what) == 0;
}

/* A copy of patch without its "$..." directive keys, at every level. */
static json_object *strip_directives(const json_object *patch)
{
    json_object *out;

    if (!json_object_is_type((json_object *)patch, json_type_object))
        return cjson_copy(patch);
    out = json_object_new_object();
    json_object_object_foreach((json_object *)patch, key, value)
    {
        if (key[0] != '$')
            json_object_object_add(out, key, value ? strip_directives(value) : NULL);
    }
    return out;
}

json_object *api_strategic_patch(const json_object *target, const json_object *patch)
{
    json_object *result;

    if (!json_object_is_type((json_object *)patch, json_type_object))
        return cjson_copy(patch);
    if (directive_is(patch, "delete"))
        return NULL;
    if (directive_is(patch, "replace") ||
        !json_object_is_type((json_object *)target, json_type_object))
        return strip_directives(patch);
    result = cjson_copy(target);
    json_object_object_foreach((json_object *)patch, key, value)
    {
        json_object *merged;

        if (key[0] == '$')
            continue; /* $retainKeys, $setElementOrder/..., $deleteFromPrimitiveList/... */
        if (!value) {
            json_object_object_del(result, key);
            continue;
        }
        merged = api_strategic_patch(json_object_object_get(result, key), value);
        if (merged)
            json_object_object_add(result, key, merged);
        else
            json_object_object_del(result, key);
    }
    return result;
}
