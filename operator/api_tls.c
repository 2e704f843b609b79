/* api_tls: TLS ended in the event loop, each request judged before libwebsockets reads it. */
#include "api_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "operator/api_conn.h"
#include "operator/api_gate.h"

/* Plaintext moved per read, either way. */
#define CHUNK 16384

/* Connections accepted per wake-up of a listening socket, so one listener cannot starve. */
#define ACCEPT_BURST 32

/* After the last answer, how long and how much of what the client still sends is read and
 * dropped, so that closing with unread data (a TCP reset) does not destroy the answer. */
#define DRAIN_US        (2 * LWS_US_PER_SEC)
#define DRAIN_MAX_BYTES (4 * 1024 * 1024)

/* TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3 suites are all of that already). */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL"

typedef enum front_state {
    FS_HANDSHAKE = 0,
    FS_HEAD,    /* reading a request's header block */
    FS_BODY,    /* passing body_left bytes of a request body */
    FS_STREAM,  /* after an upgrade or an unclear framing: everything passes unjudged */
    FS_REFUSE,  /* a block was refused: the answers to the requests before it go out first */
    FS_CLOSING, /* writing what is left for the client, then closing */
    FS_DRAIN    /* all written, write side shut: dropping what the client still sends */
} front_state;

typedef struct tls_front tls_front;

struct api_tls {
    api_server *srv;
    SSL_CTX *ctx;
    tls_front *fronts; /* every connection, for api_tls_peer */
};

struct tls_front {
    api_tls *t;
    struct lws_vhost *vh;
    struct lws *net;  /* the client's TCP socket, a raw descriptor in the loop; NULL once closed */
    struct lws *pair; /* our end of the socketpair libwebsockets serves; NULL before or after */
    int lws_fd;       /* libwebsockets' end, and its inode: fd numbers are reused */
    ino_t lws_ino;
    SSL *ssl;
    char peer[INET6_ADDRSTRLEN];
    front_state state;
    char *in; /* plaintext from the client: in[0..judged) may go on, the rest is being judged */
    size_t in_len, in_cap, judged, scanned;
    uint64_t body_left;
    api_gate_verdict refusal;
    unsigned long forwarded, answered; /* requests passed on, and answered in full */
    int is_refuse_due;                 /* waited long enough for those answers */
    int is_head_timed;                 /* sul runs for the header block being read */
    int is_client_eof, is_pair_eof, is_pair_shut, is_dead;
    int want_net_write, want_pair_write, is_net_rx, is_pair_rx;
    strbuf out; /* plaintext for the client: out.buf[out_off..] not written yet */
    size_t out_off, drained;
    lws_sorted_usec_list_t sul;      /* handshake and header timeout, refusal wait, drain time */
    lws_sorted_usec_list_t sul_kick; /* run the front from outside its own callbacks */
    lws_sorted_usec_list_t sul_want; /* ask for writeable callbacks from outside them */
    tls_front *prev, *next;
};

static void front_run(tls_front *f);

/* The first OpenSSL error's reason, for a message (names no key material), and a clean queue. */
static const char *ssl_reason(void)
{
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    return r ? r : "unknown error";
}

/* An encrypted key would make OpenSSL ask on the terminal: refuse it instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/* This front frames HTTP/1.1 only: a client that offers h2 alone gets no ALPN answer. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    for (unsigned int i = 0; i < inlen; i += 1u + in[i])
        if (in[i] == 8 && i + 9 <= inlen && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
    return SSL_TLSEXT_ERR_NOACK;
}

int api_tls_new(api_server *s, const char *cert_file, const char *key_file, api_tls **out,
                omlop_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    api_tls *t;
    int rc = 0;

    *out = NULL;
    if (!ctx)
        return omlop_err_set(err, OMLOP_EIO, "cannot set up TLS: %s", ssl_reason());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
        rc = omlop_err_set(err, OMLOP_EIO, "cannot set up TLS ciphers: %s", ssl_reason());
        goto out;
    }
    /* the key first: loaded after the certificate, a key of another one fails as unloadable */
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "--tls-key %s: not an unencrypted PEM private key that loads: %s",
                           key_file, ssl_reason());
        goto out;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "--tls-cert %s: not a PEM certificate (chain) that loads: %s", cert_file,
                           ssl_reason());
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "--tls-key %s: not the private key of the certificate in --tls-cert %s",
                           key_file, cert_file);
        goto out;
    }
    t = xcalloc(1, sizeof(*t));
    t->srv = s;
    t->ctx = ctx;
    ctx = NULL;
    *out = t;
out:
    SSL_CTX_free(ctx);
    return rc;
}

void api_tls_free(api_tls *t)
{
    if (!t)
        return;
    /* the loop's closing freed every front; one left means a connection outlived the loop */
    SSL_CTX_free(t->ctx);
    free(t);
}

/* --- lookups from the libwebsockets side --------------------------------------------------- */

static tls_front *front_of_lws_fd(const api_tls *t, int fd)
{
    struct stat st;

    if (!t || fd < 0 || fstat(fd, &st) != 0)
        return NULL;
    for (tls_front *f = t->fronts; f; f = f->next)
        if (f->lws_fd == fd && f->lws_ino == st.st_ino)
            return f;
    return NULL;
}

int api_tls_peer(const api_tls *t, int fd, char *peer, size_t n)
{
    const tls_front *f = front_of_lws_fd(t, fd);

    if (!f)
        return -1;
    snprintf(peer, n, "%s", f->peer);
    return 0;
}

static void on_kick(lws_sorted_usec_list_t *sul)
{
    front_run(lws_container_of(sul, tls_front, sul_kick));
}

void api_tls_answered(api_tls *t, int fd)
{
    tls_front *f = front_of_lws_fd(t, fd);

    if (!f)
        return;
    f->answered++;
    /* the next request may go on; called from inside libwebsockets' callback, the front runs
     * right after it */
    lws_sul_schedule(t->srv->ctx, 0, &f->sul_kick, on_kick, 1);
}

/* --- one connection ------------------------------------------------------------------------ */

static void kill_wsi(struct lws *wsi)
{
    if (wsi)
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Close both ends (the callbacks of their closing free the front). */
static void front_kill(tls_front *f)
{
    f->is_dead = 1;
    lws_sul_cancel(&f->sul);
    lws_sul_cancel(&f->sul_kick);
    lws_sul_cancel(&f->sul_want);
    kill_wsi(f->net);
    kill_wsi(f->pair);
}

static void on_timer(lws_sorted_usec_list_t *sul)
{
    tls_front *f = lws_container_of(sul, tls_front, sul);

    if (f->state == FS_REFUSE) {
        /* an answer that never reported itself: the 431 goes out now */
        f->is_refuse_due = 1;
        front_run(f);
        return;
    }
    /* a handshake or header block that did not complete, a client that does not read, or the
     * end of the drain: closed, as libwebsockets closes a slow plain connection */
    front_kill(f);
}

static void arm(tls_front *f, lws_usec_t us)
{
    lws_sul_schedule(f->t->srv->ctx, 0, &f->sul, on_timer, us);
}

static lws_usec_t request_timeout_us(const tls_front *f)
{
    return (lws_usec_t)f->t->srv->a->opts.request_timeout_s * LWS_US_PER_SEC;
}

/* After the handshake: the socketpair, one end ours, the other served by libwebsockets. */
static int open_pair(tls_front *f)
{
    lws_adopt_desc_t info;
    struct stat st;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        log_warn("component=http remote=%s socketpair: %s", f->peer, strerror(errno));
        return -1;
    }
    memset(&info, 0, sizeof(info));
    info.vh = f->vh;
    info.type = LWS_ADOPT_RAW_FILE_DESC;
    info.fd.filefd = sv[0];
    info.vh_prot_name = API_TLS_CONN_PROTOCOL;
    info.opaque = f;
    f->pair = lws_adopt_descriptor_vhost_via_info(&info);
    if (!f->pair || fstat(sv[1], &st) != 0) {
        if (!f->pair)
            close(sv[0]); /* lws 4.1 leaves a descriptor it could not adopt open */
        close(sv[1]);
        log_warn("component=http remote=%s cannot take a TLS connection into the event loop",
                 f->peer);
        return -1;
    }
    f->is_pair_rx = 1;
    f->lws_fd = sv[1];
    f->lws_ino = st.st_ino;
    /* lws closes sv[1] itself when it cannot take it */
    if (!lws_adopt_socket_vhost(f->vh, sv[1])) {
        f->lws_fd = -1;
        log_warn("component=http remote=%s cannot hand a TLS connection over", f->peer);
        return -1;
    }
    return 0;
}

/* 1: done, 0: waiting for the client, -1: failed (the front drains and closes). */
static int handshake(tls_front *f)
{
    int r = SSL_accept(f->ssl), e;

    if (r == 1) {
        if (open_pair(f) != 0)
            return -1;
        f->state = FS_HEAD;
        return 1;
    }
    e = SSL_get_error(f->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return 0;
    if (e == SSL_ERROR_WANT_WRITE) {
        f->want_net_write = 1;
        return 0;
    }
    /* not TLS (plain HTTP to this port), no common version or cipher, or the client left */
    log_debug("component=http remote=%s TLS handshake failed: %s", f->peer,
              e == SSL_ERROR_SSL ? ssl_reason() : "connection closed");
    ERR_clear_error();
    return -1;
}

/* Whether name (lower case, with its colon) starts the header line at p. */
static int is_header(const char *p, const char *end, const char *name)
{
    size_t n = strlen(name);

    return (size_t)(end - p) >= n && strncasecmp(p, name, n) == 0;
}

/* How the request whose header block is block[0..len) continues: its state after the block. */
static void frame(tls_front *f, const char *block, size_t len)
{
    const char *end = block + len, *p = memchr(block, '\n', len);
    int lengths = 0, is_unclear = 0;
    uint64_t cl = 0;

    for (p = p ? p + 1 : end; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));

        if (!eol)
            eol = end;
        if (is_header(p, eol, "content-length:")) {
            const char *v = p + 15;
            int digits = 0;

            lengths++;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            for (; v < eol && *v >= '0' && *v <= '9'; v++, digits++) {
                if (cl > (UINT64_MAX - 9) / 10)
                    is_unclear = 1;
                cl = cl * 10 + (uint64_t)(*v - '0');
            }
            while (v < eol && (*v == ' ' || *v == '\t' || *v == '\r'))
                v++;
            is_unclear |= !digits || v != eol;
        } else if (is_header(p, eol, "transfer-encoding:") || is_header(p, eol, "upgrade:")) {
            is_unclear = 1;
        }
        p = eol + 1;
    }
    /* libwebsockets answers a chunked or doubly-measured request (411, 400) and closes; an
     * upgrade is a websocket from here on */
    if (is_unclear || lengths > 1)
        f->state = FS_STREAM;
    else if (cl > 0) {
        f->state = FS_BODY;
        f->body_left = cl;
    } else
        f->state = FS_HEAD;
}

/* Judge what arrived: 1 when something moved on (bytes cleared to pass, a new state). */
static int judge(tls_front *f)
{
    api_options *o = &f->t->srv->a->opts;
    size_t fresh = f->in_len - f->judged, block = 0, n;

    if (!fresh)
        return 0;
    switch (f->state) {
    case FS_BODY:
        n = fresh < f->body_left ? fresh : (size_t)f->body_left;
        f->judged += n;
        f->body_left -= n;
        if (!f->body_left)
            f->state = FS_HEAD;
        return 1;
    case FS_STREAM:
        f->judged = f->in_len;
        return 1;
    case FS_HEAD:
        /* one request at a time: libwebsockets 4.1 loses the body of a request that arrives
         * behind another in one read (and then spins), so the next one waits for the answer */
        if (f->answered < f->forwarded)
            return 0;
        break;
    default:
        return 0;
    }
    switch (api_gate_judge(f->in + f->judged, fresh, o->max_header_bytes, f->t->srv->header_room,
                           &f->scanned, &block)) {
    case API_GATE_MORE:
        if (!f->is_head_timed) /* a header block has the request timeout to arrive */
            arm(f, request_timeout_us(f));
        f->is_head_timed = 1;
        return 0;
    case API_GATE_PASS:
        lws_sul_cancel(&f->sul);
        f->is_head_timed = 0;
        f->forwarded++;
        frame(f, f->in + f->judged, block);
        f->judged += block;
        f->scanned = 0;
        return 1;
    case API_GATE_TOO_LARGE:
        f->refusal = API_GATE_TOO_LARGE;
        break;
    case API_GATE_TOO_MANY:
        f->refusal = API_GATE_TOO_MANY;
        break;
    }
    /* the answers to the requests before this one go out first, within the request timeout */
    f->state = FS_REFUSE;
    arm(f, request_timeout_us(f));
    return 1;
}

/* Client to libwebsockets: read, judge, pass on. 1 on progress, -1 when the front must end. */
static int from_client(tls_front *f)
{
    int progress = 0;

    for (;;) {
        int n, e;

        if (f->judged && f->pair && !f->is_pair_eof && !f->is_pair_shut) {
            ssize_t w =
                send(lws_get_socket_fd(f->pair), f->in, f->judged, MSG_NOSIGNAL | MSG_DONTWAIT);

            if (w > 0) {
                memmove(f->in, f->in + w, f->in_len - (size_t)w);
                f->in_len -= (size_t)w;
                f->judged -= (size_t)w;
                progress = 1;
            } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                f->want_pair_write = 1;
            } else {
                f->is_pair_eof = 1; /* libwebsockets closed its end */
                return 1;
            }
        }
        if (judge(f)) {
            progress = 1;
            continue;
        }
        if (f->is_client_eof || f->is_pair_eof || f->in_len == f->in_cap ||
            (f->state != FS_HEAD && f->state != FS_BODY && f->state != FS_STREAM))
            break;
        n = SSL_read(f->ssl, f->in + f->in_len, (int)(f->in_cap - f->in_len));
        if (n > 0) {
            f->in_len += (size_t)n;
            progress = 1;
            continue;
        }
        e = SSL_get_error(f->ssl, n);
        if (e == SSL_ERROR_WANT_READ)
            break;
        if (e == SSL_ERROR_WANT_WRITE) {
            f->want_net_write = 1;
            break;
        }
        /* the client closed (or broke) its side; libwebsockets hears it once all has passed */
        ERR_clear_error();
        f->is_client_eof = 1;
        progress = 1;
        break;
    }
    if (f->is_client_eof && !f->judged && f->pair && !f->is_pair_shut && f->state != FS_REFUSE) {
        shutdown(lws_get_socket_fd(f->pair), SHUT_WR);
        f->is_pair_shut = 1;
    }
    return progress;
}

/* What libwebsockets wrote, to the client. 1 on progress, -1 when the client is gone. */
static int to_client(tls_front *f)
{
    char buf[CHUNK];
    int progress = 0;

    for (;;) {
        ssize_t n;

        if (f->out_off < f->out.len) {
            int w = SSL_write(f->ssl, f->out.buf + f->out_off, (int)(f->out.len - f->out_off));
            int e;

            if (w > 0) {
                f->out_off += (size_t)w;
                progress = 1;
                continue;
            }
            e = SSL_get_error(f->ssl, w);
            if (e == SSL_ERROR_WANT_WRITE) {
                f->want_net_write = 1;
                return progress;
            }
            if (e == SSL_ERROR_WANT_READ)
                return progress;
            ERR_clear_error();
            return -1;
        }
        strbuf_reset(&f->out);
        f->out_off = 0;
        if (!f->pair || f->is_pair_eof || f->state == FS_CLOSING)
            return progress;
        n = recv(lws_get_socket_fd(f->pair), buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            strbuf_add(&f->out, buf, (size_t)n);
            progress = 1;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return progress;
        f->is_pair_eof = 1; /* libwebsockets closed the connection after its answer */
        return 1;
    }
}

/* Everything for the client is written: say so (close_notify, FIN) and drop what still comes. */
static void begin_drain(tls_front *f)
{
    if (f->ssl && SSL_is_init_finished(f->ssl))
        SSL_shutdown(f->ssl);
    ERR_clear_error();
    shutdown(lws_get_socket_fd(f->net), SHUT_WR);
    f->is_pair_eof = 1;
    kill_wsi(f->pair);
    f->state = FS_DRAIN;
    arm(f, DRAIN_US);
}

/* Read and drop (no decryption needed). -1 once the client hung up or sent too much. */
static int drain(tls_front *f)
{
    char scratch[4096];

    for (;;) {
        ssize_t n = read(lws_get_socket_fd(f->net), scratch, sizeof(scratch));

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        if (n <= 0)
            return -1;
        f->drained += (size_t)n;
        if (f->drained > DRAIN_MAX_BYTES)
            return -1;
    }
}

static void on_want(lws_sorted_usec_list_t *sul)
{
    tls_front *f = lws_container_of(sul, tls_front, sul_want);

    if (f->is_dead)
        return;
    if (f->want_net_write && f->net)
        lws_callback_on_writable(f->net);
    if (f->want_pair_write && f->pair)
        lws_callback_on_writable(f->pair);
}

/* Poll for what the front waits for, and nothing else (a readable socket not read would spin). */
static void want(tls_front *f)
{
    int net_rx = f->state == FS_HANDSHAKE || f->state == FS_DRAIN ||
                 ((f->state == FS_HEAD || f->state == FS_BODY || f->state == FS_STREAM) &&
                  !f->is_client_eof && f->in_len < f->in_cap);
    int pair_rx = f->pair && !f->is_pair_eof && f->out_off >= f->out.len;

    if (net_rx != f->is_net_rx) {
        lws_rx_flow_control(f->net, net_rx);
        f->is_net_rx = net_rx;
    }
    if (f->pair && pair_rx != f->is_pair_rx) {
        lws_rx_flow_control(f->pair, pair_rx);
        f->is_pair_rx = pair_rx;
    }
    /* asked for from outside the callbacks: lws 4.1 clears a raw descriptor's POLLOUT after
     * its writeable callback, so a request made inside one would be lost */
    if (f->want_net_write || f->want_pair_write)
        lws_sul_schedule(f->t->srv->ctx, 0, &f->sul_want, on_want, 1);
}

/* Move what can move; 0, or -1 when the front is to close now. */
static int front_step(tls_front *f)
{
    f->want_net_write = f->want_pair_write = 0;
    if (f->state == FS_HANDSHAKE) {
        int r = handshake(f);

        if (r < 0) {
            begin_drain(f);
            return drain(f);
        }
        if (r == 0)
            return 0;
    }
    for (;;) {
        int a, b;

        if (f->state == FS_DRAIN)
            return drain(f);
        a = to_client(f);
        if (a < 0)
            return -1;
        b = f->state == FS_CLOSING ? 0 : from_client(f);
        if (b < 0)
            return -1;
        if (a || b)
            continue;
        if (f->state == FS_REFUSE && f->out_off >= f->out.len && (!f->judged || f->is_pair_eof) &&
            (f->answered >= f->forwarded || f->is_pair_eof || f->is_refuse_due)) {
            /* the 431 after every earlier answer; libwebsockets' side is done with */
            f->is_pair_eof = 1;
            kill_wsi(f->pair);
            strbuf_reset(&f->out);
            f->out_off = 0;
            api_gate_refusal(f->t->srv, f->refusal, f->in + f->judged, f->in_len - f->judged,
                             f->peer, &f->out);
            f->state = FS_CLOSING;
            arm(f, request_timeout_us(f));
            continue;
        }
        if (f->is_pair_eof && f->state != FS_CLOSING && f->state != FS_REFUSE) {
            f->state = FS_CLOSING; /* libwebsockets closed: what it wrote still goes out */
            arm(f, request_timeout_us(f));
            continue;
        }
        if (f->state == FS_CLOSING && f->out_off >= f->out.len) {
            begin_drain(f);
            continue;
        }
        return 0;
    }
}

static void front_run(tls_front *f)
{
    if (f->is_dead || !f->net)
        return;
    if (front_step(f) < 0) {
        front_kill(f);
        return;
    }
    want(f);
}

static void front_free(tls_front *f)
{
    api_tls *t = f->t;

    lws_sul_cancel(&f->sul);
    lws_sul_cancel(&f->sul_kick);
    lws_sul_cancel(&f->sul_want);
    if (f->prev)
        f->prev->next = f->next;
    else
        t->fronts = f->next;
    if (f->next)
        f->next->prev = f->prev;
    SSL_free(f->ssl);
    strbuf_release(&f->out);
    free(f->in);
    free(f);
}

/* One end closed: the other follows; the front goes with the last. */
static void on_close(tls_front *f, struct lws *wsi)
{
    if (wsi == f->pair) {
        /* lws closes a descriptor whose peer hung up while it was not polled for input: what
         * libwebsockets wrote before closing is still in the socket, and still goes out */
        if (!f->is_pair_eof && !f->is_dead) {
            char buf[CHUNK];
            ssize_t n;

            while ((n = recv(lws_get_socket_fd(wsi), buf, sizeof(buf), MSG_DONTWAIT)) > 0)
                strbuf_add(&f->out, buf, (size_t)n);
        }
        f->pair = NULL;
        f->is_pair_eof = 1;
        if (f->net && !f->is_dead)
            lws_sul_schedule(f->t->srv->ctx, 0, &f->sul_kick, on_kick, 1);
    } else if (wsi == f->net) {
        f->net = NULL;
        f->is_dead = 1;
        lws_sul_cancel(&f->sul);
        lws_sul_cancel(&f->sul_kick);
        lws_sul_cancel(&f->sul_want);
        kill_wsi(f->pair);
    }
    if (!f->net && !f->pair)
        front_free(f);
}

int api_tls_conn_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    tls_front *f = lws_get_opaque_user_data(wsi);

    (void)user;
    (void)in;
    (void)len;
    if (!f)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        front_run(f);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        lws_set_opaque_user_data(wsi, NULL);
        on_close(f, wsi);
        return 0;
    default:
        return 0;
    }
}

/* --- the listening sockets ----------------------------------------------------------------- */

static void peer_name(int fd, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    snprintf(out, n, "?");
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)n);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)n);
}

static void accept_one(api_tls *t, struct lws_vhost *vh, int fd)
{
    size_t limit = t->srv->a->opts.max_header_bytes;
    lws_adopt_desc_t info;
    tls_front *f = xcalloc(1, sizeof(*f));

    f->t = t;
    f->vh = vh;
    f->lws_fd = -1;
    /* room for a whole header block past the limit (to see it is too large) behind bytes that
     * wait to pass on */
    f->in_cap = (limit + 1 > CHUNK ? limit + 1 : CHUNK) + CHUNK;
    f->in = xmalloc(f->in_cap);
    strbuf_init(&f->out);
    peer_name(fd, f->peer, sizeof(f->peer));
    f->ssl = SSL_new(t->ctx);
    if (!f->ssl || SSL_set_fd(f->ssl, fd) != 1) {
        log_warn("component=http remote=%s cannot start TLS: %s", f->peer, ssl_reason());
        close(fd);
        SSL_free(f->ssl);
        free(f->in);
        free(f);
        return;
    }
    memset(&info, 0, sizeof(info));
    info.vh = vh;
    info.type = LWS_ADOPT_RAW_FILE_DESC;
    info.fd.filefd = fd;
    info.vh_prot_name = API_TLS_CONN_PROTOCOL;
    info.opaque = f;
    f->net = lws_adopt_descriptor_vhost_via_info(&info);
    if (!f->net) { /* lws 4.1 leaves a descriptor it could not adopt open */
        close(fd);
        log_warn("component=http cannot take a new connection into the event loop");
        SSL_free(f->ssl);
        free(f->in);
        free(f);
        return;
    }
    f->is_net_rx = 1;
    f->next = t->fronts;
    if (t->fronts)
        t->fronts->prev = f;
    t->fronts = f;
    /* the handshake and the first header block have the request timeout */
    arm(f, request_timeout_us(f));
    f->is_head_timed = 1;
}

int api_tls_listen_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    api_server *s = lws_context_user(lws_get_context(wsi));
    struct lws_vhost *vh = lws_get_opaque_user_data(wsi);

    (void)user;
    (void)in;
    (void)len;
    if (reason != LWS_CALLBACK_RAW_RX_FILE || !vh || !s->tls)
        return 0;
    for (int i = 0; i < ACCEPT_BURST; i++) {
        int fd = accept4(lws_get_socket_fd(wsi), NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                log_warn("component=http accept: %s", strerror(errno));
            break;
        }
        accept_one(s->tls, vh, fd);
    }
    return 0;
}

int api_tls_listen(api_tls *t, struct lws_vhost *vh, int fd, omlop_err *err)
{
    lws_adopt_desc_t info;

    (void)t;
    memset(&info, 0, sizeof(info));
    info.vh = vh;
    info.type = LWS_ADOPT_RAW_FILE_DESC;
    info.fd.filefd = fd;
    info.vh_prot_name = API_TLS_LISTEN_PROTOCOL;
    info.opaque = vh;
    if (!lws_adopt_descriptor_vhost_via_info(&info)) {
        close(fd); /* lws leaves it open */
        return omlop_err_set(err, OMLOP_EIO, "cannot watch the TLS listening socket in the loop");
    }
    return 0;
}
