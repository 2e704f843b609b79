/*
 * Tests for clients/podman_tar: the archive is checked field by field, and
 * then GNU tar (the reader Podman's own archive code agrees with) lists and
 * extracts it, so "valid ustar" is decided by a real reader, not by us.
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

#include "clients/podman_tar.h"
#include "lib/err.h"
#include "lib/strbuf.h"

static void test_header_fields_and_checksum(void **state)
{
    strbuf tar = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    podman_tar_entry e = {.path = "./etc/app.conf",
                          .data = "hello\n",
                          .len = 6,
                          .mode = 0640,
                          .uid = 1000,
                          .gid = 1001,
                          .mtime = 1700000000};
    unsigned sum = 0;
    char chk[8];

    (void)state;
    assert_int_equal(podman_tar_add(&tar, &e, &err), 0);
    podman_tar_finish(&tar);
    assert_int_equal(tar.len, 4 * PODMAN_TAR_BLOCK); /* header, data, two end blocks */
    assert_string_equal(tar.buf, "etc/app.conf");    /* "./" stripped */
    assert_string_equal(tar.buf + 100, "0000640");
    assert_string_equal(tar.buf + 108, "0001750");
    assert_string_equal(tar.buf + 116, "0001751");
    assert_string_equal(tar.buf + 124, "00000000006");
    assert_string_equal(tar.buf + 136, "14524770400");
    assert_int_equal(tar.buf[156], '0');
    assert_memory_equal(tar.buf + 257,
                        "ustar\0"
                        "00",
                        8);
    for (int i = 0; i < PODMAN_TAR_BLOCK; i++)
        sum += (i >= 148 && i < 156) ? ' ' : (unsigned char)tar.buf[i];
    snprintf(chk, sizeof(chk), "%06o", sum);
    assert_string_equal(tar.buf + 148, chk);
    assert_memory_equal(tar.buf + PODMAN_TAR_BLOCK, "hello\n\0\0", 8);
    for (size_t i = 2 * PODMAN_TAR_BLOCK; i < tar.len; i++)
        assert_int_equal(tar.buf[i], 0);
    strbuf_release(&tar);
}

static void test_bad_paths_are_refused(void **state)
{
    static const struct {
        const char *path;
        const char *msg;
    } cases[] = {
        {"/etc/passwd", "must be relative"},
        {"../x", "'..'"},
        {"a/../../x", "'..'"},
        {"a//b", "empty"},
        {"a/./b", "'.'"},
        {"", "empty path"},
        {"./", "names no file"},
    };
    omlop_err err = OMLOP_ERR_INIT;
    strbuf tar = STRBUF_INIT;
    char longname[120];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        podman_tar_entry e = {.path = cases[i].path, .data = "x", .len = 1};

        assert_int_equal(podman_tar_add(&tar, &e, &err), OMLOP_EINVAL);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("'%s': '%s' lacks '%s'", cases[i].path, err.msg, cases[i].msg);
    }
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    podman_tar_entry e = {.path = longname, .data = "x", .len = 1};
    assert_int_equal(podman_tar_add(&tar, &e, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "too long"));
    assert_int_equal(tar.len, 0); /* nothing half-written */
    strbuf_release(&tar);
}

static void test_gnu_tar_extracts_what_we_built(void **state)
{
    char dir[] = "/tmp/omlop-tar-XXXXXX";
    strbuf tar = STRBUF_INIT, cmd = STRBUF_INIT, got = STRBUF_INIT, path = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    char deep[300];
    char big[1500];
    struct stat st;
    FILE *f;

    (void)state;
    /* a long path: split between ustar's prefix (155) and name (100) fields */
    snprintf(deep, sizeof(deep), "%0150d/%090d/leaf.txt", 0, 0);
    memset(big, 'z', sizeof(big));
    podman_tar_entry entries[] = {
        {.path = "conf", .is_dir = 1, .mode = 0750},
        {.path = "conf/odbc.ini", .data = "[pg]\nHost=127.0.0.1\n", .len = 20},
        {.path = "conf/run.sh", .data = "#!/bin/sh\n", .len = 10, .mode = 0755},
        {.path = "big.bin", .data = big, .len = sizeof(big)},
        {.path = "empty", .data = "", .len = 0},
        {.path = deep, .data = "deep", .len = 4},
    };
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
        assert_int_equal(podman_tar_add(&tar, &entries[i], &err), 0);
    podman_tar_finish(&tar);
    assert_non_null(mkdtemp(dir));
    strbuf_addf(&path, "%s.tar", dir);
    f = fopen(strbuf_str(&path), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(tar.buf, 1, tar.len, f), tar.len);
    fclose(f);
    strbuf_addf(&cmd, "tar -xf %s -C %s 2>&1 && tar -tvf %s 2>&1", strbuf_str(&path), dir,
                strbuf_str(&path));
    f = popen(strbuf_str(&cmd), "r");
    assert_non_null(f);
    assert_int_equal(strbuf_read_fd(&got, fileno(f), 1 << 20, &err), 0);
    assert_int_equal(pclose(f), 0);
    assert_non_null(strstr(strbuf_str(&got), "drwxr-x---"));
    assert_non_null(strstr(strbuf_str(&got), "-rwxr-xr-x"));
    assert_non_null(strstr(strbuf_str(&got), "conf/odbc.ini"));
    assert_null(strstr(strbuf_str(&got), "tar:")); /* no warnings from the reader */

    strbuf_reset(&path);
    strbuf_addf(&path, "%s/conf/odbc.ini", dir);
    strbuf_reset(&got);
    assert_int_equal(strbuf_read_file(&got, strbuf_str(&path), 1024, &err), 0);
    assert_string_equal(strbuf_str(&got), "[pg]\nHost=127.0.0.1\n");
    strbuf_reset(&path);
    strbuf_addf(&path, "%s/big.bin", dir);
    assert_int_equal(stat(strbuf_str(&path), &st), 0);
    assert_int_equal(st.st_size, sizeof(big));
    strbuf_reset(&path);
    strbuf_addf(&path, "%s/%s", dir, deep);
    strbuf_reset(&got);
    assert_int_equal(strbuf_read_file(&got, strbuf_str(&path), 1024, &err), 0);
    assert_string_equal(strbuf_str(&got), "deep");

    strbuf_reset(&cmd);
    strbuf_addf(&cmd, "rm -rf %s %s.tar", dir, dir);
    assert_int_equal(system(strbuf_str(&cmd)), 0);
    strbuf_release(&tar);
    strbuf_release(&cmd);
    strbuf_release(&got);
    strbuf_release(&path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_fields_and_checksum),
        cmocka_unit_test(test_bad_paths_are_refused),
        cmocka_unit_test(test_gnu_tar_extracts_what_we_built),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
