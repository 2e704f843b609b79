/* api_auth: bearer tokens from a CSV file, checked in constant time. */
#include "api_auth.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#define TOKENS_FILE_MAX (1024 * 1024)
#define TOKEN_MAX       4096

typedef struct token_entry {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char name[128];
    api_role role;
} token_entry;

struct api_auth {
    int enabled;
    token_entry *items;
    size_t n;
};

api_auth *api_auth_new_open(void)
{
    api_auth *a = xcalloc(1, sizeof(*a));

    return a;
}

void api_auth_free(api_auth *a)
{
    if (!a)
        return;
    if (a->items)
        OPENSSL_cleanse(a->items, a->n * sizeof(*a->items));
    free(a->items);
    free(a);
}

int api_auth_enabled(const api_auth *a)
{
    return a && a->enabled;
}

size_t api_auth_count(const api_auth *a)
{
    return a ? a->n : 0;
}

const char *api_role_name(api_role role)
{
    switch (role) {
    case API_ROLE_ADMIN:
        return "admin";
    case API_ROLE_VIEW:
        return "view";
    default:
        return "none";
    }
}

/* Trim spaces and tabs around [*s, *s+*n). */
static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
        (*n)--;
}

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n >= sizeof(((token_entry *)0)->name))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._@:-", s[i]))
            return 0;
    return 1;
}

static int token_ok(const char *s, size_t n)
{
    if (n == 0 || n > TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

static int parse_line(api_auth *a, const char *file, int lineno, const char *line, size_t len,
                      omlop_err *err)
{
    const char *f[3];
    size_t fn[3];
    const char *p = line;
    size_t rest = len;
    token_entry e;

    for (int i = 0; i < 3; i++) {
        const char *comma = memchr(p, ',', rest);
        size_t n = comma ? (size_t)(comma - p) : rest;

        if (i < 2 && !comma)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "%s:%d: expected 3 comma-separated fields token,name,role", file,
                                 lineno);
        if (i == 2 && comma)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "%s:%d: more than 3 fields; expected token,name,role", file,
                                 lineno);
        f[i] = p;
        fn[i] = n;
        trim(&f[i], &fn[i]);
        if (comma) {
            rest -= n + 1;
            p = comma + 1;
        }
    }
    if (!token_ok(f[0], fn[0]))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "%s:%d: the token must be 1 to %d printable characters without "
                             "spaces",
                             file, lineno, TOKEN_MAX);
    if (!name_ok(f[1], fn[1]))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "%s:%d: name '%.*s' must be 1 to 127 of [A-Za-z0-9._@:-]", file,
                             lineno, (int)(fn[1] > 64 ? 64 : fn[1]), f[1]);
    memset(&e, 0, sizeof(e));
    if (fn[2] == 5 && memcmp(f[2], "admin", 5) == 0)
        e.role = API_ROLE_ADMIN;
    else if (fn[2] == 4 && memcmp(f[2], "view", 4) == 0)
        e.role = API_ROLE_VIEW;
    else
        return omlop_err_set(err, OMLOP_EINVAL, "%s:%d: role '%.*s' is not one of admin, view",
                             file, lineno, (int)(fn[2] > 32 ? 32 : fn[2]), f[2]);
    memcpy(e.name, f[1], fn[1]);
    SHA256((const unsigned char *)f[0], fn[0], e.digest);
    for (size_t i = 0; i < a->n; i++)
        if (memcmp(a->items[i].digest, e.digest, sizeof(e.digest)) == 0)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "%s:%d: this token is already given to '%s'; tokens must be "
                                 "unique",
                                 file, lineno, a->items[i].name);
    token_entry *grown = xrealloc(a->items, (a->n + 1) * sizeof(*grown));
    a->items = grown;
    a->items[a->n++] = e;
    OPENSSL_cleanse(&e, sizeof(e));
    return 0;
}

int api_auth_parse(const char *name, const char *text, size_t len, api_auth **out, omlop_err *err)
{
    api_auth *a = api_auth_new_open();
    const char *p = text, *end = text + len;
    int lineno = 0, rc = 0;

    *out = NULL;
    a->enabled = 1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *s = p;
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

        lineno++;
        p = nl ? nl + 1 : end;
        trim(&s, &n);
        if (n == 0 || s[0] == '#')
            continue;
        if (memchr(s, '\0', n)) {
            rc = omlop_err_set(err, OMLOP_EINVAL, "%s:%d: NUL byte in the line", name, lineno);
            goto out;
        }
        rc = parse_line(a, name, lineno, s, n, err);
        if (rc)
            goto out;
    }
    if (a->n == 0) {
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "%s: no tokens (lines 'token,name,role'); without tokens omit "
                           "--tokens",
                           name);
        goto out;
    }
    *out = a;
    a = NULL;
out:
    api_auth_free(a);
    return rc;
}

int api_auth_load(const char *path, api_auth **out, omlop_err *err)
{
    strbuf sb = STRBUF_INIT;
    struct stat st;
    int rc;

    *out = NULL;
    rc = strbuf_read_file(&sb, path, TOKENS_FILE_MAX, err);
    if (rc) {
        omlop_err_prefix(err, "--tokens: ");
        goto out;
    }
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        log_warn("file=%s tokens file is readable by group or others; chmod 600 it", path);
    rc = api_auth_parse(path, sb.buf ? sb.buf : "", sb.len, out, err);
out:
    if (sb.buf)
        OPENSSL_cleanse(sb.buf, sb.len);
    strbuf_release(&sb);
    return rc;
}

int api_auth_check_token(const api_auth *a, const char *token, size_t len, api_principal *who,
                         omlop_err *err)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    const token_entry *match = NULL;

    memset(who, 0, sizeof(*who));
    if (!api_auth_enabled(a)) {
        snprintf(who->name, sizeof(who->name), "local");
        who->role = API_ROLE_ADMIN;
        return 0;
    }
    SHA256((const unsigned char *)token, len, digest);
    /* every entry is compared, so the time does not depend on which one matches */
    for (size_t i = 0; i < a->n; i++) {
        int same = CRYPTO_memcmp(digest, a->items[i].digest, sizeof(digest)) == 0;

        if (same && !match)
            match = &a->items[i];
    }
    OPENSSL_cleanse(digest, sizeof(digest));
    if (!match || len == 0)
        return omlop_err_set(err, OMLOP_EAUTH, "the bearer token is not valid");
    snprintf(who->name, sizeof(who->name), "%s", match->name);
    who->role = match->role;
    return 0;
}

int api_auth_check(const api_auth *a, const char *authorization, api_principal *who, omlop_err *err)
{
    const char *p;

    if (!api_auth_enabled(a))
        return api_auth_check_token(a, "", 0, who, err);
    memset(who, 0, sizeof(*who));
    if (!authorization || !*authorization)
        return omlop_err_set(err, OMLOP_EAUTH,
                             "no credentials: send 'Authorization: Bearer <token>' (omlctl "
                             "--token, kubectl --token)");
    p = authorization;
    while (*p == ' ')
        p++;
    if (strncasecmp(p, "Bearer ", 7) != 0)
        return omlop_err_set(err, OMLOP_EAUTH, "the Authorization header must be 'Bearer <token>'");
    p += 7;
    while (*p == ' ')
        p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return api_auth_check_token(a, p, n, who, err);
}
