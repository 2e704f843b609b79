/*
 * omlctl host check: can omlop drive this host? Connects over SSH exactly as
 * omlopd would (clients/ssh, strict host keys), then talks to the Podman
 * socket through the tunnel and reports, per host: SSH reachability and
 * login, the host key's fingerprint and how it was verified, the Podman
 * socket, Podman's version (>= 3.0), the OCI runtime and the free disk of the
 * graph root. Hosts come from an ssh:// URL or from every Tenant in -f files;
 * several hosts are checked in parallel and reported in order.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "clients/omlctl/sshhint.h"
#include "clients/podman.h"
#include "clients/ssh.h"
#include "clients/ssh_keys.h"
#include "clients/ssh_login.h"
#include "clients/tunnel.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define CHECK_TIMEOUT_MS 10000
#define LOW_DISK_BYTES   (10LL * 1024 * 1024 * 1024)
#define MAX_HOSTS        64

static const char host_help[] =
    "Check that omlop can drive a host: SSH login with a verified host key, the\n"
    "Podman socket through the SSH tunnel, Podman >= 3.0, the OCI runtime, free disk.\n"
    "\n"
    "Usage:\n"
    "  omlctl host check ssh://[USER@]HOST[:PORT] [flags]\n"
    "  omlctl host check -f TENANT.yaml [-f SECRETS.yaml] [flags]\n"
    "\n"
    "With -f, every host of every Tenant in the files is checked with the settings\n"
    "of its hosts[] entry (ssh.address, port, user, knownHostKey, podmanSocket); the\n"
    "identity comes from the Secret named by ssh.identitySecretRef when that Secret\n"
    "is in the files too, else from --identity.\n"
    "\n"
    "Host keys are verified strictly: against --host-key (or the entry's\n"
    "knownHostKey), else a known_hosts file (--known-hosts, default\n"
    "~/.ssh/known_hosts). An unknown or changed key fails the check and prints its\n"
    "SHA256 fingerprint; compare it with `ssh-keygen -lf\n"
    "/etc/ssh/ssh_host_ed25519_key.pub` on the host. --insecure-tofu accepts an\n"
    "unknown key once and records it in the known_hosts file.\n"
    "\n"
    "Examples:\n"
    "  # A host whose key is in ~/.ssh/known_hosts, logging in with ~/.ssh/id_ed25519\n"
    "  omlctl host check ssh://root@10.0.0.5\n"
    "\n"
    "  # Give the key to expect and the identity explicitly\n"
    "  omlctl host check ssh://root@10.0.0.5:2222 --identity ./omlop_ed25519 \\\n"
    "      --host-key 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI...'\n"
    "\n"
    "  # Rootless Podman socket of user 1000\n"
    "  omlctl host check ssh://deploy@h1 --socket /run/user/1000/podman/podman.sock\n"
    "\n"
    "  # Every host of a tenant, with the SSH key Secret from another file\n"
    "  omlctl host check -f tenant.yaml -f secrets.yaml\n"
    "\n"
    "Flags:\n"
    "  -f, --filename PATH      Tenant manifest(s): file, directory or -; repeatable\n"
    "  -i, --identity FILE      private key to log in with (default: ssh-agent, then\n"
    "                           ~/.ssh/id_ed25519, id_ecdsa, id_rsa)\n"
    "      --known-hosts FILE   known_hosts to verify host keys with\n"
    "                           (default ~/.ssh/known_hosts)\n"
    "      --host-key KEY       the expected host key, 'ssh-ed25519 AAAA...'\n"
    "      --insecure-tofu      trust an unknown host key on first use and record it\n"
    "      --socket PATH        Podman socket on the host (default\n"
    "                           /run/podman/podman.sock, or the entry's podmanSocket)\n"
    "      --timeout DURATION   per host, for connecting and logging in (default 10s)\n"
    "\n"
    "Exit status: 0 every host ready, 1 any check failed, 2 usage error.\n";

/* One host to check, and its report. */
typedef struct target {
    char *label;
    char *address;
    char *user;
    int port;
    char *host_key;
    char *identity_file;
    char *identity_data;
    char *identity_what; /* "secret NAME/KEY" for messages */
    char *known_hosts;
    char *socket;
    int is_tofu;
    long timeout_ms;
    strbuf report;
    int is_ready;
    int warnings;
} target;

typedef struct targets {
    target *v;
    size_t n;
} targets;

static void target_release(target *t)
{
    free(t->label);
    free(t->address);
    free(t->user);
    free(t->host_key);
    free(t->identity_file);
    if (t->identity_data)
        memset(t->identity_data, 0, strlen(t->identity_data));
    free(t->identity_data);
    free(t->identity_what);
    free(t->known_hosts);
    free(t->socket);
    strbuf_release(&t->report);
}

static char *dup_or_null(const char *s)
{
    return s && s[0] ? xstrdup(s) : NULL;
}

static int file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ~/.ssh/NAME if it exists, else NULL. */
static char *home_ssh_file(const char *name)
{
    const char *home = getenv("HOME");
    strbuf p = STRBUF_INIT;

    if (!home || !home[0])
        return NULL;
    strbuf_addf(&p, "%s/.ssh/%s", home, name);
    if (!file_exists(strbuf_str(&p))) {
        strbuf_release(&p);
        return NULL;
    }
    return strbuf_detach(&p, NULL);
}

static const char *human_bytes(long long v, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double d = (double)v;
    int u = 0;

    while (d >= 1024 && u < 5) {
        d /= 1024;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", d, units[u]);
    return buf;
}

static void line(target *t, const char *what, const char *verdict, const char *fmt, ...)
    OMLOP_PRINTF(4, 5);

static void line(target *t, const char *what, const char *verdict, const char *fmt, ...)
{
    va_list ap;

    strbuf_addf(&t->report, "  %-10s %-5s ", what, verdict);
    va_start(ap, fmt);
    strbuf_vaddf(&t->report, fmt, ap);
    va_end(ap);
    strbuf_addch(&t->report, '\n');
}

static void hint(target *t, const char *text)
{
    strbuf_addf(&t->report, "  %-10s       -> %s\n", "", text);
}

/* The host key line from the SSH status, after a connection attempt. */
static void report_hostkey(target *t, const ssh_conn_status *st, int is_refused, const char *why)
{
    const char *how = ssh_hostkey_verdict_text(st->host_key_verdict);

    if (!st->host_key_fingerprint[0]) {
        line(t, "host key", "-", "not seen (no SSH handshake)");
        return;
    }
    if (is_refused) {
        line(t, "host key", "FAIL", "%s %s: %s", st->host_key_type, st->host_key_fingerprint, how);
        hint(t, why);
        return;
    }
    line(t, "host key", st->host_key_verdict == SSH_HOSTKEY_TOFU_RECORDED ? "WARN" : "ok",
         "%s %s: %s", st->host_key_type, st->host_key_fingerprint, how);
    if (st->host_key_verdict == SSH_HOSTKEY_TOFU_RECORDED) {
        t->warnings++;
        hint(t, "verify this fingerprint on the host (ssh-keygen -lf "
                "/etc/ssh/ssh_host_ed25519_key.pub) and pin it in hosts[].ssh.knownHostKey");
    }
}

static void report_podman(target *t, ssh_conn *conn)
{
    omlop_err err = OMLOP_ERR_INIT;
    tunnel *tun = NULL;
    podman_client *p = NULL;
    podman_host_info hi;
    char api[32] = "", total[32], free_s[32];

    if (tunnel_new_ssh(conn, t->socket, &tun, &err) < 0 || podman_client_new(tun, &p, &err) < 0 ||
        podman_ping(p, api, sizeof(api), &err) < 0) {
        line(t, "podman", "FAIL", "%s", err.msg);
        if (err.code == OMLOP_ENOTFOUND)
            hint(t, "start the Podman API service on the host (systemctl enable --now "
                    "podman.socket) or give its socket with --socket / hosts[].podmanSocket");
        goto out;
    }
    line(t, "podman", "ok", "socket %s answers (libpod API %s)", t->socket, api[0] ? api : "?");
    if (podman_info(p, &hi, &err) < 0) {
        line(t, "version", "FAIL", "%s", err.msg);
        goto out;
    }
    if (hi.major < PODMAN_MIN_MAJOR) {
        line(t, "version", "FAIL", "Podman %s is too old: omlop needs Podman >= %d.0", hi.version,
             PODMAN_MIN_MAJOR);
        hint(t, "upgrade Podman on the host (Debian 12 and Ubuntu 22.04 ship 4.x)");
        goto out;
    }
    line(t, "version", "ok", "Podman %s (>= %d.0 required), %s/%s, kernel %s", hi.version,
         PODMAN_MIN_MAJOR, hi.os, hi.arch, hi.kernel);
    if (hi.oci_runtime[0])
        line(t, "runtime", "ok", "%s (%s), cgroups %s via %s", hi.oci_runtime,
             hi.oci_runtime_version, hi.cgroup_version, hi.cgroup_manager);
    else
        line(t, "runtime", "WARN", "Podman reports no OCI runtime");
    if (hi.graph_root_allocated > 0 && hi.graph_root_used >= 0) {
        long long avail = hi.graph_root_allocated - hi.graph_root_used;

        line(t, "disk", avail < LOW_DISK_BYTES ? "WARN" : "ok", "%s free of %s on %s (%s)",
             human_bytes(avail, free_s, sizeof(free_s)),
             human_bytes(hi.graph_root_allocated, total, sizeof(total)), hi.graph_root,
             hi.graph_driver);
        if (avail < LOW_DISK_BYTES) {
            t->warnings++;
            hint(t, "less than 10 GiB free for images, containers and volumes");
        }
    } else {
        line(t, "disk", "-", "unknown (Podman %s does not report it) on %s", hi.version,
             hi.graph_root);
    }
    t->is_ready = 1;
out:
    podman_client_free(p);
    tunnel_free(tun);
}

static void *check_main(void *arg)
{
    target *t = arg;
    ssh_host_config cfg;
    ssh_conn *conn = NULL;
    ssh_conn_status st;
    omlop_err err = OMLOP_ERR_INIT;
    int64_t t0, t1;
    int rc;

    strbuf_addf(&t->report, "host %s (ssh://%s@%s:%d, socket %s)\n", t->label, t->user, t->address,
                t->port, t->socket);
    memset(&cfg, 0, sizeof(cfg));
    cfg.name = t->label;
    cfg.address = t->address;
    cfg.port = t->port;
    cfg.user = t->user;
    cfg.identity_file = t->identity_file;
    cfg.identity_data = t->identity_data;
    cfg.use_agent = 1;
    cfg.host_key = t->host_key;
    cfg.known_hosts_file = t->known_hosts;
    cfg.is_tofu = t->is_tofu;
    cfg.connect_timeout_ms = (int)t->timeout_ms;
    cfg.backoff_initial_ms = 3600 * 1000; /* one attempt: this is a check, not a daemon */
    t0 = clock_now_ms();
    if (ssh_conn_new(&cfg, &conn, &err) < 0) {
        line(t, "ssh", "FAIL", "%s", err.msg);
        goto out;
    }
    rc = ssh_conn_wait_connected(conn, (int)t->timeout_ms + 2000, &err);
    t1 = clock_now_ms();
    ssh_conn_get_status(conn, &st);
    if (rc < 0 && st.host_key_verdict == SSH_HOSTKEY_CHANGED) {
        line(t, "ssh", "ok", "reachable (handshake done)");
        report_hostkey(t, &st, 1, err.msg);
    } else if (rc < 0 && st.host_key_verdict == SSH_HOSTKEY_UNKNOWN) {
        line(t, "ssh", "ok", "reachable (handshake done)");
        report_hostkey(t, &st, 1, err.msg);
    } else if (rc < 0) {
        strbuf advice = STRBUF_INIT;

        line(t, "ssh", "FAIL", "%s", err.msg);
        if (omlctl_ssh_failure_hint(err.msg, err.code, &advice))
            hint(t, advice.buf);
        strbuf_release(&advice);
        report_hostkey(t, &st, 0, NULL);
    } else {
        long ms = (long)(t1 - t0);

        line(t, "ssh", "ok", "logged in as %s with %s in %ld ms", t->user, st.auth_method, ms);
        report_hostkey(t, &st, 0, NULL);
        report_podman(t, conn);
    }
out:
    ssh_conn_free(conn);
    if (t->is_ready)
        strbuf_addf(&t->report, "host %s is ready%s\n", t->label,
                    t->warnings ? " (see the warnings)" : "");
    else
        strbuf_addf(&t->report, "host %s is NOT ready\n", t->label);
    return NULL;
}

/* Settings every target shares, from the flags. */
typedef struct defaults {
    const char *identity;
    const char *known_hosts;
    const char *host_key;
    const char *socket;
    int is_tofu;
    long timeout_ms;
} defaults;

static void fill_common(target *t, const defaults *d)
{
    if (!t->identity_file && !t->identity_data) {
        t->identity_file = dup_or_null(d->identity);
        if (!t->identity_file)
            t->identity_file = home_ssh_file("id_ed25519");
        if (!t->identity_file)
            t->identity_file = home_ssh_file("id_ecdsa");
        if (!t->identity_file)
            t->identity_file = home_ssh_file("id_rsa");
    }
    if (!t->host_key) {
        t->known_hosts = dup_or_null(d->known_hosts);
        if (!t->known_hosts) {
            const char *home = getenv("HOME");
            strbuf p = STRBUF_INIT;

            /* the default known_hosts, even when missing: TOFU then creates it */
            if (home && home[0]) {
                strbuf_addf(&p, "%s/.ssh/known_hosts", home);
                t->known_hosts = strbuf_detach(&p, NULL);
            }
        }
    }
    if (!t->socket)
        t->socket = xstrdup(d->socket ? d->socket : TUNNEL_DEFAULT_SOCKET);
    t->is_tofu = d->is_tofu;
    t->timeout_ms = d->timeout_ms;
}

static int target_from_url(const char *url, const defaults *d, target *t, omlop_err *err)
{
    ssh_target st;
    int rc = ssh_target_parse(url, &st, err);

    if (rc < 0)
        return rc;
    memset(t, 0, sizeof(*t));
    t->label = xstrdup(st.host);
    t->address = xstrdup(st.host);
    t->user = xstrdup(st.user ? st.user : SSH_DEFAULT_USER);
    t->port = st.port ? st.port : SSH_DEFAULT_PORT;
    t->host_key = dup_or_null(d->host_key);
    t->socket = dup_or_null(d->socket);
    ssh_target_release(&st);
    fill_common(t, d);
    return 0;
}

/* The private key a Secret in the manifests holds under key, or NULL. */
static const char *secret_value(const omlctl_manifests *m, const char *name, const char *key)
{
    for (size_t i = 0; i < m->n; i++) {
        const char *v;
        char path[300];

        if (strcmp(m->v[i].kind->kind, "Secret") != 0 || strcmp(m->v[i].name, name) != 0)
            continue;
        snprintf(path, sizeof(path), "stringData.%s", key);
        v = cjson_get_string(m->v[i].obj, path);
        if (!v) {
            snprintf(path, sizeof(path), "data.%s", key);
            v = cjson_get_string(m->v[i].obj, path); /* base64: ssh_keys decodes it */
        }
        return v;
    }
    return NULL;
}

static int targets_from_tenants(const omlctl_manifests *m, const defaults *d, targets *out,
                                omlop_err *err)
{
    for (size_t i = 0; i < m->n; i++) {
        json_object *hosts;

        if (strcmp(m->v[i].kind->kind, "Tenant") != 0)
            continue;
        hosts = cjson_get(m->v[i].obj, "spec.hosts");
        for (size_t h = 0; hosts && h < json_object_array_length(hosts); h++) {
            json_object *e = json_object_array_get_idx(hosts, h);
            const char *sname = cjson_get_string(e, "ssh.identitySecretRef.name");
            const char *skey = cjson_get_string(e, "ssh.identitySecretRef.key");
            target *t;
            strbuf label = STRBUF_INIT;

            if (out->n == MAX_HOSTS)
                return omlop_err_set(err, OMLOP_ELIMIT, "more than %d hosts", MAX_HOSTS);
            t = &out->v[out->n++];
            memset(t, 0, sizeof(*t));
            strbuf_addf(&label, "%s/%s", m->v[i].name, cjson_get_string(e, "name"));
            t->label = strbuf_detach(&label, NULL);
            t->address = dup_or_null(cjson_get_string(e, "ssh.address"));
            t->user = xstrdup(cjson_get_string(e, "ssh.user") ? cjson_get_string(e, "ssh.user")
                                                              : SSH_DEFAULT_USER);
            t->port = (int)cjson_get_int(e, "ssh.port", SSH_DEFAULT_PORT);
            t->host_key =
                dup_or_null(d->host_key ? d->host_key : cjson_get_string(e, "ssh.knownHostKey"));
            t->socket = dup_or_null(d->socket ? d->socket : cjson_get_string(e, "podmanSocket"));
            if (sname) {
                const char *v = secret_value(m, sname, skey ? skey : "ssh-privatekey");
                strbuf what = STRBUF_INIT;

                strbuf_addf(&what, "secret %s/%s", sname, skey ? skey : "ssh-privatekey");
                t->identity_what = strbuf_detach(&what, NULL);
                if (v)
                    t->identity_data = xstrdup(v);
                else if (!d->identity)
                    return omlop_err_set(err, OMLOP_ENOTFOUND,
                                         "host %s: its SSH key is in Secret '%s', which is not "
                                         "in the given files; add the Secret's file with -f, or "
                                         "give the key with --identity FILE",
                                         t->label, sname);
            }
            if (!t->address)
                return omlop_err_set(err, OMLOP_EINVAL, "host %s: no ssh.address", t->label);
            fill_common(t, d);
        }
    }
    if (out->n == 0)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "no Tenant with hosts in the given files (omlctl host check -f "
                             "needs a Tenant manifest)");
    return 0;
}

static int cmd_host_check(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv files = OMLCTL_STRV_INIT, pos = OMLCTL_STRV_INIT;
    omlctl_manifests m = {NULL, 0};
    defaults d = {NULL, NULL, NULL, NULL, 0, CHECK_TIMEOUT_MS};
    omlctl_opt opts[] = {
        {"filename", 'f', OMLCTL_OPT_LIST, &files},
        {"identity", 'i', OMLCTL_OPT_STRING, &d.identity},
        {"known-hosts", 0, OMLCTL_OPT_STRING, &d.known_hosts},
        {"host-key", 0, OMLCTL_OPT_STRING, &d.host_key},
        {"insecure-tofu", 0, OMLCTL_OPT_BOOL, &d.is_tofu},
        {"socket", 0, OMLCTL_OPT_STRING, &d.socket},
        {"timeout", 0, OMLCTL_OPT_DURATION, &d.timeout_ms},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };
    targets ts = {NULL, 0};
    pthread_t th[MAX_HOSTS];
    omlop_err err = OMLOP_ERR_INIT;
    size_t ready = 0;
    int rc;

    omlctl_ctx_init(&ctx, "host check");
    rc = omlctl_parse_args(&ctx, argc, argv, opts, &pos);
    if (rc == OMLCTL_PARSE_HELP) {
        fputs(host_help, stdout);
        rc = OMLCTL_EXIT_OK;
        goto out;
    }
    if (rc != OMLCTL_PARSE_OK) {
        rc = OMLCTL_EXIT_USAGE;
        goto out;
    }
    /*
     * The report says everything; the SSH module's retry warnings would repeat it. Still
     * start-up (no thread runs yet), so the one-time logger setting may be made here.
     */
    if (!ctx.verbose)
        log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    rc = OMLCTL_EXIT_USAGE;
    if ((pos.n == 0) == (files.n == 0) || pos.n > 1) {
        omlctl_usage_error(&ctx, "give one ssh://[USER@]HOST[:PORT], or -f TENANT.yaml");
        goto out;
    }
    if (d.host_key && d.known_hosts) {
        omlctl_usage_error(&ctx, "--host-key and --known-hosts exclude each other");
        goto out;
    }
    if (d.timeout_ms <= 0 || d.timeout_ms > 600000) {
        omlctl_usage_error(&ctx, "--timeout must be between 1ms and 10m");
        goto out;
    }
    if (d.socket && d.socket[0] != '/') {
        omlctl_usage_error(&ctx, "--socket '%s' must be an absolute path", d.socket);
        goto out;
    }
    if (d.identity && !file_exists(d.identity)) {
        omlctl_usage_error(&ctx, "--identity %s: no such file", d.identity);
        goto out;
    }
    if (d.host_key) {
        strbuf desc = STRBUF_INIT;

        if (ssh_keys_hostkey_describe(d.host_key, &desc, &err) < 0) {
            omlctl_usage_error(&ctx, "--host-key: %s", err.msg);
            strbuf_release(&desc);
            goto out;
        }
        strbuf_release(&desc);
    }
    rc = OMLCTL_EXIT_ERROR;
    ts.v = xcalloc(MAX_HOSTS, sizeof(*ts.v));
    if (!ts.v)
        goto out;
    if (pos.n == 1) {
        if (target_from_url(pos.v[0], &d, &ts.v[0], &err) < 0) {
            omlctl_usage_error(&ctx, "%s", err.msg);
            rc = OMLCTL_EXIT_USAGE;
            goto out;
        }
        ts.n = 1;
    } else {
        if (omlctl_manifests_load(&ctx, &files, 1, &m, &err) < 0 ||
            targets_from_tenants(&m, &d, &ts, &err) < 0) {
            omlctl_print_error(&ctx, &err);
            goto out;
        }
    }
    for (size_t i = 0; i < ts.n; i++) {
        if (pthread_create(&th[i], NULL, check_main, &ts.v[i]) != 0) {
            check_main(&ts.v[i]);
            th[i] = 0;
        }
    }
    for (size_t i = 0; i < ts.n; i++) {
        if (th[i])
            pthread_join(th[i], NULL);
        fputs(strbuf_str(&ts.v[i].report), stdout);
        if (ts.n > 1)
            fputc('\n', stdout);
        ready += ts.v[i].is_ready;
    }
    if (ts.n > 1)
        printf("%zu of %zu hosts ready\n", ready, ts.n);
    rc = ready == ts.n ? OMLCTL_EXIT_OK : OMLCTL_EXIT_ERROR;
out:
    for (size_t i = 0; i < ts.n; i++)
        target_release(&ts.v[i]);
    free(ts.v);
    omlctl_manifests_release(&m);
    omlctl_strv_release(&files);
    omlctl_strv_release(&pos);
    omlctl_ctx_release(&ctx);
    return rc;
}

int cmd_host(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs("Check hosts omlop drives.\n\nUsage:\n  omlctl host check ssh://[USER@]HOST[:PORT] "
              "[flags]\n  omlctl host check -f TENANT.yaml [flags]\n\nRun 'omlctl host check "
              "--help' for the flags and examples.\n",
              argc < 2 ? stderr : stdout);
        return argc < 2 ? OMLCTL_EXIT_USAGE : OMLCTL_EXIT_OK;
    }
    if (strcmp(argv[1], "check") == 0)
        return cmd_host_check(argc - 1, argv + 1);
    fprintf(stderr, "omlctl host: unknown subcommand '%s' (the only one is: check)\n", argv[1]);
    return OMLCTL_EXIT_USAGE;
}
