/*
 * Tests for reconcilers/tls_acme (tls.mode acme) without a CA: the back-off at its edges, the
 * keep/issue decision (source, names, renewal edge), the tokens allowed as file names, the
 * configuration checks, a pair from the same ACME directory kept without touching the account,
 * a failed order (a directory nobody answers) recorded in the account Secret with its back-off,
 * the rounds inside the back-off not contacting the CA and reporting the same failure, and the
 * next attempt after it counting a second failure with a doubled wait. The order itself against
 * a real CA is e2e/scenarios/50-tls-acme (pebble) and the client's unit-tests/clients tests.
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
#include "reconcilers/tls_acme.h"

#define NOW 1800000000LL /* 2027-01-15 */
#define DAY (24 * 3600LL)
/* nothing listens on port 9 (discard) of the loopback here: the order fails at the directory */
#define DEAD_SERVER "http://127.0.0.1:9/dir"

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
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/omlop-tlsacme-XXXXXX");
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

/* Tenant t1 on host h1 with tls.mode acme; fqdn / email / server when given. */
static json_object *tenant(const char *fqdn, const char *email, const char *server)
{
    strbuf s = STRBUF_INIT;
    json_object *o;

    strbuf_addf(&s,
                "{\"metadata\":{\"name\":\"t1\"},\"spec\":{\"hosts\":[{\"name\":\"h1\","
                "\"lanIP\":\"10.0.0.1\"}],\"network\":{%s%s%s},\"tls\":{\"mode\":\"acme\","
                "\"acme\":{\"server\":\"%s\"%s%s%s}}}}",
                fqdn ? "\"fqdn\":\"" : "", fqdn ? fqdn : "", fqdn ? "\"" : "", server,
                email ? ",\"email\":\"" : "", email ? email : "", email ? "\"" : "");
    o = json_tokener_parse(s.buf);
    assert_non_null(o);
    strbuf_release(&s);
    return o;
}

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

static void test_acme_backoff_doubles_to_its_cap_and_honours_retry_after(void **state)
{
    (void)state;
    assert_int_equal(tls_acme_backoff_s(1, -1), TLS_ACME_BACKOFF_MIN_S);
    assert_int_equal(tls_acme_backoff_s(0, -1), TLS_ACME_BACKOFF_MIN_S);
    assert_int_equal(tls_acme_backoff_s(2, -1), 2 * TLS_ACME_BACKOFF_MIN_S);
    assert_int_equal(tls_acme_backoff_s(3, -1), 4 * TLS_ACME_BACKOFF_MIN_S);
    /* 30 s * 2^9 = 15360 s < 6 h < 30 s * 2^10: the cap from the eleventh failure on, and for
     * absurd counts */
    assert_int_equal(tls_acme_backoff_s(10, -1), 512 * TLS_ACME_BACKOFF_MIN_S);
    assert_int_equal(tls_acme_backoff_s(11, -1), TLS_ACME_BACKOFF_MAX_S);
    assert_int_equal(tls_acme_backoff_s(1000000, -1), TLS_ACME_BACKOFF_MAX_S);
    /* a CA's Retry-After longer than the back-off wins, even past the cap, up to a week */
    assert_int_equal(tls_acme_backoff_s(1, 3600), 3600);
    assert_int_equal(tls_acme_backoff_s(1, 10), TLS_ACME_BACKOFF_MIN_S);
    assert_int_equal(tls_acme_backoff_s(20, 2 * DAY), 2 * DAY);
    assert_int_equal(tls_acme_backoff_s(1, 7 * DAY - 1), 7 * DAY - 1);
    assert_int_equal(tls_acme_backoff_s(1, 30 * DAY), 7 * DAY);
}

static void test_acme_decide_source_names_and_renewal_edge(void **state)
{
    char *dns[] = {"OML.example.com"}, *two[] = {"oml.example.com", "x.example.com"};
    char *ips[] = {"10.0.0.1"};
    /* 90 days: due at notAfter - 30 days */
    tlspair_info cur = info_of(NOW, NOW + 90 * DAY, dns, 1, NULL, 0);
    tlspair_info more = info_of(NOW, NOW + 90 * DAY, two, 2, NULL, 0);
    tlspair_info withip = info_of(NOW, NOW + 90 * DAY, dns, 1, ips, 1);
    const char *src = "acme https://ca.example/dir", *srv = "https://ca.example/dir";
    const char *fq = "oml.example.com";

    (void)state;
    assert_int_equal(tls_acme_decide(NULL, src, srv, fq, NOW, 0), TLS_ISSUE_MISSING);
    /* a self-signed pair (no source), or another directory's: a new order */
    assert_int_equal(tls_acme_decide(&cur, NULL, srv, fq, NOW, 0), TLS_ISSUE_SOURCE);
    assert_int_equal(tls_acme_decide(&cur, "acme https://other/dir", srv, fq, NOW, 0),
                     TLS_ISSUE_SOURCE);
    assert_int_equal(tls_acme_decide(&cur, src, "https://ca.example/dir2", fq, NOW, 0),
                     TLS_ISSUE_SOURCE);
    /* exactly the fqdn, case-insensitively; another fqdn, an extra name or an IP: new order */
    assert_int_equal(tls_acme_decide(&cur, src, srv, fq, NOW, 0), TLS_KEEP);
    assert_int_equal(tls_acme_decide(&cur, src, srv, "new.example.com", NOW, 0), TLS_ISSUE_SANS);
    assert_int_equal(tls_acme_decide(&more, src, srv, fq, NOW, 0), TLS_ISSUE_SANS);
    assert_int_equal(tls_acme_decide(&withip, src, srv, fq, NOW, 0), TLS_ISSUE_SANS);
    /* the renewal edge, and another fraction */
    assert_int_equal(tls_acme_decide(&cur, src, srv, fq, NOW + 60 * DAY - 1, 0), TLS_KEEP);
    assert_int_equal(tls_acme_decide(&cur, src, srv, fq, NOW + 60 * DAY, 0), TLS_ISSUE_DUE);
    assert_int_equal(tls_acme_decide(&cur, src, srv, fq, NOW + 45 * DAY - 1, 0.5), TLS_KEEP);
    assert_int_equal(tls_acme_decide(&cur, src, srv, fq, NOW + 45 * DAY, 0.5), TLS_ISSUE_DUE);
}

static void test_acme_token_is_base64url_only(void **state)
{
    char big[300];

    (void)state;
    assert_true(tls_acme_token_ok("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"));
    assert_true(tls_acme_token_ok("a-_Z09"));
    assert_false(tls_acme_token_ok(""));
    assert_false(tls_acme_token_ok(NULL));
    assert_false(tls_acme_token_ok("../etc/passwd"));
    assert_false(tls_acme_token_ok("a/b"));
    assert_false(tls_acme_token_ok("a.b"));
    assert_false(tls_acme_token_ok("a b"));
    memset(big, 'a', 256);
    big[256] = '\0';
    assert_true(tls_acme_token_ok(big));
    big[256] = 'a';
    big[257] = '\0';
    assert_false(tls_acme_token_ok(big));
}

/* One host with nothing behind it: the orders here fail at the directory, before present(). */
static const tls_acme_host no_host = {"h1", NULL, NULL, NULL};

static void resolve_at(fixture *fx, const json_object *t, int64_t now, tls_result *r)
{
    tls_acme_env env;
    tls_options o;
    omlop_err err = OMLOP_ERR_INIT;

    memset(&env, 0, sizeof(env));
    env.hosts = &no_host;
    env.n_hosts = 1;
    env.budget_ms = 5000;
    memset(&o, 0, sizeof(o));
    o.now = now;
    o.acme = &env;
    if (tls_resolve(fx->st, t, &o, r, &err) < 0)
        fail_msg("tls_resolve: %s", err.msg);
}

/* A member whose key holds dots. */
static const char *member(const json_object *o, const char *key)
{
    json_object *v = NULL;

    if (!o || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return json_object_get_string(v);
}

static const char *annotation(const json_object *o, const char *key)
{
    return member(cjson_get(o, "metadata.annotations"), key);
}

static void test_acme_config_checks(void **state)
{
    fixture *fx = *state;
    json_object *t = tenant(NULL, "ops@example.com", DEAD_SERVER);
    tls_result r;

    resolve_at(fx, t, NOW, &r);
    assert_string_equal(r.mode, "acme");
    assert_non_null(r.fail_reason);
    assert_string_equal(r.fail_reason, TLS_REASON_ACME_CONFIG);
    assert_non_null(strstr(r.fail_msg, "spec.network.fqdn"));
    assert_null(r.cert_pem);
    tls_result_release(&r);
    json_object_put(t);

    t = tenant("oml.example.com", NULL, DEAD_SERVER);
    resolve_at(fx, t, NOW, &r);
    assert_string_equal(r.fail_reason, TLS_REASON_ACME_CONFIG);
    assert_non_null(strstr(r.fail_msg, "spec.tls.acme.email"));
    tls_result_release(&r);
    json_object_put(t);
    /* no order ran: no account Secret */
    assert_int_equal(obj_get(fx->st, "secrets", "t1-acme-account", &t, NULL, NULL),
                     OMLOP_ENOTFOUND);
}

static void test_acme_failed_order_backs_off_then_retries(void **state)
{
    fixture *fx = *state;
    json_object *t = tenant("oml.example.com", "ops@example.com", DEAD_SERVER), *a = NULL;
    tls_result r;
    int64_t rev1 = 0, rev2 = 0;
    char *key1;

    resolve_at(fx, t, NOW, &r);
    assert_non_null(r.fail_reason);
    assert_string_equal(r.fail_reason, TLS_REASON_ACME_FAILED);
    assert_non_null(strstr(r.fail_msg, "ACME order for oml.example.com at " DEAD_SERVER));
    assert_non_null(strstr(r.fail_msg, "attempt 1 failed"));
    assert_int_equal(r.retry_ms, TLS_ACME_BACKOFF_MIN_S * 1000);
    assert_null(r.cert_pem);
    tls_result_release(&r);
    /* the account Secret: a generated one with the key and the back-off */
    assert_int_equal(obj_get(fx->st, "secrets", "t1-acme-account", &a, &rev1, NULL), 0);
    assert_string_equal(member(cjson_get(a, "metadata.labels"), "omlop.io/tenant"), "t1");
    assert_string_equal(member(cjson_get(a, "metadata.labels"), "omlop.io/managed-by"), "omlop");
    assert_non_null(member(cjson_get(a, "data"), "account.key"));
    assert_string_equal(annotation(a, TLS_ACME_ANN_FAILURES), "1");
    assert_int_equal(strtoll(annotation(a, TLS_ACME_ANN_RETRY_AT), NULL, 10),
                     NOW + TLS_ACME_BACKOFF_MIN_S);
    assert_non_null(strstr(annotation(a, TLS_ACME_ANN_LAST_ERROR), "AcmeOrderFailed ACME order"));
    key1 = xstrdup(json_object_to_json_string(cjson_get(a, "data")));
    json_object_put(a);

    /* inside the back-off: the same failure, the CA not asked, nothing written */
    resolve_at(fx, t, NOW + TLS_ACME_BACKOFF_MIN_S - 1, &r);
    assert_string_equal(r.fail_reason, TLS_REASON_ACME_FAILED);
    assert_non_null(strstr(r.fail_msg, "ACME order for oml.example.com"));
    assert_non_null(strstr(r.fail_msg, "attempt 1 failed"));
    assert_int_equal(r.retry_ms, 1000);
    tls_result_release(&r);
    assert_int_equal(obj_get(fx->st, "secrets", "t1-acme-account", &a, &rev2, NULL), 0);
    assert_int_equal(rev2, rev1);
    json_object_put(a);

    /* at the back-off's end: a new attempt, a second failure, the wait doubled, the key kept */
    resolve_at(fx, t, NOW + TLS_ACME_BACKOFF_MIN_S, &r);
    assert_string_equal(r.fail_reason, TLS_REASON_ACME_FAILED);
    assert_non_null(strstr(r.fail_msg, "attempt 2 failed"));
    assert_int_equal(r.retry_ms, 2 * TLS_ACME_BACKOFF_MIN_S * 1000);
    tls_result_release(&r);
    assert_int_equal(obj_get(fx->st, "secrets", "t1-acme-account", &a, &rev2, NULL), 0);
    assert_true(rev2 > rev1);
    assert_string_equal(annotation(a, TLS_ACME_ANN_FAILURES), "2");
    assert_int_equal(strtoll(annotation(a, TLS_ACME_ANN_RETRY_AT), NULL, 10),
                     NOW + 3 * TLS_ACME_BACKOFF_MIN_S);
    assert_string_equal(json_object_to_json_string(cjson_get(a, "data")), key1);
    free(key1);
    json_object_put(a);
    json_object_put(t);
}

/* Store "t1-tls" as omlop does, with a pair for dns and the source annotation src (or none). */
static void store_pair(fixture *fx, const char *dns, const char *src, int64_t lifetime)
{
    tlspair_selfsigned_opts so;
    const char *names[1] = {dns};
    char *cert = NULL, *key = NULL;
    strbuf s = STRBUF_INIT;
    json_object *o, *meta, *data;
    obj_result res = {0};
    omlop_err err = OMLOP_ERR_INIT;

    memset(&so, 0, sizeof(so));
    so.common_name = dns;
    so.dns_names = names;
    so.n_dns = 1;
    so.now = NOW;
    so.lifetime_s = lifetime;
    assert_int_equal(tlspair_selfsigned(&so, &cert, &key, &err), 0);
    o = json_tokener_parse("{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\","
                           "\"metadata\":{\"name\":\"t1-tls\",\"labels\":{\"omlop.io/tenant\":"
                           "\"t1\",\"omlop.io/managed-by\":\"omlop\"}}}");
    meta = cjson_get(o, "metadata");
    if (src) {
        json_object *ann = json_object_new_object();

        json_object_object_add(ann, "omlop.io/tls-source", json_object_new_string(src));
        json_object_object_add(meta, "annotations", ann);
    }
    data = json_object_new_object();
    json_object_object_add(data, "tls.crt", json_object_new_string(cert));
    json_object_object_add(data, "tls.key", json_object_new_string(key));
    json_object_object_add(o, "stringData", data);
    if (obj_create(fx->st, "secrets", o, 0, &res, &err) < 0)
        fail_msg("%s", err.msg);
    obj_result_release(&res);
    json_object_put(o);
    free(cert);
    tlspair_free_secret(key);
    strbuf_release(&s);
}

static void test_acme_pair_of_the_same_directory_is_kept(void **state)
{
    fixture *fx = *state;
    json_object *t = tenant("oml.example.com", "ops@example.com", DEAD_SERVER), *a = NULL;
    tls_result r;

    store_pair(fx, "oml.example.com", "acme " DEAD_SERVER, 90 * DAY);
    resolve_at(fx, t, NOW, &r);
    assert_null(r.fail_reason);
    assert_int_equal(r.issued, TLS_KEEP);
    assert_non_null(r.cert_pem);
    assert_string_equal(r.secret, "t1-tls");
    /* renewed by omlop: at notAfter - a third of 90 days (+ the backdating of the pair) */
    assert_int_equal(r.next_renewal, NOW + 60 * DAY - TLSPAIR_BACKDATE_S / 3);
    assert_int_equal(r.retry_ms, 0);
    tls_result_release(&r);
    /* the CA was not needed: no account */
    assert_int_equal(obj_get(fx->st, "secrets", "t1-acme-account", &a, NULL, NULL),
                     OMLOP_ENOTFOUND);
    json_object_put(t);
}

static void test_acme_other_pair_stays_placed_while_the_order_fails(void **state)
{
    fixture *fx = *state;
    json_object *t = tenant("oml.example.com", "ops@example.com", DEAD_SERVER);
    tls_result r;

    /* a self-signed pair from before the switch to acme: kept on the hosts until an order works */
    store_pair(fx, "oml.example.com", NULL, 90 * DAY);
    resolve_at(fx, t, NOW, &r);
    assert_non_null(r.fail_reason);
    assert_string_equal(r.fail_reason, TLS_REASON_ACME_FAILED);
    assert_non_null(r.cert_pem);
    assert_int_equal(r.issued, TLS_KEEP);
    assert_int_equal(r.retry_ms, TLS_ACME_BACKOFF_MIN_S * 1000);
    tls_result_release(&r);
    json_object_put(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acme_backoff_doubles_to_its_cap_and_honours_retry_after),
        cmocka_unit_test(test_acme_decide_source_names_and_renewal_edge),
        cmocka_unit_test(test_acme_token_is_base64url_only),
        cmocka_unit_test_setup_teardown(test_acme_config_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acme_failed_order_backs_off_then_retries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_acme_pair_of_the_same_directory_is_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_acme_other_pair_stays_placed_while_the_order_fails,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
