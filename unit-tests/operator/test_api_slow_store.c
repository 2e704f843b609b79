/*
 * The API's event loop never waits on the store (issue 11 item 4): a real omlopd on a real
 * etcd, reached through a TCP proxy this test runs in a thread. Once the watch is open the
 * proxy holds every answer etcd gives to a request for 5 s (the watch stream, POST /v3/watch,
 * keeps flowing: the test writes its events straight to etcd, as another writer would).
 * While a GET of a tenant waits behind the proxy:
 *   - GET /healthz answers within 100 ms;
 *   - the open watch stream delivers an event within 100 ms of the start of its write;
 *   - the stuck GET answers 504 (reason Timeout) at its --request-timeout of 2 s, not after 5 s,
 *     and its late result is dropped without harm (omlopd stops cleanly under ASan).
 * With one API worker, a second GET queued behind the stuck one answers 503 at its deadline.
 * Clients that hang up while their request is queued or at a worker leave nothing behind: their
 * answers go to closed connections or are dropped, and omlopd answers the others and stops
 * cleanly under ASan.
 *
 * etcd missing: skipped, or a failure when OMLOP_TEST_REQUIRE names etcd.
 */
#include "unit-tests/operator/api_harness.h"
#include "unit-tests/store/store_test_etcd.h"

#include <pthread.h>
#include <stdatomic.h>

#include "lib/xalloc.h"

/* What the test demands of the loop while the store is slow. */
#define FAST_MS 100
/* How long the proxy holds each answer while slow. */
#define SLOW_MS 5000
/* omlopd's --request-timeout in these tests, in seconds. */
#define REQUEST_TIMEOUT_S 2

/* --- the delaying proxy ------------------------------------------------------------------- */

typedef struct chunk {
    struct chunk *next;
    int64_t due_ms;
    size_t len;
    char data[8192];
} chunk;

typedef struct pconn {
    int cfd, ufd;       /* client (omlopd), upstream (etcd); -1 once closed */
    int is_stream;      /* the current request is a watch: its answer is never held */
    chunk *head, *tail; /* answers not yet due */
    int upstream_done;  /* etcd closed: close the client once the queue is out */
} pconn;

#define PROXY_MAX_CONNS 64

typedef struct proxy {
    int lfd, port, upstream_port;
    atomic_int delay_ms;
    atomic_int stop;
    pthread_t thread;
    pconn conns[PROXY_MAX_CONNS];
} proxy;

static void pconn_close(pconn *c)
{
    if (c->cfd >= 0)
        close(c->cfd);
    if (c->ufd >= 0)
        close(c->ufd);
    c->cfd = c->ufd = -1;
    while (c->head) {
        chunk *n = c->head->next;

        free(c->head);
        c->head = n;
    }
    c->tail = NULL;
    c->upstream_done = 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void proxy_accept(proxy *px)
{
    int cfd = accept(px->lfd, NULL, NULL), ufd;
    struct sockaddr_in sa;

    if (cfd < 0)
        return;
    ufd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)px->upstream_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ufd < 0 || connect(ufd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(cfd);
        if (ufd >= 0)
            close(ufd);
        return;
    }
    for (int i = 0; i < PROXY_MAX_CONNS; i++) {
        if (px->conns[i].cfd < 0) {
            px->conns[i].cfd = cfd;
            px->conns[i].ufd = ufd;
            px->conns[i].is_stream = 0;
            return;
        }
    }
    close(cfd);
    close(ufd);
}

/* Forward what is due; close a connection whose upstream ended once its queue is out. */
static void proxy_flush(pconn *c)
{
    int64_t now = clock_now_ms();

    while (c->head && c->head->due_ms <= now) {
        chunk *k = c->head;

        c->head = k->next;
        if (!c->head)
            c->tail = NULL;
        if (write_all(c->cfd, k->data, k->len) != 0) {
            free(k);
            pconn_close(c);
            return;
        }
        free(k);
    }
    if (c->upstream_done && !c->head)
        pconn_close(c);
}

static void *proxy_main(void *arg)
{
    proxy *px = arg;

    while (!atomic_load(&px->stop)) {
        struct pollfd pf[1 + 2 * PROXY_MAX_CONNS];
        int idx[1 + 2 * PROXY_MAX_CONNS];
        nfds_t n = 0;
        int wait_ms = 20;

        pf[n].fd = px->lfd;
        pf[n].events = POLLIN;
        idx[n++] = -1;
        for (int i = 0; i < PROXY_MAX_CONNS; i++) {
            pconn *c = &px->conns[i];

            if (c->cfd < 0)
                continue;
            pf[n].fd = c->cfd;
            pf[n].events = POLLIN;
            idx[n++] = i;
            if (!c->upstream_done) {
                pf[n].fd = c->ufd;
                pf[n].events = POLLIN;
                idx[n++] = i;
            }
        }
        if (poll(pf, n, wait_ms) < 0)
            continue;
        for (nfds_t k = 0; k < n; k++) {
            pconn *c;
            char buf[8192];
            ssize_t r;

            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (idx[k] < 0) {
                proxy_accept(px);
                continue;
            }
            c = &px->conns[idx[k]];
            if (c->cfd < 0 || (pf[k].fd != c->cfd && pf[k].fd != c->ufd))
                continue; /* closed earlier in this round */
            r = recv(pf[k].fd, buf, sizeof(buf), 0);
            if (pf[k].fd == c->cfd) {
                if (r <= 0) {
                    pconn_close(c);
                    continue;
                }
                /* a new request on this connection: is it the watch stream? */
                if ((size_t)r > 5 && (memcmp(buf, "POST ", 5) == 0 || memcmp(buf, "GET ", 4) == 0))
                    c->is_stream = strncmp(buf, "POST /v3/watch", 14) == 0;
                if (write_all(c->ufd, buf, (size_t)r) != 0)
                    pconn_close(c);
                continue;
            }
            if (r <= 0) {
                c->upstream_done = 1;
                continue;
            }
            {
                chunk *ch = xcalloc(1, sizeof(*ch));

                ch->len = (size_t)r;
                memcpy(ch->data, buf, (size_t)r);
                ch->due_ms = clock_now_ms() + (c->is_stream ? 0 : atomic_load(&px->delay_ms));
                /* never before what came earlier on the same connection */
                if (c->tail && ch->due_ms < c->tail->due_ms)
                    ch->due_ms = c->tail->due_ms;
                if (c->tail)
                    c->tail->next = ch;
                else
                    c->head = ch;
                c->tail = ch;
            }
        }
        for (int i = 0; i < PROXY_MAX_CONNS; i++)
            if (px->conns[i].cfd >= 0)
                proxy_flush(&px->conns[i]);
    }
    for (int i = 0; i < PROXY_MAX_CONNS; i++)
        pconn_close(&px->conns[i]);
    return NULL;
}

static void proxy_start(proxy *px, int upstream_port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    memset(px, 0, sizeof(*px));
    for (int i = 0; i < PROXY_MAX_CONNS; i++)
        px->conns[i].cfd = px->conns[i].ufd = -1;
    px->upstream_port = upstream_port;
    px->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(px->lfd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(px->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(px->lfd, 64), 0);
    assert_int_equal(getsockname(px->lfd, (struct sockaddr *)&sa, &len), 0);
    px->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&px->thread, NULL, proxy_main, px), 0);
}

static void proxy_stop(proxy *px)
{
    atomic_store(&px->stop, 1);
    pthread_join(px->thread, NULL);
    close(px->lfd);
}

/* --- etcd, written to directly ------------------------------------------------------------ */

static void b64(const char *in, strbuf *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in);

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;

        if (i + 1 < n)
            v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        strbuf_addch(out, tab[(v >> 18) & 63]);
        strbuf_addch(out, tab[(v >> 12) & 63]);
        strbuf_addch(out, i + 1 < n ? tab[(v >> 6) & 63] : '=');
        strbuf_addch(out, i + 2 < n ? tab[v & 63] : '=');
    }
}

/* Put a Tenant object straight into etcd (not through the proxy, not through omlopd). */
static void etcd_put_tenant(const test_etcd *e, const char *name)
{
    char key[128], value[512], url[128];
    strbuf body = STRBUF_INIT;
    http_resp r;

    snprintf(key, sizeof(key), "/omlop/tenants/%s", name);
    snprintf(value, sizeof(value),
             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\",\"metadata\":{\"name\":"
             "\"%s\",\"uid\":\"u-%s\"},\"spec\":{}}",
             name, name);
    strbuf_adds(&body, "{\"key\":\"");
    b64(key, &body);
    strbuf_adds(&body, "\",\"value\":\"");
    b64(value, &body);
    strbuf_adds(&body, "\"}");
    snprintf(url, sizeof(url), "http://%s", e->endpoint);
    assert_int_equal(http_do_opts(url, "POST", "/v3/kv/put", body.buf, body.len, NULL, &r),
                     CURLE_OK);
    assert_int_equal(r.code, 200);
    http_resp_release(&r);
    strbuf_release(&body);
}

/* --- a request in a thread ---------------------------------------------------------------- */

typedef struct timed_get {
    const omlopd_proc *p;
    const char *path;
    long timeout_ms; /* the client gives up after this long (curl's timeout) */
    pthread_t thread;
    long code;
    int64_t ms;
    char reason[64];
} timed_get;

static void *timed_get_main(void *arg)
{
    timed_get *t = arg;
    http_opts o = {.timeout_ms = t->timeout_ms};
    http_resp r;
    int64_t t0 = clock_now_ms();

    if (http_do_opts(t->p->url, "GET", t->path, NULL, 0, &o, &r) == CURLE_OK)
        t->code = r.code;
    t->ms = clock_now_ms() - t0;
    snprintf(t->reason, sizeof(t->reason), "%s", resp_str(&r, "reason"));
    http_resp_release(&r);
    return NULL;
}

static void timed_get_start_ex(timed_get *t, const omlopd_proc *p, const char *path,
                               long timeout_ms)
{
    memset(t, 0, sizeof(*t));
    t->p = p;
    t->path = path;
    t->timeout_ms = timeout_ms;
    assert_int_equal(pthread_create(&t->thread, NULL, timed_get_main, t), 0);
}

static void timed_get_start(timed_get *t, const omlopd_proc *p, const char *path)
{
    timed_get_start_ex(t, p, path, 20000);
}

static int64_t healthz_ms(const omlopd_proc *p)
{
    http_resp r;
    int64_t t0 = clock_now_ms();
    long code = http_do(p, "GET", "/healthz", NULL, NULL, &r);
    int64_t ms = clock_now_ms() - t0;

    assert_int_equal(code, 200);
    http_resp_release(&r);
    return ms;
}

/* --- fixture ------------------------------------------------------------------------------- */

typedef struct fixture {
    test_etcd etcd;
    proxy px;
    omlopd_proc p;
    char store_url[96];
    strbuf got; /* what the watch stream sent */
} fixture;

static int setup(void **state)
{
    fixture *f = xcalloc(1, sizeof(*f));

    *state = f;
    if (!test_etcd_available()) {
        if (test_etcd_required())
            fail_msg("etcd is required (OMLOP_TEST_REQUIRE) but %s is missing", test_etcd_binary());
        skip();
    }
    assert_int_equal(test_etcd_start(&f->etcd), 0);
    proxy_start(&f->px, f->etcd.client_port);
    snprintf(f->store_url, sizeof(f->store_url), "etcd://127.0.0.1:%d", f->px.port);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    if (f->px.thread)
        proxy_stop(&f->px);
    test_etcd_stop(&f->etcd);
    strbuf_release(&f->got);
    free(f);
    return 0;
}

static void start_omlopd(fixture *f, const char *workers)
{
    char timeout[16];
    const char *extra[] = {"--store", f->store_url,    "--no-reconcile", "--request-timeout",
                           timeout,   "--api-workers", workers,          NULL};

    if (!workers)
        extra[5] = NULL; /* omlopd's default */

    snprintf(timeout, sizeof(timeout), "%d", REQUEST_TIMEOUT_S);
    omlopd_start(&f->p, extra);
}

/* --- tests --------------------------------------------------------------------------------- */

static void test_slow_store_leaves_healthz_and_watch_flowing(void **state)
{
    fixture *f = *state;
    strbuf *got = &f->got;
    timed_get stuck, health, gone;
    int64_t health_ms, event_ms, t0;
    int fd;
    const char *watch = "GET /apis/omlop.io/v1alpha1/tenants?watch=true HTTP/1.1\r\n"
                        "Host: 127.0.0.1\r\n\r\n";

    start_omlopd(f, NULL);
    fd = raw_connect(f->p.port);
    assert_int_equal(raw_send(fd, watch, strlen(watch)), 0);
    raw_recv(fd, got, "\r\n\r\n", 5000);
    assert_non_null(strstr(strbuf_str(got), "200"));
    /* the watch flows before etcd turns slow */
    etcd_put_tenant(&f->etcd, "before");
    raw_recv(fd, got, "\"before\"", 5000);
    assert_non_null(strstr(strbuf_str(got), "\"ADDED\""));
    strbuf_reset(got);

    atomic_store(&f->px.delay_ms, SLOW_MS);
    timed_get_start(&stuck, &f->p, "/apis/omlop.io/v1alpha1/tenants/stuck");
    /* and one whose client hangs up while a worker serves it: the late answer has no home */
    timed_get_start_ex(&gone, &f->p, "/apis/omlop.io/v1alpha1/tenants/gone", 200);
    usleep(300 * 1000); /* the GETs are at etcd now, their answers held by the proxy */

    /* both at once, during the same held answer */
    timed_get_start(&health, &f->p, "/healthz");
    t0 = clock_now_ms(); /* from the write's start: etcd's own commit counts too */
    etcd_put_tenant(&f->etcd, "during");
    raw_recv(fd, got, "\"during\"", SLOW_MS);
    event_ms = clock_now_ms() - t0;
    pthread_join(health.thread, NULL);
    health_ms = health.ms;
    assert_non_null(strstr(strbuf_str(got), "\"during\""));
    assert_int_equal(health.code, 200);
    fprintf(stderr, "slow store: GET /healthz %lld ms, watch event %lld ms after its write began\n",
            (long long)health_ms, (long long)event_ms);
    assert_true(health_ms < FAST_MS);
    assert_true(event_ms < FAST_MS);

    pthread_join(gone.thread, NULL);
    assert_int_equal(gone.code, 0); /* the client gave up first */
    pthread_join(stuck.thread, NULL);
    fprintf(stderr, "slow store: the stuck GET answered %ld (%s) after %lld ms\n", stuck.code,
            stuck.reason, (long long)stuck.ms);
    assert_int_equal(stuck.code, 504);
    assert_string_equal(stuck.reason, "Timeout");
    /* within its deadline (counted from the request's arrival), not after the store's 5 s */
    assert_true(stuck.ms >= REQUEST_TIMEOUT_S * 1000 - 300);
    assert_true(stuck.ms < REQUEST_TIMEOUT_S * 1000 + 500);

    /* the store is fast again: requests are served (the late answer was dropped) */
    atomic_store(&f->px.delay_ms, 0);
    {
        http_resp r;

        assert_int_equal(
            http_do(&f->p, "GET", "/apis/omlop.io/v1alpha1/tenants/during", NULL, NULL, &r), 200);
        http_resp_release(&r);
    }
    close(fd);
    omlopd_stop(&f->p); /* waits for the worker still held by the proxy; clean under ASan */
}

static void test_slow_store_queued_request_answers_503(void **state)
{
    fixture *f = *state;
    timed_get running, queued, gone;
    int64_t health_ms;

    start_omlopd(f, "1");
    atomic_store(&f->px.delay_ms, SLOW_MS);
    timed_get_start(&running, &f->p, "/apis/omlop.io/v1alpha1/tenants/a");
    usleep(200 * 1000); /* the only worker is at etcd */
    /* a client that hangs up while its request waits for the worker: taken off the queue */
    timed_get_start_ex(&gone, &f->p, "/apis/omlop.io/v1alpha1/tenants/gone", 100);
    pthread_join(gone.thread, NULL);
    assert_int_equal(gone.code, 0);
    timed_get_start(&queued, &f->p, "/apis/omlop.io/v1alpha1/tenants/b");
    usleep(200 * 1000);
    health_ms = healthz_ms(&f->p);
    pthread_join(running.thread, NULL);
    pthread_join(queued.thread, NULL);
    fprintf(stderr,
            "one worker: healthz %lld ms; running GET %ld (%s) after %lld ms; queued GET %ld "
            "(%s) after %lld ms\n",
            (long long)health_ms, running.code, running.reason, (long long)running.ms, queued.code,
            queued.reason, (long long)queued.ms);
    assert_true(health_ms < FAST_MS);
    assert_int_equal(running.code, 504);
    assert_true(running.ms < REQUEST_TIMEOUT_S * 1000 + 500);
    assert_int_equal(queued.code, 503);
    assert_string_equal(queued.reason, "ServiceUnavailable");
    assert_true(queued.ms < REQUEST_TIMEOUT_S * 1000 + 500);
    atomic_store(&f->px.delay_ms, 0);
    omlopd_stop(&f->p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slow_store_leaves_healthz_and_watch_flowing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_slow_store_queued_request_answers_503, setup,
                                        teardown),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
