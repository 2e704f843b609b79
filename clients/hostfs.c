/*
 * hostfs: file operations and TCP probes on a host (see hostfs.h). Each file
 * operation is one short sh script run with ssh_conn_exec; paths are quoted
 * into it, content goes through stdin.
 */
#include "clients/hostfs.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* What the scripts print is small; these bound it anyway. */
#define HOSTFS_MAX_OUT (256 * 1024)
#define STDERR_SHOWN   400

/* --- pure helpers ----------------------------------------------------------------------- */

void hostfs_quote(strbuf *out, const char *s)
{
    strbuf_addch(out, '\'');
    for (; *s; s++) {
        /* nothing is special inside '...' but the quote itself: close, escape it, reopen */
        if (*s == '\'')
            strbuf_adds(out, "'\\''");
        else
            strbuf_addch(out, *s);
    }
    strbuf_addch(out, '\'');
}

static int is_lower_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

/* Undo sha256sum's escaping of a name (a line that starts with '\'): \\ \n \r. */
static int unescape_name(const char *s, size_t len, strbuf *out)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\') {
            strbuf_addch(out, s[i]);
            continue;
        }
        if (++i == len)
            return -1;
        if (s[i] == '\\')
            strbuf_addch(out, '\\');
        else if (s[i] == 'n')
            strbuf_addch(out, '\n');
        else if (s[i] == 'r')
            strbuf_addch(out, '\r');
        else
            return -1;
    }
    return 0;
}

/* One "[\]HEX  NAME" line (without its newline) into the entries whose path is NAME. */
static int parse_sum_line(const char *line, size_t len, size_t lineno, const char *const *paths,
                          size_t n, char (*hex)[HOSTFS_SHA256_HEX_LEN + 1], omlop_err *err)
{
    const char *p = line, *end = line + len;
    int is_escaped = 0, rc = 0;
    size_t matched = 0;
    strbuf name = STRBUF_INIT;

    if (p < end && *p == '\\') {
        is_escaped = 1;
        p++;
    }
    for (size_t i = 0; i < HOSTFS_SHA256_HEX_LEN; i++) {
        if (p + i >= end || !is_lower_hex(p[i]))
            goto bad;
    }
    p += HOSTFS_SHA256_HEX_LEN;
    /* "  NAME" in text mode, " *NAME" in binary mode */
    if (end - p < 3 || p[0] != ' ' || (p[1] != ' ' && p[1] != '*'))
        goto bad;
    p += 2;
    if (is_escaped ? unescape_name(p, (size_t)(end - p), &name) < 0
                   : (strbuf_add(&name, p, (size_t)(end - p)), 0))
        goto bad;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(paths[i], strbuf_str(&name)) == 0) {
            memcpy(hex[i], line + is_escaped, HOSTFS_SHA256_HEX_LEN);
            hex[i][HOSTFS_SHA256_HEX_LEN] = '\0';
            matched++;
        }
    }
    if (!matched)
        rc = omlop_err_set(err, OMLOP_EPROTO,
                           "sha256sum output line %zu names '%.200s', which was not asked for",
                           lineno, strbuf_str(&name));
    strbuf_release(&name);
    return rc;
bad:
    strbuf_release(&name);
    return omlop_err_set(err, OMLOP_EPROTO,
                         "sha256sum output line %zu is not 'SHA256  PATH': '%.*s'", lineno,
                         len > 120 ? 120 : (int)len, line);
}

int hostfs_parse_sha256sum(const char *text, const char *const *paths, size_t n,
                           char (*hex)[HOSTFS_SHA256_HEX_LEN + 1], omlop_err *err)
{
    size_t lineno = 0;

    for (size_t i = 0; i < n; i++)
        hex[i][0] = '\0';
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);
        int rc;

        lineno++;
        if (!nl)
            return omlop_err_set(err, OMLOP_EPROTO,
                                 "sha256sum output line %zu is cut short (no newline)", lineno);
        rc = parse_sum_line(text, len, lineno, paths, n, hex, err);
        if (rc < 0)
            return rc;
        text = nl + 1;
    }
    return 0;
}

/* --- checks and messages ---------------------------------------------------------------- */

static int check_path_on(const char *host, const char *path, omlop_err *err)
{
    if (!path || path[0] != '/')
        return omlop_err_set(err, OMLOP_EINVAL, "host %s: path '%s' must be absolute", host,
                             path ? path : "");
    if (strchr(path, '\n'))
        return omlop_err_set(err, OMLOP_EINVAL, "host %s: path '%s' holds a newline", host, path);
    return 0;
}

static int check_path(ssh_conn *c, const char *path, omlop_err *err)
{
    return check_path_on(ssh_conn_name(c), path, err);
}

/* A file to write must name a file: not "/" nor a path ending in '/'. */
static int check_file_path(ssh_conn *c, const char *path, omlop_err *err)
{
    int rc = check_path(c, path, err);

    if (rc < 0)
        return rc;
    if (path[strlen(path) - 1] == '/')
        return omlop_err_set(err, OMLOP_EINVAL, "host %s: path '%s' names a directory, not a file",
                             ssh_conn_name(c), path);
    return 0;
}

/* stderr as one short line: trailing space trimmed, newlines joined with "; ". */
static void add_stderr(strbuf *msg, const strbuf *err_out)
{
    const char *s = strbuf_str(err_out);
    size_t len = err_out->len;

    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        len--;
    if (!len) {
        strbuf_adds(msg, "(nothing on stderr)");
        return;
    }
    for (size_t i = 0; i < len && i < STDERR_SHOWN; i++) {
        if (s[i] == '\n')
            strbuf_adds(msg, "; ");
        else if (s[i] != '\r')
            strbuf_addch(msg, s[i]);
    }
    if (len > STDERR_SHOWN)
        strbuf_adds(msg, "...");
}

/* Run script; a non-zero exit becomes OMLOP_EIO "host H: cannot WHAT: STDERR". */
static int run(ssh_conn *c, const strbuf *script, const void *in, size_t in_len,
               ssh_exec_result *res, const char *what, omlop_err *err)
{
    strbuf msg = STRBUF_INIT;
    int rc = ssh_conn_exec(c, strbuf_str(script), in, in_len, HOSTFS_MAX_OUT, 0, res, err);

    if (rc < 0) {
        /* ssh's message names the host already (lib/err.h): add only what was being done */
        if (err)
            omlop_err_prefix(err, "cannot %s: ", what);
        return rc;
    }
    if (res->exit_status == 0)
        return 0;
    add_stderr(&msg, &res->err_out);
    if (res->exit_status < 0)
        rc = omlop_err_set(err, OMLOP_EIO, "host %s: cannot %s: killed by a signal: %s",
                           ssh_conn_name(c), what, strbuf_str(&msg));
    else
        rc = omlop_err_set(err, OMLOP_EIO, "host %s: cannot %s (exit status %d): %s",
                           ssh_conn_name(c), what, res->exit_status, strbuf_str(&msg));
    strbuf_release(&msg);
    return rc;
}

/* --- operations ------------------------------------------------------------------------- */

int hostfs_hashes(ssh_conn *c, const char *const *paths, size_t n,
                  char (*hex)[HOSTFS_SHA256_HEX_LEN + 1], omlop_err *err)
{
    strbuf script = STRBUF_INIT, what = STRBUF_INIT;
    ssh_exec_result res = {0};
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        hex[i][0] = '\0';
        rc = check_path(c, paths[i], err);
        if (rc < 0)
            return rc;
    }
    if (n == 0)
        return 0;
    /*
     * Hash what exists in one sha256sum. A path that does not show is missing only when
     * the nearest ancestor that does is a searchable directory; otherwise (a permission
     * problem, a file where a directory should be) it is an error, not a missing file.
     */
    strbuf_adds(&script, "LC_ALL=C; export LC_ALL; set --; for p in");
    for (size_t i = 0; i < n; i++) {
        strbuf_addch(&script, ' ');
        hostfs_quote(&script, paths[i]);
    }
    strbuf_adds(&script,
                "; do if [ -e \"$p\" ]; then set -- \"$@\" \"$p\"; continue; fi; a=$p; "
                "while [ -n \"$a\" ] && ! [ -e \"$a\" ]; do a=${a%/*}; done; [ -n \"$a\" ] || a=/; "
                "if ! [ -d \"$a\" ] || ! [ -x \"$a\" ]; then printf '%s: cannot tell whether it "
                "exists: %s is not a directory this user can search\\n' \"$p\" \"$a\" >&2; "
                "exit 2; fi; done; [ $# -eq 0 ] || exec sha256sum -- \"$@\"");
    if (n == 1)
        strbuf_addf(&what, "hash %s", paths[0]);
    else
        strbuf_addf(&what, "hash %s and %zu more files", paths[0], n - 1);
    rc = run(c, &script, NULL, 0, &res, strbuf_str(&what), err);
    if (rc < 0)
        goto out;
    if (res.is_truncated) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "host %s: sha256sum printed more than %d bytes",
                           ssh_conn_name(c), HOSTFS_MAX_OUT);
        goto out;
    }
    rc = hostfs_parse_sha256sum(strbuf_str(&res.out), paths, n, hex, err);
    if (rc < 0 && err)
        omlop_err_prefix(err, "host %s: ", ssh_conn_name(c));
out:
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            hex[i][0] = '\0';
    }
    ssh_exec_result_release(&res);
    strbuf_release(&script);
    strbuf_release(&what);
    return rc;
}

/*
 * Append the shell steps that replace path with what reader (a command reading
 * stdin: "cat", "head -c N") writes, atomically. umask 022 makes missing
 * parents 0755; mktemp creates the file 0600, so the content is never readable
 * by others, even before the chmod; mv -T refuses to move the file into a
 * directory of that name. The temp file goes if anything fails, and the script
 * exits 1 there.
 */
static int write_step(ssh_conn *c, strbuf *script, const char *path, unsigned mode,
                      const char *reader, omlop_err *err)
{
    strbuf dir = STRBUF_INIT, tmpl = STRBUF_INIT;
    const char *slash;
    int rc = check_file_path(c, path, err);

    if (rc < 0)
        return rc;
    if (mode > 07777)
        return omlop_err_set(err, OMLOP_EINVAL, "host %s: mode %o for %s is not a file mode",
                             ssh_conn_name(c), mode, path);
    slash = strrchr(path, '/');
    if (slash == path)
        strbuf_addch(&dir, '/');
    else
        strbuf_add(&dir, path, (size_t)(slash - path));
    /* a hidden temp file next to the target, so the rename is atomic (same filesystem);
     * the name is cut so it stays under NAME_MAX */
    strbuf_addf(&tmpl, "%s/.%.64s.omlop-XXXXXX", slash == path ? "" : strbuf_str(&dir), slash + 1);
    strbuf_adds(script, "umask 022 && mkdir -p -- ");
    hostfs_quote(script, strbuf_str(&dir));
    strbuf_adds(script, " && t=$(mktemp -- ");
    hostfs_quote(script, strbuf_str(&tmpl));
    strbuf_addf(script, ") || exit 1; if %s >\"$t\" && chmod %04o \"$t\" && mv -f -T -- \"$t\" ",
                reader, mode);
    hostfs_quote(script, path);
    strbuf_adds(script, "; then :; else rm -f -- \"$t\"; exit 1; fi; ");
    strbuf_release(&dir);
    strbuf_release(&tmpl);
    return 0;
}

int hostfs_write(ssh_conn *c, const char *path, const void *data, size_t len, unsigned mode,
                 omlop_err *err)
{
    hostfs_file f = {path, data, len, mode};

    return hostfs_write_many(c, &f, 1, err);
}

int hostfs_write_many(ssh_conn *c, const hostfs_file *files, size_t n, omlop_err *err)
{
    strbuf script = STRBUF_INIT, what = STRBUF_INIT, in = STRBUF_INIT, reader = STRBUF_INIT;
    ssh_exec_result res = {0};
    int rc = 0;

    if (n == 0)
        return 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        strbuf_reset(&reader);
        /* one file: cat takes it all; several: GNU head -c reads exactly its count off the
         * shared stdin (it never reads past what it writes), so each gets its own bytes */
        if (n == 1)
            strbuf_adds(&reader, "cat");
        else
            strbuf_addf(&reader, "head -c %zu", files[i].len);
        rc = write_step(c, &script, files[i].path, files[i].mode, strbuf_str(&reader), err);
        strbuf_add(&in, files[i].data ? files[i].data : "", files[i].len);
        strbuf_addf(&what, "%s%s", i ? ", " : "write ", files[i].path);
    }
    if (rc == 0) {
        strbuf_adds(&script, "exit 0");
        rc = run(c, &script, in.buf, in.len, &res, strbuf_str(&what), err);
    }
    if (in.buf)
        OPENSSL_cleanse(in.buf, in.len); /* env files hold passwords */
    ssh_exec_result_release(&res);
    strbuf_release(&script);
    strbuf_release(&what);
    strbuf_release(&in);
    strbuf_release(&reader);
    return rc;
}

int hostfs_remove(ssh_conn *c, const char *path, omlop_err *err)
{
    strbuf script = STRBUF_INIT, what = STRBUF_INIT;
    ssh_exec_result res = {0};
    int rc = check_file_path(c, path, err);

    if (rc < 0)
        return rc;
    strbuf_adds(&script, "rm -f -- ");
    hostfs_quote(&script, path);
    strbuf_addf(&what, "remove %s", path);
    rc = run(c, &script, NULL, 0, &res, strbuf_str(&what), err);
    ssh_exec_result_release(&res);
    strbuf_release(&script);
    strbuf_release(&what);
    return rc;
}

/* --- directories ------------------------------------------------------------------------ */

/*
 * A directory path as the record keeps it: absolute, below "/", no empty, "."
 * or ".." component, no trailing '/' - so one directory has one spelling and
 * removal can trust the record.
 */
static int check_dir_path(const char *host, const char *path, omlop_err *err)
{
    int rc = check_path_on(host, path, err);

    if (rc < 0)
        return rc;
    for (const char *p = path; *p;) {
        const char *next = strchr(p + 1, '/');
        size_t len = next ? (size_t)(next - p - 1) : strlen(p + 1);

        if (len == 0 || (len == 1 && p[1] == '.') || (len == 2 && p[1] == '.' && p[2] == '.'))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "host %s: directory '%s' has an empty, '.' or '..' component",
                                 host, path);
        p = next ? next : p + 1 + len;
    }
    return 0;
}

/* An owner for chown: USER, USER:GROUP or UID:GID of [A-Za-z0-9_.-], not starting with '-'. */
static int check_owner(const char *host, const char *path, const char *owner, omlop_err *err)
{
    if (!*owner || owner[0] == '-' || owner[0] == ':')
        goto bad;
    for (const char *p = owner; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("_.-:", *p)))
            goto bad;
    return 0;
bad:
    return omlop_err_set(err, OMLOP_EINVAL,
                         "host %s: owner '%s' of %s is not USER[:GROUP] or UID[:GID]", host, owner,
                         path);
}

int hostfs_dirs_make_script(strbuf *script, const char *host, const hostfs_dir *dirs, size_t n,
                            const char *record, omlop_err *err)
{
    const char *slash;
    int rc = check_dir_path(host, record, err);

    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if ((rc = check_dir_path(host, dirs[i].path, err)) < 0)
            return rc;
        if (dirs[i].mode > 07777)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "host %s: mode %o for %s is not a directory mode", host,
                                 dirs[i].mode, dirs[i].path);
        if (dirs[i].owner && (rc = check_owner(host, dirs[i].path, dirs[i].owner, err)) < 0)
            return rc;
    }
    /* mk DIR MODE [OWNER]: nothing when DIR is there; else create it with exactly MODE (mkdir -m
     * ignores the umask), note it in the record before anything can fail after it, then chown */
    strbuf_adds(script, "umask 022; r=");
    hostfs_quote(script, record);
    slash = strrchr(record, '/');
    strbuf_adds(script, "; mkdir -p -- ");
    {
        strbuf dir = STRBUF_INIT;

        strbuf_add(&dir, record, (size_t)(slash - record));
        hostfs_quote(script, dir.len ? strbuf_str(&dir) : "/");
        strbuf_release(&dir);
    }
    strbuf_adds(script, " || exit 1; mk() { [ -d \"$1\" ] && return 0; "
                        "mkdir -m \"$2\" -- \"$1\" || return 1; "
                        "printf '%s\\n' \"$1\" >>\"$r\" || return 1; "
                        "[ -z \"$3\" ] || chown -- \"$3\" \"$1\"; }; ");
    for (size_t i = 0; i < n; i++) {
        const char *path = dirs[i].path;

        /* parents first, each its own step, so the record holds every directory made */
        for (const char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
            strbuf parent = STRBUF_INIT;

            strbuf_add(&parent, path, (size_t)(p - path));
            strbuf_adds(script, "mk ");
            hostfs_quote(script, strbuf_str(&parent));
            strbuf_adds(script, " 0755 || exit 1; ");
            strbuf_release(&parent);
        }
        strbuf_adds(script, "mk ");
        hostfs_quote(script, path);
        strbuf_addf(script, " %04o", dirs[i].mode);
        if (dirs[i].owner) {
            strbuf_addch(script, ' ');
            hostfs_quote(script, dirs[i].owner);
        }
        strbuf_adds(script, " || exit 1; ");
    }
    strbuf_adds(script, "exit 0");
    return 0;
}

int hostfs_dirs_remove_script(strbuf *script, const char *host, const char *record, omlop_err *err)
{
    int rc = check_dir_path(host, record, err);

    if (rc < 0)
        return rc;
    /* deepest first (the record lists parents before children); rmdir keeps a non-empty one */
    strbuf_adds(script, "r=");
    hostfs_quote(script, record);
    strbuf_adds(script, "; [ -e \"$r\" ] || exit 0; tac -- \"$r\" | while IFS= read -r d; do "
                        "if [ -d \"$d\" ]; then rmdir -- \"$d\" 2>/dev/null || :; fi; done; "
                        "rm -f -- \"$r\"");
    return 0;
}

int hostfs_dirs_present(ssh_conn *c, const char *const *paths, size_t n, int *present,
                        omlop_err *err)
{
    strbuf script = STRBUF_INIT;
    ssh_exec_result res = {0};
    const char *p;
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        present[i] = 0;
        if ((rc = check_path(c, paths[i], err)) < 0)
            return rc;
    }
    if (n == 0)
        return 0;
    strbuf_adds(&script, "for p in");
    for (size_t i = 0; i < n; i++) {
        strbuf_addch(&script, ' ');
        hostfs_quote(&script, paths[i]);
    }
    strbuf_adds(&script, "; do if [ -d \"$p\" ]; then echo 1; else echo 0; fi; done");
    rc = run(c, &script, NULL, 0, &res, "look for the bind-mount directories", err);
    p = strbuf_str(&res.out);
    for (size_t i = 0; rc == 0 && i < n; i++, p += 2) {
        if ((p[0] != '0' && p[0] != '1') || p[1] != '\n') {
            rc = omlop_err_set(err, OMLOP_EPROTO,
                               "host %s: the directory check printed '%.40s', not one 0 or 1 per "
                               "path",
                               ssh_conn_name(c), strbuf_str(&res.out));
            break;
        }
        present[i] = p[0] == '1';
    }
    ssh_exec_result_release(&res);
    strbuf_release(&script);
    return rc;
}

int hostfs_dirs_make(ssh_conn *c, const hostfs_dir *dirs, size_t n, const char *record,
                     omlop_err *err)
{
    strbuf script = STRBUF_INIT, what = STRBUF_INIT;
    ssh_exec_result res = {0};
    int rc;

    if (n == 0)
        return 0;
    rc = hostfs_dirs_make_script(&script, ssh_conn_name(c), dirs, n, record, err);
    for (size_t i = 0; i < n; i++)
        strbuf_addf(&what, "%s%s", i ? ", " : "create the directory ", dirs[i].path);
    if (rc == 0)
        rc = run(c, &script, NULL, 0, &res, strbuf_str(&what), err);
    ssh_exec_result_release(&res);
    strbuf_release(&script);
    strbuf_release(&what);
    return rc;
}

int hostfs_dirs_remove(ssh_conn *c, const char *record, omlop_err *err)
{
    strbuf script = STRBUF_INIT, what = STRBUF_INIT;
    ssh_exec_result res = {0};
    int rc = hostfs_dirs_remove_script(&script, ssh_conn_name(c), record, err);

    strbuf_addf(&what, "remove the directories listed in %s", record ? record : "");
    if (rc == 0)
        rc = run(c, &script, NULL, 0, &res, strbuf_str(&what), err);
    ssh_exec_result_release(&res);
    strbuf_release(&script);
    strbuf_release(&what);
    return rc;
}

int hostfs_public_ip(ssh_conn *c, const char *url, strbuf *out, omlop_err *err)
{
    strbuf script = STRBUF_INIT, what = STRBUF_INIT, ip = STRBUF_INIT;
    ssh_exec_result res = {0};
    struct in_addr a;
    int rc;

    if (!url || !*url || strpbrk(url, "\n\r"))
        return omlop_err_set(err, OMLOP_EINVAL, "public IP URL '%s' is empty or has a newline",
                             url ? url : "");
    /* the host asks, not omlopd: its public address is what the world sees of the host */
    strbuf_adds(&script,
                "if command -v curl >/dev/null 2>&1; then exec curl -fsS --max-time 5 -- ");
    hostfs_quote(&script, url);
    strbuf_adds(&script, "; else exec wget -q -T 5 -O - -- ");
    hostfs_quote(&script, url);
    strbuf_adds(&script, "; fi");
    strbuf_addf(&what, "ask %s for its public IP", url);
    rc = run(c, &script, NULL, 0, &res, strbuf_str(&what), err);
    if (rc == OMLOP_EIO) {
        rc = OMLOP_EUNAVAIL; /* no answer is a fact of the network: retried */
        if (err)
            err->code = rc;
    }
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < res.out.len && i < 64; i++)
        if (res.out.buf[i] != ' ' && res.out.buf[i] != '\n' && res.out.buf[i] != '\r' &&
            res.out.buf[i] != '\t')
            strbuf_addch(&ip, res.out.buf[i]);
    if (inet_pton(AF_INET, strbuf_str(&ip), &a) != 1) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "host %s: %s answered '%.40s', not an IPv4 address",
                           ssh_conn_name(c), url, strbuf_str(&ip));
        goto out;
    }
    strbuf_adds(out, strbuf_str(&ip));
out:
    ssh_exec_result_release(&res);
    strbuf_release(&script);
    strbuf_release(&what);
    strbuf_release(&ip);
    return rc;
}

int hostfs_probe_tcp(ssh_conn *c, const char *address, int port, omlop_err *err)
{
    int fd = -1;
    int rc = ssh_conn_open_tcp(c, address, port, &fd, err);

    if (rc < 0)
        return rc;
    /* the channel opened only after sshd's connect() succeeded: that is the answer */
    close(fd);
    return 0;
}
