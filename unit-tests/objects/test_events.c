/*
 * Tests for operator/events: recording Events in a real (SQLite) store,
 * de-duplication by object, reason and message with count and lastTimestamp,
 * validation against the Event kind, and pruning by age.
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
#include "crds/schema.h"
#include "lib/cjson.h"
#include "objects/events.h"
#include "objects/objects.h"
#include "store/store.h"

typedef struct fixture {
    char dir[64];
    store *st;
    schema_set *schemas;
    events *ev;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    store_options so;
    omlop_err err = OMLOP_ERR_INIT;

    snprintf(f->dir, sizeof(f->dir), "/tmp/omlop-events-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    store_options_default(&so);
    so.data_dir = f->dir;
    so.compact_interval_s = 0;
    assert_int_equal(store_open("sqlite", &so, &f->st, &err), 0);
    assert_int_equal(schema_set_new_builtin(&f->schemas, &err), 0);
    assert_int_equal(events_new(f->st, f->schemas, "omlopd", &f->ev, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];

    events_free(f->ev);
    store_close(f->st);
    schema_set_free(f->schemas);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

static json_object *tenant(const char *name, const char *uid)
{
    json_object *t = json_object_new_object(), *m = json_object_new_object();

    json_object_object_add(t, "apiVersion", json_object_new_string("omlop.io/v1alpha1"));
    json_object_object_add(t, "kind", json_object_new_string("Tenant"));
    json_object_object_add(m, "name", json_object_new_string(name));
    json_object_object_add(m, "uid", json_object_new_string(uid));
    json_object_object_add(m, "resourceVersion", json_object_new_string("12"));
    json_object_object_add(t, "metadata", m);
    return t;
}

/* Every stored event, as objects (caller puts the array). */
static json_object *stored_events(fixture *f)
{
    store_list_opts lo = {0};
    store_list_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;
    json_object *arr = json_object_new_array();

    lo.prefix = "/omlop/events/";
    assert_int_equal(store_list(f->st, &lo, &res, &err), 0);
    for (size_t i = 0; i < res.items.n; i++) {
        json_object *o = NULL;

        assert_int_equal(obj_from_kv(&res.items.items[i], &o, &err), 0);
        json_object_array_add(arr, o);
    }
    store_list_result_release(&res);
    return arr;
}

static void test_record_and_fold_repeats(void **state)
{
    fixture *f = *state;
    json_object *t = tenant("algarrobo", "uid-1"), *all, *e;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(events_record_at(f->ev, t, EVENT_TYPE_WARNING, "HostUnreachable", 1000,
                                      "ssh to 10.0.0.1:22 timed out", &err),
                     0);
    assert_int_equal(events_record_at(f->ev, t, EVENT_TYPE_WARNING, "HostUnreachable", 1060,
                                      "ssh to 10.0.0.1:22 timed out", &err),
                     0);
    all = stored_events(f);
    assert_int_equal(json_object_array_length(all), 1);
    e = json_object_array_get_idx(all, 0);
    assert_int_equal(cjson_get_int(e, "count", 0), 2);
    assert_string_equal(cjson_get_string(e, "firstTimestamp"), "1970-01-01T00:16:40Z");
    assert_string_equal(cjson_get_string(e, "lastTimestamp"), "1970-01-01T00:17:40Z");
    assert_string_equal(cjson_get_string(e, "type"), "Warning");
    assert_string_equal(cjson_get_string(e, "involvedObject.apiVersion"), "omlop.io/v1alpha1");
    assert_string_equal(cjson_get_string(e, "involvedObject.kind"), "Tenant");
    assert_string_equal(cjson_get_string(e, "involvedObject.name"), "algarrobo");
    assert_string_equal(cjson_get_string(e, "involvedObject.uid"), "uid-1");
    assert_string_equal(cjson_get_string(e, "involvedObject.resourceVersion"), "12");
    assert_string_equal(cjson_get_string(e, "source.component"), "omlopd");
    assert_int_equal(strncmp(cjson_get_string(e, "metadata.name"), "algarrobo-", 10), 0);
    json_object_put(all);

    /* another message, reason or object is another event */
    assert_int_equal(events_record(f->ev, t, EVENT_TYPE_NORMAL, "DriftRepaired", &err,
                                   "recreated %s on %s", "omlapp", "host-1"),
                     0);
    json_object_put(t);
    t = tenant("other", "uid-2");
    assert_int_equal(events_record_at(f->ev, t, EVENT_TYPE_WARNING, "HostUnreachable", 1000,
                                      "ssh to 10.0.0.1:22 timed out", &err),
                     0);
    all = stored_events(f);
    assert_int_equal(json_object_array_length(all), 3);
    json_object_put(all);
    json_object_put(t);
}

/* One host error whose numbers vary each round is one event, holding the latest text. */
static void test_varying_numbers_fold_into_one_event(void **state)
{
    fixture *f = *state;
    json_object *t = tenant("varying", "uid-v"), *all, *e = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    static const char *const msgs[] = {
        "host h1: cannot open channel 46 to 10.0.0.1:22 (container 3f9a1c2b)",
        "host h1: cannot open channel 52 to 10.0.0.1:22 (container 77e0d1aa)",
        "host h1: cannot open channel 56 to 10.0.0.1:22 (container 0bcd1234)",
    };
    size_t n = 0;

    for (size_t i = 0; i < 3; i++)
        assert_int_equal(events_record_at(f->ev, t, EVENT_TYPE_WARNING, "HostUnreachable",
                                          (time_t)(5000 + i), msgs[i], &err),
                         0);
    /* words with letters stay: another host is another event */
    assert_int_equal(events_record_at(f->ev, t, EVENT_TYPE_WARNING, "HostUnreachable", 5010,
                                      "host h2: cannot open channel 46 to 10.0.0.1:22 "
                                      "(container 3f9a1c2b)",
                                      &err),
                     0);
    all = stored_events(f);
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        json_object *x = json_object_array_get_idx(all, i);

        if (strcmp(cjson_get_string(x, "involvedObject.name"), "varying") != 0)
            continue;
        n++;
        if (strstr(cjson_get_string(x, "message"), "host h1"))
            e = x;
    }
    assert_int_equal(n, 2);
    assert_non_null(e);
    assert_int_equal(cjson_get_int(e, "count", 0), 3);
    assert_string_equal(cjson_get_string(e, "message"), msgs[2]);
    json_object_put(all);
    json_object_put(t);
}

static void test_message_key_masks_numbers_only(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"channel 46", "channel #"},
        {"10.0.0.1:22", "#.#.#.#:#"},
        {"host h1 sha256 deadbeef1", "host h1 sha256 #"},
        {"face cafe", "face cafe"}, /* hex letters alone are words */
        {"retry in 4000 ms at 12:00:01", "retry in # ms at #:#:#"},
        {"", ""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf out = STRBUF_INIT;

        events_message_key(cases[i].in, &out);
        if (strcmp(strbuf_str(&out), cases[i].want) != 0)
            fail_msg("'%s': got '%s', want '%s'", cases[i].in, strbuf_str(&out), cases[i].want);
        strbuf_release(&out);
    }
}

static void test_bad_events_are_refused(void **state)
{
    fixture *f = *state;
    json_object *t = tenant("x", "uid-3"), *nameless = json_object_new_object();
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(events_record_at(f->ev, t, "Fatal", "Boom", 1, "m", &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "Normal or Warning"));
    /* the Event kind's pattern refuses a reason with spaces */
    assert_int_equal(events_record_at(f->ev, t, EVENT_TYPE_NORMAL, "not camel case", 1, "m", &err),
                     OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "reason"));
    assert_int_equal(events_record_at(f->ev, nameless, EVENT_TYPE_NORMAL, "Boom", 1, "m", &err),
                     OMLOP_EINVAL);
    json_object_put(t);
    json_object_put(nameless);
}

static void test_long_names_and_messages_are_cut(void **state)
{
    fixture *f = *state;
    char name[64], msg[3000];
    json_object *t, *all;
    omlop_err err = OMLOP_ERR_INIT;

    memset(name, 'n', 63);
    name[63] = '\0';
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    t = tenant(name, "uid-4");
    assert_int_equal(events_record_at(f->ev, t, EVENT_TYPE_NORMAL, "Long", 5, msg, &err), 0);
    all = stored_events(f);
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        json_object *e = json_object_array_get_idx(all, i);

        if (strcmp(cjson_get_string(e, "reason"), "Long") != 0)
            continue;
        assert_true(strlen(cjson_get_string(e, "metadata.name")) <= 63);
        assert_int_equal(strlen(cjson_get_string(e, "message")), EVENT_MESSAGE_MAX);
        assert_string_equal(cjson_get_string(e, "message") + EVENT_MESSAGE_MAX - 3, "...");
    }
    json_object_put(all);
    json_object_put(t);
}

static void test_prune_by_age(void **state)
{
    fixture *f = *state;
    json_object *t = tenant("pruned", "uid-5"), *all;
    omlop_err err = OMLOP_ERR_INIT;
    size_t before, deleted = 0;

    all = stored_events(f);
    before = json_object_array_length(all);
    json_object_put(all);
    assert_int_equal(
        events_record_at(f->ev, t, EVENT_TYPE_NORMAL, "Fresh", 2000000000, "new", &err), 0);
    /* everything before 1.9e9 - 3600 goes; the fresh one stays */
    assert_int_equal(events_prune(f->ev, 2000000000, 3600, &deleted, &err), 0);
    assert_int_equal(deleted, before);
    all = stored_events(f);
    assert_int_equal(json_object_array_length(all), 1);
    assert_string_equal(cjson_get_string(json_object_array_get_idx(all, 0), "reason"), "Fresh");
    json_object_put(all);
    json_object_put(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_and_fold_repeats),
        cmocka_unit_test(test_varying_numbers_fold_into_one_event),
        cmocka_unit_test(test_message_key_masks_numbers_only),
        cmocka_unit_test(test_bad_events_are_refused),
        cmocka_unit_test(test_long_names_and_messages_are_cut),
        cmocka_unit_test(test_prune_by_age),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
