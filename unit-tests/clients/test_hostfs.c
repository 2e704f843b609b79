/*
 * Tests of clients/hostfs: the pure helpers (sh quoting, sha256sum output
 * parsing), then writes, hashes, removes and TCP probes through a real
 * ssh_conn to a private sshd on 127.0.0.1 (unit-tests/clients/sshd_fixture.h),
 * whose "host" filesystem is this machine's: the tests work in the fixture's
 * temp dir and check the results with stat(2) and a local SHA-256.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clients/hostfs.h"
#include "clients/ssh.h"
#include "lib/cjson.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "unit-tests/clients/sshd_fixture.h"

#define H_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define H_ABC   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* --- pure: quoting ----------------------------------------------------------------------- */

static void test_quote_plain_spaces_quotes_and_empty(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", "''"},
        {"/etc/default/redis.env", "'/etc/default/redis.env'"},
        {"a b\tc", "'a b\tc'"},
        {"it's", "'it'\\''s'"},
        {"''", "''\\'''\\'''"},
        {"$HOME `x` \"q\" \\n *", "'$HOME `x` \"q\" \\n *'"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf sb = STRBUF_INIT;

        hostfs_quote(&sb, cases[i].in);
        assert_string_equal(strbuf_str(&sb), cases[i].want);
        strbuf_release(&sb);
    }
}

static void test_quote_appends(void **state)
{
    strbuf sb = STRBUF_INIT;

    (void)state;
    strbuf_adds(&sb, "rm -f -- ");
    hostfs_quote(&sb, "/x");
    assert_string_equal(strbuf_str(&sb), "rm -f -- '/x'");
    strbuf_release(&sb);
}

/* --- pure: sha256sum output -------------------------------------------------------------- */

static void test_parse_sha256sum_maps_paths_and_missing(void **state)
{
    const char *paths[] = {"/etc/a.env", "/missing", "/etc/b.conf", "/etc/a.env"};
    char hex[4][HOSTFS_SHA256_HEX_LEN + 1];
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    memset(hex, 'x', sizeof(hex));
    assert_int_equal(hostfs_parse_sha256sum(H_ABC "  /etc/a.env\n" H_EMPTY " */etc/b.conf\n", paths,
                                            4, hex, &err),
                     0);
    assert_string_equal(hex[0], H_ABC);
    assert_string_equal(hex[1], "");
    assert_string_equal(hex[2], H_EMPTY);
    assert_string_equal(hex[3], H_ABC); /* asked twice: both get it */
    /* nothing printed: everything is missing */
    assert_int_equal(hostfs_parse_sha256sum("", paths, 4, hex, &err), 0);
    for (int i = 0; i < 4; i++)
        assert_string_equal(hex[i], "");
}

static void test_parse_sha256sum_escaped_names(void **state)
{
    const char *paths[] = {"/tmp/a\\b", "/tmp/c\nd", "/tmp/it's x"};
    char hex[3][HOSTFS_SHA256_HEX_LEN + 1];
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(hostfs_parse_sha256sum("\\" H_ABC "  /tmp/a\\\\b\n"
                                            "\\" H_EMPTY "  /tmp/c\\nd\n" H_ABC "  /tmp/it's x\n",
                                            paths, 3, hex, &err),
                     0);
    assert_string_equal(hex[0], H_ABC);
    assert_string_equal(hex[1], H_EMPTY);
    assert_string_equal(hex[2], H_ABC);
}

static void test_parse_sha256sum_garbage_is_eproto(void **state)
{
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"garbage\n", "is not"},
        {"ba7816bf  /etc/a.env\n", "is not"}, /* short hash */
        {"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD  /etc/a.env\n",
         "is not"},                                                           /* not ours */
        {H_ABC " /etc/a.env\n", "is not"},                                    /* one space */
        {H_ABC "  /etc/other\n", "not asked for"},                            /* unknown path */
        {H_ABC "  /etc/a.env", "cut short"},                                  /* no newline */
        {"\\" H_ABC "  /etc/a\\x.env\n", "is not"},                           /* bad escape */
        {H_ABC "  /etc/a.env\nsha256sum: /x: Permission denied\n", "line 2"}, /* stray line */
        {H_ABC "  \n", "is not"},                                             /* empty name */
    };
    const char *paths[] = {"/etc/a.env"};
    char hex[1][HOSTFS_SHA256_HEX_LEN + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        omlop_err err = OMLOP_ERR_INIT;

        if (hostfs_parse_sha256sum(cases[i].text, paths, 1, hex, &err) != OMLOP_EPROTO)
            fail_msg("case %zu (%s) was not EPROTO", i, cases[i].text);
        if (!strstr(err.msg, cases[i].why))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].why);
    }
}

/* --- pure: the directory scripts --------------------------------------------------------- */

/* Parents before the directory, each its own step (so the record lists each one made). */
static void test_dirs_make_script_parents_first_mode_owner(void **state)
{
    const hostfs_dir dirs[] = {{"/etc/omnileads/certs", 0750, NULL}, {"/srv/x y", 0700, "0:0"}};
    strbuf sc = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    const char *s, *a, *b, *c;

    (void)state;
    assert_int_equal(hostfs_dirs_make_script(&sc, "h1", dirs, 2, "/var/lib/omlop/dirs/t1", &err),
                     0);
    s = strbuf_str(&sc);
    assert_non_null(strstr(s, "r='/var/lib/omlop/dirs/t1'"));
    assert_non_null(strstr(s, "mkdir -p -- '/var/lib/omlop/dirs' || exit 1"));
    a = strstr(s, "mk '/etc' 0755 || exit 1");
    b = strstr(s, "mk '/etc/omnileads' 0755 || exit 1");
    c = strstr(s, "mk '/etc/omnileads/certs' 0750 || exit 1");
    assert_true(a && b && c && a < b && b < c);
    assert_non_null(strstr(s, "mk '/srv' 0755 || exit 1; mk '/srv/x y' 0700 '0:0' || exit 1"));
    /* an existing directory is left as it is: mk returns before mkdir, record and chown */
    assert_non_null(strstr(s, "mk() { [ -d \"$1\" ] && return 0; mkdir -m \"$2\""));
    assert_true(strstr(s, "chown") > strstr(s, ">>\"$r\""));
    strbuf_release(&sc);
}

static void test_dirs_scripts_refuse_bad_input(void **state)
{
    static const struct {
        hostfs_dir d;
        const char *record, *why;
    } cases[] = {
        {{"etc/x", 0755, NULL}, "/r/t", "must be absolute"},
        {{"/etc/../x", 0755, NULL}, "/r/t", "'..' component"},
        {{"/etc/./x", 0755, NULL}, "/r/t", "'..' component"},
        {{"/etc//x", 0755, NULL}, "/r/t", "empty"},
        {{"/etc/x/", 0755, NULL}, "/r/t", "empty"},
        {{"/", 0755, NULL}, "/r/t", "empty"},
        {{"/etc/x\ny", 0755, NULL}, "/r/t", "newline"},
        {{"/etc/x", 010000, NULL}, "/r/t", "not a directory mode"},
        {{"/etc/x", 0755, "-R"}, "/r/t", "owner '-R'"},
        {{"/etc/x", 0755, "a b"}, "/r/t", "owner 'a b'"},
        {{"/etc/x", 0755, ""}, "/r/t", "owner ''"},
        {{"/etc/x", 0755, NULL}, "r/t", "'r/t' must be absolute"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf sc = STRBUF_INIT;
        omlop_err err = OMLOP_ERR_INIT;

        assert_int_equal(hostfs_dirs_make_script(&sc, "h1", &cases[i].d, 1, cases[i].record, &err),
                         OMLOP_EINVAL);
        if (!strstr(err.msg, cases[i].why) || !strstr(err.msg, "host h1"))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].why);
        strbuf_release(&sc);
    }
    /* the bounds of the mode: 07777 is one, 010000 (above) is not */
    {
        hostfs_dir d = {"/etc/x", 07777, "omlop:omlop"};
        strbuf sc = STRBUF_INIT;

        assert_int_equal(hostfs_dirs_make_script(&sc, "h1", &d, 1, "/r/t", NULL), 0);
        assert_non_null(strstr(strbuf_str(&sc), "mk '/etc/x' 7777 'omlop:omlop'"));
        strbuf_release(&sc);
    }
    {
        strbuf sc = STRBUF_INIT;
        omlop_err err = OMLOP_ERR_INIT;

        assert_int_equal(hostfs_dirs_remove_script(&sc, "h1", "/r/../t", &err), OMLOP_EINVAL);
        assert_int_equal(hostfs_dirs_remove_script(&sc, "h1", "/r/t", &err), 0);
        assert_non_null(strstr(strbuf_str(&sc), "tac -- \"$r\""));
        assert_non_null(strstr(strbuf_str(&sc), "rmdir -- \"$d\""));
        strbuf_release(&sc);
    }
}

/* --- real: through sshd ------------------------------------------------------------------ */

/* A path under the fixture's dir. */
static const char *path_in(const sshd_fixture *f, strbuf *sb, const char *rel)
{
    strbuf_reset(sb);
    strbuf_addf(sb, "%s/%s", f->dir, rel);
    return strbuf_str(sb);
}

/* How many entries of dir have "omlop-" in their name (temp files left behind). */
static int count_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".omlop-") != NULL;
    closedir(d);
    return n;
}

static void test_write_then_hash_round_trip(void **state)
{
    sshd_fixture *f = *state;
    strbuf p = STRBUF_INIT, d = STRBUF_INIT, content = STRBUF_INIT;
    const char *data = "REDIS_PASSWORD='s3cr3t $x `y`'\nREDIS_PORT=6379\n";
    char hex[1][HOSTFS_SHA256_HEX_LEN + 1], want[CJSON_HASH_HEX_LEN + 1];
    const char *paths[1];
    omlop_err err = OMLOP_ERR_INIT;
    struct stat st;

    paths[0] = path_in(f, &p, "w1/etc/default/redis.env");
    assert_int_equal(hostfs_write(f->conn, paths[0], data, strlen(data), 0600, &err), 0);
    assert_int_equal(stat(paths[0], &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(strbuf_read_file(&content, paths[0], 4096, &err), 0);
    assert_string_equal(strbuf_str(&content), data);
    /* missing parents were made 0755 */
    assert_int_equal(stat(path_in(f, &d, "w1/etc/default"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(stat(path_in(f, &d, "w1"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(count_temp_files(path_in(f, &d, "w1/etc/default")), 0);
    assert_int_equal(hostfs_hashes(f->conn, paths, 1, hex, &err), 0);
    cjson_sha256_hex(data, strlen(data), want);
    assert_string_equal(hex[0], want);
    strbuf_release(&p);
    strbuf_release(&d);
    strbuf_release(&content);
}

/* Several files in one exec: each gets exactly its bytes (binary, empty, large), its mode; a
 * failing one stops the rest and is named. */
static void test_write_many_splits_stdin_exactly(void **state)
{
    sshd_fixture *f = *state;
    strbuf p[4] = {STRBUF_INIT, STRBUF_INIT, STRBUF_INIT, STRBUF_INIT}, big = STRBUF_INIT;
    strbuf content = STRBUF_INIT, d = STRBUF_INIT;
    static const char bin[] = {'a', '\0', '\n', 'b', '\377'};
    hostfs_file files[4];
    omlop_err err = OMLOP_ERR_INIT;
    struct stat st;

    for (int i = 0; i < 100000; i++)
        strbuf_addch(&big, (char)('A' + i % 26));
    files[0] = (hostfs_file){path_in(f, &p[0], "wm/a.env"), "A=1\n", 4, 0600};
    files[1] = (hostfs_file){path_in(f, &p[1], "wm/sub/bin"), bin, sizeof(bin), 0644};
    files[2] = (hostfs_file){path_in(f, &p[2], "wm/empty"), NULL, 0, 0600};
    files[3] = (hostfs_file){path_in(f, &p[3], "wm/big"), big.buf, big.len, 0600};
    assert_int_equal(hostfs_write_many(f->conn, files, 4, &err), 0);
    assert_int_equal(strbuf_read_file(&content, files[0].path, 4096, &err), 0);
    assert_string_equal(strbuf_str(&content), "A=1\n");
    assert_int_equal(stat(files[1].path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(st.st_size, sizeof(bin));
    strbuf_reset(&content);
    assert_int_equal(strbuf_read_file(&content, files[1].path, 4096, &err), 0);
    assert_memory_equal(content.buf, bin, sizeof(bin));
    assert_int_equal(stat(files[2].path, &st), 0);
    assert_int_equal(st.st_size, 0);
    strbuf_reset(&content);
    assert_int_equal(strbuf_read_file(&content, files[3].path, 1 << 20, &err), 0);
    assert_int_equal(content.len, big.len);
    assert_memory_equal(content.buf, big.buf, big.len);
    assert_int_equal(count_temp_files(path_in(f, &d, "wm")), 0);
    /* a directory where the second file should go: the first is written, the third is not */
    files[0].data = "A=2\n";
    files[1].path = path_in(f, &p[1], "wm/sub");
    files[2].path = path_in(f, &p[2], "wm/never");
    assert_int_equal(hostfs_write_many(f->conn, files, 3, &err), OMLOP_EIO);
    assert_non_null(strstr(err.msg, "wm/sub"));
    strbuf_reset(&content);
    assert_int_equal(strbuf_read_file(&content, files[0].path, 4096, &err), 0);
    assert_string_equal(strbuf_str(&content), "A=2\n");
    assert_int_not_equal(stat(files[2].path, &st), 0);
    for (int i = 0; i < 4; i++)
        strbuf_release(&p[i]);
    strbuf_release(&big);
    strbuf_release(&content);
    strbuf_release(&d);
}

/* The public IP as a URL answers it on the host (file:// stands in for a web service). */
static void test_public_ip_asks_from_the_host(void **state)
{
    sshd_fixture *f = *state;
    strbuf p = STRBUF_INIT, url = STRBUF_INIT, ip = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(
        hostfs_write(f->conn, path_in(f, &p, "ip/answer"), "203.0.113.7\n", 12, 0644, &err), 0);
    strbuf_addf(&url, "file://%s", strbuf_str(&p));
    assert_int_equal(hostfs_public_ip(f->conn, strbuf_str(&url), &ip, &err), 0);
    assert_string_equal(strbuf_str(&ip), "203.0.113.7");
    /* an answer that is not an address */
    assert_int_equal(hostfs_write(f->conn, strbuf_str(&p), "<html>", 6, 0644, &err), 0);
    strbuf_reset(&ip);
    assert_int_equal(hostfs_public_ip(f->conn, strbuf_str(&url), &ip, &err), OMLOP_EPROTO);
    assert_non_null(strstr(err.msg, "not an IPv4 address"));
    assert_int_equal(ip.len, 0);
    /* no answer at all: unavailable, naming the URL */
    strbuf_adds(&url, ".missing");
    assert_int_equal(hostfs_public_ip(f->conn, strbuf_str(&url), &ip, &err), OMLOP_EUNAVAIL);
    assert_non_null(strstr(err.msg, ".missing"));
    assert_int_equal(hostfs_public_ip(f->conn, "", &ip, &err), OMLOP_EINVAL);
    strbuf_release(&p);
    strbuf_release(&url);
    strbuf_release(&ip);
}

static void test_write_replaces_content_and_mode(void **state)
{
    sshd_fixture *f = *state;
    strbuf p = STRBUF_INIT, d = STRBUF_INIT;
    const char *paths[1];
    char hex[1][HOSTFS_SHA256_HEX_LEN + 1];
    omlop_err err = OMLOP_ERR_INIT;
    struct stat st;

    paths[0] = path_in(f, &p, "w2/app.conf");
    assert_int_equal(hostfs_write(f->conn, paths[0], "old old old", 11, 0600, &err), 0);
    assert_int_equal(hostfs_write(f->conn, paths[0], "abc", 3, 0644, &err), 0);
    assert_int_equal(stat(paths[0], &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(st.st_size, 3);
    assert_int_equal(hostfs_hashes(f->conn, paths, 1, hex, &err), 0);
    assert_string_equal(hex[0], H_ABC);
    /* empty content is a file too */
    assert_int_equal(hostfs_write(f->conn, paths[0], NULL, 0, 0600, &err), 0);
    assert_int_equal(hostfs_hashes(f->conn, paths, 1, hex, &err), 0);
    assert_string_equal(hex[0], H_EMPTY);
    assert_int_equal(count_temp_files(path_in(f, &d, "w2")), 0);
    strbuf_release(&p);
    strbuf_release(&d);
}

static void test_write_binary_content_goes_through_stdin(void **state)
{
    sshd_fixture *f = *state;
    strbuf p = STRBUF_INIT, got = STRBUF_INIT;
    size_t len = 200 * 1024;
    unsigned char *data = malloc(len);
    omlop_err err = OMLOP_ERR_INIT;

    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 9)); /* NULs, quotes, newlines */
    path_in(f, &p, "w3/blob.bin");
    assert_int_equal(hostfs_write(f->conn, strbuf_str(&p), data, len, 0600, &err), 0);
    assert_int_equal(strbuf_read_file(&got, strbuf_str(&p), len + 1, &err), 0);
    assert_int_equal(got.len, len);
    assert_memory_equal(got.buf, data, len);
    free(data);
    strbuf_release(&p);
    strbuf_release(&got);
}

static void test_hashes_missing_files_are_empty(void **state)
{
    sshd_fixture *f = *state;
    strbuf a = STRBUF_INIT, b = STRBUF_INIT, c = STRBUF_INIT, q = STRBUF_INIT, s = STRBUF_INIT;
    const char *paths[5];
    char hex[5][HOSTFS_SHA256_HEX_LEN + 1];
    omlop_err err = OMLOP_ERR_INIT;

    paths[0] = path_in(f, &a, "h1/present");
    paths[1] = path_in(f, &b, "h1/absent");
    paths[2] = path_in(f, &c, "h1/no/such/dir/file");
    paths[3] = path_in(f, &q, "h1/it's a \\ name");
    paths[4] = path_in(f, &s, "h1/dangling");
    assert_int_equal(hostfs_write(f->conn, paths[0], "abc", 3, 0600, &err), 0);
    assert_int_equal(hostfs_write(f->conn, paths[3], "", 0, 0600, &err), 0);
    assert_int_equal(symlink("/nonexistent/target", paths[4]), 0);
    memset(hex, 'x', sizeof(hex));
    assert_int_equal(hostfs_hashes(f->conn, paths, 5, hex, &err), 0);
    assert_string_equal(hex[0], H_ABC);
    assert_string_equal(hex[1], "");
    assert_string_equal(hex[2], "");
    assert_string_equal(hex[3], H_EMPTY); /* sha256sum escapes this name: parsed back */
    assert_string_equal(hex[4], "");
    strbuf_release(&a);
    strbuf_release(&b);
    strbuf_release(&c);
    strbuf_release(&q);
    strbuf_release(&s);
}

static void test_hashes_real_errors_fail_naming_the_path(void **state)
{
    sshd_fixture *f = *state;
    strbuf a = STRBUF_INIT, b = STRBUF_INIT;
    const char *paths[2];
    char hex[2][HOSTFS_SHA256_HEX_LEN + 1];
    omlop_err err = OMLOP_ERR_INIT;

    /* a directory where a file is expected */
    paths[0] = path_in(f, &a, "h2/file");
    paths[1] = path_in(f, &b, "h2");
    assert_int_equal(hostfs_write(f->conn, paths[0], "abc", 3, 0600, &err), 0);
    assert_int_equal(hostfs_hashes(f->conn, paths, 2, hex, &err), OMLOP_EIO);
    assert_non_null(strstr(err.msg, "host testhost: cannot hash"));
    assert_non_null(strstr(err.msg, "Is a directory"));
    assert_string_equal(hex[0], "");
    /* a file where a directory is expected: not "missing" */
    paths[1] = path_in(f, &b, "h2/file/below");
    assert_int_equal(hostfs_hashes(f->conn, paths + 1, 1, hex, &err), OMLOP_EIO);
    assert_non_null(strstr(err.msg, strbuf_str(&b)));
    assert_non_null(strstr(err.msg, "not a directory"));
    strbuf_release(&a);
    strbuf_release(&b);
}

static void test_hashes_unreadable_file_fails(void **state)
{
    sshd_fixture *f = *state;
    strbuf a = STRBUF_INIT;
    const char *paths[1];
    char hex[1][HOSTFS_SHA256_HEX_LEN + 1];
    omlop_err err = OMLOP_ERR_INIT;

    /* A file mode 0000 stops everyone but root, and the tests run as root too: a write-only
     * sysctl (0200) refuses reading to root as well, so a link to one is unreadable for any
     * user. The mode-0000 file is still tried first where it can be seen to fail. */
    paths[0] = path_in(f, &a, "h3/secret");
    assert_int_equal(hostfs_write(f->conn, paths[0], "abc", 3, 0000, &err), 0);
    if (geteuid() != 0) {
        assert_int_equal(hostfs_hashes(f->conn, paths, 1, hex, &err), OMLOP_EIO);
        assert_non_null(strstr(err.msg, "Permission denied"));
    }
    assert_int_equal(unlink(paths[0]), 0);
    assert_int_equal(symlink("/proc/sys/vm/drop_caches", paths[0]), 0);
    memset(hex, 'x', sizeof(hex));
    assert_int_equal(hostfs_hashes(f->conn, paths, 1, hex, &err), OMLOP_EIO);
    assert_non_null(strstr(err.msg, "Permission denied"));
    assert_non_null(strstr(err.msg, "h3/secret"));
    assert_string_equal(hex[0], "");
    strbuf_release(&a);
}

static void test_remove_is_idempotent_and_names_failures(void **state)
{
    sshd_fixture *f = *state;
    strbuf p = STRBUF_INIT, d = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    struct stat st;

    path_in(f, &p, "r1/gone.env");
    assert_int_equal(hostfs_write(f->conn, strbuf_str(&p), "x", 1, 0600, &err), 0);
    assert_int_equal(hostfs_remove(f->conn, strbuf_str(&p), &err), 0);
    assert_int_equal(stat(strbuf_str(&p), &st), -1);
    assert_int_equal(hostfs_remove(f->conn, strbuf_str(&p), &err), 0);
    /* a directory is not removed, and the error says which and why */
    path_in(f, &d, "r1");
    assert_int_equal(hostfs_remove(f->conn, strbuf_str(&d), &err), OMLOP_EIO);
    assert_non_null(strstr(err.msg, "host testhost: cannot remove"));
    assert_non_null(strstr(err.msg, strbuf_str(&d)));
    assert_non_null(strstr(err.msg, "Is a directory"));
    assert_int_equal(stat(strbuf_str(&d), &st), 0);
    strbuf_release(&p);
    strbuf_release(&d);
}

/*
 * Bind-mount directories: made with their mode, parents 0755, and recorded -
 * only those made, never one that was there; the removal takes back exactly
 * the recorded ones that are empty, deepest first, and then the record.
 */
static void test_dirs_make_records_and_remove_takes_back_only_those(void **state)
{
    sshd_fixture *f = *state;
    strbuf a = STRBUF_INIT, b = STRBUF_INIT, rec = STRBUF_INIT, user = STRBUF_INIT;
    strbuf text = STRBUF_INIT, want = STRBUF_INIT, p = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    hostfs_dir dirs[2];
    const char *paths[3];
    int present[3];
    struct stat st;

    path_in(f, &user, "d1/pre");
    assert_int_equal(mkdir(path_in(f, &p, "d1"), 0755), 0);
    assert_int_equal(mkdir(strbuf_str(&user), 0711), 0); /* the user's own, with a file */
    assert_int_equal(hostfs_write(f->conn, path_in(f, &p, "d1/pre/mine"), "x", 1, 0600, &err), 0);
    dirs[0] = (hostfs_dir){path_in(f, &a, "d1/pre/certs"), 0750, NULL};
    dirs[1] = (hostfs_dir){path_in(f, &b, "d1/new/a/b"), 0700, NULL};
    path_in(f, &rec, "state/dirs/t1");
    paths[0] = strbuf_str(&a);
    paths[1] = strbuf_str(&b);
    paths[2] = strbuf_str(&user);
    assert_int_equal(hostfs_dirs_present(f->conn, paths, 3, present, &err), 0);
    assert_int_equal(present[0] + present[1], 0);
    assert_int_equal(present[2], 1);

    assert_int_equal(hostfs_dirs_make(f->conn, dirs, 2, strbuf_str(&rec), &err), 0);
    assert_int_equal(stat(strbuf_str(&a), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    assert_int_equal(stat(strbuf_str(&b), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(stat(path_in(f, &p, "d1/new/a"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(stat(strbuf_str(&user), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0711); /* untouched */
    strbuf_addf(&want, "%s\n%s/d1/new\n%s/d1/new/a\n%s\n", strbuf_str(&a), f->dir, f->dir,
                strbuf_str(&b));
    assert_int_equal(strbuf_read_file(&text, strbuf_str(&rec), 4096, &err), 0);
    assert_string_equal(strbuf_str(&text), strbuf_str(&want));
    assert_int_equal(hostfs_dirs_present(f->conn, paths, 3, present, &err), 0);
    assert_int_equal(present[0] + present[1] + present[2], 3);
    /* again: nothing to make, nothing recorded twice */
    assert_int_equal(hostfs_dirs_make(f->conn, dirs, 2, strbuf_str(&rec), &err), 0);
    strbuf_reset(&text);
    assert_int_equal(strbuf_read_file(&text, strbuf_str(&rec), 4096, &err), 0);
    assert_string_equal(strbuf_str(&text), strbuf_str(&want));

    /* someone put a file in d1/new/a: it and its parent stay, the rest of ours goes */
    assert_int_equal(hostfs_write(f->conn, path_in(f, &p, "d1/new/a/theirs"), "y", 1, 0644, &err),
                     0);
    assert_int_equal(hostfs_dirs_remove(f->conn, strbuf_str(&rec), &err), 0);
    assert_int_equal(stat(strbuf_str(&a), &st), -1);
    assert_int_equal(stat(strbuf_str(&b), &st), -1);
    assert_int_equal(stat(path_in(f, &p, "d1/new/a/theirs"), &st), 0);
    assert_int_equal(stat(strbuf_str(&user), &st), 0);
    assert_int_equal(stat(path_in(f, &p, "d1/pre/mine"), &st), 0);
    assert_int_equal(stat(strbuf_str(&rec), &st), -1);
    /* no record: nothing to do */
    assert_int_equal(hostfs_dirs_remove(f->conn, strbuf_str(&rec), &err), 0);
    /* a file where a directory must go: the error names it */
    assert_int_equal(hostfs_write(f->conn, path_in(f, &p, "d1/file"), "z", 1, 0644, &err), 0);
    dirs[0] = (hostfs_dir){path_in(f, &a, "d1/file/sub"), 0755, NULL};
    assert_int_equal(hostfs_dirs_make(f->conn, dirs, 1, strbuf_str(&rec), &err), OMLOP_EIO);
    assert_non_null(strstr(err.msg, "host testhost: cannot create the directory"));
    assert_non_null(strstr(err.msg, strbuf_str(&a)));
    strbuf_release(&a);
    strbuf_release(&b);
    strbuf_release(&rec);
    strbuf_release(&user);
    strbuf_release(&text);
    strbuf_release(&want);
    strbuf_release(&p);
}

static void test_write_failure_names_path_and_stderr(void **state)
{
    sshd_fixture *f = *state;
    strbuf p = STRBUF_INIT, q = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    path_in(f, &p, "wf/plain");
    assert_int_equal(hostfs_write(f->conn, strbuf_str(&p), "x", 1, 0600, &err), 0);
    /* its parent would have to be a directory */
    path_in(f, &q, "wf/plain/child.env");
    assert_int_equal(hostfs_write(f->conn, strbuf_str(&q), "x", 1, 0600, &err), OMLOP_EIO);
    assert_non_null(strstr(err.msg, "host testhost: cannot write"));
    assert_non_null(strstr(err.msg, strbuf_str(&q)));
    assert_non_null(strstr(err.msg, "mkdir: cannot create directory"));
    /* the target is a directory: not moved into it */
    path_in(f, &q, "wf");
    assert_int_equal(hostfs_write(f->conn, strbuf_str(&q), "x", 1, 0600, &err), OMLOP_EIO);
    assert_non_null(strstr(err.msg, "cannot overwrite directory"));
    assert_int_equal(count_temp_files(strbuf_str(&q)), 0);
    strbuf_release(&p);
    strbuf_release(&q);
}

static void test_bad_paths_are_einval_naming_the_path(void **state)
{
    sshd_fixture *f = *state;
    const char *one[1];
    char hex[1][HOSTFS_SHA256_HEX_LEN + 1];
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(hostfs_write(f->conn, "etc/x.env", "x", 1, 0600, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "'etc/x.env' must be absolute"));
    assert_int_equal(hostfs_write(f->conn, "/etc/a\nb", "x", 1, 0600, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "newline"));
    assert_int_equal(hostfs_write(f->conn, "/etc/dir/", "x", 1, 0600, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "'/etc/dir/'"));
    assert_int_equal(hostfs_write(f->conn, "/", "x", 1, 0600, &err), OMLOP_EINVAL);
    assert_int_equal(hostfs_write(f->conn, "/tmp/x", "x", 1, 010000, &err), OMLOP_EINVAL);
    assert_int_equal(hostfs_remove(f->conn, "", &err), OMLOP_EINVAL);
    one[0] = "relative";
    assert_int_equal(hostfs_hashes(f->conn, one, 1, hex, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "'relative'"));
    assert_int_equal(hostfs_hashes(f->conn, one, 0, hex, &err), 0); /* nothing to do */
}

static void test_quoted_strings_survive_the_host_shell(void **state)
{
    sshd_fixture *f = *state;
    static const char *const cases[] = {"",  "plain", "it's", "a b  c", "$HOME `id` \"q\" \\ *",
                                        "'", "x'y'z"};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf cmd = STRBUF_INIT;
        ssh_exec_result res;
        omlop_err err = OMLOP_ERR_INIT;

        strbuf_adds(&cmd, "printf '%s' ");
        hostfs_quote(&cmd, cases[i]);
        assert_int_equal(ssh_conn_exec(f->conn, strbuf_str(&cmd), NULL, 0, 0, 5000, &res, &err), 0);
        assert_string_equal(strbuf_str(&res.out), cases[i]);
        ssh_exec_result_release(&res);
        strbuf_release(&cmd);
    }
}

static void test_probe_tcp_listening_and_closed_ports(void **state)
{
    sshd_fixture *f = *state;
    int port, lfd = fixture_listen(&port), closed = fixture_free_port();
    omlop_err err = OMLOP_ERR_INIT;
    char want[64];

    assert_true(lfd >= 0);
    assert_int_equal(hostfs_probe_tcp(f->conn, "127.0.0.1", port, &err), 0);
    assert_int_equal(hostfs_probe_tcp(f->conn, "127.0.0.1", closed, &err), OMLOP_EUNAVAIL);
    snprintf(want, sizeof(want), "127.0.0.1:%d refused", closed);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "testhost"));
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_quote_plain_spaces_quotes_and_empty),
        cmocka_unit_test(test_quote_appends),
        cmocka_unit_test(test_parse_sha256sum_maps_paths_and_missing),
        cmocka_unit_test(test_parse_sha256sum_escaped_names),
        cmocka_unit_test(test_parse_sha256sum_garbage_is_eproto),
        cmocka_unit_test(test_dirs_make_script_parents_first_mode_owner),
        cmocka_unit_test(test_dirs_scripts_refuse_bad_input),
    };
    const struct CMUnitTest real[] = {
        cmocka_unit_test(test_write_then_hash_round_trip),
        cmocka_unit_test(test_write_replaces_content_and_mode),
        cmocka_unit_test(test_write_many_splits_stdin_exactly),
        cmocka_unit_test(test_public_ip_asks_from_the_host),
        cmocka_unit_test(test_write_binary_content_goes_through_stdin),
        cmocka_unit_test(test_hashes_missing_files_are_empty),
        cmocka_unit_test(test_hashes_real_errors_fail_naming_the_path),
        cmocka_unit_test(test_hashes_unreadable_file_fails),
        cmocka_unit_test(test_remove_is_idempotent_and_names_failures),
        cmocka_unit_test(test_dirs_make_records_and_remove_takes_back_only_those),
        cmocka_unit_test(test_write_failure_names_path_and_stderr),
        cmocka_unit_test(test_bad_paths_are_einval_naming_the_path),
        cmocka_unit_test(test_quoted_strings_survive_the_host_shell),
        cmocka_unit_test(test_probe_tcp_listening_and_closed_ports),
    };
    int failed = cmocka_run_group_tests_name("hostfs pure", pure, NULL, NULL);

    return failed + cmocka_run_group_tests_name("hostfs over sshd", real, sshd_fixture_group_setup,
                                                sshd_fixture_group_teardown);
}
