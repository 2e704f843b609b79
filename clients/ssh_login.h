/*
 * ssh_login: open one authenticated libssh session - connect, verify the host
 * key, authenticate - without blocking, within a timeout: the session is
 * non-blocking from the start, every step that would wait returns to the
 * caller's poll loop (ssh_login_poll says what to wait for), so one host that
 * never answers holds no thread. (A host *name* is still resolved by
 * getaddrinfo, which blocks; addresses do not.)
 *
 * Host key policy (strict unless TOFU is asked for): the host entry's keys
 * decide when given; else a key trusted on first use earlier in this process;
 * else the known_hosts file; an unknown key is accepted only with is_tofu (and
 * then recorded in the file, if any, and handed back to the caller). Refusals
 * name both fingerprints and say what to do.
 *
 * Called by clients/ssh's pump threads; the one that starts a login drives it
 * and then the session alone.
 */
#ifndef OMLOP_SSH_LOGIN_H
#define OMLOP_SSH_LOGIN_H

#include <libssh/libssh.h>

#include "clients/ssh.h"
#include "clients/ssh_keys.h"
#include "lib/err.h"

/* What to connect to and how to trust it; everything borrowed. */
typedef struct ssh_login {
    const char *name;   /* host label for messages */
    const char *target; /* "user@address:port" for messages */
    const char *address;
    int port;
    const char *user;
    int timeout_ms;                     /* connect + handshake + auth */
    const ssh_keys_hostset *entry_keys; /* expected keys; may be empty */
    const char *known_hosts_file;       /* NULL: none */
    int is_tofu;
    int is_spec_advice; /* advise the Tenant spec / omlopd's settings, not omlctl's flags */
    ssh_key tofu_key;   /* key trusted on first use earlier, or NULL */
    ssh_key data_key;   /* identity from a secret, or NULL */
    ssh_key file_key;   /* identity from a file, or NULL */
    const char *file_key_path;
    int use_agent;
} ssh_login;

/* What happened, for status reports (filled as far as the login got). */
typedef struct ssh_login_result {
    char host_key_type[32];
    char host_key_fingerprint[80];
    ssh_hostkey_verdict verdict;
    char auth_method[64];
    ssh_key new_tofu_key; /* set when a key was trusted on first use now; caller frees */
} ssh_login_result;

/* A parsed "ssh://[USER@]HOST[:PORT]" (HOST may be "[v6addr]"); free with ssh_target_release. */
typedef struct ssh_target {
    char *user; /* NULL when not given */
    char *host;
    int port; /* 0 when not given */
} ssh_target;

/* Parse an ssh:// URL or a bare [USER@]HOST[:PORT]. */
int ssh_target_parse(const char *s, ssh_target *out, omlop_err *err);
void ssh_target_release(ssh_target *t);

typedef struct ssh_login_op ssh_login_op;

/* Start a login (nothing is sent yet); l and what it points to must outlive op. */
int ssh_login_start(const ssh_login *l, ssh_login_op **out, omlop_err *err);

/*
 * Move the login on as far as the network allows: 1 logged in (res filled),
 * 0 call again when ssh_login_poll's fd is ready or at its deadline, or an
 * error (the deadline passed, the host refused, the key did not verify...).
 * res is filled as far as the login got, also on errors.
 */
int ssh_login_step(ssh_login_op *op, ssh_login_result *res, omlop_err *err);

/* The fd to poll and for what, and the login's deadline (monotonic ms); -1: none yet. */
int ssh_login_poll(ssh_login_op *op, short *events, long long *deadline_ms);

/* After success: the session (connected, authenticated, non-blocking); the caller owns it. */
ssh_session ssh_login_take(ssh_login_op *op);

/* Abandon (disconnecting) or free after the take; NULL is fine. */
void ssh_login_free(ssh_login_op *op);

#endif
