/*
 * git_fetch: one fetch in a fresh process of the caller's own executable (see git_fetch.h).
 *
 * The request, caller to fetch process, on the socket that is the process's fd 3: "OGF1", the
 * timeout in ms (4 bytes, host order: both ends are the same binary), then the fields below in
 * that order, each a 4-byte length (GITFETCH_ABSENT for NULL) and its bytes. The answer: one
 * fetch_report. Secrets cross only this socket, and both ends wipe their copies.
 */
#include "clients/git_fetch.h"

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
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#define GITFETCH_MAGIC  "OGF1"
#define GITFETCH_ABSENT UINT32_MAX
/* A request holds a few keys and a CA bundle: far below this. */
#define GITFETCH_MAX_REQUEST (8u << 20)

/* The request's fields, in order. */
enum { F_DIR, F_URL, F_SAFE_URL, F_IDENTITY, F_KNOWN, F_USER, F_TOKEN, F_CA, F_COUNT };

/* What the fetch process answers. */
typedef struct fetch_report {
    int32_t rc;
    char msg[OMLOP_ERR_MSG_MAX];
} fetch_report;

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

/* The fetch itself, in the fetch process: repo is the copy, and timeout_ms > 0. */
static int fetch_here(git_repository *repo, const char *url, const char *safe_url,
                      const gitclient_creds *c, int timeout_ms, omlop_err *err)
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
    f.deadline_ms = clock_now_ms() + timeout_ms;
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
    ropts.repository = repo;
    ropts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    if (git_remote_create_with_opts(&remote, url, &ropts) < 0) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "fetch %s: %s", safe_url, git_msg());
        goto out;
    }
    if (git_remote_fetch(remote, &refspecs, &opts, NULL) < 0) {
        if (f.is_timed_out)
            rc = omlop_err_set(err, OMLOP_ETIMEOUT, "fetch %s: no answer within %d ms", safe_url,
                               timeout_ms);
        else if (f.is_hostkey_refused)
            rc = omlop_err_set(err, OMLOP_EAUTH, "fetch %s: %s", safe_url, f.why);
        else if (f.why[0] && git_error_last() && git_error_last()->message)
            rc = omlop_err_set(err, OMLOP_EAUTH, "fetch %s: %s (%s)", safe_url, f.why,
                               git_error_last()->message);
        else if (f.why[0])
            rc = omlop_err_set(err, OMLOP_EAUTH, "fetch %s: %s", safe_url, f.why);
        else
            rc = omlop_err_set(err, OMLOP_EIO, "fetch %s: %s", safe_url, git_msg());
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

/* --- the request ------------------------------------------------------------------------- */

static void put_u32(strbuf *sb, uint32_t v)
{
    strbuf_add(sb, &v, sizeof(v));
}

static void put_field(strbuf *sb, const char *s)
{
    if (!s) {
        put_u32(sb, GITFETCH_ABSENT);
        return;
    }
    put_u32(sb, (uint32_t)strlen(s));
    strbuf_adds(sb, s);
}

/* The request for one fetch; the caller wipes it. */
static void request_build(strbuf *sb, const char *const fields[F_COUNT], int timeout_ms)
{
    size_t need = 8;

    for (int i = 0; i < F_COUNT; i++)
        need += 4 + (fields[i] ? strlen(fields[i]) : 0);
    strbuf_grow(sb, need); /* one allocation: no stale copy of a secret left by a realloc */
    strbuf_adds(sb, GITFETCH_MAGIC);
    put_u32(sb, (uint32_t)timeout_ms);
    for (int i = 0; i < F_COUNT; i++)
        put_field(sb, fields[i]);
}

static int take_u32(const char **p, const char *end, uint32_t *v)
{
    if ((size_t)(end - *p) < sizeof(*v))
        return -1;
    memcpy(v, *p, sizeof(*v));
    *p += sizeof(*v);
    return 0;
}

/* Zero a secret before its memory is given back (the compiler may not drop this). */
static void wipe(void *p, size_t n)
{
    if (p)
        explicit_bzero(p, n);
}

static void fields_free(char *fields[F_COUNT])
{
    for (int i = 0; i < F_COUNT; i++) {
        wipe(fields[i], fields[i] ? strlen(fields[i]) : 0);
        free(fields[i]);
        fields[i] = NULL;
    }
}

/* The fields of the request in buf (copies, NULL when absent); -1 when it is not well formed. */
static int request_parse(const char *buf, size_t len, char *fields[F_COUNT], int *timeout_ms)
{
    const char *p = buf + 4, *end = buf + len;
    uint32_t v;

    for (int i = 0; i < F_COUNT; i++)
        fields[i] = NULL;
    if (len < 8 || memcmp(buf, GITFETCH_MAGIC, 4) != 0 || take_u32(&p, end, &v) < 0 || v == 0 ||
        v > INT32_MAX)
        return -1;
    *timeout_ms = (int)v;
    for (int i = 0; i < F_COUNT; i++) {
        if (take_u32(&p, end, &v) < 0 || (v != GITFETCH_ABSENT && v > (size_t)(end - p)))
            goto bad;
        if (v == GITFETCH_ABSENT)
            continue;
        fields[i] = xstrndup(p, v);
        p += v;
    }
    if (p == end && fields[F_DIR] && fields[F_URL] && fields[F_SAFE_URL])
        return 0;
bad:
    fields_free(fields);
    return -1;
}

/* --- the fetch process ------------------------------------------------------------------- */

/* Send all of buf on a blocking socket; -1 when the other end is gone. */
static int send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * The fetch process: read the request on fd 3, fetch, answer. ppid_arg is the caller's pid:
 * if it is already gone, the death signal asked for below would never come.
 */
static int child_main(const char *ppid_arg)
{
    strbuf req = STRBUF_INIT;
    char *fields[F_COUNT] = {0};
    gitclient_creds c;
    git_repository *repo = NULL;
    fetch_report rep;
    omlop_err e = OMLOP_ERR_INIT;
    struct stat st;
    int timeout_ms = 0, rc = 0;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != (pid_t)strtol(ppid_arg, NULL, 10))
        return 1;
    if (fstat(3, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        fprintf(stderr, "%s: only omlopd's Git client starts this mode\n", GITFETCH_CHILD_ARG);
        return 2;
    }
    memset(&rep, 0, sizeof(rep));
    if (strbuf_read_fd(&req, 3, GITFETCH_MAX_REQUEST, &e) < 0 ||
        request_parse(req.buf, req.len, fields, &timeout_ms) < 0) {
        rep.rc = OMLOP_EPROTO;
        snprintf(rep.msg, sizeof(rep.msg), "fetch: the fetch process got a malformed request");
        goto answer;
    }
    /* the caller kills at the deadline; this bounds the process even if that never comes */
    alarm((unsigned)((timeout_ms + GITCLIENT_KILL_GRACE_MS) / 1000 + 2));
    memset(&c, 0, sizeof(c));
    c.ssh_identity = fields[F_IDENTITY];
    c.known_host_keys = fields[F_KNOWN];
    c.username = fields[F_USER];
    c.token = fields[F_TOKEN];
    c.ca_bundle = fields[F_CA];
    git_libgit2_init();
    if (git_repository_open_bare(&repo, fields[F_DIR]) < 0)
        rc = omlop_err_set(&e, OMLOP_EIO, "fetch %s: cannot open the copy in %s: %s",
                           fields[F_SAFE_URL], fields[F_DIR], git_msg());
    else
        rc = fetch_here(repo, fields[F_URL], fields[F_SAFE_URL], &c, timeout_ms, &e);
    rep.rc = rc;
    snprintf(rep.msg, sizeof(rep.msg), "%s", rc < 0 ? e.msg : "");
    git_repository_free(repo);
answer:
    wipe(req.buf, req.len);
    strbuf_release(&req);
    fields_free(fields);
    return send_all(3, &rep, sizeof(rep)) < 0 ? 1 : 0;
}

/*
 * Run before main in every program that links this file: started as the fetch process (the
 * argument below, which omlopd and omlctl never take), fetch and exit without ever reaching
 * main; otherwise do nothing. glibc hands argc and argv to such functions. A constructor
 * rather than a dispatch in each main so that no program linking clients/ can forget it.
 */
__attribute__((constructor)) static void gitfetch_child_entry(int argc, char **argv)
{
    if (argc == 3 && argv && argv[1] && strcmp(argv[1], GITFETCH_CHILD_ARG) == 0)
        _exit(child_main(argv[2]));
}

/* --- the caller -------------------------------------------------------------------------- */

/*
 * The environment the fetch process gets: HOME is the copy itself, so that neither the account's
 * ~/.gitconfig nor its ~/.ssh/known_hosts changes a fetch (libssh2 needs a HOME to look in, and
 * finds nothing there; the certificate callback alone decides), whatever the account and even
 * under a systemd unit that sets no HOME; then only what OpenSSL and the sanitizers read.
 */
static char **child_env(const char *dir)
{
    static const char *const keep[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
                                       "SSL_CERT_FILE", "SSL_CERT_DIR"};
    size_t n_keep = sizeof(keep) / sizeof(keep[0]), n = 0;
    char **env = xcalloc(n_keep + 2, sizeof(*env));
    strbuf kv = STRBUF_INIT;

    strbuf_addf(&kv, "HOME=%s", dir);
    env[n++] = xstrdup(kv.buf);
    for (size_t i = 0; i < n_keep; i++) {
        const char *v = getenv(keep[i]);

        if (!v)
            continue;
        strbuf_reset(&kv);
        strbuf_addf(&kv, "%s=%s", keep[i], v);
        env[n++] = xstrdup(kv.buf);
    }
    strbuf_release(&kv);
    return env;
}

static void env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

/* Start the fetch process for the copy dir with child_end as its fd 3 (stdin /dev/null). */
static int spawn_child(const char *dir, int child_end, pid_t *pid, omlop_err *err,
                       const char *safe_url)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    char ppid[24];
    char *argv[] = {"omlop-git-fetch", GITFETCH_CHILD_ARG, ppid, NULL};
    char **env = child_env(dir);
    int rc;

    snprintf(ppid, sizeof(ppid), "%ld", (long)getpid());
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    /* glibc clears close-on-exec when the descriptor already is 3 */
    posix_spawn_file_actions_adddup2(&fa, child_end, 3);
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);
    /* a thread of omlopd may block signals or ignore SIGPIPE: the fetch process starts clean */
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(pid, "/proc/self/exe", &fa, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    env_free(env);
    if (rc != 0)
        return omlop_err_set(err, OMLOP_EIO, "fetch %s: cannot start the fetch process: %s",
                             safe_url, strerror(rc));
    return 0;
}

/* Wait until fd is ready for events or the deadline passes: 1 ready, 0 deadline, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {fd, events, 0};
        int64_t left = deadline - clock_now_ms();
        int n;

        if (left <= 0)
            return 0;
        n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -1 : n > 0;
    }
}

/* Send the request on the non-blocking fd by the deadline: 0 sent, 1 deadline, -1 gone. */
static int send_request(int fd, const strbuf *req, int64_t deadline)
{
    size_t off = 0;

    while (off < req->len) {
        ssize_t n;
        int w = wait_fd(fd, POLLOUT, deadline);

        if (w <= 0)
            return w == 0 ? 1 : -1;
        n = send(fd, req->buf + off, req->len - off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

/* Read the report from the non-blocking fd by the deadline: its bytes read, -1 on deadline. */
static ssize_t read_report(int fd, fetch_report *rep, int64_t deadline)
{
    size_t got = 0;

    while (got < sizeof(*rep)) {
        ssize_t n;
        int w = wait_fd(fd, POLLIN, deadline);

        if (w == 0)
            return -1;
        if (w < 0)
            break;
        n = read(fd, (char *)rep + got, sizeof(*rep) - got);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int gitfetch_run(const char *dir, const char *url, const char *safe_url, const gitclient_creds *c,
                 int timeout_ms, omlop_err *err)
{
    int64_t deadline = clock_now_ms() + timeout_ms + GITCLIENT_KILL_GRACE_MS;
    const char *fields[F_COUNT] = {dir, url, safe_url};
    strbuf req = STRBUF_INIT;
    fetch_report rep;
    ssize_t got = 0;
    int sv[2], status = 0, is_late = 0, rc = 0, sent;
    pid_t pid;

    if (strncmp(url, "ssh://", 6) == 0 && (!c || !c->known_host_keys || !*c->known_host_keys))
        return omlop_err_set(err, OMLOP_EAUTH,
                             "fetch %s: an ssh:// source needs the server's host key (knownHostKey "
                             "in the Secret of secretRef); omlop never trusts a key on first use",
                             safe_url);
    if (c) {
        fields[F_IDENTITY] = c->ssh_identity;
        fields[F_KNOWN] = c->known_host_keys;
        fields[F_USER] = c->username;
        fields[F_TOKEN] = c->token;
        fields[F_CA] = c->ca_bundle;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return omlop_err_set(err, OMLOP_EIO, "fetch %s: socketpair: %s", safe_url, strerror(errno));
    if ((rc = spawn_child(dir, sv[1], &pid, err, safe_url)) < 0) {
        close(sv[0]);
        close(sv[1]);
        return rc;
    }
    close(sv[1]);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    request_build(&req, fields, timeout_ms);
    sent = send_request(sv[0], &req, deadline);
    wipe(req.buf, req.len);
    strbuf_release(&req);
    memset(&rep, 0, sizeof(rep));
    if (sent == 1) {
        is_late = 1;
    } else if (sent == 0) {
        shutdown(sv[0], SHUT_WR);
        got = read_report(sv[0], &rep, deadline);
        is_late = got < 0;
    }
    close(sv[0]);
    if (is_late)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (is_late) {
        /* killed mid-write: its lock files would fail every later fetch (this client is the
         * copy's only writer) */
        nftw(dir, unlock_cb, 16, FTW_PHYS);
        return omlop_err_set(err, OMLOP_ETIMEOUT, "fetch %s: no answer within %d ms", safe_url,
                             timeout_ms);
    }
    if (got < (ssize_t)sizeof(rep)) {
        if (WIFSIGNALED(status))
            return omlop_err_set(err, OMLOP_EIO,
                                 "fetch %s: the fetch process ended without an answer (signal %d)",
                                 safe_url, WTERMSIG(status));
        return omlop_err_set(err, OMLOP_EIO,
                             "fetch %s: the fetch process ended without an answer (exit status "
                             "%d)",
                             safe_url, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    rep.msg[sizeof(rep.msg) - 1] = '\0';
    if (rep.rc < OMLOP_EINTERNAL || rep.rc > 0)
        return omlop_err_set(err, OMLOP_EPROTO, "fetch %s: the fetch process answered code %d",
                             safe_url, (int)rep.rc);
    if (rep.rc < 0)
        return omlop_err_set(err, rep.rc, "%s", rep.msg);
    return 0;
}
