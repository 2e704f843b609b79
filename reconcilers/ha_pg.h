/*
 * ha_pg: the PostgreSQL roles of layout ha, as pure functions (issue 14 item 3; docs/ha.md
 * "PostgreSQL roles"). ha_pg_round.h is the shell that observes the nodes and runs what these
 * decide, through `podman exec` in the postgres and keepalived containers.
 *
 * Who decides: omlopd, not repmgrd. Each round it observes both nodes (ha_pg_parse of what
 * ha_pg_observe_script prints), decides who is the primary and what each node does next
 * (ha_pg_decide), runs repmgr for it (ha_pg_step_script) and writes the track files that put
 * the RW and RO VIPs on the right nodes (ha_pg_rw_weight, ha_pg_ro_weight; keepalived moves
 * them, ha.h). Why omlopd: with two nodes and no witness, repmgrd on the standby cannot tell
 * a dead primary from a cut link and promotes in both cases; omlopd sees both nodes from a
 * third place, and it already owns the VIPs and the status.
 *
 * The rules (ha_pg_decide):
 *   - the primary is the one status.ha.postgres.primary recorded while it runs as a primary;
 *     before any was recorded, a registered primary (repmgr metadata), else preferredMain;
 *   - the recorded primary lost (its host unreachable, its container or server not running)
 *     and a standby of the same cluster running: FailoverDetected, that standby is promoted;
 *   - every other node becomes its standby: cloned when it has no data or belongs to another
 *     cluster (a different system identifier: the fresh cluster a new node initialised), rejoined
 *     (pg_rewind, a fresh clone when that fails) when its server is stopped, fenced (stopped)
 *     first when it runs as a second primary of the same cluster, registered when it streams
 *     but repmgr does not know it yet.
 */
#ifndef OMLOP_HA_PG_H
#define OMLOP_HA_PG_H

#include <json-c/json.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/strbuf.h"

#define HA_PG_CONTAINER  "oml-postgresql-server"
#define HA_PG_DATA       "/var/lib/postgresql/data"
#define HA_PG_HOME       "/var/lib/postgresql"
#define HA_PG_BINDIR     "/usr/lib/postgresql/15/bin"
#define HA_PG_ENTRYPOINT "docker-entrypoint.sh"
#define HA_PG_PORT       5432

/* What keepalived on a node says about the RW VIP. A standby holding it no longer hears the
 * primary's VRRP adverts: a second witness, besides omlopd, that the primary is gone. */
typedef enum ha_pg_rw_vip {
    HA_PG_RW_UNKNOWN = 0, /* not read (keepalived not running, no VIP configured, node lost) */
    HA_PG_RW_HELD,
    HA_PG_RW_NOT_HELD
} ha_pg_rw_vip;

/* One node's PostgreSQL as a round saw it. */
typedef struct ha_pg_obs {
    const char *name;
    const char *addr;  /* its lanIP: repmgr's conninfo */
    int is_observed;   /* host reachable, postgres container running, the observation read */
    int has_data;      /* PGDATA holds a cluster */
    int is_running;    /* the server answers */
    int is_recovery;   /* pg_is_in_recovery(): a standby */
    int is_registered; /* repmgr.nodes has this node, active */
    long timeline;     /* 0: unknown */
    char sysid[24];    /* the cluster's system identifier; "" unknown */
    char receiver[16]; /* a standby's WAL receiver status ("streaming"), "" none */
    /* a primary's first replication connection (pg_stat_replication) */
    char repl_name[64]; /* application_name: repmgr sets the standby's node name */
    char repl_state[16];
    long long repl_lag; /* bytes between the primary's WAL and the standby's replay; -1 unknown */
    int is_complete;    /* the script's last query answered (complete=1): every line is real */
    /* set by the round, not the script: */
    int is_unreachable;  /* omlopd lost the node's host (SSH): it saw nothing of it */
    ha_pg_rw_vip rw_vip; /* whether the node's keepalived holds the PostgreSQL RW VIP */
} ha_pg_obs;

/* What a node does next. */
typedef enum ha_pg_step {
    HA_PG_NONE = 0,
    HA_PG_REGISTER_PRIMARY, /* repmgr primary register */
    HA_PG_PROMOTE,          /* repmgr standby promote (a failover) */
    HA_PG_CLONE,            /* stop, empty PGDATA, repmgr standby clone, start, standby register */
    HA_PG_REJOIN,           /* repmgr node rejoin --force-rewind; a clone when it fails */
    HA_PG_FENCE,            /* stop the server: a second primary */
    HA_PG_REGISTER_STANDBY, /* repmgr standby register */
    HA_PG_SWITCHOVER        /* (on the standby) the primary stopped cleanly, this one promoted once
                               it replayed all, the old primary rejoined: roles swapped, no lost
                               write */
} ha_pg_step;

/* "register-primary", "promote", ... ("none"). */
const char *ha_pg_step_name(ha_pg_step s);

#define HA_PG_MAX_NODES 8

typedef struct ha_pg_decision {
    int primary;          /* index, or -1: none decided (nothing is done) */
    int standby;          /* a node streaming from the primary's cluster, or -1 */
    int failover_from;    /* the lost primary when step[primary] is PROMOTE, else -1 */
    int switchover_from;  /* the primary handing over when a step is SWITCHOVER, else -1 */
    const char *why_lost; /* why the recorded primary counts as lost (static text) */
    /* the recorded primary's host is lost to omlopd but the standby that would take over still
     * hears it (its keepalived does not hold the RW VIP): no failover; the index of that
     * standby, else -1 */
    int held_by_witness;
    ha_pg_step step[HA_PG_MAX_NODES];
} ha_pg_decision;

/*
 * Decide from n (<= HA_PG_MAX_NODES) observations, the primary status.ha.postgres recorded
 * (NULL: none yet), spec.ha.preferredMain and the wanted primary (NULL: none; see
 * ha_pg_wanted_primary). A switchover to wanted happens only in a settled pair (nothing else to
 * do, wanted the standby, streaming with no lag): a takeover never races a repair.
 * A recorded primary whose host omlopd lost (is_unreachable) is failed over only when the
 * standby's keepalived holds the RW VIP or cannot say (rw_vip HA_PG_RW_UNKNOWN, as before the
 * witness existed): with HA_PG_RW_NOT_HELD the standby still hears the primary, so omlopd's
 * own link is what broke, and d->held_by_witness names the standby.
 */
void ha_pg_decide(const ha_pg_obs *o, size_t n, const char *recorded, const char *preferred,
                  const char *wanted, ha_pg_decision *d);

/* The annotation asking for a primary (omlctl ha switchover, kubectl annotate). */
#define HA_PG_PRIMARY_ANNOTATION "omlop.io/ha-primary"

/*
 * The primary the tenant asks for: the annotation's node when set; else, with
 * spec.ha.failback Auto, the preferred main; else NULL (Manual: the roles stay as they are).
 */
const char *ha_pg_wanted_primary(const char *annotation, const char *failback,
                                 const char *preferred);

/*
 * Parse what ha_pg_observe_script printed ("key=value" lines) into o (name and addr kept).
 * Unknown keys are ignored; -OMLOP_EINVAL naming the line when a value is malformed;
 * OMLOP_EUNAVAIL when a running server's observation lacks its last line (complete=1): it
 * stopped answering while it was read, so its other lines may be defaults.
 */
int ha_pg_parse(const char *text, ha_pg_obs *o, omlop_err *err);

/* The bash script that observes node_id's server (run as postgres in its container). */
void ha_pg_observe_script(int node_id, strbuf *out);

/* What a step's script needs (borrowed). */
typedef struct ha_pg_node_conf {
    int node_id; /* 1-based position in spec.hosts */
    const char *name;
    const char *addr;      /* this node's lanIP */
    const char *peer_addr; /* the other node's lanIP (recorded for the entrypoint), or NULL */
} ha_pg_node_conf;

/*
 * The bash script running step s on node c (upstream: the primary's address, for CLONE and
 * REJOIN). Every script first writes repmgr.conf and the peer file. -OMLOP_EINVAL when a name or
 * address cannot go into it, or s needs an upstream and has none.
 */
int ha_pg_step_script(ha_pg_step s, const ha_pg_node_conf *c, const char *upstream, strbuf *out,
                      omlop_err *err);

/*
 * The script that, on the new primary of a switchover, waits (at most wait_s seconds) until it
 * replayed the old primary's shutdown checkpoint at lsn ("X/Y"), then promotes it.
 * -OMLOP_EINVAL when lsn is not an LSN or c cannot go into a script.
 */
int ha_pg_promote_after_script(const ha_pg_node_conf *c, const char *lsn, int wait_s, strbuf *out,
                               omlop_err *err);

/* The checkpoint location the FENCE script prints ("checkpoint=X/Y"), into out; -1 if none. */
int ha_pg_checkpoint_of(const char *fence_output, char *out, size_t size);

/*
 * The track file values (ha.h): the RW VIP goes to the primary, with the newer timeline winning
 * a tie (an old primary back with its stale value stays below); the RO VIP to a streaming
 * standby, else to the primary.
 */
int ha_pg_rw_weight(const ha_pg_decision *d, const ha_pg_obs *o, size_t i);
int ha_pg_ro_weight(const ha_pg_decision *d, const ha_pg_obs *o, size_t i);

/* A failover this or an earlier round saw (for status.ha.postgres.lastFailover). */
typedef struct ha_pg_failover {
    const char *time, *reason, *from, *to;
} ha_pg_failover;

/*
 * status.ha.postgres: primary, standby, timeline, replication {state, lagBytes}, lastFailover
 * (fo when not NULL, else the one of old, the stored status.ha.postgres). The HAHealthy part:
 * *reason NULL when healthy, else a reason and msg.
 */
json_object *ha_pg_status_json(const ha_pg_decision *d, const ha_pg_obs *o, size_t n,
                               const json_object *old, const ha_pg_failover *fo,
                               const char **reason, strbuf *msg);

/*
 * The status to write right after a promotion, before the round's other steps (the old
 * primary's rejoin may clone the whole cluster, and the round's status is written only at its
 * end): a copy of old_status (NULL: none) with status.ha.postgres.primary fo->to, its timeline
 * tl (0: unknown, left out), no standby nor replication (nothing streams from the new primary
 * yet) and lastFailover fo; everything else as it was. The round's own status later replaces it.
 */
json_object *ha_pg_status_promoted(const json_object *old_status, const ha_pg_failover *fo,
                                   long tl);

#endif
