/* ha_pg: the PostgreSQL roles of layout ha, decided without I/O (see ha_pg.h). */
#include "reconcilers/ha_pg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cjson.h"

const char *ha_pg_step_name(ha_pg_step s)
{
    switch (s) {
    case HA_PG_NONE:
        return "none";
    case HA_PG_REGISTER_PRIMARY:
        return "register-primary";
    case HA_PG_PROMOTE:
        return "promote";
    case HA_PG_CLONE:
        return "clone";
    case HA_PG_REJOIN:
        return "rejoin";
    case HA_PG_FENCE:
        return "fence";
    case HA_PG_REGISTER_STANDBY:
        return "register-standby";
    case HA_PG_SWITCHOVER:
        return "switchover";
    }
    return "?";
}

/* --- deciding ------------------------------------------------------------------------------- */

static int name_is(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static int find(const ha_pg_obs *o, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (name_is(o[i].name, name))
            return (int)i;
    return -1;
}

static int runs_primary(const ha_pg_obs *o)
{
    return o->is_observed && o->is_running && !o->is_recovery;
}

static int same_cluster(const ha_pg_obs *a, const ha_pg_obs *b)
{
    return a->sysid[0] && strcmp(a->sysid, b->sysid) == 0;
}

/* With no recorded primary: a registered primary (preferred first), else the preferred main
 * running (a fresh pair: its cluster is kept, the other's replaced). */
static int bootstrap_primary(const ha_pg_obs *o, size_t n, const char *preferred)
{
    int pref = find(o, n, preferred), first = -1;

    if (pref >= 0 && runs_primary(&o[pref]) && o[pref].is_registered)
        return pref;
    for (size_t i = 0; i < n; i++)
        if (runs_primary(&o[i]) && o[i].is_registered && first < 0)
            first = (int)i;
    if (first >= 0)
        return first;
    return pref >= 0 && runs_primary(&o[pref]) ? pref : -1;
}

/* Why the recorded primary p no longer serves, or NULL when it does. */
static const char *lost_reason(const ha_pg_obs *p)
{
    if (!p->is_observed)
        return "unreachable (its host, or its postgres container, does not answer)";
    if (!p->is_running)
        return "its PostgreSQL server is not running";
    if (p->is_recovery)
        return "it runs as a standby";
    return NULL;
}

/* The next step of node x, a node other than the primary p. */
static ha_pg_step follower_step(const ha_pg_obs *x, const ha_pg_obs *p)
{
    if (!x->has_data)
        return HA_PG_CLONE;
    if (!x->is_running)
        return HA_PG_REJOIN;
    if (!same_cluster(x, p))
        return HA_PG_CLONE; /* a cluster of its own: the fresh one a new node initialised */
    if (!x->is_recovery)
        return HA_PG_FENCE; /* a second primary of the cluster: stopped, then rejoined */
    if (!x->is_registered)
        return HA_PG_REGISTER_STANDBY;
    return HA_PG_NONE;
}

/* The standby t replayed everything primary p sent, as p saw it: a switchover loses nothing. */
static int caught_up(const ha_pg_obs *p, const ha_pg_obs *t)
{
    return name_is(p->repl_name, t->name) && strcmp(p->repl_state, "streaming") == 0 &&
           p->repl_lag == 0;
}

/* A switchover to wanted, when the pair is settled and wanted is the caught-up standby. */
static void maybe_switchover(const ha_pg_obs *o, size_t n, const char *wanted, ha_pg_decision *d)
{
    int t = find(o, n, wanted);

    if (t < 0 || t == d->primary || t != d->standby || d->failover_from >= 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (d->step[i] != HA_PG_NONE)
            return;
    if (!caught_up(&o[d->primary], &o[t]))
        return;
    d->step[t] = HA_PG_SWITCHOVER;
    d->switchover_from = d->primary;
}

const char *ha_pg_wanted_primary(const char *annotation, const char *failback,
                                 const char *preferred)
{
    if (annotation && *annotation)
        return annotation;
    if (failback && strcmp(failback, "Auto") == 0)
        return preferred;
    return NULL;
}

void ha_pg_decide(const ha_pg_obs *o, size_t n, const char *recorded, const char *preferred,
                  const char *wanted, ha_pg_decision *d)
{
    int rec = find(o, n, recorded), p = -1;

    memset(d, 0, sizeof(*d));
    d->primary = d->standby = d->failover_from = d->switchover_from = d->held_by_witness = -1;
    if (n > HA_PG_MAX_NODES)
        n = HA_PG_MAX_NODES;
    if (rec < 0) {
        p = bootstrap_primary(o, n, preferred);
    } else if (!(d->why_lost = lost_reason(&o[rec]))) {
        p = rec;
    } else {
        /* another primary of the cluster already (someone promoted it): follow it; else a
         * running standby of the cluster is promoted */
        for (size_t i = 0; i < n && p < 0; i++)
            if ((int)i != rec && runs_primary(&o[i]) && o[i].is_registered)
                p = (int)i;
        for (size_t i = 0; i < n && p < 0; i++)
            if ((int)i != rec && o[i].is_observed && o[i].is_running && o[i].is_recovery &&
                o[i].is_registered) {
                if (o[rec].is_unreachable && o[i].rw_vip == HA_PG_RW_NOT_HELD) {
                    /* it still hears the primary: omlopd's link broke, not the primary */
                    d->held_by_witness = (int)i;
                    continue;
                }
                p = (int)i;
                d->step[i] = HA_PG_PROMOTE;
            }
        d->failover_from = p >= 0 ? rec : -1;
        if (p < 0)
            d->why_lost = NULL; /* nobody to take over: nothing is decided */
    }
    d->primary = p;
    if (p < 0)
        return;
    if (d->step[p] == HA_PG_NONE && !o[p].is_registered)
        d->step[p] = HA_PG_REGISTER_PRIMARY;
    for (size_t i = 0; i < n; i++) {
        if ((int)i == p || !o[i].is_observed)
            continue;
        if (d->step[p] == HA_PG_PROMOTE) {
            /* the promotion first; the old primary, back already, is only kept from writing */
            if (runs_primary(&o[i]))
                d->step[i] = HA_PG_FENCE;
            continue;
        }
        d->step[i] = follower_step(&o[i], &o[p]);
        if (d->step[i] == HA_PG_NONE && d->standby < 0 && strcmp(o[i].receiver, "streaming") == 0)
            d->standby = (int)i;
    }
    maybe_switchover(o, n, wanted, d);
}

/* --- parsing the observation -------------------------------------------------------------- */

static int parse_ll(const char *v, long long *out)
{
    char *end = NULL;

    errno = 0;
    *out = strtoll(v, &end, 10);
    return errno == 0 && end != v && *end == '\0' ? 0 : -1;
}

static int parse_flag(const char *v, int *out)
{
    if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
        return -1;
    *out = v[0] == '1';
    return 0;
}

static void copy_word(char *dst, size_t size, const char *src, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* "NAME STATE LAG" of repl= */
static int parse_repl(const char *v, ha_pg_obs *o)
{
    const char *sp1 = strchr(v, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;

    if (!sp1 || !sp2 || sp1 == v || sp2 == sp1 + 1)
        return -1;
    if (parse_ll(sp2 + 1, &o->repl_lag) < 0)
        return -1;
    copy_word(o->repl_name, sizeof(o->repl_name), v, (size_t)(sp1 - v));
    copy_word(o->repl_state, sizeof(o->repl_state), sp1 + 1, (size_t)(sp2 - sp1 - 1));
    return 0;
}

static int parse_line(const char *key, const char *v, ha_pg_obs *o)
{
    long long ll;

    if (strcmp(key, "data") == 0)
        return parse_flag(v, &o->has_data);
    if (strcmp(key, "running") == 0)
        return parse_flag(v, &o->is_running);
    if (strcmp(key, "recovery") == 0)
        return parse_flag(v, &o->is_recovery);
    if (strcmp(key, "registered") == 0)
        return parse_flag(v, &o->is_registered);
    if (strcmp(key, "timeline") == 0) {
        if (parse_ll(v, &ll) < 0 || ll < 0 || ll > 0x7fffffffLL)
            return -1;
        o->timeline = (long)ll;
        return 0;
    }
    if (strcmp(key, "sysid") == 0) {
        if (parse_ll(v, &ll) < 0 || strlen(v) >= sizeof(o->sysid))
            return -1;
        copy_word(o->sysid, sizeof(o->sysid), v, strlen(v));
        return 0;
    }
    if (strcmp(key, "receiver") == 0) {
        copy_word(o->receiver, sizeof(o->receiver), v, strlen(v));
        return 0;
    }
    if (strcmp(key, "repl") == 0)
        return parse_repl(v, o);
    if (strcmp(key, "complete") == 0)
        return parse_flag(v, &o->is_complete);
    return 0; /* a key this omlopd does not know: a newer script */
}

int ha_pg_parse(const char *text, ha_pg_obs *o, omlop_err *err)
{
    const char *name = o->name, *addr = o->addr;
    char line[256];

    memset(o, 0, sizeof(*o));
    o->name = name;
    o->addr = addr;
    o->repl_lag = -1;
    for (const char *p = text ? text : ""; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *eq;

        if (len >= sizeof(line))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "postgres observation of node %s: a line of "
                                 "%zu characters",
                                 name ? name : "?", len);
        memcpy(line, p, len);
        line[len] = '\0';
        p += len + (nl ? 1 : 0);
        if (!line[0])
            continue;
        eq = strchr(line, '=');
        if (!eq || eq == line)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "postgres observation of node %s: \"%s\" is not key=value",
                                 name ? name : "?", line);
        *eq = '\0';
        if (parse_line(line, eq + 1, o) < 0)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "postgres observation of node %s: bad value \"%s\" for %s",
                                 name ? name : "?", eq + 1, line);
    }
    /* a running server read only in part (it stopped answering between the queries) is no
     * observation: deciding from it once made a dying primary "unregistered" and its standby a
     * clone of it (e2e 62) */
    if (o->is_running && !o->is_complete)
        return omlop_err_set(err, OMLOP_EUNAVAIL,
                             "postgres observation of node %s is incomplete (the server stopped "
                             "answering while it was read)",
                             name ? name : "?");
    o->is_observed = 1;
    return 0;
}

/* --- scripts -------------------------------------------------------------------------------- */

void ha_pg_observe_script(int node_id, strbuf *out)
{
    strbuf_addf(
        out,
        "d=" HA_PG_DATA "\n"
        "if [ -s \"$d/PG_VERSION\" ]; then echo data=1; else echo data=0; fi\n"
        "q() { psql -X -A -t -q -h /run/postgresql -U repmgr -d repmgr -c \"$1\" 2>/dev/null; }\n"
        "if ! pg_isready -q -h /run/postgresql -t 2; then echo running=0; exit 0; fi\n"
        "echo running=1\n"
        "q \"SELECT 'recovery=' || pg_is_in_recovery()::int\"\n"
        "q \"SELECT 'sysid=' || system_identifier FROM pg_control_system()\"\n"
        "q \"SELECT 'timeline=' || CASE WHEN pg_is_in_recovery() THEN (SELECT "
        "coalesce(max(received_tli), (SELECT timeline_id FROM pg_control_checkpoint())) FROM "
        "pg_stat_wal_receiver) ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, "
        "8))::bit(32)::int END\"\n"
        "q \"SELECT 'registered=' || count(*) FROM repmgr.nodes WHERE node_id = %d AND active\" "
        "|| echo registered=0\n"
        "q \"SELECT 'receiver=' || status FROM pg_stat_wal_receiver\"\n"
        "q \"SELECT 'repl=' || application_name || ' ' || state || ' ' || CASE WHEN "
        "pg_is_in_recovery() THEN -1 ELSE coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), "
        "replay_lsn)::bigint, -1) END FROM pg_stat_replication ORDER BY application_name LIMIT "
        "1\"\n"
        /* last: a server that stopped answering while it was read printed defaults above (no
         * recovery=, registered=0), which read as an unregistered primary of no known cluster */
        "q \"SELECT 'complete=1'\"\n"
        "exit 0\n",
        node_id);
}

static int is_plain(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("_.-:", *s)))
            return 0;
    return 1;
}

/* stop, empty PGDATA, clone from $up, start, register */
#define CLONE_STEPS                                                                                \
    "\t" HA_PG_ENTRYPOINT " ha-pg-stop || true\n"                                                  \
    "\tfind " HA_PG_DATA " -mindepth 1 -delete\n"                                                  \
    "\tr -h \"$up\" -p 5432 -U repmgr -d repmgr standby clone --fast-checkpoint\n"                 \
    "\t" HA_PG_ENTRYPOINT " ha-pg-start\n"                                                         \
    "\tr standby register --force\n"

int ha_pg_step_script(ha_pg_step s, const ha_pg_node_conf *c, const char *upstream, strbuf *out,
                      omlop_err *err)
{
    int needs_up = s == HA_PG_CLONE || s == HA_PG_REJOIN;

    if (c->node_id < 1 || !is_plain(c->name) || !is_plain(c->addr) ||
        (c->peer_addr && !is_plain(c->peer_addr)))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "postgres %s: node %s: its name or address is not plain",
                             ha_pg_step_name(s), c->name ? c->name : "?");
    if (needs_up && !is_plain(upstream))
        return omlop_err_set(err, OMLOP_EINVAL, "postgres %s of node %s: no primary address",
                             ha_pg_step_name(s), c->name);
    strbuf_addf(out,
                "set -eu\n"
                "conf=" HA_PG_HOME "/repmgr.conf\n"
                "cat >\"$conf\" <<'OMLOP_EOF'\n"
                "node_id=%d\n"
                "node_name='%s'\n"
                "conninfo='host=%s port=%d user=repmgr dbname=repmgr connect_timeout=2'\n"
                "data_directory='" HA_PG_DATA "'\n"
                "pg_bindir='" HA_PG_BINDIR "'\n"
                "service_start_command='" HA_PG_ENTRYPOINT " ha-pg-start'\n"
                "service_stop_command='" HA_PG_ENTRYPOINT " ha-pg-stop'\n"
                "OMLOP_EOF\n"
                "echo '%s' >" HA_PG_HOME "/omlop-peer\n"
                "r() { repmgr -f \"$conf\" \"$@\"; }\n"
                "me='%s'\n"
                "up='%s'\n",
                c->node_id, c->name, c->addr, HA_PG_PORT, c->peer_addr ? c->peer_addr : "", c->name,
                needs_up ? upstream : "");
    switch (s) {
    case HA_PG_NONE:
        break;
    case HA_PG_REGISTER_PRIMARY:
        strbuf_adds(out, "r primary register --force\n");
        break;
    case HA_PG_PROMOTE:
        strbuf_adds(out, "r standby promote\n");
        break;
    case HA_PG_CLONE:
        strbuf_adds(out, "{\n" CLONE_STEPS "}\necho omlop-result=cloned\n");
        break;
    case HA_PG_REJOIN:
        /* A CHECKPOINT on the primary first: one just promoted has not written its new
         * timeline into its control file yet, and pg_rewind, which reads it there, would find
         * both on the same timeline and rewind nothing. Then pg_rewind itself, not `repmgr node
         * rejoin --force-rewind`: after a killed primary's
         * crash recovery repmgr took its data as able to follow (no rewind) although it held
         * WAL past the fork, so the server never streamed and the rejoin ended in a clone a
         * minute later. pg_rewind runs the crash recovery itself (single-user mode, listening on
         * nothing), then copies what changed since the fork, or nothing when nothing diverged.
         * The standby's settings are written as `standby clone` writes them: primary_conninfo
         * with the node name as application_name (the primary's pg_stat_replication shows it),
         * the one pg_rewind copied from the primary removed. When pg_rewind fails, or the server
         * does not start after it, a fresh clone in the same step (a half-done rewind left
         * for the next round would need crash recovery that a standby cannot have in
         * single-user mode). */
        strbuf_adds(out, HA_PG_ENTRYPOINT
                    " ha-pg-stop || true\n"
                    "ok=0\n"
                    "psql -X -q -c CHECKPOINT \"host=$up port=5432 user=repmgr "
                    "dbname=repmgr connect_timeout=2\" >/dev/null 2>&1 || true\n"
                    "if " HA_PG_BINDIR "/pg_rewind -D " HA_PG_DATA
                    " --source-server=\"host=$up port=5432 user=repmgr dbname=repmgr "
                    "connect_timeout=2\" >" HA_PG_HOME "/omlop-rewind.log 2>&1; then\n"
                    "\tsed -i '/^primary_conninfo/d' " HA_PG_DATA "/postgresql.auto.conf\n"
                    "\techo \"primary_conninfo = 'host=$up port=5432 user=repmgr "
                    "application_name=$me connect_timeout=2'\" >>" HA_PG_DATA
                    "/postgresql.auto.conf\n"
                    "\ttouch " HA_PG_DATA "/standby.signal\n"
                    "\tif " HA_PG_ENTRYPOINT " ha-pg-start; then\n"
                    "\t\tok=1\n"
                    "\telse\n"
                    "\t\twhy=\"the server did not start after pg_rewind: $(grep -E "
                    "'FATAL|PANIC' " HA_PG_HOME "/postgres.log | tail -n 1)\"\n"
                    "\tfi\n"
                    "else\n"
                    "\twhy=$(tail -n 1 " HA_PG_HOME "/omlop-rewind.log)\n"
                    "fi\n"
                    "if [ \"$ok\" = 1 ]; then\n"
                    "\tr standby register --force\n"
                    "\techo omlop-result=rejoined\n"
                    "else\n"
                    "\techo \"omlop-rewind-error=$why\"\n"
                    "\techo 'omlop: no rejoin by pg_rewind: a fresh clone' >&2\n" CLONE_STEPS
                    "\techo omlop-result=cloned\n"
                    "fi\n");
        break;
    case HA_PG_FENCE:
        /* a clean stop; its shutdown checkpoint is what a switchover's standby must replay */
        strbuf_adds(out, HA_PG_ENTRYPOINT " ha-pg-stop\n"
                                          "echo \"checkpoint=$(pg_controldata " HA_PG_DATA
                                          " | sed -n 's/^Latest checkpoint location: *//p')\"\n");
        break;
    case HA_PG_REGISTER_STANDBY:
        strbuf_adds(out, "r standby register --force\n");
        break;
    case HA_PG_SWITCHOVER:
        return omlop_err_set(err, OMLOP_EINVAL,
                             "postgres switchover of node %s: not one script (the shell runs "
                             "fence, promote-after and rejoin)",
                             c->name);
    }
    return 0;
}

/* "X/Y" with X and Y hexadecimal, as PostgreSQL prints an LSN. */
static int is_lsn(const char *s)
{
    const char *slash = s ? strchr(s, '/') : NULL;

    if (!slash || slash == s || !slash[1] || strlen(s) > 17)
        return 0;
    for (const char *p = s; *p; p++)
        if (p != slash && !strchr("0123456789ABCDEFabcdef", *p))
            return 0;
    return 1;
}

int ha_pg_checkpoint_of(const char *fence_output, char *out, size_t size)
{
    const char *p = fence_output ? strstr(fence_output, "checkpoint=") : NULL;
    size_t len;

    if (!p)
        return -1;
    p += strlen("checkpoint=");
    len = strcspn(p, "\n");
    if (len == 0 || len >= size)
        return -1;
    memcpy(out, p, len);
    out[len] = '\0';
    return is_lsn(out) ? 0 : -1;
}

int ha_pg_promote_after_script(const ha_pg_node_conf *c, const char *lsn, int wait_s, strbuf *out,
                               omlop_err *err)
{
    int rc;

    if (!is_lsn(lsn))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "postgres switchover to node %s: \"%s\" is not an LSN",
                             c->name ? c->name : "?", lsn ? lsn : "");
    if ((rc = ha_pg_step_script(HA_PG_NONE, c, NULL, out, err)) < 0)
        return rc;
    strbuf_addf(
        out,
        "i=0\n"
        "until [ \"$(psql -X -A -t -q -h /run/postgresql -U repmgr -d repmgr -c "
        "\"SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn\")\" = t ]; do\n"
        "\ti=$((i + 1))\n"
        "\tif [ \"$i\" -gt %d ]; then\n"
        "\t\techo 'omlop: the standby did not replay the last checkpoint of the old primary "
        "%s' >&2\n"
        "\t\texit 3\n"
        "\tfi\n"
        "\tsleep 0.2\n"
        "done\n"
        "r standby promote\n",
        lsn, wait_s * 5, lsn);
    return 0;
}

/* --- VIP weights ---------------------------------------------------------------------------- */

#define HA_PG_RW_HOLDER    100
#define HA_PG_TIMELINE_MAX 100 /* priority 50 + 100 + 100 stays under VRRP's 254 */
#define HA_PG_RO_STANDBY   100
#define HA_PG_RO_PRIMARY   10

int ha_pg_rw_weight(const ha_pg_decision *d, const ha_pg_obs *o, size_t i)
{
    long tl;

    if (d->primary < 0 || (size_t)d->primary != i)
        return 0;
    tl = o[i].timeline;
    if (tl < 0)
        tl = 0;
    if (tl > HA_PG_TIMELINE_MAX)
        tl = HA_PG_TIMELINE_MAX;
    return HA_PG_RW_HOLDER + (int)tl;
}

int ha_pg_ro_weight(const ha_pg_decision *d, const ha_pg_obs *o, size_t i)
{
    (void)o;
    if (d->standby >= 0 && (size_t)d->standby == i)
        return HA_PG_RO_STANDBY;
    if (d->primary >= 0 && (size_t)d->primary == i)
        return HA_PG_RO_PRIMARY;
    return 0;
}

/* --- status --------------------------------------------------------------------------------- */

static void add_str(json_object *o, const char *k, const char *v)
{
    if (v)
        json_object_object_add(o, k, json_object_new_string(v));
}

json_object *ha_pg_status_json(const ha_pg_decision *d, const ha_pg_obs *o, size_t n,
                               const json_object *old, const ha_pg_failover *fo,
                               const char **reason, strbuf *msg)
{
    json_object *pg = json_object_new_object(), *x = NULL;
    const ha_pg_obs *p = d->primary >= 0 ? &o[d->primary] : NULL;
    const ha_pg_obs *s = d->standby >= 0 ? &o[d->standby] : NULL;

    (void)n;
    *reason = NULL;
    strbuf_reset(msg);
    if (p) {
        add_str(pg, "primary", p->name);
        if (p->timeline > 0)
            json_object_object_add(pg, "timeline", json_object_new_int64(p->timeline));
    } else if (json_object_object_get_ex(old, "primary", &x)) {
        /* nobody decided this round (both lost): the record stays, a later round needs it */
        json_object_object_add(pg, "primary", json_object_get(x));
    }
    if (s)
        add_str(pg, "standby", s->name);
    if (p && p->repl_state[0]) {
        json_object *r = json_object_new_object();

        add_str(r, "standby", p->repl_name);
        add_str(r, "state", p->repl_state);
        if (p->repl_lag >= 0)
            json_object_object_add(r, "lagBytes", json_object_new_int64(p->repl_lag));
        json_object_object_add(pg, "replication", r);
    }
    if (fo) {
        json_object *f = json_object_new_object();

        add_str(f, "time", fo->time);
        add_str(f, "reason", fo->reason);
        add_str(f, "from", fo->from);
        add_str(f, "to", fo->to);
        json_object_object_add(pg, "lastFailover", f);
    } else if (json_object_object_get_ex(old, "lastFailover", &x)) {
        json_object_object_add(pg, "lastFailover", json_object_get(x));
    }

    if (!p && d->held_by_witness >= 0 && json_object_object_get_ex(pg, "primary", &x)) {
        *reason = "PrimaryUnreachable";
        strbuf_addf(msg,
                    "PostgreSQL primary %s does not answer omlopd, but the standby %s still "
                    "hears it: no failover",
                    json_object_get_string(x), o[d->held_by_witness].name);
    } else if (!p) {
        *reason = "NoPrimary";
        strbuf_adds(msg, "no PostgreSQL node runs as the primary");
    } else if (!s) {
        *reason = "StandbyNotStreaming";
        strbuf_addf(msg, "PostgreSQL primary %s has no standby streaming from it", p->name);
    }
    return pg;
}

json_object *ha_pg_status_promoted(const json_object *old_status, const ha_pg_failover *fo, long tl)
{
    json_object *st = old_status ? cjson_copy(old_status) : NULL, *ha = NULL, *pg = NULL;
    json_object *f = json_object_new_object();

    if (!st || !json_object_is_type(st, json_type_object)) {
        json_object_put(st);
        st = json_object_new_object();
    }
    if (!json_object_object_get_ex(st, "ha", &ha) || !json_object_is_type(ha, json_type_object)) {
        ha = json_object_new_object();
        json_object_object_add(st, "ha", ha);
    }
    pg = json_object_new_object();
    json_object_object_add(ha, "postgres", pg);
    add_str(pg, "primary", fo->to);
    if (tl > 0)
        json_object_object_add(pg, "timeline", json_object_new_int64(tl));
    add_str(f, "time", fo->time);
    add_str(f, "reason", fo->reason);
    add_str(f, "from", fo->from);
    add_str(f, "to", fo->to);
    json_object_object_add(pg, "lastFailover", f);
    return st;
}
