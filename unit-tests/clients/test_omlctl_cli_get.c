/*
 * omlctl get, describe, wait and version against a real omlopd (see
 * omlctl_harness.h): every -o format, selectors, watch output as changes
 * happen, the tenant describe with status and events, wait for a condition
 * (met while waiting, and timing out with the last state seen) and for
 * deletion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "lib/cjson.h"
#include "lib/clock.h"
#include "unit-tests/clients/omlctl_harness.h"

static octl_env env;
static char tenant_file[512];

static int setup(void **state)
{
    const char *src = getenv("OMLOP_SRCDIR");
    octl_run r;
    int rc;

    /* these tests write the tenant's status as the operator would: no reconcile loop may
     * overwrite it meanwhile (its retries of the example tenant raced with them) */
    static const char *const flags[] = {"--no-reconcile", NULL};

    (void)state;
    if (octl_start(&env, flags) < 0)
        return -1;
    snprintf(tenant_file, sizeof(tenant_file), "%s/crds/examples/tenant-aio.yaml", src ? src : ".");
    rc = OCTL(&env, &r, NULL, "apply", "-f", tenant_file);
    if (rc != 0)
        octl_dump("apply tenant-aio.yaml", &r);
    octl_run_release(&r);
    return rc == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    octl_stop(&env);
    return 0;
}

/* Write the tenant's status through the /status subresource, as the operator does. */
static void set_tenant_status(const char *status_json)
{
    json_object *obj = NULL, *status = json_tokener_parse(status_json);
    omlop_err err = OMLOP_ERR_INIT;
    const char *path = APICLIENT_PREFIX "/tenants/algarrobo/status";

    assert_non_null(status);
    assert_int_equal(apiclient_json(env.api, "GET", APICLIENT_PREFIX "/tenants/algarrobo", NULL,
                                    NULL, &obj, &err),
                     0);
    json_object_object_add(obj, "status", status);
    if (apiclient_json(env.api, "PUT", path, NULL, obj, NULL, &err) < 0)
        fail_msg("PUT %s: %s", path, err.msg);
    json_object_put(obj);
}

static void test_get_table_and_wide(void **state)
{
    octl_run r;
    const char *row;

    (void)state;
    set_tenant_status("{\"phase\":\"Ready\",\"conditions\":[{\"type\":\"Ready\","
                      "\"status\":\"True\",\"reason\":\"Converged\",\"message\":\"all good\","
                      "\"lastTransitionTime\":\"2024-01-01T00:00:00Z\"}]}");
    OCTL(&env, &r, NULL, "get", "tn");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "NAME        LAYOUT   PHASE   READY   AGE\n");
    row = strstr(r.out.buf, "\nalgarrobo   aio      Ready   True    ");
    assert_non_null(row);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "tenants", "-o", "wide", "--no-headers");
    octl_assert_code(&r, 0);
    octl_assert_not_contains(r.out.buf, "NAME");
    /* Without the header, columns are as wide as their cells. */
    octl_assert_contains(r.out.buf, "algarrobo   aio   Ready   True   "
                                    "tenant-name.omnileads.net   community   240201.01   ");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "backups");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "");
    octl_assert_contains(r.err.buf, "No resources found.");
    octl_run_release(&r);
}

static void test_get_machine_formats(void **state)
{
    octl_run r;
    json_object *o;

    (void)state;
    OCTL(&env, &r, NULL, "get", "tenant/algarrobo", "-o", "name");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "tenant/algarrobo\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "tn", "algarrobo", "-o", "json");
    octl_assert_code(&r, 0);
    o = json_tokener_parse(r.out.buf);
    assert_non_null(o);
    octl_assert_field(o, "kind", "Tenant");
    octl_assert_field(o, "spec.images.tags.omlapp", "240201.01");
    json_object_put(o);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "tenants", "-o", "json");
    octl_assert_code(&r, 0);
    o = json_tokener_parse(r.out.buf);
    octl_assert_field(o, "kind", "List");
    assert_int_equal(json_object_array_length(cjson_get(o, "items")), 1);
    json_object_put(o);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "tn", "algarrobo", "-o", "yaml");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "apiVersion: omlop.io/v1alpha1\nkind: Tenant\n");
    /* An image tag stays a string through YAML: quoted where a reader would misread it. */
    octl_assert_contains(r.out.buf, "omlapp: '240201.01'");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "tn", "nope");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "error: omlopd answered 404 NotFound: ");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "tn", "nope", "algarrobo", "--ignore-not-found", "-o", "name");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "tenant/algarrobo\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "tn", "-o", "xml");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
}

static void test_get_label_selector(void **state)
{
    octl_run r;

    (void)state;
    OCTL(&env, &r, NULL, "get", "tn", "-l", "omlop.io/customer=algarrobo", "-o", "name");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "tenant/algarrobo\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "tn", "-l", "omlop.io/customer notin (algarrobo)", "-o", "name");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "tn", "-l", "a in (b");
    octl_assert_code(&r, 2);
    octl_assert_contains(r.err.buf, "label selector");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "get", "tn", "algarrobo", "-l", "a=b");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
}

static void apply_text(const char *text)
{
    octl_run r;

    OCTL(&env, &r, text, "apply", "-f", "-");
    octl_assert_code(&r, 0);
    octl_run_release(&r);
}

static const char w1_v1[] = "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: w1\n"
                            "  labels:\n    watch: me\ntype: test/one\nstringData:\n  k: a\n";
static const char w1_v2[] = "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: w1\n"
                            "  labels:\n    watch: me\ntype: test/one\nstringData:\n  k: b\n";

static void test_get_watch_prints_rows_as_events_arrive(void **state)
{
    const char *const args[] = {
        "get", "secrets", "-l", "watch=me", "-w", "--output-watch-events", "--request-timeout",
        "5s",  "-v",      NULL};
    octl_bg bg = {0, "", ""};
    octl_run r;
    const char *a, *m, *d;

    (void)state;
    apply_text("apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: w0\n"
               "  labels:\n    watch: me\nstringData:\n  k: a\n");
    octl_bg_start(&env, &bg, NULL, args);
    /* Change things only once the watch is open ("api=watch" in the -v log). */
    assert_int_equal(octl_bg_wait_for(&bg, 1, "api=watch", 20000), 0);
    apply_text(w1_v1);
    apply_text(w1_v2);
    OCTL(&env, &r, NULL, "delete", "secret", "w1");
    octl_assert_code(&r, 0);
    octl_run_release(&r);
    octl_bg_finish(&bg, &r, 30000);
    octl_assert_code(&r, 0); /* --request-timeout ends a watch quietly */
    /* The current object first, then one row per change, aligned under one header. */
    if (strncmp(r.out.buf, "EVENT   NAME   TYPE     AGE\nADDED   w0     <none>   ", 52) != 0)
        fail_msg("watch output starts wrong:\n%s", r.out.buf);
    /* Later rows are padded to the first batch's widths, and widen past them. */
    a = strstr(r.out.buf, "\nADDED   w1     test/one   ");
    m = strstr(r.out.buf, "\nMODIFIED   w1     test/one   ");
    d = strstr(r.out.buf, "\nDELETED    w1     test/one   ");
    if (!a || !m || !d || !(a < m && m < d))
        fail_msg("watch output out of order:\n%s", r.out.buf);
    octl_run_release(&r);
}

static void test_get_watch_only_yaml(void **state)
{
    const char *const args[] = {
        "get", "secret", "w2", "--watch-only", "-o", "yaml", "--request-timeout", "4s", "-v", NULL};
    octl_bg bg = {0, "", ""};
    octl_run r;

    (void)state;
    apply_text("apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: w2\n"
               "  labels:\n    step: first\nstringData:\n  k: a\n");
    octl_bg_start(&env, &bg, NULL, args);
    assert_int_equal(octl_bg_wait_for(&bg, 1, "api=watch", 20000), 0);
    apply_text("apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: w2\n"
               "  labels:\n    step: second\nstringData:\n  k: a\n");
    apply_text("apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: w3\n"
               "  labels:\n    step: other-object\nstringData:\n  k: a\n");
    octl_bg_finish(&bg, &r, 30000);
    octl_assert_code(&r, 0);
    /* Only the change of w2: not its current state, not w3. */
    octl_assert_not_contains(r.out.buf, "step: first");
    octl_assert_not_contains(r.out.buf, "other-object");
    octl_assert_contains(r.out.buf, "name: w2");
    octl_assert_contains(r.out.buf, "step: second");
    octl_run_release(&r);
}

/*
 * --request-timeout is the length of the whole watch, as get --help says: not
 * shorter, and not much longer (ASan start-up and one 1 s poll at most).
 */
static void test_get_watch_ends_at_request_timeout(void **state)
{
    int64_t t0;
    octl_run r;
    long ms;

    (void)state;
    t0 = clock_now_ms();
    OCTL(&env, &r, NULL, "get", "secrets", "-w", "--request-timeout", "2s");
    ms = (long)(clock_now_ms() - t0);
    octl_assert_code(&r, 0);
    if (ms < 2000 || ms > 2000 + 4000)
        fail_msg("get -w --request-timeout 2s ran %ld ms", ms);
    octl_run_release(&r);
}

static void post_event_uid(const char *name, const char *reason, const char *message, int count,
                           const char *uid)
{
    json_object *ev = json_object_new_object(), *io = json_object_new_object();
    json_object *src = json_object_new_object(), *meta = json_object_new_object();
    omlop_err err = OMLOP_ERR_INIT;

    json_object_object_add(ev, "apiVersion", json_object_new_string("omlop.io/v1alpha1"));
    json_object_object_add(ev, "kind", json_object_new_string("Event"));
    json_object_object_add(meta, "name", json_object_new_string(name));
    json_object_object_add(ev, "metadata", meta);
    json_object_object_add(io, "kind", json_object_new_string("Tenant"));
    json_object_object_add(io, "name", json_object_new_string("algarrobo"));
    if (uid)
        json_object_object_add(io, "uid", json_object_new_string(uid));
    json_object_object_add(ev, "involvedObject", io);
    json_object_object_add(ev, "type", json_object_new_string("Warning"));
    json_object_object_add(ev, "reason", json_object_new_string(reason));
    json_object_object_add(ev, "message", json_object_new_string(message));
    json_object_object_add(ev, "count", json_object_new_int(count));
    json_object_object_add(ev, "firstTimestamp", json_object_new_string("2024-01-01T00:00:00Z"));
    json_object_object_add(ev, "lastTimestamp", json_object_new_string("2024-01-02T00:00:00Z"));
    json_object_object_add(src, "component", json_object_new_string("omlopd"));
    json_object_object_add(ev, "source", src);
    if (apiclient_json(env.api, "POST", APICLIENT_PREFIX "/events", NULL, ev, NULL, &err) < 0)
        fail_msg("POST event: %s", err.msg);
    json_object_put(ev);
}

static void post_event(const char *name, const char *reason, const char *message, int count)
{
    post_event_uid(name, reason, message, count, NULL);
}

/* The uid of the stored Tenant algarrobo (caller frees). */
static char *tenant_uid(void)
{
    json_object *t = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    char *uid;

    if (apiclient_json(env.api, "GET", APICLIENT_PREFIX "/tenants/algarrobo", NULL, NULL, &t,
                       &err) < 0)
        fail_msg("GET tenant: %s", err.msg);
    uid = strdup(cjson_get_string(t, "metadata.uid"));
    json_object_put(t);
    return uid;
}

static void test_describe_tenant_shows_spec_status_and_events(void **state)
{
    char *uid = tenant_uid();

    octl_run r;

    (void)state;
    set_tenant_status(
        "{\"phase\":\"Degraded\",\"observedGeneration\":1,\"conditions\":[{\"type\":\"Ready\","
        "\"status\":\"False\",\"reason\":\"HostUnreachable\",\"message\":\"ssh refused\","
        "\"lastTransitionTime\":\"2024-01-01T00:00:00Z\"}],\"hosts\":[{\"name\":\"algarrobo\","
        "\"reachable\":false,\"lastError\":\"host algarrobo (root@190.19.150.18:22): cannot "
        "connect: connection refused\",\"components\":[{\"name\":"
        "\"omlapp\",\"image\":\"docker.io/omnileads/omlapp:240201.01\",\"state\":\"Running\","
        "\"restarts\":2},{\"name\":\"asterisk\",\"image\":\"docker.io/omnileads/asterisk:"
        "240102.01\",\"state\":\"Stopped\",\"restarts\":0}]}],\"tls\":{\"mode\":"
        "\"selfsigned\",\"secretName\":\"algarrobo-tls\",\"serial\":\"0A1B\",\"issuer\":"
        "\"CN=oml.example.com\",\"notBefore\":\"2024-01-01T00:00:00Z\",\"notAfter\":"
        "\"2025-01-01T00:00:00Z\",\"dnsNames\":[\"oml.example.com\"],\"ipAddresses\":"
        "[\"172.16.101.44\",\"10.0.0.9\"],\"lastRenewal\":\"2024-01-01T00:05:00Z\","
        "\"nextRenewal\":\"2024-09-01T00:00:00Z\"}}");
    post_event("algarrobo-ev1", "HostUnreachable", "ssh to 190.19.150.18:22 refused", 3);
    /* an earlier tenant of the same name (another uid) had its own events: not this one's */
    post_event_uid("algarrobo-old", "OldTenantEvent", "from the tenant deleted before", 1,
                   "uid-of-the-old-tenant");
    post_event_uid("algarrobo-mine", "ThisTenantEvent", "from this very tenant", 1, uid);
    OCTL(&env, &r, NULL, "describe", "tenant", "algarrobo");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "Name:           algarrobo\nKind:           Tenant\n");
    octl_assert_contains(r.out.buf, "Phase:          Degraded\n");
    octl_assert_contains(r.out.buf, "  Layout:       aio\n");
    octl_assert_contains(r.out.buf, "      omlapp                 240201.01\n");
    octl_assert_contains(r.out.buf, "    algarrobo   <none>   root@190.19.150.18:22   "
                                    "172.16.101.44\n");
    octl_assert_contains(r.out.buf, "Conditions:\n  TYPE    STATUS   REASON            AGE");
    octl_assert_contains(r.out.buf, "  Ready   False    HostUnreachable   ");
    octl_assert_contains(r.out.buf,
                         "TLS:\n  Mode:         selfsigned\n  Secret:       algarrobo-tls\n"
                         "  Serial:       0A1B\n");
    octl_assert_contains(r.out.buf, "  Not after:    2025-01-01T00:00:00Z\n");
    octl_assert_contains(r.out.buf, "  DNS names:    oml.example.com\n"
                                    "  IP addresses: 172.16.101.44, 10.0.0.9\n");
    octl_assert_contains(r.out.buf, "  Next renewal: 2024-09-01T00:00:00Z\n");
    octl_assert_contains(r.out.buf, "Host status:\n  HOST        REACHABLE   COMPONENT   IMAGE");
    octl_assert_contains(r.out.buf, "  algarrobo   no          omlapp      "
                                    "docker.io/omnileads/omlapp:240201.01     Running   2\n");
    octl_assert_contains(r.out.buf, "                          asterisk    ");
    /* the error names its host once: describe adds no second name */
    octl_assert_contains(r.out.buf, "Host errors:\n  host algarrobo (root@190.19.150.18:22): "
                                    "cannot connect: connection refused\n");
    octl_assert_contains(r.out.buf, "Events:\n  TYPE      REASON            AGE");
    octl_assert_contains(r.out.buf, "(x3 over ");
    octl_assert_contains(r.out.buf, "ssh to 190.19.150.18:22 refused\n");
    octl_assert_contains(r.out.buf, "from this very tenant\n");
    if (strstr(r.out.buf, "OldTenantEvent"))
        fail_msg("an event of an older tenant of the same name is shown:\n%s", r.out.buf);
    octl_run_release(&r);
    free(uid);
    OCTL(&env, &r, NULL, "describe", "secret", "nope");
    octl_assert_code(&r, 1);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "describe");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
}

/* Layout ha: status.ha (as the CRD allows it) shows the active node and the VIP holders. */
static void test_describe_tenant_shows_ha(void **state)
{
    octl_run r;

    (void)state;
    set_tenant_status("{\"phase\":\"Ready\",\"observedGeneration\":1,\"ha\":{\"activeNode\":\"h2\","
                      "\"preferredMain\":\"h1\",\"vips\":[{\"name\":\"omnileads\",\"address\":"
                      "\"10.0.0.100\",\"holders\":[\"h2\"]},{\"name\":\"postgresRW\",\"address\":"
                      "\"10.0.0.101\",\"holders\":[]}],\"lastActiveChange\":{\"time\":"
                      "\"2026-12-05T05:00:00Z\",\"from\":\"h1\",\"to\":\"h2\"}}}");
    OCTL(&env, &r, NULL, "describe", "tenant", "algarrobo");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "HA:\n  Active node:  h2\n  Preferred main: h1\n");
    octl_assert_contains(r.out.buf, "  VIP omnileads: 10.0.0.100 on h2\n");
    octl_assert_contains(r.out.buf, "  VIP postgresRW: 10.0.0.101 on <no node>\n");
    octl_assert_contains(r.out.buf, "  Last move:    h1 -> h2 at 2026-12-05T05:00:00Z\n");
    octl_run_release(&r);
}

static void test_describe_secret_hides_values(void **state)
{
    octl_run r;

    (void)state;
    apply_text("apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: hidden\n"
               "stringData:\n  password: hunter2\n");
    OCTL(&env, &r, NULL, "describe", "secret/hidden");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "  password: 7 bytes\n");
    octl_assert_not_contains(r.out.buf, "hunter2");
    octl_run_release(&r);
}

static void test_wait_for_condition_met_and_timeout(void **state)
{
    const char *const args[] = {
        "wait", "tenant/algarrobo", "--for", "condition=Ready", "--timeout", "30s", "-v", NULL};
    octl_bg bg = {0, "", ""};
    octl_run r;
    long t0;

    (void)state;
    set_tenant_status("{\"phase\":\"Provisioning\",\"conditions\":[{\"type\":\"Ready\","
                      "\"status\":\"False\",\"reason\":\"Provisioning\","
                      "\"message\":\"waiting for host algarrobo\"}]}");
    t0 = octl_now_ms();
    OCTL(&env, &r, NULL, "wait", "tn", "algarrobo", "--for=condition=Ready", "--timeout=1s");
    octl_assert_code(&r, 1);
    assert_true(octl_now_ms() - t0 >= 1000);
    assert_string_equal(r.err.buf,
                        "error: timed out waiting for the condition on tenant/algarrobo: "
                        "Ready=False (Provisioning: waiting for host algarrobo)\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "wait", "tn", "algarrobo", "--for=condition=ready=false", "--timeout=5s");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "tenant/algarrobo condition met\n");
    octl_run_release(&r);
    /* Met while waiting: the change arrives through the watch. */
    octl_bg_start(&env, &bg, NULL, args);
    assert_int_equal(octl_bg_wait_for(&bg, 1, "api=watch", 20000), 0);
    set_tenant_status("{\"phase\":\"Ready\",\"conditions\":[{\"type\":\"Ready\",\"status\":"
                      "\"True\",\"reason\":\"Converged\",\"observedGeneration\":1}]}");
    octl_bg_finish(&bg, &r, 30000);
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "tenant/algarrobo condition met\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "wait", "bk", "never-created", "--for=delete", "--timeout=2s");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "backup/never-created deleted\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "wait", "bk", "never-created", "--for=condition=Done", "--timeout=0");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "backup/never-created was not found");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "wait", "tn", "algarrobo", "--for=ready");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
}

static void test_wait_honours_condition_generation(void **state)
{
    octl_run r;

    (void)state;
    /* A Ready=True written for an older generation is not an answer yet. */
    set_tenant_status("{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
                      "\"observedGeneration\":0}]}");
    OCTL(&env, &r, NULL, "wait", "tn", "algarrobo", "--for=condition=Ready", "--timeout=500ms");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "Ready=True for generation 0, the object is at 1");
    octl_run_release(&r);
}

static void test_version_reports_both_sides(void **state)
{
    octl_run r;
    json_object *o;

    (void)state;
    OCTL(&env, &r, NULL, "version");
    octl_assert_code(&r, 0);
    octl_assert_contains(r.out.buf, "Client Version: 0.1.0-dev\nServer Version: ");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "version", "--client");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "Client Version: 0.1.0-dev\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "version", "-o", "json");
    octl_assert_code(&r, 0);
    o = json_tokener_parse(r.out.buf);
    octl_assert_field(o, "clientVersion.gitVersion", "0.1.0-dev");
    assert_non_null(cjson_get_string(o, "serverVersion.gitVersion"));
    json_object_put(o);
    octl_run_release(&r);
    /* An unreachable server: client version, a note on stderr, exit 0. */
    OCTL(&env, &r, NULL, "version", "--server", "http://127.0.0.1:1");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "Client Version: 0.1.0-dev\n");
    octl_assert_contains(r.err.buf, "cannot reach omlopd at http://127.0.0.1:1");
    octl_run_release(&r);
}

/* Every verb answers --help (exit 0, its help then the global flags) and an unknown flag (exit 2).
 */
static void test_every_verb_has_help(void **state)
{
    static const char *const verbs[] = {"apply",   "get",     "describe", "diff",    "delete",
                                        "wait",    "edit",    "config",   "version", "render",
                                        "convert", "explain", "validate"};
    octl_run r;

    (void)state;
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        OCTL(&env, &r, NULL, verbs[i], "--help");
        octl_assert_code(&r, 0);
        octl_assert_contains(r.out.buf, "Usage:\n");
        octl_assert_contains(r.out.buf, "Examples:\n");
        octl_assert_contains(r.out.buf, "--server URL");
        assert_true(strstr(r.out.buf, "Usage:\n") < strstr(r.out.buf, "--server URL"));
        octl_run_release(&r);
        OCTL(&env, &r, NULL, verbs[i], "--no-such-flag");
        octl_assert_code(&r, 2);
        octl_assert_contains(r.err.buf, "--no-such-flag");
        assert_int_equal(r.out.len, 0);
        octl_run_release(&r);
    }
}

/* Global flags may precede the verb, as with kubectl; they override OMLOP_SERVER. */
static void test_global_flags_before_the_verb(void **state)
{
    octl_run r;

    (void)state;
    OCTL(&env, &r, NULL, "--server", "http://127.0.0.1:1", "get", "tn", "-o", "name");
    octl_assert_code(&r, 1);
    octl_assert_contains(r.err.buf, "127.0.0.1:1");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "--server", env.server, "-v", "get", "tn", "algarrobo", "-o", "name");
    octl_assert_code(&r, 0);
    assert_string_equal(r.out.buf, "tenant/algarrobo\n");
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "--server");
    octl_assert_code(&r, 2);
    octl_run_release(&r);
    OCTL(&env, &r, NULL, "--token=abc");
    octl_assert_code(&r, 2);
    octl_assert_contains(r.err.buf, "no command after the global flags");
    octl_run_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_table_and_wide),
        cmocka_unit_test(test_global_flags_before_the_verb),
        cmocka_unit_test(test_get_machine_formats),
        cmocka_unit_test(test_get_label_selector),
        cmocka_unit_test(test_get_watch_prints_rows_as_events_arrive),
        cmocka_unit_test(test_get_watch_only_yaml),
        cmocka_unit_test(test_get_watch_ends_at_request_timeout),
        cmocka_unit_test(test_describe_tenant_shows_spec_status_and_events),
        cmocka_unit_test(test_describe_tenant_shows_ha),
        cmocka_unit_test(test_describe_secret_hides_values),
        cmocka_unit_test(test_wait_for_condition_met_and_timeout),
        cmocka_unit_test(test_wait_honours_condition_generation),
        cmocka_unit_test(test_version_reports_both_sides),
        cmocka_unit_test(test_every_verb_has_help),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
