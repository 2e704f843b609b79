/*
 * tls_acme: tls.mode acme - order, http-01 solver on the hosts, back-off (see tls_acme.h).
 */
#include "reconcilers/tls_acme.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clients/acme.h"
#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "objects/objects.h"
#include "reconcilers/desired.h"
#include "reconcilers/tls_int.h"

#define ACCOUNT_KEY            "account.key"
#define SOLVER_READY_TRIES     50 /* x 100 ms: busybox httpd listens within milliseconds */
#define SOLVER_PULL_TIMEOUT_MS 120000L
#define DEFAULT_REQUEST_MS     15000L
#define DEFAULT_POLL_MS        1000

/* ---- pure parts ---------------------------------------------------------------------------- */

int64_t tls_acme_backoff_s(int failures, int64_t retry_after_s)
{
    int64_t s = TLS_ACME_BACKOFF_MIN_S;

    for (int i = 1; i < failures && s < TLS_ACME_BACKOFF_MAX_S; i++)
        s *= 2;
    if (s > TLS_ACME_BACKOFF_MAX_S)
        s = TLS_ACME_BACKOFF_MAX_S;
    /* a CA's Retry-After is honoured even past the cap (a rate limit lasts what it lasts), but
     * not beyond a week: a nonsense value must not park the tenant for ever */
    if (retry_after_s > s)
        s = retry_after_s < 7 * 24 * 3600 ? retry_after_s : 7 * 24 * 3600;
    return s;
}

/* "acme <server>": the source annotation of a pair from server. */
static void source_of(strbuf *out, const char *server)
{
    strbuf_addf(out, "acme %s", server);
}

tls_issue_why tls_acme_decide(const tlspair_info *cur, const char *source, const char *server,
                              const char *fqdn, int64_t now, double fraction)
{
    strbuf want = STRBUF_INIT;
    int64_t at = 0;
    omlop_err err = OMLOP_ERR_INIT;
    int is_same;

    if (!cur)
        return TLS_ISSUE_MISSING;
    source_of(&want, server);
    is_same = source && strcmp(source, want.buf) == 0;
    strbuf_release(&want);
    if (!is_same)
        return TLS_ISSUE_SOURCE;
    if (cur->n_dns != 1 || cur->n_ips != 0 || strcasecmp(cur->dns_names[0], fqdn) != 0)
        return TLS_ISSUE_SANS;
    if (tlspair_renew_at(cur->not_before, cur->not_after, tls_fraction_of(fraction), &at, &err) < 0)
        return TLS_ISSUE_MISSING;
    return now >= at ? TLS_ISSUE_DUE : TLS_KEEP;
}

int tls_acme_token_ok(const char *token)
{
    size_t n = 0;

    if (!token)
        return 0;
    for (const char *p = token; *p; p++, n++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    return n > 0 && n <= 256;
}

/* ---- the account Secret -------------------------------------------------------------------- */

/* What to write to the account Secret (borrowed); NULL members are left as they are. */
typedef struct account_write {
    const char *tenant;
    const char *name;
    const char *key_pem;     /* a new account key, or NULL */
    const char *account_url; /* with server */
    const char *server;
    int is_success;   /* clear the failure annotations */
    int failures;     /* > 0: record a failure */
    int64_t retry_at; /* with failures */
    const char *last_error;
} account_write;

static json_object *object_member(json_object *parent, const char *key)
{
    json_object *o = NULL;

    if (json_object_object_get_ex(parent, key, &o) && json_object_is_type(o, json_type_object))
        return o;
    o = json_object_new_object();
    json_object_object_add(parent, key, o);
    return o;
}

static void account_fill(json_object *obj, const account_write *aw)
{
    json_object *meta = object_member(obj, "metadata"), *labels, *ann;
    char num[32];

    json_object_object_add(meta, "name", json_object_new_string(aw->name));
    labels = object_member(meta, "labels");
    json_object_object_add(labels, OMLOP_LABEL_TENANT, json_object_new_string(aw->tenant));
    json_object_object_add(labels, OMLOP_LABEL_MANAGED_BY,
                           json_object_new_string(OMLOP_MANAGER_NAME));
    ann = object_member(meta, "annotations");
    if (aw->account_url && aw->server) {
        json_object_object_add(ann, TLS_ACME_ANN_ACCOUNT_URL,
                               json_object_new_string(aw->account_url));
        json_object_object_add(ann, TLS_ACME_ANN_SERVER, json_object_new_string(aw->server));
    }
    if (aw->is_success) {
        json_object_object_del(ann, TLS_ACME_ANN_FAILURES);
        json_object_object_del(ann, TLS_ACME_ANN_RETRY_AT);
        json_object_object_del(ann, TLS_ACME_ANN_LAST_ERROR);
    } else if (aw->failures > 0) {
        snprintf(num, sizeof(num), "%d", aw->failures);
        json_object_object_add(ann, TLS_ACME_ANN_FAILURES, json_object_new_string(num));
        snprintf(num, sizeof(num), "%" PRId64, aw->retry_at);
        json_object_object_add(ann, TLS_ACME_ANN_RETRY_AT, json_object_new_string(num));
        json_object_object_add(ann, TLS_ACME_ANN_LAST_ERROR,
                               json_object_new_string(aw->last_error ? aw->last_error : ""));
    }
    json_object_object_add(obj, "type", json_object_new_string("Opaque"));
    if (aw->key_pem) {
        json_object_object_del(obj, "stringData");
        json_object_object_add(object_member(obj, "data"), ACCOUNT_KEY, tls_b64_json(aw->key_pem));
    }
}

/* obj_mutate_fn: the account Secret, if it is still the tenant's generated one. */
static int account_mutate(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    const account_write *aw = ctx;

    if (!tls_is_generated(cur, aw->tenant))
        return omlop_err_set(err, OMLOP_EEXIST,
                             "Secret %s exists and was not generated by omlop for tenant %s",
                             aw->name, aw->tenant);
    account_fill(next, aw);
    return 0;
}

static int account_store(store *st, const account_write *aw, int exists, omlop_err *err)
{
    obj_result res = {0};
    int rc;

    if (exists) {
        rc = obj_update(st, "secrets", aw->name, NULL, account_mutate, (void *)aw, &res, err);
    } else {
        json_object *obj = json_object_new_object();

        json_object_object_add(obj, "apiVersion", json_object_new_string("omlop.io/v1alpha1"));
        json_object_object_add(obj, "kind", json_object_new_string("Secret"));
        account_fill(obj, aw);
        rc = obj_create(st, "secrets", obj, 0, &res, err);
        json_object_put(obj);
    }
    obj_result_release(&res);
    if (rc < 0)
        omlop_err_prefix(err, "writing the ACME account Secret %s: ", aw->name);
    return rc;
}

static const char *annotation(const json_object *obj, const char *key)
{
    return tls_member_string(cjson_get(obj, "metadata.annotations"), key);
}

/* ---- the http-01 solver -------------------------------------------------------------------- */

typedef struct solver_host {
    const tls_acme_host *h;
    int is_started; /* its container was created */
    int is_ok;      /* it serves: the files are there and the container runs */
    char why[OMLOP_ERR_MSG_MAX];
} solver_host;

typedef struct solver {
    const tls_acme_env *env;
    const char *tenant;
    const char *image;
    char container[128];
    strbuf root; /* TLS_ACME_CHALLENGE_ROOT/<tenant> */
    solver_host *hosts;
    size_t n_hosts;
    char **paths; /* the challenge files placed */
    size_t n_paths;
    int64_t deadline_ms; /* the order's budget ends (clock_now_ms): a pull may not outlast it */
} solver;

/* Pull the image when the host lacks it, (re)create and start the container, and wait (bounded)
 * until it accepts connections on port 80. */
static int solver_start(solver *s, solver_host *sh, omlop_err *err)
{
    /* both set: an entrypoint alone would get the image's CMD as its arguments */
    static const char *const entry[] = {"/bin/busybox", NULL};
    static const char *const cmd[] = {"httpd", "-f", "-p", "80", "-h", "/srv", NULL};
    podman_kv labels[3] = {{OMLOP_LABEL_TENANT, s->tenant},
                           {OMLOP_LABEL_MANAGED_BY, OMLOP_MANAGER_NAME},
                           {OMLOP_LABEL_COMPONENT, TLS_ACME_SOLVER_COMPONENT}};
    podman_mount mount;
    podman_create_spec spec;
    podman_container pc;
    omlop_err e = OMLOP_ERR_INIT;
    int exists = 0, rc;

    (void)podman_container_remove(sh->h->pc, s->container, 1, 0, &e); /* a leftover */
    if ((rc = podman_image_exists(sh->h->pc, s->image, &exists, err)) < 0)
        return rc;
    if (!exists) {
        podman_pull_opts po;

        memset(&po, 0, sizeof(po));
        po.tls_verify = -1;
        po.timeout_ms = SOLVER_PULL_TIMEOUT_MS;
        if (s->deadline_ms - clock_now_ms() < po.timeout_ms)
            po.timeout_ms = s->deadline_ms - clock_now_ms();
        if (po.timeout_ms < 1000)
            return omlop_err_set(err, OMLOP_ETIMEOUT,
                                 "no time left in the order's budget to pull the solver image %s",
                                 s->image);
        if ((rc = podman_image_pull(sh->h->pc, s->image, &po, NULL, NULL, NULL, 0, err)) < 0)
            return omlop_err_prefix(err, "pulling the solver image %s: ", s->image);
    }
    memset(&mount, 0, sizeof(mount));
    mount.type = PODMAN_MOUNT_BIND;
    mount.source = s->root.buf;
    mount.destination = "/srv";
    mount.is_readonly = 1;
    memset(&spec, 0, sizeof(spec));
    spec.name = s->container;
    spec.image = s->image;
    spec.entrypoint = entry;
    spec.command = cmd;
    spec.labels = labels;
    spec.n_labels = 3;
    spec.mounts = &mount;
    spec.n_mounts = 1;
    spec.is_host_network = 1;
    spec.restart_policy = "no";
    spec.stop_timeout_s = 1;
    if ((rc = podman_container_create(sh->h->pc, &spec, NULL, 0, err)) < 0)
        return omlop_err_prefix(err, "creating the solver container %s: ", s->container);
    sh->is_started = 1;
    if ((rc = podman_container_start(sh->h->pc, s->container, err)) < 0)
        return omlop_err_prefix(err, "starting the solver container %s: ", s->container);
    for (int i = 0; i < SOLVER_READY_TRIES; i++) {
        memset(&pc, 0, sizeof(pc));
        if ((rc = podman_container_inspect(sh->h->pc, s->container, &pc, err)) < 0)
            return rc;
        if (!pc.is_running) {
            rc = omlop_err_set(err, OMLOP_EUNAVAIL,
                               "the solver container %s is %s (exit code %d): is port 80 taken "
                               "on the host?",
                               s->container, pc.state ? pc.state : "?", pc.exit_code);
            podman_container_release(&pc);
            return rc;
        }
        podman_container_release(&pc);
        if (!sh->h->ops->tcp_probe ||
            sh->h->ops->tcp_probe(sh->h->ops_ctx, "127.0.0.1", 80, &e) == 0)
            return 0;
        clock_sleep_ms(100);
    }
    return omlop_err_set(err, OMLOP_ETIMEOUT,
                         "the solver container %s runs but port 80 accepts no connection after "
                         "%d s",
                         s->container, SOLVER_READY_TRIES / 10);
}

/* acme_http01_fn: the key authorization on every host, and the solver there. */
static int solver_present(void *ud, const char *domain, const char *token, const char *keyauth,
                          omlop_err *err)
{
    solver *s = ud;
    strbuf path = STRBUF_INIT, why = STRBUF_INIT;
    tenant_file_write fw;
    size_t n_ok = 0;
    int rc = 0;

    if (!tls_acme_token_ok(token))
        return omlop_err_set(err, OMLOP_EPROTO,
                             "the CA sent an http-01 token that is not "
                             "base64url; refused as a file name");
    strbuf_addf(&path, "%s/.well-known/acme-challenge/%s", s->root.buf, token);
    s->paths = xrealloc(s->paths, (s->n_paths + 1) * sizeof(*s->paths));
    s->paths[s->n_paths++] = xstrdup(path.buf);
    memset(&fw, 0, sizeof(fw));
    fw.path = path.buf;
    fw.data = keyauth;
    fw.len = strlen(keyauth);
    fw.mode = 0644;
    for (size_t i = 0; i < s->n_hosts; i++) {
        solver_host *sh = &s->hosts[i];
        omlop_err e = OMLOP_ERR_INIT;

        if (!sh->h->ops || !sh->h->ops->files_write) {
            snprintf(sh->why, sizeof(sh->why), "no host file writer");
        } else if (sh->h->ops->files_write(sh->h->ops_ctx, &fw, 1, &e) < 0) {
            /* e.msg names the path already (hostfs) */
            snprintf(sh->why, sizeof(sh->why), "%s", e.msg);
            sh->is_ok = 0;
        } else if (!sh->is_ok && solver_start(s, sh, &e) < 0) {
            snprintf(sh->why, sizeof(sh->why), "%s", e.msg);
        } else {
            sh->is_ok = 1;
        }
        if (sh->is_ok) {
            n_ok++;
        } else {
            strbuf_addf(&why, "%shost %s: %s", why.len ? "; " : "", sh->h->name, sh->why);
            log_warn("tenant=%s host=%s acme http-01 solver for %s: %s", s->tenant, sh->h->name,
                     domain, sh->why);
        }
    }
    if (n_ok == 0)
        rc = omlop_err_set(err, OMLOP_EUNAVAIL, "no host can answer http-01 for %s: %s", domain,
                           why.len ? why.buf : "no reachable host");
    strbuf_release(&path);
    strbuf_release(&why);
    return rc;
}

/* Remove the solver containers and the challenge files, whatever happened. */
static void solver_finish(solver *s)
{
    for (size_t i = 0; i < s->n_hosts; i++) {
        solver_host *sh = &s->hosts[i];
        omlop_err e = OMLOP_ERR_INIT;

        if (sh->is_started && podman_container_remove(sh->h->pc, s->container, 1, 0, &e) < 0 &&
            e.code != OMLOP_ENOTFOUND)
            log_warn("tenant=%s host=%s removing the acme solver %s: %s (removed as an orphan "
                     "by a later round)",
                     s->tenant, sh->h->name, s->container, e.msg);
        for (size_t k = 0; sh->h->ops && sh->h->ops->file_remove && k < s->n_paths; k++) {
            omlop_err fe = OMLOP_ERR_INIT;

            if (sh->h->ops->file_remove(sh->h->ops_ctx, s->paths[k], &fe) < 0)
                log_warn("tenant=%s host=%s removing %s: %s", s->tenant, sh->h->name, s->paths[k],
                         fe.msg);
        }
    }
    for (size_t k = 0; k < s->n_paths; k++)
        free(s->paths[k]);
    free(s->paths);
    free(s->hosts);
    strbuf_release(&s->root);
    memset(s, 0, sizeof(*s));
}

/* ---- one order ----------------------------------------------------------------------------- */

typedef struct order_out {
    char *chain;        /* on success */
    char *key_pem;      /* on success; wiped on release */
    char *account_url;  /* when the CA told it */
    const char *reason; /* on failure */
    char msg[OMLOP_ERR_MSG_MAX];
    int64_t retry_after_s; /* the CA's Retry-After, -1: none */
} order_out;

static void order_out_release(order_out *oo)
{
    free(oo->chain);
    tlspair_free_secret(oo->key_pem);
    free(oo->account_url);
    memset(oo, 0, sizeof(*oo));
}

static int is_cancelled(const tls_acme_env *env)
{
    return env->cancel && atomic_load(env->cancel);
}

/* Run one order for fqdn to its end or to the budget's; 0 with oo->chain, or 0 with oo->reason
 * (the failure, verbatim). Never negative: every failure is the order's. */
static void run_order(const tls_acme_env *env, const char *tenant, const acme_config *cfg,
                      const char *fqdn, const char *image, order_out *oo)
{
    acme_client *c = NULL;
    acme_order *ord = NULL;
    acme_order_req req;
    solver s;
    const char *domains[1] = {fqdn};
    const acme_problem *p = NULL;
    omlop_err e = OMLOP_ERR_INIT;
    int64_t budget = env->budget_ms > 0 ? env->budget_ms : TLS_ACME_BUDGET_MS;
    int64_t deadline = clock_now_ms() + budget, wait = 0;
    char state[32] = "new";
    int rc;

    oo->retry_after_s = -1;
    memset(&s, 0, sizeof(s));
    s.env = env;
    s.tenant = tenant;
    s.image = image;
    s.deadline_ms = deadline;
    snprintf(s.container, sizeof(s.container), "%s%s", TLS_ACME_SOLVER_PREFIX, tenant);
    strbuf_addf(&s.root, "%s/%s", TLS_ACME_CHALLENGE_ROOT, tenant);
    s.hosts = xcalloc(env->n_hosts + 1, sizeof(*s.hosts));
    s.n_hosts = env->n_hosts;
    for (size_t i = 0; i < env->n_hosts; i++)
        s.hosts[i].h = &env->hosts[i];
    if ((rc = acme_client_new(cfg, &c, &e)) < 0 ||
        (rc = tlspair_key_generate(TLSPAIR_KEY_EC_P256, &oo->key_pem, &e)) < 0)
        goto out;
    memset(&req, 0, sizeof(req));
    req.domains = domains;
    req.n_domains = 1;
    req.cert_key_pem = oo->key_pem;
    req.present = solver_present;
    req.ud = &s;
    if ((rc = acme_order_new(c, &req, &ord, &e)) < 0)
        goto out;
    for (;;) {
        int64_t left;

        /* the step that fails says where the order was ("failed" afterwards says nothing) */
        snprintf(state, sizeof(state), "%s", acme_order_state(ord));
        if ((rc = acme_order_step(ord, &wait, &e)) < 0) {
            p = acme_order_problem(ord);
            break;
        }
        if (acme_order_is_done(ord))
            break;
        left = deadline - clock_now_ms();
        if (is_cancelled(env)) {
            rc = omlop_err_set(&e, OMLOP_EUNAVAIL, "omlopd is stopping");
            break;
        }
        if (left <= 0 || wait > left) {
            rc = omlop_err_set(&e, OMLOP_ETIMEOUT,
                               "the order did not finish within %" PRId64 " s (state %s, the CA "
                               "asks to wait %" PRId64 " ms more)",
                               budget / 1000, acme_order_state(ord), wait);
            break;
        }
        clock_sleep_ms(wait);
    }
    if (rc == 0)
        oo->chain = xstrdup(acme_order_chain(ord));
out:
    if (c && acme_client_account_url(c))
        oo->account_url = xstrdup(acme_client_account_url(c));
    if (rc < 0) {
        oo->reason = p && acme_problem_is(p, "rateLimited") ? TLS_REASON_ACME_RATE_LIMITED
                                                            : TLS_REASON_ACME_FAILED;
        if (p)
            oo->retry_after_s = p->retry_after_s;
        strbuf m = STRBUF_INIT;

        /* the CA's problem document verbatim (its type and detail are in it): what the CA said,
         * for the operator to act on; our own error otherwise */
        strbuf_addf(&m, "ACME order for %s at %s failed (state %s): ", fqdn, cfg->directory_url,
                    state);
        if (p && p->document && *p->document && p->http_status > 0)
            strbuf_addf(&m, "HTTP %d, problem document: %s", p->http_status, p->document);
        else if (p && p->document && *p->document)
            strbuf_addf(&m, "problem document: %s", p->document);
        else
            strbuf_adds(&m, e.msg);
        snprintf(oo->msg, sizeof(oo->msg), "%s", m.buf);
        strbuf_release(&m);
        tlspair_free_secret(oo->key_pem);
        oo->key_pem = NULL;
    }
    acme_order_free(ord);
    solver_finish(&s);
    acme_client_free(c);
}

/* ---- the round ----------------------------------------------------------------------------- */

/* The reason constant a stored "<reason> <message>" names (fail_reason must be static). */
static const char *stored_reason(const char *text)
{
    static const char *const known[] = {TLS_REASON_ACME_RATE_LIMITED, TLS_REASON_ACME_FAILED};

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (text && strncmp(text, known[i], strlen(known[i])) == 0 && text[strlen(known[i])] == ' ')
            return known[i];
    return TLS_REASON_ACME_FAILED;
}

int tls_acme_resolve(store *st, const char *tenant, const json_object *obj, const tls_options *o,
                     tls_result *r, omlop_err *err)
{
    const char *fqdn = cjson_get_string(obj, "spec.network.fqdn");
    const char *email = cjson_get_string(obj, "spec.tls.acme.email");
    const char *server = cjson_get_string(obj, "spec.tls.acme.server");
    const char *ca = cjson_get_string(obj, "spec.tls.acme.caBundle");
    const char *image = cjson_get_string(obj, "spec.tls.acme.solverImage");
    strbuf name = STRBUF_INIT, aname = STRBUF_INIT, cert = STRBUF_INIT, key = STRBUF_INIT;
    strbuf akey = STRBUF_INIT, src = STRBUF_INIT, last = STRBUF_INIT;
    json_object *secret = NULL, *account = NULL;
    tlspair_info cur;
    int has_cur = 0, exists = 0, aexists = 0, is_new_key = 0, failures = 0, rc = 0;
    int64_t arev = 0, retry_at = 0;
    tls_issue_why why;
    omlop_err e = OMLOP_ERR_INIT;
    order_out oo;
    acme_config cfg;
    account_write aw;
    const char *v;

    memset(&cur, 0, sizeof(cur));
    memset(&oo, 0, sizeof(oo));
    if (!server || !*server)
        server = ACME_LETSENCRYPT_PRODUCTION;
    if (!image || !*image)
        image = o->acme && o->acme->solver_image ? o->acme->solver_image
                                                 : TLS_ACME_DEFAULT_SOLVER_IMAGE;
    strbuf_addf(&name, "%s%s", tenant, TLS_SECRET_SUFFIX);
    strbuf_addf(&aname, "%s%s", tenant, TLS_ACME_ACCOUNT_SUFFIX);
    r->secret = xstrdup(name.buf);
    rc = obj_get(st, "secrets", name.buf, &secret, &r->secret_revision, err);
    if (rc == OMLOP_ENOTFOUND) {
        omlop_err_clear(err);
        rc = 0;
    } else if (rc < 0) {
        goto out;
    } else {
        exists = 1;
        if (!tls_is_generated(secret, tenant)) {
            tls_set_fail(r, TLS_REASON_NOT_OWNED,
                         "Secret %s exists and was not generated by omlop for tenant %s (labels "
                         "%s, %s): remove or rename it, or use tls.mode custom with it",
                         name.buf, tenant, OMLOP_LABEL_TENANT, OMLOP_LABEL_MANAGED_BY);
            goto out;
        }
        if (tls_secret_value(secret, name.buf, "tls.crt", &cert, &e) == 0 &&
            tls_secret_value(secret, name.buf, "tls.key", &key, &e) == 0 &&
            (tls_is_accepted(obj, name.buf, r->secret_revision, cert.buf) ||
             tlspair_validate(cert.buf, key.buf, NULL, NULL, &e) == 0) &&
            tlspair_inspect(cert.buf, &cur, &e) == 0)
            has_cur = 1;
    }
    if (!fqdn || !*fqdn) {
        tls_set_fail(r, TLS_REASON_ACME_CONFIG,
                     "spec.network.fqdn is required with tls.mode acme (the name the CA "
                     "validates over http-01)");
        goto keep;
    }
    if (!email || !*email) {
        tls_set_fail(r, TLS_REASON_ACME_CONFIG,
                     "spec.tls.acme.email is required with tls.mode acme (the account's "
                     "contact)");
        goto keep;
    }
    why = tls_acme_decide(has_cur ? &cur : NULL, annotation(secret, TLS_ANNOTATION_SOURCE), server,
                          fqdn, o->now, o->renew_fraction);
    if (why == TLS_KEEP)
        goto keep;

    rc = obj_get(st, "secrets", aname.buf, &account, &arev, err);
    if (rc == OMLOP_ENOTFOUND) {
        omlop_err_clear(err);
        rc = 0;
    } else if (rc < 0) {
        goto out;
    } else {
        aexists = 1;
        if (!tls_is_generated(account, tenant)) {
            tls_set_fail(r, TLS_REASON_NOT_OWNED,
                         "Secret %s exists and was not generated by omlop for tenant %s (labels "
                         "%s, %s): remove or rename it",
                         aname.buf, tenant, OMLOP_LABEL_TENANT, OMLOP_LABEL_MANAGED_BY);
            goto keep;
        }
        if ((v = annotation(account, TLS_ACME_ANN_FAILURES)) != NULL)
            failures = atoi(v);
        if ((v = annotation(account, TLS_ACME_ANN_RETRY_AT)) != NULL)
            retry_at = strtoll(v, NULL, 10);
    }
    if (failures > 0 && retry_at > o->now) {
        /* backing off: the CA is not asked before retry_at; the failure stays reported */
        char when[32];

        v = annotation(account, TLS_ACME_ANN_LAST_ERROR);
        object_time_format((time_t)retry_at, when);
        r->retry_ms = (retry_at - o->now) * 1000;
        tls_set_fail(r, stored_reason(v), "%s; attempt %d failed, the next one at %s",
                     v && strchr(v, ' ') ? strchr(v, ' ') + 1 : "the last order failed", failures,
                     when);
        goto keep;
    }
    if (!o->acme || o->acme->n_hosts == 0) {
        tls_set_fail(r, TLS_REASON_ACME_FAILED,
                     "no reachable host to answer the http-01 challenge for %s", fqdn);
        goto keep;
    }
    if (aexists && tls_secret_value(account, aname.buf, ACCOUNT_KEY, &akey, &e) < 0)
        tls_wipe(&akey);
    if (!akey.len) {
        char *k = NULL;

        if ((rc = tlspair_key_generate(TLSPAIR_KEY_EC_P256, &k, err)) < 0)
            goto out;
        strbuf_adds(&akey, k);
        tlspair_free_secret(k);
        is_new_key = 1;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.directory_url = server;
    cfg.ca_pem = ca && *ca ? ca : NULL;
    cfg.account_key_pem = akey.buf;
    v = annotation(account, TLS_ACME_ANN_SERVER);
    if (!is_new_key && v && strcmp(v, server) == 0)
        cfg.account_url = annotation(account, TLS_ACME_ANN_ACCOUNT_URL);
    cfg.email = email;
    cfg.terms_agreed = 1; /* choosing tls.mode acme agrees to the CA's terms (docs) */
    cfg.timeout_ms =
        o->acme->request_timeout_ms > 0 ? o->acme->request_timeout_ms : DEFAULT_REQUEST_MS;
    cfg.connect_timeout_ms = 5000;
    cfg.poll_interval_ms =
        o->acme->poll_interval_ms > 0 ? o->acme->poll_interval_ms : DEFAULT_POLL_MS;
    log_info("tenant=%s acme order for %s at %s (%s)", tenant, fqdn, server,
             tls_issue_why_text(why));
    run_order(o->acme, tenant, &cfg, fqdn, image, &oo);

    memset(&aw, 0, sizeof(aw));
    aw.tenant = tenant;
    aw.name = aname.buf;
    aw.key_pem = is_new_key ? akey.buf : NULL;
    aw.server = server;
    aw.account_url = oo.account_url;
    if (oo.chain) {
        pair_write pw;

        memset(&pw, 0, sizeof(pw));
        source_of(&src, server);
        pw.tenant = tenant;
        pw.name = name.buf;
        pw.cert = oo.chain;
        pw.key = oo.key_pem;
        pw.source = src.buf;
        if ((rc = tls_pair_store(st, &pw, exists, &r->secret_revision, err)) < 0) {
            omlop_err_prefix(err, "storing the ACME pair in Secret %s: ", name.buf);
            goto out;
        }
        tls_wipe(&cert);
        tls_wipe(&key);
        strbuf_adds(&cert, oo.chain);
        strbuf_adds(&key, oo.key_pem);
        has_cur = 1;
        r->issued = why;
        aw.is_success = 1;
        if (!aexists || failures > 0 || is_new_key || oo.account_url)
            rc = account_store(st, &aw, aexists, err);
        if (rc < 0)
            goto out;
    } else {
        int64_t wait = tls_acme_backoff_s(failures + 1, oo.retry_after_s);
        char when[32];

        aw.failures = failures + 1;
        aw.retry_at = o->now + wait;
        strbuf_addf(&last, "%s %s", oo.reason, oo.msg);
        aw.last_error = last.buf;
        if ((rc = account_store(st, &aw, aexists, err)) < 0)
            goto out;
        object_time_format((time_t)aw.retry_at, when);
        r->retry_ms = wait * 1000;
        tls_set_fail(r, oo.reason, "%s; attempt %d failed, the next one at %s", oo.msg, aw.failures,
                     when);
        log_warn("tenant=%s %s", tenant, r->fail_msg);
    }
keep:
    if (has_cur)
        rc = tls_pair_take(r, &cert, &key, 1, o, oo.chain ? NULL : &cur, err);
out:
    order_out_release(&oo);
    tlspair_info_release(&cur);
    json_object_put(secret);
    json_object_put(account);
    tls_wipe(&cert);
    tls_wipe(&key);
    tls_wipe(&akey);
    strbuf_release(&name);
    strbuf_release(&aname);
    strbuf_release(&src);
    strbuf_release(&last);
    return rc;
}
