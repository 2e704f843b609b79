/* imageref: normal form of container image references (see imageref.h). */
#include "lib/imageref.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define DOCKER_HUB       "docker.io"
#define DOCKER_HUB_INDEX "index.docker.io"
#define TAG_MAX          128

static int is_path_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
           ch == '-';
}

static int is_tag_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '.' || ch == '-';
}

/* A registry host: letters, digits, '.', '-', an optional :PORT, or an IPv6 [..]:PORT. */
static int is_registry(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(".-:[]", s[i]))
            return 0;
    return len > 0;
}

/* "sha256:<hex>": algorithm [a-z0-9+._-], then at least 32 lower-case hex digits. */
static int is_digest(const char *s)
{
    const char *colon = strchr(s, ':');
    size_t n_hex;

    if (!colon || colon == s)
        return 0;
    for (const char *p = s; p < colon; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("+._-", *p)))
            return 0;
    n_hex = strlen(colon + 1);
    if (n_hex < 32)
        return 0;
    for (const char *p = colon + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* The repository path: '/'-separated non-empty components of [a-z0-9._-]. */
static int check_path(const char *ref, const char *s, size_t len, omlop_err *err)
{
    size_t comp = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            if (comp == 0)
                return omlop_err_set(err, OMLOP_EINVAL,
                                     "image reference '%s': empty path component", ref);
            comp = 0;
            continue;
        }
        if (s[i] >= 'A' && s[i] <= 'Z')
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "image reference '%s': the repository must be lower case", ref);
        if (!is_path_char(s[i]))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "image reference '%s': '%c' is not allowed in a repository", ref,
                                 s[i]);
        comp++;
    }
    return 0;
}

int imageref_normalize(const char *ref, strbuf *out, omlop_err *err)
{
    const char *at, *name_end, *last_slash, *tag = NULL, *first_slash, *path;
    size_t len, name_len, reg_len = 0;
    int has_registry = 0, is_hub, rc;

    if (!ref || !*ref)
        return omlop_err_set(err, OMLOP_EINVAL, "image reference is empty");
    len = strlen(ref);
    if (len > IMAGEREF_MAX_LEN)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "image reference '%.60s...' is longer than %d characters", ref,
                             IMAGEREF_MAX_LEN);
    for (size_t i = 0; i < len; i++)
        if (isspace((unsigned char)ref[i]) || iscntrl((unsigned char)ref[i]))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "image reference '%s' holds a space or control character", ref);
    at = strchr(ref, '@');
    if (at && !is_digest(at + 1))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "image reference '%s': the digest after '@' is not ALGORITHM:HEX "
                             "(sha256:<64 hex digits>)",
                             ref);
    name_end = at ? at : ref + len;
    /* the tag is after the last ':' of the last component: "reg:5000/x" has a port, no tag */
    last_slash = NULL;
    for (const char *p = ref; p < name_end; p++)
        if (*p == '/')
            last_slash = p;
    for (const char *p = last_slash ? last_slash : ref; p < name_end; p++)
        if (*p == ':')
            tag = p + 1;
    name_len = (size_t)((tag ? tag - 1 : name_end) - ref);
    if (tag) {
        size_t tag_len = (size_t)(name_end - tag);

        if (tag_len == 0 || tag_len > TAG_MAX || !(isalnum((unsigned char)*tag) || *tag == '_'))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "image reference '%s': the tag is empty, too long or does not "
                                 "start with a letter, digit or '_'",
                                 ref);
        for (const char *p = tag; p < name_end; p++)
            if (!is_tag_char(*p))
                return omlop_err_set(err, OMLOP_EINVAL,
                                     "image reference '%s': '%c' is not allowed in a tag", ref, *p);
    }
    if (name_len == 0)
        return omlop_err_set(err, OMLOP_EINVAL, "image reference '%s' has no name", ref);
    first_slash = memchr(ref, '/', name_len);
    if (first_slash) {
        reg_len = (size_t)(first_slash - ref);
        has_registry = memchr(ref, '.', reg_len) || memchr(ref, ':', reg_len) ||
                       (reg_len == 9 && strncmp(ref, "localhost", 9) == 0);
    }
    if (has_registry && !is_registry(ref, reg_len))
        return omlop_err_set(err, OMLOP_EINVAL, "image reference '%s': bad registry host '%.*s'",
                             ref, (int)reg_len, ref);
    path = has_registry ? first_slash + 1 : ref;
    rc = check_path(ref, path, name_len - (size_t)(path - ref), err);
    if (rc < 0)
        return rc;

    is_hub =
        !has_registry ||
        (reg_len == strlen(DOCKER_HUB) && strncasecmp(ref, DOCKER_HUB, reg_len) == 0) ||
        (reg_len == strlen(DOCKER_HUB_INDEX) && strncasecmp(ref, DOCKER_HUB_INDEX, reg_len) == 0);
    if (is_hub)
        strbuf_adds(out, DOCKER_HUB);
    else
        for (size_t i = 0; i < reg_len; i++)
            strbuf_addch(out, (char)tolower((unsigned char)ref[i]));
    strbuf_addch(out, '/');
    /* Docker Hub's official images live under library/ */
    if (is_hub && !memchr(path, '/', name_len - (size_t)(path - ref)))
        strbuf_adds(out, "library/");
    strbuf_add(out, path, name_len - (size_t)(path - ref));
    if (tag)
        strbuf_add(out, tag - 1, (size_t)(name_end - tag + 1));
    else if (!at)
        strbuf_adds(out, ":latest");
    if (at)
        strbuf_adds(out, at);
    return 0;
}

int imageref_equal(const char *a, const char *b)
{
    strbuf na = STRBUF_INIT, nb = STRBUF_INIT;
    int is_same;

    if (!a || !b)
        return a == b;
    if (strcmp(a, b) == 0)
        return 1;
    if (imageref_normalize(a, &na, NULL) < 0 || imageref_normalize(b, &nb, NULL) < 0)
        is_same = 0; /* one does not parse, and they differ as written */
    else
        is_same = strcmp(strbuf_str(&na), strbuf_str(&nb)) == 0;
    strbuf_release(&na);
    strbuf_release(&nb);
    return is_same;
}
