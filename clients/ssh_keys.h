/*
 * ssh_keys: key material for clients/ssh.
 *
 * Private keys come from a file or from text (PEM/OpenSSH, or the base64 of
 * it, as a Secret's data holds it). Expected host keys come from a host entry
 * ("ssh-ed25519 AAAA... comment", one per line; known_hosts lines with a host
 * pattern in front are accepted too). Fingerprints are OpenSSH's SHA256 form.
 * Everything here is pure (no network), so it is unit-tested directly.
 */
#ifndef OMLOP_SSH_KEYS_H
#define OMLOP_SSH_KEYS_H

#include <libssh/libssh.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/strbuf.h"

/* The keys a host may present, parsed from a host entry. */
typedef struct ssh_keys_hostset {
    ssh_key *keys;
    size_t n;
} ssh_keys_hostset;

#define SSH_KEYS_HOSTSET_INIT                                                                      \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/* Parse one key per non-empty, non-comment line of text into set (appending). */
int ssh_keys_hostset_parse(const char *text, ssh_keys_hostset *set, omlop_err *err);

/* Free the keys and empty the set. */
void ssh_keys_hostset_release(ssh_keys_hostset *set);

/* Whether key equals one of the set's keys. */
int ssh_keys_hostset_contains(const ssh_keys_hostset *set, const ssh_key key);

/* Append the host key algorithms that make a server present one of the set's keys. */
void ssh_keys_hostset_algorithms(const ssh_keys_hostset *set, strbuf *out);

/* Append the set's fingerprints, comma-separated. */
void ssh_keys_hostset_fingerprints(const ssh_keys_hostset *set, strbuf *out);

/* Write "SHA256:..." for key into buf (size >= 60 is enough); "?" if it cannot. */
void ssh_keys_fingerprint(const ssh_key key, char *buf, size_t size);

/* The key's type name ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"). */
const char *ssh_keys_type_name(const ssh_key key);

/*
 * Check a host key line and append "TYPE SHA256:..." to out. Errors say what is
 * wrong (no key type, bad base64, type and data disagree).
 */
int ssh_keys_hostkey_describe(const char *line, strbuf *out, omlop_err *err);

/*
 * The keys a known_hosts file records for host (port 22: "host"; others:
 * "[host]:port"; hashed "|1|salt|hash" names are matched too), appended to
 * set. Returns how many were found (0 when none or the file is unreadable).
 */
int ssh_keys_known_hosts_lookup(const char *file, const char *host, int port,
                                ssh_keys_hostset *set);

/* Load an unencrypted private key file; errors name the file. */
int ssh_keys_load_file(const char *path, ssh_key *out, omlop_err *err);

/* Load a private key from text: PEM/OpenSSH, or base64 of it. what names it in errors. */
int ssh_keys_load_text(const char *text, const char *what, ssh_key *out, omlop_err *err);

/* Decode base64 (white space ignored, padding optional) into out. */
int ssh_keys_base64_decode(const char *in, strbuf *out, omlop_err *err);

#endif
