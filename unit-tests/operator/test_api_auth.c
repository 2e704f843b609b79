/*
 * Security tests against a real omlopd: bearer tokens (401 without or with a
 * bad token, 403 for a view token writing), the audit log, the unix socket,
 * TLS with a certificate made here, and the refusal to listen on a
 * non-loopback address without TLS and tokens.
 */
#include "api_harness.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define BK          "/apis/omlop.io/v1alpha1/backups"
#define ADMIN_TOKEN "adm-3f9c1e0b7d2a4c6e8f10"
#define VIEW_TOKEN  "view-8a7b6c5d4e3f2a1b0c9d"

static const char *const backup =
    "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":\"%s\"},"
    "\"spec\":{\"tenantRef\":{\"name\":\"t\"}}}";

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

/* A temp dir for files omlopd reads before it starts. */
static void files_dir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/omlop-apitest-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void write_tokens(const char *dir, char *path, size_t n)
{
    snprintf(path, n, "%s/tokens.csv", dir);
    harness_write_file(
        path, "# token,name,role\n" ADMIN_TOKEN ",ci-bot,admin\n" VIEW_TOKEN ",dashboard,view\n",
        0600);
}

static void test_tokens_401_403_and_audit(void **state)
{
    omlopd_proc p;
    char dir[64], tokens[128], body[512];
    const char *flags[] = {"--tokens", tokens, NULL};
    http_opts admin = {.token = ADMIN_TOKEN}, view = {.token = VIEW_TOKEN};
    http_opts bad = {.token = "adm-3f9c1e0b7d2a4c6e8f11"};
    http_resp r;
    strbuf log = STRBUF_INIT;

    (void)state;
    files_dir(dir, sizeof(dir));
    write_tokens(dir, tokens, sizeof(tokens));
    omlopd_start(&p, flags);
    assert_non_null(strstr(p.start_line, "bearer tokens required"));

    http_do(&p, "GET", BK, NULL, NULL, &r);
    assert_int_equal(r.code, 401);
    assert_string_equal(resp_str(&r, "reason"), "Unauthorized");
    assert_string_equal(resp_str(&r, "kind"), "Status");
    http_resp_release(&r);
    http_do(&p, "GET", BK, NULL, &bad, &r);
    assert_int_equal(r.code, 401);
    assert_null(strstr(r.body.buf, "adm-3f9c")); /* the token is never echoed */
    http_resp_release(&r);
    /* health and version need no token */
    assert_int_equal(http_do(&p, "GET", "/healthz", NULL, NULL, &r), 200);
    http_resp_release(&r);
    assert_int_equal(http_do(&p, "GET", "/version", NULL, NULL, &r), 200);
    http_resp_release(&r);
    /* view reads, cannot write */
    assert_int_equal(http_do(&p, "GET", BK, NULL, &view, &r), 200);
    http_resp_release(&r);
    snprintf(body, sizeof(body), backup, "by-view");
    http_do(&p, "POST", BK, body, &view, &r);
    assert_int_equal(r.code, 403);
    assert_string_equal(resp_str(&r, "reason"), "Forbidden");
    assert_non_null(strstr(resp_str(&r, "message"), "dashboard"));
    http_resp_release(&r);
    http_do(&p, "POST", "/omlop/compact", "", &view, &r);
    assert_int_equal(r.code, 403);
    http_resp_release(&r);
    /* as Kubernetes' view role, view cannot read secrets */
    http_do(&p, "GET", "/apis/omlop.io/v1alpha1/secrets", NULL, &view, &r);
    assert_int_equal(r.code, 403);
    http_resp_release(&r);
    assert_int_equal(http_do(&p, "GET", "/apis/omlop.io/v1alpha1/secrets", NULL, &admin, &r), 200);
    http_resp_release(&r);
    /* with tokens a page has no credential: any Host is served, a foreign Origin is not */
    {
        const char *rebind[] = {"Host: omlop.example.com", NULL};
        const char *page[] = {"Origin: http://evil.example", NULL};
        http_opts h = {.token = ADMIN_TOKEN, .headers = rebind};
        http_opts o = {.token = ADMIN_TOKEN, .headers = page};

        assert_int_equal(http_do(&p, "GET", BK, NULL, &h, &r), 200);
        http_resp_release(&r);
        assert_int_equal(http_do(&p, "GET", BK, NULL, &o, &r), 403);
        http_resp_release(&r);
    }
    /* admin writes */
    snprintf(body, sizeof(body), backup, "by-admin");
    assert_int_equal(http_do(&p, "POST", BK, body, &admin, &r), 201);
    http_resp_release(&r);
    http_do(&p, "POST", BK, body, &bad, &r);
    assert_int_equal(r.code, 401);
    http_resp_release(&r);

    omlopd_log(&p, &log);
    assert_non_null(strstr(log.buf, "audit user=ci-bot role=admin verb=create resource=backups "
                                    "name=by-admin code=201"));
    assert_non_null(strstr(log.buf, "audit user=dashboard role=view verb=create resource=backups "
                                    "name=- code=403"));
    assert_non_null(strstr(log.buf, "verb=create resource=- name=- code=401"));
    assert_null(strstr(log.buf, ADMIN_TOKEN));
    assert_null(strstr(log.buf, VIEW_TOKEN));
    strbuf_release(&log);
    omlopd_stop(&p);
    harness_rm_rf(dir);
}

#define SECRETS "/apis/omlop.io/v1alpha1/secrets"

static const char *const secret_body =
    "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"%s\"},"
    "\"stringData\":{\"id_ed25519\":\"private key material\"}}";

/* One request with extra header lines; returns the HTTP code. */
static long with_headers(const omlopd_proc *p, const char *method, const char *path,
                         const char *body, const char *h1, const char *h2, http_resp *r)
{
    const char *hdrs[] = {h1, h2, NULL};
    http_opts o = {.headers = hdrs};

    return http_do(p, method, path, body, &o, r);
}

/* A websocket watch handshake on a raw socket; returns the answer's head. */
static void ws_upgrade(const omlopd_proc *p, const char *extra, strbuf *got)
{
    char req[1024];
    int fd = raw_connect(p->port);

    snprintf(req, sizeof(req),
             "GET " SECRETS "?watch=true HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
             "Sec-WebSocket-Version: 13\r\n%s\r\n",
             p->port, extra);
    assert_int_equal(raw_send(fd, req, strlen(req)), 0);
    raw_recv(fd, got, "\r\n\r\n", 5000);
    close(fd);
}

/* The secret name is absent from the store (a refused write wrote nothing). */
static void assert_no_secret(const omlopd_proc *p, const char *name)
{
    char path[256];
    http_resp r;

    snprintf(path, sizeof(path), SECRETS "/%s", name);
    assert_int_equal(http_do(p, "GET", path, NULL, NULL, &r), 404);
    http_resp_release(&r);
}

/*
 * Without tokens every loopback peer is admin, so what a browser page can make
 * its browser send is refused: a rebound Host, a foreign Origin (HTTP and
 * websocket) and a write whose Content-Type a page may send without a preflight.
 */
static void test_browser_requests_refused_without_tokens(void **state)
{
    static const char *const good_hosts[] = {"Host: localhost",
                                             "Host: LOCALHOST:1",
                                             "Host: 127.0.0.1",
                                             "Host: 127.9.9.9:8787",
                                             "Host: [::1]:8787",
                                             "Host: [::1]",
                                             NULL};
    static const char *const bad_hosts[] = {"Host: rebind.evil.example",
                                            "Host: localhost.evil.example",
                                            "Host: 127.0.0.1.nip.io",
                                            "Host: [::2]:80",
                                            "Host: ::1",
                                            "Host: localhost:80x",
                                            "Host: evil@localhost",
                                            "Host: 10.0.0.1:8787",
                                            NULL};
    static const char *const bad_origins[] = {"Origin: http://evil.example",
                                              "Origin: null",
                                              "Origin: http://127.0.0.1.evil.example",
                                              "Origin: https://localhost.evil.example:443",
                                              "Origin: http://localhost/path",
                                              "Origin: garbage",
                                              NULL};
    static const char *const good_origins[] = {"Origin: http://localhost:3000",
                                               "Origin: http://127.0.0.1:8787",
                                               "Origin: https://[::1]:1", NULL};
    static const char *const bad_types[] = {"text/plain", "application/x-www-form-urlencoded",
                                            "multipart/form-data", "application/octet-stream",
                                            NULL};
    omlopd_proc p;
    http_resp r;
    char body[512];
    strbuf log = STRBUF_INIT, got = STRBUF_INIT;

    (void)state;
    omlopd_start(&p, NULL);
    /* DNS rebinding: a page's name resolving to 127.0.0.1 */
    for (size_t i = 0; bad_hosts[i]; i++) {
        with_headers(&p, "GET", SECRETS, NULL, bad_hosts[i], NULL, &r);
        if (r.code != 403)
            fail_msg("%s: answered %ld, want 403", bad_hosts[i], r.code);
        assert_string_equal(resp_str(&r, "reason"), "Forbidden");
        assert_non_null(strstr(resp_str(&r, "message"), "--accept-hosts"));
        assert_null(strstr(r.body.buf, "private key material"));
        http_resp_release(&r);
    }
    with_headers(&p, "GET", SECRETS, NULL, "Host: rebind.evil.example", NULL, &r);
    assert_non_null(strstr(resp_str(&r, "message"), "Host header 'rebind.evil.example'"));
    http_resp_release(&r);
    for (size_t i = 0; good_hosts[i]; i++) {
        if (with_headers(&p, "GET", SECRETS, NULL, good_hosts[i], NULL, &r) != 200)
            fail_msg("%s: answered %ld, want 200", good_hosts[i], r.code);
        http_resp_release(&r);
    }

    /* a foreign Origin: neither a read nor a write */
    snprintf(body, sizeof(body), secret_body, "from-page");
    for (size_t i = 0; bad_origins[i]; i++) {
        with_headers(&p, "POST", SECRETS, body, bad_origins[i], NULL, &r);
        if (r.code != 403)
            fail_msg("%s: answered %ld, want 403", bad_origins[i], r.code);
        assert_non_null(strstr(resp_str(&r, "message"), "the Origin"));
        http_resp_release(&r);
        assert_int_equal(with_headers(&p, "GET", SECRETS, NULL, bad_origins[i], NULL, &r), 403);
        http_resp_release(&r);
    }
    assert_no_secret(&p, "from-page");
    for (size_t i = 0; good_origins[i]; i++) {
        if (with_headers(&p, "GET", SECRETS, NULL, good_origins[i], NULL, &r) != 200)
            fail_msg("%s: answered %ld, want 200", good_origins[i], r.code);
        http_resp_release(&r);
    }

    /* the same for a websocket watch: refused before the upgrade */
    ws_upgrade(&p, "Origin: http://evil.example\r\n", &got);
    assert_int_equal(strncmp(got.buf + 8, " 403", 4), 0);
    assert_null(strstr(got.buf, " 101 "));
    strbuf_reset(&got);
    ws_upgrade(&p, "Origin: http://localhost:3000\r\n", &got);
    assert_int_equal(strncmp(got.buf, "HTTP/1.1 101", 12), 0);
    strbuf_reset(&got);

    /* writes need one of the API's body types */
    {
        http_opts none = {.no_content_type = 1};

        http_do(&p, "POST", SECRETS, body, &none, &r);
        assert_int_equal(r.code, 415);
        assert_string_equal(resp_str(&r, "reason"), "UnsupportedMediaType");
        assert_non_null(strstr(resp_str(&r, "message"), "POST with a body and no Content-Type"));
        http_resp_release(&r);
    }
    for (size_t i = 0; bad_types[i]; i++) {
        static const char *const methods[] = {"POST", "PUT", "PATCH", "DELETE", NULL};

        for (size_t m = 0; methods[m]; m++) {
            http_opts o = {.content_type = bad_types[i]};
            char path[128];

            snprintf(path, sizeof(path), "%s%s", SECRETS,
                     strcmp(methods[m], "POST") == 0 ? "" : "/from-page");
            http_do(&p, methods[m], path, body, &o, &r);
            if (r.code != 415)
                fail_msg("%s with %s: answered %ld, want 415", methods[m], bad_types[i], r.code);
            assert_non_null(strstr(resp_str(&r, "message"), bad_types[i]));
            http_resp_release(&r);
        }
    }
    assert_no_secret(&p, "from-page");
    /* what kubectl and omlctl send is accepted; a DELETE without a body needs no type */
    snprintf(body, sizeof(body), secret_body, "ok");
    assert_int_equal(http_do(&p, "POST", SECRETS, body, NULL, &r), 201);
    http_resp_release(&r);
    {
        http_opts mp = {.content_type = "application/merge-patch+json; charset=utf-8"};
        http_opts none = {.no_content_type = 1};

        assert_int_equal(http_do(&p, "PATCH", SECRETS "/ok",
                                 "{\"metadata\":{\"labels\":{\"a\":"
                                 "\"b\"}}}",
                                 &mp, &r),
                         200);
        http_resp_release(&r);
        assert_int_equal(http_do(&p, "DELETE", SECRETS "/ok", NULL, &none, &r), 200);
        http_resp_release(&r);
    }

    /* every refusal is in the audit log, without the secret's data */
    omlopd_log(&p, &log);
    assert_non_null(strstr(log.buf, "verb=get resource=- name=- code=403 dryRun=false "
                                    "remote=127.0.0.1 refused=host path=" SECRETS
                                    " host=rebind.evil.example"));
    assert_non_null(strstr(log.buf, "verb=create resource=- name=- code=403 dryRun=false "
                                    "remote=127.0.0.1 refused=origin"));
    assert_non_null(strstr(log.buf, "origin=http://evil.example"));
    assert_non_null(strstr(log.buf, "verb=watch resource=- name=- code=403"));
    assert_non_null(strstr(log.buf, "verb=create resource=- name=- code=415"));
    assert_non_null(strstr(log.buf, "verb=delete resource=- name=- code=415"));
    assert_non_null(strstr(log.buf, "refused=content-type"));
    assert_null(strstr(log.buf, "private key material"));
    strbuf_release(&log);
    strbuf_release(&got);
    omlopd_stop(&p);
}

/* --accept-hosts names more hosts (whole-name match); a bad expression stops start-up. */
static void test_accept_hosts(void **state)
{
    const char *flags[] = {"--accept-hosts", "omlop\\.test|[a-z]+\\.lab\\.example", NULL};
    const char *bad[] = {"--accept-hosts", "(unclosed", NULL};
    omlopd_proc p;
    http_resp r;

    (void)state;
    omlopd_start(&p, flags);
    assert_int_equal(with_headers(&p, "GET", BK, NULL, "Host: omlop.test:8787", NULL, &r), 200);
    http_resp_release(&r);
    assert_int_equal(with_headers(&p, "GET", BK, NULL, "Host: ci.lab.example", NULL, &r), 200);
    http_resp_release(&r);
    assert_int_equal(with_headers(&p, "GET", BK, NULL, "Host: localhost", NULL, &r), 200);
    http_resp_release(&r);
    /* anchored: a longer name that contains an accepted one is not accepted */
    assert_int_equal(with_headers(&p, "GET", BK, NULL, "Host: omlop.test.evil", NULL, &r), 403);
    http_resp_release(&r);
    assert_int_equal(with_headers(&p, "GET", BK, NULL, "Host: x.omlop.test", NULL, &r), 403);
    http_resp_release(&r);
    assert_int_equal(
        with_headers(&p, "GET", BK, NULL, "Host: omlop.test", "Origin: http://omlop.test", &r),
        200);
    http_resp_release(&r);
    assert_int_equal(
        with_headers(&p, "GET", BK, NULL, "Host: omlop.test", "Origin: http://evil.test", &r), 403);
    http_resp_release(&r);
    omlopd_stop(&p);
    {
        strbuf log = STRBUF_INIT;
        int rc = omlopd_start_ex(&p, bad, 1);

        omlopd_log(&p, &log);
        assert_int_equal(rc, 2);
        assert_non_null(strstr(log.buf, "--accept-hosts '(unclosed'"));
        strbuf_release(&log);
        harness_rm_rf(p.dir);
    }
}

/* Occurrences of needle in hay. */
static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/*
 * A view token can read but never write: every write verb on every kind, on
 * the collection, the object and each subresource, is 403 with nothing written,
 * and each refusal has its audit line.
 */
static void test_view_token_cannot_write_anything(void **state)
{
    static const struct {
        const char *plural, *name, *body; /* body: a valid object, %s its name */
    } kinds[] = {
        {"tenants", "t1", NULL}, /* the example tenant, read from crds/examples */
        {"secrets", "s1",
         "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
         "\"%s\"},\"stringData\":{\"k\":\"v\"}}"},
        {"backups", "b1",
         "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
         "\"%s\"},\"spec\":{\"tenantRef\":{\"name\":\"t1\"}}}"},
        {"restores", "r1",
         "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Restore\",\"metadata\":{\"name\":"
         "\"%s\"},\"spec\":{\"tenantRef\":{\"name\":\"t1\"},\"backupRef\":{\"name\":\"b1\"}}}"},
        {"events", "e1",
         "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Event\",\"metadata\":{\"name\":"
         "\"%s\"},\"involvedObject\":{\"kind\":\"Tenant\",\"name\":\"t1\"},\"type\":\"Normal\","
         "\"reason\":\"Tested\",\"message\":\"hello\"}"},
    };
    static const char *const subresources[] = {"", "/status", "/history", NULL};
    static const char *const object_verbs[] = {"PUT", "PATCH", "DELETE", "POST", NULL};
    omlopd_proc p;
    char dir[64], tokens[128], path[256], body[4096], rv_before[32];
    /* no reconcile loop: nothing but these requests may write to the store */
    const char *flags[] = {"--tokens", tokens, "--no-reconcile", NULL};
    http_opts admin = {.token = ADMIN_TOKEN};
    strbuf tenant = STRBUF_INIT, log = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    http_resp r;
    size_t tried = 0;

    (void)state;
    files_dir(dir, sizeof(dir));
    write_tokens(dir, tokens, sizeof(tokens));
    snprintf(path, sizeof(path), "%s/crds/examples/tenant-aio.yaml", harness_srcdir());
    assert_int_equal(strbuf_read_file(&tenant, path, 1 << 20, &err), 0);
    omlopd_start(&p, flags);
    /* one object of every kind, made by the admin */
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        snprintf(path, sizeof(path), "/apis/omlop.io/v1alpha1/%s", kinds[k].plural);
        if (kinds[k].body) {
            snprintf(body, sizeof(body), kinds[k].body, kinds[k].name);
            http_do(&p, "POST", path, body, &admin, &r);
        } else {
            http_opts yaml = {.token = ADMIN_TOKEN, .content_type = "application/yaml"};
            char *named = strstr(tenant.buf, "name: algarrobo\n");

            assert_non_null(named);
            memcpy(named, "name: t1       ", 15); /* same length, "t1" padded with spaces */
            http_do(&p, "POST", path, tenant.buf, &yaml, &r);
        }
        if (r.code != 201)
            fail_msg("creating %s: %ld %s", kinds[k].plural, r.code, r.body.buf);
        http_resp_release(&r);
    }
    http_do(&p, "GET", BK, NULL, &admin, &r);
    snprintf(rv_before, sizeof(rv_before), "%s", resp_str(&r, "metadata.resourceVersion"));
    http_resp_release(&r);

    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        http_opts view = {.token = VIEW_TOKEN};
        http_opts mp = {.token = VIEW_TOKEN, .content_type = "application/merge-patch+json"};

        snprintf(body, sizeof(body),
                 kinds[k].body ? kinds[k].body
                               : "{\"metadata\":{\"name\":"
                                 "\"%s\"}}",
                 "by-view");
        /* the collection: create and deletecollection */
        snprintf(path, sizeof(path), "/apis/omlop.io/v1alpha1/%s", kinds[k].plural);
        assert_int_equal(http_do(&p, "POST", path, body, &view, &r), 403);
        assert_non_null(strstr(resp_str(&r, "message"), "this needs an admin token"));
        http_resp_release(&r);
        assert_int_equal(http_do(&p, "DELETE", path, NULL, &view, &r), 403);
        http_resp_release(&r);
        tried += 2;
        /* the object and its subresources, with every write verb */
        for (size_t s = 0; subresources[s]; s++) {
            for (size_t v = 0; object_verbs[v]; v++) {
                const char *m = object_verbs[v];

                snprintf(path, sizeof(path), "/apis/omlop.io/v1alpha1/%s/%s%s", kinds[k].plural,
                         kinds[k].name, subresources[s]);
                http_do(&p, m, path,
                        strcmp(m, "DELETE") == 0  ? "{\"kind\":\"DeleteOptions\","
                                                    "\"apiVersion\":\"v1\"}"
                        : strcmp(m, "PATCH") == 0 ? "{\"metadata\":{\"labels\":{\"x\":\"y\"}}}"
                                                  : body,
                        strcmp(m, "PATCH") == 0 ? &mp : &view, &r);
                if (r.code != 403)
                    fail_msg("view token: %s %s answered %ld, want 403", m, path, r.code);
                assert_string_equal(resp_str(&r, "reason"), "Forbidden");
                http_resp_release(&r);
                tried++;
            }
            /* a DELETE without a body too */
            http_do(&p, "DELETE", path, NULL, &view, &r);
            if (r.code != 403)
                fail_msg("view token: DELETE %s (no body) answered %ld, want 403", path, r.code);
            http_resp_release(&r);
            tried++;
        }
    }
    assert_int_equal(
        http_do(&p, "POST", "/omlop/compact", NULL, &(http_opts){.token = VIEW_TOKEN}, &r), 403);
    http_resp_release(&r);
    tried++;

    /* nothing changed: every object is there, the store revision did not move */
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        snprintf(path, sizeof(path), "/apis/omlop.io/v1alpha1/%s/%s", kinds[k].plural,
                 kinds[k].name);
        assert_int_equal(http_do(&p, "GET", path, NULL, &admin, &r), 200);
        assert_null(strstr(r.body.buf, "\"x\":\"y\""));
        http_resp_release(&r);
    }
    http_do(&p, "GET", BK, NULL, &admin, &r);
    assert_string_equal(resp_str(&r, "metadata.resourceVersion"), rv_before);
    http_resp_release(&r);

    /* one audit line per refusal, naming the verb, kind and object */
    omlopd_log(&p, &log);
    assert_int_equal(count_of(log.buf, "audit user=dashboard role=view "), tried);
    assert_int_equal(count_of(log.buf, "role=view verb=delete resource=backups name=b1 code=403"),
                     6);
    assert_int_equal(count_of(log.buf, "role=view verb=delete resource=tenants name=- code=403"),
                     1);
    assert_int_equal(count_of(log.buf, "role=view verb=update resource=secrets name=s1 code=403"),
                     3);
    assert_int_equal(count_of(log.buf, "role=view verb=patch resource=events name=e1 code=403"), 3);
    assert_int_equal(count_of(log.buf, "role=view verb=create resource=restores name=- code=403"),
                     1);
    assert_int_equal(count_of(log.buf, "role=view verb=compact resource=store"), 1);
    strbuf_release(&log);
    strbuf_release(&tenant);
    omlopd_stop(&p);
    harness_rm_rf(dir);
}

static void test_unix_socket(void **state)
{
    omlopd_proc p;
    char dir[64], sock[128], url[160];
    const char *flags[] = {"--socket", sock, NULL};
    http_opts o = {.unix_socket = sock};
    http_resp r;
    struct stat st;

    (void)state;
    files_dir(dir, sizeof(dir));
    snprintf(sock, sizeof(sock), "%s/omlopd.sock", dir);
    omlopd_start(&p, flags);
    assert_non_null(strstr(p.start_line, "unix:"));
    assert_int_equal(stat(sock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(url, sizeof(url), "http://localhost");
    assert_int_equal(http_do_opts(url, "GET", BK, NULL, 0, &o, &r), CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_string_equal(resp_str(&r, "kind"), "BackupList");
    http_resp_release(&r);
    {
        /* no browser reaches a unix socket: its Host is not checked */
        const char *other[] = {"Host: omlop.internal", NULL};
        http_opts h = {.unix_socket = sock, .headers = other};

        assert_int_equal(http_do_opts(url, "GET", BK, NULL, 0, &h, &r), CURLE_OK);
        assert_int_equal(r.code, 200);
        http_resp_release(&r);
    }
    omlopd_stop(&p);
    harness_rm_rf(dir);
}

/* A self-signed P-256 certificate for 127.0.0.1 and localhost. */
static void make_cert(const char *cert_path, const char *key_path)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    FILE *f;
    static const struct {
        int nid;
        const char *value;
    } exts[] = {{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
                {NID_basic_constraints, "critical,CA:TRUE"},
                {NID_key_usage, "critical,digitalSignature,keyCertSign"}};

    assert_non_null(key);
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        ext = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid, exts[i].value);
        assert_non_null(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    f = fopen(cert_path, "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key_path, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    chmod(key_path, 0600);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void test_tls_listen(void **state)
{
    omlopd_proc p;
    char dir[64], cert[128], key[128], tokens[128], url[160];
    const char *flags[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    http_opts o = {.ca_file = cert};
    http_resp r;

    (void)state;
    files_dir(dir, sizeof(dir));
    snprintf(cert, sizeof(cert), "%s/tls.crt", dir);
    snprintf(key, sizeof(key), "%s/tls.key", dir);
    make_cert(cert, key);
    omlopd_start(&p, flags);
    assert_int_equal(strncmp(p.url, "https://127.0.0.1:", 18), 0);
    assert_int_equal(http_do_opts(p.url, "GET", "/healthz", NULL, 0, &o, &r), CURLE_OK);
    assert_int_equal(r.code, 200);
    http_resp_release(&r);
    assert_int_equal(http_do_opts(p.url, "GET", BK, NULL, 0, &o, &r), CURLE_OK);
    assert_int_equal(r.code, 200);
    http_resp_release(&r);
    /* plain HTTP to the TLS port gets no API answer */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", p.port);
    if (http_do_opts(url, "GET", "/healthz", NULL, 0, NULL, &r) == CURLE_OK)
        assert_int_not_equal(r.code, 200);
    http_resp_release(&r);
    omlopd_stop(&p);

    /* a non-loopback address with TLS and tokens is allowed */
    write_tokens(dir, tokens, sizeof(tokens));
    {
        const char *all[] = {"--listen", "0.0.0.0:0", "--tls-cert", cert, "--tls-key",
                             key,        "--tokens",  tokens,       NULL};
        http_opts t = {.ca_file = cert, .token = VIEW_TOKEN};

        omlopd_start(&p, all);
        assert_non_null(strstr(p.start_line, "https://0.0.0.0:"));
        snprintf(url, sizeof(url), "https://127.0.0.1:%d", p.port);
        assert_int_equal(http_do_opts(url, "GET", BK, NULL, 0, &t, &r), CURLE_OK);
        assert_int_equal(r.code, 200);
        http_resp_release(&r);
        omlopd_stop(&p);
    }
    harness_rm_rf(dir);
}

static void expect_refusal(const char *const *flags, const char *needle, int want_rc)
{
    omlopd_proc p;
    strbuf log = STRBUF_INIT;
    int rc = omlopd_start_ex(&p, flags, 1);

    omlopd_log(&p, &log);
    if (!strstr(strbuf_str(&log), needle))
        fail_msg("expected '%s' in omlopd's output, got: %s", needle, strbuf_str(&log));
    assert_int_equal(rc, want_rc);
    strbuf_release(&log);
    harness_rm_rf(p.dir);
}

static void test_refuses_unsafe_listen(void **state)
{
    char dir[64], tokens[128], bad[128], cert[128];
    const char *plain[] = {"--listen", "0.0.0.0:0", NULL};
    const char *no_tls[] = {"--listen", "0.0.0.0:0", "--tokens", tokens, NULL};
    const char *half_tls[] = {"--tls-cert", cert, NULL};
    const char *bad_tokens[] = {"--tokens", bad, NULL};
    const char *missing_tokens[] = {"--tokens", "/nonexistent/tokens.csv", NULL};
    const char *bad_flag[] = {"--no-such-flag", NULL};

    (void)state;
    files_dir(dir, sizeof(dir));
    write_tokens(dir, tokens, sizeof(tokens));
    snprintf(cert, sizeof(cert), "%s/tls.crt", dir);
    snprintf(bad, sizeof(bad), "%s/bad.csv", dir);
    harness_write_file(bad, ADMIN_TOKEN ",ci-bot,root\n", 0600);
    expect_refusal(plain, "refusing to listen on 0.0.0.0:0", 2);
    expect_refusal(no_tls, "needs TLS", 2);
    expect_refusal(half_tls, "--tls-cert and --tls-key go together", 2);
    expect_refusal(bad_tokens, "bad.csv:1: role 'root' is not one of admin, view", 2);
    expect_refusal(missing_tokens, "/nonexistent/tokens.csv", 2);
    expect_refusal(bad_flag, "unknown flag '--no-such-flag'", 2);
    harness_rm_rf(dir);
}

/*
 * One rule for the exit status: every usage error (flag, value, combination, a
 * file a flag names) is 2, whatever layer finds it; what stops a good command
 * from running (store, address in use) is 1.
 */
static void test_usage_errors_exit_2(void **state)
{
    char dir[64], tokens[128], cert[128], key[128], file[128];
    const char *const a_tls[] = {"--tls-cert", "/nonexistent/tls.crt", "--tls-key",
                                 "/nonexistent/tls.key", NULL};
    const char *const a_value[] = {"--max-watches", "0", NULL};
    const char *const a_missing[] = {"--listen", NULL};
    const char *const a_known[] = {"--known-hosts", "/nonexistent/known_hosts", NULL};
    const char *const a_store[] = {"--store", "mysql://x", NULL};
    const char *const a_empty[] = {"--store", "sqlite://", NULL};
    const char *const a_empty2[] = {"--store", "sqlite:", NULL};
    const char *const a_rel[] = {"--store", "sqlite://relative/dir", NULL};
    const char *const a_name[] = {"--listen", "no-such-host.invalid:0", NULL};
    const char *const a_regex[] = {"--accept-hosts", "a(", NULL};
    const char *const a_arg[] = {"stray", NULL};
    const char *const a_data[] = {"--data-dir", file, NULL};
    struct {
        const char *const *argv;
        const char *needle;
        int rc;
    } cases[] = {
        {a_tls, "--tls-cert /nonexistent/tls.crt: No such file", 2},
        {a_value, "--max-watches: '0' is not a number between 1 and", 2},
        {a_missing, "--listen needs a value", 2},
        {a_known, "--known-hosts /nonexistent/known_hosts", 2},
        {a_store, "--store 'mysql://x': expected sqlite, sqlite:DIR, sqlite:///DIR", 2},
        {a_empty, "--store 'sqlite://' names no directory", 2},
        {a_empty2, "--store 'sqlite:' names no directory", 2},
        {a_rel, "sqlite:// takes an absolute path", 2},
        {a_name, "--listen: cannot resolve 'no-such-host.invalid'", 2},
        {a_regex, "--accept-hosts 'a(': not an extended regular expression", 2},
        {a_arg, "unexpected argument 'stray'", 2},
        /* a good command that cannot run: the data directory is a file */
        {a_data, "omlopd: store sqlite", 1},
    };

    (void)state;
    files_dir(dir, sizeof(dir));
    write_tokens(dir, tokens, sizeof(tokens));
    snprintf(file, sizeof(file), "%s/a-file", dir);
    harness_write_file(file, "not a directory\n", 0600);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_refusal(cases[i].argv, cases[i].needle, cases[i].rc);

    /* the address is taken: 1, naming it */
    {
        omlopd_proc first;
        char addr[64];
        const char *taken[] = {"--listen", addr, NULL};

        omlopd_start(&first, NULL);
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", first.port);
        expect_refusal(taken, addr, 1);
        omlopd_stop(&first);
    }
    /* an address that is not this machine's: refused at start, not "listening" */
    snprintf(cert, sizeof(cert), "%s/tls.crt", dir);
    snprintf(key, sizeof(key), "%s/tls.key", dir);
    make_cert(cert, key);
    {
        const char *remote[] = {"--listen", "192.0.2.1:0", "--tls-cert", cert, "--tls-key",
                                key,        "--tokens",    tokens,       NULL};

        expect_refusal(remote, "not an address of this machine", 1);
    }
    harness_rm_rf(dir);
}

/* --listen takes a name: it is resolved, and something really listens there. */
static void test_listen_localhost_resolves(void **state)
{
    const char *flags[] = {"--listen", "localhost:0", NULL};
    omlopd_proc p;
    http_resp r;

    (void)state;
    omlopd_start(&p, flags);
    /* the start-up line names the address, and connecting there works */
    assert_non_null(strstr(p.start_line, "listening on http://127.0.0.1:"));
    assert_int_equal(http_do(&p, "GET", "/healthz", NULL, NULL, &r), 200);
    http_resp_release(&r);
    omlopd_stop(&p);
}

/* The store URL forms docs/store.md lists start, and the start-up line says where. */
static void test_store_url_forms(void **state)
{
    char dir[64], url[160], want[200];
    const char *flags[] = {"--store", url, NULL};
    omlopd_proc p;
    http_resp r;
    struct stat st;
    char db[200];

    (void)state;
    files_dir(dir, sizeof(dir));
    for (int form = 0; form < 2; form++) {
        snprintf(url, sizeof(url), form == 0 ? "sqlite:%s/a" : "sqlite://%s/b", dir);
        omlopd_start(&p, flags);
        snprintf(want, sizeof(want), "store sqlite:%s/%s,", dir, form == 0 ? "a" : "b");
        if (!strstr(p.start_line, want))
            fail_msg("--store %s: start-up line '%s' lacks '%s'", url, p.start_line, want);
        assert_int_equal(http_do(&p, "GET", BK, NULL, NULL, &r), 200);
        http_resp_release(&r);
        omlopd_stop(&p);
        snprintf(db, sizeof(db), "%s/%s/omlop.db", dir, form == 0 ? "a" : "b");
        assert_int_equal(stat(db, &st), 0);
    }
    harness_rm_rf(dir);
}

static void test_config_file_help_and_version(void **state)
{
    char dir[64], cfg[128];
    const char *unsafe[] = {"--config", cfg, NULL};
    const char *help[] = {"--help", NULL};
    const char *version[] = {"--version", NULL};
    omlopd_proc p;
    strbuf log = STRBUF_INIT;
    http_resp r;

    (void)state;
    files_dir(dir, sizeof(dir));
    snprintf(cfg, sizeof(cfg), "%s/omlopd.yaml", dir);
    /* the config file is read, and the rules apply to it too */
    harness_write_file(cfg, "listen: 0.0.0.0:0\nlogLevel: debug\n", 0600);
    expect_refusal(unsafe, "refusing to listen on 0.0.0.0:0", 2);
    harness_write_file(cfg, "lisen: 127.0.0.1:0\n", 0600);
    expect_refusal(unsafe, "omlopd.yaml:1:1: unknown setting 'lisen'", 2);
    /* a flag after --config wins over the file */
    harness_write_file(cfg, "listen: 0.0.0.0:0\nmaxWatches: 1\nlogFormat: json\n", 0600);
    {
        const char *win[] = {"--config", cfg, "--listen", "127.0.0.1:0", NULL};

        omlopd_start(&p, win);
        http_do(&p, "GET", "/healthz", NULL, NULL, &r);
        assert_int_equal(r.code, 200);
        http_resp_release(&r);
        omlopd_log(&p, &log);
        assert_non_null(strstr(log.buf, "{\"ts\":")); /* logFormat json from the file */
        strbuf_release(&log);
        omlopd_stop(&p);
    }
    assert_int_equal(omlopd_start_ex(&p, help, 1), 0);
    harness_rm_rf(p.dir);
    assert_int_equal(omlopd_start_ex(&p, version, 1), 0);
    harness_rm_rf(p.dir);
    harness_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_401_403_and_audit),
        cmocka_unit_test(test_view_token_cannot_write_anything),
        cmocka_unit_test(test_browser_requests_refused_without_tokens),
        cmocka_unit_test(test_accept_hosts),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_tls_listen),
        cmocka_unit_test(test_refuses_unsafe_listen),
        cmocka_unit_test(test_usage_errors_exit_2),
        cmocka_unit_test(test_listen_localhost_resolves),
        cmocka_unit_test(test_store_url_forms),
        cmocka_unit_test(test_config_file_help_and_version),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
