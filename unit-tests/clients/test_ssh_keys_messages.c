/*
 * ssh_keys never quotes key material in an error: a malformed identity Secret
 * (bad base64, text that is not a key, a damaged PEM body) gets a message that
 * says what is wrong and where, with no run of the input in it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "clients/ssh_keys.h"

/* Fail when msg holds any 4-character run of input that is not white space or dashes. */
static void assert_no_run_of(const char *msg, const char *input)
{
    size_t n = strlen(input);

    for (size_t i = 0; i + 4 <= n; i++) {
        char run[5];

        memcpy(run, input + i, 4);
        run[4] = '\0';
        if (strpbrk(run, " \n\t-") != NULL)
            continue;
        if (strstr(msg, run))
            fail_msg("the message quotes the key ('%s'): %s", run, msg);
    }
}

static void test_malformed_keys_are_not_quoted(void **state)
{
    static const struct {
        const char *text;
        const char *says;
    } cases[] = {
        /* base64 with a character outside the alphabet */
        {"Zm9vYmFyZ$XRoZXJl", "a character outside the base64 alphabet at offset 9"},
        {"Zm9vYmFyZ\x01XRoZXJl", "a character outside the base64 alphabet at offset 9"},
        /* data after the padding */
        {"Zm9vYg==Qk9P", "data after the '=' padding at offset 8"},
        /* base64 of something that is not a key */
        {"c2VjcmV0IHBhc3N3b3JkIGhlcmU=", "not a private key"},
        /* a PEM frame around garbage */
        {"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAACmFlczI1\n"
         "-----END OPENSSH PRIVATE KEY-----\n",
         "not an unencrypted private key"},
    };
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ssh_key key = NULL;

        omlop_err_clear(&err);
        assert_true(ssh_keys_load_text(cases[i].text, "secret lab/key", &key, &err) < 0);
        assert_null(key);
        if (!strstr(err.msg, cases[i].says) || !strstr(err.msg, "secret lab/key"))
            fail_msg("case %zu: want '%s' naming the secret, got: %s", i, cases[i].says, err.msg);
        assert_no_run_of(err.msg, cases[i].text);
        assert_null(strchr(err.msg, '$'));
        assert_null(strchr(err.msg, '\x01'));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_keys_are_not_quoted),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
