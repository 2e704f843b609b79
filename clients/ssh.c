/*
 * ssh: the callers' side of a host connection (see ssh.h): create and free
 * it, read its status, queue requests for its pump thread (ssh_pump.c) and
 * wait for the answers, and the forwards' local sockets.
 */
#include "clients/ssh.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clients/ssh_pump.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* --- pure helpers --------------------------------------------------------------------- */

long ssh_backoff_delay_ms(unsigned attempt, long initial_ms, long max_ms, double jitter01)
{
    long d = initial_ms > 0 ? initial_ms : 1;

    if (max_ms < d)
        max_ms = d;
    for (unsigned i = 1; i < attempt && d < max_ms; i++)
        d = d > max_ms / 2 ? max_ms : d * 2;
    if (jitter01 < 0)
        jitter01 = 0;
    if (jitter01 >= 1)
        jitter01 = 0.999999;
    /* "equal jitter": never less than half the delay, so retries still back off */
    return d / 2 + (long)((double)(d - d / 2) * jitter01);
}

const char *ssh_conn_state_name(ssh_conn_state s)
{
    switch (s) {
    case SSH_CONN_CONNECTING:
        return "connecting";
    case SSH_CONN_CONNECTED:
        return "connected";
    case SSH_CONN_DOWN:
        return "unreachable";
    case SSH_CONN_CLOSED:
        return "closed";
    }
    return "?";
}

const char *ssh_hostkey_verdict_text(ssh_hostkey_verdict v)
{
    switch (v) {
    case SSH_HOSTKEY_UNCHECKED:
        return "not checked yet";
    case SSH_HOSTKEY_MATCHED_ENTRY:
        return "verified: matches the expected host key";
    case SSH_HOSTKEY_MATCHED_FILE:
        return "verified: found in known_hosts";
    case SSH_HOSTKEY_TOFU_RECORDED:
        return "NOT verified: trusted on first use and recorded";
    case SSH_HOSTKEY_TOFU_MATCHED:
        return "matches the key trusted on first use";
    case SSH_HOSTKEY_UNKNOWN:
        return "REFUSED: unknown host key";
    case SSH_HOSTKEY_CHANGED:
        return "REFUSED: host key differs from the expected one";
    }
    return "?";
}

/* --- status ---------------------------------------------------------------------------- */

void ssh_conn_get_status(ssh_conn *c, ssh_conn_status *st)
{
    pthread_mutex_lock(&c->lock);
    *st = c->st;
    pthread_mutex_unlock(&c->lock);
    if (st->state == SSH_CONN_DOWN) {
        /* next_retry_ms is stored as an absolute monotonic time; report the remainder */
        long long left = st->next_retry_ms - clock_now_ms();
        st->next_retry_ms = left > 0 ? (long)left : 0;
    } else {
        st->next_retry_ms = 0;
    }
}

const char *ssh_conn_name(const ssh_conn *c)
{
    return c->name;
}

const char *ssh_conn_target(const ssh_conn *c)
{
    return c->target;
}

/* --- requests --------------------------------------------------------------------------- */

/*
 * Queue r for the pump and wait for the answer. With wait_ms < 0 wait as long
 * as it takes (the pump always answers: its blocking steps have timeouts).
 * Returns 0 when answered (r is the caller's to free), or an error after which
 * r belongs to the pump.
 */
static int req_submit(ssh_conn *c, struct req *r, long wait_ms, omlop_err *err)
{
    struct timespec ts;

    if (wait_ms >= 0)
        clock_deadline_after(&ts, wait_ms);
    pthread_mutex_lock(&c->lock);
    if (c->is_stopping) {
        pthread_mutex_unlock(&c->lock);
        ssh_pump_req_free(r);
        return omlop_err_set(err, OMLOP_EUNAVAIL, "host %s: connection is closing", c->name);
    }
    if (c->req_tail)
        c->req_tail->next = r;
    else
        c->req_head = r;
    c->req_tail = r;
    pthread_mutex_unlock(&c->lock);
    ssh_pump_wake(c);
    pthread_mutex_lock(&c->lock);
    while (!r->is_done) {
        if (wait_ms < 0)
            pthread_cond_wait(&c->cond, &c->lock);
        else if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
            break;
    }
    if (!r->is_done) {
        r->is_abandoned = 1;
        pthread_mutex_unlock(&c->lock);
        return omlop_err_set(err, OMLOP_ETIMEOUT, "host %s: no answer from the SSH thread",
                             c->name);
    }
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* --- public lifecycle ----------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static int positive_or(int v, int def)
{
    return v > 0 ? v : def;
}

/* --- loops ----------------------------------------------------------------------------- */

int ssh_loop_threads(const ssh_loop *l)
{
    return l->n;
}

void ssh_loop_free(ssh_loop *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->n; i++) {
        struct ssh_shard *sh = &l->shards[i];
        uint64_t one = 1;

        if (!sh->has_thread)
            continue;
        pthread_mutex_lock(&sh->lock);
        sh->is_stopping = 1;
        pthread_mutex_unlock(&sh->lock);
        if (write(sh->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            log_warn("ssh: wake write failed: %s", strerror(errno));
        pthread_join(sh->thread, NULL);
    }
    for (int i = 0; i < l->n; i++) {
        if (l->shards[i].wake_fd >= 0)
            close(l->shards[i].wake_fd);
        pthread_mutex_destroy(&l->shards[i].lock);
    }
    free(l->shards);
    free(l);
}

int ssh_loop_new(int n, ssh_loop **out, omlop_err *err)
{
    ssh_loop *l = xcalloc(1, sizeof(*l));

    *out = NULL;
    if (n <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        n = cpus > 0 ? (int)cpus : 1;
    }
    l->shards = xcalloc((size_t)n, sizeof(*l->shards));
    l->n = n;
    for (int i = 0; i < n; i++) {
        l->shards[i].loop = l;
        l->shards[i].wake_fd = -1;
        pthread_mutex_init(&l->shards[i].lock, NULL);
    }
    for (int i = 0; i < n; i++) {
        struct ssh_shard *sh = &l->shards[i];

        sh->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (sh->wake_fd < 0) {
            int e = errno;

            ssh_loop_free(l);
            return omlop_err_set(err, OMLOP_EIO, "ssh: eventfd: %s", strerror(e));
        }
        if (pthread_create(&sh->thread, NULL, ssh_pump_shard_main, sh) != 0) {
            ssh_loop_free(l);
            return omlop_err_set(err, OMLOP_EIO, "ssh: cannot start pump thread %d", i);
        }
        sh->has_thread = 1;
    }
    *out = l;
    return 0;
}

/* Hand c to the shard with the fewest connections. */
static void loop_attach(ssh_loop *l, ssh_conn *c)
{
    /* ssh_loop_new makes at least one shard */
    struct ssh_shard *best = &l->shards[0];
    size_t least = SIZE_MAX;

    for (int i = 0; i < l->n; i++) {
        struct ssh_shard *sh = &l->shards[i];
        size_t n;

        pthread_mutex_lock(&sh->lock);
        n = sh->n_conns;
        pthread_mutex_unlock(&sh->lock);
        if (n < least) {
            best = sh;
            least = n;
        }
    }
    c->shard = best;
    pthread_mutex_lock(&best->lock);
    c->shard_next = best->added;
    best->added = c;
    best->n_conns++;
    pthread_mutex_unlock(&best->lock);
    c->is_attached = 1;
    ssh_pump_wake(c);
}

void ssh_conn_free(ssh_conn *c)
{
    if (!c)
        return;
    if (c->fwds)
        log_error("host=%s ssh: bug: connection freed before its forwards", c->name);
    if (c->is_attached) {
        pthread_mutex_lock(&c->lock);
        c->is_stopping = 1;
        pthread_mutex_unlock(&c->lock);
        ssh_pump_wake(c);
        pthread_mutex_lock(&c->lock);
        while (!c->is_detached)
            pthread_cond_wait(&c->cond, &c->lock);
        pthread_mutex_unlock(&c->lock);
    }
    ssh_loop_free(c->own_loop);
    ssh_key_free(c->tofu_key);
    ssh_key_free(c->data_key);
    ssh_key_free(c->file_key);
    ssh_keys_hostset_release(&c->entry_keys);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c->name);
    free(c->address);
    free(c->user);
    free(c->target);
    free(c->known_hosts_file);
    free(c->file_key_path);
    free(c->watch_socket);
    free(c);
}

int ssh_conn_new(const ssh_host_config *cfg, ssh_conn **out, omlop_err *err)
{
    ssh_conn *c;
    pthread_condattr_t ca;
    strbuf target = STRBUF_INIT;
    int rc;

    *out = NULL;
    if (!cfg->address || !cfg->address[0])
        return omlop_err_set(err, OMLOP_EINVAL, "host %s: no SSH address given",
                             cfg->name ? cfg->name : "?");
    if (cfg->port < 0 || cfg->port > 65535)
        return omlop_err_set(err, OMLOP_EINVAL, "host %s: SSH port %d is not in 1-65535",
                             cfg->name ? cfg->name : cfg->address, cfg->port);
    c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    c->name = xstrdup(cfg->name && cfg->name[0] ? cfg->name : cfg->address);
    c->address = xstrdup(cfg->address);
    c->user = xstrdup(cfg->user && cfg->user[0] ? cfg->user : SSH_DEFAULT_USER);
    c->port = cfg->port ? cfg->port : SSH_DEFAULT_PORT;
    c->known_hosts_file = dup_or_null(cfg->known_hosts_file);
    c->is_tofu = cfg->is_tofu;
    c->is_spec_advice = cfg->is_spec_advice;
    c->use_agent = cfg->use_agent;
    c->connect_timeout_ms = positive_or(cfg->connect_timeout_ms, 10000);
    c->keepalive_interval_ms = positive_or(cfg->keepalive_interval_ms, 10000);
    c->keepalive_count_max = positive_or(cfg->keepalive_count_max, 3);
    c->backoff_initial_ms = positive_or(cfg->backoff_initial_ms, 500);
    c->backoff_max_ms = positive_or(cfg->backoff_max_ms, 30000);
    c->open_timeout_ms = positive_or(cfg->open_timeout_ms, 10000);
    c->on_state = cfg->on_state;
    c->state_ud = cfg->state_ud;
    c->watch_fd = -1;
    c->watch_backoff_ms = SSH_WATCH_BACKOFF_MS;
    if (cfg->watch_socket && cfg->watch_ops) {
        if (cfg->watch_socket[0] != '/') {
            rc = omlop_err_set(err, OMLOP_EINVAL, "socket path '%s' must be absolute",
                               cfg->watch_socket);
            goto prefixed;
        }
        c->watch_socket = xstrdup(cfg->watch_socket);
        c->watch = *cfg->watch_ops;
    }
    if (strchr(c->address, ':'))
        strbuf_addf(&target, "%s@[%s]:%d", c->user, c->address, c->port);
    else
        strbuf_addf(&target, "%s@%s:%d", c->user, c->address, c->port);
    c->target = strbuf_detach(&target, NULL);
    c->st.state = SSH_CONN_CONNECTING;
    c->st.since = time(NULL);
    c->rand_state = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)c;
    if (cfg->host_key && cfg->host_key[0]) {
        rc = ssh_keys_hostset_parse(cfg->host_key, &c->entry_keys, err);
        if (rc < 0)
            goto prefixed;
    }
    if (cfg->identity_data && cfg->identity_data[0]) {
        rc = ssh_keys_load_text(cfg->identity_data, "identity key", &c->data_key, err);
        if (rc < 0)
            goto prefixed;
    }
    if (cfg->identity_file && cfg->identity_file[0]) {
        c->file_key_path = xstrdup(cfg->identity_file);
        rc = ssh_keys_load_file(cfg->identity_file, &c->file_key, err);
        if (rc < 0)
            goto prefixed;
    }
    if (!cfg->loop) {
        rc = ssh_loop_new(1, &c->own_loop, err);
        if (rc < 0)
            goto prefixed;
    }
    loop_attach(cfg->loop ? cfg->loop : c->own_loop, c);
    *out = c;
    return 0;
prefixed:
    omlop_err_prefix(err, "host %s: ", c->name);
    ssh_conn_free(c);
    return rc;
}

int ssh_conn_wait_connected(ssh_conn *c, int timeout_ms, omlop_err *err)
{
    struct timespec ts;
    int rc = 0;

    clock_deadline_after(&ts, timeout_ms);
    pthread_mutex_lock(&c->lock);
    while (c->st.state == SSH_CONN_CONNECTING) {
        if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
            break;
    }
    switch (c->st.state) {
    case SSH_CONN_CONNECTED:
        break;
    case SSH_CONN_CONNECTING:
        rc = omlop_err_set(err, OMLOP_ETIMEOUT, "host %s (%s): not connected within %d ms", c->name,
                           c->target, timeout_ms);
        break;
    default:
        /* last_error names the host already: the layer that failed wrote it (lib/err.h) */
        if (c->st.last_error[0])
            rc = omlop_err_set(err, c->st.last_error_code ? c->st.last_error_code : OMLOP_EUNAVAIL,
                               "%s", c->st.last_error);
        else
            rc = omlop_err_set(err, OMLOP_EUNAVAIL, "host %s (%s): not connected", c->name,
                               c->target);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static struct req *req_new(enum req_type type, const char *path, ssh_forward *f)
{
    struct req *r = xcalloc(1, sizeof(*r));

    r->type = type;
    r->fd = -1;
    r->fwd = f;
    r->path = xstrdup(path);
    return r;
}

/* Submit an open request r (taken) and hand out the channel's fd. */
static int open_channel(ssh_conn *c, struct req *r, int *fd, omlop_err *err)
{
    /* the pump answers within connect + open timeouts; the slack only guards against bugs */
    int rc = req_submit(c, r, (long)c->connect_timeout_ms + c->open_timeout_ms + 5000, err);

    if (rc < 0)
        return rc;
    if (r->fd >= 0) {
        *fd = r->fd;
        rc = 0;
    } else {
        rc = omlop_err_set(err, r->err.code ? r->err.code : OMLOP_EINTERNAL, "%s", r->err.msg);
    }
    ssh_pump_req_free(r);
    return rc;
}

int ssh_conn_open_streamlocal(ssh_conn *c, const char *socket_path, int *fd, omlop_err *err)
{
    struct req *r;

    *fd = -1;
    if (!socket_path || socket_path[0] != '/')
        return omlop_err_set(err, OMLOP_EINVAL, "host %s: socket path '%s' must be absolute",
                             c->name, socket_path ? socket_path : "");
    r = req_new(REQ_OPEN, socket_path, NULL);
    return open_channel(c, r, fd, err);
}

int ssh_conn_open_tcp(ssh_conn *c, const char *address, int port, int *fd, omlop_err *err)
{
    struct req *r;

    *fd = -1;
    if (!address || !address[0] || strpbrk(address, " \t\r\n"))
        return omlop_err_set(err, OMLOP_EINVAL, "host %s: TCP address '%s' is not valid", c->name,
                             address ? address : "");
    if (port < 1 || port > 65535)
        return omlop_err_set(err, OMLOP_EINVAL, "host %s: TCP port %d of %s is not in 1-65535",
                             c->name, port, address);
    r = req_new(REQ_OPEN, NULL, NULL);
    r->address = xstrdup(address);
    r->port = port;
    return open_channel(c, r, fd, err);
}

/* --- commands ------------------------------------------------------------------------- */

#define EXEC_DEFAULT_MAX_OUT    (64 * 1024)
#define EXEC_DEFAULT_TIMEOUT_MS 30000

void ssh_exec_result_release(ssh_exec_result *r)
{
    if (!r)
        return;
    strbuf_release(&r->out);
    strbuf_release(&r->err_out);
    r->exit_status = -1;
    r->is_truncated = 0;
}

int ssh_conn_exec(ssh_conn *c, const char *command, const void *in, size_t in_len, size_t max_out,
                  int timeout_ms, ssh_exec_result *res, omlop_err *err)
{
    struct req *r;
    int rc;

    memset(res, 0, sizeof(*res));
    res->exit_status = -1;
    if (!command || !command[0])
        return omlop_err_set(err, OMLOP_EINVAL, "host %s: no command to run", c->name);
    r = req_new(REQ_EXEC, NULL, NULL);
    r->command = xstrdup(command);
    /* a copy: if this caller gave up waiting, the pump would still be reading it */
    if (in && in_len)
        r->in = xmalloc(in_len);
    if (r->in)
        memcpy(r->in, in, in_len);
    r->in_len = r->in ? in_len : 0;
    r->max_out = max_out ? max_out : EXEC_DEFAULT_MAX_OUT;
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : EXEC_DEFAULT_TIMEOUT_MS;
    r->res.exit_status = -1;
    /* the pump enforces timeout_ms itself (closing the channel); a connect attempt in
     * progress may delay the start, and the slack only guards against bugs */
    rc = req_submit(c, r, (long)c->connect_timeout_ms + r->timeout_ms + 5000, err);
    if (rc < 0)
        return rc;
    *res = r->res;
    memset(&r->res, 0, sizeof(r->res));
    rc = r->err.code ? omlop_err_set(err, r->err.code, "%s", r->err.msg) : 0;
    ssh_pump_req_free(r);
    return rc;
}

/* --- forwards ------------------------------------------------------------------------- */

static void fwd_destroy(ssh_forward *f)
{
    if (f->listen_fd >= 0)
        close(f->listen_fd);
    if (f->local_path)
        unlink(f->local_path);
    if (f->dir)
        rmdir(f->dir);
    free(f->dir);
    free(f->local_path);
    free(f->remote_path);
    free(f);
}

static int fwd_listen(ssh_forward *f, omlop_err *err)
{
    const char *tmp = getenv("TMPDIR");
    struct sockaddr_un sa;
    strbuf sb = STRBUF_INIT;

    strbuf_addf(&sb, "%s/omlop-fwd-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    f->dir = strbuf_detach(&sb, NULL);
    /* mkdtemp makes it 0700: only this user can reach the forwarded socket */
    if (!mkdtemp(f->dir)) {
        int e = errno;

        free(f->dir);
        f->dir = NULL;
        return omlop_err_set(err, OMLOP_EIO,
                             "cannot create a private directory for the "
                             "forwarded socket: %s",
                             strerror(e));
    }
    strbuf_addf(&sb, "%s/s", f->dir);
    f->local_path = strbuf_detach(&sb, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(f->local_path) >= sizeof(sa.sun_path))
        return omlop_err_set(err, OMLOP_EINVAL, "forward socket path %s is too long",
                             f->local_path);
    memcpy(sa.sun_path, f->local_path, strlen(f->local_path));
    f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(f->listen_fd, 128) != 0)
        return omlop_err_set(err, OMLOP_EIO, "cannot listen on %s: %s", f->local_path,
                             strerror(errno));
    return 0;
}

int ssh_forward_new(ssh_conn *c, const char *remote_path, ssh_forward **out, omlop_err *err)
{
    ssh_forward *f;
    struct req *r;
    int rc;

    *out = NULL;
    if (!remote_path || remote_path[0] != '/')
        return omlop_err_set(err, OMLOP_EINVAL, "host %s: socket path '%s' must be absolute",
                             c->name, remote_path ? remote_path : "");
    f = xcalloc(1, sizeof(*f));
    f->conn = c;
    f->listen_fd = -1;
    f->remote_path = xstrdup(remote_path);
    rc = fwd_listen(f, err);
    if (rc < 0) {
        fwd_destroy(f);
        return omlop_err_prefix(err, "host %s: ", c->name);
    }
    r = req_new(REQ_FWD_ADD, NULL, f);
    rc = req_submit(c, r, -1, err);
    if (rc < 0) {
        fwd_destroy(f); /* not queued: the connection is closing (r is gone too) */
        return rc;
    }
    if (r->err.code) {
        rc = omlop_err_set(err, r->err.code, "%s", r->err.msg);
        fwd_destroy(f);
    } else {
        *out = f;
    }
    ssh_pump_req_free(r);
    return rc;
}

void ssh_forward_free(ssh_forward *f)
{
    struct req *r;

    if (!f)
        return;
    r = req_new(REQ_FWD_DEL, NULL, f);
    if (r && req_submit(f->conn, r, -1, NULL) == 0)
        ssh_pump_req_free(r);
    /* on failure the conn is closing: its pump no longer looks at forwards */
    fwd_destroy(f);
}

const char *ssh_forward_local_path(const ssh_forward *f)
{
    return f->local_path;
}

unsigned long ssh_forward_error_seq(ssh_forward *f)
{
    unsigned long seq;

    pthread_mutex_lock(&f->conn->lock);
    seq = f->err_seq;
    pthread_mutex_unlock(&f->conn->lock);
    return seq;
}

int ssh_forward_last_error(ssh_forward *f, unsigned long since_seq, omlop_err *err)
{
    int is_newer;

    pthread_mutex_lock(&f->conn->lock);
    is_newer = f->err_seq != since_seq;
    if (is_newer && err)
        *err = f->last_err;
    pthread_mutex_unlock(&f->conn->lock);
    return is_newer;
}
