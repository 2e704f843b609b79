/* acme_jws: the account key's JWK (RFC 7517), its thumbprint (RFC 7638) and JWS signing
 * (RFC 7515, flattened JSON serialization) for clients/acme. */
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "clients/acme.h"
#include "clients/acme_int.h"
#include "lib/cjson.h"
#include "lib/xalloc.h"

/* --- base64url, JWK ---------------------------------------------------------------------- */

void acme_b64url(strbuf *out, const void *data, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = data;
    size_t i;

    strbuf_grow(out, (n + 2) / 3 * 4);
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];

        strbuf_addch(out, tab[v >> 18 & 63]);
        strbuf_addch(out, tab[v >> 12 & 63]);
        strbuf_addch(out, tab[v >> 6 & 63]);
        strbuf_addch(out, tab[v & 63]);
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;

        strbuf_addch(out, tab[v >> 18 & 63]);
        strbuf_addch(out, tab[v >> 12 & 63]);
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;

        strbuf_addch(out, tab[v >> 18 & 63]);
        strbuf_addch(out, tab[v >> 12 & 63]);
        strbuf_addch(out, tab[v >> 6 & 63]);
    }
}

/* Append base64url of a BIGNUM: minimal big-endian bytes (RSA n, e), or padded to pad bytes. */
static void b64url_bn(strbuf *out, const BIGNUM *bn, int pad)
{
    unsigned char buf[1024];
    int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);

    acme_b64url(out, buf, n > 0 ? (size_t)n : 0);
}

/* The JWK of key: EC P-256 or RSA >= 2048 bits; sets *alg. */
int acme_jwk_of(EVP_PKEY *key, strbuf *jwk, const char **alg, omlop_err *err)
{
    BIGNUM *a = NULL, *b = NULL;
    int rc = 0;

    strbuf_reset(jwk);
    if (EVP_PKEY_is_a(key, "EC")) {
        char group[64] = "";

        if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                            NULL) ||
            strcmp(group, "prime256v1") != 0) {
            rc =
                omlop_err_set(err, OMLOP_EINVAL,
                              "account key: EC curve '%s' is not P-256 (ES256 needs P-256)", group);
            goto out;
        }
        if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &a) ||
            !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &b))
            goto bad;
        strbuf_adds(jwk, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"");
        b64url_bn(jwk, a, 32);
        strbuf_adds(jwk, "\",\"y\":\"");
        b64url_bn(jwk, b, 32);
        strbuf_adds(jwk, "\"}");
        *alg = "ES256";
    } else if (EVP_PKEY_is_a(key, "RSA")) {
        if (EVP_PKEY_get_bits(key) < 2048 || EVP_PKEY_get_bits(key) > 8192) {
            rc = omlop_err_set(err, OMLOP_EINVAL, "account key: RSA %d bits, want 2048 to 8192",
                               EVP_PKEY_get_bits(key));
            goto out;
        }
        if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &a) ||
            !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &b))
            goto bad;
        strbuf_adds(jwk, "{\"e\":\"");
        b64url_bn(jwk, b, 0);
        strbuf_adds(jwk, "\",\"kty\":\"RSA\",\"n\":\"");
        b64url_bn(jwk, a, 0);
        strbuf_adds(jwk, "\"}");
        *alg = "RS256";
    } else {
        rc = omlop_err_set(err, OMLOP_EINVAL, "account key: want an EC P-256 or an RSA key");
    }
    goto out;
bad:
    rc = omlop_err_set(err, OMLOP_EINVAL, "account key: cannot read its public part");
out:
    BN_free(a);
    BN_free(b);
    ERR_clear_error();
    return rc;
}

void acme_thumbprint(const strbuf *jwk, char thumb[44])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    strbuf sb = STRBUF_INIT;

    SHA256((const unsigned char *)strbuf_str(jwk), jwk->len, md);
    acme_b64url(&sb, md, sizeof(md));
    snprintf(thumb, 44, "%s", strbuf_str(&sb));
    strbuf_release(&sb);
}

/* A private key, or (public_ok) a public key, from PEM. */
EVP_PKEY *acme_key_load(const char *pem, int public_ok)
{
    EVP_PKEY *k = NULL;
    BIO *b;

    if (!pem)
        return NULL;
    b = BIO_new_mem_buf(pem, -1);
    k = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"");
    if (!k && public_ok) {
        BIO_free(b);
        b = BIO_new_mem_buf(pem, -1);
        k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    }
    BIO_free(b);
    ERR_clear_error();
    return k;
}

int acme_jwk(const char *key_pem, strbuf *jwk, char thumb[44], omlop_err *err)
{
    const char *alg;
    EVP_PKEY *k = acme_key_load(key_pem, 1);
    int rc;

    if (!k)
        return omlop_err_set(err, OMLOP_EINVAL, "key: not a PEM private or public key");
    rc = acme_jwk_of(k, jwk, &alg, err);
    if (rc == 0)
        acme_thumbprint(jwk, thumb);
    EVP_PKEY_free(k);
    return rc;
}

static int jws_sign(acme_client *c, const strbuf *input, strbuf *out, omlop_err *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t len = 0;
    int rc = 0;

    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, c->key) != 1 ||
        EVP_DigestSign(md, NULL, &len, (const unsigned char *)input->buf, input->len) != 1)
        goto fail;
    sig = xmalloc(len);
    if (EVP_DigestSign(md, sig, &len, (const unsigned char *)input->buf, input->len) != 1)
        goto fail;
    if (strcmp(c->alg, "ES256") == 0) {
        /* JWS wants the two 32-byte integers concatenated, not the DER sequence */
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
        unsigned char rs[64];

        if (!es)
            goto fail;
        if (BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32) != 32 ||
            BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32) != 32) {
            ECDSA_SIG_free(es);
            goto fail;
        }
        ECDSA_SIG_free(es);
        acme_b64url(out, rs, sizeof(rs));
    } else {
        acme_b64url(out, sig, len);
    }
    goto out;
fail:
    rc = omlop_err_set(err, OMLOP_EINTERNAL, "ACME: cannot sign a request with the account key");
out:
    ERR_clear_error();
    free(sig);
    EVP_MD_CTX_free(md);
    return rc;
}

/* The flattened JWS of payload ("" for POST-as-GET) to url, with the current nonce. */
int acme_jws_build(acme_client *c, const char *url, const char *payload, int use_jwk, strbuf *out,
                   omlop_err *err)
{
    strbuf prot = STRBUF_INIT, input = STRBUF_INIT;
    int rc;

    strbuf_addf(&prot, "{\"alg\":\"%s\",", c->alg);
    if (use_jwk) {
        strbuf_adds(&prot, "\"jwk\":");
        strbuf_add(&prot, c->jwk.buf, c->jwk.len);
    } else {
        strbuf_adds(&prot, "\"kid\":");
        cjson_add_quoted(&prot, c->account_url, strlen(c->account_url), 0);
    }
    strbuf_adds(&prot, ",\"nonce\":");
    cjson_add_quoted(&prot, c->nonce, strlen(c->nonce), 0);
    strbuf_adds(&prot, ",\"url\":");
    cjson_add_quoted(&prot, url, strlen(url), 0);
    strbuf_addch(&prot, '}');

    acme_b64url(&input, prot.buf, prot.len);
    strbuf_addch(&input, '.');
    acme_b64url(&input, payload, strlen(payload));
    strbuf_reset(out);
    strbuf_adds(out, "{\"protected\":\"");
    strbuf_add(out, input.buf, (size_t)(strchr(input.buf, '.') - input.buf));
    strbuf_adds(out, "\",\"payload\":\"");
    strbuf_adds(out, strchr(input.buf, '.') + 1);
    strbuf_adds(out, "\",\"signature\":\"");
    rc = jws_sign(c, &input, out, err);
    strbuf_adds(out, "\"}");
    strbuf_release(&prot);
    strbuf_release(&input);
    return rc;
}
