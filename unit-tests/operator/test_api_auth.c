/*
 * Security tests against a real omlopd: bearer tokens (401 without or with a
 * bad token, 403 for a view token writing), the audit log, the unix socket,
 * TLS with a certificate made here, and the refusal to listen on a
 * non-loopback address without TLS and tokens.
 */
#include "api_harness.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define BK          "/apis/omlop.io/v1alpha1/backups"
#define ADMIN_TOKEN "adm-3f9c1e0b7d2a4c6e8f10"
#define VIEW_TOKEN  "view-8a7b6c5d4e3f2a1b0c9d"

static const char *const backup =
    "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":\"%s\"},"
    "\"spec\":{\"tenantRef\":{\"name\":\"t\"}}}";

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

/* A temp dir for files omlopd reads before it starts. */
static void files_dir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/omlop-apitest-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void write_tokens(const char *dir, char *path, size_t n)
{
    snprintf(path, n, "%s/tokens.csv", dir);
    harness_write_file(
        path, "# token,name,role\n" ADMIN_TOKEN ",ci-bot,admin\n" VIEW_TOKEN ",dashboard,view\n",
        0600);
}

static void test_tokens_401_403_and_audit(void **state)
{
    omlopd_proc p;
    char dir[64], tokens[128], body[512];
    const char *flags[] = {"--tokens", tokens, NULL};
    http_opts admin = {.token = ADMIN_TOKEN}, view = {.token = VIEW_TOKEN};
    http_opts bad = {.token = "adm-3f9c1e0b7d2a4c6e8f11"};
    http_resp r;
    strbuf log = STRBUF_INIT;

    (void)state;
    files_dir(dir, sizeof(dir));
    write_tokens(dir, tokens, sizeof(tokens));
    omlopd_start(&p, flags);
    assert_non_null(strstr(p.start_line, "bearer tokens required"));

    http_do(&p, "GET", BK, NULL, NULL, &r);
    assert_int_equal(r.code, 401);
    assert_string_equal(resp_str(&r, "reason"), "Unauthorized");
    assert_string_equal(resp_str(&r, "kind"), "Status");
    http_resp_release(&r);
    http_do(&p, "GET", BK, NULL, &bad, &r);
    assert_int_equal(r.code, 401);
    assert_null(strstr(r.body.buf, "adm-3f9c")); /* the token is never echoed */
    http_resp_release(&r);
    /* health and version need no token */
    assert_int_equal(http_do(&p, "GET", "/healthz", NULL, NULL, &r), 200);
    http_resp_release(&r);
    assert_int_equal(http_do(&p, "GET", "/version", NULL, NULL, &r), 200);
    http_resp_release(&r);
    /* view reads, cannot write */
    assert_int_equal(http_do(&p, "GET", BK, NULL, &view, &r), 200);
    http_resp_release(&r);
    snprintf(body, sizeof(body), backup, "by-view");
    http_do(&p, "POST", BK, body, &view, &r);
    assert_int_equal(r.code, 403);
    assert_string_equal(resp_str(&r, "reason"), "Forbidden");
    assert_non_null(strstr(resp_str(&r, "message"), "dashboard"));
    http_resp_release(&r);
    http_do(&p, "POST", "/omlop/compact", "", &view, &r);
    assert_int_equal(r.code, 403);
    http_resp_release(&r);
    /* as Kubernetes' view role, view cannot read secrets */
    http_do(&p, "GET", "/apis/omlop.io/v1alpha1/secrets", NULL, &view, &r);
    assert_int_equal(r.code, 403);
    http_resp_release(&r);
    assert_int_equal(http_do(&p, "GET", "/apis/omlop.io/v1alpha1/secrets", NULL, &admin, &r), 200);
    http_resp_release(&r);
    /* admin writes */
    snprintf(body, sizeof(body), backup, "by-admin");
    assert_int_equal(http_do(&p, "POST", BK, body, &admin, &r), 201);
    http_resp_release(&r);
    http_do(&p, "POST", BK, body, &bad, &r);
    assert_int_equal(r.code, 401);
    http_resp_release(&r);

    omlopd_log(&p, &log);
    assert_non_null(strstr(log.buf, "audit user=ci-bot role=admin verb=create resource=backups "
                                    "name=by-admin code=201"));
    assert_non_null(strstr(log.buf, "audit user=dashboard role=view verb=create resource=backups "
                                    "name=- code=403"));
    assert_non_null(strstr(log.buf, "verb=create resource=- name=- code=401"));
    assert_null(strstr(log.buf, ADMIN_TOKEN));
    assert_null(strstr(log.buf, VIEW_TOKEN));
    strbuf_release(&log);
    omlopd_stop(&p);
    harness_rm_rf(dir);
}

static void test_unix_socket(void **state)
{
    omlopd_proc p;
    char dir[64], sock[128], url[160];
    const char *flags[] = {"--socket", sock, NULL};
    http_opts o = {.unix_socket = sock};
    http_resp r;
    struct stat st;

    (void)state;
    files_dir(dir, sizeof(dir));
    snprintf(sock, sizeof(sock), "%s/omlopd.sock", dir);
    omlopd_start(&p, flags);
    assert_non_null(strstr(p.start_line, "unix:"));
    assert_int_equal(stat(sock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(url, sizeof(url), "http://localhost");
    assert_int_equal(http_do_opts(url, "GET", BK, NULL, 0, &o, &r), CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_string_equal(resp_str(&r, "kind"), "BackupList");
    http_resp_release(&r);
    omlopd_stop(&p);
    harness_rm_rf(dir);
}

/* A self-signed P-256 certificate for 127.0.0.1 and localhost. */
static void make_cert(const char *cert_path, const char *key_path)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    FILE *f;
    static const struct {
        int nid;
        const char *value;
    } exts[] = {{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
                {NID_basic_constraints, "critical,CA:TRUE"},
                {NID_key_usage, "critical,digitalSignature,keyCertSign"}};

    assert_non_null(key);
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        ext = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid, exts[i].value);
        assert_non_null(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    f = fopen(cert_path, "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key_path, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    chmod(key_path, 0600);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void test_tls_listen(void **state)
{
    omlopd_proc p;
    char dir[64], cert[128], key[128], tokens[128], url[160];
    const char *flags[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    http_opts o = {.ca_file = cert};
    http_resp r;

    (void)state;
    files_dir(dir, sizeof(dir));
    snprintf(cert, sizeof(cert), "%s/tls.crt", dir);
    snprintf(key, sizeof(key), "%s/tls.key", dir);
    make_cert(cert, key);
    omlopd_start(&p, flags);
    assert_int_equal(strncmp(p.url, "https://127.0.0.1:", 18), 0);
    assert_int_equal(http_do_opts(p.url, "GET", "/healthz", NULL, 0, &o, &r), CURLE_OK);
    assert_int_equal(r.code, 200);
    http_resp_release(&r);
    assert_int_equal(http_do_opts(p.url, "GET", BK, NULL, 0, &o, &r), CURLE_OK);
    assert_int_equal(r.code, 200);
    http_resp_release(&r);
    /* plain HTTP to the TLS port gets no API answer */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", p.port);
    if (http_do_opts(url, "GET", "/healthz", NULL, 0, NULL, &r) == CURLE_OK)
        assert_int_not_equal(r.code, 200);
    http_resp_release(&r);
    omlopd_stop(&p);

    /* a non-loopback address with TLS and tokens is allowed */
    write_tokens(dir, tokens, sizeof(tokens));
    {
        const char *all[] = {"--listen", "0.0.0.0:0", "--tls-cert", cert, "--tls-key",
                             key,        "--tokens",  tokens,       NULL};
        http_opts t = {.ca_file = cert, .token = VIEW_TOKEN};

        omlopd_start(&p, all);
        assert_non_null(strstr(p.start_line, "https://0.0.0.0:"));
        snprintf(url, sizeof(url), "https://127.0.0.1:%d", p.port);
        assert_int_equal(http_do_opts(url, "GET", BK, NULL, 0, &t, &r), CURLE_OK);
        assert_int_equal(r.code, 200);
        http_resp_release(&r);
        omlopd_stop(&p);
    }
    harness_rm_rf(dir);
}

static void expect_refusal(const char *const *flags, const char *needle, int want_rc)
{
    omlopd_proc p;
    strbuf log = STRBUF_INIT;
    int rc = omlopd_start_ex(&p, flags, 1);

    omlopd_log(&p, &log);
    if (!strstr(strbuf_str(&log), needle))
        fail_msg("expected '%s' in omlopd's output, got: %s", needle, strbuf_str(&log));
    assert_int_equal(rc, want_rc);
    strbuf_release(&log);
    harness_rm_rf(p.dir);
}

static void test_refuses_unsafe_listen(void **state)
{
    char dir[64], tokens[128], bad[128], cert[128];
    const char *plain[] = {"--listen", "0.0.0.0:0", NULL};
    const char *no_tls[] = {"--listen", "0.0.0.0:0", "--tokens", tokens, NULL};
    const char *half_tls[] = {"--tls-cert", cert, NULL};
    const char *bad_tokens[] = {"--tokens", bad, NULL};
    const char *missing_tokens[] = {"--tokens", "/nonexistent/tokens.csv", NULL};
    const char *bad_flag[] = {"--no-such-flag", NULL};

    (void)state;
    files_dir(dir, sizeof(dir));
    write_tokens(dir, tokens, sizeof(tokens));
    snprintf(cert, sizeof(cert), "%s/tls.crt", dir);
    snprintf(bad, sizeof(bad), "%s/bad.csv", dir);
    harness_write_file(bad, ADMIN_TOKEN ",ci-bot,root\n", 0600);
    expect_refusal(plain, "refusing to listen on 0.0.0.0:0", 2);
    expect_refusal(no_tls, "needs TLS", 2);
    expect_refusal(half_tls, "--tls-cert and --tls-key go together", 2);
    expect_refusal(bad_tokens, "bad.csv:1: role 'root' is not one of admin, view", 1);
    expect_refusal(missing_tokens, "/nonexistent/tokens.csv", 1);
    expect_refusal(bad_flag, "unknown flag '--no-such-flag'", 2);
    harness_rm_rf(dir);
}

static void test_config_file_help_and_version(void **state)
{
    char dir[64], cfg[128];
    const char *unsafe[] = {"--config", cfg, NULL};
    const char *help[] = {"--help", NULL};
    const char *version[] = {"--version", NULL};
    omlopd_proc p;
    strbuf log = STRBUF_INIT;
    http_resp r;

    (void)state;
    files_dir(dir, sizeof(dir));
    snprintf(cfg, sizeof(cfg), "%s/omlopd.yaml", dir);
    /* the config file is read, and the rules apply to it too */
    harness_write_file(cfg, "listen: 0.0.0.0:0\nlogLevel: debug\n", 0600);
    expect_refusal(unsafe, "refusing to listen on 0.0.0.0:0", 2);
    harness_write_file(cfg, "lisen: 127.0.0.1:0\n", 0600);
    expect_refusal(unsafe, "omlopd.yaml:1:1: unknown setting 'lisen'", 2);
    /* a flag after --config wins over the file */
    harness_write_file(cfg, "listen: 0.0.0.0:0\nmaxWatches: 1\nlogFormat: json\n", 0600);
    {
        const char *win[] = {"--config", cfg, "--listen", "127.0.0.1:0", NULL};

        omlopd_start(&p, win);
        http_do(&p, "GET", "/healthz", NULL, NULL, &r);
        assert_int_equal(r.code, 200);
        http_resp_release(&r);
        omlopd_log(&p, &log);
        assert_non_null(strstr(log.buf, "{\"ts\":")); /* logFormat json from the file */
        strbuf_release(&log);
        omlopd_stop(&p);
    }
    assert_int_equal(omlopd_start_ex(&p, help, 1), 0);
    harness_rm_rf(p.dir);
    assert_int_equal(omlopd_start_ex(&p, version, 1), 0);
    harness_rm_rf(p.dir);
    harness_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_401_403_and_audit),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_tls_listen),
        cmocka_unit_test(test_refuses_unsafe_listen),
        cmocka_unit_test(test_config_file_help_and_version),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
