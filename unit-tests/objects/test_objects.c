/*
 * Tests for objects/objects: the one write path of API objects, over a real (SQLite) store.
 * What every writer relies on: server-owned metadata stamped on create and kept on update,
 * generation bumped only by a spec change, no write when nothing changed, compare-and-swap
 * with retries after a lost race (and none with an explicit revision), the uid guard against a
 * re-created object, status-only writes, finalizers turning a delete into a deletionTimestamp
 * and the last release completing it, dry runs storing nothing, and the Tenant history hook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crds/object.h"
#include "lib/cjson.h"
#include "objects/history.h"
#include "objects/objects.h"
#include "store/store.h"

typedef struct fixture {
    char dir[64];
    store *st;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    store_options so;
    omlop_err err = OMLOP_ERR_INIT;

    snprintf(f->dir, sizeof(f->dir), "/tmp/omlop-objects-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    store_options_default(&so);
    so.data_dir = f->dir;
    so.compact_interval_s = 0;
    assert_int_equal(store_open("sqlite", &so, &f->st, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];

    store_close(f->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

static json_object *tenant(const char *name, const char *spec_json)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\",\"metadata\":{\"name\":"
             "\"%s\",\"uid\":\"client-set\",\"generation\":42,\"resourceVersion\":\"7\"},"
             "\"spec\":%s}",
             name, spec_json);
    return json_tokener_parse(text);
}

static void create_tenant(fixture *f, const char *name, const char *spec_json, obj_result *res)
{
    json_object *o = tenant(name, spec_json);
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(obj_create(f->st, "tenants", o, 0, res, &err), 0);
    json_object_put(o);
}

static size_t history_count(fixture *f, const char *name)
{
    store_list_result res = {STORE_KV_LIST_INIT, 0, 0};
    omlop_err err = OMLOP_ERR_INIT;
    size_t n;

    assert_int_equal(history_list(f->st, name, &res, &err), 0);
    n = res.items.n;
    store_list_result_release(&res);
    return n;
}

static void test_create_stamps_server_fields(void **state)
{
    fixture *f = *state;
    obj_result res = {0}, again = {0};
    json_object *o = tenant("t1", "{\"a\":1}"), *got = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    int64_t rev = 0;

    create_tenant(f, "t1", "{\"a\":1}", &res);
    assert_true(res.revision > 0);
    assert_int_equal(cjson_get_int(res.obj, "metadata.generation", 0), 1);
    assert_string_not_equal(cjson_get_string(res.obj, "metadata.uid"), "client-set");
    assert_int_equal(strlen(cjson_get_string(res.obj, "metadata.uid")), 36);
    assert_non_null(cjson_get_string(res.obj, "metadata.creationTimestamp"));
    assert_int_equal(object_rv_parse(cjson_get_string(res.obj, "metadata.resourceVersion")),
                     res.revision);
    /* what is stored is what was answered */
    assert_int_equal(obj_get(f->st, "tenants", "t1", &got, &rev, &err), 0);
    assert_int_equal(rev, res.revision);
    assert_true(cjson_equal(got, res.obj));
    /* the caller's object is not changed */
    assert_string_equal(cjson_get_string(o, "metadata.uid"), "client-set");
    /* a taken name, also on a dry run */
    assert_int_equal(obj_create(f->st, "tenants", o, 0, &again, &err), OMLOP_EEXIST);
    omlop_err_clear(&err);
    assert_int_equal(obj_create(f->st, "tenants", o, OBJ_DRY_RUN, &again, &err), OMLOP_EEXIST);
    assert_int_equal(history_count(f, "t1"), 1);
    json_object_put(o);
    json_object_put(got);
    obj_result_release(&res);
}

static void test_create_dry_run_stores_nothing(void **state)
{
    fixture *f = *state;
    json_object *o = tenant("dry", "{}"), *got = NULL;
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(obj_create(f->st, "tenants", o, OBJ_DRY_RUN, &res, &err), 0);
    assert_int_equal(res.revision, 0);
    assert_int_equal(cjson_get_int(res.obj, "metadata.generation", 0), 1);
    assert_int_equal(obj_get(f->st, "tenants", "dry", &got, NULL, &err), OMLOP_ENOTFOUND);
    assert_int_equal(history_count(f, "dry"), 0);
    json_object_put(o);
    obj_result_release(&res);
}

/* A mutate function that sets spec.a (and, to be sneaky, the server-owned fields). */
static int set_a(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    (void)cur;
    (void)err;
    json_object_object_add(cjson_get(next, "spec"), "a", json_object_new_int(*(int *)ctx));
    json_object_object_add(object_meta(next), "uid", json_object_new_string("forged"));
    json_object_object_add(object_meta(next), "generation", json_object_new_int(99));
    return 0;
}

static int set_label(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    json_object *labels = json_object_new_object();

    (void)cur;
    (void)err;
    json_object_object_add(labels, "k", json_object_new_string(ctx));
    json_object_object_add(object_meta(next), "labels", labels);
    return 0;
}

static void test_update_generation_only_on_spec_change(void **state)
{
    fixture *f = *state;
    obj_result c = {0}, u = {0};
    omlop_err err = OMLOP_ERR_INIT;
    int v = 2;

    create_tenant(f, "g", "{\"a\":1}", &c);
    assert_int_equal(obj_update(f->st, "tenants", "g", NULL, set_a, &v, &u, &err), 0);
    assert_int_equal(cjson_get_int(u.obj, "metadata.generation", 0), 2);
    assert_int_equal(cjson_get_int(u.obj, "spec.a", 0), 2);
    assert_string_equal(cjson_get_string(u.obj, "metadata.uid"),
                        cjson_get_string(c.obj, "metadata.uid"));
    assert_true(u.revision > c.revision);
    assert_int_equal(history_count(f, "g"), 2);
    obj_result_release(&u);
    /* metadata only: no new generation, no history entry */
    assert_int_equal(obj_update(f->st, "tenants", "g", NULL, set_label, "x", &u, &err), 0);
    assert_int_equal(cjson_get_int(u.obj, "metadata.generation", 0), 2);
    assert_string_equal(cjson_get_string(u.obj, "metadata.labels.k"), "x");
    assert_int_equal(history_count(f, "g"), 2);
    obj_result_release(&u);
    obj_result_release(&c);
}

static void test_update_no_change_writes_nothing(void **state)
{
    fixture *f = *state;
    obj_result c = {0}, u = {0};
    omlop_err err = OMLOP_ERR_INIT;
    int64_t before = 0, after = 0;
    int v = 1;

    create_tenant(f, "same", "{\"a\":1}", &c);
    assert_int_equal(store_current_revision(f->st, &before, &err), 0);
    assert_int_equal(obj_update(f->st, "tenants", "same", NULL, set_a, &v, &u, &err), 0);
    assert_true(u.is_unchanged);
    assert_int_equal(u.revision, 0);
    assert_int_equal(store_current_revision(f->st, &after, &err), 0);
    assert_int_equal(before, after);
    obj_result_release(&u);
    obj_result_release(&c);
}

/* Loses the race once: another writer changes the object during the first call. */
typedef struct racer {
    fixture *f;
    const char *name;
    int calls;
} racer;

static int race_once(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    racer *r = ctx;
    obj_result other = {0};
    int v = 100;

    (void)cur;
    if (r->calls++ == 0) {
        assert_int_equal(obj_update(r->f->st, "tenants", r->name, NULL, set_a, &v, &other, err), 0);
        obj_result_release(&other);
    }
    json_object_object_add(object_meta(next), "labels", json_object_new_object());
    json_object_object_add(cjson_get(object_meta(next), "labels"), "seen",
                           json_object_new_int((int)cjson_get_int(cur, "spec.a", 0)));
    return 0;
}

static void test_update_retries_lost_race(void **state)
{
    fixture *f = *state;
    obj_result c = {0}, u = {0};
    omlop_err err = OMLOP_ERR_INIT;
    racer r = {f, "race", 0};

    create_tenant(f, "race", "{\"a\":1}", &c);
    assert_int_equal(obj_update(f->st, "tenants", "race", NULL, race_once, &r, &u, &err), 0);
    assert_int_equal(r.calls, 2);
    /* the second attempt saw the other writer's value and kept it */
    assert_int_equal(cjson_get_int(u.obj, "metadata.labels.seen", 0), 100);
    assert_int_equal(cjson_get_int(u.obj, "spec.a", 0), 100);
    obj_result_release(&u);
    obj_result_release(&c);
}

static void test_update_explicit_revision_is_not_retried(void **state)
{
    fixture *f = *state;
    obj_result c = {0}, u = {0};
    omlop_err err = OMLOP_ERR_INIT;
    obj_update_opts o = {0};
    racer r = {f, "cas", 0};
    int v = 5;

    create_tenant(f, "cas", "{\"a\":1}", &c);
    o.expect_revision = c.revision;
    assert_int_equal(obj_update(f->st, "tenants", "cas", &o, race_once, &r, &u, &err),
                     OMLOP_ECONFLICT);
    assert_int_equal(r.calls, 1);
    /* a stale revision is refused before anything is called */
    omlop_err_clear(&err);
    assert_int_equal(obj_update(f->st, "tenants", "cas", &o, set_a, &v, &u, &err), OMLOP_ECONFLICT);
    obj_result_release(&u);
    obj_result_release(&c);
}

static void test_update_uid_guard(void **state)
{
    fixture *f = *state;
    obj_result c = {0}, u = {0};
    omlop_err err = OMLOP_ERR_INIT;
    obj_update_opts o = {0};
    int v = 3;

    create_tenant(f, "re", "{\"a\":1}", &c);
    o.expect_uid = "00000000-0000-4000-8000-000000000000";
    assert_int_equal(obj_update(f->st, "tenants", "re", &o, set_a, &v, &u, &err), OMLOP_ENOTFOUND);
    omlop_err_clear(&err);
    o.expect_uid = cjson_get_string(c.obj, "metadata.uid");
    assert_int_equal(obj_update(f->st, "tenants", "re", &o, set_a, &v, &u, &err), 0);
    assert_int_equal(cjson_get_int(u.obj, "spec.a", 0), 3);
    obj_result_release(&u);
    obj_result_release(&c);
}

static int set_status_and_spec(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    json_object *st = json_object_new_object();

    (void)cur;
    (void)ctx;
    (void)err;
    json_object_object_add(st, "phase", json_object_new_string("Ready"));
    json_object_object_add(next, "status", st);
    json_object_object_add(cjson_get(next, "spec"), "a", json_object_new_int(77));
    return 0;
}

static void test_update_status_only(void **state)
{
    fixture *f = *state;
    obj_result c = {0}, u = {0};
    omlop_err err = OMLOP_ERR_INIT;
    obj_update_opts o = {0};

    create_tenant(f, "st", "{\"a\":1}", &c);
    o.is_status = 1;
    assert_int_equal(obj_update(f->st, "tenants", "st", &o, set_status_and_spec, NULL, &u, &err),
                     0);
    assert_string_equal(cjson_get_string(u.obj, "status.phase"), "Ready");
    assert_int_equal(cjson_get_int(u.obj, "spec.a", 0), 1); /* the spec is not the caller's */
    assert_int_equal(cjson_get_int(u.obj, "metadata.generation", 0), 1);
    assert_int_equal(history_count(f, "st"), 1);
    obj_result_release(&u);
    obj_result_release(&c);
}

/* obj_status_replace: the whole status, observedGeneration stamped, only over the same object. */
static void test_status_replace_same_object_only(void **state)
{
    fixture *f = *state;
    obj_result c = {0}, again = {0};
    omlop_err err = OMLOP_ERR_INIT;
    json_object *status = json_tokener_parse("{\"phase\":\"Running\"}"), *got = NULL;
    int64_t rv = 0;

    create_tenant(f, "sr", "{\"a\":1}", &c);
    assert_int_equal(obj_status_replace(f->st, "tenants", c.obj, status, &err), 0);
    assert_int_equal(obj_get(f->st, "tenants", "sr", &got, &rv, &err), 0);
    assert_string_equal(cjson_get_string(got, "status.phase"), "Running");
    assert_int_equal(cjson_get_int(got, "status.observedGeneration", 0), 1);
    assert_int_equal(cjson_get_int(got, "spec.a", 0), 1);
    json_object_put(got);
    /* deleted and created again: the old object's status is not written over the new one */
    assert_int_equal(obj_delete(f->st, "tenants", "sr", NULL, &again, &err), 0);
    obj_result_release(&again);
    create_tenant(f, "sr", "{\"a\":2}", &again);
    json_object_object_add(status, "phase", json_object_new_string("Failed"));
    assert_int_equal(obj_status_replace(f->st, "tenants", c.obj, status, &err), 0);
    assert_int_equal(obj_get(f->st, "tenants", "sr", &got, &rv, &err), 0);
    assert_null(cjson_get(got, "status.phase"));
    json_object_put(got);
    json_object_put(status);
    obj_result_release(&again);
    obj_result_release(&c);
}

static int add_finalizer(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    json_object *fin = json_object_new_array();

    (void)cur;
    (void)ctx;
    (void)err;
    json_object_array_add(fin, json_object_new_string("omlop.io/teardown"));
    json_object_object_add(object_meta(next), "finalizers", fin);
    return 0;
}

static int drop_finalizers(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    (void)cur;
    (void)ctx;
    (void)err;
    json_object_object_del(object_meta(next), "finalizers");
    return 0;
}

static void test_delete_with_finalizer_then_release(void **state)
{
    fixture *f = *state;
    obj_result c = {0}, u = {0}, d = {0};
    omlop_err err = OMLOP_ERR_INIT;
    json_object *got = NULL;

    create_tenant(f, "fin", "{\"a\":1}", &c);
    assert_int_equal(obj_update(f->st, "tenants", "fin", NULL, add_finalizer, NULL, &u, &err), 0);
    obj_result_release(&u);
    assert_int_equal(obj_delete(f->st, "tenants", "fin", NULL, &d, &err), 0);
    assert_false(d.is_deleted);
    assert_non_null(cjson_get_string(d.obj, "metadata.deletionTimestamp"));
    assert_int_equal(cjson_get_int(d.obj, "metadata.generation", 0), 2);
    obj_result_release(&d);
    /* a second delete leaves it as it is */
    assert_int_equal(obj_delete(f->st, "tenants", "fin", NULL, &d, &err), 0);
    assert_true(d.is_unchanged);
    obj_result_release(&d);
    /* the deletionTimestamp is server-owned: an update cannot take it away */
    assert_int_equal(obj_get(f->st, "tenants", "fin", &got, NULL, &err), 0);
    assert_int_equal(history_count(f, "fin"), 1);
    /* releasing the last finalizer completes the deletion, history included */
    assert_int_equal(obj_update(f->st, "tenants", "fin", NULL, drop_finalizers, NULL, &u, &err), 0);
    assert_true(u.is_deleted);
    json_object_put(got);
    got = NULL;
    assert_int_equal(obj_get(f->st, "tenants", "fin", &got, NULL, &err), OMLOP_ENOTFOUND);
    assert_int_equal(history_count(f, "fin"), 0);
    obj_result_release(&u);
    obj_result_release(&c);
}

static void test_delete_preconditions_and_dry_run(void **state)
{
    fixture *f = *state;
    obj_result c = {0}, d = {0};
    omlop_err err = OMLOP_ERR_INIT;
    obj_delete_opts o = {0};
    json_object *got = NULL;

    create_tenant(f, "del", "{}", &c);
    o.expect_uid = "not-the-uid";
    assert_int_equal(obj_delete(f->st, "tenants", "del", &o, &d, &err), OMLOP_ECONFLICT);
    assert_true(d.is_uid_mismatch);
    assert_non_null(strstr(err.msg, "Precondition failed"));
    omlop_err_clear(&err);
    obj_result_release(&d);
    o.expect_uid = NULL;
    o.expect_revision = c.revision + 1000;
    assert_int_equal(obj_delete(f->st, "tenants", "del", &o, &d, &err), OMLOP_ECONFLICT);
    assert_false(d.is_uid_mismatch);
    omlop_err_clear(&err);
    obj_result_release(&d);
    o.expect_revision = c.revision;
    o.flags = OBJ_DRY_RUN;
    assert_int_equal(obj_delete(f->st, "tenants", "del", &o, &d, &err), 0);
    assert_true(d.is_deleted);
    assert_int_equal(obj_get(f->st, "tenants", "del", &got, NULL, &err), 0);
    json_object_put(got);
    got = NULL;
    obj_result_release(&d);
    o.flags = 0;
    assert_int_equal(obj_delete(f->st, "tenants", "del", &o, &d, &err), 0);
    assert_true(d.is_deleted);
    assert_int_equal(obj_get(f->st, "tenants", "del", &got, NULL, &err), OMLOP_ENOTFOUND);
    assert_int_equal(history_count(f, "del"), 0);
    obj_result_release(&d);
    obj_result_release(&c);
}

static int fail_mutate(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    (void)next;
    (void)cur;
    (void)ctx;
    return omlop_err_set(err, OMLOP_EINVAL, "spec.a: refused");
}

static void test_update_mutate_error_writes_nothing(void **state)
{
    fixture *f = *state;
    obj_result c = {0}, u = {0};
    omlop_err err = OMLOP_ERR_INIT;
    int64_t before = 0, after = 0;

    create_tenant(f, "bad", "{\"a\":1}", &c);
    assert_int_equal(store_current_revision(f->st, &before, &err), 0);
    assert_int_equal(obj_update(f->st, "tenants", "bad", NULL, fail_mutate, NULL, &u, &err),
                     OMLOP_EINVAL);
    assert_string_equal(err.msg, "spec.a: refused");
    omlop_err_clear(&err);
    assert_int_equal(store_current_revision(f->st, &after, &err), 0);
    assert_int_equal(before, after);
    assert_int_equal(obj_update(f->st, "tenants", "nope", NULL, fail_mutate, NULL, &u, &err),
                     OMLOP_ENOTFOUND);
    obj_result_release(&u);
    obj_result_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_stamps_server_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_dry_run_stores_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_generation_only_on_spec_change, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_update_no_change_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_retries_lost_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_explicit_revision_is_not_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_update_uid_guard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_status_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_replace_same_object_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_with_finalizer_then_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_preconditions_and_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_mutate_error_writes_nothing, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
