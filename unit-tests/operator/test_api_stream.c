/*
 * Tests for operator/api_watch (the transport-independent watch stream) over a
 * real SQLite store: the initial ADDED events, changes as NDJSON lines, the
 * in-stream ERROR event with a 410 Status when the store drops the watch (the
 * subscriber fell behind, or the store closed), and 410 before streaming for a
 * compacted revision.
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

#include "crds/schema.h"
#include "lib/cjson.h"
#include "operator/api.h"
#include "operator/api_auth.h"
#include "operator/api_watch.h"
#include "store/store.h"

typedef struct fixture {
    char dir[64];
    store *st;
    schema_set *schemas;
    api_auth *auth;
    api *a;
} fixture;

static void open_fixture(fixture *f, size_t watch_buffer)
{
    store_options so;
    omlop_err err = OMLOP_ERR_INIT;

    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/omlop-stream-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    store_options_default(&so);
    so.data_dir = f->dir;
    so.compact_interval_s = 0;
    if (watch_buffer)
        so.watch_buffer = watch_buffer;
    assert_int_equal(store_open("sqlite", &so, &f->st, &err), 0);
    assert_int_equal(schema_set_new_builtin(&f->schemas, &err), 0);
    f->auth = api_auth_new_open();
    assert_int_equal(api_new(NULL, f->st, f->schemas, f->auth, &f->a, &err), 0);
}

static void close_fixture(fixture *f)
{
    char cmd[128];

    api_free(f->a);
    store_close(f->st);
    api_auth_free(f->auth);
    schema_set_free(f->schemas);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
}

static int64_t put_backup(fixture *f, const char *name)
{
    char key[128], value[256];
    int64_t rev = 0;
    omlop_err err = OMLOP_ERR_INIT;

    snprintf(key, sizeof(key), "/omlop/backups/%s", name);
    snprintf(value, sizeof(value),
             "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
             "\"%s\",\"labels\":{\"n\":\"%s\"}},\"spec\":{\"tenantRef\":{\"name\":\"t\"}}}",
             name, name);
    assert_int_equal(store_create(f->st, key, value, strlen(value), &rev, &err), 0);
    return rev;
}

static api_watch_spec spec_for(fixture *f, const char *rv)
{
    api_watch_spec spec;

    memset(&spec, 0, sizeof(spec));
    spec.kind = schema_set_find_kind(f->schemas, "backups");
    assert_non_null(spec.kind);
    spec.resource_version = (char *)rv;
    spec.include_object = 1;
    return spec;
}

/* The lines of out as parsed events (caller puts the array). */
static json_object *events_of(const strbuf *out)
{
    json_object *arr = json_object_new_array();
    const char *p = out->buf;

    while (p && *p) {
        const char *nl = strchr(p, '\n');
        char *line;

        assert_non_null(nl); /* every event ends with a newline */
        line = strndup(p, (size_t)(nl - p));
        json_object_array_add(arr, json_tokener_parse(line));
        assert_non_null(json_object_array_get_idx(arr, json_object_array_length(arr) - 1));
        free(line);
        p = nl + 1;
    }
    return arr;
}

static void test_initial_state_then_changes(void **state)
{
    fixture f;
    api_watch_spec spec;
    api_stream *s = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf out = STRBUF_INIT;
    json_object *ev;
    int64_t rev;

    (void)state;
    open_fixture(&f, 0);
    put_backup(&f, "a");
    put_backup(&f, "b");
    spec = spec_for(&f, NULL);
    spec.label_selector = "n in (a,c)";
    assert_int_equal(api_stream_open(f.a, &spec, &s, &err), 0);
    assert_int_equal(api_stream_pump(s, &out), 0);
    ev = events_of(&out);
    assert_int_equal(json_object_array_length(ev), 1);
    assert_string_equal(cjson_get_string(json_object_array_get_idx(ev, 0), "type"), "ADDED");
    assert_string_equal(cjson_get_string(json_object_array_get_idx(ev, 0), "object.metadata.name"),
                        "a");
    json_object_put(ev);
    strbuf_reset(&out);
    rev = put_backup(&f, "c");
    put_backup(&f, "d");
    for (int i = 0; i < 100 && out.len == 0; i++) {
        assert_int_equal(api_stream_pump(s, &out), 0);
        usleep(10000);
    }
    ev = events_of(&out);
    assert_int_equal(json_object_array_length(ev), 1);
    assert_string_equal(cjson_get_string(json_object_array_get_idx(ev, 0), "object.metadata.name"),
                        "c");
    assert_int_equal(atoll(cjson_get_string(json_object_array_get_idx(ev, 0),
                                            "object.metadata.resourceVersion")),
                     rev);
    json_object_put(ev);
    strbuf_reset(&out);
    api_stream_bookmark(s, &out);
    ev = events_of(&out);
    assert_string_equal(cjson_get_string(json_object_array_get_idx(ev, 0), "type"), "BOOKMARK");
    json_object_put(ev);
    api_stream_free(s);
    strbuf_release(&out);
    close_fixture(&f);
}

static void test_subscriber_falling_behind_gets_error_410(void **state)
{
    fixture f;
    api_watch_spec spec;
    api_stream *s = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf out = STRBUF_INIT;
    json_object *ev, *last;
    char rv[32];
    int ended = 0;

    (void)state;
    open_fixture(&f, 4); /* the store buffers 4 events per subscriber */
    snprintf(rv, sizeof(rv), "%lld", (long long)put_backup(&f, "first"));
    spec = spec_for(&f, rv);
    assert_int_equal(api_stream_open(f.a, &spec, &s, &err), 0);
    for (int i = 0; i < 20; i++) {
        char name[16];

        snprintf(name, sizeof(name), "n%d", i);
        put_backup(&f, name);
    }
    for (int i = 0; i < 100 && !ended; i++) {
        ended = api_stream_pump(s, &out);
        usleep(10000);
    }
    assert_true(ended);
    ev = events_of(&out);
    last = json_object_array_get_idx(ev, json_object_array_length(ev) - 1);
    assert_string_equal(cjson_get_string(last, "type"), "ERROR");
    assert_string_equal(cjson_get_string(last, "object.kind"), "Status");
    assert_int_equal(cjson_get_int(last, "object.code", 0), 410);
    assert_string_equal(cjson_get_string(last, "object.reason"), "Gone");
    json_object_put(ev);
    assert_int_equal(api_stream_pump(s, &out), 1); /* ended stays ended */
    api_stream_free(s);
    strbuf_release(&out);
    close_fixture(&f);
}

static void test_store_close_ends_streams_with_410(void **state)
{
    fixture f;
    api_watch_spec spec;
    api_stream *s = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf out = STRBUF_INIT;
    json_object *ev;

    (void)state;
    open_fixture(&f, 0);
    spec = spec_for(&f, "0");
    assert_int_equal(api_stream_open(f.a, &spec, &s, &err), 0);
    store_close(f.st); /* the store closes every watch with EGONE */
    f.st = NULL;
    assert_int_equal(api_stream_pump(s, &out), 1);
    ev = events_of(&out);
    assert_int_equal(cjson_get_int(json_object_array_get_idx(ev, 0), "object.code", 0), 410);
    json_object_put(ev);
    api_stream_free(s); /* a watch may be closed after its store */
    strbuf_release(&out);
    close_fixture(&f);
}

static void test_compacted_revision_refused(void **state)
{
    fixture f;
    api_watch_spec spec;
    api_stream *s = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    char rv[32];
    int64_t last;

    (void)state;
    open_fixture(&f, 0);
    snprintf(rv, sizeof(rv), "%lld", (long long)put_backup(&f, "x"));
    put_backup(&f, "y");
    last = put_backup(&f, "z");
    assert_int_equal(store_compact(f.st, last, &err), 0);
    spec = spec_for(&f, rv);
    assert_int_equal(api_stream_open(f.a, &spec, &s, &err), OMLOP_EGONE);
    assert_null(s);
    assert_non_null(strstr(err.msg, "too old resource version"));
    spec = spec_for(&f, "x12");
    assert_int_equal(api_stream_open(f.a, &spec, &s, &err), OMLOP_EINVAL);
    spec = spec_for(&f, NULL);
    spec.field_selector = "=bad";
    assert_int_equal(api_stream_open(f.a, &spec, &s, &err), OMLOP_EINVAL);
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial_state_then_changes),
        cmocka_unit_test(test_subscriber_falling_behind_gets_error_410),
        cmocka_unit_test(test_store_close_ends_streams_with_410),
        cmocka_unit_test(test_compacted_revision_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
