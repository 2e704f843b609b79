/*
 * crds_harness: fixtures the crds/ tests share.
 *
 * - crds_builtin_setup/teardown: a cmocka group fixture that puts the built-in
 *   schema_set in *state (test_examples, test_rules, test_schema_set);
 * - the other crds_* helpers: load fixtures from unit-tests/data/yaml, load text,
 *   format a diagnostic, write and remove files (the test_yamlio*.c files).
 *
 * A header of static functions rather than a helper .c: every .c under
 * unit-tests/ that is not a test is linked into every test binary. Each test
 * uses only some of them, hence CRDS_UNUSED.
 */
#ifndef OMLOP_TEST_CRDS_HARNESS_H
#define OMLOP_TEST_CRDS_HARNESS_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crds/schema.h"
#include "crds/yamlio.h"
#include "lib/strbuf.h"

#define CRDS_UNUSED __attribute__((unused))

/* Group setup: the built-in schema set in *state; fails the group when it does not load. */
static CRDS_UNUSED int crds_builtin_setup(void **state)
{
    schema_set *set = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    if (schema_set_new_builtin(&set, &err) < 0) {
        fprintf(stderr, "built-in CRDs do not load: %s\n", err.msg);
        return -1;
    }
    *state = set;
    return 0;
}

static CRDS_UNUSED int crds_builtin_teardown(void **state)
{
    schema_set_free(*state);
    return 0;
}

/* The path of unit-tests/data/yaml/<name> under $OMLOP_SRCDIR (else "."). */
static CRDS_UNUSED void crds_fixture_path(const char *name, strbuf *out)
{
    const char *src = getenv("OMLOP_SRCDIR");

    strbuf_reset(out);
    strbuf_addf(out, "%s/unit-tests/data/yaml/%s", src && *src ? src : ".", name);
}

/* Load a fixture with default limits; fails the test (with the diags) on another rc. */
static CRDS_UNUSED void crds_load_fixture(const char *name, int want_rc, ydoc_list *docs,
                                          diag_list *dl)
{
    strbuf path = STRBUF_INIT;
    int rc;

    crds_fixture_path(name, &path);
    rc = yaml_load_path(path.buf, NULL, docs, dl);
    if (rc != want_rc) {
        strbuf msg = STRBUF_INIT;

        diag_list_format(dl, &msg);
        fail_msg("%s: rc %d, want %d; diags:\n%s", name, rc, want_rc, strbuf_str(&msg));
    }
    strbuf_release(&path);
}

/* Load NUL-terminated text as if read from a file called name. */
static CRDS_UNUSED int crds_load_text(const char *name, const char *text, const yaml_limits *lim,
                                      ydoc_list *docs, diag_list *dl)
{
    return yaml_load_buffer(name, text, strlen(text), lim, docs, dl);
}

/* Whether s ends with suffix. */
static CRDS_UNUSED int crds_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);

    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The i-th diagnostic as "file:line:col: path: message". */
static CRDS_UNUSED const char *crds_diag_text(const diag_list *dl, size_t i, strbuf *sb)
{
    strbuf_reset(sb);
    assert_true(i < diag_list_count(dl));
    diag_format(diag_list_at(dl, i), sb);
    return strbuf_str(sb);
}

static CRDS_UNUSED void crds_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static CRDS_UNUSED int crds_rm_entry(const char *path, const struct stat *st, int flag,
                                     struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove dir and everything below it. */
static CRDS_UNUSED void crds_rm_tree(const char *dir)
{
    assert_int_equal(nftw(dir, crds_rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

#endif
