/*
 * Tests for what the tenant reconciler does on a host besides Podman calls,
 * through fake host ops (tenant_harness.h: files in memory, TCP probes that
 * fail for chosen ports): env files written with their Secret values (mode
 * 0600) and put back when edited by hand; the omlop.io/env-hash label, so a
 * rotated Secret recreates the containers that read it and only those; TCP
 * readiness gating the rollout in start order and showing in the status; the
 * Prometheus config written when observability is on; host files removed on
 * deletion; pulls recorded as events when they start and end. The real hosts path is e2e/scenarios
 * (30, 32, 37, 38, 39).
 */
#include "unit-tests/reconcilers/tenant_harness.h"

#include "reconcilers/catalog.h"
#include "reconcilers/desired.h"

#define PG_ENV    "/etc/default/postgres.env"
#define NGX_ENV   "/etc/default/nginx.env"
#define REDIS_CT  "oml-redis-server"
#define REDIS_ENV "/etc/default/redis.env"

static int setup_ops(void **state)
{
    fixture *fx;

    setup(state);
    fx = *state;
    fx->use_ops = 1;
    return 0;
}

/* A boolean member of obj, or def when absent. */
static int jbool(const json_object *obj, const char *key, int def)
{
    json_object *v = cjson_get(obj, key);

    return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : def;
}

/* The value of KEY in env-file text ("" when absent), copied to out. */
static void env_value(const char *text, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);

    out[0] = '\0';
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);

        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            snprintf(out, size, "%.*s", (int)(len - klen - 1), p + klen + 1);
            return;
        }
        p = nl ? nl + 1 : NULL;
    }
}

static void secret_value(fixture *fx, const char *name, const char *key, char *out, size_t size)
{
    secrets_ctx sc = {fx->st, "t1", NULL, 0};
    strbuf v = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    if (secrets_lookup(&sc, name, key, &v, &err) < 0)
        fail_msg("secret %s: %s", name, err.msg);
    snprintf(out, size, "%s", strbuf_str(&v));
    strbuf_release(&v);
    secrets_ctx_release(&sc);
}

static void test_env_files_are_written_with_secret_values(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    char pw[256], got[256], digest[CJSON_HASH_HEX_LEN + 1];
    const char *pg;
    int writes;
    json_object *t;

    reconcile_ok(fx, &res);
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Ready"), "True");
    json_object_put(t);
    /* one env file per component, all private, written in one call to the host (with the TLS
     * pair: test_tenant_tls.c) */
    assert_true(fx->n_files >= 10);
    assert_int_equal(fx->n_write_calls, 1);
    for (size_t i = 0; i < fx->n_files; i++) {
        if (strncmp(fx->files[i].path, "/etc/omnileads/certs/", 21) == 0)
            continue;
        assert_int_equal(fx->files[i].mode, 0600);
        assert_int_equal(strncmp(fx->files[i].path, "/etc/default/", 13), 0);
    }
    pg = host_file(fx, PG_ENV);
    assert_non_null(pg);
    secret_value(fx, "t1-postgres", "password", pw, sizeof(pw));
    assert_true(strlen(pw) >= 16);
    env_value(pg, "POSTGRES_PASSWORD", got, sizeof(got));
    assert_string_equal(got, pw); /* the value, not a reference */
    /* the container carries the digest of exactly that file */
    cjson_sha256_hex(pg, strlen(pg), digest);
    assert_string_equal(
        label(find_ctr(&fx->f, "oml-postgresql-server")->labels, OMLOP_LABEL_ENV_HASH), digest);
    assert_true(find_event(fx, "Wrote", PG_ENV, NULL, 0));
    /* a second round finds every file as written */
    writes = fx->n_writes;
    reconcile_ok(fx, &res);
    assert_int_equal(fx->n_writes, writes);
    assert_true(res.is_converged);
}

static void test_a_hand_edited_env_file_is_put_back(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    char want[4096];
    int created, removes;

    reconcile_ok(fx, &res);
    snprintf(want, sizeof(want), "%s", host_file(fx, NGX_ENV));
    created = fx->f.n_created;
    strbuf_adds(&ffile_find(fx, NGX_ENV)->content, "EDITED=by-hand\n");
    reconcile_ok(fx, &res);
    assert_string_equal(host_file(fx, NGX_ENV), want);
    assert_int_equal(fx->f.n_created, created); /* the file only: the container was right */
    assert_true(find_event(fx, "Wrote", "content differs", NULL, 0));
    /* removed by hand: written again */
    removes = fx->n_removes;
    fops_remove(fx, NGX_ENV, NULL);
    assert_int_equal(fx->n_removes, removes + 1);
    assert_null(host_file(fx, NGX_ENV));
    reconcile_ok(fx, &res);
    assert_string_equal(host_file(fx, NGX_ENV), want);
}

static void test_a_rotated_secret_recreates_only_its_readers(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    char pg_id[32], nginx_id[32], got[256];
    json_object *sec;
    strbuf text = STRBUF_INIT;

    reconcile_ok(fx, &res);
    snprintf(pg_id, sizeof(pg_id), "%s", find_ctr(&fx->f, "oml-postgresql-server")->id);
    snprintf(nginx_id, sizeof(nginx_id), "%s", find_ctr(&fx->f, "oml-nginx-server")->id);
    /* the generated Secret gets a new password (omlctl apply or edit would do this) */
    sec = json_tokener_parse("{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\","
                             "\"metadata\":{\"name\":\"t1-postgres\"},"
                             "\"stringData\":{\"password\":\"rotated-0123456789\"}}");
    object_store_text(sec, &text);
    if (store_update(fx->st, SECRETS_KEY_PREFIX "t1-postgres", text.buf, text.len, 0, NULL, &err) <
        0)
        fail_msg("store_update: %s", err.msg);
    strbuf_release(&text);
    json_object_put(sec);
    reconcile_ok(fx, &res);
    env_value(host_file(fx, PG_ENV), "POSTGRES_PASSWORD", got, sizeof(got));
    assert_string_equal(got, "rotated-0123456789");
    assert_string_not_equal(find_ctr(&fx->f, "oml-postgresql-server")->id, pg_id);
    assert_string_equal(find_ctr(&fx->f, "oml-nginx-server")->id, nginx_id);
    assert_true(find_event(fx, "Recreated", "a Secret it reads changed", NULL, 0));
    /* and then it holds */
    reconcile_ok(fx, &res);
    reconcile_ok(fx, &res);
    assert_true(res.is_converged);
}

/* Whether the fake runs a container of a component that starts after redis. */
static int any_after(fixture *fx, int order)
{
    for (size_t i = 0; i < fx->f.n; i++) {
        const catalog_component *cc = catalog_find_container(fx->f.c[i].name);

        if (cc && cc->order > order)
            return 1;
    }
    return 0;
}

static void test_readiness_gates_the_rollout_in_start_order(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    const catalog_component *redis = catalog_find("redis");
    const char *msg;
    json_object *t;

    assert_non_null(redis);
    assert_int_equal(redis->ready, CATALOG_READY_TCP);
    fx->closed_ports[0] = redis->ready_port;
    fx->env.ready_timeout_ms = 400;
    assert_true(tenant_reconcile(&fx->env, "t1", &res, &err) < 0);
    assert_non_null(strstr(err.msg, "6379"));
    assert_non_null(find_ctr(&fx->f, REDIS_CT));
    assert_false(any_after(fx, redis->order));
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Degraded"), "True");
    msg = cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "Degraded"), "message");
    assert_non_null(strstr(msg, "redis"));
    assert_non_null(strstr(msg, "6379"));
    assert_false(jbool(status_component(t, "redis"), "ready", 1));
    json_object_put(t);
    /* the next round still waits for redis before going on */
    assert_true(tenant_reconcile(&fx->env, "t1", &res, &err) < 0);
    assert_non_null(strstr(err.msg, "waiting for redis"));
    assert_false(any_after(fx, redis->order));
    /* the port opens: everything follows, and the status says ready */
    fx->closed_ports[0] = 0;
    reconcile_ok(fx, &res);
    assert_true(any_after(fx, redis->order));
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Ready"), "True");
    assert_true(jbool(status_component(t, "redis"), "ready", 0));
    json_object_put(t);
}

static void test_a_component_that_stops_answering_is_not_ready(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t;
    int probes;

    reconcile_ok(fx, &res);
    probes = fx->n_probes;
    fx->closed_ports[0] = 6379;
    reconcile_ok(fx, &res); /* nothing to do, but the status tells */
    assert_true(fx->n_probes > probes);
    assert_false(res.is_converged);
    /* looked at again in seconds (not only at the certificate's renewal, months ahead) */
    assert_true(res.requeue_ms > 0 && res.requeue_ms <= 2000);
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Ready"), "False");
    assert_false(jbool(status_component(t, "redis"), "ready", 1));
    assert_non_null(strstr(cjson_get_string(status_component(t, "redis"), "message"), "6379"));
    assert_true(jbool(status_component(t, "nginx"), "ready", 0));
    json_object_put(t);
}

static void test_observability_config_is_written(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t = stored_tenant(fx);
    const char *yml;

    json_object_object_add(cjson_get(t, "spec.observability"), "enabled",
                           json_object_new_boolean(1));
    json_object_object_add(cjson_get(t, "metadata"), "generation", json_object_new_int(2));
    store_tenant(fx, t);
    json_object_put(t);
    reconcile_ok(fx, &res);
    yml = host_file(fx, "/etc/omnileads/prometheus.yml");
    assert_non_null(yml);
    assert_non_null(strstr(yml, "scrape_configs"));
    assert_int_equal(ffile_find(fx, "/etc/omnileads/prometheus.yml")->mode, 0644);
    assert_non_null(find_ctr(&fx->f, "oml-prometheus-server"));
}

static void test_without_host_ops_observability_fails_clearly(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *t = stored_tenant(fx);

    fx->use_ops = 0;
    json_object_object_add(cjson_get(t, "spec.observability"), "enabled",
                           json_object_new_boolean(1));
    store_tenant(fx, t);
    json_object_put(t);
    assert_true(tenant_reconcile(&fx->env, "t1", &res, &err) < 0);
    assert_non_null(strstr(err.msg, "prometheus.yml"));
    assert_int_equal(fx->n_writes, 0);
}

static void test_deletion_removes_the_host_files(void **state)
{
    fixture *fx = *state;
    tenant_result res;

    reconcile_ok(fx, &res);
    assert_true(fx->n_files > 0);
    mark_deleted(fx);
    reconcile_ok(fx, &res);
    assert_true(res.is_gone);
    assert_int_equal(fx->n_files, 0);
}

#define CERTS_DIR "/etc/omnileads/certs"

/*
 * A host that never ran OMniLeads has no /etc/omnileads/certs, and Podman
 * refuses to create kamailio and nginx without it (the fake answers as Podman
 * does: "statfs ...: no such file or directory"). The round makes it first,
 * records it for the tenant, and makes it only once.
 */
static void test_a_fresh_host_gets_its_bind_dirs_before_the_containers(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t;
    char msg[512];
    int made;

    assert_int_equal(fdir_index(fx, CERTS_DIR), -1);
    reconcile_ok(fx, &res);
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Ready"), "True");
    json_object_put(t);
    assert_true(fdir_index(fx, CERTS_DIR) >= 0);
    assert_string_equal(fx->record_path, "/var/lib/omlop/dirs/t1");
    assert_int_equal(fx->n_recorded, 1);
    assert_non_null(find_ctr(&fx->f, "oml-kamailio-server"));
    assert_non_null(find_ctr(&fx->f, "oml-nginx-server"));
    assert_true(find_event(fx, "CreatedDirectory", CERTS_DIR, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "on host h1 for oml-kamailio-server"));
    made = fx->n_dirs_made;
    reconcile_ok(fx, &res);
    assert_int_equal(fx->n_dirs_made, made);
    assert_true(res.is_converged);
}

static void set_deletion_policy(fixture *fx, const char *policy)
{
    json_object *t = stored_tenant(fx);

    json_object_object_add(cjson_get(t, "spec"), "deletionPolicy", json_object_new_string(policy));
    store_tenant(fx, t);
    json_object_put(t);
}

/* deletionPolicy Keep (the default) keeps the directories omlop made; Purge takes them back. */
static void test_purge_removes_the_dirs_omlop_made(void **state)
{
    fixture *fx = *state;
    tenant_result res;

    reconcile_ok(fx, &res);
    assert_true(fdir_index(fx, CERTS_DIR) >= 0);
    set_deletion_policy(fx, "Purge");
    mark_deleted(fx);
    reconcile_ok(fx, &res);
    assert_true(res.is_gone);
    assert_int_equal(fx->n_dirs_remove_calls, 1);
    assert_string_equal(fx->record_path, "/var/lib/omlop/dirs/t1");
    assert_int_equal(fdir_index(fx, CERTS_DIR), -1);
}

static void test_keep_leaves_the_dirs_and_a_users_dir_is_never_recorded(void **state)
{
    fixture *fx = *state;
    tenant_result res;

    /* the user made it: omlop neither makes nor records it */
    snprintf(fx->dirs[fx->n_dirs++], sizeof(fx->dirs[0]), "%s", CERTS_DIR);
    reconcile_ok(fx, &res);
    assert_int_equal(fx->n_dirs_made, 0);
    assert_int_equal(fx->n_recorded, 0);
    assert_false(find_event(fx, "CreatedDirectory", NULL, NULL, 0));
    mark_deleted(fx);
    reconcile_ok(fx, &res);
    assert_true(res.is_gone);
    assert_int_equal(fx->n_dirs_remove_calls, 0); /* Keep: not even asked */
    assert_true(fdir_index(fx, CERTS_DIR) >= 0);
}

/* Put tenant-a's oml-redis-server and its env file on the host, as tenant-a's rounds left them. */
static void plant_other_tenants_redis(fixture *fx)
{
    fctr *c;

    pthread_mutex_lock(&fx->f.lock);
    c = &fx->f.c[fx->f.n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", REDIS_CT);
    snprintf(c->id, sizeof(c->id), "id-a-redis");
    snprintf(c->image, sizeof(c->image), "reg.test:5000/omnileads/redis:a");
    snprintf(c->state, sizeof(c->state), "running");
    c->labels = json_tokener_parse("{\"omlop.io/managed-by\":\"omlop\","
                                   "\"omlop.io/tenant\":\"tenant-a\","
                                   "\"omlop.io/component\":\"redis\"}");
    pthread_mutex_unlock(&fx->f.lock);
    assert_int_equal(fops_write(fx, REDIS_ENV, "A_SECRET=tenant-a\n", 18, 0600, NULL), 0);
}

/*
 * Two tenants on one host: t1 is placed on the host where tenant-a runs redis.
 * Host file paths are per component, so /etc/default/redis.env is tenant-a's:
 * t1's round refuses the name (NameConflict naming tenant-a) and leaves the file
 * as tenant-a wrote it, while writing the files of the components nobody holds.
 */
static void test_another_tenants_files_are_not_overwritten(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    char msg[1024];

    plant_other_tenants_redis(fx);
    assert_true(tenant_reconcile(&fx->env, "t1", &res, &err) < 0);
    assert_string_equal(host_file(fx, REDIS_ENV), "A_SECRET=tenant-a\n");
    assert_non_null(host_file(fx, NGX_ENV)); /* nobody else's: written */
    assert_true(find_event(fx, "NameConflict", REDIS_CT, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "tenant tenant-a"));
    assert_false(find_event(fx, "Wrote", REDIS_ENV, NULL, 0));
    assert_string_equal(find_ctr(&fx->f, REDIS_CT)->id, "id-a-redis");
}

/* And t1's deletion removes t1's files only: tenant-a's redis.env and container stay. */
static void test_deletion_leaves_another_tenants_files(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;

    plant_other_tenants_redis(fx);
    assert_true(tenant_reconcile(&fx->env, "t1", &res, &err) < 0);
    assert_non_null(host_file(fx, NGX_ENV));
    mark_deleted(fx);
    reconcile_ok(fx, &res);
    assert_true(res.is_gone);
    assert_null(host_file(fx, NGX_ENV));
    assert_null(host_file(fx, PG_ENV));
    assert_string_equal(host_file(fx, REDIS_ENV), "A_SECRET=tenant-a\n");
    assert_int_equal(fx->n_files, 1);
    assert_non_null(find_ctr(&fx->f, REDIS_CT));
}

/* Pull progress shows in the events (describe): Pulling when it starts, Pulled with its time. */
static void test_pulls_are_recorded_when_they_start_and_end(void **state)
{
    fixture *fx = *state;
    tenant_result res;

    reconcile_ok(fx, &res);
    assert_true(fx->f.n_pulled > 0);
    assert_true(find_event(fx, "Pulling", "Pulling reg.test:5000/omnileads/redis:", NULL, 0));
    assert_true(find_event(fx, "Pulled", " on host h1 in ", NULL, 0));
}

/* infraEnv cloud without natIP: the host's public address is asked for over SSH. */
static void test_public_ip_is_discovered_on_the_host(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *t = stored_tenant(fx);
    char got[64];
    const char *msg;

    json_object_object_add(cjson_get(t, "spec.network"), "infraEnv",
                           json_object_new_string("cloud"));
    store_tenant(fx, t);
    json_object_put(t);
    /* not learnt yet: nothing is done, the status says why, and it is retried */
    assert_int_equal(tenant_reconcile(&fx->env, "t1", &res, &err), OMLOP_EUNAVAIL);
    assert_int_equal(fx->f.n_created, 0);
    t = stored_tenant(fx);
    msg = cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "Ready"), "message");
    assert_non_null(strstr(msg, "public IP"));
    json_object_put(t);
    /* the host answers */
    snprintf(fx->public_ip, sizeof(fx->public_ip), "203.0.113.7");
    reconcile_ok(fx, &res);
    env_value(host_file(fx, "/etc/default/asterisk.env"), "ASTERISK_PUBLIC_IP", got, sizeof(got));
    assert_string_equal(got, "203.0.113.7");
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Ready"), "True");
    json_object_put(t);
}

/* Converge with a memo, then one more round to verify what the converging round changed. */
static void memo_settle(fixture *fx, int64_t files_ms)
{
    tenant_result res;

    fx->env.memo = tenant_memo_new(60 * 1000, files_ms, 60 * 1000);
    reconcile_ok(fx, &res);
    reconcile_ok(fx, &res);
    assert_true(res.is_converged);
}

static void test_memo_a_no_change_round_asks_the_host_only_for_its_list(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    int hashes, probes, images, writes;

    memo_settle(fx, 60 * 1000);
    hashes = fx->n_hash_calls;
    probes = fx->n_probes;
    images = fx->f.n_image_checks;
    writes = fx->n_writes;
    reconcile_ok(fx, &res);
    assert_true(res.is_converged);
    assert_int_equal(fx->n_hash_calls, hashes);
    assert_int_equal(fx->n_probes, probes);
    assert_int_equal(fx->f.n_image_checks, images);
    assert_int_equal(fx->n_writes, writes);
    /* without a memo every round asks again (what the memo saves) */
    tenant_memo_free(fx->env.memo);
    fx->env.memo = NULL;
    reconcile_ok(fx, &res);
    assert_true(fx->n_hash_calls > hashes);
    assert_true(fx->n_probes > probes);
    assert_true(fx->f.n_image_checks > images);
}

static void test_memo_a_hand_edited_file_is_put_back_after_its_cadence(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    char want[4096];

    memo_settle(fx, 60 * 1000);
    snprintf(want, sizeof(want), "%s", host_file(fx, NGX_ENV));
    strbuf_adds(&ffile_find(fx, NGX_ENV)->content, "EDITED=by-hand\n");
    reconcile_ok(fx, &res);
    assert_string_not_equal(host_file(fx, NGX_ENV), want); /* within the cadence: not looked at */
    tenant_memo_invalidate(fx->env.memo, "t1", "h1", TENANT_MEMO_FILES); /* the cadence passed */
    reconcile_ok(fx, &res);
    assert_string_equal(host_file(fx, NGX_ENV), want);
    assert_true(find_event(fx, "Wrote", "content differs", NULL, 0));
}

/* Settle with a memo, then one more full no-change round: it records the round signature. */
static void memo_settle_round(fixture *fx)
{
    tenant_result res;

    memo_settle(fx, 60 * 1000);
    reconcile_ok(fx, &res);
    assert_true(res.is_converged);
}

static void rotate_secret(fixture *fx, const char *password)
{
    omlop_err err = OMLOP_ERR_INIT;
    strbuf text = STRBUF_INIT;
    json_object *sec = json_tokener_parse("{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":"
                                          "\"Secret\",\"metadata\":{\"name\":\"t1-postgres\"}}");

    json_object_object_add(sec, "stringData", json_object_new_object());
    json_object_object_add(cjson_get(sec, "stringData"), "password",
                           json_object_new_string(password));
    object_store_text(sec, &text);
    if (store_update(fx->st, SECRETS_KEY_PREFIX "t1-postgres", text.buf, text.len, 0, NULL, &err) <
        0)
        fail_msg("store_update: %s", err.msg);
    strbuf_release(&text);
    json_object_put(sec);
}

static void test_unchanged_round_stops_after_the_listing(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    int writes, created;

    memo_settle_round(fx);
    writes = fx->n_writes;
    created = fx->f.n_created;
    reconcile_ok(fx, &res);
    assert_true(res.is_unchanged);
    assert_true(res.is_converged);
    reconcile_ok(fx, &res);
    assert_true(res.is_unchanged);
    assert_int_equal(fx->n_writes, writes);
    assert_int_equal(fx->f.n_created, created);
    /* without a memo no round is skipped */
    tenant_memo_free(fx->env.memo);
    fx->env.memo = NULL;
    reconcile_ok(fx, &res);
    assert_false(res.is_unchanged);
}

/* The revision of the stored Tenant t1. */
static int64_t tenant_revision(fixture *fx)
{
    omlop_err err = OMLOP_ERR_INIT;
    store_kv kv = {0};
    int64_t rev;

    if (store_get(fx->st, TENANT_KEY_PREFIX "t1", &kv, &err) < 0)
        fail_msg("store_get: %s", err.msg);
    rev = kv.mod_revision;
    store_kv_release(&kv);
    return rev;
}

/* What a stopped round uses instead of parsing the Tenant: the facts the recording round kept
 * for the Tenant's revision (its hosts and the Secrets it reads), and only for that revision. */
static void test_unchanged_round_keeps_the_tenants_facts(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    strbuf text = STRBUF_INIT;
    json_object *facts, *t;
    int64_t rev;

    memo_settle_round(fx);
    rev = tenant_revision(fx);
    assert_true(tenant_memo_round_facts(fx->env.memo, "t1", rev, &text));
    facts = json_tokener_parse(text.buf);
    assert_non_null(facts);
    assert_string_equal(
        cjson_get_string(json_object_array_get_idx(cjson_get(facts, "hosts"), 0), "name"), "h1");
    assert_non_null(
        strstr(json_object_to_json_string(cjson_get(facts, "secrets")), "\"t1-postgres\""));
    json_object_put(facts);
    reconcile_ok(fx, &res);
    assert_true(res.is_unchanged);
    /* a new spec: a new revision, a full round, and facts kept for that revision only */
    t = stored_tenant(fx);
    json_object_object_add(cjson_get(t, "metadata"), "labels", json_object_new_object());
    store_tenant(fx, t);
    json_object_put(t);
    reconcile_ok(fx, &res);
    assert_false(res.is_unchanged);
    reconcile_ok(fx, &res);
    strbuf_reset(&text);
    assert_false(tenant_memo_round_facts(fx->env.memo, "t1", rev, &text));
    assert_true(tenant_memo_round_facts(fx->env.memo, "t1", tenant_revision(fx), &text));
    strbuf_release(&text);
}

static void test_unchanged_round_sees_a_rotated_secret(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    char got[256];

    memo_settle_round(fx);
    rotate_secret(fx, "rotated-abcdefghij");
    reconcile_ok(fx, &res);
    assert_false(res.is_unchanged);
    env_value(host_file(fx, PG_ENV), "POSTGRES_PASSWORD", got, sizeof(got));
    assert_string_equal(got, "rotated-abcdefghij");
}

static void test_unchanged_round_sees_a_container_that_exited(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    int started;

    memo_settle_round(fx);
    pthread_mutex_lock(&fx->f.lock);
    snprintf(find_ctr(&fx->f, "oml-redis-server")->state, sizeof(fx->f.c[0].state), "exited");
    find_ctr(&fx->f, "oml-redis-server")->exit_code = 137;
    started = fx->f.n_started;
    pthread_mutex_unlock(&fx->f.lock);
    reconcile_ok(fx, &res);
    assert_false(res.is_unchanged);
    assert_true(fx->f.n_started > started);
    assert_string_equal(find_ctr(&fx->f, "oml-redis-server")->state, "running");
}

static void test_unchanged_round_sees_a_new_spec(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t;

    memo_settle_round(fx);
    t = stored_tenant(fx);
    json_object_object_add(cjson_get(t, "metadata"), "labels", json_object_new_object());
    json_object_object_add(cjson_get(t, "metadata.labels"), "team", json_object_new_string("a"));
    store_tenant(fx, t);
    json_object_put(t);
    reconcile_ok(fx, &res);
    assert_false(res.is_unchanged);
}

static void test_unchanged_round_ends_when_a_check_comes_due(void **state)
{
    fixture *fx = *state;
    tenant_result res;

    memo_settle_round(fx);
    /* a check that comes due (or found drift) on a host of the tenant ends the skipping */
    tenant_memo_invalidate(fx->env.memo, "t1", "h1", TENANT_MEMO_READY);
    reconcile_ok(fx, &res);
    assert_false(res.is_unchanged);
    reconcile_ok(fx, &res); /* that full round recorded again */
    assert_true(res.is_unchanged);
}

static void test_memo_a_round_with_actions_checks_images_first(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    fctr *c;
    int pulled;

    memo_settle(fx, 60 * 1000);
    /* behind omlop's back: nginx's container and its image removed */
    pthread_mutex_lock(&fx->f.lock);
    c = find_ctr(&fx->f, "oml-nginx-server");
    assert_non_null(c);
    for (size_t i = 0; i < fx->f.n_images; i++)
        if (strcmp(fx->f.images[i], c->image) == 0) {
            memmove(&fx->f.images[i], &fx->f.images[i + 1],
                    (fx->f.n_images - i - 1) * sizeof(fx->f.images[0]));
            fx->f.n_images--;
            break;
        }
    json_object_put(c->labels);
    memmove(c, c + 1, (size_t)(&fx->f.c[fx->f.n] - (c + 1)) * sizeof(*c));
    fx->f.n--;
    pthread_mutex_unlock(&fx->f.lock);
    pulled = fx->f.n_pulled;
    reconcile_ok(fx, &res);
    /* the memo said the image was there; the create is not tried without looking */
    assert_int_equal(fx->f.n_pulled, pulled + 1);
    assert_non_null(find_ctr(&fx->f, "oml-nginx-server"));
}

static void test_memo_a_new_container_is_probed_at_once(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t;
    fctr *c;

    memo_settle(fx, 60 * 1000);
    fx->closed_ports[0] = 6379;
    reconcile_ok(fx, &res);
    assert_true(res.is_converged); /* an unchanged container: its check waits for the cadence */
    pthread_mutex_lock(&fx->f.lock);
    c = find_ctr(&fx->f, REDIS_CT);
    snprintf(c->id, sizeof(c->id), "id-replaced-by-hand");
    pthread_mutex_unlock(&fx->f.lock);
    reconcile_ok(fx, &res);
    assert_false(res.is_converged);
    t = stored_tenant(fx);
    assert_false(jbool(status_component(t, "redis"), "ready", 1));
    json_object_put(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_files_are_written_with_secret_values, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_memo_a_no_change_round_asks_the_host_only_for_its_list,
                                        setup_ops, teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_round_stops_after_the_listing, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_round_sees_a_rotated_secret, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_round_keeps_the_tenants_facts, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_round_sees_a_container_that_exited,
                                        setup_ops, teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_round_sees_a_new_spec, setup_ops, teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_round_ends_when_a_check_comes_due, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_memo_a_hand_edited_file_is_put_back_after_its_cadence,
                                        setup_ops, teardown),
        cmocka_unit_test_setup_teardown(test_memo_a_round_with_actions_checks_images_first,
                                        setup_ops, teardown),
        cmocka_unit_test_setup_teardown(test_memo_a_new_container_is_probed_at_once, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_hand_edited_env_file_is_put_back, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_rotated_secret_recreates_only_its_readers, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_readiness_gates_the_rollout_in_start_order, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_component_that_stops_answering_is_not_ready,
                                        setup_ops, teardown),
        cmocka_unit_test_setup_teardown(test_observability_config_is_written, setup_ops, teardown),
        cmocka_unit_test_setup_teardown(test_without_host_ops_observability_fails_clearly,
                                        setup_ops, teardown),
        cmocka_unit_test_setup_teardown(test_deletion_removes_the_host_files, setup_ops, teardown),
        cmocka_unit_test_setup_teardown(test_a_fresh_host_gets_its_bind_dirs_before_the_containers,
                                        setup_ops, teardown),
        cmocka_unit_test_setup_teardown(test_purge_removes_the_dirs_omlop_made, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keep_leaves_the_dirs_and_a_users_dir_is_never_recorded,
                                        setup_ops, teardown),
        cmocka_unit_test_setup_teardown(test_another_tenants_files_are_not_overwritten, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deletion_leaves_another_tenants_files, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pulls_are_recorded_when_they_start_and_end, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_public_ip_is_discovered_on_the_host, setup_ops,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
