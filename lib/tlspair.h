/*
 * tlspair: TLS key pairs and certificates in PEM, on OpenSSL 3, for the certificate modes of a
 * tenant (issue 12): generate a self-signed pair, inspect and validate a user's pair, make the
 * CSR an ACME order finalizes with, and say when a certificate is due for renewal.
 *
 * Pure: no files, no network, no clock. Every input comes as a PEM string or a number from the
 * caller and every output is a string the caller frees, so the reconciler decides where the
 * pair lives (a Secret, a host file) and the tests need no fixtures on disk. Times are epoch
 * seconds (int64_t) passed in by the caller, so "expired at T" is testable at any T.
 *
 * Secrets: no message this module writes contains key material. Errors name the part that is
 * wrong (certificate, key, CA bundle, which certificate of a chain) and OpenSSL's reason text,
 * never the PEM. Key PEM strings returned to the caller are the caller's to wipe and free
 * (tlspair_free_secret does both).
 *
 * Names: SAN matching follows RFC 6125 section 6.4: DNS names compare case-insensitively,
 * ignoring one trailing dot; a wildcard is only a whole left-most label "*" ("*.example.com"
 * matches "a.example.com", not "example.com" nor "a.b.example.com"), needs at least two labels
 * after it, and never matches an IP address. The subject CN is never consulted (CA/B Forum
 * and RFC 6125 6.4.4 with SANs present, which every certificate here has).
 */
#ifndef OMLOP_TLSPAIR_H
#define OMLOP_TLSPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef enum tlspair_key_type {
    TLSPAIR_KEY_EC_P256 = 0, /* ECDSA on P-256: the default, small and fast */
    TLSPAIR_KEY_RSA_2048 = 1 /* for clients that cannot do ECDSA */
} tlspair_key_type;

/* Default lifetime of a self-signed certificate: 365 days. */
#define TLSPAIR_DEFAULT_LIFETIME_S (365 * 24 * 3600LL)
/* How far notBefore is put in the past, for clocks that lag behind the issuer's. */
#define TLSPAIR_BACKDATE_S 300
/* Limits on what a self-signed request may carry (a tenant has a handful of names). */
#define TLSPAIR_MAX_SANS      100
#define TLSPAIR_MAX_PEM_BYTES (1024 * 1024)

/* A new private key of type, as unencrypted PKCS#8 PEM (caller frees with tlspair_free_secret). */
int tlspair_key_generate(tlspair_key_type type, char **key_pem, omlop_err *err);

/* What a self-signed certificate is made of. */
typedef struct tlspair_selfsigned_opts {
    tlspair_key_type key_type;
    const char *common_name;      /* subject CN, 1..64 bytes; required */
    const char *const *dns_names; /* SAN DNS names (may hold duplicates; deduplicated) */
    size_t n_dns;                 /* at most TLSPAIR_MAX_SANS together with n_ips */
    const char *const *ip_addrs;  /* SAN IP addresses, IPv4 or IPv6 text (deduplicated) */
    size_t n_ips;                 /* */
    int64_t now;                  /* issue time, epoch seconds (> 0) */
    int64_t lifetime_s;           /* notAfter - now; 0 means TLSPAIR_DEFAULT_LIFETIME_S */
} tlspair_selfsigned_opts;

/*
 * A fresh key and a self-signed certificate for it: subject and issuer CN=common_name, the
 * SANs (DNS names validated as host names, IPs parsed; duplicates, including case variants
 * and two spellings of one IPv6 address, kept once), notBefore = now - TLSPAIR_BACKDATE_S,
 * notAfter = now + lifetime, a random positive 128-bit serial, basicConstraints CA:FALSE
 * (critical), keyUsage digitalSignature (+ keyEncipherment for RSA), extKeyUsage serverAuth,
 * SHA-256 signature. Both outputs are PEM (caller frees; the key with tlspair_free_secret).
 * EINVAL names the bad field.
 */
int tlspair_selfsigned(const tlspair_selfsigned_opts *o, char **cert_pem, char **key_pem,
                       omlop_err *err);

/* What a certificate says (the first certificate of a chain: the leaf). */
typedef struct tlspair_info {
    int64_t not_before;   /* epoch seconds */
    int64_t not_after;    /* epoch seconds */
    char *serial;         /* upper-case hex, no colons (as `openssl x509 -serial` prints) */
    char *issuer;         /* one line, RFC 2253 ("CN=lab ca,O=x") */
    char *subject;        /* one line, RFC 2253 */
    char **dns_names;     /* SAN DNS names, in certificate order */
    size_t n_dns;         /* */
    char **ip_addrs;      /* SAN IP addresses, canonical text (inet_ntop) */
    size_t n_ips;         /* */
    char fingerprint[96]; /* SHA-256 of the DER, "AB:CD:..." as `openssl x509 -fingerprint` */
    size_t chain_len;     /* how many certificates the PEM held */
} tlspair_info;

/* Parse chain_pem (leaf first) and fill *info (release with tlspair_info_release). */
int tlspair_inspect(const char *chain_pem, tlspair_info *info, omlop_err *err);

/* Free what info holds and zero it (NULL and a zeroed info are fine). */
void tlspair_info_release(tlspair_info *info);

/*
 * The checks of a custom pair, each a reason a Degraded condition can name, in the order
 * tlspair_validate runs them (the first failure is reported).
 */
typedef enum tlspair_check {
    TLSPAIR_CHECK_OK = 0,
    TLSPAIR_CHECK_CERT_PEM,         /* the certificate (chain) does not parse */
    TLSPAIR_CHECK_KEY_PEM,          /* the private key does not parse */
    TLSPAIR_CHECK_CA_PEM,           /* the CA bundle does not parse */
    TLSPAIR_CHECK_KEY_MISMATCH,     /* the key is not the certificate's */
    TLSPAIR_CHECK_CHAIN,            /* the chain does not verify against the CA bundle */
    TLSPAIR_CHECK_NOT_YET_VALID,    /* at < notBefore */
    TLSPAIR_CHECK_EXPIRED,          /* at > notAfter */
    TLSPAIR_CHECK_NAME_NOT_COVERED, /* the FQDN is not among the SAN DNS names */
    TLSPAIR_CHECK_IP_NOT_COVERED    /* an IP address is not among the SAN IPs */
} tlspair_check;

/* CamelCase reason for a condition ("KeyMismatch", "CertificateExpired"); never NULL. */
const char *tlspair_check_reason(tlspair_check check);

/* What to validate a pair against. Every field is optional (NULL/0 skips that check). */
typedef struct tlspair_validate_opts {
    const char *ca_pem;          /* trusted CA bundle (ca.crt): verify the chain against it */
    int64_t at;                  /* check validity at this epoch second; 0 skips the check */
    const char *fqdn;            /* must be covered by the SAN DNS names */
    const char *const *ip_addrs; /* each must be among the SAN IPs */
    size_t n_ips;                /* */
} tlspair_validate_opts;

/*
 * Validate chain_pem (leaf first, then intermediates) and key_pem: every check of
 * tlspair_check in order. 0 when all pass; otherwise OMLOP_EINVAL, *failed set to the first
 * failing check (when failed is not NULL) and err saying what is wrong: which PEM part, the
 * chain error in OpenSSL's words ("unable to get local issuer certificate"), the dates, the
 * name or IP not covered with the SANs there are. key_pem may be NULL (ACME output checked
 * without its key): the key checks are skipped. The chain check ignores dates (the date
 * checks report them on their own, as separate reasons).
 */
int tlspair_validate(const char *chain_pem, const char *key_pem, const tlspair_validate_opts *o,
                     tlspair_check *failed, omlop_err *err);

/* Whether SAN dNSName pattern covers host (the RFC 6125 rules above); 1 or 0. */
int tlspair_dns_match(const char *pattern, const char *host);

/*
 * A PKCS#10 CSR signed with key_pem, subject CN = the first DNS name (when it fits the 64-byte
 * CN limit, else empty), a subjectAltName extension with the DNS names (deduplicated), in DER
 * (what ACME's finalize takes, base64url-encoded): *der is the caller's to free.
 */
int tlspair_csr_der(const char *key_pem, const char *const *dns_names, size_t n_dns,
                    unsigned char **der, size_t *der_len, omlop_err *err);

/* The default renewal fraction: renew when less than a third of the lifetime remains. */
#define TLSPAIR_RENEW_FRACTION (1.0 / 3.0)

/*
 * When a certificate valid from not_before to not_after is due for renewal: the first whole
 * epoch second at which no more than fraction (0 < fraction < 1) of its lifetime remains,
 * not_after - floor(fraction * (not_after - not_before)). EINVAL for a fraction out of range
 * or not_after <= not_before.
 */
int tlspair_renew_at(int64_t not_before, int64_t not_after, double fraction, int64_t *at,
                     omlop_err *err);

/* Wipe (OPENSSL_cleanse) and free a string that held key material; NULL is fine. */
void tlspair_free_secret(char *s);

#endif
