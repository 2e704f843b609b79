/*
 * git_fixture: real Git repositories for the tests of clients/git and the GitSource
 * reconciler, made with libgit2 in a temp dir (no `git` process): write files, commit them on
 * branch main, tag, and hand out the file:// URL. Header-only (static inline) because other .c
 * files under unit-tests/ would be linked into every test.
 */
#ifndef OMLOP_TEST_GIT_FIXTURE_H
#define OMLOP_TEST_GIT_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/strbuf.h"

typedef struct git_fixture {
    char dir[64];  /* the temp dir; the work repository is dir/repo */
    char url[128]; /* file://dir/repo */
    git_repository *repo;
} git_fixture;

static inline int gitfx_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline void gitfx_rm_rf(const char *dir)
{
    if (dir && *dir)
        nftw(dir, gitfx_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A temp dir with an empty repository whose HEAD is refs/heads/main. */
static inline int gitfx_start(git_fixture *fx)
{
    strbuf path = STRBUF_INIT;
    int rc;

    memset(fx, 0, sizeof(*fx));
    git_libgit2_init();
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/omlop-git-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    strbuf_addf(&path, "%s/repo", fx->dir);
    snprintf(fx->url, sizeof(fx->url), "file://%s/repo", fx->dir);
    rc = git_repository_init(&fx->repo, path.buf, 0);
    if (rc == 0)
        rc = git_repository_set_head(fx->repo, "refs/heads/main");
    strbuf_release(&path);
    return rc < 0 ? -1 : 0;
}

static inline void gitfx_stop(git_fixture *fx)
{
    git_repository_free(fx->repo);
    fx->repo = NULL;
    gitfx_rm_rf(fx->dir);
    fx->dir[0] = '\0';
    git_libgit2_shutdown();
}

/* Write rel (folders made as needed) in the work tree; text NULL removes it. */
static inline int gitfx_write(git_fixture *fx, const char *rel, const char *text)
{
    strbuf path = STRBUF_INIT;
    FILE *f;
    int rc = 0;

    strbuf_addf(&path, "%s/repo/%s", fx->dir, rel);
    if (!text) {
        rc = unlink(path.buf);
        goto out;
    }
    for (size_t i = strlen(fx->dir) + 1; i < path.len; i++) {
        if (path.buf[i] != '/')
            continue;
        path.buf[i] = '\0';
        if (mkdir(path.buf, 0700) < 0 && errno != EEXIST)
            rc = -1;
        path.buf[i] = '/';
    }
    f = fopen(path.buf, "w");
    if (!f || fputs(text, f) < 0)
        rc = -1;
    if (f && fclose(f) != 0)
        rc = -1;
out:
    strbuf_release(&path);
    return rc;
}

/* Commit the whole work tree (added, changed and removed files) on main; out gets its id. */
static inline int gitfx_commit(git_fixture *fx, const char *msg, char out[41])
{
    git_index *idx = NULL;
    git_oid tree_id, commit_id, parent_id;
    git_tree *tree = NULL;
    git_commit *parent = NULL;
    git_signature *sig = NULL;
    const git_commit *parents[1];
    int n_parents = 0, rc = -1;

    if (git_repository_index(&idx, fx->repo) < 0 ||
        git_index_add_all(idx, NULL, GIT_INDEX_ADD_DEFAULT, NULL, NULL) < 0 ||
        git_index_update_all(idx, NULL, NULL, NULL) < 0 || git_index_write(idx) < 0 ||
        git_index_write_tree(&tree_id, idx) < 0 || git_tree_lookup(&tree, fx->repo, &tree_id) < 0)
        goto out;
    if (git_reference_name_to_id(&parent_id, fx->repo, "HEAD") == 0) {
        if (git_commit_lookup(&parent, fx->repo, &parent_id) < 0)
            goto out;
        parents[n_parents++] = parent;
    }
    if (git_signature_new(&sig, "omlop test", "test@omlop.invalid", 1700000000, 0) < 0 ||
        git_commit_create(&commit_id, fx->repo, "HEAD", sig, sig, NULL, msg, tree, n_parents,
                          parents) < 0)
        goto out;
    git_oid_tostr(out, 41, &commit_id);
    rc = 0;
out:
    if (rc < 0)
        fprintf(stderr, "git fixture: %s\n",
                git_error_last() ? git_error_last()->message : "commit failed");
    git_signature_free(sig);
    git_commit_free(parent);
    git_tree_free(tree);
    git_index_free(idx);
    return rc;
}

/* A lightweight tag name on commit (forced: moves an existing tag). */
static inline int gitfx_tag(git_fixture *fx, const char *name, const char *commit)
{
    git_oid oid, tag_id;
    git_object *obj = NULL;
    int rc = -1;

    if (git_oid_fromstr(&oid, commit) == 0 &&
        git_object_lookup(&obj, fx->repo, &oid, GIT_OBJECT_COMMIT) == 0 &&
        git_tag_create_lightweight(&tag_id, fx->repo, name, obj, 1) == 0)
        rc = 0;
    git_object_free(obj);
    return rc;
}

#endif
