/*
 * gitsource_bench: the cost of a GitSource sync when nothing changed, for a repository of
 * 1,000 tenant manifests (issue 15; target: under 200 ms of CPU, nothing parsed).
 *
 * What runs is the reconciler's own path, in-process: gitsource_sync (reconcilers/gitsource.h)
 * against an SQLite store in a temp dir and a real repository made with libgit2 (one commit,
 * tenants/tNNNN.yaml, 1,000 aio Tenants) fetched over file://. A warm-up sync applies the
 * commit (1,000 Tenants created); each measured round is then:
 *
 *   - the no-change sync: fetch (in the process gitclient_fetch starts), resolve the branch,
 *     see the commit is the applied one, write the status; it must read no file (the result's
 *     n_files_read) and touch no Tenant (the store's revision moves by the status writes only);
 *   - the baseline, same process, same store and copy: a forced sync of the same commit (what
 *     a sync request does): fetch, read and decode all 1,000 manifests, three-way merge each
 *     with its live Tenant (all unchanged, nothing written).
 *
 * CPU is getrusage: RUSAGE_THREAD of the syncing thread plus RUSAGE_CHILDREN (the fetch runs in
 * a child process), and RUSAGE_SELF + RUSAGE_CHILDREN for the process. The fetch over file://
 * has no SSH handshake: the lab scenario 57 and gitsource_bench_converge.sh cover SSH.
 *
 * PASS when the median no-change round costs < 200 ms CPU (thread + child) and no round read a
 * file or wrote a Tenant. Usage: gitsource_bench (OMLOP_BENCH_QUICK=1: 2 rounds instead of 5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "crds/diag.h"
#include "crds/schema.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "objects/objects.h"
#include "reconcilers/gitsource.h"
#include "store/store.h"
#include "unit-tests/clients/git_fixture.h"

#define N_TENANTS    1000
#define TARGET_CPU_S 0.200
#define MAX_ROUNDS   5

typedef struct cost {
    double wall, cpu_thread, cpu_child, cpu_process;
} cost;

typedef struct sample {
    struct timespec wall;
    struct rusage thread, self, children;
} sample;

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void take(sample *s)
{
    clock_gettime(CLOCK_MONOTONIC, &s->wall);
    getrusage(RUSAGE_THREAD, &s->thread);
    getrusage(RUSAGE_SELF, &s->self);
    getrusage(RUSAGE_CHILDREN, &s->children);
}

static cost diff(const sample *a, const sample *b)
{
    cost c;
    double child = tv_s(b->children.ru_utime) + tv_s(b->children.ru_stime) -
                   tv_s(a->children.ru_utime) - tv_s(a->children.ru_stime);

    c.wall = (double)(b->wall.tv_sec - a->wall.tv_sec) +
             (double)(b->wall.tv_nsec - a->wall.tv_nsec) / 1e9;
    c.cpu_child = child;
    c.cpu_thread = tv_s(b->thread.ru_utime) + tv_s(b->thread.ru_stime) - tv_s(a->thread.ru_utime) -
                   tv_s(a->thread.ru_stime);
    c.cpu_process = tv_s(b->self.ru_utime) + tv_s(b->self.ru_stime) - tv_s(a->self.ru_utime) -
                    tv_s(a->self.ru_stime) + child;
    return c;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The repository: N_TENANTS small aio Tenants, one file each, in one commit. */
static int make_repo(git_fixture *fx, char commit[41])
{
    strbuf path = STRBUF_INIT, text = STRBUF_INIT;
    int rc = 0;

    for (int i = 0; i < N_TENANTS && rc == 0; i++) {
        strbuf_reset(&path);
        strbuf_reset(&text);
        strbuf_addf(&path, "tenants/t%04d.yaml", i);
        strbuf_addf(&text,
                    "apiVersion: omlop.io/v1alpha1\n"
                    "kind: Tenant\n"
                    "metadata:\n"
                    "  name: t%04d\n"
                    "spec:\n"
                    "  layout: aio\n"
                    "  hosts:\n"
                    "    - name: h1\n"
                    "      ssh:\n"
                    "        address: 10.1.%d.%d\n"
                    "        identitySecretRef: {name: fleet-ssh}\n"
                    "      lanIP: 10.1.%d.%d\n"
                    "  network:\n"
                    "    infraEnv: cloud\n"
                    "  timeZone: America/Argentina/Cordoba\n"
                    "  images:\n"
                    "    tags:\n"
                    "      omlapp: \"250301.01\"\n",
                    i, i / 250, i % 250 + 1, i / 250, i % 250 + 1);
        rc = gitfx_write(fx, path.buf, text.buf);
    }
    if (rc == 0)
        rc = gitfx_write(fx, "README.md", "1,000 tenants for gitsource_bench\n");
    if (rc == 0)
        rc = gitfx_commit(fx, "1000 tenants", commit);
    strbuf_release(&path);
    strbuf_release(&text);
    return rc;
}

static int make_source(store *st, const schema_set *schemas, const char *url, omlop_err *err)
{
    strbuf text = STRBUF_INIT;
    json_object *obj, *decoded = NULL;
    diag_list *dl = diag_list_new();
    obj_result res = {0};
    int rc;

    strbuf_addf(&text,
                "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"GitSource\",\"metadata\":"
                "{\"name\":\"fleet\"},\"spec\":{\"url\":\"%s\",\"path\":\"tenants\","
                "\"interval\":\"1m\",\"prune\":true}}",
                url);
    obj = json_tokener_parse(text.buf);
    rc = schema_set_decode_json(schemas, obj, &decoded, dl);
    if (rc != 0 || !decoded) {
        strbuf_reset(&text);
        diag_list_format(dl, &text);
        rc = omlop_err_set(err, OMLOP_EINVAL, "the GitSource does not decode: %s", text.buf);
    } else {
        rc = obj_create(st, GITSOURCE_PLURAL, decoded, 0, &res, err);
    }
    obj_result_release(&res);
    json_object_put(obj);
    json_object_put(decoded);
    diag_list_free(dl);
    strbuf_release(&text);
    return rc;
}

static int64_t store_rev(store *st)
{
    store_list_opts lo = {0};
    store_list_result lr = {0};
    omlop_err err = OMLOP_ERR_INIT;
    int64_t rev = -1;

    lo.prefix = "/omlop/gitsources/";
    if (store_list(st, &lo, &lr, &err) == 0)
        rev = lr.revision;
    store_list_result_release(&lr);
    return rev;
}

/* One sync, measured; fails the bench when it did not end applied or read the wrong count. */
static int measured_sync(const gitsource_deps *d, int is_forced, size_t want_files, cost *c)
{
    gitsource_result res;
    omlop_err err = OMLOP_ERR_INIT;
    sample a, b;
    int rc;

    take(&a);
    rc = gitsource_sync(d, "fleet", is_forced, &res, &err);
    take(&b);
    *c = diff(&a, &b);
    if (rc < 0) {
        fprintf(stderr, "gitsource_bench: sync: %s\n", err.msg);
        return -1;
    }
    if (!res.is_applied || res.n_files_read != want_files) {
        fprintf(stderr,
                "gitsource_bench: a %s sync %s, read %zu files (want %zu): not the path "
                "measured\n",
                is_forced ? "forced" : "no-change", res.is_applied ? "applied" : "did not apply",
                res.n_files_read, want_files);
        return -1;
    }
    return 0;
}

int main(void)
{
    git_fixture fx;
    store *st = NULL;
    schema_set *schemas = NULL;
    store_options so;
    gitsource_deps d;
    omlop_err err = OMLOP_ERR_INIT;
    char commit[41], data[128];
    int rounds = getenv("OMLOP_BENCH_QUICK") ? 2 : MAX_ROUNDS, status = 1, is_ok = 1;
    double nc_cpu[MAX_ROUNDS], nc_wall[MAX_ROUNDS], bl_cpu[MAX_ROUNDS], bl_wall[MAX_ROUNDS];
    double worst = 0, m_nc, m_bl;
    cost c;
    int64_t rev0, rev1;

    log_configure(LOG_LEVEL_WARN, LOG_FORMAT_TEXT, stderr);
    if (gitfx_start(&fx) < 0 || make_repo(&fx, commit) < 0) {
        fprintf(stderr, "gitsource_bench: cannot make the repository\n");
        goto out;
    }
    snprintf(data, sizeof(data), "%s/data", fx.dir);
    mkdir(data, 0700);
    store_options_default(&so);
    so.data_dir = data;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &st, &err) < 0 || schema_set_new_builtin(&schemas, &err) < 0 ||
        make_source(st, schemas, fx.url, &err) < 0) {
        fprintf(stderr, "gitsource_bench: setup: %s\n", err.msg);
        goto out;
    }
    memset(&d, 0, sizeof(d));
    d.st = st;
    d.schemas = schemas;
    d.data_dir = data;
    d.fetch_timeout_ms = 30000;

    /* warm-up: clone and apply the 1,000 Tenants */
    if (measured_sync(&d, 0, N_TENANTS, &c) < 0)
        goto out;
    printf("repository: %d tenant manifests in one commit (%.12s), fetched over file://\n",
           N_TENANTS, commit);
    printf("warm-up: first sync (clone, parse, create %d Tenants) %.3f s wall, %.3f s cpu\n",
           N_TENANTS, c.wall, c.cpu_process);
    printf("%-6s %14s %16s %13s %14s %13s %8s\n", "round", "no-change wall", "cpu(thread+child)",
           "cpu(process)", "baseline wall", "baseline cpu", "ratio");
    for (int i = 0; i < rounds; i++) {
        cost nc, bl;

        rev0 = store_rev(st);
        if (measured_sync(&d, 0, 0, &nc) < 0)
            goto out;
        rev1 = store_rev(st);
        /* the Fetching=True write and the status write, nothing else */
        if (rev1 - rev0 > 2) {
            fprintf(stderr, "gitsource_bench: a no-change sync wrote %lld revisions (want <= 2)\n",
                    (long long)(rev1 - rev0));
            is_ok = 0;
        }
        if (measured_sync(&d, 1, N_TENANTS, &bl) < 0)
            goto out;
        nc_cpu[i] = nc.cpu_thread + nc.cpu_child;
        nc_wall[i] = nc.wall;
        bl_cpu[i] = bl.cpu_thread + bl.cpu_child;
        bl_wall[i] = bl.wall;
        if (nc_cpu[i] > worst)
            worst = nc_cpu[i];
        printf("%-6d %12.3f s %15.3f s %11.3f s %12.3f s %11.3f s %7.1fx\n", i + 1, nc.wall,
               nc_cpu[i], nc.cpu_process, bl.wall, bl_cpu[i],
               nc_cpu[i] > 0 ? bl_cpu[i] / nc_cpu[i] : 0.0);
    }
    m_nc = median(nc_cpu, rounds);
    m_bl = median(bl_cpu, rounds);
    printf("median: no-change sync %.3f s cpu (thread + fetch child), %.3f s wall; baseline "
           "(forced: read, parse and merge %d manifests) %.3f s cpu, %.3f s wall; ratio %.1fx\n",
           m_nc, median(nc_wall, rounds), N_TENANTS, m_bl, median(bl_wall, rounds),
           m_nc > 0 ? m_bl / m_nc : 0.0);
    printf("target: no-change sync < %.3f s cpu, nothing parsed (median %.3f s, worst %.3f s): "
           "%s\n",
           TARGET_CPU_S, m_nc, worst, is_ok && m_nc < TARGET_CPU_S ? "PASS" : "FAIL");
    status = is_ok && m_nc < TARGET_CPU_S ? 0 : 1;
out:
    store_close(st);
    schema_set_free(schemas);
    gitfx_stop(&fx);
    return status;
}
