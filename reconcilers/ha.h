/*
 * ha: layout ha's virtual IP and its active node (issue 14, first part; docs/ha.md).
 *
 * keepalived runs on both nodes as the catalog component "keepalived" (host network, NET_ADMIN,
 * NET_BROADCAST, NET_RAW). omlop writes one host file, a start script (ha_keepalived_render): it
 * writes keepalived.conf, a notify script and a track script inside the container, then execs
 * keepalived. spec.ha.vrrpVersion chooses the protocol (docs/ha.md says why it is a choice):
 * 3 (the default), VRRPv3 with half-second adverts and no authentication (RFC 5798 has none);
 * 2, 2.X's VRRPv2 with one-second adverts and PASS authentication on every instance, its
 * password the first 8 characters of the Secret <tenant>-vrrp (key password), which reaches the
 * container's env (VRRP_AUTH_PASS) and never the host file. Only version 2 references (and so
 * generates) that Secret.
 *
 *   - vrrp_instance: virtual_router_id HA_VRID, priority HA_PRIORITY_MAIN on spec.ha.preferredMain
 *     (default: the host with role main) and HA_PRIORITY_BACKUP on the other, the version's
 *     advert_int, the OMniLeads VIP on spec.ha.vipNIC with netaddr's prefix;
 *   - track script: every tracked container of the node runs (Podman's API over the bind-mounted
 *     socket); a failing node loses HA_TRACK_WEIGHT of priority, so the main with failing
 *     components falls below the backup and gives the VIP up;
 *   - notify script: MASTER starts the active-only containers (start order), then runs the
 *     on-active command (the app's Redis sync, 2.X's `oml_manage --redis_sync`) in its container
 *     and records it (HA_ON_ACTIVE_FILE); BACKUP, FAULT and STOP stop them (reverse order): they
 *     move in seconds without omlopd, as 2.X's did.
 *
 * omlopd then observes, each round, which node holds the VIP (`ip -o -4 addr show` run in the
 * keepalived container) and converges to it (ha_decide_active; ha_round.h gives the plan its
 * live_ha): the active-only components run on the node holding it and are stopped on the other;
 * while no node holds it, omlopd neither starts nor stops them (keepalived decides). The
 * PostgreSQL roles and their VIPs are ha_pg.h's (docs/ha.md).
 */
#ifndef OMLOP_HA_H
#define OMLOP_HA_H

#include <json-c/json.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/strbuf.h"
#include "reconcilers/ha_pg.h"

#define HA_VRID            51 /* 2.X's virtual_router_id */
#define HA_PRIORITY_MAIN   100
#define HA_PRIORITY_BACKUP 50
#define HA_TRACK_WEIGHT    (-60) /* below the backup's priority: a failing main yields */
/* the track script's bound (keepalived counts a timeout as a failure) and its one Podman API
 * call's, below it: an API that does not answer in time is not counted (ha.c) */
#define HA_TRACK_TIMEOUT     "8"
#define HA_TRACK_API_TIMEOUT "5"
/*
 * A backup declares the master dead after 3 x advert_int + skew ((256 - priority) / 256 x
 * advert_int). VRRPv3 (RFC 5798) allows half-second adverts: 1.9 s for the backup's 50, but it
 * has no authentication. VRRPv2 (2.X's) takes whole seconds only: 3.8 s with one-second adverts,
 * and carries PASS authentication (8 characters, in clear on the wire).
 */
#define HA_VRRP_VERSION_DEFAULT 3
#define HA_ADVERT_INT_V3        "0.5"
#define HA_ADVERT_INT_V2        "1"
#define HA_VRRP_PASS_LEN        8 /* what VRRPv2 PASS authentication carries */
#define HA_CONTAINER            "oml-keepalived"
/* where the notify script records the last VRRP state, inside the container */
#define HA_STATE_FILE "/run/omlop-keepalived/state"
/* "ok" once the on-active command (the app's Redis sync) ran since this node became MASTER;
 * absent otherwise: omlopd runs it then (ha_round.h) */
#define HA_ON_ACTIVE_FILE "/run/omlop-keepalived/on-active"
/*
 * The PostgreSQL VIPs: one VRRP instance each, both nodes at HA_PG_PRIORITY_BASE, raised by a
 * keepalived track_file (weight 1) that omlopd writes from the roles it decided (ha_pg.h):
 * keepalived moves the address and announces it (gratuitous ARP), omlopd says where it goes.
 */
#define HA_VRID_PG_RW       52
#define HA_VRID_PG_RO       53
#define HA_PG_PRIORITY_BASE 50
#define HA_PG_RW_TRACK_FILE "/run/omlop-keepalived/pg-rw"
#define HA_PG_RO_TRACK_FILE "/run/omlop-keepalived/pg-ro"

/* What the start script of one node says (all borrowed). */
typedef struct ha_keepalived_params {
    const char *tenant;
    const char *host;
    const char *nic;                /* spec.ha.vipNIC */
    const char *vip;                /* spec.ha.omnileadsVIP */
    const char *netaddr;            /* spec.ha.netaddr: its prefix length is the VIP's */
    int is_preferred;               /* this node is spec.ha.preferredMain */
    const char *const *active_only; /* containers keepalived moves, start order; NULL-ended */
    const char *const *tracked;     /* containers the track script checks; NULL-ended */
    const char *pg_rw_vip;          /* spec.ha.postgresRWVIP, or NULL: no instance */
    const char *pg_ro_vip;          /* spec.ha.postgresROVIP, or NULL: no instance */
    /* run (Podman exec) in on_active_container after MASTER started the active-only ones:
     * the app's Redis sync (catalog.h ha_on_active); NULL: none */
    const char *on_active_container;
    const char *const *on_active; /* NULL-ended argv */
    /* spec.ha.vrrpVersion (ha_vrrp_version): 3 or 2, nothing else; 2 needs VRRP_AUTH_PASS in
     * the container's env */
    int vrrp_version;
} ha_keepalived_params;

/* spec.ha.vrrpVersion of a Tenant's spec (an object), HA_VRRP_VERSION_DEFAULT when absent; the
 * value as written otherwise (the schema allows only 2 and 3; ha_keepalived_render refuses
 * others). */
int ha_vrrp_version(const json_object *spec);

/*
 * Render the start script of p into out. -OMLOP_EINVAL naming the field when a value cannot go
 * into it (an interface, address or container name with characters a shell or keepalived would
 * read otherwise, a netaddr without a prefix, a vrrp_version other than 2 and 3).
 */
int ha_keepalived_render(const ha_keepalived_params *p, strbuf *out, omlop_err *err);

/* Whether the output of `ip -o -4 addr show` lists addr (exactly, any prefix) on some link. */
int ha_addr_held(const char *ip_output, const char *addr);

/* The VIPs status.ha reports, in this order. */
typedef enum ha_vip {
    HA_VIP_OMNILEADS = 0,
    HA_VIP_POSTGRES_RW,
    HA_VIP_POSTGRES_RO,
    HA_VIP_COUNT
} ha_vip;

/* "omnileads", "postgresRW", "postgresRO". */
const char *ha_vip_name(ha_vip v);

/* One node as a round saw it. */
typedef struct ha_node_obs {
    const char *name;
    int is_reachable;
    int is_observed;         /* the address list was read (keepalived runs there) */
    int holds[HA_VIP_COUNT]; /* the node has the VIP on a link */
} ha_node_obs;

/*
 * The node the active-only components run on: the one reachable node holding the OMniLeads
 * VIP; when several hold it (a partition healing, a killed keepalived leaving its address), the
 * previous active node if it is one of them, else preferred if it is, else the first. -1 when no
 * reachable node holds it (keepalived not up yet, or the holder unreachable from omlopd):
 * nothing is started or stopped then.
 */
int ha_decide_active(const ha_node_obs *nodes, size_t n, const char *previous,
                     const char *preferred);

/* What status.ha and the HAHealthy condition say (all borrowed). */
typedef struct ha_report {
    const ha_node_obs *nodes;
    size_t n;
    const char *addr[HA_VIP_COUNT]; /* spec.ha's addresses */
    const char *preferred;
    int active;                /* ha_decide_active */
    const json_object *old_ha; /* the stored status.ha, or NULL */
    const char *now;           /* RFC 3339 */
    /* the PostgreSQL roles this round (ha_pg_round.h); pg_d NULL when not observed */
    const ha_pg_decision *pg_d;
    const ha_pg_obs *pg_obs;
    size_t pg_n;
    const ha_pg_failover *pg_failover; /* a failover this round, or NULL */
} ha_report;

/*
 * status.ha (new object: activeNode, preferredMain, vips[] {name, address, holders[]},
 * lastActiveChange {time, from, to} kept or set when activeNode changed, postgres: see
 * ha_pg_status_json, the stored one kept while not observed) and the HAHealthy condition's
 * status ("True"/"False"), reason and message (into msg): the VIP's problems first, then the
 * PostgreSQL roles'.
 */
json_object *ha_status_json(const ha_report *rp, const char **cond_status, const char **reason,
                            strbuf *msg);

#endif
