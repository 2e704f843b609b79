/*
 * Tests over the shipped files: every example in crds/examples validates with no
 * diag, one Tenant per layout exists, normalizing is idempotent, and every CRD
 * property carries a description (docs/reference.md is generated from them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crds/schema.h"
#include "crds/schema_files.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "unit-tests/crds/crds_harness.h"

static void src_path(strbuf *out, const char *rel)
{
    const char *src = getenv("OMLOP_SRCDIR");

    strbuf_reset(out);
    strbuf_addf(out, "%s/%s", src ? src : ".", rel);
}

static void test_every_example_validates(void **state)
{
    const schema_set *set = *state;
    strbuf dir = STRBUF_INIT, msg = STRBUF_INIT;
    schema_doc_list docs = SCHEMA_DOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    int layouts[3] = {0, 0, 0};
    size_t files = 0;
    DIR *d;
    struct dirent *ent;

    src_path(&dir, "crds/examples");
    d = opendir(dir.buf);
    assert_non_null(d);
    while ((ent = readdir(d)) != NULL)
        files += strstr(ent->d_name, ".yaml") != NULL;
    closedir(d);
    assert_true(files >= 6);
    schema_files_decode(set, dir.buf, &docs, dl);
    diag_list_format(dl, &msg);
    if (diag_list_count(dl) != 0)
        fail_msg("examples do not validate:\n%s", msg.buf);
    assert_true(docs.n >= files);
    for (size_t i = 0; i < docs.n; i++) {
        const char *layout = cjson_get_string(docs.docs[i].obj, "spec.layout");

        assert_non_null(docs.docs[i].obj);
        if (!layout)
            continue;
        layouts[0] += strcmp(layout, "aio") == 0;
        layouts[1] += strcmp(layout, "cluster") == 0;
        layouts[2] += strcmp(layout, "ha") == 0;
    }
    /* One Tenant per layout, as the issue asks, mirroring the reference inventories. */
    assert_int_equal(layouts[0], 1);
    assert_int_equal(layouts[1], 1);
    assert_int_equal(layouts[2], 1);
    schema_doc_list_release(&docs);
    diag_list_free(dl);
    strbuf_release(&dir);
    strbuf_release(&msg);
}

static void test_every_kind_has_an_example(void **state)
{
    const schema_set *set = *state;
    strbuf dir = STRBUF_INIT;
    schema_doc_list docs = SCHEMA_DOC_LIST_INIT;
    diag_list *dl = diag_list_new();

    src_path(&dir, "crds/examples");
    schema_files_decode(set, dir.buf, &docs, dl);
    for (size_t k = 0; k < schema_set_kind_count(set); k++) {
        const char *kind = schema_set_kind_at(set, k)->kind;
        int found = 0;

        /* Events are written by omlop, never by hand. */
        if (strcmp(kind, "Event") == 0)
            continue;
        for (size_t i = 0; i < docs.n && !found; i++)
            found =
                docs.docs[i].obj && strcmp(cjson_get_string(docs.docs[i].obj, "kind"), kind) == 0;
        if (!found)
            fail_msg("no example of kind %s in crds/examples", kind);
    }
    schema_doc_list_release(&docs);
    diag_list_free(dl);
    strbuf_release(&dir);
}

/* The keys omlop reads from the Secret a ref names, when the ref has no "key". */
static const char *const *ref_default_keys(const char *ref)
{
    static const char *const identity[] = {"ssh-privatekey", NULL};
    static const char *const password[] = {"password", NULL};
    static const char *const bucket[] = {"accessKey", "secretKey", NULL};
    static const char *const tls[] = {"tls.crt", "tls.key", NULL};

    if (strcmp(ref, "identitySecretRef") == 0)
        return identity;
    if (strcmp(ref, "passwordSecretRef") == 0)
        return password;
    if (strcmp(ref, "credentialsSecretRef") == 0)
        return bucket;
    if (strcmp(ref, "secretRef") == 0)
        return tls;
    return NULL;
}

/* Whether the example Secret name has key (in data or stringData). */
static int secret_has_key(const schema_doc_list *docs, const char *name, const char *key)
{
    for (size_t i = 0; i < docs->n; i++) {
        const json_object *o = docs->docs[i].obj;
        const char *kind = cjson_get_string(o, "kind"), *n = cjson_get_string(o, "metadata.name");

        if (!kind || strcmp(kind, "Secret") != 0 || !n || strcmp(n, name) != 0)
            continue;
        return json_object_object_get_ex(cjson_get(o, "data"), key, NULL) ||
               json_object_object_get_ex(cjson_get(o, "stringData"), key, NULL);
    }
    return -1;
}

/* Walk obj; every "...SecretRef" or "secretRef" must name an example Secret with its keys. */
static void check_refs(const schema_doc_list *docs, const json_object *obj, const char *path,
                       strbuf *missing, size_t *n_refs)
{
    strbuf sub = STRBUF_INIT;

    if (json_object_is_type(obj, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(obj); i++) {
            strbuf_reset(&sub);
            strbuf_addf(&sub, "%s[%zu]", path, i);
            check_refs(docs, json_object_array_get_idx(obj, i), sub.buf, missing, n_refs);
        }
    } else if (json_object_is_type(obj, json_type_object)) {
        json_object_object_foreach((json_object *)obj, key, val)
        {
            size_t kl = strlen(key);

            strbuf_reset(&sub);
            strbuf_addf(&sub, "%s.%s", path, key);
            if (strcmp(key, "secretRef") == 0 ||
                (kl > 9 && strcmp(key + kl - 9, "SecretRef") == 0)) {
                const char *name = cjson_get_string(val, "name");
                const char *one[] = {cjson_get_string(val, "key"), NULL};
                const char *const *keys = one[0] ? one : ref_default_keys(key);

                (*n_refs)++;
                if (!name || !keys) {
                    strbuf_addf(missing, "  %s: no name, or an unknown kind of ref\n", sub.buf);
                    continue;
                }
                for (size_t k = 0; keys[k]; k++) {
                    int has = secret_has_key(docs, name, keys[k]);

                    if (has < 0)
                        strbuf_addf(missing, "  %s: no Secret %s in crds/examples\n", sub.buf,
                                    name);
                    else if (!has)
                        strbuf_addf(missing, "  %s: Secret %s has no key %s\n", sub.buf, name,
                                    keys[k]);
                    if (has < 0)
                        break;
                }
                continue;
            }
            check_refs(docs, val, sub.buf, missing, n_refs);
        }
    }
    strbuf_release(&sub);
}

/* A user who applies crds/examples gets every Secret the example objects name. */
static void test_every_example_secret_ref_resolves(void **state)
{
    const schema_set *set = *state;
    strbuf dir = STRBUF_INIT, missing = STRBUF_INIT;
    schema_doc_list docs = SCHEMA_DOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    size_t n_refs = 0;

    src_path(&dir, "crds/examples");
    schema_files_decode(set, dir.buf, &docs, dl);
    for (size_t i = 0; i < docs.n; i++) {
        strbuf where = STRBUF_INIT;

        const char *kind = cjson_get_string(docs.docs[i].obj, "kind");

        strbuf_addf(&where, "%s %s", docs.docs[i].file,
                    cjson_get_string(docs.docs[i].obj, "metadata.name"));
        if (kind && strcmp(kind, "GitSource") == 0) {
            /* a GitSource's secretRef holds SSH credentials, not a TLS pair */
            const char *name = cjson_get_string(docs.docs[i].obj, "spec.secretRef.name");

            n_refs++;
            if (name && (secret_has_key(&docs, name, "identity") != 1 ||
                         secret_has_key(&docs, name, "knownHostKey") != 1))
                strbuf_addf(&missing, "  %s: Secret %s lacks identity or knownHostKey\n", where.buf,
                            name);
        } else {
            check_refs(&docs, cjson_get(docs.docs[i].obj, "spec"), where.buf, &missing, &n_refs);
        }
        strbuf_release(&where);
    }
    if (missing.len)
        fail_msg("secret refs in the examples that name no example Secret:\n%s", missing.buf);
    /* identity (x3 tenants, cluster has 3 hosts), postgres, ami, tls, bucket */
    assert_true(n_refs >= 10);
    schema_doc_list_release(&docs);
    diag_list_free(dl);
    strbuf_release(&dir);
    strbuf_release(&missing);
}

/* Normalized output, written as YAML and read back, normalizes to itself. */
static void test_normalizing_is_idempotent(void **state)
{
    const schema_set *set = *state;
    strbuf dir = STRBUF_INIT, yaml = STRBUF_INIT;
    schema_doc_list docs = SCHEMA_DOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    omlop_err err = OMLOP_ERR_INIT;

    src_path(&dir, "crds/examples");
    schema_files_decode(set, dir.buf, &docs, dl);
    assert_true(docs.n > 0);
    for (size_t i = 0; i < docs.n; i++) {
        ydoc_list again = YDOC_LIST_INIT;
        json_object *out = NULL;

        strbuf_reset(&yaml);
        assert_int_equal(yaml_emit_json(docs.docs[i].obj, &yaml, &err), 0);
        assert_int_equal(yaml_load_buffer("again", yaml.buf, yaml.len, NULL, &again, dl), 0);
        assert_int_equal(schema_set_decode(set, again.docs[0].root, "again", &out, dl), 0);
        if (!cjson_equal(out, docs.docs[i].obj))
            fail_msg("%s: normalizing twice changes the object:\n%s", docs.docs[i].file, yaml.buf);
        json_object_put(out);
        ydoc_list_release(&again);
    }
    schema_doc_list_release(&docs);
    diag_list_free(dl);
    strbuf_release(&dir);
    strbuf_release(&yaml);
}

/* Walk a schema; count properties without a description into *missing (named in msg). */
static void check_descriptions(const json_object *s, const char *path, strbuf *msg)
{
    json_object *props = cjson_get(s, "properties");
    json_object *items = cjson_get(s, "items");
    json_object *add = cjson_get(s, "additionalProperties");
    strbuf sub = STRBUF_INIT;

    if (!cjson_get_string(s, "description"))
        strbuf_addf(msg, "  %s\n", path);
    if (props) {
        json_object_object_foreach(props, key, val)
        {
            strbuf_reset(&sub);
            strbuf_addf(&sub, "%s.%s", path, key);
            check_descriptions(val, sub.buf, msg);
        }
    }
    if (items) {
        strbuf_reset(&sub);
        strbuf_addf(&sub, "%s[]", path);
        check_descriptions(items, sub.buf, msg);
    }
    if (add && json_object_is_type(add, json_type_object)) {
        strbuf_reset(&sub);
        strbuf_addf(&sub, "%s.*", path);
        check_descriptions(add, sub.buf, msg);
    }
    strbuf_release(&sub);
}

static void test_crds_are_documented_and_complete(void **state)
{
    const schema_set *set = *state;
    strbuf missing = STRBUF_INIT;

    for (size_t k = 0; k < schema_set_kind_count(set); k++) {
        const kind_info *info = schema_set_kind_at(set, k);
        const json_object *crd = schema_set_crd(set, info->kind);
        json_object *version = json_object_array_get_idx(cjson_get(crd, "spec.versions"), 0);
        json_object *cols = cjson_get(version, "additionalPrinterColumns");
        int expect_status =
            strcmp(info->kind, "Tenant") == 0 || strcmp(info->kind, "Backup") == 0 ||
            strcmp(info->kind, "Restore") == 0 || strcmp(info->kind, "GitSource") == 0;

        check_descriptions(cjson_get(version, "schema.openAPIV3Schema"), info->kind, &missing);
        assert_int_equal(info->has_status, expect_status);
        if (!cols || json_object_array_length(cols) < 2)
            fail_msg("%s: additionalPrinterColumns missing", info->kind);
        assert_string_equal(cjson_get_string(crd, "spec.scope"), "Cluster");
        /* Kubernetes forbids preserving unknown fields where omlop promises strictness. */
        assert_null(cjson_get(version, "schema.openAPIV3Schema.properties.spec."
                                       "x-kubernetes-preserve-unknown-fields"));
    }
    if (missing.len)
        fail_msg("properties without a description:\n%s", missing.buf);
    strbuf_release(&missing);
}

#define NOT_YET "Not yet acted on:"

/* The text of every .c file in dir (under the source tree), appended to out. */
static void read_sources(const char *dir, strbuf *out)
{
    strbuf path = STRBUF_INIT;
    struct dirent *ent;
    DIR *d;

    src_path(&path, dir);
    d = opendir(path.buf);
    assert_non_null(d);
    while ((ent = readdir(d)) != NULL) {
        size_t n = strlen(ent->d_name);
        char buf[8192];
        size_t got;
        FILE *f;

        if (n < 3 || strcmp(ent->d_name + n - 2, ".c") != 0)
            continue;
        src_path(&path, dir);
        strbuf_addf(&path, "/%s", ent->d_name);
        f = fopen(path.buf, "r");
        assert_non_null(f);
        while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
            strbuf_add(out, buf, got);
        fclose(f);
    }
    closedir(d);
    strbuf_release(&path);
}

static int is_quoted_in(const strbuf *src, const char *word)
{
    strbuf q = STRBUF_INIT;
    int found;

    strbuf_addf(&q, "\"%s\"", word);
    found = strstr(strbuf_str(src), q.buf) != NULL;
    strbuf_release(&q);
    return found;
}

/*
 * Walk status properties: a field no source of omlopd names (as a string
 * literal) must say NOT_YET, and one that says it must not be named: the
 * marker goes when a writer comes. Children of a marked field are not checked.
 */
static void check_writers(const json_object *s, const char *path, const strbuf *src, strbuf *bad)
{
    json_object *props = cjson_get(s, "properties");
    json_object *items = cjson_get(s, "items.properties");
    strbuf sub = STRBUF_INIT;

    if (!props && items)
        props = items;
    if (!props)
        return;
    json_object_object_foreach(props, key, val)
    {
        const char *desc = cjson_get_string(val, "description");
        int is_marked = desc && strncmp(desc, NOT_YET, strlen(NOT_YET)) == 0;
        int is_written = is_quoted_in(src, key);

        strbuf_reset(&sub);
        strbuf_addf(&sub, "%s.%s", path, key);
        if (is_marked && is_written)
            strbuf_addf(bad, "  %s: says '" NOT_YET "' but omlopd writes \"%s\"\n", sub.buf, key);
        else if (!is_marked && !is_written)
            strbuf_addf(bad, "  %s: nothing writes it; say '" NOT_YET "' in its description\n",
                        sub.buf);
        if (!is_marked)
            check_writers(val, sub.buf, src, bad);
    }
    strbuf_release(&sub);
}

/* The schema tells the truth about what omlop does not do yet (explain shows it). */
static void test_unwritten_status_is_marked_not_yet(void **state)
{
    const schema_set *set = *state;
    const json_object *crd = schema_set_crd(set, "Tenant");
    json_object *root = cjson_get(json_object_array_get_idx(cjson_get(crd, "spec.versions"), 0),
                                  "schema.openAPIV3Schema");
    json_object *phase = cjson_get(root, "properties.status.properties.phase");
    json_object *values = cjson_get(phase, "enum");
    strbuf src = STRBUF_INIT, bad = STRBUF_INIT;

    (void)state;
    read_sources("reconcilers", &src);
    read_sources("operator", &src);
    check_writers(cjson_get(root, "properties.status"), "Tenant.status", &src, &bad);
    /* Each phase is written, or its description says it is not yet. */
    for (size_t i = 0; values && i < json_object_array_length(values); i++) {
        const char *v = json_object_get_string(json_object_array_get_idx(values, i));
        strbuf said = STRBUF_INIT;
        int is_marked;

        strbuf_addf(&said, "%s: not yet acted on", v);
        is_marked = strstr(cjson_get_string(phase, "description"), said.buf) != NULL;
        if (is_marked == is_quoted_in(&src, v))
            strbuf_addf(&bad, "  Tenant.status.phase %s: %s\n", v,
                        is_marked ? "marked not yet acted on, but written"
                                  : "never written; say '<phase>: not yet acted on'");
        strbuf_release(&said);
    }
    /* A spec field that changes nothing: swapSize has no reader yet. */
    if (!strstr(strbuf_str(&src), "swapSize") &&
        strncmp(cjson_get_string(root, "properties.spec.properties.scaling.properties.swapSize."
                                       "description"),
                NOT_YET, strlen(NOT_YET)) != 0)
        strbuf_adds(&bad, "  Tenant.spec.scaling.swapSize: nothing reads it; mark it\n");
    if (bad.len)
        fail_msg("the schema and omlopd disagree:\n%s", bad.buf);
    strbuf_release(&src);
    strbuf_release(&bad);
}

/* Every whole manifest (a ```yaml block starting with apiVersion) in the day-one doc validates. */
static void test_getting_started_manifests_validate(void **state)
{
    const schema_set *set = *state;
    strbuf path = STRBUF_INIT, text = STRBUF_INIT, msg = STRBUF_INIT;
    char buf[8192];
    size_t got, n_docs = 0;
    const char *p;
    FILE *f;

    src_path(&path, "docs/getting-started.md");
    f = fopen(path.buf, "r");
    assert_non_null(f);
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
        strbuf_add(&text, buf, got);
    fclose(f);
    for (p = strstr(text.buf, "```yaml\napiVersion:"); p; p = strstr(p, "```yaml\napiVersion:")) {
        const char *start = p + strlen("```yaml\n"), *end = strstr(start, "```");
        ydoc_list docs = YDOC_LIST_INIT;
        diag_list *dl = diag_list_new();
        json_object *out = NULL;

        assert_non_null(end);
        /* "..." stands for lines shortened in the doc: a block with it is only shown */
        if (!memmem(start, (size_t)(end - start), "\n    ...\n", 9)) {
            assert_int_equal(yaml_load_buffer("getting-started.md", start, (size_t)(end - start),
                                              NULL, &docs, dl),
                             0);
            schema_set_decode(set, docs.docs[0].root, "getting-started.md", &out, dl);
            strbuf_reset(&msg);
            diag_list_format(dl, &msg);
            if (diag_list_count(dl))
                fail_msg("a manifest in docs/getting-started.md does not validate:\n%s", msg.buf);
            n_docs++;
        }
        json_object_put(out);
        ydoc_list_release(&docs);
        diag_list_free(dl);
        p = end;
    }
    assert_true(n_docs >= 1);
    strbuf_release(&path);
    strbuf_release(&text);
    strbuf_release(&msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_example_validates),
        cmocka_unit_test(test_every_kind_has_an_example),
        cmocka_unit_test(test_every_example_secret_ref_resolves),
        cmocka_unit_test(test_normalizing_is_idempotent),
        cmocka_unit_test(test_crds_are_documented_and_complete),
        cmocka_unit_test(test_unwritten_status_is_marked_not_yet),
        cmocka_unit_test(test_getting_started_manifests_validate),
    };

    return cmocka_run_group_tests(tests, crds_builtin_setup, crds_builtin_teardown);
}
