/*
 * store_sqlite_db: the sqlite store's database handling: creating the data
 * dir (0700) and the file (0600), the one-process lock, WAL with
 * synchronous=FULL, the integrity check that refuses a damaged file at start,
 * the schema, prepared statements and the pool of reader connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "store/store_sqlite.h"

static const char *const sq_sql[SQ_NSTMT] = {
    [ST_GET] = "SELECT value, create_rev, mod_rev, version FROM kv WHERE key = ?1",
    [ST_META] = "SELECT value FROM meta WHERE name = ?1",
    [ST_LIST] = "SELECT key, value, create_rev, mod_rev, version FROM kv "
                "WHERE key > ?1 AND key >= ?2 ORDER BY key",
    [ST_HIST] = "SELECT rev, key, type, value, create_rev, version FROM history "
                "WHERE rev > ?1 AND rev <= ?2 ORDER BY rev LIMIT ?3",
    [ST_BEGIN] = "BEGIN",
    [ST_BEGIN_IMM] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_PUT_KV] = "INSERT OR REPLACE INTO kv(key, value, create_rev, mod_rev, version) "
                  "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_DEL_KV] = "DELETE FROM kv WHERE key = ?1",
    [ST_PUT_HIST] = "INSERT INTO history(rev, key, type, value, create_rev, version) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_SET_META] = "UPDATE meta SET value = ?2 WHERE name = ?1",
    [ST_COMPACT] = "DELETE FROM history WHERE rev <= ?1",
};

static const char sq_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL) "
    "WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value BLOB NOT NULL, "
    "create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, version INTEGER NOT NULL) "
    "WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS history(rev INTEGER PRIMARY KEY, key TEXT NOT NULL, "
    "type INTEGER NOT NULL, value BLOB, create_rev INTEGER NOT NULL, version INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta(name, value) VALUES ('revision', 1), ('compacted', 0), "
    "('schema', 1);";

int sq_fail(sq_be *b, sqlite3 *db, int code, const char *what, omlop_err *err)
{
    return omlop_err_set(err, code, "sqlite store %s: %s: %s", b->path, what,
                         db ? sqlite3_errmsg(db) : "out of memory");
}

static void sq_conn_close(sq_conn *c)
{
    if (!c->db)
        return;
    for (int i = 0; i < SQ_NSTMT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    memset(c, 0, sizeof(*c));
}

static int conn_exec(sq_be *b, sq_conn *c, const char *sql, omlop_err *err)
{
    char *msg = NULL;

    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = omlop_err_set(err, OMLOP_EIO, "sqlite store %s: '%.60s': %s", b->path, sql,
                               msg ? msg : sqlite3_errmsg(c->db));

        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

static int conn_open(sq_be *b, sq_conn *c, int writer, omlop_err *err)
{
    int rc;

    memset(c, 0, sizeof(*c));
    if (sqlite3_open_v2(b->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = sq_fail(b, c->db, OMLOP_EIO, "cannot open the database", err);
        goto fail;
    }
    sqlite3_busy_timeout(c->db, SQ_BUSY_MS);
    if (!writer && (rc = conn_exec(b, c, "PRAGMA query_only=1", err)) < 0)
        goto fail;
    for (int i = 0; i < SQ_NSTMT; i++) {
        if (sqlite3_prepare_v3(c->db, sq_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL) !=
            SQLITE_OK) {
            rc = sq_fail(b, c->db, OMLOP_EIO, "cannot prepare a statement", err);
            goto fail;
        }
    }
    return 0;
fail:
    sq_conn_close(c);
    return rc;
}

sqlite3_stmt *sq_stmt(sq_conn *c, int which)
{
    sqlite3_reset(c->st[which]);
    sqlite3_clear_bindings(c->st[which]);
    return c->st[which];
}

/* Run a statement that returns no rows. */
int sq_step_done(sq_be *b, sq_conn *c, sqlite3_stmt *st, const char *what, omlop_err *err)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(b, c->db, OMLOP_EIO, what, err);
    return 0;
}

int sq_read_meta(sq_be *b, sq_conn *c, const char *name, int64_t *out, omlop_err *err)
{
    sqlite3_stmt *st = sq_stmt(c, ST_META);
    int rc;

    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? omlop_err_set(err, OMLOP_EIO,
                                                 "sqlite store %s: meta row '%s' is missing; "
                                                 "the database is damaged",
                                                 b->path, name)
                                 : sq_fail(b, c->db, OMLOP_EIO, "cannot read meta", err);
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

/* --- reader pool --------------------------------------------------------------------------- */

int sq_reader_get(sq_be *b, sq_conn **out, omlop_err *err)
{
    sq_conn *c = NULL;
    int rc = 0;

    pthread_mutex_lock(&b->pmu);
    while (b->n_idle == 0 && b->n_open == SQ_MAX_READERS)
        pthread_cond_wait(&b->pcond, &b->pmu);
    if (b->n_idle > 0) {
        c = b->idle[--b->n_idle];
    } else {
        c = xcalloc(1, sizeof(*c));
        rc = conn_open(b, c, 0, err);
        if (rc < 0) {
            free(c);
            c = NULL;
        } else {
            b->n_open++;
        }
    }
    pthread_mutex_unlock(&b->pmu);
    *out = c;
    return rc;
}

void sq_reader_put(sq_be *b, sq_conn *c)
{
    pthread_mutex_lock(&b->pmu);
    b->idle[b->n_idle++] = c;
    pthread_cond_signal(&b->pcond);
    pthread_mutex_unlock(&b->pmu);
}

void sq_row_to_kv(sqlite3_stmt *st, int col_key, int col_value, store_kv *kv)
{
    const void *v = sqlite3_column_blob(st, col_value);
    size_t n = (size_t)sqlite3_column_bytes(st, col_value);

    if (col_key >= 0)
        kv->key = xstrdup((const char *)sqlite3_column_text(st, col_key));
    if (sqlite3_column_type(st, col_value) != SQLITE_NULL) {
        kv->value = xmalloc(n + 1);
        if (n)
            memcpy(kv->value, v, n);
        kv->value[n] = '\0';
        kv->value_len = n;
    }
    if (col_key >= 0 && !kv->key)
        abort();
}

/* --- reads --------------------------------------------------------------------------------- */

static int make_dir(const char *dir, omlop_err *err)
{
    char *p = xstrdup(dir);
    struct stat st;
    int rc = 0;

    for (char *s = p + 1;; s++) {
        char c = *s;

        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
            rc = omlop_err_set(err, OMLOP_EIO, "sqlite store: cannot create directory %s: %s", p,
                               strerror(errno));
            goto out;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        rc = omlop_err_set(err, OMLOP_EINVAL, "sqlite store: data dir %s is not a directory", dir);
out:
    free(p);
    return rc;
}

static int lock_dir(sq_be *b, omlop_err *err)
{
    strbuf path = STRBUF_INIT;
    int rc = 0;

    strbuf_addf(&path, "%s/omlop.lock", b->dir);
    b->lock_fd = open(path.buf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (b->lock_fd < 0)
        rc = omlop_err_set(err, OMLOP_EIO, "sqlite store: cannot open %s: %s", path.buf,
                           strerror(errno));
    else if (flock(b->lock_fd, LOCK_EX | LOCK_NB) < 0)
        rc = omlop_err_set(err, OMLOP_EUNAVAIL,
                           "sqlite store: data dir %s is in use by another omlopd (lock %s held)",
                           b->dir, path.buf);
    strbuf_release(&path);
    return rc;
}

static int create_db_file(sq_be *b, omlop_err *err)
{
    /* SQLite would create it 0644; the -wal and -shm files copy the db file's mode. */
    int fd = open(b->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0)
        return omlop_err_set(err, OMLOP_EIO, "sqlite store: cannot create %s: %s", b->path,
                             strerror(errno));
    if (fchmod(fd, 0600) < 0)
        log_warn("store=sqlite path=%s cannot set mode 0600: %s", b->path, strerror(errno));
    close(fd);
    return 0;
}

static int check_integrity(sq_be *b, omlop_err *err)
{
    sqlite3_stmt *st = NULL;
    strbuf problems = STRBUF_INIT;
    int rc = 0, step, shown = 0;

    if (sqlite3_prepare_v2(b->w.db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
        return sq_fail(b, b->w.db, OMLOP_EIO,
                       "integrity check could not run (move the damaged file aside and restore "
                       "a backup)",
                       err);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);

        /* A row may hold many problems, one per line: keep the first few, count the rest. */
        for (const char *line = text; line && *line && strcmp(text, "ok") != 0;) {
            size_t n = strcspn(line, "\n");

            if (n > 0 && strncmp(line, "*** in database", 15) != 0) {
                if (shown < 3)
                    strbuf_addf(&problems, "%s%.*s", shown ? "; " : "", (int)(n > 120 ? 120 : n),
                                line);
                shown++;
            }
            line += n + (line[n] == '\n');
        }
    }
    if (shown > 3)
        strbuf_addf(&problems, " (and %d more)", shown - 3);
    if (step != SQLITE_DONE)
        rc = sq_fail(b, b->w.db, OMLOP_EIO,
                     "integrity check failed (move the damaged file aside and restore a backup)",
                     err);
    else if (problems.len)
        rc = omlop_err_set(err, OMLOP_EIO,
                           "sqlite store %s: integrity check failed: %s; refusing to start "
                           "(move the damaged file aside and restore a backup)",
                           b->path, problems.buf);
    sqlite3_finalize(st);
    strbuf_release(&problems);
    return rc;
}

static int open_writer(sq_be *b, omlop_err *err)
{
    sqlite3_stmt *st = NULL;
    int64_t schema;
    int rc;

    if (sqlite3_open_v2(b->path, &b->w.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        return sq_fail(b, b->w.db, OMLOP_EIO, "cannot open the database", err);
    sqlite3_busy_timeout(b->w.db, SQ_BUSY_MS);
    /* journal_mode is the first read of the file: a foreign or damaged file fails here. */
    if (sqlite3_prepare_v2(b->w.db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = sq_fail(b, b->w.db, OMLOP_EIO,
                     "not a usable database (move the damaged file aside and restore a backup)",
                     err);
        sqlite3_finalize(st);
        return rc;
    }
    if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
        sqlite3_finalize(st);
        return omlop_err_set(err, OMLOP_EIO, "sqlite store %s: cannot switch to WAL mode", b->path);
    }
    sqlite3_finalize(st);
    if ((rc = conn_exec(b, &b->w, "PRAGMA synchronous=FULL", err)) < 0 ||
        (rc = conn_exec(b, &b->w, "PRAGMA journal_size_limit=67108864", err)) < 0 ||
        (rc = check_integrity(b, err)) < 0 || (rc = conn_exec(b, &b->w, sq_schema_sql, err)) < 0)
        return rc;
    for (int i = 0; i < SQ_NSTMT; i++) {
        if (sqlite3_prepare_v3(b->w.db, sq_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &b->w.st[i],
                               NULL) != SQLITE_OK)
            return sq_fail(b, b->w.db, OMLOP_EIO, "cannot prepare a statement", err);
    }
    if ((rc = sq_read_meta(b, &b->w, "schema", &schema, err)) < 0 ||
        (rc = sq_read_meta(b, &b->w, "revision", &b->rev, err)) < 0)
        return rc;
    if (schema > SQ_SCHEMA)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "sqlite store %s: schema version %" PRId64
                             " is newer than this omlopd understands (%d); upgrade omlopd",
                             b->path, schema, SQ_SCHEMA);
    {
        int64_t done;

        if ((rc = sq_read_meta(b, &b->w, "compacted", &done, err)) < 0)
            return rc;
        atomic_store(&b->compacted, done);
    }
    atomic_store(&b->rev_pub, b->rev);
    return 0;
}

void sq_db_close(sq_be *b)
{
    for (size_t i = 0; i < b->n_idle; i++) {
        sq_conn_close(b->idle[i]);
        free(b->idle[i]);
    }
    sq_conn_close(&b->w);
    if (b->lock_fd >= 0)
        close(b->lock_fd);
    pthread_mutex_destroy(&b->wmu);
    pthread_mutex_destroy(&b->pmu);
    pthread_cond_destroy(&b->pcond);
    free(b->dir);
    free(b->path);
}

int sq_db_open(sq_be *b, const char *dir, omlop_err *err)
{
    strbuf path = STRBUF_INIT;
    int rc;

    b->lock_fd = -1;
    pthread_mutex_init(&b->wmu, NULL);
    pthread_mutex_init(&b->pmu, NULL);
    pthread_cond_init(&b->pcond, NULL);
    b->dir = xstrdup(dir);
    strbuf_addf(&path, "%s/omlop.db", dir);
    b->path = strbuf_detach(&path, NULL);
    if ((rc = make_dir(dir, err)) < 0 || (rc = lock_dir(b, err)) < 0 ||
        (rc = create_db_file(b, err)) < 0 || (rc = open_writer(b, err)) < 0)
        return rc;
    return 0;
}
