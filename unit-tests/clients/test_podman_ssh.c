/*
 * Tests for the pure parts of the SSH transport used by the Podman client:
 * clients/ssh_keys (base64, host key lines, fingerprints, private keys from
 * text and files), ssh:// targets and the retry backoff (clients/ssh_login,
 * clients/ssh), and how an ssh_conn reports a host that refuses connections.
 * The keys below were made for these tests only (ssh-keygen, comment
 * "fixture"); their fingerprints are what `ssh-keygen -lf` printed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clients/ssh.h"
#include "clients/ssh_keys.h"
#include "clients/ssh_login.h"
#include "lib/err.h"
#include "lib/strbuf.h"

static const char ED_PRIV[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACCM3Mvbi8iJ7LKeBt2Ca7uoCnJ4PcYHrZe/apzdTFkPRgAAAJD9KN3O/Sjd\n"
    "zgAAAAtzc2gtZWQyNTUxOQAAACCM3Mvbi8iJ7LKeBt2Ca7uoCnJ4PcYHrZe/apzdTFkPRg\n"
    "AAAECm09zcB5p+GSFQqlhi429wyzxUUivNl/kHz++mPc27DYzcy9uLyInssp4G3YJru6gK\n"
    "cng9xgetl79qnN1MWQ9GAAAAB2ZpeHR1cmUBAgMEBQY=\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
static const char ED_PUB[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIzcy9uLyInssp4G3YJru6gKcng9xgetl79qnN1MWQ9G fixture";
static const char EC_PUB[] =
    "ecdsa-sha2-nistp256 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIWNoHB1QHGPHZM2E1e+IX0fnnt4KdH+"
    "OuQdFwn1xTbohXpWzHvxCX9coyDBVC8Z4iKvqvt02tVkjitFJjyBxxg= fixture";
static const char RSA_PEM[] = "-----BEGIN RSA PRIVATE KEY-----\n"
                              "MIICXAIBAAKBgQC3UiNSruAIwdH58n7uJigjFt4wsX7ILscIxXmwiVJxjehqULDw\n"
                              "5zZZiNAdCjxUEGMCAdO8R0ZqhZUO6N5xCAbnIEPmAQVtwKaJFMftRJ0jRhru/thN\n"
                              "YJIVcLo5vi0SORQSXe6rZYFLq38d4EzX/+T04kdjPv6xDNSwWwxU7Osr6wIDAQAB\n"
                              "AoGAd6uY/3rFKTJNflr83T3vaaid9y+HUeqnZ2RyIfoi5Zn7pJt0Rm7JHf2fzbVG\n"
                              "2KGx4DeNHxVwNE1rlsYRn7vbtJ5Q4BmMT1Ab7o+Ik2maJ6M5wEF7sJM4E/JocjeI\n"
                              "niwHnlaze0UCN6y0tUwWkus2eA1sML+GXHS5Uvt/PNUf+RECQQDiYhRRxeiozXur\n"
                              "V+wXP/tH5FIz8FcppW6sk3LQTiOCAYW7xY9L+1/3/vxl7sxyyqacASO291bl588Q\n"
                              "mFHipTPPAkEAz03WK35qrZRj1V3wk7a9FvdRlJv0cypo1KobN6ua4LusiYtRBIjx\n"
                              "xnR5aVmij22a4U1IvHbd6M10aoyRSRMhJQJALYtv7Re0/CkDBXDV5cOQiWEtDJgA\n"
                              "4TcQMhYkFjZyPFiUEDfp4W58W0dofhVx+nI83Mv55HiUegKODRen+cIkzwJBAKgo\n"
                              "8bRyZcLMfndULpUERTreAFVWdOL+4e6w1kdAcvAeDQW990iAde+QB/THezBxrpNY\n"
                              "h8opejUghHDx+eCXHekCQB+9ZE7Qy/jCBkp2ZJlySmf3s2/oyJNtavZzpwL1bXK7\n"
                              "Vn1uJB6lG1w1nIclzbkbtBmJ7LGpgojXqI3AAWjJZ/U=\n"
                              "-----END RSA PRIVATE KEY-----\n";
static const char RSA_PUB[] =
    "ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAAAgQC3UiNSruAIwdH58n7uJigjFt4wsX7ILscIxXmwiVJxjehqULDw5zZZiNAdCjxUEG"
    "MCAdO8R0ZqhZUO6N5xCAbnIEPmAQVtwKaJFMftRJ0jRhru/thNYJIVcLo5vi0SORQSXe6rZYFLq38d4EzX/"
    "+T04kdjPv6xDNSwWwxU7Osr6w== fixture";
static const char ENC_PRIV[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABAvcGMqdR\n"
    "FXukY4i8G8n3zhAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIAcaLwlGnCElDW/S\n"
    "sXyyArNMxdtmLRGNFXccA0PFSgI8AAAAkC/ZwDo/XenZowaUDcAsJBDtQUcBp+Kv6GprrS\n"
    "pWz8fASfGoN1mKHvxBZ/21ZJdGNnHZb1zNVaOw69/hIrMz2AZ6P//WdZrbmCuDrsFxi7TX\n"
    "VfQP1gzqy7TDdSL6rFhhO6RLtCdExrDDWNU63b7XKxcFvBd+XtiWWg7hIq7Gk5Mzgn1/bs\n"
    "Ll2uW0KrSa7S8xEA==\n"
    "-----END OPENSSH PRIVATE KEY-----\n";

#define ED_FP  "SHA256:ttkCKCwVrUuscyNxESCzBZGHrWrwjvCIRT+OnQVl7LU"
#define EC_FP  "SHA256:EHwOn7AbwgIuL4wqF1XuUDTGpAWQmYdFwQ9c+emcSL8"
#define RSA_FP "SHA256:9r5l+k/GaTEtTox9qtGEy1ur1d/ESxw5LzyjYHl4/hc"

static void test_base64_decodes_with_whitespace_and_padding(void **state)
{
    strbuf out = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(ssh_keys_base64_decode("aGVs\nbG8g d29y bGQ=", &out, &err), 0);
    assert_string_equal(strbuf_str(&out), "hello world");
    strbuf_reset(&out);
    assert_int_equal(ssh_keys_base64_decode("aGk", &out, &err), 0); /* no padding */
    assert_string_equal(strbuf_str(&out), "hi");
    strbuf_reset(&out);
    assert_int_equal(ssh_keys_base64_decode("aGk*", &out, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "offset 3"));
    assert_null(strstr(err.msg, "*")); /* the character itself may be key material */
    assert_int_equal(ssh_keys_base64_decode("a", &out, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "truncated"));
    strbuf_release(&out);
}

static void test_hostkey_describe_gives_ssh_keygen_fingerprints(void **state)
{
    static const struct {
        const char *line;
        const char *want;
    } cases[] = {
        {ED_PUB, "ssh-ed25519 " ED_FP},
        {EC_PUB, "ecdsa-sha2-nistp256 " EC_FP},
        {RSA_PUB, "ssh-rsa " RSA_FP},
    };
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf out = STRBUF_INIT;

        assert_int_equal(ssh_keys_hostkey_describe(cases[i].line, &out, &err), 0);
        assert_string_equal(strbuf_str(&out), cases[i].want);
        strbuf_release(&out);
    }
}

static void test_hostkey_accepts_known_hosts_lines_and_several_keys(void **state)
{
    ssh_keys_hostset set = SSH_KEYS_HOSTSET_INIT;
    strbuf text = STRBUF_INIT, algos = STRBUF_INIT, fps = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    strbuf_addf(&text, "# lab host 1\n10.237.0.11,h1 %s\n\n  %s\n%s\n", ED_PUB, EC_PUB, RSA_PUB);
    assert_int_equal(ssh_keys_hostset_parse(strbuf_str(&text), &set, &err), 0);
    assert_int_equal(set.n, 3);
    ssh_keys_hostset_algorithms(&set, &algos);
    assert_string_equal(strbuf_str(&algos),
                        "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256,ssh-rsa");
    ssh_keys_hostset_fingerprints(&set, &fps);
    assert_non_null(strstr(strbuf_str(&fps), ED_FP));
    assert_non_null(strstr(strbuf_str(&fps), RSA_FP));
    ssh_keys_hostset_release(&set);
    assert_int_equal(set.n, 0);
    strbuf_release(&text);
    strbuf_release(&algos);
    strbuf_release(&fps);
}

static void test_hostkey_bad_lines_say_what_is_wrong(void **state)
{
    static const struct {
        const char *line;
        int code;
        const char *msg;
    } cases[] = {
        {"AAAAC3NzaC1lZDI1NTE5AAAAIIzcy9u", OMLOP_EINVAL, "no key type"},
        {"ssh-ed25519", OMLOP_EINVAL, "not followed by the key data"},
        {"ssh-ed25519 !!!!", OMLOP_EINVAL, "base64"},
        {"ssh-ed25519 aGVsbG8gd29ybGQ=", OMLOP_EINVAL, "not an SSH public key"},
        {"@cert-authority * ssh-ed25519 AAAA", OMLOP_EINVAL, "not supported"},
        {"", OMLOP_EINVAL, "no key given"},
        {"# only a comment\n", OMLOP_EINVAL, "no key given"},
    };
    omlop_err err = OMLOP_ERR_INIT;
    ssh_keys_hostset set = SSH_KEYS_HOSTSET_INIT;
    strbuf mixed = STRBUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf out = STRBUF_INIT;

        assert_int_equal(ssh_keys_hostkey_describe(cases[i].line, &out, &err), cases[i].code);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
        strbuf_release(&out);
    }
    /* the type on the line must be the key's own type */
    strbuf_adds(&mixed, "ssh-rsa ");
    strbuf_adds(&mixed, ED_PUB + strlen("ssh-ed25519 "));
    assert_int_equal(ssh_keys_hostset_parse(strbuf_str(&mixed), &set, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "'ssh-ed25519' key"));
    /* an error on a later line says which line */
    strbuf_reset(&mixed);
    strbuf_addf(&mixed, "%s\nbogus\n", ED_PUB);
    ssh_keys_hostset_release(&set);
    assert_int_equal(ssh_keys_hostset_parse(strbuf_str(&mixed), &set, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "line 2"));
    ssh_keys_hostset_release(&set);
    strbuf_release(&mixed);
}

static void test_hostset_contains_only_equal_keys(void **state)
{
    ssh_keys_hostset want = SSH_KEYS_HOSTSET_INIT, other = SSH_KEYS_HOSTSET_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf two = STRBUF_INIT;

    (void)state;
    strbuf_addf(&two, "%s\n%s\n", EC_PUB, ED_PUB);
    assert_int_equal(ssh_keys_hostset_parse(ED_PUB, &want, &err), 0);
    assert_int_equal(ssh_keys_hostset_parse(strbuf_str(&two), &other, &err), 0);
    strbuf_release(&two);
    assert_true(ssh_keys_hostset_contains(&want, other.keys[1]));
    assert_false(ssh_keys_hostset_contains(&want, other.keys[0]));
    ssh_keys_hostset_release(&want);
    ssh_keys_hostset_release(&other);
}

static void test_known_hosts_lookup_plain_ported_and_hashed(void **state)
{
    char path[] = "/tmp/omlop-test-kh-XXXXXX";
    strbuf text = STRBUF_INIT, fps = STRBUF_INIT;
    ssh_keys_hostset set = SSH_KEYS_HOSTSET_INIT;
    int fd;

    (void)state;
    /* hashed lines made by `ssh-keygen -H` from "10.0.0.5 <ed>" and "[h2.example]:2222 <ec>" */
    strbuf_addf(&text, "# comment\n@revoked 10.0.0.9 %s\nh1,10.0.0.1 %s\n[h1]:2200 %s\n", ED_PUB,
                ED_PUB, RSA_PUB);
    strbuf_addf(&text, "%s %s\n%s %s\n",
                "|1|Xya8xQy1egXDTtteO7Shr0Y/iPY=|9H7Y4qFsIoOQhV+U3VkvM0Cmf8M=", ED_PUB,
                "|1|OI8uxLjLy6j7QRh9ZBZCzmpVkQ0=|XAesniGIrBz+eaYWkyqJ+aIXAyQ=", EC_PUB);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text.buf, text.len), (ssize_t)text.len);
    close(fd);
    assert_int_equal(ssh_keys_known_hosts_lookup(path, "10.0.0.1", 22, &set), 1);
    assert_int_equal(ssh_keys_known_hosts_lookup(path, "h1", 2200, &set), 1);
    assert_int_equal(ssh_keys_known_hosts_lookup(path, "10.0.0.5", 22, &set), 1);
    assert_int_equal(ssh_keys_known_hosts_lookup(path, "h2.example", 2222, &set), 1);
    ssh_keys_hostset_fingerprints(&set, &fps);
    assert_string_equal(strbuf_str(&fps), "ssh-ed25519 " ED_FP ", ssh-rsa " RSA_FP
                                          ", ssh-ed25519 " ED_FP ", ecdsa-sha2-nistp256 " EC_FP);
    /* no match: another port, a revoked marker line, an unknown host, a missing file */
    assert_int_equal(ssh_keys_known_hosts_lookup(path, "10.0.0.1", 2200, &set), 0);
    assert_int_equal(ssh_keys_known_hosts_lookup(path, "10.0.0.9", 22, &set), 0);
    assert_int_equal(ssh_keys_known_hosts_lookup(path, "10.0.0.6", 22, &set), 0);
    assert_int_equal(ssh_keys_known_hosts_lookup("/nonexistent", "h1", 22, &set), 0);
    assert_int_equal(set.n, 4);
    unlink(path);
    ssh_keys_hostset_release(&set);
    strbuf_release(&text);
    strbuf_release(&fps);
}

static void test_private_key_from_text_pem_base64_and_file(void **state)
{
    ssh_key key = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf b64 = STRBUF_INIT;
    char fp[96];
    char path[] = "/tmp/omlop-test-key-XXXXXX";
    int fd;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)ED_PRIV;
    size_t n = strlen(ED_PRIV);

    (void)state;
    /* OpenSSH text as a Secret's stringData holds it */
    assert_int_equal(ssh_keys_load_text(ED_PRIV, "secret lab/key", &key, &err), 0);
    ssh_keys_fingerprint(key, fp, sizeof(fp));
    assert_string_equal(fp, ED_FP);
    ssh_key_free(key);
    /* the same, base64-encoded, as a Secret's data holds it */
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        strbuf_addch(&b64, alphabet[(v >> 18) & 63]);
        strbuf_addch(&b64, alphabet[(v >> 12) & 63]);
        strbuf_addch(&b64, i + 1 < n ? alphabet[(v >> 6) & 63] : '=');
        strbuf_addch(&b64, i + 2 < n ? alphabet[v & 63] : '=');
    }
    assert_int_equal(ssh_keys_load_text(strbuf_str(&b64), "secret lab/key", &key, &err), 0);
    ssh_keys_fingerprint(key, fp, sizeof(fp));
    assert_string_equal(fp, ED_FP);
    assert_string_equal(ssh_keys_type_name(key), "ssh-ed25519");
    ssh_key_free(key);
    /* PEM (RSA) */
    assert_int_equal(ssh_keys_load_text(RSA_PEM, "rsa", &key, &err), 0);
    ssh_keys_fingerprint(key, fp, sizeof(fp));
    assert_string_equal(fp, RSA_FP);
    ssh_key_free(key);
    /* a file */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, ED_PRIV, strlen(ED_PRIV)), (ssize_t)strlen(ED_PRIV));
    close(fd);
    assert_int_equal(ssh_keys_load_file(path, &key, &err), 0);
    ssh_keys_fingerprint(key, fp, sizeof(fp));
    assert_string_equal(fp, ED_FP);
    ssh_key_free(key);
    unlink(path);
    strbuf_release(&b64);
}

static void test_private_key_errors_name_the_source(void **state)
{
    ssh_key key = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(ssh_keys_load_file("/nonexistent/id_ed25519", &key, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/id_ed25519"));
    assert_int_equal(ssh_keys_load_file("/tmp", &key, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));
    assert_int_equal(ssh_keys_load_text("not a key at all", "secret lab/key", &key, &err),
                     OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "secret lab/key"));
    /* valid base64, but not of a key */
    assert_int_equal(ssh_keys_load_text("aGVsbG8gd29ybGQ=", "secret lab/key", &key, &err),
                     OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "-----BEGIN"));
    /* a public key is not a private key */
    assert_int_equal(ssh_keys_load_text(ED_PUB, "k", &key, &err), OMLOP_EINVAL);
    /* passphrase-protected keys are refused with a pointer to ssh-agent */
    assert_int_equal(ssh_keys_load_text(ENC_PRIV, "k", &key, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "unencrypted"));
    assert_null(key);
}

static void test_target_parse_forms(void **state)
{
    static const struct {
        const char *in;
        const char *user;
        const char *host;
        int port;
    } ok[] = {
        {"ssh://root@10.0.0.1:2222", "root", "10.0.0.1", 2222},
        {"ssh://10.0.0.1", NULL, "10.0.0.1", 0},
        {"ssh://admin@host.example.com/", "admin", "host.example.com", 0},
        {"ssh://root@[fd00::1]:22", "root", "fd00::1", 22},
        {"ssh://[fd00::1]", NULL, "fd00::1", 0},
        {"deploy@h1", "deploy", "h1", 0},
        {"h1:2200", NULL, "h1", 2200},
    };
    static const struct {
        const char *in;
        const char *msg;
    } bad[] = {
        {"http://h1", "only ssh://"},      {"ssh://", "no host"},
        {"ssh://@h1", "empty user"},       {"ssh://h1:0", "1-65535"},
        {"ssh://h1:99999", "1-65535"},     {"ssh://h1:22x", "1-65535"},
        {"ssh://[fd00::1", "missing ']'"}, {"ssh://h1/var/run", "path"},
    };
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ssh_target t;

        assert_int_equal(ssh_target_parse(ok[i].in, &t, &err), 0);
        if (ok[i].user)
            assert_string_equal(t.user, ok[i].user);
        else
            assert_null(t.user);
        assert_string_equal(t.host, ok[i].host);
        assert_int_equal(t.port, ok[i].port);
        ssh_target_release(&t);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ssh_target t;

        assert_int_equal(ssh_target_parse(bad[i].in, &t, &err), OMLOP_EINVAL);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].in, err.msg, bad[i].msg);
        assert_null(t.host);
    }
}

static void test_backoff_doubles_caps_and_jitters_within_half(void **state)
{
    (void)state;
    /* without jitter (0): exactly half the nominal delay */
    assert_int_equal(ssh_backoff_delay_ms(1, 500, 30000, 0.0), 250);
    assert_int_equal(ssh_backoff_delay_ms(2, 500, 30000, 0.0), 500);
    assert_int_equal(ssh_backoff_delay_ms(3, 500, 30000, 0.0), 1000);
    /* capped */
    assert_int_equal(ssh_backoff_delay_ms(20, 500, 30000, 0.0), 15000);
    assert_int_equal(ssh_backoff_delay_ms(4000000000u, 500, 30000, 0.0), 15000);
    /* the most jitter gives (nearly) the full delay; never above it */
    assert_true(ssh_backoff_delay_ms(3, 500, 30000, 0.999999) <= 2000);
    assert_true(ssh_backoff_delay_ms(3, 500, 30000, 0.999999) >= 1999);
    assert_true(ssh_backoff_delay_ms(20, 500, 30000, 5.0) <= 30000);
    assert_true(ssh_backoff_delay_ms(1, 0, 0, -1.0) >= 0);
    for (int i = 0; i < 100; i++) {
        long d = ssh_backoff_delay_ms(5, 100, 100000, i / 100.0);

        assert_true(d >= 800 && d <= 1600);
    }
}

static void test_conn_reports_refused_host_and_backs_off(void **state)
{
    ssh_host_config cfg;
    ssh_conn *c = NULL;
    ssh_conn_status st;
    omlop_err err = OMLOP_ERR_INIT;
    int fd = -1;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.name = "h-refused";
    cfg.address = "127.0.0.1";
    cfg.port = 1; /* nothing listens there: connection refused at once */
    cfg.identity_data = ED_PRIV;
    cfg.host_key = ED_PUB;
    cfg.connect_timeout_ms = 2000;
    cfg.backoff_initial_ms = 60000; /* so the test sees one attempt only */
    assert_int_equal(ssh_conn_new(&cfg, &c, &err), 0);
    assert_int_equal(ssh_conn_wait_connected(c, 5000, &err), OMLOP_EUNAVAIL);
    assert_non_null(strstr(err.msg, "host h-refused (root@127.0.0.1:1): cannot connect"));
    ssh_conn_get_status(c, &st);
    assert_int_equal(st.state, SSH_CONN_DOWN);
    assert_string_equal(ssh_conn_state_name(st.state), "unreachable");
    assert_int_equal(st.attempts, 1);
    assert_true(st.next_retry_ms > 1000);
    assert_true(st.since > 0);
    assert_non_null(strstr(st.last_error, "cannot connect"));
    /* a channel request while down fails at once, naming host, reason and the retry */
    assert_int_equal(ssh_conn_open_streamlocal(c, "/run/podman/podman.sock", &fd, &err),
                     OMLOP_EUNAVAIL);
    assert_int_equal(fd, -1);
    /* named once, by the layer that failed (lib/err.h), then when and the retry */
    assert_non_null(strstr(err.msg, "host h-refused (root@127.0.0.1:1): cannot connect"));
    assert_null(strstr(strstr(err.msg, "host h-refused") + 1, "host h-refused"));
    assert_non_null(strstr(err.msg, "unreachable since"));
    assert_non_null(strstr(err.msg, "retrying in"));
    assert_int_equal(ssh_conn_open_streamlocal(c, "relative.sock", &fd, &err), OMLOP_EINVAL);
    ssh_conn_free(c);
}

static void test_conn_new_rejects_bad_config(void **state)
{
    ssh_host_config cfg;
    ssh_conn *c = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(ssh_conn_new(&cfg, &c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "no SSH address"));
    cfg.name = "h1";
    cfg.address = "10.0.0.1";
    cfg.host_key = "ssh-ed25519 bogus!";
    assert_int_equal(ssh_conn_new(&cfg, &c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "host h1: host key"));
    cfg.host_key = NULL;
    cfg.identity_file = "/nonexistent/key";
    assert_int_equal(ssh_conn_new(&cfg, &c, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "host h1: identity file /nonexistent/key"));
    cfg.identity_file = NULL;
    cfg.port = 70000;
    assert_int_equal(ssh_conn_new(&cfg, &c, &err), OMLOP_EINVAL);
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_decodes_with_whitespace_and_padding),
        cmocka_unit_test(test_hostkey_describe_gives_ssh_keygen_fingerprints),
        cmocka_unit_test(test_hostkey_accepts_known_hosts_lines_and_several_keys),
        cmocka_unit_test(test_hostkey_bad_lines_say_what_is_wrong),
        cmocka_unit_test(test_hostset_contains_only_equal_keys),
        cmocka_unit_test(test_known_hosts_lookup_plain_ported_and_hashed),
        cmocka_unit_test(test_private_key_from_text_pem_base64_and_file),
        cmocka_unit_test(test_private_key_errors_name_the_source),
        cmocka_unit_test(test_target_parse_forms),
        cmocka_unit_test(test_backoff_doubles_caps_and_jitters_within_half),
        cmocka_unit_test(test_conn_reports_refused_host_and_backs_off),
        cmocka_unit_test(test_conn_new_rejects_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
