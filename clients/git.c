/* git: a bare local copy of a remote repository through libgit2 (see git.h). */
#include "clients/git.h"
#include "clients/git_fetch.h"

#include <errno.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/strbuf.h"
#include "lib/xalloc.h"

struct gitclient {
    git_repository *repo;
    char *url;
    char *safe_url; /* url without user or password: what messages name */
};

/* libgit2's last error message, or a generic one. */
static const char *git_msg(void)
{
    const git_error *e = git_error_last();

    return e && e->message ? e->message : "unknown libgit2 error";
}

/* url with any "user[:password]@" removed, so a token in the URL never reaches a message. */
static char *url_without_userinfo(const char *url)
{
    const char *scheme_end = strstr(url, "://"), *host, *at, *slash;
    strbuf sb = STRBUF_INIT;

    if (!scheme_end)
        return xstrdup(url);
    host = scheme_end + 3;
    slash = strchr(host, '/');
    at = memchr(host, '@', slash ? (size_t)(slash - host) : strlen(host));
    if (!at)
        return xstrdup(url);
    strbuf_add(&sb, url, (size_t)(host - url));
    strbuf_adds(&sb, at + 1);
    return strbuf_detach(&sb, NULL);
}

static int mkdir_p(const char *dir, omlop_err *err)
{
    strbuf p = STRBUF_INIT;
    int rc = 0;

    strbuf_adds(&p, dir);
    for (size_t i = 1; i <= p.len && rc == 0; i++) {
        if (i < p.len && p.buf[i] != '/')
            continue;
        p.buf[i] = '\0';
        if (mkdir(p.buf, 0700) < 0 && errno != EEXIST)
            rc = omlop_err_set(err, OMLOP_EIO, "cannot create %s: %s", p.buf, strerror(errno));
        if (i < p.len)
            p.buf[i] = '/';
    }
    strbuf_release(&p);
    return rc;
}

int gitclient_open(const char *dir, const char *url, gitclient **out, omlop_err *err)
{
    gitclient *g;
    int rc;

    *out = NULL;
    if (strncmp(url, "ssh://", 6) != 0 && strncmp(url, "https://", 8) != 0 &&
        strncmp(url, "file://", 7) != 0)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "url: only ssh://, https:// and file:// repositories are supported");
    if ((rc = mkdir_p(dir, err)) < 0)
        return rc;
    git_libgit2_init();
    g = xcalloc(1, sizeof(*g));
    g->url = xstrdup(url);
    g->safe_url = url_without_userinfo(url);
    if (git_repository_open_bare(&g->repo, dir) < 0 && git_repository_init(&g->repo, dir, 1) < 0) {
        rc = omlop_err_set(err, OMLOP_EIO, "cannot make a repository in %s: %s", dir, git_msg());
        gitclient_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void gitclient_free(gitclient *g)
{
    if (!g)
        return;
    git_repository_free(g->repo);
    free(g->url);
    free(g->safe_url);
    free(g);
    git_libgit2_shutdown();
}

/* The fetch runs in a process of its own: git_fetch.h says why and how. */
int gitclient_fetch(gitclient *g, const gitclient_creds *c, int timeout_ms, omlop_err *err)
{
    return gitfetch_run(git_repository_path(g->repo), g->url, g->safe_url, c,
                        timeout_ms > 0 ? timeout_ms : GITCLIENT_DEFAULT_TIMEOUT_MS, err);
}

int gitclient_resolve(gitclient *g, const char *branch, const char *tag, const char *commit,
                      char out[GITCLIENT_OID_HEX + 1], omlop_err *err)
{
    strbuf spec = STRBUF_INIT;
    git_object *obj = NULL;
    git_oid oid;
    int rc = 0;

    out[0] = '\0';
    if (!!branch + !!tag + !!commit > 1)
        return omlop_err_set(err, OMLOP_EINVAL, "give at most one of branch, tag and commit");
    if (commit) {
        if (strlen(commit) != GITCLIENT_OID_HEX || git_oid_fromstr(&oid, commit) < 0)
            return omlop_err_set(err, OMLOP_EINVAL, "commit %s: not a 40-digit commit id", commit);
        strbuf_addf(&spec, "%s^{commit}", commit);
    } else if (tag) {
        strbuf_addf(&spec, "refs/tags/%s^{commit}", tag);
    } else {
        strbuf_addf(&spec, "refs/remotes/origin/%s^{commit}", branch ? branch : "main");
    }
    if (git_revparse_single(&obj, g->repo, spec.buf) < 0) {
        rc = omlop_err_set(err, OMLOP_ENOTFOUND, "%s %s not found in %s",
                           commit ? "commit"
                           : tag  ? "tag"
                                  : "branch",
                           commit   ? commit
                           : tag    ? tag
                           : branch ? branch
                                    : "main",
                           g->safe_url);
        goto out;
    }
    git_oid_tostr(out, GITCLIENT_OID_HEX + 1, git_object_id(obj));
out:
    git_object_free(obj);
    strbuf_release(&spec);
    return rc;
}

static int has_manifest_suffix(const char *name)
{
    size_t n = strlen(name);

    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

typedef struct walk_ctx {
    git_repository *repo;
    const char *base; /* the folder walked, "" for the root */
    gitclient_files *out;
    omlop_err *err;
    int rc;
} walk_ctx;

static int walk_cb(const char *root, const git_tree_entry *e, void *payload)
{
    walk_ctx *w = payload;
    const char *name = git_tree_entry_name(e);
    git_blob *blob = NULL;
    gitclient_file *f;
    strbuf path = STRBUF_INIT;
    size_t size;

    if (name[0] == '.')
        return 1; /* skip it, and the subtree of a folder */
    if (git_tree_entry_type(e) != GIT_OBJECT_BLOB || !has_manifest_suffix(name) ||
        git_tree_entry_filemode(e) == GIT_FILEMODE_LINK)
        return 0;
    strbuf_addf(&path, "%s%s%s%s", w->base, *w->base ? "/" : "", root, name);
    if (w->out->n >= GITCLIENT_MAX_FILES) {
        w->rc =
            omlop_err_set(w->err, OMLOP_ELIMIT, "more than %d manifest files", GITCLIENT_MAX_FILES);
        goto stop;
    }
    if (git_blob_lookup(&blob, w->repo, git_tree_entry_id(e)) < 0) {
        w->rc = omlop_err_set(w->err, OMLOP_EIO, "%s: %s", path.buf, git_msg());
        goto stop;
    }
    size = (size_t)git_blob_rawsize(blob);
    if (size > GITCLIENT_MAX_FILE_BYTES) {
        w->rc = omlop_err_set(w->err, OMLOP_ELIMIT, "%s: %zu bytes, more than the %u allowed",
                              path.buf, size, GITCLIENT_MAX_FILE_BYTES);
        goto stop;
    }
    if (w->out->n == w->out->cap) {
        w->out->cap = w->out->cap ? w->out->cap * 2 : 16;
        w->out->v = xrealloc(w->out->v, w->out->cap * sizeof(*w->out->v));
    }
    f = &w->out->v[w->out->n++];
    f->path = strbuf_detach(&path, NULL);
    f->len = size;
    f->data = xmalloc(size + 1);
    memcpy(f->data, git_blob_rawcontent(blob), size);
    f->data[size] = '\0';
    git_blob_free(blob);
    return 0;
stop:
    git_blob_free(blob);
    strbuf_release(&path);
    return -1;
}

int gitclient_read_dir(gitclient *g, const char *commit, const char *path, gitclient_files *out,
                       omlop_err *err)
{
    git_oid oid;
    git_commit *c = NULL;
    git_tree *root = NULL, *sub = NULL;
    git_tree_entry *entry = NULL;
    walk_ctx w;
    strbuf base = STRBUF_INIT;
    int rc = 0;

    /* "./a/b/" and "a/b" name the same folder */
    while (path && path[0] == '.' && (path[1] == '/' || path[1] == '\0'))
        path += path[1] ? 2 : 1;
    while (path && *path == '/')
        path++;
    strbuf_adds(&base, path ? path : "");
    while (base.len && base.buf[base.len - 1] == '/')
        strbuf_setlen(&base, base.len - 1);
    if (git_oid_fromstr(&oid, commit) < 0 || git_commit_lookup(&c, g->repo, &oid) < 0 ||
        git_commit_tree(&root, c) < 0) {
        rc = omlop_err_set(err, OMLOP_ENOTFOUND, "commit %s not found in the copy of %s", commit,
                           g->safe_url);
        goto out;
    }
    if (base.len) {
        if (git_tree_entry_bypath(&entry, root, base.buf) < 0 ||
            git_tree_entry_type(entry) != GIT_OBJECT_TREE ||
            git_tree_lookup(&sub, g->repo, git_tree_entry_id(entry)) < 0) {
            rc = omlop_err_set(err, OMLOP_ENOTFOUND, "path %s: no such folder in commit %s",
                               base.buf, commit);
            goto out;
        }
    }
    memset(&w, 0, sizeof(w));
    w.repo = g->repo;
    w.base = base.buf;
    w.out = out;
    w.err = err;
    if (git_tree_walk(sub ? sub : root, GIT_TREEWALK_PRE, walk_cb, &w) < 0 && w.rc == 0)
        w.rc = omlop_err_set(err, OMLOP_EIO, "reading commit %s: %s", commit, git_msg());
    rc = w.rc;
out:
    git_tree_entry_free(entry);
    git_tree_free(sub);
    git_tree_free(root);
    git_commit_free(c);
    strbuf_release(&base);
    return rc;
}

void gitclient_files_release(gitclient_files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].path);
        free(f->v[i].data);
    }
    free(f->v);
    f->v = NULL;
    f->n = f->cap = 0;
}
