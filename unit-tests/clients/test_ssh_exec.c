/*
 * Tests of clients/ssh's commands (ssh_conn_exec) and TCP connections made by
 * the host (ssh_conn_open_tcp), through a real ssh_conn to a private sshd on
 * 127.0.0.1 (unit-tests/clients/sshd_fixture.h): stdin round trips and flow
 * control, exit status, stderr, truncation, deadlines, a host that is down,
 * parallel callers, and fd/channel counts after many calls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clients/ssh.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "unit-tests/clients/sshd_fixture.h"

/* Deterministic bytes that are not all alike, NULs and quotes included. */
static unsigned char *make_data(size_t len)
{
    unsigned char *d = malloc(len);
    unsigned v = 12345;

    assert_non_null(d);
    for (size_t i = 0; i < len; i++) {
        v = v * 1103515245u + 12345u;
        d[i] = (unsigned char)(v >> 16);
    }
    return d;
}

/* Wait (bounded) until the connection has no channel open; returns the count seen last. */
static size_t wait_channels_closed(ssh_conn *c)
{
    ssh_conn_status st;

    for (int i = 0; i < 200; i++) {
        ssh_conn_get_status(c, &st);
        if (st.open_channels == 0)
            return 0;
        fixture_sleep_ms(10);
    }
    return st.open_channels;
}

/* Wait (bounded) until this process has want fds open again; returns the count seen last. */
static int wait_fd_count(int want)
{
    int n = fixture_count_fds();

    for (int i = 0; i < 200 && n != want; i++) {
        fixture_sleep_ms(10);
        n = fixture_count_fds();
    }
    return n;
}

static void test_exec_stdin_round_trip_through_cat(void **state)
{
    sshd_fixture *f = *state;
    size_t len = 300 * 1024;
    unsigned char *data = make_data(len);
    ssh_exec_result res;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(ssh_conn_exec(f->conn, "cat", data, len, len, 10000, &res, &err), 0);
    assert_int_equal(res.exit_status, 0);
    assert_int_equal(res.is_truncated, 0);
    assert_int_equal(res.out.len, len);
    assert_memory_equal(res.out.buf, data, len);
    assert_int_equal(res.err_out.len, 0);
    ssh_exec_result_release(&res);
    free(data);
}

static void test_exec_large_stdin_waits_for_the_window(void **state)
{
    sshd_fixture *f = *state;
    size_t len = 5 * 1000 * 1000; /* more than sshd's 2 MiB window: needs window adjusts */
    unsigned char *data = make_data(len);
    ssh_exec_result res;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(ssh_conn_exec(f->conn, "wc -c", data, len, 0, 20000, &res, &err), 0);
    assert_int_equal(res.exit_status, 0);
    assert_int_equal(atol(strbuf_str(&res.out)), (long)len);
    ssh_exec_result_release(&res);
    free(data);
}

static void test_exec_without_stdin_sees_eof(void **state)
{
    sshd_fixture *f = *state;
    ssh_exec_result res;
    omlop_err err = OMLOP_ERR_INIT;

    /* would hang until the deadline if EOF were never sent */
    assert_int_equal(ssh_conn_exec(f->conn, "cat; echo end", NULL, 0, 0, 5000, &res, &err), 0);
    assert_string_equal(strbuf_str(&res.out), "end\n");
    ssh_exec_result_release(&res);
}

static void test_exec_reports_exit_status_and_stderr(void **state)
{
    sshd_fixture *f = *state;
    ssh_exec_result res;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(ssh_conn_exec(f->conn, "echo out; echo 'it failed' >&2; exit 3", NULL, 0, 0,
                                   5000, &res, &err),
                     0);
    assert_int_equal(res.exit_status, 3);
    assert_string_equal(strbuf_str(&res.out), "out\n");
    assert_string_equal(strbuf_str(&res.err_out), "it failed\n");
    ssh_exec_result_release(&res);
}

static void test_exec_killed_by_signal_has_no_exit_status(void **state)
{
    sshd_fixture *f = *state;
    ssh_exec_result res;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(ssh_conn_exec(f->conn, "kill -9 $$", NULL, 0, 0, 5000, &res, &err), 0);
    assert_int_equal(res.exit_status, -1);
    ssh_exec_result_release(&res);
}

static void test_exec_truncates_output_at_max_out(void **state)
{
    sshd_fixture *f = *state;
    ssh_exec_result res;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(ssh_conn_exec(f->conn, "head -c 3000000 /dev/zero; echo done >&2", NULL, 0,
                                   1000, 10000, &res, &err),
                     0);
    assert_int_equal(res.exit_status, 0);
    assert_int_equal(res.is_truncated, 1);
    assert_int_equal(res.out.len, 1000);
    assert_string_equal(strbuf_str(&res.err_out), "done\n");
    ssh_exec_result_release(&res);
}

static void test_exec_input_not_read_by_the_command(void **state)
{
    sshd_fixture *f = *state;
    size_t len = 4 * 1000 * 1000;
    unsigned char *data = make_data(len);
    ssh_exec_result res;
    omlop_err err = OMLOP_ERR_INIT;

    /* the command exits at once: the rest of stdin is dropped, which is no error */
    assert_int_equal(ssh_conn_exec(f->conn, "exit 4", data, len, 0, 10000, &res, &err), 0);
    assert_int_equal(res.exit_status, 4);
    ssh_exec_result_release(&res);
    free(data);
}

static void test_exec_timeout_closes_channel_and_conn_stays_usable(void **state)
{
    sshd_fixture *f = *state;
    ssh_exec_result res;
    omlop_err err = OMLOP_ERR_INIT;
    long long t0 = fixture_now_ms(), took;

    assert_int_equal(ssh_conn_exec(f->conn, "echo started; sleep 30", NULL, 0, 0, 500, &res, &err),
                     OMLOP_ETIMEOUT);
    took = fixture_now_ms() - t0;
    assert_true(took >= 450 && took < 3000);
    assert_non_null(strstr(err.msg, "testhost"));
    assert_non_null(strstr(err.msg, "500 ms"));
    ssh_exec_result_release(&res);
    assert_int_equal(wait_channels_closed(f->conn), 0);
    assert_int_equal(ssh_conn_exec(f->conn, "echo ok", NULL, 0, 0, 5000, &res, &err), 0);
    assert_string_equal(strbuf_str(&res.out), "ok\n");
    ssh_exec_result_release(&res);
}

static void test_exec_many_sequential_leave_no_fds_or_channels(void **state)
{
    sshd_fixture *f = *state;
    ssh_conn_status before, after;
    int fds;

    ssh_conn_get_status(f->conn, &before);
    fds = fixture_count_fds();
    for (int i = 0; i < 200; i++) {
        ssh_exec_result res;
        omlop_err err = OMLOP_ERR_INIT;
        char cmd[32], want[32];

        snprintf(cmd, sizeof(cmd), "echo %d", i);
        snprintf(want, sizeof(want), "%d\n", i);
        assert_int_equal(ssh_conn_exec(f->conn, cmd, "x", 1, 0, 5000, &res, &err), 0);
        assert_string_equal(strbuf_str(&res.out), want);
        ssh_exec_result_release(&res);
    }
    assert_int_equal(fixture_count_fds(), fds);
    assert_int_equal(wait_channels_closed(f->conn), 0);
    ssh_conn_get_status(f->conn, &after);
    assert_int_equal(after.opened_total - before.opened_total, 200);
    assert_int_equal(after.connects, before.connects);
}

struct par {
    ssh_conn *c;
    int id;
    int ok;
};

static void *par_main(void *arg)
{
    struct par *p = arg;

    for (int i = 0; i < 10; i++) {
        ssh_exec_result res;
        omlop_err err = OMLOP_ERR_INIT;
        char in[32], want[40];

        snprintf(in, sizeof(in), "t%d-%d", p->id, i);
        snprintf(want, sizeof(want), "<%s>", in);
        if (ssh_conn_exec(p->c, "printf '<%s>' \"$(cat)\"", in, strlen(in), 0, 10000, &res, &err) ==
                0 &&
            strcmp(strbuf_str(&res.out), want) == 0)
            p->ok++;
        ssh_exec_result_release(&res);
    }
    return NULL;
}

static void test_exec_parallel_callers_get_their_own_output(void **state)
{
    sshd_fixture *f = *state;
    pthread_t th[6];
    struct par p[6];

    for (int i = 0; i < 6; i++) {
        p[i] = (struct par){.c = f->conn, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, par_main, &p[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(p[i].ok, 10);
    }
}

static void test_exec_unreachable_host_is_eunavail(void **state)
{
    sshd_fixture *f = *state;
    ssh_host_config cfg = {0};
    ssh_conn *c = NULL;
    ssh_exec_result res;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf key = STRBUF_INIT;
    long long t0;

    strbuf_addf(&key, "%s/client_key", f->dir);
    cfg.name = "downhost";
    cfg.address = "127.0.0.1";
    cfg.port = fixture_free_port();
    cfg.identity_file = strbuf_str(&key);
    cfg.is_tofu = 1;
    cfg.backoff_initial_ms = 5000;
    assert_int_equal(ssh_conn_new(&cfg, &c, &err), 0);
    assert_true(ssh_conn_wait_connected(c, 5000, &err) < 0);
    t0 = fixture_now_ms();
    assert_int_equal(ssh_conn_exec(c, "true", NULL, 0, 0, 5000, &res, &err), OMLOP_EUNAVAIL);
    assert_true(fixture_now_ms() - t0 < 1000);
    assert_non_null(strstr(err.msg, "downhost"));
    ssh_exec_result_release(&res);
    ssh_conn_free(c);
    strbuf_release(&key);
}

static void test_exec_empty_command_is_einval(void **state)
{
    sshd_fixture *f = *state;
    ssh_exec_result res;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(ssh_conn_exec(f->conn, "", NULL, 0, 0, 0, &res, &err), OMLOP_EINVAL);
    ssh_exec_result_release(&res);
}

static void test_open_tcp_carries_bytes_both_ways(void **state)
{
    sshd_fixture *f = *state;
    int port, lfd = fixture_listen(&port), fd = -1, peer;
    omlop_err err = OMLOP_ERR_INIT;
    struct pollfd pfd;
    char buf[16] = "";

    assert_true(lfd >= 0);
    assert_int_equal(ssh_conn_open_tcp(f->conn, "127.0.0.1", port, &fd, &err), 0);
    pfd = (struct pollfd){.fd = lfd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    peer = accept(lfd, NULL, NULL);
    assert_true(peer >= 0);
    assert_int_equal(write(fd, "ping", 4), 4);
    pfd = (struct pollfd){.fd = peer, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_int_equal(read(peer, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(write(peer, "pong", 4), 4);
    pfd = (struct pollfd){.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_int_equal(read(fd, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "pong", 4);
    /* the far end closing shows as EOF on our end */
    close(peer);
    pfd = (struct pollfd){.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_int_equal(read(fd, buf, sizeof(buf)), 0);
    close(fd);
    close(lfd);
}

static void test_open_tcp_refused_names_address_and_port(void **state)
{
    sshd_fixture *f = *state;
    int port = fixture_free_port(), fd = -1;
    omlop_err err = OMLOP_ERR_INIT;
    char want[64];

    assert_int_equal(ssh_conn_open_tcp(f->conn, "127.0.0.1", port, &fd, &err), OMLOP_EUNAVAIL);
    assert_int_equal(fd, -1);
    snprintf(want, sizeof(want), "host testhost: 127.0.0.1:%d refused: ", port);
    assert_non_null(strstr(err.msg, want));
}

static void test_open_tcp_bad_arguments_are_einval(void **state)
{
    sshd_fixture *f = *state;
    int fd;
    omlop_err err = OMLOP_ERR_INIT;

    assert_int_equal(ssh_conn_open_tcp(f->conn, "127.0.0.1", 0, &fd, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "port 0"));
    assert_int_equal(ssh_conn_open_tcp(f->conn, "127.0.0.1", 70000, &fd, &err), OMLOP_EINVAL);
    assert_int_equal(ssh_conn_open_tcp(f->conn, "", 80, &fd, &err), OMLOP_EINVAL);
}

static void test_open_tcp_many_cycles_leave_no_fds(void **state)
{
    sshd_fixture *f = *state;
    int port, lfd = fixture_listen(&port), fds;

    assert_true(lfd >= 0);
    fds = fixture_count_fds();
    for (int i = 0; i < 100; i++) {
        omlop_err err = OMLOP_ERR_INIT;
        int fd = -1, peer;

        assert_int_equal(ssh_conn_open_tcp(f->conn, "127.0.0.1", port, &fd, &err), 0);
        peer = accept(lfd, NULL, NULL);
        assert_true(peer >= 0);
        close(peer);
        close(fd);
    }
    assert_int_equal(wait_channels_closed(f->conn), 0);
    assert_int_equal(wait_fd_count(fds), fds);
    close(lfd);
}

/* One connection attempt to the fixture's sshd with these host key settings; its error. */
static int try_login(const sshd_fixture *f, const char *host_key, int is_spec_advice,
                     omlop_err *err)
{
    ssh_host_config cfg;
    ssh_conn *c = NULL;
    strbuf key = STRBUF_INIT;
    int rc;

    strbuf_addf(&key, "%s/client_key", f->dir);
    memset(&cfg, 0, sizeof(cfg));
    cfg.name = "adv";
    cfg.address = "127.0.0.1";
    cfg.port = f->port;
    cfg.user = f->user;
    cfg.identity_file = strbuf_str(&key);
    cfg.host_key = host_key;
    cfg.is_spec_advice = is_spec_advice;
    cfg.connect_timeout_ms = 5000;
    cfg.backoff_initial_ms = 60000; /* one attempt */
    rc = ssh_conn_new(&cfg, &c, err);
    if (rc == 0)
        rc = ssh_conn_wait_connected(c, 8000, err);
    ssh_conn_free(c);
    strbuf_release(&key);
    return rc;
}

/*
 * What a refusal advises depends on who reads it: omlopd's user sets the Tenant's spec (no
 * omlctl flag to pass), omlctl's user passes flags. A server without a key of the pinned
 * type says so, instead of looking like a network problem.
 */
static void test_refusals_advise_the_callers_settings(void **state)
{
    sshd_fixture *f = *state;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf pub = STRBUF_INIT;

    assert_int_equal(try_login(f, NULL, 1, &err), OMLOP_EAUTH);
    assert_non_null(strstr(err.msg, "spec.hosts[].ssh.knownHostKey"));
    assert_non_null(strstr(err.msg, "omlopd with --known-hosts"));
    if (strstr(err.msg, "--insecure-tofu") || strstr(err.msg, "--host-key"))
        fail_msg("omlopd's message advises omlctl's flags: %s", err.msg);
    assert_int_equal(try_login(f, NULL, 0, &err), OMLOP_EAUTH);
    assert_non_null(strstr(err.msg, "--host-key"));
    assert_null(strstr(err.msg, "spec.hosts"));

    /* the server has an ed25519 key only; pin an ECDSA one */
    assert_int_equal(
        fixture_run("ssh-keygen (ecdsa)", "ssh-keygen -q -t ecdsa -N '' -f '%s/other_key'", f->dir),
        0);
    strbuf_addf(&pub, "%s/other_key.pub", f->dir);
    {
        strbuf text = STRBUF_INIT;

        assert_int_equal(strbuf_read_file(&text, strbuf_str(&pub), 4096, &err), 0);
        assert_int_equal(try_login(f, strbuf_str(&text), 1, &err), OMLOP_EAUTH);
        strbuf_release(&text);
    }
    assert_non_null(strstr(err.msg, "no host key of the pinned type"));
    assert_non_null(strstr(err.msg, "ecdsa"));
    assert_non_null(strstr(err.msg, "spec.hosts[].ssh.knownHostKey"));
    assert_null(strstr(err.msg, "cannot connect"));
    strbuf_release(&pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_stdin_round_trip_through_cat),
        cmocka_unit_test(test_exec_large_stdin_waits_for_the_window),
        cmocka_unit_test(test_exec_without_stdin_sees_eof),
        cmocka_unit_test(test_exec_reports_exit_status_and_stderr),
        cmocka_unit_test(test_exec_killed_by_signal_has_no_exit_status),
        cmocka_unit_test(test_exec_truncates_output_at_max_out),
        cmocka_unit_test(test_exec_input_not_read_by_the_command),
        cmocka_unit_test(test_exec_timeout_closes_channel_and_conn_stays_usable),
        cmocka_unit_test(test_exec_many_sequential_leave_no_fds_or_channels),
        cmocka_unit_test(test_exec_parallel_callers_get_their_own_output),
        cmocka_unit_test(test_exec_unreachable_host_is_eunavail),
        cmocka_unit_test(test_exec_empty_command_is_einval),
        cmocka_unit_test(test_open_tcp_carries_bytes_both_ways),
        cmocka_unit_test(test_open_tcp_refused_names_address_and_port),
        cmocka_unit_test(test_open_tcp_bad_arguments_are_einval),
        cmocka_unit_test(test_open_tcp_many_cycles_leave_no_fds),
        /* last: it makes connections of its own, which the fd counts above must not see */
        cmocka_unit_test(test_refusals_advise_the_callers_settings),
    };

    return cmocka_run_group_tests(tests, sshd_fixture_group_setup, sshd_fixture_group_teardown);
}
