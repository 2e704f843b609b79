/*
 * store_sqlite: internals shared by store_sqlite.c (the store operations) and
 * store_sqlite_db.c (opening the database, connections, the reader pool).
 * Not for use outside those two files.
 */
#ifndef OMLOP_STORE_SQLITE_H
#define OMLOP_STORE_SQLITE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>

#include "store/store_backend.h"

#define SQ_SCHEMA      1
#define SQ_MAX_READERS 8
#define SQ_REPLAY_PAGE 256
#define SQ_BUSY_MS     5000
enum {
    ST_GET,
    ST_META,
    ST_LIST,
    ST_HIST,
    ST_BEGIN,
    ST_BEGIN_IMM,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PUT_KV,
    ST_DEL_KV,
    ST_PUT_HIST,
    ST_SET_META,
    ST_COMPACT,
    SQ_NSTMT
};
typedef struct sq_conn {
    sqlite3 *db;
    sqlite3_stmt *st[SQ_NSTMT];
} sq_conn;

typedef struct sq_be {
    char *dir;
    char *path;
    int lock_fd;

    pthread_mutex_t wmu; /* serializes writers; protects w and rev */
    sq_conn w;
    int64_t rev;
    store_hub *hub;            /* set by feed_start; writers publish under wmu */
    _Atomic int64_t rev_pub;   /* rev, readable without wmu */
    _Atomic int64_t compacted; /* history at or before this is gone */

    pthread_mutex_t pmu; /* protects the reader pool */
    pthread_cond_t pcond;
    sq_conn *idle[SQ_MAX_READERS];
    size_t n_idle, n_open;
} sq_be;

/* Fill dir, path and the connections of a zeroed b; sq_db_close undoes it, also on failure. */
int sq_db_open(sq_be *b, const char *dir, omlop_err *err);
void sq_db_close(sq_be *b);

/* err = "sqlite store PATH: what: sqlite's message"; returns code. */
int sq_fail(sq_be *b, sqlite3 *db, int code, const char *what, omlop_err *err);

/* Prepared statement which of c, reset and unbound. */
sqlite3_stmt *sq_stmt(sq_conn *c, int which);

/* Step a statement that returns no rows, then reset it. */
int sq_step_done(sq_be *b, sq_conn *c, sqlite3_stmt *st, const char *what, omlop_err *err);

/* One meta value ("revision", "compacted", "schema"). */
int sq_read_meta(sq_be *b, sq_conn *c, const char *name, int64_t *out, omlop_err *err);

/* Borrow / return a reader connection (opened on demand, at most SQ_MAX_READERS). */
int sq_reader_get(sq_be *b, sq_conn **out, omlop_err *err);
void sq_reader_put(sq_be *b, sq_conn *c);

/* Copy a row's key (col_key >= 0) and value columns into kv. */
void sq_row_to_kv(sqlite3_stmt *st, int col_key, int col_value, store_kv *kv);

#endif
