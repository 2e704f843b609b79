/*
 * Tests for reconcilers/secrets: values from data (base64) and stringData
 * (stringData wins), errors that name the Secret and key but never a value,
 * and generated Secrets created once with random values and omlop's labels.
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
#include "objects/objects.h"
#include "reconcilers/secrets.h"

typedef struct fixture {
    char dir[48];
    store *st;
    secrets_ctx sc;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    store_options so;
    omlop_err err = OMLOP_ERR_INIT;
    static const char secret[] =
        "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s1\"},"
        "\"data\":{\"b\":\"aGVsbG8gd29ybGQ=\",\"both\":\"ZnJvbWRhdGE=\",\"bad\":\"!!!\","
        "\"ca.crt\":\"ZG90dGVk\"},"
        "\"stringData\":{\"both\":\"fromstring\",\"tls.key\":\"dotted key\"}}";

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/omlop-secrets-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    store_options_default(&so);
    so.data_dir = fx->dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &fx->st, &err) < 0)
        fail_msg("store: %s", err.msg);
    assert_int_equal(
        store_create(fx->st, SECRETS_KEY_PREFIX "s1", secret, strlen(secret), NULL, &err), 0);
    fx->sc.st = fx->st;
    fx->sc.tenant = "acme";
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char cmd[96];

    secrets_ctx_release(&fx->sc);
    store_close(fx->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static void test_secrets_reads_data_and_string_data(void **state)
{
    fixture *fx = *state;
    strbuf v = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(secrets_lookup(&fx->sc, "s1", "b", &v, &err), 0);
    assert_string_equal(strbuf_str(&v), "hello world");
    strbuf_reset(&v);
    assert_int_equal(secrets_lookup(&fx->sc, "s1", "both", &v, &err), 0);
    assert_string_equal(strbuf_str(&v), "fromstring");
    /* keys with dots (tls.key, ca.crt) are keys, not paths */
    strbuf_reset(&v);
    assert_int_equal(secrets_lookup(&fx->sc, "s1", "tls.key", &v, &err), 0);
    assert_string_equal(strbuf_str(&v), "dotted key");
    strbuf_reset(&v);
    assert_int_equal(secrets_lookup(&fx->sc, "s1", "ca.crt", &v, &err), 0);
    assert_string_equal(strbuf_str(&v), "dotted");
    strbuf_release(&v);
}

static void test_secrets_errors_name_secret_and_key(void **state)
{
    fixture *fx = *state;
    strbuf v = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(secrets_lookup(&fx->sc, "s1", "nokey", &v, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "s1"));
    assert_non_null(strstr(err.msg, "nokey"));
    assert_int_equal(secrets_lookup(&fx->sc, "absent", "k", &v, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "Secret absent"));
    assert_true(secrets_lookup(&fx->sc, "s1", "bad", &v, &err) < 0);
    assert_non_null(strstr(err.msg, "base64"));
    assert_null(strstr(err.msg, "!!!"));
    /* another tenant's "generated" name is not generated for this one */
    assert_int_equal(secrets_lookup(&fx->sc, "other-postgres", "password", &v, &err),
                     OMLOP_ENOTFOUND);
    strbuf_release(&v);
}

static void test_secrets_generated_once_with_labels(void **state)
{
    fixture *fx = *state;
    strbuf a = STRBUF_INIT, b = STRBUF_INIT, c = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    store_kv kv = {0};
    json_object *o, *lbl = NULL;

    assert_int_equal(secrets_lookup(&fx->sc, "acme-objectstorage", "accessKey", &a, &err), 0);
    assert_int_equal(secrets_lookup(&fx->sc, "acme-objectstorage", "accessKey", &b, &err), 0);
    assert_int_equal(secrets_lookup(&fx->sc, "acme-objectstorage", "secretKey", &c, &err), 0);
    assert_int_equal(a.len, 36);
    assert_string_equal(strbuf_str(&a), strbuf_str(&b));
    assert_string_not_equal(strbuf_str(&a), strbuf_str(&c));
    assert_int_equal(store_get(fx->st, SECRETS_KEY_PREFIX "acme-objectstorage", &kv, &err), 0);
    o = object_parse(kv.value, kv.value_len);
    assert_non_null(o);
    assert_true(
        json_object_object_get_ex(cjson_get(o, "metadata.labels"), "omlop.io/tenant", &lbl));
    assert_string_equal(json_object_get_string(lbl), "acme");
    assert_null(strstr(kv.value, strbuf_str(&a))); /* stored as base64, not as text */
    json_object_put(o);
    store_kv_release(&kv);
    strbuf_release(&a);
    strbuf_release(&b);
    strbuf_release(&c);
}

/* An SSH identity that is not a key: InvalidSecret naming Secret and key, never the value. */
static void test_secrets_ssh_identity_must_parse(void **state)
{
    fixture *fx = *state;
    strbuf v = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    /* s1/both holds "fromstring": present, but no key */
    assert_int_equal(secrets_ssh_identity(&fx->sc, "s1", "both", &v, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "Secret s1 key both"));
    assert_null(strstr(err.msg, "fromstring"));
    assert_string_equal(secrets_reason(err.code), SECRETS_REASON_INVALID);
    strbuf_reset(&v);
    assert_int_equal(secrets_ssh_identity(&fx->sc, "absent", "ssh-privatekey", &v, &err),
                     OMLOP_ENOTFOUND);
    assert_string_equal(secrets_reason(err.code), SECRETS_REASON_NOT_FOUND);
    assert_null(secrets_reason(OMLOP_EUNAVAIL)); /* the store, not the Secret */
    strbuf_release(&v);
}

/* Every secretRef of the spec, at any depth, and the generated names; sorted, once each. */
static void test_secrets_referenced_lists_every_ref(void **state)
{
    static const char tenant[] =
        "{\"kind\":\"Tenant\",\"metadata\":{\"name\":\"acme\"},\"spec\":{"
        "\"hosts\":[{\"name\":\"a\",\"ssh\":{\"identitySecretRef\":{\"name\":\"ssh-a\"}}},"
        "{\"name\":\"b\",\"ssh\":{\"identitySecretRef\":{\"name\":\"ssh-a\"}}}],"
        "\"tls\":{\"secretRef\":{\"name\":\"tls\"}},"
        "\"database\":{\"passwordSecretRef\":{\"name\":\"db\",\"key\":\"pw\"}},"
        "\"objectStorage\":{\"credentialsSecretRef\":{\"name\":\"s3\"}},"
        "\"app\":{\"smtp\":{\"passwordSecretRef\":{\"name\":\"smtp\"}}},"
        "\"notARef\":{\"name\":\"nope\"},\"mySecretRefs\":{\"name\":\"nope2\"}}}";
    static const char *const want[] = {"acme-acme-account",
                                       "acme-ami",
                                       "acme-minio-admin",
                                       "acme-objectstorage",
                                       "acme-postgres",
                                       "acme-tls",
                                       "acme-vrrp",
                                       "db",
                                       "s3",
                                       "smtp",
                                       "ssh-a",
                                       "tls"};
    json_object *t = json_tokener_parse(tenant);
    char **names;
    size_t n = 0;

    (void)state;
    assert_non_null(t);
    names = secrets_referenced(t);
    for (; names[n]; n++)
        if (n >= sizeof(want) / sizeof(want[0]) || strcmp(names[n], want[n]) != 0)
            fail_msg("name %zu: got %s", n, names[n]);
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    secrets_names_free(names);
    json_object_put(t);
}

/* A round reads each Secret once; a new round (after secrets_ctx_release) sees a change. */
static int set_b(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    (void)cur;
    (void)err;
    json_object_object_add(cjson_get(next, "stringData"), "b", json_object_new_string(ctx));
    return 0;
}

static void test_secrets_read_once_per_round(void **state)
{
    fixture *fx = *state;
    strbuf v = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    obj_result res = {0};

    assert_int_equal(secrets_lookup(&fx->sc, "s1", "b", &v, &err), 0);
    assert_int_equal(fx->sc.n_cache, 1);
    assert_int_equal(obj_update(fx->st, "secrets", "s1", NULL, set_b, "changed", &res, &err), 0);
    obj_result_release(&res);
    strbuf_reset(&v);
    assert_int_equal(secrets_lookup(&fx->sc, "s1", "b", &v, &err), 0);
    assert_string_not_equal(strbuf_str(&v), "changed"); /* the round's value holds */
    assert_int_equal(fx->sc.n_cache, 1);
    secrets_ctx_release(&fx->sc);
    assert_int_equal(fx->sc.n_cache, 0);
    strbuf_reset(&v);
    assert_int_equal(secrets_lookup(&fx->sc, "s1", "b", &v, &err), 0);
    assert_string_equal(strbuf_str(&v), "changed");
    strbuf_release(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_secrets_read_once_per_round, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_reads_data_and_string_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_errors_name_secret_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_generated_once_with_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_ssh_identity_must_parse, setup, teardown),
        cmocka_unit_test(test_secrets_referenced_lists_every_ref),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
