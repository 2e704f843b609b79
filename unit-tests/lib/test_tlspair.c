/* Tests for lib/tlspair: self-signed pairs, inspection, the validation checks, CSRs, renewal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/strbuf.h"
#include "lib/tlspair.h"

#define NOW 1800000000LL /* 2027-01-15: a fixed "now" so dates are exact */

static void gen(const char *cn, const char *const *dns, size_t nd, const char *const *ips,
                size_t ni, int64_t life, char **cert, char **key)
{
    tlspair_selfsigned_opts o = {TLSPAIR_KEY_EC_P256, cn, dns, nd, ips, ni, NOW, life};
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(tlspair_selfsigned(&o, cert, key, &err), 0);
}

static X509 *pem_x509(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

    BIO_free(b);
    assert_non_null(x);
    return x;
}

static void test_tlspair_selfsigned_has_the_names_dates_and_extensions(void **state)
{
    const char *dns[] = {"t1.example.com", "T1.Example.com", "alt.example.com"};
    const char *ips[] = {"10.0.0.1", "10.0.0.1", "::1", "0:0::1"};
    char *cert, *key;
    tlspair_info info;
    omlop_err err = OMLOP_ERR_INIT;
    X509 *x;

    (void)state;
    gen("t1.example.com", dns, 3, ips, 4, 86400, &cert, &key);
    assert_non_null(strstr(cert, "-----BEGIN CERTIFICATE-----"));
    assert_non_null(strstr(key, "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(tlspair_inspect(cert, &info, &err), 0);
    assert_string_equal(info.subject, "CN=t1.example.com");
    assert_string_equal(info.issuer, "CN=t1.example.com");
    assert_int_equal(info.n_dns, 2); /* case variants kept once */
    assert_string_equal(info.dns_names[0], "t1.example.com");
    assert_string_equal(info.dns_names[1], "alt.example.com");
    assert_int_equal(info.n_ips, 2); /* two spellings of ::1 kept once */
    assert_string_equal(info.ip_addrs[0], "10.0.0.1");
    assert_string_equal(info.ip_addrs[1], "::1");
    assert_int_equal(info.not_before, NOW - TLSPAIR_BACKDATE_S);
    assert_int_equal(info.not_after, NOW + 86400);
    assert_int_equal(strlen(info.serial), 32); /* 128 bits, top bit clear, next set */
    assert_int_equal(strlen(info.fingerprint), 32 * 3 - 1);
    assert_int_equal(info.chain_len, 1);

    x = pem_x509(cert);
    assert_false(X509_get_extension_flags(x) & EXFLAG_CA);
    assert_true(X509_get_extension_flags(x) & EXFLAG_BCONS);
    assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
    assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
    assert_int_equal(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
    assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(x)), EVP_PKEY_EC);
    X509_free(x);
    assert_int_equal(tlspair_validate(cert, key, NULL, NULL, &err), 0);
    tlspair_info_release(&info);
    tlspair_info_release(&info); /* twice is harmless */
    free(cert);
    tlspair_free_secret(key);
}

static void test_tlspair_selfsigned_serials_differ_and_rsa_is_an_option(void **state)
{
    const char *dns[] = {"a.example.com"};
    tlspair_selfsigned_opts o = {TLSPAIR_KEY_RSA_2048, "a", dns, 1, NULL, 0, NOW, 0};
    char *c1, *k1, *c2, *k2;
    tlspair_info i1, i2;
    omlop_err err = OMLOP_ERR_INIT;
    X509 *x;

    (void)state;
    assert_int_equal(tlspair_selfsigned(&o, &c1, &k1, &err), 0);
    gen("a", dns, 1, NULL, 0, 0, &c2, &k2);
    assert_int_equal(tlspair_inspect(c1, &i1, &err), 0);
    assert_int_equal(tlspair_inspect(c2, &i2, &err), 0);
    assert_string_not_equal(i1.serial, i2.serial);
    assert_string_not_equal(i1.fingerprint, i2.fingerprint);
    assert_int_equal(i2.not_after, NOW + TLSPAIR_DEFAULT_LIFETIME_S); /* lifetime 0: default */
    x = pem_x509(c1);
    assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(x)), EVP_PKEY_RSA);
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 2048);
    assert_true(X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT);
    X509_free(x);
    /* each key is its own certificate's only */
    assert_int_equal(tlspair_validate(c1, k1, NULL, NULL, &err), 0);
    assert_int_not_equal(tlspair_validate(c1, k2, NULL, NULL, &err), 0);
    tlspair_info_release(&i1);
    tlspair_info_release(&i2);
    free(c1);
    free(c2);
    tlspair_free_secret(k1);
    tlspair_free_secret(k2);
}

static void expect_selfsigned_einval(tlspair_selfsigned_opts *o, const char *field)
{
    char *c = (char *)1, *k = (char *)1;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(tlspair_selfsigned(o, &c, &k, &err), OMLOP_EINVAL);
    assert_null(c);
    assert_null(k);
    if (!strstr(err.msg, field))
        fail_msg("message '%s' does not name '%s'", err.msg, field);
}

static void test_tlspair_selfsigned_refuses_bad_input_naming_the_field(void **state)
{
    const char *bad_dns[] = {"ok.example.com", "bad name"};
    const char *bad_ip[] = {"10.0.0.300"};
    const char *many[TLSPAIR_MAX_SANS + 1];
    tlspair_selfsigned_opts o = {0};

    (void)state;
    o.common_name = "x";
    o.now = NOW;
    o.dns_names = bad_dns;
    o.n_dns = 2;
    expect_selfsigned_einval(&o, "dnsNames[1] 'bad name'");
    o.n_dns = 0;
    o.ip_addrs = bad_ip;
    o.n_ips = 1;
    expect_selfsigned_einval(&o, "ipAddresses[0]");
    o.n_ips = 0;
    o.common_name = "";
    expect_selfsigned_einval(&o, "commonName");
    o.common_name = "x";
    o.lifetime_s = -1;
    expect_selfsigned_einval(&o, "lifetime");
    o.lifetime_s = 0;
    o.now = 0;
    expect_selfsigned_einval(&o, "now");
    o.now = NOW;
    o.key_type = (tlspair_key_type)7;
    expect_selfsigned_einval(&o, "keyType");
    o.key_type = TLSPAIR_KEY_EC_P256;
    for (size_t i = 0; i < TLSPAIR_MAX_SANS + 1; i++)
        many[i] = "a.example.com";
    o.dns_names = many;
    o.n_dns = TLSPAIR_MAX_SANS + 1;
    expect_selfsigned_einval(&o, "at most");
    o.n_dns = TLSPAIR_MAX_SANS; /* at the edge: accepted */
    {
        char *c, *k;

        assert_int_equal(tlspair_selfsigned(&o, &c, &k, NULL), 0);
        free(c);
        tlspair_free_secret(k);
    }
}

/* --- a CA, an intermediate and a leaf, made here with OpenSSL itself ------------------------- */

typedef struct issued {
    X509 *x;
    EVP_PKEY *k;
} issued;

static void add_ext_txt(X509 *x, X509 *issuer, int nid, const char *v)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, nid, v);
    assert_non_null(e);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

static issued issue(const char *cn, const issued *by, int is_ca, const char *san)
{
    issued r = {X509_new(), EVP_EC_gen("P-256")};
    X509_NAME *n = X509_NAME_new();
    static long serial = 1;

    X509_set_version(r.x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(r.x), serial++);
    ASN1_TIME_set(X509_getm_notBefore(r.x), (time_t)(NOW - 3600));
    ASN1_TIME_set(X509_getm_notAfter(r.x), (time_t)(NOW + 3600));
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(r.x, n);
    X509_set_issuer_name(r.x, by ? X509_get_subject_name(by->x) : n);
    X509_set_pubkey(r.x, r.k);
    add_ext_txt(r.x, by ? by->x : NULL, NID_basic_constraints,
                is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    if (is_ca)
        add_ext_txt(r.x, by ? by->x : NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
    if (san)
        add_ext_txt(r.x, by ? by->x : NULL, NID_subject_alt_name, san);
    X509_sign(r.x, by ? by->k : r.k, EVP_sha256());
    X509_NAME_free(n);
    return r;
}

static void pem_add_cert(strbuf *sb, X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *d;
    long n;

    PEM_write_bio_X509(b, x);
    n = BIO_get_mem_data(b, &d);
    strbuf_add(sb, d, (size_t)n);
    BIO_free(b);
}

static char *pem_key(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    strbuf sb = STRBUF_INIT;
    char *d;
    long n;

    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(b, &d);
    strbuf_add(&sb, d, (size_t)n);
    BIO_free(b);
    return strbuf_detach(&sb, NULL);
}

static void issued_free(issued *i)
{
    X509_free(i->x);
    EVP_PKEY_free(i->k);
}

typedef struct pki {
    issued root, inter, leaf, other_root;
    strbuf chain, leaf_only, ca, other_ca;
    char *key;
} pki;

static int pki_setup(void **state)
{
    pki *p = calloc(1, sizeof(*p));

    p->root = issue("test root", NULL, 1, NULL);
    p->inter = issue("test intermediate", &p->root, 1, NULL);
    p->leaf = issue("t1.example.com", &p->inter, 0,
                    "DNS:t1.example.com,DNS:*.apps.example.com,"
                    "IP:10.0.0.7");
    p->other_root = issue("other root", NULL, 1, NULL);
    pem_add_cert(&p->chain, p->leaf.x);
    pem_add_cert(&p->chain, p->inter.x);
    pem_add_cert(&p->leaf_only, p->leaf.x);
    pem_add_cert(&p->ca, p->root.x);
    pem_add_cert(&p->other_ca, p->other_root.x);
    p->key = pem_key(p->leaf.k);
    *state = p;
    return 0;
}

static int pki_teardown(void **state)
{
    pki *p = *state;

    issued_free(&p->root);
    issued_free(&p->inter);
    issued_free(&p->leaf);
    issued_free(&p->other_root);
    strbuf_release(&p->chain);
    strbuf_release(&p->leaf_only);
    strbuf_release(&p->ca);
    strbuf_release(&p->other_ca);
    free(p->key);
    free(p);
    return 0;
}

/* Validate and expect check (TLSPAIR_CHECK_OK: success) with msg_part in the message. */
static void want_check(const char *chain, const char *key, const tlspair_validate_opts *o,
                       tlspair_check want, const char *msg_part)
{
    tlspair_check got = (tlspair_check)99;
    omlop_err err = OMLOP_ERR_INIT;
    int rc = tlspair_validate(chain, key, o, &got, &err);

    if (got != want)
        fail_msg("check %s, want %s (%s)", tlspair_check_reason(got), tlspair_check_reason(want),
                 err.msg);
    assert_int_equal(rc, want == TLSPAIR_CHECK_OK ? 0 : OMLOP_EINVAL);
    if (msg_part && !strstr(err.msg, msg_part))
        fail_msg("message '%s' lacks '%s'", err.msg, msg_part);
    /* never key material in a message */
    assert_null(strstr(err.msg, "PRIVATE KEY"));
    if (key && strlen(key) > 100)
        assert_null(strstr(err.msg, key + 40));
}

static void test_tlspair_validate_accepts_a_good_chain_at_its_edges(void **state)
{
    pki *p = *state;
    const char *ips[] = {"10.0.0.7"};
    tlspair_validate_opts o = {p->ca.buf, NOW, "t1.example.com", ips, 1};
    tlspair_info info;

    want_check(p->chain.buf, p->key, &o, TLSPAIR_CHECK_OK, NULL);
    assert_int_equal(tlspair_inspect(p->chain.buf, &info, NULL), 0);
    assert_int_equal(info.chain_len, 2);
    assert_string_equal(info.issuer, "CN=test intermediate");
    o.at = info.not_after; /* the last valid second */
    want_check(p->chain.buf, p->key, &o, TLSPAIR_CHECK_OK, NULL);
    o.at = info.not_before; /* the first */
    want_check(p->chain.buf, p->key, &o, TLSPAIR_CHECK_OK, NULL);
    o.fqdn = "x.apps.example.com"; /* covered by the wildcard */
    want_check(p->chain.buf, p->key, &o, TLSPAIR_CHECK_OK, NULL);
    tlspair_info_release(&info);
}

static void test_tlspair_validate_names_each_failing_check(void **state)
{
    pki *p = *state;
    const char *ip_other[] = {"10.0.0.8"};
    tlspair_validate_opts o = {p->ca.buf, NOW, "t1.example.com", NULL, 0};
    char *other_cert, *other_key;
    const char *dns[] = {"x.example.com"};

    gen("x", dns, 1, NULL, 0, 0, &other_cert, &other_key);
    want_check("garbage", p->key, &o, TLSPAIR_CHECK_CERT_PEM, "no PEM CERTIFICATE block");
    want_check("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", p->key, &o,
               TLSPAIR_CHECK_CERT_PEM, "certificate 1 does not parse");
    want_check(p->chain.buf,
               "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49"
               "AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n",
               &o, TLSPAIR_CHECK_KEY_PEM, "private key: does not parse");
    o.ca_pem = "nope";
    want_check(p->chain.buf, p->key, &o, TLSPAIR_CHECK_CA_PEM, "CA bundle (ca.crt)");
    o.ca_pem = p->ca.buf;
    want_check(p->chain.buf, other_key, &o, TLSPAIR_CHECK_KEY_MISMATCH, "does not match");
    o.ca_pem = p->other_ca.buf;
    want_check(p->chain.buf, p->key, &o, TLSPAIR_CHECK_CHAIN, "unable to get local issuer");
    o.ca_pem = p->ca.buf; /* the intermediate left out of tls.crt */
    want_check(p->leaf_only.buf, p->key, &o, TLSPAIR_CHECK_CHAIN, "does not verify");
    o.at = NOW + 3600 + 1;
    want_check(p->chain.buf, p->key, &o, TLSPAIR_CHECK_EXPIRED, "expired at");
    o.at = NOW - 3600 - 1;
    want_check(p->chain.buf, p->key, &o, TLSPAIR_CHECK_NOT_YET_VALID, "not valid before");
    o.at = NOW;
    o.fqdn = "t2.example.com";
    want_check(p->chain.buf, p->key, &o, TLSPAIR_CHECK_NAME_NOT_COVERED,
               "does not cover 't2.example.com' (its names: t1.example.com, "
               "*.apps.example.com, 10.0.0.7)");
    o.fqdn = "a.b.apps.example.com"; /* a wildcard covers one label only */
    want_check(p->chain.buf, p->key, &o, TLSPAIR_CHECK_NAME_NOT_COVERED, NULL);
    o.fqdn = NULL;
    o.ip_addrs = ip_other;
    o.n_ips = 1;
    want_check(p->chain.buf, p->key, &o, TLSPAIR_CHECK_IP_NOT_COVERED, "'10.0.0.8'");
    /* no key given: the key checks are skipped, the rest still run */
    o.n_ips = 0;
    want_check(p->chain.buf, NULL, &o, TLSPAIR_CHECK_OK, NULL);
    assert_string_equal(tlspair_check_reason(TLSPAIR_CHECK_KEY_MISMATCH), "KeyMismatch");
    assert_string_equal(tlspair_check_reason(TLSPAIR_CHECK_EXPIRED), "CertificateExpired");
    free(other_cert);
    tlspair_free_secret(other_key);
}

static void test_tlspair_dns_match_follows_rfc6125(void **state)
{
    static const struct {
        const char *pattern, *host;
        int want;
    } t[] = {
        {"example.com", "example.com", 1},
        {"Example.COM", "example.com.", 1},
        {"example.com.", "EXAMPLE.com", 1},
        {"example.com", "www.example.com", 0},
        {"*.example.com", "www.example.com", 1},
        {"*.example.com", "WWW.Example.Com", 1},
        {"*.example.com", "example.com", 0},
        {"*.example.com", "a.b.example.com", 0},
        {"*.example.com", ".example.com", 0},
        {"*.com", "example.com", 0},
        {"w*.example.com", "www.example.com", 0},
        {"www.*.com", "www.example.com", 0},
        {"*.*.example.com", "a.b.example.com", 0},
        {"*.0.0.10", "1.0.0.10", 0},
        {"", "example.com", 0},
        {"example.com", "", 0},
        {NULL, "example.com", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (tlspair_dns_match(t[i].pattern, t[i].host) != t[i].want)
            fail_msg("%s vs %s: want %d", t[i].pattern ? t[i].pattern : "NULL", t[i].host,
                     t[i].want);
}

static void test_tlspair_csr_carries_the_names_and_verifies(void **state)
{
    const char *dns[] = {"t1.example.com", "www.example.com", "T1.example.com"};
    unsigned char *der;
    const unsigned char *p;
    size_t len;
    char *key;
    X509_REQ *req;
    STACK_OF(X509_EXTENSION) * exts;
    GENERAL_NAMES *gens;
    omlop_err err = OMLOP_ERR_INIT;
    char cn[80];

    (void)state;
    assert_int_equal(tlspair_key_generate(TLSPAIR_KEY_EC_P256, &key, &err), 0);
    assert_int_equal(tlspair_csr_der(key, dns, 3, &der, &len, &err), 0);
    p = der;
    req = d2i_X509_REQ(NULL, &p, (long)len);
    assert_non_null(req);
    assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
    X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, "t1.example.com");
    exts = X509_REQ_get_extensions(req);
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 2);
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    free(der);
    assert_int_equal(tlspair_csr_der(key, dns, 0, &der, &len, &err), OMLOP_EINVAL);
    assert_int_equal(tlspair_csr_der("nokey", dns, 1, &der, &len, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "private key"));
    tlspair_free_secret(key);
}

static void test_tlspair_renew_at_a_third_of_the_lifetime(void **state)
{
    int64_t at = 0;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    /* Let's Encrypt: 90 days -> renew with 30 days left */
    assert_int_equal(tlspair_renew_at(NOW, NOW + 90 * 86400, TLSPAIR_RENEW_FRACTION, &at, &err), 0);
    assert_int_equal(at, NOW + 60 * 86400);
    /* the lab's 2 minutes -> renew at 80 s */
    assert_int_equal(tlspair_renew_at(0, 120, TLSPAIR_RENEW_FRACTION, &at, &err), 0);
    assert_int_equal(at, 80);
    /* not a multiple of 3: the first second with at most a third left (33 of 100) */
    assert_int_equal(tlspair_renew_at(0, 100, TLSPAIR_RENEW_FRACTION, &at, &err), 0);
    assert_int_equal(at, 67);
    assert_int_equal(tlspair_renew_at(0, 100, 0.5, &at, &err), 0);
    assert_int_equal(at, 50);
    assert_int_equal(tlspair_renew_at(0, 100, 0.0, &at, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "fraction"));
    assert_int_equal(tlspair_renew_at(0, 100, 1.0, &at, &err), OMLOP_EINVAL);
    assert_int_equal(tlspair_renew_at(100, 100, 0.5, &at, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "notAfter"));
}

static void test_tlspair_key_generate_gives_a_usable_key(void **state)
{
    char *key = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    BIO *b;
    EVP_PKEY *k;

    (void)state;
    assert_int_equal(tlspair_key_generate(TLSPAIR_KEY_EC_P256, &key, &err), 0);
    b = BIO_new_mem_buf(key, -1);
    k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    assert_non_null(k);
    assert_true(EVP_PKEY_is_a(k, "EC"));
    EVP_PKEY_free(k);
    BIO_free(b);
    tlspair_free_secret(key);
    assert_int_equal(tlspair_key_generate((tlspair_key_type)5, &key, &err), OMLOP_EINVAL);
    assert_null(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlspair_selfsigned_has_the_names_dates_and_extensions),
        cmocka_unit_test(test_tlspair_selfsigned_serials_differ_and_rsa_is_an_option),
        cmocka_unit_test(test_tlspair_selfsigned_refuses_bad_input_naming_the_field),
        cmocka_unit_test_setup_teardown(test_tlspair_validate_accepts_a_good_chain_at_its_edges,
                                        pki_setup, pki_teardown),
        cmocka_unit_test_setup_teardown(test_tlspair_validate_names_each_failing_check, pki_setup,
                                        pki_teardown),
        cmocka_unit_test(test_tlspair_dns_match_follows_rfc6125),
        cmocka_unit_test(test_tlspair_csr_carries_the_names_and_verifies),
        cmocka_unit_test(test_tlspair_renew_at_a_third_of_the_lifetime),
        cmocka_unit_test(test_tlspair_key_generate_gives_a_usable_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
