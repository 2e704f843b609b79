/*
 * Tests for reconcilers/tls: the SANs a tenant needs, the self-signed renewal decision at its
 * edges, the exact requeue time, the self-signed Secret (created once through the write path,
 * kept, renewed when due or when the SANs change, never taken over from a user), and a custom
 * Secret's checks turning into a reason with no pair to place and the last placed digest kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/log.h"
#include "lib/tlspair.h"
#include "lib/xalloc.h"
#include "objects/objects.h"
#include "reconcilers/desired.h"
#include "reconcilers/tls.h"

#define NOW 1800000000LL /* 2027-01-15 */
#define DAY (24 * 3600LL)

typedef struct fixture {
    char dir[48];
    store *st;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    store_options so;
    omlop_err err = OMLOP_ERR_INIT;

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/omlop-tls-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    store_options_default(&so);
    so.data_dir = fx->dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &fx->st, &err) < 0)
        fail_msg("store: %s", err.msg);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char cmd[96];

    store_close(fx->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

/* A tenant t1: hosts h1 (10.0.0.1) and h2 (10.0.0.2), fqdn when given, extra spec.tls JSON. */
static json_object *tenant(const char *fqdn, const char *tls, const char *status)
{
    strbuf s = STRBUF_INIT;
    json_object *o;

    strbuf_addf(&s,
                "{\"metadata\":{\"name\":\"t1\"},\"spec\":{\"hosts\":[{\"name\":\"h1\","
                "\"lanIP\":\"10.0.0.1\"},{\"name\":\"h2\",\"lanIP\":\"10.0.0.2\"}],"
                "\"network\":{%s%s%s},\"tls\":%s}%s%s}",
                fqdn ? "\"fqdn\":\"" : "", fqdn ? fqdn : "", fqdn ? "\"" : "", tls ? tls : "{}",
                status ? ",\"status\":" : "", status ? status : "");
    o = json_tokener_parse(s.buf);
    assert_non_null(o);
    strbuf_release(&s);
    return o;
}

static void test_tls_sans_fqdn_lanips_and_vip(void **state)
{
    json_object *t = tenant("oml.example.com", NULL, NULL);
    tls_sans s;

    (void)state;
    /* HA VIP, and a host whose lanIP repeats another's spelling of it: kept once */
    json_object_object_add(cjson_get(t, "spec"), "ha",
                           json_tokener_parse("{\"omnileadsVIP\":\"10.0.0.9\"}"));
    json_object_array_add(cjson_get(t, "spec.hosts"),
                          json_tokener_parse("{\"name\":\"h3\",\"lanIP\":\"10.0.0.1\"}"));
    tls_sans_of(t, &s);
    assert_int_equal(s.n_dns, 1);
    assert_string_equal(s.dns[0], "oml.example.com");
    assert_int_equal(s.n_ips, 3);
    assert_string_equal(s.ips[0], "10.0.0.1");
    assert_string_equal(s.ips[1], "10.0.0.2");
    assert_string_equal(s.ips[2], "10.0.0.9");
    tls_sans_release(&s);
    json_object_put(t);

    /* no fqdn: IPs only */
    t = tenant(NULL, NULL, NULL);
    tls_sans_of(t, &s);
    assert_int_equal(s.n_dns, 0);
    assert_int_equal(s.n_ips, 2);
    tls_sans_release(&s);
    json_object_put(t);
}

/* An info with these dates and SANs (strings borrowed: released by hand). */
static tlspair_info info_of(int64_t nb, int64_t na, char **dns, size_t n_dns, char **ips,
                            size_t n_ips)
{
    tlspair_info i;

    memset(&i, 0, sizeof(i));
    i.not_before = nb;
    i.not_after = na;
    i.dns_names = dns;
    i.n_dns = n_dns;
    i.ip_addrs = ips;
    i.n_ips = n_ips;
    return i;
}

static void test_tls_decide_renewal_edges_and_sans(void **state)
{
    char *dns[] = {"OML.example.com"}, *ips[] = {"10.0.0.2", "10.0.0.1"}, *one_ip[] = {"10.0.0.1"};
    char *want_dns[] = {"oml.example.com"}, *want_ips[] = {"10.0.0.1", "10.0.0.2"};
    tls_sans want = {want_dns, 1, want_ips, 2};
    /* 90 days: renewal due at notAfter - 30 days */
    tlspair_info cur = info_of(NOW, NOW + 90 * DAY, dns, 1, ips, 2);
    tlspair_info fewer = info_of(NOW, NOW + 90 * DAY, dns, 1, one_ip, 1);
    tlspair_info nodns = info_of(NOW, NOW + 90 * DAY, NULL, 0, ips, 2);

    (void)state;
    assert_int_equal(tls_selfsigned_decide(NULL, &want, NOW, 0), TLS_ISSUE_MISSING);
    /* SANs compared as sets: case and order do not matter */
    assert_int_equal(tls_selfsigned_decide(&cur, &want, NOW, 0), TLS_KEEP);
    assert_int_equal(tls_selfsigned_decide(&cur, &want, NOW + 60 * DAY - 1, 0), TLS_KEEP);
    assert_int_equal(tls_selfsigned_decide(&cur, &want, NOW + 60 * DAY, 0), TLS_ISSUE_DUE);
    assert_int_equal(tls_selfsigned_decide(&cur, &want, NOW + 91 * DAY, 0), TLS_ISSUE_DUE);
    /* the fraction overrides: a half left */
    assert_int_equal(tls_selfsigned_decide(&cur, &want, NOW + 45 * DAY - 1, 0.5), TLS_KEEP);
    assert_int_equal(tls_selfsigned_decide(&cur, &want, NOW + 45 * DAY, 0.5), TLS_ISSUE_DUE);
    /* a host added, an fqdn set: the names changed */
    assert_int_equal(tls_selfsigned_decide(&fewer, &want, NOW, 0), TLS_ISSUE_SANS);
    assert_int_equal(tls_selfsigned_decide(&nodns, &want, NOW, 0), TLS_ISSUE_SANS);
}

static void test_tls_requeue_is_the_exact_next_moment(void **state)
{
    tlspair_info i = info_of(NOW, NOW + 90 * DAY, NULL, 0, NULL, 0);
    int64_t now_ms = NOW * 1000 + 250;

    (void)state;
    /* renewable: renewal at notAfter - 30 days, to the millisecond from now_ms */
    assert_int_equal(tls_requeue_ms(&i, 1, 0, now_ms), (60 * DAY) * 1000 - 250);
    /* not omlop's to renew (custom): the 7-day warning comes first */
    assert_int_equal(tls_requeue_ms(&i, 0, 0, now_ms), (83 * DAY) * 1000 - 250);
    /* one millisecond before the renewal, then at it: the warning is next */
    assert_int_equal(tls_requeue_ms(&i, 1, 0, (NOW + 60 * DAY) * 1000 - 1), 1);
    assert_int_equal(tls_requeue_ms(&i, 1, 0, (NOW + 60 * DAY) * 1000), 23 * DAY * 1000);
    /* inside the warning: expiry next; expired: nothing ahead */
    assert_int_equal(tls_requeue_ms(&i, 1, 0, (NOW + 89 * DAY) * 1000), DAY * 1000);
    assert_int_equal(tls_requeue_ms(&i, 1, 0, (NOW + 90 * DAY) * 1000), 0);
    assert_int_equal(tls_requeue_ms(NULL, 1, 0, now_ms), 0);
}

static json_object *secret_get(fixture *fx, const char *name)
{
    json_object *o = NULL;

    if (obj_get(fx->st, "secrets", name, &o, NULL, NULL) < 0)
        return NULL;
    return o;
}

static void test_tls_selfsigned_issued_kept_and_renewed(void **state)
{
    fixture *fx = *state;
    json_object *t = tenant("oml.example.com", "{\"mode\":\"selfsigned\"}", NULL), *s;
    tls_options o = {NOW, 0, 90 * DAY, NULL};
    tls_result r;
    omlop_err err = OMLOP_ERR_INIT;
    char first[CJSON_HASH_HEX_LEN + 1], serial[64];
    int64_t rev1, rev2;

    (void)state;
    assert_int_equal(tls_resolve(fx->st, t, &o, &r, &err), 0);
    assert_null(r.fail_reason);
    assert_int_equal(r.issued, TLS_ISSUE_MISSING);
    assert_string_equal(r.mode, "selfsigned");
    assert_string_equal(r.secret, "t1-tls");
    assert_non_null(r.cert_pem);
    assert_non_null(strstr(r.key_pem, "PRIVATE KEY"));
    assert_int_equal(strlen(r.digest), CJSON_HASH_HEX_LEN);
    assert_int_equal(r.info.n_dns, 1);
    assert_string_equal(r.info.dns_names[0], "oml.example.com");
    assert_int_equal(r.info.n_ips, 2);
    assert_int_equal(r.info.not_after, NOW + 90 * DAY);
    /* notBefore is backdated TLSPAIR_BACKDATE_S: a third of 90 days + 300 s before notAfter */
    assert_int_equal(r.info.not_before, NOW - TLSPAIR_BACKDATE_S);
    assert_int_equal(r.next_renewal, NOW + 60 * DAY - TLSPAIR_BACKDATE_S / 3);
    assert_int_equal(r.requeue_ms, (60 * DAY - TLSPAIR_BACKDATE_S / 3) * 1000);
    assert_false(r.is_expiring_soon);
    snprintf(first, sizeof(first), "%s", r.digest);
    snprintf(serial, sizeof(serial), "%s", r.info.serial);
    tls_result_release(&r);
    /* the Secret: generated labels, both keys */
    s = secret_get(fx, "t1-tls");
    assert_non_null(s);
    assert_string_equal(json_object_get_string(json_object_object_get(
                            cjson_get(s, "metadata.labels"), OMLOP_LABEL_MANAGED_BY)),
                        "omlop");
    assert_non_null(json_object_object_get(cjson_get(s, "data"), "tls.crt"));
    assert_non_null(json_object_object_get(cjson_get(s, "data"), "tls.key"));
    rev1 = cjson_get_int(s, "metadata.generation", 0);
    json_object_put(s);

    /* a day later: kept, nothing written */
    o.now = NOW + DAY;
    assert_int_equal(tls_resolve(fx->st, t, &o, &r, &err), 0);
    assert_int_equal(r.issued, TLS_KEEP);
    assert_string_equal(r.digest, first);
    assert_int_equal(r.requeue_ms, (59 * DAY - TLSPAIR_BACKDATE_S / 3) * 1000);
    tls_result_release(&r);

    /* one second before the renewal time: kept; at it: a new pair in the same Secret */
    o.now = NOW + 60 * DAY - TLSPAIR_BACKDATE_S / 3 - 1;
    assert_int_equal(tls_resolve(fx->st, t, &o, &r, &err), 0);
    assert_int_equal(r.issued, TLS_KEEP);
    assert_int_equal(r.requeue_ms, 1000);
    tls_result_release(&r);
    o.now = NOW + 60 * DAY;
    assert_int_equal(tls_resolve(fx->st, t, &o, &r, &err), 0);
    assert_int_equal(r.issued, TLS_ISSUE_DUE);
    assert_string_not_equal(r.digest, first);
    assert_string_not_equal(r.info.serial, serial);
    assert_int_equal(r.info.not_after, NOW + 150 * DAY);
    snprintf(first, sizeof(first), "%s", r.digest);
    tls_result_release(&r);
    s = secret_get(fx, "t1-tls");
    rev2 = cjson_get_int(s, "metadata.generation", 0);
    assert_true(rev2 > rev1);
    json_object_put(s);

    /* a host added: the SANs no longer match, issued again */
    json_object_array_add(cjson_get(t, "spec.hosts"),
                          json_tokener_parse("{\"name\":\"h3\",\"lanIP\":\"10.0.0.3\"}"));
    assert_int_equal(tls_resolve(fx->st, t, &o, &r, &err), 0);
    assert_int_equal(r.issued, TLS_ISSUE_SANS);
    assert_int_equal(r.info.n_ips, 3);
    assert_string_not_equal(r.digest, first);
    tls_result_release(&r);
    json_object_put(t);
}

static void put_secret(fixture *fx, const char *name, const char *labels, const char *crt,
                       const char *key, const char *ca)
{
    json_object *o = json_object_new_object(), *meta = json_object_new_object();
    json_object *sd = json_object_new_object();
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;
    json_object *cur = secret_get(fx, name);

    json_object_object_add(o, "apiVersion", json_object_new_string("omlop.io/v1alpha1"));
    json_object_object_add(o, "kind", json_object_new_string("Secret"));
    json_object_object_add(meta, "name", json_object_new_string(name));
    if (labels)
        json_object_object_add(meta, "labels", json_tokener_parse(labels));
    json_object_object_add(o, "metadata", meta);
    if (crt)
        json_object_object_add(sd, "tls.crt", json_object_new_string(crt));
    if (key)
        json_object_object_add(sd, "tls.key", json_object_new_string(key));
    if (ca)
        json_object_object_add(sd, "ca.crt", json_object_new_string(ca));
    json_object_object_add(o, "stringData", sd);
    if (cur) {
        obj_delete_opts d = {0};

        assert_int_equal(obj_delete(fx->st, "secrets", name, &d, &res, &err), 0);
        obj_result_release(&res);
        json_object_put(cur);
    }
    if (obj_create(fx->st, "secrets", o, 0, &res, &err) < 0)
        fail_msg("create %s: %s", name, err.msg);
    obj_result_release(&res);
    json_object_put(o);
}

static void test_tls_selfsigned_never_takes_a_users_secret(void **state)
{
    fixture *fx = *state;
    json_object *t = tenant(NULL, NULL, NULL), *s;
    tls_options o = {NOW, 0, 0, NULL};
    tls_result r;
    omlop_err err = OMLOP_ERR_INIT;

    put_secret(fx, "t1-tls", NULL, "mine", "mine", NULL);
    assert_int_equal(tls_resolve(fx->st, t, &o, &r, &err), 0);
    assert_string_equal(r.fail_reason, TLS_REASON_NOT_OWNED);
    assert_non_null(strstr(r.fail_msg, "t1-tls"));
    assert_null(r.cert_pem);
    tls_result_release(&r);
    s = secret_get(fx, "t1-tls");
    assert_string_equal(
        json_object_get_string(json_object_object_get(cjson_get(s, "stringData"), "tls.crt")),
        "mine");
    assert_null(cjson_get(s, "data"));
    json_object_put(s);
    json_object_put(t);
}

/* A self-signed pair for names at now with lifetime (the user's custom pair). */
static void make_pair(const char *fqdn, int64_t now, int64_t life, char **crt, char **key)
{
    const char *dns[] = {fqdn};
    tlspair_selfsigned_opts so;
    omlop_err err = OMLOP_ERR_INIT;

    memset(&so, 0, sizeof(so));
    so.common_name = fqdn;
    so.dns_names = dns;
    so.n_dns = 1;
    so.now = now;
    so.lifetime_s = life;
    if (tlspair_selfsigned(&so, crt, key, &err) < 0)
        fail_msg("pair: %s", err.msg);
}

static void test_tls_custom_checks_and_keeps_the_placed_digest(void **state)
{
    fixture *fx = *state;
    static const char placed[] =
        "{\"tls\":{\"digest\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"
        "}";
    json_object *t = tenant("oml.example.com",
                            "{\"mode\":\"custom\",\"secretRef\":{\"name\":\"user-cert\"}}", placed);
    tls_options o = {NOW, 0, 0, NULL};
    tls_result r;
    omlop_err err = OMLOP_ERR_INIT;
    char *crt, *key, *crt2, *key2, *old_crt, *old_key, *other_crt, *other_key;
    static const struct {
        const char *name;
        int which; /* 0 key mismatch, 1 expired, 2 other name */
        const char *reason;
    } bad[] = {{"key", 0, "KeyMismatch"},
               {"expired", 1, "CertificateExpired"},
               {"name", 2, "NameNotCovered"}};

    make_pair("oml.example.com", NOW, 90 * DAY, &crt, &key);
    make_pair("oml.example.com", NOW, 90 * DAY, &crt2, &key2);
    make_pair("oml.example.com", NOW - 100 * DAY, 90 * DAY, &old_crt, &old_key);
    make_pair("other.example.com", NOW, 90 * DAY, &other_crt, &other_key);

    /* no Secret yet */
    assert_int_equal(tls_resolve(fx->st, t, &o, &r, &err), 0);
    assert_string_equal(r.fail_reason, "SecretNotFound");
    assert_null(r.cert_pem);
    assert_string_equal(r.digest,
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    tls_result_release(&r);

    /* valid: the pair, not renewable by omlop, the warning's time next */
    put_secret(fx, "user-cert", NULL, crt, key, NULL);
    assert_int_equal(tls_resolve(fx->st, t, &o, &r, &err), 0);
    if (r.fail_reason)
        fail_msg("%s: %s", r.fail_reason, r.fail_msg);
    assert_string_equal(r.cert_pem, crt);
    assert_int_equal(r.next_renewal, 0);
    assert_int_equal(r.requeue_ms, 83 * DAY * 1000);
    assert_int_equal(r.issued, TLS_KEEP);
    tls_result_release(&r);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put_secret(fx, "user-cert", NULL,
                   bad[i].which == 0   ? crt
                   : bad[i].which == 1 ? old_crt
                                       : other_crt,
                   bad[i].which == 0   ? key2
                   : bad[i].which == 1 ? old_key
                                       : other_key,
                   NULL);
        assert_int_equal(tls_resolve(fx->st, t, &o, &r, &err), 0);
        if (!r.fail_reason || strcmp(r.fail_reason, bad[i].reason) != 0)
            fail_msg("%s: reason %s, want %s", bad[i].name, r.fail_reason ? r.fail_reason : "none",
                     bad[i].reason);
        /* the message names the Secret and the check, never key material */
        assert_non_null(strstr(r.fail_msg, "user-cert"));
        assert_non_null(strstr(r.fail_msg, bad[i].reason));
        assert_null(strstr(r.fail_msg, "PRIVATE"));
        /* nothing to place; the last placed pair's digest stays */
        assert_null(r.cert_pem);
        assert_null(r.key_pem);
        assert_string_equal(r.digest,
                            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        tls_result_release(&r);
    }
    /* fixed: placed again */
    put_secret(fx, "user-cert", NULL, crt2, key2, NULL);
    assert_int_equal(tls_resolve(fx->st, t, &o, &r, &err), 0);
    assert_null(r.fail_reason);
    assert_string_equal(r.cert_pem, crt2);
    tls_result_release(&r);

    free(crt);
    free(crt2);
    free(old_crt);
    free(other_crt);
    tlspair_free_secret(key);
    tlspair_free_secret(key2);
    tlspair_free_secret(old_key);
    tlspair_free_secret(other_key);
    json_object_put(t);
}

/* A pair accepted before (status.tls: digest, secretName, secretRevision) is not parsed for its
 * key again while the Secret keeps that revision; any change of the Secret checks it all. */
static void test_tls_custom_key_checked_once_per_secret_revision(void **state)
{
    fixture *fx = *state;
    tls_options o = {NOW, 0, 0, NULL};
    tls_result r;
    omlop_err err = OMLOP_ERR_INIT;
    char *crt, *key, *crt2, *key2, digest[CJSON_HASH_HEX_LEN + 1], status[512];
    json_object *t, *sec = NULL;
    int64_t rev = 0;

    make_pair("oml.example.com", NOW, 90 * DAY, &crt, &key);
    make_pair("oml.example.com", NOW, 90 * DAY, &crt2, &key2);
    put_secret(fx, "user-cert", NULL, crt, key2, NULL); /* the key is not crt's */
    assert_int_equal(obj_get(fx->st, "secrets", "user-cert", &sec, &rev, &err), 0);
    json_object_put(sec);
    cjson_sha256_hex(crt, strlen(crt), digest);
    for (int known = 1; known >= 0; known--) {
        snprintf(status, sizeof(status),
                 "{\"tls\":{\"digest\":\"%s\",\"secretName\":\"user-cert\","
                 "\"secretRevision\":%lld}}",
                 digest, (long long)(known ? rev : rev - 1));
        t = tenant("oml.example.com",
                   "{\"mode\":\"custom\",\"secretRef\":{\"name\":\"user-cert\"}}", status);
        assert_int_equal(tls_resolve(fx->st, t, &o, &r, &err), 0);
        assert_int_equal(r.secret_revision, rev);
        if (known)
            assert_null(r.fail_reason); /* accepted at this revision before: not parsed again */
        else
            assert_string_equal(r.fail_reason, "KeyMismatch");
        tls_result_release(&r);
        json_object_put(t);
    }
    /* dates are checked every round, known or not */
    o.now = NOW + 91 * DAY;
    snprintf(status, sizeof(status),
             "{\"tls\":{\"digest\":\"%s\",\"secretName\":\"user-cert\",\"secretRevision\":%lld}}",
             digest, (long long)rev);
    t = tenant("oml.example.com", "{\"mode\":\"custom\",\"secretRef\":{\"name\":\"user-cert\"}}",
               status);
    assert_int_equal(tls_resolve(fx->st, t, &o, &r, &err), 0);
    assert_string_equal(r.fail_reason, "CertificateExpired");
    tls_result_release(&r);
    json_object_put(t);
    free(crt);
    free(crt2);
    tlspair_free_secret(key);
    tlspair_free_secret(key2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_sans_fqdn_lanips_and_vip),
        cmocka_unit_test(test_tls_decide_renewal_edges_and_sans),
        cmocka_unit_test(test_tls_requeue_is_the_exact_next_moment),
        cmocka_unit_test_setup_teardown(test_tls_selfsigned_issued_kept_and_renewed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tls_selfsigned_never_takes_a_users_secret, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tls_custom_checks_and_keeps_the_placed_digest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tls_custom_key_checked_once_per_secret_revision, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
