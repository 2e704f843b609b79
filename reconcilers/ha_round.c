/* ha_round: observing layout ha's VIPs during a round (see ha_round.h). */
#include "reconcilers/ha_round.h"

#include <stdlib.h>
#include <string.h>

#include "clients/podman_exec.h"
#include "lib/cjson.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "reconcilers/ha_pg_round.h"

#define HA_EXEC_TIMEOUT_MS      5000
#define HA_ON_ACTIVE_TIMEOUT_MS 120000 /* the app's Redis sync reads the database */

struct ha_round {
    ha_node_obs *nodes; /* one per round host, same order */
    size_t n;
    ha_report report;
    ha_pg_round *pg;     /* after the plan (ha_round_pg); NULL before or without roles */
    int is_on_active_ok; /* the active node's on-active command ran (or there is none) */
};

/* `ip -o -4 addr show` in h's keepalived container; NULL when it cannot be read. */
static char *host_addrs(tenant_round *r, tenant_host_round *h)
{
    static const char *const cmd[] = {"ip", "-o", "-4", "addr", "show", NULL};
    const live_container *lc = tenant_host_find(h, HA_CONTAINER);
    const char *owner = lc ? live_container_label(lc, OMLOP_LABEL_TENANT) : NULL;
    podman_exec_result res = PODMAN_EXEC_RESULT_INIT;
    podman_exec_opts o;
    omlop_err err = OMLOP_ERR_INIT;
    char *out = NULL;

    if (!h->is_reachable || !h->pc || !lc || lc->state != LIVE_STATE_RUNNING || !owner ||
        strcmp(owner, r->tenant) != 0)
        return NULL;
    memset(&o, 0, sizeof(o));
    o.timeout_ms = HA_EXEC_TIMEOUT_MS;
    o.max_output = 256 * 1024;
    if (podman_exec(h->pc, HA_CONTAINER, cmd, &o, &res, &err) < 0 || res.exit_code != 0)
        log_warn("tenant=%s host=%s ha: cannot read the host's addresses: %s", r->tenant, h->name,
                 err.msg[0] ? err.msg : "ip exited with an error");
    else
        out = xstrdup(strbuf_str(&res.out));
    podman_exec_result_release(&res);
    return out;
}

static void observe_node(tenant_round *r, tenant_host_round *h, ha_node_obs *o)
{
    char *addrs = host_addrs(r, h);

    memset(o, 0, sizeof(*o));
    o->name = h->name;
    o->is_reachable = h->is_reachable;
    o->is_observed = addrs != NULL;
    for (int v = 0; addrs && v < HA_VIP_COUNT; v++)
        o->holds[v] = ha_addr_held(addrs, r->ha->report.addr[v]);
    free(addrs);
}

void ha_round_observe(tenant_round *r)
{
    const char *layout = cjson_get_string(r->obj, "spec.layout");
    const char *previous = cjson_get_string(r->obj, "status.ha.activeNode");
    const char *active;
    ha_round *ha;

    if (!layout || strcmp(layout, "ha") != 0 || !r->ds)
        return;
    ha_round_free(r->ha);
    ha = r->ha = xcalloc(1, sizeof(*ha));
    ha->nodes = xcalloc(r->n_hosts + 1, sizeof(*ha->nodes));
    ha->n = r->n_hosts;
    ha->report.addr[HA_VIP_OMNILEADS] = cjson_get_string(r->obj, "spec.ha.omnileadsVIP");
    ha->report.addr[HA_VIP_POSTGRES_RW] = cjson_get_string(r->obj, "spec.ha.postgresRWVIP");
    ha->report.addr[HA_VIP_POSTGRES_RO] = cjson_get_string(r->obj, "spec.ha.postgresROVIP");
    ha->report.preferred = cjson_get_string(r->obj, "spec.ha.preferredMain");
    for (size_t i = 0; !ha->report.preferred && i < desired_host_count(r->ds); i++)
        if (strcmp(desired_host_at(r->ds, i)->role, "main") == 0)
            ha->report.preferred = desired_host_at(r->ds, i)->name;
    for (size_t i = 0; i < r->n_hosts; i++)
        observe_node(r, &r->hosts[i], &ha->nodes[i]);
    ha->report.nodes = ha->nodes;
    ha->report.n = ha->n;
    ha->report.active = ha_decide_active(ha->nodes, ha->n, previous, ha->report.preferred);
    for (size_t i = 0; i < r->n_hosts; i++)
        r->hosts[i].ha = ha_node_role(ha->report.active, i);
    active = ha_round_active(r);
    if (active && previous && strcmp(active, previous) != 0)
        tenant_round_event(r, EVENT_TYPE_NORMAL, "ActiveNodeChanged",
                           "The OMniLeads VIP %s moved from node %s to node %s: the active-only "
                           "components run there now",
                           ha->report.addr[HA_VIP_OMNILEADS], previous, active);
    log_info("tenant=%s ha: active node %s", r->tenant, active ? active : "(none holds the VIP)");
}

/* Whether h holds VIP v right now (read again): 1, 0, or -1 when unknown. */
static int holds_vip_now(tenant_round *r, tenant_host_round *h, ha_vip v)
{
    char *addrs;
    int held;

    if (!r->ha || !r->ha->report.addr[v] || !r->ha->report.addr[v][0])
        return -1;
    addrs = host_addrs(r, h);
    if (!addrs)
        return -1;
    held = ha_addr_held(addrs, r->ha->report.addr[v]);
    free(addrs);
    return held;
}

int ha_round_holds_now(tenant_round *r, tenant_host_round *h)
{
    return holds_vip_now(r, h, HA_VIP_OMNILEADS);
}

/* ha_pg_rw_reader: the PostgreSQL RW VIP */
static int holds_rw_now(tenant_round *r, tenant_host_round *h)
{
    return holds_vip_now(r, h, HA_VIP_POSTGRES_RW);
}

/* Run argv in h's container name; 0 when it exited 0. */
static int exec_ok(tenant_host_round *h, const char *name, const char *const *argv, long timeout_ms,
                   strbuf *why)
{
    podman_exec_result res = PODMAN_EXEC_RESULT_INIT;
    podman_exec_opts o;
    omlop_err err = OMLOP_ERR_INIT;
    int rc = 0;

    memset(&o, 0, sizeof(o));
    o.timeout_ms = timeout_ms;
    o.max_output = 256 * 1024;
    if (podman_exec(h->pc, name, argv, &o, &res, &err) < 0) {
        strbuf_adds(why, err.msg);
        rc = -1;
    } else if (res.exit_code != 0) {
        strbuf_addf(why, "exit status %d", res.exit_code); /* not its output: it may be long */
        rc = -1;
    }
    podman_exec_result_release(&res);
    return rc;
}

/*
 * The active node's on-active command (the app's Redis sync, catalog.h ha_on_active), when
 * keepalived's notify has not recorded it (HA_ON_ACTIVE_FILE): omlopd was down during the move,
 * or the notify ran before the app container existed or could answer. Only once the container
 * runs; a failure is retried the next round (the tenant is not settled meanwhile).
 */
static void on_active_round(tenant_round *r)
{
    static const char *const read_cmd[] = {"cat", HA_ON_ACTIVE_FILE, NULL};
    static const char *const mark_cmd[] = {"sh", "-c", "echo ok >" HA_ON_ACTIVE_FILE, NULL};
    int active = r->ha->report.active;
    const desired_host *dh;
    const desired_container *dc = NULL;
    const live_container *lc;
    tenant_host_round *h;
    podman_exec_result res = PODMAN_EXEC_RESULT_INIT;
    podman_exec_opts o;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf why = STRBUF_INIT;
    int is_done;

    if (r->ha->is_on_active_ok || active < 0)
        return;
    h = &r->hosts[active];
    dh = desired_host_find(r->ds, h->name);
    for (size_t i = 0; dh && i < dh->n_containers && !dc; i++)
        if (dh->containers[i].is_ha_active_only && dh->containers[i].component->ha_on_active)
            dc = &dh->containers[i];
    if (!dc) {
        r->ha->is_on_active_ok = 1; /* nothing to run */
        return;
    }
    lc = tenant_host_find(h, dc->name);
    if (!h->is_reachable || !h->pc || !lc || lc->state != LIVE_STATE_RUNNING)
        return; /* not yet: after the plan started it */
    memset(&o, 0, sizeof(o));
    o.timeout_ms = HA_EXEC_TIMEOUT_MS;
    is_done = podman_exec(h->pc, HA_CONTAINER, read_cmd, &o, &res, &err) == 0 &&
              res.exit_code == 0 && strncmp(strbuf_str(&res.out), "ok", 2) == 0;
    podman_exec_result_release(&res);
    if (is_done) {
        r->ha->is_on_active_ok = 1;
        return;
    }
    if (exec_ok(h, dc->name, dc->component->ha_on_active, HA_ON_ACTIVE_TIMEOUT_MS, &why) < 0) {
        log_warn("tenant=%s host=%s ha: the on-active command in %s failed: %s", r->tenant, h->name,
                 dc->name, strbuf_str(&why));
        tenant_round_event(r, EVENT_TYPE_WARNING, "OnActiveFailed",
                           "Node %s is active but `%s ...` in %s failed (%s): tried again next "
                           "round",
                           h->name, dc->component->ha_on_active[0], dc->name, strbuf_str(&why));
        goto out;
    }
    strbuf_reset(&why);
    if (exec_ok(h, HA_CONTAINER, mark_cmd, HA_EXEC_TIMEOUT_MS, &why) < 0)
        log_warn("tenant=%s host=%s ha: cannot record the on-active command: %s", r->tenant,
                 h->name, strbuf_str(&why));
    r->ha->is_on_active_ok = 1;
    tenant_round_event(r, EVENT_TYPE_NORMAL, "OnActiveRan",
                       "Node %s is active: ran the app's Redis sync (%s in %s), which its "
                       "keepalived had not recorded",
                       h->name, dc->component->ha_on_active[0], dc->name);
out:
    strbuf_release(&why);
}

void ha_round_pg(tenant_round *r)
{
    if (!r->ha)
        return;
    ha_pg_round *prev = r->ha->pg;

    r->ha->pg = ha_pg_round_run(r, r->ha->report.preferred, prev, holds_rw_now);
    ha_pg_round_free(prev);
    r->ha->report.pg_d = NULL;
    r->ha->report.pg_obs = NULL;
    r->ha->report.pg_failover = NULL;
    ha_pg_round_report(r->ha->pg, &r->ha->report);
    on_active_round(r); /* after the PostgreSQL roles: a failover never waits for the sync */
}

int ha_round_is_settled(const tenant_round *r)
{
    if (!r->ha)
        return 1;
    return r->ha->report.active >= 0 && r->ha->is_on_active_ok && ha_pg_round_is_settled(r->ha->pg);
}

const char *ha_round_active(const tenant_round *r)
{
    if (!r->ha || r->ha->report.active < 0)
        return NULL;
    return r->ha->nodes[r->ha->report.active].name;
}

const ha_report *ha_round_report(const tenant_round *r)
{
    return r->ha ? &r->ha->report : NULL;
}

void ha_round_free(ha_round *ha)
{
    if (!ha)
        return;
    ha_pg_round_free(ha->pg);
    free(ha->nodes);
    free(ha);
}
