/* acme_order: the order state machine of acme.h, one request per step. */
#include <stdlib.h>
#include <string.h>

#include "clients/acme.h"
#include "clients/acme_int.h"
#include "lib/clock.h"
#include "lib/tlspair.h"
#include "lib/xalloc.h"

enum ostate {
    OS_DIRECTORY,
    OS_ACCOUNT_LOOKUP,
    OS_ACCOUNT_REGISTER,
    OS_NEW_ORDER,
    OS_AUTHZ,      /* read authorization i; present its http-01 challenge when pending */
    OS_CHALLENGE,  /* tell the CA the challenge is ready */
    OS_AUTHZ_POLL, /* wait for authorization i to leave pending/processing */
    OS_ORDER_POLL, /* wait for the order: ready (finalize), valid (download) */
    OS_FINALIZE,
    OS_DOWNLOAD,
    OS_VALID,
    OS_FAILED
};

static const char *const state_names[] = {
    "directory",          "account-lookup", "account-register",
    "new-order",          "authorization",  "challenge",
    "authorization-poll", "order-poll",     "finalize",
    "download",           "valid",          "failed",
};

/* A token handed to present(), to give to cleanup() once. */
typedef struct presented {
    char *domain;
    char *token;
    char *key_authz;
} presented;

struct acme_order {
    acme_client *c;
    char **domains;
    size_t n_domains;
    char *cert_key_pem; /* wiped when freed */
    acme_http01_fn present;
    acme_http01_fn cleanup;
    void *ud;

    enum ostate st;
    int account_resets; /* accountDoesNotExist handled (bounded: once) */
    int transient;      /* this step's failure may be retried: the state was kept */
    int finalized;
    int polls; /* in the current wait */
    char *order_url;
    char *finalize_url;
    char *cert_url;
    char **authz;
    size_t n_authz;
    size_t i_authz;
    char *chall_url; /* the challenge of authorization i_authz */
    char *chall_domain;
    presented *pres;
    size_t n_pres;

    char *chain;
    int fail_code;
    char fail_msg[OMLOP_ERR_MSG_MAX];
    acme_problem *problem;
};

static void set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = xstrdup(v);
}

static void run_cleanup(acme_order *o)
{
    for (size_t i = 0; i < o->n_pres; i++) {
        omlop_err ignored = OMLOP_ERR_INIT;

        if (o->cleanup)
            o->cleanup(o->ud, o->pres[i].domain, o->pres[i].token, o->pres[i].key_authz, &ignored);
        free(o->pres[i].domain);
        free(o->pres[i].token);
        free(o->pres[i].key_authz);
    }
    free(o->pres);
    o->pres = NULL;
    o->n_pres = 0;
}

/* Forget the order's progress (a new order follows). */
static void order_reset(acme_order *o)
{
    for (size_t i = 0; i < o->n_authz; i++)
        free(o->authz[i]);
    free(o->authz);
    o->authz = NULL;
    o->n_authz = o->i_authz = 0;
    set_str(&o->order_url, NULL);
    set_str(&o->finalize_url, NULL);
    set_str(&o->cert_url, NULL);
    set_str(&o->chall_url, NULL);
    set_str(&o->chall_domain, NULL);
    o->finalized = 0;
    o->polls = 0;
}

/* End the order with err's code and message (and the problem, when one said why). */
static int fail(acme_order *o, const acme_problem *p, omlop_err *err)
{
    o->st = OS_FAILED;
    o->fail_code = err && err->code ? err->code : OMLOP_EINTERNAL;
    snprintf(o->fail_msg, sizeof(o->fail_msg), "%s", err ? err->msg : "ACME order failed");
    acme_problem_free(o->problem);
    o->problem = acme_problem_dup(p);
    run_cleanup(o);
    return o->fail_code;
}

/* A failed request: the client's problem document, when there is one, is the reason. */
static int fail_request(acme_order *o, int rc, omlop_err *err)
{
    const acme_problem *p = acme_client_problem(o->c);
    omlop_err local = OMLOP_ERR_INIT;

    if (!err)
        err = &local;
    if (err->code == 0)
        omlop_err_set(err, rc, "ACME request failed");
    if (p && acme_problem_is(p, "accountDoesNotExist") && o->c->account_url &&
        o->account_resets == 0) {
        /* the server forgot the account (a restarted pebble, a deleted account): find or
         * register it again, then start a new order under it */
        o->account_resets++;
        free(o->c->account_url);
        o->c->account_url = NULL;
        order_reset(o);
        o->st = OS_ACCOUNT_LOOKUP;
        omlop_err_clear(err);
        return 0;
    }
    if (rc == OMLOP_EUNAVAIL || rc == OMLOP_ETIMEOUT ||
        (rc == OMLOP_ELIMIT && acme_problem_is(p, "rateLimited"))) {
        /* the network, the CA's load or its rate limit: the same step can be tried again
         * after a back-off, and a new order would only count against the limits */
        o->transient = 1;
        acme_problem_free(o->problem);
        o->problem = acme_problem_dup(p);
        return rc;
    }
    return fail(o, p, err);
}

static json_object *parse_obj(const acme_resp *r, const char *what, const char *url, omlop_err *err)
{
    json_object *obj = json_tokener_parse(strbuf_str(&r->body));

    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        omlop_err_set(err, OMLOP_EPROTO, "ACME %s: the %s is not a JSON object", url, what);
        return NULL;
    }
    return obj;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* A failed object (order, authorization, challenge): its "error", verbatim. */
static int fail_object(acme_order *o, json_object *obj, const char *what, const char *name,
                       omlop_err *err)
{
    json_object *e = NULL;
    acme_problem *p;
    int rc;

    json_object_object_get_ex(obj, "error", &e);
    if (!e || !json_object_is_type(e, json_type_object)) {
        omlop_err_set(err, OMLOP_EPERM, "ACME %s for %s is invalid (the CA gave no error)", what,
                      name);
        return fail(o, NULL, err);
    }
    p = acme_problem_from_json(e);
    omlop_err_set(err, acme_problem_code(p), "ACME %s for %s is invalid: %s: %s", what, name,
                  *p->type ? p->type : "(no problem type)", p->detail);
    rc = fail(o, p, err);
    acme_problem_free(p);
    return rc;
}

/* Read an order object's finalize/certificate URLs and act on its status. */
static int order_status(acme_order *o, json_object *obj, const acme_resp *r, int64_t *wait_ms,
                        omlop_err *err)
{
    const char *status = get_str(obj, "status");
    const char *fin = get_str(obj, "finalize"), *cert = get_str(obj, "certificate");
    const char *name = o->domains[0];

    if (fin)
        set_str(&o->finalize_url, fin);
    if (cert)
        set_str(&o->cert_url, cert);
    if (!status)
        return omlop_err_set(err, OMLOP_EPROTO, "ACME order %s: no status", o->order_url);
    if (strcmp(status, "invalid") == 0)
        return fail_object(o, obj, "order", name, err);
    if (strcmp(status, "valid") == 0) {
        if (!o->cert_url)
            return omlop_err_set(err, OMLOP_EPROTO, "ACME order %s: valid without certificate",
                                 o->order_url);
        o->st = OS_DOWNLOAD;
        return 0;
    }
    if (strcmp(status, "ready") == 0 && !o->finalized) {
        o->st = OS_FINALIZE;
        return 0;
    }
    if (strcmp(status, "pending") == 0 || strcmp(status, "ready") == 0 ||
        strcmp(status, "processing") == 0) {
        if (o->st == OS_ORDER_POLL && ++o->polls >= o->c->max_polls)
            return omlop_err_set(err, OMLOP_ETIMEOUT, "ACME order %s still %s after %d polls",
                                 o->order_url, status, o->c->max_polls);
        if (o->st != OS_ORDER_POLL)
            o->polls = 0;
        o->st = OS_ORDER_POLL;
        *wait_ms = acme_wait_ms(o->c, r);
        return 0;
    }
    return omlop_err_set(err, OMLOP_EPROTO, "ACME order %s: unknown status '%s'", o->order_url,
                         status);
}

static int step_new_order(acme_order *o, int64_t *wait_ms, omlop_err *err)
{
    strbuf payload = STRBUF_INIT;
    acme_resp r = {0};
    json_object *obj = NULL, *az;
    int rc;

    strbuf_adds(&payload, "{\"identifiers\":[");
    for (size_t i = 0; i < o->n_domains; i++)
        strbuf_addf(&payload, "%s{\"type\":\"dns\",\"value\":\"%s\"}", i ? "," : "",
                    o->domains[i]); /* checked host names: nothing to escape */
    strbuf_adds(&payload, "]}");
    rc = acme_post(o->c, o->c->dir_new_order, payload.buf, 0, NULL, &r, err);
    if (rc < 0) {
        rc = fail_request(o, rc, err);
        goto out;
    }
    if (!r.location) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "ACME %s: order created without a Location",
                           o->c->dir_new_order);
        goto out;
    }
    set_str(&o->order_url, r.location);
    obj = parse_obj(&r, "order", o->order_url, err);
    if (!obj) {
        rc = err ? err->code : OMLOP_EPROTO;
        goto out;
    }
    if (!json_object_object_get_ex(obj, "authorizations", &az) ||
        !json_object_is_type(az, json_type_array) || json_object_array_length(az) > 1000) {
        rc =
            omlop_err_set(err, OMLOP_EPROTO, "ACME order %s: no authorizations list", o->order_url);
        goto out;
    }
    o->n_authz = json_object_array_length(az);
    o->authz = xcalloc(o->n_authz + 1, sizeof(char *));
    for (size_t i = 0; i < o->n_authz; i++) {
        json_object *u = json_object_array_get_idx(az, i);

        if (!json_object_is_type(u, json_type_string)) {
            rc = omlop_err_set(err, OMLOP_EPROTO, "ACME order %s: authorization %zu not a URL",
                               o->order_url, i);
            goto out;
        }
        o->authz[i] = xstrdup(json_object_get_string(u));
    }
    o->i_authz = 0;
    o->st = OS_AUTHZ;
    if (strcmp(get_str(obj, "status") ? get_str(obj, "status") : "", "pending") != 0)
        rc = order_status(o, obj, &r, wait_ms, err); /* ready or valid already (reused authz) */
out:
    json_object_put(obj);
    acme_resp_release(&r);
    strbuf_release(&payload);
    return rc;
}

/* The http-01 challenge object of an authorization, or NULL. */
static json_object *http01_of(json_object *authz)
{
    json_object *chs;

    if (!json_object_object_get_ex(authz, "challenges", &chs) ||
        !json_object_is_type(chs, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(chs); i++) {
        json_object *ch = json_object_array_get_idx(chs, i);
        const char *t = json_object_is_type(ch, json_type_object) ? get_str(ch, "type") : NULL;

        if (t && strcmp(t, "http-01") == 0)
            return ch;
    }
    return NULL;
}

/* After authorization i_authz is valid: the next one, or wait for the order. */
static void authz_next(acme_order *o)
{
    o->i_authz++;
    o->polls = 0;
    o->st = o->i_authz < o->n_authz ? OS_AUTHZ : OS_ORDER_POLL;
}

/* An authorization that failed: the http-01 challenge's error says why, else its own. */
static int authz_invalid(acme_order *o, json_object *obj, const char *name, omlop_err *err)
{
    json_object *ch = http01_of(obj), *e;

    if (ch && json_object_object_get_ex(ch, "error", &e))
        return fail_object(o, ch, "authorization", name, err);
    return fail_object(o, obj, "authorization", name, err);
}

static int present(acme_order *o, const char *name, json_object *ch, omlop_err *err)
{
    const char *token = get_str(ch, "token"), *url = get_str(ch, "url");
    strbuf ka = STRBUF_INIT;
    presented *p;
    int rc;

    if (!url)
        return omlop_err_set(err, OMLOP_EPROTO, "ACME http-01 challenge for %s has no url", name);
    rc = acme_key_authorization(o->c, token, &ka, err);
    if (rc < 0)
        return rc;
    rc = o->present(o->ud, name, token, ka.buf, err);
    if (rc < 0) {
        omlop_err_prefix(err, "http-01 for %s: ", name);
        strbuf_release(&ka);
        return rc;
    }
    o->pres = xrealloc(o->pres, (o->n_pres + 1) * sizeof(*o->pres));
    p = &o->pres[o->n_pres++];
    p->domain = xstrdup(name);
    p->token = xstrdup(token);
    p->key_authz = strbuf_detach(&ka, NULL);
    set_str(&o->chall_url, url);
    set_str(&o->chall_domain, name);
    return 0;
}

static int step_authz(acme_order *o, int64_t *wait_ms, omlop_err *err)
{
    const char *url = o->authz[o->i_authz];
    acme_resp r = {0};
    json_object *obj = NULL, *id, *ch;
    const char *status, *name = NULL, *chst;
    int rc = acme_post(o->c, url, NULL, 0, NULL, &r, err);

    if (rc < 0) {
        rc = fail_request(o, rc, err);
        goto out;
    }
    obj = parse_obj(&r, "authorization", url, err);
    if (!obj) {
        rc = err ? err->code : OMLOP_EPROTO;
        goto out;
    }
    status = get_str(obj, "status");
    if (json_object_object_get_ex(obj, "identifier", &id) &&
        json_object_is_type(id, json_type_object))
        name = get_str(id, "value");
    if (!status || !name) {
        rc =
            omlop_err_set(err, OMLOP_EPROTO, "ACME authorization %s: no status or identifier", url);
        goto out;
    }
    if (strcmp(status, "valid") == 0) {
        authz_next(o);
    } else if (strcmp(status, "invalid") == 0 || strcmp(status, "deactivated") == 0 ||
               strcmp(status, "expired") == 0 || strcmp(status, "revoked") == 0) {
        rc = authz_invalid(o, obj, name, err);
    } else if (o->st == OS_AUTHZ_POLL) {
        if (++o->polls >= o->c->max_polls)
            rc = omlop_err_set(err, OMLOP_ETIMEOUT,
                               "ACME authorization for %s still %s after %d polls", name, status,
                               o->c->max_polls);
        else
            *wait_ms = acme_wait_ms(o->c, &r);
    } else if (!(ch = http01_of(obj))) {
        rc = omlop_err_set(err, OMLOP_EPROTO,
                           "ACME authorization for %s offers no http-01 challenge (a wildcard "
                           "name needs dns-01, which omlop does not do)",
                           name);
    } else {
        chst = get_str(ch, "status");
        rc = present(o, name, ch, err);
        if (rc == 0 && chst && strcmp(chst, "pending") != 0) {
            o->polls = 0; /* already answered (an earlier attempt): just wait for it */
            o->st = OS_AUTHZ_POLL;
            *wait_ms = acme_wait_ms(o->c, &r);
        } else if (rc == 0) {
            o->st = OS_CHALLENGE;
        }
    }
out:
    json_object_put(obj);
    acme_resp_release(&r);
    return rc;
}

static int step_challenge(acme_order *o, int64_t *wait_ms, omlop_err *err)
{
    acme_resp r = {0};
    int rc = acme_post(o->c, o->chall_url, "{}", 0, NULL, &r, err);

    if (rc < 0)
        rc = fail_request(o, rc, err);
    else {
        o->polls = 0;
        o->st = OS_AUTHZ_POLL;
        *wait_ms = acme_wait_ms(o->c, &r);
    }
    acme_resp_release(&r);
    return rc;
}

/* POST-as-GET the order (poll) or finalize it, then act on its status. */
static int step_order(acme_order *o, int64_t *wait_ms, omlop_err *err)
{
    strbuf payload = STRBUF_INIT;
    acme_resp r = {0};
    json_object *obj = NULL;
    const char *url = o->st == OS_FINALIZE ? o->finalize_url : o->order_url;
    int rc;

    if (o->st == OS_FINALIZE) {
        unsigned char *der = NULL;
        size_t len = 0;

        if (!url) {
            rc = omlop_err_set(err, OMLOP_EPROTO, "ACME order %s: no finalize URL", o->order_url);
            goto out;
        }
        rc = tlspair_csr_der(o->cert_key_pem, (const char *const *)o->domains, o->n_domains, &der,
                             &len, err);
        if (rc < 0)
            goto out;
        strbuf_adds(&payload, "{\"csr\":\"");
        acme_b64url(&payload, der, len);
        strbuf_adds(&payload, "\"}");
        free(der);
    }
    rc = acme_post(o->c, url, o->st == OS_FINALIZE ? payload.buf : NULL, 0, NULL, &r, err);
    if (rc < 0) {
        rc = fail_request(o, rc, err);
        goto out;
    }
    if (o->st == OS_FINALIZE) {
        o->finalized = 1;
        o->st = OS_ORDER_POLL;
        o->polls = 0;
    }
    obj = parse_obj(&r, "order", url, err);
    rc = obj ? order_status(o, obj, &r, wait_ms, err) : (err ? err->code : OMLOP_EPROTO);
out:
    json_object_put(obj);
    acme_resp_release(&r);
    strbuf_release(&payload);
    return rc;
}

static int step_download(acme_order *o, omlop_err *err)
{
    acme_resp r = {0};
    tlspair_info info;
    int rc = acme_post(o->c, o->cert_url, NULL, 0, "application/pem-certificate-chain", &r, err);

    if (rc < 0) {
        rc = fail_request(o, rc, err);
        goto out;
    }
    rc = tlspair_inspect(strbuf_str(&r.body), &info, err);
    if (rc < 0) {
        omlop_err_prefix(err, "ACME %s: downloaded ", o->cert_url);
        goto out;
    }
    tlspair_info_release(&info);
    o->chain = strbuf_detach(&r.body, NULL);
    o->st = OS_VALID;
    run_cleanup(o);
out:
    acme_resp_release(&r);
    return rc;
}

int acme_order_step(acme_order *o, int64_t *wait_ms, omlop_err *err)
{
    omlop_err local = OMLOP_ERR_INIT;
    int found = 0, rc = 0;

    *wait_ms = 0;
    if (!err)
        err = &local;
    o->transient = 0;
    if (o->st != OS_FAILED) {
        acme_problem_free(o->problem);
        o->problem = NULL;
    }
    switch (o->st) {
    case OS_FAILED:
        return omlop_err_set(err, o->fail_code, "%s", o->fail_msg);
    case OS_VALID:
        return 0;
    case OS_DIRECTORY:
        rc = acme_directory(o->c, err);
        if (rc == 0)
            o->st = o->c->account_url ? OS_NEW_ORDER : OS_ACCOUNT_LOOKUP;
        else
            rc = fail_request(o, rc, err);
        break;
    case OS_ACCOUNT_LOOKUP:
        rc = acme_account_lookup(o->c, &found, err);
        if (rc == 0)
            o->st = found ? OS_NEW_ORDER : OS_ACCOUNT_REGISTER;
        else
            rc = fail_request(o, rc, err);
        break;
    case OS_ACCOUNT_REGISTER:
        rc = acme_account_register(o->c, err);
        if (rc == 0)
            o->st = OS_NEW_ORDER;
        else
            rc = fail_request(o, rc, err);
        break;
    case OS_NEW_ORDER:
        rc = step_new_order(o, wait_ms, err);
        break;
    case OS_AUTHZ:
    case OS_AUTHZ_POLL:
        rc = step_authz(o, wait_ms, err);
        break;
    case OS_CHALLENGE:
        rc = step_challenge(o, wait_ms, err);
        break;
    case OS_ORDER_POLL:
    case OS_FINALIZE:
        rc = step_order(o, wait_ms, err);
        break;
    case OS_DOWNLOAD:
        rc = step_download(o, err);
        break;
    }
    if (rc < 0 && o->st != OS_FAILED && !o->transient)
        rc = fail(o, acme_client_problem(o->c), err);
    return rc;
}

int acme_order_run(acme_order *o, omlop_err *err)
{
    /* every state either advances or counts a bounded poll: this loop ends */
    while (!acme_order_is_done(o)) {
        int64_t wait_ms = 0;
        int rc = acme_order_step(o, &wait_ms, err);

        if (rc < 0)
            return rc;
        if (wait_ms > 0) {
            if (o->c->hooks.sleep_ms)
                o->c->hooks.sleep_ms(o->c->hooks.ud, wait_ms);
            else
                clock_sleep_ms(wait_ms);
        }
    }
    return 0;
}

int acme_order_new(acme_client *c, const acme_order_req *req, acme_order **out, omlop_err *err)
{
    acme_order *o;

    *out = NULL;
    if (req->n_domains == 0 || req->n_domains > ACME_MAX_DOMAINS)
        return omlop_err_set(err, OMLOP_EINVAL, "ACME order: want 1 to %d domains, got %zu",
                             ACME_MAX_DOMAINS, req->n_domains);
    for (size_t i = 0; i < req->n_domains; i++) {
        const char *d = req->domains[i];
        int ok = d && *d && strlen(d) <= 253 && !strchr(d, '*');

        for (const char *p = d; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '-' || *p == '.';
        if (!ok)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "ACME order: domain '%s' is not a DNS name (no wildcards: "
                                 "http-01 cannot validate them)",
                                 d ? d : "(null)");
    }
    if (!req->cert_key_pem || !req->present)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "ACME order: the certificate key and the http-01 solver are "
                             "required");
    o = xcalloc(1, sizeof(*o));
    o->c = c;
    o->domains = xcalloc(req->n_domains + 1, sizeof(char *));
    for (size_t i = 0; i < req->n_domains; i++)
        o->domains[i] = xstrdup(req->domains[i]);
    o->n_domains = req->n_domains;
    o->cert_key_pem = xstrdup(req->cert_key_pem);
    o->present = req->present;
    o->cleanup = req->cleanup;
    o->ud = req->ud;
    o->st = c->have_dir ? (c->account_url ? OS_NEW_ORDER : OS_ACCOUNT_LOOKUP) : OS_DIRECTORY;
    *out = o;
    return 0;
}

void acme_order_free(acme_order *o)
{
    if (!o)
        return;
    run_cleanup(o);
    order_reset(o);
    for (size_t i = 0; i < o->n_domains; i++)
        free(o->domains[i]);
    free(o->domains);
    tlspair_free_secret(o->cert_key_pem);
    free(o->chain);
    acme_problem_free(o->problem);
    free(o);
}

int acme_order_is_done(const acme_order *o)
{
    return o->st == OS_VALID;
}

int acme_order_is_failed(const acme_order *o)
{
    return o->st == OS_FAILED;
}

const char *acme_order_state(const acme_order *o)
{
    return state_names[o->st];
}

const char *acme_order_chain(const acme_order *o)
{
    return o->chain;
}

const char *acme_order_url(const acme_order *o)
{
    return o->order_url;
}

const acme_problem *acme_order_problem(const acme_order *o)
{
    return o->problem;
}
