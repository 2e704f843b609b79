/* rules: cross-field checks per kind (see rules.h for the list). */
#include "crds/rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crds/schema_format.h"
#include "lib/cron.h"
#include "lib/cjson.h"
#include "lib/strbuf.h"
#include "lib/tz.h"
#include "lib/xalloc.h"

typedef struct rctx {
    const ynode *doc;
    const char *file;
    diag_list *diags;
} rctx;

/* Cut path back by one segment (".key", "[N]" or ["key"]); 0 when nothing is left. */
static int path_parent(strbuf *p)
{
    size_t i = p->len;

    if (i == 0)
        return 0;
    if (p->buf[i - 1] == ']') {
        int quoted = i >= 2 && p->buf[i - 2] == '"';

        /* Scan back to the opening bracket, past a quoted key's content. */
        i--;
        while (i > 0) {
            i--;
            if (p->buf[i] == '[' && (!quoted || (i + 1 < p->len && p->buf[i + 1] == '"')))
                break;
        }
    } else {
        while (i > 0 && p->buf[i - 1] != '.' && p->buf[i - 1] != ']')
            i--;
        if (i > 0 && p->buf[i - 1] == '.')
            i--;
    }
    strbuf_setlen(p, i);
    return 1;
}

static void fail(rctx *r, const char *path, const char *fmt, ...) OMLOP_PRINTF(3, 4);

/* Add a diag for path, positioned at the node there or at its nearest present ancestor. */
static void fail(rctx *r, const char *path, const char *fmt, ...)
{
    strbuf msg = STRBUF_INIT, p = STRBUF_INIT;
    const ynode *node = NULL;
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    strbuf_adds(&p, path);
    if (r->doc) {
        for (;;) {
            node = ynode_at_path(r->doc, p.buf);
            if (node || !path_parent(&p))
                break;
        }
        if (!node)
            node = r->doc;
    }
    diag_add(r->diags, r->file, node ? node->line : 0, node ? node->col : 0, path, "%s", msg.buf);
    strbuf_release(&msg);
    strbuf_release(&p);
}

static const char *str_at(const json_object *obj, const char *path)
{
    const char *s = cjson_get_string(obj, path);

    return s && *s ? s : NULL;
}

static int is_host_or_ip(const char *s)
{
    return schema_format_is_hostname(s) || schema_format_parse_ipv4(s, NULL) ||
           schema_format_is_ipv6(s);
}

static void check_host_field(rctx *r, const json_object *obj, const char *path)
{
    const char *s = str_at(obj, path);

    if (s && !is_host_or_ip(s))
        fail(r, path, "\"%s\" is not a host name or an IP address", s);
}

/* --- Tenant: hosts and layout -------------------------------------------------------- */

typedef struct host_view {
    const char *name;
    const char *role; /* NULL when omitted */
    const char *lan_ip;
} host_view;

static void host_path(strbuf *p, size_t i, const char *field)
{
    strbuf_reset(p);
    strbuf_addf(p, "spec.hosts[%zu]%s%s", i, field ? "." : "", field ? field : "");
}

static void check_unique_hosts(rctx *r, const host_view *h, size_t n)
{
    strbuf p = STRBUF_INIT;

    for (size_t j = 1; j < n; j++) {
        for (size_t i = 0; i < j; i++) {
            if (h[i].name && h[j].name && strcmp(h[i].name, h[j].name) == 0) {
                host_path(&p, j, "name");
                fail(r, p.buf, "duplicate host name \"%s\" (also spec.hosts[%zu])", h[j].name, i);
                break;
            }
        }
        for (size_t i = 0; i < j; i++) {
            if (h[i].lan_ip && h[j].lan_ip && strcmp(h[i].lan_ip, h[j].lan_ip) == 0) {
                host_path(&p, j, "lanIP");
                fail(r, p.buf, "duplicate lanIP %s (also spec.hosts[%zu])", h[j].lan_ip, i);
                break;
            }
        }
    }
    strbuf_release(&p);
}

/* Exactly one host per role in roles[]; every host's role must be one of them. */
static void check_roles(rctx *r, const char *layout, const host_view *h, size_t n,
                        const char *const *roles, size_t n_roles)
{
    strbuf p = STRBUF_INIT, list = STRBUF_INIT;

    for (size_t k = 0; k < n_roles; k++)
        strbuf_addf(&list, "%s%s", k ? ", " : "", roles[k]);
    for (size_t i = 0; i < n; i++) {
        int ok = 0;

        for (size_t k = 0; k < n_roles && h[i].role; k++)
            ok |= strcmp(h[i].role, roles[k]) == 0;
        if (ok)
            continue;
        host_path(&p, i, "role");
        if (h[i].role)
            fail(r, p.buf, "layout %s takes roles %s; got \"%s\"", layout, list.buf, h[i].role);
        else
            fail(r, p.buf, "layout %s needs a role on every host (%s)", layout, list.buf);
    }
    for (size_t k = 0; k < n_roles; k++) {
        size_t first = n;

        for (size_t i = 0; i < n; i++) {
            if (!h[i].role || strcmp(h[i].role, roles[k]) != 0)
                continue;
            if (first == n) {
                first = i;
                continue;
            }
            host_path(&p, i, "role");
            fail(r, p.buf, "layout %s takes exactly one host with role %s (also spec.hosts[%zu])",
                 layout, roles[k], first);
        }
        if (first == n)
            fail(r, "spec.hosts", "layout %s needs a host with role %s", layout, roles[k]);
    }
    strbuf_release(&p);
    strbuf_release(&list);
}

static void check_layout(rctx *r, const json_object *obj, const host_view *h, size_t n)
{
    static const char *const cluster_roles[] = {"data", "voice", "app"};
    static const char *const ha_roles[] = {"main", "backup"};
    const char *layout = str_at(obj, "spec.layout");
    strbuf p = STRBUF_INIT;

    if (!layout)
        return;
    if (strcmp(layout, "aio") == 0) {
        if (n != 1)
            fail(r, "spec.hosts", "layout aio takes exactly one host, got %zu", n);
        for (size_t i = 0; i < n; i++) {
            if (h[i].role && strcmp(h[i].role, "aio") != 0) {
                host_path(&p, i, "role");
                fail(r, p.buf, "layout aio takes role aio (or no role), got \"%s\"", h[i].role);
            }
        }
    } else if (strcmp(layout, "cluster") == 0) {
        check_roles(r, layout, h, n, cluster_roles, 3);
    } else if (strcmp(layout, "ha") == 0) {
        if (n != 2)
            fail(r, "spec.hosts", "layout ha takes exactly two hosts (main and backup), got %zu",
                 n);
        check_roles(r, layout, h, n, ha_roles, 2);
    }
    if (strcmp(layout, "ha") == 0 && !cjson_get(obj, "spec.ha"))
        fail(r, "spec.ha",
             "layout ha needs spec.ha (vipNIC, netaddr, omnileadsVIP, postgresRWVIP, "
             "postgresROVIP)");
    if (strcmp(layout, "ha") != 0 && cjson_get(obj, "spec.ha"))
        fail(r, "spec.ha", "only used with layout ha (layout is %s)", layout);
    strbuf_release(&p);
}

static int in_net(uint32_t addr, uint32_t net, int prefix)
{
    uint32_t mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);

    return (addr & mask) == (net & mask);
}

static void check_ha(rctx *r, const json_object *obj, const host_view *h, size_t n)
{
    static const char *const vips[] = {"omnileadsVIP", "postgresRWVIP", "postgresROVIP"};
    const char *netaddr = str_at(obj, "spec.ha.netaddr");
    const char *preferred = str_at(obj, "spec.ha.preferredMain");
    const char *vip_val[3];
    uint32_t net = 0;
    int prefix = 0, is_v4 = 0;
    strbuf p = STRBUF_INIT;

    /* With another layout spec.ha is reported as misplaced; its addresses mean nothing. */
    if (!cjson_get(obj, "spec.ha") || !netaddr || !str_at(obj, "spec.layout") ||
        strcmp(str_at(obj, "spec.layout"), "ha") != 0)
        return;
    if (!schema_format_parse_cidr(netaddr, &is_v4, &net, &prefix) || !is_v4) {
        fail(r, "spec.ha.netaddr", "must be an IPv4 network (the VIPs are IPv4), got %s", netaddr);
        return;
    }
    for (size_t k = 0; k < 3; k++) {
        uint32_t a;

        strbuf_reset(&p);
        strbuf_addf(&p, "spec.ha.%s", vips[k]);
        vip_val[k] = str_at(obj, p.buf);
        if (!vip_val[k] || !schema_format_parse_ipv4(vip_val[k], &a))
            continue;
        if (!in_net(a, net, prefix))
            fail(r, p.buf, "%s is not inside ha.netaddr %s", vip_val[k], netaddr);
        for (size_t j = 0; j < k; j++) {
            if (vip_val[j] && strcmp(vip_val[j], vip_val[k]) == 0)
                fail(r, p.buf, "%s is also ha.%s; the VIPs must be distinct", vip_val[k], vips[j]);
        }
        for (size_t i = 0; i < n; i++) {
            if (h[i].lan_ip && strcmp(h[i].lan_ip, vip_val[k]) == 0)
                fail(r, p.buf, "%s is the lanIP of host %s; a VIP must be a free address",
                     vip_val[k], h[i].name ? h[i].name : "?");
        }
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t a;

        if (h[i].lan_ip && schema_format_parse_ipv4(h[i].lan_ip, &a) && !in_net(a, net, prefix)) {
            host_path(&p, i, "lanIP");
            fail(r, p.buf, "%s is not inside ha.netaddr %s; both nodes must share the VIPs' LAN",
                 h[i].lan_ip, netaddr);
        }
    }
    if (preferred) {
        int found = 0;

        for (size_t i = 0; i < n; i++)
            found |= h[i].name && strcmp(h[i].name, preferred) == 0;
        if (!found)
            fail(r, "spec.ha.preferredMain", "\"%s\" is not the name of a host in spec.hosts",
                 preferred);
    }
    strbuf_release(&p);
}

static void check_hosts(rctx *r, const json_object *obj)
{
    json_object *hosts = cjson_get(obj, "spec.hosts");
    size_t n =
        hosts && json_object_is_type(hosts, json_type_array) ? json_object_array_length(hosts) : 0;
    host_view *h = xcalloc(n ? n : 1, sizeof(*h));
    strbuf p = STRBUF_INIT;

    for (size_t i = 0; i < n; i++) {
        json_object *host = json_object_array_get_idx(hosts, i);
        const char *addr = str_at(host, "ssh.address");

        h[i].name = str_at(host, "name");
        h[i].role = str_at(host, "role");
        h[i].lan_ip = str_at(host, "lanIP");
        if (addr && !is_host_or_ip(addr)) {
            host_path(&p, i, "ssh.address");
            fail(r, p.buf, "\"%s\" is not a host name or an IP address", addr);
        }
    }
    check_unique_hosts(r, h, n);
    check_layout(r, obj, h, n);
    check_ha(r, obj, h, n);
    strbuf_release(&p);
    free(h);
}

/* --- Tenant: the rest ------------------------------------------------------------------ */

static void check_network_tls(rctx *r, const json_object *obj)
{
    const char *env = str_at(obj, "spec.network.infraEnv");
    const char *nat = str_at(obj, "spec.network.natIP");
    const char *mode = str_at(obj, "spec.tls.mode");

    if (env && strcmp(env, "nat") == 0 && !nat)
        fail(r, "spec.network.natIP",
             "required when infraEnv is nat: the public IPv4 address, or auto to discover it");
    if (env && strcmp(env, "lan") == 0 && nat)
        fail(r, "spec.network.natIP",
             "not used when infraEnv is lan; remove it or change "
             "infraEnv");
    if (nat && strcmp(nat, "auto") != 0 && !schema_format_parse_ipv4(nat, NULL))
        fail(r, "spec.network.natIP", "\"%s\" is not an IPv4 address (or auto)", nat);
    if (mode && strcmp(mode, "custom") == 0 && !cjson_get(obj, "spec.tls.secretRef"))
        fail(r, "spec.tls.secretRef",
             "required when tls.mode is custom: the Secret with tls.crt and tls.key");
    if (mode && strcmp(mode, "acme") == 0) {
        if (!str_at(obj, "spec.tls.acme.email"))
            fail(r, "spec.tls.acme.email",
                 "required when tls.mode is acme: where the CA sends expiry notices");
        if (!str_at(obj, "spec.network.fqdn"))
            fail(r, "spec.network.fqdn",
                 "required when tls.mode is acme: the name the certificate is issued for");
    }
}

static void check_stores(rctx *r, const json_object *obj)
{
    check_host_field(r, obj, "spec.database.host");
    check_host_field(r, obj, "spec.database.readOnlyHost");
    check_host_field(r, obj, "spec.redis.host");
    check_host_field(r, obj, "spec.telephony.rtpengineHost");
    check_host_field(r, obj, "spec.telephony.homerHost");
    check_host_field(r, obj, "spec.app.dialer.host");
    check_host_field(r, obj, "spec.app.smtp.host");
    if (str_at(obj, "spec.database.host") && !cjson_get(obj, "spec.database.passwordSecretRef"))
        fail(r, "spec.database.passwordSecretRef",
             "required with an external database (database.host): the Secret with its "
             "password");
    if (str_at(obj, "spec.database.readOnlyHost") && !str_at(obj, "spec.database.host"))
        fail(r, "spec.database.readOnlyHost",
             "only used with an external database; set database.host too");
    if (str_at(obj, "spec.objectStorage.bucketURL")) {
        if (!cjson_get(obj, "spec.objectStorage.credentialsSecretRef"))
            fail(r, "spec.objectStorage.credentialsSecretRef",
                 "required with an external bucket (objectStorage.bucketURL): the Secret with "
                 "accessKey and secretKey");
        if (cjson_get(obj, "spec.objectStorage.adminCredentialsSecretRef"))
            fail(r, "spec.objectStorage.adminCredentialsSecretRef",
                 "only used for in-tenant MinIO (objectStorage.bucketURL empty)");
    }
    if (str_at(obj, "spec.backup.destination.bucketURL") &&
        !cjson_get(obj, "spec.backup.destination.credentialsSecretRef"))
        fail(r, "spec.backup.destination.credentialsSecretRef",
             "required with backup.destination.bucketURL: the Secret with accessKey and "
             "secretKey");
    if (str_at(obj, "spec.observability.lokiURL") &&
        !json_object_get_boolean(cjson_get(obj, "spec.observability.enabled")))
        fail(r, "spec.observability.lokiURL", "needs observability.enabled true");
}

int rules_cron_is_valid(const char *expr, char *why, size_t why_size)
{
    omlop_err err = OMLOP_ERR_INIT;
    cron_expr e;

    if (cron_parse(expr, &e, &err) == 0)
        return 1;
    snprintf(why, why_size, "%s", err.msg);
    return 0;
}

/*
 * A scheduled Backup is named <tenant>-yyyymmdd-hhmm (14 more characters), so the tenant's name
 * must leave room for them in a 63-character name.
 */
#define RULES_SCHEDULED_NAME_MAX (63 - 14)

/* The time zone must be in the tz database the schedule is computed with (lib/tz.h). */
static void check_time_zone(rctx *r, const json_object *obj)
{
    const char *name = str_at(obj, "spec.timeZone");
    omlop_err err = OMLOP_ERR_INIT;
    tz *z = NULL;

    if (!name)
        return;
    if (tz_load(name, NULL, &z, &err) < 0)
        fail(r, "spec.timeZone", "%s", err.msg);
    tz_free(z);
}

static void check_tenant(rctx *r, const json_object *obj)
{
    const char *schedule = str_at(obj, "spec.backup.schedule");
    const char *name = str_at(obj, "metadata.name");
    char why[OMLOP_ERR_MSG_MAX];

    check_hosts(r, obj);
    check_network_tls(r, obj);
    check_stores(r, obj);
    check_time_zone(r, obj);
    if (schedule && !rules_cron_is_valid(schedule, why, sizeof(why)))
        fail(r, "spec.backup.schedule", "%s", why);
    if (schedule && name && strlen(name) > RULES_SCHEDULED_NAME_MAX)
        fail(r, "spec.backup.schedule",
             "a tenant with scheduled backups needs a name of at most %d characters (its "
             "Backups are named <tenant>-yyyymmdd-hhmm); \"%s\" has %zu",
             RULES_SCHEDULED_NAME_MAX, name, strlen(name));
}

/* --- Other kinds -------------------------------------------------------------------------- */

static void check_restore(rctx *r, const json_object *obj)
{
    int has_ref = cjson_get(obj, "spec.backupRef") != NULL;
    int has_ts = str_at(obj, "spec.timestamp") != NULL;
    int has_key = str_at(obj, "spec.source.objectKey") != NULL;
    const char *key = str_at(obj, "spec.source.objectKey");

    if (has_ref + has_ts + has_key > 1)
        fail(r, has_key ? "spec.source.objectKey" : "spec.timestamp",
             "set only one of backupRef, timestamp and source.objectKey (each names what to "
             "restore)");
    else if (!has_ref && !has_ts && !has_key)
        fail(r, "spec",
             "set one of backupRef (a Backup's name), timestamp (a backup identifier such as "
             "1681319391) or source.objectKey (a plain SQL dump's key)");
    if (str_at(obj, "spec.source.tenant") && !has_ts)
        fail(r, "spec.source.tenant",
             "goes with timestamp (a backupRef names its tenant; an objectKey is a full key)");
    if (key && (key[0] == '/' || strstr(key, "..")))
        fail(r, "spec.source.objectKey",
             "\"%s\": a key relative to the destination's prefix, without a leading '/' or '..'",
             key);
}

static void check_secret_keys(rctx *r, const json_object *obj, const char *field)
{
    json_object *map = cjson_get(obj, field);
    strbuf p = STRBUF_INIT;

    if (!map || !json_object_is_type(map, json_type_object))
        return;
    json_object_object_foreach(map, key, val)
    {
        size_t len = strlen(key);
        int ok = len > 0 && len <= 253;

        (void)val;
        for (size_t i = 0; i < len && ok; i++) {
            char ch = key[i];

            ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_' || ch == '.';
        }
        if (ok)
            continue;
        strbuf_reset(&p);
        strbuf_adds(&p, field);
        ynode_path_append_key(&p, key);
        fail(r, p.buf, "invalid key: use 1-253 letters, digits, '-', '_' or '.'");
    }
    strbuf_release(&p);
}

static void check_event(rctx *r, const json_object *obj)
{
    const char *first = str_at(obj, "firstTimestamp");
    const char *last = str_at(obj, "lastTimestamp");
    int64_t a, b;

    if (first && last && schema_format_parse_date_time(first, &a) &&
        schema_format_parse_date_time(last, &b) && b < a)
        fail(r, "lastTimestamp", "%s is before firstTimestamp %s", last, first);
}

int rules_check(const char *kind, const json_object *obj, const ynode *doc, const char *file,
                diag_list *diags)
{
    rctx r = {doc, file, diags};
    size_t before = diag_list_count(diags);

    if (strcmp(kind, "Tenant") == 0) {
        check_tenant(&r, obj);
    } else if (strcmp(kind, "Restore") == 0) {
        check_restore(&r, obj);
    } else if (strcmp(kind, "Secret") == 0) {
        check_secret_keys(&r, obj, "data");
        check_secret_keys(&r, obj, "stringData");
    } else if (strcmp(kind, "Event") == 0) {
        check_event(&r, obj);
    }
    return diag_list_count(diags) == before ? 0 : OMLOP_EINVAL;
}
