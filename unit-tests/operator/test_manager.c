/*
 * Tests for operator/manager: a running manager notices a Tenant created in
 * the store (watch), reconciles it (here: its SSH Secret is missing, so the
 * host is reported unreachable through the status) and stops promptly; a
 * deletion made while no manager ran is finished when one starts, and one
 * blocked by an unreachable host keeps the finalizer. Host reconnects: a host
 * coming back queues its tenant at once with the backoff forgotten; a host
 * that refuses connections is reported once (by the host pool), waited for,
 * and the manager stops promptly. (The pool's own tests: clients/test_hostpool.) (Following
 * again after a real reconnect needs an SSH server: e2e/scenarios/36-two-tenants.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crds/diag.h"
#include "crds/object.h"
#include "crds/schema.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "operator/manager.h"
#include "reconcilers/tenant.h"
#include "reconcilers/tenant_lifecycle.h"
#include "reconcilers/tenant_status.h"

/* How many times needle occurs in hay. */
static int count_str(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void test_manager_reconciles_a_new_tenant_and_stops(void **state)
{
    static const char tenant_json[] =
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\","
        "\"metadata\":{\"name\":\"m1\",\"uid\":\"u-m1\",\"generation\":1},"
        "\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"h1\",\"lanIP\":\"10.0.0.5\","
        "\"ssh\":{\"address\":\"10.0.0.5\",\"identitySecretRef\":{\"name\":\"m1-ssh\"}}}],"
        "\"network\":{\"infraEnv\":\"lan\",\"fqdn\":\"m1.example.com\"},"
        "\"observability\":{\"enabled\":false}}}";
    char dir[] = "/tmp/omlop-manager-XXXXXX", cmd[96];
    store_options so;
    store *st = NULL;
    manager *m = NULL;
    manager_options mo;
    schema_set *set = NULL;
    diag_list *dl = diag_list_new();
    json_object *raw = json_tokener_parse(tenant_json), *decoded = NULL, *t = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf text = STRBUF_INIT;
    int64_t deadline, t_stop;
    const char *msg = NULL;

    (void)state;
    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    assert_non_null(mkdtemp(dir));
    store_options_default(&so);
    so.data_dir = dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &st, &err) < 0)
        fail_msg("store: %s", err.msg);
    manager_options_default(&mo);
    mo.workers = 2;
    assert_int_equal(manager_new(st, NULL, &mo, &m, &err), 0);
    assert_int_equal(manager_start(m, &err), 0);

    /* created after the manager started: the watch must see it */
    if (schema_set_new_builtin(&set, &err) < 0 ||
        schema_set_decode_json(set, raw, &decoded, dl) < 0)
        fail_msg("the test tenant does not decode");
    object_store_text(decoded, &text);
    assert_int_equal(store_create(st, TENANT_KEY_PREFIX "m1", text.buf, text.len, NULL, &err), 0);

    deadline = clock_now_ms() + 10000;
    while (clock_now_ms() < deadline) {
        store_kv kv = {0};
        struct timespec ts = {0, 50 * 1000000L};

        if (store_get(st, TENANT_KEY_PREFIX "m1", &kv, &err) == 0) {
            json_object_put(t);
            t = object_parse(kv.value, kv.value_len);
            store_kv_release(&kv);
            msg = cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "HostsReachable"),
                                   "message");
            if (msg)
                break;
        }
        nanosleep(&ts, NULL);
    }
    if (!msg)
        fail_msg("no status written within 10 s");
    /* not tried for want of its Secret: whether the host is reachable is not known */
    assert_string_equal(
        cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "HostsReachable"), "status"),
        "Unknown");
    assert_string_equal(
        cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "HostsReachable"), "reason"),
        "SecretNotFound");
    assert_string_equal(
        cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "Progressing"), "status"),
        "False");
    assert_string_equal(
        cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "Progressing"), "reason"),
        "SecretNotFound");
    assert_non_null(strstr(msg, "m1-ssh"));
    assert_non_null(strstr(msg, "host h1: "));
    assert_int_equal(count_str(msg, "host h1"), 1);
    assert_int_equal(cjson_get_int(t, "metadata.generation", 0), 1);

    t_stop = clock_now_ms();
    manager_free(m);
    assert_true(clock_now_ms() - t_stop < 5000);
    json_object_put(t);
    json_object_put(raw);
    json_object_put(decoded);
    strbuf_release(&text);
    schema_set_free(set);
    diag_list_free(dl);
    store_close(st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Deleted (deletionTimestamp set, finalizer still on) while no manager ran: finished on start. */
static void test_manager_finishes_a_deletion_made_while_it_was_down(void **state)
{
    static const char gone_json[] =
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\","
        "\"metadata\":{\"name\":\"d1\",\"uid\":\"u-d1\",\"generation\":2,"
        "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\",\"finalizers\":[\"omlop.io/teardown\"]},"
        "\"spec\":{\"layout\":\"aio\",\"hosts\":[]}}";
    static const char blocked_json[] =
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\","
        "\"metadata\":{\"name\":\"d2\",\"uid\":\"u-d2\",\"generation\":2,"
        "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\",\"finalizers\":[\"omlop.io/teardown\"]},"
        "\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"h1\",\"lanIP\":\"10.0.0.5\","
        "\"ssh\":{\"address\":\"10.0.0.5\",\"identitySecretRef\":{\"name\":\"d2-ssh\"}}}]}}";
    char dir[] = "/tmp/omlop-manager-XXXXXX", cmd[96];
    store_options so;
    store *st = NULL;
    manager *m = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    store_kv kv = {0};
    json_object *t;
    int64_t deadline;
    int is_gone = 0;

    (void)state;
    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    assert_non_null(mkdtemp(dir));
    store_options_default(&so);
    so.data_dir = dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &st, &err) < 0)
        fail_msg("store: %s", err.msg);
    assert_int_equal(
        store_create(st, TENANT_KEY_PREFIX "d1", gone_json, strlen(gone_json), NULL, &err), 0);
    assert_int_equal(
        store_create(st, TENANT_KEY_PREFIX "d2", blocked_json, strlen(blocked_json), NULL, &err),
        0);
    assert_int_equal(manager_new(st, NULL, NULL, &m, &err), 0);
    assert_int_equal(manager_start(m, &err), 0);
    deadline = clock_now_ms() + 10000;
    while (!is_gone && clock_now_ms() < deadline) {
        struct timespec ts = {0, 50 * 1000000L};

        is_gone = store_get(st, TENANT_KEY_PREFIX "d1", &kv, &err) == OMLOP_ENOTFOUND;
        store_kv_release(&kv);
        nanosleep(&ts, NULL);
    }
    manager_free(m);
    assert_true(is_gone);
    /* a host it cannot reach blocks the other one: still there, finalizer on */
    assert_int_equal(store_get(st, TENANT_KEY_PREFIX "d2", &kv, &err), 0);
    t = object_parse(kv.value, kv.value_len);
    assert_true(tenant_has_finalizer(t));
    json_object_put(t);
    store_kv_release(&kv);
    store_close(st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- host reconnects ---------------------------------------------------------------------- */

/* A store, a log file and the manager's log captured in it. */
typedef struct fixture {
    char dir[64];
    char log_path[96];
    FILE *log;
    store *st;
} fixture;

static void fixture_open(fixture *fx, log_level level)
{
    store_options so;
    omlop_err err = OMLOP_ERR_INIT;

    memset(fx, 0, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/omlop-manager-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->log_path, sizeof(fx->log_path), "%s/log.txt", fx->dir);
    fx->log = fopen(fx->log_path, "w");
    assert_non_null(fx->log);
    log_configure(level, LOG_FORMAT_TEXT, fx->log);
    store_options_default(&so);
    so.data_dir = fx->dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &fx->st, &err) < 0)
        fail_msg("store: %s", err.msg);
}

/* Call with no manager running (nothing logs any more). */
static void fixture_close(fixture *fx)
{
    char cmd[128];

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    fclose(fx->log);
    store_close(fx->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
}

/* Decode a Tenant (defaults filled in, as the API would) and store it. */
static void put_tenant(store *st, const char *name, const char *json)
{
    schema_set *set = NULL;
    diag_list *dl = diag_list_new();
    json_object *raw = json_tokener_parse(json), *decoded = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf key = STRBUF_INIT, text = STRBUF_INIT;

    assert_non_null(raw);
    if (schema_set_new_builtin(&set, &err) < 0 ||
        schema_set_decode_json(set, raw, &decoded, dl) < 0)
        fail_msg("the test tenant %s does not decode", name);
    object_store_text(decoded, &text);
    strbuf_addf(&key, "%s%s", TENANT_KEY_PREFIX, name);
    assert_int_equal(store_create(st, key.buf, text.buf, text.len, NULL, &err), 0);
    strbuf_release(&key);
    strbuf_release(&text);
    json_object_put(raw);
    json_object_put(decoded);
    schema_set_free(set);
    diag_list_free(dl);
}

/* Lines of the log holding needle; the last one goes to last (may be NULL). */
static int log_count(const fixture *fx, const char *needle, char *last, size_t lastsz)
{
    FILE *f = fopen(fx->log_path, "r");
    char line[2048];
    int n = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        if (!strstr(line, needle))
            continue;
        n++;
        if (last)
            snprintf(last, lastsz, "%s", line);
    }
    fclose(f);
    return n;
}

/* Wait (bounded) until the log holds more than n lines with needle; the count. */
static int log_wait_more(const fixture *fx, const char *needle, int n, int64_t timeout_ms,
                         char *last, size_t lastsz)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    int got;

    while ((got = log_count(fx, needle, last, lastsz)) <= n && clock_now_ms() < deadline) {
        struct timespec ts = {0, 20 * 1000000L};

        nanosleep(&ts, NULL);
    }
    return got;
}

#define TENANT_NO_SECRET                                                                           \
    "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\","                                   \
    "\"metadata\":{\"name\":\"b1\",\"uid\":\"u-b1\",\"generation\":1},"                            \
    "\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"h1\",\"lanIP\":\"10.0.0.5\","             \
    "\"ssh\":{\"address\":\"10.0.0.5\",\"identitySecretRef\":{\"name\":\"b1-ssh\"}}}],"            \
    "\"network\":{\"infraEnv\":\"lan\",\"fqdn\":\"b1.example.com\"},"                              \
    "\"observability\":{\"enabled\":false}}}"

/*
 * Rounds that keep failing back off (500 ms doubling); a host coming back must not wait for
 * that: the tenant runs at once, and its next failure starts again at the base delay.
 */
static void test_host_back_requeues_at_once_with_backoff_forgotten(void **state)
{
    static const char failed[] = "tenant=b1 reconcile failed";
    fixture fx;
    manager *m = NULL;
    manager_options mo;
    omlop_err err = OMLOP_ERR_INIT;
    char last[2048] = "";
    int n;
    int64_t t0;

    (void)state;
    fixture_open(&fx, LOG_LEVEL_WARN);
    put_tenant(fx.st, "b1", TENANT_NO_SECRET);
    manager_options_default(&mo);
    mo.workers = 1;
    assert_int_equal(manager_new(fx.st, NULL, &mo, &m, &err), 0);
    assert_int_equal(manager_start(m, &err), 0);

    /* failures at about 0, 0.5, 1.5 and 3.5 s: the fourth waits 4 s for the fifth */
    n = 0;
    t0 = clock_now_ms();
    while (!strstr(last, "retry in 4000 ms") && clock_now_ms() - t0 < 10000)
        n = log_wait_more(&fx, failed, n, 10000 - (clock_now_ms() - t0), last, sizeof(last));
    if (!strstr(last, "retry in 4000 ms"))
        fail_msg("no fourth failed round within 10 s; last: %s", last);

    t0 = clock_now_ms();
    manager_host_back(m, "b1");
    if (log_wait_more(&fx, failed, n, 2000, last, sizeof(last)) <= n)
        fail_msg("no round within 2 s of the host coming back (the backoff was 4 s)");
    assert_true(clock_now_ms() - t0 < 2000);
    if (!strstr(last, "retry in 500 ms"))
        fail_msg("the backoff was not forgotten: %s", last);

    manager_free(m);
    fixture_close(&fx);
}

/* Store Secret name with stringData {key: value}. */
static void put_secret(store *st, const char *name, const char *key, const char *value)
{
    json_object *sec = json_object_new_object(), *sd = json_object_new_object();
    json_object *md = json_object_new_object();
    omlop_err err = OMLOP_ERR_INIT;
    strbuf k = STRBUF_INIT;
    const char *text;

    json_object_object_add(md, "name", json_object_new_string(name));
    json_object_object_add(sec, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(sec, "kind", json_object_new_string("Secret"));
    json_object_object_add(sec, "metadata", md);
    json_object_object_add(sd, key, json_object_new_string(value));
    json_object_object_add(sec, "stringData", sd);
    text = json_object_to_json_string(sec);
    strbuf_addf(&k, "/omlop/secrets/%s", name);
    assert_int_equal(store_create(st, k.buf, text, strlen(text), NULL, &err), 0);
    strbuf_release(&k);
    json_object_put(sec);
}

/* The message of condition type of tenant name as stored now (caller frees), or NULL. */
static char *condition_message(store *st, const char *name, const char *type, char *reason,
                               size_t reasonsz)
{
    strbuf key = STRBUF_INIT;
    store_kv kv = {0};
    omlop_err err = OMLOP_ERR_INIT;
    json_object *t = NULL, *c;
    char *msg = NULL;

    strbuf_addf(&key, "%s%s", TENANT_KEY_PREFIX, name);
    if (store_get(st, key.buf, &kv, &err) == 0) {
        t = object_parse(kv.value, kv.value_len);
        c = tenant_condition_find(cjson_get(t, "status"), type);
        if (c && cjson_get_string(c, "message")) {
            msg = strdup(cjson_get_string(c, "message"));
            if (reason)
                snprintf(reason, reasonsz, "%s", cjson_get_string(c, "reason"));
        }
    }
    json_object_put(t);
    store_kv_release(&kv);
    strbuf_release(&key);
    return msg;
}

/*
 * A tenant failing on a missing Secret backs off (500 ms doubling); the user creating the
 * Secret must not wait for that: the tenant runs at once with its backoff forgotten. A Secret
 * no tenant reads queues nothing.
 */
static void test_fixed_secret_requeues_at_once_with_backoff_forgotten(void **state)
{
    static const char failed[] = "tenant=b1 reconcile failed";
    fixture fx;
    manager *m = NULL;
    manager_options mo;
    omlop_err err = OMLOP_ERR_INIT;
    char last[2048] = "", reason[64] = "";
    char *msg = NULL;
    int n;
    int64_t t0;

    (void)state;
    fixture_open(&fx, LOG_LEVEL_INFO);
    put_tenant(fx.st, "b1", TENANT_NO_SECRET);
    manager_options_default(&mo);
    mo.workers = 1;
    assert_int_equal(manager_new(fx.st, NULL, &mo, &m, &err), 0);
    assert_int_equal(manager_start(m, &err), 0);

    /* failures at about 0, 0.5, 1.5 and 3.5 s: the fourth waits 4 s for the fifth */
    n = 0;
    t0 = clock_now_ms();
    while (!strstr(last, "retry in 4000 ms") && clock_now_ms() - t0 < 10000)
        n = log_wait_more(&fx, failed, n, 10000 - (clock_now_ms() - t0), last, sizeof(last));
    if (!strstr(last, "retry in 4000 ms"))
        fail_msg("no fourth failed round within 10 s; last: %s", last);
    assert_true(manager_failures(m, "b1") >= 4);
    msg = condition_message(fx.st, "b1", "Ready", reason, sizeof(reason));
    assert_non_null(msg);
    assert_string_equal(reason, "SecretNotFound");
    free(msg);

    /* a Secret nobody reads: nothing queued, the backoff stays */
    put_secret(fx.st, "unrelated", "ssh-privatekey", "x");
    assert_int_equal(manager_secret_changed(m, "unrelated"), 0);
    assert_true(manager_failures(m, "b1") >= 4);

    /* the user writes the Secret (with a broken key: the round still fails, differently) */
    t0 = clock_now_ms();
    put_secret(fx.st, "b1-ssh", "ssh-privatekey", "not a key");
    if (log_wait_more(&fx, failed, n, 2000, last, sizeof(last)) <= n)
        fail_msg("no round within 2 s of the Secret being created (the backoff was 4 s)");
    assert_true(clock_now_ms() - t0 < 2000);
    if (!strstr(last, "retry in 500 ms"))
        fail_msg("the backoff was not forgotten: %s", last);
    assert_int_equal(log_count(&fx, "secret=unrelated", NULL, 0), 0);
    assert_int_equal(log_count(&fx, "tenant=b1 secret=b1-ssh secret changed", NULL, 0), 1);
    msg = condition_message(fx.st, "b1", "Ready", reason, sizeof(reason));
    assert_non_null(msg);
    assert_string_equal(reason, "InvalidSecret");
    assert_non_null(strstr(msg, "b1-ssh"));
    assert_non_null(strstr(msg, "ssh-privatekey"));
    assert_null(strstr(msg, "not a key"));          /* the value never shows */
    assert_int_equal(count_str(msg, "host h1"), 1); /* named once (lib/err.h) */
    free(msg);

    /* every Secret the spec names or omlop generates for it counts, nothing else */
    assert_int_equal(manager_secret_changed(m, "b1-postgres"), 1);
    assert_int_equal(manager_secret_changed(m, "b1-ss"), 0);
    manager_free(m);
    fixture_close(&fx);
}

/* An SSH private key made for the tests only (as in test_podman_ssh.c), and its public half. */
static const char ED_PRIV[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACCM3Mvbi8iJ7LKeBt2Ca7uoCnJ4PcYHrZe/apzdTFkPRgAAAJD9KN3O/Sjd\n"
    "zgAAAAtzc2gtZWQyNTUxOQAAACCM3Mvbi8iJ7LKeBt2Ca7uoCnJ4PcYHrZe/apzdTFkPRg\n"
    "AAAECm09zcB5p+GSFQqlhi429wyzxUUivNl/kHz++mPc27DYzcy9uLyInssp4G3YJru6gK\n"
    "cng9xgetl79qnN1MWQ9GAAAAB2ZpeHR1cmUBAgMEBQY=\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
static const char ED_PUB[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIzcy9uLyInssp4G3YJru6gKcng9xgetl79qnN1MWQ9G fixture";

/* A loopback TCP port that refuses connections (bound, never listening); *fd keeps it. */
static int refused_port(int *fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(*fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
    return ntohs(sa.sin_port);
}

/*
 * A host that refuses SSH (down since the start): the pool reports it once - not once per
 * reconnect attempt or event stream retry - keeps waiting for it, and stops promptly.
 */
static void test_lost_host_is_reported_once_and_stops_promptly(void **state)
{
    fixture fx;
    manager *m = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *sec = json_object_new_object(), *sd = json_object_new_object(), *md;
    strbuf tenant = STRBUF_INIT;
    const char *stext;
    int fd, port, n_lost;
    int64_t t_stop;

    (void)state;
    fixture_open(&fx, LOG_LEVEL_INFO);
    port = refused_port(&fd);
    md = json_object_new_object();
    json_object_object_add(md, "name", json_object_new_string("f1-ssh"));
    json_object_object_add(sec, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(sec, "kind", json_object_new_string("Secret"));
    json_object_object_add(sec, "metadata", md);
    json_object_object_add(sd, "ssh-privatekey", json_object_new_string(ED_PRIV));
    json_object_object_add(sec, "stringData", sd);
    stext = json_object_to_json_string(sec);
    assert_int_equal(store_create(fx.st, "/omlop/secrets/f1-ssh", stext, strlen(stext), NULL, &err),
                     0);
    strbuf_addf(&tenant,
                "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\","
                "\"metadata\":{\"name\":\"f1\",\"uid\":\"u-f1\",\"generation\":1},"
                "\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"h1\",\"lanIP\":\"127.0.0.1\","
                "\"ssh\":{\"address\":\"127.0.0.1\",\"port\":%d,\"knownHostKey\":\"%s\","
                "\"identitySecretRef\":{\"name\":\"f1-ssh\"}}}],"
                "\"network\":{\"infraEnv\":\"lan\",\"fqdn\":\"f1.example.com\"},"
                "\"observability\":{\"enabled\":false}}}",
                port, ED_PUB);
    put_tenant(fx.st, "f1", tenant.buf);
    assert_int_equal(manager_new(fx.st, NULL, NULL, &m, &err), 0);
    assert_int_equal(manager_start(m, &err), 0);

    if (log_wait_more(&fx, "tenant=f1 host=h1 host lost", 0, 10000, NULL, 0) < 1)
        fail_msg("the pool did not report the refused host within 10 s");
    /* several reconnect attempts (500 ms doubling) later */
    sleep(3);
    n_lost = log_count(&fx, "tenant=f1 host=h1 host lost", NULL, 0);
    assert_int_equal(n_lost, 1);
    /* what the user reads: the host named once, by the layer that failed (lib/err.h) */
    {
        char reason[64] = "";
        char *msg = condition_message(fx.st, "f1", "HostsReachable", reason, sizeof(reason));

        assert_non_null(msg);
        assert_string_equal(reason, "HostUnreachable");
        if (count_str(msg, "host h1") != 1 || !strstr(msg, "cannot connect"))
            fail_msg("HostsReachable message: %s", msg);
        free(msg);
    }
    /* it waits for the host instead of retrying the event stream on a dead connection */
    assert_int_equal(log_count(&fx, "event stream", NULL, 0), 0);
    assert_int_equal(log_count(&fx, "tenant=f1 host=h1 host back", NULL, 0), 0);

    t_stop = clock_now_ms();
    manager_free(m);
    assert_true(clock_now_ms() - t_stop < 3000);
    close(fd);
    json_object_put(sec);
    strbuf_release(&tenant);
    fixture_close(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manager_reconciles_a_new_tenant_and_stops),
        cmocka_unit_test(test_manager_finishes_a_deletion_made_while_it_was_down),
        cmocka_unit_test(test_host_back_requeues_at_once_with_backoff_forgotten),
        cmocka_unit_test(test_fixed_secret_requeues_at_once_with_backoff_forgotten),
        cmocka_unit_test(test_lost_host_is_reported_once_and_stops_promptly),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
