/* Tests for crds/yamlio: parsing into ynode trees (positions, styles, aliases, limits, errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "unit-tests/crds/crds_harness.h"

/* --- helpers ---------------------------------------------------------------------------- */

static double now_seconds(void)
{
    return (double)clock_now_ns() / 1e9;
}

static long max_rss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* --- loading ---------------------------------------------------------------------------- */

static void test_yamlio_positions_of_nodes_and_keys(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    const ynode *root, *n;

    (void)state;
    crds_load_fixture("positions.yaml", 0, &docs, dl);
    assert_int_equal(docs.n, 1);
    assert_true(crds_ends_with(docs.docs[0].file, "unit-tests/data/yaml/positions.yaml"));
    root = docs.docs[0].root;
    assert_int_equal(root->kind, YNODE_MAP);
    assert_int_equal(root->line, 1);
    assert_int_equal(root->col, 1);
    assert_string_equal(root->pairs[0].key, "apiVersion");
    assert_int_equal(root->pairs[0].line, 1);
    assert_int_equal(root->pairs[0].col, 1);
    assert_int_equal(root->pairs[0].value->line, 1);
    assert_int_equal(root->pairs[0].value->col, 13);

    n = ynode_at_path(root, "metadata");
    assert_int_equal(n->line, 4);
    assert_int_equal(n->col, 3);
    n = ynode_at_path(root, "metadata.labels");
    assert_string_equal(n->pairs[1].key, "omlop.io/tenant");
    assert_int_equal(n->pairs[1].line, 7);
    assert_int_equal(n->pairs[1].col, 5);
    assert_int_equal(n->pairs[1].value->line, 7);
    assert_int_equal(n->pairs[1].value->col, 24);
    assert_string_equal(ynode_at_path(root, "metadata.labels[\"omlop.io/tenant\"]")->value, "acme");

    n = ynode_at_path(root, "spec.hosts");
    assert_int_equal(n->kind, YNODE_SEQ);
    assert_int_equal(n->line, 11);
    assert_int_equal(n->col, 5);
    assert_int_equal(n->items[1]->line, 13);
    assert_int_equal(n->items[1]->col, 7);
    assert_string_equal(n->items[1]->pairs[1].key, "sshPort");
    assert_int_equal(n->items[1]->pairs[1].line, 14);
    assert_int_equal(n->items[1]->pairs[1].col, 7);
    n = ynode_at_path(root, "spec.hosts[1].sshPort");
    assert_int_equal(n->line, 14);
    assert_int_equal(n->col, 16);
    assert_string_equal(n->value, "2222");
    assert_int_equal(n->is_plain, 0);
    n = ynode_at_path(root, "spec.hosts[0].sshPort");
    assert_string_equal(n->value, "22");
    assert_int_equal(n->is_plain, 1);
    assert_null(n->tag);
    assert_int_equal(n->line, 12);

    n = ynode_at_path(root, "spec.image");
    assert_string_equal(n->value, "registry.local/oml:240201.01");
    assert_int_equal(n->is_plain, 0);
    assert_int_equal(n->line, 9);
    assert_int_equal(n->col, 10);
    n = ynode_at_path(root, "spec.note");
    assert_string_equal(n->value, "line one\nline two\n");
    assert_int_equal(n->is_plain, 0);
    assert_int_equal(n->line, 15);
    assert_int_equal(n->col, 9);
    n = ynode_at_path(root, "spec.typed");
    assert_string_equal(n->value, "42");
    assert_int_equal(n->is_plain, 1);
    assert_non_null(n->tag);
    assert_string_equal(n->tag, "tag:yaml.org,2002:str");
    assert_true(ynode_tag_is(n, "str"));
    n = ynode_at_path(root, "spec.folded");
    assert_string_equal(n->value, "a b\n");
    assert_int_equal(n->is_plain, 0);
    assert_int_equal(diag_list_count(dl), 0);
    ydoc_list_release(&docs);
    diag_list_free(dl);
}

static void test_yamlio_multi_doc_skips_empty_documents(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();

    (void)state;
    crds_load_fixture("multi.yaml", 0, &docs, dl);
    assert_int_equal(docs.n, 3);
    assert_string_equal(ynode_map_get(docs.docs[0].root, "kind")->value, "A");
    assert_string_equal(ynode_map_get(docs.docs[1].root, "kind")->value, "B");
    assert_string_equal(ynode_map_get(docs.docs[2].root, "kind")->value, "C");
    /* Indexes count the empty documents, so they match what a reader counts in the file. */
    assert_int_equal(docs.docs[0].index, 0);
    assert_int_equal(docs.docs[1].index, 3);
    assert_int_equal(docs.docs[2].index, 4);
    assert_int_equal(docs.docs[2].root->line, 11);

    /* Appends to what the list already holds; an empty input adds nothing. */
    assert_int_equal(crds_load_text("e.yaml", "", NULL, &docs, dl), 0);
    assert_int_equal(crds_load_text("e.yaml", "# nothing\n---\n...\n", NULL, &docs, dl), 0);
    assert_int_equal(crds_load_text("x.yaml", "kind: D\n", NULL, &docs, dl), 0);
    assert_int_equal(docs.n, 4);
    assert_string_equal(docs.docs[3].file, "x.yaml");
    /* A document that is just a scalar is not empty. */
    assert_int_equal(crds_load_text("s.yaml", "--- ''\n--- ~\n", NULL, &docs, dl), 0);
    assert_int_equal(docs.n, 6);
    assert_int_equal(diag_list_count(dl), 0);
    ydoc_list_release(&docs);
    assert_int_equal(docs.n, 0);
    assert_null(docs.docs);
    diag_list_free(dl);
}

static void test_yamlio_json_input_parses_like_yaml(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    strbuf path = STRBUF_INIT, text = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *want, *got;
    const ynode *root;

    (void)state;
    crds_load_fixture("manifest.json", 0, &docs, dl);
    assert_int_equal(docs.n, 1);
    crds_fixture_path("manifest.json", &path);
    assert_int_equal(strbuf_read_file(&text, path.buf, 1 << 20, &err), 0);
    want = json_tokener_parse(text.buf);
    assert_non_null(want);
    got = ynode_to_json_core(docs.docs[0].root);
    if (!cjson_equal(got, want)) {
        strbuf a = STRBUF_INIT;

        cjson_canonical(got, &a);
        fail_msg("core JSON differs: %s", a.buf);
    }
    root = docs.docs[0].root;
    assert_string_equal(root->pairs[3].key, "spec");
    assert_int_equal(root->pairs[3].line, 5);
    assert_int_equal(root->pairs[3].col, 2); /* after one tab */
    assert_int_equal(ynode_at_path(root, "metadata.labels.mode")->is_plain, 0);
    json_object_put(want);
    json_object_put(got);
    strbuf_release(&path);
    strbuf_release(&text);
    ydoc_list_release(&docs);
    diag_list_free(dl);
}

static void test_yamlio_duplicate_key_names_both_positions(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    strbuf sb = STRBUF_INIT;

    (void)state;
    crds_load_fixture("dup_key.yaml", OMLOP_EINVAL, &docs, dl);
    assert_int_equal(docs.n, 0);
    assert_int_equal(diag_list_count(dl), 1);
    assert_true(crds_ends_with(crds_diag_text(dl, 0, &sb),
                               "dup_key.yaml:4:3: spec: duplicate key 'image' (first at 2:3)"));
    diag_list_clear(dl);

    /* At the root (no path), three times, in source order; other keys do not clash. */
    assert_int_equal(crds_load_text("d.yaml", "b: 1\na: 1\nb: 2\nc: 3\nb: 4\n", NULL, &docs, dl),
                     OMLOP_EINVAL);
    assert_int_equal(diag_list_count(dl), 2);
    assert_string_equal(crds_diag_text(dl, 0, &sb), "d.yaml:3:1: duplicate key 'b' (first at 1:1)");
    assert_string_equal(crds_diag_text(dl, 1, &sb), "d.yaml:5:1: duplicate key 'b' (first at 1:1)");
    diag_list_clear(dl);

    /* Quoted and plain spellings are the same key; JSON too. */
    assert_int_equal(crds_load_text("d.json", "{\"a\": 1,\n \"a\": 2}", NULL, &docs, dl),
                     OMLOP_EINVAL);
    assert_string_equal(crds_diag_text(dl, 0, &sb), "d.json:2:2: duplicate key 'a' (first at 1:2)");
    diag_list_clear(dl);
    assert_int_equal(crds_load_text("d.yaml", "x:\n- k: 1\n  'k': 2\n", NULL, &docs, dl),
                     OMLOP_EINVAL);
    assert_string_equal(crds_diag_text(dl, 0, &sb),
                        "d.yaml:3:3: x[0]: duplicate key 'k' (first at 2:3)");
    assert_int_equal(docs.n, 0);
    strbuf_release(&sb);
    diag_list_free(dl);
}

static void test_yamlio_aliases_resolve_by_copy(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    json_object *core, *want;
    const ynode *root, *a, *b;

    (void)state;
    crds_load_fixture("aliases.yaml", 0, &docs, dl);
    root = docs.docs[0].root;
    a = ynode_map_get(root, "a");
    assert_int_equal(a->kind, YNODE_MAP);
    assert_ptr_not_equal(a, ynode_map_get(root, "defaults"));
    assert_int_equal(a->line, 4); /* the copy sits where the alias is */
    assert_int_equal(a->col, 4);
    assert_string_equal(ynode_at_path(root, "a.image")->value, "oml:1");
    assert_int_equal(ynode_at_path(root, "a.image")->line, 2); /* inner nodes: anchor's text */
    b = ynode_map_get(root, "b");
    assert_string_equal(b->pairs[0].key, "<<"); /* YAML 1.2: no merge keys */
    assert_string_equal(ynode_at_path(root, "b[\"<<\"].image")->value, "oml:1");
    assert_string_equal(ynode_at_path(root, "c")->value, "key");
    assert_string_equal(ynode_at_path(root, "z")->value, "2"); /* redefined anchor: latest */
    core = ynode_to_json_core(root);
    want = json_tokener_parse("{\"defaults\":{\"image\":\"oml:1\",\"ports\":[80,443]},"
                              "\"a\":{\"image\":\"oml:1\",\"ports\":[80,443]},"
                              "\"b\":{\"<<\":{\"image\":\"oml:1\",\"ports\":[80,443]},"
                              "\"image\":\"oml:2\"},\"key\":\"value\",\"c\":\"key\","
                              "\"x\":1,\"y\":2,\"z\":2}");
    assert_true(cjson_equal(core, want));
    json_object_put(core);
    json_object_put(want);
    ydoc_list_release(&docs);

    /* An alias may be a key when it names a scalar. */
    assert_int_equal(crds_load_text("k.yaml", "a: &n name\n*n : v\n", NULL, &docs, dl), 0);
    assert_string_equal(docs.docs[0].root->pairs[1].key, "name");
    assert_int_equal(docs.docs[0].root->pairs[1].line, 2);
    ydoc_list_release(&docs);
    assert_int_equal(diag_list_count(dl), 0);
    diag_list_free(dl);
}

static void test_yamlio_alias_bomb_rejected_fast(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    strbuf sb = STRBUF_INIT, big = STRBUF_INIT;
    yaml_limits lim;
    long rss_before = max_rss_kb();
    double t0 = now_seconds();

    (void)state;
    crds_load_fixture("bomb.yaml", OMLOP_ELIMIT, &docs, dl);
    assert_true(now_seconds() - t0 < 2.0);
    /* Naive expansion would need 9^9 nodes (tens of GiB); the budget caps it at 100000. */
    assert_true(max_rss_kb() - rss_before < 64 * 1024);
    assert_int_equal(docs.n, 0);
    assert_int_equal(diag_list_count(dl), 1);
    assert_true(crds_ends_with(crds_diag_text(dl, 0, &sb),
                               "bomb.yaml:7:8: f[0]: alias expansion exceeds "
                               "100000 nodes (max_doc_nodes); alias *e"));
    diag_list_clear(dl);

    /* Few nodes but much text: one 6000-byte scalar aliased 200 times is over 1 MiB. */
    yaml_limits_default(&lim);
    lim.max_input_bytes = 8192;
    strbuf_adds(&big, "big: &s ");
    for (int i = 0; i < 6000; i++)
        strbuf_addch(&big, 'x');
    strbuf_adds(&big, "\nmany: [");
    for (int i = 0; i < 200; i++)
        strbuf_adds(&big, i ? ",*s" : "*s");
    strbuf_adds(&big, "]\n");
    assert_int_equal(crds_load_text("b.yaml", big.buf, &lim, &docs, dl), OMLOP_ELIMIT);
    assert_non_null(
        strstr(crds_diag_text(dl, 0, &sb), "alias expansion exceeds 1048576 bytes of text"));
    assert_int_equal(diag_list_at(dl, 0)->line, 2);
    diag_list_clear(dl);

    /* Under the budget the same shape loads. */
    lim.max_doc_nodes = 20;
    assert_int_equal(
        crds_load_text("ok.yaml", "a: &a [1, 2, 3]\nb: [*a, *a, *a]\n", &lim, &docs, dl), 0);
    assert_int_equal(ynode_count(docs.docs[0].root), 18);
    ydoc_list_release(&docs);
    lim.max_doc_nodes = 17;
    assert_int_equal(
        crds_load_text("ok.yaml", "a: &a [1, 2, 3]\nb: [*a, *a, *a]\n", &lim, &docs, dl),
        OMLOP_ELIMIT);
    assert_string_equal(crds_diag_text(dl, 0, &sb),
                        "ok.yaml:2:13: b[2]: alias expansion exceeds 17 nodes (max_doc_nodes); "
                        "alias *a");
    diag_list_clear(dl);
    /* Plain documents are held to the same budget. */
    assert_int_equal(crds_load_text("n.yaml",
                                    "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]",
                                    &lim, &docs, dl),
                     OMLOP_ELIMIT);
    assert_string_equal(crds_diag_text(dl, 0, &sb),
                        "n.yaml:1:57: [16]: document exceeds 17 nodes (max_doc_nodes)");
    assert_int_equal(docs.n, 0);
    strbuf_release(&sb);
    strbuf_release(&big);
    diag_list_free(dl);
}

static void test_yamlio_undefined_and_recursive_alias(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    strbuf sb = STRBUF_INIT;

    (void)state;
    crds_load_fixture("undefined_alias.yaml", OMLOP_EINVAL, &docs, dl);
    assert_true(crds_ends_with(
        crds_diag_text(dl, 0, &sb),
        "undefined_alias.yaml:3:6: b.c: undefined alias *nope (no &nope before it)"));
    diag_list_clear(dl);
    /* Anchors belong to their document. */
    assert_int_equal(crds_load_text("u.yaml", "a: &x 1\n---\nb: *x\n", NULL, &docs, dl),
                     OMLOP_EINVAL);
    assert_string_equal(crds_diag_text(dl, 0, &sb),
                        "u.yaml:3:4: b: undefined alias *x (no &x before it)");
    diag_list_clear(dl);
    assert_int_equal(crds_load_text("r.yaml", "a: &a [1, *a]\n", NULL, &docs, dl), OMLOP_EINVAL);
    assert_string_equal(crds_diag_text(dl, 0, &sb),
                        "r.yaml:1:11: a[1]: alias *a refers to a node that contains it "
                        "(recursive alias)");
    diag_list_clear(dl);
    assert_int_equal(crds_load_text("r.yaml", "&m {k: *m}\n", NULL, &docs, dl), OMLOP_EINVAL);
    assert_non_null(strstr(crds_diag_text(dl, 0, &sb), "recursive alias"));
    diag_list_clear(dl);
    assert_int_equal(crds_load_text("r.yaml", "a: &m [1]\n*m : 2\n", NULL, &docs, dl),
                     OMLOP_EINVAL);
    assert_string_equal(crds_diag_text(dl, 0, &sb),
                        "r.yaml:2:1: alias *m names a sequence, which cannot be a map key");
    assert_int_equal(docs.n, 0);
    strbuf_release(&sb);
    diag_list_free(dl);
}

/* "[" * n + "]" * n as a string. */
static void nested(strbuf *sb, int n, const char *inner)
{
    strbuf_reset(sb);
    for (int i = 0; i < n; i++)
        strbuf_addch(sb, '[');
    strbuf_adds(sb, inner);
    for (int i = 0; i < n; i++)
        strbuf_addch(sb, ']');
}

static void test_yamlio_depth_limit(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    strbuf text = STRBUF_INIT, sb = STRBUF_INIT;
    yaml_limits lim;

    (void)state;
    nested(&text, 64, "1");
    assert_int_equal(crds_load_text("deep.yaml", text.buf, NULL, &docs, dl), 0);
    assert_int_equal(docs.n, 1);
    ydoc_list_release(&docs);
    nested(&text, 65, "1");
    assert_int_equal(crds_load_text("deep.yaml", text.buf, NULL, &docs, dl), OMLOP_ELIMIT);
    assert_int_equal(diag_list_count(dl), 1);
    assert_true(
        crds_ends_with(crds_diag_text(dl, 0, &sb), "nesting deeper than 64 levels (max_depth)"));
    assert_int_equal(diag_list_at(dl, 0)->line, 1);
    assert_int_equal(diag_list_at(dl, 0)->col, 65);
    diag_list_clear(dl);
    /* A very deep input stops at the limit instead of building 100000 levels. */
    nested(&text, 100000, "");
    assert_int_equal(crds_load_text("deep.yaml", text.buf, NULL, &docs, dl), OMLOP_ELIMIT);
    assert_int_equal(diag_list_count(dl), 1);
    diag_list_clear(dl);

    /* Block maps count too, and an alias adds its own height where it is used. */
    yaml_limits_default(&lim);
    lim.max_depth = 3;
    assert_int_equal(crds_load_text("m.yaml", "a:\n  b:\n    c: 1\n", &lim, &docs, dl), 0);
    ydoc_list_release(&docs);
    assert_int_equal(crds_load_text("m.yaml", "a:\n  b:\n    c: {d: 1}\n", &lim, &docs, dl),
                     OMLOP_ELIMIT);
    assert_string_equal(crds_diag_text(dl, 0, &sb),
                        "m.yaml:3:8: a.b.c: nesting deeper than 3 levels (max_depth)");
    diag_list_clear(dl);
    assert_int_equal(crds_load_text("m.yaml", "x: &x [[1]]\ny: *x\n", &lim, &docs, dl), 0);
    ydoc_list_release(&docs);
    assert_int_equal(crds_load_text("m.yaml", "x: &x [[1]]\ny: [*x]\n", &lim, &docs, dl),
                     OMLOP_ELIMIT);
    assert_string_equal(crds_diag_text(dl, 0, &sb), "m.yaml:2:5: y[0]: alias *x expands to nesting "
                                                    "deeper than 3 levels (max_depth)");
    assert_int_equal(docs.n, 0);
    strbuf_release(&text);
    strbuf_release(&sb);
    diag_list_free(dl);
}

static void test_yamlio_size_limit(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    strbuf sb = STRBUF_INIT;
    char dir[] = "/tmp/omlop-yamlio-XXXXXX";
    yaml_limits lim;

    (void)state;
    yaml_limits_default(&lim);
    assert_int_equal(lim.max_input_bytes, 4 << 20);
    lim.max_input_bytes = 15;
    assert_int_equal(crds_load_text("s.yaml", "a: 0123456789abc", &lim, &docs, dl), OMLOP_ELIMIT);
    assert_string_equal(crds_diag_text(dl, 0, &sb),
                        "s.yaml: input is 16 bytes, over the 15 byte limit (max_input_bytes)");
    diag_list_clear(dl);
    lim.max_input_bytes = 15;
    assert_int_equal(crds_load_text("s.yaml", "a: 0123456789ab", &lim, &docs, dl), 0);
    assert_int_equal(docs.n, 1);

    assert_non_null(mkdtemp(dir));
    strbuf_reset(&sb);
    strbuf_addf(&sb, "%s/big.yaml", dir);
    crds_write_file(sb.buf, "a: 0123456789abcdef\n");
    assert_int_equal(yaml_load_path(sb.buf, &lim, &docs, dl), OMLOP_ELIMIT);
    assert_int_equal(diag_list_count(dl), 1);
    assert_string_equal(diag_list_at(dl, 0)->file, sb.buf);
    assert_non_null(strstr(diag_list_at(dl, 0)->message, "20 bytes, over the 15 byte limit"));
    assert_int_equal(docs.n, 1);
    crds_rm_tree(dir);
    ydoc_list_release(&docs);
    strbuf_release(&sb);
    diag_list_free(dl);
}

static void test_yamlio_doc_count_limit(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    strbuf text = STRBUF_INIT, sb = STRBUF_INIT;
    yaml_limits lim;

    (void)state;
    yaml_limits_default(&lim);
    lim.max_docs = 3;
    for (int i = 0; i < 3; i++)
        strbuf_addf(&text, "---\nn: %d\n", i);
    assert_int_equal(crds_load_text("c.yaml", text.buf, &lim, &docs, dl), 0);
    assert_int_equal(docs.n, 3);
    ydoc_list_release(&docs);
    strbuf_adds(&text, "---\nn: 3\n---\nn: 4\n");
    assert_int_equal(crds_load_text("c.yaml", text.buf, &lim, &docs, dl), OMLOP_ELIMIT);
    assert_int_equal(diag_list_count(dl), 1);
    assert_string_equal(crds_diag_text(dl, 0, &sb), "c.yaml:7:1: more than 3 documents (max_docs)");
    assert_int_equal(docs.n, 0);
    strbuf_release(&text);
    strbuf_release(&sb);
    diag_list_free(dl);
}

static void test_yamlio_syntax_error_position(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    strbuf sb = STRBUF_INIT;
    const diag *d;

    (void)state;
    crds_load_fixture("syntax_error.yaml", OMLOP_EINVAL, &docs, dl);
    assert_int_equal(diag_list_count(dl), 1);
    assert_true(
        crds_ends_with(crds_diag_text(dl, 0, &sb),
                       "syntax_error.yaml:3:2: syntax error: did not find expected key (while "
                       "parsing a block mapping started at 1:1)"));
    d = diag_list_at(dl, 0);
    assert_null(d->path);
    diag_list_clear(dl);

    /* Earlier good documents are not handed out when a later one is broken. */
    assert_int_equal(crds_load_text("s.yaml", "a: 1\n---\nb: [1, 2\n", NULL, &docs, dl),
                     OMLOP_EINVAL);
    assert_int_equal(docs.n, 0);
    assert_int_equal(diag_list_at(dl, 0)->line, 4);
    assert_non_null(strstr(diag_list_at(dl, 0)->message, "flow sequence"));
    diag_list_clear(dl);
    assert_int_equal(crds_load_text("s.yaml", "a: \"open\n", NULL, &docs, dl), OMLOP_EINVAL);
    assert_non_null(strstr(crds_diag_text(dl, 0, &sb), "s.yaml:2:1: syntax error: found unexpected "
                                                       "end of stream"));
    strbuf_release(&sb);
    diag_list_free(dl);
}

static void test_yamlio_invalid_utf8_is_an_error(void **state)
{
    static const struct {
        const char *text;
        size_t len;
        int line, col;
    } cases[] = {
        {"a: ok\nb: \xff\n", 11, 2, 4},
        {"a: ok\nb: \"caf\xc3\"\n", 16, 2, 9}, /* cut sequence: at the byte that breaks it */
        {"a: \xc3", 4, 1, 4},                  /* truncated at the end */
        {"a: \xed\xa0\x80\n", 7, 1, 4},        /* UTF-16 surrogate */
        {"a: b\0c\n", 7, 1, 5},                /* NUL: a control character */
        {"a: \xc0\xaf\n", 6, 1, 4},            /* overlong */
    };
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const diag *d;

        if (yaml_load_buffer("u.yaml", cases[i].text, cases[i].len, NULL, &docs, dl) !=
            OMLOP_EINVAL)
            fail_msg("case %zu loaded", i);
        assert_int_equal(diag_list_count(dl), 1);
        d = diag_list_at(dl, 0);
        if (d->line != cases[i].line || d->col != cases[i].col)
            fail_msg("case %zu: at %d:%d, want %d:%d (%s)", i, d->line, d->col, cases[i].line,
                     cases[i].col, d->message);
        diag_list_clear(dl);
    }
    assert_int_equal(yaml_load_buffer("u.yaml", "a: \xff", 4, NULL, &docs, dl), OMLOP_EINVAL);
    assert_non_null(strstr(diag_list_at(dl, 0)->message, "UTF-8"));
    assert_int_equal(docs.n, 0);
    diag_list_free(dl);
}

static void test_yamlio_complex_and_nul_keys_rejected(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    strbuf sb = STRBUF_INIT;

    (void)state;
    assert_int_equal(crds_load_text("k.yaml", "? [a, b]\n: 1\n", NULL, &docs, dl), OMLOP_EINVAL);
    assert_string_equal(crds_diag_text(dl, 0, &sb),
                        "k.yaml:1:3: a sequence cannot be a map key; keys must be scalars "
                        "(strings)");
    diag_list_clear(dl);
    assert_int_equal(crds_load_text("k.yaml", "x:\n  {a: 1}: 2\n", NULL, &docs, dl), OMLOP_EINVAL);
    assert_string_equal(crds_diag_text(dl, 0, &sb),
                        "k.yaml:2:3: x: a map cannot be a map key; keys must be scalars (strings)");
    diag_list_clear(dl);
    assert_int_equal(crds_load_text("k.yaml", "\"a\\0b\": 1\n", NULL, &docs, dl), OMLOP_EINVAL);
    assert_string_equal(crds_diag_text(dl, 0, &sb), "k.yaml:1:1: map key contains a NUL character");
    diag_list_clear(dl);
    /* Tagged and empty keys are fine: keys are just text. */
    assert_int_equal(crds_load_text("k.yaml", "!!str 1: a\n\"\": b\n", NULL, &docs, dl), 0);
    assert_string_equal(docs.docs[0].root->pairs[0].key, "1");
    assert_string_equal(docs.docs[0].root->pairs[1].key, "");
    ydoc_list_release(&docs);
    strbuf_release(&sb);
    diag_list_free(dl);
}

static void test_yamlio_reports_every_bad_document_up_to_a_cap(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    strbuf text = STRBUF_INIT, sb = STRBUF_INIT;

    (void)state;
    assert_int_equal(
        crds_load_text("m.yaml", "a: 1\na: 2\n---\nok: 1\n---\nb: *u\n", NULL, &docs, dl),
        OMLOP_EINVAL);
    assert_int_equal(diag_list_count(dl), 2);
    assert_int_equal(diag_list_at(dl, 0)->line, 2);
    assert_int_equal(diag_list_at(dl, 1)->line, 6);
    assert_int_equal(docs.n, 0);
    diag_list_clear(dl);

    for (int i = 0; i < 200; i++)
        strbuf_adds(&text, "k: v\n");
    assert_int_equal(crds_load_text("many.yaml", text.buf, NULL, &docs, dl), OMLOP_EINVAL);
    assert_int_equal(diag_list_count(dl), 50);
    assert_true(crds_ends_with(crds_diag_text(dl, 49, &sb),
                               "(too many problems; stopped reading this input)"));
    strbuf_release(&text);
    strbuf_release(&sb);
    diag_list_free(dl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yamlio_positions_of_nodes_and_keys),
        cmocka_unit_test(test_yamlio_multi_doc_skips_empty_documents),
        cmocka_unit_test(test_yamlio_json_input_parses_like_yaml),
        cmocka_unit_test(test_yamlio_duplicate_key_names_both_positions),
        cmocka_unit_test(test_yamlio_aliases_resolve_by_copy),
        cmocka_unit_test(test_yamlio_alias_bomb_rejected_fast),
        cmocka_unit_test(test_yamlio_undefined_and_recursive_alias),
        cmocka_unit_test(test_yamlio_depth_limit),
        cmocka_unit_test(test_yamlio_size_limit),
        cmocka_unit_test(test_yamlio_doc_count_limit),
        cmocka_unit_test(test_yamlio_syntax_error_position),
        cmocka_unit_test(test_yamlio_invalid_utf8_is_an_error),
        cmocka_unit_test(test_yamlio_complex_and_nul_keys_rejected),
        cmocka_unit_test(test_yamlio_reports_every_bad_document_up_to_a_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
