/*
 * Tests for the pure parts behind `omlctl diff` and `omlctl edit`:
 * clients/omlctl/udiff.c (unified diffs, checked exactly and by applying them
 * back) and clients/omlctl/mergepatch.c (RFC 7386, and the 3-way patch and
 * last-applied record of client-side apply). Compiled in directly: the
 * omlctl sources are not part of libomlop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crds/mergepatch.h"
#include "clients/omlctl/secretmask.h"
#include "clients/omlctl/udiff.h"
#include "lib/cjson.h"

static char *diff_of(const char *a, const char *b, int context, int *differ)
{
    strbuf out = STRBUF_INIT;

    *differ =
        omlctl_udiff(a, strlen(a), b, strlen(b), "live/tenant/x", "merged/tenant/x", context, &out);
    return strbuf_detach(&out, NULL);
}

static void test_udiff_equal_texts_print_nothing(void **state)
{
    int differ;
    char *d = diff_of("a\nb\n", "a\nb\n", 3, &differ);

    (void)state;
    assert_int_equal(differ, 0);
    assert_string_equal(d, "");
    free(d);
    d = diff_of("", "", 3, &differ);
    assert_int_equal(differ, 0);
    free(d);
}

static void test_udiff_one_change_with_context(void **state)
{
    int differ;
    char *d = diff_of("apiVersion: v1\nkind: Tenant\nspec:\n  layout: aio\n  timeZone: UTC\n",
                      "apiVersion: v1\nkind: Tenant\nspec:\n  layout: cluster\n  timeZone: UTC\n",
                      3, &differ);

    (void)state;
    assert_int_equal(differ, 1);
    assert_string_equal(d, "--- live/tenant/x\n"
                           "+++ merged/tenant/x\n"
                           "@@ -1,5 +1,5 @@\n"
                           " apiVersion: v1\n"
                           " kind: Tenant\n"
                           " spec:\n"
                           "-  layout: aio\n"
                           "+  layout: cluster\n"
                           "   timeZone: UTC\n");
    free(d);
}

static void test_udiff_new_object_and_single_line_ranges(void **state)
{
    int differ;
    char *d = diff_of("", "a\nb\n", 3, &differ);

    (void)state;
    assert_string_equal(d, "--- live/tenant/x\n+++ merged/tenant/x\n@@ -0,0 +1,2 @@\n+a\n+b\n");
    free(d);
    d = diff_of("x\n", "y\n", 0, &differ);
    assert_string_equal(d, "--- live/tenant/x\n+++ merged/tenant/x\n@@ -1 +1 @@\n-x\n+y\n");
    free(d);
    d = diff_of("a\nb\nc\n", "a\nc\n", 0, &differ);
    assert_string_equal(d, "--- live/tenant/x\n+++ merged/tenant/x\n@@ -2 +1,0 @@\n-b\n");
    free(d);
}

static void test_udiff_distant_changes_make_two_hunks(void **state)
{
    strbuf a = STRBUF_INIT, b = STRBUF_INIT;
    int differ;
    char *d;

    (void)state;
    for (int i = 1; i <= 20; i++) {
        strbuf_addf(&a, "l%d\n", i);
        strbuf_addf(&b, "%s%d\n", (i == 2 || i == 18) ? "X" : "l", i);
    }
    d = diff_of(a.buf, b.buf, 2, &differ);
    assert_string_equal(d, "--- live/tenant/x\n+++ merged/tenant/x\n"
                           "@@ -1,4 +1,4 @@\n l1\n-l2\n+X2\n l3\n l4\n"
                           "@@ -16,5 +16,5 @@\n l16\n l17\n-l18\n+X18\n l19\n l20\n");
    free(d);
    /* Changes 4 lines apart with context 2 share one hunk. */
    strbuf_reset(&b);
    for (int i = 1; i <= 20; i++)
        strbuf_addf(&b, "%s%d\n", (i == 5 || i == 10) ? "X" : "l", i);
    d = diff_of(a.buf, b.buf, 2, &differ);
    assert_non_null(strstr(d, "@@ -3,10 +3,10 @@\n"));
    assert_null(strstr(d + 40, "@@ -"));
    free(d);
    strbuf_release(&a);
    strbuf_release(&b);
}

static void test_udiff_missing_final_newline(void **state)
{
    int differ;
    char *d = diff_of("a\nb", "a\nb\n", 3, &differ);

    (void)state;
    assert_int_equal(differ, 1);
    assert_string_equal(d, "--- live/tenant/x\n+++ merged/tenant/x\n@@ -1,2 +1,2 @@\n a\n-b\n"
                           "\\ No newline at end of file\n+b\n");
    free(d);
}

/* Apply a unified diff to a (lines "x\n"), to check a diff by its effect. */
static char *patch_apply(const char *a, const char *diff)
{
    strbuf out = STRBUF_INIT;
    const char *ap = a, *dp = strstr(diff, "@@");
    size_t a_line = 1;

    if (!dp)
        dp = ""; /* no hunks: a comes back unchanged */
    while (*dp) {
        size_t start, skip;
        const char *nl;

        assert_int_equal(strncmp(dp, "@@ -", 4), 0);
        start = strtoul(dp + 4, NULL, 10);
        {
            /* "-S,0" names the line before an empty range. */
            const char *comma = strchr(dp + 4, ',');
            const char *space = strchr(dp + 4, ' ');

            if (comma && comma < space && strtoul(comma + 1, NULL, 10) == 0)
                start++;
        }
        while (a_line < start) {
            nl = strchr(ap, '\n');
            strbuf_add(&out, ap, (size_t)(nl - ap) + 1);
            ap = nl + 1;
            a_line++;
        }
        nl = strchr(dp, '\n');
        assert_non_null(nl);
        dp = nl + 1;
        while (*dp && strncmp(dp, "@@", 2) != 0) {
            nl = strchr(dp, '\n');
            assert_non_null(nl);
            skip = (size_t)(nl - dp);
            if (*dp == ' ' || *dp == '-') {
                const char *anl = strchr(ap, '\n');

                assert_int_equal((size_t)(anl - ap), skip - 1);
                assert_memory_equal(ap, dp + 1, skip - 1);
                if (*dp == ' ')
                    strbuf_add(&out, ap, (size_t)(anl - ap) + 1);
                ap = anl + 1;
                a_line++;
            } else {
                assert_int_equal(*dp, '+');
                strbuf_add(&out, dp + 1, skip);
            }
            dp = nl + 1;
        }
    }
    strbuf_adds(&out, ap);
    return strbuf_detach(&out, NULL);
}

static unsigned next_rand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}

static void test_udiff_random_edits_apply_back(void **state)
{
    unsigned seed = 42;

    (void)state;
    for (int round = 0; round < 300; round++) {
        strbuf a = STRBUF_INIT, b = STRBUF_INIT;
        int na = (int)(next_rand(&seed) % 40), differ;
        char *d, *back;

        for (int i = 0; i < na; i++) {
            int r = (int)(next_rand(&seed) % 10);
            int v = (int)(next_rand(&seed) % 6); /* few values: many equal lines */

            strbuf_addf(&a, "v%d\n", v);
            if (r < 6)
                strbuf_addf(&b, "v%d\n", v);
            else if (r < 8)
                strbuf_addf(&b, "n%d\n", (int)(next_rand(&seed) % 6));
            else if (r == 8)
                strbuf_addf(&b, "v%d\nins\n", v);
            /* r == 9: deleted */
        }
        d = diff_of(strbuf_str(&a), strbuf_str(&b), (int)(next_rand(&seed) % 4), &differ);
        assert_int_equal(differ, strcmp(strbuf_str(&a), strbuf_str(&b)) != 0);
        back = patch_apply(strbuf_str(&a), d);
        assert_string_equal(back, strbuf_str(&b));
        free(back);
        free(d);
        strbuf_release(&a);
        strbuf_release(&b);
    }
}

static void test_udiff_past_the_edit_bound_still_correct(void **state)
{
    strbuf a = STRBUF_INIT, b = STRBUF_INIT;
    int differ;
    char *d, *back;

    (void)state;
    for (int i = 0; i < OMLCTL_UDIFF_MAX_D + 500; i++) {
        strbuf_addf(&a, "a%d\n", i);
        strbuf_addf(&b, "b%d\n", i);
    }
    d = diff_of(a.buf, b.buf, 3, &differ);
    assert_int_equal(differ, 1);
    back = patch_apply(a.buf, d);
    assert_string_equal(back, b.buf);
    free(back);
    free(d);
    strbuf_release(&a);
    strbuf_release(&b);
}

/* --- merge patches ---------------------------------------------------------------------- */

static void check_apply(const char *target, const char *patch, const char *want)
{
    json_object *t = json_tokener_parse(target), *p = json_tokener_parse(patch);
    json_object *w = json_tokener_parse(want), *got = merge_patch_apply(t, p);
    strbuf sb = STRBUF_INIT;

    cjson_canonical(got, &sb);
    if (!cjson_equal(got, w))
        fail_msg("apply %s to %s: got %s, want %s", patch, target, sb.buf, want);
    strbuf_release(&sb);
    json_object_put(t);
    json_object_put(p);
    json_object_put(w);
    json_object_put(got);
}

static void test_merge_patch_apply_rfc7386_examples(void **state)
{
    (void)state;
    check_apply("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    check_apply("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
    check_apply("{\"a\":\"b\"}", "{\"a\":null}", "{}");
    check_apply("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
    check_apply("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    check_apply("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
    check_apply("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
                "{\"a\":{\"b\":\"d\"}}");
    check_apply("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
    check_apply("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]");
    check_apply("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
    check_apply("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
    check_apply("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}");
    check_apply("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
}

static void test_merge_patch_create_then_apply_round_trips(void **state)
{
    static const char *const pairs[][2] = {
        {"{\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"a\"}]},\"metadata\":{\"name\":\"x\"}"
         "}",
         "{\"spec\":{\"layout\":\"cluster\",\"hosts\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
         "\"metadata\":{\"name\":\"x\",\"labels\":{\"env\":\"prod\"}}}"},
        {"{\"a\":1,\"b\":{\"c\":2,\"d\":3}}", "{\"b\":{\"c\":2}}"},
        {"{\"a\":{\"b\":1}}", "{\"a\":5}"},
        {"{\"a\":1}", "{\"a\":1}"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        json_object *from = json_tokener_parse(pairs[i][0]);
        json_object *to = json_tokener_parse(pairs[i][1]);
        json_object *patch = merge_patch_create(from, to);
        json_object *back = merge_patch_apply(from, patch);

        assert_true(cjson_equal(back, to));
        assert_int_equal(merge_patch_is_empty(patch), cjson_equal(from, to));
        json_object_put(from);
        json_object_put(to);
        json_object_put(patch);
        json_object_put(back);
    }
    /* The patch holds only the change, so it re-applies onto a newer object. */
    {
        json_object *orig = json_tokener_parse("{\"spec\":{\"a\":1,\"b\":1}}");
        json_object *edited = json_tokener_parse("{\"spec\":{\"a\":2,\"b\":1}}");
        json_object *newer = json_tokener_parse("{\"spec\":{\"a\":1,\"b\":7}}");
        json_object *patch = merge_patch_create(orig, edited);
        json_object *merged = merge_patch_apply(newer, patch);
        json_object *want = json_tokener_parse("{\"spec\":{\"a\":2,\"b\":7}}");

        assert_true(cjson_equal(merged, want));
        json_object_put(orig);
        json_object_put(edited);
        json_object_put(newer);
        json_object_put(patch);
        json_object_put(merged);
        json_object_put(want);
    }
}

/* --- the 3-way patch of client-side apply ----------------------------------------------- */

static void check_three_way(const char *last, const char *modified, const char *live,
                            const char *want)
{
    json_object *la = last ? json_tokener_parse(last) : NULL, *mo = json_tokener_parse(modified);
    json_object *li = json_tokener_parse(live), *w = json_tokener_parse(want);
    json_object *got = merge_patch_three_way(la, mo, li);
    strbuf sb = STRBUF_INIT;

    assert_non_null(mo);
    assert_non_null(li);
    assert_non_null(w);
    cjson_canonical(got, &sb);
    if (!cjson_equal(got, w))
        fail_msg("3-way last=%s modified=%s live=%s: got %s, want %s", last ? last : "(none)",
                 modified, live, sb.buf, want);
    strbuf_release(&sb);
    json_object_put(la);
    json_object_put(mo);
    json_object_put(li);
    json_object_put(w);
    json_object_put(got);
}

static void test_three_way_patch_deletes_only_what_was_applied(void **state)
{
    (void)state;
    /* The e2e bug: an annotation dropped from the manifest is deleted. */
    check_three_way("{\"metadata\":{\"annotations\":{\"omlop.io/paused\":\"true\"}}}",
                    "{\"metadata\":{\"annotations\":{\"x\":\"1\"}}}",
                    "{\"metadata\":{\"annotations\":{\"omlop.io/paused\":\"true\",\"x\":\"1\"}}}",
                    "{\"metadata\":{\"annotations\":{\"omlop.io/paused\":null}}}");
    /* A whole map removed, and a nested field removed. */
    check_three_way("{\"metadata\":{\"labels\":{\"a\":\"1\"}},\"spec\":{\"images\":{\"tags\":"
                    "{\"nginx\":\"1\",\"omlapp\":\"2\"}}}}",
                    "{\"metadata\":{},\"spec\":{\"images\":{\"tags\":{\"omlapp\":\"2\"}}}}",
                    "{\"metadata\":{\"labels\":{\"a\":\"1\"}},\"spec\":{\"images\":{\"tags\":"
                    "{\"nginx\":\"1\",\"omlapp\":\"2\"}}}}",
                    "{\"metadata\":{\"labels\":null},\"spec\":{\"images\":{\"tags\":"
                    "{\"nginx\":null}}}}");
    /* What was never applied (status, finalizers, a label set by edit) stays. */
    check_three_way("{\"metadata\":{\"labels\":{\"a\":\"1\"}},\"spec\":{\"n\":1}}",
                    "{\"metadata\":{\"labels\":{\"a\":\"1\"}},\"spec\":{\"n\":1}}",
                    "{\"metadata\":{\"labels\":{\"a\":\"1\",\"edited\":\"y\"},\"finalizers\":"
                    "[\"omlop.io/teardown\"],\"resourceVersion\":\"7\"},\"spec\":{\"n\":1},"
                    "\"status\":{\"phase\":\"Ready\"}}",
                    "{}");
    /* Changed and new values are set; a list is replaced whole. */
    check_three_way("{\"spec\":{\"hosts\":[{\"name\":\"a\"},{\"name\":\"b\"}],\"n\":1}}",
                    "{\"spec\":{\"hosts\":[{\"name\":\"a\"}],\"n\":2,\"m\":{\"k\":3}}}",
                    "{\"spec\":{\"hosts\":[{\"name\":\"a\"},{\"name\":\"b\"}],\"n\":1}}",
                    "{\"spec\":{\"hosts\":[{\"name\":\"a\"}],\"n\":2,\"m\":{\"k\":3}}}");
    /* Something another writer changed in an applied field is put back. */
    check_three_way("{\"spec\":{\"n\":1}}", "{\"spec\":{\"n\":1}}", "{\"spec\":{\"n\":9}}",
                    "{\"spec\":{\"n\":1}}");
    /* Without a record (an object kubectl create made), nothing is deleted. */
    check_three_way(NULL, "{\"spec\":{\"n\":1}}", "{\"spec\":{\"n\":1,\"old\":2}}", "{}");
    /* Removed from the manifest but already gone from live: nothing to send. */
    check_three_way("{\"spec\":{\"n\":1,\"old\":2}}", "{\"spec\":{\"n\":1}}",
                    "{\"spec\":{\"n\":1}}", "{}");
    /* An object that became a scalar, and a scalar that became an object. */
    check_three_way("{\"a\":{\"b\":1},\"c\":1}", "{\"a\":5,\"c\":{\"d\":2}}",
                    "{\"a\":{\"b\":1},\"c\":1}", "{\"a\":5,\"c\":{\"d\":2}}");
}

/* The annotation's value, or NULL. */
static const char *last_applied_text(const json_object *obj)
{
    json_object *ann = cjson_get(obj, "metadata.annotations");

    return json_object_get_string(json_object_object_get(ann, LAST_APPLIED_ANNOTATION));
}

static void test_last_applied_record_round_trips(void **state)
{
    json_object *manifest = json_tokener_parse(
        "{\"kind\":\"Tenant\",\"metadata\":{\"name\":\"x\",\"annotations\":{\"b\":\"2\","
        "\"kubectl.kubernetes.io/last-applied-configuration\":\"{\\\"stale\\\":1}\"}},"
        "\"spec\":{\"layout\":\"aio\"},\"status\":{\"phase\":\"Ready\"}}");
    json_object *mod, *rec, *want, *bare;
    json_object *garbage = json_tokener_parse(
        "{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":"
        "\"[1,\"}}}");

    (void)state;
    assert_non_null(manifest);
    mod = last_applied_modified(manifest);
    /* Compact canonical JSON, without status and without the record itself. */
    assert_string_equal(last_applied_text(mod),
                        "{\"kind\":\"Tenant\",\"metadata\":{\"annotations\":"
                        "{\"b\":\"2\"},\"name\":\"x\"},\"spec\":"
                        "{\"layout\":\"aio\"}}");
    assert_null(json_object_object_get(mod, "status"));
    assert_string_equal(cjson_get_string(mod, "metadata.annotations.b"), "2");
    rec = last_applied_get(mod);
    want = json_tokener_parse("{\"kind\":\"Tenant\",\"metadata\":{\"name\":\"x\",\"annotations\":"
                              "{\"b\":\"2\"}},\"spec\":{\"layout\":\"aio\"}}");
    assert_true(cjson_equal(rec, want));
    /* Re-recording a record gives the same object: applying twice is a no-op. */
    {
        json_object *again = last_applied_modified(mod);

        assert_true(cjson_equal(again, mod));
        json_object_put(again);
    }
    /* A manifest without annotations gets a map holding only the record, and its record has none.
     */
    bare = json_tokener_parse("{\"metadata\":{\"name\":\"y\"}}");
    json_object_put(mod);
    mod = last_applied_modified(bare);
    assert_string_equal(last_applied_text(mod), "{\"metadata\":{\"name\":\"y\"}}");
    assert_int_equal(json_object_object_length(cjson_get(mod, "metadata.annotations")), 1);
    /* No record, or one that is not a JSON object: nothing to delete. */
    assert_null(last_applied_get(bare));
    assert_null(last_applied_get(garbage));
    json_object_put(manifest);
    json_object_put(mod);
    json_object_put(rec);
    json_object_put(want);
    json_object_put(bare);
    json_object_put(garbage);
}

/* kubectl's record (its key order, a trailing newline) is read like omlctl's own. */
static void test_last_applied_reads_kubectl_records(void **state)
{
    json_object *live = json_tokener_parse(
        "{\"metadata\":{\"name\":\"s\",\"labels\":{\"app\":\"k\",\"old\":\"x\"},\"annotations\":"
        "{\"kubectl.kubernetes.io/last-applied-configuration\":\"{\\\"apiVersion\\\":\\\"v1\\\","
        "\\\"kind\\\":\\\"Secret\\\",\\\"metadata\\\":{\\\"annotations\\\":{},\\\"labels\\\":"
        "{\\\"app\\\":\\\"k\\\",\\\"old\\\":\\\"x\\\"},\\\"name\\\":\\\"s\\\"}}\\n\"}}}");
    json_object *manifest =
        json_tokener_parse("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
                           "\"s\",\"labels\":{\"app\":\"k\"}}}");
    json_object *last, *mod, *patch, *result;

    (void)state;
    assert_non_null(live);
    last = last_applied_get(live);
    assert_non_null(last);
    mod = last_applied_modified(manifest);
    patch = merge_patch_three_way(last, mod, live);
    result = merge_patch_apply(live, patch);
    assert_null(cjson_get(result, "metadata.labels.old"));
    assert_string_equal(cjson_get_string(result, "metadata.labels.app"), "k");
    assert_string_equal(last_applied_text(result), last_applied_text(mod));
    json_object_put(live);
    json_object_put(manifest);
    json_object_put(last);
    json_object_put(mod);
    json_object_put(patch);
    json_object_put(result);
}

/* kubectl diff's masks: equal, changed, removed and added keys; data and stringData. */
static void test_secret_mask_like_kubectl(void **state)
{
    json_object *a = json_tokener_parse(
        "{\"kind\":\"Secret\",\"type\":\"Opaque\",\"data\":{\"same\":\"c2FtZQ==\","
        "\"changed\":\"b2xk\",\"gone\":\"Z29uZQ==\"},\"stringData\":{\"s\":\"old\"}}");
    json_object *b = json_tokener_parse(
        "{\"kind\":\"Secret\",\"type\":\"Opaque\",\"data\":{\"same\":\"c2FtZQ==\","
        "\"changed\":\"bmV3\",\"added\":\"YWRk\"},\"stringData\":{\"s\":\"new\"}}");
    json_object *fresh = json_tokener_parse("{\"kind\":\"Secret\",\"data\":{\"k\":\"dg==\"}}");
    json_object *tenant = json_tokener_parse("{\"kind\":\"Tenant\",\"data\":{\"k\":\"v\"}}");

    (void)state;
    omlctl_secret_mask(a, b);
    assert_string_equal(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN),
                        "{\"kind\":\"Secret\",\"type\":\"Opaque\",\"data\":{\"same\":\"***\","
                        "\"changed\":\"*** (before)\",\"gone\":\"***\"},"
                        "\"stringData\":{\"s\":\"*** (before)\"}}");
    assert_string_equal(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN),
                        "{\"kind\":\"Secret\",\"type\":\"Opaque\",\"data\":{\"same\":\"***\","
                        "\"changed\":\"*** (after)\",\"added\":\"***\"},"
                        "\"stringData\":{\"s\":\"*** (after)\"}}");
    /* A new object (nothing before), and another kind left alone. */
    omlctl_secret_mask(NULL, fresh);
    assert_string_equal(json_object_get_string(cjson_get(fresh, "data.k")), "***");
    omlctl_secret_mask(tenant, NULL);
    assert_string_equal(json_object_get_string(cjson_get(tenant, "data.k")), "v");
    json_object_put(a);
    json_object_put(b);
    json_object_put(fresh);
    json_object_put(tenant);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udiff_equal_texts_print_nothing),
        cmocka_unit_test(test_udiff_one_change_with_context),
        cmocka_unit_test(test_udiff_new_object_and_single_line_ranges),
        cmocka_unit_test(test_udiff_distant_changes_make_two_hunks),
        cmocka_unit_test(test_udiff_missing_final_newline),
        cmocka_unit_test(test_udiff_random_edits_apply_back),
        cmocka_unit_test(test_udiff_past_the_edit_bound_still_correct),
        cmocka_unit_test(test_merge_patch_apply_rfc7386_examples),
        cmocka_unit_test(test_merge_patch_create_then_apply_round_trips),
        cmocka_unit_test(test_three_way_patch_deletes_only_what_was_applied),
        cmocka_unit_test(test_last_applied_record_round_trips),
        cmocka_unit_test(test_last_applied_reads_kubectl_records),
        cmocka_unit_test(test_secret_mask_like_kubectl),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
