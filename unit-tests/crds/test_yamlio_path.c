/* Tests for crds/yamlio_path: directories, missing paths, stdin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "unit-tests/crds/crds_harness.h"

/* --- paths ---------------------------------------------------------------------------- */

static void test_yamlio_directory_walk_recursive_sorted_filtered(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    char dir[] = "/tmp/omlop-yamlio-XXXXXX";
    strbuf p = STRBUF_INIT, msg = STRBUF_INIT;
    static const char *const want[] = {"a", "b", "c", "a", "y", "z1", "z2"};
    static const char *const want_files[] = {
        "/a.yml",      "/b.yaml",    "/c.json", "/link.yaml", "/sub/deeper/y.yaml",
        "/sub/z.yaml", "/sub/z.yaml"};
    yaml_limits lim;

    (void)state;
    assert_non_null(mkdtemp(dir));
#define AT(rel) (strbuf_reset(&p), strbuf_addf(&p, "%s%s", dir, rel), p.buf)
    crds_write_file(AT("/b.yaml"), "name: b\n");
    crds_write_file(AT("/a.yml"), "name: a\n");
    crds_write_file(AT("/c.json"), "{\"name\": \"c\"}\n");
    crds_write_file(AT("/d.txt"), "name: d\n");
    crds_write_file(AT("/.hidden.yaml"), "name: hidden\n");
    crds_write_file(AT("/README.md"), "# not a manifest: [\n");
    assert_int_equal(mkdir(AT("/sub"), 0700), 0);
    assert_int_equal(mkdir(AT("/sub/deeper"), 0700), 0);
    crds_write_file(AT("/sub/z.yaml"), "name: z1\n---\nname: z2\n");
    crds_write_file(AT("/sub/deeper/y.yaml"), "name: y\n");
    assert_int_equal(symlink(dir, AT("/loop")), 0); /* a loop if followed */
    assert_int_equal(symlink("a.yml", AT("/link.yaml")), 0);
    assert_int_equal(symlink("sub", AT("/sub.yaml")), 0); /* a directory, by name a manifest */

    assert_int_equal(yaml_load_path(dir, NULL, &docs, dl), 0);
    diag_list_format(dl, &msg);
    assert_string_equal(msg.buf ? msg.buf : "", "");
    assert_int_equal(docs.n, 7);
    for (size_t i = 0; i < docs.n; i++) {
        assert_string_equal(ynode_map_get(docs.docs[i].root, "name")->value, want[i]);
        assert_string_equal(docs.docs[i].file, AT(want_files[i]));
    }
    assert_int_equal(docs.docs[6].index, 1);
    ydoc_list_release(&docs);

    /* A file given directly is read whatever its name. */
    assert_int_equal(yaml_load_path(AT("/d.txt"), NULL, &docs, dl), 0);
    assert_string_equal(ynode_map_get(docs.docs[0].root, "name")->value, "d");
    ydoc_list_release(&docs);

    /* A bad file is reported; the other files still load. */
    crds_write_file(AT("/sub/bad.yaml"), "name: [\n");
    assert_int_equal(yaml_load_path(dir, NULL, &docs, dl), OMLOP_EINVAL);
    assert_int_equal(diag_list_count(dl), 1);
    assert_string_equal(diag_list_at(dl, 0)->file, AT("/sub/bad.yaml"));
    assert_int_equal(docs.n, 7);
    ydoc_list_release(&docs);
    diag_list_clear(dl);
    assert_int_equal(unlink(AT("/sub/bad.yaml")), 0);

    /* So is a dangling symlink; the walk goes on past it. */
    assert_int_equal(symlink("nowhere.yaml", AT("/gone.yaml")), 0);
    assert_int_equal(yaml_load_path(dir, NULL, &docs, dl), OMLOP_EIO);
    assert_int_equal(diag_list_count(dl), 1);
    assert_string_equal(diag_list_at(dl, 0)->file, AT("/gone.yaml"));
    assert_non_null(strstr(diag_list_at(dl, 0)->message, "cannot follow symlink"));
    assert_int_equal(docs.n, 7);
    ydoc_list_release(&docs);
    diag_list_clear(dl);
    assert_int_equal(unlink(AT("/gone.yaml")), 0);

    yaml_limits_default(&lim);
    lim.max_files = 3;
    assert_int_equal(yaml_load_path(dir, &lim, &docs, dl), OMLOP_ELIMIT);
    assert_int_equal(diag_list_count(dl), 1);
    assert_non_null(strstr(diag_list_at(dl, 0)->message, "more than 3 manifest files"));
    assert_int_equal(docs.n, 0);
#undef AT
    crds_rm_tree(dir);
    strbuf_release(&p);
    strbuf_release(&msg);
    diag_list_free(dl);
}

static void test_yamlio_missing_path_is_named(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    strbuf sb = STRBUF_INIT;

    (void)state;
    assert_int_equal(yaml_load_path("/nonexistent/omlop/tenant.yaml", NULL, &docs, dl),
                     OMLOP_ENOTFOUND);
    assert_string_equal(crds_diag_text(dl, 0, &sb),
                        "/nonexistent/omlop/tenant.yaml: cannot read: No such file or directory");
    assert_int_equal(docs.n, 0);
    strbuf_release(&sb);
    diag_list_free(dl);
}

/* Run yaml_load_path("-") with text on fd 0 through a pipe; fd 0 is restored after. */
static int load_stdin(const char *text, const yaml_limits *lim, ydoc_list *docs, diag_list *dl)
{
    int p[2], saved, rc;

    assert_int_equal(pipe(p), 0);
    /* Small texts only: the pipe buffer (64 KiB) must hold all of it. */
    assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
    close(p[1]);
    saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
    close(p[0]);
    rc = yaml_load_path("-", lim, docs, dl);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
    return rc;
}

static void test_yamlio_stdin_through_a_pipe(void **state)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    strbuf text = STRBUF_INIT, sb = STRBUF_INIT;
    yaml_limits lim;

    (void)state;
    assert_int_equal(load_stdin("kind: A\n---\nkind: B\n  bad: [\n", NULL, &docs, dl),
                     OMLOP_EINVAL);
    assert_string_equal(diag_list_at(dl, 0)->file, "-");
    assert_int_equal(diag_list_at(dl, 0)->line, 4);
    diag_list_clear(dl);
    assert_int_equal(load_stdin("kind: A\n---\nkind: B\n", NULL, &docs, dl), 0);
    assert_int_equal(docs.n, 2);
    assert_string_equal(docs.docs[1].file, "-");
    assert_string_equal(ynode_map_get(docs.docs[1].root, "kind")->value, "B");
    ydoc_list_release(&docs);

    yaml_limits_default(&lim);
    lim.max_input_bytes = 1000;
    for (int i = 0; i < 500; i++)
        strbuf_adds(&text, "k: v\n");
    assert_int_equal(load_stdin(text.buf, &lim, &docs, dl), OMLOP_ELIMIT);
    assert_string_equal(crds_diag_text(dl, 0, &sb), "-: input is larger than the 1000 byte limit");
    assert_int_equal(docs.n, 0);
    strbuf_release(&text);
    strbuf_release(&sb);
    diag_list_free(dl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yamlio_directory_walk_recursive_sorted_filtered),
        cmocka_unit_test(test_yamlio_missing_path_is_named),
        cmocka_unit_test(test_yamlio_stdin_through_a_pipe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
