/* ha: keepalived's start script, the VIP holders and the active node (see ha.h). */
#include "reconcilers/ha.h"

#include <stdlib.h>
#include <string.h>

#include "lib/cjson.h"
#include "lib/xalloc.h"
#include "reconcilers/ha_round.h"

/* --- the start script --------------------------------------------------------------------- */

/* Characters safe unquoted in a shell word and in keepalived's config. */
static int is_plain(const char *s, const char *extra)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr(extra, *s)))
            return 0;
    return 1;
}

static int is_ipv4(const char *s)
{
    int parts = 0, digits = 0, value = 0;

    if (!s || !*s)
        return 0;
    for (;; s++) {
        if (*s >= '0' && *s <= '9') {
            value = value * 10 + (*s - '0');
            if (++digits > 3 || value > 255)
                return 0;
        } else if (*s == '.' || *s == '\0') {
            if (digits == 0 || ++parts > 4)
                return 0;
            digits = value = 0;
            if (*s == '\0')
                break;
        } else {
            return 0;
        }
    }
    return parts == 4;
}

/* The prefix length of "a.b.c.d/N", or -1. */
static int netaddr_prefix(const char *netaddr)
{
    const char *slash = netaddr ? strchr(netaddr, '/') : NULL;
    char *end = NULL;
    long n;

    if (!slash || slash[1] < '0' || slash[1] > '9')
        return -1;
    n = strtol(slash + 1, &end, 10);
    if (*end || n < 1 || n > 32)
        return -1;
    return (int)n;
}

static int check_names(const char *const *v, const char *what, omlop_err *err)
{
    for (size_t i = 0; v && v[i]; i++)
        if (!is_plain(v[i], "_.-"))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "keepalived: %s container name \"%s\" is not "
                                 "a plain name",
                                 what, v[i]);
    return 0;
}

static void add_list(strbuf *out, const char *const *v, int is_reverse)
{
    size_t n = 0;

    while (v && v[n])
        n++;
    for (size_t i = 0; i < n; i++)
        strbuf_addf(out, " %s", v[is_reverse ? n - 1 - i : i]);
}

/*
 * The notify script's on_active function: Podman's exec API on the host's socket (create, start
 * attached, so it returns when the command ended, then its exit code). Success only on exit 0;
 * without a command, success at once. The words are plain (checked): JSON and single quotes
 * take them as they are.
 */
static void add_on_active(strbuf *out, const ha_keepalived_params *p)
{
    if (!p->on_active || !p->on_active[0]) {
        strbuf_adds(out, "on_active() { return 0; }\n");
        return;
    }
    strbuf_adds(out, "on_active() {\n"
                     "\tlocal s=/run/podman/podman.sock id code\n"
                     "\tid=$(curl -sf --max-time 10 --unix-socket $s -H 'Content-Type: "
                     "application/json' \\\n"
                     "\t\t-d '{\"AttachStdout\":true,\"AttachStderr\":true,\"Cmd\":[");
    for (size_t i = 0; p->on_active[i]; i++)
        strbuf_addf(out, "%s\"%s\"", i ? "," : "", p->on_active[i]);
    strbuf_addf(
        out,
        "]}' \\\n"
        "\t\t\"http://d/v4.0.0/libpod/containers/%s/exec\" |\n"
        "\t\tsed -n 's/.*\"Id\": *\"\\([0-9a-f]*\\)\".*/\\1/p') || return 1\n"
        "\t[ -n \"$id\" ] || return 1\n"
        "\tcurl -sf --max-time 300 -o /dev/null --unix-socket $s -H 'Content-Type: "
        "application/json' \\\n"
        "\t\t-d '{\"Detach\":false}' \"http://d/v4.0.0/libpod/exec/$id/start\" || return 1\n"
        "\tcode=$(curl -sf --max-time 10 --unix-socket $s \"http://d/v4.0.0/libpod/exec/$id/json\" "
        "|\n"
        "\t\tsed -n 's/.*\"ExitCode\": *\\(-\\{0,1\\}[0-9]*\\).*/\\1/p')\n"
        "\t[ \"$code\" = 0 ]\n"
        "}\n",
        p->on_active_container);
}

int ha_vrrp_version(const json_object *spec)
{
    return (int)cjson_get_int(spec, "ha.vrrpVersion", HA_VRRP_VERSION_DEFAULT);
}

/*
 * An instance's advert_int and, for VRRPv2, its PASS authentication: $pass is the start
 * script's variable (the env's password cut to 8 characters), expanded by the unquoted heredoc
 * that writes keepalived.conf, so the password is never in the host file.
 */
static void add_advert_auth(strbuf *out, int version)
{
    if (version != 2) {
        strbuf_adds(out, "\tadvert_int " HA_ADVERT_INT_V3 "\n");
        return;
    }
    strbuf_adds(out, "\tadvert_int " HA_ADVERT_INT_V2 "\n"
                     "\tauthentication {\n"
                     "\t\tauth_type PASS\n"
                     "\t\tauth_pass $pass\n"
                     "\t}\n");
}

/* A PostgreSQL VIP's instance: no preference of its own, the track file decides (ha.h). */
static void add_pg_instance(strbuf *out, const ha_keepalived_params *p, int version,
                            const char *what, int vrid, const char *vip, int prefix,
                            const char *file)
{
    if (!vip)
        return;
    strbuf_addf(out,
                "track_file omlop_pg_%s {\n"
                "\tfile \"%s\"\n"
                "\tweight 1\n"
                "}\n"
                "vrrp_instance omlop_%s_pg_%s {\n"
                "\tstate BACKUP\n"
                "\tinterface %s\n"
                "\tvirtual_router_id %d\n"
                "\tpriority %d\n",
                what, file, p->tenant, what, p->nic, vrid, HA_PG_PRIORITY_BASE);
    add_advert_auth(out, version);
    strbuf_addf(out,
                "\tvirtual_ipaddress {\n"
                "\t\t%s/%d dev %s\n"
                "\t}\n"
                "\ttrack_file {\n"
                "\t\tomlop_pg_%s weight 1\n"
                "\t}\n"
                "}\n",
                vip, prefix, p->nic, what);
}

int ha_keepalived_render(const ha_keepalived_params *p, strbuf *out, omlop_err *err)
{
    int prefix = netaddr_prefix(p->netaddr);
    int version = p->vrrp_version;
    strbuf dels = STRBUF_INIT;
    int rc;

    if (version != 2 && version != 3)
        return omlop_err_set(err, OMLOP_EINVAL, "spec.ha.vrrpVersion: %d is not 2 or 3", version);
    if (!is_plain(p->nic, "_.:-"))
        return omlop_err_set(err, OMLOP_EINVAL, "spec.ha.vipNIC: \"%s\" is not an interface name",
                             p->nic ? p->nic : "");
    if (!is_ipv4(p->vip))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "spec.ha.omnileadsVIP: \"%s\" is not an IPv4 "
                             "address",
                             p->vip ? p->vip : "");
    if (prefix < 0)
        return omlop_err_set(err, OMLOP_EINVAL, "spec.ha.netaddr: \"%s\" is not address/prefix",
                             p->netaddr ? p->netaddr : "");
    if (!is_plain(p->tenant, "_.-") || !is_plain(p->host, "_.-"))
        return omlop_err_set(err, OMLOP_EINVAL, "keepalived: tenant or host name is not plain");
    if (p->pg_rw_vip && !is_ipv4(p->pg_rw_vip))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "spec.ha.postgresRWVIP: \"%s\" is not an IPv4 address", p->pg_rw_vip);
    if (p->pg_ro_vip && !is_ipv4(p->pg_ro_vip))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "spec.ha.postgresROVIP: \"%s\" is not an IPv4 address", p->pg_ro_vip);
    if ((rc = check_names(p->active_only, "active-only", err)) < 0 ||
        (rc = check_names(p->tracked, "tracked", err)) < 0)
        return rc;
    if (p->on_active && !is_plain(p->on_active_container, "_.-"))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "keepalived: the on-active container name is not a plain name");
    for (size_t i = 0; p->on_active && p->on_active[i]; i++)
        if (!is_plain(p->on_active[i], "_.-/=:,+@"))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "keepalived: the on-active command's word \"%s\" has characters "
                                 "the notify script cannot pass",
                                 p->on_active[i]);

    strbuf_addf(out,
                "#!/bin/bash\n"
                "# Written by omlop for tenant %s on host %s; changes are overwritten.\n"
                "# keepalived for layout ha (docs/ha.md): writes its config, notify and track\n"
                "# scripts, then runs it.\n"
                "set -eu\n"
                "umask 077\n"
                "d=/run/omlop-keepalived\n"
                "mkdir -p \"$d\"\n",
                p->tenant, p->host);
    /* VRRPv2's password from the env, cut to what PASS carries; a character keepalived's
     * config would read as syntax is refused, without showing the value */
    if (version == 2)
        strbuf_addf(out,
                    "pass=${VRRP_AUTH_PASS:?VRRP_AUTH_PASS is not set: the Secret %s-vrrp key "
                    "password}\n"
                    "pass=${pass:0:%d}\n"
                    "case $pass in *[!A-Za-z0-9._~+=@%%-]*)\n"
                    "\techo 'the Secret %s-vrrp key password: its first %d characters must be "
                    "letters, digits or ._~+=@%%-' >&2\n"
                    "\texit 1 ;;\n"
                    "esac\n",
                    p->tenant, HA_VRRP_PASS_LEN, p->tenant, HA_VRRP_PASS_LEN);

    /* notify: MASTER starts the active-only containers, anything else stops them */
    strbuf_adds(out,
                "cat >\"$d/notify.sh\" <<'OMLOP_EOF'\n"
                "#!/bin/bash\n"
                "# keepalived notify: TYPE NAME STATE PRIORITY\n"
                "state=${3:-UNKNOWN}\n"
                "echo \"$state\" >" HA_STATE_FILE "\n"
                "api() {\n"
                "\tcurl -s -o /dev/null --max-time 40 --unix-socket /run/podman/podman.sock \\\n"
                "\t\t-X POST \"http://d/v4.0.0/libpod/containers/$1/$2\" || true\n"
                "}\n");
    add_on_active(out, p);
    strbuf_adds(out, "case $state in\n"
                     "MASTER)\n"
                     "\trm -f " HA_ON_ACTIVE_FILE "\n"
                     "\tfor c in");
    add_list(out, p->active_only, 0);
    strbuf_adds(out, "; do api \"$c\" start; done\n"
                     "\tif on_active; then echo ok >" HA_ON_ACTIVE_FILE "; fi ;;\n"
                     "BACKUP | FAULT | STOP)\n"
                     "\trm -f " HA_ON_ACTIVE_FILE "\n"
                     "\tfor c in");
    add_list(out, p->active_only, 1);
    strbuf_adds(out, "; do api \"$c\" 'stop?timeout=10'; done ;;\n"
                     "esac\n"
                     "exit 0\n"
                     "OMLOP_EOF\n");

    /*
     * track: every tracked container runs. One call of Podman's API for the list of running
     * containers: one call per container took longer than the script's timeout on a loaded
     * host (e2e 48 on a busy machine: "VRRP_Script(omlop_track) timed_out" twice, the main gave
     * the VIP up to a backup whose components all ran, and took it back 13 s later). An API
     * that does not answer is not counted against the node: its containers may well run
     * (conmon keeps them), and a flap on a slow API costs more than a late demotion.
     */
    strbuf_adds(out, "cat >\"$d/check.sh\" <<'OMLOP_EOF'\n"
                     "#!/bin/bash\n"
                     "# keepalived track script: exit 0 when every tracked container runs\n"
                     "list=$(curl -sf --max-time " HA_TRACK_API_TIMEOUT
                     " --unix-socket /run/podman/podman.sock \\\n"
                     "\t\"http://d/v4.0.0/libpod/containers/json\") || {\n"
                     "\techo \"omlop track: Podman's API did not answer: not counted\" >&2\n"
                     "\texit 0\n"
                     "}\n"
                     "for c in");
    add_list(out, p->tracked, 0);
    strbuf_adds(out, "; do\n"
                     "\tcase $list in\n"
                     "\t*\"\\\"Names\\\":[\\\"$c\\\"]\"* | *\"\\\"Names\\\": [\\\"$c\\\"]\"*) ;;\n"
                     "\t*) exit 1 ;;\n"
                     "\tesac\n"
                     "done\n"
                     "exit 0\n"
                     "OMLOP_EOF\n"
                     "chmod 0700 \"$d/notify.sh\" \"$d/check.sh\"\n");

    strbuf_addf(out,
                "cat >\"$d/keepalived.conf\" <<OMLOP_EOF\n"
                "global_defs {\n"
                "\tenable_script_security\n"
                "\tscript_user root\n"
                "\trouter_id omlop_%s_%s\n"
                "\tvrrp_version %d\n"
                "}\n"
                "vrrp_script omlop_track {\n"
                "\tscript \"$d/check.sh\"\n"
                "\tinterval 2\n"
                "\ttimeout " HA_TRACK_TIMEOUT "\n"
                "\tfall 2\n"
                "\trise 2\n"
                "\tweight %d\n"
                "}\n"
                "vrrp_instance omlop_%s {\n"
                "\tstate %s\n"
                "\tinterface %s\n"
                "\tvirtual_router_id %d\n"
                "\tpriority %d\n",
                p->tenant, p->host, version, HA_TRACK_WEIGHT, p->tenant,
                p->is_preferred ? "MASTER" : "BACKUP", p->nic, HA_VRID,
                p->is_preferred ? HA_PRIORITY_MAIN : HA_PRIORITY_BACKUP);
    add_advert_auth(out, version);
    strbuf_addf(out,
                "\tvirtual_ipaddress {\n"
                "\t\t%s/%d dev %s\n"
                "\t}\n"
                "\ttrack_script {\n"
                "\t\tomlop_track\n"
                "\t}\n"
                "\tnotify \"$d/notify.sh\"\n"
                "}\n",
                p->vip, prefix, p->nic);
    /* a keepalived killed (SIGKILL) leaves its addresses behind: a restarted one starts from
     * none, and takes back what the election gives it */
    strbuf_addf(&dels, "ip addr del %s/%d dev %s 2>/dev/null || true\n", p->vip, prefix, p->nic);
    if (p->pg_rw_vip)
        strbuf_addf(&dels, "ip addr del %s/%d dev %s 2>/dev/null || true\n", p->pg_rw_vip, prefix,
                    p->nic);
    if (p->pg_ro_vip)
        strbuf_addf(&dels, "ip addr del %s/%d dev %s 2>/dev/null || true\n", p->pg_ro_vip, prefix,
                    p->nic);
    add_pg_instance(out, p, version, "rw", HA_VRID_PG_RW, p->pg_rw_vip, prefix,
                    HA_PG_RW_TRACK_FILE);
    add_pg_instance(out, p, version, "ro", HA_VRID_PG_RO, p->pg_ro_vip, prefix,
                    HA_PG_RO_TRACK_FILE);
    strbuf_addf(out,
                "OMLOP_EOF\n"
                /* no role yet: both nodes at the base priority until omlopd writes */
                "echo 0 >" HA_PG_RW_TRACK_FILE "\n"
                "echo 0 >" HA_PG_RO_TRACK_FILE "\n"
                "echo INIT >" HA_STATE_FILE "\n"
                "rm -f " HA_ON_ACTIVE_FILE "\n"
                /* a restarted container keeps /run: keepalived would find its old pid files
                 * naming a live pid (its own 1) and exit as "already running" */
                "rm -f \"$d/keepalived.pid\" \"$d/vrrp.pid\"\n"
                "%s"
                "exec keepalived -n -l -D -P -f \"$d/keepalived.conf\" -p \"$d/keepalived.pid\" "
                "-r \"$d/vrrp.pid\"\n",
                strbuf_str(&dels));
    strbuf_release(&dels);
    return 0;
}

/* --- observation ---------------------------------------------------------------------------- */

int ha_addr_held(const char *ip_output, const char *addr)
{
    size_t len = addr ? strlen(addr) : 0;

    if (!ip_output || len == 0)
        return 0;
    for (const char *p = strstr(ip_output, " inet "); p; p = strstr(p + 1, " inet ")) {
        const char *a = p + 6;

        while (*a == ' ')
            a++;
        if (strncmp(a, addr, len) == 0 && (a[len] == '/' || a[len] == ' '))
            return 1;
    }
    return 0;
}

const char *ha_vip_name(ha_vip v)
{
    switch (v) {
    case HA_VIP_OMNILEADS:
        return "omnileads";
    case HA_VIP_POSTGRES_RW:
        return "postgresRW";
    case HA_VIP_POSTGRES_RO:
        return "postgresRO";
    case HA_VIP_COUNT:
        break;
    }
    return "?";
}

static int name_is(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

int ha_decide_active(const ha_node_obs *nodes, size_t n, const char *previous,
                     const char *preferred)
{
    int first = -1, n_holders = 0, prev = -1, pref = -1;

    for (size_t i = 0; i < n; i++) {
        if (!nodes[i].is_reachable || !nodes[i].is_observed || !nodes[i].holds[HA_VIP_OMNILEADS])
            continue;
        n_holders++;
        if (first < 0)
            first = (int)i;
        if (name_is(nodes[i].name, previous))
            prev = (int)i;
        if (name_is(nodes[i].name, preferred))
            pref = (int)i;
    }
    if (n_holders <= 1)
        return first;
    return prev >= 0 ? prev : pref >= 0 ? pref : first;
}

live_ha ha_node_role(int active, size_t i)
{
    if (active < 0)
        return LIVE_HA_UNDECIDED;
    return (size_t)active == i ? LIVE_HA_ACTIVE : LIVE_HA_STANDBY;
}

/* --- status ------------------------------------------------------------------------------- */

json_object *ha_status_json(const ha_report *rp, const char **cond_status, const char **reason,
                            strbuf *msg)
{
    json_object *ha = json_object_new_object(), *vips = json_object_new_array();
    json_object *old_change = NULL;
    const char *active = rp->active >= 0 ? rp->nodes[rp->active].name : NULL;
    const char *old_active = json_object_get_string(
        json_object_object_get_ex(rp->old_ha, "activeNode", &old_change) ? old_change : NULL);
    const char *pg_reason = NULL;
    strbuf pg_msg = STRBUF_INIT;
    size_t n_holders = 0;

    old_change = NULL;
    if (active)
        json_object_object_add(ha, "activeNode", json_object_new_string(active));
    if (rp->preferred)
        json_object_object_add(ha, "preferredMain", json_object_new_string(rp->preferred));
    for (int v = 0; v < HA_VIP_COUNT; v++) {
        json_object *o = json_object_new_object(), *holders = json_object_new_array();

        json_object_object_add(o, "name", json_object_new_string(ha_vip_name((ha_vip)v)));
        if (rp->addr[v])
            json_object_object_add(o, "address", json_object_new_string(rp->addr[v]));
        for (size_t i = 0; i < rp->n; i++)
            if (rp->nodes[i].is_reachable && rp->nodes[i].is_observed && rp->nodes[i].holds[v]) {
                json_object_array_add(holders, json_object_new_string(rp->nodes[i].name));
                n_holders += v == HA_VIP_OMNILEADS;
            }
        json_object_object_add(o, "holders", holders);
        json_object_array_add(vips, o);
    }
    json_object_object_add(ha, "vips", vips);
    if (active && old_active && strcmp(active, old_active) != 0) {
        json_object *ch = json_object_new_object();

        json_object_object_add(ch, "time", json_object_new_string(rp->now));
        json_object_object_add(ch, "from", json_object_new_string(old_active));
        json_object_object_add(ch, "to", json_object_new_string(active));
        json_object_object_add(ha, "lastActiveChange", ch);
    } else if (json_object_object_get_ex(rp->old_ha, "lastActiveChange", &old_change)) {
        json_object_object_add(ha, "lastActiveChange", json_object_get(old_change));
    }
    old_change = NULL;
    json_object_object_get_ex(rp->old_ha, "postgres", &old_change);
    if (rp->pg_d)
        json_object_object_add(ha, "postgres",
                               ha_pg_status_json(rp->pg_d, rp->pg_obs, rp->pg_n, old_change,
                                                 rp->pg_failover, &pg_reason, &pg_msg));
    else if (old_change)
        json_object_object_add(ha, "postgres", json_object_get(old_change));

    *cond_status = "False";
    strbuf_reset(msg);
    for (size_t i = 0; i < rp->n; i++) {
        if (!rp->nodes[i].is_reachable) {
            *reason = "NodeUnreachable";
            strbuf_addf(msg, "node %s is unreachable: it cannot take over", rp->nodes[i].name);
            goto out;
        }
        if (!rp->nodes[i].is_observed) {
            *reason = "KeepalivedNotRunning";
            strbuf_addf(msg, "keepalived does not run on node %s", rp->nodes[i].name);
            goto out;
        }
    }
    if (n_holders == 0) {
        *reason = "VIPNotHeld";
        strbuf_addf(msg, "no node holds the OMniLeads VIP %s", rp->addr[HA_VIP_OMNILEADS]);
        goto out;
    }
    if (n_holders > 1) {
        *reason = "VIPHeldTwice";
        strbuf_addf(msg, "both nodes hold the OMniLeads VIP %s; the active node stays %s",
                    rp->addr[HA_VIP_OMNILEADS], active ? active : "(none)");
        goto out;
    }
    if (pg_reason) {
        *reason = pg_reason;
        strbuf_adds(msg, strbuf_str(&pg_msg));
        goto out;
    }
    *cond_status = "True";
    *reason = name_is(active, rp->preferred) ? "ActiveOnPreferredMain" : "ActiveOnBackup";
    strbuf_addf(msg, "node %s holds the OMniLeads VIP %s and runs the active-only components",
                active, rp->addr[HA_VIP_OMNILEADS]);
    if (!name_is(active, rp->preferred))
        strbuf_addf(msg, " (the preferred main %s is standing by)",
                    rp->preferred ? rp->preferred : "");
out:
    strbuf_release(&pg_msg);
    return ha;
}
