/*
 * The GitSource reconciler over real repositories made with libgit2 (file:// URLs) and a real
 * SQLite store: apply, validate-all-before-any, prune, conflicts, tags and fixed commits,
 * suspend, sync requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clients/git.h"
#include "crds/mergepatch.h"
#include "crds/object.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "objects/events.h"
#include "objects/objects.h"
#include "reconcilers/gitsource.h"
#include "unit-tests/clients/git_fixture.h"
#include "unit-tests/clients/sshd_fixture.h"

typedef struct fx {
    git_fixture repo;
    char data[128];
    store *st;
    schema_set *schemas;
    events *ev;
    gitsource_deps deps;
} fx;

static const char tenant_fmt[] = "apiVersion: omlop.io/v1alpha1\n"
                                 "kind: Tenant\n"
                                 "metadata:\n"
                                 "  name: %s\n"
                                 "spec:\n"
                                 "  layout: aio\n"
                                 "  hosts:\n"
                                 "    - name: h1\n"
                                 "      ssh: {address: 10.0.0.1, identitySecretRef: {name: k}}\n"
                                 "      lanIP: 10.0.0.1\n"
                                 "  network:\n"
                                 "    infraEnv: cloud\n"
                                 "  images:\n"
                                 "    tags:\n"
                                 "      omlapp: \"%s\"\n";

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
        events_new(f->st, f->schemas, "omlopd", &f->ev, &err) < 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    f->deps.st = f->st;
    f->deps.ev = f->ev;
    f->deps.schemas = f->schemas;
    f->deps.data_dir = f->data;
    f->deps.fetch_timeout_ms = 5000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    events_free(f->ev);
    store_close(f->st);
    schema_set_free(f->schemas);
    gitfx_stop(&f->repo);
    free(f);
    return 0;
}

static void write_tenant(fx *f, const char *file, const char *name, const char *tag)
{
    strbuf text = STRBUF_INIT;

    strbuf_addf(&text, tenant_fmt, name, tag);
    assert_int_equal(gitfx_write(&f->repo, file, text.buf), 0);
    strbuf_release(&text);
}

/* Create GitSource name; extra is more of its spec as JSON members (may be ""). */
static void make_source(fx *f, const char *name, const char *extra)
{
    strbuf text = STRBUF_INIT;
    json_object *obj, *decoded = NULL;
    diag_list *dl = diag_list_new();
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;

    strbuf_addf(&text,
                "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"GitSource\",\"metadata\":"
                "{\"name\":\"%s\"},\"spec\":{\"url\":\"%s\",\"path\":\"tenants\"%s%s}}",
                name, f->repo.url, *extra ? "," : "", extra);
    obj = json_tokener_parse(text.buf);
    assert_non_null(obj);
    if (schema_set_decode_json(f->schemas, obj, &decoded, dl) != 0) {
        strbuf_reset(&text);
        diag_list_format(dl, &text);
        fail_msg("source does not decode: %s", text.buf);
    }
    assert_int_equal(obj_create(f->st, GITSOURCE_PLURAL, decoded, 0, &res, &err), 0);
    obj_result_release(&res);
    json_object_put(obj);
    json_object_put(decoded);
    diag_list_free(dl);
    strbuf_release(&text);
}

static json_object *get(fx *f, const char *plural, const char *name)
{
    json_object *o = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    if (obj_get(f->st, plural, name, &o, NULL, &err) < 0)
        return NULL;
    return o;
}

static const char *cond_field(const json_object *src, const char *type, const char *field)
{
    json_object *conds = cjson_get(src, "status.conditions");

    for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
        json_object *c = json_object_array_get_idx(conds, i);

        if (strcmp(cjson_get_string(c, "type"), type) == 0)
            return cjson_get_string(c, field);
    }
    return NULL;
}

static const char *map_get(const json_object *obj, const char *map, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(cjson_get(obj, map), key, &v))
        return NULL;
    return json_object_get_string(v);
}

static void do_sync(fx *f, const char *name, int forced, gitsource_result *res)
{
    omlop_err err = OMLOP_ERR_INIT;

    if (gitsource_sync(&f->deps, name, forced, res, &err) != 0)
        fail_msg("sync: %s", err.msg);
}

static void update_source(fx *f, const char *name, obj_mutate_fn fn, void *ctx)
{
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(obj_update(f->st, GITSOURCE_PLURAL, name, NULL, fn, ctx, &res, &err), 0);
    obj_result_release(&res);
}

/* How many Events about name have reason (their messages appended to msgs). */
static size_t count_events(fx *f, const char *name, const char *reason, strbuf *msgs)
{
    store_list_opts lo = {0};
    store_list_result lr = {0};
    omlop_err err = OMLOP_ERR_INIT;
    size_t n = 0;

    lo.prefix = "/omlop/events/";
    assert_int_equal(store_list(f->st, &lo, &lr, &err), 0);
    for (size_t i = 0; i < lr.items.n; i++) {
        json_object *o = json_tokener_parse(lr.items.items[i].value);
        const char *r = cjson_get_string(o, "reason"),
                   *n2 = cjson_get_string(o, "involvedObject.name");

        if (r && n2 && strcmp(r, reason) == 0 && strcmp(n2, name) == 0) {
            n++;
            strbuf_addf(msgs, "%s\n", cjson_get_string(o, "message"));
        }
        json_object_put(o);
    }
    store_list_result_release(&lr);
    return n;
}

static void test_a_commit_with_two_tenants_applies_both(void **state)
{
    fx *f = *state;
    gitsource_result res;
    json_object *t1, *t2, *src;
    char head[41];
    char *rv;

    write_tenant(f, "tenants/t1.yaml", "t1", "1.0");
    write_tenant(f, "tenants/t2.yaml", "t2", "1.0");
    assert_int_equal(gitfx_write(&f->repo, "README.md", "not read\n"), 0);
    assert_int_equal(gitfx_commit(&f->repo, "two tenants", head), 0);
    make_source(f, "fleet", "\"branch\":\"main\"");
    do_sync(f, "fleet", 0, &res);
    assert_true(res.is_applied);
    assert_int_equal(res.interval_ms, 5 * 60 * 1000);
    assert_int_equal(res.n_files_read, 2); /* README.md is not read */

    t1 = get(f, "tenants", "t1");
    t2 = get(f, "tenants", "t2");
    assert_non_null(t1);
    assert_non_null(t2);
    assert_string_equal(map_get(t1, "metadata.labels", GITSOURCE_LABEL), "fleet");
    assert_string_equal(map_get(t2, "metadata.annotations", GITSOURCE_COMMIT_ANNOTATION), head);
    /* the record of omlctl apply, so either tool can apply after the other */
    assert_non_null(map_get(t1, "metadata.annotations", LAST_APPLIED_ANNOTATION));
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_string_equal(cjson_get_string(src, "status.lastAppliedCommit"), head);
    assert_string_equal(cjson_get_string(src, "status.lastFetchedCommit"), head);
    assert_string_equal(cjson_get_string(src, "status.lastAttemptedCommit"), head);
    assert_int_equal(cjson_get_int(src, "status.applied", -1), 2);
    assert_string_equal(cond_field(src, "Ready", "status"), "True");
    assert_string_equal(cond_field(src, "Fetching", "status"), "False");
    assert_string_equal(cond_field(src, "Stalled", "status"), "False");
    assert_non_null(strstr(cond_field(src, "Ready", "message"), "2 created"));
    {
        strbuf msgs = STRBUF_INIT;

        assert_int_equal(count_events(f, "fleet", "Synced", &msgs), 1);
        assert_non_null(strstr(msgs.buf, head));
        strbuf_release(&msgs);
    }

    /* nothing new: nothing read or parsed, nothing written to the tenants */
    rv = strdup(cjson_get_string(t1, "metadata.resourceVersion"));
    do_sync(f, "fleet", 0, &res);
    assert_true(res.is_applied);
    assert_int_equal(res.n_files_read, 0);
    json_object_put(t1);
    t1 = get(f, "tenants", "t1");
    assert_string_equal(cjson_get_string(t1, "metadata.resourceVersion"), rv);
    /* a forced sync (a request) reads the commit again, and still writes nothing */
    do_sync(f, "fleet", 1, &res);
    assert_int_equal(res.n_files_read, 2);
    json_object_put(t1);
    t1 = get(f, "tenants", "t1");
    assert_string_equal(cjson_get_string(t1, "metadata.resourceVersion"), rv);
    free(rv);
    json_object_put(t1);
    json_object_put(t2);
    json_object_put(src);
}

static void test_one_invalid_manifest_applies_nothing(void **state)
{
    fx *f = *state;
    gitsource_result res;
    json_object *src, *t1;
    char bad[41], good[41];
    const char *msg;
    strbuf want = STRBUF_INIT;

    write_tenant(f, "tenants/a-good.yaml", "t1", "1.0");
    assert_int_equal(gitfx_write(&f->repo, "tenants/b-bad.yaml",
                                 "apiVersion: omlop.io/v1alpha1\n"
                                 "kind: Tenant\n"
                                 "metadata:\n"
                                 "  name: t2\n"
                                 "spec:\n"
                                 "  layout: sideways\n"),
                     0);
    assert_int_equal(gitfx_commit(&f->repo, "bad", bad), 0);
    make_source(f, "fleet", "");
    do_sync(f, "fleet", 0, &res);
    assert_false(res.is_applied);
    assert_null(get(f, "tenants", "t1"));
    assert_null(get(f, "tenants", "t2"));
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_string_equal(cond_field(src, "Ready", "status"), "False");
    assert_string_equal(cond_field(src, "Ready", "reason"), "ValidationFailed");
    assert_string_equal(cond_field(src, "Stalled", "status"), "True");
    msg = cond_field(src, "Ready", "message");
    strbuf_addf(&want, "commit %s", bad);
    assert_non_null(strstr(msg, want.buf));
    assert_non_null(strstr(msg, "tenants/b-bad.yaml:6:11: spec.layout:"));
    assert_string_equal(cjson_get_string(src, "status.lastAttemptedCommit"), bad);
    assert_null(cjson_get_string(src, "status.lastAppliedCommit"));
    json_object_put(src);
    {
        strbuf msgs = STRBUF_INIT;

        assert_int_equal(count_events(f, "fleet", "ValidationFailed", &msgs), 1);
        assert_non_null(strstr(msgs.buf, "tenants/b-bad.yaml:6:11"));
        strbuf_release(&msgs);
    }

    /* the next good commit recovers */
    write_tenant(f, "tenants/b-bad.yaml", "t2", "1.0");
    assert_int_equal(gitfx_commit(&f->repo, "fixed", good), 0);
    do_sync(f, "fleet", 0, &res);
    assert_true(res.is_applied);
    t1 = get(f, "tenants", "t1");
    assert_non_null(t1);
    json_object_put(t1);
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_string_equal(cond_field(src, "Ready", "status"), "True");
    assert_string_equal(cond_field(src, "Stalled", "status"), "False");
    assert_string_equal(cjson_get_string(src, "status.lastAppliedCommit"), good);
    json_object_put(src);
    strbuf_release(&want);
}

static void test_two_documents_for_one_object_are_refused(void **state)
{
    fx *f = *state;
    gitsource_result res;
    json_object *src;
    char head[41];

    write_tenant(f, "tenants/a.yaml", "t1", "1.0");
    write_tenant(f, "tenants/b.yaml", "t1", "2.0");
    assert_int_equal(gitfx_commit(&f->repo, "dup", head), 0);
    make_source(f, "fleet", "");
    do_sync(f, "fleet", 0, &res);
    assert_null(get(f, "tenants", "t1"));
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_non_null(
        strstr(cond_field(src, "Ready", "message"), "Tenant t1 is also in tenants/a.yaml"));
    json_object_put(src);
}

static int set_prune(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    (void)cur;
    (void)err;
    json_object_object_add(json_object_object_get(next, "spec"), "prune",
                           json_object_new_boolean(*(int *)ctx));
    return 0;
}

static void test_prune_deletes_a_removed_files_tenant(void **state)
{
    fx *f = *state;
    gitsource_result res;
    json_object *src, *t2;
    char c1[41], c2[41];
    int on = 1, off = 0;

    write_tenant(f, "tenants/t1.yaml", "t1", "1.0");
    write_tenant(f, "tenants/t2.yaml", "t2", "1.0");
    assert_int_equal(gitfx_commit(&f->repo, "two", c1), 0);
    make_source(f, "fleet", "\"prune\":false");
    do_sync(f, "fleet", 0, &res);
    t2 = get(f, "tenants", "t2");
    assert_non_null(t2);
    json_object_put(t2);

    assert_int_equal(gitfx_write(&f->repo, "tenants/t2.yaml", NULL), 0);
    assert_int_equal(gitfx_commit(&f->repo, "drop t2", c2), 0);
    /* prune off: it stays, reported as orphaned */
    do_sync(f, "fleet", 0, &res);
    t2 = get(f, "tenants", "t2");
    assert_non_null(t2);
    json_object_put(t2);
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(cjson_get(src, "status.orphaned"), 0)),
        "Tenant/t2");
    assert_int_equal(cjson_get_int(src, "status.pruned", -1), 0);
    json_object_put(src);

    /* prune on (a spec change: synced at once) */
    update_source(f, "fleet", set_prune, &on);
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_true(gitsource_wants_sync(src));
    json_object_put(src);
    do_sync(f, "fleet", 0, &res);
    assert_null(get(f, "tenants", "t2"));
    t2 = get(f, "tenants", "t1");
    assert_non_null(t2);
    json_object_put(t2);
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_int_equal(cjson_get_int(src, "status.pruned", -1), 1);
    assert_int_equal(json_object_array_length(cjson_get(src, "status.orphaned")), 0);
    assert_false(gitsource_wants_sync(src));
    json_object_put(src);
    (void)off;
}

static void test_a_hand_applied_tenant_is_not_taken_over(void **state)
{
    fx *f = *state;
    gitsource_result res;
    json_object *obj, *hand, *src;
    obj_result r = {0};
    omlop_err err = OMLOP_ERR_INIT;
    strbuf text = STRBUF_INIT;
    char head[41];
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();

    /* t1 applied by hand, with another image tag */
    strbuf_addf(&text, tenant_fmt, "t1", "0.9");
    assert_int_equal(yaml_load_buffer("hand", text.buf, text.len, NULL, &docs, dl), 0);
    assert_int_equal(schema_set_decode(f->schemas, docs.docs[0].root, "hand", &obj, dl), 0);
    assert_int_equal(obj_create(f->st, "tenants", obj, 0, &r, &err), 0);
    obj_result_release(&r);
    json_object_put(obj);

    write_tenant(f, "tenants/t1.yaml", "t1", "1.0");
    write_tenant(f, "tenants/t2.yaml", "t2", "1.0");
    assert_int_equal(gitfx_commit(&f->repo, "two", head), 0);
    make_source(f, "fleet", "");
    do_sync(f, "fleet", 0, &res);

    hand = get(f, "tenants", "t1");
    assert_string_equal(cjson_get_string(hand, "spec.images.tags.omlapp"), "0.9");
    assert_null(map_get(hand, "metadata.labels", GITSOURCE_LABEL));
    json_object_put(hand);
    hand = get(f, "tenants", "t2"); /* the rest is applied */
    assert_non_null(hand);
    json_object_put(hand);
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_string_equal(cond_field(src, "Conflict", "status"), "True");
    assert_non_null(strstr(cond_field(src, "Conflict", "message"), "Tenant t1"));
    assert_string_equal(cond_field(src, "Ready", "reason"), "Conflict");
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(cjson_get(src, "status.conflicts"), 0)),
        "Tenant/t1");
    json_object_put(src);

    /* another source does not take t2 from fleet */
    make_source(f, "other", "");
    do_sync(f, "other", 0, &res);
    src = get(f, GITSOURCE_PLURAL, "other");
    assert_non_null(strstr(cond_field(src, "Conflict", "message"), "belongs to GitSource fleet"));
    json_object_put(src);
    hand = get(f, "tenants", "t2");
    assert_string_equal(map_get(hand, "metadata.labels", GITSOURCE_LABEL), "fleet");
    json_object_put(hand);
    ydoc_list_release(&docs);
    diag_list_free(dl);
    strbuf_release(&text);
}

static void test_a_tag_and_a_fixed_commit_resolve(void **state)
{
    fx *f = *state;
    gitsource_result res;
    json_object *t;
    char c1[41], c2[41];
    strbuf extra = STRBUF_INIT;

    write_tenant(f, "tenants/t1.yaml", "t1", "1.0");
    assert_int_equal(gitfx_commit(&f->repo, "one", c1), 0);
    assert_int_equal(gitfx_tag(&f->repo, "v1", c1), 0);
    write_tenant(f, "tenants/t1.yaml", "t1", "2.0");
    assert_int_equal(gitfx_commit(&f->repo, "two", c2), 0);

    make_source(f, "bytag", "\"tag\":\"v1\"");
    do_sync(f, "bytag", 0, &res);
    t = get(f, "tenants", "t1");
    assert_string_equal(cjson_get_string(t, "spec.images.tags.omlapp"), "1.0");
    assert_string_equal(map_get(t, "metadata.annotations", GITSOURCE_COMMIT_ANNOTATION), c1);
    json_object_put(t);

    /* the tag moves: the tenant follows */
    assert_int_equal(gitfx_tag(&f->repo, "v1", c2), 0);
    do_sync(f, "bytag", 0, &res);
    t = get(f, "tenants", "t1");
    assert_string_equal(cjson_get_string(t, "spec.images.tags.omlapp"), "2.0");
    json_object_put(t);

    strbuf_addf(&extra, "\"commit\":\"%s\",\"prune\":true", c1);
    make_source(f, "bycommit", extra.buf);
    do_sync(f, "bycommit", 0, &res);
    t = get(f, GITSOURCE_PLURAL, "bycommit");
    assert_string_equal(cjson_get_string(t, "status.lastFetchedCommit"), c1);
    json_object_put(t);
    strbuf_release(&extra);
}

static int add_hand_change(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    (void)cur;
    (void)ctx;
    (void)err;
    json_object_object_add(cjson_get(next, "metadata.annotations"), "note",
                           json_object_new_string("by hand"));
    return 0;
}

/* The 3-way merge of omlctl apply: what the file stops saying goes, other writers' stays. */
static void test_apply_merges_three_ways(void **state)
{
    fx *f = *state;
    gitsource_result res;
    json_object *t;
    strbuf text = STRBUF_INIT;
    obj_result r = {0};
    omlop_err err = OMLOP_ERR_INIT;
    char c1[41], c2[41];

    strbuf_addf(&text, tenant_fmt, "t1", "1.0");
    strbuf_adds(&text, "  timeZone: America/Argentina/Cordoba\n");
    assert_int_equal(gitfx_write(&f->repo, "tenants/t1.yaml", text.buf), 0);
    assert_int_equal(gitfx_commit(&f->repo, "one", c1), 0);
    make_source(f, "fleet", "");
    do_sync(f, "fleet", 0, &res);
    assert_int_equal(obj_update(f->st, "tenants", "t1", NULL, add_hand_change, NULL, &r, &err), 0);
    obj_result_release(&r);

    write_tenant(f, "tenants/t1.yaml", "t1", "2.0"); /* no timeZone any more */
    assert_int_equal(gitfx_commit(&f->repo, "two", c2), 0);
    do_sync(f, "fleet", 0, &res);
    t = get(f, "tenants", "t1");
    assert_string_equal(cjson_get_string(t, "spec.images.tags.omlapp"), "2.0");
    /* removed from the file: back to the schema's default */
    assert_string_equal(cjson_get_string(t, "spec.timeZone"), "UTC");
    assert_string_equal(map_get(t, "metadata.annotations", "note"), "by hand");
    assert_string_equal(map_get(t, "metadata.annotations", GITSOURCE_COMMIT_ANNOTATION), c2);
    json_object_put(t);
    strbuf_release(&text);
}

static int set_suspend(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    (void)cur;
    (void)err;
    json_object_object_add(json_object_object_get(next, "spec"), "suspend",
                           json_object_new_boolean(*(int *)ctx));
    return 0;
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

static void test_suspend_stops_syncing_and_a_request_is_handled_once(void **state)
{
    fx *f = *state;
    gitsource_result res;
    json_object *src;
    char c1[41];
    int on = 1, off = 0;

    write_tenant(f, "tenants/t1.yaml", "t1", "1.0");
    assert_int_equal(gitfx_commit(&f->repo, "one", c1), 0);
    make_source(f, "fleet", "\"suspend\":true,\"interval\":\"30s\"");
    do_sync(f, "fleet", 0, &res);
    assert_true(res.is_suspended);
    assert_int_equal(res.interval_ms, 30000);
    assert_null(get(f, "tenants", "t1"));
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_null(cjson_get(src, "status.lastFetchedCommit"));
    json_object_put(src);

    update_source(f, "fleet", set_suspend, &off);
    do_sync(f, "fleet", 0, &res);
    assert_false(res.is_suspended);
    src = get(f, "tenants", "t1");
    assert_non_null(src);
    json_object_put(src);

    /* a request (kubectl annotate) is wanted until handled, then not again */
    update_source(f, "fleet", request_sync, "2026-12-05T05:00:00Z");
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_true(gitsource_wants_sync(src));
    json_object_put(src);
    do_sync(f, "fleet", 0, &res);
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_false(gitsource_wants_sync(src));
    assert_string_equal(cjson_get_string(src, "status.lastHandledSyncRequest"),
                        "2026-12-05T05:00:00Z");
    json_object_put(src);
    update_source(f, "fleet", set_suspend, &on);
    do_sync(f, "fleet", 0, &res);
    assert_true(res.is_suspended);
}

/* A suspended source says so in its status and fetches nothing: a new commit stays unseen. */
static void test_a_suspended_source_says_so_and_does_not_fetch(void **state)
{
    fx *f = *state;
    gitsource_result res;
    json_object *src;
    strbuf path = STRBUF_INIT, msgs = STRBUF_INIT;
    char c1[41], c2[41];
    int on = 1, off = 0;
    struct stat sb;

    /* suspended from the start: no copy made, no commit known, no Event */
    write_tenant(f, "tenants/t1.yaml", "t1", "1.0");
    assert_int_equal(gitfx_commit(&f->repo, "one", c1), 0);
    make_source(f, "fleet", "\"suspend\":true");
    do_sync(f, "fleet", 0, &res);
    assert_true(res.is_suspended);
    strbuf_addf(&path, "%s/gitsources/fleet", f->data);
    assert_int_equal(stat(path.buf, &sb), -1);
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_string_equal(cond_field(src, "Ready", "status"), "False");
    assert_string_equal(cond_field(src, "Ready", "reason"), "Suspended");
    assert_non_null(strstr(cond_field(src, "Ready", "message"), "no commit applied yet"));
    assert_string_equal(cond_field(src, "Fetching", "reason"), "Suspended");
    assert_string_equal(cond_field(src, "Stalled", "status"), "False");
    assert_int_equal(cjson_get_int(src, "status.observedGeneration", 0),
                     cjson_get_int(src, "metadata.generation", -1));
    assert_null(cjson_get(src, "status.lastFetchedCommit"));
    assert_false(gitsource_wants_sync(src)); /* the generation is seen: no sync loop */
    json_object_put(src);
    assert_int_equal(count_events(f, "fleet", "Synced", &msgs), 0);

    /* applied, then suspended: a new commit is neither fetched nor applied */
    update_source(f, "fleet", set_suspend, &off);
    do_sync(f, "fleet", 0, &res);
    assert_true(res.is_applied);
    update_source(f, "fleet", set_suspend, &on);
    write_tenant(f, "tenants/t1.yaml", "t1", "2.0");
    assert_int_equal(gitfx_commit(&f->repo, "two", c2), 0);
    do_sync(f, "fleet", 1, &res); /* even forced */
    assert_true(res.is_suspended);
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_string_equal(cond_field(src, "Ready", "reason"), "Suspended");
    assert_non_null(strstr(cond_field(src, "Ready", "message"), c1));
    assert_string_equal(cjson_get_string(src, "status.lastFetchedCommit"), c1);
    assert_string_equal(cjson_get_string(src, "status.lastAppliedCommit"), c1);
    json_object_put(src);
    src = get(f, "tenants", "t1");
    assert_string_equal(cjson_get_string(src, "spec.images.tags.omlapp"), "1.0");
    json_object_put(src);

    /* resumed: fetched and applied at once, Ready again */
    update_source(f, "fleet", set_suspend, &off);
    do_sync(f, "fleet", 0, &res);
    assert_false(res.is_suspended);
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_string_equal(cond_field(src, "Ready", "status"), "True");
    assert_string_equal(cjson_get_string(src, "status.lastAppliedCommit"), c2);
    json_object_put(src);
    strbuf_release(&path);
    strbuf_release(&msgs);
}

static void test_a_fetch_failure_stalls_and_changes_nothing(void **state)
{
    fx *f = *state;
    gitsource_result res;
    json_object *src;

    make_source(f, "fleet", "\"branch\":\"nope\"");
    do_sync(f, "fleet", 0, &res); /* the repository has no commit at all */
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_string_equal(cond_field(src, "Stalled", "status"), "True");
    assert_string_equal(cond_field(src, "Stalled", "reason"), "RevisionNotFound");
    assert_non_null(strstr(cond_field(src, "Ready", "message"), "branch nope not found"));
    json_object_put(src);
}

static int set_ssh(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    json_object *spec = json_object_object_get(next, "spec"), *ref = json_object_new_object();

    (void)cur;
    (void)err;
    json_object_object_add(spec, "url", json_object_new_string("ssh://git@127.0.0.1:1/fleet.git"));
    json_object_object_add(ref, "name", json_object_new_string(ctx));
    json_object_object_add(spec, "secretRef", ref);
    return 0;
}

/* Credentials: a missing Secret, then an ssh:// source without a known host key: Stalled. */
static void test_missing_credentials_stall_with_the_reason(void **state)
{
    fx *f = *state;
    gitsource_result res;
    json_object *src;
    obj_result r = {0};
    omlop_err err = OMLOP_ERR_INIT;
    json_object *secret = json_tokener_parse(
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
        "\"git-creds\"},\"stringData\":{\"identity\":\"-----BEGIN OPENSSH PRIVATE KEY-----\"}}");

    make_source(f, "fleet", "");
    update_source(f, "fleet", set_ssh, "no-such-secret");
    do_sync(f, "fleet", 0, &res);
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_string_equal(cond_field(src, "Stalled", "status"), "True");
    assert_string_equal(cond_field(src, "Stalled", "reason"), "SecretNotFound");
    assert_non_null(strstr(cond_field(src, "Ready", "message"), "no-such-secret"));
    json_object_put(src);
    /* named like a tenant's generated Secret: still not found, and not generated */
    update_source(f, "fleet", set_ssh, "fleet-postgres");
    do_sync(f, "fleet", 0, &res);
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_string_equal(cond_field(src, "Stalled", "reason"), "SecretNotFound");
    json_object_put(src);
    assert_null(get(f, "secrets", "fleet-postgres"));

    assert_int_equal(obj_create(f->st, "secrets", secret, 0, &r, &err), 0);
    obj_result_release(&r);
    json_object_put(secret);
    update_source(f, "fleet", set_ssh, "git-creds");
    do_sync(f, "fleet", 0, &res);
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_string_equal(cond_field(src, "Stalled", "reason"), "AuthenticationFailed");
    assert_non_null(strstr(cond_field(src, "Ready", "message"), "knownHostKey"));
    assert_null(strstr(cond_field(src, "Ready", "message"), "PRIVATE KEY"));
    assert_null(cjson_get(src, "status.lastFetchedCommit"));
    json_object_put(src);
}

static int set_ssh_url(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    json_object *spec = json_object_object_get(next, "spec"), *ref = json_object_new_object();

    (void)cur;
    (void)err;
    json_object_object_add(spec, "url", json_object_new_string(ctx));
    json_object_object_add(ref, "name", json_object_new_string("git-creds"));
    json_object_object_add(spec, "secretRef", ref);
    return 0;
}

/* A server that accepts the connection and never answers: Stalled, FetchTimeout, at the deadline.
 */
static void test_a_silent_server_stalls_at_the_deadline(void **state)
{
    fx *f = *state;
    gitsource_result res;
    json_object *src;
    obj_result r = {0};
    omlop_err err = OMLOP_ERR_INIT;
    strbuf url = STRBUF_INIT;
    int port = 0, fd = fixture_listen(&port); /* listening, never accepting */
    int64_t start;
    json_object *secret = json_tokener_parse(
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
        "\"git-creds\"},\"stringData\":{\"identity\":\"-----BEGIN OPENSSH PRIVATE KEY-----\","
        "\"knownHostKey\":\"ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\"}}");

    assert_true(fd >= 0);
    assert_int_equal(obj_create(f->st, "secrets", secret, 0, &r, &err), 0);
    obj_result_release(&r);
    json_object_put(secret);
    strbuf_addf(&url, "ssh://git@127.0.0.1:%d/fleet.git", port);
    make_source(f, "fleet", "");
    update_source(f, "fleet", set_ssh_url, url.buf);
    f->deps.fetch_timeout_ms = 1000;
    start = clock_now_ms();
    do_sync(f, "fleet", 0, &res);
    assert_true(clock_now_ms() - start < 1000 + GITCLIENT_KILL_GRACE_MS + 1500);
    src = get(f, GITSOURCE_PLURAL, "fleet");
    assert_string_equal(cond_field(src, "Stalled", "status"), "True");
    assert_string_equal(cond_field(src, "Stalled", "reason"), "FetchTimeout");
    assert_string_equal(cond_field(src, "Ready", "status"), "False");
    assert_string_equal(cond_field(src, "Fetching", "status"), "False");
    assert_non_null(strstr(cond_field(src, "Ready", "message"), "no answer within 1000 ms"));
    assert_null(strstr(cond_field(src, "Ready", "message"), "PRIVATE KEY"));
    assert_null(cjson_get(src, "status.lastFetchedCommit"));
    json_object_put(src);
    close(fd);
    strbuf_release(&url);
}

static void test_interval_parsing(void **state)
{
    (void)state;
    assert_int_equal(gitsource_interval_ms("30s"), 30000);
    assert_int_equal(gitsource_interval_ms("5m"), 300000);
    assert_int_equal(gitsource_interval_ms("24h"), 86400000);
    assert_int_equal(gitsource_interval_ms("25h"), -1);
    assert_int_equal(gitsource_interval_ms("0s"), -1);
    assert_int_equal(gitsource_interval_ms("5"), -1);
    assert_int_equal(gitsource_interval_ms("5ms"), -1);
    assert_int_equal(gitsource_interval_ms(NULL), GITSOURCE_DEFAULT_INTERVAL_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_commit_with_two_tenants_applies_both, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_one_invalid_manifest_applies_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_documents_for_one_object_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prune_deletes_a_removed_files_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_hand_applied_tenant_is_not_taken_over, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_tag_and_a_fixed_commit_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_merges_three_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suspend_stops_syncing_and_a_request_is_handled_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_suspended_source_says_so_and_does_not_fetch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_fetch_failure_stalls_and_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_credentials_stall_with_the_reason, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_silent_server_stalls_at_the_deadline, setup,
                                        teardown),
        cmocka_unit_test(test_interval_parsing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
