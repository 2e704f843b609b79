/*
 * tls: the certificate reconciler - which pair a tenant's readers get (see tls.h).
 */
#include "reconcilers/tls.h"
#include "reconcilers/tls_int.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clients/ssh_keys.h"
#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "objects/objects.h"
#include "reconcilers/desired.h"
#include "reconcilers/tls_acme.h"

/* ---- SANs ---------------------------------------------------------------------------------- */

/* Whether two IP texts name one address (two spellings of an IPv6 address are one). */
static int ip_same(const char *a, const char *b)
{
    unsigned char x[16], y[16];

    if (inet_pton(AF_INET, a, x) == 1)
        return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
    if (inet_pton(AF_INET6, a, x) == 1)
        return inet_pton(AF_INET6, b, y) == 1 && memcmp(x, y, 16) == 0;
    return strcmp(a, b) == 0;
}

static void ip_add(tls_sans *s, const char *ip)
{
    if (!ip || !*ip)
        return;
    for (size_t i = 0; i < s->n_ips; i++)
        if (ip_same(s->ips[i], ip))
            return;
    s->ips = xrealloc(s->ips, (s->n_ips + 1) * sizeof(*s->ips));
    s->ips[s->n_ips++] = xstrdup(ip);
}

void tls_sans_of(const json_object *tenant, tls_sans *out)
{
    const char *fqdn = cjson_get_string(tenant, "spec.network.fqdn");
    json_object *hosts = cjson_get(tenant, "spec.hosts");

    memset(out, 0, sizeof(*out));
    if (fqdn && *fqdn) {
        out->dns = xcalloc(1, sizeof(*out->dns));
        out->dns[out->n_dns++] = xstrdup(fqdn);
    }
    for (size_t i = 0; hosts && json_object_is_type(hosts, json_type_array) &&
                       i < json_object_array_length(hosts);
         i++)
        ip_add(out, cjson_get_string(json_object_array_get_idx(hosts, i), "lanIP"));
    ip_add(out, cjson_get_string(tenant, "spec.ha.omnileadsVIP"));
}

void tls_sans_release(tls_sans *s)
{
    for (size_t i = 0; i < s->n_dns; i++)
        free(s->dns[i]);
    for (size_t i = 0; i < s->n_ips; i++)
        free(s->ips[i]);
    free(s->dns);
    free(s->ips);
    memset(s, 0, sizeof(*s));
}

/* ---- decisions ----------------------------------------------------------------------------- */

const char *tls_issue_why_text(tls_issue_why why)
{
    switch (why) {
    case TLS_KEEP:
        return "kept";
    case TLS_ISSUE_MISSING:
        return "no usable pair";
    case TLS_ISSUE_DUE:
        return "renewal due";
    case TLS_ISSUE_SANS:
        return "the names to cover changed";
    case TLS_ISSUE_NOT_OWNED:
        return "the Secret is not omlop's";
    case TLS_ISSUE_SOURCE:
        return "the pair is not from the tenant's ACME server";
    }
    return "?";
}

/* Whether the certificate's SANs are exactly want's (as sets: DNS case-insensitive, IPs by
 * address). */
static int sans_equal(const tlspair_info *cur, const tls_sans *want)
{
    if (cur->n_dns != want->n_dns || cur->n_ips != want->n_ips)
        return 0;
    for (size_t i = 0; i < want->n_dns; i++) {
        int found = 0;

        for (size_t k = 0; k < cur->n_dns && !found; k++)
            found = strcasecmp(cur->dns_names[k], want->dns[i]) == 0;
        if (!found)
            return 0;
    }
    for (size_t i = 0; i < want->n_ips; i++) {
        int found = 0;

        for (size_t k = 0; k < cur->n_ips && !found; k++)
            found = ip_same(cur->ip_addrs[k], want->ips[i]);
        if (!found)
            return 0;
    }
    return 1;
}

double tls_fraction_of(double f)
{
    return f > 0 && f < 1 ? f : TLSPAIR_RENEW_FRACTION;
}

tls_issue_why tls_selfsigned_decide(const tlspair_info *cur, const tls_sans *want, int64_t now,
                                    double fraction)
{
    int64_t at = 0;
    omlop_err err = OMLOP_ERR_INIT;

    if (!cur)
        return TLS_ISSUE_MISSING;
    if (!sans_equal(cur, want))
        return TLS_ISSUE_SANS;
    if (tlspair_renew_at(cur->not_before, cur->not_after, tls_fraction_of(fraction), &at, &err) < 0)
        return TLS_ISSUE_MISSING; /* notAfter <= notBefore: not a pair to keep */
    return now >= at ? TLS_ISSUE_DUE : TLS_KEEP;
}

int64_t tls_requeue_ms(const tlspair_info *info, int is_renewable, double fraction, int64_t now_ms)
{
    int64_t cand[3], best = 0, at = 0;
    omlop_err err = OMLOP_ERR_INIT;
    size_t n = 0;

    if (!info)
        return 0;
    if (is_renewable && tlspair_renew_at(info->not_before, info->not_after,
                                         tls_fraction_of(fraction), &at, &err) == 0)
        cand[n++] = at;
    cand[n++] = info->not_after - TLS_EXPIRING_SOON_S;
    cand[n++] = info->not_after;
    for (size_t i = 0; i < n; i++) {
        /* the first whole second at which the round sees the change (now >= t) */
        int64_t ms = cand[i] * 1000 - now_ms;

        if (ms > 0 && (best == 0 || ms < best))
            best = ms;
    }
    return best;
}

int64_t tls_wall_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Secrets ------------------------------------------------------------------------------- */

/* The string member key of object o (keys hold dots: "tls.crt"; no dotted-path getter), or NULL. */
const char *tls_member_string(const json_object *o, const char *key)
{
    json_object *v = NULL;

    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Append Secret obj's value of key (stringData, else data in base64) to out; ENOTFOUND. */
int tls_secret_value(const json_object *obj, const char *name, const char *key, strbuf *out,
                     omlop_err *err)
{
    const char *v;

    if ((v = tls_member_string(cjson_get(obj, "stringData"), key)) != NULL) {
        strbuf_adds(out, v);
        return 0;
    }
    if ((v = tls_member_string(cjson_get(obj, "data"), key)) != NULL) {
        if (ssh_keys_base64_decode(v, out, err) < 0)
            return omlop_err_set(err, OMLOP_EINVAL, "Secret %s key %s: data is not valid base64",
                                 name, key);
        return 0;
    }
    return omlop_err_set(err, OMLOP_ENOTFOUND, "Secret %s has no key %s", name, key);
}

void tls_wipe(strbuf *sb)
{
    if (sb->buf)
        OPENSSL_cleanse(sb->buf, sb->len);
    strbuf_release(sb);
}

int tls_has_label(const json_object *obj, const char *key, const char *value)
{
    json_object *v = NULL;

    /* label keys hold dots: no dotted-path getter */
    return json_object_object_get_ex(cjson_get(obj, "metadata.labels"), key, &v) &&
           json_object_is_type(v, json_type_string) &&
           strcmp(json_object_get_string(v), value) == 0;
}

int tls_is_generated(const json_object *secret, const char *tenant)
{
    return tls_has_label(secret, OMLOP_LABEL_TENANT, tenant) &&
           tls_has_label(secret, OMLOP_LABEL_MANAGED_BY, OMLOP_MANAGER_NAME);
}

json_object *tls_b64_json(const char *s)
{
    size_t len = strlen(s);
    unsigned char *b = xmalloc(4 * ((len + 2) / 3) + 1);
    json_object *j;

    EVP_EncodeBlock(b, (const unsigned char *)s, (int)len);
    j = json_object_new_string((const char *)b);
    OPENSSL_cleanse(b, 4 * ((len + 2) / 3) + 1);
    free(b);
    return j;
}

/* Fill obj (a Secret) with the pair and the labels of a generated Secret. */
static void pair_fill(json_object *obj, const pair_write *pw)
{
    json_object *meta = cjson_get(obj, "metadata"), *labels, *annotations;
    json_object *data = json_object_new_object();

    if (!meta) {
        meta = json_object_new_object();
        json_object_object_add(obj, "metadata", meta);
    }
    json_object_object_add(meta, "name", json_object_new_string(pw->name));
    labels = cjson_get(meta, "labels");
    if (!labels || !json_object_is_type(labels, json_type_object)) {
        labels = json_object_new_object();
        json_object_object_add(meta, "labels", labels);
    }
    json_object_object_add(labels, OMLOP_LABEL_TENANT, json_object_new_string(pw->tenant));
    json_object_object_add(labels, OMLOP_LABEL_MANAGED_BY,
                           json_object_new_string(OMLOP_MANAGER_NAME));
    annotations = cjson_get(meta, "annotations");
    if (pw->source) {
        if (!annotations || !json_object_is_type(annotations, json_type_object)) {
            annotations = json_object_new_object();
            json_object_object_add(meta, "annotations", annotations);
        }
        json_object_object_add(annotations, TLS_ANNOTATION_SOURCE,
                               json_object_new_string(pw->source));
    } else if (annotations && json_object_is_type(annotations, json_type_object)) {
        json_object_object_del(annotations, TLS_ANNOTATION_SOURCE);
    }
    json_object_object_add(obj, "type", json_object_new_string("kubernetes.io/tls"));
    json_object_object_add(data, "tls.crt", tls_b64_json(pw->cert));
    json_object_object_add(data, "tls.key", tls_b64_json(pw->key));
    json_object_object_add(obj, "data", data);
    json_object_object_del(obj, "stringData");
}

/* obj_mutate_fn: put the new pair in the Secret, if it is still the tenant's generated one. */
static int pair_mutate(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    const pair_write *pw = ctx;

    if (!tls_is_generated(cur, pw->tenant))
        return omlop_err_set(err, OMLOP_EEXIST,
                             "Secret %s exists and was not generated by omlop for tenant %s "
                             "(labels %s, %s): remove or rename it",
                             pw->name, pw->tenant, OMLOP_LABEL_TENANT, OMLOP_LABEL_MANAGED_BY);
    pair_fill(next, pw);
    return 0;
}

/* Store the pair in the tenant's generated Secret: created, or updated when it exists. */
int tls_pair_store(store *st, const pair_write *pw, int exists, int64_t *revision, omlop_err *err)
{
    obj_result res = {0};
    int rc;

    if (exists) {
        rc = obj_update(st, "secrets", pw->name, NULL, pair_mutate, (void *)pw, &res, err);
    } else {
        json_object *obj = json_object_new_object();

        json_object_object_add(obj, "apiVersion", json_object_new_string("omlop.io/v1alpha1"));
        json_object_object_add(obj, "kind", json_object_new_string("Secret"));
        pair_fill(obj, pw);
        /* the write path stamps uid, creationTimestamp and generation */
        rc = obj_create(st, "secrets", obj, 0, &res, err);
        json_object_put(obj);
    }
    *revision = res.revision;
    obj_result_release(&res);
    return rc;
}

/* ---- the modes ----------------------------------------------------------------------------- */

void tls_set_fail(tls_result *r, const char *reason, const char *fmt, ...)
{
    va_list ap;

    r->fail_reason = reason;
    va_start(ap, fmt);
    vsnprintf(r->fail_msg, sizeof(r->fail_msg), fmt, ap);
    va_end(ap);
}

/*
 * Whether cert is what the round before accepted from the Secret at this revision
 * (status.tls.digest and secretRevision): then its key was checked against it already. Parsing
 * a private key costs milliseconds with OpenSSL 3's decoders; a no-change round must not pay
 * that for every tenant.
 */
int tls_is_accepted(const json_object *tenant, const char *secret, int64_t revision,
                    const char *cert)
{
    const char *digest = cjson_get_string(tenant, "status.tls.digest");
    const char *name = cjson_get_string(tenant, "status.tls.secretName");
    char hex[CJSON_HASH_HEX_LEN + 1];

    if (!digest || !name || strcmp(name, secret) != 0 || revision <= 0 ||
        cjson_get_int(tenant, "status.tls.secretRevision", 0) != revision)
        return 0;
    cjson_sha256_hex(cert, strlen(cert), hex);
    return strcmp(hex, digest) == 0;
}

/* Take the pair: digest, inspection, when to look again. */
int tls_pair_take(tls_result *r, strbuf *cert, strbuf *key, int is_renewable, const tls_options *o,
                  tlspair_info *known, omlop_err *err)
{
    int rc;

    r->cert_pem = strbuf_detach(cert, NULL);
    r->key_pem = strbuf_detach(key, NULL);
    cjson_sha256_hex(r->cert_pem, strlen(r->cert_pem), r->digest);
    if (known) {
        /* parsing the chain again would double the cost of a no-change round's check */
        r->info = *known;
        memset(known, 0, sizeof(*known));
    } else if ((rc = tlspair_inspect(r->cert_pem, &r->info, err)) < 0) {
        return rc;
    }
    r->has_info = 1;
    if (is_renewable) {
        omlop_err e = OMLOP_ERR_INIT;

        if (tlspair_renew_at(r->info.not_before, r->info.not_after,
                             tls_fraction_of(o->renew_fraction), &r->next_renewal, &e) < 0)
            r->next_renewal = 0;
    }
    r->requeue_ms = tls_requeue_ms(&r->info, is_renewable, o->renew_fraction, o->now * 1000);
    r->is_expiring_soon = r->info.not_after - o->now < TLS_EXPIRING_SOON_S;
    return 0;
}

static int resolve_selfsigned(store *st, const char *tenant, const json_object *obj,
                              const tls_options *o, tls_result *r, omlop_err *err)
{
    strbuf name = STRBUF_INIT, cert = STRBUF_INIT, key = STRBUF_INIT;
    json_object *secret = NULL;
    tlspair_info cur;
    int has_cur = 0, exists = 0, is_new = 0, rc;
    tls_sans sans;
    omlop_err e = OMLOP_ERR_INIT;

    memset(&cur, 0, sizeof(cur));
    tls_sans_of(obj, &sans);
    strbuf_addf(&name, "%s%s", tenant, TLS_SECRET_SUFFIX);
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
            r->issued = TLS_KEEP;
            tls_set_fail(
                r, TLS_REASON_NOT_OWNED,
                "Secret %s exists and was not generated by omlop for tenant %s (labels %s, "
                "%s): remove or rename it, or use tls.mode custom with it",
                name.buf, tenant, OMLOP_LABEL_TENANT, OMLOP_LABEL_MANAGED_BY);
            goto out;
        }
        /* a pair that does not parse or whose key is not the certificate's is issued again */
        if (tls_secret_value(secret, name.buf, "tls.crt", &cert, &e) == 0 &&
            tls_secret_value(secret, name.buf, "tls.key", &key, &e) == 0 &&
            (tls_is_accepted(obj, name.buf, r->secret_revision, cert.buf) ||
             tlspair_validate(cert.buf, key.buf, NULL, NULL, &e) == 0) &&
            tlspair_inspect(cert.buf, &cur, &e) == 0)
            has_cur = 1;
    }
    r->issued = tls_selfsigned_decide(has_cur ? &cur : NULL, &sans, o->now, o->renew_fraction);
    if (r->issued != TLS_KEEP) {
        tlspair_selfsigned_opts so;
        char *ncert = NULL, *nkey = NULL;
        pair_write pw;

        memset(&so, 0, sizeof(so));
        so.common_name = sans.n_dns ? sans.dns[0] : tenant;
        so.dns_names = (const char *const *)sans.dns;
        so.n_dns = sans.n_dns;
        so.ip_addrs = (const char *const *)sans.ips;
        so.n_ips = sans.n_ips;
        so.now = o->now;
        so.lifetime_s = o->lifetime_s;
        if (tlspair_selfsigned(&so, &ncert, &nkey, &e) < 0) {
            tls_set_fail(r, TLS_REASON_ISSUE_FAILED, "issuing a self-signed certificate: %s",
                         e.msg);
            r->issued = TLS_KEEP;
            goto keep; /* the pair there (if any) stays */
        }
        memset(&pw, 0, sizeof(pw)); /* no source annotation: a self-signed pair */
        pw.tenant = tenant;
        pw.name = name.buf;
        pw.cert = ncert;
        pw.key = nkey;
        rc = tls_pair_store(st, &pw, exists, &r->secret_revision, err);
        if (rc == 0) {
            tls_wipe(&cert);
            tls_wipe(&key);
            strbuf_adds(&cert, ncert);
            strbuf_adds(&key, nkey);
            has_cur = 1;
            is_new = 1; /* cur describes the old pair */
        }
        free(ncert);
        tlspair_free_secret(nkey);
        if (rc < 0) {
            omlop_err_prefix(err, "storing the self-signed pair in Secret %s: ", name.buf);
            goto out;
        }
    }
keep:
    if (has_cur)
        rc = tls_pair_take(r, &cert, &key, 1, o, is_new ? NULL : &cur, err);
out:
    tlspair_info_release(&cur);
    tls_sans_release(&sans);
    json_object_put(secret);
    tls_wipe(&cert);
    tls_wipe(&key);
    strbuf_release(&name);
    return rc;
}

static int resolve_custom(store *st, const json_object *obj, const tls_options *o, tls_result *r,
                          omlop_err *err)
{
    const char *name = cjson_get_string(obj, "spec.tls.secretRef.name");
    strbuf cert = STRBUF_INIT, key = STRBUF_INIT, ca = STRBUF_INIT;
    json_object *secret = NULL;
    tlspair_validate_opts vo;
    tlspair_check failed = TLSPAIR_CHECK_OK;
    omlop_err e = OMLOP_ERR_INIT;
    int rc, is_known;

    if (!name || !*name) {
        tls_set_fail(r, TLS_REASON_NO_SECRETREF,
                     "spec.tls.secretRef.name is required with tls.mode custom");
        return 0;
    }
    r->secret = xstrdup(name);
    rc = obj_get(st, "secrets", name, &secret, &r->secret_revision, err);
    if (rc == OMLOP_ENOTFOUND) {
        omlop_err_clear(err);
        tls_set_fail(
            r, "SecretNotFound",
            "Secret %s (spec.tls.secretRef) not found: create it with tls.crt and tls.key; "
            "the pair placed before stays on the hosts",
            name);
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    if (tls_secret_value(secret, name, "tls.crt", &cert, &e) < 0 ||
        tls_secret_value(secret, name, "tls.key", &key, &e) < 0) {
        tls_set_fail(r, e.code == OMLOP_ENOTFOUND ? "SecretNotFound" : "InvalidSecret",
                     "%s; the pair placed before stays on the hosts", e.msg);
        goto out;
    }
    if (tls_secret_value(secret, name, "ca.crt", &ca, &e) < 0 && e.code != OMLOP_ENOTFOUND) {
        tls_set_fail(r, "InvalidSecret", "%s; the pair placed before stays on the hosts", e.msg);
        goto out;
    }
    memset(&vo, 0, sizeof(vo));
    vo.ca_pem = ca.len ? ca.buf : NULL;
    vo.at = o->now;
    vo.fqdn = cjson_get_string(obj, "spec.network.fqdn");
    if (vo.fqdn && !*vo.fqdn)
        vo.fqdn = NULL;
    /* the key was checked when this revision was accepted; dates, names and the chain are
     * checked every round (they change with time and the spec) */
    is_known = cert.buf && tls_is_accepted(obj, name, r->secret_revision, cert.buf);
    if (tlspair_validate(cert.buf ? cert.buf : "",
                         is_known  ? NULL
                         : key.buf ? key.buf
                                   : "",
                         &vo, &failed, &e) < 0) {
        tls_set_fail(r, tlspair_check_reason(failed),
                     "Secret %s fails the check %s: %s; the pair placed before stays on the hosts",
                     name, tlspair_check_reason(failed), e.msg);
        goto out;
    }
    rc = tls_pair_take(r, &cert, &key, 0, o, NULL, err);
out:
    json_object_put(secret);
    tls_wipe(&cert);
    tls_wipe(&key);
    tls_wipe(&ca);
    return rc;
}

int tls_resolve(store *st, const json_object *tenant, const tls_options *o, tls_result *out,
                omlop_err *err)
{
    const char *name = cjson_get_string(tenant, "metadata.name");
    const char *mode = cjson_get_string(tenant, "spec.tls.mode");
    const char *placed = cjson_get_string(tenant, "status.tls.digest");
    int rc = 0;

    memset(out, 0, sizeof(*out));
    snprintf(out->mode, sizeof(out->mode), "%s", mode && *mode ? mode : "selfsigned");
    if (!name)
        return omlop_err_set(err, OMLOP_EINVAL, "tls: the tenant has no metadata.name");
    if (strcmp(out->mode, "selfsigned") == 0)
        rc = resolve_selfsigned(st, name, tenant, o, out, err);
    else if (strcmp(out->mode, "custom") == 0)
        rc = resolve_custom(st, tenant, o, out, err);
    else if (strcmp(out->mode, "acme") == 0)
        rc = tls_acme_resolve(st, name, tenant, o, out, err);
    if (rc == 0 && !out->cert_pem && placed && strlen(placed) == CJSON_HASH_HEX_LEN)
        snprintf(out->digest, sizeof(out->digest), "%s", placed); /* the last good pair stays */
    if (rc < 0)
        tls_result_release(out);
    return rc;
}

void tls_result_release(tls_result *r)
{
    free(r->secret);
    free(r->cert_pem);
    tlspair_free_secret(r->key_pem);
    tlspair_info_release(&r->info);
    memset(r, 0, sizeof(*r));
}
