/*
 * store_test_etcd: run a real etcd for the store tests (header-only, static).
 *
 * etcd listens on two free loopback ports (client, peer) with its data in a
 * mkdtemp directory; it is started with PR_SET_PDEATHSIG so it dies with the
 * test process even when a test crashes, and the fixture SIGKILLs it and
 * reaps it at the end. Tests skip when /usr/bin/etcd (or $OMLOP_ETCD) is
 * missing, unless OMLOP_TEST_REQUIRE names etcd (`make test` and CI set it):
 * then they fail, so a run without etcd cannot pass.
 */
#ifndef OMLOP_STORE_TEST_ETCD_H
#define OMLOP_STORE_TEST_ETCD_H

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"

typedef struct test_etcd {
    pid_t pid;
    char dir[128];
    int client_port;
    int peer_port;
    int tls;           /* set before the first start: https clients with client certs */
    char endpoint[64]; /* "127.0.0.1:PORT" */
    char ca[160], cert[160], key[160]; /* with tls: the client's files */
} test_etcd;

static const char *test_etcd_binary(void)
{
    const char *env = getenv("OMLOP_ETCD");

    return env && *env ? env : "/usr/bin/etcd";
}

/* OMLOP_TEST_REQUIRE (comma-separated, e.g. "etcd") names etcd: skipping is a failure.
 * inline: the bench includes this header and does not call it. */
static inline int test_etcd_required(void)
{
    const char *req = getenv("OMLOP_TEST_REQUIRE");
    const char *p = req;
    size_t n = strlen("etcd");

    while (p && (p = strstr(p, "etcd")) != NULL) {
        if ((p == req || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return 1;
        p += n;
    }
    return 0;
}

static int test_etcd_available(void)
{
    return access(test_etcd_binary(), X_OK) == 0;
}

/* A port nobody listens on right now (the kernel's pick for an ephemeral bind). */
static int test_free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static size_t test_etcd_sink(char *p, size_t s, size_t n, void *arg)
{
    char *buf = arg;
    size_t have = strlen(buf), add = s * n;

    (void)p;
    if (have + add < 256) {
        memcpy(buf + have, p, add);
        buf[have + add] = '\0';
    }
    return s * n;
}

/* A CA, a server cert for 127.0.0.1 and a client cert, made with the openssl tool. */
static int test_etcd_make_certs(test_etcd *e)
{
    char cmd[2048];

    snprintf(cmd, sizeof(cmd),
             "cd '%s' && exec >certs.log 2>&1 && "
             "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' "
             ">srv.ext && "
             "printf 'extendedKeyUsage=clientAuth\\n' >cli.ext && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca.key -out ca.crt -days 2 -subj /CN=omlop-test-ca && "
             "for n in srv cli; do "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout $n.key -out $n.csr -subj /CN=127.0.0.1 && "
             "openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out $n.crt -days 2 -extfile $n.ext || exit 1; done",
             e->dir);
    if (system(cmd) != 0)
        return -1;
    snprintf(e->ca, sizeof(e->ca), "%s/ca.crt", e->dir);
    snprintf(e->cert, sizeof(e->cert), "%s/cli.crt", e->dir);
    snprintf(e->key, sizeof(e->key), "%s/cli.key", e->dir);
    return 0;
}

static int test_etcd_healthy(const test_etcd *e)
{
    char url[96], body[256] = "";
    CURL *h = curl_easy_init();
    CURLcode rc;

    snprintf(url, sizeof(url), "%s://%s/health", e->tls ? "https" : "http", e->endpoint);
    if (e->tls) {
        curl_easy_setopt(h, CURLOPT_CAINFO, e->ca);
        curl_easy_setopt(h, CURLOPT_SSLCERT, e->cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, e->key);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, test_etcd_sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)body);
    rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    return rc == CURLE_OK && strstr(body, "\"health\":\"true\"") != NULL;
}

static int test_etcd_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Run etcd on e's ports and dir: 0 once healthy, 1 when it exited (a port taken?), -1 otherwise. */
static int test_etcd_spawn(test_etcd *e)
{
    char data[192], log[192], client[64], peer[64], cluster[96];
    int64_t deadline;

    snprintf(data, sizeof(data), "%s/data", e->dir);
    snprintf(log, sizeof(log), "%s/etcd.log", e->dir);
    snprintf(client, sizeof(client), "%s://127.0.0.1:%d", e->tls ? "https" : "http",
             e->client_port);
    snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", e->peer_port);
    snprintf(cluster, sizeof(cluster), "default=%s", peer);
    e->pid = fork();
    if (e->pid < 0)
        return -1;
    if (e->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (e->tls) {
            char srv_cert[160], srv_key[160];

            snprintf(srv_cert, sizeof(srv_cert), "%s/srv.crt", e->dir);
            snprintf(srv_key, sizeof(srv_key), "%s/srv.key", e->dir);
            execl(test_etcd_binary(), "etcd", "--name", "default", "--data-dir", data,
                  "--listen-client-urls", client, "--advertise-client-urls", client,
                  "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                  "--initial-cluster", cluster, "--log-level", "warn", "--cert-file", srv_cert,
                  "--key-file", srv_key, "--trusted-ca-file", e->ca, "--client-cert-auth",
                  (char *)NULL);
        } else {
            execl(test_etcd_binary(), "etcd", "--name", "default", "--data-dir", data,
                  "--listen-client-urls", client, "--advertise-client-urls", client,
                  "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                  "--initial-cluster", cluster, "--log-level", "warn", (char *)NULL);
        }
        _exit(127);
    }
    deadline = clock_now_ms() + 20000;
    for (;;) {
        int status;

        if (test_etcd_healthy(e))
            return 0;
        if (waitpid(e->pid, &status, WNOHANG) == e->pid) {
            fprintf(stderr, "etcd exited during start-up; see %s\n", log);
            e->pid = 0;
            return 1;
        }
        if (clock_now_ms() > deadline) {
            fprintf(stderr, "etcd not healthy within 20 s; see %s\n", log);
            return -1;
        }
        usleep(50 * 1000);
    }
}

/*
 * Start etcd; 0 once healthy. The first start picks free ports (again, up to
 * three times, when another process took one meanwhile); later starts reuse
 * e's ports and data dir (a restart).
 */
static int test_etcd_start(test_etcd *e)
{
    char data[192];

    if (e->dir[0])
        return test_etcd_spawn(e) == 0 ? 0 : -1;
    snprintf(e->dir, sizeof(e->dir), "/tmp/omlop-etcd-XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    if (e->tls && test_etcd_make_certs(e) != 0) {
        fprintf(stderr, "cannot make test certificates; see %s/certs.log\n", e->dir);
        return -1;
    }
    snprintf(data, sizeof(data), "%s/data", e->dir);
    for (int attempt = 0; attempt < 3; attempt++) {
        int rc;

        e->client_port = test_free_port();
        e->peer_port = test_free_port();
        if (e->client_port < 0 || e->peer_port < 0 || e->client_port == e->peer_port)
            continue;
        snprintf(e->endpoint, sizeof(e->endpoint), "127.0.0.1:%d", e->client_port);
        rc = test_etcd_spawn(e);
        if (rc != 1)
            return rc;
        nftw(data, test_etcd_rm, 16, FTW_DEPTH | FTW_PHYS);
    }
    return -1;
}

/* SIGKILL etcd and reap it; its data dir stays for a restart. */
static void test_etcd_kill(test_etcd *e)
{
    if (e->pid > 0) {
        kill(e->pid, SIGKILL);
        waitpid(e->pid, NULL, 0);
    }
    e->pid = 0;
}

/* Kill etcd and remove its directory. */
static void test_etcd_stop(test_etcd *e)
{
    test_etcd_kill(e);
    if (e->dir[0])
        nftw(e->dir, test_etcd_rm, 16, FTW_DEPTH | FTW_PHYS);
    e->dir[0] = '\0';
}

#endif
