/*
 * Tests for crds/rules: every cross-field rule passing and failing, through the
 * real CRDs (schema_set_decode runs the rules after the schema), and the
 * positions rule errors carry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "crds/rules.h"
#include "crds/schema.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "unit-tests/crds/crds_harness.h"

#define HEAD                 "apiVersion: omlop.io/v1alpha1\nkind: Tenant\nmetadata: {name: t}\nspec:\n"
#define SSH(addr)            "ssh: {address: " addr ", identitySecretRef: {name: k}}"
#define HOST(name, role, ip) "    - {name: " name ", role: " role ", " SSH(ip) ", lanIP: " ip "}\n"
#define AIO                  "  layout: aio\n  hosts:\n    - {name: h, " SSH("10.0.0.1") ", lanIP: 10.0.0.1}\n"
#define CLUSTER                                                                                    \
    "  layout: cluster\n  hosts:\n" HOST("d", "data", "10.0.0.1") HOST("v", "voice", "10.0.0.2")   \
        HOST("a", "app", "10.0.0.3")
#define HA_HOSTS                                                                                   \
    "  layout: ha\n  hosts:\n" HOST("a", "main", "172.16.101.43")                                  \
        HOST("b", "backup", "172.16.101.44")
#define HA_SPEC(extra)                                                                             \
    "  ha: {vipNIC: ens18, netaddr: 172.16.101.0/24, omnileadsVIP: 172.16.101.205, "               \
    "postgresRWVIP: 172.16.101.206, postgresROVIP: 172.16.101.207" extra "}\n"

typedef struct rule_case {
    const char *name;
    const char *yaml;
    const char *path;    /* NULL: must be valid; else the first diag's path */
    const char *message; /* substring of the first diag's message */
    size_t count;        /* diags expected when invalid (0: don't check) */
} rule_case;

static const rule_case cases[] = {
    /* aio */
    {"aio one host", HEAD AIO, NULL, NULL, 0},
    {"aio role aio", HEAD "  layout: aio\n  hosts:\n" HOST("h", "aio", "10.0.0.1"), NULL, NULL, 0},
    {"aio two hosts",
     HEAD "  layout: aio\n  hosts:\n" HOST("h", "aio", "10.0.0.1") HOST("i", "aio", "10.0.0.2"),
     "spec.hosts", "layout aio takes exactly one host, got 2", 1},
    {"aio role data", HEAD "  layout: aio\n  hosts:\n" HOST("h", "data", "10.0.0.1"),
     "spec.hosts[0].role", "layout aio takes role aio (or no role), got \"data\"", 1},
    /* cluster */
    {"cluster data voice app", HEAD CLUSTER, NULL, NULL, 0},
    {"cluster two data",
     HEAD "  layout: cluster\n  hosts:\n" HOST("d", "data", "10.0.0.1")
         HOST("v", "data", "10.0.0.2") HOST("a", "app", "10.0.0.3"),
     "spec.hosts[1].role", "takes exactly one host with role data (also spec.hosts[0])", 2},
    {"cluster missing role",
     HEAD "  layout: cluster\n  hosts:\n" HOST("d", "data", "10.0.0.1")
         HOST("v", "voice", "10.0.0.2") "    - {name: a, " SSH("10.0.0.3") ", lanIP: 10.0.0.3}\n",
     "spec.hosts[2].role", "layout cluster needs a role on every host (data, voice, app)", 2},
    {"cluster role main",
     HEAD "  layout: cluster\n  hosts:\n" HOST("d", "data", "10.0.0.1")
         HOST("v", "voice", "10.0.0.2") HOST("a", "main", "10.0.0.3"),
     "spec.hosts[2].role", "layout cluster takes roles data, voice, app; got \"main\"", 2},
    {"cluster one host", HEAD "  layout: cluster\n  hosts:\n" HOST("d", "data", "10.0.0.1"),
     "spec.hosts", "layout cluster needs a host with role voice", 2},
    /* ha */
    {"ha main backup", HEAD HA_HOSTS HA_SPEC(""), NULL, NULL, 0},
    {"ha without spec.ha", HEAD HA_HOSTS, "spec.ha", "layout ha needs spec.ha", 1},
    {"ha three hosts", HEAD HA_HOSTS HOST("c", "backup", "172.16.101.45") HA_SPEC(""), "spec.hosts",
     "layout ha takes exactly two hosts (main and backup), got 3", 2},
    {"ha two mains",
     HEAD "  layout: ha\n  hosts:\n" HOST("a", "main", "172.16.101.43")
         HOST("b", "main", "172.16.101.44") HA_SPEC(""),
     "spec.hosts[1].role", "exactly one host with role main", 2},
    {"ha role data",
     HEAD "  layout: ha\n  hosts:\n" HOST("a", "main", "172.16.101.43")
         HOST("b", "data", "172.16.101.44") HA_SPEC(""),
     "spec.hosts[1].role", "layout ha takes roles main, backup; got \"data\"", 2},
    {"ha vip outside netaddr",
     HEAD HA_HOSTS "  ha: {vipNIC: ens18, netaddr: 172.16.101.0/24, omnileadsVIP: 172.16.102.205, "
                   "postgresRWVIP: 172.16.101.206, postgresROVIP: 172.16.101.207}\n",
     "spec.ha.omnileadsVIP", "172.16.102.205 is not inside ha.netaddr 172.16.101.0/24", 1},
    {"ha vips not distinct",
     HEAD HA_HOSTS "  ha: {vipNIC: ens18, netaddr: 172.16.101.0/24, omnileadsVIP: 172.16.101.205, "
                   "postgresRWVIP: 172.16.101.205, postgresROVIP: 172.16.101.207}\n",
     "spec.ha.postgresRWVIP", "is also ha.omnileadsVIP; the VIPs must be distinct", 1},
    {"ha vip is a host",
     HEAD HA_HOSTS "  ha: {vipNIC: ens18, netaddr: 172.16.101.0/24, omnileadsVIP: 172.16.101.44, "
                   "postgresRWVIP: 172.16.101.206, postgresROVIP: 172.16.101.207}\n",
     "spec.ha.omnileadsVIP", "172.16.101.44 is the lanIP of host b", 1},
    {"ha host outside netaddr",
     HEAD "  layout: ha\n  hosts:\n" HOST("a", "main", "172.16.101.43")
         HOST("b", "backup", "172.16.100.44") HA_SPEC(""),
     "spec.hosts[1].lanIP", "172.16.100.44 is not inside ha.netaddr", 1},
    {"ha netaddr host bits set", /* as the reference inventory writes 172.16.101.0/16 */
     HEAD HA_HOSTS "  ha: {vipNIC: ens18, netaddr: 172.16.101.0/16, omnileadsVIP: 172.16.1.205, "
                   "postgresRWVIP: 172.16.101.206, postgresROVIP: 172.16.101.207}\n",
     NULL, NULL, 0},
    {"ha netaddr ipv6",
     HEAD HA_HOSTS "  ha: {vipNIC: ens18, netaddr: \"fd00::/8\", omnileadsVIP: 172.16.101.205, "
                   "postgresRWVIP: 172.16.101.206, postgresROVIP: 172.16.101.207}\n",
     "spec.ha.netaddr", "must be an IPv4 network", 1},
    {"ha preferredMain ok", HEAD HA_HOSTS HA_SPEC(", preferredMain: b"), NULL, NULL, 0},
    {"ha preferredMain unknown", HEAD HA_HOSTS HA_SPEC(", preferredMain: c"),
     "spec.ha.preferredMain", "\"c\" is not the name of a host", 1},
    /* spec.ha.vrrpVersion: 2 and 3 only, an integer (the schema's enum and type) */
    {"ha vrrpVersion 2", HEAD HA_HOSTS HA_SPEC(", vrrpVersion: 2"), NULL, NULL, 0},
    {"ha vrrpVersion 3", HEAD HA_HOSTS HA_SPEC(", vrrpVersion: 3"), NULL, NULL, 0},
    {"ha vrrpVersion 1", HEAD HA_HOSTS HA_SPEC(", vrrpVersion: 1"), "spec.ha.vrrpVersion",
     "unsupported value 1; must be one of: 2, 3", 1},
    {"ha vrrpVersion 4", HEAD HA_HOSTS HA_SPEC(", vrrpVersion: 4"), "spec.ha.vrrpVersion",
     "unsupported value 4; must be one of: 2, 3", 1},
    {"ha vrrpVersion 0", HEAD HA_HOSTS HA_SPEC(", vrrpVersion: 0"), "spec.ha.vrrpVersion",
     "unsupported value 0", 1},
    {"ha vrrpVersion x", HEAD HA_HOSTS HA_SPEC(", vrrpVersion: x"), "spec.ha.vrrpVersion",
     "must be an integer", 1},
    {"ha vrrpVersion 2.5", HEAD HA_HOSTS HA_SPEC(", vrrpVersion: 2.5"), "spec.ha.vrrpVersion",
     "must be an integer, got the number 2.5", 1},
    {"ha vrrpVersion quoted", HEAD HA_HOSTS HA_SPEC(", vrrpVersion: \"2\""), "spec.ha.vrrpVersion",
     "must be an integer", 1},
    {"spec.ha without layout ha", HEAD AIO HA_SPEC(""), "spec.ha",
     "only used with layout ha (layout is aio)", 1},
    /* hosts */
    {"host names unique",
     HEAD "  layout: cluster\n  hosts:\n" HOST("d", "data", "10.0.0.1")
         HOST("d", "voice", "10.0.0.2") HOST("a", "app", "10.0.0.3"),
     "spec.hosts[1].name", "duplicate host name \"d\" (also spec.hosts[0])", 1},
    {"lanIPs unique",
     HEAD "  layout: cluster\n  hosts:\n" HOST("d", "data", "10.0.0.1")
         HOST("v", "voice", "10.0.0.1") HOST("a", "app", "10.0.0.3"),
     "spec.hosts[1].lanIP", "duplicate lanIP 10.0.0.1 (also spec.hosts[0])", 1},
    {"ssh address bad",
     HEAD "  layout: aio\n  hosts:\n    - {name: h, " SSH("\"bad_host!\"") ", lanIP: 10.0.0.1}\n",
     "spec.hosts[0].ssh.address", "\"bad_host!\" is not a host name or an IP address", 1},
    {"ssh address ipv6",
     HEAD "  layout: aio\n  hosts:\n    - {name: h, " SSH("\"fd00::5\"") ", lanIP: 10.0.0.1}\n",
     NULL, NULL, 0},
    /* tls */
    {"tls custom with secret", HEAD AIO "  tls: {mode: custom, secretRef: {name: tls}}\n", NULL,
     NULL, 0},
    {"tls custom without secret", HEAD AIO "  tls: {mode: custom}\n", "spec.tls.secretRef",
     "required when tls.mode is custom", 1},
    {"tls acme complete",
     HEAD AIO "  tls: {mode: acme, acme: {email: a@example.com}}\n  network: {fqdn: "
              "oml.example.com}\n",
     NULL, NULL, 0},
    {"tls acme without email and fqdn", HEAD AIO "  tls: {mode: acme}\n", "spec.tls.acme.email",
     "required when tls.mode is acme", 2},
    /* network */
    {"nat with ip", HEAD AIO "  network: {infraEnv: nat, natIP: 190.19.11.2}\n", NULL, NULL, 0},
    {"nat auto", HEAD AIO "  network: {infraEnv: nat, natIP: auto}\n", NULL, NULL, 0},
    {"nat without ip", HEAD AIO "  network: {infraEnv: nat}\n", "spec.network.natIP",
     "required when infraEnv is nat", 1},
    {"lan with nat ip", HEAD AIO "  network: {infraEnv: lan, natIP: 1.2.3.4}\n",
     "spec.network.natIP", "not used when infraEnv is lan", 1},
    {"nat ip out of range", HEAD AIO "  network: {infraEnv: nat, natIP: 300.1.1.1}\n",
     "spec.network.natIP", "\"300.1.1.1\" is not an IPv4 address (or auto)", 1},
    /* external stores */
    {"external db with password",
     HEAD AIO "  database: {host: db.example.com, passwordSecretRef: {name: pg}}\n", NULL, NULL, 0},
    {"external db without password", HEAD AIO "  database: {host: db.example.com}\n",
     "spec.database.passwordSecretRef", "required with an external database", 1},
    {"read-only host without host",
     HEAD AIO "  database: {readOnlyHost: 10.0.0.9, passwordSecretRef: {name: pg}}\n",
     "spec.database.readOnlyHost", "only used with an external database", 1},
    {"db host bad", HEAD AIO "  database: {host: \"db host\", passwordSecretRef: {name: pg}}\n",
     "spec.database.host", "is not a host name or an IP address", 1},
    {"bucket with credentials",
     HEAD AIO "  objectStorage: {bucketURL: \"https://s3.example.com\", credentialsSecretRef: "
              "{name: s3}}\n",
     NULL, NULL, 0},
    {"bucket without credentials",
     HEAD AIO "  objectStorage: {bucketURL: \"https://s3.example.com\"}\n",
     "spec.objectStorage.credentialsSecretRef", "required with an external bucket", 1},
    {"bucket with minio admin",
     HEAD AIO "  objectStorage: {bucketURL: \"https://s3.example.com\", credentialsSecretRef: "
              "{name: s3}, adminCredentialsSecretRef: {name: m}}\n",
     "spec.objectStorage.adminCredentialsSecretRef", "only used for in-tenant MinIO", 1},
    {"backup destination without credentials",
     HEAD AIO "  backup: {schedule: \"@daily\", destination: {bucketURL: \"https://b.example\"}}\n",
     "spec.backup.destination.credentialsSecretRef", "required with backup.destination.bucketURL",
     1},
    {"rtpengine host bad", HEAD AIO "  telephony: {rtpengineHost: \"-x\"}\n",
     "spec.telephony.rtpengineHost", "not a host name or an IP address", 1},
    {"loki needs observability",
     HEAD AIO "  observability: {enabled: false, lokiURL: \"http://loki:3100\"}\n",
     "spec.observability.lokiURL", "needs observability.enabled true", 1},
    {"loki with observability", HEAD AIO "  observability: {lokiURL: \"http://loki:3100\"}\n", NULL,
     NULL, 0},
    /* backup schedule */
    {"cron ok", HEAD AIO "  backup: {schedule: \"*/15 0-23/2 1,15 * 1-5\"}\n", NULL, NULL, 0},
    {"cron minute 61", HEAD AIO "  backup: {schedule: \"61 * * * *\"}\n", "spec.backup.schedule",
     "field 1 (minute): 61 out of range 0-59", 1},
    {"cron hour 25", HEAD AIO "  backup: {schedule: \"0 25 * * *\"}\n", "spec.backup.schedule",
     "field 2 (hour): 25 out of range 0-23", 1},
    {"cron reversed range", HEAD AIO "  backup: {schedule: \"0 5-1 * * *\"}\n",
     "spec.backup.schedule", "field 2 (hour): range 5-1 is backwards", 1},
    {"cron month 13", HEAD AIO "  backup: {schedule: \"0 0 1 13 *\"}\n", "spec.backup.schedule",
     "field 4 (month): 13 out of range 1-12", 1},
    {"cron four fields", HEAD AIO "  backup: {schedule: \"0 0 1 *\"}\n", "spec.backup.schedule",
     "expected 5 fields (minute hour day-of-month month day-of-week), got 4", 1},
    {"cron names", HEAD AIO "  backup: {schedule: \"0 3 * JAN-JUN MON-FRI\"}\n", NULL, NULL, 0},
    {"cron never", HEAD AIO "  backup: {schedule: \"0 3 30 2 *\"}\n", "spec.backup.schedule",
     "never fires", 1},
    {"time zone known", HEAD AIO "  timeZone: America/Argentina/Buenos_Aires\n", NULL, NULL, 0},
    {"time zone unknown", HEAD AIO "  timeZone: Europe/Madird\n", "spec.timeZone",
     "time zone \"Europe/Madird\": not in the tz database", 1},
    {"scheduled tenant name too long",
     "apiVersion: omlop.io/v1alpha1\nkind: Tenant\nmetadata: {name: "
     "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdef}\nspec:\n" AIO
     "  backup: {schedule: \"@daily\"}\n",
     "spec.backup.schedule", "at most 49 characters", 1},
    {"scheduled tenant name at the limit",
     "apiVersion: omlop.io/v1alpha1\nkind: Tenant\nmetadata: {name: "
     "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcde}\nspec:\n" AIO
     "  backup: {schedule: \"@daily\"}\n",
     NULL, NULL, 0},
    /* Restore */
    {"restore by backup",
     "apiVersion: omlop.io/v1alpha1\nkind: Restore\nmetadata: {name: r}\nspec: {tenantRef: "
     "{name: t}, backupRef: {name: b}}\n",
     NULL, NULL, 0},
    {"restore by timestamp",
     "apiVersion: omlop.io/v1alpha1\nkind: Restore\nmetadata: {name: r}\nspec: {tenantRef: "
     "{name: t}, timestamp: 1681319391}\n",
     NULL, NULL, 0},
    {"restore both",
     "apiVersion: omlop.io/v1alpha1\nkind: Restore\nmetadata: {name: r}\nspec: {tenantRef: "
     "{name: t}, backupRef: {name: b}, timestamp: 1681319391}\n",
     "spec.timestamp", "set only one of backupRef, timestamp and source.objectKey", 1},
    {"restore neither",
     "apiVersion: omlop.io/v1alpha1\nkind: Restore\nmetadata: {name: r}\nspec: {tenantRef: "
     "{name: t}}\n",
     "spec", "set one of backupRef", 1},
    {"restore plain dump",
     "apiVersion: omlop.io/v1alpha1\nkind: Restore\nmetadata: {name: r}\nspec: {tenantRef: "
     "{name: t}, source: {objectKey: pgsql-backup-old.sql}}\n",
     NULL, NULL, 0},
    {"restore another tenant's timestamp",
     "apiVersion: omlop.io/v1alpha1\nkind: Restore\nmetadata: {name: r}\nspec: {tenantRef: "
     "{name: t}, timestamp: \"1681319391\", source: {tenant: other}}\n",
     NULL, NULL, 0},
    {"restore objectKey and backupRef",
     "apiVersion: omlop.io/v1alpha1\nkind: Restore\nmetadata: {name: r}\nspec: {tenantRef: "
     "{name: t}, backupRef: {name: b}, source: {objectKey: x.sql}}\n",
     "spec.source.objectKey", "set only one of", 1},
    {"restore source tenant without timestamp",
     "apiVersion: omlop.io/v1alpha1\nkind: Restore\nmetadata: {name: r}\nspec: {tenantRef: "
     "{name: t}, backupRef: {name: b}, source: {tenant: other}}\n",
     "spec.source.tenant", "goes with timestamp", 1},
    {"restore objectKey with ..",
     "apiVersion: omlop.io/v1alpha1\nkind: Restore\nmetadata: {name: r}\nspec: {tenantRef: "
     "{name: t}, source: {objectKey: a/../b.sql}}\n",
     "spec.source.objectKey", "without a leading", 1},
    /* Secret */
    {"secret keys ok",
     "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata: {name: s}\nstringData: {tls.crt: "
     "x, ssh-privatekey: y}\ndata: {a_b: eA==}\n",
     NULL, NULL, 0},
    {"secret key bad",
     "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata: {name: s}\nstringData: {\"a/b\": x}\n",
     "stringData[\"a/b\"]", "invalid key", 1},
    /* Event */
    {"event in order",
     "apiVersion: omlop.io/v1alpha1\nkind: Event\nmetadata: {name: e}\ninvolvedObject: {kind: "
     "Tenant, name: t}\ntype: Normal\nreason: Created\nfirstTimestamp: 2024-05-01T12:00:00Z\n"
     "lastTimestamp: 2024-05-01T12:00:00Z\n",
     NULL, NULL, 0},
    {"event backwards",
     "apiVersion: omlop.io/v1alpha1\nkind: Event\nmetadata: {name: e}\ninvolvedObject: {kind: "
     "Tenant, name: t}\ntype: Warning\nreason: Created\nfirstTimestamp: 2024-05-01T12:00:00Z\n"
     "lastTimestamp: 2024-05-01T11:00:00Z\n",
     "lastTimestamp", "is before firstTimestamp", 1},
};

static void test_rules_table(void **state)
{
    const schema_set *set = *state;
    strbuf all = STRBUF_INIT;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const rule_case *c = &cases[i];
        ydoc_list docs = YDOC_LIST_INIT;
        diag_list *dl = diag_list_new();
        json_object *out = NULL;

        if (yaml_load_buffer("r.yaml", c->yaml, strlen(c->yaml), NULL, &docs, dl) < 0)
            fail_msg("%s: YAML does not load", c->name);
        schema_set_decode(set, docs.docs[0].root, "r.yaml", &out, dl);
        strbuf_reset(&all);
        diag_list_format(dl, &all);
        if (!c->path) {
            if (diag_list_count(dl) != 0 || !out)
                fail_msg("%s: want valid, got:\n%s", c->name, all.buf);
        } else {
            const diag *d = diag_list_at(dl, 0);

            if (!d || !d->path || strcmp(d->path, c->path) != 0 || !strstr(d->message, c->message))
                fail_msg("%s: want %s: ...%s..., got:\n%s", c->name, c->path, c->message,
                         all.buf ? all.buf : "(nothing)\n");
            if (c->count && diag_list_count(dl) != c->count)
                fail_msg("%s: want %zu diags, got:\n%s", c->name, c->count, all.buf);
            if (d->line <= 0)
                fail_msg("%s: rule diag without a position: %s", c->name, all.buf);
            assert_null(out);
        }
        json_object_put(out);
        ydoc_list_release(&docs);
        diag_list_free(dl);
    }
    strbuf_release(&all);
}

/* Rule errors point at the offending node, or at the nearest ancestor that exists. */
static void test_rule_positions(void **state)
{
    const schema_set *set = *state;
    static const char yaml[] = HEAD "  layout: cluster\n" /* line 5 */
                                    "  hosts:\n"          /* line 6 */
        HOST("d", "data", "10.0.0.1")                     /* line 7 */
        HOST("v", "data", "10.0.0.2")                     /* line 8 */
        HOST("a", "app", "10.0.0.3")                      /* line 9 */
        "  network:\n"                                    /* line 10 */
        "    infraEnv: nat\n";                            /* line 11 */
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    json_object *out = NULL;
    const diag *d;

    (void)state;
    assert_int_equal(yaml_load_buffer("p.yaml", yaml, strlen(yaml), NULL, &docs, dl), 0);
    assert_int_equal(schema_set_decode(set, docs.docs[0].root, "p.yaml", &out, dl), OMLOP_EINVAL);
    assert_int_equal(diag_list_count(dl), 3);
    d = diag_list_at(dl, 0); /* the second data host's role value */
    assert_string_equal(d->path, "spec.hosts[1].role");
    assert_int_equal(d->line, 8);
    assert_int_equal(d->col, (int)strlen("    - {name: v, role: ") + 1);
    d = diag_list_at(dl, 1); /* no voice host: the hosts list */
    assert_string_equal(d->path, "spec.hosts");
    assert_int_equal(d->line, 7);
    d = diag_list_at(dl, 2); /* natIP absent: its parent map, spec.network */
    assert_string_equal(d->path, "spec.network.natIP");
    assert_int_equal(d->line, 11);
    assert_int_equal(d->col, 5);
    assert_string_equal(d->file, "p.yaml");
    ydoc_list_release(&docs);
    diag_list_free(dl);
}

/* spec.ha.vrrpVersion: 3 when absent; a bad one reported as file:line:col at its value */
static void test_ha_vrrp_version_default_and_position(void **state)
{
    const schema_set *set = *state;
    static const char good[] = HEAD HA_HOSTS HA_SPEC("");
    static const char bad[] = HEAD HA_HOSTS /* lines 5-8 */
        "  ha:\n"                           /* line 9 */
        "    vipNIC: ens18\n"
        "    netaddr: 172.16.101.0/24\n"
        "    omnileadsVIP: 172.16.101.205\n"
        "    postgresRWVIP: 172.16.101.206\n"
        "    postgresROVIP: 172.16.101.207\n"
        "    vrrpVersion: 4\n"; /* line 15 */
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    json_object *out = NULL;
    strbuf text = STRBUF_INIT;

    assert_int_equal(yaml_load_buffer("v.yaml", good, strlen(good), NULL, &docs, dl), 0);
    assert_int_equal(schema_set_decode(set, docs.docs[0].root, "v.yaml", &out, dl), 0);
    assert_int_equal(cjson_get_int(out, "spec.ha.vrrpVersion", -1), 3);
    json_object_put(out);
    out = NULL;
    ydoc_list_release(&docs);

    assert_int_equal(yaml_load_buffer("v.yaml", bad, strlen(bad), NULL, &docs, dl), 0);
    assert_int_equal(schema_set_decode(set, docs.docs[0].root, "v.yaml", &out, dl), OMLOP_EINVAL);
    assert_null(out);
    diag_list_format(dl, &text);
    assert_string_equal(strbuf_str(&text), "v.yaml:15:18: spec.ha.vrrpVersion: unsupported value "
                                           "4; must be one of: 2, 3\n");
    strbuf_release(&text);
    ydoc_list_release(&docs);
    diag_list_free(dl);
}

static void test_rules_without_tree(void **state)
{
    json_object *obj =
        json_tokener_parse("{\"kind\":\"Restore\",\"spec\":{\"tenantRef\":{\"name\":\"t\"}}}");
    diag_list *dl = diag_list_new();

    (void)state;
    assert_int_equal(rules_check("Restore", obj, NULL, NULL, dl), OMLOP_EINVAL);
    assert_int_equal(diag_list_count(dl), 1);
    assert_int_equal(diag_list_at(dl, 0)->line, 0);
    assert_int_equal(rules_check("Backup", obj, NULL, NULL, dl), 0); /* no rules */
    json_object_put(obj);
    diag_list_free(dl);
}

static void test_cron(void **state)
{
    static const struct {
        const char *expr;
        int ok;
    } crons[] = {
        {"30 3 * * *", 1},     {"@daily", 1},          {"@hourly", 1},    {"0 0 * * 7", 1},
        {"0-59/5 * * * *", 1}, {"0 0 1,15,31 * *", 1}, {"0 0 0 * *", 0},  {"* * * *", 0},
        {"* * * * * *", 0},    {"5/2 * * * *", 0},     {"1, * * * *", 0}, {"*/0 * * * *", 0},
        {"* * * * 8", 0},      {"@reboot", 0},         {"a * * * *", 0},
    };
    char why[160];

    (void)state;
    for (size_t i = 0; i < sizeof(crons) / sizeof(crons[0]); i++) {
        why[0] = '\0';
        if (rules_cron_is_valid(crons[i].expr, why, sizeof(why)) != crons[i].ok)
            fail_msg("cron \"%s\": want %d (%s)", crons[i].expr, crons[i].ok, why);
        if (!crons[i].ok && why[0] == '\0')
            fail_msg("cron \"%s\": no reason given", crons[i].expr);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_table),
        cmocka_unit_test(test_rule_positions),
        cmocka_unit_test(test_ha_vrrp_version_default_and_position),
        cmocka_unit_test(test_rules_without_tree),
        cmocka_unit_test(test_cron),
    };

    return cmocka_run_group_tests(tests, crds_builtin_setup, crds_builtin_teardown);
}
