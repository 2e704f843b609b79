/*
 * Crash test for the sqlite store: a child process updates a counter as fast
 * as it can and reports each acknowledged revision on a pipe right after
 * store_update returns; the parent SIGKILLs it at a seeded random moment,
 * reopens the store (the open runs the integrity check) and checks that every
 * acknowledged write is there with its value, that revisions are contiguous
 * and that SQLite's full integrity_check passes. Ten rounds on one data dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "store/store.h"

#define ROUNDS     10
#define CRASH_SEED 20240611u
#define KEY        "/omlop/crash/counter"

typedef struct ack {
    int64_t rev;
    long n;
} ack;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static store *open_dir(const char *dir, omlop_err *err)
{
    store_options opts;
    store *s = NULL;

    store_options_default(&opts);
    opts.data_dir = dir;
    opts.compact_interval_s = 0;
    return store_open("sqlite", &opts, &s, err) == 0 ? s : NULL;
}

/* The child: write until killed (or 20 s pass), one line per acknowledged write. */
static void child_main(const char *dir, int out)
{
    omlop_err err = OMLOP_ERR_INIT;
    store *s;
    store_kv kv;
    long n = 0;

    alarm(20);
    s = open_dir(dir, &err);
    if (!s)
        _exit(3);
    if (store_get(s, KEY, &kv, &err) == 0) {
        n = strtol(kv.value + 5, NULL, 10);
        store_kv_release(&kv);
    }
    for (;;) {
        char val[48], line[64];
        int64_t rev;
        int len, rc;

        n++;
        snprintf(val, sizeof(val), "{\"n\":%ld}", n);
        rc = n == 1 ? store_create(s, KEY, val, strlen(val), &rev, &err)
                    : store_update(s, KEY, val, strlen(val), 0, &rev, &err);
        if (rc != 0)
            _exit(4);
        /* One write() below PIPE_BUF is atomic: the parent sees whole lines only. */
        len = snprintf(line, sizeof(line), "%" PRId64 " %ld\n", rev, n);
        if (write(out, line, (size_t)len) != len)
            _exit(5);
    }
}

static size_t read_acks(int fd, ack *acks, size_t max)
{
    strbuf sb = STRBUF_INIT;
    size_t n = 0;
    char *p;

    assert_int_equal(strbuf_read_fd(&sb, fd, 16u << 20, NULL), 0);
    for (p = sb.buf; p && *p && n < max;) {
        char *nl = strchr(p, '\n');

        if (!nl)
            break;
        assert_int_equal(sscanf(p, "%" SCNd64 " %ld", &acks[n].rev, &acks[n].n), 2);
        n++;
        p = nl + 1;
    }
    strbuf_release(&sb);
    return n;
}

static void check_raw_database(const char *dir)
{
    char path[128];
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t count, lo, hi, rev;

    snprintf(path, sizeof(path), "%s/omlop.db", dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*), min(rev), max(rev), "
                                        "(SELECT value FROM meta WHERE name = 'revision') "
                                        "FROM history",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    count = sqlite3_column_int64(st, 0);
    lo = sqlite3_column_int64(st, 1);
    hi = sqlite3_column_int64(st, 2);
    rev = sqlite3_column_int64(st, 3);
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (count > 0) {
        assert_int_equal(lo, 2); /* the first write of an empty store */
        assert_int_equal(count, hi - lo + 1);
        assert_int_equal(hi, rev);
    }
}

/* Every acknowledged write of the round is in history with its value, in a gap-free run. */
static void check_acks(store *s, const ack *acks, size_t n)
{
    omlop_err err = OMLOP_ERR_INIT;
    store_watch *w;
    int64_t cur;
    size_t k = 0;

    assert_int_equal(store_current_revision(s, &cur, &err), 0);
    assert_true(cur >= acks[n - 1].rev);
    assert_int_equal(store_watch_open(s, "/omlop/crash/", acks[0].rev - 1, &w, &err), 0);
    for (int64_t want = acks[0].rev; want <= acks[n - 1].rev; want++) {
        store_event ev;

        if (store_watch_next(w, &ev, 2000, &err) != 0)
            fail_msg("revision %" PRId64 " (acknowledged up to %" PRId64 "): %s", want,
                     acks[n - 1].rev, err.msg);
        assert_int_equal(ev.revision, want);
        if (k < n && acks[k].rev == want) {
            char val[48];

            snprintf(val, sizeof(val), "{\"n\":%ld}", acks[k].n);
            assert_string_equal(ev.kv.value, val);
            k++;
        }
        store_event_release(&ev);
    }
    assert_int_equal(k, n);
    store_watch_close(w);
}

static void test_sqlite_survives_sigkill_without_losing_acknowledged_writes(void **state)
{
    char dir[] = "/tmp/omlop-crash-XXXXXX";
    unsigned seed = CRASH_SEED;
    ack *acks = calloc(200000, sizeof(*acks));
    size_t total = 0;

    (void)state;
    assert_non_null(acks);
    assert_non_null(mkdtemp(dir));
    printf("crash test: seed %u, %d rounds, dir %s\n", seed, ROUNDS, dir);
    for (int round = 0; round < ROUNDS; round++) {
        omlop_err err = OMLOP_ERR_INIT;
        int fds[2], status;
        unsigned delay_ms = 20 + (unsigned)rand_r(&seed) % 230;
        size_t n;
        pid_t pid;
        store *s;
        store_kv kv;

        assert_int_equal(pipe(fds), 0);
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(dir, fds[1]);
        }
        close(fds[1]);
        usleep(delay_ms * 1000);
        kill(pid, SIGKILL);
        n = read_acks(fds[0], acks, 200000);
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        total += n;
        s = open_dir(dir, &err);
        if (!s)
            fail_msg("round %d: reopen after SIGKILL failed: %s", round, err.msg);
        if (n > 0) {
            check_acks(s, acks, n);
            assert_int_equal(store_get(s, KEY, &kv, &err), 0);
            assert_true(strtol(kv.value + 5, NULL, 10) >= acks[n - 1].n);
            store_kv_release(&kv);
        }
        store_close(s);
        check_raw_database(dir);
    }
    printf("crash test: %zu acknowledged writes checked\n", total);
    assert_true(total > 0);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(acks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite_survives_sigkill_without_losing_acknowledged_writes),
    };

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
