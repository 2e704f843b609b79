/*
 * tenant_status: the pure status rules (see tenant_status.h).
 */
#include "reconcilers/tenant_status.h"

#include <string.h>

#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/strbuf.h"
#include "reconcilers/ha.h"

/* The CRD caps lastError and component messages at 4096 characters; stay well under. */
#define STATUS_TEXT_MAX 2048
/* How many lagging components a Ready=False message names before "...". */
#define STATUS_NAMED_MAX 5

static json_object *copy_json(const json_object *o)
{
    json_object *c = NULL;

    if (!o)
        return NULL;
    if (json_object_deep_copy((json_object *)o, &c, NULL) != 0)
        return NULL;
    return c;
}

/* A string object holding at most STATUS_TEXT_MAX bytes of s (cut on a UTF-8 boundary). */
static json_object *text_json(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n <= STATUS_TEXT_MAX)
        return json_object_new_string(s ? s : "");
    n = STATUS_TEXT_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return json_object_new_string_len(s, (int)n);
}

/* The condition of that type in the array conds, or NULL. */
static json_object *condition_in(const json_object *conds, const char *type)
{
    size_t n;

    if (!conds || !json_object_is_type(conds, json_type_array))
        return NULL;
    n = json_object_array_length(conds);
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        const char *t = cjson_get_string(c, "type");

        if (t && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

json_object *tenant_condition_find(const json_object *status, const char *type)
{
    return condition_in(cjson_get(status, "conditions"), type);
}

void tenant_condition_set(json_object *conds, const char *type, const char *status,
                          const char *reason, const char *message, int64_t generation,
                          const char *now)
{
    json_object *c = condition_in(conds, type);
    const char *old_status, *old_time;

    if (!c) {
        c = json_object_new_object();
        json_object_object_add(c, "type", json_object_new_string(type));
        json_object_array_add(conds, c);
    }
    old_status = cjson_get_string(c, "status");
    old_time = cjson_get_string(c, "lastTransitionTime");
    /* the condition's transition time is about its status only: a new reason or
     * message for the same status is not a transition */
    if (!old_status || !old_time || strcmp(old_status, status) != 0)
        json_object_object_add(c, "lastTransitionTime", json_object_new_string(now));
    json_object_object_add(c, "status", json_object_new_string(status));
    json_object_object_add(c, "reason", json_object_new_string(reason));
    json_object_object_add(c, "message", text_json(message));
    json_object_object_add(c, "observedGeneration", json_object_new_int64(generation));
}

/* The entry of array arr (under obj) whose "name" is name, or NULL. */
static json_object *find_named(const json_object *obj, const char *arr, const char *name)
{
    json_object *a = cjson_get(obj, arr);
    size_t n;

    if (!a || !json_object_is_type(a, json_type_array))
        return NULL;
    n = json_object_array_length(a);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        const char *en = cjson_get_string(e, "name");

        if (en && strcmp(en, name) == 0)
            return e;
    }
    return NULL;
}

static void add_str(json_object *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_object_add(o, key, json_object_new_string(v));
}

static json_object *component_json(const tenant_obs_component *c, const json_object *old_host,
                                   int is_host_reachable, const char *now)
{
    json_object *o = json_object_new_object();
    json_object *old = old_host ? find_named(old_host, "components", c->name) : NULL;
    const char *old_id = cjson_get_string(old, "containerID");
    const char *old_repaired = cjson_get_string(old, "lastDriftRepaired");
    int64_t restarts = cjson_get_int(old, "restarts", 0);

    json_object_object_add(o, "name", json_object_new_string(c->name));
    add_str(o, "image", c->image);
    json_object_object_add(o, "state",
                           json_object_new_string(c->state ? c->state : TENANT_STATE_UNKNOWN));
    if (c->container_id && *c->container_id)
        add_str(o, "containerID", c->container_id);
    else if (!is_host_reachable)
        add_str(o, "containerID", old_id); /* not seen this round: keep what we knew */
    if (c->readiness != TENANT_READINESS_UNCHECKED)
        json_object_object_add(o, "ready",
                               json_object_new_boolean(c->readiness == TENANT_READINESS_PASSED));
    if (restarts < 0)
        restarts = 0;
    if (c->is_restarted)
        restarts++;
    json_object_object_add(o, "restarts", json_object_new_int64(restarts));
    add_str(o, "specHash", c->spec_hash);
    /* created again where the last status knew a container: it was removed behind our back */
    if (c->is_repaired || (c->is_created && old_id && *old_id))
        add_str(o, "lastDriftRepaired", now);
    else
        add_str(o, "lastDriftRepaired", old_repaired);
    if (c->message && *c->message)
        json_object_object_add(o, "message", text_json(c->message));
    return o;
}

static json_object *hosts_json(const json_object *old_status, const tenant_obs *obs,
                               const char *now)
{
    json_object *hosts = json_object_new_array();

    for (size_t i = 0; i < obs->n_hosts; i++) {
        const tenant_obs_host *h = &obs->hosts[i];
        json_object *old = find_named(old_status, "hosts", h->name);
        json_object *o = json_object_new_object(), *comps = json_object_new_array();
        const char *fp = h->fingerprint && *h->fingerprint
                             ? h->fingerprint
                             : cjson_get_string(old, "hostKeyFingerprint");

        json_object_object_add(o, "name", json_object_new_string(h->name));
        json_object_object_add(o, "reachable", json_object_new_boolean(h->is_reachable));
        json_object_object_add(o, "lastError",
                               text_json(h->is_reachable ? "" : (h->error ? h->error : "")));
        if (h->is_reachable)
            add_str(o, "lastContactTime", now);
        else
            add_str(o, "lastContactTime", cjson_get_string(old, "lastContactTime"));
        add_str(o, "hostKeyFingerprint", fp);
        for (size_t j = 0; j < obs->n_components; j++) {
            const tenant_obs_component *c = &obs->components[j];

            if (strcmp(c->host, h->name) == 0)
                json_object_array_add(comps, component_json(c, old, h->is_reachable, now));
        }
        json_object_object_add(o, "components", comps);
        json_object_array_add(hosts, o);
    }
    return hosts;
}

/*
 * "host a: why; host b: why" for the unreachable hosts; returns how many. A
 * host's error names the host already (lib/err.h): it is quoted as it is.
 */
static size_t unreachable_text(const tenant_obs *obs, strbuf *out)
{
    size_t n = 0;

    for (size_t i = 0; i < obs->n_hosts; i++) {
        const tenant_obs_host *h = &obs->hosts[i];

        if (h->is_reachable)
            continue;
        if (n)
            strbuf_adds(out, "; ");
        if (h->error && *h->error)
            strbuf_adds(out, h->error);
        else
            strbuf_addf(out, "host %s: unreachable", h->name);
        n++;
    }
    return n;
}

/* The reason of the first unreachable host whose Secret is at fault, or NULL; *n counts them. */
static const char *secret_reason(const tenant_obs *obs, size_t *n)
{
    const char *first = NULL;

    *n = 0;
    for (size_t i = 0; i < obs->n_hosts; i++) {
        const tenant_obs_host *h = &obs->hosts[i];

        if (h->is_reachable || !h->reason || !*h->reason)
            continue;
        if (!first)
            first = h->reason;
        (*n)++;
    }
    return first;
}

/* "2 of 15 components not running as specified: asterisk on h1 (Missing), ..." */
static size_t lagging_text(const tenant_obs *obs, strbuf *out)
{
    size_t n = 0;

    for (size_t i = 0; i < obs->n_components; i++)
        n += !obs->components[i].is_current;
    if (n == 0)
        return 0;
    strbuf_addf(out, "%zu of %zu components not running as specified:", n, obs->n_components);
    for (size_t i = 0, named = 0; i < obs->n_components; i++) {
        const tenant_obs_component *c = &obs->components[i];

        if (c->is_current)
            continue;
        if (named == STATUS_NAMED_MAX) {
            strbuf_adds(out, ", ...");
            break;
        }
        strbuf_addf(out, "%s %s on %s (%s%s)", named ? "," : "", c->name, c->host,
                    c->state ? c->state : TENANT_STATE_UNKNOWN,
                    c->readiness == TENANT_READINESS_FAILED ? ", not ready" : "");
        named++;
    }
    return n;
}

/* status.images: component -> the image it runs now (first host that runs it). */
static json_object *images_json(const tenant_obs *obs)
{
    json_object *o = json_object_new_object();

    for (size_t i = 0; i < obs->n_components; i++) {
        const tenant_obs_component *c = &obs->components[i];

        if (c->image && c->container_id && *c->container_id &&
            !json_object_object_get_ex(o, c->name, NULL))
            json_object_object_add(o, c->name, json_object_new_string(c->image));
    }
    return o;
}

/*
 * add_str cut to max bytes (the CRD's maxLength: a status the schema refuses
 * would make the API refuse the next spec update), never inside a UTF-8
 * sequence.
 */
static void add_str_max(json_object *o, const char *key, const char *v, size_t max)
{
    size_t n;

    if (!v || !*v)
        return;
    n = strlen(v);
    if (n <= max) {
        json_object_object_add(o, key, json_object_new_string(v));
        return;
    }
    n = max;
    while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
        n--;
    json_object_object_add(o, key, json_object_new_string_len(v, (int)n));
}

static json_object *plan_json(const tenant_obs *obs)
{
    json_object *a = json_object_new_array();

    for (size_t i = 0; i < obs->n_plan && i < TENANT_STATUS_PLAN_MAX; i++) {
        const tenant_obs_action *pa = &obs->plan[i];
        json_object *o = json_object_new_object();

        /* limits: crds/tenant.yaml, status.plan */
        add_str_max(o, "host", pa->host, 63);
        add_str(o, "action", pa->action);
        add_str_max(o, "container", pa->container, 253);
        add_str_max(o, "path", pa->path, 4096);
        add_str_max(o, "component", pa->component, 63);
        add_str_max(o, "image", pa->image, 512);
        add_str_max(o, "reason", pa->reason, 1024);
        add_str_max(o, "error", pa->error, 4096);
        json_object_array_add(a, o);
    }
    return a;
}

static void add_time(json_object *o, const char *key, int64_t t)
{
    char buf[32];

    if (t <= 0)
        return;
    object_time_format((time_t)t, buf);
    json_object_object_add(o, key, json_object_new_string(buf));
}

/*
 * status.tls from the round's pair. Without a pair this round the block placed before stays
 * (only the mode follows the spec): the hosts still have that pair.
 */
static void tls_json(json_object *st, const json_object *old_status, const tenant_obs_tls *t,
                     const char *now)
{
    json_object *old = cjson_get(old_status, "tls"), *o, *dns, *ips;
    const char *old_digest = cjson_get_string(old, "digest");
    const char *old_last = cjson_get_string(old, "lastRenewal");

    if (!t->has_pair) {
        o = old ? copy_json(old) : json_object_new_object();
        json_object_object_add(o, "mode", json_object_new_string(t->mode ? t->mode : ""));
        json_object_object_add(st, "tls", o);
        return;
    }
    o = json_object_new_object();
    add_str(o, "mode", t->mode);
    add_str(o, "secretName", t->secret);
    if (t->secret_revision > 0)
        json_object_object_add(o, "secretRevision", json_object_new_int64(t->secret_revision));
    add_str(o, "digest", t->digest);
    add_time(o, "notBefore", t->not_before);
    add_time(o, "notAfter", t->not_after);
    add_str(o, "serial", t->serial);
    add_str(o, "issuer", t->issuer);
    dns = json_object_new_array();
    for (size_t i = 0; i < t->n_dns; i++)
        json_object_array_add(dns, json_object_new_string(t->dns_names[i]));
    json_object_object_add(o, "dnsNames", dns);
    ips = json_object_new_array();
    for (size_t i = 0; i < t->n_ips; i++)
        json_object_array_add(ips, json_object_new_string(t->ip_addrs[i]));
    json_object_object_add(o, "ipAddresses", ips);
    /* a new pair (issued, or a rotated custom Secret) is a renewal; the same pair keeps its time */
    if (!t->is_issued && old_last && old_digest && t->digest && strcmp(old_digest, t->digest) == 0)
        add_str(o, "lastRenewal", old_last);
    else
        add_str(o, "lastRenewal", now);
    add_time(o, "nextRenewal", t->next_renewal);
    json_object_object_add(st, "tls", o);
}

int tenant_status_compute(const json_object *old_status, const tenant_obs *obs, const char *now,
                          json_object **out, omlop_err *err)
{
    json_object *st = NULL, *conds;
    strbuf down = STRBUF_INIT, lag = STRBUF_INIT, msg = STRBUF_INIT;
    size_t n_down, n_lag, n_secret;
    const char *sreason;
    int is_ready;
    const char *phase;
    int64_t gen = obs->generation;
    int tls_failed = obs->tls && obs->tls->fail_reason;

    *out = NULL;
    if (old_status && json_object_is_type(old_status, json_type_object))
        st = copy_json(old_status); /* keeps fields other controllers own (lastBackup, url) */
    if (!st)
        st = json_object_new_object();
    if (!st)
        return omlop_err_set(err, OMLOP_ENOMEM, "tenant status: out of memory");
    conds = cjson_get(st, "conditions");
    if (!conds || !json_object_is_type(conds, json_type_array)) {
        conds = json_object_new_array();
        json_object_object_add(st, "conditions", conds);
    }
    n_down = unreachable_text(obs, &down);
    n_lag = lagging_text(obs, &lag);
    sreason = secret_reason(obs, &n_secret);
    is_ready = !obs->invalid && !obs->failed && n_down == 0 && n_lag == 0 && obs->n_components > 0;

    if (n_down == 0)
        strbuf_addf(&msg, "%zu of %zu hosts reachable", obs->n_hosts, obs->n_hosts);
    if (n_down && n_down == n_secret) /* not tried: whether they are reachable is unknown */
        tenant_condition_set(conds, "HostsReachable", "Unknown", sreason, down.buf, gen, now);
    else
        tenant_condition_set(conds, "HostsReachable", n_down ? "False" : "True",
                             n_down ? "HostUnreachable" : "AllHostsReachable",
                             n_down ? down.buf : msg.buf, gen, now);

    strbuf_reset(&msg);
    if (obs->invalid)
        tenant_condition_set(conds, "Degraded", "True", "InvalidSpec", obs->invalid, gen, now);
    else if (obs->failed) {
        strbuf_addf(&msg, "%s: %s", obs->failed, obs->failure ? obs->failure : "failed");
        tenant_condition_set(conds, "Degraded", "True", "ComponentFailed", msg.buf, gen, now);
    } else if (n_down)
        tenant_condition_set(conds, "Degraded", "True", sreason ? sreason : "HostUnreachable",
                             down.buf, gen, now);
    else if (tls_failed)
        tenant_condition_set(conds, "Degraded", "True", obs->tls->fail_reason,
                             obs->tls->fail_message ? obs->tls->fail_message : "", gen, now);
    else
        tenant_condition_set(conds, "Degraded", "False", "AsExpected", "", gen, now);

    strbuf_reset(&msg);
    if (obs->invalid)
        tenant_condition_set(conds, "Progressing", "False", "InvalidSpec", obs->invalid, gen, now);
    else if (obs->failed) {
        strbuf_addf(&msg, "rollout stopped at %s", obs->failed);
        tenant_condition_set(conds, "Progressing", "False", "RolloutStopped", msg.buf, gen, now);
    } else if (sreason) {
        /* retrying cannot help: it waits for the user (a changed Secret wakes the tenant) */
        strbuf_addf(&msg, "waiting for a Secret: %s", down.buf);
        tenant_condition_set(conds, "Progressing", "False", sreason, msg.buf, gen, now);
    } else if (obs->n_applied > 0 || n_lag > 0 || obs->n_pending > 0) {
        strbuf_addf(&msg, "%zu changes applied this round%s%s", obs->n_applied, n_lag ? "; " : "",
                    n_lag ? lag.buf : "");
        tenant_condition_set(conds, "Progressing", "True", "Converging", msg.buf, gen, now);
    } else
        tenant_condition_set(conds, "Progressing", "False", "Converged",
                             "every component runs as specified", gen, now);

    strbuf_reset(&msg);
    if (is_ready) {
        strbuf_addf(&msg, "%zu components running as specified", obs->n_components);
        tenant_condition_set(conds, "Ready", "True", "AllComponentsRunning", msg.buf, gen, now);
    } else if (obs->invalid)
        tenant_condition_set(conds, "Ready", "False", "InvalidSpec", obs->invalid, gen, now);
    else if (obs->failed) {
        strbuf_addf(&msg, "%s: %s", obs->failed, obs->failure ? obs->failure : "failed");
        tenant_condition_set(conds, "Ready", "False", "ComponentFailed", msg.buf, gen, now);
    } else if (n_down)
        tenant_condition_set(conds, "Ready", "False", sreason ? sreason : "HostUnreachable",
                             down.buf, gen, now);
    else
        tenant_condition_set(conds, "Ready", "False", "ComponentsNotReady",
                             n_lag ? lag.buf : "no components to run", gen, now);

    if (obs->tls) {
        if (obs->tls->is_expiring_soon)
            tenant_condition_set(conds, "CertificateExpiringSoon", "True",
                                 "CertificateExpiringSoon",
                                 "the certificate placed expires in less than 7 days (see "
                                 "status.tls.notAfter)",
                                 gen, now);
        else
            tenant_condition_set(conds, "CertificateExpiringSoon", "False", "NotExpiringSoon", "",
                                 gen, now);
        tls_json(st, old_status, obs->tls, now);
    }
    if (obs->invalid)
        phase = "Failed";
    else if (is_ready && !tls_failed)
        phase = "Ready";
    else if (obs->failed || n_down || tls_failed)
        phase = "Degraded";
    else
        phase = "Provisioning";
    json_object_object_add(st, "phase", json_object_new_string(phase));
    json_object_object_add(st, "observedGeneration", json_object_new_int64(gen));
    if (!obs->invalid) {
        json_object_object_add(st, "hosts", hosts_json(old_status, obs, now));
        json_object_object_add(st, "images", images_json(obs));
    }
    if (obs->n_plan > 0)
        json_object_object_add(st, "plan", plan_json(obs));
    else
        json_object_object_del(st, "plan"); /* converged: nothing pending */
    if (obs->ha) {
        /* layout ha: where the VIPs are, as the hosts said (reconcilers/ha.h) */
        ha_report rp = *obs->ha;
        const char *hs = "Unknown", *hr = "Unknown";

        rp.old_ha = cjson_get(old_status, "ha");
        rp.now = now;
        strbuf_reset(&msg);
        json_object_object_add(st, "ha", ha_status_json(&rp, &hs, &hr, &msg));
        tenant_condition_set(conds, "HAHealthy", hs, hr, msg.buf, gen, now);
    } else {
        json_object_object_del(st, "ha");
    }
    json_object_object_add(st, "lastReconcileTime", json_object_new_string(now));
    strbuf_release(&down);
    strbuf_release(&lag);
    strbuf_release(&msg);
    *out = st;
    return 0;
}

/* A copy of a status without the times that move on every round. */
static json_object *without_times(const json_object *st)
{
    json_object *c = copy_json(st), *hosts;

    if (!c)
        return NULL;
    json_object_object_del(c, "lastReconcileTime");
    hosts = cjson_get(c, "hosts");
    for (size_t i = 0; hosts && json_object_is_type(hosts, json_type_array) &&
                       i < json_object_array_length(hosts);
         i++)
        json_object_object_del(json_object_array_get_idx(hosts, i), "lastContactTime");
    return c;
}

int tenant_status_is_unchanged(const json_object *old, const json_object *next, time_t now,
                               int refresh_s)
{
    time_t last;
    json_object *a, *b;
    int same;

    if (!old || !next || !json_object_is_type(old, json_type_object))
        return 0;
    if (object_time_parse(cjson_get_string(old, "lastReconcileTime"), &last) < 0 ||
        now - last >= refresh_s || now < last)
        return 0;
    a = without_times(old);
    b = without_times(next);
    same = a && b && cjson_equal(a, b);
    json_object_put(a);
    json_object_put(b);
    return same;
}
