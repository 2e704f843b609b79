/* git: a bare local copy of a remote repository through libgit2 (see git.h). */
#include "clients/git.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <git2.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

struct gitclient {
    git_repository *repo;
    char *url;
    char *safe_url; /* url without user or password: what messages name */
};

/* What the transfer callbacks need; lives on gitclient_fetch's stack. */
typedef struct fetch_ctx {
    const gitclient_creds *creds;
    int64_t deadline_ms;
    int cred_attempts;
    int is_timed_out;
    int is_hostkey_refused;
    char why[256]; /* the callbacks' reason, for the message (never secret material) */
} fetch_ctx;

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

static int past_deadline(fetch_ctx *f)
{
    if (clock_now_ms() < f->deadline_ms)
        return 0;
    f->is_timed_out = 1;
    return 1;
}

/* Standard base64 into out; -1 when it is not base64. */
static int b64_decode(const char *in, size_t len, strbuf *out)
{
    unsigned char *buf;
    size_t pad = 0;
    int n;

    if (len == 0 || len % 4 != 0 || len > 65536)
        return -1;
    buf = xmalloc(len / 4 * 3 + 1);
    n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
    while (pad < 2 && in[len - 1 - pad] == '=')
        pad++;
    if (n >= 0 && (size_t)n >= pad)
        strbuf_add(out, buf, (size_t)n - pad);
    free(buf);
    return n < 0 || (size_t)n < pad ? -1 : 0;
}

/* Whether the raw SSH host key is one of the "type base64 [comment]" lines of known. */
static int hostkey_is_known(const char *known, const char *raw, size_t raw_len)
{
    const char *line = known;
    strbuf blob = STRBUF_INIT;
    int found = 0;

    while (line && *line && !found) {
        const char *end = strchr(line, '\n'), *sp, *b64, *b64_end;

        if (!end)
            end = line + strlen(line);
        sp = memchr(line, ' ', (size_t)(end - line));
        if (sp && line[0] != '#') {
            b64 = sp + 1;
            b64_end = memchr(b64, ' ', (size_t)(end - b64));
            if (!b64_end)
                b64_end = end;
            while (b64_end > b64 && (b64_end[-1] == '\r' || b64_end[-1] == '\t'))
                b64_end--;
            strbuf_reset(&blob);
            if (b64_decode(b64, (size_t)(b64_end - b64), &blob) == 0 && blob.len == raw_len &&
                memcmp(blob.buf, raw, raw_len) == 0)
                found = 1;
        }
        line = *end ? end + 1 : NULL;
    }
    strbuf_release(&blob);
    return found;
}

/* Verify an HTTPS server's leaf certificate (DER) against the PEM bundle and host. */
static int x509_verified_by(const char *bundle, const unsigned char *der, size_t der_len,
                            const char *host)
{
    BIO *bio = BIO_new_mem_buf(bundle, -1);
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *vctx = X509_STORE_CTX_new();
    const unsigned char *p = der;
    X509 *leaf = d2i_X509(NULL, &p, (long)der_len), *ca;
    int ok = 0, n_ca = 0;

    if (!bio || !st || !vctx || !leaf)
        goto out;
    while ((ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (X509_STORE_add_cert(st, ca) == 1)
            n_ca++;
        X509_free(ca);
    }
    if (n_ca == 0 || X509_STORE_CTX_init(vctx, st, leaf, NULL) != 1)
        goto out;
    /* libgit2 hands over the leaf alone: an intermediate must be in the bundle itself */
    X509_STORE_CTX_set_flags(vctx, X509_V_FLAG_PARTIAL_CHAIN);
    ok = X509_verify_cert(vctx) == 1 && X509_check_host(leaf, host, 0, 0, NULL) == 1;
out:
    X509_free(leaf);
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(st);
    BIO_free(bio);
    return ok;
}

static int cb_certificate(git_cert *cert, int valid, const char *host, void *payload)
{
    fetch_ctx *f = payload;

    if (past_deadline(f))
        return GIT_EUSER;
    if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
        const git_cert_hostkey *hk = (const git_cert_hostkey *)cert;
        const char *known = f->creds ? f->creds->known_host_keys : NULL;

        if (!(hk->type & GIT_CERT_SSH_RAW) || !known || !*known) {
            f->is_hostkey_refused = 1;
            snprintf(f->why, sizeof(f->why),
                     "host %s: no known host key to check its key against (put knownHostKey in "
                     "the Secret)",
                     host);
            return GIT_ECERTIFICATE;
        }
        if (!hostkey_is_known(known, hk->hostkey, hk->hostkey_len)) {
            f->is_hostkey_refused = 1;
            snprintf(f->why, sizeof(f->why),
                     "host %s presented a host key that is not the knownHostKey of the Secret",
                     host);
            return GIT_ECERTIFICATE;
        }
        return 0;
    }
    if (cert->cert_type == GIT_CERT_X509 && f->creds && f->creds->ca_bundle &&
        *f->creds->ca_bundle) {
        const git_cert_x509 *x = (const git_cert_x509 *)cert;

        if (x509_verified_by(f->creds->ca_bundle, x->data, x->len, host))
            return 0;
        f->is_hostkey_refused = 1;
        snprintf(f->why, sizeof(f->why),
                 "host %s: its certificate is not signed by the Secret's ca.crt or is not for "
                 "that name",
                 host);
        return GIT_ECERTIFICATE;
    }
    if (!valid) {
        f->is_hostkey_refused = 1;
        snprintf(f->why, sizeof(f->why), "host %s: certificate not trusted", host);
        return GIT_ECERTIFICATE;
    }
    return 0;
}

static int cb_credentials(git_credential **out, const char *url, const char *user_from_url,
                          unsigned int allowed, void *payload)
{
    fetch_ctx *f = payload;
    const gitclient_creds *c = f->creds;
    const char *user = user_from_url && *user_from_url    ? user_from_url
                       : c && c->username && *c->username ? c->username
                                                          : "git";

    (void)url;
    if (past_deadline(f))
        return GIT_EUSER;
    /* one try: libgit2 asks again after a refusal, and a wrong key stays wrong */
    if (f->cred_attempts++ > 0) {
        snprintf(f->why, sizeof(f->why), "the server refused the credentials of the Secret");
        return GIT_EAUTH;
    }
    if ((allowed & GIT_CREDENTIAL_SSH_MEMORY) && c && c->ssh_identity && *c->ssh_identity)
        return git_credential_ssh_key_memory_new(out, user, NULL, c->ssh_identity, NULL);
    if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && c && c->token && *c->token)
        return git_credential_userpass_plaintext_new(out, user, c->token);
    if (allowed & GIT_CREDENTIAL_USERNAME) {
        f->cred_attempts = 0; /* the user name alone is a first step, not a try */
        return git_credential_username_new(out, user);
    }
    snprintf(f->why, sizeof(f->why),
             "the server asks for credentials the Secret does not hold (identity for ssh://, "
             "username and token for https://)");
    return GIT_EAUTH;
}

static int cb_transfer(const git_indexer_progress *stats, void *payload)
{
    (void)stats;
    return past_deadline(payload) ? -1 : 0;
}

static int cb_sideband(const char *str, int len, void *payload)
{
    (void)str;
    (void)len;
    return past_deadline(payload) ? -1 : 0;
}

/* The fetch itself, in the calling process (see gitclient_fetch for why in a child). */
static int fetch_here(gitclient *g, const gitclient_creds *c, int timeout_ms, omlop_err *err)
{
    static char *specs[] = {"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"};
    git_strarray refspecs = {specs, 2};
    git_fetch_options opts;
    git_remote_create_options ropts;
    git_remote *remote = NULL;
    fetch_ctx f;
    int rc = 0;

    memset(&f, 0, sizeof(f));
    git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
    f.creds = c;
    f.deadline_ms = clock_now_ms() + (timeout_ms > 0 ? timeout_ms : GITCLIENT_DEFAULT_TIMEOUT_MS);
    if (strncmp(g->url, "ssh://", 6) == 0 && (!c || !c->known_host_keys || !*c->known_host_keys))
        return omlop_err_set(err, OMLOP_EAUTH,
                             "fetch %s: an ssh:// source needs the server's host key (knownHostKey "
                             "in the Secret of secretRef); omlop never trusts a key on first use",
                             g->safe_url);
    opts.callbacks.certificate_check = cb_certificate;
    opts.callbacks.credentials = cb_credentials;
    opts.callbacks.transfer_progress = cb_transfer;
    opts.callbacks.sideband_progress = cb_sideband;
    opts.callbacks.payload = &f;
    opts.prune = GIT_FETCH_PRUNE;
    opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE; /* the refspec brings every tag */
    /* insteadOf rewriting is skipped: the URL is the spec's, whatever a local git config says
     * (libgit2 1.5 also leaks a regex match per rewrite lookup) */
    git_remote_create_options_init(&ropts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    ropts.repository = g->repo;
    ropts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    if (git_remote_create_with_opts(&remote, g->url, &ropts) < 0) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "fetch %s: %s", g->safe_url, git_msg());
        goto out;
    }
    if (git_remote_fetch(remote, &refspecs, &opts, NULL) < 0) {
        if (f.is_timed_out)
            rc = omlop_err_set(err, OMLOP_ETIMEOUT, "fetch %s: no answer within %d ms", g->safe_url,
                               timeout_ms > 0 ? timeout_ms : GITCLIENT_DEFAULT_TIMEOUT_MS);
        else if (f.is_hostkey_refused)
            rc = omlop_err_set(err, OMLOP_EAUTH, "fetch %s: %s", g->safe_url, f.why);
        else if (f.why[0] && git_error_last() && git_error_last()->message)
            rc = omlop_err_set(err, OMLOP_EAUTH, "fetch %s: %s (%s)", g->safe_url, f.why,
                               git_error_last()->message);
        else if (f.why[0])
            rc = omlop_err_set(err, OMLOP_EAUTH, "fetch %s: %s", g->safe_url, f.why);
        else
            rc = omlop_err_set(err, OMLOP_EIO, "fetch %s: %s", g->safe_url, git_msg());
    }
out:
    git_remote_free(remote);
    return rc;
}

static int unlock_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    size_t n = strlen(p);

    (void)sb;
    (void)ftw;
    if (flag == FTW_F && n > 5 && strcmp(p + n - 5, ".lock") == 0)
        remove(p);
    return 0;
}

/* What the child reports through its pipe. */
typedef struct fetch_report {
    int rc;
    char msg[OMLOP_ERR_MSG_MAX];
} fetch_report;

/*
 * libgit2 1.5 has no network timeout: a server that accepts the connection and then says
 * nothing would block a read forever (and with it omlopd's GitSource thread and its shutdown).
 * So the fetch runs in a forked child - the same code, not a `git` process - that is killed
 * at the deadline; the copy's lock files it may leave behind are removed (this client is the
 * copy's only writer). The parent's repository handle sees the fetched refs and packs, which
 * libgit2 re-reads from disk.
 */
int gitclient_fetch(gitclient *g, const gitclient_creds *c, int timeout_ms, omlop_err *err)
{
    int ms = timeout_ms > 0 ? timeout_ms : GITCLIENT_DEFAULT_TIMEOUT_MS;
    int64_t deadline = clock_now_ms() + ms + GITCLIENT_KILL_GRACE_MS;
    fetch_report rep;
    size_t got = 0;
    int fds[2], status = 0, is_killed = 0;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return omlop_err_set(err, OMLOP_EIO, "fetch %s: pipe: %s", g->safe_url, strerror(errno));
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return omlop_err_set(err, OMLOP_EIO, "fetch %s: fork: %s", g->safe_url, strerror(errno));
    }
    if (pid == 0) {
        omlop_err e = OMLOP_ERR_INIT;
        ssize_t w;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(fds[0]);
        memset(&rep, 0, sizeof(rep));
        rep.rc = fetch_here(g, c, ms, &e);
        snprintf(rep.msg, sizeof(rep.msg), "%s", e.msg);
        w = write(fds[1], &rep, sizeof(rep));
        _exit(w == (ssize_t)sizeof(rep) ? 0 : 1);
    }
    close(fds[1]);
    memset(&rep, 0, sizeof(rep));
    while (got < sizeof(rep)) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int64_t left = deadline - clock_now_ms();
        ssize_t r;

        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            kill(pid, SIGKILL);
            is_killed = 1;
            break;
        }
        r = read(fds[0], (char *)&rep + got, sizeof(rep) - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (is_killed) {
        nftw(git_repository_path(g->repo), unlock_cb, 16, FTW_PHYS);
        return omlop_err_set(err, OMLOP_ETIMEOUT, "fetch %s: no answer within %d ms", g->safe_url,
                             ms);
    }
    if (got < sizeof(rep))
        return omlop_err_set(err, OMLOP_EIO, "fetch %s: the fetch process ended without a report",
                             g->safe_url);
    if (rep.rc < 0)
        return omlop_err_set(err, rep.rc, "%s", rep.msg);
    return 0;
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
