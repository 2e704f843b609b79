/* secretmask: kubectl diff's masking of Secret values (see secretmask.h). */
#include "clients/omlctl/secretmask.h"

#include <string.h>

static int is_secret(const json_object *obj)
{
    json_object *kind = NULL;

    return obj && json_object_object_get_ex(obj, "kind", &kind) &&
           strcmp(json_object_get_string(kind), "Secret") == 0;
}

/* The map obj.field, or NULL when obj has none. */
static json_object *values_of(json_object *obj, const char *field)
{
    json_object *m = NULL;

    if (!obj || !json_object_object_get_ex(obj, field, &m) ||
        !json_object_is_type(m, json_type_object))
        return NULL;
    return m;
}

static void set(json_object *m, const char *key, const char *text)
{
    json_object_object_add(m, key, json_object_new_string(text));
}

static void mask_field(json_object *before, json_object *after, const char *field)
{
    json_object *from = values_of(before, field), *to = values_of(after, field);
    json_object *other = NULL;

    if (from) {
        json_object_object_foreach(from, key, val)
        {
            if (to && json_object_object_get_ex(to, key, &other)) {
                /* Compare before either side is overwritten. */
                int same = json_object_equal(val, other);

                set(from, key, same ? OMLCTL_MASK : OMLCTL_MASK_BEFORE);
                set(to, key, same ? OMLCTL_MASK : OMLCTL_MASK_AFTER);
            } else {
                set(from, key, OMLCTL_MASK);
            }
        }
    }
    if (to) {
        json_object_object_foreach(to, key, val)
        {
            (void)val;
            if (!from || !json_object_object_get_ex(from, key, NULL))
                set(to, key, OMLCTL_MASK);
        }
    }
}

void omlctl_secret_mask(json_object *before, json_object *after)
{
    if (!is_secret(before) && !is_secret(after))
        return;
    mask_field(before, after, "data");
    mask_field(before, after, "stringData");
}
