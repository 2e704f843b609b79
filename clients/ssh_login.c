/* ssh_login: connect, verify the host key, authenticate (see ssh_login.h). */
#include "clients/ssh_login.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int try_key(ssh_session s, ssh_key key, const char *what, strbuf *tried, int *ok)
{
    int rc = ssh_userauth_publickey(s, NULL, key);

    if (rc == SSH_AUTH_SUCCESS) {
        *ok = 1;
        return 0;
    }
    if (rc == SSH_AUTH_ERROR)
        return -1;
    strbuf_addf(tried, "%s%s (%s)", tried->len ? ", " : "", what, ssh_keys_type_name(key));
    return 0;
}

static int authenticate(const ssh_login *l, ssh_session s, ssh_login_result *res, omlop_err *err)
{
    strbuf tried = STRBUF_INIT;
    int ok = 0, rc;

    rc = ssh_userauth_none(s, NULL);
    if (rc == SSH_AUTH_SUCCESS) {
        snprintf(res->auth_method, sizeof(res->auth_method), "none");
        goto done;
    }
    if (rc == SSH_AUTH_ERROR)
        goto ioerr;
    if (!(ssh_userauth_list(s, NULL) & SSH_AUTH_METHOD_PUBLICKEY)) {
        rc = omlop_err_set(err, OMLOP_EAUTH,
                           "host %s (%s): the server does not accept public key authentication "
                           "for %s; enable PubkeyAuthentication in its sshd_config",
                           l->name, l->target, l->user);
        goto out;
    }
    if (l->data_key) {
        if (try_key(s, l->data_key, "the key from the secret", &tried, &ok) < 0)
            goto ioerr;
        if (ok) {
            snprintf(res->auth_method, sizeof(res->auth_method), "publickey (secret, %s)",
                     ssh_keys_type_name(l->data_key));
            goto done;
        }
    }
    if (l->file_key) {
        if (try_key(s, l->file_key, l->file_key_path, &tried, &ok) < 0)
            goto ioerr;
        if (ok) {
            snprintf(res->auth_method, sizeof(res->auth_method), "publickey (file, %s)",
                     ssh_keys_type_name(l->file_key));
            goto done;
        }
    }
    if (l->use_agent || (!l->data_key && !l->file_key)) {
        if (getenv("SSH_AUTH_SOCK")) {
            rc = ssh_userauth_agent(s, NULL);
            if (rc == SSH_AUTH_SUCCESS) {
                snprintf(res->auth_method, sizeof(res->auth_method), "ssh-agent");
                goto done;
            }
            if (rc == SSH_AUTH_ERROR)
                goto ioerr;
            strbuf_addf(&tried, "%sthe keys of ssh-agent", tried.len ? ", " : "");
        } else {
            strbuf_addf(&tried, "%sssh-agent (not running: SSH_AUTH_SOCK is not set)",
                        tried.len ? ", " : "");
        }
    }
    rc = omlop_err_set(err, OMLOP_EAUTH,
                       "host %s (%s): authentication as %s refused; tried %s. Add the public key "
                       "to ~%s/.ssh/authorized_keys on the host, or give the right key (%s)",
                       l->name, l->target, l->user, tried.len ? strbuf_str(&tried) : "no key",
                       l->user,
                       l->is_spec_advice ? "in the Secret the Tenant's "
                                           "spec.hosts[].ssh.identitySecretRef names"
                                         : "--identity");
    goto out;
done:
    rc = 0;
    goto out;
ioerr:
    rc = omlop_err_set(err, OMLOP_EUNAVAIL, "host %s (%s): authentication failed: %s", l->name,
                       l->target, ssh_get_error(s));
out:
    strbuf_release(&tried);
    return rc;
}

int ssh_login_open(const ssh_login *l, ssh_login_result *res, ssh_session *session, omlop_err *err)
{
    ssh_session s = ssh_new();
    long tsec = l->timeout_ms / 1000, tusec = (l->timeout_ms % 1000) * 1000L;
    int zero = 0, one = 1, verbosity = SSH_LOG_NOLOG, port = l->port;
    const char *kh = l->known_hosts_file ? l->known_hosts_file : "/dev/null";
    strbuf algos = STRBUF_INIT;
    int rc;

    memset(res, 0, sizeof(*res));
    *session = NULL;
    if (!s)
        return omlop_err_set(err, OMLOP_ENOMEM, "host %s: cannot create an SSH session", l->name);
    /* Only what we were told counts: no ~/.ssh/config, no ~/.ssh/known_hosts. */
    if (ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &zero) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_HOST, l->address) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_PORT, &port) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_USER, l->user) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &tsec) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &tusec) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_NODELAY, &one) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, kh) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, kh) < 0) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "host %s: bad SSH option: %s", l->name,
                           ssh_get_error(s));
        goto fail;
    }
    if (l->entry_keys && l->entry_keys->n > 0) {
        /* ask for the key type we can verify, or a server with several keys picks another */
        ssh_keys_hostset_algorithms(l->entry_keys, &algos);
        if (ssh_options_set(s, SSH_OPTIONS_HOSTKEYS, strbuf_str(&algos)) < 0) {
            rc = omlop_err_set(err, OMLOP_EINVAL, "host %s: host key algorithms '%s': %s", l->name,
                               strbuf_str(&algos), ssh_get_error(s));
            goto fail;
        }
    }
    if (ssh_connect(s) != SSH_OK) {
        const char *why = ssh_get_error(s);

        /* the server answered but has no key of the pinned type: not a network problem */
        if (algos.len && why && strstr(why, "host key"))
            rc = omlop_err_set(err, OMLOP_EAUTH,
                               "host %s (%s): the server has no host key of the pinned type "
                               "(%s): %s. Pin a key of a type it has (`ssh-keyscan ADDRESS` "
                               "lists them) %s",
                               l->name, l->target, strbuf_str(&algos), why,
                               l->is_spec_advice
                                   ? "in the Tenant's spec.hosts[].ssh.knownHostKey of this host"
                                   : "with --host-key");
        else
            rc = omlop_err_set(err, OMLOP_EUNAVAIL, "host %s (%s): cannot connect: %s", l->name,
                               l->target, why);
        goto fail;
    }
    rc = verify_hostkey(l, s, res, err);
    if (rc < 0)
        goto fail;
    rc = authenticate(l, s, res, err);
    if (rc < 0)
        goto fail;
    strbuf_release(&algos);
    *session = s;
    return 0;
fail:
    strbuf_release(&algos);
    ssh_key_free(res->new_tofu_key);
    res->new_tofu_key = NULL;
    ssh_disconnect(s);
    ssh_free(s);
    return rc;
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
