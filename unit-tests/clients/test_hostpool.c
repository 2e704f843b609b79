/*
 * Tests for clients/hostpool against a private sshd (sshd_fixture.h) with a
 * fake Podman service on a unix socket of the fixture's dir: two tenants on
 * one host share one session (one login in sshd's log); the last release
 * closes it after the linger, not before; changed access settings give a new
 * session; an event for tenant A's container reaches A and neither B (same
 * host, no event) nor an unregistered tenant; threads stay flat with 50
 * tenants on 5 hosts; dead hosts (a silent port, a full-backlog "blackhole")
 * do not delay a healthy one on the same pump thread and time out at
 * connect_timeout_ms; a host down from the start is reported once to each of
 * its tenants, also to one that joins later; the link table reports a loss
 * and a recovery once each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clients/hostpool.h"
#include "unit-tests/fake_http.h"
#include "unit-tests/clients/sshd_fixture.h"

#define LINGER_MS 400

/* ---- the fake Podman service ------------------------------------------------------------ */

typedef struct fake_podman {
    char path[128];
    int listen_fd;
    atomic_int stop;
    atomic_int event_streams; /* /events requests served */
    pthread_t thread;
} fake_podman;

typedef struct fake_conn {
    fake_podman *fp;
    int fd;
} fake_conn;

static const char EVENTS_HEAD[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                  "Date: Fri, 05 Dec 2025 04:00:00 GMT\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n";

static void send_chunk(int fd, const char *data)
{
    char size[32];

    snprintf(size, sizeof(size), "%zx\r\n", strlen(data));
    fake_http_send_all(fd, size, strlen(size));
    fake_http_send_all(fd, data, strlen(data));
    fake_http_send_all(fd, "\r\n", 2);
}

static void *fake_conn_main(void *arg)
{
    fake_conn *fc = arg;
    strbuf in = STRBUF_INIT, body = STRBUF_INIT;
    char method[16], target[1024];

    while (fake_http_read_request(&fc->fp->stop, fc->fd, &in, method, target, &body) == 0) {
        if (strstr(target, "/events")) {
            char buf[64];

            atomic_fetch_add(&fc->fp->event_streams, 1);
            fake_http_send_all(fc->fd, EVENTS_HEAD, strlen(EVENTS_HEAD));
            /* one event of tenant a's, one of tenant c's (not in the pool), split mid-line */
            send_chunk(fc->fd,
                       "{\"Type\":\"container\",\"Action\":\"died\",\"Actor\":{\"ID\":\"i1\","
                       "\"Attributes\":{\"name\":\"a-omlapp\",\"omlop.io/tenant\":");
            send_chunk(fc->fd, "\"a\"}},\"timeNano\":1764907200000000001}\n"
                               "{\"Type\":\"container\",\"Action\":\"died\",\"Actor\":{\"ID\":"
                               "\"i2\",\"Attributes\":{\"name\":\"c-omlapp\","
                               "\"omlop.io/tenant\":\"c\"}},\"timeNano\":1764907200000000002}\n");
            while (fake_http_recv(&fc->fp->stop, fc->fd, buf, sizeof(buf)) > 0)
                ;
            break;
        }
        fake_http_send_all(fc->fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK", 40);
    }
    close(fc->fd);
    strbuf_release(&in);
    strbuf_release(&body);
    free(fc);
    return NULL;
}

static void *fake_main(void *arg)
{
    fake_podman *fp = arg;

    while (!atomic_load(&fp->stop)) {
        struct pollfd p = {fp->listen_fd, POLLIN, 0};
        pthread_t t;
        fake_conn *fc;
        int fd;

        if (poll(&p, 1, 100) <= 0)
            continue;
        fd = accept(fp->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        fc = calloc(1, sizeof(*fc));
        fc->fp = fp;
        fc->fd = fd;
        if (pthread_create(&t, NULL, fake_conn_main, fc) == 0)
            pthread_detach(t);
        else {
            close(fd);
            free(fc);
        }
    }
    return NULL;
}

static void fake_start(fake_podman *fp, const sshd_fixture *f)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    memset(fp, 0, sizeof(*fp));
    snprintf(fp->path, sizeof(fp->path), "%s/podman.sock", f->dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fp->path);
    fp->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fp->listen_fd >= 0);
    assert_int_equal(bind(fp->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fp->listen_fd, 16), 0);
    assert_int_equal(pthread_create(&fp->thread, NULL, fake_main, fp), 0);
}

static void fake_stop(fake_podman *fp)
{
    atomic_store(&fp->stop, 1);
    pthread_join(fp->thread, NULL);
    close(fp->listen_fd);
    unlink(fp->path);
    fixture_sleep_ms(150); /* the connection threads see stop within 100 ms */
}

/* ---- helpers ---------------------------------------------------------------------------- */

/* What the callbacks saw. */
typedef struct seen {
    pthread_mutex_t lock;
    strbuf events; /* "tenant/host/container\n" */
    strbuf links;  /* "tenant/host/lost|back\n" */
} seen;

static void on_event(void *ud, const char *tenant, const char *host, const podman_event *ev)
{
    seen *s = ud;

    pthread_mutex_lock(&s->lock);
    strbuf_addf(&s->events, "%s/%s/%s\n", tenant, host, ev->name ? ev->name : "?");
    pthread_mutex_unlock(&s->lock);
}

static void on_link(void *ud, const char *tenant, const char *host, int is_back, const char *why)
{
    seen *s = ud;

    (void)why;
    pthread_mutex_lock(&s->lock);
    strbuf_addf(&s->links, "%s/%s/%s\n", tenant, host, is_back ? "back" : "lost");
    pthread_mutex_unlock(&s->lock);
}

typedef struct env {
    sshd_fixture *f;
    fake_podman fp;
    hostpool *pool;
    seen s;
    strbuf key;      /* the client key's text */
    strbuf host_key; /* the host's public key line */
} env;

/* keepalive_ms, keepalive_count: the pool's SSH liveness (0: ssh.h's defaults) */
static void env_open_keepalive(env *e, sshd_fixture *f, int keepalive_ms, int keepalive_count)
{
    hostpool_options o;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf path = STRBUF_INIT;

    memset(e, 0, sizeof(*e));
    e->f = f;
    pthread_mutex_init(&e->s.lock, NULL);
    strbuf_addf(&path, "%s/client_key", f->dir);
    assert_int_equal(strbuf_read_file(&e->key, path.buf, 8192, &err), 0);
    strbuf_reset(&path);
    strbuf_addf(&path, "%s/host_key.pub", f->dir);
    assert_int_equal(strbuf_read_file(&e->host_key, path.buf, 4096, &err), 0);
    strbuf_release(&path);
    fake_start(&e->fp, f);
    memset(&o, 0, sizeof(o));
    o.linger_ms = LINGER_MS;
    o.connect_timeout_ms = 5000;
    o.tenant_label = "omlop.io/tenant";
    o.on_event = on_event;
    o.on_link = on_link;
    o.ud = &e->s;
    o.keepalive_interval_ms = keepalive_ms;
    o.keepalive_count_max = keepalive_count;
    assert_int_equal(hostpool_new(&o, &e->pool, &err), 0);
}

static void env_open(env *e, sshd_fixture *f)
{
    env_open_keepalive(e, f, 0, 0);
}

static void env_close(env *e)
{
    hostpool_free(e->pool);
    fake_stop(&e->fp);
    strbuf_release(&e->key);
    strbuf_release(&e->host_key);
    strbuf_release(&e->s.events);
    strbuf_release(&e->s.links);
    pthread_mutex_destroy(&e->s.lock);
}

static hostpool_access access_of(env *e, const char *name)
{
    hostpool_access a = {
        .name = name,
        .address = "127.0.0.1",
        .port = e->f->port,
        .user = e->f->user,
        .identity = e->key.buf,
        .known_host_key = e->host_key.buf,
        .socket = e->fp.path,
    };

    return a;
}

/* How many logins sshd accepted so far. */
static int logins(const sshd_fixture *f)
{
    strbuf path = STRBUF_INIT, log = STRBUF_INIT;
    int n = 0;

    strbuf_addf(&path, "%s/sshd.log", f->dir);
    if (strbuf_read_file(&log, path.buf, 4 << 20, NULL) == 0)
        for (const char *p = log.buf; (p = strstr(p, "Accepted publickey")) != NULL; p++)
            n++;
    strbuf_release(&path);
    strbuf_release(&log);
    return n;
}

static size_t pool_hosts(hostpool *p)
{
    hostpool_stats st;

    hostpool_get_stats(p, &st);
    return st.hosts;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_two_tenants_on_one_host_share_one_session(void **state)
{
    env e;
    hostpool_host *ha = NULL, *hb = NULL;
    hostpool_access aa, ab;
    omlop_err err = OMLOP_ERR_INIT;
    int before;

    env_open(&e, *state);
    before = logins(e.f);
    aa = access_of(&e, "h1");
    ab = access_of(&e, "other-name"); /* the same host under another tenant's name for it */
    assert_int_equal(hostpool_acquire(e.pool, "a", &aa, &ha, &err), 0);
    assert_int_equal(hostpool_acquire(e.pool, "b", &ab, &hb, &err), 0);
    assert_ptr_equal(ha, hb);
    if (hostpool_host_wait(e.pool, ha, 10000, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(hostpool_host_wait(e.pool, hb, 10000, &err), 0);
    assert_int_equal(pool_hosts(e.pool), 1);
    fixture_sleep_ms(200); /* a second login would show in the log by now */
    assert_int_equal(logins(e.f) - before, 1);
    hostpool_release(e.pool, ha, "a", "h1");
    hostpool_release(e.pool, hb, "b", "other-name");
    env_close(&e);
}

static void test_last_release_closes_the_session_after_the_linger(void **state)
{
    env e;
    hostpool_host *ha = NULL, *hb = NULL;
    hostpool_access a;
    hostpool_stats st;
    omlop_err err = OMLOP_ERR_INIT;
    long long t0, closed_after = -1;

    env_open(&e, *state);
    a = access_of(&e, "h1");
    assert_int_equal(hostpool_acquire(e.pool, "a", &a, &ha, &err), 0);
    assert_int_equal(hostpool_acquire(e.pool, "b", &a, &hb, &err), 0);
    assert_int_equal(hostpool_host_wait(e.pool, ha, 10000, &err), 0);
    hostpool_release(e.pool, ha, "a", "h1");
    fixture_sleep_ms(LINGER_MS + 300);
    assert_int_equal(pool_hosts(e.pool), 1); /* b still uses it */
    t0 = fixture_now_ms();
    hostpool_release(e.pool, hb, "b", "h1");
    hostpool_get_stats(e.pool, &st);
    assert_int_equal(st.hosts, 1);
    assert_int_equal(st.idle, 1);
    while (fixture_now_ms() - t0 < 6000) {
        if (pool_hosts(e.pool) == 0) {
            closed_after = fixture_now_ms() - t0;
            break;
        }
        fixture_sleep_ms(20);
    }
    if (closed_after < LINGER_MS - 20 || closed_after > LINGER_MS + 1000)
        fail_msg("closed %lld ms after the last release; linger is %d ms", closed_after, LINGER_MS);
    env_close(&e);
}

static void test_a_returning_tenant_finds_the_lingering_session(void **state)
{
    env e;
    hostpool_host *h1 = NULL, *h2 = NULL;
    hostpool_access a;
    omlop_err err = OMLOP_ERR_INIT;
    int before;

    env_open(&e, *state);
    before = logins(e.f);
    a = access_of(&e, "h1");
    assert_int_equal(hostpool_acquire(e.pool, "a", &a, &h1, &err), 0);
    assert_int_equal(hostpool_host_wait(e.pool, h1, 10000, &err), 0);
    hostpool_release(e.pool, h1, "a", "h1");
    assert_int_equal(hostpool_acquire(e.pool, "a", &a, &h2, &err), 0);
    assert_ptr_equal(h1, h2);
    fixture_sleep_ms(LINGER_MS + 300);
    assert_int_equal(pool_hosts(e.pool), 1);
    assert_int_equal(logins(e.f) - before, 1);
    hostpool_release(e.pool, h2, "a", "h1");
    env_close(&e);
}

static void test_changed_access_settings_give_a_new_session(void **state)
{
    env e;
    hostpool_host *h1 = NULL, *h2 = NULL;
    hostpool_access a, changed;
    strbuf hk = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    int before;

    env_open(&e, *state);
    before = logins(e.f);
    a = access_of(&e, "h1");
    assert_int_equal(hostpool_acquire(e.pool, "a", &a, &h1, &err), 0);
    assert_int_equal(hostpool_host_wait(e.pool, h1, 10000, &err), 0);
    /* the same key with another comment: still valid, but other settings */
    strbuf_addf(&hk, "%.*s renamed", (int)strcspn(e.host_key.buf, "\n"), e.host_key.buf);
    changed = a;
    changed.known_host_key = hk.buf;
    assert_false(hostpool_host_matches(h1, &changed));
    assert_true(hostpool_host_matches(h1, &a));
    assert_int_equal(hostpool_acquire(e.pool, "a", &changed, &h2, &err), 0);
    assert_ptr_not_equal(h1, h2);
    assert_int_equal(hostpool_host_wait(e.pool, h2, 10000, &err), 0);
    assert_int_equal(pool_hosts(e.pool), 2);
    assert_int_equal(logins(e.f) - before, 2);
    hostpool_release(e.pool, h1, "a", "h1");
    hostpool_release(e.pool, h2, "a", "h1");
    strbuf_release(&hk);
    env_close(&e);
}

static void test_an_event_reaches_only_the_tenant_of_the_container(void **state)
{
    env e;
    hostpool_host *ha = NULL, *hb = NULL;
    hostpool_access aa, ab;
    omlop_err err = OMLOP_ERR_INIT;
    long long deadline;
    int got = 0;

    env_open(&e, *state);
    aa = access_of(&e, "ha");
    ab = access_of(&e, "hb");
    assert_int_equal(hostpool_acquire(e.pool, "a", &aa, &ha, &err), 0);
    assert_int_equal(hostpool_acquire(e.pool, "b", &ab, &hb, &err), 0);
    assert_int_equal(hostpool_host_wait(e.pool, ha, 10000, &err), 0);
    deadline = fixture_now_ms() + 5000;
    while (!got && fixture_now_ms() < deadline) {
        pthread_mutex_lock(&e.s.lock);
        got = e.s.events.len > 0;
        pthread_mutex_unlock(&e.s.lock);
        fixture_sleep_ms(20);
    }
    fixture_sleep_ms(200); /* anything else the stream carried has arrived too */
    pthread_mutex_lock(&e.s.lock);
    assert_string_equal(strbuf_str(&e.s.events), "a/ha/a-omlapp\n");
    assert_string_equal(strbuf_str(&e.s.links), "");
    pthread_mutex_unlock(&e.s.lock);
    /* one stream for the host, not one per tenant */
    assert_int_equal(atomic_load(&e.fp.event_streams), 1);
    hostpool_release(e.pool, ha, "a", "ha");
    hostpool_release(e.pool, hb, "b", "hb");
    env_close(&e);
}

/* This process's thread count (/proc/self/status). */
static int thread_count(void)
{
    strbuf st = STRBUF_INIT;
    const char *p;
    int n = -1;

    if (strbuf_read_file(&st, "/proc/self/status", 1 << 16, NULL) == 0 &&
        (p = strstr(st.buf, "\nThreads:")) != NULL)
        n = atoi(p + 9);
    strbuf_release(&st);
    return n;
}

static void test_threads_stay_flat_with_50_tenants_on_5_hosts(void **state)
{
    env e;
    hostpool_host *h[50];
    char sock[5][64], tenant[50][16];
    hostpool_stats st;
    omlop_err err = OMLOP_ERR_INIT;
    int before, after, logins_before;

    env_open(&e, *state);
    logins_before = logins(e.f);
    before = thread_count();
    for (int i = 0; i < 50; i++) {
        /* 5 hosts: other sockets make other settings (none exists: no Podman is needed) */
        hostpool_access a = access_of(&e, "h");

        snprintf(sock[i % 5], sizeof(sock[0]), "/nonexistent/podman-%d.sock", i % 5);
        snprintf(tenant[i], sizeof(tenant[0]), "t%d", i);
        a.socket = sock[i % 5];
        assert_int_equal(hostpool_acquire(e.pool, tenant[i], &a, &h[i], &err), 0);
    }
    for (int i = 0; i < 50; i++)
        if (ssh_conn_wait_connected(hostpool_host_ssh(h[i]), 10000, &err) < 0)
            fail_msg("%s", err.msg);
    hostpool_get_stats(e.pool, &st);
    assert_int_equal(st.hosts, 5);
    assert_int_equal(st.users, 50);
    after = thread_count();
    if (after != before)
        fail_msg("threads: %d before, %d with 50 tenants on 5 hosts", before, after);
    fixture_sleep_ms(200);
    assert_int_equal(logins(e.f) - logins_before, 5);
    for (int i = 0; i < 50; i++)
        hostpool_release(e.pool, h[i], tenant[i], "h");
    env_close(&e);
}

/*
 * A listener whose accept queue is full: the kernel drops further SYNs, so a connect to it
 * hangs as to a blackholed address. Returns the listening fd, the queued fds in held[].
 */
static int blackhole(int *port, int *held, int n_held)
{
    int fd = fixture_listen(port);

    assert_true(fd >= 0);
    assert_int_equal(listen(fd, 0), 0);
    for (int i = 0; i < n_held; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                 .sin_port = htons((uint16_t)*port)};

        held[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        (void)connect(held[i], (struct sockaddr *)&sa, sizeof(sa));
        fixture_sleep_ms(20);
    }
    return fd;
}

static void test_dead_hosts_do_not_delay_a_healthy_one_on_the_shard(void **state)
{
    sshd_fixture *f = *state;
    ssh_loop *loop = NULL;
    ssh_conn *silent = NULL, *hole = NULL, *healthy = NULL;
    ssh_host_config cfg = {0};
    ssh_conn_status st;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf key_path = STRBUF_INIT, host_key = STRBUF_INIT;
    int silent_port, hole_port, held[4], silent_fd, hole_fd;
    long long t0, took;

    strbuf_addf(&key_path, "%s/client_key", f->dir);
    {
        strbuf pub = STRBUF_INIT;

        strbuf_addf(&pub, "%s/host_key.pub", f->dir);
        assert_int_equal(strbuf_read_file(&host_key, strbuf_str(&pub), 4096, &err), 0);
        strbuf_release(&pub);
    }
    /* accepts TCP (the kernel does, from the backlog) and never says a word */
    silent_fd = fixture_listen(&silent_port);
    assert_true(silent_fd >= 0);
    hole_fd = blackhole(&hole_port, held, 4);
    assert_int_equal(ssh_loop_new(1, &loop, &err), 0);
    cfg.address = "127.0.0.1";
    cfg.user = f->user;
    cfg.identity_file = strbuf_str(&key_path);
    cfg.loop = loop;
    cfg.connect_timeout_ms = 10000;
    cfg.name = "silent";
    cfg.port = silent_port;
    assert_int_equal(ssh_conn_new(&cfg, &silent, &err), 0);
    cfg.name = "hole";
    cfg.port = hole_port;
    assert_int_equal(ssh_conn_new(&cfg, &hole, &err), 0);
    fixture_sleep_ms(300); /* both are in their connect by now */
    t0 = fixture_now_ms();
    cfg.name = "healthy";
    cfg.port = f->port;
    cfg.host_key = strbuf_str(&host_key);
    assert_int_equal(ssh_conn_new(&cfg, &healthy, &err), 0);
    if (ssh_conn_wait_connected(healthy, 10000, &err) < 0)
        fail_msg("%s", err.msg);
    took = fixture_now_ms() - t0;
    if (took > 2000)
        fail_msg("the healthy host took %lld ms on a shard with two dead ones", took);
    /* the premise: the dead ones are still stuck in their first attempt */
    ssh_conn_get_status(silent, &st);
    assert_int_equal(st.state, SSH_CONN_CONNECTING);
    ssh_conn_get_status(hole, &st);
    assert_int_equal(st.state, SSH_CONN_CONNECTING);
    /* and their attempt is bounded: connect_timeout_ms, with what was missing named */
    t0 = fixture_now_ms();
    assert_int_equal(ssh_conn_wait_connected(silent, 15000, &err), OMLOP_EUNAVAIL);
    assert_non_null(strstr(err.msg, "no SSH handshake within 10000 ms"));
    assert_int_equal(ssh_conn_wait_connected(hole, 15000, &err), OMLOP_EUNAVAIL);
    assert_non_null(strstr(err.msg, "no TCP connection within 10000 ms"));
    assert_true(fixture_now_ms() - t0 < 10500);
    ssh_conn_free(healthy);
    ssh_conn_free(silent);
    ssh_conn_free(hole);
    ssh_loop_free(loop);
    for (int i = 0; i < 4; i++)
        close(held[i]);
    close(hole_fd);
    close(silent_fd);
    strbuf_release(&key_path);
    strbuf_release(&host_key);
}

static void test_a_down_host_is_reported_once_to_each_tenant(void **state)
{
    env e;
    hostpool_host *ha = NULL, *hb = NULL;
    hostpool_access a;
    omlop_err err = OMLOP_ERR_INIT;
    long long deadline;
    int is_lost = 0;

    env_open(&e, *state);
    a = access_of(&e, "h");
    a.port = fixture_free_port(); /* refused: down from the start */
    assert_int_equal(hostpool_acquire(e.pool, "a", &a, &ha, &err), 0);
    deadline = fixture_now_ms() + 5000;
    while (!is_lost && fixture_now_ms() < deadline) {
        pthread_mutex_lock(&e.s.lock);
        is_lost = strstr(strbuf_str(&e.s.links), "a/h/lost") != NULL;
        pthread_mutex_unlock(&e.s.lock);
        fixture_sleep_ms(20);
    }
    assert_true(is_lost);
    /* a tenant joining the host while it is down is told too; retries tell no one again */
    assert_int_equal(hostpool_acquire(e.pool, "b", &a, &hb, &err), 0);
    fixture_sleep_ms(1500);
    pthread_mutex_lock(&e.s.lock);
    assert_string_equal(strbuf_str(&e.s.links), "a/h/lost\nb/h/lost\n");
    pthread_mutex_unlock(&e.s.lock);
    hostpool_release(e.pool, ha, "a", "h");
    hostpool_release(e.pool, hb, "b", "h");
    env_close(&e);
}

static int links_have(env *e, const char *what)
{
    int found;

    pthread_mutex_lock(&e->s.lock);
    found = e->s.links.buf && strstr(e->s.links.buf, what) != NULL;
    pthread_mutex_unlock(&e->s.lock);
    return found;
}

/* A host that stops answering (sshd and its sessions frozen with SIGSTOP: no FIN, no RST, as a
 * cut cable) is lost after the keepalive interval times the count: the access's own interval
 * (a layout ha tenant's) for its users, the pool's for the others. */
static void test_a_silent_host_is_lost_after_its_keepalive(void **state)
{
    sshd_fixture *f = *state;
    env e;
    hostpool_host *slow = NULL, *fast = NULL;
    hostpool_access a, quick;
    omlop_err err = OMLOP_ERR_INIT;
    long long t0, lost_after = -1;
    int slow_lost;

    env_open_keepalive(&e, f, 20000, 2); /* the pool's: 40 s of silence */
    a = access_of(&e, "h1");
    quick = a;
    quick.keepalive_interval_ms = 300; /* 600 ms of silence */
    assert_int_equal(hostpool_acquire(e.pool, "slow", &a, &slow, &err), 0);
    assert_int_equal(hostpool_host_wait(e.pool, slow, 10000, &err), 0);
    assert_false(hostpool_host_matches(slow, &quick)); /* another interval: other settings */
    assert_int_equal(hostpool_acquire(e.pool, "fast", &quick, &fast, &err), 0);
    assert_int_equal(hostpool_host_wait(e.pool, fast, 10000, &err), 0);
    assert_ptr_not_equal(slow, fast);
    assert_true(hostpool_host_matches(fast, &quick));
    assert_int_equal(pool_hosts(e.pool), 2);
    t0 = fixture_now_ms();
    assert_int_equal(kill(-f->pid, SIGSTOP), 0);
    while (fixture_now_ms() - t0 < 6000) {
        if (links_have(&e, "fast/h1/lost")) {
            lost_after = fixture_now_ms() - t0;
            break;
        }
        fixture_sleep_ms(20);
    }
    fixture_sleep_ms(300);
    slow_lost = links_have(&e, "slow/h1/lost"); /* 40 s of silence for the pool's */
    /* cleaned up before anything can fail: the other tests need sshd and the socket path */
    kill(-f->pid, SIGCONT);
    hostpool_release(e.pool, slow, "slow", "h1");
    hostpool_release(e.pool, fast, "fast", "h1");
    env_close(&e);
    if (lost_after < 0)
        fail_msg("the host was not lost within 6 s of silence (keepalive 300 ms x 2)");
    /* at least most of the 600 ms (the last sign of life came just before the freeze) */
    if (lost_after < 400 || lost_after > 4000)
        fail_msg("lost after %lld ms, want about 600 (300 ms x 2)", lost_after);
    assert_false(slow_lost);
}

static void test_link_reports_loss_and_recovery_once(void **state)
{
    static const struct {
        ssh_conn_state state;
        unsigned connects;
        hostpool_link_change want;
        const char *why;
    } steps[] = {
        {SSH_CONN_CONNECTING, 0, HOSTPOOL_LINK_SAME, "first attempt running"},
        {SSH_CONN_CONNECTED, 1, HOSTPOOL_LINK_SAME, "the first connection is no reconnect"},
        {SSH_CONN_CONNECTED, 1, HOSTPOOL_LINK_SAME, "still up"},
        {SSH_CONN_DOWN, 1, HOSTPOOL_LINK_LOST, "lost"},
        {SSH_CONN_DOWN, 1, HOSTPOOL_LINK_SAME, "a retry failed: reported already"},
        {SSH_CONN_DOWN, 1, HOSTPOOL_LINK_SAME, "another retry"},
        {SSH_CONN_CONNECTED, 2, HOSTPOOL_LINK_BACK, "back"},
        {SSH_CONN_CONNECTED, 2, HOSTPOOL_LINK_SAME, "still up after coming back"},
        {SSH_CONN_CONNECTED, 3, HOSTPOOL_LINK_BACK, "dropped and reconnected between looks"},
        {SSH_CONN_CLOSED, 3, HOSTPOOL_LINK_SAME, "being freed"},
    };
    static const struct {
        ssh_conn_state state;
        unsigned connects;
        hostpool_link_change want;
    } never_up[] = {
        {SSH_CONN_DOWN, 0, HOSTPOOL_LINK_LOST},
        {SSH_CONN_DOWN, 0, HOSTPOOL_LINK_SAME},
        /* reached for the first time after failing: its rounds backed off meanwhile */
        {SSH_CONN_CONNECTED, 1, HOSTPOOL_LINK_BACK},
    };
    hostpool_link l;

    (void)state;
    memset(&l, 0, sizeof(l));
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        hostpool_link_change got = hostpool_link_observe(&l, steps[i].state, steps[i].connects);

        if (got != steps[i].want)
            fail_msg("step %zu (%s): got %d, want %d", i, steps[i].why, (int)got,
                     (int)steps[i].want);
    }
    memset(&l, 0, sizeof(l));
    for (size_t i = 0; i < sizeof(never_up) / sizeof(never_up[0]); i++)
        assert_int_equal(hostpool_link_observe(&l, never_up[i].state, never_up[i].connects),
                         never_up[i].want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_tenants_on_one_host_share_one_session),
        cmocka_unit_test(test_last_release_closes_the_session_after_the_linger),
        cmocka_unit_test(test_a_returning_tenant_finds_the_lingering_session),
        cmocka_unit_test(test_changed_access_settings_give_a_new_session),
        cmocka_unit_test(test_a_silent_host_is_lost_after_its_keepalive),
        cmocka_unit_test(test_an_event_reaches_only_the_tenant_of_the_container),
        cmocka_unit_test(test_threads_stay_flat_with_50_tenants_on_5_hosts),
        cmocka_unit_test(test_dead_hosts_do_not_delay_a_healthy_one_on_the_shard),
        cmocka_unit_test(test_a_down_host_is_reported_once_to_each_tenant),
        cmocka_unit_test(test_link_reports_loss_and_recovery_once),
    };

    return cmocka_run_group_tests(tests, sshd_fixture_group_setup, sshd_fixture_group_teardown);
}
