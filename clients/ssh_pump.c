/*
 * ssh_pump: a shard thread, which alone drives the libssh sessions of its
 * connections (see ssh_pump.h). One poll loop over all of them: the shard's
 * wake eventfd, and per connection its login socket while it connects,
 * verifies and authenticates without blocking (ssh_login), then its session
 * socket, the forwards' listening sockets, the watched stream and the local
 * ends of its channels - moving bytes both ways (ssh_chan), running commands
 * (ssh_exec) against their deadlines, sending keepalives, and reconnecting
 * with backoff.
 */
#include "clients/ssh_pump.h"

#include <errno.h>
#include <libssh/server.h> /* ssh_send_keepalive (client use is fine; declared here) */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clients/ssh_login.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* Poll at least this often, to run timers (keepalive, open deadlines). */
#define TICK_MS 1000
/* A login in progress is stepped at least this often, even without socket news. */
#define LOGIN_TICK_MS 200

void ssh_pump_wake(ssh_conn *c)
{
    uint64_t one = 1;

    /* a full counter already means "wake up", so a failed write loses nothing */
    if (write(c->shard->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("host=%s ssh: wake write failed: %s", c->name, strerror(errno));
}

/* --- status and requests (under lock) ------------------------------------------------- */

static void status_set(ssh_conn *c, ssh_conn_state state, const omlop_err *why)
{
    unsigned connects;

    pthread_mutex_lock(&c->lock);
    if (c->st.state != state)
        c->st.since = time(NULL);
    c->st.state = state;
    if (why) {
        c->st.last_error_code = why->code;
        snprintf(c->st.last_error, sizeof(c->st.last_error), "%s", why->msg);
    }
    connects = c->st.connects;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    /* outside the lock: the owner may read the status from its callback */
    if (c->on_state)
        c->on_state(c->state_ud, state, connects, why ? why->msg : "");
}

/* --- the watch: the owner's long-lived stream (ssh.h: ssh_watch_ops) -------------------- */

/* The watch's stream ended (why): tell the owner, and open it again after delay_ms. */
static void watch_end(ssh_conn *c, const omlop_err *why, long delay_ms)
{
    if (c->watch_fd >= 0)
        close(c->watch_fd);
    c->watch_fd = -1;
    c->is_watch_opening = 0;
    c->watch_retry_ms = clock_now_ms() + delay_ms;
    if (delay_ms > 0)
        c->watch_backoff_ms = c->watch_backoff_ms * 2 > SSH_WATCH_BACKOFF_MAX_MS
                                  ? SSH_WATCH_BACKOFF_MAX_MS
                                  : c->watch_backoff_ms * 2;
    if (why && c->watch.on_end)
        c->watch.on_end(c->watch.ud, why);
}

/* The watch's channel opened: fd is our end; send the owner's request. */
static void watch_opened(ssh_conn *c, int fd)
{
    strbuf req = STRBUF_INIT;
    size_t off = 0;
    int fl = fcntl(fd, F_GETFL);

    c->is_watch_opening = 0;
    c->watch_fd = fd;
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (c->watch.on_open)
        c->watch.on_open(c->watch.ud, &req);
    /* a request is small: the socketpair's buffer takes it whole */
    while (off < req.len) {
        ssize_t n = write(fd, req.buf + off, req.len - off);

        if (n <= 0) {
            omlop_err e = OMLOP_ERR_INIT;

            omlop_err_set(&e, OMLOP_EIO, "host %s: cannot send the stream's request: %s", c->name,
                          n < 0 ? strerror(errno) : "short write");
            watch_end(c, &e, c->watch_backoff_ms);
            break;
        }
        off += (size_t)n;
    }
    strbuf_release(&req);
}

/* The watch's fd is readable: hand what came to the owner; EOF ends the stream. */
static void watch_read(ssh_conn *c)
{
    char buf[16384];

    for (int i = 0; i < 16 && c->watch_fd >= 0; i++) {
        ssize_t n = read(c->watch_fd, buf, sizeof(buf));
        omlop_err e = OMLOP_ERR_INIT;

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            omlop_err_set(&e, OMLOP_EUNAVAIL, "host %s: the stream from %s ended%s%s", c->name,
                          c->watch_socket, n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
            watch_end(c, &e, c->watch_backoff_ms);
            return;
        }
        c->watch_backoff_ms = SSH_WATCH_BACKOFF_MS; /* it works: a later break starts afresh */
        if (c->watch.on_data && c->watch.on_data(c->watch.ud, buf, (size_t)n) != 0) {
            watch_end(c, NULL, c->watch_backoff_ms);
            return;
        }
    }
}

/* The "unreachable" error for callers while the connection is down. */
static void unreachable_err(ssh_conn *c, omlop_err *err)
{
    char when[32] = "";
    long long left;
    struct tm tm;

    pthread_mutex_lock(&c->lock);
    if (localtime_r(&c->st.since, &tm))
        strftime(when, sizeof(when), "%H:%M:%S", &tm);
    left = c->st.next_retry_ms - clock_now_ms();
    /* last_error names the host already (lib/err.h) */
    if (c->st.last_error[0])
        omlop_err_set(err, OMLOP_EUNAVAIL, "%s (unreachable since %s, retrying in %.1fs)",
                      c->st.last_error, when, left > 0 ? (double)left / 1000.0 : 0.0);
    else
        omlop_err_set(err, OMLOP_EUNAVAIL,
                      "host %s (%s): not connected (unreachable since %s, retrying in %.1fs)",
                      c->name, c->target, when, left > 0 ? (double)left / 1000.0 : 0.0);
    pthread_mutex_unlock(&c->lock);
}

/* --- requests --------------------------------------------------------------------------- */

void ssh_pump_req_free(struct req *r)
{
    free(r->path);
    free(r->address);
    free(r->command);
    free(r->in);
    ssh_exec_result_release(&r->res);
    free(r);
}

void ssh_pump_req_finish(ssh_conn *c, struct req *r, int fd, const omlop_err *e)
{
    pthread_mutex_lock(&c->lock);
    if (r->is_abandoned) {
        pthread_mutex_unlock(&c->lock);
        if (fd >= 0)
            close(fd);
        ssh_pump_req_free(r);
        return;
    }
    r->fd = fd;
    if (e)
        r->err = *e;
    r->is_done = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void req_fail(ssh_conn *c, struct req *r, int code, const char *fmt, ...) OMLOP_PRINTF(4, 5);

static void req_fail(ssh_conn *c, struct req *r, int code, const char *fmt, ...)
{
    omlop_err e = OMLOP_ERR_INIT;
    va_list ap;

    va_start(ap, fmt);
    omlop_err_vset(&e, code, fmt, ap);
    va_end(ap);
    ssh_pump_req_finish(c, r, -1, &e);
}

/* --- channels (pump thread) ------------------------------------------------------------- */

/* Record why a forwarded connection could not be served (for tunnel error messages). */
static void fwd_record(ssh_conn *c, ssh_forward *f, const omlop_err *e)
{
    if (!f)
        return;
    pthread_mutex_lock(&c->lock);
    f->last_err = *e;
    f->err_seq++;
    pthread_mutex_unlock(&c->lock);
}

/* The open finished: e == NULL on success. Answers the caller or serves the forward. */
static void chan_resolve(ssh_conn *c, struct chan *ch, const omlop_err *e)
{
    omlop_err ae = OMLOP_ERR_INIT;
    int fd = -1;

    ch->is_opening = 0;
    if (!e && (ch->req || ch->is_watch) && ssh_chan_attach(ch->k, &fd, &ae) < 0) {
        omlop_err_prefix(&ae, "host %s: ", c->name);
        e = &ae;
    }
    if (e && ch->is_watch) {
        if (c->is_watch_opening) /* else a stale attempt, already ended by session_drop */
            watch_end(c, e, c->watch_backoff_ms);
        return;
    }
    if (e) {
        if (ch->req)
            ssh_pump_req_finish(c, ch->req, -1, e);
        else
            fwd_record(c, ch->fwd, e);
        if (ch->adopt_fd >= 0)
            close(ch->adopt_fd); /* the local client sees EOF at once */
        ch->req = NULL;
        ch->adopt_fd = -1;
        return;
    }
    if (!ch->req && !ch->is_watch) {
        ssh_chan_adopt(ch->k, ch->adopt_fd);
        ch->adopt_fd = -1;
    }
    ch->is_open = 1;
    pthread_mutex_lock(&c->lock);
    c->st.open_channels++;
    c->st.opened_total++;
    pthread_mutex_unlock(&c->lock);
    if (ch->req)
        ssh_pump_req_finish(c, ch->req, fd, NULL);
    else if (ch->is_watch)
        watch_opened(c, fd);
    ch->req = NULL;
}

static void chan_free(ssh_conn *c, struct chan *ch)
{
    if (ch->is_opening) {
        omlop_err e = OMLOP_ERR_INIT;

        omlop_err_set(&e, OMLOP_EUNAVAIL, "host %s: connection lost while opening %s", c->name,
                      ssh_chan_path(ch->k));
        chan_resolve(c, ch, &e);
    }
    ssh_chan_free(ch->k);
    free(ch);
}

static void chan_step_open(ssh_conn *c, struct chan *ch, long long now)
{
    omlop_err e = OMLOP_ERR_INIT;
    int rc = ssh_chan_open_step(ch->k);

    if (rc > 0) {
        chan_resolve(c, ch, NULL);
    } else if (rc < 0) {
        ssh_chan_open_error(ch->k, c->name, &e);
        chan_resolve(c, ch, &e);
    } else if (now >= ch->deadline_ms) {
        omlop_err_set(&e, OMLOP_ETIMEOUT, "host %s: no answer to opening %s within %d ms", c->name,
                      ssh_chan_path(ch->k), c->open_timeout_ms);
        chan_resolve(c, ch, &e);
    }
}

/* A caller's TCP connection (r->address) or a channel to a unix socket. */
static int chan_new_for(ssh_conn *c, const struct req *r, const char *path, ssh_chan **k,
                        omlop_err *e)
{
    if (r && r->address)
        return ssh_chan_new_tcp(c->session, r->address, r->port, k, e);
    return ssh_chan_new(c->session, path, k, e);
}

/*
 * Open a channel to path for a caller (r), for a connection a forward accepted (f, fd), or
 * for the watch (is_watch).
 */
static void chan_start(ssh_conn *c, struct req *r, ssh_forward *f, int fd, const char *path,
                       int is_watch)
{
    omlop_err e = OMLOP_ERR_INIT;
    struct chan *ch = xcalloc(1, sizeof(*ch));

    if (chan_new_for(c, r, path, &ch->k, &e) < 0) {
        omlop_err_prefix(&e, "host %s: ", c->name);
        free(ch);
        if (r)
            ssh_pump_req_finish(c, r, -1, &e);
        else if (is_watch)
            watch_end(c, &e, c->watch_backoff_ms);
        else
            fwd_record(c, f, &e);
        if (fd >= 0)
            close(fd);
        return;
    }
    ch->is_watch = is_watch;
    if (is_watch)
        c->is_watch_opening = 1;
    ch->req = r;
    ch->fwd = f;
    ch->adopt_fd = fd;
    ch->is_opening = 1;
    ch->deadline_ms = clock_now_ms() + c->open_timeout_ms;
    ch->next = c->chans;
    c->chans = ch;
    chan_step_open(c, ch, clock_now_ms());
}

/* Whether a list entry is done: it failed to open, or it opened and finished. */
static int chan_is_done(const struct chan *ch)
{
    return !ch->is_opening && (!ch->is_open || ssh_chan_is_finished(ch->k));
}

/* Free the channels that are done, and keep the count in the status. */
static void chans_reap(ssh_conn *c)
{
    struct chan **pp = &c->chans;
    size_t closed = 0;

    while (*pp) {
        struct chan *ch = *pp;

        if (!chan_is_done(ch)) {
            pp = &ch->next;
            continue;
        }
        *pp = ch->next;
        if (ch->is_open)
            closed++;
        chan_free(c, ch);
    }
    if (closed) {
        pthread_mutex_lock(&c->lock);
        c->st.open_channels -= closed;
        pthread_mutex_unlock(&c->lock);
    }
}

/* Serve a forward's listening socket: each new connection becomes a channel. */
static void fwd_accept(ssh_conn *c, ssh_forward *f)
{
    /* bounded, so one busy forward cannot starve the rest of the loop */
    for (int i = 0; i < 16; i++) {
        int fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0)
            return;
        if (!c->session) {
            omlop_err e = OMLOP_ERR_INIT;

            unreachable_err(c, &e);
            fwd_record(c, f, &e);
            close(fd);
            continue;
        }
        chan_start(c, NULL, f, fd, f->remote_path, 0);
    }
}

static void fwd_detach(ssh_conn *c, ssh_forward *f)
{
    for (ssh_forward **pp = &c->fwds; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    for (struct chan *ch = c->chans; ch; ch = ch->next) {
        if (ch->fwd == f)
            ch->fwd = NULL;
    }
}

/* --- connecting (shard thread) ---------------------------------------------------------- */

static void session_drop(ssh_conn *c)
{
    if (c->watch_fd >= 0 || c->is_watch_opening) {
        /* reopened as soon as the connection is back; the owner learns of the loss from
         * on_state, so on_end is not called */
        c->watch_backoff_ms = SSH_WATCH_BACKOFF_MS;
        watch_end(c, NULL, 0);
    }
    while (c->chans) {
        struct chan *ch = c->chans;

        c->chans = ch->next;
        chan_free(c, ch); /* closes our socketpair end: the caller sees EOF */
    }
    ssh_pump_execs_drop(c);
    if (c->event) {
        if (c->session)
            ssh_event_remove_session(c->event, c->session);
        ssh_event_free(c->event);
        c->event = NULL;
    }
    if (c->session) {
        ssh_disconnect(c->session);
        ssh_free(c->session);
        c->session = NULL;
    }
    pthread_mutex_lock(&c->lock);
    c->st.open_channels = 0;
    pthread_mutex_unlock(&c->lock);
}

static void schedule_retry(ssh_conn *c, const omlop_err *why)
{
    double jitter = (double)rand_r(&c->rand_state) / ((double)RAND_MAX + 1.0);
    unsigned attempt;
    long delay;

    pthread_mutex_lock(&c->lock);
    attempt = ++c->st.attempts;
    delay = ssh_backoff_delay_ms(attempt, c->backoff_initial_ms, c->backoff_max_ms, jitter);
    c->next_attempt_ms = clock_now_ms() + delay;
    c->st.next_retry_ms = c->next_attempt_ms; /* absolute here; get_status makes it relative */
    pthread_mutex_unlock(&c->lock);
    status_set(c, SSH_CONN_DOWN, why);
    log_warn("host=%s ssh: %s; retry %u in %ld ms", c->name, why->msg, attempt, delay);
}

static void handle_request(ssh_conn *c, struct req *r, int is_stopping);

/* Requests that came while a login ran wait for its outcome (as callers always did). */
static void parked_handle(ssh_conn *c)
{
    struct req *r = c->parked;

    c->parked = NULL;
    while (r) {
        struct req *n = r->next;

        r->next = NULL;
        handle_request(c, r, 0);
        r = n;
    }
}

/* Start a non-blocking login (ssh_login.h); the shard's poll loop drives it. */
static void login_begin(ssh_conn *c)
{
    ssh_login l = {
        .name = c->name,
        .target = c->target,
        .address = c->address,
        .port = c->port,
        .user = c->user,
        .timeout_ms = c->connect_timeout_ms,
        .entry_keys = &c->entry_keys,
        .known_hosts_file = c->known_hosts_file,
        .is_tofu = c->is_tofu,
        .is_spec_advice = c->is_spec_advice,
        .tofu_key = c->tofu_key,
        .data_key = c->data_key,
        .file_key = c->file_key,
        .file_key_path = c->file_key_path,
        .use_agent = c->use_agent,
    };
    omlop_err e = OMLOP_ERR_INIT;

    memset(&c->login_res, 0, sizeof(c->login_res));
    if (ssh_login_start(&l, &c->login, &e) < 0) {
        c->login = NULL;
        schedule_retry(c, &e);
        return;
    }
    c->login_tick_ms = 0; /* step at once: ssh_connect starts the TCP connect */
}

/* The login is over: rc 1 logged in, < 0 failed with e. */
static void login_finish(ssh_conn *c, int rc, omlop_err *e)
{
    ssh_login_result *res = &c->login_res;
    ssh_session s = NULL;

    pthread_mutex_lock(&c->lock);
    if (res->host_key_fingerprint[0]) {
        snprintf(c->st.host_key_type, sizeof(c->st.host_key_type), "%s", res->host_key_type);
        snprintf(c->st.host_key_fingerprint, sizeof(c->st.host_key_fingerprint), "%s",
                 res->host_key_fingerprint);
        c->st.host_key_verdict = res->verdict;
    }
    if (rc > 0)
        snprintf(c->st.auth_method, sizeof(c->st.auth_method), "%s", res->auth_method);
    pthread_mutex_unlock(&c->lock);
    if (rc > 0)
        s = ssh_login_take(c->login);
    ssh_login_free(c->login);
    c->login = NULL;
    if (rc < 0) {
        ssh_key_free(res->new_tofu_key);
        res->new_tofu_key = NULL;
        schedule_retry(c, e);
        parked_handle(c);
        return;
    }
    if (res->new_tofu_key) {
        ssh_key_free(c->tofu_key);
        c->tofu_key = res->new_tofu_key;
        res->new_tofu_key = NULL;
    }
    memset(&c->rx, 0, sizeof(c->rx));
    memset(&c->tx, 0, sizeof(c->tx));
    ssh_set_counters(s, &c->tx, &c->rx);
    c->event = ssh_event_new();
    if (!c->event || ssh_event_add_session(c->event, s) != SSH_OK) {
        if (c->event)
            ssh_event_free(c->event);
        c->event = NULL;
        ssh_disconnect(s);
        ssh_free(s);
        omlop_err_set(e, OMLOP_ENOMEM, "host %s: cannot set up the event loop", c->name);
        schedule_retry(c, e);
        parked_handle(c);
        return;
    }
    c->session = s;
    c->last_rx_ms = c->last_keepalive_ms = clock_now_ms();
    c->last_rx_packets = 0;
    pthread_mutex_lock(&c->lock);
    c->st.attempts = 0;
    c->st.connects++;
    c->st.last_error_code = 0;
    c->st.last_error[0] = '\0';
    pthread_mutex_unlock(&c->lock);
    status_set(c, SSH_CONN_CONNECTED, NULL);
    log_info("host=%s ssh: connected to %s", c->name, c->target);
    parked_handle(c);
}

/* Move the login on (the socket had news, a tick passed, or the deadline came). */
static void login_step(ssh_conn *c, long long now)
{
    omlop_err e = OMLOP_ERR_INIT;
    int rc;

    if (!c->is_login_ready && now < c->login_tick_ms)
        return;
    c->is_login_ready = 0;
    c->login_tick_ms = now + LOGIN_TICK_MS;
    rc = ssh_login_step(c->login, &c->login_res, &e);
    if (rc != 0)
        login_finish(c, rc, &e);
}

static void connection_lost(ssh_conn *c, const char *fmt, ...) OMLOP_PRINTF(2, 3);

static void connection_lost(ssh_conn *c, const char *fmt, ...)
{
    omlop_err e = OMLOP_ERR_INIT;
    va_list ap;

    va_start(ap, fmt);
    omlop_err_vset(&e, OMLOP_EUNAVAIL, fmt, ap);
    va_end(ap);
    session_drop(c);
    schedule_retry(c, &e);
}

/* --- the shard's poll set ------------------------------------------------------------- */

static void drain_wake(struct ssh_shard *sh)
{
    uint64_t v;

    while (read(sh->wake_fd, &v, sizeof(v)) > 0)
        ;
}

/* Make room for n more entries in the poll set. */
static void pollset_reserve(struct ssh_shard *sh, size_t n)
{
    if (sh->n + n <= sh->cap)
        return;
    sh->cap = (sh->n + n) * 2 + 16;
    sh->pfd = xrealloc(sh->pfd, sh->cap * sizeof(*sh->pfd));
    sh->who = xrealloc(sh->who, sh->cap * sizeof(*sh->who));
}

static void pollset_add(struct ssh_shard *sh, int fd, short events, enum poll_kind kind,
                        ssh_conn *c, ssh_forward *f, struct chan *ch)
{
    pollset_reserve(sh, 1);
    sh->pfd[sh->n].fd = fd;
    sh->pfd[sh->n].events = events;
    sh->pfd[sh->n].revents = 0;
    sh->who[sh->n].kind = kind;
    sh->who[sh->n].conn = c;
    sh->who[sh->n].fwd = f;
    sh->who[sh->n].ch = ch;
    sh->n++;
}

static void timeout_min(int *timeout, long long left)
{
    if (left < *timeout)
        *timeout = left > 0 ? (int)left : 0;
}

/* What a connected c waits for: its session socket, channels, forwards, watch and timers. */
static void poll_connected(struct ssh_shard *sh, ssh_conn *c, long long now, int *timeout)
{
    int sfd = ssh_get_fd(c->session);
    /* next timer: a keepalive one interval after the last sign of life or the last probe,
     * or the dead-peer verdict; never in the past, or the loop would spin */
    long long last = c->last_rx_ms > c->last_keepalive_ms ? c->last_rx_ms : c->last_keepalive_ms;
    long long ka_due = last + c->keepalive_interval_ms - now;
    long long dead_due =
        c->last_rx_ms + (long long)c->keepalive_interval_ms * c->keepalive_count_max - now;

    c->is_session_ready = 0;
    if (sfd == SSH_INVALID_SOCKET) {
        c->is_session_ready = 1; /* after the poll, step_connected finds it lost */
        *timeout = 0;
        return;
    }
    for (ssh_forward *f = c->fwds; f; f = f->next)
        pollset_add(sh, f->listen_fd, POLLIN, POLL_FWD, c, f, NULL);
    if (c->watch_fd >= 0)
        pollset_add(sh, c->watch_fd, POLLIN, POLL_WATCH, c, NULL, NULL);
    else if (c->watch_socket && !c->is_watch_opening)
        timeout_min(timeout, c->watch_retry_ms - now);
    pollset_add(
        sh, sfd,
        (short)(POLLIN | (ssh_get_poll_flags(c->session) & SSH_WRITE_PENDING ? POLLOUT : 0)),
        POLL_SESSION, c, NULL, NULL);
    if (ssh_get_poll_flags(c->session) & (SSH_READ_PENDING | SSH_WRITE_PENDING))
        c->is_session_ready = 1;
    for (struct chan *ch = c->chans; ch; ch = ch->next) {
        short ev;
        int fd;

        ch->is_ready = 0;
        if (ch->is_opening) {
            timeout_min(timeout, ch->deadline_ms - now);
            continue;
        }
        if (ssh_chan_has_backlog(ch->k)) {
            *timeout = 0;
            ch->is_ready = 1;
        }
        fd = ssh_chan_poll_fd(ch->k, &ev);
        if (fd >= 0)
            pollset_add(sh, fd, ev, POLL_CHAN, c, NULL, ch);
    }
    /* commands move on session input alone; only their deadlines need a timer */
    for (struct exec_job *j = c->execs; j; j = j->next)
        timeout_min(timeout, j->deadline_ms - now);
    if (dead_due < ka_due)
        ka_due = dead_due;
    timeout_min(timeout, ka_due);
}

/* What c waits for in its state. */
static void poll_conn(struct ssh_shard *sh, ssh_conn *c, long long now, int *timeout)
{
    if (c->session) {
        poll_connected(sh, c, now, timeout);
    } else if (c->login) {
        long long deadline;
        short ev;
        int fd = ssh_login_poll(c->login, &ev, &deadline);

        /* forwarded connections wait in the backlog until the login is over, as callers wait */
        if (fd >= 0)
            pollset_add(sh, fd, ev, POLL_LOGIN, c, NULL, NULL);
        timeout_min(timeout, c->login_tick_ms - now);
        timeout_min(timeout, deadline - now);
    } else {
        /* down: forwarded connections are refused at once, naming why */
        for (ssh_forward *f = c->fwds; f; f = f->next)
            pollset_add(sh, f->listen_fd, POLLIN, POLL_FWD, c, f, NULL);
        timeout_min(timeout, c->next_attempt_ms - now);
    }
}

/* Declare the peer dead after keepalive_count_max silent intervals; probe when silent. */
static int check_liveness(ssh_conn *c, long long now)
{
    long long dead_after = (long long)c->keepalive_interval_ms * c->keepalive_count_max;

    if (c->rx.in_packets != c->last_rx_packets) {
        c->last_rx_packets = c->rx.in_packets;
        c->last_rx_ms = now;
    }
    if (now - c->last_rx_ms >= dead_after) {
        connection_lost(c,
                        "host %s (%s): no answer for %lld ms (keepalive); the host or the "
                        "network is down",
                        c->name, c->target, now - c->last_rx_ms);
        return -1;
    }
    if (now - c->last_rx_ms >= c->keepalive_interval_ms &&
        now - c->last_keepalive_ms >= c->keepalive_interval_ms) {
        /* keepalive@openssh.com with want-reply: any answer counts as a sign of life */
        ssh_send_keepalive(c->session);
        c->last_keepalive_ms = now;
    }
    return 0;
}

/* After the poll, while connected: let libssh process packets, pump every channel. */
static void step_connected(ssh_conn *c)
{
    long long now;

    if (ssh_get_fd(c->session) == SSH_INVALID_SOCKET) {
        connection_lost(c, "host %s (%s): connection lost: %s", c->name, c->target,
                        ssh_get_error(c->session));
        return;
    }
    /* only when the socket has something: each dopoll is a poll(2) of its own */
    if (c->is_session_ready)
        ssh_event_dopoll(c->event, 0);
    if (!ssh_is_connected(c->session) ||
        (ssh_get_status(c->session) & (SSH_CLOSED | SSH_CLOSED_ERROR))) {
        const char *why = ssh_get_error(c->session);

        connection_lost(c, "host %s (%s): connection lost: %s", c->name, c->target,
                        why && why[0] ? why : "closed by the server");
        return;
    }
    now = clock_now_ms();
    for (struct chan *ch = c->chans; ch; ch = ch->next) {
        if (ch->is_opening)
            chan_step_open(c, ch, now);
        /* session input may have filled a channel's buffer or opened its window */
        else if (ch->is_open && (ch->is_ready || c->is_session_ready))
            ssh_chan_pump(ch->k);
    }
    chans_reap(c);
    ssh_pump_execs_step(c, now);
    if (check_liveness(c, now) < 0)
        return;
    if (c->watch_socket && c->watch_fd < 0 && !c->is_watch_opening && now >= c->watch_retry_ms)
        chan_start(c, NULL, NULL, -1, c->watch_socket, 1);
}

static void handle_request(ssh_conn *c, struct req *r, int is_stopping)
{
    omlop_err e = OMLOP_ERR_INIT;

    if (!is_stopping && c->login && (r->type == REQ_EXEC || r->type == REQ_OPEN)) {
        r->next = c->parked; /* answered when the login is over */
        c->parked = r;
        return;
    }
    switch (r->type) {
    case REQ_FWD_ADD:
        if (is_stopping) {
            req_fail(c, r, OMLOP_EUNAVAIL, "host %s: connection is closing", c->name);
            return;
        }
        r->fwd->next = c->fwds;
        c->fwds = r->fwd;
        ssh_pump_req_finish(c, r, -1, NULL);
        return;
    case REQ_FWD_DEL:
        fwd_detach(c, r->fwd);
        ssh_pump_req_finish(c, r, -1, NULL);
        return;
    case REQ_EXEC:
        if (is_stopping) {
            req_fail(c, r, OMLOP_EUNAVAIL, "host %s: connection is closing", c->name);
        } else if (c->session) {
            ssh_pump_exec_start(c, r);
        } else {
            unreachable_err(c, &e);
            ssh_pump_req_finish(c, r, -1, &e);
        }
        return;
    case REQ_OPEN:
        if (is_stopping) {
            req_fail(c, r, OMLOP_EUNAVAIL, "host %s: connection is closing", c->name);
        } else if (c->session) {
            chan_start(c, r, NULL, -1, r->path, 0);
        } else {
            unreachable_err(c, &e);
            ssh_pump_req_finish(c, r, -1, &e);
        }
        return;
    }
}

/*
 * Before the poll: take c's requests and start a connection attempt when one is due.
 * Returns 1 when c is being freed: everything is closed, and the shard lets go of it.
 */
static int conn_service(ssh_conn *c, long long now)
{
    struct req *reqs;
    int is_stopping;

    pthread_mutex_lock(&c->lock);
    is_stopping = c->is_stopping;
    reqs = c->req_head;
    c->req_head = c->req_tail = NULL;
    pthread_mutex_unlock(&c->lock);
    if (!is_stopping && !c->session && !c->login && now >= c->next_attempt_ms)
        login_begin(c);
    while (reqs) {
        struct req *r = reqs;

        reqs = r->next;
        r->next = NULL;
        handle_request(c, r, is_stopping);
    }
    if (!is_stopping)
        return 0;
    while (c->parked) {
        struct req *r = c->parked;

        c->parked = r->next;
        req_fail(c, r, OMLOP_EUNAVAIL, "host %s: connection is closing", c->name);
    }
    ssh_login_free(c->login);
    c->login = NULL;
    session_drop(c);
    status_set(c, SSH_CONN_CLOSED, NULL);
    return 1;
}

/* After the poll: move c on. */
static void conn_step(ssh_conn *c, long long now)
{
    if (c->session)
        step_connected(c);
    else if (c->login)
        login_step(c, now);
}

/* --- the shard thread ------------------------------------------------------------------ */

void *ssh_pump_shard_main(void *arg)
{
    struct ssh_shard *sh = arg;

    for (;;) {
        ssh_conn **pp, *added;
        int is_stopping, timeout = TICK_MS;
        long long now = clock_now_ms();

        pthread_mutex_lock(&sh->lock);
        is_stopping = sh->is_stopping;
        added = sh->added;
        sh->added = NULL;
        pthread_mutex_unlock(&sh->lock);
        while (added) {
            ssh_conn *c = added;

            added = c->shard_next;
            c->shard_next = sh->conns;
            sh->conns = c;
        }
        for (pp = &sh->conns; *pp;) {
            ssh_conn *c = *pp;

            if (!conn_service(c, now)) {
                pp = &c->shard_next;
                continue;
            }
            *pp = c->shard_next;
            pthread_mutex_lock(&sh->lock);
            sh->n_conns--;
            pthread_mutex_unlock(&sh->lock);
            /* the last touch: ssh_conn_free may free c as soon as it sees this */
            pthread_mutex_lock(&c->lock);
            c->is_detached = 1;
            pthread_cond_broadcast(&c->cond);
            pthread_mutex_unlock(&c->lock);
        }
        if (is_stopping && !sh->conns)
            break;
        sh->n = 0;
        pollset_add(sh, sh->wake_fd, POLLIN, POLL_WAKE, NULL, NULL, NULL);
        for (ssh_conn *c = sh->conns; c; c = c->shard_next)
            poll_conn(sh, c, now, &timeout);
        if (poll(sh->pfd, sh->n, timeout) < 0 && errno != EINTR)
            log_warn("ssh: poll: %s", strerror(errno));
        if (sh->pfd[0].revents)
            drain_wake(sh);
        for (size_t i = 1; i < sh->n; i++) {
            struct poll_who *w = &sh->who[i];

            if (!sh->pfd[i].revents)
                continue;
            switch (w->kind) {
            case POLL_FWD:
                fwd_accept(w->conn, w->fwd);
                break;
            case POLL_WATCH:
                watch_read(w->conn);
                break;
            case POLL_CHAN:
                w->ch->is_ready = 1;
                break;
            case POLL_SESSION:
                w->conn->is_session_ready = 1;
                break;
            case POLL_LOGIN:
                w->conn->is_login_ready = 1;
                break;
            case POLL_WAKE:
                break;
            }
        }
        now = clock_now_ms();
        for (ssh_conn *c = sh->conns; c; c = c->shard_next)
            conn_step(c, now);
    }
    free(sh->pfd);
    free(sh->who);
    sh->pfd = NULL;
    sh->who = NULL;
    return NULL;
}
