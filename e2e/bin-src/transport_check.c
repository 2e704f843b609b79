/*
 * transport_check: integration tests of clients/ssh, clients/tunnel and
 * clients/podman against the e2e lab's real hosts (sshd + Podman service in
 * network namespaces, see e2e/README.md). Run by e2e/scenarios/10-transport
 * with the lab's environment (`e2e/lab env`); built with ASan+UBSan into
 * build/asan/e2e/transport_check, so leaks and memory errors fail it too.
 *
 * usage: transport_check [TEST...]   (default: all, in this order)
 *   ops         on every host at once: pull with progress, create, start,
 *               inspect, list by label, exec (output + exit code), copy-in,
 *               events (start/died/remove), stop, remove
 *   badsocket   a wrong Podman socket path gives a clear error
 *   hostkey     a changed host key is refused, naming both fingerprints
 *   auth        log in with a key from a Secret (base64), and with ssh-agent
 *   hostexec    on every host: commands over SSH (output, stdin round trip,
 *               exit status, deadline), clients/hostfs (write 0600 atomically,
 *               hash, missing = "", remove) under /etc/omnileads, and TCP
 *               probes from the host (its sshd = 0, a closed port = EUNAVAIL,
 *               another lab host's sshd = 0); 50 more commands leak no fd
 *   sshd        sshd stops: the host is reported unreachable with the reason;
 *               sshd returns: the client reconnects by itself
 *   podmankill  Podman killed mid-stream ends the stream with an error (no
 *               hang); the followed stream resumes once Podman is back
 *   netdown     the link drops silently: keepalives declare the host dead,
 *               its streams end with an error, and it reconnects when back
 *   leaks       200 tunnel open/close cycles leave no fd, thread or channel
 *
 * Every wait is bounded. Prints "ok - TEST: detail" or "FAIL - TEST: why" per
 * check and exits 1 when anything failed.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clients/hostfs.h"
#include "clients/podman.h"
#include "clients/podman_events.h"
#include "clients/podman_exec.h"
#include "clients/podman_tar.h"
#include "clients/ssh.h"
#include "clients/tunnel.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"

#define MAX_HOSTS 8

/* The lab, from `e2e/lab env`; read once in main, read-only afterwards. */
typedef struct lab {
    char *hosts[MAX_HOSTS];
    size_t n;
    const char *user;
    int port;
    const char *key;
    const char *known_hosts;
    const char *registry;
    const char *socket;
    const char *ctl;
    const char *image;
    char run_id[32];
} lab;

static atomic_int failures;

/* Runs one test: prints and counts failures. No globals but the failure count. */
static void report(int ok, const char *test, const char *fmt, ...) OMLOP_PRINTF(3, 4);

static void report(int ok, const char *test, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printf("%s - %s: %s\n", ok ? "ok" : "FAIL", test, msg);
    fflush(stdout);
    if (!ok)
        atomic_fetch_add(&failures, 1);
}

#define CHECK(test, cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            report(0, test, __VA_ARGS__);                                                          \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* Run the lab's control command ("stop-sshd 1"); 0 on success. */
static int lab_ctl(const lab *l, const char *fmt, ...) OMLOP_PRINTF(2, 3);

static int lab_ctl(const lab *l, const char *fmt, ...)
{
    strbuf cmd = STRBUF_INIT;
    va_list ap;
    int rc;

    strbuf_addf(&cmd, "%s ", l->ctl);
    va_start(ap, fmt);
    strbuf_vaddf(&cmd, fmt, ap);
    va_end(ap);
    strbuf_adds(&cmd, " >/dev/null 2>&1");
    rc = system(strbuf_str(&cmd));
    strbuf_release(&cmd);
    return rc;
}

/* A host's expected key line, from the lab's per-host public key file. */
static int host_key_of(size_t i, strbuf *out)
{
    char name[64];
    const char *path;
    omlop_err err = OMLOP_ERR_INIT;

    snprintf(name, sizeof(name), "OMLOP_LAB_HOST%zu_HOSTKEY", i + 1);
    path = getenv(name);
    return path ? strbuf_read_file(out, path, 4096, &err) : -1;
}

static void host_config(const lab *l, size_t i, ssh_host_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->name = l->hosts[i];
    cfg->address = l->hosts[i];
    cfg->port = l->port;
    cfg->user = l->user;
    cfg->identity_file = l->key;
    cfg->known_hosts_file = l->known_hosts;
    cfg->connect_timeout_ms = 5000;
    cfg->keepalive_interval_ms = 1000;
    cfg->keepalive_count_max = 3;
    cfg->backoff_initial_ms = 200;
    cfg->backoff_max_ms = 2000;
}

/* One host's client stack. */
typedef struct host {
    ssh_conn *conn;
    tunnel *t;
    podman_client *p;
} host;

static int host_open(const lab *l, size_t i, const char *socket, host *h, omlop_err *err)
{
    ssh_host_config cfg;
    int rc;

    memset(h, 0, sizeof(*h));
    host_config(l, i, &cfg);
    rc = ssh_conn_new(&cfg, &h->conn, err);
    if (rc == 0)
        rc = ssh_conn_wait_connected(h->conn, 15000, err);
    if (rc == 0)
        rc = tunnel_new_ssh(h->conn, socket ? socket : l->socket, &h->t, err);
    if (rc == 0)
        rc = podman_client_new(h->t, &h->p, err);
    return rc;
}

static void host_close(host *h)
{
    podman_client_free(h->p);
    tunnel_free(h->t);
    ssh_conn_free(h->conn);
    memset(h, 0, sizeof(*h));
}

/* --- ops ---------------------------------------------------------------------------- */

/* Events seen by a follower thread. */
typedef struct seen_events {
    pthread_mutex_t lock; /* protects the text */
    strbuf actions;       /* " start died remove" */
    int is_unexpected;    /* an event outside the filter came through */
} seen_events;

typedef struct follower {
    podman_client *p;
    const char *const *labels;
    int64_t since_nano; /* replayed from here: the stream may open after the first event */
    atomic_int cancel;
    seen_events *seen;
    int rc;
    omlop_err err;
    pthread_t thread;
} follower;

static int on_event(void *ud, const podman_event *ev)
{
    seen_events *s = ud;

    pthread_mutex_lock(&s->lock);
    strbuf_addf(&s->actions, " %s", ev->action);
    if (strcmp(ev->type, "container") != 0 ||
        (strcmp(ev->action, "start") && strcmp(ev->action, "died") && strcmp(ev->action, "remove")))
        s->is_unexpected = 1;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static void *follow_main(void *arg)
{
    follower *f = arg;
    static const char *const types[] = {"container", NULL};
    static const char *const events[] = {"start", "died", "remove", NULL};
    podman_filters filters = {.labels = f->labels, .types = types, .events = events};
    podman_events_opts o = {
        .filters = &filters, .since_nano = f->since_nano, .cancel = &f->cancel, .max_resumes = 3};

    f->rc = podman_events_follow(f->p, &o, on_event, f->seen, &f->err);
    return NULL;
}

static int has_action(seen_events *s, const char *action)
{
    char word[32];
    int yes;

    snprintf(word, sizeof(word), " %s", action);
    pthread_mutex_lock(&s->lock);
    yes = strstr(strbuf_str(&s->actions), word) != NULL;
    pthread_mutex_unlock(&s->lock);
    return yes;
}

static int count_progress(void *ud, const char *line)
{
    (void)line;
    (*(int *)ud)++;
    return 0;
}

typedef struct ops_arg {
    const lab *l;
    size_t i;
} ops_arg;

static void *ops_main(void *arg)
{
    const ops_arg *a = arg;
    const lab *l = a->l;
    char test[96], name[96], label[128], id[128] = "";
    const char *const labels[] = {label, NULL};
    static const char *const cmd[] = {"sh", "-c", "echo out:$OMLOP_X; echo err >&2; exit 3", NULL};
    static const char *const cat[] = {"cat", "/opt/omlop/conf/app.conf", NULL};
    static const char *const env_x[] = {"OMLOP_X=42", NULL};
    static const char *const hc[] = {"CMD-SHELL", "test -f /tmp/ready", NULL};
    podman_healthcheck health = {hc, 5000, 2000, 0, 3};
    podman_kv kv[2];
    podman_create_spec spec;
    podman_container c;
    podman_container_list list = {0};
    podman_exec_result res = PODMAN_EXEC_RESULT_INIT;
    podman_exec_opts xo = {.env = env_x};
    podman_tar_entry files[] = {
        {.path = "conf", .is_dir = 1},
        {.path = "conf/app.conf", .data = "db=10.237.0.11\n", .len = 15},
    };
    strbuf tar = STRBUF_INIT;
    seen_events seen = {PTHREAD_MUTEX_INITIALIZER, STRBUF_INIT, 0};
    follower f;
    host h;
    omlop_err err = OMLOP_ERR_INIT;
    podman_pull_opts po = {.tls_verify = -1};
    int progress = 0, exists = 0, is_following = 0;
    long long t0;

    memset(&c, 0, sizeof(c));
    snprintf(test, sizeof(test), "ops[%s]", l->hosts[a->i]);
    snprintf(name, sizeof(name), "omlop-e2e-%s-%zu", l->run_id, a->i + 1);
    snprintf(label, sizeof(label), "omlop.e2e/run=%s-%zu", l->run_id, a->i + 1);
    CHECK(test, host_open(l, a->i, NULL, &h, &err) == 0, "connect: %s", err.msg);

    /* pull from the lab registry, with progress lines */
    CHECK(test,
          podman_image_pull(h.p, l->image, &po, count_progress, &progress, id, sizeof(id), &err) ==
              0,
          "pull %s: %s", l->image, err.msg);
    CHECK(test, progress > 0 && id[0], "pull gave %d progress lines, id '%s'", progress, id);
    CHECK(test, podman_image_exists(h.p, l->image, &exists, &err) == 0 && exists,
          "image %s not there after the pull: %s", l->image, err.msg);
    report(1, test, "pulled %s (%d progress lines)", l->image, progress);

    /* events: follow before anything happens */
    memset(&f, 0, sizeof(f));
    f.p = h.p;
    f.labels = labels;
    f.seen = &seen;
    /* The lab's hosts share this machine's clock. From a second ago: however late the stream
     * opens on a loaded machine, it replays this run's events (only its label passes). */
    {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        f.since_nano = ((int64_t)ts.tv_sec - 1) * 1000000000 + ts.tv_nsec;
    }
    CHECK(test, pthread_create(&f.thread, NULL, follow_main, &f) == 0, "thread");
    is_following = 1;

    kv[0].key = "omlop.e2e/run";
    kv[0].value = label + strlen("omlop.e2e/run=");
    kv[1].key = "omlop.io/component";
    kv[1].value = "e2e";
    memset(&spec, 0, sizeof(spec));
    spec.name = name;
    spec.image = l->image;
    spec.labels = kv;
    spec.n_labels = 2;
    spec.is_host_network = 1;
    spec.memory_limit_bytes = 64 << 20;
    spec.restart_policy = "no";
    spec.healthcheck = &health;
    spec.stop_timeout_s = 5;
    podman_container_remove(h.p, name, 1, 1, NULL); /* leftovers of an aborted run */
    CHECK(test, podman_container_create(h.p, &spec, id, sizeof(id), &err) == 0, "create: %s",
          err.msg);
    CHECK(test, podman_container_create(h.p, &spec, NULL, 0, &err) == OMLOP_EEXIST,
          "second create: want EEXIST, got %s: %s", omlop_code_name(err.code), err.msg);
    CHECK(test, podman_container_start(h.p, name, &err) == 0, "start: %s", err.msg);
    CHECK(test, podman_container_start(h.p, name, &err) == 0, "start again (304): %s", err.msg);
    CHECK(test, podman_container_inspect(h.p, name, &c, &err) == 0, "inspect: %s", err.msg);
    CHECK(test, c.is_running && strcmp(c.state, "running") == 0, "state %s", c.state);
    CHECK(test, strcmp(c.image, l->image) == 0, "image %s", c.image);
    CHECK(test,
          cjson_get_int(c.raw, "HostConfig.Memory", 0) == 64 << 20 &&
              cjson_get_string(c.raw, "HostConfig.NetworkMode") &&
              strcmp(cjson_get_string(c.raw, "HostConfig.NetworkMode"), "host") == 0,
          "memory/network not applied");
    report(1, test, "created and started %s (%.12s)", name, c.id);

    CHECK(test,
          podman_containers_list(h.p, &(podman_filters){.labels = labels}, 1, &list, &err) == 0,
          "list: %s", err.msg);
    CHECK(test, list.n == 1 && strcmp(list.items[0].name, name) == 0,
          "list by label %s: %zu containers", label, list.n);

    CHECK(test, podman_exec(h.p, name, cmd, &xo, &res, &err) == 0, "exec: %s", err.msg);
    CHECK(test,
          res.exit_code == 3 && strcmp(strbuf_str(&res.out), "out:42\n") == 0 &&
              strcmp(strbuf_str(&res.err), "err\n") == 0,
          "exec: exit %d, out '%s', err '%s'", res.exit_code, strbuf_str(&res.out),
          strbuf_str(&res.err));
    report(1, test, "exec: exit code 3, stdout and stderr apart");

    for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++)
        CHECK(test, podman_tar_add(&tar, &files[k], &err) == 0, "tar: %s", err.msg);
    podman_tar_finish(&tar);
    CHECK(test,
          podman_exec(h.p, name, (const char *const[]){"mkdir", "-p", "/opt/omlop", NULL}, NULL,
                      &res, &err) == 0 &&
              res.exit_code == 0,
          "mkdir: %s", err.msg);
    CHECK(test, podman_copy_in(h.p, name, "/opt/omlop", tar.buf, tar.len, &err) == 0, "copy-in: %s",
          err.msg);
    CHECK(test, podman_exec(h.p, name, cat, NULL, &res, &err) == 0, "cat: %s", err.msg);
    CHECK(test, res.exit_code == 0 && strcmp(strbuf_str(&res.out), "db=10.237.0.11\n") == 0,
          "copied file reads '%s'", strbuf_str(&res.out));
    report(1, test, "copy-in: file arrived");

    /* big transfers both ways: the channel windows and local buffers fill and drain */
    {
        static const char *const big_out[] = {"head", "-c", "3000000", "/dev/zero", NULL};
        static const char *const big_len[] = {"wc", "-c", "/opt/omlop/big.bin", NULL};
        podman_exec_opts bo = {.max_output = 4u << 20};
        size_t big = 2u << 20;
        char *blob = malloc(big);
        podman_tar_entry e = {.path = "big.bin", .data = blob, .len = big};
        char want[32];

        CHECK(test, blob, "malloc");
        for (size_t k = 0; k < big; k++)
            blob[k] = (char)('a' + k % 26);
        strbuf_reset(&tar);
        CHECK(test, podman_tar_add(&tar, &e, &err) == 0, "tar: %s", err.msg);
        free(blob);
        podman_tar_finish(&tar);
        CHECK(test, podman_copy_in(h.p, name, "/opt/omlop", tar.buf, tar.len, &err) == 0,
              "big copy-in: %s", err.msg);
        CHECK(test, podman_exec(h.p, name, big_len, NULL, &res, &err) == 0, "wc: %s", err.msg);
        snprintf(want, sizeof(want), "%zu /opt/omlop/big.bin", big);
        CHECK(test, strstr(strbuf_str(&res.out), want), "big file: '%s'", strbuf_str(&res.out));
        CHECK(test, podman_exec(h.p, name, big_out, &bo, &res, &err) == 0, "big exec: %s", err.msg);
        CHECK(test, res.exit_code == 0 && res.out.len == 3000000, "big exec: %zu bytes, exit %d",
              res.out.len, res.exit_code);
        report(1, test, "2 MiB copied in, 3 MB of exec output read back");
    }

    CHECK(test, podman_container_stop(h.p, name, 5, &err) == 0, "stop: %s", err.msg);
    CHECK(test, podman_container_stop(h.p, name, 5, &err) == 0, "stop again (304): %s", err.msg);
    podman_container_release(&c);
    CHECK(test, podman_container_inspect(h.p, name, &c, &err) == 0 && !c.is_running,
          "after stop: %s %s", c.state ? c.state : "?", err.msg);
    CHECK(test, podman_container_remove(h.p, name, 0, 1, &err) == 0, "remove: %s", err.msg);
    podman_container_release(&c);
    CHECK(test, podman_container_inspect(h.p, name, &c, &err) == OMLOP_ENOTFOUND,
          "after remove: want ENOTFOUND, got %s", omlop_code_name(err.code));
    CHECK(test, strstr(err.msg, name) && strstr(err.msg, l->hosts[a->i]),
          "not-found message names neither host nor container: %s", err.msg);

    t0 = clock_now_ms();
    while (
        clock_now_ms() - t0 < 20000 &&
        !(has_action(&seen, "start") && has_action(&seen, "died") && has_action(&seen, "remove")))
        clock_sleep_ms(100);
    CHECK(test,
          has_action(&seen, "start") && has_action(&seen, "died") && has_action(&seen, "remove"),
          "events seen:%s", strbuf_str(&seen.actions));
    CHECK(test, !seen.is_unexpected, "events outside the filter:%s", strbuf_str(&seen.actions));
    report(1, test, "events:%s", strbuf_str(&seen.actions));
out:
    if (is_following) {
        atomic_store(&f.cancel, 1);
        pthread_join(f.thread, NULL);
        if (f.rc != 0)
            report(0, test, "event follower ended with: %s", f.err.msg);
    }
    if (h.p)
        podman_container_remove(h.p, name, 1, 1, NULL);
    podman_container_list_release(&list);
    podman_container_release(&c);
    podman_exec_result_release(&res);
    strbuf_release(&tar);
    strbuf_release(&seen.actions);
    host_close(&h);
    return NULL;
}

static void test_ops(const lab *l)
{
    pthread_t th[MAX_HOSTS];
    ops_arg args[MAX_HOSTS];

    for (size_t i = 0; i < l->n; i++) {
        args[i].l = l;
        args[i].i = i;
        pthread_create(&th[i], NULL, ops_main, &args[i]);
    }
    for (size_t i = 0; i < l->n; i++)
        pthread_join(th[i], NULL);
}

/* --- faults ------------------------------------------------------------------------- */

static void test_badsocket(const lab *l)
{
    const char *test = "badsocket";
    omlop_err err = OMLOP_ERR_INIT;
    host h;

    CHECK(test, host_open(l, 0, "/run/podman/nope.sock", &h, &err) == 0, "connect: %s", err.msg);
    CHECK(test, podman_ping(h.p, NULL, 0, &err) == OMLOP_ENOTFOUND,
          "ping: want ENOTFOUND, got %s: %s", omlop_code_name(err.code), err.msg);
    CHECK(test, strstr(err.msg, "/run/podman/nope.sock") && strstr(err.msg, l->hosts[0]),
          "message lacks socket or host: %s", err.msg);
    report(1, test, "%s", err.msg);
out:
    host_close(&h);
}

static void test_hostkey(const lab *l)
{
    const char *test = "hostkey";
    strbuf other = STRBUF_INIT, kh = STRBUF_INIT, line = STRBUF_INIT;
    char path[] = "/tmp/omlop-e2e-kh-XXXXXX";
    omlop_err err = OMLOP_ERR_INIT;
    ssh_host_config cfg;
    ssh_conn *c = NULL;
    ssh_conn_status st;
    int fd = -1;

    CHECK(test, l->n >= 2 && host_key_of(1, &other) == 0, "no key file for lab host 2");
    /* host 1 presenting something other than what the entry expects (host 2's key) */
    host_config(l, 0, &cfg);
    cfg.known_hosts_file = NULL;
    cfg.host_key = strbuf_str(&other);
    CHECK(test, ssh_conn_new(&cfg, &c, &err) == 0, "new: %s", err.msg);
    CHECK(test, ssh_conn_wait_connected(c, 15000, &err) == OMLOP_EAUTH, "want EAUTH, got %s: %s",
          omlop_code_name(err.code), err.msg);
    ssh_conn_get_status(c, &st);
    CHECK(test,
          strstr(err.msg, "REFUSED") && strstr(err.msg, st.host_key_fingerprint) &&
              st.host_key_verdict == SSH_HOSTKEY_CHANGED,
          "message: %s", err.msg);
    CHECK(test, ssh_conn_open_streamlocal(c, l->socket, &fd, &err) == OMLOP_EUNAVAIL,
          "a channel opened on a refused host");
    report(1, test, "entry key: %s", st.last_error);
    ssh_conn_free(c);
    c = NULL;

    /* a known_hosts file that records another key for host 1 */
    fd = mkstemp(path);
    CHECK(test, fd >= 0, "mkstemp");
    strbuf_addf(&line, "%s %s", l->hosts[0], strbuf_str(&other));
    CHECK(test, write(fd, line.buf, line.len) == (ssize_t)line.len, "write");
    close(fd);
    fd = -1;
    host_config(l, 0, &cfg);
    cfg.known_hosts_file = path;
    CHECK(test, ssh_conn_new(&cfg, &c, &err) == 0, "new: %s", err.msg);
    CHECK(test, ssh_conn_wait_connected(c, 15000, &err) == OMLOP_EAUTH,
          "known_hosts: want EAUTH, got %s: %s", omlop_code_name(err.code), err.msg);
    CHECK(test, strstr(err.msg, "REFUSED") && strstr(err.msg, path), "message: %s", err.msg);
    report(1, test, "known_hosts: %s", err.msg);
    ssh_conn_free(c);
    c = NULL;

    /* TOFU records an unknown key, then trusts exactly that key */
    CHECK(test, truncate(path, 0) == 0, "truncate");
    cfg.is_tofu = 1;
    CHECK(test, ssh_conn_new(&cfg, &c, &err) == 0, "new: %s", err.msg);
    CHECK(test, ssh_conn_wait_connected(c, 15000, &err) == 0, "tofu: %s", err.msg);
    ssh_conn_get_status(c, &st);
    CHECK(test, st.host_key_verdict == SSH_HOSTKEY_TOFU_RECORDED, "verdict %s",
          ssh_hostkey_verdict_text(st.host_key_verdict));
    CHECK(test, strbuf_read_file(&kh, path, 65536, &err) == 0 && strstr(kh.buf, l->hosts[0]),
          "tofu recorded nothing in %s", path);
    report(1, test, "tofu recorded %s %s", st.host_key_type, st.host_key_fingerprint);
out:
    if (fd >= 0)
        close(fd);
    unlink(path);
    ssh_conn_free(c);
    strbuf_release(&other);
    strbuf_release(&kh);
    strbuf_release(&line);
}

/* Log in with the key as a Secret holds it (base64 text), then with ssh-agent only. */
static void test_auth(const lab *l)
{
    const char *test = "auth";
    omlop_err err = OMLOP_ERR_INIT;
    strbuf key = STRBUF_INIT, b64 = STRBUF_INIT, cmd = STRBUF_INIT, agent_out = STRBUF_INIT;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char dir[] = "/tmp/omlop-e2e-agent-XXXXXX";
    char *old_sock = getenv("SSH_AUTH_SOCK") ? strdup(getenv("SSH_AUTH_SOCK")) : NULL;
    ssh_host_config cfg;
    ssh_conn *c = NULL;
    ssh_conn_status st;
    long agent_pid = 0;
    FILE *f;

    CHECK(test, strbuf_read_file(&key, l->key, 65536, &err) == 0, "read key: %s", err.msg);
    for (size_t i = 0; i < key.len; i += 3) {
        const unsigned char *p = (const unsigned char *)key.buf + i;
        size_t left = key.len - i;
        unsigned v =
            (unsigned)p[0] << 16 | (left > 1 ? (unsigned)p[1] << 8 : 0) | (left > 2 ? p[2] : 0);

        strbuf_addch(&b64, alphabet[(v >> 18) & 63]);
        strbuf_addch(&b64, alphabet[(v >> 12) & 63]);
        strbuf_addch(&b64, left > 1 ? alphabet[(v >> 6) & 63] : '=');
        strbuf_addch(&b64, left > 2 ? alphabet[v & 63] : '=');
    }
    host_config(l, 0, &cfg);
    cfg.identity_file = NULL;
    cfg.identity_data = strbuf_str(&b64);
    CHECK(test, ssh_conn_new(&cfg, &c, &err) == 0, "new: %s", err.msg);
    CHECK(test, ssh_conn_wait_connected(c, 15000, &err) == 0, "secret key: %s", err.msg);
    ssh_conn_get_status(c, &st);
    CHECK(test, strstr(st.auth_method, "secret"), "auth method %s", st.auth_method);
    report(1, test, "logged in with the key from a Secret (%s)", st.auth_method);
    ssh_conn_free(c);
    c = NULL;

    /* an agent of our own, holding the lab key */
    CHECK(test, mkdtemp(dir), "mkdtemp");
    strbuf_addf(&cmd, "ssh-agent -a %s/agent.sock -s", dir);
    f = popen(strbuf_str(&cmd), "r");
    CHECK(test, f, "ssh-agent");
    strbuf_read_fd(&agent_out, fileno(f), 4096, NULL);
    pclose(f);
    {
        const char *p = strstr(strbuf_str(&agent_out), "SSH_AGENT_PID=");

        agent_pid = p ? atol(p + strlen("SSH_AGENT_PID=")) : 0;
    }
    CHECK(test, agent_pid > 0, "ssh-agent did not start: %s", strbuf_str(&agent_out));
    strbuf_reset(&cmd);
    strbuf_addf(&cmd, "%s/agent.sock", dir);
    setenv("SSH_AUTH_SOCK", strbuf_str(&cmd), 1); /* only this thread runs now */
    strbuf_reset(&cmd);
    strbuf_addf(&cmd, "ssh-add %s >/dev/null 2>&1", l->key);
    CHECK(test, system(strbuf_str(&cmd)) == 0, "ssh-add failed");
    host_config(l, 0, &cfg);
    cfg.identity_file = NULL;
    cfg.use_agent = 1;
    CHECK(test, ssh_conn_new(&cfg, &c, &err) == 0, "new: %s", err.msg);
    CHECK(test, ssh_conn_wait_connected(c, 15000, &err) == 0, "agent: %s", err.msg);
    ssh_conn_get_status(c, &st);
    CHECK(test, strcmp(st.auth_method, "ssh-agent") == 0, "auth method %s", st.auth_method);
    report(1, test, "logged in with ssh-agent");
out:
    ssh_conn_free(c);
    if (agent_pid > 0)
        kill((pid_t)agent_pid, SIGTERM);
    if (old_sock)
        setenv("SSH_AUTH_SOCK", old_sock, 1);
    else
        unsetenv("SSH_AUTH_SOCK");
    free(old_sock);
    strbuf_reset(&cmd);
    strbuf_addf(&cmd, "rm -rf %s", dir);
    if (system(strbuf_str(&cmd)) != 0)
        report(0, test, "cannot remove %s", dir);
    if (key.buf)
        memset(key.buf, 0, key.len);
    strbuf_release(&key);
    strbuf_release(&b64);
    strbuf_release(&cmd);
    strbuf_release(&agent_out);
}

static int wait_state(ssh_conn *c, ssh_conn_state want, long ms, ssh_conn_status *st)
{
    long long t0 = clock_now_ms();

    do {
        ssh_conn_get_status(c, st);
        if (st->state == want)
            return 0;
        clock_sleep_ms(100);
    } while (clock_now_ms() - t0 < ms);
    return -1;
}

static void test_sshd(const lab *l)
{
    const char *test = "sshd";
    omlop_err err = OMLOP_ERR_INIT;
    ssh_conn_status st;
    char api[32];
    host h;
    int stopped = 0;
    long long t0;

    CHECK(test, host_open(l, 0, NULL, &h, &err) == 0, "connect: %s", err.msg);
    CHECK(test, podman_ping(h.p, api, sizeof(api), &err) == 0, "ping: %s", err.msg);
    CHECK(test, lab_ctl(l, "stop-sshd 1") == 0, "lab stop-sshd 1 failed");
    stopped = 1;
    CHECK(test, wait_state(h.conn, SSH_CONN_DOWN, 15000, &st) == 0,
          "still %s 15 s after sshd stopped", ssh_conn_state_name(st.state));
    CHECK(test, st.last_error[0] && st.since > 0, "down without a reason");
    report(1, test, "reported unreachable: %s", st.last_error);
    CHECK(test, podman_ping(h.p, NULL, 0, &err) == OMLOP_EUNAVAIL,
          "ping while down: want EUNAVAIL, got %s: %s", omlop_code_name(err.code), err.msg);
    CHECK(test, strstr(err.msg, "unreachable") && strstr(err.msg, l->hosts[0]),
          "ping while down: %s", err.msg);
    report(1, test, "calls fail fast: %s", err.msg);
    /* let a retry or two fail against the closed port */
    clock_sleep_ms(1500);
    ssh_conn_get_status(h.conn, &st);
    CHECK(test, st.state == SSH_CONN_DOWN && strstr(st.last_error, "cannot connect"),
          "while sshd is down: %s %s", ssh_conn_state_name(st.state), st.last_error);
    CHECK(test, lab_ctl(l, "start-sshd 1") == 0, "lab start-sshd 1 failed");
    stopped = 0;
    t0 = clock_now_ms();
    CHECK(test, wait_state(h.conn, SSH_CONN_CONNECTED, 20000, &st) == 0,
          "not reconnected 20 s after sshd came back: %s", st.last_error);
    CHECK(test, podman_ping(h.p, NULL, 0, &err) == 0, "ping after reconnect: %s", err.msg);
    report(1, test, "reconnected by itself in %lld ms (%u connects)", clock_now_ms() - t0,
           st.connects);
out:
    if (stopped)
        lab_ctl(l, "start-sshd 1");
    host_close(&h);
}

typedef struct stream_arg {
    podman_client *p;
    atomic_int cancel;
    atomic_int is_done;
    int rc;
    omlop_err err;
    int is_follow;
    atomic_int events;
    atomic_int breaks;
} stream_arg;

static int count_event(void *ud, const podman_event *ev)
{
    stream_arg *a = ud;

    (void)ev;
    atomic_fetch_add(&a->events, 1);
    return 0;
}

static void count_break(void *ud, const omlop_err *why, unsigned attempt)
{
    stream_arg *a = ud;

    (void)why;
    (void)attempt;
    atomic_fetch_add(&a->breaks, 1);
}

static void *stream_main(void *arg)
{
    stream_arg *a = arg;
    static const char *const types[] = {"container", NULL};
    podman_filters f = {.types = types};
    podman_events_opts o = {.filters = &f,
                            .cancel = &a->cancel,
                            .on_break = count_break,
                            .break_ud = a,
                            .max_resumes = 30,
                            .backoff_max_ms = 1000};

    if (a->is_follow)
        a->rc = podman_events_follow(a->p, &o, count_event, a, &a->err);
    else
        a->rc = podman_events(a->p, &o, count_event, a, &a->err);
    atomic_store(&a->is_done, 1);
    return NULL;
}

static void test_podmankill(const lab *l)
{
    const char *test = "podmankill";
    size_t hi = l->n >= 2 ? 1 : 0;
    omlop_err err = OMLOP_ERR_INIT;
    stream_arg once, follow;
    pthread_t t1, t2;
    int started = 0, stopped = 0;
    char name[96];
    long long t0;
    host h;

    memset(&once, 0, sizeof(once));
    memset(&follow, 0, sizeof(follow));
    snprintf(name, sizeof(name), "omlop-e2e-%s-kill", l->run_id);
    CHECK(test, host_open(l, hi, NULL, &h, &err) == 0, "connect: %s", err.msg);
    CHECK(test, podman_ping(h.p, NULL, 0, &err) == 0, "ping: %s", err.msg);
    once.p = follow.p = h.p;
    follow.is_follow = 1;
    pthread_create(&t1, NULL, stream_main, &once);
    pthread_create(&t2, NULL, stream_main, &follow);
    started = 1;
    clock_sleep_ms(1000);
    CHECK(test, lab_ctl(l, "stop-podman %zu", hi + 1) == 0, "lab stop-podman failed");
    stopped = 1;
    t0 = clock_now_ms();
    while (!atomic_load(&once.is_done) && clock_now_ms() - t0 < 20000)
        clock_sleep_ms(100);
    CHECK(test, atomic_load(&once.is_done), "the stream still hangs 20 s after Podman died");
    CHECK(test, once.rc < 0, "the stream ended without an error");
    report(1, test, "stream ended in %lld ms with: %s", clock_now_ms() - t0, once.err.msg);
    CHECK(test, lab_ctl(l, "start-podman %zu", hi + 1) == 0, "lab start-podman failed");
    stopped = 0;
    t0 = clock_now_ms();
    /* Podman is back: a new container event must reach the follower */
    while (clock_now_ms() - t0 < 30000) {
        if (podman_ping(h.p, NULL, 0, NULL) == 0)
            break;
        clock_sleep_ms(200);
    }
    CHECK(test, podman_ping(h.p, NULL, 0, &err) == 0, "Podman not back: %s", err.msg);
    {
        podman_create_spec spec = {.name = name, .image = l->image, .is_host_network = 1};
        int before = atomic_load(&follow.events);

        podman_container_remove(h.p, name, 1, 1, NULL);
        CHECK(test, podman_container_create(h.p, &spec, NULL, 0, &err) == 0, "create: %s", err.msg);
        t0 = clock_now_ms();
        while (atomic_load(&follow.events) == before && clock_now_ms() - t0 < 20000)
            clock_sleep_ms(100);
        CHECK(test, atomic_load(&follow.events) > before,
              "the followed stream did not resume (%d breaks)", atomic_load(&follow.breaks));
        CHECK(test, atomic_load(&follow.breaks) >= 1, "the follower saw no break");
        report(1, test, "followed stream resumed after %d break(s)", atomic_load(&follow.breaks));
    }
out:
    if (stopped)
        lab_ctl(l, "start-podman %zu", hi + 1);
    if (started) {
        atomic_store(&once.cancel, 1);
        atomic_store(&follow.cancel, 1);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
    }
    if (h.p)
        podman_container_remove(h.p, name, 1, 1, NULL);
    host_close(&h);
}

static void test_netdown(const lab *l)
{
    const char *test = "netdown";
    size_t hi = l->n >= 3 ? 2 : 0;
    omlop_err err = OMLOP_ERR_INIT;
    ssh_conn_status st;
    stream_arg once, follow;
    pthread_t t1, t2;
    int started = 0, is_down = 0;
    char name[96];
    long long t0;
    host h;

    memset(&once, 0, sizeof(once));
    memset(&follow, 0, sizeof(follow));
    snprintf(name, sizeof(name), "omlop-e2e-%s-net", l->run_id);
    CHECK(test, host_open(l, hi, NULL, &h, &err) == 0, "connect: %s", err.msg);
    CHECK(test, podman_ping(h.p, NULL, 0, &err) == 0, "ping: %s", err.msg);
    /* idle for longer than interval x count: the peer's keepalive answers keep it alive */
    clock_sleep_ms(4500);
    ssh_conn_get_status(h.conn, &st);
    CHECK(test, st.state == SSH_CONN_CONNECTED && st.connects == 1,
          "an idle healthy connection was dropped: %s", st.last_error);
    report(1, test, "idle connection kept alive by keepalives");
    once.p = follow.p = h.p;
    follow.is_follow = 1;
    pthread_create(&t1, NULL, stream_main, &once);
    pthread_create(&t2, NULL, stream_main, &follow);
    started = 1;
    clock_sleep_ms(500);
    /* the link drops silently: no FIN, no RST; only keepalives can tell */
    CHECK(test, lab_ctl(l, "net-down %zu", hi + 1) == 0, "lab net-down failed");
    is_down = 1;
    t0 = clock_now_ms();
    CHECK(test, wait_state(h.conn, SSH_CONN_DOWN, 15000, &st) == 0,
          "still %s 15 s after the network went down", ssh_conn_state_name(st.state));
    CHECK(test, strstr(st.last_error, "keepalive"), "reason: %s", st.last_error);
    report(1, test, "dead peer noticed in %lld ms: %s", clock_now_ms() - t0, st.last_error);
    while (!atomic_load(&once.is_done) && clock_now_ms() - t0 < 15000)
        clock_sleep_ms(100);
    CHECK(test, atomic_load(&once.is_done) && once.rc < 0,
          "the event stream did not end with an error after the link died");
    report(1, test, "stream ended: %s", once.err.msg);
    CHECK(test, lab_ctl(l, "net-up %zu", hi + 1) == 0, "lab net-up failed");
    is_down = 0;
    t0 = clock_now_ms();
    CHECK(test, wait_state(h.conn, SSH_CONN_CONNECTED, 30000, &st) == 0,
          "not reconnected 30 s after the network came back: %s", st.last_error);
    CHECK(test, podman_ping(h.p, NULL, 0, &err) == 0, "ping after reconnect: %s", err.msg);
    report(1, test, "reconnected by itself in %lld ms", clock_now_ms() - t0);
    {
        /* the followed event stream resumed over the new SSH connection */
        podman_create_spec spec = {.name = name, .image = l->image, .is_host_network = 1};
        int before = atomic_load(&follow.events);

        podman_container_remove(h.p, name, 1, 1, NULL);
        CHECK(test, podman_image_pull(h.p, l->image, NULL, NULL, NULL, NULL, 0, &err) == 0,
              "pull: %s", err.msg);
        CHECK(test, podman_container_create(h.p, &spec, NULL, 0, &err) == 0, "create: %s", err.msg);
        t0 = clock_now_ms();
        while (atomic_load(&follow.events) == before && clock_now_ms() - t0 < 20000)
            clock_sleep_ms(100);
        CHECK(test, atomic_load(&follow.events) > before && atomic_load(&follow.breaks) >= 1,
              "the followed stream did not resume after the reconnect (%d breaks)",
              atomic_load(&follow.breaks));
        report(1, test, "followed event stream resumed over the new connection");
    }
out:
    if (is_down)
        lab_ctl(l, "net-up %zu", hi + 1);
    if (started) {
        atomic_store(&once.cancel, 1);
        atomic_store(&follow.cancel, 1);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
    }
    if (h.p)
        podman_container_remove(h.p, name, 1, 1, NULL);
    host_close(&h);
}

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_leaks(const lab *l)
{
    const char *test = "leaks";
    size_t hi = l->n >= 3 ? 2 : 0;
    omlop_err err = OMLOP_ERR_INIT;
    ssh_conn_status st;
    int fds0, thr0, fds1, thr1;
    host h;
    long long t0;

    CHECK(test, host_open(l, hi, NULL, &h, &err) == 0, "connect: %s", err.msg);
    CHECK(test, podman_ping(h.p, NULL, 0, &err) == 0, "ping: %s", err.msg);
    podman_client_free(h.p);
    tunnel_free(h.t);
    h.p = NULL;
    h.t = NULL;
    fds0 = count_dir("/proc/self/fd");
    thr0 = count_dir("/proc/self/task");
    t0 = clock_now_ms();
    for (int i = 0; i < 200; i++) {
        tunnel *t = NULL;
        podman_client *p = NULL;
        int fd = -1;

        CHECK(test, tunnel_new_ssh(h.conn, l->socket, &t, &err) == 0, "cycle %d: %s", i, err.msg);
        CHECK(test, podman_client_new(t, &p, &err) == 0, "client: %s", err.msg);
        CHECK(test, podman_ping(p, NULL, 0, &err) == 0, "cycle %d ping: %s", i, err.msg);
        podman_client_free(p);
        tunnel_free(t);
        /* and a raw channel each time */
        CHECK(test, ssh_conn_open_streamlocal(h.conn, l->socket, &fd, &err) == 0, "raw: %s",
              err.msg);
        close(fd);
    }
    report(1, test, "200 tunnel + 200 channel cycles in %lld ms", clock_now_ms() - t0);
    t0 = clock_now_ms();
    do {
        ssh_conn_get_status(h.conn, &st);
        if (st.open_channels == 0)
            break;
        clock_sleep_ms(50);
    } while (clock_now_ms() - t0 < 5000);
    CHECK(test, st.open_channels == 0, "%zu channels still open", st.open_channels);
    /* Fewer is fine (a descriptor or thread of an earlier step may end late); more is a leak.
     * A thread of the last cycle may still be on its way out: give it 5 s. */
    t0 = clock_now_ms();
    do {
        fds1 = count_dir("/proc/self/fd");
        thr1 = count_dir("/proc/self/task");
        if (fds1 <= fds0 && thr1 <= thr0)
            break;
        clock_sleep_ms(50);
    } while (clock_now_ms() - t0 < 5000);
    CHECK(test, fds1 <= fds0, "fds: %d before, %d after", fds0, fds1);
    CHECK(test, thr1 <= thr0, "threads: %d before, %d after", thr0, thr1);
    report(1, test,
           "fds %d before, %d after; threads %d before, %d after; %zu channels opened, 0 open",
           fds0, fds1, thr0, thr1, st.opened_total);
out:
    host_close(&h);
}

/* --- hostexec --------------------------------------------------------------------------- */

/* Run cmd on the host; 0 when it exited 0, with its stdout in *out. */
static int run_on(ssh_conn *c, const char *cmd, strbuf *out, omlop_err *err)
{
    ssh_exec_result res;
    int rc = ssh_conn_exec(c, cmd, NULL, 0, 0, 10000, &res, err);

    if (rc == 0 && res.exit_status != 0)
        rc = omlop_err_set(err, OMLOP_EIO, "'%s' exited %d: %s", cmd, res.exit_status,
                           strbuf_str(&res.err_out));
    if (rc == 0 && out) {
        strbuf_reset(out);
        strbuf_add(out, res.out.buf ? res.out.buf : "", res.out.len);
    }
    ssh_exec_result_release(&res);
    return rc;
}

static void hostexec_one(const lab *l, size_t i)
{
    char test[64], dir[128], path[160], want[CJSON_HASH_HEX_LEN + 1], content[128], cmd[512];
    char hex[2][HOSTFS_SHA256_HEX_LEN + 1];
    const char *paths[2];
    size_t big_len = 1024 * 1024;
    unsigned char *big = malloc(big_len);
    ssh_host_config cfg;
    ssh_conn *c = NULL;
    ssh_exec_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;
    strbuf out = STRBUF_INIT;
    long long t0;
    int fds0, fds1;

    snprintf(test, sizeof(test), "hostexec %s", l->hosts[i]);
    snprintf(dir, sizeof(dir), "/etc/omnileads/omlop-e2e-%s", l->run_id);
    snprintf(path, sizeof(path), "%s/default/redis.env", dir);
    snprintf(content, sizeof(content), "REDIS_PASSWORD='p4ss $x'\nHOST=%s\n", l->hosts[i]);
    CHECK(test, big != NULL, "out of memory");
    for (size_t k = 0; k < big_len; k++)
        big[k] = (unsigned char)(k * 31 + (k >> 11));
    host_config(l, i, &cfg);
    CHECK(test, ssh_conn_new(&cfg, &c, &err) == 0 && ssh_conn_wait_connected(c, 15000, &err) == 0,
          "connect: %s", err.msg);

    /* commands */
    CHECK(test, run_on(c, "echo ok; hostname", &out, &err) == 0, "echo: %s", err.msg);
    CHECK(test, strncmp(strbuf_str(&out), "ok\nomllab-h", 11) == 0, "echo gave '%s'",
          strbuf_str(&out));
    CHECK(test, ssh_conn_exec(c, "cat", big, big_len, big_len, 20000, &res, &err) == 0, "cat: %s",
          err.msg);
    CHECK(test,
          res.exit_status == 0 && res.out.len == big_len && !memcmp(res.out.buf, big, big_len),
          "1 MiB through cat came back as %zu bytes (exit %d)", res.out.len, res.exit_status);
    ssh_exec_result_release(&res);
    CHECK(test, ssh_conn_exec(c, "echo bad >&2; exit 7", NULL, 0, 0, 10000, &res, &err) == 0,
          "exit 7: %s", err.msg);
    CHECK(test, res.exit_status == 7 && strcmp(strbuf_str(&res.err_out), "bad\n") == 0,
          "exit 7 gave %d, stderr '%s'", res.exit_status, strbuf_str(&res.err_out));
    ssh_exec_result_release(&res);
    t0 = clock_now_ms();
    CHECK(test, ssh_conn_exec(c, "sleep 30", NULL, 0, 0, 500, &res, &err) == OMLOP_ETIMEOUT,
          "sleep 30 with a 500 ms deadline: %s", err.code ? err.msg : "no timeout");
    CHECK(test, clock_now_ms() - t0 < 3000, "the deadline took %lld ms", clock_now_ms() - t0);
    ssh_exec_result_release(&res);
    CHECK(test, run_on(c, "echo again", &out, &err) == 0 && !strcmp(strbuf_str(&out), "again\n"),
          "after a timeout: %s", err.msg);
    report(1, test, "echo, 1 MiB stdin round trip, exit 7 + stderr, 500 ms deadline");

    /* files */
    CHECK(test, hostfs_write(c, path, content, strlen(content), 0600, &err) == 0, "write: %s",
          err.msg);
    snprintf(cmd, sizeof(cmd), "stat -c '%%a %%s' %s; ls -A %s/default", path, dir);
    CHECK(test, run_on(c, cmd, &out, &err) == 0, "stat: %s", err.msg);
    snprintf(want, sizeof(want), "600 %zu\nredis.env\n", strlen(content));
    CHECK(test, strcmp(strbuf_str(&out), want) == 0, "stat/ls gave '%s', want '%s'",
          strbuf_str(&out), want);
    paths[0] = path;
    paths[1] = "/etc/omnileads/omlop-e2e-no-such-file";
    CHECK(test, hostfs_hashes(c, paths, 2, hex, &err) == 0, "hashes: %s", err.msg);
    cjson_sha256_hex(content, strlen(content), want);
    CHECK(test, strcmp(hex[0], want) == 0 && hex[1][0] == '\0', "hashes gave '%s' and '%s'", hex[0],
          hex[1]);
    CHECK(test, hostfs_remove(c, path, &err) == 0 && hostfs_remove(c, path, &err) == 0,
          "remove: %s", err.msg);
    CHECK(test, hostfs_hashes(c, paths, 1, hex, &err) == 0 && hex[0][0] == '\0',
          "after remove: '%s' %s", hex[0], err.msg);
    report(1, test, "write 0600 (no temp file left), hash, missing = \"\", remove twice");

    /* TCP probes from the host */
    CHECK(test, hostfs_probe_tcp(c, "127.0.0.1", 22, &err) == 0, "127.0.0.1:22: %s", err.msg);
    CHECK(test, hostfs_probe_tcp(c, l->hosts[(i + 1) % l->n], 22, &err) == 0, "%s:22: %s",
          l->hosts[(i + 1) % l->n], err.msg);
    CHECK(test, hostfs_probe_tcp(c, "127.0.0.1", 1, &err) == OMLOP_EUNAVAIL, "127.0.0.1:1 gave %s",
          err.code ? err.msg : "0");
    CHECK(test, strstr(err.msg, "127.0.0.1:1 refused") != NULL, "refusal: %s", err.msg);
    report(1, test, "probe 127.0.0.1:22 and %s:22 = 0; 127.0.0.1:1: %s", l->hosts[(i + 1) % l->n],
           err.msg);

    /* many commands: no fd, no channel left */
    fds0 = count_dir("/proc/self/fd");
    for (int k = 0; k < 50; k++)
        CHECK(test, run_on(c, "true", NULL, &err) == 0, "command %d: %s", k, err.msg);
    fds1 = count_dir("/proc/self/fd");
    /* Fewer is fine: a descriptor of an earlier step may close late. More is a leak. */
    CHECK(test, fds1 <= fds0, "fds: %d before 50 commands, %d after", fds0, fds1);
    report(1, test, "50 more commands, fds %d before, %d after", fds0, fds1);
out:
    if (c) {
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        run_on(c, cmd, NULL, &err);
    }
    ssh_exec_result_release(&res);
    strbuf_release(&out);
    ssh_conn_free(c);
    free(big);
}

static void test_hostexec(const lab *l)
{
    for (size_t i = 0; i < l->n; i++)
        hostexec_one(l, i);
}

/* --- main --------------------------------------------------------------------------- */

static const char *need(const char *name)
{
    const char *v = getenv(name);

    if (!v || !v[0]) {
        fprintf(stderr,
                "transport_check: %s is not set; run with the lab's environment: eval "
                "\"$(e2e/lab env)\"\n",
                name);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(const lab *l);
    } tests[] = {
        {"ops", test_ops},
        {"badsocket", test_badsocket},
        {"hostexec", test_hostexec},
        {"hostkey", test_hostkey},
        {"auth", test_auth},
        {"sshd", test_sshd},
        {"podmankill", test_podmankill},
        {"netdown", test_netdown},
        {"leaks", test_leaks},
    };
    char *hosts, *save = NULL;
    lab l;

    log_configure(getenv("OMLOP_E2E_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR, LOG_FORMAT_TEXT,
                  stderr);
    memset(&l, 0, sizeof(l));
    hosts = strdup(need("OMLOP_LAB_HOSTS"));
    for (char *t = strtok_r(hosts, " ", &save); t && l.n < MAX_HOSTS;
         t = strtok_r(NULL, " ", &save))
        l.hosts[l.n++] = t;
    l.user = getenv("OMLOP_LAB_USER") ? getenv("OMLOP_LAB_USER") : "root";
    l.port = getenv("OMLOP_LAB_SSH_PORT") ? atoi(getenv("OMLOP_LAB_SSH_PORT")) : 22;
    l.key = need("OMLOP_LAB_KEY");
    l.known_hosts = need("OMLOP_LAB_KNOWN_HOSTS");
    l.registry = need("OMLOP_LAB_REGISTRY");
    l.socket = getenv("OMLOP_LAB_PODMAN_SOCKET") ? getenv("OMLOP_LAB_PODMAN_SOCKET")
                                                 : TUNNEL_DEFAULT_SOCKET;
    l.ctl = need("OMLOP_LAB_CTL");
    l.image = need("OMLOP_LAB_IMAGE_OLD");
    snprintf(l.run_id, sizeof(l.run_id), "%ld", (long)getpid());
    if (l.n == 0) {
        fprintf(stderr, "transport_check: OMLOP_LAB_HOSTS is empty\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        int wanted = argc < 2;

        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], tests[i].name) == 0;
        if (wanted) {
            printf("# %s\n", tests[i].name);
            tests[i].fn(&l);
        }
    }
    free(hosts);
    printf("transport_check: %d failure(s)\n", atomic_load(&failures));
    return atomic_load(&failures) ? 1 : 0;
}
