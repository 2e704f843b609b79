/* tunnel: libcurl over SSH stream-local channels or a local unix socket (see tunnel.h). */
#include "clients/tunnel.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/xalloc.h"

/* Idle curl handles (each with its kept-alive connection) a tunnel keeps. */
#define POOL_MAX 4

struct tunnel {
    ssh_conn *conn;   /* NULL: local transport */
    ssh_forward *fwd; /* ssh: the private local socket curl connects to */
    char *socket_path;
    char *describe;
    char *host;

    /* pool_lock protects the idle handle stack. */
    pthread_mutex_t pool_lock;
    CURL *pool[POOL_MAX];
    size_t n_pool;
};

/* Per-request state the curl callbacks see. */
struct xfer {
    tunnel *t;
    const tunnel_request *req;
    tunnel_response *resp;
    size_t max_body;
    unsigned long fwd_seq; /* forward error count when the request started */
    int is_too_big;
};

static int tunnel_alloc(const char *socket_path, tunnel **out, omlop_err *err)
{
    tunnel *t;
    const char *path = socket_path && socket_path[0] ? socket_path : TUNNEL_DEFAULT_SOCKET;

    *out = NULL;
    if (path[0] != '/')
        return omlop_err_set(err, OMLOP_EINVAL, "Podman socket path '%s' must be absolute", path);
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return omlop_err_set(err, OMLOP_EINVAL, "Podman socket path '%s' is too long", path);
    t = xcalloc(1, sizeof(*t));
    t->socket_path = xstrdup(path);
    pthread_mutex_init(&t->pool_lock, NULL);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        pthread_mutex_destroy(&t->pool_lock);
        free(t->socket_path);
        free(t);
        return omlop_err_set(err, OMLOP_EINTERNAL, "libcurl failed to initialize");
    }
    *out = t;
    return 0;
}

int tunnel_new_ssh(ssh_conn *conn, const char *socket_path, tunnel **out, omlop_err *err)
{
    strbuf d = STRBUF_INIT;
    tunnel *t;
    int rc = tunnel_alloc(socket_path, &t, err);

    if (rc < 0)
        return omlop_err_prefix(err, "host %s: ", ssh_conn_name(conn));
    t->conn = conn;
    t->host = xstrdup(ssh_conn_name(conn));
    rc = ssh_forward_new(conn, t->socket_path, &t->fwd, err);
    if (rc < 0) {
        tunnel_free(t);
        return rc;
    }
    strbuf_addf(&d, "ssh://%s%s", ssh_conn_target(conn), t->socket_path);
    t->describe = strbuf_detach(&d, NULL);
    *out = t;
    return 0;
}

int tunnel_new_local(const char *socket_path, tunnel **out, omlop_err *err)
{
    strbuf d = STRBUF_INIT;
    tunnel *t;
    int rc = tunnel_alloc(socket_path, &t, err);

    if (rc < 0)
        return rc;
    t->host = xstrdup("local");
    strbuf_addf(&d, "unix://%s", t->socket_path);
    t->describe = strbuf_detach(&d, NULL);
    *out = t;
    return 0;
}

void tunnel_free(tunnel *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_pool; i++)
        curl_easy_cleanup(t->pool[i]); /* closes the kept-alive connections */
    ssh_forward_free(t->fwd);
    pthread_mutex_destroy(&t->pool_lock);
    free(t->socket_path);
    free(t->describe);
    free(t->host);
    free(t);
    curl_global_cleanup();
}

const char *tunnel_host(const tunnel *t)
{
    return t->host ? t->host : "?";
}

const char *tunnel_socket(const tunnel *t)
{
    return t->socket_path;
}

const char *tunnel_describe(const tunnel *t)
{
    return t->describe ? t->describe : t->socket_path;
}

ssh_conn *tunnel_ssh(const tunnel *t)
{
    return t->conn;
}

static int open_local(tunnel *t, int *fd, omlop_err *err)
{
    struct sockaddr_un sa;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (s < 0)
        return omlop_err_set(err, OMLOP_EIO, "socket: %s", strerror(errno));
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->socket_path);
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;

        close(s);
        if (e == ENOENT || e == ECONNREFUSED)
            return omlop_err_set(err, OMLOP_ENOTFOUND,
                                 "cannot connect to the Podman socket %s: %s: is the Podman "
                                 "service running (systemctl enable --now podman.socket) and is "
                                 "the socket path right (--socket)?",
                                 t->socket_path, strerror(e));
        return omlop_err_set(err, e == EACCES ? OMLOP_EPERM : OMLOP_EIO,
                             "cannot connect to the Podman socket %s: %s", t->socket_path,
                             strerror(e));
    }
    *fd = s;
    return 0;
}

int tunnel_open_stream(tunnel *t, int *fd, omlop_err *err)
{
    *fd = -1;
    if (t->conn)
        return ssh_conn_open_streamlocal(t->conn, t->socket_path, fd, err);
    return open_local(t, fd, err);
}

void tunnel_response_release(tunnel_response *r)
{
    strbuf_release(&r->body);
    r->status = 0;
    r->api_version[0] = '\0';
    r->date = 0;
    r->is_stopped = 0;
    r->is_cancelled = 0;
}

/* --- curl callbacks ------------------------------------------------------------------- */

static long current_status(CURL *h)
{
    long code = 0;

    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

struct write_ctx {
    struct xfer *x;
    CURL *h;
};

static size_t cb_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct write_ctx *w = ud;
    struct xfer *x = w->x;
    size_t len = size * nmemb;

    if (x->resp->status == 0)
        x->resp->status = current_status(w->h);
    if (x->req->on_data && x->resp->status >= 200 && x->resp->status < 300) {
        if (x->req->on_data(x->req->ud, data, len) != 0) {
            x->resp->is_stopped = 1;
            return 0; /* makes curl end the transfer (CURLE_WRITE_ERROR) */
        }
        return len;
    }
    if (x->resp->body.len + len > x->max_body) {
        x->is_too_big = 1;
        return 0;
    }
    strbuf_add(&x->resp->body, data, len);
    return len;
}

/* The value of header line data if it is the header name ("Date:"), trimmed, into out. */
static int header_value(const char *data, size_t len, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    const char *v = data + nl;
    size_t n;

    if (len <= nl || strncasecmp(data, name, nl) != 0)
        return 0;
    n = len - nl;
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= size)
        n = size - 1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 1;
}

static size_t cb_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * nmemb;
    static const char name[] = "Libpod-Api-Version:";
    char date[64];

    if (header_value(data, len, "Date:", date, sizeof(date))) {
        struct tm tm;

        memset(&tm, 0, sizeof(tm));
        if (strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm))
            x->resp->date = (long long)timegm(&tm);
    }
    if (len > sizeof(name) && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        const char *v = data + sizeof(name) - 1;
        size_t n = len - (sizeof(name) - 1);

        while (n && (*v == ' ' || *v == '\t')) {
            v++;
            n--;
        }
        while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
            n--;
        if (n >= sizeof(x->resp->api_version))
            n = sizeof(x->resp->api_version) - 1;
        memcpy(x->resp->api_version, v, n);
        x->resp->api_version[n] = '\0';
    }
    return len;
}

static int cb_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct xfer *x = ud;

    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    if (x->req->cancel && atomic_load(x->req->cancel)) {
        x->resp->is_cancelled = 1;
        return 1;
    }
    return 0;
}

/* --- handle pool ---------------------------------------------------------------------- */

static CURL *pool_take(tunnel *t)
{
    CURL *h = NULL;

    pthread_mutex_lock(&t->pool_lock);
    if (t->n_pool > 0)
        h = t->pool[--t->n_pool];
    pthread_mutex_unlock(&t->pool_lock);
    if (h)
        curl_easy_reset(h); /* keeps the live connection, forgets the options */
    else
        h = curl_easy_init();
    return h;
}

static void pool_give(tunnel *t, CURL *h)
{
    pthread_mutex_lock(&t->pool_lock);
    if (t->n_pool < POOL_MAX) {
        t->pool[t->n_pool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&t->pool_lock);
    if (h)
        curl_easy_cleanup(h);
}

/* --- requests ------------------------------------------------------------------------- */

/* Turn a curl failure into an omlop error naming host, method and path. */
static int transfer_error(struct xfer *x, CURLcode cc, const char *curl_msg, omlop_err *err)
{
    const tunnel_request *req = x->req;
    tunnel *t = x->t;
    strbuf why = STRBUF_INIT;
    omlop_err fe = OMLOP_ERR_INIT;
    int code;

    /* a forwarded connection that could not be served: the forward knows why */
    if (t->fwd && ssh_forward_last_error(t->fwd, x->fwd_seq, &fe)) {
        omlop_err_set(err, fe.code, "%s (%s %s)", fe.msg, req->method, req->path);
        return fe.code;
    }
    if (x->is_too_big)
        return omlop_err_set(err, OMLOP_ELIMIT,
                             "host %s: %s %s: the response is larger than %zu bytes", t->host,
                             req->method, req->path, x->max_body);
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        code = OMLOP_ETIMEOUT;
        strbuf_addf(&why, "no complete answer within %ld ms", req->timeout_ms);
        break;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        code = OMLOP_EUNAVAIL;
        strbuf_addf(&why, "the connection to the Podman socket broke (%s)", curl_msg);
        break;
    case CURLE_COULDNT_CONNECT:
        code = t->fwd ? OMLOP_EUNAVAIL : OMLOP_ENOTFOUND;
        strbuf_addf(&why,
                    "cannot connect to the Podman socket %s (%s): is the Podman service running "
                    "and is the socket path right (--socket)?",
                    t->socket_path, curl_msg);
        break;
    default:
        code = OMLOP_EIO;
        strbuf_addf(&why, "%s", curl_msg);
    }
    if (t->conn) {
        ssh_conn_status st;

        ssh_conn_get_status(t->conn, &st);
        if (st.state != SSH_CONN_CONNECTED && st.last_error[0])
            strbuf_addf(&why, "; SSH: %s", st.last_error);
    }
    omlop_err_set(err, code, "host %s: %s %s: %s", t->host, req->method, req->path,
                  strbuf_str(&why));
    strbuf_release(&why);
    return code;
}

int tunnel_http(tunnel *t, const tunnel_request *req, tunnel_response *resp, omlop_err *err)
{
    struct xfer x;
    struct write_ctx w;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    strbuf url = STRBUF_INIT, ctype = STRBUF_INIT;
    long timeout = req->timeout_ms == 0 ? TUNNEL_DEFAULT_TIMEOUT_MS : req->timeout_ms;
    CURLcode cc;
    CURL *h;
    int rc = 0;

    tunnel_response_release(resp);
    memset(&x, 0, sizeof(x));
    x.t = t;
    x.req = req;
    x.resp = resp;
    x.max_body = req->max_body ? req->max_body : TUNNEL_DEFAULT_MAX_BODY;
    h = pool_take(t);
    if (!h)
        return omlop_err_set(err, OMLOP_ENOMEM, "host %s: cannot create a curl handle", t->host);
    w.x = &x;
    w.h = h;
    if (t->fwd)
        x.fwd_seq = ssh_forward_error_seq(t->fwd);
    /* with a unix socket the host name is only the Host header */
    strbuf_addf(&url, "http://podman%s", req->path);
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH,
                     t->fwd ? ssh_forward_local_path(t->fwd) : t->socket_path);
    curl_easy_setopt(h, CURLOPT_URL, strbuf_str(&url));
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never an http_proxy from the environment */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 0L); /* not TCP: spare the failing setsockopt */
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cb_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, cb_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_MAXCONNECTS, 1L);
    if (getenv("OMLOP_CURL_VERBOSE")) /* see tunnel.h */
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    if (timeout > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    if (req->cancel) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, cb_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
    }
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip for bodies */
    if (req->body || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0) {
        strbuf_addf(&ctype, "Content-Type: %s",
                    req->content_type ? req->content_type : "application/json");
        hdrs = curl_slist_append(hdrs, strbuf_str(&ctype));
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    cc = curl_easy_perform(h);
    if (resp->status == 0)
        resp->status = current_status(h);
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && resp->is_stopped) &&
        !(cc == CURLE_ABORTED_BY_CALLBACK && resp->is_cancelled))
        rc = transfer_error(&x, cc, errbuf[0] ? errbuf : curl_easy_strerror(cc), err);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    strbuf_release(&url);
    strbuf_release(&ctype);
    pool_give(t, h);
    return rc;
}
