/* ssh_keys: private keys, expected host keys and fingerprints (see ssh_keys.h). */
#include "clients/ssh_keys.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include "lib/xalloc.h"

/* A host entry or Secret is small; anything bigger is a mistake, not a key. */
#define KEY_TEXT_MAX (64 * 1024)

static int b64_value(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

int ssh_keys_base64_decode(const char *in, strbuf *out, omlop_err *err)
{
    uint32_t acc = 0;
    int bits = 0;
    int seen_pad = 0;
    size_t pos = 0;

    for (const char *p = in; *p; p++, pos++) {
        int v;

        if (isspace((unsigned char)*p))
            continue;
        if (*p == '=') {
            seen_pad = 1;
            continue;
        }
        v = b64_value((unsigned char)*p);
        /* The input may be a private key or a password: name the offset, never the character. */
        if (v < 0 || seen_pad)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 seen_pad && v >= 0
                                     ? "base64: data after the '=' padding at offset %zu"
                                     : "base64: a character outside the base64 alphabet at "
                                       "offset %zu",
                                 pos);
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            strbuf_addch(out, (char)((acc >> bits) & 0xff));
        }
    }
    if (bits >= 6)
        return omlop_err_set(err, OMLOP_EINVAL, "base64: truncated input (%d stray bits)", bits);
    return 0;
}

const char *ssh_keys_type_name(const ssh_key key)
{
    const char *name = ssh_key_type_to_char(ssh_key_type(key));

    return name ? name : "unknown";
}

void ssh_keys_fingerprint(const ssh_key key, char *buf, size_t size)
{
    unsigned char *hash = NULL;
    size_t hlen = 0;
    char *fp;

    if (size == 0)
        return;
    snprintf(buf, size, "?");
    if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != SSH_OK)
        return;
    fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
    if (fp) {
        snprintf(buf, size, "%s", fp);
        ssh_string_free_char(fp);
    }
    ssh_clean_pubkey_hash(&hash);
}

/* The key type named inside an SSH public key blob (a uint32 length, then the name). */
static int blob_type(const strbuf *blob, char *out, size_t size)
{
    const unsigned char *b = (const unsigned char *)blob->buf;
    uint32_t n;

    if (blob->len < 4)
        return -1;
    n = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    if (n == 0 || n >= size || n > blob->len - 4)
        return -1;
    memcpy(out, b + 4, n);
    out[n] = '\0';
    return 0;
}

/*
 * Parse one line into a public key. The first token that names a key type
 * starts the key; anything before it is a known_hosts host pattern.
 */
static int parse_key_line(const char *line, ssh_key *out, omlop_err *err)
{
    char *copy = xstrdup(line);
    char *save = NULL, *tok, *type = NULL, *b64 = NULL;
    strbuf blob = STRBUF_INIT;
    char inner[64];
    enum ssh_keytypes_e kt;
    int rc = OMLOP_EINVAL;
    int i = 0;

    for (tok = strtok_r(copy, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (i == 0 && tok[0] == '@') {
            omlop_err_set(err, OMLOP_EINVAL,
                          "host key: marker '%s' is not supported; give plain keys", tok);
            goto out;
        }
        if (ssh_key_type_from_name(tok) != SSH_KEYTYPE_UNKNOWN) {
            type = tok;
            b64 = strtok_r(NULL, " \t\r\n", &save);
            break;
        }
        if (++i > 1)
            break; /* only one host-pattern field may precede the key */
    }
    if (!type) {
        omlop_err_set(err, OMLOP_EINVAL,
                      "host key: no key type found in '%.60s'; expected a line like "
                      "'ssh-ed25519 AAAAC3Nza...' (the contents of the host's "
                      "/etc/ssh/ssh_host_ed25519_key.pub)",
                      line);
        goto out;
    }
    if (!b64) {
        omlop_err_set(err, OMLOP_EINVAL, "host key: '%s' is not followed by the key data", type);
        goto out;
    }
    if (ssh_keys_base64_decode(b64, &blob, err) < 0) {
        omlop_err_prefix(err, "host key (%s): ", type);
        goto out;
    }
    if (blob_type(&blob, inner, sizeof(inner)) < 0) {
        omlop_err_set(err, OMLOP_EINVAL, "host key (%s): the key data is not an SSH public key",
                      type);
        goto out;
    }
    /* rsa-sha2-* are signature names for an ssh-rsa key */
    if (strcmp(inner, type) != 0 &&
        !(strcmp(inner, "ssh-rsa") == 0 && strncmp(type, "rsa-sha2-", 9) == 0)) {
        omlop_err_set(err, OMLOP_EINVAL,
                      "host key: the line says '%s' but the key data is a '%s' key", type, inner);
        goto out;
    }
    kt = ssh_key_type_from_name(inner);
    if (kt == SSH_KEYTYPE_UNKNOWN || ssh_pki_import_pubkey_base64(b64, kt, out) != SSH_OK) {
        omlop_err_set(err, OMLOP_EINVAL, "host key (%s): the key data does not parse", inner);
        goto out;
    }
    rc = 0;
out:
    strbuf_release(&blob);
    free(copy);
    return rc;
}

int ssh_keys_hostset_parse(const char *text, ssh_keys_hostset *set, omlop_err *err)
{
    const char *p = text;
    size_t lineno = 0;

    if (strlen(text) > KEY_TEXT_MAX)
        return omlop_err_set(err, OMLOP_ELIMIT, "host key: text longer than %d bytes",
                             KEY_TEXT_MAX);
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = xstrndup(p, len);
        const char *q;
        ssh_key key = NULL;

        lineno++;
        p += len + (nl ? 1 : 0);
        for (q = line; isspace((unsigned char)*q); q++)
            ;
        if (*q == '\0' || *q == '#') {
            free(line);
            continue;
        }
        if (parse_key_line(q, &key, err) < 0) {
            free(line);
            if (lineno > 1)
                omlop_err_prefix(err, "line %zu: ", lineno);
            return err ? err->code : OMLOP_EINVAL;
        }
        free(line);
        set->keys = xrealloc(set->keys, (set->n + 1) * sizeof(*set->keys));
        set->keys[set->n++] = key;
    }
    if (set->n == 0)
        return omlop_err_set(err, OMLOP_EINVAL, "host key: no key given");
    return 0;
}

void ssh_keys_hostset_release(ssh_keys_hostset *set)
{
    for (size_t i = 0; i < set->n; i++)
        ssh_key_free(set->keys[i]);
    free(set->keys);
    set->keys = NULL;
    set->n = 0;
}

int ssh_keys_hostset_contains(const ssh_keys_hostset *set, const ssh_key key)
{
    for (size_t i = 0; i < set->n; i++) {
        if (ssh_key_cmp(set->keys[i], key, SSH_KEY_CMP_PUBLIC) == 0)
            return 1;
    }
    return 0;
}

void ssh_keys_hostset_algorithms(const ssh_keys_hostset *set, strbuf *out)
{
    for (size_t i = 0; i < set->n; i++) {
        const char *names = ssh_keys_type_name(set->keys[i]);

        /* an RSA host key signs with SHA-2 today; ssh-rsa (SHA-1) last, for old servers */
        if (ssh_key_type(set->keys[i]) == SSH_KEYTYPE_RSA)
            names = "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
        if (strstr(strbuf_str(out), names))
            continue;
        if (out->len)
            strbuf_addch(out, ',');
        strbuf_adds(out, names);
    }
}

void ssh_keys_hostset_fingerprints(const ssh_keys_hostset *set, strbuf *out)
{
    char fp[96];

    for (size_t i = 0; i < set->n; i++) {
        ssh_keys_fingerprint(set->keys[i], fp, sizeof(fp));
        strbuf_addf(out, "%s%s %s", i ? ", " : "", ssh_keys_type_name(set->keys[i]), fp);
    }
}

int ssh_keys_hostkey_describe(const char *line, strbuf *out, omlop_err *err)
{
    ssh_keys_hostset set = SSH_KEYS_HOSTSET_INIT;
    int rc = ssh_keys_hostset_parse(line, &set, err);

    if (rc == 0)
        ssh_keys_hostset_fingerprints(&set, out);
    ssh_keys_hostset_release(&set);
    return rc;
}

/* Whether one host pattern of a known_hosts line names host (already in "[h]:p" form). */
static int pattern_matches(const char *pat, size_t n, const char *name)
{
    if (n > 3 && strncmp(pat, "|1|", 3) == 0) {
        /* hashed: |1|base64(salt)|base64(HMAC-SHA1(salt, name)) */
        const char *bar = memchr(pat + 3, '|', n - 3);
        strbuf salt = STRBUF_INIT, want = STRBUF_INIT, tmp = STRBUF_INIT;
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned mlen = 0;
        int yes = 0;

        if (!bar)
            return 0;
        strbuf_add(&tmp, pat + 3, (size_t)(bar - pat - 3));
        if (ssh_keys_base64_decode(strbuf_str(&tmp), &salt, NULL) == 0) {
            strbuf_reset(&tmp);
            strbuf_add(&tmp, bar + 1, n - (size_t)(bar + 1 - pat));
            if (ssh_keys_base64_decode(strbuf_str(&tmp), &want, NULL) == 0 &&
                HMAC(EVP_sha1(), salt.buf, (int)salt.len, (const unsigned char *)name, strlen(name),
                     mac, &mlen) &&
                mlen == want.len && memcmp(mac, want.buf, mlen) == 0)
                yes = 1;
        }
        strbuf_release(&salt);
        strbuf_release(&want);
        strbuf_release(&tmp);
        return yes;
    }
    return strlen(name) == n && strncmp(pat, name, n) == 0;
}

int ssh_keys_known_hosts_lookup(const char *file, const char *host, int port, ssh_keys_hostset *set)
{
    strbuf text = STRBUF_INIT, name = STRBUF_INIT;
    const char *p;
    int found = 0;

    if (port == 22 || port == 0)
        strbuf_adds(&name, host);
    else
        strbuf_addf(&name, "[%s]:%d", host, port);
    if (strbuf_read_file(&text, file, 4 * 1024 * 1024, NULL) < 0)
        goto out;
    for (p = strbuf_str(&text); *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *end = p + len, *q = p, *sp;
        int match = 0;

        while (q < end && isspace((unsigned char)*q))
            q++;
        sp = q;
        while (sp < end && !isspace((unsigned char)*sp))
            sp++;
        /* first field: comma-separated patterns; markers (@revoked...) are skipped */
        if (q < end && *q != '#' && *q != '@') {
            for (const char *s = q; s < sp;) {
                const char *comma = memchr(s, ',', (size_t)(sp - s));
                size_t n = comma ? (size_t)(comma - s) : (size_t)(sp - s);

                match |= pattern_matches(s, n, strbuf_str(&name));
                s += n + (comma ? 1 : 0);
            }
        }
        if (match) {
            char *line = xstrndup(sp, (size_t)(end - sp));
            ssh_key key = NULL;

            if (parse_key_line(line, &key, NULL) == 0) {
                set->keys = xrealloc(set->keys, (set->n + 1) * sizeof(*set->keys));
                set->keys[set->n++] = key;
                found++;
            }
            free(line);
        }
        p = nl ? nl + 1 : end;
    }
out:
    strbuf_release(&text);
    strbuf_release(&name);
    return found;
}

int ssh_keys_load_file(const char *path, ssh_key *out, omlop_err *err)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return omlop_err_set(err, errno == ENOENT ? OMLOP_ENOTFOUND : OMLOP_EIO,
                             "identity file %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return omlop_err_set(err, OMLOP_EINVAL, "identity file %s: not a regular file", path);
    if (st.st_size > KEY_TEXT_MAX)
        return omlop_err_set(err, OMLOP_EINVAL, "identity file %s: too large to be a key", path);
    if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, out) != SSH_OK)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "identity file %s: not an unencrypted private key (ed25519, "
                             "ecdsa or rsa, OpenSSH or PEM format); passphrases are not "
                             "supported, use ssh-agent for encrypted keys",
                             path);
    return 0;
}

int ssh_keys_load_text(const char *text, const char *what, ssh_key *out, omlop_err *err)
{
    strbuf pem = STRBUF_INIT;
    const char *p = text;
    int rc;

    while (isspace((unsigned char)*p))
        p++;
    if (strlen(p) > KEY_TEXT_MAX)
        return omlop_err_set(err, OMLOP_ELIMIT, "%s: longer than %d bytes", what, KEY_TEXT_MAX);
    if (strncmp(p, "-----BEGIN ", 11) == 0) {
        strbuf_adds(&pem, p);
    } else {
        rc = ssh_keys_base64_decode(p, &pem, err);
        if (rc < 0) {
            if (pem.buf)
                memset(pem.buf, 0, pem.alloc);
            strbuf_release(&pem);
            return omlop_err_prefix(err, "%s: neither a PEM/OpenSSH private key nor its ", what);
        }
        if (strncmp(strbuf_str(&pem), "-----BEGIN ", 11) != 0) {
            if (pem.buf)
                memset(pem.buf, 0, pem.alloc);
            strbuf_release(&pem);
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "%s: not a private key (expected text starting with "
                                 "'-----BEGIN', or the base64 of such text)",
                                 what);
        }
    }
    rc = ssh_pki_import_privkey_base64(strbuf_str(&pem), NULL, NULL, NULL, out);
    /* the buffer held a secret: wipe it before it goes back to the allocator */
    if (pem.buf)
        memset(pem.buf, 0, pem.alloc);
    strbuf_release(&pem);
    if (rc != SSH_OK)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "%s: not an unencrypted private key (ed25519, ecdsa or rsa, "
                             "OpenSSH or PEM format)",
                             what);
    return 0;
}
