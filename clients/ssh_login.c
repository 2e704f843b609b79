/* ssh_login: connect, verify the host key, authenticate (see ssh_login.h). */
#include "clients/ssh_login.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#define FP_MAX 80

static int refuse_changed(const ssh_login *l, const char *type, const char *fp,
                          const char *expected, const char *advice, omlop_err *err)
{
    return omlop_err_set(err, OMLOP_EAUTH,
                         "host %s (%s): host key REFUSED: the server presented %s %s but %s. %s",
                         l->name, l->target, type, fp, expected, advice);
}

static int check_known_hosts(const ssh_login *l, ssh_session s, const char *type, const char *fp,
                             ssh_login_result *res, omlop_err *err)
{
    char was[256] = "?";
    strbuf expected = STRBUF_INIT, advice = STRBUF_INIT;
    int rc = 0;

    switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
        res->verdict = SSH_HOSTKEY_MATCHED_FILE;
        break;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER: {
        /* libssh does not hand out the recorded entry on a mismatch: look it up ourselves */
        ssh_keys_hostset rec = SSH_KEYS_HOSTSET_INIT;

        if (ssh_keys_known_hosts_lookup(l->known_hosts_file, l->address, l->port, &rec) > 0) {
            strbuf fps = STRBUF_INIT;

            ssh_keys_hostset_fingerprints(&rec, &fps);
            snprintf(was, sizeof(was), "%s", strbuf_str(&fps));
            strbuf_release(&fps);
        }
        ssh_keys_hostset_release(&rec);
        res->verdict = SSH_HOSTKEY_CHANGED;
        strbuf_addf(&expected, "%s records %s for it", l->known_hosts_file, was);
        strbuf_addf(&advice,
                    "If the host was reinstalled, remove the old line (ssh-keygen -R '%s' -f "
                    "%s); otherwise someone may be intercepting the connection",
                    l->address, l->known_hosts_file);
        rc = refuse_changed(l, type, fp, strbuf_str(&expected), strbuf_str(&advice), err);
        break;
    }
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
        if (!l->is_tofu) {
            res->verdict = SSH_HOSTKEY_UNKNOWN;
            rc = omlop_err_set(err, OMLOP_EAUTH,
                               "host %s (%s): host key REFUSED: %s %s is not in %s. Check it on "
                               "the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and "
                               "add it there, or %s",
                               l->name, l->target, type, fp, l->known_hosts_file,
                               l->is_spec_advice ? "set it in the Tenant's "
                                                   "spec.hosts[].ssh.knownHostKey of this host"
                                                 : "give it with --host-key");
        } else if (ssh_session_update_known_hosts(s) != SSH_OK) {
            res->verdict = SSH_HOSTKEY_UNKNOWN;
            rc = omlop_err_set(err, OMLOP_EIO, "host %s: cannot record the host key in %s: %s",
                               l->name, l->known_hosts_file, ssh_get_error(s));
        } else {
            res->verdict = SSH_HOSTKEY_TOFU_RECORDED;
            log_warn("host=%s ssh: trusted unknown host key %s %s on first use and recorded it "
                     "in %s",
                     l->name, type, fp, l->known_hosts_file);
        }
        break;
    default:
        res->verdict = SSH_HOSTKEY_UNCHECKED;
        rc = omlop_err_set(err, OMLOP_EIO, "host %s: cannot check known_hosts file %s: %s", l->name,
                           l->known_hosts_file, ssh_get_error(s));
    }
    strbuf_release(&expected);
    strbuf_release(&advice);
    return rc;
}

static int verify_hostkey(const ssh_login *l, ssh_session s, ssh_login_result *res, omlop_err *err)
{
    ssh_key key = NULL;
    char fp[FP_MAX];
    const char *type;
    int rc = 0;

    if (ssh_get_server_publickey(s, &key) != SSH_OK)
        return omlop_err_set(err, OMLOP_EPROTO, "host %s: the server sent no host key: %s", l->name,
                             ssh_get_error(s));
    ssh_keys_fingerprint(key, fp, sizeof(fp));
    type = ssh_keys_type_name(key);
    snprintf(res->host_key_type, sizeof(res->host_key_type), "%s", type);
    snprintf(res->host_key_fingerprint, sizeof(res->host_key_fingerprint), "%s", fp);
    if (l->entry_keys && l->entry_keys->n > 0) {
        if (ssh_keys_hostset_contains(l->entry_keys, key)) {
            res->verdict = SSH_HOSTKEY_MATCHED_ENTRY;
        } else {
            strbuf want = STRBUF_INIT;

            strbuf_adds(&want, "the expected key is ");
            ssh_keys_hostset_fingerprints(l->entry_keys, &want);
            res->verdict = SSH_HOSTKEY_CHANGED;
            rc = refuse_changed(l, type, fp, strbuf_str(&want),
                                l->is_spec_advice
                                    ? "If the host was reinstalled, put its new key in the "
                                      "Tenant's spec.hosts[].ssh.knownHostKey of this host; "
                                      "otherwise someone may be intercepting the connection"
                                    : "If the host was reinstalled, give its new key with "
                                      "--host-key; otherwise someone may be intercepting the "
                                      "connection",
                                err);
            strbuf_release(&want);
        }
    } else if (l->tofu_key) {
        if (ssh_key_cmp(l->tofu_key, key, SSH_KEY_CMP_PUBLIC) == 0) {
            res->verdict = SSH_HOSTKEY_TOFU_MATCHED;
        } else {
            char was[FP_MAX + 64];
            char wfp[FP_MAX];

            ssh_keys_fingerprint(l->tofu_key, wfp, sizeof(wfp));
            snprintf(was, sizeof(was), "%s was trusted on first use earlier", wfp);
            res->verdict = SSH_HOSTKEY_CHANGED;
            rc =
                refuse_changed(l, type, fp, was, "Someone may be intercepting the connection", err);
        }
    } else if (l->known_hosts_file) {
        rc = check_known_hosts(l, s, type, fp, res, err);
    } else if (l->is_tofu) {
        res->verdict = SSH_HOSTKEY_TOFU_RECORDED;
        log_warn("host=%s ssh: trusted unknown host key %s %s on first use", l->name, type, fp);
    } else {
        res->verdict = SSH_HOSTKEY_UNKNOWN;
        rc = omlop_err_set(
            err, OMLOP_EAUTH,
            "host %s (%s): host key REFUSED: nothing to verify %s %s against. Check it on the "
            "host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then %s",
            l->name, l->target, type, fp,
            l->is_spec_advice
                ? "set it in the Tenant's spec.hosts[].ssh.knownHostKey of this host (the line "
                  "`ssh-keyscan -t ed25519 ADDRESS` prints), or start omlopd with --known-hosts "
                  "FILE (config key knownHostsFile)"
                : "give it with --host-key or a known_hosts file (--known-hosts); "
                  "--insecure-tofu trusts it on first use");
    }
    if (rc == 0 && res->verdict == SSH_HOSTKEY_TOFU_RECORDED) {
        res->new_tofu_key = key; /* later connections must present this same key */
        key = NULL;
    }
    ssh_key_free(key);
    return rc;
}

/* Where a login is; each step may have to wait for the network (SSH_AGAIN). */
enum login_step {
    LS_CONNECT,  /* TCP connect, banners, key exchange */
    LS_NONE,     /* "none" authentication, which also fetches the accepted methods */
    LS_DATA_KEY, /* the key from the secret */
    LS_FILE_KEY, /* the key file */
    LS_AGENT,    /* ssh-agent */
    LS_DONE,
};

struct ssh_login_op {
    ssh_login l; /* borrowed strings and keys: the caller keeps them alive */
    ssh_session s;
    enum login_step step;
    long long deadline_ms;
    int is_tcp_up; /* the TCP connect finished (then POLLOUT only for pending writes) */
    strbuf algos;  /* the pinned host key algorithms, if any */
    strbuf tried;  /* the identities refused, for the message */
};

static int connect_error(ssh_login_op *op, omlop_err *err)
{
    const ssh_login *l = &op->l;
    const char *why = ssh_get_error(op->s);

    /* the server answered but has no key of the pinned type: not a network problem */
    if (op->algos.len && why && strstr(why, "host key"))
        return omlop_err_set(err, OMLOP_EAUTH,
                             "host %s (%s): the server has no host key of the pinned type "
                             "(%s): %s. Pin a key of a type it has (`ssh-keyscan ADDRESS` "
                             "lists them) %s",
                             l->name, l->target, strbuf_str(&op->algos), why,
                             l->is_spec_advice
                                 ? "in the Tenant's spec.hosts[].ssh.knownHostKey of this host"
                                 : "with --host-key");
    return omlop_err_set(err, OMLOP_EUNAVAIL, "host %s (%s): cannot connect: %s", l->name,
                         l->target, why);
}

static int refused_error(ssh_login_op *op, omlop_err *err)
{
    const ssh_login *l = &op->l;

    return omlop_err_set(err, OMLOP_EAUTH,
                         "host %s (%s): authentication as %s refused; tried %s. Add the public "
                         "key to ~%s/.ssh/authorized_keys on the host, or give the right key (%s)",
                         l->name, l->target, l->user,
                         op->tried.len ? strbuf_str(&op->tried) : "no key", l->user,
                         l->is_spec_advice ? "in the Secret the Tenant's "
                                             "spec.hosts[].ssh.identitySecretRef names"
                                           : "--identity");
}

/* The step after the one that just gave up (denied) on an identity. */
static enum login_step next_identity(const ssh_login_op *op, enum login_step after)
{
    const ssh_login *l = &op->l;

    if (after < LS_DATA_KEY && l->data_key)
        return LS_DATA_KEY;
    if (after < LS_FILE_KEY && l->file_key)
        return LS_FILE_KEY;
    if (after < LS_AGENT && (l->use_agent || (!l->data_key && !l->file_key)))
        return LS_AGENT;
    return LS_DONE;
}

/*
 * One authentication attempt of the current step: 1 authenticated, 0 again
 * (wait for the network), -1 the step is over without success (op->step moved
 * on, or err set when it failed for good).
 */
static int auth_step(ssh_login_op *op, ssh_login_result *res, omlop_err *err)
{
    const ssh_login *l = &op->l;
    ssh_key key = NULL;
    const char *what = NULL;
    int rc;

    switch (op->step) {
    case LS_NONE:
        rc = ssh_userauth_none(op->s, NULL);
        if (rc == SSH_AUTH_AGAIN)
            return 0;
        if (rc == SSH_AUTH_SUCCESS) {
            snprintf(res->auth_method, sizeof(res->auth_method), "none");
            return 1;
        }
        if (rc == SSH_AUTH_ERROR)
            break;
        if (!(ssh_userauth_list(op->s, NULL) & SSH_AUTH_METHOD_PUBLICKEY))
            return omlop_err_set(err, OMLOP_EAUTH,
                                 "host %s (%s): the server does not accept public key "
                                 "authentication for %s; enable PubkeyAuthentication in its "
                                 "sshd_config",
                                 l->name, l->target, l->user);
        op->step = next_identity(op, LS_NONE);
        return -1;
    case LS_DATA_KEY:
    case LS_FILE_KEY:
        key = op->step == LS_DATA_KEY ? l->data_key : l->file_key;
        what = op->step == LS_DATA_KEY ? "the key from the secret" : l->file_key_path;
        rc = ssh_userauth_publickey(op->s, NULL, key);
        if (rc == SSH_AUTH_AGAIN)
            return 0;
        if (rc == SSH_AUTH_SUCCESS) {
            snprintf(res->auth_method, sizeof(res->auth_method), "publickey (%s, %s)",
                     op->step == LS_DATA_KEY ? "secret" : "file", ssh_keys_type_name(key));
            return 1;
        }
        if (rc == SSH_AUTH_ERROR)
            break;
        strbuf_addf(&op->tried, "%s%s (%s)", op->tried.len ? ", " : "", what,
                    ssh_keys_type_name(key));
        op->step = next_identity(op, op->step);
        return -1;
    case LS_AGENT:
        if (!getenv("SSH_AUTH_SOCK")) {
            strbuf_addf(&op->tried, "%sssh-agent (not running: SSH_AUTH_SOCK is not set)",
                        op->tried.len ? ", " : "");
            op->step = LS_DONE;
            return -1;
        }
        rc = ssh_userauth_agent(op->s, NULL);
        if (rc == SSH_AUTH_AGAIN)
            return 0;
        if (rc == SSH_AUTH_SUCCESS) {
            snprintf(res->auth_method, sizeof(res->auth_method), "ssh-agent");
            return 1;
        }
        if (rc == SSH_AUTH_ERROR)
            break;
        strbuf_addf(&op->tried, "%sthe keys of ssh-agent", op->tried.len ? ", " : "");
        op->step = LS_DONE;
        return -1;
    default:
        return omlop_err_set(err, OMLOP_EINTERNAL, "host %s: login in a bad state", l->name);
    }
    return omlop_err_set(err, OMLOP_EUNAVAIL, "host %s (%s): authentication failed: %s", l->name,
                         l->target, ssh_get_error(op->s));
}

int ssh_login_start(const ssh_login *l, ssh_login_op **out, omlop_err *err)
{
    ssh_login_op *op;
    int zero = 0, one = 1, verbosity = SSH_LOG_NOLOG, port = l->port;
    const char *kh = l->known_hosts_file ? l->known_hosts_file : "/dev/null";
    int rc;

    *out = NULL;
    op = xcalloc(1, sizeof(*op));
    op->l = *l;
    op->step = LS_CONNECT;
    op->deadline_ms = clock_now_ms() + l->timeout_ms;
    op->s = ssh_new();
    if (!op->s) {
        free(op);
        return omlop_err_set(err, OMLOP_ENOMEM, "host %s: cannot create an SSH session", l->name);
    }
    /* Only what we were told counts: no ~/.ssh/config, no ~/.ssh/known_hosts. */
    if (ssh_options_set(op->s, SSH_OPTIONS_PROCESS_CONFIG, &zero) < 0 ||
        ssh_options_set(op->s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) < 0 ||
        ssh_options_set(op->s, SSH_OPTIONS_HOST, l->address) < 0 ||
        ssh_options_set(op->s, SSH_OPTIONS_PORT, &port) < 0 ||
        ssh_options_set(op->s, SSH_OPTIONS_USER, l->user) < 0 ||
        ssh_options_set(op->s, SSH_OPTIONS_NODELAY, &one) < 0 ||
        ssh_options_set(op->s, SSH_OPTIONS_KNOWNHOSTS, kh) < 0 ||
        ssh_options_set(op->s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, kh) < 0) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "host %s: bad SSH option: %s", l->name,
                           ssh_get_error(op->s));
        goto fail;
    }
    if (l->entry_keys && l->entry_keys->n > 0) {
        /* ask for the key type we can verify, or a server with several keys picks another */
        ssh_keys_hostset_algorithms(l->entry_keys, &op->algos);
        if (ssh_options_set(op->s, SSH_OPTIONS_HOSTKEYS, strbuf_str(&op->algos)) < 0) {
            rc = omlop_err_set(err, OMLOP_EINVAL, "host %s: host key algorithms '%s': %s", l->name,
                               strbuf_str(&op->algos), ssh_get_error(op->s));
            goto fail;
        }
    }
    /* every step returns SSH_AGAIN instead of waiting: the caller's poll loop drives it */
    ssh_set_blocking(op->s, 0);
    *out = op;
    return 0;
fail:
    ssh_login_free(op);
    return rc;
}

int ssh_login_step(ssh_login_op *op, ssh_login_result *res, omlop_err *err)
{
    const ssh_login *l = &op->l;
    int rc;

    for (;;) {
        switch (op->step) {
        case LS_CONNECT:
            rc = ssh_connect(op->s);
            if (rc == SSH_AGAIN)
                goto again;
            if (rc != SSH_OK)
                return connect_error(op, err);
            op->is_tcp_up = 1;
            rc = verify_hostkey(l, op->s, res, err);
            if (rc < 0)
                return rc;
            op->step = LS_NONE;
            continue;
        case LS_DONE:
            return refused_error(op, err);
        default:
            rc = auth_step(op, res, err);
            if (rc > 0)
                return 1;
            if (rc == 0)
                goto again;
            if (err && err->code)
                return err->code;
            continue;
        }
    }
again:
    if (clock_now_ms() >= op->deadline_ms)
        return omlop_err_set(err, OMLOP_EUNAVAIL,
                             "host %s (%s): cannot connect: no %s within %d ms", l->name, l->target,
                             op->step == LS_CONNECT
                                 ? (op->is_tcp_up ? "SSH handshake" : "TCP connection")
                                 : "answer to authentication",
                             l->timeout_ms);
    return 0;
}

int ssh_login_poll(ssh_login_op *op, short *events, long long *deadline_ms)
{
    int fd = ssh_get_fd(op->s);

    *deadline_ms = op->deadline_ms;
    *events = POLLIN;
    if (fd == SSH_INVALID_SOCKET)
        return -1;
    if (!op->is_tcp_up) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof(sa);

        /* connected once it has a peer; until then its writability is the news */
        if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0)
            op->is_tcp_up = 1;
        else
            *events |= POLLOUT;
    }
    if (ssh_get_poll_flags(op->s) & SSH_WRITE_PENDING)
        *events |= POLLOUT;
    return fd;
}

ssh_session ssh_login_take(ssh_login_op *op)
{
    ssh_session s = op->s;

    op->s = NULL;
    return s;
}

void ssh_login_free(ssh_login_op *op)
{
    if (!op)
        return;
    if (op->s) {
        ssh_disconnect(op->s);
        ssh_free(op->s);
    }
    strbuf_release(&op->algos);
    strbuf_release(&op->tried);
    free(op);
}

void ssh_target_release(ssh_target *t)
{
    free(t->user);
    free(t->host);
    t->user = NULL;
    t->host = NULL;
    t->port = 0;
}

int ssh_target_parse(const char *s, ssh_target *out, omlop_err *err)
{
    const char *p = s, *at, *hs, *he, *ps = NULL;
    char *end;
    long port;

    memset(out, 0, sizeof(*out));
    if (strncmp(p, "ssh://", 6) == 0)
        p += 6;
    else if (strstr(p, "://"))
        return omlop_err_set(err, OMLOP_EINVAL, "'%s': only ssh:// URLs are supported", s);
    if (*p == '\0')
        return omlop_err_set(err, OMLOP_EINVAL, "'%s': no host given", s);
    at = strrchr(p, '@');
    if (at) {
        if (at == p)
            return omlop_err_set(err, OMLOP_EINVAL, "'%s': empty user name before '@'", s);
        out->user = xstrndup(p, (size_t)(at - p));
        p = at + 1;
    }
    if (*p == '[') {
        hs = p + 1;
        he = strchr(hs, ']');
        if (!he) {
            ssh_target_release(out);
            return omlop_err_set(err, OMLOP_EINVAL, "'%s': missing ']' after IPv6 address", s);
        }
        if (he[1] == ':')
            ps = he + 2;
        else if (he[1] != '\0' && strcmp(he + 1, "/") != 0) {
            ssh_target_release(out);
            return omlop_err_set(err, OMLOP_EINVAL, "'%s': unexpected text after ']'", s);
        }
    } else {
        hs = p;
        he = p + strcspn(p, ":/");
        if (*he == ':')
            ps = he + 1;
        else if (*he == '/' && he[1] != '\0') {
            ssh_target_release(out);
            return omlop_err_set(err, OMLOP_EINVAL, "'%s': a path is not allowed in the URL", s);
        }
    }
    if (he == hs) {
        ssh_target_release(out);
        return omlop_err_set(err, OMLOP_EINVAL, "'%s': no host given", s);
    }
    out->host = xstrndup(hs, (size_t)(he - hs));
    if (ps) {
        errno = 0;
        port = strtol(ps, &end, 10);
        if (end == ps || (*end != '\0' && strcmp(end, "/") != 0) || errno || port < 1 ||
            port > 65535) {
            ssh_target_release(out);
            return omlop_err_set(err, OMLOP_EINVAL, "'%s': port must be a number 1-65535", s);
        }
        out->port = (int)port;
    }
    if ((out->user && !out->user[0]) || !out->host) {
        ssh_target_release(out);
        return omlop_err_set(err, OMLOP_ENOMEM, "out of memory");
    }
    return 0;
}
