/*
 * Tests for the certificate reconciler inside a round (reconcilers/tls.h, tenant.c), with the
 * tenant harness (fake Podman, real store, fake host files): the self-signed pair placed as
 * cert.pem 0644 and key.pem 0600, its digest the readers' omlop.io/tls-hash label (nginx and
 * kamailio only; their spec hash unchanged), status.tls, the events, the exact requeue time; a
 * renewal recreating the readers one at a time and nothing else; a custom Secret that fails a check
 * leaving the hosts' pair and the readers alone with Degraded naming the check, and recovering when
 * fixed; the 7-day warning; the pair removed with the tenant.
 */
#include "unit-tests/reconcilers/tenant_harness.h"

#include "lib/tlspair.h"
#include "objects/objects.h"
#include "reconcilers/desired.h"
#include "reconcilers/tls.h"

#define DAY   (24 * 3600LL)
#define NGINX "oml-nginx-server"
#define KAM   "oml-kamailio-server"

static int setup_ops(void **state)
{
    fixture *fx;

    setup(state);
    fx = *state;
    fx->use_ops = 1;
    return 0;
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned file_mode(fixture *fx, const char *path)
{
    for (size_t i = 0; i < fx->n_files; i++)
        if (strcmp(fx->files[i].path, path) == 0)
            return fx->files[i].mode;
    fail_msg("no host file %s", path);
    return 0;
}

static time_t status_time(const json_object *t, const char *path)
{
    time_t v = 0;
    const char *s = cjson_get_string(t, path);

    if (!s || object_time_parse(s, &v) < 0)
        fail_msg("%s: not a time (%s)", path, s ? s : "absent");
    return v;
}

/* Every container's tls-hash label: the readers carry digest, nobody else any. */
static void expect_readers_labelled(fixture *fx, const char *digest)
{
    size_t n = 0;

    for (size_t i = 0; i < fx->f.n; i++) {
        const char *l = label(fx->f.c[i].labels, OMLOP_LABEL_TLS_HASH);

        if (strcmp(fx->f.c[i].name, NGINX) == 0 || strcmp(fx->f.c[i].name, KAM) == 0) {
            assert_non_null(l);
            assert_string_equal(l, digest);
            n++;
        } else {
            assert_null(l);
        }
    }
    assert_int_equal(n, 2);
}

static void test_selfsigned_pair_is_placed_and_reported(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t;
    const char *crt, *key;
    char digest[CJSON_HASH_HEX_LEN + 1];
    tlspair_info info;
    omlop_err err = OMLOP_ERR_INIT;
    tlspair_check failed;
    tlspair_validate_opts vo;
    const char *ips[] = {"10.0.0.5"};
    int64_t before, after;
    time_t next;

    before = wall_ms();
    reconcile_ok(fx, &res);
    reconcile_ok(fx, &res); /* converged: requeued only for the certificate */
    after = wall_ms();
    crt = host_file(fx, DESIRED_CERT_FILE);
    key = host_file(fx, DESIRED_KEY_FILE);
    assert_non_null(crt);
    assert_non_null(key);
    assert_int_equal(file_mode(fx, DESIRED_CERT_FILE), 0644);
    assert_int_equal(file_mode(fx, DESIRED_KEY_FILE), 0600);
    /* a pair, covering the fqdn and the host's lanIP */
    memset(&vo, 0, sizeof(vo));
    vo.fqdn = "t1.example.com";
    vo.ip_addrs = ips;
    vo.n_ips = 1;
    vo.at = (int64_t)time(NULL);
    if (tlspair_validate(crt, key, &vo, &failed, &err) < 0)
        fail_msg("placed pair: %s", err.msg);
    cjson_sha256_hex(crt, strlen(crt), digest);
    expect_readers_labelled(fx, digest);
    assert_true(res.is_converged);
    /* their spec hash is the one `omlctl render` computes without knowing the pair */
    {
        desired_state *ds = NULL;
        json_object *tt = stored_tenant(fx);

        if (desired_build(tt, NULL, &ds, &err) < 0)
            fail_msg("desired: %s", err.msg);
        assert_string_equal(label(find_ctr(&fx->f, NGINX)->labels, OMLOP_LABEL_SPEC_HASH),
                            desired_host_find_container(desired_host_at(ds, 0), NGINX)->spec_hash);
        desired_free(ds);
        json_object_put(tt);
    }

    /* status.tls describes it */
    assert_int_equal(tlspair_inspect(crt, &info, &err), 0);
    t = stored_tenant(fx);
    assert_string_equal(cjson_get_string(t, "status.tls.mode"), "selfsigned");
    assert_string_equal(cjson_get_string(t, "status.tls.secretName"), "t1-tls");
    assert_string_equal(cjson_get_string(t, "status.tls.digest"), digest);
    assert_string_equal(cjson_get_string(t, "status.tls.serial"), info.serial);
    assert_string_equal(cjson_get_string(t, "status.tls.issuer"), info.issuer);
    assert_int_equal(status_time(t, "status.tls.notBefore"), info.not_before);
    assert_int_equal(status_time(t, "status.tls.notAfter"), info.not_after);
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(cjson_get(t, "status.tls.dnsNames"), 0)),
        "t1.example.com");
    assert_string_equal(json_object_get_string(
                            json_object_array_get_idx(cjson_get(t, "status.tls.ipAddresses"), 0)),
                        "10.0.0.5");
    assert_non_null(cjson_get_string(t, "status.tls.lastRenewal"));
    next = status_time(t, "status.tls.nextRenewal");
    /* a third of the lifetime before notAfter */
    assert_int_equal(next, info.not_after - (info.not_after - info.not_before) / 3);
    /* the round asks to be woken exactly then (from when it ended) */
    assert_true(res.requeue_ms <= (int64_t)next * 1000 - before);
    assert_true(res.requeue_ms >= (int64_t)next * 1000 - after);
    assert_string_equal(cond_status(t, "CertificateExpiringSoon"), "False");
    assert_string_equal(cond_status(t, "Degraded"), "False");
    assert_string_equal(cjson_get_string(t, "status.phase"), "Ready");
    json_object_put(t);
    assert_true(find_event(fx, "Issued", "t1-tls", NULL, 0));
    assert_true(find_event(fx, "Placed", "host h1", NULL, 0));
    assert_false(find_event(fx, "Renewed", NULL, NULL, 0));
    tlspair_info_release(&info);

    /* deleting the tenant takes the pair off the host, and its Secret */
    mark_deleted(fx);
    reconcile_ok(fx, &res);
    assert_null(host_file(fx, DESIRED_CERT_FILE));
    assert_null(host_file(fx, DESIRED_KEY_FILE));
    assert_false(secret_exists(fx, "t1-tls"));
}

/* Put a pair in Secret name (stringData), with omlop's labels when is_generated. */
static void put_pair(fixture *fx, const char *name, int is_generated, const char *crt,
                     const char *key)
{
    json_object *o = json_object_new_object(), *meta = json_object_new_object();
    json_object *sd = json_object_new_object(), *cur = NULL;
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;

    json_object_object_add(o, "apiVersion", json_object_new_string("omlop.io/v1alpha1"));
    json_object_object_add(o, "kind", json_object_new_string("Secret"));
    json_object_object_add(meta, "name", json_object_new_string(name));
    if (is_generated)
        json_object_object_add(
            meta, "labels",
            json_tokener_parse("{\"omlop.io/tenant\":\"t1\",\"omlop.io/managed-by\":\"omlop\"}"));
    json_object_object_add(o, "metadata", meta);
    json_object_object_add(sd, "tls.crt", json_object_new_string(crt));
    json_object_object_add(sd, "tls.key", json_object_new_string(key));
    json_object_object_add(o, "stringData", sd);
    if (obj_get(fx->st, "secrets", name, &cur, NULL, &err) == 0) {
        obj_delete_opts d = {0};

        assert_int_equal(obj_delete(fx->st, "secrets", name, &d, &res, &err), 0);
        obj_result_release(&res);
    }
    json_object_put(cur);
    if (obj_create(fx->st, "secrets", o, 0, &res, &err) < 0)
        fail_msg("create %s: %s", name, err.msg);
    obj_result_release(&res);
    json_object_put(o);
}

static void make_pair(const char *fqdn, const char *ip, int64_t now, int64_t life, char **crt,
                      char **key)
{
    const char *dns[] = {fqdn}, *ips[] = {ip};
    tlspair_selfsigned_opts so;
    omlop_err err = OMLOP_ERR_INIT;

    memset(&so, 0, sizeof(so));
    so.common_name = fqdn;
    so.dns_names = dns;
    so.n_dns = 1;
    so.ip_addrs = ips;
    so.n_ips = ip ? 1 : 0;
    so.now = now;
    so.lifetime_s = life;
    if (tlspair_selfsigned(&so, crt, key, &err) < 0)
        fail_msg("pair: %s", err.msg);
}

/* Offset in the fake's operation log of needle, or -1. */
static long op_at(fixture *fx, const char *needle)
{
    const char *p = strstr(strbuf_str(&fx->f.ops), needle);

    return p ? (long)(p - fx->f.ops.buf) : -1;
}

static void test_renewal_recreates_the_readers_one_at_a_time(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    char *crt, *key, old_digest[CJSON_HASH_HEX_LEN + 1], digest[CJSON_HASH_HEX_LEN + 1];
    char pg_id[32];
    int64_t now = (int64_t)time(NULL);
    json_object *t;

    reconcile_ok(fx, &res);
    snprintf(pg_id, sizeof(pg_id), "%s", find_ctr(&fx->f, "oml-postgresql-server")->id);
    /* the Secret now holds a pair 300 of its 365 days old: due for renewal */
    make_pair("t1.example.com", "10.0.0.5", now - 300 * DAY, 365 * DAY, &crt, &key);
    put_pair(fx, "t1-tls", 1, crt, key);
    cjson_sha256_hex(crt, strlen(crt), old_digest);
    strbuf_reset(&fx->f.ops);
    reconcile_ok(fx, &res);
    assert_true(find_event(fx, "Renewed", "renewal due", NULL, 0));
    assert_string_not_equal(host_file(fx, DESIRED_CERT_FILE), crt);
    cjson_sha256_hex(host_file(fx, DESIRED_CERT_FILE), strlen(host_file(fx, DESIRED_CERT_FILE)),
                     digest);
    assert_string_not_equal(digest, old_digest);
    expect_readers_labelled(fx, digest);
    /* one reader at a time: the first is running again before the second is stopped */
    {
        long k_stop = op_at(fx, "stop " KAM), k_start = op_at(fx, "start " KAM);
        long n_stop = op_at(fx, "stop " NGINX), n_start = op_at(fx, "start " NGINX);

        assert_true(k_stop >= 0 && k_start > k_stop && n_stop >= 0 && n_start > n_stop);
        assert_true(k_start < n_stop || n_start < k_stop);
    }
    /* nothing else was touched */
    assert_string_equal(find_ctr(&fx->f, "oml-postgresql-server")->id, pg_id);
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Ready"), "True");
    assert_string_equal(cjson_get_string(t, "status.tls.digest"), digest);
    json_object_put(t);
    free(crt);
    tlspair_free_secret(key);
}

static void set_custom(fixture *fx)
{
    json_object *t = stored_tenant(fx);

    json_object_object_add(cjson_get(t, "spec"), "tls",
                           json_tokener_parse("{\"mode\":\"custom\",\"secretRef\":{\"name\":"
                                              "\"user-cert\"}}"));
    store_tenant(fx, t);
    json_object_put(t);
}

static void test_custom_bad_secret_is_degraded_and_keeps_the_placed_pair(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    int64_t now = (int64_t)time(NULL);
    char *crt, *key, *crt2, *key2, *old_crt, *old_key, *oth_crt, *oth_key;
    char nginx_id[32], kam_id[32], digest[CJSON_HASH_HEX_LEN + 1], msg[1024];
    json_object *t;
    struct {
        const char *crt, *key, *reason;
    } bad[3];

    make_pair("t1.example.com", NULL, now, 90 * DAY, &crt, &key);
    make_pair("t1.example.com", NULL, now, 90 * DAY, &crt2, &key2);
    make_pair("t1.example.com", NULL, now - 100 * DAY, 90 * DAY, &old_crt, &old_key);
    make_pair("other.example.com", NULL, now, 90 * DAY, &oth_crt, &oth_key);
    bad[0].crt = crt, bad[0].key = key2, bad[0].reason = "KeyMismatch";
    bad[1].crt = old_crt, bad[1].key = old_key, bad[1].reason = "CertificateExpired";
    bad[2].crt = oth_crt, bad[2].key = oth_key, bad[2].reason = "NameNotCovered";

    put_pair(fx, "user-cert", 0, crt, key);
    set_custom(fx);
    reconcile_ok(fx, &res);
    assert_string_equal(host_file(fx, DESIRED_CERT_FILE), crt);
    assert_string_equal(host_file(fx, DESIRED_KEY_FILE), key);
    cjson_sha256_hex(crt, strlen(crt), digest);
    expect_readers_labelled(fx, digest);
    snprintf(nginx_id, sizeof(nginx_id), "%s", find_ctr(&fx->f, NGINX)->id);
    snprintf(kam_id, sizeof(kam_id), "%s", find_ctr(&fx->f, KAM)->id);
    /* custom pairs are the user's to renew: woken for the 7-day warning (once converged) */
    reconcile_ok(fx, &res);
    assert_true(res.requeue_ms > (83 * DAY - 60) * 1000 && res.requeue_ms <= 83 * DAY * 1000);

    for (size_t i = 0; i < 3; i++) {
        put_pair(fx, "user-cert", 0, bad[i].crt, bad[i].key);
        if (tenant_reconcile(&fx->env, "t1", &res, &err) < 0)
            fail_msg("round: %s", err.msg);
        t = stored_tenant(fx);
        assert_string_equal(cond_status(t, "Degraded"), "True");
        assert_string_equal(
            cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "Degraded"), "reason"),
            bad[i].reason);
        snprintf(
            msg, sizeof(msg), "%s",
            cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "Degraded"), "message"));
        assert_non_null(strstr(msg, "user-cert"));
        assert_null(strstr(msg, "PRIVATE KEY"));
        assert_string_equal(cjson_get_string(t, "status.phase"), "Degraded");
        /* the components still run on the pair placed before */
        assert_string_equal(cond_status(t, "Ready"), "True");
        assert_string_equal(cjson_get_string(t, "status.tls.digest"), digest);
        json_object_put(t);
        assert_string_equal(host_file(fx, DESIRED_CERT_FILE), crt);
        assert_string_equal(host_file(fx, DESIRED_KEY_FILE), key);
        assert_string_equal(find_ctr(&fx->f, NGINX)->id, nginx_id);
        assert_string_equal(find_ctr(&fx->f, KAM)->id, kam_id);
        expect_readers_labelled(fx, digest);
        assert_true(find_event(fx, "IssueFailed", bad[i].reason, NULL, 0));
    }

    /* fixed (rotated): the new pair rolls out */
    put_pair(fx, "user-cert", 0, crt2, key2);
    reconcile_ok(fx, &res);
    assert_string_equal(host_file(fx, DESIRED_CERT_FILE), crt2);
    assert_string_equal(host_file(fx, DESIRED_KEY_FILE), key2);
    cjson_sha256_hex(crt2, strlen(crt2), digest);
    expect_readers_labelled(fx, digest);
    assert_string_not_equal(find_ctr(&fx->f, NGINX)->id, nginx_id);
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Degraded"), "False");
    assert_string_equal(cjson_get_string(t, "status.tls.mode"), "custom");
    assert_string_equal(cjson_get_string(t, "status.tls.digest"), digest);
    assert_null(cjson_get(t, "status.tls.nextRenewal"));
    json_object_put(t);

    free(crt);
    free(crt2);
    free(old_crt);
    free(oth_crt);
    tlspair_free_secret(key);
    tlspair_free_secret(key2);
    tlspair_free_secret(old_key);
    tlspair_free_secret(oth_key);
}

static void test_expiring_soon_warns_and_wakes_at_expiry(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    int64_t now = (int64_t)time(NULL);
    char *crt, *key;
    json_object *t;

    /* 5 days left of 30 */
    make_pair("t1.example.com", NULL, now - 25 * DAY, 30 * DAY, &crt, &key);
    put_pair(fx, "user-cert", 0, crt, key);
    set_custom(fx);
    reconcile_ok(fx, &res);
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "CertificateExpiringSoon"), "True");
    json_object_put(t);
    assert_true(find_event(fx, "CertificateExpiringSoon", NULL, NULL, 0));
    /* next: the expiry itself (the confirmation of the first round comes first) */
    reconcile_ok(fx, &res);
    assert_true(res.requeue_ms > (5 * DAY - 60) * 1000 && res.requeue_ms <= 5 * DAY * 1000);
    free(crt);
    tlspair_free_secret(key);
}

/* No host reached: no pair made (nothing could delete its Secret: no finalizer yet). */
static void test_no_pair_before_a_host_is_reached(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;

    fx->is_host_down = 1;
    assert_true(tenant_reconcile(&fx->env, "t1", &res, &err) < 0);
    assert_false(secret_exists(fx, "t1-tls"));
    fx->is_host_down = 0;
    reconcile_ok(fx, &res);
    assert_true(secret_exists(fx, "t1-tls"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_selfsigned_pair_is_placed_and_reported, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_renewal_recreates_the_readers_one_at_a_time, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_custom_bad_secret_is_degraded_and_keeps_the_placed_pair, setup_ops, teardown),
        cmocka_unit_test_setup_teardown(test_expiring_soon_warns_and_wakes_at_expiry, setup_ops,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_pair_before_a_host_is_reached, setup_ops, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
