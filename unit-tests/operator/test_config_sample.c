/*
 * The sample config deploy/omlopd.yaml (what `make install` puts in /etc/omlop):
 * it loads, passes the start-up checks, serves only the 0600 unix socket (no
 * open TCP), and every setting it shows commented out is a real key.
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
#include "operator/config.h"

static void sample_path(char *buf, size_t n)
{
    const char *src = getenv("OMLOP_SRCDIR");

    snprintf(buf, n, "%s/deploy/omlopd.yaml", src && *src ? src : ".");
}

static void test_sample_serves_only_the_socket(void **state)
{
    omlopd_config c;
    omlop_err err = OMLOP_ERR_INIT;
    char path[512];

    (void)state;
    sample_path(path, sizeof(path));
    config_init(&c);
    if (config_load_file(&c, path, &err) != 0)
        fail_msg("%s", err.msg);
    assert_null(c.listen); /* no TCP: no loopback admin for every local process and page */
    assert_non_null(c.socket_path);
    assert_string_equal(c.socket_path, "/run/omlop/omlopd.sock");
    assert_string_equal(c.store, "sqlite");
    assert_null(c.tokens);
    if (config_check(&c, &err) != 0)
        fail_msg("%s", err.msg);
    config_release(&c);
}

/* Each "# key: value" line of the sample, uncommented, is a setting omlopd knows. */
static void test_sample_commented_settings_are_known(void **state)
{
    char path[512];
    strbuf text = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    int seen = 0;

    (void)state;
    sample_path(path, sizeof(path));
    assert_int_equal(strbuf_read_file(&text, path, 64 * 1024, &err), 0);
    for (char *line = strtok(text.buf, "\n"); line; line = strtok(NULL, "\n")) {
        const char *p = line;
        omlopd_config c;
        size_t key;

        if (strncmp(p, "# ", 2) != 0)
            continue;
        p += 2;
        key = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
        if (key == 0 || p[key] != ':' || p[key + 1] != ' ')
            continue; /* prose, not a setting */
        config_init(&c);
        if (config_load_text(&c, "sample", p, strlen(p), &err) != 0)
            fail_msg("commented setting '%s': %s", p, err.msg);
        config_release(&c);
        seen++;
    }
    assert_true(seen >= 5);
    strbuf_release(&text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_serves_only_the_socket),
        cmocka_unit_test(test_sample_commented_settings_are_known),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
