/* api_fields: unknown-field pruning and schema-typed YAML conversion of request bodies. */
#include "api_fields.h"

#include <stdlib.h>
#include <string.h>

#include "crds/ynode.h"
#include "lib/cjson.h"
#include "lib/xalloc.h"

/* The Kubernetes ObjectMeta fields a client may send (the server owns some of them). */
static const char *const object_meta_fields[] = {"name",
                                                 "generateName",
                                                 "namespace",
                                                 "selfLink",
                                                 "uid",
                                                 "resourceVersion",
                                                 "generation",
                                                 "creationTimestamp",
                                                 "deletionTimestamp",
                                                 "deletionGracePeriodSeconds",
                                                 "labels",
                                                 "annotations",
                                                 "ownerReferences",
                                                 "finalizers",
                                                 "managedFields",
                                                 NULL};

const json_object *api_fields_schema(const schema_set *set, const char *kind)
{
    const json_object *v = schema_set_crd_version(set, kind);

    return v ? cjson_get(v, "schema.openAPIV3Schema") : NULL;
}

static int is_true(const json_object *o, const char *key)
{
    json_object *v = json_object_object_get((json_object *)o, key);

    return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* The schema of a map value under key: a declared property, additionalProperties, or NULL. */
static const json_object *child_schema(const json_object *schema, const char *key, int *known)
{
    json_object *props, *addl, *p;

    *known = 0;
    if (!schema)
        return NULL;
    if (json_object_object_get_ex((json_object *)schema, "properties", &props) &&
        json_object_object_get_ex(props, key, &p)) {
        *known = 1;
        return p;
    }
    if (json_object_object_get_ex((json_object *)schema, "additionalProperties", &addl)) {
        if (json_object_is_type(addl, json_type_object)) {
            *known = 1;
            return addl;
        }
        if (json_object_is_type(addl, json_type_boolean) && json_object_get_boolean(addl)) {
            *known = 1;
            return NULL;
        }
    }
    if (is_true(schema, "x-kubernetes-preserve-unknown-fields"))
        *known = 1;
    return NULL;
}

static const json_object *items_schema(const json_object *schema)
{
    json_object *items;

    if (schema && json_object_object_get_ex((json_object *)schema, "items", &items) &&
        json_object_is_type(items, json_type_object))
        return items;
    return NULL;
}

static int prune(json_object *v, const json_object *schema, strbuf *path, strbuf *unknown);

static int prune_meta(json_object *meta, strbuf *path, strbuf *unknown)
{
    const char *drop[64];
    size_t n = 0;
    int count = 0;

    if (!json_object_is_type(meta, json_type_object))
        return 0;
    json_object_object_foreach(meta, key, value)
    {
        int found = 0;

        (void)value;
        for (size_t i = 0; object_meta_fields[i]; i++)
            if (strcmp(key, object_meta_fields[i]) == 0)
                found = 1;
        if (!found && n < sizeof(drop) / sizeof(drop[0]))
            drop[n++] = key;
    }
    for (size_t i = 0; i < n; i++) {
        size_t mark = path->len;

        ynode_path_append_key(path, drop[i]);
        strbuf_add(unknown, path->buf, path->len);
        strbuf_addch(unknown, '\n');
        strbuf_setlen(path, mark);
        json_object_object_del(meta, drop[i]);
        count++;
    }
    return count;
}

static int prune_object(json_object *v, const json_object *schema, strbuf *path, strbuf *unknown)
{
    int count = 0;
    size_t n_drop = 0, cap = 0;
    char **drop = NULL;

    if (!schema)
        return 0; /* nothing declared here: nothing to judge */
    json_object_object_foreach(v, key, value)
    {
        size_t mark = path->len;
        int known;
        const json_object *cs = child_schema(schema, key, &known);

        ynode_path_append_key(path, key);
        if (!known) {
            if (n_drop == cap) {
                cap = cap ? cap * 2 : 8;
                drop = xrealloc(drop, cap * sizeof(*drop));
            }
            drop[n_drop++] = key;
            strbuf_add(unknown, path->buf, path->len);
            strbuf_addch(unknown, '\n');
            count++;
        } else if (path->len == 8 && strcmp(path->buf, "metadata") == 0) {
            count += prune_meta(value, path, unknown);
        } else if (value && cs) {
            count += prune(value, cs, path, unknown);
        }
        strbuf_setlen(path, mark);
    }
    for (size_t i = 0; i < n_drop; i++)
        json_object_object_del(v, drop[i]);
    free(drop);
    return count;
}

static int prune(json_object *v, const json_object *schema, strbuf *path, strbuf *unknown)
{
    int count = 0;

    if (json_object_is_type(v, json_type_object))
        return prune_object(v, schema, path, unknown);
    if (json_object_is_type(v, json_type_array)) {
        const json_object *is = items_schema(schema);

        for (size_t i = 0; is && i < json_object_array_length(v); i++) {
            size_t mark = path->len;

            ynode_path_append_index(path, i);
            count += prune(json_object_array_get_idx(v, i), is, path, unknown);
            strbuf_setlen(path, mark);
        }
    }
    return count;
}

int api_fields_prune_unknown(json_object *obj, const json_object *schema, strbuf *unknown)
{
    strbuf path = STRBUF_INIT;
    int count;

    if (!schema || !json_object_is_type(obj, json_type_object))
        return 0;
    count = prune(obj, schema, &path, unknown);
    strbuf_release(&path);
    return count;
}

static const char *schema_type(const json_object *schema)
{
    return schema ? cjson_get_string(schema, "type") : NULL;
}

json_object *api_fields_from_yaml(const ynode *n, const json_object *schema)
{
    json_object *o, *core;
    const char *type;

    if (!n)
        return NULL;
    switch (n->kind) {
    case YNODE_SCALAR:
        core = ynode_to_json_core(n);
        type = schema_type(schema);
        /*
         * A plain scalar where the schema wants a string stays the text as
         * written (tag: 240201.01, infraEnv: on); null stays null; an explicit
         * tag decides over the schema.
         */
        if (type && strcmp(type, "string") == 0 && n->is_plain && !n->tag && core &&
            !json_object_is_type(core, json_type_string)) {
            json_object_put(core);
            return json_object_new_string_len(n->value, (int)n->len);
        }
        return core;
    case YNODE_MAP:
        o = json_object_new_object();
        for (size_t i = 0; i < n->n; i++) {
            int known;
            const json_object *cs = child_schema(schema, n->pairs[i].key, &known);

            json_object_object_add(o, n->pairs[i].key, api_fields_from_yaml(n->pairs[i].value, cs));
        }
        return o;
    case YNODE_SEQ:
        o = json_object_new_array_ext((int)(n->n ? n->n : 1));
        for (size_t i = 0; i < n->n; i++)
            json_object_array_add(o, api_fields_from_yaml(n->items[i], items_schema(schema)));
        return o;
    }
    return NULL;
}
