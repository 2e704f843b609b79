/*
 * git: a local copy of a remote Git repository, through libgit2 (never a `git` process).
 *
 * The copy is a bare repository in a directory the caller owns (omlopd: a folder of its data
 * dir per GitSource): made on the first open, fetched into on each call of gitclient_fetch
 * (every branch under refs/remotes/origin/, every tag under refs/tags/, forced, pruned), so a
 * fetch after the first one transfers only what is new. A branch, tag or commit resolves to a
 * commit id; the files of a folder of that commit are read straight from the object database
 * (no working tree).
 *
 * Transports: ssh://, https:// and file://. SSH host keys are verified strictly: the server's
 * key must be one of the keys given (known_host_keys), else the fetch fails before any
 * credential is sent; there is no trust on first use. HTTPS certificates are verified by the
 * system's trust store, or against the PEM bundle given (ca_bundle). Credentials are tried once
 * (a wrong key or token fails the fetch instead of looping) and never appear in messages.
 *
 * Bounds: a fetch stops at its deadline: libgit2 1.5 has no network timeout, so the fetch runs
 * in a process of its own - the caller's executable started afresh (clients/git_fetch.h), never
 * `git`, never a bare fork of a threaded caller - killed at the deadline; it stops earlier by
 * itself when a callback sees the deadline pass. Credentials reach it over a socket, never
 * argv or the environment. The tree read stops at GITCLIENT_MAX_FILES files and
 * GITCLIENT_MAX_FILE_BYTES per file.
 *
 * Threads: a gitclient is used by one thread at a time; different ones may be used at once.
 */
#ifndef OMLOP_GIT_H
#define OMLOP_GIT_H

#include <stddef.h>

#include "lib/err.h"

/* A commit id as 40 hexadecimal digits. */
#define GITCLIENT_OID_HEX 40
/* Manifest files read from one folder, and the size of one. */
#define GITCLIENT_MAX_FILES      10000
#define GITCLIENT_MAX_FILE_BYTES (4u << 20)
/* A fetch's default deadline, and how long past it the fetch process gets to report. */
#define GITCLIENT_DEFAULT_TIMEOUT_MS 60000
#define GITCLIENT_KILL_GRACE_MS      1000

typedef struct gitclient gitclient;

/* What a fetch may present (all borrowed; NULL when not given). Never logged. */
typedef struct gitclient_creds {
    const char *ssh_identity;    /* ssh://: the private key (OpenSSH or PEM text, unencrypted) */
    const char *known_host_keys; /* ssh://: "type base64 [comment]" lines; required for ssh:// */
    const char *username;        /* ssh:// when the URL names none (default git); https:// */
    const char *token;           /* https://: password or access token */
    const char *ca_bundle;       /* https://: PEM certificates trusted instead of the system's */
} gitclient_creds;

/*
 * Open the copy of url kept in dir, creating dir (and its parents, mode 0700) and an empty bare
 * repository there when absent. url must be ssh://, https:// or file://.
 */
int gitclient_open(const char *dir, const char *url, gitclient **out, omlop_err *err);

/* Free; NULL is fine. The copy stays on disk. */
void gitclient_free(gitclient *g);

/*
 * Fetch every branch and tag of the remote into the copy, within timeout_ms (0: the default).
 * OMLOP_EAUTH for a refused host key or credentials, OMLOP_ETIMEOUT past the deadline,
 * OMLOP_EIO otherwise; the message names the URL (without any user or password in it) and the
 * cause.
 */
int gitclient_fetch(gitclient *g, const gitclient_creds *c, int timeout_ms, omlop_err *err);

/*
 * The commit the copy holds for exactly one of branch, tag or commit (the others NULL; all
 * NULL means branch main): out gets its 40-digit id. OMLOP_ENOTFOUND names what is missing.
 */
int gitclient_resolve(gitclient *g, const char *branch, const char *tag, const char *commit,
                      char out[GITCLIENT_OID_HEX + 1], omlop_err *err);

/* One file read from a commit: its path from the repository's root and its bytes. */
typedef struct gitclient_file {
    char *path;
    char *data; /* NUL-terminated for convenience; len excludes the NUL */
    size_t len;
} gitclient_file;

typedef struct gitclient_files {
    gitclient_file *v;
    size_t n;
    size_t cap;
} gitclient_files;

#define GITCLIENT_FILES_INIT                                                                       \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/*
 * Append every *.yaml, *.yml and *.json file under folder path ("" or "." for the root) of
 * commit to out, recursively, in the tree's (bytewise) order; names starting with '.' are
 * skipped, and so are symbolic links and submodules. OMLOP_ENOTFOUND when path is not a folder
 * of that commit, OMLOP_ELIMIT past the bounds above.
 */
int gitclient_read_dir(gitclient *g, const char *commit, const char *path, gitclient_files *out,
                       omlop_err *err);

/* Free every file and reset the list. */
void gitclient_files_release(gitclient_files *f);

#endif
