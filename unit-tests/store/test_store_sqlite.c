/*
 * sqlite-only store tests: file modes, persistence across reopen (data,
 * revision, history for watches, compaction point), refusing a damaged or
 * foreign database, one process per data dir, periodic compaction, URL forms,
 * and readers running while a writer commits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "store/store.h"

typedef struct tmpdir {
    char path[64];
} tmpdir;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup_dir(void **state)
{
    tmpdir *d = calloc(1, sizeof(*d));

    if (!d)
        return -1;
    snprintf(d->path, sizeof(d->path), "/tmp/omlop-sq-XXXXXX");
    if (!mkdtemp(d->path)) {
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

static int teardown_dir(void **state)
{
    tmpdir *d = *state;

    nftw(d->path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(d);
    return 0;
}

static store *open_dir(const char *dir, int interval, int64_t keep)
{
    omlop_err err = OMLOP_ERR_INIT;
    store_options opts;
    store *s = NULL;

    store_options_default(&opts);
    opts.data_dir = dir;
    opts.compact_interval_s = interval;
    if (keep)
        opts.compact_keep = keep;
    if (store_open("sqlite", &opts, &s, &err) != 0)
        fail_msg("store_open %s: %s", dir, err.msg);
    return s;
}

static int64_t put(store *s, const char *key, const char *value)
{
    omlop_err err = OMLOP_ERR_INIT;
    int64_t rev = 0;
    int rc = store_update(s, key, value, strlen(value), 0, &rev, &err);

    if (rc == OMLOP_ENOTFOUND)
        rc = store_create(s, key, value, strlen(value), &rev, &err);
    if (rc != 0)
        fail_msg("put %s: %s", key, err.msg);
    return rev;
}

static mode_t mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_sqlite_creates_private_dir_and_files(void **state)
{
    tmpdir *d = *state;
    char dir[128], path[160];
    mode_t old = umask(022);
    store *s;

    snprintf(dir, sizeof(dir), "%s/a/b", d->path);
    s = open_dir(dir, 0, 0);
    put(s, "/omlop/k", "{}");
    umask(old);
    assert_int_equal(mode_of(dir), 0700);
    snprintf(path, sizeof(path), "%s/a", d->path);
    assert_int_equal(mode_of(path), 0700);
    snprintf(path, sizeof(path), "%s/omlop.db", dir);
    assert_int_equal(mode_of(path), 0600);
    snprintf(path, sizeof(path), "%s/omlop.db-wal", dir);
    assert_int_equal(mode_of(path), 0600);
    store_close(s);
}

static void test_sqlite_state_survives_reopen(void **state)
{
    tmpdir *d = *state;
    omlop_err err = OMLOP_ERR_INIT;
    int64_t r1, r2, r3, r4, cur, done;
    store_watch *w;
    store_event ev;
    store_kv kv;
    store *s;

    s = open_dir(d->path, 0, 0);
    r1 = put(s, "/omlop/a", "{\"n\":1}");
    r2 = put(s, "/omlop/a", "{\"n\":2}");
    r3 = put(s, "/omlop/b", "{\"n\":3}");
    assert_int_equal(store_delete(s, "/omlop/b", 0, &r4, &err), 0);
    assert_int_equal(store_compact(s, r1, &err), 0);
    store_close(s);

    s = open_dir(d->path, 0, 0);
    assert_int_equal(store_current_revision(s, &cur, &err), 0);
    assert_int_equal(cur, r4);
    assert_int_equal(store_compacted_revision(s, &done, &err), 0);
    assert_int_equal(done, r1);
    assert_int_equal(store_get(s, "/omlop/a", &kv, &err), 0);
    assert_string_equal(kv.value, "{\"n\":2}");
    assert_int_equal(kv.version, 2);
    assert_int_equal(kv.create_revision, r1);
    store_kv_release(&kv);
    assert_int_equal(store_get(s, "/omlop/b", &kv, &err), OMLOP_ENOTFOUND);
    /* History after the compaction point is still there for a resuming watcher. */
    assert_int_equal(store_watch_open(s, "/omlop/", r1 - 1, &w, &err), OMLOP_EGONE);
    assert_int_equal(store_watch_open(s, "/omlop/", r1, &w, &err), 0);
    assert_int_equal(store_watch_next(w, &ev, 1000, &err), 0);
    assert_int_equal(ev.revision, r2);
    store_event_release(&ev);
    assert_int_equal(store_watch_next(w, &ev, 1000, &err), 0);
    assert_int_equal(ev.revision, r3);
    store_event_release(&ev);
    assert_int_equal(store_watch_next(w, &ev, 1000, &err), 0);
    assert_int_equal(ev.revision, r4);
    assert_int_equal(ev.type, STORE_EVENT_DELETED);
    assert_string_equal(ev.kv.value, "{\"n\":3}");
    store_event_release(&ev);
    /* New writes continue the sequence. */
    assert_int_equal(put(s, "/omlop/c", "{}"), r4 + 1);
    assert_int_equal(store_watch_next(w, &ev, 1000, &err), 0);
    assert_int_equal(ev.revision, r4 + 1);
    store_event_release(&ev);
    store_watch_close(w);
    store_close(s);
}

static void write_bytes(const char *path, off_t at, const char *bytes, size_t n)
{
    int fd = open(path, O_WRONLY);

    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, at), (ssize_t)n);
    close(fd);
}

static void test_sqlite_refuses_foreign_file(void **state)
{
    tmpdir *d = *state;
    char path[128], junk[4096];
    omlop_err err = OMLOP_ERR_INIT;
    store_options opts;
    store *s = NULL;

    snprintf(path, sizeof(path), "%s/omlop.db", d->path);
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
    write_bytes(path, 0, junk, sizeof(junk));
    store_options_default(&opts);
    opts.data_dir = d->path;
    assert_int_equal(store_open("sqlite", &opts, &s, &err), OMLOP_EIO);
    assert_null(s);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "restore a backup"));
}

static void test_sqlite_integrity_check_refuses_damage(void **state)
{
    tmpdir *d = *state;
    char path[128], val[600], key[64], junk[64];
    omlop_err err = OMLOP_ERR_INIT;
    store_options opts;
    struct stat st;
    store *s;

    s = open_dir(d->path, 0, 0);
    memset(val, 0, sizeof(val));
    snprintf(val, sizeof(val), "{\"pad\":\"%0500d\"}", 7);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "/omlop/k%03d", i);
        put(s, key, val);
    }
    store_close(s); /* the last connection's close checkpoints the WAL into the file */
    snprintf(path, sizeof(path), "%s/omlop.db", d->path);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 16 * 4096);
    /* Scribble over the middle of a b-tree page (the header stays valid). */
    memset(junk, 0xa5, sizeof(junk));
    write_bytes(path, 8 * 4096 + 8, junk, sizeof(junk));
    store_options_default(&opts);
    opts.data_dir = d->path;
    s = NULL;
    assert_int_equal(store_open("sqlite", &opts, &s, &err), OMLOP_EIO);
    assert_null(s);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "integrity check failed: "));
    assert_non_null(strstr(err.msg, "refusing to start"));
}

static void test_sqlite_one_process_per_dir(void **state)
{
    tmpdir *d = *state;
    omlop_err err = OMLOP_ERR_INIT;
    store_options opts;
    store *a, *b = NULL;

    a = open_dir(d->path, 0, 0);
    store_options_default(&opts);
    opts.data_dir = d->path;
    assert_int_equal(store_open("sqlite", &opts, &b, &err), OMLOP_EUNAVAIL);
    assert_non_null(strstr(err.msg, "in use"));
    assert_null(b);
    store_close(a);
    b = open_dir(d->path, 0, 0);
    store_close(b);
}

static void test_sqlite_periodic_compaction_keeps_window(void **state)
{
    tmpdir *d = *state;
    omlop_err err = OMLOP_ERR_INIT;
    int64_t cur = 0, done = 0;
    store *s = open_dir(d->path, 1, 5);

    for (int i = 0; i < 20; i++)
        cur = put(s, "/omlop/k", "{}");
    for (int i = 0; i < 40 && done != cur - 5; i++) {
        usleep(100 * 1000);
        assert_int_equal(store_compacted_revision(s, &done, &err), 0);
    }
    assert_int_equal(done, cur - 5);
    store_close(s);
}

static void test_sqlite_url_forms(void **state)
{
    tmpdir *d = *state;
    omlop_err err = OMLOP_ERR_INIT;
    char url[128];
    store *s = NULL;
    store_options opts;

    store_options_default(&opts);
    opts.compact_interval_s = 0;
    snprintf(url, sizeof(url), "sqlite://%s/u1", d->path);
    assert_int_equal(store_open(url, &opts, &s, &err), 0);
    snprintf(url, sizeof(url), "sqlite:%s/u1", d->path);
    assert_string_equal(store_describe(s), url);
    store_close(s);
    snprintf(url, sizeof(url), "sqlite:%s/u2", d->path);
    assert_int_equal(store_open(url, &opts, &s, &err), 0);
    store_close(s);
    assert_int_equal(store_open("sqlite:", &opts, &s, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "--data-dir"));
    opts.watch_buffer = 0;
    opts.data_dir = d->path;
    assert_int_equal(store_open("sqlite", &opts, &s, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "watch_buffer"));
}

typedef struct reader_arg {
    store *s;
    int64_t base; /* write i (value {"n":i}) has revision base + i */
    int stop;
    int errors;
    int reads;
} reader_arg;

static void *reader_main(void *p)
{
    reader_arg *a = p;
    omlop_err err = OMLOP_ERR_INIT;
    int64_t last = 0;

    while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
        store_list_opts lo = {"/omlop/r/", NULL, 0, NULL, NULL};
        store_list_result res;
        int64_t newest = 0;

        if (store_list(a->s, &lo, &res, &err) != 0) {
            a->errors++;
            break;
        }
        /* One snapshot: every value matches its revision, the newest is the list's. */
        for (size_t i = 0; i < res.items.n; i++) {
            const store_kv *kv = &res.items.items[i];

            if (strtoll(kv->value + 5, NULL, 10) != kv->mod_revision - a->base)
                a->errors++;
            if (kv->mod_revision > newest)
                newest = kv->mod_revision;
        }
        if (res.items.n != 2 || newest != res.revision || res.revision < last)
            a->errors++;
        last = res.revision;
        store_list_result_release(&res);
        a->reads++;
    }
    return NULL;
}

static void test_sqlite_readers_see_consistent_snapshots(void **state)
{
    tmpdir *d = *state;
    store *s = open_dir(d->path, 0, 0);
    reader_arg a = {s, 0, 0, 0, 0};
    pthread_t t[3];
    char val[32];

    a.base = put(s, "/omlop/r/a", "{\"n\":0}");
    assert_int_equal(put(s, "/omlop/r/b", "{\"n\":1}"), a.base + 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, &a), 0);
    for (int i = 2; i < 300; i++) {
        snprintf(val, sizeof(val), "{\"n\":%d}", i);
        assert_int_equal(put(s, i % 2 ? "/omlop/r/b" : "/omlop/r/a", val), a.base + i);
    }
    __atomic_store_n(&a.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_true(a.reads > 0);
    assert_int_equal(a.errors, 0);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sqlite_creates_private_dir_and_files, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_sqlite_state_survives_reopen, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_sqlite_refuses_foreign_file, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_sqlite_integrity_check_refuses_damage, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_sqlite_one_process_per_dir, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_sqlite_periodic_compaction_keeps_window, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_sqlite_url_forms, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_sqlite_readers_see_consistent_snapshots, setup_dir,
                                        teardown_dir),
    };

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
