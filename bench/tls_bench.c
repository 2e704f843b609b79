/*
 * tls_bench: what certificates cost (issue 12).
 *
 * 1. The renewal check for 1,000 tenants. Each round of a tenant runs the certificate
 *    reconciler first (tls_resolve): for a tenant whose pair is current that is the whole cost
 *    of "is a renewal due?". 1,000 tenants in tls.mode acme, each with a current ACME pair in its
 *    "<tenant>-tls" Secret and the status.tls an earlier round wrote (so the key is not parsed
 *    again), in an SQLite store in a temp dir; one measured pass calls tls_resolve for every
 *    tenant (it must keep every pair: no order, no write). Baseline, same process, same store:
 *    reading each Tenant object (obj_get: the first thing any round does); the check reads one
 *    more object (the Secret) and parses the certificate (OpenSSL 3: about 0.4 ms), so the ratio
 *    is printed, not judged. Target: under 1 ms per tenant, 1,000 tenants in under a second of
 *    one worker's time - half of a no-change round (resync_bench: about 2 ms per tenant) at most,
 *    in practice a quarter.
 *
 * 2. Issuance of a pebble certificate end to end: pebble and pebble-challtestsrv started with
 *    e2e/parts/pebble.sh on 127.0.0.1 (ports 14200, 15200, 8253, 8255; real http-01 validation,
 *    answered by a small server in this process on a free loopback port), then, per issuance, a
 *    new acme_client and order driven to the end (directory, account, order, authorization,
 *    challenge, polls, finalize, download): what omlopd's round does, minus the solver
 *    container. Baseline, same process: one GET of the directory (a TLS round trip to pebble).
 *    Target: an issuance under 10 s (the reconciler's budget is 60 s). Without pebble installed
 *    the bench FAILS (it is a test dependency, make deps).
 *
 * Usage: tls_bench   (OMLOP_BENCH_QUICK=1: 200 tenants and 2 issuances)
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clients/acme.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/tlspair.h"
#include "lib/xalloc.h"
#include "objects/objects.h"
#include "reconcilers/tls.h"
#include "store/store.h"

#define NOW_OFFSET_S 3600 /* the pairs are an hour old */

/* ---- 1. the renewal check ------------------------------------------------------------------ */

static int put(store *st, json_object *o)
{
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;
    int rc = obj_create(st,
                        o && cjson_get_string(o, "kind") &&
                                strcmp(cjson_get_string(o, "kind"), "Secret") == 0
                            ? "secrets"
                            : "tenants",
                        o, 0, &res, &err);

    if (rc < 0)
        fprintf(stderr, "tls_bench: create: %s\n", err.msg);
    obj_result_release(&res);
    return rc;
}

/* Tenant i with an ACME pair from server and the status a round wrote. */
static int make_tenant(store *st, int i, const char *cert, const char *key, int64_t *secret_rev)
{
    strbuf s = STRBUF_INIT;
    json_object *sec, *data, *t;
    char name[32], digest[CJSON_HASH_HEX_LEN + 1];
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;
    int rc;

    snprintf(name, sizeof(name), "t%04d", i);
    strbuf_addf(&s,
                "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
                "\"%s-tls\",\"labels\":{\"omlop.io/tenant\":\"%s\",\"omlop.io/managed-by\":"
                "\"omlop\"},\"annotations\":{\"omlop.io/tls-source\":\"acme "
                "https://127.0.0.1:14200/dir\"}},\"type\":\"kubernetes.io/tls\"}",
                name, name);
    sec = json_tokener_parse(s.buf);
    data = json_object_new_object();
    json_object_object_add(data, "tls.crt", json_object_new_string(cert));
    json_object_object_add(data, "tls.key", json_object_new_string(key));
    json_object_object_add(sec, "stringData", data);
    rc = obj_create(st, "secrets", sec, 0, &res, &err);
    *secret_rev = res.revision;
    obj_result_release(&res);
    json_object_put(sec);
    if (rc < 0) {
        fprintf(stderr, "tls_bench: secret: %s\n", err.msg);
        strbuf_release(&s);
        return rc;
    }
    cjson_sha256_hex(cert, strlen(cert), digest);
    strbuf_reset(&s);
    strbuf_addf(&s,
                "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\",\"metadata\":{\"name\":"
                "\"%s\"},\"spec\":{\"hosts\":[{\"name\":\"h1\",\"lanIP\":\"10.0.0.1\"}],"
                "\"network\":{\"fqdn\":\"%s.example.com\"},\"tls\":{\"mode\":\"acme\",\"acme\":"
                "{\"email\":\"ops@example.com\",\"server\":\"https://127.0.0.1:14200/dir\"}}},"
                "\"status\":{\"tls\":{\"mode\":\"acme\",\"secretName\":\"%s-tls\","
                "\"secretRevision\":%lld,\"digest\":\"%s\"}}}",
                name, name, name, (long long)*secret_rev, digest);
    t = json_tokener_parse(s.buf);
    rc = put(st, t);
    json_object_put(t);
    strbuf_release(&s);
    return rc;
}

static int bench_check(int n, double *check_s, double *base_s)
{
    char dir[] = "/tmp/omlop-tlsbench-XXXXXX", cmd[64];
    store_options so;
    store *st = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    json_object **tenants = xcalloc((size_t)n, sizeof(*tenants));
    int rc = -1, kept = 0;
    int64_t t0, now = 0;

    if (!mkdtemp(dir))
        return -1;
    store_options_default(&so);
    so.data_dir = dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &st, &err) < 0) {
        fprintf(stderr, "tls_bench: store: %s\n", err.msg);
        goto out;
    }
    /* the pairs differ per tenant in name only through the fqdn: one certificate per tenant */
    for (int i = 0; i < n; i++) {
        tlspair_selfsigned_opts o;
        char fqdn[64], name[32], *cert = NULL, *key = NULL;
        const char *dns[1] = {fqdn};
        int64_t rev;

        snprintf(name, sizeof(name), "t%04d", i);
        snprintf(fqdn, sizeof(fqdn), "%s.example.com", name);
        memset(&o, 0, sizeof(o));
        o.common_name = fqdn;
        o.dns_names = dns;
        o.n_dns = 1;
        o.now = (int64_t)time(NULL) - NOW_OFFSET_S;
        o.lifetime_s = 90 * 24 * 3600;
        if (tlspair_selfsigned(&o, &cert, &key, &err) < 0 ||
            make_tenant(st, i, cert, key, &rev) < 0) {
            free(cert);
            tlspair_free_secret(key);
            goto out;
        }
        free(cert);
        tlspair_free_secret(key);
    }
    /* baseline: read every Tenant (what each round does first) */
    t0 = clock_now_ns();
    for (int i = 0; i < n; i++) {
        char name[32];

        snprintf(name, sizeof(name), "t%04d", i);
        if (obj_get(st, "tenants", name, &tenants[i], NULL, &err) < 0)
            goto out;
    }
    *base_s = (double)(clock_now_ns() - t0) / 1e9;
    /* the check, on the objects just read */
    now = (int64_t)time(NULL);
    t0 = clock_now_ns();
    for (int i = 0; i < n; i++) {
        tls_options o;
        tls_result r;

        memset(&o, 0, sizeof(o));
        o.now = now;
        if (tls_resolve(st, tenants[i], &o, &r, &err) < 0)
            goto out;
        kept += r.issued == TLS_KEEP && !r.fail_reason && r.cert_pem;
        tls_result_release(&r);
    }
    *check_s = (double)(clock_now_ns() - t0) / 1e9;
    if (kept != n) {
        fprintf(stderr, "tls_bench: %d of %d pairs kept (want all: no order may run)\n", kept, n);
        goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < n; i++)
        json_object_put(tenants[i]);
    free(tenants);
    store_close(st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "tls_bench: could not remove %s\n", dir);
    return rc;
}

/* ---- 2. issuance against pebble ------------------------------------------------------------ */

#define PEB_DIR "/tmp/omlop-tlsbench-pebble"
#define PEB_ENV                                                                                    \
    "PEBBLE_PORT=14200 PEBBLE_MGMT_PORT=15200 PEBBLE_DNS_PORT=8253 PEBBLE_DNS_MGMT_PORT=8255 "

/* A tiny http-01 server on the loopback: one token at a time (the orders run one by one). */
typedef struct http01 {
    int fd;
    int port;
    pthread_t th;
    atomic_int stop;
    pthread_mutex_t mu; /* guards path and body */
    char path[512];
    char body[512];
} http01;

static void *http01_main(void *arg)
{
    http01 *h = arg;

    while (!atomic_load(&h->stop)) {
        struct pollfd p = {h->fd, POLLIN, 0};
        char req[2048], resp[1024];
        ssize_t n;
        int c;

        if (poll(&p, 1, 100) <= 0)
            continue;
        if ((c = accept(h->fd, NULL, NULL)) < 0)
            continue;
        n = recv(c, req, sizeof(req) - 1, 0);
        if (n > 0) {
            req[n] = '\0';
            pthread_mutex_lock(&h->mu);
            if (h->path[0] && strncmp(req, "GET ", 4) == 0 &&
                strncmp(req + 4, h->path, strlen(h->path)) == 0 && req[4 + strlen(h->path)] == ' ')
                snprintf(resp, sizeof(resp),
                         "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         strlen(h->body), h->body);
            else
                snprintf(
                    resp, sizeof(resp),
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            pthread_mutex_unlock(&h->mu);
            if (send(c, resp, strlen(resp), MSG_NOSIGNAL) < 0)
                fprintf(stderr, "tls_bench: http-01 answer not sent\n");
        }
        close(c);
    }
    return NULL;
}

static int http01_start(http01 *h)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int one = 1;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (h->fd < 0 || bind(h->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(h->fd, 16) < 0 ||
        getsockname(h->fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    h->port = ntohs(a.sin_port);
    pthread_mutex_init(&h->mu, NULL);
    atomic_init(&h->stop, 0);
    return pthread_create(&h->th, NULL, http01_main, h) == 0 ? 0 : -1;
}

static int present(void *ud, const char *domain, const char *token, const char *ka, omlop_err *err)
{
    http01 *h = ud;

    (void)domain;
    (void)err;
    pthread_mutex_lock(&h->mu);
    snprintf(h->path, sizeof(h->path), "/.well-known/acme-challenge/%s", token);
    snprintf(h->body, sizeof(h->body), "%s", ka);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static int bench_issue(int n, double *issue_s, double *worst_s, double *dir_s, unsigned long *reqs)
{
    http01 h;
    char cmd[512];
    strbuf ca = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    int rc = -1;
    CURL *cu = NULL;

    memset(&h, 0, sizeof(h));
    if (http01_start(&h) < 0) {
        fprintf(stderr, "tls_bench: no loopback port for http-01\n");
        return -1;
    }
    snprintf(cmd, sizeof(cmd), PEB_ENV "PEBBLE_HTTP_PORT=%d sh e2e/parts/pebble.sh up %s 86400",
             h.port, PEB_DIR);
    if (system(cmd) != 0) {
        fprintf(stderr, "tls_bench: pebble did not start (Debian package pebble; make deps)\n");
        goto out;
    }
    if (strbuf_read_file(&ca, PEB_DIR "/ca.pem", 65536, &err) < 0)
        goto out;
    /* baseline: one GET of the directory over TLS, a fresh connection as each client makes */
    cu = curl_easy_init();
    *dir_s = 0;
    for (int i = 0; i < n; i++) {
        int64_t t0 = clock_now_ns();

        curl_easy_reset(cu);
        curl_easy_setopt(cu, CURLOPT_URL, "https://127.0.0.1:14200/dir");
        curl_easy_setopt(cu, CURLOPT_CAINFO, PEB_DIR "/ca.pem");
        curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(cu, CURLOPT_FORBID_REUSE, 1L);
        if (curl_easy_perform(cu) != CURLE_OK) {
            fprintf(stderr, "tls_bench: GET /dir failed\n");
            goto out;
        }
        *dir_s += (double)(clock_now_ns() - t0) / 1e9;
    }
    *dir_s /= n;
    *issue_s = *worst_s = 0;
    *reqs = 0;
    for (int i = 0; i < n; i++) {
        acme_config cfg;
        acme_order_req req;
        acme_client *c = NULL;
        acme_order *o = NULL;
        acme_stats stats;
        char *akey = NULL, *ckey = NULL;
        const char *dom[1] = {"bench.example.com"};
        int64_t t0 = clock_now_ns();
        double s;
        int r;

        /* as a round does: a new client and order; the account key is a stored one (kept
         * across issuances like <tenant>-acme-account) but made here on the first */
        memset(&cfg, 0, sizeof(cfg));
        r = tlspair_key_generate(TLSPAIR_KEY_EC_P256, &akey, &err);
        cfg.directory_url = "https://127.0.0.1:14200/dir";
        cfg.ca_pem = ca.buf;
        cfg.account_key_pem = akey;
        cfg.email = "ops@example.com";
        cfg.terms_agreed = 1;
        cfg.poll_interval_ms = 200;
        memset(&req, 0, sizeof(req));
        req.domains = dom;
        req.n_domains = 1;
        req.present = present;
        req.ud = &h;
        if (r == 0)
            r = tlspair_key_generate(TLSPAIR_KEY_EC_P256, &ckey, &err);
        req.cert_key_pem = ckey;
        if (r == 0)
            r = acme_client_new(&cfg, &c, &err);
        if (r == 0)
            r = acme_order_new(c, &req, &o, &err);
        if (r == 0)
            r = acme_order_run(o, &err);
        s = (double)(clock_now_ns() - t0) / 1e9;
        if (r == 0 && !acme_order_chain(o))
            r = -1;
        if (c) {
            acme_client_stats(c, &stats);
            *reqs += stats.requests;
        }
        acme_order_free(o);
        acme_client_free(c);
        tlspair_free_secret(akey);
        tlspair_free_secret(ckey);
        if (r < 0) {
            fprintf(stderr, "tls_bench: issuance %d failed: %s\n", i + 1, err.msg);
            goto out;
        }
        *issue_s += s;
        if (s > *worst_s)
            *worst_s = s;
    }
    *issue_s /= n;
    *reqs /= (unsigned long)n;
    rc = 0;
out:
    if (cu)
        curl_easy_cleanup(cu);
    strbuf_release(&ca);
    atomic_store(&h.stop, 1);
    pthread_join(h.th, NULL);
    close(h.fd);
    pthread_mutex_destroy(&h.mu);
    if (system(PEB_ENV "sh e2e/parts/pebble.sh down " PEB_DIR) != 0)
        fprintf(stderr, "tls_bench: pebble.sh down failed\n");
    return rc;
}

int main(void)
{
    const char *quick = getenv("OMLOP_BENCH_QUICK");
    int is_quick = quick && *quick && strcmp(quick, "0") != 0;
    int n_tenants = is_quick ? 200 : 1000, n_issue = is_quick ? 2 : 5, status = 0;
    double check_s = 0, base_s = 0, issue_s = 0, worst_s = 0, dir_s = 0, ratio, per_ms;
    unsigned long reqs = 0;

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (bench_check(n_tenants, &check_s, &base_s) < 0) {
        printf("renewal check: FAILED\n");
        return 1;
    }
    ratio = base_s > 0 ? check_s / base_s : 0;
    per_ms = check_s * 1000 / n_tenants;
    printf("renewal check of %d ACME tenants (pairs current: kept, no order)\n", n_tenants);
    printf("%-28s %10s %12s %10s %10s %8s\n", "measurement", "wall", "per tenant", "baseline",
           "ratio", "result");
    printf("%-28s %8.3f s %9.3f ms %8.3f s %9.1fx %8s\n", "tls_resolve vs Tenant read", check_s,
           per_ms, base_s, ratio, per_ms < 1 ? "PASS" : "FAIL");
    if (!(per_ms < 1))
        status = 1;

    if (bench_issue(n_issue, &issue_s, &worst_s, &dir_s, &reqs) < 0) {
        printf("pebble issuance: FAILED\n");
        curl_global_cleanup();
        return 1;
    }
    printf("\nissuance of a pebble certificate end to end (%d orders, real http-01, "
           "PEBBLE_VA_NOSLEEP)\n",
           n_issue);
    printf("%-28s %10s %12s %10s %10s %8s\n", "measurement", "mean", "worst", "baseline", "ratio",
           "result");
    printf("%-28s %8.3f s %10.3f s %8.4f s %9.1fx %8s\n", "order vs GET /dir", issue_s, worst_s,
           dir_s, dir_s > 0 ? issue_s / dir_s : 0, worst_s < 10 ? "PASS" : "FAIL");
    printf("requests per issuance: %lu\n", reqs);
    if (!(worst_s < 10))
        status = 1;
    curl_global_cleanup();
    return status;
}
