/* mergepatch: RFC 7386 JSON merge patches, and the 3-way patch of client-side apply. */
#include "crds/mergepatch.h"

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

json_object *merge_patch_create(const json_object *from, const json_object *to)
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
            json_object *sub = merge_patch_create(fval, tval);

            if (merge_patch_is_empty(sub))
                json_object_put(sub);
            else
                json_object_object_add(patch, key, sub);
        } else if (!cjson_equal(fval, tval)) {
            json_object_object_add(patch, key, copy(tval));
        }
    }
    return patch;
}

json_object *merge_patch_apply(const json_object *target, const json_object *patch)
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
        json_object_object_add(result, k, merge_patch_apply(cur, pv));
    }
    return result;
}

int merge_patch_is_empty(const json_object *patch)
{
    return json_object_is_type(patch, json_type_object) && json_object_object_length(patch) == 0;
}

json_object *merge_patch_three_way(const json_object *last, const json_object *modified,
                                   const json_object *live)
{
    json_object *patch;

    if (!json_object_is_type(modified, json_type_object))
        return copy(modified);
    patch = json_object_new_object();
    if (!json_object_is_type(live, json_type_object))
        live = NULL;
    if (json_object_is_type(last, json_type_object)) {
        json_object_object_foreach((json_object *)last, k, lastv)
        {
            json_object *v;

            (void)lastv;
            /* Deleting what live no longer has would only make a no-op look like a change. */
            if (!json_object_object_get_ex(modified, k, &v) && live &&
                json_object_object_get_ex(live, k, &v))
                json_object_object_add(patch, k, NULL);
        }
    }
    json_object_object_foreach((json_object *)modified, key, mv)
    {
        json_object *lv = NULL, *lastv = NULL;
        int in_live = live && json_object_object_get_ex(live, key, &lv);

        if (json_object_is_type(last, json_type_object))
            json_object_object_get_ex(last, key, &lastv);
        if (in_live && json_object_is_type(mv, json_type_object) &&
            json_object_is_type(lv, json_type_object)) {
            json_object *sub = merge_patch_three_way(lastv, mv, lv);

            if (merge_patch_is_empty(sub))
                json_object_put(sub);
            else
                json_object_object_add(patch, key, sub);
        } else if (!in_live || !cjson_equal(lv, mv)) {
            /* A null in the manifest stays null: merge-patch reads it as "delete". */
            json_object_object_add(patch, key, copy(mv));
        }
    }
    return patch;
}

/* obj with status and the last-applied annotation dropped (a new object). */
static json_object *applied_config(const json_object *manifest)
{
    json_object *c = copy(manifest), *ann;

    if (!json_object_is_type(c, json_type_object))
        return c;
    json_object_object_del(c, "status");
    ann = cjson_get(c, "metadata.annotations");
    if (json_object_is_type(ann, json_type_object)) {
        json_object_object_del(ann, LAST_APPLIED_ANNOTATION);
        /* kubectl leaves no empty annotations map behind either. */
        if (json_object_object_length(ann) == 0)
            json_object_object_del(json_object_object_get(c, "metadata"), "annotations");
    }
    return c;
}

json_object *last_applied_modified(const json_object *manifest)
{
    json_object *config = applied_config(manifest), *mod = copy(config), *meta, *ann;
    strbuf text = STRBUF_INIT;

    if (!json_object_is_type(mod, json_type_object))
        goto out;
    cjson_canonical(config, &text);
    meta = json_object_object_get(mod, "metadata");
    if (!json_object_is_type(meta, json_type_object)) {
        meta = json_object_new_object();
        json_object_object_add(mod, "metadata", meta);
    }
    ann = json_object_object_get(meta, "annotations");
    if (!json_object_is_type(ann, json_type_object)) {
        ann = json_object_new_object();
        json_object_object_add(meta, "annotations", ann);
    }
    json_object_object_add(ann, LAST_APPLIED_ANNOTATION,
                           json_object_new_string_len(strbuf_str(&text), (int)text.len));
out:
    strbuf_release(&text);
    json_object_put(config);
    return mod;
}

json_object *last_applied_get(const json_object *obj)
{
    const json_object *ann = cjson_get(obj, "metadata.annotations");
    json_object *v, *parsed;

    if (!json_object_is_type(ann, json_type_object) ||
        !json_object_object_get_ex(ann, LAST_APPLIED_ANNOTATION, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    parsed = json_tokener_parse(json_object_get_string(v));
    if (!json_object_is_type(parsed, json_type_object)) {
        json_object_put(parsed);
        return NULL;
    }
    return parsed;
}

/* Map keys are kept where the source has them; list items by position. */
json_object *merge_patch_given_fields(json_object *decoded, const ynode *src)
{
    json_object *out;

    if (!src)
        return NULL;
    if (src->kind == YNODE_MAP && json_object_is_type(decoded, json_type_object)) {
        out = json_object_new_object();
        for (size_t i = 0; i < src->n; i++) {
            json_object *v = NULL;

            if (json_object_object_get_ex(decoded, src->pairs[i].key, &v))
                json_object_object_add(out, src->pairs[i].key,
                                       merge_patch_given_fields(v, src->pairs[i].value));
        }
        return out;
    }
    if (src->kind == YNODE_SEQ && json_object_is_type(decoded, json_type_array)) {
        out = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(decoded); i++)
            json_object_array_add(out,
                                  merge_patch_given_fields(json_object_array_get_idx(decoded, i),
                                                           i < src->n ? src->items[i] : NULL));
        return out;
    }
    return json_object_get(decoded); /* a scalar, or a value the schema reshaped */
}
