/*
 * resync_bench: one no-change resync of 100 tenants, wall and CPU time (issue 6 (c); target:
 * < 1 s wall).
 *
 * What runs is the reconciler's own path, in-process: tenant_reconcile (reconcilers/tenant.h)
 * for each of 100 aio Tenants, one after the other (each once per round, as a periodic resync
 * enqueues each once), against an SQLite store in a temp dir and, through the tenant_env
 * host_get hook, a Podman client over the "local" tunnel transport (libcurl on a unix socket)
 * per tenant host. Everything the daemon does per round is included - reading the Tenant and
 * its Secrets from the store, desired_build, listing the host's containers, asking for each
 * image, the plan, the status compare-and-swap write - except what the manager adds around it
 * (the work queue hand-off between threads and the SSH hop: the transport is a local socket).
 *
 * The Podman side is a fake service in a forked child (so its CPU is not counted as ours),
 * one unix socket per tenant host, keep-alive HTTP/1.1. It answers _ping, containers/json
 * (exactly the tenant's converged containers: the names, images and labels desired_build
 * produces, including omlop.io/spec-hash, state running) and images/REF/exists (204); any
 * other request - a create, start, stop, remove or pull - is counted as a change. A warm-up
 * round first lets the reconciler add its finalizer, create the generated Secrets and write a
 * first status; the measured rounds must then make no change at all (else FAIL).
 *
 * Baseline, same process, same sockets: the 100 containers/json round trips alone (the
 * Podman client call, no reconcile logic around it).
 *
 * Targets: every round < 1 s wall (issue 6); the median round <= 2x the baseline (issue 11).
 *
 * Usage: resync_bench   (OMLOP_BENCH_QUICK=1: 2 measured rounds instead of 5;
 *        OMLOP_BENCH_PROFILE=N: N more no-change rounds after the measured ones, not measured,
 *        so that `perf record` sees mostly the steady-state round)
 */
#include <errno.h>
#include <json-c/json.h>
#include <libssh/libssh.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clients/podman.h"
#include "clients/tunnel.h"
#include "crds/diag.h"
#include "crds/object.h"
#include "crds/schema.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/tlspair.h"
#include "objects/events.h"
#include "reconcilers/desired.h"
#include "reconcilers/secrets.h"
#include "reconcilers/tenant.h"
#include "reconcilers/tenant_memo.h"
#include "reconcilers/tls.h"
#include "store/store.h"

#define N_TENANTS 100
/* issue 11: a no-change resync costs at most this many times the bare list round trips */
#define TARGET_RATIO  2.0
#define MAX_CLIENTS   1024
#define TARGET_WALL_S 1.0

/* Counters the fake service (child) shares with the bench (parent). */
typedef struct fake_stats {
    atomic_long requests;
    atomic_long changes; /* anything but a read */
} fake_stats;

/* One tenant: its name, the host socket and the canned containers/json answer. */
typedef struct bench_tenant {
    char name[32];
    char sock[108];
    char *list_json;
    char *tls_crt, *tls_key; /* its self-signed pair, stored as <name>-tls (reconcilers/tls.h) */
    tunnel *tun;
    podman_client *pc;
} bench_tenant;

typedef struct bench {
    char dir[64];
    bench_tenant t[N_TENANTS];
    fake_stats *stats;
    pid_t child;
    store *st;
    events *ev;
} bench;

static double now_s(void)
{
    return (double)clock_now_ns() / 1e9;
}

/* CPU seconds (user + system) of who (RUSAGE_SELF or RUSAGE_THREAD). */
static double cpu_s(int who)
{
    struct rusage ru;

    getrusage(who, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* ---- the tenants -------------------------------------------------------------------------- */

static int tenant_decode(schema_set *set, int i, json_object **out)
{
    char text[1024];
    json_object *raw;
    diag_list *dl = diag_list_new();
    int rc;

    /* infraEnv lan: no public IP lookup; observability off as in tenant_bench.sh */
    snprintf(
        text, sizeof(text),
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\","
        "\"metadata\":{\"name\":\"r%03d\",\"uid\":\"u-%03d\",\"generation\":1},"
        "\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"h%03d\",\"lanIP\":\"10.1.%d.%d\","
        "\"ssh\":{\"address\":\"10.1.%d.%d\",\"identitySecretRef\":{\"name\":\"r%03d-ssh\"}}}],"
        "\"network\":{\"infraEnv\":\"lan\",\"fqdn\":\"r%03d.example.com\"},"
        "\"observability\":{\"enabled\":false},"
        "\"images\":{\"registry\":\"reg.test:5000\"}}}",
        i, i, i, i / 250, i % 250 + 1, i / 250, i % 250 + 1, i, i);
    raw = json_tokener_parse(text);
    rc = raw ? schema_set_decode_json(set, raw, out, dl) : -1;
    if (rc < 0)
        fprintf(stderr, "resync_bench: tenant r%03d does not decode (%zu problems)\n", i,
                diag_list_count(dl));
    json_object_put(raw);
    diag_list_free(dl);
    return rc;
}

/* The tenant's self-signed pair, made before the fake forks: the readers it runs carry its
 * digest (omlop.io/tls-hash), and the reconciler finds the same pair in <name>-tls (a
 * converged tenant: the renewal check runs in every measured round, issuing nothing). */
static int tenant_pair(json_object *tenant, bench_tenant *bt, char digest[65])
{
    tlspair_selfsigned_opts so;
    tls_sans sans;
    omlop_err err = OMLOP_ERR_INIT;
    int rc;

    tls_sans_of(tenant, &sans);
    memset(&so, 0, sizeof(so));
    so.common_name = sans.n_dns ? sans.dns[0] : bt->name;
    so.dns_names = (const char *const *)sans.dns;
    so.n_dns = sans.n_dns;
    so.ip_addrs = (const char *const *)sans.ips;
    so.n_ips = sans.n_ips;
    so.now = (int64_t)time(NULL);
    rc = tlspair_selfsigned(&so, &bt->tls_crt, &bt->tls_key, &err);
    tls_sans_release(&sans);
    if (rc < 0) {
        fprintf(stderr, "resync_bench: pair %s: %s\n", bt->name, err.msg);
        return -1;
    }
    cjson_sha256_hex(bt->tls_crt, strlen(bt->tls_crt), digest);
    return 0;
}

/* The containers/json answer for a converged tenant: what desired_build says it runs. */
static int tenant_list_json(json_object *tenant, bench_tenant *bt)
{
    desired_state *ds = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    desired_options opts = {NULL, NULL, 0, NULL};
    char digest[65];
    json_object *a;

    if (tenant_pair(tenant, bt, digest) < 0)
        return -1;
    opts.tls_digest = digest;
    if (desired_build(tenant, &opts, &ds, &err) < 0) {
        fprintf(stderr, "resync_bench: desired_build %s: %s\n", bt->name, err.msg);
        return -1;
    }
    a = json_object_new_array();
    for (size_t h = 0; h < desired_host_count(ds); h++) {
        const desired_host *dh = desired_host_at(ds, h);

        for (size_t c = 0; c < dh->n_containers; c++) {
            const desired_container *dc = &dh->containers[c];
            json_object *e = json_object_new_object(), *names = json_object_new_array();
            json_object *labels = json_object_new_object();
            char id[65];

            snprintf(id, sizeof(id), "%s%032zx", bt->name, c);
            json_object_array_add(names, json_object_new_string(dc->name));
            for (size_t l = 0; l < dc->n_labels; l++)
                json_object_object_add(labels, dc->labels[l].key,
                                       json_object_new_string(dc->labels[l].value));
            if (dc->tls_digest) /* set at create time, beside the spec hash */
                json_object_object_add(labels, OMLOP_LABEL_TLS_HASH,
                                       json_object_new_string(dc->tls_digest));
            json_object_object_add(e, "Id", json_object_new_string(id));
            json_object_object_add(e, "Names", names);
            json_object_object_add(e, "Image", json_object_new_string(dc->image));
            json_object_object_add(e, "ImageID", json_object_new_string(id));
            json_object_object_add(e, "State", json_object_new_string("running"));
            json_object_object_add(e, "Status", json_object_new_string(""));
            json_object_object_add(e, "ExitCode", json_object_new_int(0));
            json_object_object_add(e, "Labels", labels);
            json_object_array_add(a, e);
        }
    }
    bt->list_json = strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
    json_object_put(a);
    desired_free(ds);
    return bt->list_json ? 0 : -1;
}

/* ---- the fake Podman service (child process) ---------------------------------------------- */

typedef struct fake_conn {
    int fd;
    int tenant;
    strbuf in;
} fake_conn;

static void fake_respond(int fd, int status, const char *body)
{
    strbuf out = STRBUF_INIT;
    size_t len = body ? strlen(body) : 0, off = 0;

    strbuf_addf(&out,
                "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                "Libpod-Api-Version: 4.3.1\r\n\r\n",
                status, len);
    if (body)
        strbuf_add(&out, body, len);
    while (off < out.len) {
        ssize_t n = send(fd, out.buf + off, out.len - off, MSG_NOSIGNAL);

        if (n <= 0)
            break;
        off += (size_t)n;
    }
    strbuf_release(&out);
}

/* Answer every complete request in c->in; -1 when the connection should close. */
static int fake_serve(const bench *b, fake_conn *c)
{
    for (;;) {
        char *end = c->in.len ? strstr(c->in.buf, "\r\n\r\n") : NULL;
        char method[16], target[1024];
        const char *p, *cl;
        size_t head, clen = 0;

        if (!end)
            return 0;
        head = (size_t)(end - c->in.buf) + 4;
        if (sscanf(c->in.buf, "%15s %1023s", method, target) != 2)
            return -1;
        cl = strcasestr(c->in.buf, "\r\nContent-Length:");
        if (cl && cl < end)
            clen = strtoul(cl + 17, NULL, 10);
        if (c->in.len < head + clen)
            return 0;
        atomic_fetch_add(&b->stats->requests, 1);
        p = strstr(target, "/libpod/");
        p = p ? p + 8 : target;
        if (strncmp(p, "_ping", 5) == 0)
            fake_respond(c->fd, 200, "OK");
        else if (strcmp(method, "GET") == 0 && strncmp(p, "containers/json", 15) == 0)
            fake_respond(c->fd, 200, b->t[c->tenant].list_json);
        else if (strcmp(method, "GET") == 0 && strncmp(p, "images/", 7) == 0 &&
                 strstr(p, "/exists"))
            fake_respond(c->fd, 204, NULL);
        else {
            atomic_fetch_add(&b->stats->changes, 1);
            fprintf(stderr, "resync_bench: fake podman (%s): unexpected %s %s\n",
                    b->t[c->tenant].name, method, target);
            fake_respond(c->fd, 500,
                         "{\"cause\":\"resync_bench\",\"message\":\"not a no-change "
                         "round\",\"response\":500}");
        }
        memmove(c->in.buf, c->in.buf + head + clen, c->in.len - head - clen);
        strbuf_setlen(&c->in, c->in.len - head - clen);
    }
}

static void fake_main(const bench *b, const int *listen_fd)
{
    static struct pollfd pf[N_TENANTS + MAX_CLIENTS];
    static fake_conn conns[MAX_CLIENTS];
    size_t n_conns = 0;

    for (;;) {
        size_t n = 0;

        for (int i = 0; i < N_TENANTS; i++)
            pf[n++] = (struct pollfd){listen_fd[i], POLLIN, 0};
        for (size_t i = 0; i < n_conns; i++)
            pf[n++] = (struct pollfd){conns[i].fd, POLLIN, 0};
        if (poll(pf, (nfds_t)n, 60000) <= 0) {
            if (getppid() == 1)
                _exit(0); /* the bench is gone */
            continue;
        }
        for (int i = 0; i < N_TENANTS; i++) {
            int fd;

            if (!(pf[i].revents & POLLIN))
                continue;
            fd = accept(listen_fd[i], NULL, NULL);
            if (fd < 0)
                continue;
            if (n_conns == MAX_CLIENTS) {
                close(fd);
                continue;
            }
            conns[n_conns] = (fake_conn){fd, i, STRBUF_INIT};
            n_conns++;
        }
        for (size_t i = N_TENANTS; i < n; i++) {
            fake_conn *c = NULL;
            char buf[8192];
            ssize_t got;

            if (!pf[i].revents)
                continue;
            for (size_t k = 0; k < n_conns; k++)
                if (conns[k].fd == pf[i].fd)
                    c = &conns[k];
            if (!c)
                continue;
            got = recv(c->fd, buf, sizeof(buf), 0);
            if (got > 0) {
                strbuf_add(&c->in, buf, (size_t)got);
                if (fake_serve(b, c) == 0)
                    continue;
            }
            close(c->fd);
            strbuf_release(&c->in);
            *c = conns[--n_conns];
        }
    }
}

static int fake_start(bench *b)
{
    int listen_fd[N_TENANTS];

    for (int i = 0; i < N_TENANTS; i++) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", b->t[i].sock);
        listen_fd[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd[i] < 0 || bind(listen_fd[i], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(listen_fd[i], 16) < 0) {
            fprintf(stderr, "resync_bench: fake podman socket %s: %s\n", b->t[i].sock,
                    strerror(errno));
            return -1;
        }
    }
    b->child = fork();
    if (b->child < 0) {
        fprintf(stderr, "resync_bench: fork: %s\n", strerror(errno));
        return -1;
    }
    if (b->child == 0) {
        fake_main(b, listen_fd);
        _exit(0);
    }
    for (int i = 0; i < N_TENANTS; i++)
        close(listen_fd[i]);
    return 0;
}

/* ---- the reconciler side ------------------------------------------------------------------ */

static int host_get(void *ctx, const tenant_host_access *a, tenant_host_conn *out,
                    tenant_host_info *info, omlop_err *err)
{
    bench *b = ctx;

    for (int i = 0; i < N_TENANTS; i++) {
        if (strcmp(b->t[i].name, a->tenant) != 0)
            continue;
        if (info)
            snprintf(info->fingerprint, sizeof(info->fingerprint), "SHA256:resync-bench");
        out->pc = b->t[i].pc;
        return 0;
    }
    return omlop_err_set(err, OMLOP_ENOTFOUND, "host %s of tenant %s: not in the bench", a->host,
                         a->tenant);
}

static int put_object(store *st, const char *key, json_object *obj)
{
    strbuf text = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    int rc;

    object_store_text(obj, &text);
    rc = store_create(st, key, text.buf, text.len, NULL, &err);
    if (rc < 0)
        fprintf(stderr, "resync_bench: store_create %s: %s\n", key, err.msg);
    strbuf_release(&text);
    return rc;
}

/* One resync: every tenant reconciled once. Returns the number of rounds that were not clean. */
static int resync_round(bench *b, const tenant_env *env, int is_verbose)
{
    int bad = 0;

    for (int i = 0; i < N_TENANTS; i++) {
        tenant_result res = {0};
        omlop_err err = OMLOP_ERR_INIT;

        if (tenant_reconcile(env, b->t[i].name, &res, &err) < 0 || !res.is_converged) {
            if (is_verbose)
                fprintf(stderr, "resync_bench: %s: %s\n", b->t[i].name,
                        err.msg[0] ? err.msg : "not converged");
            bad++;
        }
    }
    return bad;
}

/* The baseline: the same 100 containers/json round trips, nothing else. */
static int list_round(bench *b)
{
    for (int i = 0; i < N_TENANTS; i++) {
        podman_container_list l;
        omlop_err err = OMLOP_ERR_INIT;

        if (podman_containers_list(b->t[i].pc, NULL, 1, &l, &err) < 0) {
            fprintf(stderr, "resync_bench: list %s: %s\n", b->t[i].name, err.msg);
            return -1;
        }
        podman_container_list_release(&l);
    }
    return 0;
}

/* A fresh ed25519 private key in OpenSSH text (ssh_string_free_char frees it), or NULL. */
static char *bench_private_key(void)
{
    ssh_key key = NULL;
    char *pem = NULL;

    if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK)
        return NULL;
    if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &pem) != SSH_OK)
        pem = NULL;
    ssh_key_free(key);
    return pem;
}

static int setup(bench *b)
{
    schema_set *set = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    store_options so;
    char data[96];
    json_object *tenants[N_TENANTS] = {0};
    char *pem = NULL;
    int rc = -1;

    snprintf(b->dir, sizeof(b->dir), "/tmp/omlop-resync-bench-XXXXXX");
    if (!mkdtemp(b->dir)) {
        fprintf(stderr, "resync_bench: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    if (schema_set_new_builtin(&set, &err) < 0) {
        fprintf(stderr, "resync_bench: schema: %s\n", err.msg);
        return -1;
    }
    for (int i = 0; i < N_TENANTS; i++) {
        snprintf(b->t[i].name, sizeof(b->t[i].name), "r%03d", i);
        snprintf(b->t[i].sock, sizeof(b->t[i].sock), "%s/h%03d.sock", b->dir, i);
        if (tenant_decode(set, i, &tenants[i]) < 0 || tenant_list_json(tenants[i], &b->t[i]) < 0)
            goto out;
    }
    /* fork before any thread exists (the store and libcurl may start some) */
    if (fake_start(b) < 0)
        goto out;
    store_options_default(&so);
    snprintf(data, sizeof(data), "%s/data", b->dir);
    so.data_dir = data;
    if (store_open("sqlite", &so, &b->st, &err) < 0 ||
        events_new(b->st, NULL, "omlopd", &b->ev, &err) < 0) {
        fprintf(stderr, "resync_bench: store: %s\n", err.msg);
        goto out;
    }
    /* the reconciler parses the identity before it connects: a real (throw-away) key */
    if (!(pem = bench_private_key())) {
        fprintf(stderr, "resync_bench: cannot generate an ed25519 key with libssh\n");
        goto out;
    }
    for (int i = 0; i < N_TENANTS; i++) {
        char key[128], name[64];
        json_object *secret = json_object_new_object(), *meta = json_object_new_object();
        json_object *sd = json_object_new_object();

        snprintf(key, sizeof(key), TENANT_KEY_PREFIX "%s", b->t[i].name);
        if (put_object(b->st, key, tenants[i]) < 0) {
            json_object_put(secret);
            json_object_put(meta);
            json_object_put(sd);
            goto out;
        }
        snprintf(name, sizeof(name), "%s-ssh", b->t[i].name);
        json_object_object_add(secret, "apiVersion", json_object_new_string("omlop.io/v1alpha1"));
        json_object_object_add(secret, "kind", json_object_new_string("Secret"));
        json_object_object_add(meta, "name", json_object_new_string(name));
        json_object_object_add(secret, "metadata", meta);
        json_object_object_add(sd, "ssh-privatekey", json_object_new_string(pem));
        json_object_object_add(secret, "stringData", sd);
        snprintf(key, sizeof(key), SECRETS_KEY_PREFIX "%s", name);
        rc = put_object(b->st, key, secret);
        json_object_put(secret);
        if (rc < 0)
            goto out;
        /* the pair the fake's readers were made with, as omlop keeps it */
        secret = json_object_new_object();
        meta = json_object_new_object();
        sd = json_object_new_object();
        snprintf(name, sizeof(name), "%s%s", b->t[i].name, TLS_SECRET_SUFFIX);
        json_object_object_add(secret, "apiVersion", json_object_new_string("omlop.io/v1alpha1"));
        json_object_object_add(secret, "kind", json_object_new_string("Secret"));
        json_object_object_add(meta, "name", json_object_new_string(name));
        json_object_object_add(meta, "labels", json_object_new_object());
        json_object_object_add(cjson_get(meta, "labels"), OMLOP_LABEL_TENANT,
                               json_object_new_string(b->t[i].name));
        json_object_object_add(cjson_get(meta, "labels"), OMLOP_LABEL_MANAGED_BY,
                               json_object_new_string(OMLOP_MANAGER_NAME));
        json_object_object_add(secret, "metadata", meta);
        json_object_object_add(sd, "tls.crt", json_object_new_string(b->t[i].tls_crt));
        json_object_object_add(sd, "tls.key", json_object_new_string(b->t[i].tls_key));
        json_object_object_add(secret, "stringData", sd);
        snprintf(key, sizeof(key), SECRETS_KEY_PREFIX "%s", name);
        rc = put_object(b->st, key, secret);
        json_object_put(secret);
        if (rc < 0)
            goto out;
        rc = -1;
        if (tunnel_new_local(b->t[i].sock, &b->t[i].tun, &err) < 0 ||
            podman_client_new(b->t[i].tun, &b->t[i].pc, &err) < 0) {
            fprintf(stderr, "resync_bench: client %s: %s\n", b->t[i].name, err.msg);
            goto out;
        }
    }
    rc = 0;
out:
    for (int i = 0; i < N_TENANTS; i++)
        json_object_put(tenants[i]);
    schema_set_free(set);
    if (pem)
        ssh_string_free_char(pem);
    return rc;
}

static void teardown(bench *b)
{
    char cmd[128];

    for (int i = 0; i < N_TENANTS; i++) {
        podman_client_free(b->t[i].pc);
        tunnel_free(b->t[i].tun);
        free(b->t[i].list_json);
        free(b->t[i].tls_crt);
        tlspair_free_secret(b->t[i].tls_key);
    }
    events_free(b->ev);
    store_close(b->st);
    if (b->child > 0) {
        kill(b->child, SIGTERM);
        waitpid(b->child, NULL, 0);
    }
    if (b->dir[0]) {
        /* our own mkdtemp directory: sockets and the SQLite files */
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "resync_bench: could not remove %s\n", b->dir);
    }
}

int main(int argc, char **argv)
{
    static bench b;
    tenant_env env = {0};
    const char *quick = getenv("OMLOP_BENCH_QUICK");
    int rounds = (quick && *quick && strcmp(quick, "0") != 0) ? 2 : 5;
    double wall[8], cpu_thr[8], cpu_proc[8], base_wall[8], base_cpu[8], worst = 0, ratio;
    double full_wall = 0, full_cpu = 0, full_base = 0;
    int full_bad = 0;
    long reqs[8];
    int64_t rev0 = 0, rev1 = 0;
    omlop_err rerr = OMLOP_ERR_INIT;
    int status = 1, bad = 0;

    (void)argc;
    (void)argv;
    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    b.stats =
        mmap(NULL, sizeof(*b.stats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (b.stats == MAP_FAILED) {
        fprintf(stderr, "resync_bench: mmap: %s\n", strerror(errno));
        return 1;
    }
    memset(b.stats, 0, sizeof(*b.stats));
    if (setup(&b) < 0)
        goto out;
    env.st = b.st;
    env.ev = b.ev;
    env.host_get = host_get;
    env.host_ctx = &b;
    env.ready_timeout_ms = 2000;
    env.memo = tenant_memo_new(0, 0, 0); /* as omlopd runs it (operator/manager.c) */

    /* warm-up: finalizer, generated Secrets, first status; connections opened */
    if (resync_round(&b, &env, 1) > 0) {
        fprintf(stderr, "resync_bench: the warm-up round did not converge every tenant\n");
        goto out;
    }
    if (atomic_load(&b.stats->changes) > 0) {
        fprintf(stderr, "resync_bench: the warm-up round asked the host for changes: the fake "
                        "containers are not what the reconciler wants\n");
        goto out;
    }
    if (list_round(&b) < 0)
        goto out;
    /* A full no-change round: the warm-up wrote every status, so no round is skipped yet
     * (tenant_memo.h TENANT_MEMO_ROUND); it records what the measured rounds compare. */
    {
        double t0 = now_s(), c0 = cpu_s(RUSAGE_THREAD);

        full_bad = resync_round(&b, &env, 1);
        full_wall = now_s() - t0;
        full_cpu = cpu_s(RUSAGE_THREAD) - c0;
        t0 = now_s();
        if (list_round(&b) < 0)
            goto out;
        full_base = now_s() - t0;
    }
    for (int r = 0; r < rounds; r++) {
        double t0, c0, p0;
        long q0 = atomic_load(&b.stats->requests);

        if (r == 0)
            store_current_revision(b.st, &rev0, &rerr);

        t0 = now_s();
        c0 = cpu_s(RUSAGE_THREAD);
        p0 = cpu_s(RUSAGE_SELF);
        bad += resync_round(&b, &env, 1);
        wall[r] = now_s() - t0;
        cpu_thr[r] = cpu_s(RUSAGE_THREAD) - c0;
        cpu_proc[r] = cpu_s(RUSAGE_SELF) - p0;
        reqs[r] = atomic_load(&b.stats->requests) - q0;
        if (r == 0)
            store_current_revision(b.st, &rev1, &rerr);
        if (wall[r] > worst)
            worst = wall[r];

        t0 = now_s();
        c0 = cpu_s(RUSAGE_SELF);
        if (list_round(&b) < 0)
            goto out;
        base_wall[r] = now_s() - t0;
        base_cpu[r] = cpu_s(RUSAGE_SELF) - c0;
    }
    for (int r = 0,
             extra = atoi(getenv("OMLOP_BENCH_PROFILE") ? getenv("OMLOP_BENCH_PROFILE") : "0");
         r < extra && r < 10000; r++)
        bad += resync_round(&b, &env, 1);
    if (bad > 0 || full_bad > 0 || atomic_load(&b.stats->changes) > 0) {
        fprintf(stderr,
                "resync_bench: the measured rounds were not all no-change (%d not converged, "
                "%ld change requests)\n",
                bad, atomic_load(&b.stats->changes));
        goto out;
    }
    printf("no-change resync of %d tenants (%d rounds; each round reconciles every tenant once; "
           "%ld Podman requests and %lld store writes in a round)\n",
           N_TENANTS, rounds, reqs[0], (long long)(rev1 - rev0));
    printf("%-6s %10s %12s %12s %14s %14s %8s\n", "round", "wall", "cpu(thread)", "cpu(process)",
           "baseline wall", "baseline cpu", "ratio");
    for (int r = 0; r < rounds; r++)
        printf("%-6d %8.3f s %10.3f s %10.3f s %12.3f s %12.3f s %7.1fx\n", r + 1, wall[r],
               cpu_thr[r], cpu_proc[r], base_wall[r], base_cpu[r], wall[r] / base_wall[r]);
    qsort(wall, (size_t)rounds, sizeof(double), cmp_double);
    qsort(base_wall, (size_t)rounds, sizeof(double), cmp_double);
    printf("median: resync %.3f s wall (%.2f ms per tenant), baseline (the %d containers/json "
           "round trips alone) %.3f s, ratio %.1fx\n",
           wall[rounds / 2], wall[rounds / 2] * 1000.0 / N_TENANTS, N_TENANTS,
           base_wall[rounds / 2], wall[rounds / 2] / base_wall[rounds / 2]);
    printf("full round (no skip: the first after a Tenant or Secret changes, and one per "
           "tenant every %d s): %.3f s wall, %.3f s cpu, %.2f ms per tenant, baseline %.3f s, "
           "ratio %.1fx (informational)\n",
           (int)(TENANT_MEMO_READY_MS / 1000), full_wall, full_cpu, full_wall * 1000.0 / N_TENANTS,
           full_base, full_wall / full_base);
    printf("target: every round < %.1f s wall (worst %.3f s): %s\n", TARGET_WALL_S, worst,
           worst < TARGET_WALL_S ? "PASS" : "FAIL");
    ratio = wall[rounds / 2] / base_wall[rounds / 2];
    printf("target (issue 11): median ratio to the bare list round trips <= %.1fx (%.1fx): %s\n",
           TARGET_RATIO, ratio, ratio <= TARGET_RATIO ? "PASS" : "FAIL");
    status = worst < TARGET_WALL_S && ratio <= TARGET_RATIO ? 0 : 1;
out:
    teardown(&b);
    tenant_memo_free(env.memo);
    munmap(b.stats, sizeof(*b.stats));
    return status;
}
