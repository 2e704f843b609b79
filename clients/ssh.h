/*
 * ssh: one SSH connection per host (libssh), shared by many channels.
 *
 * An ssh_conn keeps one authenticated session to one host and hands out byte
 * streams to unix sockets on it (direct-streamlocal channels, which is how the
 * Podman socket is reached), as plain fds: either our end of a socketpair
 * (ssh_conn_open_streamlocal) or connections to a private local socket that
 * the connection forwards, like "ssh -L" (ssh_forward_*; what the HTTP tunnel
 * uses). The other end is pumped to its channel through bounded buffers.
 * The same way it opens TCP connections made by the host (direct-tcpip, for
 * readiness probes: ssh_conn_open_tcp), and it runs commands on the host in
 * exec channels, with stdin from a buffer and stdout/stderr/exit status
 * collected (ssh_conn_exec; clients/hostfs builds file operations on it).
 *
 * Host keys are verified strictly: against the key(s) of the host entry
 * (host_key), else a known_hosts file. An unknown or changed key is refused
 * with its SHA256 fingerprint. Trust-on-first-use (is_tofu) must be asked for;
 * it accepts an unknown key once and records it (in known_hosts_file when one
 * is given, and in memory: a later different key is refused).
 *
 * Authentication is public key only: an in-memory key (PEM/OpenSSH text or its
 * base64, as a Secret holds it), a key file, and ssh-agent, in that order.
 *
 * Liveness: a keepalive@openssh.com request goes out whenever nothing was
 * received for keepalive_interval_ms; after keepalive_count_max intervals of
 * silence the connection is declared dead. A dead or refused connection is
 * retried with exponential backoff plus jitter, by itself, until freed.
 *
 * Threads and locking (libssh's rule is one session driven by one thread at a
 * time): connections run on an ssh_loop, a fixed set of pump threads
 * ("shards", about one per core) shared by any number of connections. Each
 * connection is placed on the least loaded shard when created and stays there
 * for life; that shard's thread alone calls libssh for its session - connect,
 * auth, channel open, read, write, keepalive, close - in one poll loop over
 * all of its connections' sockets. Connecting and authenticating never block
 * the loop (non-blocking libssh, stepped from the poll loop, bounded by
 * connect_timeout_ms), so a host that never answers, or answers TCP but never
 * speaks SSH, delays no other connection of its shard. (A host *name* is
 * resolved with getaddrinfo, which does block; omlop's hosts are addresses.)
 * A connection created without a loop gets a private loop of one thread
 * (omlctl, tests). Other threads never touch a session; they talk to its
 * shard by message passing: a request (open a channel, add or remove a
 * forward, run a command) is queued under conn->lock, the shard is woken
 * through its eventfd, and the caller waits on the connection's condition
 * variable for the answer. (The shards are in ssh_pump.c.) conn->lock (owned
 * by the ssh_conn) protects only the request queue, the stop flag and the
 * status snapshot; the shard never holds it while calling libssh.
 * All functions below are safe to call from any thread.
 */
#ifndef OMLOP_SSH_H
#define OMLOP_SSH_H

#include <stddef.h>
#include <time.h>

#include "lib/err.h"
#include "lib/strbuf.h"

#define SSH_DEFAULT_PORT 22
#define SSH_DEFAULT_USER "root"

typedef struct ssh_conn ssh_conn;
typedef struct ssh_forward ssh_forward;
typedef struct ssh_loop ssh_loop;

/* A loop of n pump threads (n <= 0: one per online CPU) for many connections. */
int ssh_loop_new(int n, ssh_loop **out, omlop_err *err);

/* Stop the threads; every connection on it must have been freed. NULL is fine. */
void ssh_loop_free(ssh_loop *l);

/* Its number of pump threads. */
int ssh_loop_threads(const ssh_loop *l);

/*
 * A long-lived stream the connection keeps open for its owner (an event
 * stream): whenever the session is up, the pump opens a channel to
 * watch_socket, sends what on_open appends to out, and hands every byte that
 * comes back to on_data. When the channel ends or cannot be opened while the
 * connection stays up, on_end tells why (a lost connection is told by
 * on_state alone), and the pump opens it again: at once after a reconnect,
 * else after a backoff of 250 ms doubling to 5 s, reset by data. Everything
 * runs on the pump thread, without the connection's lock: be quick; from a
 * callback only ssh_conn_get_status and the name getters may be called.
 */
typedef struct ssh_watch_ops {
    void (*on_open)(void *ud, strbuf *out);
    /* return non-zero to close the stream (it is opened again after the backoff) */
    int (*on_data)(void *ud, const char *data, size_t len);
    void (*on_end)(void *ud, const omlop_err *why);
    void *ud;
} ssh_watch_ops;

typedef enum ssh_conn_state {
    SSH_CONN_CONNECTING = 0, /* first attempt in progress */
    SSH_CONN_CONNECTED = 1,
    SSH_CONN_DOWN = 2,   /* last attempt failed or the connection was lost; retrying */
    SSH_CONN_CLOSED = 3, /* being freed */
} ssh_conn_state;

/* Told on the pump thread after each state change, without the lock (be quick). */
typedef void (*ssh_state_fn)(void *ud, ssh_conn_state state, unsigned connects, const char *why);

/* How to reach and trust one host. Strings are copied by ssh_conn_new. */
typedef struct ssh_host_config {
    const char *name;             /* label for messages and status; NULL = address */
    const char *address;          /* host name or IP address; required */
    int port;                     /* 0 = 22 */
    const char *user;             /* NULL = "root" */
    const char *identity_file;    /* private key file (ed25519, ecdsa, rsa; unencrypted) */
    const char *identity_data;    /* private key text, or base64 of it (from a Secret) */
    int use_agent;                /* also try the keys of ssh-agent ($SSH_AUTH_SOCK) */
    const char *host_key;         /* expected key(s), "ssh-ed25519 AAAA... [comment]" per line */
    const char *known_hosts_file; /* known_hosts to verify with (and to record into with TOFU) */
    int is_tofu;                  /* trust an unknown key on first use and record it */
    /* whose settings the messages tell the user to change: 0 omlctl's flags (--host-key,
     * --known-hosts, --insecure-tofu, --identity); 1 a Tenant's spec.hosts[].ssh and
     * omlopd's --known-hosts (the operator: no command line to add a flag to) */
    int is_spec_advice;
    int connect_timeout_ms;    /* TCP connect + handshake + auth; 0 = 10000 */
    int keepalive_interval_ms; /* 0 = 10000 */
    int keepalive_count_max;   /* silent intervals before the peer is dead; 0 = 3 */
    int backoff_initial_ms;    /* first retry delay; 0 = 500 */
    int backoff_max_ms;        /* retry delay cap; 0 = 30000 */
    int open_timeout_ms;       /* waiting for a channel to open; 0 = 10000 */
    ssh_loop *loop;            /* the pump threads to run on (borrowed); NULL: a private one */
    ssh_state_fn on_state;     /* may be NULL */
    void *state_ud;
    const char *watch_socket;       /* a unix socket on the host to keep a stream open to */
    const ssh_watch_ops *watch_ops; /* with watch_socket (copied) */
} ssh_host_config;

typedef enum ssh_hostkey_verdict {
    SSH_HOSTKEY_UNCHECKED = 0,     /* no key seen yet */
    SSH_HOSTKEY_MATCHED_ENTRY = 1, /* equals a key given in host_key */
    SSH_HOSTKEY_MATCHED_FILE = 2,  /* found in known_hosts_file */
    SSH_HOSTKEY_TOFU_RECORDED = 3, /* unknown, accepted on first use and recorded */
    SSH_HOSTKEY_TOFU_MATCHED = 4,  /* equals the key accepted earlier on first use */
    SSH_HOSTKEY_UNKNOWN = 5,       /* refused: nothing to verify it against */
    SSH_HOSTKEY_CHANGED = 6,       /* refused: differs from the expected key */
} ssh_hostkey_verdict;

/* A copy of a connection's state, for status reports. */
typedef struct ssh_conn_status {
    ssh_conn_state state;
    time_t since;                       /* wall-clock time the state last changed */
    int last_error_code;                /* OMLOP_E* of the last failure, 0 if none */
    char last_error[OMLOP_ERR_MSG_MAX]; /* why the last attempt failed or the link died */
    char host_key_type[32];             /* "ssh-ed25519", of the key last presented */
    char host_key_fingerprint[80];      /* "SHA256:...", of the key last presented */
    ssh_hostkey_verdict host_key_verdict;
    char auth_method[64]; /* how we authenticated: "publickey (file ...)", "ssh-agent" */
    unsigned attempts;    /* failed attempts since the last success */
    unsigned connects;    /* successful connections so far */
    long next_retry_ms;   /* state DOWN: time until the next attempt */
    size_t open_channels; /* channels currently open */
    size_t opened_total;  /* channels opened since creation */
} ssh_conn_status;

/*
 * Check cfg, load its keys and hand the connection to a pump thread, which
 * connects at once (and keeps reconnecting). Key and config errors are
 * reported here.
 */
int ssh_conn_new(const ssh_host_config *cfg, ssh_conn **out, omlop_err *err);

/* Close every channel, disconnect, leave the pump thread and free; NULL is fine. */
void ssh_conn_free(ssh_conn *c);

/*
 * Wait until connected (0), or until the current attempt failed (its error,
 * e.g. OMLOP_EAUTH for a refused host key), or timeout_ms passed (ETIMEOUT).
 */
int ssh_conn_wait_connected(ssh_conn *c, int timeout_ms, omlop_err *err);

/* Copy the current state into *st. */
void ssh_conn_get_status(ssh_conn *c, ssh_conn_status *st);

/* The host label ("name" or address) and "user@address:port" (borrowed). */
const char *ssh_conn_name(const ssh_conn *c);
const char *ssh_conn_target(const ssh_conn *c);

/*
 * Open a channel to the unix socket path on the host and return our end of a
 * socketpair pumped to it in *fd (blocking, close-on-exec; the caller closes
 * it). Closing fd closes the channel; the channel closing shows as EOF on fd.
 * Fails with OMLOP_EUNAVAIL when the host is unreachable (naming the reason)
 * and names the socket when the host refuses it.
 */
int ssh_conn_open_streamlocal(ssh_conn *c, const char *socket_path, int *fd, omlop_err *err);

/*
 * Forward a new private unix socket on this machine to socket_path on the
 * host, like "ssh -L": each connection to ssh_forward_local_path() becomes a
 * channel. The socket sits in a fresh 0700 directory (under $TMPDIR or /tmp),
 * so only this user can use it; it is removed by ssh_forward_free. Free every
 * forward before its connection.
 */
int ssh_forward_new(ssh_conn *c, const char *socket_path, ssh_forward **out, omlop_err *err);

/* Stop listening and remove the socket; channels already open stay until closed. */
void ssh_forward_free(ssh_forward *f);

/* The local socket path to connect to. */
const char *ssh_forward_local_path(const ssh_forward *f);

/*
 * A forwarded connection that cannot be served is closed at once; why is
 * recorded here. Take the sequence number before a request, and after a
 * failure ask whether a newer error was recorded (1, copied into *err) or not (0).
 */
unsigned long ssh_forward_error_seq(ssh_forward *f);
int ssh_forward_last_error(ssh_forward *f, unsigned long since_seq, omlop_err *err);

/* Text for a state and a verdict ("connected", "matched the host entry key"). */
const char *ssh_conn_state_name(ssh_conn_state s);
const char *ssh_hostkey_verdict_text(ssh_hostkey_verdict v);

/* What a command run on the host produced. */
typedef struct ssh_exec_result {
    int exit_status;  /* the command's exit status; -1 when it ended without one (signal) */
    strbuf out;       /* stdout, at most max_out bytes */
    strbuf err_out;   /* stderr, at most max_out bytes */
    int is_truncated; /* more output than max_out was dropped */
} ssh_exec_result;

/*
 * Run command (a POSIX sh command line, as `ssh host command` would) in an exec
 * channel; write in[0..in_len) to its stdin then EOF; collect stdout/stderr
 * (each capped at max_out; 0 = 64 KiB) until the channel closes or timeout_ms
 * (0 = 30000) passes. Returns 0 when the command ran, whatever its exit status
 * (the caller judges res->exit_status); OMLOP_EUNAVAIL when the host is not
 * reachable; OMLOP_ETIMEOUT (channel closed) on the deadline; EPROTO/EIO with
 * the reason otherwise. res must be released with ssh_exec_result_release
 * (on errors too: it may hold the output received before the failure).
 * Neither the command nor in is logged; still, pass secrets through in, since
 * a command line is visible in the host's process list.
 */
int ssh_conn_exec(ssh_conn *c, const char *command, const void *in, size_t in_len, size_t max_out,
                  int timeout_ms, ssh_exec_result *res, omlop_err *err);

/* Free what res holds and reset it; NULL is fine. */
void ssh_exec_result_release(ssh_exec_result *r);

/*
 * Open a direct-tcpip channel to address:port as seen from the host and return
 * our end of a socketpair pumped to it in *fd (like ssh_conn_open_streamlocal).
 * OpenSSH confirms the channel only once its connect() succeeded, so a refused
 * port fails here: OMLOP_EUNAVAIL "host h1: 10.0.0.1:6379 refused: <sshd's reason>".
 * sshd forbidding TCP forwarding is OMLOP_EPERM, naming AllowTcpForwarding.
 */
int ssh_conn_open_tcp(ssh_conn *c, const char *address, int port, int *fd, omlop_err *err);

/* --- pure helper; ssh:// parsing is in clients/ssh_login.h, keys in clients/ssh_keys.h -- */

/*
 * Retry delay for the given failed attempt (1-based): initial * 2^(attempt-1)
 * capped at max, then scaled into [delay/2, delay] by jitter01 (in [0,1)).
 */
long ssh_backoff_delay_ms(unsigned attempt, long initial_ms, long max_ms, double jitter01);

#endif
