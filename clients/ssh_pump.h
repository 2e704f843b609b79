/*
 * ssh_pump: the inside of clients/ssh - the layout of a connection, of a
 * shard (one pump thread and the connections it alone drives) and of a loop
 * (the shards), see ssh.h for the locking scheme. ssh.c is the callers' side:
 * it makes loops, creates and frees connections, queues requests and waits
 * for their answers; ssh_pump.c is the shard thread's side: connecting
 * (non-blocking, ssh_login) and reconnecting, channels, forwards, the watched
 * stream, keepalives; ssh_exec.c runs the commands for it. Nothing outside
 * these three files includes this header.
 */
#ifndef OMLOP_SSH_PUMP_H
#define OMLOP_SSH_PUMP_H

#include <libssh/libssh.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>

#include "clients/ssh.h"
#include "clients/ssh_chan.h"
#include "clients/ssh_exec.h"
#include "clients/ssh_keys.h"
#include "clients/ssh_login.h"
#include "lib/err.h"

/* The watch's first retry delay and its cap (ssh.h: ssh_watch_ops). */
#define SSH_WATCH_BACKOFF_MS     250
#define SSH_WATCH_BACKOFF_MAX_MS 5000

enum req_type { REQ_OPEN, REQ_FWD_ADD, REQ_FWD_DEL, REQ_EXEC };

/*
 * One queued request to the pump. The caller fills it and reads the answer
 * after is_done; in between only the pump touches it (is_done and
 * is_abandoned are read and written under conn->lock).
 */
struct req {
    struct req *next;
    enum req_type type;
    char *path;       /* REQ_OPEN: the socket on the host; NULL for a TCP connection */
    char *address;    /* REQ_OPEN: the TCP address the host connects to, with port */
    int port;         /* REQ_OPEN with address */
    ssh_forward *fwd; /* REQ_FWD_*: the forward to add or remove */
    int fd;           /* REQ_OPEN answer: the caller's end, or -1 */
    /* REQ_EXEC: the command, its stdin (a copy), limits, and the answer in res */
    char *command;
    unsigned char *in;
    size_t in_len;
    size_t max_out;
    int timeout_ms;
    ssh_exec_result res;
    omlop_err err;
    int is_done;
    int is_abandoned; /* the caller gave up waiting: the pump frees it */
};

struct ssh_forward {
    ssh_conn *conn;
    struct ssh_forward *next; /* in the pump's list; only the pump touches it */
    int listen_fd;
    char *dir; /* private (0700) directory holding the socket */
    char *local_path;
    char *remote_path;
    /* conn->lock protects these two */
    unsigned long err_seq;
    omlop_err last_err;
};

/* A channel in the pump's list; owned and touched only by the pump thread. */
struct chan {
    struct chan *next;
    ssh_chan *k;
    struct req *req;       /* opening for a caller: whom to answer */
    ssh_forward *fwd;      /* opening for a forward: where failures are recorded */
    int adopt_fd;          /* forward: the accepted connection, pumped once open; or -1 */
    long long deadline_ms; /* while opening */
    int is_opening;
    int is_open;
    int is_ready; /* its local end had poll events this round */
    int is_watch; /* the connection's own stream (ssh_watch_ops) */
};

/* A command running for a caller; owned and touched only by the pump thread. */
struct exec_job {
    struct exec_job *next;
    ssh_exec *x;
    struct req *req;       /* whom to answer; x borrows req->in */
    long long deadline_ms; /* the caller's timeout_ms from when the pump took it */
    int is_counted;        /* its channel opened: counted in st.open_channels */
};

enum poll_kind { POLL_WAKE, POLL_FWD, POLL_WATCH, POLL_CHAN, POLL_SESSION, POLL_LOGIN };

/* What one pollfd of a shard's poll set stands for. */
struct poll_who {
    enum poll_kind kind;
    ssh_conn *conn;
    ssh_forward *fwd;
    struct chan *ch;
};

/*
 * One pump thread and the connections it drives. A connection stays on its
 * shard for life, so its libssh session is only ever driven by this thread.
 */
struct ssh_shard {
    ssh_loop *loop;
    pthread_t thread;
    int has_thread;
    int wake_fd; /* an eventfd: requests, new connections and stops wake the poll */
    /* lock protects added, n_conns and is_stopping */
    pthread_mutex_t lock;
    ssh_conn *added; /* new connections, not yet taken by the thread (via shard_next) */
    size_t n_conns;  /* connections on this shard, for placing new ones */
    int is_stopping;
    /* the thread's alone */
    ssh_conn *conns; /* via shard_next */
    struct pollfd *pfd;
    struct poll_who *who;
    size_t n, cap;
};

struct ssh_loop {
    int n;
    struct ssh_shard *shards;
};

struct ssh_conn {
    /* Set by ssh_conn_new, read-only afterwards. */
    char *name;
    char *address;
    char *user;
    char *target; /* user@address:port */
    int port;
    char *known_hosts_file;
    int is_tofu;
    int is_spec_advice; /* messages advise the Tenant spec (ssh_host_config) */
    int use_agent;
    int connect_timeout_ms;
    int keepalive_interval_ms;
    int keepalive_count_max;
    int backoff_initial_ms;
    int backoff_max_ms;
    int open_timeout_ms;
    ssh_state_fn on_state;
    void *state_ud;
    char *watch_socket; /* NULL: no watch */
    ssh_watch_ops watch;
    ssh_keys_hostset entry_keys;
    ssh_key data_key; /* from identity_data */
    ssh_key file_key; /* from identity_file */
    char *file_key_path;
    struct ssh_shard *shard; /* the thread that drives it, for life */
    ssh_loop *own_loop;      /* a private loop (no loop in the config), freed with it */
    int is_attached;         /* handed to the shard: ssh_conn_free waits for is_detached */

    /* Owned by the shard thread alone. */
    ssh_conn *shard_next;
    ssh_login_op *login; /* a login in progress (no session yet) */
    ssh_login_result login_res;
    long long login_tick_ms; /* step the login at the latest then */
    int is_login_ready;      /* its socket had news in this round */
    int is_session_ready;    /* the session socket had news in this round */
    struct req *parked;      /* requests waiting for the login to end */
    ssh_session session;
    ssh_event event;
    struct ssh_counter_struct rx;
    struct ssh_counter_struct tx;
    struct chan *chans;
    struct exec_job *execs;
    ssh_forward *fwds;
    ssh_key tofu_key; /* trusted on first use; later keys must equal it */
    long long next_attempt_ms;
    long long last_rx_ms;
    long long last_keepalive_ms;
    uint64_t last_rx_packets;
    unsigned rand_state;
    int watch_fd;             /* our end of the watch's channel, or -1 */
    int is_watch_opening;     /* its channel is being opened */
    long long watch_retry_ms; /* not before this (monotonic ms) */
    long watch_backoff_ms;    /* the next delay after a failure */

    /* lock protects everything below; cond signals state changes and answers. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct req *req_head;
    struct req *req_tail;
    int is_stopping;
    int is_detached; /* the shard let go of it: it may be freed */
    ssh_conn_status st;
};

/* Wake the pump (after queueing a request or setting is_stopping). */
void ssh_pump_wake(ssh_conn *c);

/* Free a request and everything it holds (path, command, input, result). */
void ssh_pump_req_free(struct req *r);

/* Answer a request: hand over fd (or the error e) unless the caller left (then free it). */
void ssh_pump_req_finish(ssh_conn *c, struct req *r, int fd, const omlop_err *e);

/* Commands (in ssh_exec.c, pump thread only): start r's, move all on, fail all. */
void ssh_pump_exec_start(ssh_conn *c, struct req *r);
void ssh_pump_execs_step(ssh_conn *c, long long now);
void ssh_pump_execs_drop(ssh_conn *c);

/* A shard thread's body; arg is the ssh_shard. Returns once stopping and without connections. */
void *ssh_pump_shard_main(void *arg);

#endif
