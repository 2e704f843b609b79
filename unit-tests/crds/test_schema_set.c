/*
 * Tests for crds/schema (the schema set over the real CRDs) and
 * crds/schema_meta: kinds and names, document-level checks (apiVersion, kind,
 * metadata), the metadata rules, JSON bodies, and CRD files that must not load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crds/schema.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "unit-tests/crds/crds_harness.h"

/* Decode one YAML document; diags returned (caller frees), *out the object or NULL. */
static diag_list *decode_doc(const schema_set *set, const char *yaml, json_object **out)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();

    *out = NULL;
    if (yaml_load_buffer("doc.yaml", yaml, strlen(yaml), NULL, &docs, dl) < 0 || docs.n != 1)
        fail_msg("test YAML does not load:\n%s", yaml);
    schema_set_decode(set, docs.docs[0].root, "doc.yaml", out, dl);
    ydoc_list_release(&docs);
    return dl;
}

/* Assert yaml gives exactly one diag at path whose message contains text. */
static void expect_one(const schema_set *set, const char *yaml, const char *path, const char *text)
{
    json_object *out = NULL;
    diag_list *dl = decode_doc(set, yaml, &out);
    strbuf all = STRBUF_INIT;

    diag_list_format(dl, &all);
    if (diag_list_count(dl) != 1)
        fail_msg("want one diag at %s (%s), got:\n%s", path ? path : "(none)", text,
                 all.buf ? all.buf : "(none)\n");
    if (path ? !diag_list_at(dl, 0)->path || strcmp(diag_list_at(dl, 0)->path, path) != 0
             : diag_list_at(dl, 0)->path != NULL)
        fail_msg("want path %s, got:\n%s", path ? path : "(none)", all.buf);
    if (!strstr(diag_list_at(dl, 0)->message, text))
        fail_msg("want '%s', got:\n%s", text, all.buf);
    assert_null(out);
    strbuf_release(&all);
    diag_list_free(dl);
}

static void test_builtin_kinds_and_names(void **state)
{
    const schema_set *set = *state;
    static const struct {
        const char *lookup, *kind;
        int has_status;
    } names[] = {
        {"Tenant", "Tenant", 1}, {"tenants", "Tenant", 1},   {"TN", "Tenant", 1},
        {"secret", "Secret", 0}, {"osec", "Secret", 0},      {"Backup", "Backup", 1},
        {"bk", "Backup", 1},     {"restores", "Restore", 1}, {"rs", "Restore", 1},
        {"event", "Event", 0},   {"ev", "Event", 0},         {"gitsources", "GitSource", 1},
        {"gs", "GitSource", 1},
    };

    assert_int_equal(schema_set_kind_count(set), 6);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const kind_info *k = schema_set_find_kind(set, names[i].lookup);

        if (!k)
            fail_msg("kind %s not found", names[i].lookup);
        assert_string_equal(k->kind, names[i].kind);
        assert_int_equal(k->has_status, names[i].has_status);
    }
    assert_null(schema_set_find_kind(set, "pods"));
    assert_string_equal(schema_set_find_kind(set, "tn")->list_kind, "TenantList");
    assert_string_equal(cjson_get_string(schema_set_crd(set, "Tenant"), "metadata.name"),
                        "tenants.omlop.io");
    assert_null(schema_set_kind_at(set, 6));
    /* the served version: what the API's field selectors and tables read */
    assert_string_equal(cjson_get_string(schema_set_crd_version(set, "Tenant"), "name"),
                        OMLOP_VERSION);
    assert_non_null(cjson_get(schema_set_crd_version(set, "Tenant"), "schema.openAPIV3Schema"));
    assert_null(schema_set_crd_version(set, "Pod"));
}

static const char minimal_tenant[] = "apiVersion: omlop.io/v1alpha1\n"
                                     "kind: Tenant\n"
                                     "metadata:\n"
                                     "  name: t1\n"
                                     "spec:\n"
                                     "  layout: aio\n"
                                     "  hosts:\n"
                                     "    - name: h\n"
                                     "      ssh: {address: h.example.com, identitySecretRef: "
                                     "{name: k}}\n"
                                     "      lanIP: 10.0.0.1\n";

static void test_tenant_defaults(void **state)
{
    const schema_set *set = *state;
    json_object *out = NULL;
    diag_list *dl = decode_doc(set, minimal_tenant, &out);
    json_object *host;

    assert_int_equal(diag_list_count(dl), 0);
    host = json_object_array_get_idx(cjson_get(out, "spec.hosts"), 0);
    assert_int_equal(cjson_get_int(host, "ssh.port", 0), 22);
    assert_string_equal(cjson_get_string(host, "ssh.user"), "root");
    assert_string_equal(cjson_get_string(host, "ssh.identitySecretRef.key"), "ssh-privatekey");
    assert_string_equal(cjson_get_string(host, "podmanSocket"), "/run/podman/podman.sock");
    assert_string_equal(cjson_get_string(out, "spec.network.infraEnv"), "cloud");
    assert_string_equal(cjson_get_string(out, "spec.tls.mode"), "selfsigned");
    assert_string_equal(cjson_get_string(out, "spec.images.registry"), "docker.io");
    assert_string_equal(cjson_get_string(out, "spec.images.edition"), "community");
    assert_string_equal(cjson_get_string(out, "spec.images.tags.omlapp"), "241121.01");
    assert_string_equal(cjson_get_string(out, "spec.images.tags.asterisk"), "240920.01");
    assert_int_equal(cjson_get_int(out, "spec.database.port", 0), 5432);
    assert_string_equal(cjson_get_string(out, "spec.database.user"), "omnileads");
    assert_string_equal(cjson_get_string(out, "spec.objectStorage.region"), "us-east-1");
    assert_string_equal(cjson_get_string(out, "spec.timeZone"), "UTC");
    assert_true(json_object_get_boolean(cjson_get(out, "spec.observability.enabled")));
    assert_string_equal(cjson_get_string(out, "spec.deletionPolicy"), "Keep");
    /* Optional sections without a default stay absent: no HA, no scaling, no schedule. */
    assert_null(cjson_get(out, "spec.ha"));
    assert_null(cjson_get(out, "spec.scaling"));
    assert_null(cjson_get(out, "spec.backup"));
    assert_null(cjson_get(out, "spec.redis"));
    /* Key order is the schema's, whatever the document's. */
    {
        static const char *const order[] = {"apiVersion", "kind", "metadata", "spec"};
        size_t i = 0;

        json_object_object_foreach(out, key, val)
        {
            (void)val;
            assert_true(i < 4);
            assert_string_equal(key, order[i++]);
        }
        assert_int_equal(i, 4);
    }
    json_object_put(out);
    diag_list_free(dl);
}

static void test_yaml_typing_on_real_fields(void **state)
{
    const schema_set *set = *state;
    json_object *out = NULL;
    diag_list *dl;
    strbuf doc = STRBUF_INIT;

    strbuf_adds(&doc, minimal_tenant);
    strbuf_adds(&doc, "  images:\n    tags:\n      omlapp: 240201.01\n      asterisk: 240102\n"
                      "  network:\n    fqdn: 1e3.example.com\n");
    dl = decode_doc(set, doc.buf, &out);
    assert_int_equal(diag_list_count(dl), 0);
    assert_string_equal(cjson_get_string(out, "spec.images.tags.omlapp"), "240201.01");
    assert_string_equal(cjson_get_string(out, "spec.images.tags.asterisk"), "240102");
    json_object_put(out);
    diag_list_free(dl);

    strbuf_reset(&doc);
    strbuf_adds(&doc, minimal_tenant);
    strbuf_adds(&doc, "  network:\n    infraEnv: on\n");
    expect_one(set, doc.buf, "spec.network.infraEnv",
               "unsupported value \"on\"; must be one of: \"cloud\", \"lan\", \"nat\", \"all\"");
    strbuf_release(&doc);
}

static void test_document_level_checks(void **state)
{
    const schema_set *set = *state;

    expect_one(set,
               "apiVersion: v1\nkind: Tenant\nmetadata: {name: a}\nspec: {layout: aio, "
               "hosts: [{name: h, ssh: {address: h, identitySecretRef: {name: k}}, lanIP: "
               "10.0.0.1}]}\n",
               "apiVersion", "unsupported apiVersion \"v1\"; omlop kinds use omlop.io/v1alpha1");
    expect_one(set, "apiVersion: omlop.io/v1alpha1\nkind: Tenat\nmetadata: {name: a}\n", "kind",
               "unknown kind \"Tenat\"; did you mean 'Tenant'?");
    expect_one(set, "apiVersion: omlop.io/v1alpha1\nkind: Pod\nmetadata: {name: a}\n", "kind",
               "known kinds: Backup, Event, GitSource, Restore, Secret, Tenant");
    expect_one(set, "apiVersion: omlop.io/v1alpha1\nmetadata: {name: a}\n", "kind",
               "required field is missing");
    expect_one(set, "apiVersion: omlop.io/v1alpha1\nkind: Backup\nspec: {tenantRef: {name: t}}\n",
               "metadata", "required field is missing");
    expect_one(set,
               "apiVersion: omlop.io/v1alpha1\nkind: Backup\nmetadata: {}\n"
               "spec: {tenantRef: {name: t}}\n",
               "metadata.name", "required field is missing");
    expect_one(set, "- a\n- b\n", NULL, "a document must be a map");
    expect_one(set, "apiVersion: omlop.io/v1alpha1\nkind: Backup\nmetadata: {name: b}\n", "spec",
               "required field is missing");
}

static void test_metadata_rules(void **state)
{
    const schema_set *set = *state;
    strbuf doc = STRBUF_INIT;
    json_object *out = NULL;
    diag_list *dl;
    static const char head[] = "apiVersion: omlop.io/v1alpha1\nkind: Secret\n";
    static const struct {
        const char *meta, *path, *text;
    } bad[] = {
        {"metadata: {name: Bad_Name}", "metadata.name",
         "invalid name \"Bad_Name\": must be a DNS-1123 label"},
        {"metadata: {name: a234567890123456789012345678901234567890123456789012345678901234}",
         "metadata.name", "at most 63 lowercase letters"},
        {"metadata: {name: \"\"}", "metadata.name", "invalid name \"\""},
        {"metadata: {name: -a}", "metadata.name", "starting and ending"},
        {"metadata: {name: a, namespace: default}", "metadata.namespace", "cluster-scoped"},
        {"metadata: {name: a, labels: {\"bad key\": x}}", "metadata.labels[\"bad key\"]",
         "invalid key"},
        {"metadata: {name: a, labels: {Bad_Prefix/x: y}}", "metadata.labels[\"Bad_Prefix/x\"]",
         "prefix"},
        {"metadata: {name: a, labels: {app: \"has space\"}}", "metadata.labels.app",
         "invalid label value"},
        {"metadata: {name: a, annotations: {\"-x\": y}}", "metadata.annotations.-x", "invalid key"},
        {"metadata: {name: a, finalizers: [\"bad finalizer\"]}", "metadata.finalizers[0]",
         "invalid finalizer"},
        {"metadata: {name: a, generation: \"1\"}", "metadata.generation",
         "must be an integer, got the string \"1\""},
        {"metadata: {name: a, creationTimestamp: yesterday}", "metadata.creationTimestamp",
         "RFC 3339"},
        {"metadata: {name: a, selfLink: /x}", "metadata.selfLink", "unknown field"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        strbuf_reset(&doc);
        strbuf_addf(&doc, "%s%s\n", head, bad[i].meta);
        expect_one(set, doc.buf, bad[i].path, bad[i].text);
    }
    /* Server-set fields are accepted as given; labels typed as strings. */
    strbuf_reset(&doc);
    strbuf_addf(&doc,
                "%smetadata:\n  name: a\n  uid: 1f0e\n  resourceVersion: 42\n"
                "  generation: 3\n  creationTimestamp: 2024-05-01T12:00:00Z\n"
                "  deletionTimestamp: null\n  labels: {version: 1.0, app.kubernetes.io/"
                "name: omlop, empty: \"\"}\n  annotations: {note: \"any text at all\"}\n"
                "  finalizers: [omlop.io/cleanup]\n",
                head);
    dl = decode_doc(set, doc.buf, &out);
    assert_int_equal(diag_list_count(dl), 0);
    assert_string_equal(cjson_get_string(out, "metadata.resourceVersion"), "42");
    assert_string_equal(cjson_get_string(out, "metadata.labels.version"), "1.0");
    assert_int_equal(cjson_get_int(out, "metadata.generation", 0), 3);
    assert_null(cjson_get(out, "metadata.deletionTimestamp"));
    json_object_put(out);
    diag_list_free(dl);
    strbuf_release(&doc);
}

static void test_annotations_size_limit(void **state)
{
    const schema_set *set = *state;
    strbuf doc = STRBUF_INIT;

    strbuf_adds(&doc, "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: a\n"
                      "  annotations:\n    big: \"");
    for (int i = 0; i < 256 * 1024; i++)
        strbuf_addch(&doc, 'x');
    strbuf_adds(&doc, "\"\n");
    expect_one(set, doc.buf, "metadata.annotations", "at most 262144 allowed");
    strbuf_release(&doc);
}

static void test_decode_json_bodies(void **state)
{
    const schema_set *set = *state;
    json_object *body = json_tokener_parse(
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":\"b\"},"
        "\"spec\":{\"tenantRef\":{\"name\":\"t\"},\"includeRecordings\":\"true\"}}");
    json_object *ok = json_tokener_parse(
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":\"b\"},"
        "\"spec\":{\"tenantRef\":{\"name\":\"t\"},\"includeRecordings\":true}}");
    diag_list *dl = diag_list_new();
    json_object *out = NULL;

    assert_int_equal(schema_set_decode_json(set, body, &out, dl), OMLOP_EINVAL);
    assert_null(out);
    assert_int_equal(diag_list_count(dl), 1);
    assert_string_equal(diag_list_at(dl, 0)->path, "spec.includeRecordings");
    assert_null(diag_list_at(dl, 0)->file);
    assert_non_null(strstr(diag_list_at(dl, 0)->message, "got the string \"true\""));
    diag_list_clear(dl);
    assert_int_equal(schema_set_decode_json(set, ok, &out, dl), 0);
    assert_true(json_object_get_boolean(cjson_get(out, "spec.includeAsteriskCustom")));
    json_object_put(out);
    json_object_put(body);
    json_object_put(ok);
    diag_list_free(dl);
}

#define SECRET_HEAD "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: s\n"

/*
 * A Secret's values never reach a message: not through a type error on data or
 * stringData themselves, nor on one value, from YAML (omlctl) or JSON (the
 * API), nor through the YAML reader's complaint about a bad byte. The marker
 * S3KR1T stands for the secret; the messages still name the field.
 */
static void test_secret_values_never_in_messages(void **state)
{
    const schema_set *set = *state;
    static const struct {
        const char *yaml;
        const char *path;
        const char *says;
    } cases[] = {
        {SECRET_HEAD "stringData: S3KR1T-password\n", "stringData", "got a value (not shown"},
        {SECRET_HEAD "data: S3KR1T\n", "data", "got a value (not shown"},
        {SECRET_HEAD "data: \"S3KR1T\"\n", "data", "got a value (not shown"},
        {SECRET_HEAD "data:\n  k: \"S3KR1T!!\"\n", "data.k", "invalid value: must be base64"},
        {SECRET_HEAD "stringData:\n  k: [S3KR1T]\n", "stringData.k", "got a list"},
        {SECRET_HEAD "stringData:\n  k: {a: S3KR1T}\n", "stringData.k", "got a map"},
        {SECRET_HEAD "stringData:\n  k: 12.5S3KR1T\n  j: [1]\n", "stringData.j", "got a list"},
    };
    strbuf all = STRBUF_INIT;
    diag_list *dl;
    json_object *out = NULL, *body;
    ydoc_list docs = YDOC_LIST_INIT;
    static const char bad_utf8[] = SECRET_HEAD "stringData:\n  k: S3KR1T\xc3\x28rest\n";

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dl = decode_doc(set, cases[i].yaml, &out);
        strbuf_reset(&all);
        diag_list_format(dl, &all);
        if (diag_list_count(dl) != 1 || strcmp(diag_list_at(dl, 0)->path, cases[i].path) != 0 ||
            !strstr(all.buf, cases[i].says) || strstr(all.buf, "S3KR1T"))
            fail_msg("case %zu: want one diag at %s saying '%s' without the value, got:\n%s", i,
                     cases[i].path, cases[i].says, all.buf);
        json_object_put(out);
        diag_list_free(dl);
    }
    /* The API's path: a JSON body. */
    body = json_tokener_parse("{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\","
                              "\"metadata\":{\"name\":\"s\"},\"stringData\":\"S3KR1T\","
                              "\"data\":{\"k\":\"S3KR1T%%\"}}");
    dl = diag_list_new();
    assert_int_equal(schema_set_decode_json(set, body, &out, dl), OMLOP_EINVAL);
    strbuf_reset(&all);
    diag_list_format(dl, &all);
    assert_int_equal(diag_list_count(dl), 2);
    if (strstr(all.buf, "S3KR1T"))
        fail_msg("a JSON body's secret is quoted:\n%s", all.buf);
    json_object_put(body);
    diag_list_free(dl);
    /* Masking is the Secret's values only: other fields still show what was written. */
    dl = decode_doc(set, SECRET_HEAD "type: [S3KR1T]\nstringData:\n  k: v\n", &out);
    assert_int_equal(diag_list_count(dl), 1);
    assert_string_equal(diag_list_at(dl, 0)->path, "type");
    diag_list_free(dl);
    dl = decode_doc(set,
                    "apiVersion: omlop.io/v1alpha1\nkind: Backup\nmetadata:\n  name: b\n"
                    "spec:\n  tenantRef: {name: t}\n  includeRecordings: S3KR1T\n",
                    &out);
    strbuf_reset(&all);
    diag_list_format(dl, &all);
    assert_non_null(strstr(all.buf, "\"S3KR1T\""));
    diag_list_free(dl);
    /* The YAML reader names the position of a bad byte, not the byte. */
    dl = diag_list_new();
    assert_true(yaml_load_buffer("s.yaml", bad_utf8, sizeof(bad_utf8) - 1, NULL, &docs, dl) < 0);
    strbuf_reset(&all);
    diag_list_format(dl, &all);
    assert_non_null(strstr(all.buf, "input must be UTF-8"));
    if (strstr(all.buf, "0xc3") || strstr(all.buf, "0x28") || strstr(all.buf, "S3KR1T"))
        fail_msg("the reader's message quotes the value:\n%s", all.buf);
    ydoc_list_release(&docs);
    diag_list_free(dl);
    strbuf_release(&all);
}

/* Write text to dir/name. */
static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char crd_head[] = "apiVersion: apiextensions.k8s.io/v1\n"
                               "kind: CustomResourceDefinition\n"
                               "metadata: {name: widgets.omlop.io}\n"
                               "spec:\n"
                               "  group: omlop.io\n"
                               "  scope: Cluster\n"
                               "  names: {kind: Widget, listKind: WidgetList, plural: widgets, "
                               "singular: widget}\n"
                               "  versions:\n"
                               "    - name: v1alpha1\n"
                               "      served: true\n"
                               "      storage: true\n"
                               "      schema:\n"
                               "        openAPIV3Schema:\n"
                               "          type: object\n"
                               "          properties:\n"
                               "            apiVersion: {type: string}\n"
                               "            kind: {type: string}\n"
                               "            metadata: {type: object}\n";

static void test_crd_dir_loading(void **state)
{
    char dir[] = "/tmp/omlop-crds-XXXXXX";
    static const struct {
        const char *extra; /* appended to crd_head */
        const char *error; /* NULL: must load */
    } cases[] = {
        {"            size: {type: integer, default: 3}\n", NULL},
        {"            size: {type: integer, default: \"3\"}\n", "default \"3\" is not of type"},
        {"            size: {type: integer, minimum: 5, default: 3}\n", "the default is invalid"},
        {"            size: {type: integer, exclusiveMinimum: true}\n", "exclusiveMinimum"},
        {"            size: {type: string, pattern: \"[\"}\n", "does not compile"},
    };
    strbuf text = STRBUF_INIT, path = STRBUF_INIT;

    (void)state;
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        schema_set *set = NULL;
        omlop_err err = OMLOP_ERR_INIT;
        int rc;

        strbuf_reset(&text);
        strbuf_addf(&text, "%s%s", crd_head, cases[i].extra);
        write_file(dir, "widget.yaml", text.buf);
        rc = schema_set_new_from_dir(dir, &set, &err);
        if (!cases[i].error) {
            if (rc != 0)
                fail_msg("case %zu: %s", i, err.msg);
            assert_non_null(schema_set_find_kind(set, "widgets"));
        } else {
            assert_int_equal(rc, OMLOP_EINVAL);
            assert_null(set);
            if (!strstr(err.msg, cases[i].error) || !strstr(err.msg, "widget.yaml"))
                fail_msg("case %zu: error '%s' lacks '%s' or the file", i, err.msg, cases[i].error);
        }
        schema_set_free(set);
    }
    /* Wrong group, and a second file defining the same kind. */
    {
        schema_set *set = NULL;
        omlop_err err = OMLOP_ERR_INIT;

        strbuf_reset(&text);
        strbuf_addf(&text, "%s", crd_head);
        write_file(dir, "widget.yaml", text.buf);
        write_file(dir, "widget2.yaml", text.buf);
        assert_int_equal(schema_set_new_from_dir(dir, &set, &err), OMLOP_EINVAL);
        assert_non_null(strstr(err.msg, "kind Widget is defined twice"));
        strbuf_reset(&path);
        strbuf_addf(&path, "%s/widget2.yaml", dir);
        unlink(path.buf);
        strbuf_reset(&text);
        strbuf_adds(&text, crd_head);
        memcpy(strstr(text.buf, "group: omlop.io"), "group: omlip.io", 15);
        write_file(dir, "widget.yaml", text.buf);
        assert_int_equal(schema_set_new_from_dir(dir, &set, &err), OMLOP_EINVAL);
        assert_non_null(strstr(err.msg, "spec.group must be omlop.io, got omlip.io"));
    }
    strbuf_reset(&path);
    strbuf_addf(&path, "%s/widget.yaml", dir);
    unlink(path.buf);
    {
        schema_set *set = NULL;
        omlop_err err = OMLOP_ERR_INIT;

        assert_int_equal(schema_set_new_from_dir(dir, &set, &err), OMLOP_ENOTFOUND);
        assert_non_null(strstr(err.msg, "no CRD files"));
    }
    rmdir(dir);
    strbuf_release(&text);
    strbuf_release(&path);
}

static void test_crds_dir_matches_builtin(void **state)
{
    const schema_set *builtin = *state;
    const char *src = getenv("OMLOP_SRCDIR");
    strbuf dir = STRBUF_INIT;
    schema_set *set = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    strbuf_addf(&dir, "%s/crds", src ? src : ".");
    if (schema_set_new_from_dir(dir.buf, &set, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(schema_set_kind_count(set), schema_set_kind_count(builtin));
    for (size_t i = 0; i < schema_set_kind_count(set); i++) {
        const kind_info *k = schema_set_kind_at(set, i);

        /* The embedded copy must be the file on disk: a stale build would differ. */
        assert_true(cjson_equal(schema_set_crd(set, k->kind), schema_set_crd(builtin, k->kind)));
    }
    schema_set_free(set);
    strbuf_release(&dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_kinds_and_names),
        cmocka_unit_test(test_tenant_defaults),
        cmocka_unit_test(test_yaml_typing_on_real_fields),
        cmocka_unit_test(test_document_level_checks),
        cmocka_unit_test(test_metadata_rules),
        cmocka_unit_test(test_annotations_size_limit),
        cmocka_unit_test(test_decode_json_bodies),
        cmocka_unit_test(test_secret_values_never_in_messages),
        cmocka_unit_test(test_crd_dir_loading),
        cmocka_unit_test(test_crds_dir_matches_builtin),
    };

    return cmocka_run_group_tests(tests, crds_builtin_setup, crds_builtin_teardown);
}
