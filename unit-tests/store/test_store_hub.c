/*
 * The watch hub's handling of a feed that lost revisions (store_hub_fail_before): etcd
 * compacted them before the feed read them. Only subscribers that still needed one of them
 * are closed; the others keep receiving from the compaction point on. Driven without a
 * backend: a fake one whose replays are empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/xalloc.h"
#include "store/store_backend.h"

typedef struct fake_replay {
    store_replay base;
} fake_replay;

static int replay_next(store_replay *r, store_event *ev, omlop_err *err)
{
    (void)r;
    (void)ev;
    (void)err;
    return STORE_REPLAY_DONE;
}

static int replay_ready(store_replay *r)
{
    (void)r;
    return 1;
}

static void replay_close(store_replay *r)
{
    free(r);
}

static const store_replay_ops fake_replay_ops = {replay_next, replay_ready, replay_close};

static int fake_watch_check(void *be, int64_t after, omlop_err *err)
{
    (void)be;
    (void)after;
    (void)err;
    return 0;
}

static int fake_replay_open(void *be, const char *prefix, int64_t after, int64_t upto,
                            int notify_fd, store_replay **out, omlop_err *err)
{
    fake_replay *r = xcalloc(1, sizeof(*r));

    (void)be;
    (void)prefix;
    (void)after;
    (void)upto;
    (void)notify_fd;
    (void)err;
    r->base.ops = &fake_replay_ops;
    *out = &r->base;
    return 0;
}

static const store_backend_ops fake_ops = {
    .name = "fake",
    .watch_check = fake_watch_check,
    .replay_open = fake_replay_open,
};

static void publish(store_hub *h, int64_t rev, const char *key)
{
    store_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = STORE_EVENT_MODIFIED;
    ev.revision = rev;
    ev.kv.key = xstrdup(key);
    ev.kv.value = xstrdup("{}");
    ev.kv.value_len = 2;
    ev.kv.mod_revision = rev;
    store_hub_publish(h, &ev, 1);
}

static store_watch *open_at(store_hub *h, int64_t after)
{
    store_watch *w = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(store_hub_watch_open(h, NULL, &fake_ops, "/k/", after, &w, &err), 0);
    return w;
}

static void expect_gone(store_watch *w)
{
    store_event ev;
    omlop_err err = OMLOP_ERR_INIT;

    memset(&ev, 0, sizeof(ev));
    assert_int_equal(store_watch_next(w, &ev, 100, &err), OMLOP_EGONE);
    assert_non_null(strstr(err.msg, "compacted"));
}

static void expect_rev(store_watch *w, int64_t rev)
{
    store_event ev;
    omlop_err err = OMLOP_ERR_INIT;

    memset(&ev, 0, sizeof(ev));
    assert_int_equal(store_watch_next(w, &ev, 1000, &err), 0);
    assert_int_equal(ev.revision, rev);
    store_event_release(&ev);
}

/* Subscribers below the lost range's end go; at or past it they lose nothing. */
static void test_fail_before_closes_only_those_that_needed_lost_revisions(void **state)
{
    store_hub *h = store_hub_new(16);
    store_watch *behind, *edge_below, *at_edge, *past;

    (void)state;
    store_hub_set_position(h, 10);
    behind = open_at(h, 10);     /* live: needs 11.. */
    edge_below = open_at(h, 13); /* needs 14, which is lost */
    at_edge = open_at(h, 14);    /* opened at the compaction point minus one: needs 15.. */
    past = open_at(h, 15);       /* opened at the compaction point */

    /* etcd compacted at 15: revisions 11..14 are gone, 15 is still served. */
    store_hub_fail_before(h, OMLOP_EGONE, "etcd compacted the watched revisions", 14);
    assert_int_equal(store_hub_position(h), 14);
    publish(h, 15, "/k/a");
    publish(h, 16, "/k/a");

    expect_gone(behind);
    expect_gone(edge_below);
    expect_rev(at_edge, 15);
    expect_rev(at_edge, 16);
    expect_rev(past, 16);

    store_watch_close(behind);
    store_watch_close(edge_below);
    store_watch_close(at_edge);
    store_watch_close(past);
    store_hub_close(h);
}

/* A subscriber still replaying history from before the hub's position needed the lost range. */
static void test_fail_before_closes_a_replaying_subscriber(void **state)
{
    store_hub *h = store_hub_new(16);
    store_watch *replaying;

    (void)state;
    store_hub_set_position(h, 20);
    replaying = open_at(h, 5); /* replays (5, 20] from the backend first */
    store_hub_fail_before(h, OMLOP_EGONE, "etcd compacted the watched revisions", 24);
    expect_gone(replaying);
    store_watch_close(replaying);
    store_hub_close(h);
}

/* The position never moves back. */
static void test_fail_before_keeps_a_later_position(void **state)
{
    store_hub *h = store_hub_new(16);

    (void)state;
    store_hub_set_position(h, 30);
    store_hub_fail_before(h, OMLOP_EGONE, "etcd compacted the watched revisions", 25);
    assert_int_equal(store_hub_position(h), 30);
    store_hub_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_before_closes_only_those_that_needed_lost_revisions),
        cmocka_unit_test(test_fail_before_closes_a_replaying_subscriber),
        cmocka_unit_test(test_fail_before_keeps_a_later_position),
    };

    return cmocka_run_group_tests_name("store hub", tests, NULL, NULL);
}
