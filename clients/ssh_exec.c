/*
 * ssh_exec: run one command in a session channel (see ssh_exec.h), and the
 * pump's list of running commands: start, deadlines, answers (ssh_pump.h).
 */
#include "clients/ssh_exec.h"

#include <libssh/callbacks.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clients/ssh_pump.h"
#include "lib/clock.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

/* stdin goes out in pieces of this size; the peer's window bounds what one round sends */
#define STDIN_CHUNK 32768

enum exec_state { EXEC_OPENING, EXEC_REQUESTING, EXEC_RUNNING, EXEC_DONE };

struct ssh_exec {
    ssh_channel ch;
    ssh_session session;
    struct ssh_channel_callbacks_struct cb;
    char *command;
    const unsigned char *in; /* borrowed (see ssh_exec_new) */
    size_t in_len, in_off;
    size_t max_out;
    enum exec_state state;
    int is_opened;
    int is_eof_sent;
    int is_remote_closed;
    int exit_status; /* -1 until an exit-status arrives */
    int is_truncated;
    strbuf out;
    strbuf err_out;
    omlop_err fail; /* code != 0: why it ended early */
};

static int on_data(ssh_session s, ssh_channel ch, void *data, uint32_t len, int is_stderr, void *ud)
{
    ssh_exec *x = ud;
    strbuf *sb = is_stderr ? &x->err_out : &x->out;
    size_t room = x->max_out > sb->len ? x->max_out - sb->len : 0;
    size_t n = len < room ? len : room;

    (void)s;
    (void)ch;
    if (n)
        strbuf_add(sb, data, n);
    if (n < len)
        x->is_truncated = 1;
    /* all of it counts as consumed, so libssh keeps the window open and keeps nothing */
    return (int)len;
}

static void on_close(ssh_session s, ssh_channel ch, void *ud)
{
    (void)s;
    (void)ch;
    ((ssh_exec *)ud)->is_remote_closed = 1;
}

static void on_exit_status(ssh_session s, ssh_channel ch, int status, void *ud)
{
    (void)s;
    (void)ch;
    ((ssh_exec *)ud)->exit_status = status;
}

void ssh_exec_free(ssh_exec *x)
{
    if (!x)
        return;
    if (x->ch) {
        /* libssh may keep the channel until the peer's close arrives: unhook from x first */
        ssh_remove_channel_callbacks(x->ch, &x->cb);
        if (ssh_channel_is_open(x->ch) && !x->is_remote_closed)
            ssh_channel_close(x->ch);
        ssh_channel_free(x->ch);
    }
    strbuf_release(&x->out);
    strbuf_release(&x->err_out);
    free(x->command);
    free(x);
}

int ssh_exec_new(ssh_session session, const char *command, const void *in, size_t in_len,
                 size_t max_out, ssh_exec **out, omlop_err *err)
{
    ssh_exec *x = xcalloc(1, sizeof(*x));

    *out = NULL;
    x->session = session;
    x->in = in;
    x->in_len = in ? in_len : 0;
    x->max_out = max_out;
    x->exit_status = -1;
    x->command = xstrdup(command);
    x->ch = ssh_channel_new(session);
    if (!x->ch) {
        ssh_exec_free(x);
        return omlop_err_set(err, OMLOP_ENOMEM, "cannot allocate a channel");
    }
    /* hooked before the open, so no output can arrive unseen */
    ssh_callbacks_init(&x->cb);
    x->cb.userdata = x;
    x->cb.channel_data_function = on_data;
    x->cb.channel_close_function = on_close;
    x->cb.channel_exit_status_function = on_exit_status;
    ssh_set_channel_callbacks(x->ch, &x->cb);
    *out = x;
    return 0;
}

static int exec_fail(ssh_exec *x, int code, const char *what)
{
    omlop_err_set(&x->fail, code, "%s: %s", what, ssh_get_error(x->session));
    x->state = EXEC_DONE;
    return 1;
}

/* Send as much of stdin as the peer's window takes, then EOF once all of it went. */
static int feed_stdin(ssh_exec *x)
{
    while (x->in_off < x->in_len && !x->is_remote_closed) {
        size_t left = x->in_len - x->in_off;
        int w = ssh_channel_write(x->ch, x->in + x->in_off,
                                  (uint32_t)(left < STDIN_CHUNK ? left : STDIN_CHUNK));

        if (w < 0) {
            /* the command ended without reading all of its input: not our failure */
            if (x->is_remote_closed || ssh_channel_is_closed(x->ch))
                return 0;
            return -1;
        }
        if (w == 0)
            return 0; /* the window is full: more once the peer adjusts it */
        x->in_off += (size_t)w;
    }
    if (x->in_off == x->in_len && !x->is_eof_sent && !x->is_remote_closed) {
        if (ssh_channel_send_eof(x->ch) == SSH_ERROR)
            return -1;
        x->is_eof_sent = 1;
    }
    return 0;
}

int ssh_exec_step(ssh_exec *x)
{
    int rc;

    if (x->state == EXEC_OPENING) {
        rc = ssh_channel_open_session(x->ch);
        if (rc == SSH_AGAIN)
            return 0;
        /* e.g. sshd's MaxSessions reached: retryable */
        if (rc != SSH_OK)
            return exec_fail(x, OMLOP_EUNAVAIL, "cannot open a session channel");
        x->is_opened = 1;
        x->state = EXEC_REQUESTING;
    }
    if (x->state == EXEC_REQUESTING) {
        rc = ssh_channel_request_exec(x->ch, x->command);
        if (rc == SSH_AGAIN)
            return 0;
        if (rc != SSH_OK)
            return exec_fail(x, OMLOP_EPROTO, "sshd refused to run the command");
        x->state = EXEC_RUNNING;
    }
    if (x->state == EXEC_RUNNING) {
        if (feed_stdin(x) < 0)
            return exec_fail(x, OMLOP_EIO, "cannot send the command's input");
        if (x->is_remote_closed)
            x->state = EXEC_DONE;
    }
    return x->state == EXEC_DONE;
}

int ssh_exec_is_open(const ssh_exec *x)
{
    return x->is_opened;
}

void ssh_exec_cancel(ssh_exec *x)
{
    /* OpenSSH delivers a "signal" request to the session's process group, but only for
     * sessions in a privilege-separated child, i.e. not for root logins (sshd logs "session
     * signalling requires privilege separation"). Either way the channel closes next, which
     * closes the command's stdio, so only a command that touches none of it runs on. */
    if (x->state == EXEC_RUNNING && !x->is_remote_closed)
        ssh_channel_request_send_signal(x->ch, "TERM");
}

int ssh_exec_take_result(ssh_exec *x, ssh_exec_result *res, omlop_err *err)
{
    ssh_exec_result_release(res);
    res->exit_status = x->exit_status;
    res->is_truncated = x->is_truncated;
    res->out = x->out;
    res->err_out = x->err_out;
    strbuf_init(&x->out);
    strbuf_init(&x->err_out);
    if (x->fail.code) {
        if (err)
            *err = x->fail;
        return x->fail.code;
    }
    return 0;
}

/* --- the pump's list of running commands ------------------------------------------------ */

static void open_channels_add(ssh_conn *c, int delta)
{
    pthread_mutex_lock(&c->lock);
    if (delta > 0) {
        c->st.open_channels++;
        c->st.opened_total++;
    } else {
        c->st.open_channels--;
    }
    pthread_mutex_unlock(&c->lock);
}

/* Answer the caller with what ran (why == NULL) or why it stopped, and free the job. */
static void job_end(ssh_conn *c, struct exec_job *j, const omlop_err *why)
{
    omlop_err e = OMLOP_ERR_INIT;

    /* the output so far goes back even on failure: stderr often says why */
    if (ssh_exec_take_result(j->x, &j->req->res, &e) < 0) {
        omlop_err_prefix(&e, "host %s: ", c->name);
        why = &e;
    } else if (why) {
        e = *why;
    }
    if (j->is_counted)
        open_channels_add(c, -1);
    ssh_exec_free(j->x); /* closes the channel; before the answer, which frees req->in */
    ssh_pump_req_finish(c, j->req, -1, why ? &e : NULL);
    free(j);
}

void ssh_pump_exec_start(ssh_conn *c, struct req *r)
{
    omlop_err e = OMLOP_ERR_INIT;
    struct exec_job *j = xcalloc(1, sizeof(*j));

    if (ssh_exec_new(c->session, r->command, r->in, r->in_len, r->max_out, &j->x, &e) < 0) {
        free(j);
        omlop_err_prefix(&e, "host %s: ", c->name);
        ssh_pump_req_finish(c, r, -1, &e);
        return;
    }
    j->req = r;
    j->deadline_ms = clock_now_ms() + r->timeout_ms;
    j->next = c->execs;
    c->execs = j;
    /* send the open now: nothing else would wake the pump before the deadline */
    ssh_pump_execs_step(c, clock_now_ms());
}

/* Move every command on; answer those that finished or ran out of time. */
void ssh_pump_execs_step(ssh_conn *c, long long now)
{
    struct exec_job **pp = &c->execs;

    while (*pp) {
        struct exec_job *j = *pp;
        int is_done = ssh_exec_step(j->x);
        omlop_err e = OMLOP_ERR_INIT;

        if (!j->is_counted && ssh_exec_is_open(j->x)) {
            j->is_counted = 1;
            open_channels_add(c, 1);
        }
        if (!is_done && now < j->deadline_ms) {
            pp = &j->next;
            continue;
        }
        *pp = j->next;
        if (!is_done) {
            ssh_exec_cancel(j->x);
            omlop_err_set(&e, OMLOP_ETIMEOUT,
                          "host %s: the command did not finish within %d ms; its channel was "
                          "closed",
                          c->name, j->req->timeout_ms);
        }
        job_end(c, j, is_done ? NULL : &e);
    }
}

/* The connection is going: every running command fails. */
void ssh_pump_execs_drop(ssh_conn *c)
{
    while (c->execs) {
        struct exec_job *j = c->execs;
        omlop_err e = OMLOP_ERR_INIT;

        c->execs = j->next;
        omlop_err_set(&e, OMLOP_EUNAVAIL, "host %s: connection lost while running a command",
                      c->name);
        job_end(c, j, &e);
    }
}
