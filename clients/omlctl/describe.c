/*
 * omlctl describe: one object in detail, for people.
 *
 * Tenants get a summary of the spec (layout, network, TLS, images, hosts), the
 * conditions table, one row per host and component from status and the live
 * plan (status.plan: what the last reconcile still has to do); every kind
 * gets its metadata, the rest of its fields as YAML and the recent events
 * recorded about it (Event objects listed with fieldSelector
 * involvedObject.name=NAME, oldest first).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "clients/omlctl/liveplan.h"
#include "clients/omlctl/output.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "lib/xalloc.h"

#define KEY_WIDTH 16

static const char describe_help[] =
    "Show one or more objects in detail, with their conditions and recent events.\n"
    "\n"
    "For a tenant: the spec summary (layout, network, TLS, images, hosts), the\n"
    "conditions, one row per host and component from status, the live plan (what\n"
    "the last reconcile still has to do, on which host, and why it has not yet)\n"
    "and the events recorded about it. Other kinds: metadata, their fields as\n"
    "YAML, events.\n"
    "\n"
    "Usage:\n"
    "  omlctl describe KIND NAME... | KIND/NAME... | KIND [-l SELECTOR]\n"
    "\n"
    "Flags:\n"
    "  -l, --selector SEL    describe every object of KIND whose labels match\n"
    "\n"
    "Examples:\n"
    "  omlctl describe tenant acme\n"
    "  omlctl describe tn/acme backup/acme-nightly\n"
    "  omlctl describe tenants -l env=prod\n";

static const char *str_or(const char *s, const char *def)
{
    return s && *s ? s : def;
}

/* "Key:" padded to the value column, at an indent. */
static void kv(int indent, const char *key, const char *value)
{
    int pad = KEY_WIDTH - indent - (int)strlen(key) - 1;

    printf("%*s%s:%*s%s\n", indent, "", key, pad > 1 ? pad : 1, "", str_or(value, "<none>"));
}

static void kv_map(int indent, const char *key, const json_object *map)
{
    int first = 1;

    if (!map || !json_object_is_type(map, json_type_object) ||
        json_object_object_length((json_object *)map) == 0) {
        kv(indent, key, "<none>");
        return;
    }
    json_object_object_foreach((json_object *)map, k, v)
    {
        strbuf line = STRBUF_INIT;

        strbuf_addf(&line, "%s=%s", k, json_object_get_string(v));
        if (first)
            kv(indent, key, line.buf);
        else
            printf("%*s%s\n", KEY_WIDTH, "", line.buf);
        first = 0;
        strbuf_release(&line);
    }
}

static void describe_metadata(const kind_info *kind, const json_object *obj, time_t now)
{
    const char *created = cjson_get_string(obj, "metadata.creationTimestamp");
    const char *deleting = cjson_get_string(obj, "metadata.deletionTimestamp");
    json_object *fin = cjson_get(obj, "metadata.finalizers");
    strbuf sb = STRBUF_INIT;
    char age[32];

    kv(0, "Name", cjson_get_string(obj, "metadata.name"));
    kv(0, "Kind", kind->kind);
    kv_map(0, "Labels", cjson_get(obj, "metadata.labels"));
    {
        /* The last-applied annotation is a whole manifest: name it, do not print it. */
        json_object *ann = cjson_get(obj, "metadata.annotations");
        json_object *shown = json_object_new_object();

        if (ann && json_object_is_type(ann, json_type_object)) {
            json_object_object_foreach(ann, k, v)
            {
                int is_big = json_object_get_string_len(v) > 80;

                json_object_object_add(
                    shown, k, is_big ? json_object_new_string("(long value)") : json_object_get(v));
            }
        }
        kv_map(0, "Annotations", shown);
        json_object_put(shown);
    }
    {
        /* applied from a GitSource (docs/gitops.md): which one, at which commit */
        json_object *src = NULL, *commit = NULL;

        if (json_object_object_get_ex(cjson_get(obj, "metadata.labels"), "omlop.io/source", &src)) {
            json_object_object_get_ex(cjson_get(obj, "metadata.annotations"),
                                      "omlop.io/source-commit", &commit);
            strbuf_addf(&sb, "GitSource %s, commit %s", json_object_get_string(src),
                        commit ? json_object_get_string(commit) : "(unknown)");
            kv(0, "Source", sb.buf);
            strbuf_reset(&sb);
        }
    }
    if (created) {
        omlctl_age_of(created, now, age, sizeof(age));
        strbuf_addf(&sb, "%s (%s ago)", created, age);
        kv(0, "Created", sb.buf);
        strbuf_reset(&sb);
    }
    if (deleting) {
        strbuf_addf(&sb, "since %s, waiting for finalizers %s", deleting,
                    fin ? json_object_to_json_string_ext(fin, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE)
                        : "[]");
        kv(0, "Deleting", sb.buf);
        strbuf_reset(&sb);
    } else if (fin && json_object_array_length(fin)) {
        kv(0, "Finalizers",
           json_object_to_json_string_ext(fin,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    }
    if (kind->has_status) {
        strbuf_addf(&sb, "%lld (observed %lld)",
                    (long long)cjson_get_int(obj, "metadata.generation", 0),
                    (long long)cjson_get_int(obj, "status.observedGeneration", 0));
        kv(0, "Generation", sb.buf);
    }
    strbuf_release(&sb);
}

/* A field printed as indented YAML under "Title:". */
static void describe_yaml(const char *title, const json_object *v)
{
    strbuf y = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    const char *p;

    if (!v)
        return;
    if (!json_object_is_type(v, json_type_object) && !json_object_is_type(v, json_type_array)) {
        kv(0, title, json_object_get_string((json_object *)v));
        return;
    }
    printf("%s:\n", title);
    if (yaml_emit_json(v, &y, &err) < 0) {
        printf("  <cannot print: %s>\n", err.msg);
        goto out;
    }
    for (p = strbuf_str(&y); *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);

        printf("  %.*s\n", (int)n, p);
        p += n + (nl ? 1 : 0);
    }
out:
    strbuf_release(&y);
}

static void describe_tenant_spec(const json_object *obj)
{
    json_object *hosts = cjson_get(obj, "spec.hosts");
    json_object *tags = cjson_get(obj, "spec.images.tags");
    strbuf sb = STRBUF_INIT;

    kv(0, "Phase", cjson_get_string(obj, "status.phase"));
    if (cjson_get_string(obj, "status.url"))
        kv(0, "URL", cjson_get_string(obj, "status.url"));
    printf("Spec:\n");
    kv(2, "Layout", cjson_get_string(obj, "spec.layout"));
    kv(2, "FQDN", cjson_get_string(obj, "spec.network.fqdn"));
    strbuf_addf(&sb, "infraEnv %s", str_or(cjson_get_string(obj, "spec.network.infraEnv"), "?"));
    if (cjson_get_string(obj, "spec.network.natIP"))
        strbuf_addf(&sb, ", natIP %s", cjson_get_string(obj, "spec.network.natIP"));
    kv(2, "Network", sb.buf);
    kv(2, "TLS", cjson_get_string(obj, "spec.tls.mode"));
    kv(2, "Time zone", cjson_get_string(obj, "spec.timeZone"));
    kv(2, "Deletion", cjson_get_string(obj, "spec.deletionPolicy"));
    if (cjson_get(obj, "spec.ha")) {
        strbuf_reset(&sb);
        strbuf_addf(&sb, "VIP %s on %s, preferred main %s, failback %s",
                    str_or(cjson_get_string(obj, "spec.ha.omnileadsVIP"), "?"),
                    str_or(cjson_get_string(obj, "spec.ha.vipNIC"), "?"),
                    str_or(cjson_get_string(obj, "spec.ha.preferredMain"), "?"),
                    str_or(cjson_get_string(obj, "spec.ha.failback"), "?"));
        kv(2, "HA", sb.buf);
    }
    printf("  Images:\n");
    kv(4, "Registry", cjson_get_string(obj, "spec.images.registry"));
    kv(4, "Edition", cjson_get_string(obj, "spec.images.edition"));
    if (tags && json_object_is_type(tags, json_type_object) && json_object_object_length(tags)) {
        const char *h[] = {"COMPONENT", "TAG"};
        omlctl_table *t = omlctl_table_new(2, h);

        printf("    Tags:\n");
        omlctl_table_set_indent(t, 6);
        json_object_object_foreach(tags, k, v)
        {
            const char *row[2];

            row[0] = k;
            row[1] = json_object_get_string(v);
            omlctl_table_add_row(t, row);
        }
        omlctl_table_flush(t, stdout, 1);
        omlctl_table_free(t);
    }
    printf("  Hosts:\n");
    if (hosts && json_object_is_type(hosts, json_type_array) && json_object_array_length(hosts)) {
        const char *h[] = {"NAME", "ROLE", "SSH", "LAN IP"};
        omlctl_table *t = omlctl_table_new(4, h);

        omlctl_table_set_indent(t, 4);
        for (size_t i = 0; i < json_object_array_length(hosts); i++) {
            json_object *host = json_object_array_get_idx(hosts, i);
            const char *row[4];

            strbuf_reset(&sb);
            strbuf_addf(&sb, "%s@%s:%lld", str_or(cjson_get_string(host, "ssh.user"), "root"),
                        str_or(cjson_get_string(host, "ssh.address"), "?"),
                        (long long)cjson_get_int(host, "ssh.port", 22));
            row[0] = cjson_get_string(host, "name");
            row[1] = cjson_get_string(host, "role");
            row[2] = sb.buf;
            row[3] = cjson_get_string(host, "lanIP");
            omlctl_table_add_row(t, row);
        }
        omlctl_table_flush(t, stdout, 1);
        omlctl_table_free(t);
    } else {
        printf("    <none>\n");
    }
    strbuf_release(&sb);
}

static void describe_conditions(const json_object *obj, time_t now)
{
    json_object *conds = cjson_get(obj, "status.conditions");
    const char *h[] = {"TYPE", "STATUS", "REASON", "AGE", "MESSAGE"};
    omlctl_table *t;

    if (!conds || !json_object_is_type(conds, json_type_array) ||
        !json_object_array_length(conds)) {
        kv(0, "Conditions", "<none>");
        return;
    }
    printf("Conditions:\n");
    t = omlctl_table_new(5, h);
    omlctl_table_set_indent(t, 2);
    for (size_t i = 0; i < json_object_array_length(conds); i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        const char *row[5];
        char age[32];

        omlctl_age_of(cjson_get_string(c, "lastTransitionTime"), now, age, sizeof(age));
        row[0] = cjson_get_string(c, "type");
        row[1] = cjson_get_string(c, "status");
        row[2] = str_or(cjson_get_string(c, "reason"), "");
        row[3] = age;
        row[4] = str_or(cjson_get_string(c, "message"), "");
        omlctl_table_add_row(t, row);
    }
    omlctl_table_flush(t, stdout, 1);
    omlctl_table_free(t);
}

static void describe_host_status(const json_object *obj)
{
    json_object *hosts = cjson_get(obj, "status.hosts");
    const char *h[] = {"HOST", "REACHABLE", "COMPONENT", "IMAGE", "STATE", "RESTARTS"};
    omlctl_table *t;
    strbuf errors = STRBUF_INIT;

    if (!hosts || !json_object_is_type(hosts, json_type_array) ||
        !json_object_array_length(hosts)) {
        kv(0, "Host status", "<none>");
        return;
    }
    printf("Host status:\n");
    t = omlctl_table_new(6, h);
    omlctl_table_set_indent(t, 2);
    for (size_t i = 0; i < json_object_array_length(hosts); i++) {
        json_object *host = json_object_array_get_idx(hosts, i);
        json_object *comps = json_object_object_get(host, "components");
        json_object *reach = json_object_object_get(host, "reachable");
        const char *reachable = reach ? (json_object_get_boolean(reach) ? "yes" : "no") : "?";
        size_t n = comps && json_object_is_type(comps, json_type_array)
                       ? json_object_array_length(comps)
                       : 0;
        const char *last_error = cjson_get_string(host, "lastError");

        /* it names its host already (lib/err.h) */
        if (last_error && *last_error)
            strbuf_addf(&errors, "  %s\n", last_error);
        if (!n) {
            const char *row[6] = {cjson_get_string(host, "name"), reachable, "-", "-", "-", "-"};

            omlctl_table_add_row(t, row);
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            json_object *c = json_object_array_get_idx(comps, j);
            char restarts[32];
            const char *row[6];

            snprintf(restarts, sizeof(restarts), "%lld",
                     (long long)cjson_get_int(c, "restarts", 0));
            row[0] = j == 0 ? cjson_get_string(host, "name") : "";
            row[1] = j == 0 ? reachable : "";
            row[2] = cjson_get_string(c, "name");
            row[3] = cjson_get_string(c, "image");
            row[4] = cjson_get_string(c, "state");
            row[5] = restarts;
            omlctl_table_add_row(t, row);
        }
    }
    omlctl_table_flush(t, stdout, 1);
    omlctl_table_free(t);
    if (errors.len)
        printf("Host errors:\n%s", errors.buf);
    strbuf_release(&errors);
}

/* Layout ha: the active node, who holds each VIP and the PostgreSQL roles, as omlop observed
 * them (docs/ha.md). */
static void describe_ha_status(const json_object *obj)
{
    json_object *ha = cjson_get(obj, "status.ha"), *vips = cjson_get(ha, "vips");
    strbuf sb = STRBUF_INIT;

    if (!ha)
        return;
    printf("HA:\n");
    kv(2, "Active node", str_or(cjson_get_string(ha, "activeNode"), "<none holds the VIP>"));
    kv(2, "Preferred main", cjson_get_string(ha, "preferredMain"));
    for (size_t i = 0;
         vips && json_object_is_type(vips, json_type_array) && i < json_object_array_length(vips);
         i++) {
        json_object *v = json_object_array_get_idx(vips, i), *holders = cjson_get(v, "holders");
        size_t n = holders && json_object_is_type(holders, json_type_array)
                       ? json_object_array_length(holders)
                       : 0;
        char key[64];

        strbuf_reset(&sb);
        strbuf_addf(&sb, "%s on ", str_or(cjson_get_string(v, "address"), "?"));
        for (size_t j = 0; j < n; j++)
            strbuf_addf(&sb, "%s%s", j ? ", " : "",
                        json_object_get_string(json_object_array_get_idx(holders, j)));
        if (!n)
            strbuf_adds(&sb, "<no node>");
        snprintf(key, sizeof(key), "VIP %s", str_or(cjson_get_string(v, "name"), "?"));
        kv(2, key, sb.buf);
    }
    if (cjson_get(ha, "lastActiveChange")) {
        strbuf_reset(&sb);
        strbuf_addf(&sb, "%s -> %s at %s",
                    str_or(cjson_get_string(ha, "lastActiveChange.from"), "?"),
                    str_or(cjson_get_string(ha, "lastActiveChange.to"), "?"),
                    str_or(cjson_get_string(ha, "lastActiveChange.time"), "?"));
        kv(2, "Last move", sb.buf);
    }
    if (cjson_get(ha, "postgres")) {
        json_object *lag = cjson_get(ha, "postgres.replication.lagBytes");

        kv(2, "PG primary", str_or(cjson_get_string(ha, "postgres.primary"), "<none>"));
        strbuf_reset(&sb);
        strbuf_adds(&sb, str_or(cjson_get_string(ha, "postgres.standby"), "<none streaming>"));
        if (cjson_get(ha, "postgres.replication"))
            strbuf_addf(&sb, " (%s, lag %s bytes)",
                        str_or(cjson_get_string(ha, "postgres.replication.state"), "?"),
                        lag ? json_object_get_string(lag) : "?");
        kv(2, "PG standby", sb.buf);
    }
    if (cjson_get(ha, "postgres.lastFailover")) {
        strbuf_reset(&sb);
        strbuf_addf(&sb, "%s -> %s at %s: %s",
                    str_or(cjson_get_string(ha, "postgres.lastFailover.from"), "?"),
                    str_or(cjson_get_string(ha, "postgres.lastFailover.to"), "?"),
                    str_or(cjson_get_string(ha, "postgres.lastFailover.time"), "?"),
                    str_or(cjson_get_string(ha, "postgres.lastFailover.reason"), "?"));
        kv(2, "PG failover", sb.buf);
    }
    strbuf_release(&sb);
}

static int by_last_time(const void *a, const void *b)
{
    const json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
    const char *tx = cjson_get_string(x, "lastTimestamp");
    const char *ty = cjson_get_string(y, "lastTimestamp");

    /* RFC 3339 UTC times sort as strings. */
    return strcmp(tx ? tx : "", ty ? ty : "");
}

/*
 * The events about this object: of its kind and name and, as kubectl does, of its uid - an
 * older object of the same name (deleted, then created again) had its own. An event without
 * an involvedObject.uid cannot be told apart and is shown.
 */
static void describe_events(apiclient *api, const schema_set *set, const kind_info *kind,
                            const char *name, const char *uid, time_t now)
{
    const kind_info *ev_kind = schema_set_find_kind(set, "Event");
    json_object *items = NULL;
    json_object **sorted = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf fs = STRBUF_INIT;
    size_t n, m = 0;
    const char *h[] = {"TYPE", "REASON", "AGE", "FROM", "MESSAGE"};
    omlctl_table *t;

    if (!ev_kind || kind == ev_kind)
        return;
    strbuf_addf(&fs, "involvedObject.name=%s", name);
    if (omlctl_list_objects(api, ev_kind, NULL, fs.buf, &items, NULL, &err) < 0) {
        printf("Events:         <unavailable: %s>\n", err.msg);
        goto out;
    }
    n = json_object_array_length(items);
    sorted = xcalloc(n ? n : 1, sizeof(*sorted));
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(items, i);
        const char *k = cjson_get_string(e, "involvedObject.kind");
        const char *u = cjson_get_string(e, "involvedObject.uid");

        if ((!k || !strcmp(k, kind->kind)) && (!uid || !*uid || !u || !*u || !strcmp(u, uid)))
            sorted[m++] = e;
    }
    if (!m) {
        kv(0, "Events", "<none>");
        goto out;
    }
    qsort(sorted, m, sizeof(*sorted), by_last_time);
    printf("Events:\n");
    t = omlctl_table_new(5, h);
    omlctl_table_set_indent(t, 2);
    for (size_t i = 0; i < m; i++) {
        json_object *e = sorted[i];
        const char *last = cjson_get_string(e, "lastTimestamp");
        const char *first = cjson_get_string(e, "firstTimestamp");
        int64_t count = cjson_get_int(e, "count", 1);
        char age[96], a1[32], a2[32];
        strbuf from = STRBUF_INIT;
        const char *row[5];

        omlctl_age_of(last ? last : first, now, a1, sizeof(a1));
        if (count > 1 && first) {
            omlctl_age_of(first, now, a2, sizeof(a2));
            snprintf(age, sizeof(age), "%s (x%lld over %s)", a1, (long long)count, a2);
        } else {
            snprintf(age, sizeof(age), "%s", a1);
        }
        strbuf_adds(&from, str_or(cjson_get_string(e, "source.component"), "omlopd"));
        if (cjson_get_string(e, "source.host"))
            strbuf_addf(&from, ", %s", cjson_get_string(e, "source.host"));
        row[0] = cjson_get_string(e, "type");
        row[1] = cjson_get_string(e, "reason");
        row[2] = age;
        row[3] = from.buf;
        row[4] = str_or(cjson_get_string(e, "message"), "");
        omlctl_table_add_row(t, row);
        strbuf_release(&from);
    }
    omlctl_table_flush(t, stdout, 1);
    omlctl_table_free(t);
out:
    free(sorted);
    json_object_put(items);
    strbuf_release(&fs);
}

/* Bytes a base64 text decodes to (padding and line breaks ignored). */
static size_t base64_decoded_len(const char *s)
{
    size_t chars = 0;

    for (; *s; s++) {
        if (*s != '=' && *s != '\n' && *s != '\r')
            chars++;
    }
    return chars * 3 / 4;
}

/* Secret values are never printed, only their keys and sizes (as kubectl describe). */
static void describe_secret_keys(const char *title, const json_object *map)
{
    int is_base64 = !strcmp(title, "Data");

    if (!map || !json_object_is_type(map, json_type_object))
        return;
    printf("%s:\n", title);
    json_object_object_foreach((json_object *)map, k, v)
    {
        const char *text = json_object_get_string(v);

        printf("  %s: %zu bytes\n", k, is_base64 ? base64_decoded_len(text) : strlen(text));
    }
}

/* A string array of obj at path, joined with ", " into sb (reset first); NULL when empty. */
static const char *joined(const json_object *obj, const char *path, strbuf *sb)
{
    json_object *a = cjson_get(obj, path);

    strbuf_reset(sb);
    for (size_t i = 0;
         a && json_object_is_type(a, json_type_array) && i < json_object_array_length(a); i++)
        strbuf_addf(sb, "%s%s", i ? ", " : "",
                    str_or(json_object_get_string(json_object_array_get_idx(a, i)), "?"));
    return sb->len ? sb->buf : NULL;
}

/* The certificate pair placed on the hosts (status.tls), if the reconciler reported one. */
static void describe_tls(const json_object *obj)
{
    json_object *tls = cjson_get(obj, "status.tls");
    strbuf sb = STRBUF_INIT;

    if (!tls || !json_object_is_type(tls, json_type_object))
        return;
    printf("TLS:\n");
    kv(2, "Mode", cjson_get_string(tls, "mode"));
    kv(2, "Secret", cjson_get_string(tls, "secretName"));
    kv(2, "Serial", cjson_get_string(tls, "serial"));
    kv(2, "Issuer", cjson_get_string(tls, "issuer"));
    kv(2, "Not before", cjson_get_string(tls, "notBefore"));
    kv(2, "Not after", cjson_get_string(tls, "notAfter"));
    kv(2, "DNS names", joined(tls, "dnsNames", &sb));
    kv(2, "IP addresses", joined(tls, "ipAddresses", &sb));
    kv(2, "Last renewal", cjson_get_string(tls, "lastRenewal"));
    kv(2, "Next renewal", cjson_get_string(tls, "nextRenewal"));
    kv(2, "Digest", cjson_get_string(tls, "digest"));
    strbuf_release(&sb);
}

/* The live plan: what the last reconcile still has to do (status.plan), if anything. */
static void describe_plan(const json_object *obj)
{
    strbuf text = STRBUF_INIT;

    if (omlctl_liveplan_format(obj, 2, &text) == 0) {
        kv(0, "Plan",
           cjson_get(obj, "status") ? "<none: nothing pending>" : "<not reconciled yet>");
    } else {
        printf("Plan (pending after the last reconcile):\n");
        fwrite(text.buf, 1, text.len, stdout);
    }
    strbuf_release(&text);
}

static void describe_one(apiclient *api, const schema_set *set, const kind_info *kind,
                         const json_object *obj)
{
    time_t now = time(NULL);
    const char *name = cjson_get_string(obj, "metadata.name");

    describe_metadata(kind, obj, now);
    if (!strcmp(kind->kind, "Tenant")) {
        describe_tenant_spec(obj);
        describe_conditions(obj, now);
        describe_tls(obj);
        describe_host_status(obj);
        describe_ha_status(obj);
        describe_plan(obj);
    } else {
        json_object_object_foreach((json_object *)obj, k, v)
        {
            char title[64];

            if (!strcmp(k, "apiVersion") || !strcmp(k, "kind") || !strcmp(k, "metadata"))
                continue;
            if (!strcmp(k, "status") && cjson_get(v, "conditions")) {
                json_object *rest = NULL;

                describe_conditions(obj, now);
                json_object_deep_copy(v, &rest, NULL);
                json_object_object_del(rest, "conditions");
                if (json_object_object_length(rest))
                    describe_yaml("Status", rest);
                json_object_put(rest);
                continue;
            }
            /* "spec" -> "Spec", "involvedObject" -> "InvolvedObject" */
            snprintf(title, sizeof(title), "%s", k);
            if (title[0] >= 'a' && title[0] <= 'z')
                title[0] = (char)(title[0] - 'a' + 'A');
            if (!strcmp(kind->kind, "Secret") && (!strcmp(k, "data") || !strcmp(k, "stringData")))
                describe_secret_keys(title, v);
            else
                describe_yaml(title, v);
        }
    }
    describe_events(api, set, kind, name ? name : "", cjson_get_string(obj, "metadata.uid"), now);
}

int cmd_describe(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv args = OMLCTL_STRV_INIT;
    omlctl_targets targets = OMLCTL_TARGETS_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    const char *selector = NULL;
    apiclient *api;
    schema_set *set;
    int ret = OMLCTL_EXIT_USAGE, failed = 0, shown = 0;
    const omlctl_opt opts[] = {
        {"selector", 'l', OMLCTL_OPT_STRING, &selector},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    omlctl_ctx_init(&ctx, "describe");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &args, describe_help, &ret))
        goto out;
    if (!args.n) {
        omlctl_usage_error(&ctx, "name what to describe: KIND NAME or KIND/NAME");
        goto out;
    }
    if (selector && omlctl_selector_match(selector, NULL, &err) < 0) {
        omlctl_usage_error(&ctx, "%s", err.msg);
        goto out;
    }
    ret = OMLCTL_EXIT_ERROR;
    if (omlctl_ctx_schemas(&ctx, &set, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    if (omlctl_targets_parse(set, &args, 0, &targets, &err) < 0) {
        omlctl_usage_error(&ctx, "%s", err.msg);
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (omlctl_ctx_client(&ctx, &api, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    for (size_t i = 0; i < targets.n; i++) {
        json_object *items = NULL;

        if (targets.v[i].name) {
            json_object *obj = NULL;

            items = json_object_new_array();
            if (omlctl_get_object(api, targets.v[i].kind, targets.v[i].name, &obj, &err) < 0) {
                omlctl_print_error(&ctx, &err);
                failed = 1;
            } else {
                json_object_array_add(items, obj);
            }
        } else if (omlctl_list_objects(api, targets.v[i].kind, selector, NULL, &items, NULL, &err) <
                   0) {
            omlctl_print_error(&ctx, &err);
            failed = 1;
            continue;
        }
        for (size_t j = 0; j < json_object_array_length(items); j++) {
            if (shown++)
                printf("\n\n");
            describe_one(api, set, targets.v[i].kind, json_object_array_get_idx(items, j));
        }
        json_object_put(items);
    }
    if (!shown && !failed)
        fprintf(stderr, "No resources found.\n");
    ret = failed ? OMLCTL_EXIT_ERROR : OMLCTL_EXIT_OK;
out:
    omlctl_targets_release(&targets);
    omlctl_strv_release(&args);
    omlctl_ctx_release(&ctx);
    return ret;
}
