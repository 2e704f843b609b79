/*
 * ssh_exec: one command run on the host in a session channel ("exec"), the
 * pump's side of ssh_conn_exec (clients/ssh.h).
 *
 * A small state machine driven without blocking: open a session channel,
 * request exec, then stream stdin from a buffer as the peer's window allows,
 * send EOF, and collect stdout, stderr and the exit status (through libssh's
 * channel callbacks, so nothing is left inside libssh) until the peer closes
 * the channel. Output beyond max_out per stream is dropped and flagged; the
 * window keeps growing, so a chatty command never stalls.
 *
 * Not thread-safe: only the pump thread that drives the session calls these
 * functions, on a non-blocking session. Nothing outside clients/ssh*.c
 * includes this header.
 */
#ifndef OMLOP_SSH_EXEC_H
#define OMLOP_SSH_EXEC_H

#include <libssh/libssh.h>
#include <stddef.h>

#include "clients/ssh.h"
#include "lib/err.h"

typedef struct ssh_exec ssh_exec;

/*
 * Start running command; in[0..in_len) is borrowed and must stay valid until
 * ssh_exec_free. max_out caps each of stdout and stderr.
 */
int ssh_exec_new(ssh_session session, const char *command, const void *in, size_t in_len,
                 size_t max_out, ssh_exec **out, omlop_err *err);

/* Move it on as far as it goes now: 1 when finished (ran, or failed), 0 while running. */
int ssh_exec_step(ssh_exec *x);

/* Whether the channel was opened (it then counts as an open channel of the connection). */
int ssh_exec_is_open(const ssh_exec *x);

/* Ask the host to end the command (SIGTERM, where sshd allows it); free closes the channel. */
void ssh_exec_cancel(ssh_exec *x);

/*
 * Move what was collected so far into res (exit status, output); returns 0, or
 * the error that ended it early (in *err; the caller prefixes the host).
 */
int ssh_exec_take_result(ssh_exec *x, ssh_exec_result *res, omlop_err *err);

/* Close the channel and free; NULL is fine. */
void ssh_exec_free(ssh_exec *x);

#endif
