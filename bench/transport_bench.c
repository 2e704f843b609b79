/*
 * transport_bench: per-call latency of a Podman `GET containers/json` round
 * trip, in one process and one run, three ways against the same lab host's
 * Podman service:
 *   local   the Podman socket opened directly (tunnel_new_local)
 *   tunnel  omlop's SSH tunnel (ssh_conn + tunnel + podman client, kept alive)
 *   remote  podman-remote, `podman --url ssh://... ps -a`, the peer omlop
 *           replaces (it opens a new SSH connection per command)
 * Targets: tunnel within 1.5x of local; tunnel faster than remote per call.
 * Prints PASS/FAIL per target and exits 1 on a FAIL.
 *
 * Two host states are measured. "as found" (often an empty host) shows the
 * tunnel's fixed cost: about 0.1 ms a call here, sshd and two more process
 * hops each way, which on a call that itself takes 0.1 ms is ~1.8x (OpenSSH's
 * own `ssh -L` forwarding costs more: ~0.13 ms). "tenant-sized" adds
 * BENCH_CONTAINERS created containers, what a tenant's host holds, and is
 * what the targets are judged on; both ratios and the overhead are printed.
 *
 * Needs the e2e lab (e2e/README.md). It uses the lab's environment when set,
 * else `e2e/lab env`; when no lab is up and we are root it brings one host up
 * (`e2e/lab up 1`) and takes it down afterwards. Otherwise it prints SKIP.
 *
 * usage: transport_bench [CALLS]   (default 400 per way; podman-remote: CALLS/40)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clients/podman.h"
#include "clients/ssh.h"
#include "clients/tunnel.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"

#define BATCH 25
/* containers on a tenant host: an OMniLeads all-in-one runs about this many */
#define BENCH_CONTAINERS 12

/* Fractional ms: the round trips measured here take well under a millisecond. */
static double now_ms(void)
{
    return (double)clock_now_ns() / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

typedef struct stats {
    double *v;
    size_t n;
} stats;

static void stats_add(stats *s, double ms)
{
    s->v[s->n++] = ms;
}

static double stats_mean(const stats *s)
{
    double sum = 0;

    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i];
    return s->n ? sum / (double)s->n : 0;
}

static double stats_pct(stats *s, double p)
{
    size_t i;

    if (!s->n)
        return 0;
    qsort(s->v, s->n, sizeof(double), cmp_double);
    i = (size_t)(p * (double)(s->n - 1) + 0.5);
    return s->v[i];
}

/* Read `e2e/lab env` ("export NAME='value'" lines) into the environment. */
static int load_lab_env(void)
{
    FILE *f = popen("e2e/lab env 2>/dev/null", "r");
    char line[4096];
    int n = 0;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        char *eq, *v;
        size_t len;

        if (strncmp(line, "export ", 7) != 0 || !(eq = strchr(line + 7, '=')))
            continue;
        *eq = '\0';
        v = eq + 1;
        len = strlen(v);
        while (len && (v[len - 1] == '\n' || v[len - 1] == '\''))
            v[--len] = '\0';
        if (*v == '\'')
            v++;
        setenv(line + 7, v, 1);
        n++;
    }
    return pclose(f) == 0 && n > 0 ? 0 : -1;
}

/* One containers/json call through client p; its latency in ms, or < 0. */
static double one_call(podman_client *p)
{
    podman_container_list l;
    omlop_err err = OMLOP_ERR_INIT;
    double t0 = now_ms();
    int rc = podman_containers_list(p, NULL, 1, &l, &err);

    podman_container_list_release(&l);
    if (rc < 0) {
        fprintf(stderr, "transport_bench: %s\n", err.msg);
        return -1;
    }
    return now_ms() - t0;
}

/* podman-remote's `ps -a` (a containers/json call) over a new SSH connection. */
static double one_remote(const char *cmd)
{
    double t0 = now_ms();

    if (system(cmd) != 0)
        return -1;
    return now_ms() - t0;
}

/* Interleaved batches of calls through local (pl) and the tunnel (ps), after a warm-up. */
static int measure(podman_client *pl, podman_client *ps, int calls, stats *sl, stats *st)
{
    /* warm up both: connections made, caches filled */
    for (int i = 0; i < 20; i++) {
        if (one_call(pl) < 0 || one_call(ps) < 0)
            return -1;
    }
    /* interleaved, so both ways see the same machine load */
    for (int done = 0; done < calls; done += BATCH) {
        for (int i = 0; i < BATCH && done + i < calls; i++) {
            double ms = one_call(pl);

            if (ms < 0)
                return -1;
            stats_add(sl, ms);
        }
        for (int i = 0; i < BATCH && done + i < calls; i++) {
            double ms = one_call(ps);

            if (ms < 0)
                return -1;
            stats_add(st, ms);
        }
    }
    return 0;
}

/* Create (is_create) or remove the bench's containers: created, never started. */
static int bench_containers(podman_client *p, int is_create, omlop_err *err)
{
    static const char *const names[BENCH_CONTAINERS] = {
        "postgres", "redis", "minio",      "asterisk", "rtpengine", "kamailio",
        "omlapp",   "nginx", "websockets", "fastagi",  "astami",    "interaction-processor"};
    const char *image = getenv("OMLOP_LAB_IMAGE_OLD");
    char name[96], pid[32];

    int exists = 0;

    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    if (is_create && (podman_image_exists(p, image, &exists, err) < 0 ||
                      (!exists && podman_image_pull(p, image, NULL, NULL, NULL, NULL, 0, err) < 0)))
        return -1;
    for (int i = 0; i < BENCH_CONTAINERS; i++) {
        podman_kv label = {"omlop.bench", pid};
        podman_create_spec spec = {
            .name = name, .image = image, .labels = &label, .n_labels = 1, .is_host_network = 1};

        snprintf(name, sizeof(name), "omlop-bench-%s-%s", pid, names[i]);
        if (!is_create) {
            podman_container_remove(p, name, 1, 1, NULL);
            continue;
        }
        if (podman_container_create(p, &spec, NULL, 0, err) < 0)
            return -1;
    }
    return 0;
}

static int run(int calls)
{
    const char *host = getenv("OMLOP_LAB_HOST1");
    const char *key = getenv("OMLOP_LAB_KEY");
    const char *kh = getenv("OMLOP_LAB_KNOWN_HOSTS");
    const char *sock = getenv("OMLOP_LAB_PODMAN_SOCKET");
    const char *local_sock = getenv("OMLOP_LAB_HOST1_PODMAN_SOCKET");
    ssh_host_config cfg;
    ssh_conn *conn = NULL;
    tunnel *tl = NULL, *ts = NULL;
    podman_client *pl = NULL, *ps = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    stats sl = {calloc((size_t)calls, sizeof(double)), 0};
    stats st = {calloc((size_t)calls, sizeof(double)), 0};
    stats sr = {calloc((size_t)calls, sizeof(double)), 0};
    strbuf cmd = STRBUF_INIT, home = STRBUF_INIT;
    int remote_calls = calls / 40 < 5 ? 5 : calls / 40;
    double l50, t50, r50, ratio, empty_l50, empty_t50;
    int rc = 1, fails = 0;

    if (!host || !key || !kh || !local_sock || !sl.v || !st.v || !sr.v) {
        fprintf(stderr, "transport_bench: the lab environment is incomplete\n");
        goto out;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.address = host;
    cfg.identity_file = key;
    cfg.known_hosts_file = kh;
    if (ssh_conn_new(&cfg, &conn, &err) < 0 || ssh_conn_wait_connected(conn, 15000, &err) < 0 ||
        tunnel_new_ssh(conn, sock, &ts, &err) < 0 || podman_client_new(ts, &ps, &err) < 0 ||
        tunnel_new_local(local_sock, &tl, &err) < 0 || podman_client_new(tl, &pl, &err) < 0) {
        fprintf(stderr, "transport_bench: %s\n", err.msg);
        goto out;
    }
    if (measure(pl, ps, calls, &sl, &st) < 0)
        goto out;
    empty_l50 = stats_pct(&sl, 0.5);
    empty_t50 = stats_pct(&st, 0.5);
    sl.n = st.n = 0;
    if (bench_containers(ps, 1, &err) < 0) {
        fprintf(stderr, "transport_bench: %s\n", err.msg);
        bench_containers(ps, 0, NULL);
        goto out;
    }
    rc = measure(pl, ps, calls, &sl, &st);
    bench_containers(ps, 0, NULL);
    if (rc < 0) {
        rc = 1;
        goto out;
    }
    rc = 1;
    /* podman-remote reads ~/.ssh/known_hosts: give it the lab's in a private HOME */
    strbuf_addf(&home, "/tmp/omlop-bench-home-%ld", (long)getpid());
    strbuf_addf(&cmd, "mkdir -p %s/.ssh && cp %s %s/.ssh/known_hosts", strbuf_str(&home), kh,
                strbuf_str(&home));
    if (system(strbuf_str(&cmd)) != 0)
        goto out;
    strbuf_reset(&cmd);
    strbuf_addf(&cmd,
                "HOME=%s podman --url ssh://root@%s:22%s --identity %s ps -a --format json "
                ">/dev/null 2>&1",
                strbuf_str(&home), host, sock, key);
    for (int i = 0; i < remote_calls; i++) {
        double ms = one_remote(strbuf_str(&cmd));

        if (ms < 0) {
            fprintf(stderr, "transport_bench: podman-remote failed: %s\n", strbuf_str(&cmd));
            goto out;
        }
        stats_add(&sr, ms);
    }
    l50 = stats_pct(&sl, 0.5);
    t50 = stats_pct(&st, 0.5);
    r50 = stats_pct(&sr, 0.5);
    ratio = t50 / l50;
    printf("transport_bench: GET containers/json against %s's Podman (%d calls per way, "
           "median / mean / p95 in ms)\n",
           host, calls);
    printf("  host as found: local %.3f, tunnel %.3f: tunnel / local %.2fx, %+.0f us a call "
           "(the tunnel's fixed cost)\n",
           empty_l50, empty_t50, empty_t50 / empty_l50, (empty_t50 - empty_l50) * 1000);
    printf("  tenant-sized host (%d more containers):\n", BENCH_CONTAINERS);
    printf("  local unix socket  %8.3f %8.3f %8.3f\n", l50, stats_mean(&sl), stats_pct(&sl, 0.95));
    printf("  omlop SSH tunnel   %8.3f %8.3f %8.3f\n", t50, stats_mean(&st), stats_pct(&st, 0.95));
    printf("  podman-remote      %8.3f %8.3f %8.3f  (%d calls: one SSH connection each)\n", r50,
           stats_mean(&sr), stats_pct(&sr, 0.95), remote_calls);
    printf("  tunnel / local     %8.2fx   target <= 1.50x  %s\n", ratio,
           ratio <= 1.5 ? "PASS" : "FAIL");
    fails += ratio > 1.5;
    printf("  remote / tunnel    %8.1fx   target > 1x (tunnel faster per call)  %s\n", r50 / t50,
           t50 < r50 ? "PASS" : "FAIL");
    fails += t50 >= r50;
    rc = fails ? 1 : 0;
out:
    if (home.len) {
        strbuf_reset(&cmd);
        strbuf_addf(&cmd, "rm -rf %s", strbuf_str(&home));
        if (system(strbuf_str(&cmd)) != 0)
            fprintf(stderr, "transport_bench: could not remove %s\n", strbuf_str(&home));
    }
    podman_client_free(pl);
    podman_client_free(ps);
    tunnel_free(tl);
    tunnel_free(ts);
    ssh_conn_free(conn);
    free(sl.v);
    free(st.v);
    free(sr.v);
    strbuf_release(&cmd);
    strbuf_release(&home);
    return rc;
}

int main(int argc, char **argv)
{
    int calls = argc > 1 ? atoi(argv[1]) : 400;
    int brought_up = 0, rc;

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    if (calls < BATCH || calls > 100000) {
        fprintf(stderr, "usage: transport_bench [CALLS >= %d]\n", BATCH);
        return 2;
    }
    if (!getenv("OMLOP_LAB_HOST1") && load_lab_env() < 0) {
        if (geteuid() != 0 || access("e2e/lab", X_OK) != 0) {
            printf("transport_bench: SKIP: no e2e lab is up, and bringing one up needs root "
                   "(run: e2e/lab up 1)\n");
            return 0;
        }
        printf("transport_bench: bringing up a one-host lab (e2e/lab up 1)\n");
        fflush(stdout);
        if (system("e2e/lab up 1 >/dev/null 2>&1") != 0 || load_lab_env() < 0) {
            printf("transport_bench: FAIL: the lab did not come up (see: e2e/lab up 1)\n");
            return 1;
        }
        brought_up = 1;
    }
    rc = run(calls);
    if (brought_up && system("e2e/lab down >/dev/null 2>&1") != 0)
        fprintf(stderr, "transport_bench: e2e/lab down failed; run it by hand\n");
    return rc;
}
