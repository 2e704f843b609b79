/*
 * store_sqlite: the embedded backend, one SQLite database in the data dir.
 *
 * Durability: WAL with synchronous=FULL, so a write is on disk (fsynced) when
 * store_create/update/delete returns. Writers are serialized by wmu and use
 * BEGIN IMMEDIATE; each write bumps the one global revision by exactly one
 * (failed compare-and-swaps write nothing), so revisions are contiguous.
 * Readers use a small pool of their own connections: WAL gives each read
 * transaction a snapshot while the writer commits.
 *
 * Tables: meta(name, value) holds 'revision', 'compacted' and 'schema';
 * kv(key, value, create_rev, mod_rev, version) is the current state;
 * history(rev, key, type, value, create_rev, version) is one row per change
 * (for DELETED the value before deletion) for watch replay, pruned by
 * compaction up to and including the compaction point.
 *
 * One process per data dir: an flock on omlop.lock refuses a second one.
 * Opening, connections and the reader pool are in store_sqlite_db.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store_sqlite.h"

static int sq_get(void *be, const char *key, store_kv *out, omlop_err *err)
{
    sq_be *b = be;
    sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = sq_reader_get(b, &c, err)) < 0)
        return rc;
    st = sq_stmt(c, ST_GET);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        sq_row_to_kv(st, -1, 0, out);
        out->key = xstrdup(key);
        out->create_revision = sqlite3_column_int64(st, 1);
        out->mod_revision = sqlite3_column_int64(st, 2);
        out->version = sqlite3_column_int64(st, 3);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = omlop_err_set(err, OMLOP_ENOTFOUND, "key '%s' not found", key);
    } else {
        rc = sq_fail(b, c->db, OMLOP_EIO, "get failed", err);
    }
    sqlite3_reset(st);
    sq_reader_put(b, c);
    return rc;
}

/* The keys from one read transaction: one snapshot, and the WAL read lock taken once. */
static int sq_get_many(void *be, const char *const *keys, size_t n, store_kv *out, omlop_err *err)
{
    sq_be *b = be;
    sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = sq_reader_get(b, &c, err)) < 0)
        return rc;
    if ((rc = sq_step_done(b, c, sq_stmt(c, ST_BEGIN), "begin", err)) < 0)
        goto out_put;
    st = sq_stmt(c, ST_GET);
    for (size_t i = 0; i < n && rc == 0; i++) {
        int step;

        sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
        step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            sq_row_to_kv(st, -1, 0, &out[i]);
            out[i].key = xstrdup(keys[i]);
            out[i].create_revision = sqlite3_column_int64(st, 1);
            out[i].mod_revision = sqlite3_column_int64(st, 2);
            out[i].version = sqlite3_column_int64(st, 3);
        } else if (step != SQLITE_DONE) {
            rc = sq_fail(b, c->db, OMLOP_EIO, "get failed", err);
        }
        sqlite3_reset(st);
    }
    sq_step_done(b, c, sq_stmt(c, ST_COMMIT), "end read", NULL);
out_put:
    sq_reader_put(b, c);
    return rc;
}

static int sq_list(void *be, const store_list_opts *opts, store_list_result *out, omlop_err *err)
{
    sq_be *b = be;
    size_t plen = strlen(opts->prefix);
    sqlite3_stmt *st;
    sq_conn *c;
    int rc, step;

    if ((rc = sq_reader_get(b, &c, err)) < 0)
        return rc;
    if ((rc = sq_step_done(b, c, sq_stmt(c, ST_BEGIN), "begin", err)) < 0)
        goto out_put;
    if ((rc = sq_read_meta(b, c, "revision", &out->revision, err)) < 0)
        goto out;
    st = sq_stmt(c, ST_LIST);
    sqlite3_bind_text(st, 1, opts->start_after ? opts->start_after : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, opts->prefix, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        store_kv kv;

        if (strncmp((const char *)sqlite3_column_text(st, 0), opts->prefix, plen) != 0)
            break; /* sorted: every later key is past the prefix */
        memset(&kv, 0, sizeof(kv));
        sq_row_to_kv(st, 0, 1, &kv);
        kv.create_revision = sqlite3_column_int64(st, 2);
        kv.mod_revision = sqlite3_column_int64(st, 3);
        kv.version = sqlite3_column_int64(st, 4);
        if (opts->filter && !opts->filter(&kv, opts->filter_ctx)) {
            store_kv_release(&kv);
            continue;
        }
        if (opts->limit && out->items.n == opts->limit) {
            out->has_more = 1;
            store_kv_release(&kv);
            break;
        }
        store_kv_list_push(&out->items, &kv);
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = sq_fail(b, c->db, OMLOP_EIO, "list failed", err);
    sqlite3_reset(st);
out:
    sq_step_done(b, c, sq_stmt(c, ST_COMMIT), "end read", NULL);
out_put:
    sq_reader_put(b, c);
    return rc;
}

static int sq_current_revision(void *be, int64_t *revision, omlop_err *err)
{
    sq_be *b = be;

    (void)err;
    *revision = atomic_load(&b->rev_pub);
    return 0;
}

static int sq_compacted_revision(void *be, int64_t *revision, omlop_err *err)
{
    sq_be *b = be;

    (void)err;
    *revision = atomic_load(&b->compacted);
    return 0;
}

static int gone(int64_t after, int64_t compacted, omlop_err *err)
{
    return omlop_err_set(err, OMLOP_EGONE,
                         "revision %" PRId64 " was compacted (history is kept after %" PRId64
                         "); re-list and watch again",
                         after, compacted);
}

static int sq_watch_check(void *be, int64_t after, omlop_err *err)
{
    sq_be *b = be;
    int64_t done = atomic_load(&b->compacted);

    return after < done ? gone(after, done, err) : 0;
}

/* --- writes -------------------------------------------------------------------------------- */

enum { OP_CREATE, OP_UPDATE, OP_DELETE };

typedef struct sq_prev {
    int exists;
    store_kv kv;
} sq_prev;

static int read_prev(sq_be *b, const char *key, sq_prev *p, omlop_err *err)
{
    sqlite3_stmt *st = sq_stmt(&b->w, ST_GET);
    int rc;

    memset(p, 0, sizeof(*p));
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        p->exists = 1;
        sq_row_to_kv(st, -1, 0, &p->kv);
        p->kv.create_revision = sqlite3_column_int64(st, 1);
        p->kv.mod_revision = sqlite3_column_int64(st, 2);
        p->kv.version = sqlite3_column_int64(st, 3);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sq_fail(b, b->w.db, OMLOP_EIO, "read failed", err);
}

static int check_precondition(int op, const char *key, int64_t expect, const sq_prev *p,
                              omlop_err *err)
{
    if (op == OP_CREATE) {
        if (p->exists)
            return omlop_err_set(err, OMLOP_EEXIST,
                                 "key '%s' already exists (resourceVersion %" PRId64 ")", key,
                                 p->kv.mod_revision);
        return 0;
    }
    if (!p->exists)
        return omlop_err_set(err, OMLOP_ENOTFOUND, "key '%s' not found", key);
    if (expect && p->kv.mod_revision != expect)
        return omlop_err_set(err, OMLOP_ECONFLICT,
                             "key '%s' was modified: resourceVersion is %" PRId64
                             ", expected %" PRId64 "; re-read and retry",
                             key, p->kv.mod_revision, expect);
    return 0;
}

static void bind_value(sqlite3_stmt *st, int col, const char *value, size_t len)
{
    if (value)
        sqlite3_bind_blob64(st, col, len ? value : "", len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

/* The statements of one write inside the open transaction. */
static int write_rows(sq_be *b, int op, const char *key, const char *value, size_t len, sq_prev *p,
                      int64_t rev, store_event *ev, omlop_err *err)
{
    sqlite3_stmt *st;
    int rc;

    memset(ev, 0, sizeof(*ev));
    ev->revision = rev;
    ev->kv.key = xstrdup(key);
    ev->kv.mod_revision = rev;
    if (op == OP_DELETE) {
        ev->type = STORE_EVENT_DELETED;
        ev->kv.create_revision = p->kv.create_revision;
        ev->kv.version = p->kv.version;
        ev->kv.value = p->kv.value; /* moved: the last value, for history and the event */
        ev->kv.value_len = p->kv.value_len;
        p->kv.value = NULL;
        st = sq_stmt(&b->w, ST_DEL_KV);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    } else {
        ev->type = p->exists ? STORE_EVENT_MODIFIED : STORE_EVENT_ADDED;
        ev->kv.create_revision = p->exists ? p->kv.create_revision : rev;
        ev->kv.version = p->exists ? p->kv.version + 1 : 1;
        ev->kv.value = xmalloc(len + 1);
        memcpy(ev->kv.value, value, len);
        ev->kv.value[len] = '\0';
        ev->kv.value_len = len;
        st = sq_stmt(&b->w, ST_PUT_KV);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        bind_value(st, 2, value, len);
        sqlite3_bind_int64(st, 3, ev->kv.create_revision);
        sqlite3_bind_int64(st, 4, rev);
        sqlite3_bind_int64(st, 5, ev->kv.version);
    }
    if ((rc = sq_step_done(b, &b->w, st, "write kv", err)) < 0)
        return rc;
    st = sq_stmt(&b->w, ST_PUT_HIST);
    sqlite3_bind_int64(st, 1, rev);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)ev->type);
    bind_value(st, 4, ev->kv.value, ev->kv.value_len);
    sqlite3_bind_int64(st, 5, ev->kv.create_revision);
    sqlite3_bind_int64(st, 6, ev->kv.version);
    if ((rc = sq_step_done(b, &b->w, st, "write history", err)) < 0)
        return rc;
    st = sq_stmt(&b->w, ST_SET_META);
    sqlite3_bind_text(st, 1, "revision", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, rev);
    return sq_step_done(b, &b->w, st, "write revision", err);
}

static int sq_write(sq_be *b, int op, const char *key, const char *value, size_t len,
                    int64_t expect, int64_t *revision, omlop_err *err)
{
    store_event ev;
    sq_prev prev;
    int rc;

    memset(&ev, 0, sizeof(ev));
    memset(&prev, 0, sizeof(prev));
    pthread_mutex_lock(&b->wmu);
    if ((rc = sq_step_done(b, &b->w, sq_stmt(&b->w, ST_BEGIN_IMM), "begin write", err)) < 0)
        goto out;
    if ((rc = read_prev(b, key, &prev, err)) < 0 ||
        (rc = check_precondition(op, key, expect, &prev, err)) < 0 ||
        (rc = write_rows(b, op, key, value, len, &prev, b->rev + 1, &ev, err)) < 0 ||
        (rc = sq_step_done(b, &b->w, sq_stmt(&b->w, ST_COMMIT), "commit", err)) < 0) {
        sq_step_done(b, &b->w, sq_stmt(&b->w, ST_ROLLBACK), "rollback", NULL);
        goto out;
    }
    b->rev++;
    atomic_store(&b->rev_pub, b->rev);
    *revision = b->rev;
    /* Under wmu, so the hub sees changes in revision order. */
    if (b->hub)
        store_hub_publish(b->hub, &ev, 1);
out:
    pthread_mutex_unlock(&b->wmu);
    store_event_release(&ev);
    store_kv_release(&prev.kv);
    return rc;
}

static int sq_create(void *be, const char *key, const char *value, size_t len, int64_t *revision,
                     omlop_err *err)
{
    return sq_write(be, OP_CREATE, key, value, len, 0, revision, err);
}

static int sq_update(void *be, const char *key, const char *value, size_t len, int64_t expect,
                     int64_t *revision, omlop_err *err)
{
    return sq_write(be, OP_UPDATE, key, value, len, expect, revision, err);
}

static int sq_delete(void *be, const char *key, int64_t expect, int64_t *revision, omlop_err *err)
{
    return sq_write(be, OP_DELETE, key, NULL, 0, expect, revision, err);
}

static int sq_compact(void *be, int64_t revision, omlop_err *err)
{
    sq_be *b = be;
    sqlite3_stmt *st;
    int rc = 0;

    pthread_mutex_lock(&b->wmu);
    if (revision > b->rev) {
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "cannot compact at revision %" PRId64
                           ": the store is only at revision %" PRId64,
                           revision, b->rev);
        goto out;
    }
    if (revision <= atomic_load(&b->compacted))
        goto out;
    if ((rc = sq_step_done(b, &b->w, sq_stmt(&b->w, ST_BEGIN_IMM), "begin compaction", err)) < 0)
        goto out;
    st = sq_stmt(&b->w, ST_COMPACT);
    sqlite3_bind_int64(st, 1, revision);
    if ((rc = sq_step_done(b, &b->w, st, "compact history", err)) == 0) {
        st = sq_stmt(&b->w, ST_SET_META);
        sqlite3_bind_text(st, 1, "compacted", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, revision);
        rc = sq_step_done(b, &b->w, st, "write compaction point", err);
    }
    if (rc == 0)
        rc = sq_step_done(b, &b->w, sq_stmt(&b->w, ST_COMMIT), "commit compaction", err);
    if (rc < 0) {
        sq_step_done(b, &b->w, sq_stmt(&b->w, ST_ROLLBACK), "rollback", NULL);
        goto out;
    }
    atomic_store(&b->compacted, revision);
out:
    pthread_mutex_unlock(&b->wmu);
    return rc;
}

/* --- feed and replay ----------------------------------------------------------------------- */

static int sq_feed_start(void *be, store_hub *hub, omlop_err *err)
{
    sq_be *b = be;

    (void)err;
    pthread_mutex_lock(&b->wmu);
    store_hub_set_position(hub, b->rev);
    b->hub = hub;
    pthread_mutex_unlock(&b->wmu);
    return 0;
}

static void sq_feed_stop(void *be)
{
    sq_be *b = be;

    pthread_mutex_lock(&b->wmu);
    b->hub = NULL;
    pthread_mutex_unlock(&b->wmu);
}

typedef struct sq_replay {
    store_replay base;
    sq_be *b;
    char *prefix;
    size_t prefix_len;
    int64_t pos;  /* every history row up to here was examined */
    int64_t upto; /* the replay ends here */
    store_event page[SQ_REPLAY_PAGE];
    size_t n, i;
} sq_replay;

/* Read the next page of matching history rows after r->pos. */
static int replay_fill(sq_replay *r, omlop_err *err)
{
    sq_be *b = r->b;
    sq_conn *c;
    sqlite3_stmt *st;
    int64_t done;
    int rc, step, rows;

    r->n = r->i = 0;
    if ((rc = sq_reader_get(b, &c, err)) < 0)
        return rc;
    if ((rc = sq_step_done(b, c, sq_stmt(c, ST_BEGIN), "begin", err)) < 0)
        goto out_put;
    while (r->n == 0 && r->pos < r->upto) {
        if ((rc = sq_read_meta(b, c, "compacted", &done, err)) < 0)
            goto out;
        if (r->pos < done) {
            rc = gone(r->pos, done, err);
            goto out;
        }
        st = sq_stmt(c, ST_HIST);
        sqlite3_bind_int64(st, 1, r->pos);
        sqlite3_bind_int64(st, 2, r->upto);
        sqlite3_bind_int(st, 3, SQ_REPLAY_PAGE);
        rows = 0;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            const char *key = (const char *)sqlite3_column_text(st, 1);

            rows++;
            r->pos = sqlite3_column_int64(st, 0);
            if (strncmp(key, r->prefix, r->prefix_len) != 0)
                continue;
            store_event *ev = &r->page[r->n++];

            memset(ev, 0, sizeof(*ev));
            ev->revision = r->pos;
            ev->type = (store_event_type)sqlite3_column_int(st, 2);
            sq_row_to_kv(st, 1, 3, &ev->kv);
            ev->kv.create_revision = sqlite3_column_int64(st, 4);
            ev->kv.version = sqlite3_column_int64(st, 5);
            ev->kv.mod_revision = r->pos;
        }
        sqlite3_reset(st);
        if (step != SQLITE_DONE) {
            rc = sq_fail(b, c->db, OMLOP_EIO, "replay failed", err);
            goto out;
        }
        if (rows == 0)
            r->pos = r->upto; /* the rest of the range was never written to this prefix */
    }
out:
    sq_step_done(b, c, sq_stmt(c, ST_COMMIT), "end read", NULL);
out_put:
    sq_reader_put(b, c);
    return rc;
}

static int sq_replay_next(store_replay *base, store_event *ev, omlop_err *err)
{
    sq_replay *r = (sq_replay *)base;
    int rc;

    if (r->i == r->n) {
        if (r->pos >= r->upto)
            return STORE_REPLAY_DONE;
        if ((rc = replay_fill(r, err)) < 0)
            return rc;
        if (r->n == 0)
            return STORE_REPLAY_DONE;
    }
    *ev = r->page[r->i];
    memset(&r->page[r->i], 0, sizeof(r->page[r->i]));
    r->i++;
    return 0;
}

static int sq_replay_ready(store_replay *base)
{
    (void)base;
    return 1; /* the history is on disk: next never waits */
}

static void sq_replay_close(store_replay *base)
{
    sq_replay *r = (sq_replay *)base;

    for (size_t i = r->i; i < r->n; i++)
        store_event_release(&r->page[i]);
    free(r->prefix);
    free(r);
}

static const store_replay_ops sq_replay_ops = {sq_replay_next, sq_replay_ready, sq_replay_close};

static int sq_replay_open(void *be, const char *prefix, int64_t after, int64_t upto, int notify_fd,
                          store_replay **out, omlop_err *err)
{
    sq_replay *r = xcalloc(1, sizeof(*r));
    int rc;

    (void)notify_fd;
    r->base.ops = &sq_replay_ops;
    r->b = be;
    r->prefix = xstrdup(prefix);
    r->prefix_len = strlen(prefix);
    r->pos = after;
    r->upto = upto;
    /* The first page now, so a compacted start fails the open rather than the first next. */
    if ((rc = replay_fill(r, err)) < 0) {
        sq_replay_close(&r->base);
        return rc;
    }
    *out = &r->base;
    return 0;
}

/* --- open / close -------------------------------------------------------------------------- */

static void sq_close(void *be)
{
    sq_be *b = be;

    if (!b)
        return;
    sq_db_close(b);
    free(b);
}

static const store_backend_ops sq_ops = {
    .name = "sqlite",
    .get = sq_get,
    .get_many = sq_get_many,
    .list = sq_list,
    .create = sq_create,
    .update = sq_update,
    .del = sq_delete,
    .current_revision = sq_current_revision,
    .compact = sq_compact,
    .compacted_revision = sq_compacted_revision,
    .watch_check = sq_watch_check,
    .feed_start = sq_feed_start,
    .feed_stop = sq_feed_stop,
    .replay_open = sq_replay_open,
    .close = sq_close,
};

int store_sqlite_open(const char *dir, const store_options *opts, void **be,
                      const store_backend_ops **ops, omlop_err *err)
{
    sq_be *b = xcalloc(1, sizeof(*b));
    int rc;

    (void)opts;
    if ((rc = sq_db_open(b, dir, err)) < 0) {
        sq_close(b);
        return rc;
    }
    log_info("store=sqlite path=%s revision=%" PRId64 " compacted=%" PRId64 " opened", b->path,
             b->rev, atomic_load(&b->compacted));
    *be = b;
    *ops = &sq_ops;
    return 0;
}
