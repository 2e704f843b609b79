/*
 * Tests for reconcilers/tenant (one reconcile round) against a small stateful
 * fake of Podman's HTTP API on a unix socket and a real sqlite store: a first
 * round creates every component and reports Ready; a second round changes
 * nothing; a died container is started again and counted as a restart; a tag
 * that cannot be pulled degrades the tenant naming that component while the
 * others still run; a deleted tenant is torn down (through the finalizer:
 * containers, generated Secrets, with Purge the named volumes; an unreachable
 * host blocks it). The real Podman path is e2e/scenarios/30-aio-converge.
 */
#include "unit-tests/reconcilers/tenant_harness.h"

/* ---- tests -------------------------------------------------------------------------------- */

static void test_reconcile_creates_everything_then_is_a_noop(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t;
    size_t created;
    int64_t gen;

    reconcile_ok(fx, &res);
    assert_false(res.is_gone);
    created = (size_t)fx->f.n_created;
    assert_true(created >= 10);
    assert_int_equal(fx->f.n, created);
    for (size_t i = 0; i < fx->f.n; i++) {
        assert_string_equal(fx->f.c[i].state, "running");
        assert_string_equal(label(fx->f.c[i].labels, "omlop.io/tenant"), "t1");
        assert_string_equal(label(fx->f.c[i].labels, "omlop.io/managed-by"), "omlop");
        assert_non_null(label(fx->f.c[i].labels, "omlop.io/spec-hash"));
    }
    assert_true(fx->f.n_pulled > 0); /* nothing was on the host */
    t = stored_tenant(fx);
    gen = cjson_get_int(t, "metadata.generation", 0);
    assert_int_equal(gen, 1); /* the status write leaves the spec's generation alone */
    assert_int_equal(cjson_get_int(t, "status.observedGeneration", 0), 1);
    assert_string_equal(cond_status(t, "Ready"), "True");
    assert_string_equal(cond_status(t, "HostsReachable"), "True");
    assert_string_equal(cond_status(t, "Progressing"), "True"); /* it just did work */
    assert_string_equal(cjson_get_string(json_object_array_get_idx(cjson_get(t, "status.hosts"), 0),
                                         "hostKeyFingerprint"),
                        "SHA256:test");
    assert_int_equal(json_object_array_length(cjson_get(
                         json_object_array_get_idx(cjson_get(t, "status.hosts"), 0), "components")),
                     created);
    json_object_put(t);
    /* generated Secrets exist now, with random values */
    {
        store_kv kv = {0};

        assert_int_equal(store_get(fx->st, SECRETS_KEY_PREFIX "t1-postgres", &kv, NULL), 0);
        assert_non_null(strstr(kv.value, "\"password\""));
        store_kv_release(&kv);
    }

    reconcile_ok(fx, &res);
    assert_true(res.is_converged);
    /* nothing to confirm: looked at again only for the certificate's renewal, months ahead
     * (test_tenant_tls.c has the exact time) */
    assert_true(res.requeue_ms > 200LL * 24 * 3600 * 1000);
    assert_int_equal((size_t)fx->f.n_created, created);
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Progressing"), "False");
    assert_string_equal(cjson_get_string(t, "status.phase"), "Ready");
    json_object_put(t);
    /* a round that finds nothing new writes nothing (no watcher is woken) */
    {
        store_kv before = {0}, after = {0};

        assert_int_equal(store_get(fx->st, TENANT_KEY_PREFIX "t1", &before, NULL), 0);
        reconcile_ok(fx, &res);
        assert_true(res.is_converged);
        assert_int_equal(store_get(fx->st, TENANT_KEY_PREFIX "t1", &after, NULL), 0);
        assert_int_equal(after.mod_revision, before.mod_revision);
        store_kv_release(&before);
        store_kv_release(&after);
    }
}

static void test_reconcile_restarts_a_died_container(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t;
    fctr *c;
    int started;

    reconcile_ok(fx, &res);
    pthread_mutex_lock(&fx->f.lock);
    c = find_ctr(&fx->f, "oml-nginx-server");
    assert_non_null(c);
    snprintf(c->state, sizeof(c->state), "exited");
    c->exit_code = 137;
    started = fx->f.n_started;
    pthread_mutex_unlock(&fx->f.lock);

    reconcile_ok(fx, &res);
    assert_int_equal(fx->f.n_started, started + 1);
    assert_string_equal(find_ctr(&fx->f, "oml-nginx-server")->state, "running");
    t = stored_tenant(fx);
    assert_int_equal(cjson_get_int(status_component(t, "nginx"), "restarts", 0), 1);
    assert_non_null(cjson_get_string(status_component(t, "nginx"), "lastDriftRepaired"));
    assert_string_equal(cond_status(t, "Ready"), "True");
    json_object_put(t);
}

static void test_reconcile_bad_pull_degrades_only_that_component(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *t;
    const char *msg;

    snprintf(fx->f.bad_image, sizeof(fx->f.bad_image), "reg.test:5000/omnileads/nginx:241009.01");
    assert_true(tenant_reconcile(&fx->env, "t1", &res, &err) < 0); /* retried with backoff */
    assert_non_null(strstr(err.msg, "nginx"));
    assert_null(find_ctr(&fx->f, "oml-nginx-server"));
    assert_non_null(find_ctr(&fx->f, "oml-redis-server"));
    assert_string_equal(find_ctr(&fx->f, "oml-redis-server")->state, "running");
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Degraded"), "True");
    msg = cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "Degraded"), "message");
    assert_non_null(strstr(msg, "nginx"));
    assert_non_null(strstr(msg, "manifest unknown"));
    assert_string_equal(cond_status(t, "Ready"), "False");
    assert_string_equal(cjson_get_string(status_component(t, "nginx"), "state"), "Missing");
    assert_string_equal(cjson_get_string(t, "status.phase"), "Degraded");
    /* the live plan: what is still to do, on which host, and why it did not happen */
    {
        json_object *pl = cjson_get(t, "status.plan"), *pull = NULL, *create = NULL;

        assert_non_null(pl);
        for (size_t i = 0; i < json_object_array_length(pl); i++) {
            json_object *e = json_object_array_get_idx(pl, i);
            const char *act = cjson_get_string(e, "action");

            assert_string_equal(cjson_get_string(e, "host"), "h1");
            if (strcmp(act, "pull") == 0)
                pull = e;
            else if (strcmp(act, "create") == 0)
                create = e;
        }
        assert_int_equal(json_object_array_length(pl), 2); /* only nginx's pull and create */
        assert_non_null(pull);
        assert_string_equal(cjson_get_string(pull, "image"),
                            "reg.test:5000/omnileads/nginx:241009.01");
        assert_non_null(strstr(cjson_get_string(pull, "error"), "manifest unknown"));
        assert_non_null(create);
        assert_string_equal(cjson_get_string(create, "container"), "oml-nginx-server");
        assert_string_equal(cjson_get_string(create, "reason"), "missing");
    }
    json_object_put(t);

    fx->f.bad_image[0] = '\0'; /* the tag is fixed */
    reconcile_ok(fx, &res);
    assert_non_null(find_ctr(&fx->f, "oml-nginx-server"));
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Ready"), "True");
    assert_string_equal(cond_status(t, "Degraded"), "False");
    assert_null(cjson_get(t, "status.plan")); /* converged: nothing pending */
    json_object_put(t);
}

static void test_reconcile_removes_orphans_and_tears_down(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    store_kv kv = {0};
    fctr *c;

    reconcile_ok(fx, &res);
    /* a hand-made container carrying omlop's labels for this tenant is an orphan */
    pthread_mutex_lock(&fx->f.lock);
    c = &fx->f.c[fx->f.n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "oml-stray");
    snprintf(c->id, sizeof(c->id), "stray");
    snprintf(c->image, sizeof(c->image), "reg.test:5000/x:1");
    snprintf(c->state, sizeof(c->state), "running");
    c->labels =
        json_tokener_parse("{\"omlop.io/tenant\":\"t1\",\"omlop.io/managed-by\":\"omlop\"}");
    pthread_mutex_unlock(&fx->f.lock);
    reconcile_ok(fx, &res);
    assert_null(find_ctr(&fx->f, "oml-stray"));

    assert_int_equal(store_get(fx->st, TENANT_KEY_PREFIX "t1", &kv, &err), 0);
    assert_int_equal(store_delete(fx->st, TENANT_KEY_PREFIX "t1", 0, NULL, &err), 0);
    reconcile_ok(fx, &res);
    assert_true(res.is_gone);
    assert_true(fx->f.n > 0);
    if (tenant_teardown(&fx->env, kv.value, &err) < 0)
        fail_msg("teardown: %s", err.msg);
    assert_int_equal(fx->f.n, 0);
    store_kv_release(&kv);
}

static void set_stop_mode(fixture *fx, const char *name, fstop mode)
{
    fctr *c;

    pthread_mutex_lock(&fx->f.lock);
    c = find_ctr(&fx->f, name);
    assert_non_null(c);
    c->stop_mode = mode;
    pthread_mutex_unlock(&fx->f.lock);
}

/* Where needle starts in the fake's operation log (-1: absent). */
static long op_at(fixture *fx, const char *needle)
{
    const char *p;
    long at;

    pthread_mutex_lock(&fx->f.lock);
    p = strstr(strbuf_str(&fx->f.ops), needle);
    at = p ? (long)(p - fx->f.ops.buf) : -1;
    pthread_mutex_unlock(&fx->f.lock);
    return at;
}

/*
 * An upgrade: one tag changed -> only that component is recreated, with the new image (and
 * killed when it does not stop).
 */
static void test_reconcile_upgrade_recreates_only_the_changed_component(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *t, *tags;
    strbuf text = STRBUF_INIT;
    char redis_id[32], nginx_id[32];
    int created, removed;

    reconcile_ok(fx, &res);
    snprintf(redis_id, sizeof(redis_id), "%s", find_ctr(&fx->f, "oml-redis-server")->id);
    snprintf(nginx_id, sizeof(nginx_id), "%s", find_ctr(&fx->f, "oml-nginx-server")->id);
    created = fx->f.n_created;
    removed = fx->f.n_removed;
    t = stored_tenant(fx);
    tags = cjson_get(t, "spec.images.tags");
    assert_non_null(tags);
    json_object_object_add(tags, "nginx", json_object_new_string("250301.01"));
    object_store_text(t, &text);
    assert_int_equal(
        store_update(fx->st, TENANT_KEY_PREFIX "t1", text.buf, text.len, 0, NULL, &err), 0);
    json_object_put(t);
    strbuf_release(&text);
    /* its PID 1 ignores SIGTERM and Podman's stop fails: killed, then recreated */
    set_stop_mode(fx, "oml-nginx-server", FSTOP_STUCK);
    fx->env.stop_timeout_s = 1;

    reconcile_ok(fx, &res);
    assert_true(op_at(fx, "stop oml-nginx-server t=1;") >= 0);
    assert_true(op_at(fx, "kill oml-nginx-server;") >= 0);
    assert_int_equal(fx->f.n_created, created + 1);
    assert_int_equal(fx->f.n_removed, removed + 1);
    assert_string_equal(find_ctr(&fx->f, "oml-nginx-server")->image,
                        "reg.test:5000/omnileads/nginx:250301.01");
    assert_string_not_equal(find_ctr(&fx->f, "oml-nginx-server")->id, nginx_id);
    assert_string_equal(find_ctr(&fx->f, "oml-redis-server")->id, redis_id);
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Ready"), "True");
    assert_string_equal(cjson_get_string(cjson_get(t, "status.images"), "nginx"),
                        "reg.test:5000/omnileads/nginx:250301.01");
    assert_non_null(cjson_get_string(status_component(t, "nginx"), "lastDriftRepaired"));
    assert_null(cjson_get_string(status_component(t, "redis"), "lastDriftRepaired"));
    json_object_put(t);
}

static void test_reconcile_leaves_a_paused_tenant_alone(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    store_kv kv = {0};
    json_object *t = stored_tenant(fx), *ann = json_object_new_object();
    strbuf text = STRBUF_INIT;

    json_object_object_add(ann, TENANT_PAUSED_ANNOTATION, json_object_new_string("true"));
    json_object_object_add(cjson_get(t, "metadata"), "annotations", ann);
    object_store_text(t, &text);
    assert_int_equal(
        store_update(fx->st, TENANT_KEY_PREFIX "t1", text.buf, text.len, 0, NULL, &err), 0);
    reconcile_ok(fx, &res);
    assert_int_equal(fx->f.n_created, 0);
    assert_int_equal(fx->f.n, 0);
    assert_int_equal(store_get(fx->st, TENANT_KEY_PREFIX "t1", &kv, &err), 0);
    assert_null(strstr(kv.value, "\"status\""));
    store_kv_release(&kv);
    strbuf_release(&text);
    json_object_put(t);
}

/* A restore's hold (reconcilers/restore.h): nothing is created or started, no status written;
 * an empty value holds nothing. */
static void test_reconcile_leaves_a_restore_held_tenant_alone(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    store_kv kv = {0};
    json_object *t = stored_tenant(fx), *ann = json_object_new_object();
    strbuf text = STRBUF_INIT;

    json_object_object_add(ann, TENANT_RESTORE_HOLD_ANNOTATION, json_object_new_string("r1"));
    json_object_object_add(cjson_get(t, "metadata"), "annotations", ann);
    object_store_text(t, &text);
    assert_int_equal(
        store_update(fx->st, TENANT_KEY_PREFIX "t1", text.buf, text.len, 0, NULL, &err), 0);
    reconcile_ok(fx, &res);
    assert_int_equal(fx->f.n_created, 0);
    assert_false(res.is_converged);
    assert_int_equal(store_get(fx->st, TENANT_KEY_PREFIX "t1", &kv, &err), 0);
    assert_null(strstr(kv.value, "\"status\""));
    store_kv_release(&kv);
    json_object_object_add(ann, TENANT_RESTORE_HOLD_ANNOTATION, json_object_new_string(""));
    strbuf_reset(&text);
    object_store_text(t, &text);
    assert_int_equal(
        store_update(fx->st, TENANT_KEY_PREFIX "t1", text.buf, text.len, 0, NULL, &err), 0);
    reconcile_ok(fx, &res);
    assert_true(fx->f.n_created > 0);
    strbuf_release(&text);
    json_object_put(t);
}

/* ---- deletion through the finalizer ------------------------------------------------------- */

static void add_foreign_container(fixture *fx)
{
    fctr *c;

    pthread_mutex_lock(&fx->f.lock);
    c = &fx->f.c[fx->f.n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "other-redis");
    snprintf(c->id, sizeof(c->id), "other");
    snprintf(c->image, sizeof(c->image), "reg.test:5000/x:1");
    snprintf(c->state, sizeof(c->state), "running");
    c->labels =
        json_tokener_parse("{\"omlop.io/tenant\":\"t2\",\"omlop.io/managed-by\":\"omlop\"}");
    pthread_mutex_unlock(&fx->f.lock);
}

static void test_reconcile_adds_the_finalizer_without_bumping_generation(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t;

    reconcile_ok(fx, &res);
    t = stored_tenant(fx);
    assert_true(tenant_has_finalizer(t));
    assert_int_equal(json_object_array_length(cjson_get(t, "metadata.finalizers")), 1);
    assert_int_equal(cjson_get_int(t, "metadata.generation", 0), 1);
    json_object_put(t);
    reconcile_ok(fx, &res); /* not added twice */
    t = stored_tenant(fx);
    assert_int_equal(json_object_array_length(cjson_get(t, "metadata.finalizers")), 1);
    json_object_put(t);
}

static void test_deletion_tears_down_and_releases_the_finalizer(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    store_kv kv = {0};
    char msg[1024];

    reconcile_ok(fx, &res);
    assert_true(secret_exists(fx, "t1-postgres"));
    add_foreign_container(fx);
    mark_deleted(fx);
    reconcile_ok(fx, &res);
    assert_true(res.is_gone);
    /* only the other tenant's container is left; volumes kept (deletionPolicy Keep) */
    assert_int_equal(fx->f.n, 1);
    assert_non_null(find_ctr(&fx->f, "other-redis"));
    assert_string_equal(fx->f.removed_volumes, "");
    assert_int_equal(store_get(fx->st, TENANT_KEY_PREFIX "t1", &kv, NULL), OMLOP_ENOTFOUND);
    assert_false(secret_exists(fx, "t1-postgres"));
    assert_false(secret_exists(fx, "t1-ami"));
    assert_true(secret_exists(fx, "t1-ssh")); /* the user's, not generated */
    assert_true(find_event(fx, "TornDown", NULL, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "volumes kept"));
}

/* Whether a Tenant value the watch delivered had a Progressing message with every needle. */
static int watched_progress(store_watch *w, const char *const *needles)
{
    store_event ev;
    int found = 0;

    while (!found && store_watch_next(w, &ev, 0, NULL) == 0) {
        json_object *t = ev.kv.value ? object_parse(ev.kv.value, ev.kv.value_len) : NULL;
        const char *m = cjson_get_string(
            tenant_condition_find(cjson_get(t, "status"), "Progressing"), "message");

        found = m != NULL;
        for (size_t i = 0; found && needles[i]; i++)
            found = strstr(m, needles[i]) != NULL;
        json_object_put(t);
        store_event_release(&ev);
    }
    return found;
}

/*
 * Containers whose PID 1 ignores SIGTERM: each is stopped with its timeout and
 * killed, in parallel, without holding up the others; the finalizer goes, and
 * the status and events said what was happening.
 */
static void test_deletion_kills_what_ignores_sigterm_without_holding_the_others(void **state)
{
    static const char *const progress[] = {"containers on h1: oml-", "(waiting up to 2s)", NULL};
    fixture *fx = *state;
    tenant_result res;
    store_watch *w = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    store_kv kv = {0};
    char msg[1024];
    long rm_redis;

    reconcile_ok(fx, &res);
    set_stop_mode(fx, "oml-cron-server", FSTOP_STUCK);
    set_stop_mode(fx, "oml-nginx-server", FSTOP_SLOW);
    set_stop_mode(fx, "oml-uwsgi-server", FSTOP_SLOW);
    fx->env.stop_timeout_s = 2;
    if (store_watch_open(fx->st, TENANT_KEY_PREFIX, 0, &w, &err) < 0)
        fail_msg("watch: %s", err.msg);
    mark_deleted(fx);
    reconcile_ok(fx, &res);

    assert_true(res.is_gone);
    assert_int_equal(fx->f.n, 0);
    assert_int_equal(store_get(fx->st, TENANT_KEY_PREFIX "t1", &kv, NULL), OMLOP_ENOTFOUND);
    /* each asked with its timeout; the stuck one killed, then every one removed */
    assert_true(op_at(fx, "stop oml-cron-server t=2;") >= 0);
    assert_true(op_at(fx, "stop oml-redis-server t=2;") >= 0);
    assert_true(op_at(fx, "kill oml-cron-server;") > op_at(fx, "stopped oml-cron-server;"));
    assert_true(op_at(fx, "rm oml-cron-server;") > op_at(fx, "kill oml-cron-server;"));
    assert_int_equal(op_at(fx, "kill oml-nginx-server;"), -1); /* Podman's stop killed it */
    assert_true(op_at(fx, "rm oml-nginx-server;") >= 0);
    /* in parallel: the three slow stops at once, and redis gone before any of them ended */
    assert_int_equal(fx->f.max_stopping, 3);
    rm_redis = op_at(fx, "rm oml-redis-server;");
    assert_true(rm_redis >= 0);
    assert_true(rm_redis < op_at(fx, "stopped oml-cron-server;"));
    assert_true(rm_redis < op_at(fx, "stopped oml-nginx-server;"));
    assert_true(rm_redis < op_at(fx, "stopped oml-uwsgi-server;"));
    /* progress: the status named what was still stopping while it waited */
    assert_true(watched_progress(w, progress));
    assert_true(find_event(fx, "Stopping", "on host h1", NULL, 0));
    assert_true(find_event(fx, "Killed", "oml-cron-server", msg, sizeof(msg)));
    assert_non_null(strstr(msg, "did not stop within 2s"));
    assert_true(find_event(fx, "Killed", "oml-nginx-server", NULL, 0));
    assert_false(find_event(fx, "Killed", "oml-redis-server", NULL, 0));
    assert_true(find_event(fx, "Removed", "from host h1", NULL, 0));
    assert_true(find_event(fx, "TornDown", NULL, NULL, 0));
    store_watch_close(w);
}

/* Without an override each component gets the catalog's stop timeout (postgresql longer). */
static void test_deletion_stops_each_component_with_its_timeout(void **state)
{
    fixture *fx = *state;
    tenant_result res;

    reconcile_ok(fx, &res);
    mark_deleted(fx);
    reconcile_ok(fx, &res);
    assert_true(res.is_gone);
    assert_true(op_at(fx, "stop oml-postgresql-server t=30;") >= 0);
    assert_true(op_at(fx, "stop oml-redis-server t=10;") >= 0);
    assert_int_equal(op_at(fx, "kill "), -1);
}

static void test_deletion_with_purge_removes_named_volumes(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t;

    t = stored_tenant(fx);
    json_object_object_add(cjson_get(t, "spec"), "deletionPolicy", json_object_new_string("Purge"));
    store_tenant(fx, t);
    json_object_put(t);
    reconcile_ok(fx, &res);
    mark_deleted(fx);
    reconcile_ok(fx, &res);
    assert_true(res.is_gone);
    assert_int_equal(fx->f.n, 0);
    assert_non_null(strstr(fx->f.removed_volumes, "oml_postgres "));
    assert_non_null(strstr(fx->f.removed_volumes, "oml_redis "));
}

/* How often needle occurs in hay (lib/err.h: a message names each host once). */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_deletion_blocked_by_an_unreachable_host_until_it_is_back(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *t;
    size_t n;
    char msg[1024];

    reconcile_ok(fx, &res);
    n = fx->f.n;
    mark_deleted(fx);
    fx->is_host_down = 1;
    assert_true(tenant_reconcile(&fx->env, "t1", &res, &err) < 0);
    assert_int_equal(count_of(err.msg, "host h1"), 1);
    assert_false(res.is_gone);
    assert_int_equal(fx->f.n, n); /* nothing touched */
    t = stored_tenant(fx);
    assert_true(tenant_has_finalizer(t)); /* no silent leak: the object waits */
    assert_string_equal(cjson_get_string(t, "status.phase"), "Deleting");
    assert_string_equal(cond_status(t, "Degraded"), "True");
    assert_string_equal(
        cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "Degraded"), "reason"),
        "TeardownBlocked");
    assert_int_equal(
        count_of(
            cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "Degraded"), "message"),
            "host h1"),
        1);
    json_object_put(t);
    assert_true(secret_exists(fx, "t1-postgres"));
    assert_true(find_event(fx, "TeardownBlocked", NULL, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "h1"));
    assert_non_null(strstr(msg, TENANT_FINALIZER));

    fx->is_host_down = 0;
    reconcile_ok(fx, &res);
    assert_true(res.is_gone);
    assert_int_equal(fx->f.n, 0);
}

static void test_deletion_keeps_other_finalizers_and_user_secrets(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t, *secret;

    reconcile_ok(fx, &res);
    /* a Secret the user made under a generated name (no omlop labels) is theirs */
    secret = json_tokener_parse("{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\","
                                "\"metadata\":{\"name\":\"t1-ami\"},"
                                "\"stringData\":{\"password\":\"mine\"}}");
    {
        omlop_err err = OMLOP_ERR_INIT;
        strbuf text = STRBUF_INIT;

        object_store_text(secret, &text);
        assert_int_equal(
            store_update(fx->st, SECRETS_KEY_PREFIX "t1-ami", text.buf, text.len, 0, NULL, &err),
            0);
        strbuf_release(&text);
    }
    json_object_put(secret);
    t = stored_tenant(fx);
    json_object_array_add(cjson_get(t, "metadata.finalizers"),
                          json_object_new_string("example.com/backup"));
    store_tenant(fx, t);
    json_object_put(t);
    mark_deleted(fx);
    reconcile_ok(fx, &res);
    assert_false(res.is_gone);
    assert_int_equal(fx->f.n, 0);
    t = stored_tenant(fx);
    assert_false(tenant_has_finalizer(t));
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(cjson_get(t, "metadata.finalizers"), 0)),
        "example.com/backup");
    json_object_put(t);
    assert_true(secret_exists(fx, "t1-ami"));
    assert_false(secret_exists(fx, "t1-postgres"));
    reconcile_ok(fx, &res); /* waiting for the other finalizer: nothing to do, no error */
    assert_false(res.is_gone);
}

static void test_reconcile_unpauses_a_paused_container(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    char msg[1024];
    int started;

    reconcile_ok(fx, &res);
    pthread_mutex_lock(&fx->f.lock);
    snprintf(find_ctr(&fx->f, "oml-redis-server")->state, sizeof(fx->f.c[0].state), "paused");
    started = fx->f.n_started;
    pthread_mutex_unlock(&fx->f.lock);
    reconcile_ok(fx, &res);
    assert_int_equal(fx->f.n_unpaused, 1);
    assert_int_equal(fx->f.n_started, started);
    assert_string_equal(find_ctr(&fx->f, "oml-redis-server")->state, "running");
    assert_true(find_event(fx, "Unpaused", NULL, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "oml-redis-server"));
    /* the client call itself: a missing container and a bad name are clear errors */
    assert_int_equal(podman_container_unpause(fx->pc, "nope", &err), OMLOP_ENOTFOUND);
    assert_int_equal(podman_container_unpause(fx->pc, "a/../b", &err), OMLOP_EINVAL);
}

/*
 * What the user reads of an unreachable host: the event's message is the host's error as
 * it is (the host named once, the reason not repeated in the message), and so is the
 * condition's. A missing SSH Secret is its own reason, in the event too.
 */
static void test_unreachable_host_messages_name_it_once(void **state)
{
    static const char want[] = "host h1: ssh 10.0.0.5:22: connection refused";
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    char msg[1024];
    json_object *t;

    fx->is_host_down = 1;
    assert_true(tenant_reconcile(&fx->env, "t1", &res, &err) < 0);
    assert_true(find_event(fx, "HostUnreachable", NULL, msg, sizeof(msg)));
    assert_string_equal(msg, want);
    t = stored_tenant(fx);
    assert_string_equal(
        cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "HostsReachable"),
                         "message"),
        want);
    json_object_put(t);

    assert_int_equal(store_delete(fx->st, SECRETS_KEY_PREFIX "t1-ssh", 0, NULL, &err), 0);
    assert_true(tenant_reconcile(&fx->env, "t1", &res, &err) < 0);
    assert_true(find_event(fx, "SecretNotFound", NULL, msg, sizeof(msg)));
    assert_string_equal(msg, "host h1: SSH key: Secret t1-ssh (key ssh-privatekey) not found: "
                             "create it (see crds/examples/secret.yaml)");
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Progressing"), "False");
    assert_string_equal(
        cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "Ready"), "reason"),
        "SecretNotFound");
    json_object_put(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reconcile_creates_everything_then_is_a_noop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_restarts_a_died_container, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_bad_pull_degrades_only_that_component, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_removes_orphans_and_tears_down, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_leaves_a_restore_held_tenant_alone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_leaves_a_paused_tenant_alone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_upgrade_recreates_only_the_changed_component,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_unpauses_a_paused_container, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_reconcile_adds_the_finalizer_without_bumping_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deletion_tears_down_and_releases_the_finalizer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_deletion_kills_what_ignores_sigterm_without_holding_the_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deletion_stops_each_component_with_its_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deletion_with_purge_removes_named_volumes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_deletion_blocked_by_an_unreachable_host_until_it_is_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deletion_keeps_other_finalizers_and_user_secrets,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_host_messages_name_it_once, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
