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
        int expect_status = strcmp(info->kind, "Tenant") == 0 ||
                            strcmp(info->kind, "Backup") == 0 || strcmp(info->kind, "Restore") == 0;

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_example_validates),
        cmocka_unit_test(test_every_kind_has_an_example),
        cmocka_unit_test(test_normalizing_is_idempotent),
        cmocka_unit_test(test_crds_are_documented_and_complete),
    };

    return cmocka_run_group_tests(tests, crds_builtin_setup, crds_builtin_teardown);
}
