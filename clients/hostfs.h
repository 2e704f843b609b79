/*
 * hostfs: files on a host and TCP readiness probes from it, over the host's
 * ssh_conn (clients/ssh.h).
 *
 * The reconciler writes env files (/etc/default/redis.env, mode 0600: they
 * hold passwords) and config files on the host, reads back their SHA-256 to
 * notice hand edits, and checks that a host-network service accepts TCP
 * connections. Each call is one command run on the host (ssh_conn_exec) made
 * of POSIX sh and coreutils only (sha256sum, mkdir, mktemp, cat, chmod, chown,
 * mv, rm, rmdir, tac), which every Debian host has; the probe is a direct-tcpip channel
 * (sshd's AllowTcpForwarding). File content travels on the command's stdin,
 * never on its command line (visible in the host's process list) nor in a log.
 *
 * Paths must be absolute and hold no newline (OMLOP_EINVAL naming the path).
 * A failing command is OMLOP_EIO naming the host, the path and what the
 * command wrote to stderr. Safe to call from any thread, like ssh_conn_exec.
 */
#ifndef OMLOP_HOSTFS_H
#define OMLOP_HOSTFS_H

#include <stddef.h>

#include "clients/ssh.h"
#include "lib/err.h"
#include "lib/strbuf.h"

#define HOSTFS_SHA256_HEX_LEN 64

/* SHA-256 (hex) of each path's content into hex[i]; "" when the file does not exist. One exec for
 * all paths. */
int hostfs_hashes(ssh_conn *c, const char *const *paths, size_t n,
                  char (*hex)[HOSTFS_SHA256_HEX_LEN + 1], omlop_err *err);

/* Replace path with data atomically (temp file in the same dir, chmod mode, rename), creating
 * missing parent dirs (0755). The content goes through stdin only, never on a command line or in a
 * log. */
int hostfs_write(ssh_conn *c, const char *path, const void *data, size_t len, unsigned mode,
                 omlop_err *err);

/* One file to write: path, content and mode. */
typedef struct hostfs_file {
    const char *path;
    const void *data;
    size_t len;
    unsigned mode;
} hostfs_file;

/*
 * Write n files as hostfs_write does, in one exec (the contents follow one
 * another on stdin; needs GNU head on the host for n > 1). Stops at the first
 * failure: the files before it are written, the failing one is left as it was.
 */
int hostfs_write_many(ssh_conn *c, const hostfs_file *files, size_t n, omlop_err *err);

/* Remove path; a missing file is not an error. */
int hostfs_remove(ssh_conn *c, const char *path, omlop_err *err);

/* A directory a bind mount needs: created with mode (and owner "UID:GID" or "USER:GROUP", NULL:
 * the SSH user) when missing; an existing one is left exactly as it is. */
typedef struct hostfs_dir {
    const char *path;
    unsigned mode;
    const char *owner;
} hostfs_dir;

/* present[i] = 1 when paths[i] is a directory on the host, 0 when not. One exec for all. */
int hostfs_dirs_present(ssh_conn *c, const char *const *paths, size_t n, int *present,
                        omlop_err *err);

/*
 * Create each missing directory of dirs and its missing parents (0755), in one
 * exec, and append every directory it created - never one that was there - to
 * the file record (its directory made as needed), so that hostfs_dirs_remove
 * can undo exactly that.
 */
int hostfs_dirs_make(ssh_conn *c, const hostfs_dir *dirs, size_t n, const char *record,
                     omlop_err *err);

/*
 * Remove the directories listed in record, deepest first, each only when it is
 * empty (what someone else put there keeps it), then record itself. A missing
 * record is nothing to do.
 */
int hostfs_dirs_remove(ssh_conn *c, const char *record, omlop_err *err);

/*
 * The host's public IPv4 address as url answers it when the host asks (curl,
 * else wget, 5 s at most; the answer is the address as plain text, as
 * https://ipinfo.io/ip gives it) into out. OMLOP_EUNAVAIL naming the host and
 * url when it cannot ask; OMLOP_EPROTO when the answer is not an IPv4 address.
 */
int hostfs_public_ip(ssh_conn *c, const char *url, strbuf *out, omlop_err *err);

/* 0 when the host can open a TCP connection to address:port (opened and closed at once);
 * OMLOP_EUNAVAIL naming address:port and the reason when refused. */
int hostfs_probe_tcp(ssh_conn *c, const char *address, int port, omlop_err *err);

/* --- pure helpers, public for the tests ------------------------------------------------ */

/* Append s to out quoted for POSIX sh: '...' with each ' written as '\''. */
void hostfs_quote(strbuf *out, const char *s);

/* The sh script of hostfs_dirs_make, appended to script (OMLOP_EINVAL naming a bad path or mode;
 * host names the host in messages). */
int hostfs_dirs_make_script(strbuf *script, const char *host, const hostfs_dir *dirs, size_t n,
                            const char *record, omlop_err *err);

/* The sh script of hostfs_dirs_remove, appended to script. */
int hostfs_dirs_remove_script(strbuf *script, const char *host, const char *record, omlop_err *err);

/*
 * Parse what `sha256sum -- PATH...` printed (GNU format, escaped names
 * included) into hex[i] for each paths[i]; a path it did not list gets "".
 * Lines that are not "HEX  NAME", or name a path not asked for: OMLOP_EPROTO.
 */
int hostfs_parse_sha256sum(const char *text, const char *const *paths, size_t n,
                           char (*hex)[HOSTFS_SHA256_HEX_LEN + 1], omlop_err *err);

#endif
