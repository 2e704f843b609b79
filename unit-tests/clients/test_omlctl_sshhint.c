/*
 * Tests for clients/omlctl/sshhint.c, the advice under a failed connection in
 * `omlctl host check`: a host key type mismatch says what is offered and what
 * is pinned (not sshd and the firewall); network failures keep their advice.
 * Compiled in directly: the omlctl sources are not part of libomlop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "clients/omlctl/sshhint.h"

static void test_hostkey_type_mismatch_names_offered_and_pinned(void **state)
{
    /* libssh's text as ssh_login.c wraps it */
    static const char msg[] = "cannot connect to root@192.0.2.7:22: kex error : no match for "
                              "method server host key algo: server [rsa-sha2-512,rsa-sha2-256], "
                              "client [ssh-ed25519]";
    strbuf out = STRBUF_INIT;

    (void)state;
    assert_int_equal(omlctl_ssh_failure_hint(msg, OMLOP_EUNAVAIL, &out), 1);
    assert_string_equal(out.buf,
                        "the host offers host keys of type rsa-sha2-512, rsa-sha2-256 but the key "
                        "pinned for it is ssh-ed25519: pin the host's key of an offered type "
                        "(ssh-keyscan -t TYPE HOST prints it), or check that the address is the "
                        "host you meant");
    assert_null(strstr(out.buf, "firewall"));
    strbuf_release(&out);
}

static void test_network_failures_keep_their_advice(void **state)
{
    strbuf out = STRBUF_INIT;

    (void)state;
    assert_int_equal(
        omlctl_ssh_failure_hint("cannot connect to h:22: Connection refused", OMLOP_EUNAVAIL, &out),
        1);
    assert_non_null(strstr(out.buf, "sshd runs on the host"));
    strbuf_reset(&out);
    assert_int_equal(omlctl_ssh_failure_hint("timed out", OMLOP_ETIMEOUT, &out), 1);
    strbuf_reset(&out);
    /* another failure (a refused key, a bad option) has its own message and no advice here */
    assert_int_equal(omlctl_ssh_failure_hint("bad SSH option", OMLOP_EINVAL, &out), 0);
    assert_int_equal(out.len, 0);
    strbuf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostkey_type_mismatch_names_offered_and_pinned),
        cmocka_unit_test(test_network_failures_keep_their_advice),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
