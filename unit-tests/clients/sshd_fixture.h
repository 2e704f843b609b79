/*
 * sshd_fixture: a private, real OpenSSH server on 127.0.0.1 for the tests of
 * clients/ssh and clients/hostfs, and an ssh_conn logged in to it.
 *
 * sshd_fixture_start makes a temp dir with a fresh host key and client key
 * (ssh-keygen), an sshd_config (absolute path, since sshd re-executes
 * itself), starts `/usr/sbin/sshd -D -e -f CONFIG` on a free high port and
 * connects. sshd_fixture_stop frees the connection, stops sshd (TERM, then
 * KILL) and removes the dir; run it from a cmocka group teardown so it also
 * runs when a test failed. Every wait is bounded. As root, sshd runs in a mount
 * namespace of its own where the login user's home is an empty dir of the
 * fixture: a developer's ~/.bashrc (sourced by bash for every ssh command) is
 * not the tested host's, and a slow one (pyenv init) made exec tests time out.
 * Header-only (static inline)
 * because other .c files under unit-tests/ would be linked into every test.
 */
#ifndef OMLOP_TEST_SSHD_FIXTURE_H
#define OMLOP_TEST_SSHD_FIXTURE_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clients/ssh.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/strbuf.h"

#define SSHD_PATH "/usr/sbin/sshd"

typedef struct sshd_fixture {
    char dir[64]; /* the temp dir: keys, config, log, and room for the tests' files */
    pid_t pid;
    int port;
    char user[64];
    ssh_conn *conn;
} sshd_fixture;

static inline long long fixture_now_ms(void)
{
    return clock_now_ms();
}

static inline void fixture_sleep_ms(long ms)
{
    clock_sleep_ms(ms);
}

/* A TCP port on 127.0.0.1 that nothing listens on right now. */
static inline int fixture_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* A listening socket on 127.0.0.1 and its port in *port; -1 on failure. */
static inline int fixture_listen(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static inline int fixture_can_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

    if (fd < 0)
        return 0;
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* How many fds this process has open. */
static inline int fixture_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the one opendir holds */
}

static inline int fixture_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    int ok;

    if (!f)
        return -1;
    ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static inline void fixture_print_log(const sshd_fixture *f)
{
    strbuf path = STRBUF_INIT, log = STRBUF_INIT;

    strbuf_addf(&path, "%s/sshd.log", f->dir);
    if (strbuf_read_file(&log, strbuf_str(&path), 64 * 1024, NULL) == 0)
        fprintf(stderr, "--- %s ---\n%s--- end ---\n", strbuf_str(&path), strbuf_str(&log));
    strbuf_release(&path);
    strbuf_release(&log);
}

static inline int fixture_run(const char *what, const char *fmt, ...) OMLOP_PRINTF(2, 3);

/* Run a shell command line; 0 when it exited 0, else says which step failed. */
static inline int fixture_run(const char *what, const char *fmt, ...)
{
    strbuf cmd = STRBUF_INIT;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    strbuf_vaddf(&cmd, fmt, ap);
    va_end(ap);
    rc = system(strbuf_str(&cmd));
    if (rc != 0)
        fprintf(stderr, "sshd fixture: %s failed (%s: status %d)\n", what, strbuf_str(&cmd), rc);
    strbuf_release(&cmd);
    return rc == 0 ? 0 : -1;
}

/* Stop sshd, bounded: TERM, up to 5 s, then KILL. */
static inline void fixture_stop_sshd(sshd_fixture *f)
{
    if (f->pid <= 0)
        return;
    kill(f->pid, SIGTERM);
    for (int i = 0; i < 250; i++) {
        if (waitpid(f->pid, NULL, WNOHANG) == f->pid) {
            f->pid = 0;
            return;
        }
        fixture_sleep_ms(20);
    }
    kill(f->pid, SIGKILL);
    waitpid(f->pid, NULL, 0);
    f->pid = 0;
}

static inline void sshd_fixture_stop(sshd_fixture *f)
{
    if (!f)
        return;
    ssh_conn_free(f->conn);
    f->conn = NULL;
    fixture_stop_sshd(f);
    /* mkdtemp names hold no shell metacharacters */
    if (f->dir[0])
        fixture_run("removing the temp dir", "rm -rf '%s'", f->dir);
    f->dir[0] = '\0';
}

static inline int fixture_write_config(const sshd_fixture *f)
{
    strbuf path = STRBUF_INIT, conf = STRBUF_INIT;
    int rc;

    strbuf_addf(&conf,
                "Port %d\nListenAddress 127.0.0.1\nHostKey %s/host_key\nPidFile %s/sshd.pid\n"
                "AuthorizedKeysFile %s/authorized_keys\nPermitRootLogin prohibit-password\n"
                "PubkeyAuthentication yes\nPasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
                "AllowTcpForwarding yes\nMaxSessions 64\nMaxStartups 64:30:128\n"
                "LogLevel VERBOSE\n",
                f->port, f->dir, f->dir, f->dir);
    strbuf_addf(&path, "%s/sshd_config", f->dir);
    rc = fixture_write_file(strbuf_str(&path), strbuf_str(&conf));
    strbuf_release(&path);
    strbuf_release(&conf);
    return rc;
}

/*
 * In sshd's child before exec: a private mount namespace with the login user's
 * home replaced by DIR/home (empty, 0700). Best effort: not root, or no
 * namespaces, leaves the real home in place.
 */
static inline void fixture_private_home(const sshd_fixture *f)
{
    const struct passwd *pw = getpwuid(getuid());
    char home[160];

    if (getuid() != 0 || !pw || !pw->pw_dir || !*pw->pw_dir)
        return;
    snprintf(home, sizeof(home), "%s/home", f->dir);
    if (mkdir(home, 0700) != 0 && errno != EEXIST)
        return;
    if (unshare(CLONE_NEWNS) != 0)
        return;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return;
    (void)mount(home, pw->pw_dir, NULL, MS_BIND, NULL);
}

static inline int fixture_spawn_sshd(sshd_fixture *f)
{
    char conf[128], log[128];
    long long deadline = fixture_now_ms() + 10000;

    snprintf(conf, sizeof(conf), "%s/sshd_config", f->dir);
    snprintf(log, sizeof(log), "%s/sshd.log", f->dir);
    f->pid = fork();
    if (f->pid < 0) {
        f->pid = 0;
        return -1;
    }
    if (f->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setsid();
        /* a test binary killed by a timeout leaves no sshd behind */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        fixture_private_home(f);
        execl(SSHD_PATH, SSHD_PATH, "-D", "-e", "-f", conf, (char *)NULL);
        _exit(127);
    }
    while (fixture_now_ms() < deadline) {
        if (waitpid(f->pid, NULL, WNOHANG) == f->pid) {
            f->pid = 0;
            fprintf(stderr, "sshd fixture: sshd exited at start\n");
            fixture_print_log(f);
            return -1;
        }
        if (fixture_can_connect(f->port))
            return 0;
        fixture_sleep_ms(20);
    }
    fprintf(stderr, "sshd fixture: sshd did not listen on 127.0.0.1:%d within 10 s\n", f->port);
    fixture_print_log(f);
    return -1;
}

/* Everything up and a connection logged in; 0, or -1 after saying why on stderr. */
static inline int sshd_fixture_start(sshd_fixture *f)
{
    ssh_host_config cfg = {0};
    strbuf key_path = STRBUF_INIT, host_key = STRBUF_INIT, pub = STRBUF_INIT;
    const struct passwd *pw = getpwuid(geteuid());
    omlop_err err = OMLOP_ERR_INIT;
    int rc = -1;

    memset(f, 0, sizeof(*f));
    if (access(SSHD_PATH, X_OK) != 0) {
        fprintf(stderr,
                "sshd fixture: %s is missing: install openssh-server (these tests run a "
                "private sshd on 127.0.0.1)\n",
                SSHD_PATH);
        return -1;
    }
    if (!pw || snprintf(f->user, sizeof(f->user), "%s", pw->pw_name) >= (int)sizeof(f->user))
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/omlop-sshd-XXXXXX");
    if (!mkdtemp(f->dir)) {
        fprintf(stderr, "sshd fixture: mkdtemp: %s\n", strerror(errno));
        f->dir[0] = '\0';
        return -1;
    }
    /* sshd refuses to start without its privilege separation directory */
    if (mkdir("/run/sshd", 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "sshd fixture: cannot create /run/sshd: %s\n", strerror(errno));
        goto out;
    }
    if (fixture_run("ssh-keygen (host key)",
                    "ssh-keygen -q -t ed25519 -N '' -C omlop-test-host -f '%s/host_key'",
                    f->dir) < 0 ||
        fixture_run("ssh-keygen (client key)",
                    "ssh-keygen -q -t ed25519 -N '' -C omlop-test-client -f '%s/client_key' && "
                    "cp '%s/client_key.pub' '%s/authorized_keys'",
                    f->dir, f->dir, f->dir) < 0)
        goto out;
    f->port = fixture_free_port();
    if (f->port <= 0 || fixture_write_config(f) < 0 || fixture_spawn_sshd(f) < 0)
        goto out;
    strbuf_addf(&pub, "%s/host_key.pub", f->dir);
    strbuf_addf(&key_path, "%s/client_key", f->dir);
    if (strbuf_read_file(&host_key, strbuf_str(&pub), 4096, &err) < 0)
        goto out;
    cfg.name = "testhost";
    cfg.address = "127.0.0.1";
    cfg.port = f->port;
    cfg.user = f->user;
    cfg.identity_file = strbuf_str(&key_path);
    cfg.host_key = strbuf_str(&host_key);
    cfg.connect_timeout_ms = 5000;
    cfg.backoff_initial_ms = 100;
    cfg.backoff_max_ms = 1000;
    if (ssh_conn_new(&cfg, &f->conn, &err) < 0 || ssh_conn_wait_connected(f->conn, 10000, &err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0) {
        if (err.code)
            fprintf(stderr, "sshd fixture: %s\n", err.msg);
        fixture_print_log(f);
        sshd_fixture_stop(f);
    }
    strbuf_release(&key_path);
    strbuf_release(&host_key);
    strbuf_release(&pub);
    return rc;
}

/* cmocka group setup/teardown: one sshd for a whole test group (state: the fixture). */
static inline int sshd_fixture_group_setup(void **state)
{
    sshd_fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    if (sshd_fixture_start(f) < 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static inline int sshd_fixture_group_teardown(void **state)
{
    sshd_fixture *f = *state;

    sshd_fixture_stop(f);
    free(f);
    return 0;
}

#endif
