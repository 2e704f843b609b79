/*
 * ha_round: the shell around ha.h in a reconcile round of a layout ha tenant. It reads, on every
 * reachable node, the addresses the host has (`ip -o -4 addr show`, run in the keepalived
 * container: host network, so it sees the host's links), decides the active node
 * (ha_decide_active), records an ActiveNodeChanged Event when it differs from the stored
 * status.ha.activeNode, and gives the plan each node's part (live_ha) and the status its report.
 */
#ifndef OMLOP_HA_ROUND_H
#define OMLOP_HA_ROUND_H

#include "reconcilers/ha.h"
#include "reconcilers/tenant_round.h"

typedef struct ha_round ha_round;

/* What the plan does with the active-only components of node i, given ha_decide_active's answer
 * (pure; in ha.c). */
live_ha ha_node_role(int active, size_t i);

/*
 * Observe the VIPs of r's reachable hosts (r->ds built) and set r->ha and every host's h->ha.
 * Does nothing for a tenant whose layout is not ha. A node where keepalived does not run (or the
 * exec fails) counts as not holding any VIP; it never fails the round.
 */
void ha_round_observe(tenant_round *r);

/*
 * After the plan ran: layout ha's PostgreSQL roles (ha_pg_round.h): observe, decide, act, move
 * the PostgreSQL VIPs. Then, on the active node, the app's Redis sync (catalog.h ha_on_active)
 * when keepalived's notify has not recorded it there (ha.h HA_ON_ACTIVE_FILE) and the app
 * container runs: event OnActiveRan, or OnActiveFailed and the next round tries again. Does
 * nothing when ha_round_observe did not run.
 */
void ha_round_pg(tenant_round *r);

/* Whether nothing waits to be looked at again soon: a node holds the OMniLeads VIP and the
 * PostgreSQL roles are settled (1 when not ha). */
int ha_round_is_settled(const tenant_round *r);

/* Whether h holds the OMniLeads VIP right now (read again): 1, 0, or -1 when unknown. Checked
 * before a stop, so omlopd never stops what keepalived's notify has just started. */
int ha_round_holds_now(tenant_round *r, tenant_host_round *h);

/* The active node's name, or NULL (none, or not ha). */
const char *ha_round_active(const tenant_round *r);

/* The report status.ha is made of (borrowed from r->ha; NULL when not ha). */
const ha_report *ha_round_report(const tenant_round *r);

void ha_round_free(ha_round *ha);

#endif
