/* tlspair: TLS pairs on OpenSSL 3 (see tlspair.h). */
#include "tlspair.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "xalloc.h"

/* OpenSSL's reason for the last error (or "unknown error"), and its queue emptied. */
static const char *ossl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    snprintf(buf, size, "%s", r ? r : "unknown error");
    ERR_clear_error();
    return buf;
}

void tlspair_free_secret(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

/* The bytes written to a memory BIO as a NUL-terminated string (caller frees). */
static char *bio_take_string(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *s = xmalloc((size_t)(n > 0 ? n : 0) + 1);

    if (n > 0)
        memcpy(s, data, (size_t)n);
    s[n > 0 ? n : 0] = '\0';
    return s;
}

static EVP_PKEY *key_new(tlspair_key_type type)
{
    if (type == TLSPAIR_KEY_RSA_2048)
        return EVP_RSA_gen(2048);
    return EVP_EC_gen("P-256");
}

static int key_to_pem(EVP_PKEY *key, char **key_pem, omlop_err *err)
{
    char why[256];
    BIO *b = BIO_new(BIO_s_mem());
    int rc = 0;

    if (!b || !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)) {
        rc = omlop_err_set(err, OMLOP_EINTERNAL, "private key: cannot write PEM: %s",
                           ossl_reason(why, sizeof(why)));
        goto out;
    }
    *key_pem = bio_take_string(b);
out:
    if (b) {
        /* the memory BIO held the key: wipe before freeing */
        char *data = NULL;
        long n = BIO_get_mem_data(b, &data);

        if (n > 0)
            OPENSSL_cleanse(data, (size_t)n);
        BIO_free(b);
    }
    return rc;
}

int tlspair_key_generate(tlspair_key_type type, char **key_pem, omlop_err *err)
{
    char why[256];
    EVP_PKEY *key;
    int rc;

    *key_pem = NULL;
    if (type != TLSPAIR_KEY_EC_P256 && type != TLSPAIR_KEY_RSA_2048)
        return omlop_err_set(err, OMLOP_EINVAL, "key type %d: want EC P-256 or RSA 2048",
                             (int)type);
    key = key_new(type);
    if (!key)
        return omlop_err_set(err, OMLOP_EINTERNAL, "cannot generate a key: %s",
                             ossl_reason(why, sizeof(why)));
    rc = key_to_pem(key, key_pem, err);
    EVP_PKEY_free(key);
    return rc;
}

/* Whether s is a DNS host name (labels of letters, digits, '-'; '*' as a whole first label). */
static int dns_name_ok(const char *s, int allow_wildcard)
{
    size_t len = strlen(s), label = 0;

    if (len == 0 || len > 253)
        return 0;
    if (allow_wildcard && s[0] == '*' && s[1] == '.')
        s += 2;
    for (const char *p = s;; p++) {
        if (*p == '.' || *p == '\0') {
            if (label == 0 || label > 63 || p[-1] == '-')
                return 0;
            if (*p == '\0')
                return 1;
            label = 0;
            continue;
        }
        if (!(isalnum((unsigned char)*p) || (*p == '-' && label > 0) || *p == '_'))
            return 0;
        label++;
    }
}

/* Parse an IPv4 or IPv6 text address into out (4 or 16 bytes); its length, or 0 when bad. */
static size_t ip_parse(const char *s, unsigned char out[16])
{
    if (inet_pton(AF_INET, s, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, out) == 1)
        return 16;
    return 0;
}

/* A certificate extension from its config text, added to x (0 or -1). */
static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok;

    if (!ext)
        return -1;
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* The SAN extension built by hand (names are validated, never parsed as config text). */
static GENERAL_NAMES *sans_build(const char *const *dns, size_t n_dns, const char *const *ips,
                                 size_t n_ips, omlop_err *err, int *rc)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();

    *rc = 0;
    for (size_t i = 0; i < n_dns; i++) {
        GENERAL_NAME *g;
        ASN1_IA5STRING *ia5;
        int dup = 0;

        if (!dns[i] || !dns_name_ok(dns[i], 1)) {
            *rc = omlop_err_set(err, OMLOP_EINVAL, "dnsNames[%zu] '%s': not a DNS name", i,
                                dns[i] ? dns[i] : "(null)");
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            dup |= strcasecmp(dns[i], dns[j]) == 0;
        if (dup)
            continue;
        g = GENERAL_NAME_new();
        ia5 = ASN1_IA5STRING_new();
        ASN1_STRING_set(ia5, dns[i], (int)strlen(dns[i]));
        GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
        sk_GENERAL_NAME_push(gens, g);
    }
    for (size_t i = 0; i < n_ips; i++) {
        unsigned char a[16], b[16];
        size_t alen = ips[i] ? ip_parse(ips[i], a) : 0;
        GENERAL_NAME *g;
        ASN1_OCTET_STRING *os;
        int dup = 0;

        if (!alen) {
            *rc = omlop_err_set(err, OMLOP_EINVAL, "ipAddresses[%zu] '%s': not an IP address", i,
                                ips[i] ? ips[i] : "(null)");
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            dup |= ip_parse(ips[j], b) == alen && memcmp(a, b, alen) == 0;
        if (dup)
            continue;
        g = GENERAL_NAME_new();
        os = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(os, a, (int)alen);
        GENERAL_NAME_set0_value(g, GEN_IPADD, os);
        sk_GENERAL_NAME_push(gens, g);
    }
    return gens;
fail:
    GENERAL_NAMES_free(gens);
    return NULL;
}

static int random_serial(X509 *x)
{
    unsigned char r[16];
    BIGNUM *bn;
    int ok;

    if (RAND_bytes(r, sizeof(r)) != 1)
        return -1;
    r[0] &= 0x7f; /* positive */
    r[0] |= 0x40; /* and a full 127 bits, so it never encodes shorter */
    bn = BN_bin2bn(r, sizeof(r), NULL);
    ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

int tlspair_selfsigned(const tlspair_selfsigned_opts *o, char **cert_pem, char **key_pem,
                       omlop_err *err)
{
    char why[256];
    int64_t life = o->lifetime_s ? o->lifetime_s : TLSPAIR_DEFAULT_LIFETIME_S;
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    X509_NAME *name = NULL;
    GENERAL_NAMES *gens = NULL;
    BIO *b = NULL;
    X509V3_CTX ctx;
    int rc = 0;

    *cert_pem = NULL;
    *key_pem = NULL;
    if (!o->common_name || !*o->common_name || strlen(o->common_name) > 64)
        return omlop_err_set(err, OMLOP_EINVAL, "commonName: want 1 to 64 bytes");
    if (o->key_type != TLSPAIR_KEY_EC_P256 && o->key_type != TLSPAIR_KEY_RSA_2048)
        return omlop_err_set(err, OMLOP_EINVAL, "keyType %d: want EC P-256 or RSA 2048",
                             (int)o->key_type);
    if (o->now <= TLSPAIR_BACKDATE_S)
        return omlop_err_set(err, OMLOP_EINVAL, "now: want epoch seconds");
    if (life <= 0 || life > 100LL * 366 * 24 * 3600)
        return omlop_err_set(err, OMLOP_EINVAL, "lifetime %lld s: want 1 s to 100 years",
                             (long long)life);
    if (o->n_dns + o->n_ips > TLSPAIR_MAX_SANS)
        return omlop_err_set(err, OMLOP_EINVAL, "%zu subject alternative names: at most %d",
                             o->n_dns + o->n_ips, TLSPAIR_MAX_SANS);
    gens = sans_build(o->dns_names, o->n_dns, o->ip_addrs, o->n_ips, err, &rc);
    if (!gens)
        goto out;

    key = key_new(o->key_type);
    x = X509_new();
    if (!key || !x || !X509_set_version(x, 2) || random_serial(x) < 0 ||
        !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(o->now - TLSPAIR_BACKDATE_S)) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(o->now + life)) || !X509_set_pubkey(x, key))
        goto ossl_fail;
    name = X509_NAME_new();
    if (!name ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    (const unsigned char *)o->common_name, -1, -1, 0) ||
        !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name))
        goto ossl_fail;

    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(x, &ctx, NID_key_usage,
                o->key_type == TLSPAIR_KEY_RSA_2048 ? "critical,digitalSignature,keyEncipherment"
                                                    : "critical,digitalSignature") < 0 ||
        add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") < 0 ||
        add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0)
        goto ossl_fail;
    if (sk_GENERAL_NAME_num(gens) > 0 && !X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0))
        goto ossl_fail;
    if (!X509_sign(x, key, EVP_sha256()))
        goto ossl_fail;

    b = BIO_new(BIO_s_mem());
    if (!b || !PEM_write_bio_X509(b, x))
        goto ossl_fail;
    rc = key_to_pem(key, key_pem, err);
    if (rc < 0)
        goto out;
    *cert_pem = bio_take_string(b);
    goto out;
ossl_fail:
    rc = omlop_err_set(err, OMLOP_EINTERNAL, "self-signed certificate for '%s': %s", o->common_name,
                       ossl_reason(why, sizeof(why)));
out:
    BIO_free(b);
    X509_NAME_free(name);
    GENERAL_NAMES_free(gens);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

/* --- parsing ------------------------------------------------------------------------------ */

/* Every certificate of a PEM text, in order. NULL (err set, naming what) when none or bad. */
static STACK_OF(X509) * certs_parse(const char *pem, const char *what, omlop_err *err)
{
    char why[256];
    STACK_OF(X509) *sk = NULL;
    BIO *b;
    X509 *x;

    if (!pem || !*pem) {
        omlop_err_set(err, OMLOP_EINVAL, "%s: empty", what);
        return NULL;
    }
    if (strlen(pem) > TLSPAIR_MAX_PEM_BYTES) {
        omlop_err_set(err, OMLOP_EINVAL, "%s: larger than %d bytes", what, TLSPAIR_MAX_PEM_BYTES);
        return NULL;
    }
    sk = sk_X509_new_null();
    b = BIO_new_mem_buf(pem, -1);
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
        sk_X509_push(sk, x);
    /* the loop ends on "no start line" after the last certificate; anything else is damage */
    if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE || sk_X509_num(sk) == 0) {
        if (sk_X509_num(sk) == 0 && ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE)
            omlop_err_set(err, OMLOP_EINVAL, "%s: no PEM CERTIFICATE block", what);
        else
            omlop_err_set(err, OMLOP_EINVAL, "%s: certificate %d does not parse: %s", what,
                          sk_X509_num(sk) + 1, ossl_reason(why, sizeof(why)));
        sk_X509_pop_free(sk, X509_free);
        sk = NULL;
    }
    ERR_clear_error();
    BIO_free(b);
    return sk;
}

static EVP_PKEY *key_parse(const char *pem, omlop_err *err)
{
    char why[256];
    EVP_PKEY *k = NULL;
    BIO *b;

    if (!pem || !*pem) {
        omlop_err_set(err, OMLOP_EINVAL, "private key: empty");
        return NULL;
    }
    if (strlen(pem) > TLSPAIR_MAX_PEM_BYTES) {
        omlop_err_set(err, OMLOP_EINVAL, "private key: larger than %d bytes",
                      TLSPAIR_MAX_PEM_BYTES);
        return NULL;
    }
    b = BIO_new_mem_buf(pem, -1);
    /* an empty passphrase callback: an encrypted key fails instead of prompting */
    k = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"");
    if (!k)
        omlop_err_set(err, OMLOP_EINVAL,
                      "private key: does not parse (%s); want an unencrypted PEM key",
                      ossl_reason(why, sizeof(why)));
    BIO_free(b);
    return k;
}

static int64_t asn1_time_epoch(const ASN1_TIME *t)
{
    struct tm tm;

    if (!ASN1_TIME_to_tm(t, &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

static char *name_oneline(const X509_NAME *n)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s;

    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
    s = bio_take_string(b);
    BIO_free(b);
    return s;
}

static void info_sans(X509 *x, tlspair_info *info)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int n = gens ? sk_GENERAL_NAME_num(gens) : 0;

    info->dns_names = xcalloc((size_t)n + 1, sizeof(char *));
    info->ip_addrs = xcalloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char buf[INET6_ADDRSTRLEN];

        if (g->type == GEN_DNS) {
            const ASN1_IA5STRING *s = g->d.dNSName;

            info->dns_names[info->n_dns++] =
                xstrndup((const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
        } else if (g->type == GEN_IPADD) {
            int len = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);

            if ((len == 4 && inet_ntop(AF_INET, a, buf, sizeof(buf))) ||
                (len == 16 && inet_ntop(AF_INET6, a, buf, sizeof(buf))))
                info->ip_addrs[info->n_ips++] = xstrdup(buf);
        }
    }
    GENERAL_NAMES_free(gens);
}

static void fill_info(X509 *x, tlspair_info *info)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;

    info->not_before = asn1_time_epoch(X509_get0_notBefore(x));
    info->not_after = asn1_time_epoch(X509_get0_notAfter(x));
    info->serial = xstrdup(hex ? hex : "");
    OPENSSL_free(hex);
    BN_free(bn);
    info->issuer = name_oneline(X509_get_issuer_name(x));
    info->subject = name_oneline(X509_get_subject_name(x));
    info_sans(x, info);
    X509_digest(x, EVP_sha256(), md, &mdlen);
    for (unsigned int i = 0; i < mdlen && i * 3 + 3 <= sizeof(info->fingerprint); i++)
        snprintf(info->fingerprint + i * 3, 4, i + 1 < mdlen ? "%02X:" : "%02X", md[i]);
}

int tlspair_inspect(const char *chain_pem, tlspair_info *info, omlop_err *err)
{
    STACK_OF(X509) * sk;

    memset(info, 0, sizeof(*info));
    sk = certs_parse(chain_pem, "certificate", err);
    if (!sk)
        return err ? err->code : OMLOP_EINVAL;
    fill_info(sk_X509_value(sk, 0), info);
    info->chain_len = (size_t)sk_X509_num(sk);
    sk_X509_pop_free(sk, X509_free);
    return 0;
}

void tlspair_info_release(tlspair_info *info)
{
    if (!info)
        return;
    free(info->serial);
    free(info->issuer);
    free(info->subject);
    for (size_t i = 0; info->dns_names && i < info->n_dns; i++)
        free(info->dns_names[i]);
    for (size_t i = 0; info->ip_addrs && i < info->n_ips; i++)
        free(info->ip_addrs[i]);
    free(info->dns_names);
    free(info->ip_addrs);
    memset(info, 0, sizeof(*info));
}

/* --- validation --------------------------------------------------------------------------- */

const char *tlspair_check_reason(tlspair_check check)
{
    switch (check) {
    case TLSPAIR_CHECK_OK:
        return "Valid";
    case TLSPAIR_CHECK_CERT_PEM:
        return "CertificateUnparsable";
    case TLSPAIR_CHECK_KEY_PEM:
        return "KeyUnparsable";
    case TLSPAIR_CHECK_CA_PEM:
        return "CABundleUnparsable";
    case TLSPAIR_CHECK_KEY_MISMATCH:
        return "KeyMismatch";
    case TLSPAIR_CHECK_CHAIN:
        return "ChainUnverified";
    case TLSPAIR_CHECK_NOT_YET_VALID:
        return "CertificateNotYetValid";
    case TLSPAIR_CHECK_EXPIRED:
        return "CertificateExpired";
    case TLSPAIR_CHECK_NAME_NOT_COVERED:
        return "NameNotCovered";
    case TLSPAIR_CHECK_IP_NOT_COVERED:
        return "IPNotCovered";
    }
    return "Unknown";
}

/* host lower-cased without one trailing dot, into out (0, or -1 when it does not fit). */
static int dns_fold(const char *s, char *out, size_t size)
{
    size_t n = strlen(s);

    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0 || n >= size)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
    return 0;
}

int tlspair_dns_match(const char *pattern, const char *host)
{
    char p[256], h[256];
    unsigned char ipbuf[16];
    const char *hrest;

    if (!pattern || !host || dns_fold(pattern, p, sizeof(p)) < 0 ||
        dns_fold(host, h, sizeof(h)) < 0)
        return 0;
    if (p[0] != '*')
        return strcmp(p, h) == 0;
    /* a wildcard: exactly "*." then at least two labels; the host's first label is non-empty */
    if (p[1] != '.' || strchr(p + 2, '*') || !strchr(p + 2, '.') || ip_parse(h, ipbuf))
        return 0;
    hrest = strchr(h, '.');
    if (!hrest || hrest == h)
        return 0;
    return strcmp(hrest + 1, p + 2) == 0;
}

static int verify_chain(STACK_OF(X509) * chain, const char *ca_pem, omlop_err *err,
                        tlspair_check *failed)
{
    STACK_OF(X509) *cas = certs_parse(ca_pem, "CA bundle (ca.crt)", err);
    STACK_OF(X509) *untrusted = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    int rc = 0;

    if (!cas) {
        *failed = TLSPAIR_CHECK_CA_PEM;
        return OMLOP_EINVAL;
    }
    store = X509_STORE_new();
    for (int i = 0; i < sk_X509_num(cas); i++)
        X509_STORE_add_cert(store, sk_X509_value(cas, i));
    untrusted = sk_X509_new_null();
    for (int i = 1; i < sk_X509_num(chain); i++)
        sk_X509_push(untrusted, sk_X509_value(chain, i));
    ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), untrusted);
    /* dates are their own checks (expired / not yet valid), reported with the dates */
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);

        *failed = TLSPAIR_CHECK_CHAIN;
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "certificate chain does not verify against the CA bundle: %s "
                           "(at depth %d)",
                           X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(ctx));
    }
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    sk_X509_pop_free(cas, X509_free);
    return rc;
}

static void list_sans(const tlspair_info *info, char *out, size_t size)
{
    size_t off = 0;

    out[0] = '\0';
    for (size_t i = 0; i < info->n_dns + info->n_ips && off < size; i++) {
        const char *s = i < info->n_dns ? info->dns_names[i] : info->ip_addrs[i - info->n_dns];
        int w = snprintf(out + off, size - off, "%s%s", i ? ", " : "", s);

        off += w > 0 ? (size_t)w : 0;
    }
    if (!info->n_dns && !info->n_ips)
        snprintf(out, size, "none");
}

/* The name and IP checks on the leaf's info. */
static int check_names(const tlspair_info *info, const tlspair_validate_opts *o,
                       tlspair_check *failed, omlop_err *err)
{
    char sans[512];
    int hit = 0;

    list_sans(info, sans, sizeof(sans));
    if (o->fqdn) {
        for (size_t i = 0; i < info->n_dns; i++)
            hit |= tlspair_dns_match(info->dns_names[i], o->fqdn);
        if (!hit) {
            *failed = TLSPAIR_CHECK_NAME_NOT_COVERED;
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "certificate does not cover '%s' (its names: %s)", o->fqdn, sans);
        }
    }
    for (size_t k = 0; k < o->n_ips; k++) {
        unsigned char want[16], have[16];
        size_t wl = o->ip_addrs[k] ? ip_parse(o->ip_addrs[k], want) : 0;

        hit = 0;
        for (size_t i = 0; wl && i < info->n_ips; i++)
            hit |= ip_parse(info->ip_addrs[i], have) == wl && memcmp(want, have, wl) == 0;
        if (!hit) {
            *failed = TLSPAIR_CHECK_IP_NOT_COVERED;
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "certificate does not cover IP address '%s' (its names: %s)",
                                 o->ip_addrs[k] ? o->ip_addrs[k] : "(null)", sans);
        }
    }
    return 0;
}

static void fmt_time(int64_t t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm) || !strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, size, "%lld", (long long)t);
}

int tlspair_validate(const char *chain_pem, const char *key_pem, const tlspair_validate_opts *o,
                     tlspair_check *failed, omlop_err *err)
{
    static const tlspair_validate_opts none = {0};
    tlspair_check dummy = TLSPAIR_CHECK_OK, *f = failed ? failed : &dummy;
    STACK_OF(X509) *chain = NULL;
    EVP_PKEY *key = NULL;
    tlspair_info info = {0};
    char t1[32], t2[32];
    int rc = 0;

    *f = TLSPAIR_CHECK_OK;
    if (!o)
        o = &none;
    chain = certs_parse(chain_pem, "certificate (tls.crt)", err);
    if (!chain) {
        *f = TLSPAIR_CHECK_CERT_PEM;
        return OMLOP_EINVAL;
    }
    if (key_pem) {
        key = key_parse(key_pem, err);
        if (!key) {
            *f = TLSPAIR_CHECK_KEY_PEM;
            rc = OMLOP_EINVAL;
            goto out;
        }
    }
    if (o->ca_pem) {
        /* parse the bundle before comparing keys, so the PEM reasons come first */
        STACK_OF(X509) *cas = certs_parse(o->ca_pem, "CA bundle (ca.crt)", err);

        if (!cas) {
            *f = TLSPAIR_CHECK_CA_PEM;
            rc = OMLOP_EINVAL;
            goto out;
        }
        sk_X509_pop_free(cas, X509_free);
    }
    if (key && X509_check_private_key(sk_X509_value(chain, 0), key) != 1) {
        ERR_clear_error();
        *f = TLSPAIR_CHECK_KEY_MISMATCH;
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "private key (tls.key) does not match the certificate (tls.crt)");
        goto out;
    }
    if (o->ca_pem) {
        rc = verify_chain(chain, o->ca_pem, err, f);
        if (rc < 0)
            goto out;
    }
    fill_info(sk_X509_value(chain, 0), &info);
    if (o->at) {
        fmt_time(info.not_before, t1, sizeof(t1));
        fmt_time(info.not_after, t2, sizeof(t2));
        if (o->at < info.not_before) {
            *f = TLSPAIR_CHECK_NOT_YET_VALID;
            rc = omlop_err_set(err, OMLOP_EINVAL, "certificate is not valid before %s", t1);
            goto out;
        }
        if (o->at > info.not_after) {
            *f = TLSPAIR_CHECK_EXPIRED;
            rc = omlop_err_set(err, OMLOP_EINVAL, "certificate expired at %s", t2);
            goto out;
        }
    }
    rc = check_names(&info, o, f, err);
out:
    tlspair_info_release(&info);
    EVP_PKEY_free(key);
    sk_X509_pop_free(chain, X509_free);
    return rc;
}

/* --- CSR ------------------------------------------------------------------------------------ */

int tlspair_csr_der(const char *key_pem, const char *const *dns_names, size_t n_dns,
                    unsigned char **der, size_t *der_len, omlop_err *err)
{
    char why[256];
    EVP_PKEY *key = NULL;
    X509_REQ *req = NULL;
    X509_NAME *name = NULL;
    GENERAL_NAMES *gens = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    X509_EXTENSION *ext = NULL;
    unsigned char *p = NULL;
    int rc = 0, len;

    *der = NULL;
    *der_len = 0;
    if (n_dns == 0 || n_dns > TLSPAIR_MAX_SANS)
        return omlop_err_set(err, OMLOP_EINVAL, "CSR: want 1 to %d DNS names, got %zu",
                             TLSPAIR_MAX_SANS, n_dns);
    gens = sans_build(dns_names, n_dns, NULL, 0, err, &rc);
    if (!gens)
        return rc;
    key = key_parse(key_pem, err);
    if (!key) {
        rc = OMLOP_EINVAL;
        goto out;
    }
    req = X509_REQ_new();
    name = X509_NAME_new();
    if (!req || !name || !X509_REQ_set_version(req, 0))
        goto ossl_fail;
    if (strlen(dns_names[0]) <= 64 &&
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)dns_names[0],
                                    -1, -1, 0))
        goto ossl_fail;
    exts = sk_X509_EXTENSION_new_null();
    ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
    if (!ext || !sk_X509_EXTENSION_push(exts, ext))
        goto ossl_fail;
    ext = NULL;
    if (!X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, key) ||
        !X509_REQ_add_extensions(req, exts) || !X509_REQ_sign(req, key, EVP_sha256()))
        goto ossl_fail;
    len = i2d_X509_REQ(req, &p);
    if (len <= 0)
        goto ossl_fail;
    *der = xmalloc((size_t)len);
    memcpy(*der, p, (size_t)len);
    *der_len = (size_t)len;
    goto out;
ossl_fail:
    rc = omlop_err_set(err, OMLOP_EINTERNAL, "CSR for '%s': %s", dns_names[0],
                       ossl_reason(why, sizeof(why)));
out:
    OPENSSL_free(p);
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(name);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    GENERAL_NAMES_free(gens);
    return rc;
}

/* --- renewal --------------------------------------------------------------------------------- */

int tlspair_renew_at(int64_t not_before, int64_t not_after, double fraction, int64_t *at,
                     omlop_err *err)
{
    double life;

    if (!(fraction > 0.0 && fraction < 1.0))
        return omlop_err_set(err, OMLOP_EINVAL, "renewal fraction %g: want 0 < fraction < 1",
                             fraction);
    if (not_after <= not_before)
        return omlop_err_set(err, OMLOP_EINVAL, "notAfter %lld is not after notBefore %lld",
                             (long long)not_after, (long long)not_before);
    life = (double)(not_after - not_before);
    *at = not_after - (int64_t)floor(life * fraction);
    return 0;
}
