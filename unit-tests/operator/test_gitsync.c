/*
 * The GitSource thread (operator/gitsync.h) over a real SQLite store and a file:// repository:
 * a new source is synced once, and a sync request (the omlop.io/sync-requested annotation, what
 * POST .../sync and `omlctl gitsource sync` write) runs exactly one more sync - the sync's own
 * status writes must not look like a new request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crds/diag.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "objects/objects.h"
#include "operator/gitsync.h"
#include "reconcilers/gitsource.h"
#include "unit-tests/clients/git_fixture.h"

typedef struct fx {
    git_fixture repo;
    char data[128];
    store *st;
    schema_set *schemas;
    gitsync *gs;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    store_options so;
    omlop_err err = OMLOP_ERR_INIT;

    if (!f || gitfx_start(&f->repo) < 0)
        return -1;
    snprintf(f->data, sizeof(f->data), "%s/data", f->repo.dir);
    mkdir(f->data, 0700);
    store_options_default(&so);
    so.data_dir = f->data;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &f->st, &err) < 0 ||
        schema_set_new_builtin(&f->schemas, &err) < 0 ||
        gitsync_new(f->st, NULL, f->schemas, f->data, &f->gs, &err) < 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    gitsync_free(f->gs);
    store_close(f->st);
    schema_set_free(f->schemas);
    gitfx_stop(&f->repo);
    free(f);
    return 0;
}

static void make_source(fx *f)
{
    strbuf text = STRBUF_INIT;
    json_object *obj, *decoded = NULL;
    diag_list *dl = diag_list_new();
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;

    strbuf_addf(&text,
                "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"GitSource\",\"metadata\":"
                "{\"name\":\"fleet\"},\"spec\":{\"url\":\"%s\",\"interval\":\"1h\"}}",
                f->repo.url);
    obj = json_tokener_parse(text.buf);
    assert_int_equal(schema_set_decode_json(f->schemas, obj, &decoded, dl), 0);
    assert_int_equal(obj_create(f->st, GITSOURCE_PLURAL, decoded, 0, &res, &err), 0);
    obj_result_release(&res);
    json_object_put(obj);
    json_object_put(decoded);
    diag_list_free(dl);
    strbuf_release(&text);
}

static int request_sync(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    json_object *meta = json_object_object_get(next, "metadata"), *ann;

    (void)cur;
    (void)err;
    if (!json_object_object_get_ex(meta, "annotations", &ann)) {
        ann = json_object_new_object();
        json_object_object_add(meta, "annotations", ann);
    }
    json_object_object_add(ann, GITSOURCE_SYNC_ANNOTATION, json_object_new_string(ctx));
    return 0;
}

/* status.<field> of the source as a string ("" when absent). */
static int status_is(fx *f, const char *field, const char *want)
{
    json_object *o = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf path = STRBUF_INIT;
    int is = 0;

    strbuf_addf(&path, "status.%s", field);
    if (obj_get(f->st, GITSOURCE_PLURAL, "fleet", &o, NULL, &err) == 0) {
        const char *v = cjson_get_string(o, path.buf);

        is = v && (!want || strcmp(v, want) == 0);
    }
    json_object_put(o);
    strbuf_release(&path);
    return is;
}

/* Wait (bounded) until the count stops moving for quiet_ms; returns it. */
static unsigned long settled_count(fx *f, int quiet_ms)
{
    unsigned long n = gitsync_count(f->gs);
    int64_t since = clock_now_ms(), deadline = since + 20000;

    while (clock_now_ms() < deadline) {
        clock_sleep_ms(50);
        if (gitsync_count(f->gs) != n) {
            n = gitsync_count(f->gs);
            since = clock_now_ms();
        } else if (clock_now_ms() - since >= quiet_ms) {
            break;
        }
    }
    return n;
}

static void test_a_sync_request_runs_exactly_one_sync(void **state)
{
    fx *f = *state;
    omlop_err err = OMLOP_ERR_INIT;
    obj_result res = {0};
    char c1[41];
    unsigned long n0, n1;
    int64_t deadline;

    assert_int_equal(gitfx_write(&f->repo, "README.md", "no manifests\n"), 0);
    assert_int_equal(gitfx_commit(&f->repo, "one", c1), 0);
    make_source(f);
    assert_int_equal(gitsync_start(f->gs, &err), 0);
    deadline = clock_now_ms() + 20000;
    while (!status_is(f, "lastAppliedCommit", c1) && clock_now_ms() < deadline)
        clock_sleep_ms(50);
    assert_true(status_is(f, "lastAppliedCommit", c1));
    n0 = settled_count(f, 1500);
    assert_int_equal(n0, 1); /* a new source: one sync, its status writes start no other */

    assert_int_equal(
        obj_update(f->st, GITSOURCE_PLURAL, "fleet", NULL, request_sync, "r1", &res, &err), 0);
    obj_result_release(&res);
    deadline = clock_now_ms() + 20000;
    while (!status_is(f, "lastHandledSyncRequest", "r1") && clock_now_ms() < deadline)
        clock_sleep_ms(50);
    assert_true(status_is(f, "lastHandledSyncRequest", "r1"));
    n1 = settled_count(f, 1500);
    assert_int_equal(n1 - n0, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_sync_request_runs_exactly_one_sync, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
