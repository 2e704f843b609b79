/* Tests for lib/xalloc: the abort-on-failure allocators many modules share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

static void test_xstrdup_copies_and_passes_null_through(void **state)
{
    const char src[] = "omlop";
    char *d = xstrdup(src);

    (void)state;
    assert_non_null(d);
    assert_ptr_not_equal(d, src);
    assert_string_equal(d, "omlop");
    free(d);
    d = xstrdup("");
    assert_non_null(d);
    assert_string_equal(d, "");
    free(d);
    assert_null(xstrdup(NULL));
}

static void test_xcalloc_zeroes_and_never_returns_null(void **state)
{
    int *v = xcalloc(16, sizeof(*v));
    void *none;

    (void)state;
    for (size_t i = 0; i < 16; i++)
        assert_int_equal(v[i], 0);
    free(v);
    /* n == 0 still gives a usable, freeable pointer: callers size arrays from counts */
    none = xcalloc(0, sizeof(int));
    assert_non_null(none);
    *(int *)none = 1;
    free(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xstrdup_copies_and_passes_null_through),
        cmocka_unit_test(test_xcalloc_zeroes_and_never_returns_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
