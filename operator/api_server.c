/* api_server: the libwebsockets context, its listeners, signals and the graceful stop. */
#include "api_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "operator/api_conn.h"
#include "operator/api_gate.h"
#include "operator/api_tls.h"

/* How often the stop timer looks whether the connections are drained. */
#define STOP_POLL_US (50 * 1000)

int api_server_signal_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len);

/* An API worker finished a job: wake the loop (LWS_CALLBACK_EVENT_WAIT_CANCELLED). */
static void wake_loop(void *ctx)
{
    lws_cancel_service(ctx);
}

int api_server_parse_listen(const char *listen, char *host, size_t hostsz, int *port,
                            omlop_err *err)
{
    const char *colon, *h = listen;
    size_t hn;
    char *end;
    long p;

    if (!listen || !*listen)
        return omlop_err_set(err, OMLOP_EINVAL, "--listen: empty; expected HOST:PORT");
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');

        if (!close || close[1] != ':')
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "--listen '%s': expected [IPV6]:PORT, e.g. [::1]:8787", listen);
        h = listen + 1;
        hn = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || strchr(listen, ':') != colon)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "--listen '%s': expected HOST:PORT, e.g. 127.0.0.1:8787 "
                                 "(IPv6 in brackets)",
                                 listen);
        hn = (size_t)(colon - listen);
    }
    if (hn >= hostsz)
        return omlop_err_set(err, OMLOP_EINVAL, "--listen '%s': the host is too long", listen);
    memcpy(host, h, hn);
    host[hn] = '\0';
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno || *end || colon[1] == '\0' || p < 0 || p > 65535)
        return omlop_err_set(err, OMLOP_EINVAL, "--listen '%s': the port must be 0-65535", listen);
    *port = (int)p;
    return 0;
}

int api_server_host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (strcasecmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

int api_server_resolve_host(const char *host, char *ip, size_t n, omlop_err *err)
{
    struct addrinfo hints, *res = NULL;
    const struct addrinfo *pick = NULL;
    struct in_addr a4;
    struct in6_addr a6;
    int rc;

    if (!*host || strcmp(host, "*") == 0 || inet_pton(AF_INET, host, &a4) == 1 ||
        inet_pton(AF_INET6, host, &a6) == 1) {
        if (strlen(host) >= n)
            return omlop_err_set(err, OMLOP_EINVAL, "--listen: the host '%s' is too long", host);
        snprintf(ip, n, "%s", host);
        return 0;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "--listen: cannot resolve '%s' (%s); give an address such as "
                             "127.0.0.1 or [::1]",
                             host, gai_strerror(rc));
    /* one listener: the first IPv4 address (what "localhost" means to most clients), else v6 */
    for (const struct addrinfo *ai = res; ai && !pick; ai = ai->ai_next)
        if (ai->ai_family == AF_INET)
            pick = ai;
    for (const struct addrinfo *ai = res; ai && !pick; ai = ai->ai_next)
        if (ai->ai_family == AF_INET6)
            pick = ai;
    if (!pick ||
        getnameinfo(pick->ai_addr, pick->ai_addrlen, ip, (socklen_t)n, NULL, 0, NI_NUMERICHOST)) {
        freeaddrinfo(res);
        return omlop_err_set(err, OMLOP_EINVAL, "--listen: '%s' has no IPv4 or IPv6 address", host);
    }
    freeaddrinfo(res);
    return 0;
}

/*
 * Whether something accepts connections on ip:port: lws reports a vhost whose
 * address is not local as created (it waits for such an interface to appear),
 * so the start-up line would say "listening" over nothing.
 */
static int probe_listen(const char *ip, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, rc;

    memset(&ss, 0, sizeof(ss));
    if (!*ip || strcmp(ip, "*") == 0)
        ip = "127.0.0.1";
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, ip, &a->sin6_addr) != 1)
            return -1;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, ip, &a->sin_addr) != 1)
            return -1;
        len = sizeof(*a);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* a local listener answers at once (the kernel queues the connection); lws closes it */
    rc = connect(fd, (struct sockaddr *)&ss, len);
    close(fd);
    return rc;
}

static void lws_log(int level, const char *line)
{
    char msg[512];
    size_t n;

    snprintf(msg, sizeof(msg), "%s", line);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* lws 4.1 logs every socket handed over with its first bytes (api_gate) as an error */
    if ((level & LLL_ERR) && strncmp(msg, "adopt_socket_readbuf: ", 22) != 0)
        log_warn("component=http %s", msg);
    else
        log_debug("component=http %s", msg);
}

/*
 * libwebsockets' header buffer, one size for the whole context. Every connection reaches lws
 * with a header block measured first (api_gate for plain and unix connections, api_tls for
 * TLS ones), at most the limit; lws stores custom header lines with a few bytes more each,
 * hence the margin.
 */
static size_t header_room(const api_options *o)
{
    size_t room = o->max_header_bytes * 3 + 1024;

    return room > 65535 ? 65535 : room;
}

static void fill_common(struct lws_context_creation_info *info, api_server *s)
{
    const api_options *o = &s->a->opts;

    info->protocols = api_conn_protocols;
    info->user = s;
    info->max_http_header_data = (unsigned short)s->header_room;
    info->timeout_secs = (unsigned int)o->request_timeout_s + 5;
    info->timeout_secs_ah_idle = (unsigned int)o->request_timeout_s;
    info->keepalive_timeout = 30;
}

/* A listening socket of ours (api_gate reads each connection's headers first). */
static int listen_tcp(const char *host, int port, int *fd_out, int *port_out, omlop_err *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1;

    memset(&ss, 0, sizeof(ss));
    if (strchr(host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            return omlop_err_set(err, OMLOP_EINVAL, "--listen %s: not an IPv6 address", host);
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_ANY);
        if (host[0] && strcmp(host, "*") != 0 && inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return omlop_err_set(err, OMLOP_EINVAL, "--listen %s: not an IPv4 address", host);
        len = sizeof(*a);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return omlop_err_set(err, OMLOP_EIO, "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        int e = errno;

        close(fd);
        if (e == EADDRNOTAVAIL)
            return omlop_err_set(err, OMLOP_EIO, "not an address of this machine");
        return omlop_err_set(err, OMLOP_EIO, "%s (the address is in use or not local)",
                             strerror(e));
    }
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return 0;
}

static int create_tcp_vhost(api_server *s, const api_server_options *opts, omlop_err *err)
{
    struct lws_context_creation_info info;
    char name[256], host[256];
    int port;
    int rc = api_server_parse_listen(opts->listen, name, sizeof(name), &port, err);

    if (rc)
        return rc;
    /* lws takes a name that is not an address for an interface name ("localhost" is none) */
    rc = api_server_resolve_host(name, host, sizeof(host), err);
    if (rc)
        return rc;
    if (opts->tls_cert) {
        if (access(opts->tls_cert, R_OK) != 0)
            return omlop_err_set(err, OMLOP_EINVAL, "--tls-cert %s: %s", opts->tls_cert,
                                 strerror(errno));
        if (!opts->tls_key || access(opts->tls_key, R_OK) != 0)
            return omlop_err_set(err, OMLOP_EINVAL, "--tls-key %s: %s",
                                 opts->tls_key ? opts->tls_key : "(missing)",
                                 opts->tls_key ? strerror(errno) : "needed with --tls-cert");
        /* TLS ends in api_tls, so that each request is measured before lws reads it */
        rc = api_tls_new(s, opts->tls_cert, opts->tls_key, &s->tls, err);
        if (rc)
            return rc;
    }
    memset(&info, 0, sizeof(info));
    fill_common(&info, s);
    info.vhost_name = "tcp";
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* the socket is ours: api_gate or api_tls */
    s->vh_tcp = lws_create_vhost(s->ctx, &info);
    if (!s->vh_tcp)
        return omlop_err_set(err, OMLOP_EIO, "--listen %s: cannot set up the HTTP server",
                             opts->listen);
    {
        int fd = -1;
        omlop_err e2 = OMLOP_ERR_INIT;

        if (listen_tcp(host, port, &fd, &s->port, &e2) != 0)
            return omlop_err_set(err, OMLOP_EIO, "cannot listen on %s: %s", opts->listen, e2.msg);
        rc = s->tls ? api_tls_listen(s->tls, s->vh_tcp, fd, err)
                    : api_gate_listen(s, s->vh_tcp, fd, err);
        if (rc)
            return rc;
    }
    if (s->port <= 0 || probe_listen(host, s->port) != 0)
        return omlop_err_set(err, OMLOP_EIO,
                             "cannot listen on %s (%s): not an address of this machine",
                             opts->listen, host[0] ? host : "all addresses");
    s->is_tcp_local = host[0] && api_server_host_is_loopback(host);
    snprintf(s->describe, sizeof(s->describe), "%s://%s%s%s:%d", opts->tls_cert ? "https" : "http",
             strchr(host, ':') ? "[" : "", host[0] ? host : "0.0.0.0", strchr(host, ':') ? "]" : "",
             s->port);
    return 0;
}

static int create_unix_vhost(api_server *s, const char *path, omlop_err *err)
{
    struct lws_context_creation_info info;
    struct sockaddr_un sun;
    struct stat st;
    size_t used = strlen(s->describe);
    int fd, rc;

    if (strlen(path) >= 100)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "--socket %s: the path is too long for a unix "
                             "socket (at most 99 bytes)",
                             path);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "--socket %s: exists and is not a socket; not replacing it", path);
        unlink(path); /* a stale socket of an earlier run */
    }
    memset(&info, 0, sizeof(info));
    fill_common(&info, s);
    info.vhost_name = "unix";
    info.options = LWS_SERVER_OPTION_UNIX_SOCK;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* the socket is ours: api_gate reads first */
    s->vh_unix = lws_create_vhost(s->ctx, &info);
    if (!s->vh_unix)
        return omlop_err_set(err, OMLOP_EIO, "--socket %s: cannot set up the HTTP server", path);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return omlop_err_set(err, OMLOP_EIO, "--socket %s: socket: %s", path, strerror(errno));
    /* mode 0600 before listen(): nobody else can connect in between */
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        rc = omlop_err_set(err, OMLOP_EIO,
                           "--socket %s: cannot listen there: %s (does the directory exist?)", path,
                           strerror(errno));
        close(fd);
        return rc;
    }
    if (chmod(path, 0600) != 0 || listen(fd, SOMAXCONN) != 0) {
        rc = omlop_err_set(err, OMLOP_EIO, "--socket %s: chmod 0600 or listen: %s", path,
                           strerror(errno));
        close(fd);
        return rc;
    }
    rc = api_gate_listen(s, s->vh_unix, fd, err);
    if (rc)
        return rc;
    snprintf(s->describe + used, sizeof(s->describe) - used, "%sunix:%s", used ? ", " : "", path);
    return 0;
}

int api_server_new(api *a, const api_server_options *opts, api_server **out, omlop_err *err)
{
    struct lws_context_creation_info info;
    api_server *s;
    int rc = 0;

    *out = NULL;
    if (!opts->listen && !opts->socket_path)
        return omlop_err_set(err, OMLOP_EINVAL, "nothing to listen on: give --listen or --socket");
    s = xcalloc(1, sizeof(*s));
    s->a = a;
    s->sig_fd = -1;
    s->header_room = header_room(&a->opts);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
    memset(&info, 0, sizeof(info));
    fill_common(&info, s);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN;
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        rc = omlop_err_set(err, OMLOP_EIO, "cannot create the HTTP server (libwebsockets)");
        goto out;
    }
    rc = api_pool_new(a, a->opts.workers, wake_loop, s->ctx, &s->pool, err);
    if (rc)
        goto out;
    {
        char host[256] = "";
        int port;

        if (opts->listen &&
            api_server_parse_listen(opts->listen, host, sizeof(host), &port, err) != 0) {
            rc = OMLOP_EINVAL;
            goto out;
        }
        /* without tokens every loopback peer is admin: a browser page must not be one */
        rc = api_guard_new(opts->accept_hosts, host, !api_auth_enabled(a->auth), &s->guard, err);
        if (rc)
            goto out;
    }
    if (opts->listen) {
        rc = create_tcp_vhost(s, opts, err);
        if (rc)
            goto out;
    }
    if (opts->socket_path) {
        rc = create_unix_vhost(s, opts->socket_path, err);
        if (rc)
            goto out;
    }
    *out = s;
    s = NULL;
out:
    api_server_free(s);
    return rc;
}

const char *api_server_describe(const api_server *s)
{
    return s->describe;
}

int api_server_port(const api_server *s)
{
    return s->vh_tcp ? s->port : 0;
}

static void on_stop_tick(lws_sorted_usec_list_t *sul)
{
    api_server *s = lws_container_of(sul, api_server, sul_stop);
    int busy = api_conn_busy(s);

    if (busy == 0 || lws_now_usecs() >= s->stop_deadline_us) {
        if (busy)
            log_warn("shutdown: %d request(s) still running after %ds; stopping anyway", busy,
                     s->a->opts.shutdown_grace_s);
        s->is_done = 1;
        lws_cancel_service(s->ctx);
        return;
    }
    lws_sul_schedule(s->ctx, 0, &s->sul_stop, on_stop_tick, STOP_POLL_US);
}

static void begin_stop(api_server *s, const char *why)
{
    int busy;

    if (s->is_stopping)
        return;
    s->is_stopping = 1;
    s->a->is_shutting_down = 1;
    busy = api_conn_drain(s);
    log_info("signal=%s shutting down: %d connection(s) busy, watches closed, waiting up to %ds",
             why, busy, s->a->opts.shutdown_grace_s);
    s->stop_deadline_us =
        lws_now_usecs() + (lws_usec_t)s->a->opts.shutdown_grace_s * LWS_US_PER_SEC;
    lws_sul_schedule(s->ctx, 0, &s->sul_stop, on_stop_tick, STOP_POLL_US);
}

int api_server_signal_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    api_server *s = lws_context_user(lws_get_context(wsi));
    struct signalfd_siginfo si;

    (void)user;
    (void)in;
    (void)len;
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    if (read(lws_get_socket_fd(wsi), &si, sizeof(si)) != (ssize_t)sizeof(si))
        return 0;
    begin_stop(s, si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
    return 0;
}

int api_server_run(api_server *s, omlop_err *err)
{
    sigset_t set;
    lws_sock_file_fd_type fd;
    struct lws *sig_wsi;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->sig_fd < 0)
        return omlop_err_set(err, OMLOP_EIO, "signalfd: %s", strerror(errno));
    fd.filefd = s->sig_fd;
    sig_wsi =
        lws_adopt_descriptor_vhost(s->vh_tcp ? s->vh_tcp : s->vh_unix, LWS_ADOPT_RAW_FILE_DESC, fd,
                                   API_CONN_SIGNAL_PROTOCOL, NULL);
    if (!sig_wsi) {
        close(s->sig_fd);
        s->sig_fd = -1;
        return omlop_err_set(err, OMLOP_EIO, "cannot watch for signals in the event loop");
    }
    s->sig_fd = -1; /* lws owns it now */
    while (!s->is_done)
        if (lws_service(s->ctx, 0) < 0)
            break;
    return 0;
}

void api_server_free(api_server *s)
{
    if (!s)
        return;
    /* the workers first (they wake the loop through the context), the connections next (they
     * let go of their jobs), the jobs left last */
    api_pool_stop(s->pool);
    if (s->ctx) {
        lws_sul_cancel(&s->sul_stop);
        lws_context_destroy(s->ctx);
    }
    api_pool_free(s->pool);
    if (s->sig_fd >= 0)
        close(s->sig_fd);
    api_tls_free(s->tls); /* after the loop: its connections are closed */
    api_guard_free(s->guard);
    free(s);
}
