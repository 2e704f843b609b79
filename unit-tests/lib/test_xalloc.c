/* Tests for lib/xalloc: the abort-on-failure allocators many modules share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

static void test_xmalloc_never_returns_null_even_for_zero(void **state)
{
    char *p = xmalloc(32);

    (void)state;
    memset(p, 'a', 32);
    free(p);
    p = xmalloc(0);
    assert_non_null(p);
    free(p);
}

static void test_xrealloc_keeps_content_and_never_frees_on_zero(void **state)
{
    char *p = xrealloc(NULL, 4);

    (void)state;
    memcpy(p, "abc", 4);
    p = xrealloc(p, 4096);
    assert_string_equal(p, "abc");
    /* plain realloc(p, 0) may free p and return NULL; xrealloc keeps a live pointer */
    p = xrealloc(p, 0);
    assert_non_null(p);
    free(p);
}

static void test_xstrndup_cuts_at_n_and_passes_null_through(void **state)
{
    char *d = xstrndup("omlop", 3);

    (void)state;
    assert_string_equal(d, "oml");
    free(d);
    d = xstrndup("om", 10);
    assert_string_equal(d, "om");
    free(d);
    assert_null(xstrndup(NULL, 3));
}

/* Out of memory: one line on stderr naming the size, then abort() (SIGABRT), in a child. */
static void test_xalloc_die_says_out_of_memory_and_aborts(void **state)
{
    int pipefd[2], status = 0;
    char buf[256] = "";
    ssize_t n;
    pid_t pid;

    (void)state;
    assert_int_equal(pipe(pipefd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        xalloc_die(12345);
    }
    close(pipefd[1]);
    n = read(pipefd[0], buf, sizeof(buf) - 1);
    close(pipefd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "out of memory"));
    assert_non_null(strstr(buf, "12345 bytes"));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xstrdup_copies_and_passes_null_through),
        cmocka_unit_test(test_xcalloc_zeroes_and_never_returns_null),
        cmocka_unit_test(test_xmalloc_never_returns_null_even_for_zero),
        cmocka_unit_test(test_xrealloc_keeps_content_and_never_frees_on_zero),
        cmocka_unit_test(test_xstrndup_cuts_at_n_and_passes_null_through),
        cmocka_unit_test(test_xalloc_die_says_out_of_memory_and_aborts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
