/*
 * Tests that omlctl's --help texts promise only what exists, run as the real
 * binary offline (omlctl_exec.h): every condition an example of `wait --help`
 * waits for is one omlopd writes (read from reconcilers/tenant_status.c, the
 * only writer of conditions) on a kind that has conditions (Tenant).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "unit-tests/clients/omlctl_exec.h"

/* Append "|TYPE|" to types for each tenant_condition_set(conds, "TYPE", ...) in the writer. */
static void written_conditions(strbuf *types)
{
    static const char call[] = "tenant_condition_set(conds, \"";
    strbuf path = STRBUF_INIT, text = STRBUF_INIT;
    char buf[4096];
    size_t n;
    FILE *f;

    strbuf_addf(&path, "%s/reconcilers/tenant_status.c", omlctl_exec_srcdir());
    f = fopen(path.buf, "r");
    if (!f)
        fail_msg("cannot read %s", path.buf);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        strbuf_add(&text, buf, n);
    fclose(f);
    strbuf_adds(types, "|");
    for (const char *p = strstr(strbuf_str(&text), call); p; p = strstr(p + 1, call)) {
        const char *t = p + sizeof(call) - 1, *q = strchr(t, '"');
        strbuf one = STRBUF_INIT;

        assert_non_null(q);
        strbuf_addf(&one, "|%.*s|", (int)(q - t), t);
        if (!strstr(strbuf_str(types), one.buf))
            strbuf_addf(types, "%.*s|", (int)(q - t), t);
        strbuf_release(&one);
    }
    assert_non_null(strstr(strbuf_str(types), "|Ready|"));
    strbuf_release(&path);
    strbuf_release(&text);
}

static void test_wait_help_examples_name_real_conditions(void **state)
{
    static const char flag[] = "--for=condition=";
    strbuf types = STRBUF_INIT;
    run_result r;
    const char *ex;
    int seen = 0;

    (void)state;
    written_conditions(&types);
    omlctl_exec_run(&r, NULL, (const char *const[]){"wait", "--help", NULL});
    assert_int_equal(r.rc, 0);
    ex = strstr(strbuf_str(&r.out), "Examples:\n");
    assert_non_null(ex);
    for (const char *line = ex; (line = strstr(line, "\n  omlctl wait ")) != NULL; line++) {
        const char *end = strchr(line + 1, '\n'), *c = strstr(line, flag);
        strbuf type = STRBUF_INIT;
        size_t len;

        if (!c || (end && c > end))
            continue;
        c += sizeof(flag) - 1;
        len = strcspn(c, "= \n");
        strbuf_addf(&type, "|%.*s|", (int)len, c);
        /* Only tenants have status.conditions; Backups and Restores report a phase. */
        if (strncmp(line, "\n  omlctl wait tenant", 21) != 0 &&
            strncmp(line, "\n  omlctl wait tn", 17) != 0)
            fail_msg("wait --help waits for a condition on a kind without conditions:%.*s",
                     (int)(end - line), line);
        if (!strstr(strbuf_str(&types), type.buf))
            fail_msg("wait --help names condition %s, which omlopd never writes (it writes %s)",
                     type.buf, types.buf);
        strbuf_release(&type);
        seen++;
    }
    assert_true(seen >= 2);
    omlctl_exec_release(&r);
    strbuf_release(&types);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_help_examples_name_real_conditions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
