/*
 * ha_pg_round: the shell around ha_pg.h in a reconcile round of a layout ha tenant, after the
 * plan ran. On every reachable node whose postgres container runs it observes the server
 * (`podman exec` of ha_pg_observe_script, as postgres), decides (ha_pg_decide), runs the steps
 * (repmgr through `podman exec`: the primary's first, then the others'), records the Events
 * (FailoverDetected, Promoted, Cloned, Rejoined, Fenced) and writes the track files that move the
 * RW and RO VIPs (in each node's keepalived container). A failover is confirmed first: the lost
 * primary is observed once more a second later, so a server restarting in that second is not
 * replaced.
 */
#ifndef OMLOP_HA_PG_ROUND_H
#define OMLOP_HA_PG_ROUND_H

#include "reconcilers/ha.h"
#include "reconcilers/ha_pg.h"
#include "reconcilers/tenant_round.h"

typedef struct ha_pg_round ha_pg_round;

/* Whether h's keepalived holds the PostgreSQL RW VIP right now: 1, 0, or -1 when unknown (no
 * RW VIP, keepalived not running, the addresses unreadable). ha_round's reader. */
typedef int (*ha_pg_rw_reader)(tenant_round *r, tenant_host_round *h);

/*
 * Run the PostgreSQL part of r (layout ha, r->ds built) with preferred the preferred main.
 * read_rw asks the other nodes, when the recorded primary's host gave no answer, whether they
 * still hear it (ha_pg_decide's witness).
 * prev: this round's earlier run, or NULL: its primary counts as the recorded one and its
 * failover is carried (a round runs this before and after its plan). NULL when the tenant has
 * no bundled PostgreSQL (spec.database.host) or no host could be reached. Never fails the
 * round: what fails is logged and an Event says so.
 */
ha_pg_round *ha_pg_round_run(tenant_round *r, const char *preferred, const ha_pg_round *prev,
                             ha_pg_rw_reader read_rw);

/* Fill rp's PostgreSQL part (pg_*; borrowed from pg, which must outlive rp). */
void ha_pg_round_report(const ha_pg_round *pg, ha_report *rp);

/* Whether the roles are settled: a primary and a standby streaming from it. */
int ha_pg_round_is_settled(const ha_pg_round *pg);

void ha_pg_round_free(ha_pg_round *pg);

#endif
