/* Tests for lib/k8s_status: one reason table, shared by omlopd's Status bodies and the client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "clients/apiclient.h"
#include "lib/k8s_status.h"
#include "operator/api_status.h"

static void test_reason_names_standard_codes(void **state)
{
    static const struct {
        long code;
        const char *reason;
    } cases[] = {
        {400, "BadRequest"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "NotFound"},
        {405, "MethodNotAllowed"},
        {406, "NotAcceptable"},
        {408, "Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "LengthRequired"},
        {413, "RequestEntityTooLarge"},
        {415, "UnsupportedMediaType"},
        {422, "Invalid"},
        {429, "TooManyRequests"},
        {431, "RequestHeaderFieldsTooLarge"},
        {500, "InternalError"},
        {503, "ServiceUnavailable"},
        {504, "Timeout"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_non_null(k8s_status_reason(cases[i].code));
        assert_string_equal(k8s_status_reason(cases[i].code), cases[i].reason);
    }
}

static void test_reason_is_null_for_other_codes(void **state)
{
    (void)state;
    assert_null(k8s_status_reason(200));
    assert_null(k8s_status_reason(418));
    assert_null(k8s_status_reason(502));
    assert_null(k8s_status_reason(-1));
}

/* omlopd must always name a reason: the table, else the code's class. */
static void test_server_falls_back_on_code_class(void **state)
{
    (void)state;
    assert_string_equal(api_status_reason(404), "NotFound");
    assert_string_equal(api_status_reason(431), "RequestHeaderFieldsTooLarge");
    assert_string_equal(api_status_reason(418), "BadRequest");
    assert_string_equal(api_status_reason(502), "InternalError");
}

/* The client names a code the same way when the body carries no Status reason. */
static void test_client_uses_same_table_without_status_body(void **state)
{
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(apiclient_status_error(404, NULL, 0, &err), OMLOP_ENOTFOUND);
    assert_string_equal(err.msg, "omlopd answered 404 NotFound");
    assert_int_equal(apiclient_status_error(411, "", 0, &err), OMLOP_EINVAL);
    assert_string_equal(err.msg, "omlopd answered 411 LengthRequired");
    assert_int_equal(apiclient_status_error(418, NULL, 0, &err), OMLOP_EINVAL);
    assert_string_equal(err.msg, "omlopd answered 418 Error");
    assert_int_equal(apiclient_status_error(502, NULL, 0, &err), OMLOP_EUNAVAIL);
    assert_string_equal(err.msg, "omlopd answered 502 ServerError");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_names_standard_codes),
        cmocka_unit_test(test_reason_is_null_for_other_codes),
        cmocka_unit_test(test_server_falls_back_on_code_class),
        cmocka_unit_test(test_client_uses_same_table_without_status_body),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
