/*
 * store_bench: throughput and latency of the store, both backends in one run.
 *
 * For each backend: create throughput (4 writers populating 10k objects),
 * update throughput (1 writer, and 4 writers), get and list latency over the
 * 10k objects, and watch delivery latency (write start to delivery, p50/p99)
 * with 100 subscribers read by 4 poll() threads. Each figure is printed with
 * a baseline measured in the same process on the same machine:
 *   sqlite: raw SQLite with the same durability (WAL, synchronous=FULL, one
 *           transaction per write), raw SELECTs for get/list;
 *   etcd:   raw libcurl calls to the same etcd (/v3/kv/put, /v3/kv/range);
 *   watch:  a raw eventfd fan-out to 100 waiters with the same thread layout.
 * Targets (exit 1 when missed): SQLite >= 2,000 acknowledged updates/s and
 * SQLite watch p99 < 20 ms. etcd runs when /usr/bin/etcd exists (a private
 * instance on free loopback ports, removed afterwards).
 *
 * Usage: store_bench [--quick]   (--quick or OMLOP_BENCH_QUICK=1: fewer objects and operations)
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "store/store.h"
#include "unit-tests/store/store_test_etcd.h"

#define WRITERS              4
#define SUBSCRIBERS          100
#define RECV_THREADS         4
#define TARGET_UPDATES_PER_S 2000.0
#define TARGET_WATCH_P99_MS  20.0

typedef struct bench_cfg {
    int objects;
    int updates_sqlite;
    int updates_etcd;
    int gets;
    int lists;
    int watch_events;
    int watch_gap_us;
} bench_cfg;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* p-th percentile (0..100) of n samples, sorted in place. */
static double pct(int64_t *v, size_t n, double p)
{
    size_t i;

    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_i64);
    i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[i];
}

static void object_value(strbuf *sb, int i, int64_t stamp)
{
    strbuf_reset(sb);
    strbuf_addf(
        sb,
        "{\"apiVersion\":\"omlop.io/v1\",\"kind\":\"Tenant\",\"metadata\":{\"name\":"
        "\"t%05d\",\"labels\":{\"app\":\"bench\",\"shard\":\"%d\"}},\"spec\":{\"t\":%" PRId64
        ",\"pad\":\"%0200d\"}}",
        i, i % 8, stamp, i);
}

static void key_of(char *buf, size_t n, int i)
{
    snprintf(buf, n, "/omlop/tenants/t%05d", i);
}

static void row(const char *backend, const char *metric, const char *value, const char *base,
                double ratio, const char *verdict)
{
    printf("%-7s %-28s %-16s %-26s ", backend, metric, value, base);
    if (ratio > 0)
        printf("%6.2fx", ratio);
    else
        printf("%7s", "");
    printf("  %s\n", verdict ? verdict : "");
}

/* --- writes -------------------------------------------------------------------------------- */

typedef struct writer_job {
    store *s;
    int from, to; /* object indexes [from, to) */
    int update;   /* 0: create each once; 1: update key (from + k % span) */
    int count;
    int errors;
} writer_job;

static void *writer_main(void *p)
{
    writer_job *j = p;
    strbuf val = STRBUF_INIT;
    char key[64];

    for (int k = 0; k < j->count; k++) {
        omlop_err err = OMLOP_ERR_INIT;
        int idx = j->from + k % (j->to - j->from);
        int64_t rev;
        int rc;

        key_of(key, sizeof(key), idx);
        object_value(&val, idx, 0);
        rc = j->update ? store_update(j->s, key, val.buf, val.len, 0, &rev, &err)
                       : store_create(j->s, key, val.buf, val.len, &rev, &err);
        if (rc != 0 && j->errors++ == 0)
            fprintf(stderr, "bench: write %s: %s\n", key, err.msg);
    }
    strbuf_release(&val);
    return NULL;
}

/* Acknowledged writes per second with n_threads writers splitting total ops. */
static double run_writers(store *s, int update, int objects, int total, int n_threads)
{
    writer_job jobs[WRITERS];
    pthread_t t[WRITERS];
    int64_t t0 = clock_now_ns(), errors = 0;
    int per = objects / n_threads;

    for (int i = 0; i < n_threads; i++) {
        jobs[i] = (writer_job){s, i * per, (i + 1) * per, update, total / n_threads, 0};
        if (!update)
            jobs[i].count = per;
        pthread_create(&t[i], NULL, writer_main, &jobs[i]);
    }
    for (int i = 0; i < n_threads; i++) {
        pthread_join(t[i], NULL);
        errors += jobs[i].errors;
    }
    if (errors)
        fprintf(stderr, "bench: %" PRId64 " writes failed\n", errors);
    return (double)(update ? total / n_threads * n_threads : per * n_threads) /
           ((double)(clock_now_ns() - t0) / 1e9);
}

/* --- raw SQLite baseline ------------------------------------------------------------------- */

typedef struct raw_sqlite {
    sqlite3 *db;
    char path[128];
} raw_sqlite;

static int raw_sqlite_open(raw_sqlite *r, const char *dir)
{
    snprintf(r->path, sizeof(r->path), "%s/raw.db", dir);
    if (sqlite3_open(r->path, &r->db) != SQLITE_OK)
        return -1;
    return sqlite3_exec(r->db,
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                        "CREATE TABLE kv(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;",
                        NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : -1;
}

/* Inserts per second, one transaction each (autocommit), as durable as the store. */
static double raw_sqlite_inserts(raw_sqlite *r, int n)
{
    sqlite3_stmt *st;
    strbuf val = STRBUF_INIT;
    char key[64];
    int64_t t0 = clock_now_ns();

    sqlite3_prepare_v2(r->db, "INSERT OR REPLACE INTO kv(key, value) VALUES (?1, ?2)", -1, &st,
                       NULL);
    for (int i = 0; i < n; i++) {
        key_of(key, sizeof(key), i);
        object_value(&val, i, 0);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, val.buf, (int)val.len, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    strbuf_release(&val);
    return n / ((double)(clock_now_ns() - t0) / 1e9);
}

static void raw_sqlite_reads(raw_sqlite *r, int objects, int gets, int lists, double *get_p50,
                             double *get_p99, double *list_p50, double *list_p99)
{
    int64_t *lat = calloc((size_t)(gets > lists ? gets : lists), sizeof(int64_t));
    sqlite3_stmt *st;
    char key[64];

    sqlite3_prepare_v2(r->db, "SELECT value FROM kv WHERE key = ?1", -1, &st, NULL);
    for (int i = 0; i < gets; i++) {
        int64_t t0 = clock_now_ns();
        char *copy;

        key_of(key, sizeof(key), rand() % objects);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_step(st);
        copy = strdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        free(copy);
        lat[i] = clock_now_ns() - t0;
    }
    sqlite3_finalize(st);
    *get_p50 = pct(lat, (size_t)gets, 50) / 1e3;
    *get_p99 = pct(lat, (size_t)gets, 99) / 1e3;
    sqlite3_prepare_v2(r->db, "SELECT key, value FROM kv WHERE key >= ?1 ORDER BY key", -1, &st,
                       NULL);
    for (int i = 0; i < lists; i++) {
        int64_t t0 = clock_now_ns();
        size_t bytes = 0;

        sqlite3_bind_text(st, 1, "/omlop/tenants/", -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            char *k = strdup((const char *)sqlite3_column_text(st, 0));
            char *v = strdup((const char *)sqlite3_column_text(st, 1));

            bytes += strlen(v);
            free(k);
            free(v);
        }
        sqlite3_reset(st);
        lat[i] = clock_now_ns() - t0;
        (void)bytes;
    }
    sqlite3_finalize(st);
    *list_p50 = pct(lat, (size_t)lists, 50) / 1e6;
    *list_p99 = pct(lat, (size_t)lists, 99) / 1e6;
    free(lat);
}

/* --- raw etcd baseline --------------------------------------------------------------------- */

static size_t sink(char *p, size_t s, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return s * n;
}

static int raw_etcd_post(CURL *h, const char *endpoint, const char *path, const char *body)
{
    char url[128];

    snprintf(url, sizeof(url), "http://%s%s", endpoint, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    return curl_easy_perform(h) == CURLE_OK ? 0 : -1;
}

static void b64(strbuf *out, const char *s)
{
    static const char c[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)s[i] << 16;

        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        strbuf_addch(out, c[v >> 18 & 63]);
        strbuf_addch(out, c[v >> 12 & 63]);
        strbuf_addch(out, i + 1 < n ? c[v >> 6 & 63] : '=');
        strbuf_addch(out, i + 2 < n ? c[v & 63] : '=');
    }
}

/* Sequential raw puts per second, under /raw/ (not the store's prefix). */
static double raw_etcd_puts(const char *endpoint, int n)
{
    CURL *h = curl_easy_init();
    strbuf body = STRBUF_INIT, val = STRBUF_INIT;
    char key[64];
    int64_t t0 = clock_now_ns();

    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "/raw/t%05d", i);
        object_value(&val, i, 0);
        strbuf_reset(&body);
        strbuf_adds(&body, "{\"key\":\"");
        b64(&body, key);
        strbuf_adds(&body, "\",\"value\":\"");
        b64(&body, val.buf);
        strbuf_adds(&body, "\"}");
        raw_etcd_post(h, endpoint, "/v3/kv/put", body.buf);
    }
    curl_easy_cleanup(h);
    strbuf_release(&body);
    strbuf_release(&val);
    return n / ((double)(clock_now_ns() - t0) / 1e9);
}

static void raw_etcd_reads(const char *endpoint, const char *prefix, int objects, int gets,
                           int lists, double *get_p50, double *get_p99, double *list_p50,
                           double *list_p99)
{
    int64_t *lat = calloc((size_t)(gets > lists ? gets : lists), sizeof(int64_t));
    CURL *h = curl_easy_init();
    strbuf body = STRBUF_INIT;
    char key[96], end[96];

    for (int i = 0; i < gets; i++) {
        int64_t t0 = clock_now_ns();

        snprintf(key, sizeof(key), "%s/omlop/tenants/t%05d", prefix, rand() % objects);
        strbuf_reset(&body);
        strbuf_adds(&body, "{\"key\":\"");
        b64(&body, key);
        strbuf_adds(&body, "\"}");
        raw_etcd_post(h, endpoint, "/v3/kv/range", body.buf);
        lat[i] = clock_now_ns() - t0;
    }
    *get_p50 = pct(lat, (size_t)gets, 50) / 1e3;
    *get_p99 = pct(lat, (size_t)gets, 99) / 1e3;
    snprintf(key, sizeof(key), "%s/omlop/tenants/", prefix);
    snprintf(end, sizeof(end), "%s/omlop/tenants0", prefix);
    strbuf_reset(&body);
    strbuf_adds(&body, "{\"key\":\"");
    b64(&body, key);
    strbuf_adds(&body, "\",\"range_end\":\"");
    b64(&body, end);
    strbuf_adds(&body, "\"}");
    for (int i = 0; i < lists; i++) {
        int64_t t0 = clock_now_ns();

        raw_etcd_post(h, endpoint, "/v3/kv/range", body.buf);
        lat[i] = clock_now_ns() - t0;
    }
    *list_p50 = pct(lat, (size_t)lists, 50) / 1e6;
    *list_p99 = pct(lat, (size_t)lists, 99) / 1e6;
    curl_easy_cleanup(h);
    strbuf_release(&body);
    free(lat);
}

/* --- store reads --------------------------------------------------------------------------- */

static void store_reads(store *s, int objects, int gets, int lists, double *get_p50,
                        double *get_p99, double *list_p50, double *list_p99, size_t *listed)
{
    int64_t *lat = calloc((size_t)(gets > lists ? gets : lists), sizeof(int64_t));
    omlop_err err = OMLOP_ERR_INIT;
    char key[64];

    for (int i = 0; i < gets; i++) {
        int64_t t0 = clock_now_ns();
        store_kv kv;

        key_of(key, sizeof(key), rand() % objects);
        if (store_get(s, key, &kv, &err) != 0)
            fprintf(stderr, "bench: get %s: %s\n", key, err.msg);
        store_kv_release(&kv);
        lat[i] = clock_now_ns() - t0;
    }
    *get_p50 = pct(lat, (size_t)gets, 50) / 1e3;
    *get_p99 = pct(lat, (size_t)gets, 99) / 1e3;
    for (int i = 0; i < lists; i++) {
        store_list_opts lo = {"/omlop/tenants/", NULL, 0, NULL, NULL};
        store_list_result res;
        int64_t t0 = clock_now_ns();

        if (store_list(s, &lo, &res, &err) != 0)
            fprintf(stderr, "bench: list: %s\n", err.msg);
        *listed = res.items.n;
        store_list_result_release(&res);
        lat[i] = clock_now_ns() - t0;
    }
    *list_p50 = pct(lat, (size_t)lists, 50) / 1e6;
    *list_p99 = pct(lat, (size_t)lists, 99) / 1e6;
    free(lat);
}

/* --- watch latency ------------------------------------------------------------------------- */

typedef struct recv_job {
    store_watch **w; /* NULL for the baseline: fds only */
    int *fds;
    int n;
    int expect;                   /* events per subscriber */
    const _Atomic int64_t *stamp; /* baseline: the writer's timestamp */
    int64_t *lat;
    size_t n_lat;
    int errors;
} recv_job;

static void *recv_main(void *p)
{
    recv_job *j = p;
    struct pollfd pfd[SUBSCRIBERS];
    int got[SUBSCRIBERS] = {0}, done = 0;
    int64_t deadline = clock_now_ns() + 60 * 1000000000LL;

    for (int i = 0; i < j->n; i++)
        pfd[i] = (struct pollfd){j->fds[i], POLLIN, 0};
    while (done < j->n && clock_now_ns() < deadline) {
        if (poll(pfd, (nfds_t)j->n, 100) <= 0)
            continue;
        for (int i = 0; i < j->n; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            if (!j->w) {
                uint64_t v;

                if (read(j->fds[i], &v, sizeof(v)) == sizeof(v)) {
                    j->lat[j->n_lat++] = clock_now_ns() - atomic_load(j->stamp);
                    if (++got[i] == j->expect)
                        done++;
                }
                continue;
            }
            for (;;) {
                omlop_err err = OMLOP_ERR_INIT;
                store_event ev;
                const char *t;
                int rc = store_watch_next(j->w[i], &ev, 0, &err);

                if (rc == OMLOP_ETIMEOUT)
                    break;
                if (rc != 0) {
                    if (j->errors++ == 0)
                        fprintf(stderr, "bench: watch: %s\n", err.msg);
                    pfd[i].fd = -1;
                    done++;
                    break;
                }
                t = strstr(ev.kv.value, "\"t\":");
                j->lat[j->n_lat++] = clock_now_ns() - strtoll(t + 4, NULL, 10);
                store_event_release(&ev);
                if (++got[i] == j->expect) {
                    done++;
                    pfd[i].fd = -1;
                    break;
                }
            }
        }
    }
    return NULL;
}

/* Write start -> delivery latency over SUBSCRIBERS subscribers; s NULL = raw eventfd baseline. */
static void watch_latency(store *s, const bench_cfg *c, double *p50, double *p99, int *errors)
{
    store_watch *w[SUBSCRIBERS] = {0};
    int fds[SUBSCRIBERS];
    recv_job jobs[RECV_THREADS];
    pthread_t t[RECV_THREADS];
    _Atomic int64_t stamp = 0;
    int per = SUBSCRIBERS / RECV_THREADS;
    size_t total = 0;
    int64_t *all;
    strbuf val = STRBUF_INIT;

    for (int i = 0; i < SUBSCRIBERS; i++) {
        omlop_err err = OMLOP_ERR_INIT;

        if (s) {
            if (store_watch_open(s, "/omlop/tenants/", 0, &w[i], &err) != 0) {
                fprintf(stderr, "bench: watch_open: %s\n", err.msg);
                exit(2);
            }
            fds[i] = store_watch_fd(w[i]);
        } else {
            fds[i] = eventfd(0, EFD_NONBLOCK);
        }
    }
    for (int i = 0; i < RECV_THREADS; i++) {
        jobs[i] = (recv_job){s ? &w[i * per] : NULL,
                             &fds[i * per],
                             per,
                             c->watch_events,
                             &stamp,
                             calloc((size_t)(per * c->watch_events), sizeof(int64_t)),
                             0,
                             0};
        pthread_create(&t[i], NULL, recv_main, &jobs[i]);
    }
    usleep(50 * 1000);
    for (int k = 0; k < c->watch_events; k++) {
        omlop_err err = OMLOP_ERR_INIT;
        int64_t rev, t0 = clock_now_ns();

        if (s) {
            object_value(&val, 0, t0);
            if (store_update(s, "/omlop/tenants/t00000", val.buf, val.len, 0, &rev, &err) != 0)
                fprintf(stderr, "bench: update: %s\n", err.msg);
        } else {
            atomic_store(&stamp, t0);
            for (int i = 0; i < SUBSCRIBERS; i++) {
                uint64_t one = 1;

                if (write(fds[i], &one, sizeof(one)) < 0)
                    perror("eventfd");
            }
        }
        usleep((useconds_t)c->watch_gap_us);
    }
    *errors = 0;
    for (int i = 0; i < RECV_THREADS; i++) {
        pthread_join(t[i], NULL);
        total += jobs[i].n_lat;
        *errors += jobs[i].errors;
    }
    all = calloc(total + 1, sizeof(int64_t));
    total = 0;
    for (int i = 0; i < RECV_THREADS; i++) {
        memcpy(all + total, jobs[i].lat, jobs[i].n_lat * sizeof(int64_t));
        total += jobs[i].n_lat;
        free(jobs[i].lat);
    }
    if (total < (size_t)SUBSCRIBERS * (size_t)c->watch_events)
        *errors += 1;
    *p50 = pct(all, total, 50) / 1e6;
    *p99 = pct(all, total, 99) / 1e6;
    free(all);
    for (int i = 0; i < SUBSCRIBERS; i++) {
        if (s)
            store_watch_close(w[i]);
        else
            close(fds[i]);
    }
    strbuf_release(&val);
}

/* --- one backend --------------------------------------------------------------------------- */

typedef struct results {
    double create, update1, update4, get50, get99, list50, list99, watch50, watch99;
    size_t listed;
    int watch_errors;
} results;

static int bench_store(const char *url, const bench_cfg *c, int updates, results *r)
{
    omlop_err err = OMLOP_ERR_INIT;
    store_options opts;
    store *s;

    store_options_default(&opts);
    opts.compact_interval_s = 0;
    if (store_open(url, &opts, &s, &err) != 0) {
        fprintf(stderr, "bench: %s: %s\n", url, err.msg);
        return -1;
    }
    r->create = run_writers(s, 0, c->objects, c->objects, WRITERS);
    r->update1 = run_writers(s, 1, c->objects, updates, 1);
    r->update4 = run_writers(s, 1, c->objects, updates, WRITERS);
    store_reads(s, c->objects, c->gets, c->lists, &r->get50, &r->get99, &r->list50, &r->list99,
                &r->listed);
    watch_latency(s, c, &r->watch50, &r->watch99, &r->watch_errors);
    store_close(s);
    return 0;
}

static void print_results(const char *name, const results *r, double base_write,
                          const char *base_write_what, double bg50, double bg99, double bl50,
                          double bl99, double bw50, double bw99, int targets, int *failed)
{
    char v[64], b[64], label[64];
    int upd_ok = r->update1 >= TARGET_UPDATES_PER_S, watch_ok = r->watch99 < TARGET_WATCH_P99_MS;

    snprintf(v, sizeof(v), "%.0f", r->create);
    snprintf(b, sizeof(b), "%.0f (%s)", base_write, base_write_what);
    row(name, "create, 4 writers (ops/s)", v, b, r->create / base_write, NULL);
    snprintf(v, sizeof(v), "%.0f", r->update1);
    row(name, "update, 1 writer (ops/s)", v, b, r->update1 / base_write,
        targets ? (upd_ok ? "target >= 2000: PASS" : "target >= 2000: FAIL") : NULL);
    snprintf(v, sizeof(v), "%.0f", r->update4);
    row(name, "update, 4 writers (ops/s)", v, b, r->update4 / base_write, NULL);
    snprintf(v, sizeof(v), "%.0f / %.0f", r->get50, r->get99);
    snprintf(b, sizeof(b), "%.0f / %.0f (raw)", bg50, bg99);
    row(name, "get p50/p99 (us)", v, b, r->get99 / bg99, NULL);
    snprintf(v, sizeof(v), "%.1f / %.1f", r->list50, r->list99);
    snprintf(b, sizeof(b), "%.1f / %.1f (raw)", bl50, bl99);
    snprintf(label, sizeof(label), "list %zu objs p50/p99 (ms)", r->listed);
    row(name, label, v, b, r->list99 / bl99, NULL);
    snprintf(v, sizeof(v), "%.2f / %.2f", r->watch50, r->watch99);
    snprintf(b, sizeof(b), "%.2f / %.2f (eventfd)", bw50, bw99);
    row(name, "watch x100 p50/p99 (ms)", v, b, r->watch99 / bw99,
        targets ? (watch_ok && !r->watch_errors ? "target p99 < 20: PASS" : "target p99 < 20: FAIL")
                : NULL);
    if (r->watch_errors)
        printf("%-7s watch: %d subscriber(s) missed events or failed\n", name, r->watch_errors);
    if (targets && (!upd_ok || !watch_ok || r->watch_errors))
        *failed = 1;
}

int main(int argc, char **argv)
{
    bench_cfg c = {10000, 5000, 1000, 5000, 10, 300, 5000};
    char dir[] = "/tmp/omlop-bench-XXXXXX", url[128];
    double bw50, bw99, raw_ins, bg50, bg99, bl50, bl99;
    raw_sqlite raw = {NULL, ""};
    results r;
    int failed = 0, errs;

    if ((argc > 1 && strcmp(argv[1], "--quick") == 0) ||
        (getenv("OMLOP_BENCH_QUICK") && strcmp(getenv("OMLOP_BENCH_QUICK"), "1") == 0))
        c = (bench_cfg){2000, 1000, 200, 1000, 3, 60, 5000};
    log_configure(LOG_LEVEL_WARN, LOG_FORMAT_TEXT, stderr);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    srand(42);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    printf("store bench: %d objects, %d subscribers, %ld CPUs\n", c.objects, SUBSCRIBERS,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-7s %-28s %-16s %-26s %7s  %s\n", "backend", "metric", "value", "baseline", "ratio",
           "target");

    watch_latency(NULL, &c, &bw50, &bw99, &errs);

    if (raw_sqlite_open(&raw, dir) != 0) {
        fprintf(stderr, "bench: raw sqlite: %s\n", sqlite3_errmsg(raw.db));
        return 2;
    }
    raw_ins = raw_sqlite_inserts(&raw, c.updates_sqlite);
    raw_sqlite_inserts(&raw, c.objects);
    raw_sqlite_reads(&raw, c.objects, c.gets, c.lists, &bg50, &bg99, &bl50, &bl99);
    sqlite3_close(raw.db);
    snprintf(url, sizeof(url), "sqlite://%s/store", dir);
    memset(&r, 0, sizeof(r));
    if (bench_store(url, &c, c.updates_sqlite, &r) != 0)
        return 2;
    print_results("sqlite", &r, raw_ins, "raw insert", bg50, bg99, bl50, bl99, bw50, bw99, 1,
                  &failed);

    if (!test_etcd_available()) {
        printf("etcd    skipped: %s not found\n", test_etcd_binary());
    } else {
        test_etcd e;

        memset(&e, 0, sizeof(e));
        if (test_etcd_start(&e) != 0) {
            printf("etcd    skipped: etcd did not start\n");
        } else {
            double raw_put = raw_etcd_puts(e.endpoint, c.updates_etcd);

            snprintf(url, sizeof(url), "etcd://%s/bench", e.endpoint);
            memset(&r, 0, sizeof(r));
            if (bench_store(url, &c, c.updates_etcd, &r) == 0) {
                raw_etcd_reads(e.endpoint, "/bench", c.objects, c.gets, c.lists, &bg50, &bg99,
                               &bl50, &bl99);
                print_results("etcd", &r, raw_put, "raw put", bg50, bg99, bl50, bl99, bw50, bw99, 0,
                              &failed);
            }
        }
        test_etcd_stop(&e);
    }
    nftw(dir, test_etcd_rm, 16, FTW_DEPTH | FTW_PHYS);
    curl_global_cleanup();
    printf("store bench: %s\n", failed ? "FAIL" : "PASS");
    return failed;
}
