/*
 * schema: load the CRDs into a schema_set and decode documents with them.
 *
 * A CRD is checked as Kubernetes would check it for what omlop relies on
 * (group, scope, one served+storage version v1alpha1, names, a structural
 * schema), its openAPIV3Schema compiled (schema_node.h) with the shared
 * metadata schema (schema_meta.h) spliced in, and its defaults validated, so a
 * broken CRD fails at start-up with the file and field named.
 *
 * A schema_set never changes after loading: any number of threads may decode
 * with one set at once (regexec on a shared compiled pattern is thread-safe).
 */
#include "crds/schema.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crds/crd_embed.h"
#include "crds/rules.h"
#include "crds/schema_decode.h"
#include "crds/schema_meta.h"
#include "crds/schema_node.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

/* CRD files are small; this bounds a wrong file passed to --crds-dir. */
#define CRD_MAX_BYTES   (1024 * 1024)
#define MAX_SHORT_NAMES 8

typedef struct kind_entry {
    kind_info info; /* strings borrowed from crd */
    const char *short_names[MAX_SHORT_NAMES];
    json_object *crd;
    snode *root;
} kind_entry;

struct schema_set {
    kind_entry *kinds;
    size_t n, cap;
    snode *meta; /* shared by every kind's root "metadata" property */
    json_object *meta_json;
};

static schema_set *set_alloc(omlop_err *err)
{
    schema_set *set = xcalloc(1, sizeof(*set));

    if (schema_meta_compile(&set->meta, &set->meta_json, err) < 0) {
        free(set);
        return NULL;
    }
    return set;
}

void schema_set_free(schema_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++) {
        snode_free(set->kinds[i].root);
        json_object_put(set->kinds[i].crd);
    }
    free(set->kinds);
    snode_free(set->meta);
    json_object_put(set->meta_json);
    free(set);
}

static const char *want_string(const json_object *crd, const char *path, const char *file,
                               omlop_err *err)
{
    const char *s = cjson_get_string(crd, path);

    if (!s || !*s)
        omlop_err_set(err, OMLOP_EINVAL, "%s: %s must be a non-empty string", file, path);
    return s && *s ? s : NULL;
}

static int want_equal(const json_object *crd, const char *path, const char *expected,
                      const char *file, omlop_err *err)
{
    const char *s = cjson_get_string(crd, path);

    if (!s || strcmp(s, expected) != 0)
        return omlop_err_set(err, OMLOP_EINVAL, "%s: %s must be %s, got %s", file, path, expected,
                             s ? s : "nothing");
    return 0;
}

/* The parts of a CRD omlop relies on, checked before anything reads them. */
static int check_crd_shape(const json_object *crd, const char *file, json_object **version,
                           omlop_err *err)
{
    json_object *versions = cjson_get(crd, "spec.versions");
    const char *plural;
    strbuf name = STRBUF_INIT;
    int rc;

    if ((rc = want_equal(crd, "apiVersion", "apiextensions.k8s.io/v1", file, err)) < 0 ||
        (rc = want_equal(crd, "kind", "CustomResourceDefinition", file, err)) < 0 ||
        (rc = want_equal(crd, "spec.group", OMLOP_GROUP, file, err)) < 0 ||
        (rc = want_equal(crd, "spec.scope", "Cluster", file, err)) < 0)
        return rc;
    if (!want_string(crd, "spec.names.kind", file, err) ||
        !want_string(crd, "spec.names.listKind", file, err) ||
        !want_string(crd, "spec.names.singular", file, err) ||
        !(plural = want_string(crd, "spec.names.plural", file, err)))
        return OMLOP_EINVAL;
    strbuf_addf(&name, "%s.%s", plural, OMLOP_GROUP);
    rc = want_equal(crd, "metadata.name", name.buf, file, err);
    strbuf_release(&name);
    if (rc < 0)
        return rc;
    if (!versions || !json_object_is_type(versions, json_type_array) ||
        json_object_array_length(versions) != 1)
        return omlop_err_set(err, OMLOP_EINVAL, "%s: spec.versions must list exactly one version",
                             file);
    *version = json_object_array_get_idx(versions, 0);
    if ((rc = want_equal(*version, "name", OMLOP_VERSION, file, err)) < 0)
        return omlop_err_prefix(err, "spec.versions[0]: ");
    if (!json_object_get_boolean(cjson_get(*version, "served")) ||
        !json_object_get_boolean(cjson_get(*version, "storage")))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "%s: spec.versions[0] must be served: true and storage: true", file);
    if (!cjson_get(*version, "schema.openAPIV3Schema"))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "%s: spec.versions[0].schema.openAPIV3Schema is missing", file);
    return 0;
}

static int fill_names(kind_entry *e, const char *file, omlop_err *err)
{
    json_object *shorts = cjson_get(e->crd, "spec.names.shortNames");
    json_object *version = json_object_array_get_idx(cjson_get(e->crd, "spec.versions"), 0);

    e->info.kind = cjson_get_string(e->crd, "spec.names.kind");
    e->info.list_kind = cjson_get_string(e->crd, "spec.names.listKind");
    e->info.plural = cjson_get_string(e->crd, "spec.names.plural");
    e->info.singular = cjson_get_string(e->crd, "spec.names.singular");
    e->info.short_names = e->short_names;
    e->info.has_status = cjson_get(version, "subresources.status") != NULL;
    if (!shorts)
        return 0;
    if (!json_object_is_type(shorts, json_type_array) ||
        json_object_array_length(shorts) > MAX_SHORT_NAMES)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "%s: spec.names.shortNames must be a list of at most %d names", file,
                             MAX_SHORT_NAMES);
    for (size_t i = 0; i < json_object_array_length(shorts); i++) {
        json_object *s = json_object_array_get_idx(shorts, i);

        if (!json_object_is_type(s, json_type_string))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "%s: spec.names.shortNames[%zu] must be a "
                                 "string",
                                 file, i);
        e->short_names[e->info.n_short_names++] = json_object_get_string(s);
    }
    return 0;
}

/* Compile the kind's schema, splice in the shared metadata schema, check its defaults. */
static int compile_root(schema_set *set, kind_entry *e, const char *file, omlop_err *err)
{
    json_object *schema = cjson_get(
        json_object_array_get_idx(cjson_get(e->crd, "spec.versions"), 0), "schema.openAPIV3Schema");
    strbuf where = STRBUF_INIT;
    int rc;

    strbuf_addf(&where, "%s: openAPIV3Schema", file);
    rc = snode_compile(schema, where.buf, &e->root, err);
    if (rc < 0)
        goto out;
    if (e->root->type != SNODE_OBJECT || !snode_prop_get(e->root, "apiVersion") ||
        !snode_prop_get(e->root, "kind") || !snode_prop_get(e->root, "metadata")) {
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "%s: must be an object with properties apiVersion, kind and metadata",
                           where.buf);
        goto out;
    }
    snode_prop_borrow(e->root, "metadata", set->meta);
    /*
     * A Secret's values must never reach a message (omlctl validate, apply, the
     * API's 422 causes). The schema language has no keyword for it that
     * Kubernetes would accept in a CRD, so the kind is named here.
     */
    if (strcmp(e->info.kind, "Secret") == 0) {
        static const char *const secret_fields[] = {"data", "stringData"};

        for (size_t i = 0; i < sizeof(secret_fields) / sizeof(secret_fields[0]); i++) {
            snode *f = (snode *)snode_prop_get(e->root, secret_fields[i]);

            if (f)
                f->is_sensitive = 1;
        }
    }
    rc = schema_check_defaults(e->root, where.buf, err);
out:
    strbuf_release(&where);
    return rc;
}

/* Add one parsed CRD (taking crd) to set. */
static int add_crd(schema_set *set, json_object *crd, const char *file, omlop_err *err)
{
    json_object *version = NULL;
    kind_entry *e;
    int rc;

    rc = check_crd_shape(crd, file, &version, err);
    if (rc < 0) {
        json_object_put(crd);
        return rc;
    }
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 8;
        kind_entry *p = xrealloc(set->kinds, cap * sizeof(*p));

        set->kinds = p;
        set->cap = cap;
    }
    e = &set->kinds[set->n];
    memset(e, 0, sizeof(*e));
    e->crd = crd;
    set->n++; /* owned by the set from here on, so schema_set_free releases it on error */
    if ((rc = fill_names(e, file, err)) < 0 || (rc = compile_root(set, e, file, err)) < 0)
        return rc;
    for (size_t i = 0; i + 1 < set->n; i++) {
        if (strcmp(set->kinds[i].info.kind, e->info.kind) == 0)
            return omlop_err_set(err, OMLOP_EINVAL, "%s: kind %s is defined twice", file,
                                 e->info.kind);
    }
    return 0;
}

/* Parse one CRD file's text (one or more documents) into set. */
static int load_buffer(schema_set *set, const char *file, const char *data, size_t len,
                       omlop_err *err)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *diags = diag_list_new();
    yaml_limits limits;
    int rc = 0;

    yaml_limits_default(&limits);
    if (yaml_load_buffer(file, data, len, &limits, &docs, diags) < 0 ||
        diag_list_count(diags) > 0) {
        strbuf msg = STRBUF_INIT;

        if (diag_list_count(diags) > 0)
            diag_format(diag_list_at(diags, 0), &msg);
        rc = omlop_err_set(err, OMLOP_EINVAL, "%s", msg.len ? msg.buf : file);
        strbuf_release(&msg);
        goto out;
    }
    for (size_t i = 0; i < docs.n && rc == 0; i++)
        rc = add_crd(set, ynode_to_json_core(docs.docs[i].root), file, err);
out:
    ydoc_list_release(&docs);
    diag_list_free(diags);
    return rc;
}

int schema_set_new_builtin(schema_set **out, omlop_err *err)
{
    schema_set *set;
    int rc = 0;

    *out = NULL;
    if (crd_embedded_count == 0)
        return omlop_err_set(err, OMLOP_EINTERNAL, "no CRDs were compiled in (crds/*.yaml)");
    set = set_alloc(err);
    if (!set)
        return err ? err->code : OMLOP_EINTERNAL;
    for (size_t i = 0; i < crd_embedded_count && rc == 0; i++) {
        strbuf file = STRBUF_INIT;

        strbuf_addf(&file, "crds/%s", crd_embedded[i].name);
        rc = load_buffer(set, file.buf, crd_embedded[i].data, crd_embedded[i].len, err);
        strbuf_release(&file);
    }
    if (rc < 0) {
        schema_set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

static int has_yaml_suffix(const char *name)
{
    size_t n = strlen(name);

    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int schema_set_new_from_dir(const char *dir, schema_set **out, omlop_err *err)
{
    DIR *d = opendir(dir);
    struct dirent *ent;
    char **names = NULL;
    size_t n = 0, cap = 0;
    schema_set *set = NULL;
    strbuf path = STRBUF_INIT, data = STRBUF_INIT;
    int rc = 0;

    *out = NULL;
    if (!d)
        return omlop_err_set(err, OMLOP_ENOTFOUND, "CRD directory %s cannot be opened", dir);
    while ((ent = readdir(d)) != NULL) {
        if (!has_yaml_suffix(ent->d_name))
            continue;
        if (n == cap) {
            char **p;

            cap = cap ? cap * 2 : 8;
            p = xrealloc(names, cap * sizeof(*p));
            names = p;
        }
        names[n] = xstrdup(ent->d_name);
        if (!names[n++])
            abort();
    }
    closedir(d);
    if (n == 0) {
        rc = omlop_err_set(err, OMLOP_ENOTFOUND, "no CRD files (*.yaml) in %s", dir);
        goto out;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    set = set_alloc(err);
    if (!set) {
        rc = err ? err->code : OMLOP_EINTERNAL;
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        strbuf_reset(&path);
        strbuf_reset(&data);
        strbuf_addf(&path, "%s/%s", dir, names[i]);
        rc = strbuf_read_file(&data, path.buf, CRD_MAX_BYTES, err);
        if (rc == 0)
            rc = load_buffer(set, path.buf, strbuf_str(&data), data.len, err);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    strbuf_release(&path);
    strbuf_release(&data);
    if (rc < 0) {
        schema_set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

size_t schema_set_kind_count(const schema_set *set)
{
    return set->n;
}

const kind_info *schema_set_kind_at(const schema_set *set, size_t i)
{
    return i < set->n ? &set->kinds[i].info : NULL;
}

static const kind_entry *find_entry(const schema_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++) {
        const kind_info *k = &set->kinds[i].info;

        if (strcasecmp(name, k->kind) == 0 || strcasecmp(name, k->plural) == 0 ||
            strcasecmp(name, k->singular) == 0)
            return &set->kinds[i];
        for (size_t j = 0; j < k->n_short_names; j++) {
            if (strcasecmp(name, k->short_names[j]) == 0)
                return &set->kinds[i];
        }
    }
    return NULL;
}

const kind_info *schema_set_find_kind(const schema_set *set, const char *name)
{
    const kind_entry *e = find_entry(set, name);

    return e ? &e->info : NULL;
}

const json_object *schema_set_crd(const schema_set *set, const char *kind)
{
    const kind_entry *e = find_entry(set, kind);

    return e ? e->crd : NULL;
}

const json_object *schema_set_crd_version(const schema_set *set, const char *kind)
{
    const json_object *crd = schema_set_crd(set, kind);
    json_object *versions = crd ? cjson_get(crd, "spec.versions") : NULL;
    json_object *chosen = NULL;

    if (!versions || !json_object_is_type(versions, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(versions); i++) {
        json_object *v = json_object_array_get_idx(versions, i);
        const char *name = cjson_get_string(v, "name");

        if (!chosen || (name && strcmp(name, OMLOP_VERSION) == 0))
            chosen = v;
    }
    return chosen;
}

/* A scalar's text, or NULL for anything else. */
static const char *scalar_text(const ynode *n)
{
    return n && n->kind == YNODE_SCALAR ? n->value : NULL;
}

/* Check apiVersion and kind; the kind's entry, or NULL (with diags) when unusable. */
static const kind_entry *doc_kind(const schema_set *set, const ynode *doc, const char *file,
                                  diag_list *diags)
{
    const ynode *av = ynode_map_get(doc, "apiVersion");
    const ynode *kn = ynode_map_get(doc, "kind");
    const char *kind = scalar_text(kn);
    const kind_entry *e = NULL;

    if (!av)
        diag_add(diags, file, doc->line, doc->col, "apiVersion",
                 "required field is missing (omlop kinds use " OMLOP_API_VERSION ")");
    else if (!scalar_text(av) || strcmp(av->value, OMLOP_API_VERSION) != 0)
        diag_add(diags, file, av->line, av->col, "apiVersion",
                 "unsupported apiVersion \"%s\"; omlop kinds use " OMLOP_API_VERSION,
                 scalar_text(av) ? av->value : "(not a string)");
    if (!kn) {
        diag_add(diags, file, doc->line, doc->col, "kind", "required field is missing");
        return NULL;
    }
    for (size_t i = 0; kind && i < set->n && !e; i++) {
        if (strcmp(kind, set->kinds[i].info.kind) == 0)
            e = &set->kinds[i];
    }
    if (!e) {
        const char **names = xcalloc(set->n ? set->n : 1, sizeof(*names));
        strbuf known = STRBUF_INIT;
        const char *hint;

        for (size_t i = 0; i < set->n; i++) {
            names[i] = set->kinds[i].info.kind;
            strbuf_addf(&known, "%s%s", i ? ", " : "", names[i]);
        }
        hint = kind ? schema_suggest(kind, names, set->n) : NULL;
        if (hint)
            diag_add(diags, file, kn->line, kn->col, "kind",
                     "unknown kind \"%s\"; did you mean '%s'?", kind, hint);
        else
            diag_add(diags, file, kn->line, kn->col, "kind", "unknown kind \"%s\"; known kinds: %s",
                     kind ? kind : "(not a string)", known.buf);
        strbuf_release(&known);
        free(names);
    }
    return e;
}

/* Whether a diag from index from on has exactly this path. */
static int has_diag_at(const diag_list *diags, size_t from, const char *path)
{
    for (size_t i = from; i < diag_list_count(diags); i++) {
        const diag *d = diag_list_at(diags, i);

        if (d->path && strcmp(d->path, path) == 0)
            return 1;
    }
    return 0;
}

int schema_set_decode(const schema_set *set, const ynode *doc, const char *file, json_object **out,
                      diag_list *diags)
{
    size_t before = diag_list_count(diags);
    const kind_entry *e;
    json_object *obj = NULL;

    *out = NULL;
    if (!doc || doc->kind != YNODE_MAP) {
        diag_add(diags, file, doc ? doc->line : 0, doc ? doc->col : 0, NULL,
                 "a document must be a map with apiVersion, kind, metadata and the kind's "
                 "fields");
        return OMLOP_EINVAL;
    }
    e = doc_kind(set, doc, file, diags);
    if (!e)
        return OMLOP_EINVAL;
    schema_decode(e->root, doc, file, "", diags, &obj);
    /* CRDs cannot require metadata; every stored object needs a name, so ask here. */
    if (obj && !json_object_object_get_ex(obj, "metadata", NULL) &&
        !has_diag_at(diags, before, "metadata"))
        diag_add(diags, file, doc->line, doc->col, "metadata",
                 "required field is missing (at least metadata.name)");
    if (diag_list_count(diags) == before)
        rules_check(e->info.kind, obj, doc, file, diags);
    if (diag_list_count(diags) != before) {
        json_object_put(obj);
        return OMLOP_EINVAL;
    }
    *out = obj;
    return 0;
}

int schema_set_decode_json(const schema_set *set, const json_object *obj, json_object **out,
                           diag_list *diags)
{
    ynode *doc = ynode_from_json(obj);
    int rc = schema_set_decode(set, doc, NULL, out, diags);

    ynode_free(doc);
    return rc;
}
