/*
 * Tests for reconcilers/tenant_status: conditions per situation (converged,
 * progressing, failed rollout, unreachable host, invalid spec), transition
 * times that move only on a status flip, per-host component fields, restarts
 * counted across rounds, and fields of other writers kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "crds/diag.h"
#include "crds/schema.h"
#include "lib/cjson.h"
#include "reconcilers/ha.h"
#include "reconcilers/tenant_status.h"

#define T0 "2026-01-01T00:00:00Z"
#define T1 "2026-01-01T00:01:00Z"
#define T2 "2026-01-01T00:02:00Z"

static const tenant_obs_host one_host_up[] = {{"h1", 1, NULL, "SHA256:abc", NULL}};
/* the error names its host, as every host error does (lib/err.h) */
static const tenant_obs_host one_host_down[] = {
    {"h1", 0, "host h1 (root@10.0.0.5:22): cannot connect: connection refused", NULL, NULL}};

static tenant_obs_component comp(const char *name, const char *state, int is_current)
{
    tenant_obs_component c;

    memset(&c, 0, sizeof(c));
    c.host = "h1";
    c.name = name;
    c.image = "reg/omnileads/x:1";
    c.state = state;
    c.container_id = strcmp(state, TENANT_STATE_MISSING) == 0 ? NULL : "cid-1";
    c.spec_hash = "hash";
    c.is_current = is_current;
    return c;
}

static json_object *compute(const json_object *old, const tenant_obs *obs, const char *now)
{
    json_object *st = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    if (tenant_status_compute(old, obs, now, &st, &err) != 0)
        fail_msg("tenant_status_compute: %s", err.msg);
    assert_non_null(st);
    return st;
}

static const char *cond(const json_object *st, const char *type, const char *field)
{
    json_object *c = tenant_condition_find(st, type);

    if (!c)
        fail_msg("no condition %s", type);
    return cjson_get_string(c, field);
}

static void test_status_ready_when_every_component_runs(void **state)
{
    tenant_obs_component cs[2];
    tenant_obs obs;
    json_object *st;

    (void)state;
    cs[0] = comp("redis", TENANT_STATE_RUNNING, 1);
    cs[1] = comp("nginx", TENANT_STATE_RUNNING, 1);
    memset(&obs, 0, sizeof(obs));
    obs.generation = 3;
    obs.hosts = one_host_up;
    obs.n_hosts = 1;
    obs.components = cs;
    obs.n_components = 2;
    st = compute(NULL, &obs, T0);
    assert_string_equal(cjson_get_string(st, "phase"), "Ready");
    assert_int_equal(cjson_get_int(st, "observedGeneration", 0), 3);
    assert_string_equal(cjson_get_string(st, "lastReconcileTime"), T0);
    assert_string_equal(cond(st, "Ready", "status"), "True");
    assert_string_equal(cond(st, "Ready", "reason"), "AllComponentsRunning");
    assert_string_equal(cond(st, "Progressing", "status"), "False");
    assert_string_equal(cond(st, "Degraded", "status"), "False");
    assert_string_equal(cond(st, "HostsReachable", "status"), "True");
    assert_int_equal(cjson_get_int(tenant_condition_find(st, "Ready"), "observedGeneration", 0), 3);
    json_object_put(st);
}

static void test_status_progressing_while_components_missing(void **state)
{
    tenant_obs_component cs[2];
    tenant_obs obs;
    json_object *st;

    (void)state;
    cs[0] = comp("redis", TENANT_STATE_RUNNING, 1);
    cs[1] = comp("nginx", TENANT_STATE_MISSING, 0);
    memset(&obs, 0, sizeof(obs));
    obs.generation = 1;
    obs.hosts = one_host_up;
    obs.n_hosts = 1;
    obs.components = cs;
    obs.n_components = 2;
    obs.n_applied = 1;
    st = compute(NULL, &obs, T0);
    assert_string_equal(cjson_get_string(st, "phase"), "Provisioning");
    assert_string_equal(cond(st, "Ready", "status"), "False");
    assert_string_equal(cond(st, "Ready", "reason"), "ComponentsNotReady");
    assert_non_null(strstr(cond(st, "Ready", "message"), "nginx on h1 (Missing)"));
    assert_string_equal(cond(st, "Progressing", "status"), "True");
    json_object_put(st);
}

static void test_status_degraded_names_failed_component(void **state)
{
    tenant_obs_component cs[1];
    tenant_obs obs;
    json_object *st;

    (void)state;
    cs[0] = comp("asterisk", TENANT_STATE_MISSING, 0);
    cs[0].message = "pull failed";
    memset(&obs, 0, sizeof(obs));
    obs.hosts = one_host_up;
    obs.n_hosts = 1;
    obs.components = cs;
    obs.n_components = 1;
    obs.failed = "component asterisk on host h1";
    obs.failure = "manifest unknown";
    st = compute(NULL, &obs, T0);
    assert_string_equal(cjson_get_string(st, "phase"), "Degraded");
    assert_string_equal(cond(st, "Degraded", "status"), "True");
    assert_string_equal(cond(st, "Degraded", "reason"), "ComponentFailed");
    assert_string_equal(cond(st, "Degraded", "message"),
                        "component asterisk on host h1: manifest unknown");
    assert_string_equal(cond(st, "Progressing", "reason"), "RolloutStopped");
    assert_string_equal(cond(st, "Ready", "status"), "False");
    assert_string_equal(
        cjson_get_string(
            json_object_array_get_idx(
                cjson_get(json_object_array_get_idx(cjson_get(st, "hosts"), 0), "components"), 0),
            "message"),
        "pull failed");
    json_object_put(st);
}

static void test_status_host_unreachable_keeps_last_contact(void **state)
{
    tenant_obs_component cs[1];
    tenant_obs obs;
    json_object *st1, *st2, *h;

    (void)state;
    cs[0] = comp("redis", TENANT_STATE_RUNNING, 1);
    memset(&obs, 0, sizeof(obs));
    obs.hosts = one_host_up;
    obs.n_hosts = 1;
    obs.components = cs;
    obs.n_components = 1;
    st1 = compute(NULL, &obs, T0);

    cs[0] = comp("redis", TENANT_STATE_UNKNOWN, 0);
    cs[0].container_id = NULL; /* not seen this round */
    obs.hosts = one_host_down;
    st2 = compute(st1, &obs, T1);
    h = json_object_array_get_idx(cjson_get(st2, "hosts"), 0);
    assert_false(json_object_get_boolean(cjson_get(h, "reachable")));
    assert_string_equal(cjson_get_string(h, "lastError"),
                        "host h1 (root@10.0.0.5:22): cannot connect: connection refused");
    assert_string_equal(cjson_get_string(h, "lastContactTime"), T0);
    assert_string_equal(cjson_get_string(h, "hostKeyFingerprint"), "SHA256:abc");
    /* the container id known from before stays while the host cannot be asked */
    assert_string_equal(
        cjson_get_string(json_object_array_get_idx(cjson_get(h, "components"), 0), "containerID"),
        "cid-1");
    assert_string_equal(cond(st2, "HostsReachable", "status"), "False");
    assert_string_equal(cond(st2, "HostsReachable", "reason"), "HostUnreachable");
    /* quoted as it is: the error names its host once, the status adds no second name */
    assert_string_equal(cond(st2, "HostsReachable", "message"),
                        "host h1 (root@10.0.0.5:22): cannot connect: connection refused");
    assert_string_equal(cond(st2, "Ready", "reason"), "HostUnreachable");
    assert_string_equal(cjson_get_string(st2, "phase"), "Degraded");
    json_object_put(st1);
    json_object_put(st2);
}

static void test_status_transition_time_moves_only_on_flip(void **state)
{
    tenant_obs_component cs[1];
    tenant_obs obs;
    json_object *st1, *st2, *st3;

    (void)state;
    cs[0] = comp("redis", TENANT_STATE_MISSING, 0);
    memset(&obs, 0, sizeof(obs));
    obs.hosts = one_host_up;
    obs.n_hosts = 1;
    obs.components = cs;
    obs.n_components = 1;
    obs.n_applied = 1;
    st1 = compute(NULL, &obs, T0);
    assert_string_equal(cond(st1, "Ready", "lastTransitionTime"), T0);

    /* still not ready, another message: no transition */
    cs[0] = comp("redis", TENANT_STATE_STARTING, 0);
    st2 = compute(st1, &obs, T1);
    assert_string_equal(cond(st2, "Ready", "status"), "False");
    assert_string_equal(cond(st2, "Ready", "lastTransitionTime"), T0);
    assert_string_equal(cond(st2, "HostsReachable", "lastTransitionTime"), T0);

    /* ready now: Ready and Progressing flip, HostsReachable does not */
    cs[0] = comp("redis", TENANT_STATE_RUNNING, 1);
    obs.n_applied = 0;
    st3 = compute(st2, &obs, T2);
    assert_string_equal(cond(st3, "Ready", "status"), "True");
    assert_string_equal(cond(st3, "Ready", "lastTransitionTime"), T2);
    assert_string_equal(cond(st3, "Progressing", "lastTransitionTime"), T2);
    assert_string_equal(cond(st3, "HostsReachable", "lastTransitionTime"), T0);
    assert_string_equal(cond(st3, "Degraded", "lastTransitionTime"), T0);
    assert_int_equal(json_object_array_length(cjson_get(st3, "conditions")), 4);
    json_object_put(st1);
    json_object_put(st2);
    json_object_put(st3);
}

static void test_status_counts_restarts_and_repairs(void **state)
{
    tenant_obs_component cs[1];
    tenant_obs obs;
    json_object *st1, *st2, *st3, *c;

    (void)state;
    cs[0] = comp("nginx", TENANT_STATE_RUNNING, 1);
    memset(&obs, 0, sizeof(obs));
    obs.hosts = one_host_up;
    obs.n_hosts = 1;
    obs.components = cs;
    obs.n_components = 1;
    st1 = compute(NULL, &obs, T0);
    cs[0].is_restarted = 1;
    cs[0].is_repaired = 1;
    st2 = compute(st1, &obs, T1);
    cs[0].is_restarted = 0;
    cs[0].is_repaired = 0;
    st3 = compute(st2, &obs, T2);
    c = json_object_array_get_idx(
        cjson_get(json_object_array_get_idx(cjson_get(st3, "hosts"), 0), "components"), 0);
    assert_string_equal(cjson_get_string(c, "name"), "nginx");
    assert_string_equal(cjson_get_string(c, "state"), "Running");
    assert_string_equal(cjson_get_string(c, "containerID"), "cid-1");
    assert_string_equal(cjson_get_string(c, "specHash"), "hash");
    assert_int_equal(cjson_get_int(c, "restarts", -1), 1);
    assert_string_equal(cjson_get_string(c, "lastDriftRepaired"), T1);
    assert_string_equal(cjson_get_string(cjson_get(st3, "images"), "nginx"), "reg/omnileads/x:1");
    json_object_put(st1);
    json_object_put(st2);
    json_object_put(st3);
}

static void test_status_invalid_spec_is_failed(void **state)
{
    tenant_obs obs;
    json_object *st;

    (void)state;
    memset(&obs, 0, sizeof(obs));
    obs.generation = 2;
    obs.invalid = "spec.hosts: layout cluster needs 3 hosts";
    st = compute(NULL, &obs, T0);
    assert_string_equal(cjson_get_string(st, "phase"), "Failed");
    assert_string_equal(cond(st, "Degraded", "reason"), "InvalidSpec");
    assert_string_equal(cond(st, "Ready", "status"), "False");
    assert_string_equal(cond(st, "Ready", "message"), "spec.hosts: layout cluster needs 3 hosts");
    json_object_put(st);
}

static void test_status_keeps_other_writers_fields(void **state)
{
    json_object *old = json_tokener_parse(
        "{\"url\":\"https://x\",\"lastBackup\":{\"name\":\"b1\"},\"conditions\":"
        "[{\"type\":\"BackupOK\",\"status\":\"True\",\"lastTransitionTime\":\"" T0 "\"}]}");
    tenant_obs_component cs[1];
    tenant_obs obs;
    json_object *st;

    (void)state;
    cs[0] = comp("redis", TENANT_STATE_RUNNING, 1);
    memset(&obs, 0, sizeof(obs));
    obs.hosts = one_host_up;
    obs.n_hosts = 1;
    obs.components = cs;
    obs.n_components = 1;
    st = compute(old, &obs, T1);
    assert_string_equal(cjson_get_string(st, "url"), "https://x");
    assert_string_equal(cjson_get_string(st, "lastBackup.name"), "b1");
    assert_string_equal(cond(st, "BackupOK", "status"), "True");
    assert_int_equal(json_object_array_length(cjson_get(st, "conditions")), 5);
    /* the input is not changed */
    assert_null(cjson_get(old, "phase"));
    json_object_put(old);
    json_object_put(st);
}

static void test_condition_set_appends_and_updates(void **state)
{
    json_object *conds = json_object_new_array();

    (void)state;
    tenant_condition_set(conds, "Ready", "False", "A", "m1", 1, T0);
    tenant_condition_set(conds, "Ready", "False", "B", "m2", 2, T1);
    assert_int_equal(json_object_array_length(conds), 1);
    assert_string_equal(cjson_get_string(json_object_array_get_idx(conds, 0), "reason"), "B");
    assert_string_equal(cjson_get_string(json_object_array_get_idx(conds, 0), "lastTransitionTime"),
                        T0);
    assert_int_equal(cjson_get_int(json_object_array_get_idx(conds, 0), "observedGeneration", 0),
                     2);
    tenant_condition_set(conds, "Ready", "Unknown", "C", "", 2, T2);
    assert_string_equal(cjson_get_string(json_object_array_get_idx(conds, 0), "lastTransitionTime"),
                        T2);
    json_object_put(conds);
}

/* The API re-validates a stored status on every later update: it must fit the CRD. */
static void test_status_fits_the_tenant_schema(void **state)
{
    json_object *tenant = json_tokener_parse(
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\",\"metadata\":{\"name\":"
        "\"t1\"},\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"h1\",\"lanIP\":"
        "\"10.0.0.1\",\"ssh\":{\"address\":\"10.0.0.1\",\"identitySecretRef\":{\"name\":"
        "\"k\"}}}]}}");
    static const tenant_obs_action plan[] = {
        {"h1", "start", "oml-nginx-server", "nginx", NULL, "container died (exit code 1)",
         "exited with code 1", NULL},
        {"h1", "remove", "oml-old", "old", NULL, "no longer desired", NULL, NULL},
        {"h1", "write", "oml-nginx-server", "nginx", NULL, "missing", "permission denied",
         "/etc/default/nginx.env"},
    };
    tenant_obs_component cs[2];
    tenant_obs obs;
    schema_set *set = NULL;
    diag_list *dl = diag_list_new();
    omlop_err err = OMLOP_ERR_INIT;
    json_object *st, *out = NULL;

    (void)state;
    assert_non_null(tenant);
    cs[0] = comp("redis", TENANT_STATE_RUNNING, 1);
    cs[0].is_restarted = 1;
    cs[0].is_repaired = 1;
    cs[0].readiness = TENANT_READINESS_PASSED;
    cs[1] = comp("nginx", TENANT_STATE_FAILED, 0);
    cs[1].message = "exited with code 1";
    cs[1].readiness = TENANT_READINESS_FAILED;
    memset(&obs, 0, sizeof(obs));
    obs.generation = 1;
    obs.hosts = one_host_up;
    obs.n_hosts = 1;
    obs.components = cs;
    obs.n_components = 2;
    obs.failed = "component nginx on host h1";
    obs.failure = "exited";
    obs.plan = plan;
    obs.n_plan = 3;
    st = compute(NULL, &obs, T0);
    json_object_object_add(tenant, "status", st);
    if (schema_set_new_builtin(&set, &err) < 0)
        fail_msg("schema: %s", err.msg);
    if (schema_set_decode_json(set, tenant, &out, dl) < 0)
        fail_msg("status does not fit the schema (%zu problems)", diag_list_count(dl));
    assert_string_equal(cjson_get_string(out, "status.phase"), "Degraded");
    assert_int_equal(json_object_array_length(cjson_get(out, "status.plan")), 3);
    assert_string_equal(
        cjson_get_string(json_object_array_get_idx(cjson_get(out, "status.plan"), 2), "path"),
        "/etc/default/nginx.env");
    {
        json_object *comps =
            cjson_get(json_object_array_get_idx(cjson_get(out, "status.hosts"), 0), "components");

        assert_true(
            json_object_get_boolean(cjson_get(json_object_array_get_idx(comps, 0), "ready")));
        assert_false(
            json_object_get_boolean(cjson_get(json_object_array_get_idx(comps, 1), "ready")));
    }
    assert_string_equal(
        cjson_get_string(json_object_array_get_idx(cjson_get(out, "status.plan"), 0), "error"),
        "exited with code 1");
    assert_null(cjson_get(json_object_array_get_idx(cjson_get(out, "status.plan"), 1), "error"));
    json_object_put(out);
    json_object_put(tenant);
    schema_set_free(set);
    diag_list_free(dl);
}

/* Layout ha: status.ha and HAHealthy come from the observation, fit the schema (with a stop in
 * the plan), keep the last move across rounds, and leave with the layout. */
static void test_status_ha_and_condition(void **state)
{
    json_object *tenant = json_tokener_parse(
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\",\"metadata\":{\"name\":"
        "\"t1\"},\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"h1\",\"lanIP\":"
        "\"10.0.0.1\",\"ssh\":{\"address\":\"10.0.0.1\",\"identitySecretRef\":{\"name\":"
        "\"k\"}}}]}}");
    static const tenant_obs_action plan[] = {
        {"h2", "stop", "oml-nginx-server", "nginx", NULL, "active-only: the OMniLeads VIP is on h1",
         NULL, NULL},
    };
    ha_node_obs n[2];
    ha_report rp;
    tenant_obs_component cs[1];
    tenant_obs obs;
    schema_set *set = NULL;
    diag_list *dl = diag_list_new();
    omlop_err err = OMLOP_ERR_INIT;
    json_object *st, *st2, *out = NULL;

    (void)state;
    memset(n, 0, sizeof(n));
    memset(&rp, 0, sizeof(rp));
    n[0].name = "h1";
    n[1].name = "h2";
    n[0].is_reachable = n[1].is_reachable = n[0].is_observed = n[1].is_observed = 1;
    n[0].holds[HA_VIP_OMNILEADS] = 1;
    rp.nodes = n;
    rp.n = 2;
    rp.addr[HA_VIP_OMNILEADS] = "10.0.0.100";
    rp.addr[HA_VIP_POSTGRES_RW] = "10.0.0.101";
    rp.addr[HA_VIP_POSTGRES_RO] = "10.0.0.102";
    rp.preferred = "h1";
    rp.active = 0;
    cs[0] = comp("redis", TENANT_STATE_RUNNING, 1);
    memset(&obs, 0, sizeof(obs));
    obs.generation = 1;
    obs.hosts = one_host_up;
    obs.n_hosts = 1;
    obs.components = cs;
    obs.n_components = 1;
    obs.plan = plan;
    obs.n_plan = 1;
    obs.ha = &rp;
    st = compute(NULL, &obs, T0);
    assert_string_equal(cond(st, "HAHealthy", "status"), "True");
    assert_string_equal(cond(st, "HAHealthy", "reason"), "ActiveOnPreferredMain");
    assert_string_equal(cjson_get_string(st, "ha.activeNode"), "h1");

    /* the next round sees it on h2: the move is recorded with the round's time */
    n[0].holds[HA_VIP_OMNILEADS] = 0;
    n[1].holds[HA_VIP_OMNILEADS] = 1;
    rp.active = 1;
    st2 = compute(st, &obs, T1);
    json_object_put(st);
    assert_string_equal(cjson_get_string(st2, "ha.lastActiveChange.from"), "h1");
    assert_string_equal(cjson_get_string(st2, "ha.lastActiveChange.to"), "h2");
    assert_string_equal(cjson_get_string(st2, "ha.lastActiveChange.time"), T1);
    assert_string_equal(cond(st2, "HAHealthy", "reason"), "ActiveOnBackup");

    json_object_object_add(tenant, "status", json_object_get(st2));
    if (schema_set_new_builtin(&set, &err) < 0)
        fail_msg("schema: %s", err.msg);
    if (schema_set_decode_json(set, tenant, &out, dl) < 0)
        fail_msg("status with ha does not fit the schema (%zu problems)", diag_list_count(dl));
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(
            cjson_get(json_object_array_get_idx(cjson_get(out, "status.ha.vips"), 0), "holders"),
            0)),
        "h2");
    json_object_put(out);

    /* not ha any more: no status.ha */
    obs.ha = NULL;
    st = compute(st2, &obs, T1);
    assert_null(cjson_get(st, "ha"));
    json_object_put(st);
    json_object_put(st2);
    json_object_put(tenant);
    schema_set_free(set);
    diag_list_free(dl);
}

static void test_status_recreation_after_removal_is_a_repair(void **state)
{
    tenant_obs_component cs[1];
    tenant_obs obs;
    json_object *st1, *st2, *st3, *c;

    (void)state;
    cs[0] = comp("redis", TENANT_STATE_RUNNING, 1);
    cs[0].is_created = 1; /* first install: not a repair */
    memset(&obs, 0, sizeof(obs));
    obs.hosts = one_host_up;
    obs.n_hosts = 1;
    obs.components = cs;
    obs.n_components = 1;
    st1 = compute(NULL, &obs, T0);
    c = json_object_array_get_idx(
        cjson_get(json_object_array_get_idx(cjson_get(st1, "hosts"), 0), "components"), 0);
    assert_null(cjson_get(c, "lastDriftRepaired"));
    st2 = compute(st1, &obs, T1); /* created again where a container was known: a repair */
    c = json_object_array_get_idx(
        cjson_get(json_object_array_get_idx(cjson_get(st2, "hosts"), 0), "components"), 0);
    assert_string_equal(cjson_get_string(c, "lastDriftRepaired"), T1);
    assert_int_equal(cjson_get_int(c, "restarts", -1), 0);
    cs[0].is_created = 0;
    st3 = compute(st2, &obs, T2);
    c = json_object_array_get_idx(
        cjson_get(json_object_array_get_idx(cjson_get(st3, "hosts"), 0), "components"), 0);
    assert_string_equal(cjson_get_string(c, "lastDriftRepaired"), T1);
    json_object_put(st1);
    json_object_put(st2);
    json_object_put(st3);
}

/* A status that moved on only in its times is not written, until the refresh interval. */
static void test_status_unchanged_but_for_times_is_not_rewritten(void **state)
{
    json_object *old =
        json_tokener_parse("{\"phase\":\"Ready\",\"lastReconcileTime\":\"2026-11-25T16:00:00Z\","
                           "\"hosts\":[{\"name\":\"h1\",\"reachable\":true,"
                           "\"lastContactTime\":\"2026-11-25T16:00:00Z\"}]}");
    json_object *next =
        json_tokener_parse("{\"phase\":\"Ready\",\"lastReconcileTime\":\"2026-11-25T16:01:00Z\","
                           "\"hosts\":[{\"name\":\"h1\",\"reachable\":true,"
                           "\"lastContactTime\":\"2026-11-25T16:01:00Z\"}]}");
    json_object *moved =
        json_tokener_parse("{\"phase\":\"Degraded\",\"lastReconcileTime\":\"2026-11-25T16:01:00Z\","
                           "\"hosts\":[{\"name\":\"h1\",\"reachable\":true,"
                           "\"lastContactTime\":\"2026-11-25T16:01:00Z\"}]}");
    time_t t0 = 1795622400; /* 2026-11-25T16:00:00Z */

    (void)state;
    assert_true(tenant_status_is_unchanged(old, next, t0 + 60, 300));
    assert_false(tenant_status_is_unchanged(old, moved, t0 + 60, 300));
    assert_false(tenant_status_is_unchanged(old, next, t0 + 300, 300)); /* refresh due */
    assert_false(tenant_status_is_unchanged(NULL, next, t0 + 60, 300));
    json_object_object_add(old, "lastReconcileTime", json_object_new_string("yesterday"));
    assert_false(tenant_status_is_unchanged(old, next, t0 + 60, 300));
    json_object_object_del(old, "lastReconcileTime");
    assert_false(tenant_status_is_unchanged(old, next, t0 + 60, 300));
    json_object_put(old);
    json_object_put(next);
    json_object_put(moved);
}

static void test_status_plan_dropped_when_nothing_is_pending(void **state)
{
    static const tenant_obs_action plan[] = {
        {"h1", "pull", NULL, "nginx", "reg/nginx:2", "image not on the host", "manifest unknown",
         NULL},
    };
    tenant_obs_component cs[1];
    tenant_obs obs;
    json_object *st, *st2;

    (void)state;
    cs[0] = comp("nginx", TENANT_STATE_MISSING, 0);
    memset(&obs, 0, sizeof(obs));
    obs.generation = 1;
    obs.hosts = one_host_up;
    obs.n_hosts = 1;
    obs.components = cs;
    obs.n_components = 1;
    obs.plan = plan;
    obs.n_plan = 1;
    st = compute(NULL, &obs, T0);
    assert_string_equal(
        cjson_get_string(json_object_array_get_idx(cjson_get(st, "plan"), 0), "image"),
        "reg/nginx:2");
    assert_null(cjson_get(json_object_array_get_idx(cjson_get(st, "plan"), 0), "container"));
    /* a reason longer than the CRD allows is cut, so the status stays valid */
    {
        char long_reason[1500];
        tenant_obs_action big = plan[0];
        json_object *st3;

        memset(long_reason, 'x', sizeof(long_reason) - 1);
        long_reason[sizeof(long_reason) - 1] = '\0';
        big.reason = long_reason;
        obs.plan = &big;
        st3 = compute(NULL, &obs, T0);
        assert_int_equal(strlen(cjson_get_string(
                             json_object_array_get_idx(cjson_get(st3, "plan"), 0), "reason")),
                         1024);
        json_object_put(st3);
    }
    cs[0] = comp("nginx", TENANT_STATE_RUNNING, 1);
    obs.plan = NULL;
    obs.n_plan = 0;
    st2 = compute(st, &obs, T1);
    assert_null(cjson_get(st2, "plan"));
    json_object_put(st);
    json_object_put(st2);
}

/*
 * A host not tried for want of its Secret: its own reason on Ready, Degraded and Progressing
 * (False: only the user can fix it); HostsReachable Unknown, unless another host really is
 * unreachable.
 */
static void test_status_secret_problem_is_its_own_reason(void **state)
{
    static const tenant_obs_host secret_down[] = {
        {"h1", 0, "host h1: SSH key: Secret s (key ssh-privatekey) not found", NULL,
         "SecretNotFound"}};
    static const tenant_obs_host mixed[] = {
        {"h1", 0, "host h1: SSH key: Secret s key k is not an unencrypted SSH private key", NULL,
         "InvalidSecret"},
        {"h2", 0, "host h2 (root@h2:22): cannot connect: refused", NULL, NULL}};
    tenant_obs obs;
    json_object *st;

    (void)state;
    memset(&obs, 0, sizeof(obs));
    obs.generation = 1;
    obs.hosts = secret_down;
    obs.n_hosts = 1;
    obs.n_pending = 3; /* would be "Converging" for a mere unreachable host */
    st = compute(NULL, &obs, T0);
    assert_string_equal(cond(st, "HostsReachable", "status"), "Unknown");
    assert_string_equal(cond(st, "HostsReachable", "reason"), "SecretNotFound");
    assert_string_equal(cond(st, "Progressing", "status"), "False");
    assert_string_equal(cond(st, "Progressing", "reason"), "SecretNotFound");
    assert_non_null(strstr(cond(st, "Progressing", "message"), "Secret s (key ssh-privatekey)"));
    assert_string_equal(cond(st, "Ready", "reason"), "SecretNotFound");
    assert_string_equal(cond(st, "Degraded", "reason"), "SecretNotFound");
    json_object_put(st);

    obs.hosts = mixed;
    obs.n_hosts = 2;
    st = compute(NULL, &obs, T0);
    assert_string_equal(cond(st, "HostsReachable", "status"), "False");
    assert_string_equal(cond(st, "HostsReachable", "reason"), "HostUnreachable");
    assert_string_equal(cond(st, "Ready", "reason"), "InvalidSecret");
    assert_string_equal(cond(st, "Progressing", "status"), "False");
    json_object_put(st);
}

/* status.tls: the pair's fields; lastRenewal moves only with a new pair; a pair that fails its
 * checks keeps the block placed before and is Degraded with the check's reason. */
static void test_status_tls_block_and_last_renewal(void **state)
{
    tenant_obs_component cs[1];
    const char *dns[] = {"oml.example.com"}, *ips[] = {"10.0.0.5"};
    tenant_obs_tls tls;
    tenant_obs obs;
    json_object *st0, *st1, *st2, *st3;

    (void)state;
    cs[0] = comp("nginx", TENANT_STATE_RUNNING, 1);
    memset(&obs, 0, sizeof(obs));
    obs.generation = 1;
    obs.hosts = one_host_up;
    obs.n_hosts = 1;
    obs.components = cs;
    obs.n_components = 1;
    memset(&tls, 0, sizeof(tls));
    tls.mode = "selfsigned";
    tls.secret = "t1-tls";
    tls.secret_revision = 7;
    tls.digest = "d1";
    tls.has_pair = 1;
    tls.not_before = 1767225600; /* 2026-01-01T00:00:00Z */
    tls.not_after = 1798761600;  /* 2027-01-01T00:00:00Z */
    tls.serial = "0A";
    tls.issuer = "CN=oml.example.com";
    tls.dns_names = dns;
    tls.n_dns = 1;
    tls.ip_addrs = ips;
    tls.n_ips = 1;
    tls.next_renewal = 1788220800; /* 2026-09-01T00:00:00Z */
    tls.is_issued = 1;
    obs.tls = &tls;
    st0 = compute(NULL, &obs, T0);
    assert_string_equal(cjson_get_string(st0, "tls.mode"), "selfsigned");
    assert_string_equal(cjson_get_string(st0, "tls.secretName"), "t1-tls");
    assert_int_equal(cjson_get_int(st0, "tls.secretRevision", 0), 7);
    assert_string_equal(cjson_get_string(st0, "tls.digest"), "d1");
    assert_string_equal(cjson_get_string(st0, "tls.notBefore"), "2026-01-01T00:00:00Z");
    assert_string_equal(cjson_get_string(st0, "tls.notAfter"), "2027-01-01T00:00:00Z");
    assert_string_equal(cjson_get_string(st0, "tls.serial"), "0A");
    assert_string_equal(cjson_get_string(st0, "tls.issuer"), "CN=oml.example.com");
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(cjson_get(st0, "tls.dnsNames"), 0)),
        "oml.example.com");
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(cjson_get(st0, "tls.ipAddresses"), 0)),
        "10.0.0.5");
    assert_string_equal(cjson_get_string(st0, "tls.lastRenewal"), T0);
    assert_string_equal(cjson_get_string(st0, "tls.nextRenewal"), "2026-09-01T00:00:00Z");
    assert_string_equal(cond(st0, "CertificateExpiringSoon", "status"), "False");
    assert_string_equal(cjson_get_string(st0, "phase"), "Ready");
    /* the same pair later: lastRenewal stays */
    tls.is_issued = 0;
    st1 = compute(st0, &obs, T1);
    assert_string_equal(cjson_get_string(st1, "tls.lastRenewal"), T0);
    /* a custom pair that fails: the block stays (mode follows), Degraded with the reason */
    tls.mode = "custom";
    tls.has_pair = 0;
    tls.fail_reason = "KeyMismatch";
    tls.fail_message = "Secret c fails the check KeyMismatch";
    tls.is_expiring_soon = 1;
    st2 = compute(st1, &obs, T2);
    assert_string_equal(cjson_get_string(st2, "tls.mode"), "custom");
    assert_string_equal(cjson_get_string(st2, "tls.digest"), "d1");
    assert_string_equal(cjson_get_string(st2, "tls.serial"), "0A");
    assert_string_equal(cond(st2, "Degraded", "status"), "True");
    assert_string_equal(cond(st2, "Degraded", "reason"), "KeyMismatch");
    assert_string_equal(cond(st2, "Ready", "status"), "True");
    assert_string_equal(cjson_get_string(st2, "phase"), "Degraded");
    assert_string_equal(cond(st2, "CertificateExpiringSoon", "status"), "True");
    /* a new pair: lastRenewal moves */
    tls.has_pair = 1;
    tls.fail_reason = NULL;
    tls.digest = "d2";
    st3 = compute(st2, &obs, T2);
    assert_string_equal(cjson_get_string(st3, "tls.lastRenewal"), T2);
    assert_string_equal(cond(st3, "Degraded", "status"), "False");
    json_object_put(st0);
    json_object_put(st1);
    json_object_put(st2);
    json_object_put(st3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_tls_block_and_last_renewal),
        cmocka_unit_test(test_status_ready_when_every_component_runs),
        cmocka_unit_test(test_status_progressing_while_components_missing),
        cmocka_unit_test(test_status_degraded_names_failed_component),
        cmocka_unit_test(test_status_host_unreachable_keeps_last_contact),
        cmocka_unit_test(test_status_transition_time_moves_only_on_flip),
        cmocka_unit_test(test_status_counts_restarts_and_repairs),
        cmocka_unit_test(test_status_invalid_spec_is_failed),
        cmocka_unit_test(test_status_keeps_other_writers_fields),
        cmocka_unit_test(test_condition_set_appends_and_updates),
        cmocka_unit_test(test_status_fits_the_tenant_schema),
        cmocka_unit_test(test_status_ha_and_condition),
        cmocka_unit_test(test_status_recreation_after_removal_is_a_repair),
        cmocka_unit_test(test_status_plan_dropped_when_nothing_is_pending),
        cmocka_unit_test(test_status_unchanged_but_for_times_is_not_rewritten),
        cmocka_unit_test(test_status_secret_problem_is_its_own_reason),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
