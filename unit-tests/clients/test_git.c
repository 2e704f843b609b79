/*
 * clients/git against real repositories made with libgit2 (file://), and over SSH against a
 * private sshd (the host key checked strictly, the identity from memory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "clients/git.h"
#include "clients/git_fetch.h"
#include "unit-tests/clients/git_fixture.h"
#include "unit-tests/clients/sshd_fixture.h"

typedef struct fx {
    git_fixture repo;
    char copy[128];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    if (!f || gitfx_start(&f->repo) < 0)
        return -1;
    snprintf(f->copy, sizeof(f->copy), "%s/data/gitsources/s1", f->repo.dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    gitfx_stop(&f->repo);
    free(f);
    return 0;
}

static void test_fetch_resolves_the_branch_and_reads_the_folder(void **state)
{
    fx *f = *state;
    gitclient *g = NULL;
    gitclient_files files = GITCLIENT_FILES_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    char head[41], got[41];

    assert_int_equal(gitfx_write(&f->repo, "tenants/b.yaml", "kind: B\n"), 0);
    assert_int_equal(gitfx_write(&f->repo, "tenants/a.yml", "kind: A\n"), 0);
    assert_int_equal(gitfx_write(&f->repo, "tenants/sub/c.json", "{}"), 0);
    assert_int_equal(gitfx_write(&f->repo, "tenants/.hidden.yaml", "kind: H\n"), 0);
    assert_int_equal(gitfx_write(&f->repo, "tenants/README.md", "# not a manifest\n"), 0);
    assert_int_equal(gitfx_write(&f->repo, "other/x.yaml", "kind: X\n"), 0);
    assert_int_equal(gitfx_commit(&f->repo, "first", head), 0);

    assert_int_equal(gitclient_open(f->copy, f->repo.url, &g, &err), 0);
    assert_int_equal(gitclient_fetch(g, NULL, 5000, &err), 0);
    assert_int_equal(gitclient_resolve(g, "main", NULL, NULL, got, &err), 0);
    assert_string_equal(got, head);
    /* no ref given: branch main */
    assert_int_equal(gitclient_resolve(g, NULL, NULL, NULL, got, &err), 0);
    assert_string_equal(got, head);

    assert_int_equal(gitclient_read_dir(g, head, "./tenants/", &files, &err), 0);
    assert_int_equal(files.n, 3);
    assert_string_equal(files.v[0].path, "tenants/a.yml");
    assert_string_equal(files.v[0].data, "kind: A\n");
    assert_string_equal(files.v[1].path, "tenants/b.yaml");
    assert_string_equal(files.v[2].path, "tenants/sub/c.json");
    assert_int_equal(files.v[2].len, 2);
    gitclient_files_release(&files);

    assert_int_equal(gitclient_read_dir(g, head, ".", &files, &err), 0);
    assert_int_equal(files.n, 4);
    assert_string_equal(files.v[0].path, "other/x.yaml");
    gitclient_files_release(&files);

    assert_int_equal(gitclient_read_dir(g, head, "nope", &files, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "path nope: no such folder"));
    assert_int_equal(gitclient_read_dir(g, head, "tenants/a.yml", &files, &err), OMLOP_ENOTFOUND);
    assert_int_equal(files.n, 0);
    gitclient_free(g);
}

static void test_a_second_fetch_sees_new_commits_tags_and_fixed_commits(void **state)
{
    fx *f = *state;
    gitclient *g = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    char c1[41], c2[41], got[41];

    assert_int_equal(gitfx_write(&f->repo, "a.yaml", "v: 1\n"), 0);
    assert_int_equal(gitfx_commit(&f->repo, "one", c1), 0);
    assert_int_equal(gitfx_tag(&f->repo, "v1", c1), 0);
    assert_int_equal(gitclient_open(f->copy, f->repo.url, &g, &err), 0);
    assert_int_equal(gitclient_fetch(g, NULL, 5000, &err), 0);
    assert_int_equal(gitclient_resolve(g, NULL, "v1", NULL, got, &err), 0);
    assert_string_equal(got, c1);
    gitclient_free(g);

    assert_int_equal(gitfx_write(&f->repo, "a.yaml", "v: 2\n"), 0);
    assert_int_equal(gitfx_commit(&f->repo, "two", c2), 0);
    assert_string_not_equal(c1, c2);
    /* the copy on disk is reused: a new client over it fetches only what is new */
    assert_int_equal(gitclient_open(f->copy, f->repo.url, &g, &err), 0);
    assert_int_equal(gitclient_resolve(g, "main", NULL, NULL, got, &err), 0);
    assert_string_equal(got, c1); /* not fetched yet */
    assert_int_equal(gitclient_fetch(g, NULL, 5000, &err), 0);
    assert_int_equal(gitclient_resolve(g, "main", NULL, NULL, got, &err), 0);
    assert_string_equal(got, c2);
    assert_int_equal(gitclient_resolve(g, NULL, "v1", NULL, got, &err), 0);
    assert_string_equal(got, c1);
    assert_int_equal(gitclient_resolve(g, NULL, NULL, c1, got, &err), 0);
    assert_string_equal(got, c1);

    /* a moved tag follows */
    assert_int_equal(gitfx_tag(&f->repo, "v1", c2), 0);
    assert_int_equal(gitclient_fetch(g, NULL, 5000, &err), 0);
    assert_int_equal(gitclient_resolve(g, NULL, "v1", NULL, got, &err), 0);
    assert_string_equal(got, c2);

    assert_int_equal(gitclient_resolve(g, NULL, "v9", NULL, got, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "tag v9 not found"));
    assert_int_equal(gitclient_resolve(g, "dev", NULL, NULL, got, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "branch dev not found"));
    assert_int_equal(
        gitclient_resolve(g, NULL, NULL, "0123456789012345678901234567890123456789", got, &err),
        OMLOP_ENOTFOUND);
    assert_int_equal(gitclient_resolve(g, NULL, NULL, "abc", got, &err), OMLOP_EINVAL);
    assert_int_equal(gitclient_resolve(g, "main", "v1", NULL, got, &err), OMLOP_EINVAL);
    gitclient_free(g);
}

static void test_bad_urls_and_missing_repositories(void **state)
{
    fx *f = *state;
    gitclient *g = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    gitclient_creds c = {0};
    strbuf url = STRBUF_INIT;

    assert_int_equal(gitclient_open(f->copy, "git://example.com/x", &g, &err), OMLOP_EINVAL);
    assert_null(g);
    strbuf_addf(&url, "file://%s/absent", f->repo.dir);
    assert_int_equal(gitclient_open(f->copy, url.buf, &g, &err), 0);
    assert_int_equal(gitclient_fetch(g, NULL, 5000, &err), OMLOP_EIO);
    assert_non_null(strstr(err.msg, "/absent"));
    gitclient_free(g);
    /* ssh:// without a known host key is refused before connecting; the password in the URL
     * is not repeated */
    assert_int_equal(gitclient_open(f->copy, "ssh://u:s3cret@127.0.0.1:1/x", &g, &err), 0);
    assert_int_equal(gitclient_fetch(g, &c, 5000, &err), OMLOP_EAUTH);
    assert_non_null(strstr(err.msg, "knownHostKey"));
    assert_null(strstr(err.msg, "s3cret"));
    gitclient_free(g);
    strbuf_release(&url);
}

/* Over SSH: the right host key and identity fetch; a wrong host key or identity does not. */
static void test_ssh_host_key_is_checked_strictly(void **state)
{
    fx *f = *state;
    sshd_fixture s;
    gitclient *g = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    gitclient_creds c = {0};
    strbuf url = STRBUF_INIT, key = STRBUF_INIT, host = STRBUF_INIT, other = STRBUF_INIT,
           path = STRBUF_INIT;
    char head[41], got[41];

    assert_int_equal(gitfx_write(&f->repo, "a.yaml", "v: 1\n"), 0);
    assert_int_equal(gitfx_commit(&f->repo, "one", head), 0);
    assert_int_equal(sshd_fixture_start(&s), 0);
    strbuf_addf(&path, "%s/client_key", s.dir);
    assert_int_equal(strbuf_read_file(&key, path.buf, 65536, &err), 0);
    strbuf_reset(&path);
    strbuf_addf(&path, "%s/host_key.pub", s.dir);
    assert_int_equal(strbuf_read_file(&host, path.buf, 65536, &err), 0);
    strbuf_reset(&path);
    strbuf_addf(&path, "%s/client_key.pub", s.dir); /* a valid key, but not the host's */
    assert_int_equal(strbuf_read_file(&other, path.buf, 65536, &err), 0);
    strbuf_addf(&url, "ssh://%s@127.0.0.1:%d%s/repo", s.user, s.port, f->repo.dir);

    c.ssh_identity = key.buf;
    c.known_host_keys = other.buf;
    assert_int_equal(gitclient_open(f->copy, url.buf, &g, &err), 0);
    assert_int_equal(gitclient_fetch(g, &c, 10000, &err), OMLOP_EAUTH);
    assert_non_null(strstr(err.msg, "not the knownHostKey"));
    assert_int_equal(gitclient_resolve(g, "main", NULL, NULL, got, &err), OMLOP_ENOTFOUND);

    c.known_host_keys = host.buf;
    c.ssh_identity = NULL;
    assert_int_equal(gitclient_fetch(g, &c, 10000, &err), OMLOP_EAUTH);
    assert_null(strstr(err.msg, "PRIVATE KEY"));

    c.ssh_identity = key.buf;
    if (gitclient_fetch(g, &c, 10000, &err) != 0) {
        fixture_print_log(&s);
        fail_msg("%s", err.msg);
    }
    assert_int_equal(gitclient_resolve(g, "main", NULL, NULL, got, &err), 0);
    assert_string_equal(got, head);
    gitclient_free(g);
    sshd_fixture_stop(&s);
    strbuf_release(&url);
    strbuf_release(&key);
    strbuf_release(&host);
    strbuf_release(&other);
    strbuf_release(&path);
}

/* A server that accepts the connection and never speaks: the fetch ends at its deadline. */
static void test_a_silent_server_times_out(void **state)
{
    fx *f = *state;
    gitclient *g = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    gitclient_creds c = {0};
    strbuf url = STRBUF_INIT;
    int port = 0, fd = fixture_listen(&port); /* listening, never accepting: the kernel
                                                 completes the handshake, nobody answers */
    int64_t start;
    char head[41];

    assert_true(fd >= 0);
    c.known_host_keys =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    strbuf_addf(&url, "ssh://git@127.0.0.1:%d/x", port);
    assert_int_equal(gitclient_open(f->copy, url.buf, &g, &err), 0);
    start = clock_now_ms();
    assert_int_equal(gitclient_fetch(g, &c, 1000, &err), OMLOP_ETIMEOUT);
    assert_true(clock_now_ms() - start < 1000 + GITCLIENT_KILL_GRACE_MS + 1500);
    assert_non_null(strstr(err.msg, "no answer within 1000 ms"));
    gitclient_free(g);
    close(fd);

    /* the copy stays usable after its fetch process was killed */
    assert_int_equal(gitfx_write(&f->repo, "a.yaml", "v: 1\n"), 0);
    assert_int_equal(gitfx_commit(&f->repo, "one", head), 0);
    assert_int_equal(gitclient_open(f->copy, f->repo.url, &g, &err), 0);
    assert_int_equal(gitclient_fetch(g, NULL, 5000, &err), 0);
    gitclient_free(g);
    strbuf_release(&url);
}

/* A fetch on another thread, so that this one can look at the fetch process meanwhile. */
typedef struct bg_fetch {
    gitclient *g;
    const gitclient_creds *c;
    int timeout_ms;
    int rc;
    omlop_err err;
} bg_fetch;

static void *bg_fetch_run(void *arg)
{
    bg_fetch *b = arg;

    b->rc = gitclient_fetch(b->g, b->c, b->timeout_ms, &b->err);
    return NULL;
}

static int proc_read(pid_t pid, const char *what, strbuf *out)
{
    strbuf path = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    int rc;

    strbuf_reset(out);
    strbuf_addf(&path, "/proc/%ld/%s", (long)pid, what);
    rc = strbuf_read_file(out, path.buf, 1 << 20, &err);
    strbuf_release(&path);
    return rc;
}

/*
 * A child process of this one running as the fetch process (its arguments hold
 * GITFETCH_CHILD_ARG), or 0; cmdline gets its arguments. Other children (an sshd a failed test
 * left) are passed over.
 */
static pid_t find_fetch_process(strbuf *cmdline)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;

    while (d && !found && (e = readdir(d)) != NULL) {
        strbuf stat = STRBUF_INIT;
        const char *paren;
        long ppid = 0;
        pid_t pid = (pid_t)atol(e->d_name);

        /* "pid (comm) state ppid ...": comm may hold spaces, so count from its last ')' */
        if (pid > 0 && proc_read(pid, "stat", &stat) == 0 &&
            (paren = strrchr(stat.buf, ')')) != NULL && sscanf(paren + 1, " %*c %ld", &ppid) == 1 &&
            ppid == (long)getpid() && proc_read(pid, "cmdline", cmdline) == 0 &&
            memmem(cmdline->buf, cmdline->len, GITFETCH_CHILD_ARG, strlen(GITFETCH_CHILD_ARG)))
            found = pid;
        strbuf_release(&stat);
    }
    if (d)
        closedir(d);
    return found;
}

/*
 * The fetch runs in a process started afresh from this program (not a bare fork of a
 * threaded caller, which may deadlock), and the credentials reach it neither through its
 * arguments nor through its environment (which holds none of the caller's variables).
 */
static void test_the_fetch_process_is_exec_d_and_holds_no_secret_in_argv_or_env(void **state)
{
    fx *f = *state;
    gitclient_creds c = {0};
    strbuf url = STRBUF_INIT, cmdline = STRBUF_INIT, env = STRBUF_INIT;
    char self[512] = "", exe[512] = "";
    int port = 0, fd = fixture_listen(&port), is_seen = 0, is_same_exe = 0, n_secrets = 0;
    const char *mark[] = {"KEY-MARK-7f3a", "TOKEN-MARK-91c2", "ENV-MARK-5d1e", "BEGIN"};
    bg_fetch b;
    pthread_t t;
    int64_t until;

    assert_true(fd >= 0);
    assert_true(readlink("/proc/self/exe", self, sizeof(self) - 1) > 0);
    setenv("OMLOP_TEST_CALLER_VAR", "ENV-MARK-5d1e", 1);
    c.known_host_keys =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    c.ssh_identity = "-----BEGIN OPENSSH PRIVATE KEY-----\nKEY-MARK-7f3a\n-----END OPENSSH "
                     "PRIVATE KEY-----\n";
    c.username = "git";
    c.token = "TOKEN-MARK-91c2";
    strbuf_addf(&url, "ssh://git@127.0.0.1:%d/x", port);
    memset(&b, 0, sizeof(b));
    assert_int_equal(gitclient_open(f->copy, url.buf, &b.g, &b.err), 0);
    b.c = &c;
    b.timeout_ms = 3000;
    assert_int_equal(pthread_create(&t, NULL, bg_fetch_run, &b), 0);
    /* until the child has exec'd (right after the spawn it may still be the caller's image) */
    for (until = clock_now_ms() + 2500; !is_seen && clock_now_ms() < until; fixture_sleep_ms(20)) {
        pid_t pid = find_fetch_process(&cmdline);

        if (!pid)
            continue;
        is_seen = 1;
        strbuf_reset(&env);
        strbuf_addf(&env, "/proc/%ld/exe", (long)pid);
        is_same_exe = readlink(env.buf, exe, sizeof(exe) - 1) > 0 && strcmp(exe, self) == 0;
        if (proc_read(pid, "environ", &env) < 0)
            n_secrets = -1;
        for (size_t i = 0; i < sizeof(mark) / sizeof(mark[0]); i++)
            n_secrets += !!memmem(cmdline.buf, cmdline.len, mark[i], strlen(mark[i])) +
                         !!memmem(env.buf, env.len, mark[i], strlen(mark[i]));
    }
    /* asserted once the fetch thread is done: a failed assert would leave it running */
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(is_seen);
    assert_true(is_same_exe);
    assert_int_equal(n_secrets, 0);
    assert_int_equal(b.rc, OMLOP_ETIMEOUT);
    assert_null(strstr(b.err.msg, "MARK"));
    /* reaped: no child left behind */
    assert_int_equal(find_fetch_process(&cmdline), 0);
    unsetenv("OMLOP_TEST_CALLER_VAR");
    gitclient_free(b.g);
    close(fd);
    strbuf_release(&url);
    strbuf_release(&cmdline);
    strbuf_release(&env);
}

/* Append a request field: its 4-byte length (UINT32_MAX: absent) and bytes. */
static void req_field(strbuf *r, const char *v)
{
    uint32_t n = v ? (uint32_t)strlen(v) : UINT32_MAX;

    strbuf_add(r, &n, sizeof(n));
    if (v)
        strbuf_adds(r, v);
}

/*
 * Start this program as the fetch process, send it req (len bytes), and return the code of its
 * answer (msg gets the message), or 1 when it answered nothing.
 */
static int ask_fetch_process(const char *req, size_t len, strbuf *msg)
{
    int sv[2], status = 0;
    char ppid[24], answer[4 + OMLOP_ERR_MSG_MAX];
    char *argv[] = {"test", GITFETCH_CHILD_ARG, ppid, NULL};
    char *envp[] = {NULL};
    posix_spawn_file_actions_t fa;
    size_t got = 0;
    int32_t code = 1;
    pid_t pid;

    strbuf_reset(msg);
    snprintf(ppid, sizeof(ppid), "%ld", (long)getpid());
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 2;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp) != 0)
        return 2;
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    if (len)
        assert_int_equal(send(sv[0], req, len, MSG_NOSIGNAL), (ssize_t)len);
    shutdown(sv[0], SHUT_WR);
    for (ssize_t n;
         got < sizeof(answer) && (n = read(sv[0], answer + got, sizeof(answer) - got)) > 0;)
        got += (size_t)n;
    close(sv[0]);
    waitpid(pid, &status, 0);
    if (got == sizeof(answer)) {
        memcpy(&code, answer, 4);
        answer[sizeof(answer) - 1] = '\0';
        strbuf_adds(msg, answer + 4);
    }
    return code;
}

/* The fetch process reads its request strictly: a field running past the end is refused. */
static void test_the_fetch_process_refuses_a_malformed_request(void **state)
{
    fx *f = *state;
    strbuf req = STRBUF_INIT, msg = STRBUF_INIT, absent = STRBUF_INIT;
    uint32_t timeout = 2000, zero = 0;

    (void)f;
    /* well formed: the copy named does not exist, so the fetch itself fails */
    strbuf_adds(&req, "OGF1");
    strbuf_add(&req, &timeout, 4);
    req_field(&req, "/nonexistent/copy");
    req_field(&req, "file:///nonexistent/repo");
    req_field(&req, "file:///nonexistent/repo");
    for (int i = 0; i < 4; i++)
        req_field(&req, NULL);
    req_field(&req, "x"); /* the last field, one byte */
    assert_int_equal(ask_fetch_process(req.buf, req.len, &msg), OMLOP_EIO);
    assert_non_null(strstr(msg.buf, "cannot open the copy in /nonexistent/copy"));
    /* its last field one byte short, or one byte too long */
    assert_int_equal(ask_fetch_process(req.buf, req.len - 1, &msg), OMLOP_EPROTO);
    assert_non_null(strstr(msg.buf, "malformed request"));
    strbuf_addch(&req, 'y');
    assert_int_equal(ask_fetch_process(req.buf, req.len, &msg), OMLOP_EPROTO);
    /* a zero deadline, another magic, nothing at all */
    memcpy(req.buf + 4, &zero, 4);
    assert_int_equal(ask_fetch_process(req.buf, req.len - 1, &msg), OMLOP_EPROTO);
    assert_int_equal(ask_fetch_process("OGF2", 4, &msg), OMLOP_EPROTO);
    assert_int_equal(ask_fetch_process("", 0, &msg), OMLOP_EPROTO);
    /* a first field longer than the whole request */
    strbuf_reset(&req);
    strbuf_adds(&req, "OGF1");
    strbuf_add(&req, &timeout, 4);
    strbuf_add(&req, &(uint32_t){1u << 20}, 4);
    strbuf_adds(&req, "/short");
    assert_int_equal(ask_fetch_process(req.buf, req.len, &msg), OMLOP_EPROTO);
    /* the copy's path absent */
    strbuf_adds(&absent, "OGF1");
    strbuf_add(&absent, &timeout, 4);
    for (int i = 0; i < 8; i++)
        req_field(&absent, i == 1 || i == 2 ? "file:///x" : NULL);
    assert_int_equal(ask_fetch_process(absent.buf, absent.len, &msg), OMLOP_EPROTO);
    strbuf_release(&req);
    strbuf_release(&msg);
    strbuf_release(&absent);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fetch_resolves_the_branch_and_reads_the_folder, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_second_fetch_sees_new_commits_tags_and_fixed_commits,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_urls_and_missing_repositories, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ssh_host_key_is_checked_strictly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_silent_server_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_the_fetch_process_is_exec_d_and_holds_no_secret_in_argv_or_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_fetch_process_refuses_a_malformed_request, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
