/* ssh_chan: pump one forwarding channel (unix socket or TCP) to a socketpair (see ssh_chan.h). */
#include "clients/ssh_chan.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh/callbacks.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/xalloc.h"

/* Per direction; a couple of SSH packets' worth keeps the pipe full. */
#define PUMP_BUF 65536

struct ssh_chan {
    ssh_channel ch;
    ssh_session session;
    struct ssh_channel_callbacks_struct cb;
    char *path;     /* the unix socket, or "address:port" for messages when tcp_host is set */
    char *tcp_host; /* direct-tcpip: the address the host connects to */
    int tcp_port;
    int is_open;
    int fd; /* our end of the socketpair; -1 before attach */
    unsigned char *tolocal;
    size_t tl_off, tl_len;
    unsigned char *toremote;
    size_t tr_off, tr_len;
    int has_backlog; /* libssh holds data the callback had no room for */
    int is_remote_eof;
    int is_remote_closed;
    int is_local_eof;
    int is_shut_wr;
    int is_finished;
};

static int on_data(ssh_session s, ssh_channel ch, void *data, uint32_t len, int is_stderr, void *ud)
{
    ssh_chan *k = ud;
    size_t room, n;

    (void)s;
    (void)ch;
    if (is_stderr)
        return (int)len; /* stream-local channels have no stderr; drop anything odd */
    if (k->tl_off > 0 && k->tl_off == k->tl_len)
        k->tl_off = k->tl_len = 0;
    if (k->tl_off > 0 && PUMP_BUF - k->tl_len < len) {
        memmove(k->tolocal, k->tolocal + k->tl_off, k->tl_len - k->tl_off);
        k->tl_len -= k->tl_off;
        k->tl_off = 0;
    }
    room = PUMP_BUF - k->tl_len;
    n = len < room ? len : room;
    memcpy(k->tolocal + k->tl_len, data, n);
    k->tl_len += n;
    if (n < len)
        k->has_backlog = 1; /* libssh keeps the rest and stops growing the window */
    return (int)n;
}

static void on_eof(ssh_session s, ssh_channel ch, void *ud)
{
    (void)s;
    (void)ch;
    ((ssh_chan *)ud)->is_remote_eof = 1;
}

static void on_close(ssh_session s, ssh_channel ch, void *ud)
{
    (void)s;
    (void)ch;
    ((ssh_chan *)ud)->is_remote_closed = 1;
}

void ssh_chan_free(ssh_chan *k)
{
    if (!k)
        return;
    if (k->ch) {
        /* libssh may keep the channel until the peer's close arrives: unhook from k first */
        if (k->is_open)
            ssh_remove_channel_callbacks(k->ch, &k->cb);
        if (k->is_open && !k->is_remote_closed)
            ssh_channel_close(k->ch);
        ssh_channel_free(k->ch);
    }
    if (k->fd >= 0)
        close(k->fd);
    free(k->tolocal);
    free(k->toremote);
    free(k->path);
    free(k->tcp_host);
    free(k);
}

int ssh_chan_new(ssh_session session, const char *path, ssh_chan **out, omlop_err *err)
{
    ssh_chan *k = xcalloc(1, sizeof(*k));

    *out = NULL;
    k->fd = -1;
    k->session = session;
    k->path = xstrdup(path);
    k->tolocal = xmalloc(PUMP_BUF);
    k->toremote = xmalloc(PUMP_BUF);
    k->ch = ssh_channel_new(session);
    if (!k->ch) {
        ssh_chan_free(k);
        return omlop_err_set(err, OMLOP_ENOMEM, "cannot allocate a channel");
    }
    *out = k;
    return 0;
}

int ssh_chan_new_tcp(ssh_session session, const char *address, int port, ssh_chan **out,
                     omlop_err *err)
{
    char label[300];
    int rc;

    /* an IPv6 address is bracketed, so the port stays readable */
    snprintf(label, sizeof(label), strchr(address, ':') ? "[%s]:%d" : "%s:%d", address, port);
    rc = ssh_chan_new(session, label, out, err);
    if (rc < 0)
        return rc;
    (*out)->tcp_port = port;
    (*out)->tcp_host = xstrdup(address);
    return 0;
}

int ssh_chan_open_step(ssh_chan *k)
{
    /* on a non-blocking session this sends the request once, then polls for the answer;
     * the originator address is informational only (sshd logs it) */
    int rc = k->tcp_host ? ssh_channel_open_forward(k->ch, k->tcp_host, k->tcp_port, "127.0.0.1", 0)
                         : ssh_channel_open_forward_unix(k->ch, k->path, "127.0.0.1", 0);

    switch (rc) {
    case SSH_OK:
        return 1;
    case SSH_AGAIN:
        return 0;
    default:
        return -1;
    }
}

/* The reason text sshd gave after libssh's "Channel opening failure: ... error (N) ". */
static const char *open_failure_text(const char *msg)
{
    const char *p = strstr(msg, "error (");
    const char *q = p ? strchr(p, ')') : NULL;

    if (!q)
        return msg;
    q++;
    while (*q == ' ')
        q++;
    return *q ? q : msg;
}

/* direct-tcpip: OpenSSH confirms only after its connect() succeeded, so a refusal is final. */
static int tcp_open_error(const ssh_chan *k, const char *host, int reason, const char *msg,
                          omlop_err *err)
{
    if (reason == 1) /* SSH_OPEN_ADMINISTRATIVELY_PROHIBITED */
        return omlop_err_set(err, OMLOP_EPERM,
                             "host %s: sshd refused to open a TCP connection to %s (%s); set "
                             "'AllowTcpForwarding yes' (or 'local') in the host's sshd_config",
                             host, k->path, msg);
    if (reason == 2) /* SSH_OPEN_CONNECT_FAILED */
        return omlop_err_set(err, OMLOP_EUNAVAIL, "host %s: %s refused: %s", host, k->path,
                             open_failure_text(msg));
    return omlop_err_set(err, OMLOP_EUNAVAIL, "host %s: cannot open a TCP connection to %s: %s",
                         host, k->path, msg);
}

int ssh_chan_open_error(const ssh_chan *k, const char *host, omlop_err *err)
{
    const char *msg = ssh_get_error(k->session);
    const char *p = strstr(msg, "error (");
    int reason = p ? atoi(p + 7) : 0;

    if (k->tcp_host)
        return tcp_open_error(k, host, reason, msg, err);

    if (reason == 1) /* SSH_OPEN_ADMINISTRATIVELY_PROHIBITED */
        return omlop_err_set(err, OMLOP_EPERM,
                             "host %s: sshd refused to forward to the unix socket %s (%s); set "
                             "'AllowStreamLocalForwarding yes' in the host's sshd_config",
                             host, k->path, msg);
    if (reason == 2) /* SSH_OPEN_CONNECT_FAILED */
        return omlop_err_set(err, OMLOP_ENOTFOUND,
                             "host %s: cannot connect to the Podman socket %s on the host (%s): "
                             "is the Podman service running there (systemctl enable --now "
                             "podman.socket) and is the socket path right (--socket / "
                             "hosts[].podmanSocket)?",
                             host, k->path, msg);
    return omlop_err_set(err, OMLOP_EUNAVAIL, "host %s: cannot open a channel to %s: %s", host,
                         k->path, msg);
}

/* Start pumping between the open channel and fd (non-blocking, ours from now on). */
static void start_pumping(ssh_chan *k, int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    k->fd = fd;
    k->is_open = 1;
    k->has_backlog = 1; /* anything that arrived before the callbacks were set */
    ssh_callbacks_init(&k->cb);
    k->cb.userdata = k;
    k->cb.channel_data_function = on_data;
    k->cb.channel_eof_function = on_eof;
    k->cb.channel_close_function = on_close;
    ssh_set_channel_callbacks(k->ch, &k->cb);
}

int ssh_chan_attach(ssh_chan *k, int *peer_fd, omlop_err *err)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return omlop_err_set(err, OMLOP_EIO, "socketpair: %s", strerror(errno));
    start_pumping(k, sv[0]);
    *peer_fd = sv[1];
    return 0;
}

void ssh_chan_adopt(ssh_chan *k, int fd)
{
    start_pumping(k, fd);
}

/* Take data libssh kept back into the (empty) local buffer. */
static void take_backlog(ssh_chan *k)
{
    unsigned char tmp[PUMP_BUF];
    int n;

    k->tl_off = k->tl_len = 0;
    n = ssh_channel_read_nonblocking(k->ch, tmp, sizeof(tmp), 0);
    if (n > 0) {
        /* the read may have run our callback, which appended first; keep the order */
        size_t room = PUMP_BUF - k->tl_len;

        if ((size_t)n > room) {
            k->is_finished = 1; /* cannot happen: tmp is no bigger than the buffer */
            return;
        }
        memcpy(k->tolocal + k->tl_len, tmp, (size_t)n);
        k->tl_len += (size_t)n;
    } else if (n == SSH_EOF) {
        k->has_backlog = 0;
        k->is_remote_eof = 1;
    } else if (n == 0) {
        k->has_backlog = 0;
    } else {
        k->is_finished = 1;
    }
}

/* Write buffered channel data to the local end; 0 when it would block, -1 when gone. */
static int flush_local(ssh_chan *k)
{
    while (k->tl_off < k->tl_len) {
        ssize_t w =
            send(k->fd, k->tolocal + k->tl_off, k->tl_len - k->tl_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0)
            k->tl_off += (size_t)w;
        else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        else
            return -1;
    }
    k->tl_off = k->tl_len = 0;
    return 0;
}

void ssh_chan_pump(ssh_chan *k)
{
    if (!k->is_open || k->is_finished)
        return;
    /* channel -> local: a few rounds so a large backlog drains without a poll in between */
    for (int round = 0; round < 4; round++) {
        if (k->has_backlog && k->tl_len == k->tl_off)
            take_backlog(k);
        if (k->is_finished)
            return;
        if (flush_local(k) < 0) {
            k->is_finished = 1; /* the local side is gone */
            return;
        }
        if (!(k->has_backlog && k->tl_len == 0))
            break;
    }
    if ((k->is_remote_eof || k->is_remote_closed) && k->tl_len == 0 && !k->has_backlog &&
        !k->is_shut_wr) {
        shutdown(k->fd, SHUT_WR);
        k->is_shut_wr = 1;
    }
    /* local -> channel */
    if (k->tr_off == k->tr_len && !k->is_local_eof) {
        ssize_t r = recv(k->fd, k->toremote, PUMP_BUF, MSG_DONTWAIT);

        k->tr_off = k->tr_len = 0;
        if (r > 0)
            k->tr_len = (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            k->is_local_eof = 1;
    }
    if (k->tr_off < k->tr_len && !k->is_remote_closed) {
        /* non-blocking: writes what the peer's window allows, maybe nothing */
        int w =
            ssh_channel_write(k->ch, k->toremote + k->tr_off, (uint32_t)(k->tr_len - k->tr_off));
        if (w < 0) {
            k->is_finished = 1;
            return;
        }
        k->tr_off += (size_t)w;
    }
    /* The caller closed its end (HTTP clients never half-close): nobody reads the rest. */
    if (k->is_local_eof && (k->tr_off == k->tr_len || k->is_remote_closed))
        k->is_finished = 1;
    if (k->is_remote_closed && k->is_shut_wr)
        k->is_finished = 1;
}

int ssh_chan_poll_fd(const ssh_chan *k, short *events)
{
    *events = 0;
    if (!k->is_open || k->is_finished)
        return -1;
    if (k->tl_off < k->tl_len)
        *events |= POLLOUT;
    if (k->tr_off == k->tr_len && !k->is_local_eof)
        *events |= POLLIN;
    return k->fd;
}

int ssh_chan_has_backlog(const ssh_chan *k)
{
    return k->is_open && k->has_backlog && k->tl_len == k->tl_off;
}

int ssh_chan_is_finished(const ssh_chan *k)
{
    return k->is_finished;
}

const char *ssh_chan_path(const ssh_chan *k)
{
    return k->path;
}
