/*
 * ssh_chan: one forwarding channel joined to one end of a socketpair: either
 * direct-streamlocal (a unix socket on the host, e.g. Podman's) or
 * direct-tcpip (address:port as seen from the host, e.g. a readiness probe).
 *
 * The channel's bytes are copied to the socketpair and back, through bounded
 * buffers, without blocking: when the local reader is slow the channel's
 * window stops growing and the peer waits; when the peer's window is full
 * nothing more is read from the local end. EOF from the peer becomes a
 * shutdown(SHUT_WR) of the local end after the data drained; EOF or an error
 * on the local end (the caller closed its fd) closes the channel.
 *
 * Not thread-safe: only the thread that drives the session (clients/ssh's
 * pump) calls these functions, on a non-blocking session.
 */
#ifndef OMLOP_SSH_CHAN_H
#define OMLOP_SSH_CHAN_H

#include <libssh/libssh.h>

#include "lib/err.h"

typedef struct ssh_chan ssh_chan;

/* Start opening a channel to the unix socket path on the host; see ssh_chan_open_step. */
int ssh_chan_new(ssh_session session, const char *path, ssh_chan **out, omlop_err *err);

/* The same for a TCP connection from the host to address:port (direct-tcpip). */
int ssh_chan_new_tcp(ssh_session session, const char *address, int port, ssh_chan **out,
                     omlop_err *err);

/* Drive the open: 1 opened, 0 still waiting for the server, -1 refused or failed. */
int ssh_chan_open_step(ssh_chan *k);

/*
 * Why the open failed, as an error naming host and socket (or address:port),
 * with a hint for the usual causes (no socket there, nothing listening on the
 * port; sshd forbids stream-local or TCP forwarding).
 */
int ssh_chan_open_error(const ssh_chan *k, const char *host, omlop_err *err);

/* After the open: make the socketpair; *peer_fd is the caller's (blocking) end. */
int ssh_chan_attach(ssh_chan *k, int *peer_fd, omlop_err *err);

/* After the open: pump to fd (a connection accepted by a forward), which k now owns. */
void ssh_chan_adopt(ssh_chan *k, int fd);

/* Move what can move now in both directions; may mark the channel finished. */
void ssh_chan_pump(ssh_chan *k);

/* The local fd to poll (-1 if none) and the events it waits for in *events. */
int ssh_chan_poll_fd(const ssh_chan *k, short *events);

/* Whether data already waits inside libssh, so the caller should not sleep. */
int ssh_chan_has_backlog(const ssh_chan *k);

/* Whether the channel is done (both sides closed, or failed) and can be freed. */
int ssh_chan_is_finished(const ssh_chan *k);

/* The socket path or "address:port", for messages. */
const char *ssh_chan_path(const ssh_chan *k);

/* Close the channel (and the local end) and free; NULL is fine. */
void ssh_chan_free(ssh_chan *k);

#endif
