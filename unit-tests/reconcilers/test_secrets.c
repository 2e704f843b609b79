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

#include "lib/cjson.h"
#include "lib/log.h"
#include "operator/api_object.h"
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
        "\"data\":{\"b\":\"aGVsbG8gd29ybGQ=\",\"both\":\"ZnJvbWRhdGE=\",\"bad\":\"!!!\"},"
        "\"stringData\":{\"both\":\"fromstring\"}}";

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
    o = api_object_parse(kv.value, kv.value_len);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_secrets_reads_data_and_string_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_errors_name_secret_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_generated_once_with_labels, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
