/* schema_meta: the ObjectMeta schema and the checks keywords cannot express. */
#include "crds/schema_meta.h"

#include <string.h>

#include "crds/schema_format.h"
#include "lib/strbuf.h"

/* Kept as JSON text rather than YAML so it needs no loader to compile. */
static const char meta_schema[] =
    "{\"type\": \"object\","
    " \"description\": \"Standard object metadata, as Kubernetes ObjectMeta. Only name is set "
    "by users as a rule; the API server fills uid, resourceVersion, generation and the "
    "timestamps.\","
    " \"required\": [\"name\"],"
    " \"properties\": {"
    "  \"name\": {\"type\": \"string\","
    "   \"description\": \"Unique name of the object within its kind: a DNS-1123 label (at "
    "most 63 lowercase letters, digits and '-', starting and ending alphanumeric).\"},"
    "  \"namespace\": {\"type\": \"string\","
    "   \"description\": \"Not used: every omlop kind is cluster-scoped. Must be absent or "
    "empty.\"},"
    "  \"labels\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\","
    "   \"description\": \"A label value: empty or at most 63 of [A-Za-z0-9._-], starting and "
    "ending alphanumeric.\"},"
    "   \"description\": \"Key/value pairs for selecting objects. Keys are qualified names: an "
    "optional DNS subdomain prefix and '/', then at most 63 of [A-Za-z0-9._-].\"},"
    "  \"annotations\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\","
    "   \"description\": \"An annotation value: any text.\"},"
    "   \"description\": \"Free-form key/value data for tools. Keys are qualified names, as "
    "for labels; keys and values together at most 256 KiB.\"},"
    "  \"uid\": {\"type\": \"string\", \"maxLength\": 128,"
    "   \"description\": \"Unique id of this object for its whole life, set by the API "
    "server.\"},"
    "  \"resourceVersion\": {\"type\": \"string\", \"maxLength\": 64,"
    "   \"description\": \"Version of the object in the store, set by the API server; an "
    "update that carries it fails if the object changed since (optimistic concurrency).\"},"
    "  \"generation\": {\"type\": \"integer\", \"minimum\": 0,"
    "   \"description\": \"Sequence number of spec changes, set by the API server.\"},"
    "  \"creationTimestamp\": {\"type\": \"string\", \"format\": \"date-time\","
    "   \"description\": \"When the object was created, set by the API server.\"},"
    "  \"deletionTimestamp\": {\"type\": \"string\", \"format\": \"date-time\","
    "   \"description\": \"When deletion was requested; the object goes once its finalizers "
    "are removed. Set by the API server.\"},"
    "  \"finalizers\": {\"type\": \"array\", \"maxItems\": 32,"
    "   \"items\": {\"type\": \"string\", \"description\": \"A qualified name, e.g. "
    "omlop.io/cleanup.\"},"
    "   \"description\": \"Names of cleanups that must finish before the object is deleted.\"},"
    "  \"ownerReferences\": {\"type\": \"array\", \"maxItems\": 16,"
    "   \"description\": \"Objects this one belongs to; it is deleted with its owner.\","
    "   \"items\": {\"type\": \"object\", \"required\": [\"apiVersion\", \"kind\", \"name\", "
    "\"uid\"],"
    "    \"description\": \"One owner.\","
    "    \"properties\": {"
    "     \"apiVersion\": {\"type\": \"string\", \"description\": \"API version of the "
    "owner.\"},"
    "     \"kind\": {\"type\": \"string\", \"description\": \"Kind of the owner.\"},"
    "     \"name\": {\"type\": \"string\", \"description\": \"Name of the owner.\"},"
    "     \"uid\": {\"type\": \"string\", \"description\": \"uid of the owner.\"},"
    "     \"controller\": {\"type\": \"boolean\", \"description\": \"Whether the owner manages "
    "this object.\"},"
    "     \"blockOwnerDeletion\": {\"type\": \"boolean\", \"description\": \"Whether deleting "
    "the owner waits for this object to go first.\"}"
    "    }}}"
    " }}";

json_object *schema_meta_schema_json(void)
{
    return json_tokener_parse(meta_schema);
}

/* Append path + key (in ynode path syntax) to out. */
static void key_path(strbuf *out, const char *path, const char *key)
{
    strbuf_adds(out, path);
    ynode_path_append_key(out, key);
}

static void check_name(const json_object *value, const ynode *node, const char *file,
                       const char *path, diag_list *diags)
{
    const char *name = json_object_get_string((json_object *)value);

    /* Said in words: the regex would not tell a user that "Tenant_1" fails on case and '_'. */
    if (!schema_format_is_dns_label(name) ||
        (size_t)json_object_get_string_len(value) != strlen(name))
        diag_add(diags, file, node->line, node->col, path,
                 "invalid name \"%s\": must be a DNS-1123 label: at most 63 lowercase letters, "
                 "digits and '-', starting and ending with a letter or digit",
                 name);
}

static void check_namespace(const json_object *value, const ynode *node, const char *file,
                            const char *path, diag_list *diags)
{
    if (json_object_get_string_len(value) > 0)
        diag_add(diags, file, node->line, node->col, path,
                 "omlop kinds are cluster-scoped: remove the namespace");
}

/* Check each key of a label or annotation map; labels also check values. */
static void check_keys(const ynode *node, const char *file, const char *path, diag_list *diags,
                       int is_labels)
{
    strbuf p = STRBUF_INIT;

    for (size_t i = 0; i < node->n; i++) {
        const ynode_pair *pair = &node->pairs[i];
        const char *why = NULL;

        strbuf_reset(&p);
        key_path(&p, path, pair->key);
        if (!schema_format_is_qualified_name(pair->key, &why))
            diag_add(diags, file, pair->line, pair->col, p.buf, "invalid key: %s", why);
        if (is_labels && pair->value->kind == YNODE_SCALAR &&
            !schema_format_is_label_value(pair->value->value))
            diag_add(diags, file, pair->value->line, pair->value->col, p.buf,
                     "invalid label value: must be empty or at most 63 characters of letters, "
                     "digits, '-', '_' or '.', starting and ending with a letter or digit");
    }
    strbuf_release(&p);
}

static void check_labels(const json_object *value, const ynode *node, const char *file,
                         const char *path, diag_list *diags)
{
    (void)value;
    check_keys(node, file, path, diags, 1);
}

static void check_annotations(const json_object *value, const ynode *node, const char *file,
                              const char *path, diag_list *diags)
{
    size_t total = 0;

    check_keys(node, file, path, diags, 0);
    json_object_object_foreach((json_object *)value, key, val)
    {
        total += strlen(key) + (size_t)json_object_get_string_len(val);
    }
    if (total > SCHEMA_META_ANNOTATIONS_MAX)
        diag_add(diags, file, node->line, node->col, path,
                 "annotations total %zu bytes; at most %d allowed", total,
                 SCHEMA_META_ANNOTATIONS_MAX);
}

static void check_finalizers(const json_object *value, const ynode *node, const char *file,
                             const char *path, diag_list *diags)
{
    strbuf p = STRBUF_INIT;

    for (size_t i = 0; i < json_object_array_length(value) && i < node->n; i++) {
        const char *f = json_object_get_string(json_object_array_get_idx(value, i));
        const char *why = NULL;

        if (schema_format_is_qualified_name(f, &why))
            continue;
        strbuf_reset(&p);
        strbuf_adds(&p, path);
        ynode_path_append_index(&p, i);
        diag_add(diags, file, node->items[i]->line, node->items[i]->col, p.buf,
                 "invalid finalizer: %s", why);
    }
    strbuf_release(&p);
}

/* Attach fn to the property name, which the schema above defines. */
static void set_check(snode *n, const char *name, snode_check_fn fn)
{
    for (size_t i = 0; i < n->n_props; i++) {
        if (strcmp(n->props[i].name, name) == 0)
            n->props[i].schema->check = fn;
    }
}

int schema_meta_compile(snode **out, json_object **json_out, omlop_err *err)
{
    json_object *json = schema_meta_schema_json();
    snode *n = NULL;
    int rc;

    *out = NULL;
    *json_out = NULL;
    if (!json)
        return omlop_err_set(err, OMLOP_EINTERNAL, "metadata schema: built-in JSON is invalid");
    rc = snode_compile(json, "metadata schema", &n, err);
    if (rc < 0) {
        json_object_put(json);
        return rc;
    }
    set_check(n, "name", check_name);
    set_check(n, "namespace", check_namespace);
    set_check(n, "labels", check_labels);
    set_check(n, "annotations", check_annotations);
    set_check(n, "finalizers", check_finalizers);
    *out = n;
    *json_out = json;
    return 0;
}
