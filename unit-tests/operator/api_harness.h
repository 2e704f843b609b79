/*
 * api_harness: drive a real omlopd in the API tests (header-only, so it is not
 * linked into every test binary). Starts build/asan/bin/omlopd on a fresh temp
 * data dir and a free loopback port (--listen 127.0.0.1:0, unless the test gives
 * --config; the port is read from the start-up line), talks HTTP with libcurl or raw sockets, and
 * stops it with SIGTERM, asserting a clean exit (so ASan leak reports fail the test).
 *
 * Every wait is bounded: start-up 30 s, requests 20 s, stop 20 s.
 */
#ifndef OMLOP_API_HARNESS_H
#define OMLOP_API_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/strbuf.h"

#define HARNESS_UNUSED __attribute__((unused))

typedef struct omlopd_proc {
    pid_t pid;
    char dir[128]; /* temp dir: data/, omlopd.log, files the test writes */
    char url[256]; /* http://127.0.0.1:PORT */
    int port;
    char log_path[256];
    char start_line[512];
} omlopd_proc;

typedef struct http_resp {
    long code;
    strbuf body;
    strbuf headers;
    json_object *json; /* parsed body when it is JSON, else NULL */
} http_resp;

HARNESS_UNUSED static int64_t harness_now_ms(void)
{
    return clock_now_ms();
}

HARNESS_UNUSED static const char *harness_srcdir(void)
{
    const char *s = getenv("OMLOP_SRCDIR");

    return s && *s ? s : ".";
}

HARNESS_UNUSED static void harness_write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

/* Read one line from fd within timeout_ms into buf. */
HARNESS_UNUSED static int harness_read_line(int fd, char *buf, size_t n, int timeout_ms)
{
    size_t used = 0;
    int64_t deadline = harness_now_ms() + timeout_ms;

    while (used + 1 < n) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = deadline - harness_now_ms();
        ssize_t r;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        r = read(fd, buf + used, 1);
        if (r <= 0)
            return -1;
        if (buf[used] == '\n')
            break;
        used++;
    }
    buf[used] = '\0';
    return 0;
}

/* omlopd processes still running, killed at exit when a failed test skipped its stop. */
static pid_t harness_pids[32];

HARNESS_UNUSED static void harness_kill_leftovers(void)
{
    for (size_t i = 0; i < sizeof(harness_pids) / sizeof(harness_pids[0]); i++) {
        if (harness_pids[i] > 0) {
            kill(harness_pids[i], SIGKILL);
            waitpid(harness_pids[i], NULL, 0);
            harness_pids[i] = 0;
        }
    }
}

HARNESS_UNUSED static void harness_track(pid_t pid, int add)
{
    static int registered;

    if (!registered) {
        atexit(harness_kill_leftovers);
        registered = 1;
    }
    for (size_t i = 0; i < sizeof(harness_pids) / sizeof(harness_pids[0]); i++) {
        if (add && harness_pids[i] == 0) {
            harness_pids[i] = pid;
            return;
        }
        if (!add && harness_pids[i] == pid) {
            harness_pids[i] = 0;
            return;
        }
    }
}

/*
 * Start omlopd with extra flags (NULL-terminated, may be NULL). When
 * expect_fail, returns the exit code after the process ended (and stderr in
 * the log), else asserts it started and returns 0.
 */
HARNESS_UNUSED static int omlopd_start_ex(omlopd_proc *p, const char *const *extra, int expect_fail)
{
    char bin[512], data[256];
    const char *argv[64];
    int argc = 0, out[2];
    pid_t pid;

    memset(p, 0, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "/tmp/omlop-apitest-XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    snprintf(data, sizeof(data), "%s/data", p->dir);
    snprintf(p->log_path, sizeof(p->log_path), "%s/omlopd.log", p->dir);
    snprintf(bin, sizeof(bin), "%s/build/asan/bin/omlopd", harness_srcdir());
    argv[argc++] = bin;
    argv[argc++] = "--data-dir";
    argv[argc++] = data;
    {
        /* a test that passes --config decides the address itself (file or --listen) */
        int has_config = 0;

        for (size_t i = 0; extra && extra[i]; i++)
            has_config |= strcmp(extra[i], "--config") == 0;
        if (!has_config) {
            argv[argc++] = "--listen";
            argv[argc++] = "127.0.0.1:0";
        }
    }
    for (size_t i = 0; extra && extra[i] && argc < 62; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    assert_int_equal(pipe(out), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int logfd = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        dup2(out[1], 1);
        dup2(logfd, 2);
        close(out[0]);
        close(out[1]);
        setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=99", 1);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    p->pid = pid;
    harness_track(pid, 1);
    if (expect_fail) {
        int status = 0;
        int64_t deadline = harness_now_ms() + 30000;

        while (waitpid(pid, &status, WNOHANG) == 0) {
            if (harness_now_ms() > deadline) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                harness_track(pid, 0);
                close(out[0]);
                fail_msg("omlopd did not exit although it should refuse to start");
            }
            usleep(20000);
        }
        close(out[0]);
        harness_track(pid, 0);
        p->pid = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    }
    if (harness_read_line(out[0], p->start_line, sizeof(p->start_line), 30000) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        harness_track(pid, 0);
        close(out[0]);
        fail_msg("omlopd did not print its start-up line (see %s)", p->log_path);
    }
    close(out[0]);
    {
        const char *u = strstr(p->start_line, "http");
        const char *colon;

        assert_non_null(u);
        colon = strchr(strstr(u, "//") + 2, ':');
        assert_non_null(colon);
        p->port = atoi(colon + 1);
        assert_true(p->port > 0);
        snprintf(p->url, sizeof(p->url), "%.*s:%d", (int)(colon - u), u, p->port);
    }
    return 0;
}

HARNESS_UNUSED static void omlopd_start(omlopd_proc *p, const char *const *extra)
{
    omlopd_start_ex(p, extra, 0);
}

HARNESS_UNUSED static void harness_rm_rf(const char *dir)
{
    char cmd[300];

    if (strncmp(dir, "/tmp/omlop-apitest-", 19) != 0)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* The log as text (caller releases). */
HARNESS_UNUSED static void omlopd_log(const omlopd_proc *p, strbuf *out)
{
    omlop_err err = OMLOP_ERR_INIT;

    strbuf_read_file(out, p->log_path, 64 * 1024 * 1024, &err);
}

/* SIGTERM and wait; returns the exit status (asserted 0 by omlopd_stop). */
HARNESS_UNUSED static int omlopd_stop_status(omlopd_proc *p)
{
    int status = 0;
    int64_t deadline = harness_now_ms() + 20000;

    if (!p->pid)
        return 0;
    harness_track(p->pid, 0);
    kill(p->pid, SIGTERM);
    while (waitpid(p->pid, &status, WNOHANG) == 0) {
        if (harness_now_ms() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            p->pid = 0;
            return -1;
        }
        usleep(20000);
    }
    p->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

HARNESS_UNUSED static void omlopd_stop(omlopd_proc *p)
{
    int rc = omlopd_stop_status(p);

    if (rc != 0) {
        strbuf log = STRBUF_INIT;

        omlopd_log(p, &log);
        fprintf(stderr, "omlopd log:\n%s\n", strbuf_str(&log));
        strbuf_release(&log);
    }
    assert_int_equal(rc, 0);
    harness_rm_rf(p->dir);
}

/* --- HTTP with libcurl ------------------------------------------------------------------ */

static size_t harness_write_cb(char *data, size_t size, size_t n, void *arg)
{
    strbuf_add(arg, data, size * n);
    return size * n;
}

HARNESS_UNUSED static void http_resp_release(http_resp *r)
{
    strbuf_release(&r->body);
    strbuf_release(&r->headers);
    json_object_put(r->json);
    memset(r, 0, sizeof(*r));
}

typedef struct http_opts {
    const char *token;          /* bearer token or NULL */
    const char *content_type;   /* or NULL */
    const char *accept;         /* or NULL */
    const char *ca_file;        /* https: trust this certificate */
    const char *unix_socket;    /* talk over this unix socket */
    long timeout_ms;            /* default 20000 */
    const char *const *headers; /* more "Name: value" lines, NULL-terminated, or NULL */
    int no_content_type;        /* send no Content-Type at all */
} http_opts;

/* One request; returns the curl result (CURLE_OK when an answer came). */
HARNESS_UNUSED static CURLcode http_do_opts(const char *url, const char *method, const char *path,
                                            const char *body, size_t body_len, const http_opts *o,
                                            http_resp *r)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char full[2048], h[4200];
    CURLcode rc;

    memset(r, 0, sizeof(*r));
    assert_non_null(c);
    snprintf(full, sizeof(full), "%s%s", url, path);
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, harness_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, harness_write_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o && o->timeout_ms ? o->timeout_ms : 20000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (o && o->token) {
        snprintf(h, sizeof(h), "Authorization: Bearer %s", o->token);
        hdrs = curl_slist_append(hdrs, h);
    }
    if (!o || !o->no_content_type) {
        snprintf(h, sizeof(h), "Content-Type: %s",
                 o && o->content_type ? o->content_type : "application/json");
        hdrs = curl_slist_append(hdrs, h);
    } else {
        hdrs = curl_slist_append(hdrs, "Content-Type:"); /* curl's own default goes too */
    }
    for (size_t i = 0; o && o->headers && o->headers[i]; i++)
        hdrs = curl_slist_append(hdrs, o->headers[i]);
    if (o && o->accept) {
        snprintf(h, sizeof(h), "Accept: %s", o->accept);
        hdrs = curl_slist_append(hdrs, h);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (o && o->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
    if (o && o->unix_socket)
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (r->body.len)
        r->json = json_tokener_parse(r->body.buf);
    return rc;
}

HARNESS_UNUSED static long http_do(const omlopd_proc *p, const char *method, const char *path,
                                   const char *body, const http_opts *o, http_resp *r)
{
    CURLcode rc = http_do_opts(p->url, method, path, body, body ? strlen(body) : 0, o, r);

    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    return r->code;
}

/* A string at a dotted path of the response JSON ("" when absent). */
HARNESS_UNUSED static const char *resp_str(const http_resp *r, const char *path)
{
    json_object *cur = r->json;
    char buf[256];
    char *save = NULL, *tok;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(cur, json_type_array))
            cur = json_object_array_get_idx(cur, (size_t)atoi(tok));
        else if (!json_object_object_get_ex(cur, tok, &cur))
            cur = NULL;
    }
    return cur ? json_object_get_string(cur) : "";
}

/* --- raw sockets, for what curl will not send --------------------------------------------- */

HARNESS_UNUSED static int raw_connect(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Send all of data; returns 0, or -1 when the peer closed. */
HARNESS_UNUSED static int raw_send(int fd, const void *data, size_t n)
{
    const char *p = data;

    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read until the peer closes, until `until` appears, or timeout_ms; returns bytes read. */
HARNESS_UNUSED static size_t raw_recv(int fd, strbuf *out, const char *until, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    size_t start = out->len;

    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        int64_t left = deadline - harness_now_ms();
        char buf[4096];
        ssize_t r;

        if (until && out->len && strstr(strbuf_str(out), until))
            break;
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
            break;
        r = recv(fd, buf, sizeof(buf), 0);
        if (r <= 0)
            break;
        strbuf_add(out, buf, (size_t)r);
    }
    return out->len - start;
}

/* Whether the peer closed the connection within timeout_ms. */
HARNESS_UNUSED static int raw_wait_closed(int fd, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        int64_t left = deadline - harness_now_ms();
        char buf[4096];
        ssize_t r;

        if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
            return 0;
        r = recv(fd, buf, sizeof(buf), 0);
        if (r <= 0)
            return 1;
    }
}

#endif
