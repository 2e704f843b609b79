/*
 * Integration test of clients/acme against the REAL pebble (Debian package `pebble`, a test
 * dependency: missing, every test here FAILS, it never skips) on 127.0.0.1: pebble on 14000
 * (ACME) and 15000 (management), pebble-challtestsrv as its DNS server on 8053 (management
 * 8055). The test makes pebble's CA and listener pair itself (OpenSSL, in a temp dir), serves
 * the http-01 answers on a free high port of 127.0.0.1 that pebble's config names (httpPort),
 * and keeps pebble's default 5% nonce rejection so badNonce retries happen for real. Validation
 * is real: PEBBLE_VA_ALWAYS_VALID is removed from pebble's environment. Every process is
 * started with PR_SET_PDEATHSIG and stopped (TERM, then KILL after 5 s) at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "clients/acme.h"
#include "lib/clock.h"
#include "lib/strbuf.h"
#include "lib/tlspair.h"
#include "unit-tests/fake_http.h"

#define PEBBLE        "/usr/bin/pebble"
#define CHALLTESTSRV  "/usr/bin/pebble-challtestsrv"
#define ACME_PORT     14000
#define MGMT_PORT     15000
#define DNS_PORT      8053
#define DNS_MGMT_PORT 8055
#define NAME1         "t1.omlop.test"
#define NAME2         "www.t1.omlop.test"

/* The http-01 server: tokens the solver placed, answered on GET. */
typedef struct http01 {
    int lfd, port;
    pthread_t th;
    atomic_int stop;
    pthread_mutex_t mu; /* guards the table */
    char token[8][128];
    char ka[8][256];
    int n, hits;
} http01;

typedef struct env {
    char why[512]; /* why the environment is not usable: every test fails with it */
    char dir[64];
    char dirurl[64];
    char ca_file[128];
    pid_t pebble, dns;
    http01 h;
} env;

static void *http01_thread(void *arg)
{
    http01 *h = arg;

    while (!atomic_load(&h->stop)) {
        struct pollfd p = {h->lfd, POLLIN, 0};
        strbuf in = STRBUF_INIT, body = STRBUF_INIT, out = STRBUF_INIT;
        char method[16], target[1024];
        const char *pre = "/.well-known/acme-challenge/";
        int fd, found = -1;

        if (poll(&p, 1, 100) <= 0)
            continue;
        fd = accept(h->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        if (fake_http_read_request(&h->stop, fd, &in, method, target, &body) == 0) {
            pthread_mutex_lock(&h->mu);
            h->hits++;
            for (int i = 0; i < h->n; i++)
                if (strncmp(target, pre, strlen(pre)) == 0 &&
                    strcmp(target + strlen(pre), h->token[i]) == 0)
                    found = i;
            if (found >= 0)
                strbuf_addf(&out,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                            "%zu\r\nConnection: close\r\n\r\n%s",
                            strlen(h->ka[found]), h->ka[found]);
            else
                strbuf_adds(&out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: "
                                  "close\r\n\r\n");
            pthread_mutex_unlock(&h->mu);
            fake_http_send_all(fd, out.buf, out.len);
        }
        close(fd);
        strbuf_release(&in);
        strbuf_release(&body);
        strbuf_release(&out);
    }
    return NULL;
}

static int http01_start(http01 *h)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int one = 1;

    pthread_mutex_init(&h->mu, NULL);
    h->lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(h->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(h->lfd, 16) < 0)
        return -1;
    getsockname(h->lfd, (struct sockaddr *)&a, &len);
    h->port = ntohs(a.sin_port);
    return pthread_create(&h->th, NULL, http01_thread, h) == 0 ? 0 : -1;
}

/* --- pebble's CA and listener pair -------------------------------------------------------- */

static X509 *cert_make(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, int is_ca)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509V3_CTX ctx;
    const char *exts[][2] = {
        {"basicConstraints", is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE"},
        {"keyUsage", is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature"},
        {"subjectAltName", is_ca ? NULL : "DNS:localhost,IP:127.0.0.1"},
        {"extendedKeyUsage", is_ca ? NULL : "serverAuth"},
    };

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), is_ca ? 1 : 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -300);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        X509_EXTENSION *e;

        if (!exts[i][1])
            continue;
        e = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
    X509_NAME_free(n);
    return x;
}

static int write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");
    int ok;

    if (!f)
        return -1;
    ok = x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int make_pki(env *e)
{
    EVP_PKEY *cak = EVP_EC_gen("P-256"), *k = EVP_EC_gen("P-256");
    X509 *ca = cert_make("omlop test pebble CA", cak, NULL, NULL, 1);
    X509 *srv = cert_make("localhost", k, ca, cak, 0);
    char p1[128], p2[128];
    int rc;

    snprintf(e->ca_file, sizeof(e->ca_file), "%s/ca.pem", e->dir);
    snprintf(p1, sizeof(p1), "%s/cert.pem", e->dir);
    snprintf(p2, sizeof(p2), "%s/key.pem", e->dir);
    rc = write_pem(e->ca_file, ca, NULL) | write_pem(p1, srv, NULL) | write_pem(p2, NULL, k);
    X509_free(ca);
    X509_free(srv);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(k);
    return rc;
}

/* --- processes ------------------------------------------------------------------------------ */

static pid_t spawn(const char *log, char *const argv[], int real_validation)
{
    pid_t pid = fork();

    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (real_validation) {
            unsetenv("PEBBLE_VA_ALWAYS_VALID"); /* never: http-01 must really be checked */
            unsetenv("PEBBLE_WFE_NONCEREJECT"); /* the default 5% badNonce stays */
            setenv("PEBBLE_VA_NOSLEEP", "1", 1);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void stop(pid_t *pid)
{
    int64_t deadline;

    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    deadline = clock_now_ms() + 5000;
    while (waitpid(*pid, NULL, WNOHANG) == 0) {
        if (clock_now_ms() > deadline) {
            kill(*pid, SIGKILL);
            waitpid(*pid, NULL, 0);
            break;
        }
        clock_sleep_ms(20);
    }
    *pid = 0;
}

static int port_open(int port)
{
    struct sockaddr_in a = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static int wait_port(int port, pid_t pid)
{
    int64_t deadline = clock_now_ms() + 15000;

    while (clock_now_ms() < deadline) {
        if (port_open(port))
            return 0;
        if (waitpid(pid, NULL, WNOHANG) != 0)
            return -1; /* it died */
        clock_sleep_ms(50);
    }
    return -1;
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    strbuf_add(ud, p, s * n);
    return s * n;
}

/* A GET or POST with libcurl (the CA bundle for https); the HTTP status, or -1. */
static long fetch(const char *url, const char *ca, const char *post, strbuf *out)
{
    CURL *h = curl_easy_init();
    long status = -1;

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    if (post)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return status;
}

static int env_setup(void **state)
{
    env *e = calloc(1, sizeof(*e));
    char cfg[160], log1[128], log2[128], dns[32], body[800];
    FILE *f;
    strbuf out = STRBUF_INIT;

    *state = e;
    if (access(PEBBLE, X_OK) != 0 || access(CHALLTESTSRV, X_OK) != 0) {
        snprintf(e->why, sizeof(e->why),
                 "%s and %s are required (Debian package pebble: make deps, or apt-get install "
                 "pebble)",
                 PEBBLE, CHALLTESTSRV);
        return 0;
    }
    for (int p = 0, ports[] = {ACME_PORT, MGMT_PORT, DNS_MGMT_PORT}; p < 3; p++)
        if (port_open(ports[p])) {
            snprintf(e->why, sizeof(e->why),
                     "127.0.0.1:%d is already in use (another pebble?): this test needs it",
                     ports[p]);
            return 0;
        }
    snprintf(e->dir, sizeof(e->dir), "/tmp/omlop-pebble-XXXXXX");
    if (!mkdtemp(e->dir) || make_pki(e) < 0 || http01_start(&e->h) < 0) {
        snprintf(e->why, sizeof(e->why), "cannot prepare %s: %s", e->dir, strerror(errno));
        return 0;
    }
    snprintf(cfg, sizeof(cfg), "%s/pebble.json", e->dir);
    snprintf(body, sizeof(body),
             "{\"pebble\":{\"listenAddress\":\"127.0.0.1:%d\",\"managementListenAddress\":"
             "\"127.0.0.1:%d\",\"certificate\":\"%s/cert.pem\",\"privateKey\":\"%s/key.pem\","
             "\"httpPort\":%d,\"tlsPort\":5001,\"ocspResponderURL\":\"\","
             "\"externalAccountBindingRequired\":false}}\n",
             ACME_PORT, MGMT_PORT, e->dir, e->dir, e->h.port);
    f = fopen(cfg, "w");
    if (!f || fputs(body, f) < 0 || fclose(f) != 0) {
        snprintf(e->why, sizeof(e->why), "cannot write %s", cfg);
        return 0;
    }
    snprintf(log1, sizeof(log1), "%s/challtestsrv.log", e->dir);
    snprintf(log2, sizeof(log2), "%s/pebble.log", e->dir);
    snprintf(dns, sizeof(dns), "127.0.0.1:%d", DNS_PORT);
    {
        char mgmt[32];
        char *const a1[] = {CHALLTESTSRV, "-management", mgmt, "-dns01",     dns, "-http01",
                            "",           "-https01",    "",   "-tlsalpn01", "",  "-defaultIPv6",
                            "",           NULL};
        char *const a2[] = {PEBBLE, "-config", cfg, "-strict=false", "-dnsserver", dns, NULL};

        snprintf(mgmt, sizeof(mgmt), "127.0.0.1:%d", DNS_MGMT_PORT);
        e->dns = spawn(log1, a1, 0);
        if (wait_port(DNS_MGMT_PORT, e->dns) < 0) {
            snprintf(e->why, sizeof(e->why), "pebble-challtestsrv did not start (see %s)", log1);
            return 0;
        }
        e->pebble = spawn(log2, a2, 1);
        if (wait_port(ACME_PORT, e->pebble) < 0) {
            snprintf(e->why, sizeof(e->why), "pebble did not start (see %s)", log2);
            return 0;
        }
    }
    /* both names resolve to this host, where the http-01 server listens */
    for (int i = 0; i < 2; i++) {
        char rec[128];

        snprintf(rec, sizeof(rec), "{\"host\":\"%s\",\"addresses\":[\"127.0.0.1\"]}",
                 i ? NAME2 : NAME1);
        snprintf(body, sizeof(body), "http://127.0.0.1:%d/add-a", DNS_MGMT_PORT);
        if (fetch(body, NULL, rec, &out) != 200) {
            snprintf(e->why, sizeof(e->why), "pebble-challtestsrv refused add-a");
            break;
        }
    }
    snprintf(e->dirurl, sizeof(e->dirurl), "https://127.0.0.1:%d/dir", ACME_PORT);
    strbuf_release(&out);
    return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static int env_teardown(void **state)
{
    env *e = *state;

    stop(&e->pebble);
    stop(&e->dns);
    if (e->h.lfd > 0) {
        atomic_store(&e->h.stop, 1);
        pthread_join(e->h.th, NULL);
        close(e->h.lfd);
        pthread_mutex_destroy(&e->h.mu);
    }
    if (e->dir[0] && strncmp(e->dir, "/tmp/omlop-pebble-", 18) == 0)
        nftw(e->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(e);
    return 0;
}

/* --- the solver ---------------------------------------------------------------------------- */

typedef struct solver {
    http01 *h;
    int serve, presented, cleaned;
} solver;

static int present(void *ud, const char *domain, const char *token, const char *ka, omlop_err *err)
{
    solver *s = ud;

    (void)domain, (void)err;
    s->presented++;
    if (!s->serve)
        return 0;
    pthread_mutex_lock(&s->h->mu);
    if (s->h->n < 8) {
        snprintf(s->h->token[s->h->n], 128, "%s", token);
        snprintf(s->h->ka[s->h->n], 256, "%s", ka);
        s->h->n++;
    }
    pthread_mutex_unlock(&s->h->mu);
    return 0;
}

static int cleanup(void *ud, const char *domain, const char *token, const char *ka, omlop_err *err)
{
    solver *s = ud;

    (void)domain, (void)token, (void)ka, (void)err;
    s->cleaned++;
    return 0;
}

static acme_client *client(env *e, char **key, const char *account_url)
{
    acme_config cfg = {0};
    acme_client *c = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(tlspair_key_generate(TLSPAIR_KEY_EC_P256, key, NULL), 0);
    cfg.directory_url = e->dirurl;
    cfg.ca_file = e->ca_file;
    cfg.account_key_pem = *key;
    cfg.account_url = account_url;
    cfg.email = "ops@omlop.test";
    cfg.terms_agreed = 1;
    cfg.timeout_ms = 10000;
    cfg.poll_interval_ms = 200;
    cfg.max_polls = 50;
    if (acme_client_new(&cfg, &c, &err) < 0)
        fail_msg("acme_client_new: %s", err.msg);
    return c;
}

static void test_acme_pebble_issues_with_real_http01_and_retries_bad_nonces(void **state)
{
    env *e = *state;
    const char *names[] = {NAME1, NAME2};
    char *akey = NULL, *ckey = NULL, root_url[64];
    solver s = {&e->h, 1, 0, 0};
    acme_order_req req = {names, 2, NULL, present, cleanup, &s};
    acme_order *o = NULL;
    acme_client *c;
    acme_stats st;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf root = STRBUF_INIT, tmp = STRBUF_INIT;
    tlspair_validate_opts vo = {0};
    tlspair_check failed;
    tlspair_info info;
    int hits;

    if (e->why[0])
        fail_msg("%s", e->why);
    c = client(e, &akey, NULL);
    assert_int_equal(tlspair_key_generate(TLSPAIR_KEY_EC_P256, &ckey, NULL), 0);
    req.cert_key_pem = ckey;
    assert_int_equal(acme_order_new(c, &req, &o, &err), 0);
    if (acme_order_run(o, &err) < 0)
        fail_msg("issuance failed in %s: %s", acme_order_state(o), err.msg);
    assert_int_equal(s.presented, 2);
    assert_int_equal(s.cleaned, 2);
    pthread_mutex_lock(&e->h.mu);
    hits = e->h.hits;
    pthread_mutex_unlock(&e->h.mu);
    assert_true(hits >= 2); /* pebble's validator really fetched the answers */

    /* the chain verifies against pebble's issuing root, covers both names, has our key */
    snprintf(root_url, sizeof(root_url), "https://127.0.0.1:%d/roots/0", MGMT_PORT);
    assert_int_equal(fetch(root_url, e->ca_file, NULL, &root), 200);
    vo.ca_pem = root.buf;
    vo.at = (int64_t)time(NULL);
    vo.fqdn = NAME2;
    if (tlspair_validate(acme_order_chain(o), ckey, &vo, &failed, &err) < 0)
        fail_msg("%s: %s", tlspair_check_reason(failed), err.msg);
    assert_int_equal(tlspair_inspect(acme_order_chain(o), &info, &err), 0);
    assert_int_equal(info.n_dns, 2);
    assert_true(info.chain_len >= 2);
    tlspair_info_release(&info);

    /* pebble rejects 5% of good nonces: keep asking until one was, and was retried */
    if (acme_post_as_get(c, acme_order_url(o), &tmp, &err) < 0)
        fail_msg("POST-as-GET of the order: %s", err.msg);
    acme_client_stats(c, &st);
    for (int i = 0; i < 400 && st.bad_nonce_retries == 0; i++) {
        if (acme_post_as_get(c, acme_order_url(o), &tmp, &err) < 0)
            fail_msg("POST-as-GET %d: %s", i, err.msg);
        acme_client_stats(c, &st);
    }
    assert_true(st.bad_nonce_retries > 0);
    print_message("pebble: %lu requests, %lu badNonce retried, %d http-01 fetches\n", st.requests,
                  st.bad_nonce_retries, hits);
    assert_non_null(strstr(tmp.buf, "\"valid\""));

    acme_order_free(o);
    acme_client_free(c);
    tlspair_free_secret(akey);
    tlspair_free_secret(ckey);
    strbuf_release(&root);
    strbuf_release(&tmp);
}

static void test_acme_pebble_unserved_challenge_fails_with_its_problem(void **state)
{
    env *e = *state;
    const char *names[] = {"nothing-here.omlop.test"};
    char *akey = NULL, *ckey = NULL;
    solver s = {&e->h, 0, 0, 0};
    acme_order_req req = {names, 1, NULL, present, cleanup, &s};
    acme_order *o = NULL;
    acme_client *c;
    const acme_problem *p;
    omlop_err err = OMLOP_ERR_INIT;

    if (e->why[0])
        fail_msg("%s", e->why);
    c = client(e, &akey, NULL);
    assert_int_equal(tlspair_key_generate(TLSPAIR_KEY_EC_P256, &ckey, NULL), 0);
    req.cert_key_pem = ckey;
    assert_int_equal(acme_order_new(c, &req, &o, &err), 0);
    assert_int_equal(acme_order_run(o, &err), OMLOP_EPERM);
    p = acme_order_problem(o);
    assert_non_null(p);
    assert_true(acme_problem_is(p, "unauthorized") || acme_problem_is(p, "connection"));
    assert_true(strlen(p->detail) > 0);
    assert_non_null(strstr(p->document, p->type));
    assert_non_null(strstr(err.msg, p->detail)); /* surfaced as pebble said it */
    print_message("pebble's problem: %s\n", p->document);
    assert_null(acme_order_chain(o));
    assert_int_equal(s.cleaned, 1);
    acme_order_free(o);
    acme_client_free(c);
    tlspair_free_secret(akey);
    tlspair_free_secret(ckey);
}

static void test_acme_pebble_forgotten_account_is_registered_again(void **state)
{
    env *e = *state;
    const char *names[] = {NAME1};
    char *akey = NULL, *ckey = NULL, stale[96];
    solver s = {&e->h, 1, 0, 0};
    acme_order_req req = {names, 1, NULL, present, cleanup, &s};
    acme_order *o = NULL;
    acme_client *c;
    omlop_err err = OMLOP_ERR_INIT;

    if (e->why[0])
        fail_msg("%s", e->why);
    /* an account URL from an earlier pebble run (pebble keeps no state across restarts) */
    snprintf(stale, sizeof(stale), "https://127.0.0.1:%d/my-account/999999", ACME_PORT);
    c = client(e, &akey, stale);
    assert_int_equal(tlspair_key_generate(TLSPAIR_KEY_EC_P256, &ckey, NULL), 0);
    req.cert_key_pem = ckey;
    assert_int_equal(acme_order_new(c, &req, &o, &err), 0);
    if (acme_order_run(o, &err) < 0)
        fail_msg("in %s: %s", acme_order_state(o), err.msg);
    assert_string_not_equal(acme_client_account_url(c), stale);
    assert_non_null(strstr(acme_client_account_url(c), "/my-account/"));
    assert_non_null(acme_order_chain(o));
    acme_order_free(o);
    acme_client_free(c);
    tlspair_free_secret(akey);
    tlspair_free_secret(ckey);
}

static void test_acme_pebble_is_refused_without_its_ca(void **state)
{
    env *e = *state;
    acme_config cfg = {0};
    acme_client *c = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    char *key = NULL;

    if (e->why[0])
        fail_msg("%s", e->why);
    /* the system store does not know pebble's CA: TLS verification refuses, always */
    assert_int_equal(tlspair_key_generate(TLSPAIR_KEY_EC_P256, &key, NULL), 0);
    cfg.directory_url = e->dirurl;
    cfg.account_key_pem = key;
    cfg.terms_agreed = 1;
    cfg.timeout_ms = 10000;
    assert_int_equal(acme_client_new(&cfg, &c, &err), 0);
    assert_int_equal(acme_client_account(c, &err), OMLOP_EUNAVAIL);
    assert_non_null(strstr(err.msg, "certificate"));
    assert_null(acme_client_account_url(c));
    acme_client_free(c);
    tlspair_free_secret(key);
}

static void test_acme_pebble_ca_bundle_as_text(void **state)
{
    env *e = *state;
    acme_config cfg = {0};
    acme_client *c = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf ca = STRBUF_INIT, other = STRBUF_INIT;
    char *key = NULL, *ocert = NULL, *okey = NULL;
    tlspair_selfsigned_opts so;

    if (e->why[0])
        fail_msg("%s", e->why);
    /* spec.tls.acme.caBundle: pebble's CA as text verifies it (a file is not needed) */
    assert_int_equal(strbuf_read_file(&ca, e->ca_file, 65536, &err), 0);
    assert_int_equal(tlspair_key_generate(TLSPAIR_KEY_EC_P256, &key, NULL), 0);
    cfg.directory_url = e->dirurl;
    cfg.ca_pem = ca.buf;
    cfg.account_key_pem = key;
    cfg.email = "ops@omlop.test";
    cfg.terms_agreed = 1;
    cfg.timeout_ms = 10000;
    assert_int_equal(acme_client_new(&cfg, &c, &err), 0);
    if (acme_client_account(c, &err) < 0)
        fail_msg("account with ca_pem: %s", err.msg);
    assert_non_null(acme_client_account_url(c));
    acme_client_free(c);
    c = NULL;
    /* another CA as text: refused like the system store; text without a certificate: EINVAL */
    memset(&so, 0, sizeof(so));
    so.common_name = "other ca";
    so.now = 1800000000;
    assert_int_equal(tlspair_selfsigned(&so, &ocert, &okey, &err), 0);
    strbuf_adds(&other, ocert);
    cfg.ca_pem = other.buf;
    assert_int_equal(acme_client_new(&cfg, &c, &err), 0);
    assert_int_equal(acme_client_account(c, &err), OMLOP_EUNAVAIL);
    assert_non_null(strstr(err.msg, "certificate"));
    acme_client_free(c);
    c = NULL;
    cfg.ca_pem = "not a bundle";
    assert_int_equal(acme_client_new(&cfg, &c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "caBundle"));
    assert_null(c);
    free(ocert);
    tlspair_free_secret(okey);
    tlspair_free_secret(key);
    strbuf_release(&ca);
    strbuf_release(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acme_pebble_issues_with_real_http01_and_retries_bad_nonces),
        cmocka_unit_test(test_acme_pebble_unserved_challenge_fails_with_its_problem),
        cmocka_unit_test(test_acme_pebble_forgotten_account_is_registered_again),
        cmocka_unit_test(test_acme_pebble_is_refused_without_its_ca),
        cmocka_unit_test(test_acme_pebble_ca_bundle_as_text),
    };

    curl_global_init(CURL_GLOBAL_ALL);
    return cmocka_run_group_tests(tests, env_setup, env_teardown);
}
